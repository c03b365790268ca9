/*
 * queue_dsn.c - delivery status notifications for the outbound queue:
 * an RFC 3464 multipart/report (RFC 6522) with a human part, a
 * message/delivery-status part and the original message: its header
 * section as text/rfc822-headers (RET=HDRS, and our default when RET was
 * not given, which keeps bounces small), or with RET=FULL the whole
 * message as message/rfc822 (RFC 3461 4.3) up to QUEUE_DSN_FULL_MAX,
 * headers only beyond.  The sender's ENVID comes back as
 * Original-Envelope-Id (RFC 3461 4.4, RFC 3464 2.2.1).  The report comes
 * from MAILER-DAEMON@<sending host>, or @srs.domain with srs.enable, and
 * is DKIM-signed through the signer main.c installs (queue.h
 * queue_sign_fn, filter_sign.c picks the key by that From domain).
 * Owns nothing.  [worker]: it reads the queue file and signs.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "queue_private.h"
#include "xmalloc.h"

#define QUEUE_DSN_HDR_MAX	(64 * 1024)
#define QUEUE_DSN_FULL_MAX	(10 * 1024 * 1024)

static void
queue_dsn_date(struct buf *b, int64_t ms)
{
	char		 out[64];
	time_t		 t = (time_t)(ms / 1000);
	struct tm	 tm;

	localtime_r(&t, &tm);
	strftime(out, sizeof(out), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_puts(b, out);
}

/* The header section of the queue file, CRLF, at most HDR_MAX bytes. */
static char *
queue_dsn_headers(const char *path, size_t *len_r)
{
	char	*h = xmalloc(QUEUE_DSN_HDR_MAX + 1), *end;
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	*len_r = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		free(h);
		return NULL;
	}
	while (len < QUEUE_DSN_HDR_MAX &&
	    (n = read(fd, h + len, QUEUE_DSN_HDR_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	h[len] = '\0';
	if ((end = strstr(h, "\r\n\r\n")) != NULL)
		len = (size_t)(end - h) + 2;
	else if (len > 0 && (end = strrchr(h, '\n')) != NULL)
		len = (size_t)(end - h) + 1;	/* cut at a line end */
	h[len] = '\0';
	*len_r = len;
	return h;
}

/* A reply of the remote server ("550 ..."), not one of our own texts. */
static int
queue_dsn_remote(const char *reply)
{
	return reply != NULL && isdigit((unsigned char)reply[0]) &&
	    isdigit((unsigned char)reply[1]) &&
	    isdigit((unsigned char)reply[2]) && reply[3] == ' ';
}

/* The whole queue file if it fits QUEUE_DSN_FULL_MAX, else NULL. */
static char *
queue_dsn_full(const char *path, size_t *len_r)
{
	struct stat	 st;
	char		*m;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || st.st_size > QUEUE_DSN_FULL_MAX) {
		close(fd);
		return NULL;
	}
	m = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size &&
	    (n = read(fd, m + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)n;
	close(fd);
	m[len] = '\0';
	*len_r = len;
	return m;
}

/* RFC 3463 status from the reply text ("550 5.1.1 ..."), or a default. */
static void
queue_dsn_status(int code, const char *reply, char *out, size_t size)
{
	const char	*p = reply;
	size_t		 n;

	if (queue_dsn_remote(p))
		p += 4;			/* "550 " */
	if (p != NULL && (p[0] == '4' || p[0] == '5') && p[1] == '.') {
		n = strspn(p, "0123456789.");
		if (n >= 5 && n < size) {
			memcpy(out, p, n);
			out[n] = '\0';
			out[0] = '5';		/* a failure report */
			return;
		}
	}
	snprintf(out, size, "%s", code >= 500 ? "5.0.0" : "4.4.7");
	out[0] = '5';
}

char *
queue_dsn_from_domain(const struct conf *conf)
{
	if (conf->srs.enable && conf->srs.domain != NULL &&
	    conf->srs.domain[0] != '\0')
		return xstrdup(conf->srs.domain);
	return xstrdup(conf->sending_fqdn != NULL &&
	    conf->sending_fqdn[0] != '\0' ? conf->sending_fqdn : conf->fqdn);
}

void
queue_dsn_sign_blocking(queue_sign_fn *sign, struct gen *g, const char *id,
    char **data, size_t *len)
{
	const char	*e = NULL;
	char		*h = NULL, *m;
	size_t		 hlen;

	if (sign == NULL || g == NULL || *data == NULL)
		return;
	if (sign(g, *data, *len, &h, &e) == -1)
		log_warn("queue id=%s dsn dkim-sign error=\"%s\"", id,
		    e != NULL ? e : "failed");
	if (h == NULL)
		return;
	/* RFC 6376 5.6: the signature goes first; nothing below changes. */
	hlen = strlen(h);
	m = xmalloc(hlen + *len + 1);
	memcpy(m, h, hlen);
	memcpy(m + hlen, *data, *len);
	m[hlen + *len] = '\0';
	free(h);
	free(*data);
	*data = m;
	*len += hlen;
}

char *
queue_dsn_build_blocking(const char *fqdn, const char *from_domain,
    const char *id, const char *path,
    const char *sender, const char *envid, int ret, int64_t arrival_ms,
    const struct queue_dsn_rcpt *r, size_t n, size_t *len_r)
{
	struct buf	 b = BUF_INIT;
	struct timespec	 now;
	int64_t		 now_ms;
	char		 boundary[80], status[32], *hdr, *full = NULL;
	size_t		 i, hlen, flen = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	snprintf(boundary, sizeof(boundary), "%s/%" PRId64 "/%s", id,
	    now_ms, fqdn);
	buf_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    from_domain != NULL ? from_domain : fqdn);
	buf_printf(&b, "To: <%s>\r\n", sender);
	buf_puts(&b, "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Date: ");
	queue_dsn_date(&b, now_ms);
	buf_printf(&b, "\r\nMessage-ID: <%s.%" PRId64 ".dsn@%s>\r\n", id,
	    now_ms, fqdn);
	/* RFC 3834 5: auto-replies never trigger auto-replies. */
	buf_puts(&b, "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n");
	buf_printf(&b, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n",
	    boundary);
	buf_puts(&b, "This is a MIME-encapsulated message.\r\n\r\n");
	buf_printf(&b, "--%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
	if (ret == QUEUE_RET_FULL)
		full = queue_dsn_full(path, &flen);
	buf_printf(&b, "This is the mail system at host %s.\r\n\r\n"
	    "Your message could not be delivered to one or more "
	    "recipients.\r\nIt is attached below%s.\r\n\r\n",
	    fqdn, full != NULL ? "" : " (headers only)");
	for (i = 0; i < n; i++)
		buf_printf(&b, "<%s>: %s\r\n", r[i].addr, r[i].reply != NULL ?
		    r[i].reply : "delivery failed");
	/* RFC 3464 2.2: per-message fields, then one block per recipient. */
	buf_printf(&b, "\r\n--%s\r\nContent-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n", boundary);
	/* RFC 3464 2.2.1: the ENVID, decoded (it is printable ASCII). */
	if (envid != NULL && envid[0] != '\0')
		buf_printf(&b, "Original-Envelope-Id: %s\r\n", envid);
	buf_printf(&b, "Reporting-MTA: dns; %s\r\nX-Postern-Queue-ID: %s\r\n"
	    "Arrival-Date: ", fqdn, id);
	queue_dsn_date(&b, arrival_ms);
	buf_puts(&b, "\r\n");
	for (i = 0; i < n; i++) {
		queue_dsn_status(r[i].code, r[i].reply, status, sizeof(status));
		buf_puts(&b, "\r\n");
		/* RFC 3464 2.3.1: Original-Recipient from ORCPT (RFC 3461 4.2). */
		if (r[i].orcpt != NULL)
			buf_printf(&b, "Original-Recipient: %s\r\n",
			    strchr(r[i].orcpt, ';') != NULL ? r[i].orcpt :
			    "rfc822; unknown");
		buf_printf(&b, "Final-Recipient: rfc822; %s\r\n"
		    "Action: failed\r\nStatus: %s\r\n", r[i].addr, status);
		/* RFC 3464 2.3.6: only a remote reply is a Diagnostic-Code. */
		if (r[i].code >= 400 && queue_dsn_remote(r[i].reply))
			buf_printf(&b, "Diagnostic-Code: smtp; %s\r\n",
			    r[i].reply);
		buf_puts(&b, "Last-Attempt-Date: ");
		queue_dsn_date(&b, now_ms);
		buf_puts(&b, "\r\n");
	}
	if (full != NULL) {
		buf_printf(&b, "\r\n--%s\r\nContent-Description: Undelivered "
		    "Message\r\nContent-Type: message/rfc822\r\n\r\n",
		    boundary);
		buf_append(&b, full, flen);
		if (flen < 2 || memcmp(full + flen - 2, "\r\n", 2) != 0)
			buf_puts(&b, "\r\n");
		free(full);
		buf_printf(&b, "\r\n--%s--\r\n", boundary);
		return buf_steal(&b, len_r);
	}
	buf_printf(&b, "\r\n--%s\r\nContent-Description: Undelivered "
	    "Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n",
	    boundary);
	if ((hdr = queue_dsn_headers(path, &hlen)) != NULL) {
		buf_append(&b, hdr, hlen);
		free(hdr);
	}
	buf_printf(&b, "\r\n--%s--\r\n", boundary);
	return buf_steal(&b, len_r);
}
