/*
 * smtp_submit.c - the submission mode of the SMTP server (RFC 6409 on
 * 587 with STARTTLS, RFC 8314 on 465): AUTH PLAIN/LOGIN (RFC 4954)
 * through libsasl2 on the worker pool, failed logins throttled per client
 * address, and the end-of-message rules (the From header must belong to
 * the login; Date and Message-ID are added when missing, RFC 6409 8.2/8.3).
 *
 * Owns struct smtp_auth_job: the SASL exchange of one session.  While a
 * step runs on a worker the job is in flight and its completion finds the
 * session by id (it may be gone: the job then frees itself); between
 * steps the session holds it.  The job keeps a reference to the config
 * generation so that the account table outlives a reload.
 *
 * Threads: smtp_auth_run() and the checker run on a worker [worker];
 * everything else on the loop thread [loop].
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "mime.h"
#include "route.h"
#include "smtp_private.h"
#include "work.h"
#include "xmalloc.h"

struct smtp_auth_job {
	uint64_t		 sid;
	struct gen		*gen;		/* reference: auth db */
	struct auth_cache	*cache;
	struct auth_sasl	*sasl;
	char			 mech[SMTP_MECH_MAX + 1];
	bool			 start;		/* first step of the exchange */
	bool			 has_resp;
	char			*resp;		/* decoded client data */
	size_t			 resp_len;
	time_t			 now;
	/* results of the step */
	enum auth_sasl_result	 res;
	char			*challenge;
	size_t			 challenge_len;
};

bool
smtp_auth_offered(const struct smtp_session *s)
{
	return smtp_is_submission(s) && conn_tls(s->c) && s->user == NULL;
}

static time_t
smtp_auth_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
smtp_auth_job_free(struct smtp_auth_job *j)
{
	if (j == NULL)
		return;
	auth_sasl_free(&j->sasl);
	if (j->resp != NULL) {
		explicit_bzero(j->resp, j->resp_len);
		free(j->resp);
	}
	free(j->challenge);
	gen_unref(&j->gen);
	free(j);
}

/* [loop] Drop the exchange, unless a worker holds it (it frees itself). */
void
smtp_auth_free(struct smtp_session *s)
{
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	s->delay_ev = NULL;
	if (s->auth_job != NULL && s->state != SMTP_S_BUSY)
		smtp_auth_job_free(s->auth_job);
	s->auth_job = NULL;
}

/* [worker] The password check libsasl2 calls inside a step. */
static bool
smtp_auth_check(void *arg, const char *login, const char *password,
    const char **canonical_r)
{
	struct smtp_auth_job	*j = arg;

	if (j->gen->auth == NULL)
		return false;
	return auth_db_check_cached_blocking(j->gen->auth, j->cache, login,
	    password, j->now, canonical_r);
}

/* [worker] One SASL step; may take tens of milliseconds (crypt_r). */
static void
smtp_auth_run(void *arg)
{
	struct smtp_auth_job	*j = arg;
	const char		*ch = NULL;
	size_t			 chlen = 0;

	if (j->start)
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
	j->challenge_len = 0;
	if (j->res == AUTH_SASL_CONTINUE) {
		j->challenge = xmalloc(chlen + 1);
		memcpy(j->challenge, ch != NULL ? ch : "", chlen);
		j->challenge[chlen] = '\0';
		j->challenge_len = chlen;
	}
}

/* [loop] The failed-login delay is over: answer and read on. */
static void
smtp_auth_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session	*s = arg;

	event_free(s->delay_ev);
	s->delay_ev = NULL;
	smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
	smtp_resume(s);
}

/* [loop] */
static void
smtp_auth_done(void *arg)
{
	struct smtp_auth_job	*j = arg;
	struct smtp_session	*s = smtp_session_lookup(j->sid);
	struct auth_throttle	*th = loop_shared()->auth_throttle;
	const struct sockaddr	*sa;
	struct timeval		 tv;
	char			*b64;
	int			 ms;

	if (s == NULL || s->auth_job != j) {
		smtp_auth_job_free(j);
		return;
	}
	sa = conn_peer_sa(s->c);
	switch (j->res) {
	case AUTH_SASL_CONTINUE:
		b64 = auth_b64_encode(j->challenge, j->challenge_len);
		conn_printf(s->c, "334 %s\r\n", b64);
		free(b64);
		smtp_enter(s, SMTP_S_AUTH);
		smtp_resume(s);
		return;
	case AUTH_SASL_OK:
		s->user = xstrdup(auth_sasl_user(j->sasl));
		if (th != NULL)
			auth_throttle_success(th, sa);
		log_info("%016" PRIx64 " smtp auth ok user=%s mech=%s", s->id,
		    s->user, j->mech);
		s->auth_job = NULL;
		smtp_auth_job_free(j);
		smtp_enter(s, SMTP_S_CMD);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		smtp_resume(s);
		return;
	case AUTH_SASL_FAIL:
		log_info("%016" PRIx64 " smtp auth failed mech=%s client=%s "
		    "error=\"%s\"", s->id, j->mech, conn_peer_ip(s->c),
		    auth_sasl_error(j->sasl));
		s->auth_job = NULL;
		smtp_auth_job_free(j);
		ms = 0;
		if (th != NULL) {
			auth_throttle_fail(th, sa, smtp_auth_now());
			ms = auth_throttle_delay_ms(th, sa, smtp_auth_now());
		}
		if (ms > 0) {
			/* Stay BUSY (read off) until the delay is over. */
			s->delay_ev = evtimer_new(loop_base(),
			    smtp_auth_delayed, s);
			tv.tv_sec = ms / 1000;
			tv.tv_usec = (ms % 1000) * 1000;
			evtimer_add(s->delay_ev, &tv);
			return;
		}
		smtp_enter(s, SMTP_S_CMD);
		smtp_reply(s, 535, "5.7.8", "Authentication credentials "
		    "invalid");
		smtp_resume(s);
		return;
	case AUTH_SASL_ERROR:
	default:
		log_err("%016" PRIx64 " smtp auth error mech=%s error=\"%s\"",
		    s->id, j->mech, auth_sasl_error(j->sasl));
		s->auth_job = NULL;
		smtp_auth_job_free(j);
		smtp_enter(s, SMTP_S_CMD);
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		smtp_resume(s);
		return;
	}
}

/* [loop] Run the next step of s->auth_job on a worker. */
static void
smtp_auth_submit(struct smtp_session *s)
{
	s->auth_job->now = smtp_auth_now();
	smtp_enter(s, SMTP_S_BUSY);
	conn_read_enable(s->c, false);
	work_submit(smtp_auth_run, smtp_auth_done, s->auth_job);
}

/* Decode a base64 client line; "=" means empty (RFC 4954 4). */
static int
smtp_auth_decode(const char *in, size_t len, char **out_r, size_t *len_r)
{
	const char	*err;

	if (len == 1 && in[0] == '=') {
		*out_r = NULL;
		*len_r = 0;
		return 0;
	}
	return auth_b64_decode(in, len, out_r, len_r, &err);
}

void
smtp_auth_cmd(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct auth_throttle	*th = loop_shared()->auth_throttle;
	struct smtp_auth_job	*j;
	const char		*err;
	char			 lip[64], rip[64];

	if (!smtp_is_submission(s)) {
		smtp_reply(s, 503, "5.5.1", "Error: authentication not "
		    "enabled on this port");
		return;
	}
	if (!conn_tls(s->c)) {
		/* RFC 4954 6: 538 when the mechanism needs encryption. */
		smtp_reply(s, 538, "5.7.11", "Encryption required for "
		    "requested authentication mechanism");
		return;
	}
	if (!s->esmtp) {
		smtp_reply(s, 503, "5.5.1", "Error: send EHLO first");
		return;
	}
	if (s->user != NULL) {
		smtp_reply(s, 503, "5.5.1", "Error: already authenticated");
		return;
	}
	if (s->tx != NULL) {
		/* RFC 4954 4: not during a mail transaction. */
		smtp_reply(s, 503, "5.5.1", "Error: MAIL transaction in "
		    "progress");
		return;
	}
	if (!auth_sasl_mech_supported(cmd->mech)) {
		smtp_reply_r(s, &smtp_reply_auth_mech);
		return;
	}
	if (th != NULL && auth_throttle_delay_ms(th, conn_peer_sa(s->c),
	    smtp_auth_now()) == AUTH_THROTTLE_REFUSE) {
		log_info("%016" PRIx64 " smtp auth refused client=%s "
		    "reason=throttle", s->id, conn_peer_ip(s->c));
		smtp_reply(s, 454, "4.7.0", "Too many failed logins, try "
		    "again later");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->sid = s->id;
	j->gen = gen_ref(conn_gen(s->c));
	j->cache = loop_shared()->auth_cache;
	j->start = true;
	memcpy(j->mech, cmd->mech, sizeof(j->mech));
	if (cmd->ir_present) {
		j->has_resp = true;
		if (smtp_auth_decode(cmd->arg, strlen(cmd->arg), &j->resp,
		    &j->resp_len) == -1) {
			smtp_auth_job_free(j);
			smtp_reply(s, 501, "5.5.2", "Cannot decode response");
			return;
		}
	}
	snprintf(lip, sizeof(lip), "%s%s%s:%d", strchr(conn_local_ip(s->c),
	    ':') ? "[" : "", conn_local_ip(s->c), strchr(conn_local_ip(s->c),
	    ':') ? "]" : "", conn_local_port(s->c));
	snprintf(rip, sizeof(rip), "%s%s%s:%d", strchr(conn_peer_ip(s->c),
	    ':') ? "[" : "", conn_peer_ip(s->c), strchr(conn_peer_ip(s->c),
	    ':') ? "]" : "", conn_peer_port(s->c));
	if (auth_sasl_new("smtp", s->conf->fqdn, lip, rip, smtp_auth_check,
	    j, &j->sasl, &err) == -1) {
		log_err("%016" PRIx64 " smtp auth setup failed error=\"%s\"",
		    s->id, err);
		smtp_auth_job_free(j);
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	s->auth_job = j;
	smtp_auth_submit(s);
}

/* A client line during the exchange (SMTP_S_AUTH). */
void
smtp_auth_line(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_auth_job	*j = s->auth_job;

	if (j == NULL) {
		smtp_enter(s, SMTP_S_CMD);
		return;
	}
	if (len == 1 && line[0] == '*') {
		/* RFC 4954 4: the client cancels. */
		smtp_auth_free(s);
		smtp_enter(s, SMTP_S_CMD);
		smtp_reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	j->start = false;
	if (smtp_auth_decode(line, len, &j->resp, &j->resp_len) == -1) {
		smtp_auth_free(s);
		smtp_enter(s, SMTP_S_CMD);
		smtp_reply(s, 501, "5.5.2", "Cannot decode response");
		return;
	}
	smtp_auth_submit(s);
}

/* ---- end of message ---------------------------------------------------- */

static bool
smtp_hdr_has(const struct buf *hdr, const char *name)
{
	struct mime_header_iter		 it;
	struct mime_header_field	 f;

	mime_header_iter_init(&it, hdr->data != NULL ? hdr->data : "",
	    hdr->len);
	while (mime_header_iter_next(&it, &f))
		if (f.name_len == strlen(name) &&
		    strncasecmp(f.name, name, f.name_len) == 0)
			return true;
	return false;
}

/* Every address of every From field must be one the login may use. */
static int
smtp_from_owned(struct smtp_session *s, const struct buf *hdr,
    char *bad, size_t badlen)
{
	struct mime_header_iter		 it;
	struct mime_header_field	 f;
	struct mime_addr		*list;
	size_t				 n, i;
	char				 addr[SMTP_ADDR_FMT_SIZE * 2];
	int				 rc = 0;

	mime_header_iter_init(&it, hdr->data != NULL ? hdr->data : "",
	    hdr->len);
	while (rc == 0 && mime_header_iter_next(&it, &f)) {
		if (f.name_len != 4 || strncasecmp(f.name, "From", 4) != 0)
			continue;
		list = NULL;
		n = 0;
		mime_addr_parse_list(f.value, f.value_len, &list, &n);
		for (i = 0; i < n && rc == 0; i++) {
			if (list[i].kind != MIME_ADDR_MAILBOX)
				continue;
			snprintf(addr, sizeof(addr), "%s@%s",
			    list[i].mailbox != NULL ? list[i].mailbox : "",
			    list[i].domain != NULL ? list[i].domain : "");
			if (list[i].mailbox == NULL || list[i].domain == NULL ||
			    !route_may_send_as(s->route, s->user, addr)) {
				snprintf(bad, badlen, "%s", addr);
				rc = -1;
			}
		}
		mime_addr_free_list(&list, n);
	}
	return rc;
}

int
smtp_submit_check(struct smtp_session *s, struct buf *add)
{
	struct smtp_tx	*tx = s->tx;
	char		 bad[SMTP_ADDR_FMT_SIZE * 2], date[64], rnd[12];
	time_t		 now;
	struct tm	 tm;
	size_t		 i;

	if (s->user == NULL)
		return 0;
	if (smtp_from_owned(s, &tx->hdr, bad, sizeof(bad)) == -1) {
		log_info("%016" PRIx64 " smtp from header not owned user=%s "
		    "from=<%s>", s->id, s->user, bad);
		smtp_reply(s, 553, "5.7.1", "<%s>: From address not owned by "
		    "user %s", bad, s->user);
		return -1;
	}
	if (!smtp_hdr_has(&tx->hdr, "Date")) {
		now = time(NULL);
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		buf_printf(add, "Date: %s\r\n", date);
	}
	if (!smtp_hdr_has(&tx->hdr, "Message-ID")) {
		arc4random_buf(rnd, sizeof(rnd));
		buf_puts(add, "Message-ID: <");
		for (i = 0; i < sizeof(rnd); i++)
			buf_printf(add, "%02x", (unsigned char)rnd[i]);
		buf_printf(add, ".%s@%s>\r\n", tx->id, s->conf->fqdn);
	}
	return 0;
}
