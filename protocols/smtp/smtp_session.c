/*
 * smtp_session.c - the SMTP server session (RFC 5321) for MX (25) and
 * submission (587 STARTTLS, 465 implicit TLS, RFC 6409/8314): the conn
 * vtable, line reading with bounded length, the DATA (RFC 5321 4.1.1.4)
 * and BDAT (RFC 3030) phases, and the hand-off to the store.
 *
 * Owns struct smtp_session and its transaction; the verbs live in
 * smtp_cmd.c, AUTH and the submission rules in smtp_submit.c.  Message
 * bytes go to store_msg_write() as they are decoded; at the end of the
 * message store_deliver() makes every copy durable on the worker pool and
 * only its completion sends "250" (DESIGN.md: a crash after 250 never
 * loses a message).  Completions and worker jobs name the session by
 * conn id and look it up here, since the client may have left.
 *
 * Threads: everything here runs on the loop thread.  [loop]
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
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
#include "filter.h"
#include "hmap.h"
#include "lda.h"
#include "log.h"
#include "loop.h"
#include "queue.h"
#include "route.h"
#include "smtp.h"
#include "spam.h"
#include "smtp_data.h"
#include "smtp_private.h"
#include "smtpc_srs.h"
#include "srs.h"
#include "store.h"
#include "xmalloc.h"

/* One delivery handed to the store; owns everything store_deliver needs. */
struct smtp_dlv {
	uint64_t		 sid;
	char			 id[SMTP_ID_LEN + 1];
	char			*from;
	char			*to;		/* for the log line */
	char			*logctx;	/* client..spam, smtp_log_ctx */
	uint64_t		 size;
	struct store_msg	*msg;
	struct store_rcpt	*rcpts;
	char			**prepend;	/* the strings rcpts point to */
	char			**account;
	char			**folder;
	size_t			 n;
	/*
	 * Remote targets for the outbound queue (queue.h): qr[0..nplain)
	 * keep the sender, the forwards after them get fsender (SRS), each
	 * group one queue entry; qstage says which goes next.
	 */
	struct queue_rcpt	*qr;
	size_t			 nq;
	size_t			 nplain;
	char			*fsender;
	int			 qstage;
	char			*qprepend;
	unsigned		 qflags;
	char			*envid;		/* RFC 3461 ENVID or NULL */
	int			 ret;		/* RFC 3461 RET */
	int			 qrc;		/* 0 queued, -1 failed */
};

static struct hmap	*smtp_sessions;		/* id -> session */

static const char *const smtp_state_names[] = {
	"cmd", "data", "bdat", "auth", "busy", "closing"
};

bool
smtp_is_submission(const struct smtp_session *s)
{
	return s->svc == SVC_SUBMISSION || s->svc == SVC_SUBMISSIONS;
}

struct smtp_session *
smtp_session_lookup(uint64_t id)
{
	struct smtp_session	*s;

	if (smtp_sessions == NULL || conn_lookup(id) == NULL)
		return NULL;
	s = hmap_get(smtp_sessions, &id, sizeof(id));
	if (s == NULL || conn_closing(s->c))
		return NULL;
	return s;
}

void
smtp_enter(struct smtp_session *s, enum smtp_state next)
{
	if (s->state == next)
		return;
	log_debug("%016" PRIx64 " smtp state=%s next=%s", s->id,
	    smtp_state_names[s->state], smtp_state_names[next]);
	s->state = next;
}

void
smtp_close(struct smtp_session *s)
{
	smtp_enter(s, SMTP_S_CLOSING);
	conn_close(s->c);
}

/*
 * Every reply carries an RFC 3463 enhanced status code.  Replies of 400
 * and up count as client errors; after SMTP_MAX_ERRORS we say 421 and
 * hang up (RFC 5321 3.8: the server may close after 421).
 */
void
smtp_reply(struct smtp_session *s, int code, const char *status,
    const char *fmt, ...)
{
	va_list	 ap;

	if (s->state == SMTP_S_CLOSING)
		return;
	conn_printf(s->c, "%d %s ", code, status);
	va_start(ap, fmt);
	conn_vprintf(s->c, fmt, ap);
	va_end(ap);
	conn_puts(s->c, "\r\n");
	if (code >= 400 && code != 421 && ++s->errors >= SMTP_MAX_ERRORS) {
		log_info("%016" PRIx64 " smtp too many errors=%u", s->id,
		    s->errors);
		conn_printf(s->c, "421 4.7.0 %s Error: too many errors\r\n",
		    s->conf->fqdn);
		smtp_close(s);
	}
}

void
smtp_reply_r(struct smtp_session *s, const struct smtp_reply *r)
{
	smtp_reply(s, r->code, r->status, "%s", r->text);
}

/* ---- transaction ------------------------------------------------------ */

void
smtp_tx_free(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	size_t		 i, j;

	if (tx == NULL)
		return;
	for (i = 0; i < tx->nrcpts; i++) {
		free(tx->rcpts[i].addr);
		free(tx->rcpts[i].orcpt);
		route_result_clear(&tx->rcpts[i].route);
		for (j = 0; j < tx->rcpts[i].nremote; j++)
			free(tx->rcpts[i].remote[j]);
		free(tx->rcpts[i].remote);
	}
	filter_free(&tx->filter);
	smtp_data_free(&tx->dec);
	store_msg_free(&tx->msg);
	buf_free(&tx->out);
	buf_free(&tx->hdr);
	free(tx);
	s->tx = NULL;
}

/* Open the spool file for the message; -1 (caller replies 451). */
int
smtp_msg_begin(struct smtp_session *s)
{
	const char	*err = NULL;

	if (s->tx->msg != NULL)
		return 0;
	if (loop_shared()->store == NULL ||
	    store_msg_begin(loop_shared()->store, &s->tx->msg, &err) == -1) {
		log_err("%016" PRIx64 " smtp id=%s spool failed error=\"%s\"",
		    s->id, s->tx->id, err != NULL ? err : "no store");
		return -1;
	}
	return 0;
}

/* Hand decoded bytes to the store and keep the header section. */
static void
smtp_msg_out(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	size_t		 from, room;
	const char	*end;

	if (tx->out.len == 0)
		return;
	if (tx->write_error == NULL && tx->msg != NULL &&
	    store_msg_write(tx->msg, tx->out.data, tx->out.len,
	    &tx->write_error) == -1 && tx->write_error == NULL)
		tx->write_error = "write failed";
	if (!tx->hdr_done && smtp_is_submission(s)) {
		from = tx->hdr.len > 3 ? tx->hdr.len - 3 : 0;
		room = SMTP_HDR_MAX - tx->hdr.len;
		buf_append(&tx->hdr, tx->out.data,
		    tx->out.len < room ? tx->out.len : room);
		if (tx->hdr.len >= 2 && memcmp(tx->hdr.data, "\r\n", 2) == 0) {
			tx->hdr.len = 0;	/* no header section at all */
			tx->hdr_done = true;
		} else if ((end = memmem(tx->hdr.data + from,
		    tx->hdr.len - from, "\r\n\r\n", 4)) != NULL) {
			tx->hdr.len = (size_t)(end - tx->hdr.data) + 2;
			tx->hdr_done = true;
		} else if (tx->hdr.len >= SMTP_HDR_MAX)
			tx->hdr_done = true;
		tx->hdr.data[tx->hdr.len] = '\0';
	}
	buf_reset(&tx->out);
}

/*
 * ---- the message log line ----------------------------------------------
 *
 * One line per message, in the spirit of Postfix's, for administrators
 * and log tools (postern.8 LOGGING):
 *
 *   <session> smtp msg id=<queue id> from=<a@x> to=<b@y>,<c@z> size=N
 *     client=[ip] helo=name tls=TLSv1.3/CIPHER|- auth=user|-
 *     spf=R dkim=R dmarc=R spam=score/action|-
 *     delivered=account:folder,...|- queued=<addr>,...|-
 *     result=delivered|queued|deferred|rejected reply="NNN x.y.z text"
 *
 * spf/dkim/dmarc are read back from the Authentication-Results field the
 * filter made (the first spf= is smtp.mailfrom; dkim is "pass" if any
 * signature passed); "signed" on submission when we added a
 * DKIM-Signature; "-" when the filter did not run.  delivered names the
 * folder routing chose (a Sieve script may still file elsewhere, and
 * logs that itself).  The filter's header lines are only known while
 * its callback runs: smtp_msg_authed keeps them in smtp_log_hdrs.
 */
static const char	*smtp_log_hdrs;		/* [loop] or NULL */
static size_t		 smtp_log_hdrs_len;

/* Copy v to b with characters that would break the line replaced. */
static void
smtp_log_safe(struct buf *b, const char *v)
{
	for (; *v != '\0'; v++)
		buf_putc(b, *v == '"' ? '\'' : (unsigned char)*v < 0x20 ||
		    *v == 0x7f ? '?' : *v);
}

/* The result of method ("spf", "dkim", "dmarc") in the A-R field. */
static void
smtp_log_ar(struct buf *b, const char *ar, size_t len, const char *method)
{
	const char	*p, *end = ar + len, *first = NULL;
	size_t		 mlen = strlen(method), n;

	for (p = ar; p + mlen + 1 < end; p++) {
		if ((p != ar && p[-1] != ' ' && p[-1] != '\t' &&
		    p[-1] != ';') || strncasecmp(p, method, mlen) != 0 ||
		    p[mlen] != '=')
			continue;
		p += mlen + 1;
		if (first == NULL)
			first = p;
		/* Several DKIM signatures: one that passed is what counts. */
		if (strncasecmp(p, "pass", 4) == 0 && (p + 4 == end ||
		    strchr(" \t;\r\n", p[4]) != NULL)) {
			first = p;
			break;
		}
	}
	buf_printf(b, " %s=", method);
	if (first == NULL) {
		buf_putc(b, '-');
		return;
	}
	for (n = 0; first + n < end && (first[n] >= 'a' && first[n] <= 'z');
	    n++)
		buf_putc(b, first[n]);
	if (n == 0)
		buf_putc(b, '?');
}

/* spf= dkim= dmarc= from the filter's header lines (smtp_log_hdrs). */
static void
smtp_log_auth(struct buf *b)
{
	const char	*h = smtp_log_hdrs, *ar = NULL, *end;
	size_t		 len = smtp_log_hdrs_len, arlen = 0;

	if (h != NULL) {
		if ((ar = memmem(h, len, "Authentication-Results:", 23)) !=
		    NULL) {
			/* The field ends at a line that is not folded. */
			for (end = ar; (end = memmem(end, len - (size_t)(end -
			    h), "\r\n", 2)) != NULL; end += 2)
				if (end + 2 >= h + len || (end[2] != ' ' &&
				    end[2] != '\t'))
					break;
			arlen = end != NULL ? (size_t)(end - ar) :
			    len - (size_t)(ar - h);
		}
	}
	if (ar != NULL) {
		smtp_log_ar(b, ar, arlen, "spf");
		smtp_log_ar(b, ar, arlen, "dkim");
		smtp_log_ar(b, ar, arlen, "dmarc");
	} else if (h != NULL && memmem(h, len, "DKIM-Signature:", 15) != NULL)
		buf_puts(b, " spf=- dkim=signed dmarc=-");
	else
		buf_puts(b, " spf=- dkim=- dmarc=-");
}

/*
 * "client=[ip] helo=name tls=... auth=... spf=... dkim=... dmarc=...
 * spam=..." for the session s and its transaction (malloc'd).
 */
static char *
smtp_log_ctx(struct smtp_session *s)
{
	struct buf	 b = BUF_INIT;
	const char	*reason = NULL;
	double		 score = 0;
	int		 act = -1;

	buf_printf(&b, "client=[%s] helo=", conn_peer_ip(s->c));
	smtp_log_safe(&b, s->helo[0] != '\0' ? s->helo : "-");
	if (conn_tls(s->c))
		buf_printf(&b, " tls=%s/%s", conn_tls_version(s->c),
		    conn_tls_cipher(s->c));
	else
		buf_puts(&b, " tls=-");
	buf_puts(&b, " auth=");
	smtp_log_safe(&b, s->user != NULL ? s->user : "-");
	smtp_log_auth(&b);
	if (s->tx != NULL && s->tx->filter != NULL)
		act = filter_spam_verdict(s->tx->filter, &score, &reason);
	if (act >= 0)
		buf_printf(&b, " spam=%.2f/%s", score,
		    spam_action_name((enum spam_action)act));
	else
		buf_puts(&b, " spam=-");
	return buf_steal(&b, NULL);
}

/* Write the line; reply is "NNN x.y.z text" or a bare reason. */
static void
smtp_log_line(uint64_t sid, const char *id, const char *from,
    const char *to, uint64_t size, const char *ctx, const char *delivered,
    const char *queued, const char *result, const char *reply)
{
	struct buf	 b = BUF_INIT;

	smtp_log_safe(&b, reply);
	log_info("%016" PRIx64 " smtp msg id=%s from=<%s> to=%s size=%" PRIu64
	    " %s delivered=%s queued=%s result=%s reply=\"%s\"", sid, id, from,
	    to[0] != '\0' ? to : "-", size, ctx, delivered, queued, result,
	    b.data != NULL ? b.data : "");
	buf_free(&b);
}

/*
 * A message refused or failed before delivery (s and its tx alive).
 * reply is the reply sent ("550 5.7.1 ...": 4xx logs deferred, else
 * rejected) or a short reason ("rejected: dmarc").
 */
static void
smtp_log_msg(struct smtp_session *s, const char *id, const char *from,
    const char *to, uint64_t size, const char *reply)
{
	char	*ctx = smtp_log_ctx(s);

	smtp_log_line(s->id, id, from, to, size, ctx, "-", "-",
	    reply[0] == '4' ? "deferred" : "rejected", reply);
	free(ctx);
}

static char *
smtp_rcpt_list(const struct smtp_tx *tx)
{
	struct buf	 b = BUF_INIT;
	size_t		 i, len;

	for (i = 0; i < tx->nrcpts; i++)
		buf_printf(&b, "%s<%s>", i ? "," : "", tx->rcpts[i].addr);
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b, &len);
}

/* RFC 5322 3.3 date-time, in local time. */
static void
smtp_date(char *out, size_t size)
{
	time_t		 now = time(NULL);
	struct tm	 tm;

	localtime_r(&now, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/*
 * RFC 5321 4.4 trace field, with the RFC 3848 protocol ("with") name and,
 * RFC 6531 3.7.3, UTF8SMTP when SMTPUTF8 was used.
 */
static void
smtp_received(struct smtp_session *s, struct buf *b, const char *rcpt,
    const char *date)
{
	const char	*ip = conn_peer_ip(s->c);
	bool		 v6 = strchr(ip, ':') != NULL;
	bool		 tls = conn_tls(s->c);

	buf_printf(b, "Received: from %s ([%s%s])\r\n\tby %s (postern) with "
	    "%s%s%s id %s", s->helo[0] != '\0' ? s->helo : "unknown",
	    v6 ? "IPv6:" : "", ip, s->conf->fqdn,
	    s->tx->smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP",
	    tls ? "S" : "", s->user != NULL ? "A" : "", s->tx->id);
	if (tls)
		buf_printf(b, "\r\n\t(using %s with cipher %s (%d bits))",
		    conn_tls_version(s->c), conn_tls_cipher(s->c),
		    conn_tls_bits(s->c));
	if (s->user != NULL)
		buf_printf(b, "\r\n\t(authenticated as %s)", s->user);
	if (rcpt != NULL)
		buf_printf(b, "\r\n\tfor <%s>; %s\r\n", rcpt, date);
	else
		buf_printf(b, ";\r\n\t%s\r\n", date);
}

static void
smtp_dlv_free(struct smtp_dlv *d)
{
	size_t	 i;

	for (i = 0; i < d->n; i++) {
		free(d->prepend[i]);
		free(d->account[i]);
		free(d->folder[i]);
	}
	free(d->prepend);
	free(d->account);
	free(d->folder);
	free(d->rcpts);
	for (i = 0; i < d->nq; i++) {
		free((char *)(uintptr_t)d->qr[i].addr);
		free((char *)(uintptr_t)d->qr[i].orcpt);
	}
	free(d->qr);
	free(d->qprepend);
	free(d->fsender);
	free(d->envid);
	store_msg_free(&d->msg);
	free(d->from);
	free(d->to);
	free(d->logctx);
	free(d);
}

/* The log line of a delivery: where each copy went, and the reply. */
static void
smtp_dlv_log(const struct smtp_dlv *d, int code, const char *reply)
{
	struct buf	 dl = BUF_INIT, ql = BUF_INIT;
	size_t		 i;

	for (i = 0; i < d->n && d->qrc == 0; i++) {
		if (d->rcpts[i].account == NULL)
			continue;
		buf_printf(&dl, "%s%s:", dl.len > 0 ? "," : "",
		    d->rcpts[i].account);
		smtp_log_safe(&dl, d->rcpts[i].result != 0 ? "failed" :
		    d->rcpts[i].folder != NULL ? d->rcpts[i].folder : "INBOX");
	}
	for (i = 0; i < d->nq && d->qrc == 0; i++)
		buf_printf(&ql, "%s<%s>", i > 0 ? "," : "", d->qr[i].addr);
	smtp_log_line(d->sid, d->id, d->from, d->to, d->size,
	    d->logctx != NULL ? d->logctx : "-", dl.len > 0 ? dl.data : "-",
	    ql.len > 0 ? ql.data : "-", code >= 500 ? "rejected" : code >= 400 ?
	    "deferred" : d->n > 0 ? "delivered" : "queued", reply);
	buf_free(&dl);
	buf_free(&ql);
}

/*
 * [loop] The store has an answer for every copy.  SMTP DATA has a single
 * reply for all recipients, so the simplest correct choice is: every copy
 * durable -> 250; any temporary failure -> 451 for the whole message (the
 * client retries; copies already delivered may then arrive twice, which
 * RFC 5321 6.1 prefers to a loss); all failures permanent -> 554.  LMTP
 * (RFC 2033 4.2) would answer per recipient instead.
 */
static void
smtp_dlv_done(void *arg)
{
	struct smtp_dlv		*d = arg;
	struct smtp_session	*s = smtp_session_lookup(d->sid);
	const char		*err = NULL, *status;
	size_t			 i, tmp = 0, perm = 0;
	char			 text[256], reply[300];
	int			 code;

	/* The outbound queue failed: one temporary failure for all. */
	if (d->qrc == -1) {
		tmp++;
		err = "outbound queue failure";
	}
	for (i = 0; i < d->n && d->qrc == 0; i++) {
		if (d->rcpts[i].result == 0)
			continue;
		if (err == NULL)
			err = d->rcpts[i].error;
		if (d->rcpts[i].result == -2)
			perm++;
		else
			tmp++;
	}
	if (tmp == 0 && perm == 0) {
		code = 250;
		status = "2.0.0";
		snprintf(text, sizeof(text), "Ok: queued as %s", d->id);
	} else if (tmp > 0 || perm < d->n) {
		code = 451;
		status = "4.3.0";
		snprintf(text, sizeof(text), "Temporary delivery failure: %s",
		    err != NULL ? err : "local error");
	} else {
		code = 554;
		status = "5.3.0";
		snprintf(text, sizeof(text), "Delivery failed: %s",
		    err != NULL ? err : "local error");
	}
	snprintf(reply, sizeof(reply), "%d %s %s", code, status, text);
	smtp_dlv_log(d, code, reply);
	if (s != NULL && s->dlv == d) {
		s->dlv = NULL;
		smtp_reply(s, code, status, "%s", text);
		smtp_resume(s);
	}
	smtp_dlv_free(d);
}

static void	smtp_dlv_queued(void *, int, const char *);

/* [loop] Queue the next group of remote targets; false: none left. */
static bool
smtp_dlv_queue_next(struct smtp_dlv *d)
{
	struct queue_env	 env;
	size_t			 off, n;

	for (;;) {
		if (d->qstage == 0) {
			off = 0;
			n = d->nplain;
			env.sender = d->from;
		} else if (d->qstage == 1) {
			off = d->nplain;
			n = d->nq - d->nplain;
			env.sender = d->fsender != NULL ? d->fsender : d->from;
		} else
			return false;
		d->qstage++;
		if (n > 0)
			break;
	}
	env.flags = d->qflags;
	env.envid = d->envid;
	env.ret = d->ret;
	queue_submit_env(loop_shared()->queue, d->msg, d->qprepend, &env,
	    d->qr + off, n, smtp_dlv_queued, d);
	return true;
}

/* [loop] The remote copies are durable in the queue (or not): now local. */
static void
smtp_dlv_queued(void *arg, int rc, const char *error)
{
	struct smtp_dlv	*d = arg;

	d->qrc = rc;
	if (rc == 0 && smtp_dlv_queue_next(d))
		return;
	if (rc == -1 || d->n == 0) {
		smtp_dlv_done(d);
		return;
	}
	/* lda_deliver is store_deliver with each account's Sieve script. */
	lda_deliver(loop_shared()->store, d->msg, d->from, d->rcpts, d->n,
	    smtp_dlv_done, d);
}

static bool
smtp_seen_account(const struct store_rcpt *r, size_t n, const char *account)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(r[i].account, account) == 0)
			return true;
	return false;
}

/*
 * The envelope sender for forwarded copies (srs.h): SRS0/SRS1 when SRS is
 * on and the sender is neither <> nor of our own domains (our SPF covers
 * those, as postsrsd's excluded domains would).  NULL: no rewrite.
 */
static void
smtp_dlv_forward_sender(struct smtp_session *s, struct smtp_dlv *d)
{
	const struct srs	*srs = s->srs;
	const char		*at = strrchr(d->from, '@');
	char			*out;

	d->fsender = NULL;
	if (srs == NULL || at == NULL ||
	    conf_is_local_domain(s->conf, at + 1))
		return;
	if (srs_forward(srs, d->from, time(NULL), &out) == 1) {
		log_info("%016" PRIx64 " smtp id=%s srs from=<%s> srs=<%s>",
		    s->id, d->id, d->from, out);
		d->fsender = out;
	} else
		free(out);
}

/* End of message with no error: build the copies and call the store. */
static void
smtp_deliver(struct smtp_session *s, const struct buf *add)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_dlv		*d = xcalloc(1, sizeof(*d));
	const struct route_local *l;
	struct buf		 b = BUF_INIT;
	char			 date[64];
	size_t			 i, j, k, max = 0, len;
	bool			 fwd;

	smtp_date(date, sizeof(date));
	for (i = 0; i < tx->nrcpts; i++)
		max += tx->rcpts[i].route.nlocal;
	d->sid = s->id;
	memcpy(d->id, tx->id, sizeof(d->id));
	d->from = xstrdup(tx->from);
	d->to = smtp_rcpt_list(tx);
	d->logctx = smtp_log_ctx(s);	/* while tx and filter live */
	d->size = store_msg_size(tx->msg);
	d->rcpts = xcalloc(max ? max : 1, sizeof(*d->rcpts));
	d->prepend = xcalloc(max ? max : 1, sizeof(*d->prepend));
	d->account = xcalloc(max ? max : 1, sizeof(*d->account));
	d->folder = xcalloc(max ? max : 1, sizeof(*d->folder));
	/* One copy per account, even when several RCPTs reach it. */
	for (i = 0; i < tx->nrcpts; i++) {
		for (j = 0; j < tx->rcpts[i].route.nlocal; j++) {
			l = &tx->rcpts[i].route.local[j];
			if (smtp_seen_account(d->rcpts, d->n, l->name))
				continue;
			buf_printf(&b, "Return-Path: <%s>\r\n", tx->from);
			buf_printf(&b, "Delivered-To: %s\r\n", l->name);
			if (strcasecmp(tx->rcpts[i].addr, l->name) != 0)
				buf_printf(&b, "X-Original-To: %s\r\n",
				    tx->rcpts[i].addr);
			smtp_received(s, &b, tx->rcpts[i].addr, date);
			if (add->len > 0)
				buf_append(&b, add->data, add->len);
			d->prepend[d->n] = buf_steal(&b, &len);
			d->account[d->n] = xstrdup(l->name);
			if (l->folder != NULL)
				d->folder[d->n] = xstrdup(l->folder);
			else if (tx->junk && spam_junk_folder(s->conf) != NULL)
				/* Default filing; a Sieve fileinto still wins. */
				d->folder[d->n] = xstrdup(spam_junk_folder(s->conf));
			d->rcpts[d->n].account = d->account[d->n];
			d->rcpts[d->n].folder = d->folder[d->n];
			d->rcpts[d->n].folder_fallback = true;
			d->rcpts[d->n].prepend = d->prepend[d->n];
			d->n++;
		}
	}
	/*
	 * Remote targets: relayed submission (the RCPT itself) keeps the
	 * sender; forwards (a target other than the RCPT) get an SRS sender
	 * when srs.enable is set, so SPF at the next hop passes and bounces
	 * come back to us (smtp_cmd.c reverses them).  Plain ones first.
	 */
	smtp_dlv_forward_sender(s, d);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < tx->nrcpts; i++) {
			for (j = 0; j < tx->rcpts[i].nremote; j++) {
				fwd = strcasecmp(tx->rcpts[i].remote[j],
				    tx->rcpts[i].addr) != 0 && d->fsender != NULL;
				if (fwd != (k == 1))
					continue;
				d->qr = xreallocarray(d->qr, d->nq + 1,
				    sizeof(*d->qr));
				d->qr[d->nq].addr =
				    xstrdup(tx->rcpts[i].remote[j]);
				d->qr[d->nq].notify = tx->rcpts[i].notify;
				d->qr[d->nq].orcpt = tx->rcpts[i].orcpt !=
				    NULL ? xstrdup(tx->rcpts[i].orcpt) : NULL;
				d->nq++;
			}
		}
		if (k == 0)
			d->nplain = d->nq;
	}
	if (tx->envid[0] != '\0')
		d->envid = xstrdup(tx->envid);
	d->ret = tx->ret == SMTP_RET_FULL ? QUEUE_RET_FULL :
	    tx->ret == SMTP_RET_HDRS ? QUEUE_RET_HDRS : QUEUE_RET_NONE;
	if (d->nq > 0) {
		smtp_received(s, &b, d->nq == 1 ? d->qr[0].addr : NULL, date);
		if (add->len > 0)
			buf_append(&b, add->data, add->len);
		d->qprepend = buf_steal(&b, &len);
		d->qflags = (tx->smtputf8 ? QUEUE_F_SMTPUTF8 : 0) |
		    (tx->body == SMTP_BODY_8BITMIME ? QUEUE_F_8BITMIME : 0);
	}
	buf_free(&b);
	/* The job owns copies of everything: the tx can go now. */
	d->msg = tx->msg;
	tx->msg = NULL;
	smtp_tx_free(s);
	s->dlv = d;
	smtp_enter(s, SMTP_S_BUSY);
	conn_read_enable(s->c, false);
	if (d->n == 0 && d->nq == 0) {
		/* Cannot happen: RCPT accepted only local recipients. */
		d->rcpts[0].result = -1;
		d->rcpts[0].error = "no local recipient";
		d->n = 1;
		smtp_dlv_done(d);
		return;
	}
	/* Remote targets first; the local copies follow. */
	if (d->nq > 0 && smtp_dlv_queue_next(d))
		return;
	/* lda_deliver is store_deliver with each account's Sieve script. */
	lda_deliver(loop_shared()->store, d->msg, d->from, d->rcpts, d->n,
	    smtp_dlv_done, d);
}

/*
 * [loop] Greylisting answered (filter_greylist): 451 4.7.1 for a new or
 * too young triplet, else the message goes on with the filter's header
 * lines (hdrs, a copy the filter kept).
 */
static void
smtp_msg_greyed(void *arg, bool greylisted, const char *hdrs, size_t len)
{
	struct smtp_session	*s = arg;
	struct buf		 add = BUF_INIT;
	char			*to;

	smtp_log_hdrs = hdrs;
	smtp_log_hdrs_len = len;
	if (greylisted) {
		to = smtp_rcpt_list(s->tx);
		smtp_log_msg(s, s->tx->id, s->tx->from, to,
		    smtp_data_size(s->tx->dec),
		    "451 4.7.1 Greylisted, try again later");
		free(to);
		smtp_reply(s, 451, "4.7.1", "Greylisted, try again later");
		smtp_tx_free(s);
		smtp_resume(s);
	} else {
		if (len > 0)
			buf_append(&add, hdrs, len);
		smtp_deliver(s, &add);
		buf_free(&add);
	}
	smtp_log_hdrs = NULL;
	smtp_log_hdrs_len = 0;
}

/*
 * [loop] The filter's header lines (DKIM-Signature or
 * Authentication-Results, then the session's own) are ready.  The filter
 * never calls back after filter_free (smtp_tx_free), so s is alive.
 */
static void
smtp_msg_filtered(void *arg, const char *hdrs, size_t len)
{
	struct smtp_session	*s = arg;
	struct buf		 add = BUF_INIT;
	const char		*reason = NULL;
	double			 score = 0;
	char			*to, line[512];
	int			 dmarc, virus;

	/*
	 * virus_scanning: an infected message is refused for good; when
	 * clamd could not give a verdict (down, error, timeout) the client
	 * retries later: a message is never accepted unscanned.
	 */
	virus = filter_virus_verdict(s->tx->filter, &reason);
	if (virus != FILTER_VIRUS_NONE) {
		to = smtp_rcpt_list(s->tx);
		if (virus == FILTER_VIRUS_FOUND)
			snprintf(line, sizeof(line), "554 5.7.1 Message "
			    "rejected: virus found: %s", reason != NULL ?
			    reason : "unknown");
		else
			snprintf(line, sizeof(line), "451 4.3.0 Virus scanner "
			    "unavailable (%s)", reason != NULL ? reason :
			    "error");
		smtp_log_msg(s, s->tx->id, s->tx->from, to,
		    smtp_data_size(s->tx->dec), line);
		free(to);
		if (virus == FILTER_VIRUS_FOUND)
			smtp_reply(s, 554, "5.7.1", "Message rejected: virus "
			    "found: %s", reason != NULL ? reason : "unknown");
		else
			smtp_reply(s, 451, "4.3.0", "Virus scanner "
			    "unavailable, try again later");
		smtp_tx_free(s);
		smtp_resume(s);
		return;
	}
	reason = NULL;

	/*
	 * dmarc.enforce: RFC 7489 6.6.4 dispositions (pct applied by the
	 * filter).  reject is refused now, at the end of DATA, as spam is;
	 * quarantine is filed into Junk like spam's add_header.
	 */
	dmarc = s->conf->dmarc.enforce ?
	    filter_dmarc_verdict(s->tx->filter, &reason) : FILTER_DMARC_NONE;
	if (dmarc == FILTER_DMARC_REJECT) {
		to = smtp_rcpt_list(s->tx);
		smtp_log_msg(s, s->tx->id, s->tx->from, to,
		    smtp_data_size(s->tx->dec), "rejected: dmarc");
		free(to);
		smtp_reply(s, 550, "5.7.1", "Message rejected: DMARC policy "
		    "of %s is reject", reason != NULL ? reason : "the sender");
		smtp_tx_free(s);
		smtp_resume(s);
		return;
	}
	if (dmarc == FILTER_DMARC_QUARANTINE)
		s->tx->junk = true;
	reason = NULL;
	switch (filter_spam_verdict(s->tx->filter, &score, &reason)) {
	case SPAM_REJECT:
		/* Refused at DATA time: we never accept what we would drop. */
		to = smtp_rcpt_list(s->tx);
		snprintf(line, sizeof(line), "550 5.7.1 %s", reason != NULL ?
		    reason : "Message rejected as spam");
		smtp_log_msg(s, s->tx->id, s->tx->from, to,
		    smtp_data_size(s->tx->dec), line);
		free(to);
		smtp_reply(s, 550, "5.7.1", "%s", reason != NULL ? reason :
		    "Message rejected as spam");
		smtp_tx_free(s);
		smtp_resume(s);
		return;
	case SPAM_ADD_HEADER:
		s->tx->junk = true;
		break;
	case SPAM_GREYLIST: {
		/* spam.greylist: new triplets wait; AUTH'd clients and
		 * clients on an allowlist (DNSWL) never. */
		const char	*rcpts[SMTP_MAX_RCPTS];
		size_t		 i;

		if (s->user != NULL || s->tx->nrcpts == 0 ||
		    filter_allowlisted(s->tx->filter))
			break;
		for (i = 0; i < s->tx->nrcpts; i++)
			rcpts[i] = s->tx->rcpts[i].addr;
		filter_greylist(s->tx->filter, rcpts, s->tx->nrcpts, hdrs, len,
		    smtp_msg_greyed, s);
		return;
	}
	default:
		break;
	}
	if (len > 0)
		buf_append(&add, hdrs, len);
	smtp_deliver(s, &add);
	buf_free(&add);
}

/*
 * The filter's callback: its header lines stay readable for the log line
 * (smtp_log_hdrs) while smtp_msg_filtered decides and delivers.
 */
static void
smtp_msg_authed(void *arg, const char *hdrs, size_t len)
{
	smtp_log_hdrs = hdrs;
	smtp_log_hdrs_len = len;
	smtp_msg_filtered(arg, hdrs, len);
	smtp_log_hdrs = NULL;
	smtp_log_hdrs_len = 0;
}

/*
 * The one account every copy of the message goes to (after aliases),
 * or NULL when there are several, none, or remote targets as well: a
 * message gets one score for all its copies, so a user's own Bayes
 * counts may only decide it when the message is theirs alone.
 */
static const char *
smtp_single_account(const struct smtp_tx *tx)
{
	const char	*one = NULL;
	size_t		 i, j;

	for (i = 0; i < tx->nrcpts; i++) {
		if (tx->rcpts[i].nremote > 0)
			return NULL;
		for (j = 0; j < tx->rcpts[i].route.nlocal; j++) {
			if (one == NULL)
				one = tx->rcpts[i].route.local[j].name;
			else if (strcasecmp(one,
			    tx->rcpts[i].route.local[j].name) != 0)
				return NULL;
		}
	}
	return one;
}

/* The message is complete (DATA "." or BDAT LAST). */
static void
smtp_msg_end(struct smtp_session *s)
{
	struct smtp_tx		*tx = s->tx;
	const struct smtp_reply	*r = smtp_data_error(tx->dec);
	struct buf		 add = BUF_INIT;
	char			*to, line[512];

	smtp_msg_out(s);
	smtp_enter(s, SMTP_S_CMD);
	if (r != NULL || tx->write_error != NULL) {
		to = smtp_rcpt_list(tx);
		if (r != NULL)
			snprintf(line, sizeof(line), "%d %s %s", r->code,
			    r->status, r->text);
		else
			snprintf(line, sizeof(line), "451 4.3.0 Local error: "
			    "%s", tx->write_error);
		smtp_log_msg(s, tx->id, tx->from, to, smtp_data_size(tx->dec),
		    line);
		free(to);
		if (r != NULL)
			smtp_reply_r(s, r);
		else
			smtp_reply(s, 451, "4.3.0", "Local error: %s",
			    tx->write_error);
		smtp_tx_free(s);
		return;
	}
	if (smtp_is_submission(s) && smtp_submit_check(s, &add) == -1) {
		to = smtp_rcpt_list(tx);
		smtp_log_msg(s, tx->id, tx->from, to, smtp_data_size(tx->dec),
		    "553 5.7.1 From address not owned by the login");
		free(to);
		buf_free(&add);
		smtp_tx_free(s);
		return;
	}
	if (tx->filter != NULL) {
		/* Authentication headers first; smtp_msg_filtered goes on. */
		smtp_enter(s, SMTP_S_BUSY);
		conn_read_enable(s->c, false);
		if (!smtp_is_submission(s))
			filter_set_user(tx->filter, smtp_single_account(tx));
		filter_end(tx->filter, store_msg_path(tx->msg), add.data,
		    add.len, smtp_msg_authed, s);
		buf_free(&add);
		return;
	}
	smtp_deliver(s, &add);
	buf_free(&add);
}

/* ---- input ------------------------------------------------------------ */

/* DATA: feed what is buffered to the decoder.  1: progress, 0: wait. */
static int
smtp_data_input(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec	 v;
	size_t			 used;
	int			 rc;

	while (evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		rc = smtp_data_feed(s->tx->dec, v.iov_base, v.iov_len, &used,
		    &s->tx->out);
		evbuffer_drain(in, used);
		smtp_msg_out(s);
		if (rc == SMTP_DATA_DONE) {
			smtp_msg_end(s);
			return 1;
		}
	}
	return 0;
}

/* BDAT: read the rest of the chunk.  1: progress, 0: wait. */
static int
smtp_bdat_input(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec	 v;
	const struct smtp_reply	*r;
	size_t			 n, used;
	uint64_t		 chunk;

	while (s->bdat_left > 0 && evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = v.iov_len < s->bdat_left ? v.iov_len : (size_t)s->bdat_left;
		if (!s->bdat_discard) {
			smtp_data_feed(s->tx->dec, v.iov_base, n, &used,
			    &s->tx->out);
			smtp_msg_out(s);
		}
		evbuffer_drain(in, n);
		s->bdat_left -= n;
	}
	if (s->bdat_left > 0)
		return 0;
	smtp_enter(s, SMTP_S_CMD);
	if (s->bdat_discard) {
		/* The refusal was decided at the command; say it now. */
		smtp_reply_r(s, &s->cmd.reply);
		if (s->bdat_last)
			smtp_tx_free(s);	/* LAST ends it either way */
		return 1;
	}
	if (s->bdat_last) {
		smtp_data_bdat_last(s->tx->dec);
		smtp_msg_end(s);
		return 1;
	}
	if ((r = smtp_data_error(s->tx->dec)) != NULL) {
		/* RFC 3030 4.2: the transaction has failed; RSET expected. */
		s->tx->bdat_failed = true;
		smtp_reply_r(s, r);
		return 1;
	}
	chunk = s->cmd.bdat_size;
	smtp_reply(s, 250, "2.0.0", "%" PRIu64 " octets received", chunk);
	return 1;
}

/*
 * Command lines: CRLF only (RFC 5321 2.3.8; a bare LF stays inside the
 * line and the parser refuses it).  A line longer than the limit gets
 * 500 5.5.2 once its end arrives; until then its bytes are dropped, so
 * no more than one line is ever held (STYLE habit 2).
 */
static int
smtp_line_input(struct smtp_session *s, struct evbuffer *in)
{
	size_t	 len, max;

	max = s->state == SMTP_S_AUTH ? SMTP_AUTH_LINE_MAX :
	    SMTP_LINE_MAX_EXT - 2;
	switch (conn_line_take(in, max, &s->skip_line, s->line, &len)) {
	case CONN_LINE_MORE:
		return 0;
	case CONN_LINE_LONG:
		log_info("%016" PRIx64 " smtp line too long", s->id);
		smtp_reply(s, 500, "5.5.2", "Line too long");
		return 1;
	}
	/* Debug traces; a SASL response line is a secret as a whole. */
	conn_trace_in(s->c, s->line, len, s->state == SMTP_S_AUTH);
	if (s->state == SMTP_S_AUTH)
		smtp_auth_line(s, s->line, len);
	else
		smtp_cmd_line(s, s->line, len);
	return 1;
}

/*
 * Consume everything already buffered until we must wait.  Called by
 * conn on new input and by smtp_resume() after a job: bytes already in
 * the evbuffer raise no new read event (STYLE habit 7).
 */
void
smtp_input(void *arg)
{
	struct smtp_session	*s = arg;
	struct evbuffer		*in;
	int			 more = 1;

	/*
	 * A client that talks before the greeting is dropped on port 25 (the
	 * pre-greeting test of Postfix's postscreen, RFC 5321 3.1: the
	 * client waits for the 220).  A client can only have seen our 220
	 * after it left our output buffer, so input that arrives while the
	 * greeting is still queued here was sent without waiting for it.
	 */
	if (!s->greeted && s->svc == SVC_SMTP) {
		if (conn_output_len(s->c) > 0) {
			log_info("%016" PRIx64 " smtp pregreet client=%s "
			    "action=drop", s->id, conn_peer_ip(s->c));
			evbuffer_drain(conn_input(s->c),
			    evbuffer_get_length(conn_input(s->c)));
			smtp_reply(s, 554, "5.5.1", "Protocol error: talked "
			    "before the greeting");
			smtp_close(s);
			return;
		}
		s->greeted = true;
	}

	while (more && !conn_closing(s->c)) {
		in = conn_input(s->c);
		switch (s->state) {
		case SMTP_S_CMD:
			if (s->shutdown) {
				smtp_reply(s, 421, "4.3.2", "%s Server "
				    "shutting down", s->conf->fqdn);
				smtp_close(s);
				return;
			}
			/* FALLTHROUGH */
		case SMTP_S_AUTH:
			more = smtp_line_input(s, in);
			break;
		case SMTP_S_DATA:
			more = smtp_data_input(s, in);
			break;
		case SMTP_S_BDAT:
			more = smtp_bdat_input(s, in);
			break;
		default:
			more = 0;
			break;
		}
	}
}

/* A job finished: read again and process what was pipelined meanwhile. */
void
smtp_resume(struct smtp_session *s)
{
	if (s->state == SMTP_S_BUSY)
		smtp_enter(s, SMTP_S_CMD);
	if (conn_closing(s->c))
		return;
	conn_read_enable(s->c, true);
	smtp_input(s);
}

/* ---- the conn vtable -------------------------------------------------- */

static void *
smtp_start(struct conn *c)
{
	struct smtp_session	*s = xcalloc(1, sizeof(*s));
	struct gen		*g = conn_gen(c);

	s->c = c;
	s->id = conn_id(c);
	s->svc = conn_service(c);
	s->conf = g->conf;
	s->route = g->route;
	s->srs = g->ext[SMTPC_GEN_SRS];
	if (smtp_sessions == NULL)
		smtp_sessions = hmap_new();
	hmap_put(smtp_sessions, &s->id, sizeof(s->id), s);
	/*
	 * Early talker, first half: bytes already waiting in the socket when
	 * we greet were sent before any greeting existed.  The second half
	 * is in smtp_input (input while the 220 is still queued here).
	 */
	if (s->svc == SVC_SMTP && conn_kernel_pending(c) > 0) {
		log_info("%016" PRIx64 " smtp pregreet client=%s action=drop",
		    s->id, conn_peer_ip(c));
		conn_printf(c, "554 5.5.1 %s Protocol error: talked before "
		    "the greeting\r\n", s->conf->fqdn);
		smtp_enter(s, SMTP_S_CLOSING);
		conn_close(c);
		return s;
	}
	conn_printf(c, "220 %s ESMTP postern\r\n", s->conf->fqdn);
	return s;
}

/* Output left our buffer: the greeting has been written to the socket. */
static void
smtp_drained(void *arg)
{
	struct smtp_session	*s = arg;

	if (!s->greeted && conn_output_len(s->c) == 0)
		s->greeted = true;
}

static void
smtp_timeout(void *arg)
{
	struct smtp_session	*s = arg;

	/* RFC 5321 4.5.3.2: the server may time out; 421 then close. */
	conn_printf(s->c, "421 4.4.2 %s Error: timeout exceeded\r\n",
	    s->conf->fqdn);
	smtp_enter(s, SMTP_S_CLOSING);
}

static void
smtp_shutdown(void *arg)
{
	struct smtp_session	*s = arg;

	/* Idle: say goodbye now; else at the next command (smtp_input). */
	s->shutdown = true;
	if (s->state == SMTP_S_CMD || s->state == SMTP_S_AUTH) {
		conn_printf(s->c, "421 4.3.2 %s Server shutting down\r\n",
		    s->conf->fqdn);
		smtp_close(s);
	}
}

static void
smtp_tls_ready(void *arg)
{
	struct smtp_session	*s = arg;

	log_debug("%016" PRIx64 " smtp tls ready", s->id);
}

static void
smtp_free(void *arg)
{
	struct smtp_session	*s = arg;

	hmap_del(smtp_sessions, &s->id, sizeof(s->id));
	if (hmap_count(smtp_sessions) == 0)
		hmap_free(&smtp_sessions, NULL);
	/* A delivery in flight owns its message; it finds us gone. */
	s->dlv = NULL;
	smtp_auth_free(s);
	smtp_tx_free(s);
	free(s->user);
	free(s);
}

#define SMTP_PROTO(n, busy) { n, smtp_start, smtp_input, smtp_drained, smtp_timeout, \
	smtp_shutdown, smtp_tls_ready, smtp_free, busy }

static const struct proto smtp_protos[] = {
	SMTP_PROTO("smtp", "421 4.7.0 Too many connections"),
	SMTP_PROTO("submission", "421 4.7.0 Too many connections"),
	SMTP_PROTO("submissions", NULL),
};

const struct proto *
smtp_proto(enum conn_svc svc)
{
	switch (svc) {
	case SVC_SUBMISSION:
		return &smtp_protos[1];
	case SVC_SUBMISSIONS:
		return &smtp_protos[2];
	default:
		return &smtp_protos[0];
	}
}
