/*
 * smtp_submit.c - the submission mode of the SMTP server (RFC 6409 on
 * 587 with STARTTLS, RFC 8314 on 465): AUTH PLAIN/LOGIN (RFC 4954)
 * through libsasl2 on the worker pool, failed logins throttled per client
 * address, and the end-of-message rules (the From header must belong to
 * the login; Date and Message-ID are added when missing, RFC 6409 8.2/8.3).
 *
 * Owns struct smtp_auth_job: the session's handle on its login job
 * (auth_job.h), which runs each SASL step on a worker and calls
 * smtp_auth_done(); that finds the session by id.  A session that goes
 * away frees its job at once, even while a step runs (auth_job then
 * frees it when the step returns).
 *
 * Threads: everything here on the loop thread [loop]; the steps run on
 * workers inside auth_job.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "auth.h"
#include "auth_job.h"
#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "mime.h"
#include "route.h"
#include "smtp_private.h"
#include "xmalloc.h"

/* The session's handle on its login job (smtp_private.h names it). */
struct smtp_auth_job {
	struct auth_job		*job;
};

bool
smtp_auth_offered(const struct smtp_session *s)
{
	return smtp_is_submission(s) && conn_tls(s->c) && s->user == NULL;
}

/* [loop] Drop the exchange; a step still running is freed by auth_job. */
void
smtp_auth_free(struct smtp_session *s)
{
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	s->delay_ev = NULL;
	if (s->auth_job != NULL) {
		auth_job_free(&s->auth_job->job);
		xfree(s->auth_job);
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

/* [loop] A step of s->auth_job finished. */
static void
smtp_auth_done(uint64_t sid, struct auth_job *job, enum auth_sasl_result res)
{
	struct smtp_session	*s = smtp_session_lookup(sid);
	struct timeval		 tv;
	char			*b64;
	int			 ms;

	/* Closing: smtp_auth_free() frees the job with the session. */
	if (s == NULL || s->auth_job == NULL || s->auth_job->job != job)
		return;
	switch (res) {
	case AUTH_SASL_CONTINUE:
		b64 = auth_job_challenge_b64(job);
		conn_printf(s->c, "334 %s\r\n", b64);
		free(b64);
		smtp_enter(s, SMTP_S_AUTH);
		smtp_resume(s);
		return;
	case AUTH_SASL_OK:
		s->user = xstrdup(auth_job_user(job));
		auth_job_succeeded(conn_peer_sa(s->c));
		log_info("%016" PRIx64 " smtp auth ok user=%s mech=%s", s->id,
		    s->user, auth_job_mech(job));
		smtp_auth_free(s);
		smtp_enter(s, SMTP_S_CMD);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		smtp_resume(s);
		return;
	case AUTH_SASL_FAIL:
		log_info("%016" PRIx64 " smtp auth failed mech=%s client=%s "
		    "error=\"%s\"", s->id, auth_job_mech(job),
		    conn_peer_ip(s->c), auth_job_error(job));
		smtp_auth_free(s);
		ms = auth_job_failed(conn_peer_sa(s->c));
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
		    s->id, auth_job_mech(job), auth_job_error(job));
		smtp_auth_free(s);
		smtp_enter(s, SMTP_S_CMD);
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		smtp_resume(s);
		return;
	}
}

/* [loop] A step was handed to a worker: read nothing until it is done. */
static void
smtp_auth_busy(struct smtp_session *s)
{
	smtp_enter(s, SMTP_S_BUSY);
	conn_read_enable(s->c, false);
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
	struct smtp_auth_job	*a;
	const char		*err;
	char			*resp = NULL;
	size_t			 resp_len = 0;

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
	if (auth_job_refused(conn_peer_sa(s->c))) {
		log_info("%016" PRIx64 " smtp auth refused client=%s "
		    "reason=throttle", s->id, conn_peer_ip(s->c));
		smtp_reply(s, 454, "4.7.0", "Too many failed logins, try "
		    "again later");
		return;
	}
	if (cmd->ir_present && smtp_auth_decode(cmd->arg, strlen(cmd->arg),
	    &resp, &resp_len) == -1) {
		smtp_reply(s, 501, "5.5.2", "Cannot decode response");
		return;
	}
	a = xcalloc(1, sizeof(*a));
	a->job = auth_job_new(s->id, conn_gen(s->c), "smtp",
	    conn_local_ip(s->c), conn_local_port(s->c), conn_peer_ip(s->c),
	    conn_peer_port(s->c), smtp_auth_done);
	if (auth_job_start(a->job, cmd->mech, cmd->ir_present, resp,
	    resp_len, &err) == -1) {
		log_err("%016" PRIx64 " smtp auth setup failed error=\"%s\"",
		    s->id, err);
		auth_job_free(&a->job);
		free(a);
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	}
	s->auth_job = a;
	smtp_auth_busy(s);
}

/* A client line during the exchange (SMTP_S_AUTH). */
void
smtp_auth_line(struct smtp_session *s, const char *line, size_t len)
{
	char	*resp;
	size_t	 resp_len;

	if (s->auth_job == NULL) {
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
	if (smtp_auth_decode(line, len, &resp, &resp_len) == -1) {
		smtp_auth_free(s);
		smtp_enter(s, SMTP_S_CMD);
		smtp_reply(s, 501, "5.5.2", "Cannot decode response");
		return;
	}
	auth_job_step(s->auth_job->job, resp, resp_len);
	smtp_auth_busy(s);
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
