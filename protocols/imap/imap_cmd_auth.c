/*
 * imap_cmd_auth.c - STARTTLS (RFC 9051 6.2.1), AUTHENTICATE with SASL-IR
 * (6.2.2, RFC 4959) for PLAIN and LOGIN through libsasl2, and LOGIN
 * (6.2.3).  Password checks run on the worker pool behind the login
 * cache; failures are throttled per client address.  Plain-text logins
 * are refused before TLS (LOGINDISABLED, RFC 9051 6.2.3 / 11.1).
 *
 * Owns struct imap_auth_job: one LOGIN check or one SASL exchange.
 * While a step runs on a worker the job is in flight and its completion
 * finds the session by id (gone: the job frees itself); between SASL
 * steps the session holds it.  The job keeps a reference to the config
 * generation so the account table outlives a reload.
 *
 * Threads: imap_auth_run() and the checker [worker]; the rest [loop].
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
#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "imap_private.h"
#include "log.h"
#include "loop.h"
#include "work.h"
#include "xmalloc.h"

struct imap_auth_job {
	uint64_t		 sid;
	struct gen		*gen;		/* reference: auth db */
	struct auth_cache	*cache;
	struct auth_sasl	*sasl;		/* NULL for LOGIN */
	char			 mech[16];
	bool			 start;
	bool			 has_resp;
	char			*resp;		/* SASL response or password */
	size_t			 resp_len;
	char			*login;		/* LOGIN only */
	time_t			 now;
	/* results */
	enum auth_sasl_result	 res;
	char			*user;		/* canonical login (LOGIN) */
	char			*challenge;
	size_t			 challenge_len;
};

static time_t
imap_auth_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
imap_auth_job_free(struct imap_auth_job *j)
{
	if (j == NULL)
		return;
	auth_sasl_free(&j->sasl);
	if (j->resp != NULL) {
		explicit_bzero(j->resp, j->resp_len);
		free(j->resp);
	}
	free(j->login);
	free(j->user);
	free(j->challenge);
	gen_unref(&j->gen);
	free(j);
}

void
imap_auth_free(struct imap_session *s)
{
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	s->delay_ev = NULL;
	/* A job in flight (BUSY) finds the session gone and frees itself. */
	if (s->auth != NULL && s->mode != IMAP_M_BUSY)
		imap_auth_job_free(s->auth);
	s->auth = NULL;
}

static bool
imap_auth_check(void *arg, const char *login, const char *password,
    const char **canonical_r)
{
	struct imap_auth_job	*j = arg;

	if (j->gen->auth == NULL)
		return false;
	return auth_db_check_cached_blocking(j->gen->auth, j->cache, login,
	    password, j->now, canonical_r);
}

/* [worker] */
static void
imap_auth_run(void *arg)
{
	struct imap_auth_job	*j = arg;
	const char		*ch = NULL, *canon = NULL;
	size_t			 chlen = 0;

	if (j->sasl == NULL) {
		j->res = AUTH_SASL_FAIL;
		if (strlen(j->login) <= AUTH_LOGIN_MAX &&
		    j->resp_len <= AUTH_PASSWORD_MAX &&
		    memchr(j->resp, '\0', j->resp_len) == NULL &&
		    imap_auth_check(j, j->login, j->resp, &canon)) {
			j->res = AUTH_SASL_OK;
			j->user = xstrdup(canon != NULL ? canon : j->login);
		}
	} else if (j->start)
		j->res = auth_sasl_start_blocking(j->sasl, j->mech,
		    j->has_resp ? (j->resp != NULL ? j->resp : "") : NULL,
		    j->resp_len, &ch, &chlen);
	else
		j->res = auth_sasl_step_blocking(j->sasl, j->resp, j->resp_len,
		    &ch, &chlen);
	if (j->resp != NULL) {
		explicit_bzero(j->resp, j->resp_len);
		xfree(j->resp);
	}
	j->resp_len = 0;
	free(j->challenge);
	j->challenge = NULL;
	if (j->res == AUTH_SASL_CONTINUE) {
		j->challenge = xmalloc(chlen + 1);
		memcpy(j->challenge, ch != NULL ? ch : "", chlen);
		j->challenge[chlen] = '\0';
		j->challenge_len = chlen;
	}
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

static void
imap_auth_done(void *arg)
{
	struct imap_auth_job	*j = arg;
	struct imap_session	*s = imap_session_lookup(j->sid);
	struct auth_throttle	*th = loop_shared()->auth_throttle;
	const struct sockaddr	*sa;
	struct timeval		 tv;
	char			*b64;
	int			 ms;

	if (s == NULL || s->auth != j) {
		imap_auth_job_free(j);
		return;
	}
	sa = conn_peer_sa(s->c);
	switch (j->res) {
	case AUTH_SASL_CONTINUE:
		b64 = auth_b64_encode(j->challenge, j->challenge_len);
		conn_printf(s->c, "+ %s\r\n", b64);
		free(b64);
		s->mode = IMAP_M_SASL;
		/* Pipelined response lines may already be buffered. */
		imap_resume(s);
		return;
	case AUTH_SASL_OK:
		if (th != NULL)
			auth_throttle_success(th, sa);
		s->auth = NULL;
		imap_logged_in(s, j->sasl != NULL ? auth_sasl_user(j->sasl) :
		    j->user);
		log_info("%016" PRIx64 " imap login user=%s mech=%s", s->id,
		    s->user, j->mech);
		imap_auth_job_free(j);
		return;		/* imap_login_ready answers */
	case AUTH_SASL_FAIL:
		log_info("%016" PRIx64 " imap login failed mech=%s client=%s",
		    s->id, j->mech, conn_peer_ip(s->c));
		s->auth = NULL;
		imap_auth_job_free(j);
		ms = 0;
		if (th != NULL) {
			auth_throttle_fail(th, sa, imap_auth_now());
			ms = auth_throttle_delay_ms(th, sa, imap_auth_now());
		}
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
		    j->mech);
		s->auth = NULL;
		imap_auth_job_free(j);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary authentication "
		    "failure");
		break;
	}
	s->mode = IMAP_M_BUSY;
	imap_cmd_finish(s);
}

static void
imap_auth_submit(struct imap_session *s)
{
	s->auth->now = imap_auth_now();
	imap_busy(s);
	work_submit(imap_auth_run, imap_auth_done, s->auth);
}

static bool
imap_auth_refused(struct imap_session *s)
{
	struct auth_throttle	*th = loop_shared()->auth_throttle;

	if (th != NULL && auth_throttle_delay_ms(th, conn_peer_sa(s->c),
	    imap_auth_now()) == AUTH_THROTTLE_REFUSE) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Too many failed logins, "
		    "try again later");
		return true;
	}
	return false;
}

static struct imap_auth_job *
imap_auth_job_new(struct imap_session *s, const char *mech)
{
	struct imap_auth_job	*j = xcalloc(1, sizeof(*j));

	j->sid = s->id;
	j->gen = gen_ref(conn_gen(s->c));
	j->cache = loop_shared()->auth_cache;
	j->start = true;
	snprintf(j->mech, sizeof(j->mech), "%s", mech);
	return j;
}

void
imap_cmd_login(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_auth_job	*j;
	const char		*user, *pass;
	size_t			 ulen, plen;

	if (!conn_tls(s->c)) {
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
	j = imap_auth_job_new(s, "LOGIN-CMD");
	j->login = xstrndup(user, ulen);
	j->resp = xmalloc(plen + 1);
	memcpy(j->resp, pass, plen);
	j->resp[plen] = '\0';
	j->resp_len = plen;
	s->auth = j;
	imap_auth_submit(s);
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
	struct imap_auth_job	*j;
	const char		*mech, *ir = NULL, *err;
	size_t			 mlen, irlen = 0;
	char			 lip[80], rip[80];

	if (cmd->nargs < 1 || cmd->nargs > 2 ||
	    !imap_arg_astring(&cmd->args[0], &mech, &mlen) ||
	    (cmd->nargs == 2 && !imap_arg_astring(&cmd->args[1], &ir,
	    &irlen))) {
		imap_tagged(s, "BAD", "AUTHENTICATE needs a mechanism");
		return;
	}
	if (!conn_tls(s->c)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (mlen >= 16 || !auth_sasl_mech_supported(mech)) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism");
		return;
	}
	if (imap_auth_refused(s))
		return;
	j = imap_auth_job_new(s, mech);
	if (ir != NULL) {
		j->has_resp = true;
		if (imap_auth_decode(ir, irlen, &j->resp, &j->resp_len) == -1) {
			imap_auth_job_free(j);
			imap_tagged(s, "BAD", "Cannot decode initial response");
			return;
		}
	}
	snprintf(lip, sizeof(lip), "%s:%d", conn_local_ip(s->c),
	    conn_local_port(s->c));
	snprintf(rip, sizeof(rip), "%s:%d", conn_peer_ip(s->c),
	    conn_peer_port(s->c));
	if (auth_sasl_new("imap", s->conf->fqdn, strchr(lip, ':') ==
	    strrchr(lip, ':') ? lip : NULL, strchr(rip, ':') ==
	    strrchr(rip, ':') ? rip : NULL, imap_auth_check, j, &j->sasl,
	    &err) == -1) {
		log_err("%016" PRIx64 " imap auth setup failed error=\"%s\"",
		    s->id, err);
		imap_auth_job_free(j);
		imap_tagged(s, "NO", "[UNAVAILABLE] Temporary authentication "
		    "failure");
		return;
	}
	s->auth = j;
	imap_auth_submit(s);
}

/* A client response line during AUTHENTICATE (RFC 9051 6.2.2). */
void
imap_auth_line(struct imap_session *s, char *line, size_t len)
{
	struct imap_auth_job	*j = s->auth;

	s->mode = IMAP_M_BUSY;
	if (j == NULL) {
		imap_cmd_finish(s);
		return;
	}
	if (len == 1 && line[0] == '*') {
		imap_auth_free(s);
		imap_tagged(s, "BAD", "Authentication cancelled");
		imap_cmd_finish(s);
		return;
	}
	j->start = false;
	if (imap_auth_decode(line, len, &j->resp, &j->resp_len) == -1) {
		explicit_bzero(line, len);
		imap_auth_free(s);
		imap_tagged(s, "BAD", "Cannot decode response");
		imap_cmd_finish(s);
		return;
	}
	explicit_bzero(line, len);
	imap_auth_submit(s);
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
