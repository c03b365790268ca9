/*
 * clamd.c - clamd INSTREAM client (clamd.h).  One connection per scan,
 * non-blocking socket driven by poll(2) against a single monotonic
 * deadline.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clamd.h"
#include "xmalloc.h"

#define CLAMD_CMD		"zINSTREAM"	/* sent with its NUL */
#define CLAMD_PREFIX		"stream: "
#define CLAMD_RETRY_MS		10	/* connect backlog full: retry */

static int64_t
clamd_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Printable copy of s (n bytes), at most max bytes; others become '?'. */
static char *
clamd_clean_text(const char *s, size_t n, size_t max)
{
	char	*o;
	size_t	 i;

	if (n > max)
		n = max;
	o = xstrndup(s, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)o[i] < 0x20 || (unsigned char)o[i] > 0x7e)
			o[i] = '?';
	return o;
}

static bool
clamd_ends_with(const char *s, size_t n, const char *suf)
{
	size_t	 k = strlen(suf);

	return n >= k && memcmp(s + n - k, suf, k) == 0;
}

enum clamd_status
clamd_parse_reply(const char *reply, size_t len, char **name_r,
    char **error_r)
{
	const char	*s = reply;
	size_t		 n = len, k = strlen(CLAMD_PREFIX);

	if (name_r != NULL)
		*name_r = NULL;
	if (error_r != NULL)
		*error_r = NULL;
	/* The z-command reply ends at its NUL; ignore what follows. */
	n = s != NULL ? strnlen(s, len) : 0;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' '))
		n--;
	if (n == 0) {
		if (error_r != NULL)
			*error_r = xstrdup("empty reply from clamd");
		return CLAMD_ERROR;
	}
	if (clamd_ends_with(s, n, " ERROR")) {
		if (error_r != NULL)
			*error_r = clamd_clean_text(s, n, CLAMD_REPLY_MAX);
		return CLAMD_ERROR;
	}
	if (n >= k && memcmp(s, CLAMD_PREFIX, k) == 0) {
		s += k;
		n -= k;
		if (n == 2 && memcmp(s, "OK", 2) == 0)
			return CLAMD_CLEAN;
		if (clamd_ends_with(s, n, " FOUND") && n > 6) {
			n -= 6;
			while (n > 0 && s[n - 1] == ' ')
				n--;
			if (n > 0) {
				if (name_r != NULL)
					*name_r = clamd_clean_text(s, n,
					    CLAMD_NAME_MAX);
				return CLAMD_FOUND;
			}
		}
	}
	if (error_r != NULL) {
		char	*t = clamd_clean_text(reply, n + (size_t)(s - reply),
			    CLAMD_REPLY_MAX);

		*error_r = xasprintf("unexpected reply from clamd: \"%s\"", t);
		free(t);
	}
	return CLAMD_ERROR;
}

/* Wait until s is ready for ev; -1 with errno ETIMEDOUT past deadline. */
static int
clamd_wait(int s, short ev, int64_t deadline)
{
	struct pollfd	 p;
	int64_t		 left;
	int		 r;

	for (;;) {
		if ((left = deadline - clamd_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		p.fd = s;
		p.events = ev;
		p.revents = 0;
		r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		return 0;
	}
}

static int
clamd_send(int s, const void *p, size_t n, int64_t deadline)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0) {
		w = send(s, c, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (clamd_wait(s, POLLOUT, deadline) == -1)
				return -1;
			continue;
		}
		if (w <= 0) {
			if (w == 0)
				errno = EPIPE;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
clamd_connect(const char *path, int64_t deadline, char **error_r)
{
	struct sockaddr_un	 sun;
	int			 s, e;
	socklen_t		 elen = sizeof(e);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("clamd socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		*error_r = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return s;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && clamd_now_ms() < deadline) {
			/* Listen backlog full (unix sockets): retry. */
			(void)poll(NULL, 0, CLAMD_RETRY_MS);
			continue;
		}
		if (errno == EINPROGRESS) {
			if (clamd_wait(s, POLLOUT, deadline) == -1)
				break;
			if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e,
			    &elen) == -1)
				break;
			if (e == 0)
				return s;
			errno = e;
		}
		break;
	}
	*error_r = xasprintf("connect %s: %s", path, strerror(errno));
	close(s);
	return -1;
}

/* Read the reply (up to its NUL, EOF or CLAMD_REPLY_MAX bytes). */
static int
clamd_recv(int s, char *buf, size_t size, size_t *len_r, int64_t deadline)
{
	size_t	 len = 0;
	ssize_t	 r;

	while (len < size) {
		r = recv(s, buf + len, size - len, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (clamd_wait(s, POLLIN, deadline) == -1)
				break;
			continue;
		}
		if (r == -1)
			break;
		if (r == 0) {
			*len_r = len;
			return 0;
		}
		len += (size_t)r;
		if (memchr(buf + len - (size_t)r, '\0', (size_t)r) != NULL)
			break;
	}
	*len_r = len;
	return len > 0 ? 0 : -1;
}

enum clamd_status
clamd_scan_fd(const char *sock_path, int fd, int timeout_ms, char **name_r,
    char **error_r)
{
	char			*chunk, reply[CLAMD_REPLY_MAX], *err = NULL;
	uint8_t			 hdr[4];
	uint32_t		 n;
	int64_t			 deadline;
	size_t			 rlen = 0;
	ssize_t			 r = 0;
	int			 s, send_errno = 0, rd_errno = 0;
	enum clamd_status	 st;

	if (name_r != NULL)
		*name_r = NULL;
	if (error_r != NULL)
		*error_r = NULL;
	deadline = clamd_now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	if ((s = clamd_connect(sock_path, deadline, &err)) == -1) {
		if (error_r != NULL)
			*error_r = err;
		else
			free(err);
		return CLAMD_ERROR;
	}
	chunk = xmalloc(CLAMD_CHUNK);
	if (clamd_send(s, CLAMD_CMD, sizeof(CLAMD_CMD), deadline) == -1)
		send_errno = errno;
	while (send_errno == 0) {
		r = read(fd, chunk, CLAMD_CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			rd_errno = errno;
		if (r <= 0)
			break;
		n = (uint32_t)r;
		hdr[0] = (uint8_t)(n >> 24);
		hdr[1] = (uint8_t)(n >> 16);
		hdr[2] = (uint8_t)(n >> 8);
		hdr[3] = (uint8_t)n;
		if (clamd_send(s, hdr, sizeof(hdr), deadline) == -1 ||
		    clamd_send(s, chunk, (size_t)r, deadline) == -1)
			send_errno = errno;
	}
	free(chunk);
	if (rd_errno != 0) {
		/* Never let a partial message pass as clean. */
		close(s);
		if (error_r != NULL)
			*error_r = xasprintf("reading the message: %s",
			    strerror(rd_errno));
		return CLAMD_ERROR;
	}
	memset(hdr, 0, sizeof(hdr));
	if (send_errno == 0 &&
	    clamd_send(s, hdr, sizeof(hdr), deadline) == -1)
		send_errno = errno;
	if (send_errno == ETIMEDOUT) {
		close(s);
		if (error_r != NULL)
			*error_r = xasprintf("clamd timeout after %d ms",
			    timeout_ms);
		return CLAMD_ERROR;
	}
	/* After a send error clamd may have said why (size limit). */
	if (clamd_recv(s, reply, sizeof(reply), &rlen, deadline) == -1) {
		int	 e = errno;

		close(s);
		if (error_r != NULL)
			*error_r = send_errno != 0 ?
			    xasprintf("send to clamd: %s",
			    strerror(send_errno)) : e == ETIMEDOUT ?
			    xasprintf("clamd timeout after %d ms", timeout_ms) :
			    xasprintf("no reply from clamd: %s",
			    e != 0 ? strerror(e) : "connection closed");
		return CLAMD_ERROR;
	}
	close(s);
	st = clamd_parse_reply(reply, rlen, name_r, error_r);
	if (st == CLAMD_CLEAN && send_errno != 0) {
		/* An OK for a stream we could not finish is no verdict. */
		if (error_r != NULL)
			*error_r = xasprintf("send to clamd: %s",
			    strerror(send_errno));
		return CLAMD_ERROR;
	}
	return st;
}

enum clamd_status
clamd_scan_file(const char *sock_path, const char *path, int timeout_ms,
    char **name_r, char **error_r)
{
	enum clamd_status	 st;
	int			 fd;

	if (name_r != NULL)
		*name_r = NULL;
	if (error_r != NULL)
		*error_r = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (error_r != NULL)
			*error_r = xasprintf("open %s: %s", path,
			    strerror(errno));
		return CLAMD_ERROR;
	}
	st = clamd_scan_fd(sock_path, fd, timeout_ms, name_r, error_r);
	close(fd);
	return st;
}
