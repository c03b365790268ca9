/*
 * pop3_session.c - the POP3 server session (RFC 1939) on 110 with STLS
 * (RFC 2595 section 4) and 995 (RFC 8314): the conn vtable, bounded line
 * reading, the AUTHORIZATION / TRANSACTION / UPDATE states, CAPA and
 * response codes (RFC 2449, RFC 3206), USER/PASS and AUTH PLAIN/LOGIN
 * (RFC 5034) checked on the worker pool, the per-account maildrop lock
 * ([IN-USE]), RETR/TOP streamed with backpressure, and QUIT's durable
 * deletions through store_pop_expunge().
 *
 * Owns struct pop3_session, its login job (a struct auth_job, see
 * auth_job.h) and its transfer (struct pop3_xfer), plus two process-wide
 * tables: the maildrop locks (account -> session id) and the per-user+IP
 * session counts.
 * A job in flight names its session by conn id and finds it again with
 * conn_lookup() + conn_session(); if the session went away meanwhile the
 * job frees itself.  A dropped connection never deletes anything
 * (RFC 1939 section 6: only QUIT enters UPDATE).
 *
 * Threads: pop3_xfer_run() runs on workers [worker], and so do the
 * login steps, inside auth_job.c; everything else on the loop thread
 * [loop].
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth.h"
#include "auth_job.h"
#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "pop3.h"
#include "pop3_parse.h"
#include "store.h"
#include "work.h"
#include "xmalloc.h"

#define POP3_MAX_ERRORS		20	/* bad commands, then hang up */
#define POP3_XFER_CHUNK		(128 * 1024)
#define POP3_XFER_HIWAT		(64 * 1024)	/* read on below this */

enum pop3_state {
	POP3_S_AUTH = 0,	/* AUTHORIZATION */
	POP3_S_SASL,		/* AUTHORIZATION, inside an AUTH exchange */
	POP3_S_TRANS,		/* TRANSACTION */
	POP3_S_BUSY,		/* a job or a transfer runs; input waits */
	POP3_S_UPDATE,		/* QUIT: deletions being committed */
	POP3_S_CLOSING
};

static const char *const pop3_state_names[] = {
	"authorization", "sasl", "transaction", "busy", "update", "closing"
};

/* One RETR/TOP response being streamed. */
struct pop3_xfer {
	uint64_t		 sid;
	struct store_pop	*pop;		/* reference */
	size_t			 msg;		/* 0-based */
	int64_t			 lines;		/* TOP; < 0 for RETR */
	int			 fd;
	uint64_t		 off;
	struct pop3_xform	*xf;
	bool			 running;
	bool			 orphan;	/* session gone while running */
	bool			 started;	/* "+OK" sent */
	bool			 eof;
	/* worker results */
	int			 rc;		/* 1 ok, 0 gone, -1 error */
	char			*chunk;
	size_t			 got;
	char			 error[256];
};

struct pop3_session {
	struct conn		*c;
	uint64_t		 id;
	enum conn_svc		 svc;
	const struct conf	*conf;
	enum pop3_state		 state;
	bool			 skip_line;
	bool			 shutdown;
	unsigned int		 errors;
	char			*user_arg;	/* USER given, PASS awaited */
	char			*user;		/* logged-in account */
	bool			 locked;	/* holds pop3_locks[user] */
	char			*userip;	/* counted in pop3_userip */
	size_t			 userip_len;
	struct auth_job		*auth;		/* USER/PASS or AUTH */
	struct event		*delay_ev;
	struct store_pop	*pop;
	bool			*deleted;
	size_t			 nmsgs;
	struct pop3_xfer	*xfer;
	struct buf		 out;		/* scratch for transforms */
	char			 line[POP3_SASL_LINE_MAX + 1];
};

static struct hmap	*pop3_locks;	/* account -> (void *)1 */
static struct hmap	*pop3_userip;	/* "account\0ip" -> count */

static void	pop3_input(void *);
static void	pop3_resume(struct pop3_session *);

/* ---- helpers -------------------------------------------------------- */

static struct pop3_session *
pop3_lookup(uint64_t id)
{
	struct conn	*c = conn_lookup(id);

	if (c == NULL || conn_closing(c) ||
	    (conn_service(c) != SVC_POP3 && conn_service(c) != SVC_POP3S))
		return NULL;
	return conn_session(c);
}

static void
pop3_enter(struct pop3_session *s, enum pop3_state next)
{
	if (s->state == next)
		return;
	log_debug("%016" PRIx64 " pop3 state=%s next=%s", s->id,
	    pop3_state_names[s->state], pop3_state_names[next]);
	s->state = next;
}

static void
pop3_close(struct pop3_session *s)
{
	pop3_enter(s, POP3_S_CLOSING);
	conn_close(s->c);
}

static void
pop3_ok(struct pop3_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
pop3_err(struct pop3_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
pop3_bad(struct pop3_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list	 ap;

	conn_puts(s->c, "+OK ");
	va_start(ap, fmt);
	conn_vprintf(s->c, fmt, ap);
	va_end(ap);
	conn_puts(s->c, "\r\n");
}

static void
pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list	 ap;

	conn_puts(s->c, "-ERR ");
	va_start(ap, fmt);
	conn_vprintf(s->c, fmt, ap);
	va_end(ap);
	conn_puts(s->c, "\r\n");
}

/* A protocol error: counted, and too many of them end the session. */
static void
pop3_bad(struct pop3_session *s, const char *fmt, ...)
{
	va_list	 ap;

	conn_puts(s->c, "-ERR ");
	va_start(ap, fmt);
	conn_vprintf(s->c, fmt, ap);
	va_end(ap);
	conn_puts(s->c, "\r\n");
	if (++s->errors >= POP3_MAX_ERRORS) {
		log_info("%016" PRIx64 " pop3 too many errors=%u", s->id,
		    s->errors);
		conn_puts(s->c, "-ERR Too many bad commands, closing\r\n");
		pop3_close(s);
	}
}

/* RFC 2595 2.2 / RFC 8314: no cleartext passwords before TLS on 110. */
static bool
pop3_auth_allowed(const struct pop3_session *s)
{
	return conn_tls(s->c);
}

/* ---- the maildrop lock and the per user+IP count ---------------------- */

static void
pop3_unlock(struct pop3_session *s)
{
	uintptr_t	 n;

	if (s->locked) {
		hmap_del(pop3_locks, s->user, strlen(s->user));
		s->locked = false;
	}
	if (s->userip != NULL) {
		n = (uintptr_t)hmap_get(pop3_userip, s->userip,
		    s->userip_len);
		if (n <= 1)
			hmap_del(pop3_userip, s->userip, s->userip_len);
		else
			hmap_put(pop3_userip, s->userip, s->userip_len,
			    (void *)(n - 1));
		xfree(s->userip);
	}
	if (pop3_locks != NULL && hmap_count(pop3_locks) == 0)
		hmap_free(&pop3_locks, NULL);
	if (pop3_userip != NULL && hmap_count(pop3_userip) == 0)
		hmap_free(&pop3_userip, NULL);
}

/*
 * RFC 1939 section 4: the maildrop is locked for the session, so a
 * second session gets [IN-USE] (RFC 2449 section 8.1.1).  Sessions per
 * user and client address are limited like Dovecot's
 * mail_max_userip_connections.  0 or -1 with the reply sent.
 */
static int
pop3_lock(struct pop3_session *s)
{
	const char	*ip = conn_peer_ip(s->c);
	size_t		 ulen = strlen(s->user), iplen = strlen(ip);
	uintptr_t	 n;
	char		*key;

	if (pop3_locks == NULL)
		pop3_locks = hmap_new();
	if (pop3_userip == NULL)
		pop3_userip = hmap_new();
	key = xmalloc(ulen + 1 + iplen + 1);
	memcpy(key, s->user, ulen + 1);
	memcpy(key + ulen + 1, ip, iplen + 1);
	n = (uintptr_t)hmap_get(pop3_userip, key, ulen + 1 + iplen);
	if (s->conf->max_connections_per_user > 0 &&
	    n >= (uintptr_t)s->conf->max_connections_per_user) {
		free(key);
		log_info("%016" PRIx64 " pop3 refused user=%s "
		    "reason=max_connections_per_user", s->id, s->user);
		pop3_err(s, "[IN-USE] Maximum number of connections from "
		    "user+IP exceeded");
		return -1;
	}
	if (hmap_get(pop3_locks, s->user, ulen) != NULL) {
		free(key);
		log_info("%016" PRIx64 " pop3 refused user=%s reason=in-use",
		    s->id, s->user);
		pop3_err(s, "[IN-USE] Mailbox is locked by another POP3 "
		    "session");
		return -1;
	}
	hmap_put(pop3_userip, key, ulen + 1 + iplen, (void *)(n + 1));
	s->userip = key;
	s->userip_len = ulen + 1 + iplen;
	hmap_put(pop3_locks, s->user, ulen, (void *)1);
	s->locked = true;
	return 0;
}

/* ---- login: the maildrop snapshot ------------------------------------- */

static void
pop3_logout_user(struct pop3_session *s)
{
	pop3_unlock(s);
	store_pop_unref(&s->pop);
	xfree(s->deleted);
	s->nmsgs = 0;
	xfree(s->user);
}

static void
pop3_open_done(struct store_pop *pop, const char *error, void *arg)
{
	uint64_t		*sid = arg;
	struct pop3_session	*s = pop3_lookup(*sid);

	free(sid);
	if (s == NULL || s->state != POP3_S_BUSY || s->user == NULL ||
	    s->pop != NULL) {
		store_pop_unref(&pop);
		return;
	}
	if (pop == NULL) {
		log_err("%016" PRIx64 " pop3 maildrop user=%s error=\"%s\"",
		    s->id, s->user, error);
		pop3_logout_user(s);
		pop3_err(s, "[SYS/TEMP] Unable to open the maildrop");
		pop3_enter(s, POP3_S_AUTH);
		pop3_resume(s);
		return;
	}
	s->pop = pop;
	s->nmsgs = store_pop_count(pop);
	s->deleted = xcalloc(s->nmsgs + 1, sizeof(*s->deleted));
	log_info("%016" PRIx64 " pop3 login user=%s messages=%zu", s->id,
	    s->user, s->nmsgs);
	pop3_enter(s, POP3_S_TRANS);
	pop3_ok(s, "Logged in.");
	pop3_resume(s);
}

/* Credentials are good: lock the maildrop and take the snapshot. */
static void
pop3_login(struct pop3_session *s, const char *user)
{
	uint64_t	*sid;

	s->user = xstrdup(user);
	if (pop3_lock(s) == -1) {
		xfree(s->user);
		pop3_enter(s, POP3_S_AUTH);
		pop3_resume(s);
		return;
	}
	sid = xmalloc(sizeof(*sid));
	*sid = s->id;
	pop3_enter(s, POP3_S_BUSY);
	conn_read_enable(s->c, false);
	store_pop_open(loop_shared()->store, s->user, pop3_open_done, sid);
}

/* ---- authentication on the worker pool -------------------------------- */

/* [loop] Drop the exchange; a step still running is freed by auth_job. */
static void
pop3_auth_drop(struct pop3_session *s)
{
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	s->delay_ev = NULL;
	auth_job_free(&s->auth);
}

/* [loop] The failed-login delay is over: answer and read on. */
static void
pop3_auth_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session	*s = arg;

	event_free(s->delay_ev);
	s->delay_ev = NULL;
	pop3_err(s, "[AUTH] Authentication failed.");
	pop3_enter(s, POP3_S_AUTH);
	pop3_resume(s);
}

static void
pop3_auth_failed(struct pop3_session *s)
{
	struct timeval		 tv;
	int			 ms;

	ms = auth_job_failed(conn_peer_sa(s->c));
	if (ms > 0) {
		/* Stay BUSY (read off) until the delay is over. */
		s->delay_ev = evtimer_new(loop_base(), pop3_auth_delayed, s);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(s->delay_ev, &tv);
		return;
	}
	pop3_err(s, "[AUTH] Authentication failed.");
	pop3_enter(s, POP3_S_AUTH);
	pop3_resume(s);
}

/* [loop] A step of s->auth finished. */
static void
pop3_auth_done(uint64_t sid, struct auth_job *j, enum auth_sasl_result res)
{
	struct pop3_session	*s = pop3_lookup(sid);
	const char		*mech;
	char			*b64, *user;

	/* Closing: pop3_auth_drop() frees the job with the session. */
	if (s == NULL || s->auth != j)
		return;
	mech = auth_job_mech(j) != NULL ? auth_job_mech(j) : "USER";
	switch (res) {
	case AUTH_SASL_CONTINUE:
		/* RFC 5034 4: "+ " and the base64 challenge. */
		b64 = auth_job_challenge_b64(j);
		conn_printf(s->c, "+ %s\r\n", b64);
		free(b64);
		pop3_enter(s, POP3_S_SASL);
		pop3_resume(s);
		return;
	case AUTH_SASL_OK:
		user = xstrdup(auth_job_user(j));
		auth_job_succeeded(conn_peer_sa(s->c));
		log_info("%016" PRIx64 " pop3 auth ok user=%s mech=%s", s->id,
		    user, mech);
		auth_job_free(&s->auth);
		pop3_login(s, user);
		free(user);
		return;
	case AUTH_SASL_FAIL:
		log_info("%016" PRIx64 " pop3 auth failed mech=%s client=%s "
		    "error=\"%s\"", s->id, mech, conn_peer_ip(s->c),
		    auth_job_error(j));
		auth_job_free(&s->auth);
		pop3_auth_failed(s);
		return;
	case AUTH_SASL_ERROR:
	default:
		log_err("%016" PRIx64 " pop3 auth error mech=%s error=\"%s\"",
		    s->id, mech, auth_job_error(j));
		auth_job_free(&s->auth);
		pop3_err(s, "[SYS/TEMP] Temporary authentication failure");
		pop3_enter(s, POP3_S_AUTH);
		pop3_resume(s);
		return;
	}
}

/* [loop] A step was handed to a worker: read nothing until it is done. */
static void
pop3_auth_busy(struct pop3_session *s)
{
	pop3_enter(s, POP3_S_BUSY);
	conn_read_enable(s->c, false);
}

/* 0 if the client may try; else the reply is sent. */
static int
pop3_auth_precheck(struct pop3_session *s)
{
	if (!pop3_auth_allowed(s)) {
		pop3_bad(s, "[AUTH] Plaintext authentication disallowed on "
		    "non-secure (SSL/TLS) connections.");
		return -1;
	}
	if (auth_job_refused(conn_peer_sa(s->c))) {
		log_info("%016" PRIx64 " pop3 auth refused client=%s "
		    "reason=throttle", s->id, conn_peer_ip(s->c));
		pop3_err(s, "[SYS/TEMP] Too many failed logins, try again "
		    "later");
		return -1;
	}
	return 0;
}

static struct auth_job *
pop3_auth_new(struct pop3_session *s)
{
	return auth_job_new(s->id, conn_gen(s->c), "pop", conn_local_ip(s->c),
	    conn_local_port(s->c), conn_peer_ip(s->c), conn_peer_port(s->c),
	    pop3_auth_done);
}

static void
pop3_cmd_pass(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (s->user_arg == NULL) {
		pop3_bad(s, "No username given.");
		return;
	}
	if (pop3_auth_precheck(s) == -1)
		return;
	if (cmd->arg_len > AUTH_PASSWORD_MAX) {
		xfree(s->user_arg);
		pop3_auth_failed(s);
		return;
	}
	s->auth = pop3_auth_new(s);
	auth_job_plain(s->auth, s->user_arg, strlen(s->user_arg), cmd->arg,
	    cmd->arg_len);
	xfree(s->user_arg);
	pop3_auth_busy(s);
}

/* Decode a base64 client line; "=" means empty (RFC 5034 4). */
static int
pop3_auth_decode(const char *in, size_t len, char **out_r, size_t *len_r)
{
	const char	*err;

	if (len == 1 && in[0] == '=') {
		*out_r = NULL;
		*len_r = 0;
		return 0;
	}
	return auth_b64_decode(in, len, out_r, len_r, &err);
}

static void
pop3_cmd_auth(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct auth_job		*j;
	const char		*err;
	char			 mech[POP3_MECH_MAX + 1];
	char			*resp = NULL;
	size_t			 resp_len = 0;

	if (cmd->arg == NULL) {
		/* RFC 1734 behaviour kept by most servers: list mechanisms. */
		conn_puts(s->c, "+OK\r\n");
		if (pop3_auth_allowed(s))
			conn_puts(s->c, "PLAIN\r\nLOGIN\r\n");
		conn_puts(s->c, ".\r\n");
		return;
	}
	if (pop3_auth_precheck(s) == -1)
		return;
	memcpy(mech, cmd->arg, cmd->arg_len);
	mech[cmd->arg_len] = '\0';
	if (!auth_sasl_mech_supported(mech)) {
		pop3_bad(s, "Unsupported authentication mechanism.");
		return;
	}
	if (cmd->ir != NULL && pop3_auth_decode(cmd->ir, cmd->ir_len, &resp,
	    &resp_len) == -1) {
		pop3_bad(s, "Invalid base64 data in initial response");
		return;
	}
	j = pop3_auth_new(s);
	if (auth_job_start(j, mech, cmd->ir != NULL, resp, resp_len,
	    &err) == -1) {
		log_err("%016" PRIx64 " pop3 auth setup failed error=\"%s\"",
		    s->id, err);
		auth_job_free(&j);
		pop3_err(s, "[SYS/TEMP] Temporary authentication failure");
		return;
	}
	s->auth = j;
	pop3_auth_busy(s);
}

/* A client line inside the exchange (POP3_S_SASL). */
static void
pop3_sasl_line(struct pop3_session *s, const char *line, size_t len)
{
	char	*resp;
	size_t	 resp_len;

	if (s->auth == NULL) {
		pop3_enter(s, POP3_S_AUTH);
		return;
	}
	if (len == 1 && line[0] == '*') {
		/* RFC 5034 4: the client cancels; "-ERR". */
		pop3_auth_drop(s);
		pop3_enter(s, POP3_S_AUTH);
		pop3_err(s, "Authentication cancelled.");
		return;
	}
	if (pop3_auth_decode(line, len, &resp, &resp_len) == -1) {
		pop3_auth_drop(s);
		pop3_enter(s, POP3_S_AUTH);
		pop3_bad(s, "Invalid base64 data in continued response");
		return;
	}
	auth_job_step(s->auth, resp, resp_len);
	pop3_auth_busy(s);
}

/* ---- RETR / TOP ------------------------------------------------------- */

static void
pop3_xfer_free(struct pop3_xfer *x)
{
	if (x->fd != -1)
		close(x->fd);
	store_pop_unref(&x->pop);
	pop3_xform_free(&x->xf);
	free(x->chunk);
	free(x);
}

/* [worker] Open the file (first time), read the next chunk. */
static void
pop3_xfer_run(void *arg)
{
	struct pop3_xfer	*x = arg;
	const char		*e = NULL;
	ssize_t			 n;

	x->got = 0;
	if (x->fd == -1) {
		x->rc = store_pop_msg_open_blocking(x->pop, x->msg, &x->fd,
		    &e);
		if (x->rc != 1) {
			snprintf(x->error, sizeof(x->error), "%s",
			    e != NULL ? e : "message file is gone");
			return;
		}
	}
	do
		n = pread(x->fd, x->chunk, POP3_XFER_CHUNK, (off_t)x->off);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		x->rc = -1;
		snprintf(x->error, sizeof(x->error), "read: %s",
		    strerror(errno));
		return;
	}
	x->rc = 1;
	x->got = (size_t)n;
	x->off += (uint64_t)n;
	if (n == 0)
		x->eof = true;
}

static void	pop3_xfer_pump(struct pop3_session *);

static void
pop3_xfer_end(struct pop3_session *s)
{
	pop3_xfer_free(s->xfer);
	s->xfer = NULL;
	pop3_enter(s, POP3_S_TRANS);
	pop3_resume(s);
}

/* [loop] */
static void
pop3_xfer_done(void *arg)
{
	struct pop3_xfer	*x = arg;
	struct pop3_session	*s;

	x->running = false;
	if (x->orphan || (s = pop3_lookup(x->sid)) == NULL || s->xfer != x) {
		pop3_xfer_free(x);
		return;
	}
	if (x->rc != 1) {
		log_warn("%016" PRIx64 " pop3 retr user=%s msg=%zu uid=%" PRIu32
		    " error=\"%s\"", s->id, s->user, x->msg + 1,
		    store_pop_uid(x->pop, x->msg), x->error);
		if (x->started) {
			/* Half a message must not look complete: hang up. */
			pop3_close(s);
			return;
		}
		if (x->rc == 0)
			pop3_err(s, "Message %zu was removed by another "
			    "session", x->msg + 1);
		else
			pop3_err(s, "[SYS/TEMP] Unable to read message %zu",
			    x->msg + 1);
		pop3_xfer_end(s);
		return;
	}
	if (!x->started) {
		x->started = true;
		if (x->lines < 0)
			pop3_ok(s, "%" PRIu64 " octets",
			    store_pop_size(x->pop, x->msg));
		else
			conn_puts(s->c, "+OK\r\n");
	}
	pop3_xfer_pump(s);
}

/*
 * Turn the chunk we hold into output, and ask for the next one while the
 * client keeps up (conn's drained callback brings us back).
 */
static void
pop3_xfer_pump(struct pop3_session *s)
{
	struct pop3_xfer	*x = s->xfer;
	bool			 enough = false;

	if (x == NULL || x->running || conn_closing(s->c))
		return;
	if (x->got > 0) {
		buf_reset(&s->out);
		enough = pop3_xform_feed(x->xf, x->chunk, x->got, &s->out);
		x->got = 0;
		if (s->out.len > 0)
			conn_write(s->c, s->out.data, s->out.len);
	}
	if (enough || x->eof) {
		buf_reset(&s->out);
		pop3_xform_finish(x->xf, &s->out);
		conn_write(s->c, s->out.data, s->out.len);
		pop3_xfer_end(s);
		return;
	}
	if (conn_output_len(s->c) >= POP3_XFER_HIWAT)
		return;			/* pop3_drained resumes */
	x->running = true;
	work_submit(pop3_xfer_run, pop3_xfer_done, x);
}

static void
pop3_xfer_start(struct pop3_session *s, size_t msg, int64_t lines)
{
	struct pop3_xfer	*x = xcalloc(1, sizeof(*x));

	x->sid = s->id;
	x->pop = store_pop_ref(s->pop);
	x->msg = msg;
	x->lines = lines;
	x->fd = -1;
	x->xf = pop3_xform_new(lines);
	x->chunk = xmalloc(POP3_XFER_CHUNK);
	s->xfer = x;
	pop3_enter(s, POP3_S_BUSY);
	conn_read_enable(s->c, false);
	x->running = true;
	work_submit(pop3_xfer_run, pop3_xfer_done, x);
}

static void
pop3_drained(void *arg)
{
	struct pop3_session	*s = arg;

	if (s->xfer != NULL)
		pop3_xfer_pump(s);
}

/* ---- TRANSACTION ------------------------------------------------------ */

/* Message number n (1-based) that is not deleted; -1 with the reply sent. */
static int
pop3_msg(struct pop3_session *s, uint32_t n, size_t *i_r)
{
	if (n == 0 || n > s->nmsgs) {
		pop3_err(s, "There's no message %" PRIu32 ".", n);
		return -1;
	}
	if (s->deleted[n - 1]) {
		pop3_err(s, "Message %" PRIu32 " is deleted.", n);
		return -1;
	}
	*i_r = n - 1;
	return 0;
}

/* Dovecot's default pop3_uidl_format %08Xu%08Xv: migrated clients agree. */
static void
pop3_uidl(struct pop3_session *s, size_t i, char out[17])
{
	snprintf(out, 17, "%08" PRIX32 "%08" PRIX32, store_pop_uid(s->pop, i),
	    store_pop_uidvalidity(s->pop));
}

static void
pop3_cmd_stat(struct pop3_session *s)
{
	uint64_t	 size = 0;
	size_t		 i, n = 0;

	for (i = 0; i < s->nmsgs; i++) {
		if (s->deleted[i])
			continue;
		n++;
		size += store_pop_size(s->pop, i);
	}
	pop3_ok(s, "%zu %" PRIu64, n, size);
}

static void
pop3_cmd_list(struct pop3_session *s, const struct pop3_cmd *cmd, bool uidl)
{
	struct buf	 b = BUF_INIT;
	char		 u[17];
	size_t		 i;

	if (cmd->has_msg) {
		if (pop3_msg(s, cmd->msg, &i) == -1)
			return;
		if (uidl) {
			pop3_uidl(s, i, u);
			pop3_ok(s, "%zu %s", i + 1, u);
		} else
			pop3_ok(s, "%zu %" PRIu64, i + 1,
			    store_pop_size(s->pop, i));
		return;
	}
	buf_puts(&b, "+OK\r\n");
	for (i = 0; i < s->nmsgs; i++) {
		if (s->deleted[i])
			continue;
		if (uidl) {
			pop3_uidl(s, i, u);
			buf_printf(&b, "%zu %s\r\n", i + 1, u);
		} else
			buf_printf(&b, "%zu %" PRIu64 "\r\n", i + 1,
			    store_pop_size(s->pop, i));
	}
	buf_puts(&b, ".\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

static void
pop3_expunge_done(int result, const char *error, void *arg)
{
	uint64_t		*sid = arg;
	struct pop3_session	*s = pop3_lookup(*sid);

	free(sid);
	if (s == NULL)
		return;
	if (result == 0)
		pop3_ok(s, "Logging out, messages deleted.");
	else {
		log_err("%016" PRIx64 " pop3 expunge user=%s error=\"%s\"",
		    s->id, s->user, error);
		/* RFC 1939 6: "-ERR some deleted messages not removed". */
		pop3_err(s, "[SYS/TEMP] Some deleted messages not removed.");
	}
	pop3_close(s);
}

/* RFC 1939 6: QUIT from TRANSACTION enters UPDATE. */
static void
pop3_cmd_quit(struct pop3_session *s)
{
	size_t		*idx, i, n = 0;
	uint64_t	*sid;

	if (s->pop == NULL) {
		pop3_ok(s, "Logging out.");
		pop3_close(s);
		return;
	}
	idx = xcalloc(s->nmsgs + 1, sizeof(*idx));
	for (i = 0; i < s->nmsgs; i++)
		if (s->deleted[i])
			idx[n++] = i;
	if (n == 0) {
		free(idx);
		pop3_ok(s, "Logging out.");
		pop3_close(s);
		return;
	}
	log_info("%016" PRIx64 " pop3 update user=%s deleted=%zu", s->id,
	    s->user, n);
	sid = xmalloc(sizeof(*sid));
	*sid = s->id;
	pop3_enter(s, POP3_S_UPDATE);
	conn_read_enable(s->c, false);
	store_pop_expunge(loop_shared()->store, s->pop, idx, n,
	    pop3_expunge_done, sid);
	free(idx);
}

/* ---- commands --------------------------------------------------------- */

static void
pop3_cmd_capa(struct pop3_session *s)
{
	bool	 auth = s->state == POP3_S_AUTH;

	/* RFC 2449 5 and 6; RFC 5034 6 for SASL; RFC 2595 4 for STLS. */
	conn_puts(s->c, "+OK Capability list follows\r\n"
	    "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\nEXPIRE NEVER\r\n");
	if (pop3_auth_allowed(s))
		conn_puts(s->c, "USER\r\nSASL PLAIN LOGIN\r\n");
	if (auth && s->svc == SVC_POP3 && !conn_tls(s->c))
		conn_puts(s->c, "STLS\r\n");
	conn_puts(s->c, "IMPLEMENTATION postern\r\n.\r\n");
}

static void
pop3_cmd_stls(struct pop3_session *s)
{
	const char	*err;

	if (conn_tls(s->c)) {
		pop3_bad(s, "TLS already active.");
		return;
	}
	if (s->svc != SVC_POP3) {
		pop3_bad(s, "STLS not available.");
		return;
	}
	xfree(s->user_arg);
	/* RFC 2595 4: pipelined plain text after STLS is discarded. */
	pop3_ok(s, "Begin TLS negotiation now.");
	if (conn_starttls(s->c, &err) == -1) {
		log_err("%016" PRIx64 " pop3 starttls error=\"%s\"", s->id,
		    err);
		pop3_close(s);
	}
}

static void
pop3_cmd_auth_state(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	switch (cmd->verb) {
	case POP3_CMD_CAPA:
		pop3_cmd_capa(s);
		break;
	case POP3_CMD_STLS:
		pop3_cmd_stls(s);
		break;
	case POP3_CMD_USER:
		xfree(s->user_arg);
		if (!pop3_auth_allowed(s)) {
			pop3_bad(s, "[AUTH] Plaintext authentication "
			    "disallowed on non-secure (SSL/TLS) connections.");
			break;
		}
		if (cmd->arg_len > AUTH_LOGIN_MAX) {
			pop3_bad(s, "User name too long.");
			break;
		}
		s->user_arg = xstrndup(cmd->arg, cmd->arg_len);
		conn_puts(s->c, "+OK\r\n");
		break;
	case POP3_CMD_PASS:
		pop3_cmd_pass(s, cmd);
		break;
	case POP3_CMD_AUTH:
		xfree(s->user_arg);
		pop3_cmd_auth(s, cmd);
		break;
	case POP3_CMD_APOP:
		pop3_bad(s, "APOP is not supported.");
		break;
	case POP3_CMD_QUIT:
		pop3_cmd_quit(s);
		break;
	case POP3_CMD_NOOP:
	default:
		/* RFC 1939 4: nothing else is valid before login. */
		pop3_bad(s, "Unknown command in AUTHORIZATION state.");
		break;
	}
}

static void
pop3_cmd_trans_state(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	size_t	 i;

	switch (cmd->verb) {
	case POP3_CMD_CAPA:
		pop3_cmd_capa(s);
		break;
	case POP3_CMD_STAT:
		pop3_cmd_stat(s);
		break;
	case POP3_CMD_LIST:
		pop3_cmd_list(s, cmd, false);
		break;
	case POP3_CMD_UIDL:
		pop3_cmd_list(s, cmd, true);
		break;
	case POP3_CMD_RETR:
		if (pop3_msg(s, cmd->msg, &i) == 0)
			pop3_xfer_start(s, i, -1);
		break;
	case POP3_CMD_TOP:
		if (pop3_msg(s, cmd->msg, &i) == 0)
			pop3_xfer_start(s, i, cmd->lines > INT64_MAX ?
			    INT64_MAX : (int64_t)cmd->lines);
		break;
	case POP3_CMD_DELE:
		if (pop3_msg(s, cmd->msg, &i) == 0) {
			s->deleted[i] = true;
			pop3_ok(s, "Marked to be deleted.");
		}
		break;
	case POP3_CMD_RSET:
		memset(s->deleted, 0, s->nmsgs * sizeof(*s->deleted));
		conn_puts(s->c, "+OK\r\n");
		break;
	case POP3_CMD_NOOP:
		conn_puts(s->c, "+OK\r\n");
		break;
	case POP3_CMD_QUIT:
		pop3_cmd_quit(s);
		break;
	default:
		pop3_bad(s, "Unknown command in TRANSACTION state.");
		break;
	}
}

static void
pop3_cmd_line(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_cmd	 cmd;

	if (pop3_parse_cmd(line, len, &cmd) == -1) {
		pop3_bad(s, "%s", cmd.error);
		return;
	}
	if (s->state == POP3_S_AUTH)
		pop3_cmd_auth_state(s, &cmd);
	else
		pop3_cmd_trans_state(s, &cmd);
}

/* ---- input ------------------------------------------------------------ */

/*
 * CRLF-terminated lines; a bare LF stays inside the line and the parser
 * refuses it.  A line longer than POP3_SASL_LINE_MAX is dropped as it
 * arrives and answered once its end is seen, so no more than one line
 * is ever held (STYLE habit 2).  1: a line was handled, 0: wait.
 */
static int
pop3_line_input(struct pop3_session *s, struct evbuffer *in)
{
	size_t	 len;

	switch (conn_line_take(in, POP3_SASL_LINE_MAX - 2, &s->skip_line,
	    s->line, &len)) {
	case CONN_LINE_MORE:
		return 0;
	case CONN_LINE_LONG:
		log_info("%016" PRIx64 " pop3 line too long", s->id);
		if (s->state == POP3_S_SASL) {
			pop3_auth_drop(s);
			pop3_enter(s, POP3_S_AUTH);
		}
		pop3_bad(s, "Line too long");
		return 1;
	}
	conn_trace_in(s->c, s->line, len, s->state == POP3_S_SASL);
	if (s->state == POP3_S_SASL)
		pop3_sasl_line(s, s->line, len);
	else
		pop3_cmd_line(s, s->line, len);
	explicit_bzero(s->line, len);
	return 1;
}

static void
pop3_input(void *arg)
{
	struct pop3_session	*s = arg;

	while (!conn_closing(s->c)) {
		switch (s->state) {
		case POP3_S_AUTH:
		case POP3_S_SASL:
		case POP3_S_TRANS:
			if (s->shutdown) {
				pop3_err(s, "[SYS/TEMP] Server shutting down");
				pop3_close(s);
				return;
			}
			if (pop3_line_input(s, conn_input(s->c)) == 0)
				return;
			break;
		default:
			return;
		}
	}
}

/* A job finished: read again and run what was pipelined meanwhile. */
static void
pop3_resume(struct pop3_session *s)
{
	if (conn_closing(s->c))
		return;
	conn_read_enable(s->c, true);
	pop3_input(s);
}

/* ---- the conn vtable -------------------------------------------------- */

static void *
pop3_start(struct conn *c)
{
	struct pop3_session	*s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->id = conn_id(c);
	s->svc = conn_service(c);
	s->conf = conn_gen(c)->conf;
	buf_init(&s->out, 0);
	/* No APOP timestamp: APOP is not offered (RFC 1939 7). */
	conn_puts(c, "+OK postern ready\r\n");
	return s;
}

static void
pop3_timeout(void *arg)
{
	struct pop3_session	*s = arg;

	/*
	 * RFC 1939 3: on the autologout timer the server closes without
	 * entering UPDATE and without a response.
	 */
	log_info("%016" PRIx64 " pop3 autologout user=%s", s->id,
	    s->user != NULL ? s->user : "-");
	pop3_enter(s, POP3_S_CLOSING);
}

static void
pop3_shutdown(void *arg)
{
	struct pop3_session	*s = arg;

	/* Idle: say goodbye now; else when the current command is done. */
	s->shutdown = true;
	if (s->state == POP3_S_AUTH || s->state == POP3_S_SASL ||
	    s->state == POP3_S_TRANS) {
		pop3_err(s, "[SYS/TEMP] Server shutting down");
		pop3_close(s);
	}
}

static void
pop3_free(void *arg)
{
	struct pop3_session	*s = arg;

	if (s->xfer != NULL) {
		if (s->xfer->running)
			s->xfer->orphan = true;
		else
			pop3_xfer_free(s->xfer);
		s->xfer = NULL;
	}
	pop3_auth_drop(s);
	/* Dropped without QUIT: nothing is deleted (RFC 1939 6). */
	pop3_logout_user(s);
	if (s->user_arg != NULL) {
		explicit_bzero(s->user_arg, strlen(s->user_arg));
		free(s->user_arg);
	}
	buf_free(&s->out);
	free(s);
}

#define POP3_PROTO(n, busy) { n, pop3_start, pop3_input, pop3_drained, \
	pop3_timeout, pop3_shutdown, NULL, pop3_free, busy }

static const struct proto pop3_protos[] = {
	POP3_PROTO("pop3", "-ERR [SYS/TEMP] Too many connections"),
	POP3_PROTO("pop3s", NULL),
};

const struct proto *
pop3_proto(enum conn_svc svc)
{
	return svc == SVC_POP3S ? &pop3_protos[1] : &pop3_protos[0];
}
