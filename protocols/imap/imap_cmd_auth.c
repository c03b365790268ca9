/*
 * imap_cmd_auth.c - STARTTLS (RFC 9051 6.2.1), AUTHENTICATE with SASL-IR
 * (6.2.2, RFC 4959) for PLAIN and LOGIN through libsasl2, and LOGIN
 * (6.2.3).  Password checks run on the worker pool behind the login
 * cache; failures are throttled per client address.  Plain-text logins
 * are refused before TLS (LOGINDISABLED, RFC 9051 6.2.3 / 11.1).
 *
 * Owns struct imap_auth_job: the session's handle on its login job
 * (auth_job.h: one LOGIN check or one SASL exchange), which runs each
 * step on a worker and calls imap_auth_done(); that finds the session by
 * id.  A session that goes away frees its job at once, even while a step
 * runs (auth_job then frees it when the step returns).
 *
 * Threads: everything here [loop]; the steps run on workers inside
 * auth_job.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth.h"
#include "auth_job.h"
#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "imap_private.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

/* The session's handle on its login job (imap_private.h names it). */
struct imap_auth_job {
	struct auth_job		*job;
};

/* [loop] Drop the exchange; a step still running is freed by auth_job. */
void
imap_auth_free(struct imap_session *s)
{
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	s->delay_ev = NULL;
	if (s->auth != NULL) {
		auth_job_free(&s->auth->job);
		xfree(s->auth);
	}
}

static const char *
imap_auth_mech(const struct auth_job *job)
{
	return auth_job_mech(job) != NULL ? auth_job_mech(job) : "LOGIN-CMD";
}

static void
imap_auth_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session	*s = arg;

	(void)fd;
	(void)what;
	event_free(s->delay_ev);
	s->delay_ev = NULL;
	imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
	imap_cmd_finish(s);
}

/* [loop] A step of s->auth finished. */
static void
imap_auth_done(uint64_t sid, struct auth_job *job, enum auth_sasl_result res)
{
	struct imap_session	*s = imap_session_lookup(sid);
	struct imap_auth_job	*a;
	struct timeval		 tv;
	char			*b64;
	int			 ms;

	/* Closing: imap_auth_free() frees the job with the session. */
	if (s == NULL || s->auth == NULL || s->auth->job != job)
		return;
	switch (res) {
	case AUTH_SASL_CONTINUE:
		b64 = auth_job_challenge_b64(job);
		conn_printf(s->c, "+ %s\r\n", b64);
		free(b64);
		s->mode = IMAP_M_SASL;
		/* Pipelined response lines may already be buffered. */
		imap_resume(s);
		return;
	case AUTH_SASL_OK:
		auth_job_succeeded(conn_peer_sa(s->c));
		a = s->auth;
		s->auth = NULL;
		/* -1: over max_connections_per_user, NO [LIMIT] sent. */
		if (imap_logged_in(s, auth_job_user(job)) == 0)
			log_info("%016" PRIx64 " imap login user=%s mech=%s",
			    s->id, s->user, imap_auth_mech(job));
		auth_job_free(&a->job);
		free(a);
		return;		/* imap_login_ready answers */
	case AUTH_SASL_FAIL:
		log_info("%016" PRIx64 " imap login failed mech=%s client=%s",
		    s->id, imap_auth_mech(job), conn_peer_ip(s->c));
		imap_auth_free(s);
		ms = auth_job_failed(conn_peer_sa(s->c));
		if (ms > 0) {
			s->mode = IMAP_M_BUSY;
			s->delay_ev = evtimer_new(loop_base(),
			    imap_auth_delayed, s);
			tv.tv_sec = ms / 1000;
			tv.tv_usec = (ms % 1000) * 1000;
			evtimer_add(s->delay_ev, &tv);
			return;
		}
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication "
		    "failed");
		break;
	case AUTH_SASL_ERROR:
	default:
		log_err("%016" PRIx64 " imap auth error mech=%s", s->id,
		    imap_auth_mech(job));
		imap_auth_free(s);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary authentication "
		    "failure");
		break;
	}
	s->mode = IMAP_M_BUSY;
	imap_cmd_finish(s);
}

static bool
imap_auth_refused(struct imap_session *s)
{
	if (auth_job_refused(conn_peer_sa(s->c))) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Too many failed logins, "
		    "try again later");
		return true;
	}
	return false;
}

static struct imap_auth_job *
imap_auth_new(struct imap_session *s)
{
	struct imap_auth_job	*a = xcalloc(1, sizeof(*a));

	a->job = auth_job_new(s->id, conn_gen(s->c), "imap",
	    conn_local_ip(s->c), conn_local_port(s->c), conn_peer_ip(s->c),
	    conn_peer_port(s->c), imap_auth_done);
	return a;
}

void
imap_cmd_login(struct imap_session *s, struct imap_cmd *cmd)
{
	const char		*user, *pass;
	size_t			 ulen, plen;

	if (!imap_secured(s)) {
		/* RFC 9051 6.2.3: LOGINDISABLED until STARTTLS. */
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (cmd->nargs != 2 || !imap_arg_astring(&cmd->args[0], &user,
	    &ulen) || !imap_arg_astring(&cmd->args[1], &pass, &plen)) {
		imap_tagged(s, "BAD", "LOGIN needs a user name and a password");
		return;
	}
	if (imap_auth_refused(s))
		return;
	s->auth = imap_auth_new(s);
	auth_job_plain(s->auth->job, user, ulen, pass, plen);
	imap_busy(s);
}

static int
imap_auth_decode(const char *in, size_t len, char **out_r, size_t *len_r)
{
	const char	*err;

	/* RFC 4959 3: "=" is an empty initial response. */
	if (len == 1 && in[0] == '=') {
		*out_r = NULL;
		*len_r = 0;
		return 0;
	}
	return auth_b64_decode(in, len, out_r, len_r, &err);
}

void
imap_cmd_authenticate(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_auth_job	*a;
	const char		*mech, *ir = NULL, *err;
	size_t			 mlen, irlen = 0, resp_len = 0;
	char			*resp = NULL;

	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    !imap_arg_astring(&cmd->args[0], &mech, &mlen) ||
	    (cmd->nargs == 2 && !imap_arg_astring(&cmd->args[1], &ir,
	    &irlen))) {
		imap_tagged(s, "BAD", "AUTHENTICATE needs a mechanism");
		return;
	}
	if (!imap_secured(s)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (mlen >= 16 || !auth_sasl_mech_supported(mech)) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism");
		return;
	}
	if (imap_auth_refused(s))
		return;
	if (ir != NULL && imap_auth_decode(ir, irlen, &resp, &resp_len) == -1) {
		imap_tagged(s, "BAD", "Cannot decode initial response");
		return;
	}
	a = imap_auth_new(s);
	if (auth_job_start(a->job, mech, ir != NULL, resp, resp_len,
	    &err) == -1) {
		log_err("%016" PRIx64 " imap auth setup failed error=\"%s\"",
		    s->id, err);
		auth_job_free(&a->job);
		free(a);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary authentication "
		    "failure");
		return;
	}
	s->auth = a;
	imap_busy(s);
}

/* A client response line during AUTHENTICATE (RFC 9051 6.2.2). */
void
imap_auth_line(struct imap_session *s, char *line, size_t len)
{
	char	*resp;
	size_t	 resp_len;

	s->mode = IMAP_M_BUSY;
	if (s->auth == NULL) {
		imap_cmd_finish(s);
		return;
	}
	if (len == 1 && line[0] == '*') {
		imap_auth_free(s);
		imap_tagged(s, "BAD", "Authentication cancelled");
		imap_cmd_finish(s);
		return;
	}
	if (imap_auth_decode(line, len, &resp, &resp_len) == -1) {
		explicit_bzero(line, len);
		imap_auth_free(s);
		imap_tagged(s, "BAD", "Cannot decode response");
		imap_cmd_finish(s);
		return;
	}
	explicit_bzero(line, len);
	auth_job_step(s->auth->job, resp, resp_len);
	imap_busy(s);
}

void
imap_cmd_starttls(struct imap_session *s, struct imap_cmd *cmd)
{
	const char	*err;

	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "STARTTLS takes no arguments");
		return;
	}
	if (conn_tls(s->c) || s->conf == NULL) {
		imap_tagged(s, "BAD", "TLS is already active");
		return;
	}
	if (imap_parser_pending(s->parser) > 0 ||
	    evbuffer_get_length(conn_input(s->c)) > 0) {
		/* RFC 9051 6.2.1 / CVE-2011-0411: no pipelined plaintext. */
		imap_tagged(s, "BAD", "Commands pipelined after STARTTLS");
		return;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	if (conn_starttls(s->c, &err) == -1) {
		log_warn("%016" PRIx64 " imap starttls error=\"%s\"", s->id,
		    err);
		imap_close(s);
	}
}
