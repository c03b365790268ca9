/*
 * http_session.c - the HTTP/1.1 service on listen.http as a struct proto
 * on the conn framework: reads request heads and Content-Length bodies
 * (bounded by http_parse.h), answers each through http_route(), keeps the
 * connection alive between requests (RFC 9112 section 9.3) and answers
 * pipelined requests in order.  Every answer is computed at once on the
 * loop (no endpoint blocks: they format config and counters), so a
 * session has no waiting state.
 *
 * Meant to sit behind a TLS-terminating proxy for the public names
 * (autoconfig.<domain>, mta-sts.<domain>); /metrics is for the local
 * scraper.  Owns struct http_session.  Threads: loop only.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "http.h"
#include "http_parse.h"
#include "http_private.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

#define HTTP_IDLE_TIMEOUT	30	/* seconds between requests */
#define HTTP_MAX_REQUESTS	1000	/* per connection, then close */
#define HTTP_OUT_HIWAT		(64 * 1024)	/* pause answering above */

struct http_session {
	struct conn	*c;
	unsigned int	 nreq;
	bool		 continue_sent;	/* "100 Continue" for this request */
};

static void
http_session_send(struct http_session *s, const struct http_req *q,
    struct http_resp *r, bool keep_alive)
{
	struct buf	 head = BUF_INIT;
	size_t		 plen;
	const char	*qm;
	bool		 quiet;

	if (s->nreq >= HTTP_MAX_REQUESTS)
		keep_alive = false;
	http_route_head(r, keep_alive, (long long)time(NULL), &head);
	conn_write(s->c, head.data, head.len);
	if (r->body.len > 0 && (q == NULL || q->method != HTTP_M_HEAD))
		conn_write(s->c, r->body.data, r->body.len);
	buf_free(&head);
	http_metrics_count(r->status);

	plen = 0;
	if (q != NULL) {
		qm = memchr(q->target, '?', q->target_len);
		plen = qm != NULL ? (size_t)(qm - q->target) : q->target_len;
	}
	/* Scrapers and health checks every few seconds: debug only. */
	quiet = r->status == 200 && q != NULL && ((plen == 8 &&
	    memcmp(q->target, "/metrics", 8) == 0) || (plen == 8 &&
	    memcmp(q->target, "/healthz", 8) == 0));
	if (quiet)
		log_debug("%016llx http request method=%.*s path=%.*s "
		    "status=%d bytes=%zu", (unsigned long long)conn_id(s->c),
		    (int)q->method_len, q->method_name, (int)plen, q->target,
		    r->status, r->body.len);
	else
		log_info("%016llx http request method=%.*s path=%.*s "
		    "status=%d bytes=%zu", (unsigned long long)conn_id(s->c),
		    q != NULL ? (int)q->method_len : 1,
		    q != NULL ? q->method_name : "-", (int)plen,
		    q != NULL ? q->target : "", r->status, r->body.len);
	if (!keep_alive || r->close)
		conn_close(s->c);
}

static void
http_session_refuse(struct http_session *s, int status, const char *error)
{
	struct http_resp	 r;

	log_info("%016llx http bad-request status=%d error=\"%s\"",
	    (unsigned long long)conn_id(s->c), status, error);
	http_route_resp_init(&r);
	http_route_error(&r, status);
	r.close = true;
	http_session_send(s, NULL, &r, false);
	http_route_resp_free(&r);
}

static void
http_session_input(void *arg)
{
	struct http_session	*s = arg;
	struct evbuffer		*in;
	struct http_req		 q;
	struct http_resp	 r;
	struct http_env		 env;
	const char		*data, *err;
	size_t			 len, n, total;
	int			 rc, status;

	while (!conn_closing(s->c)) {
		/* A client that pipelines but never reads waits for drained. */
		if (conn_output_len(s->c) > HTTP_OUT_HIWAT)
			return;
		in = conn_input(s->c);
		if ((len = evbuffer_get_length(in)) == 0)
			return;
		n = len < HTTP_HEAD_MAX + 1 ? len : HTTP_HEAD_MAX + 1;
		data = (const char *)evbuffer_pullup(in, (ssize_t)n);
		rc = http_parse_head(data, n, &q, &status, &err);
		if (rc == 1)
			return;
		if (rc == -1) {
			http_session_refuse(s, status, err);
			return;
		}
		total = q.head_len + (size_t)q.content_length;
		if (len < total) {
			if (q.expect_continue && !s->continue_sent) {
				conn_puts(s->c, "HTTP/1.1 100 Continue\r\n\r\n");
				s->continue_sent = true;
			}
			return;
		}
		/* Body and head contiguous; the pointers must be re-taken. */
		data = (const char *)evbuffer_pullup(in, (ssize_t)total);
		if (http_parse_head(data, total, &q, &status, &err) != 0) {
			http_session_refuse(s, 500, "head changed");
			return;
		}
		conn_trace_in(s->c, data, strcspn(data, "\r"), false);
		s->nreq++;
		env.conf = conn_gen(s->c)->conf;
		env.metrics = http_metrics_render;
		env.metrics_arg = s->c;
		http_route_resp_init(&r);
		http_route(&env, &q, data + q.head_len,
		    (size_t)q.content_length, &r);
		http_session_send(s, &q, &r, q.keep_alive);
		http_route_resp_free(&r);
		evbuffer_drain(in, total);
		s->continue_sent = false;
	}
}

static void *
http_session_start(struct conn *c)
{
	struct http_session	*s = xcalloc(1, sizeof(*s));

	s->c = c;
	conn_set_timeout(c, HTTP_IDLE_TIMEOUT);
	return s;
}

static void
http_session_drained(void *arg)
{
	http_session_input(arg);
}

static void
http_session_free(void *arg)
{
	free(arg);
}

static const struct proto http_session_proto = {
	"http", http_session_start, http_session_input, http_session_drained,
	NULL, NULL, NULL, http_session_free,
	"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
	"Connection: close\r\n"
};

const struct proto *
http_proto(enum conn_svc svc)
{
	http_metrics_init();
	return &http_session_proto;
}
