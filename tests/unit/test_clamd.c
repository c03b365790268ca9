/*
 * test_clamd.c - the clamd INSTREAM client (filter/virus/clamd.c):
 * reply parsing, and the framing as a fake clamd on a unix socket sees
 * it (command, 4-byte big-endian chunk lengths, zero terminator), with
 * its verdicts, errors, early close, silence (timeout) and no listener.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clamd.h"

enum fake_mode {
	FAKE_REPLY,		/* read the whole stream, then reply */
	FAKE_CLOSE,		/* close right after the command */
	FAKE_MUTE,		/* read everything, never answer */
	FAKE_LIMIT		/* answer a size-limit error mid-stream */
};

struct fake {
	char		 dir[64];
	char		 path[108];
	int		 lsn;
	pthread_t	 th;
	enum fake_mode	 mode;
	const char	*reply;		/* sent with its NUL */
	/* What the server saw. */
	char		 cmd[16];
	unsigned char	*data;
	size_t		 len;
	size_t		 chunks;
	bool		 terminated;	/* zero-length chunk seen */
	bool		 bad;		/* framing error */
};

static int
read_full(int fd, void *p, size_t n)
{
	unsigned char	*c = p;
	ssize_t		 r;

	while (n > 0) {
		r = read(fd, c, n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static void *
fake_main(void *arg)
{
	struct fake	*fk = arg;
	unsigned char	 h[4];
	uint32_t	 n;
	char		 c;
	size_t		 i = 0;
	int		 s;

	if ((s = accept(fk->lsn, NULL, NULL)) == -1)
		return NULL;
	/* The command up to its NUL. */
	while (i < sizeof(fk->cmd) - 1 && read_full(s, &c, 1) == 0) {
		fk->cmd[i++] = c;
		if (c == '\0')
			break;
	}
	if (fk->mode == FAKE_CLOSE) {
		close(s);
		return NULL;
	}
	for (;;) {
		if (read_full(s, h, 4) == -1) {
			fk->bad = true;
			break;
		}
		n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
		    (uint32_t)h[2] << 8 | h[3];
		if (n == 0) {
			fk->terminated = true;
			break;
		}
		if (n > CLAMD_CHUNK) {
			fk->bad = true;
			break;
		}
		fk->data = realloc(fk->data, fk->len + n);
		if (fk->data == NULL || read_full(s, fk->data + fk->len,
		    n) == -1) {
			fk->bad = true;
			break;
		}
		fk->len += n;
		fk->chunks++;
		if (fk->mode == FAKE_LIMIT) {
			static const char e[] =
			    "INSTREAM size limit exceeded. ERROR";

			if (write(s, e, sizeof(e)) == -1)
				fk->bad = true;
			break;
		}
	}
	if (fk->mode == FAKE_MUTE) {
		/* Hold the connection until the client gives up. */
		while (read(s, &c, 1) > 0)
			;
	} else if (fk->mode == FAKE_REPLY && fk->reply != NULL &&
	    write(s, fk->reply, strlen(fk->reply) + 1) == -1)
		fk->bad = true;
	close(s);
	return NULL;
}

static void
fake_start(struct fake *fk, enum fake_mode mode, const char *reply)
{
	struct sockaddr_un	 sun;

	memset(fk, 0, sizeof(*fk));
	fk->mode = mode;
	fk->reply = reply;
	snprintf(fk->dir, sizeof(fk->dir), "/tmp/tclamdXXXXXX");
	assert_non_null(mkdtemp(fk->dir));
	snprintf(fk->path, sizeof(fk->path), "%s/s", fk->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, fk->path, strlen(fk->path));
	fk->lsn = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fk->lsn >= 0);
	assert_int_equal(bind(fk->lsn, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	assert_int_equal(listen(fk->lsn, 4), 0);
	assert_int_equal(pthread_create(&fk->th, NULL, fake_main, fk), 0);
}

static void
fake_stop(struct fake *fk)
{
	pthread_join(fk->th, NULL);
	close(fk->lsn);
	unlink(fk->path);
	rmdir(fk->dir);
}

/* A temporary file holding n bytes of a known pattern. */
static int
tmp_msg(const char *head, size_t n, unsigned char **copy_r)
{
	char		 path[] = "/tmp/tclamdmsgXXXXXX";
	unsigned char	*b = malloc(n + 1);
	size_t		 i, hl = strlen(head);
	int		 fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_non_null(b);
	unlink(path);
	for (i = 0; i < n; i++)
		b[i] = i < hl ? (unsigned char)head[i] : (unsigned char)(i % 251);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	*copy_r = b;
	return fd;
}

static void
test_parse(void **state)
{
	char	*name, *err;

	(void)state;
	assert_int_equal(clamd_parse_reply("stream: OK", 10, &name, &err),
	    CLAMD_CLEAN);
	assert_null(name);
	assert_null(err);
	assert_int_equal(clamd_parse_reply("stream: OK\n", 11, NULL, NULL),
	    CLAMD_CLEAN);
	assert_int_equal(clamd_parse_reply("stream: OK\0junk", 15, NULL,
	    NULL), CLAMD_CLEAN);

	assert_int_equal(clamd_parse_reply("stream: Eicar-Test-Signature "
	    "FOUND", 34, &name, &err), CLAMD_FOUND);
	assert_string_equal(name, "Eicar-Test-Signature");
	assert_null(err);
	free(name);
	assert_int_equal(clamd_parse_reply("stream: Win.Test.EICAR_HDB-1 "
	    "FOUND\0", 35, &name, NULL), CLAMD_FOUND);
	assert_string_equal(name, "Win.Test.EICAR_HDB-1");
	free(name);
	/* Control bytes never reach an SMTP reply. */
	assert_int_equal(clamd_parse_reply("stream: Bad\r\nName FOUND", 23,
	    &name, NULL), CLAMD_FOUND);
	assert_string_equal(name, "Bad??Name");
	free(name);

	assert_int_equal(clamd_parse_reply("INSTREAM size limit exceeded. "
	    "ERROR", 35, &name, &err), CLAMD_ERROR);
	assert_null(name);
	assert_string_equal(err, "INSTREAM size limit exceeded. ERROR");
	free(err);
	assert_int_equal(clamd_parse_reply("stream: FOUND", 13, &name, &err),
	    CLAMD_ERROR);
	assert_null(name);
	assert_non_null(err);
	free(err);
	assert_int_equal(clamd_parse_reply("UNKNOWN COMMAND", 15, NULL, &err),
	    CLAMD_ERROR);
	assert_non_null(strstr(err, "UNKNOWN COMMAND"));
	free(err);
	assert_int_equal(clamd_parse_reply("", 0, NULL, &err), CLAMD_ERROR);
	free(err);
	assert_int_equal(clamd_parse_reply(NULL, 0, NULL, &err), CLAMD_ERROR);
	free(err);
	assert_int_equal(clamd_parse_reply("stream: OKAY", 12, NULL, &err),
	    CLAMD_ERROR);
	free(err);
}

static void
test_framing_clean(void **state)
{
	struct fake	 fk;
	unsigned char	*copy;
	char		*name = NULL, *err = NULL;
	size_t		 n = 3 * CLAMD_CHUNK + 123;
	int		 fd = tmp_msg("Subject: hi\r\n\r\n", n, &copy);

	(void)state;
	fake_start(&fk, FAKE_REPLY, "stream: OK");
	assert_int_equal(clamd_scan_fd(fk.path, fd, 5000, &name, &err),
	    CLAMD_CLEAN);
	assert_null(name);
	assert_null(err);
	fake_stop(&fk);
	assert_memory_equal(fk.cmd, "zINSTREAM", 10);
	assert_false(fk.bad);
	assert_true(fk.terminated);
	assert_int_equal(fk.chunks, 4);
	assert_int_equal(fk.len, n);
	close(fd);
	free(copy);
	free(fk.data);
}

static void
test_framing_found(void **state)
{
	struct fake	 fk;
	unsigned char	*copy;
	char		*name = NULL, *err = NULL;
	int		 fd = tmp_msg("X5O!P%@AP", 100, &copy);

	(void)state;
	fake_start(&fk, FAKE_REPLY, "stream: Eicar-Test-Signature FOUND");
	assert_int_equal(clamd_scan_fd(fk.path, fd, 5000, &name, &err),
	    CLAMD_FOUND);
	assert_string_equal(name, "Eicar-Test-Signature");
	assert_null(err);
	fake_stop(&fk);
	assert_true(fk.terminated);
	assert_int_equal(fk.chunks, 1);
	assert_int_equal(fk.len, 100);
	/* The bytes arrive unchanged. */
	assert_non_null(fk.data);
	assert_memory_equal(fk.data, copy, 100);
	free(name);
	close(fd);
	free(copy);
	free(fk.data);
}

static void
test_empty_message(void **state)
{
	struct fake	 fk;
	unsigned char	*copy;
	int		 fd = tmp_msg("", 0, &copy);

	(void)state;
	fake_start(&fk, FAKE_REPLY, "stream: OK");
	assert_int_equal(clamd_scan_fd(fk.path, fd, 5000, NULL, NULL),
	    CLAMD_CLEAN);
	fake_stop(&fk);
	assert_true(fk.terminated);
	assert_int_equal(fk.chunks, 0);
	close(fd);
	free(copy);
	free(fk.data);
}

static void
test_clamd_error_reply(void **state)
{
	struct fake	 fk;
	unsigned char	*copy;
	char		*err = NULL;
	int		 fd = tmp_msg("x", 10, &copy);

	(void)state;
	fake_start(&fk, FAKE_REPLY, "Can't allocate memory ERROR");
	assert_int_equal(clamd_scan_fd(fk.path, fd, 5000, NULL, &err),
	    CLAMD_ERROR);
	assert_non_null(strstr(err, "ERROR"));
	free(err);
	fake_stop(&fk);
	close(fd);
	free(copy);
	free(fk.data);
}

static void
test_size_limit(void **state)
{
	struct fake	 fk;
	unsigned char	*copy;
	char		*name = NULL, *err = NULL;
	int		 fd = tmp_msg("x", 64 * CLAMD_CHUNK, &copy);

	(void)state;
	fake_start(&fk, FAKE_LIMIT, NULL);
	assert_int_equal(clamd_scan_fd(fk.path, fd, 5000, &name, &err),
	    CLAMD_ERROR);
	assert_null(name);
	assert_non_null(err);
	free(err);
	fake_stop(&fk);
	close(fd);
	free(copy);
	free(fk.data);
}

static void
test_closed_early(void **state)
{
	struct fake	 fk;
	unsigned char	*copy;
	char		*err = NULL;
	int		 fd = tmp_msg("x", 1000, &copy);

	(void)state;
	fake_start(&fk, FAKE_CLOSE, NULL);
	assert_int_equal(clamd_scan_fd(fk.path, fd, 5000, NULL, &err),
	    CLAMD_ERROR);
	assert_non_null(err);
	free(err);
	fake_stop(&fk);
	close(fd);
	free(copy);
	free(fk.data);
}

static void
test_timeout(void **state)
{
	struct fake	 fk;
	struct timespec	 a, b;
	unsigned char	*copy;
	char		*err = NULL;
	long		 ms;
	int		 fd = tmp_msg("x", 1000, &copy);

	(void)state;
	fake_start(&fk, FAKE_MUTE, NULL);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(clamd_scan_fd(fk.path, fd, 300, NULL, &err),
	    CLAMD_ERROR);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 250 && ms < 3000);
	assert_non_null(strstr(err, "timeout"));
	free(err);
	fake_stop(&fk);		/* our close ends the fake's read */
	assert_true(fk.terminated);
	close(fd);
	free(copy);
	free(fk.data);
}

static void
test_unreachable(void **state)
{
	char	*err = NULL;
	char	 dir[] = "/tmp/tclamdXXXXXX", path[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/none.sock", dir);
	assert_int_equal(clamd_scan_file(path, "/etc/hostname", 1000, NULL,
	    &err), CLAMD_ERROR);
	assert_non_null(strstr(err, "connect"));
	free(err);
	/* A file that is not there: no scan, no accept. */
	assert_int_equal(clamd_scan_file(path, "/nonexistent/msg", 1000, NULL,
	    &err), CLAMD_ERROR);
	assert_non_null(strstr(err, "open"));
	free(err);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_framing_clean),
		cmocka_unit_test(test_framing_found),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_clamd_error_reply),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_closed_early),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
