/*
 * smtpc.c - the outbound SMTP client: the deliverer of the queue runner
 * (queue.h).  One struct smtpc per queue attempt: it loads the message
 * (a worker job: file read, dot-stuffing, 8-bit scan), finds the targets
 * (relay.host, or the MX records of the domain through dnsq, RFC 5321
 * 5.1), connects to each address in turn, and runs one transaction:
 * EHLO as sending_fqdn, opportunistic STARTTLS (RFC 3207, RFC 7435),
 * AUTH PLAIN to the relay over TLS only (RFC 4954, RFC 4616), MAIL with
 * SIZE (RFC 1870), BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531),
 * ENVID and RET passed on to a server that offers DSN (RFC 3461 5.2.1),
 * RCPTs and DATA pipelined when offered (RFC 2920), and hands back one
 * reply per recipient.  MTA-STS (RFC 8461, smtpc_sts.h): under an
 * enforce policy only MX hosts the policy names are used, STARTTLS is
 * required and the certificate must verify for the MX name; otherwise
 * the target fails with 4.7.x and the message is retried.
 * Owns its bufferevent, SSL, DNS queries and MTA-STS request.
 * Loop thread only.
 *
 * Connection reuse (smtpc_cache.h).  The cache sits here, between the
 * attempts, not in the queue runner: the queue keeps handing out one
 * message per attempt (its per-recipient results, limits, retries and
 * "sent only after the 250" stay as they were), and an attempt either
 * opens a session or takes a parked one.  When the final reply to DATA
 * arrives (anything but 421), the session is parked under its next hop
 * (relay host and port and login, or the recipient domain; with the EHLO
 * name) instead of getting QUIT, at most SMTPC_CONN_MSGS_MAX
 * transactions per connection; it is closed with QUIT after
 * SMTPC_CACHE_IDLE_MS idle (2 s, as Postfix's
 * smtp_connection_cache_time_limit).  The next attempt for that next hop
 * takes it once its message is loaded: at once for a relay host, after
 * the MTA-STS lookup for an MX domain (the policy is still looked up for
 * every message; under enforce only a session verified for an MX host
 * the policy names qualifies), and again just before connecting, so a
 * session parked while DNS answered is used too.  It then goes straight
 * to MAIL FROM (RFC 5321 4.1.4: a new transaction after a completed
 * one), SRS and the size/8BITMIME/SMTPUTF8 checks being per message as
 * before.  If a reused session fails before the reply to MAIL (EOF,
 * error, or 421: the server dropped an idle connection), nothing of the
 * transaction happened: the attempt goes on with a fresh connection
 * (no reuse) and the queue never sees it.  A failure after that counts
 * as the attempt's, as on a fresh connection.  Limits: the queue runs at
 * most 10 attempts per destination and 50 in all, each with at most one
 * connection; a fresh connection first closes the parked sessions of its
 * next hop (unusable, or it would have taken one) and, while the total
 * would pass SMTPC_OPEN_MAX, the oldest parked ones, so the parked and
 * the busy connections together stay within the queue's limits.  The
 * queue's stop (shutdown) closes every parked session with QUIT.
 *
 * Test knob: POSTERN_SMTPC_TEST_PORT (1-65535) replaces port 25 for MX
 * deliveries, so a test resolver can point MX records at loopback sinks.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "b64.h"
#include "buf.h"
#include "conf.h"
#include "dnsq.h"
#include "log.h"
#include "loop.h"
#include "queue.h"
#include "smtpc.h"
#include "smtpc_cache.h"
#include "smtpc_local.h"
#include "smtpc_mx.h"
#include "smtpc_sts.h"
#include "str.h"
#include "work.h"
#include "xmalloc.h"

#define SMTPC_LINE_MAX		4096	/* RFC 5321 4.5.3.1.5: 512; be lenient */
#define SMTPC_REPLY_MAX		(64 * 1024)
#define SMTPC_TIMEOUT		300	/* RFC 5321 4.5.3.2 */
#define SMTPC_ADDRS_MAX		8
/* Connections open at once, busy and parked: queue.c's QUEUE_ACTIVE_MAX. */
#define SMTPC_OPEN_MAX		50

enum smtpc_state {
	SMTPC_S_LOAD = 0,	/* reading the message */
	SMTPC_S_DNS,
	SMTPC_S_CONNECT,
	SMTPC_S_GREET,
	SMTPC_S_EHLO,
	SMTPC_S_HELO,
	SMTPC_S_STARTTLS,
	SMTPC_S_TLS,		/* handshake */
	SMTPC_S_AUTH,
	SMTPC_S_TX,		/* MAIL, RCPT..., DATA replies */
	SMTPC_S_BODY,		/* waiting for the reply to "." */
	SMTPC_S_QUIT
};

struct smtpc {
	struct queue_attempt	*a;
	enum smtpc_state	 st;
	bool			 cancelled;	/* job still holds us */
	bool			 relay;
	int			 port;
	/* message */
	char			*body;		/* dot-stuffed, ends CRLF.CRLF */
	size_t			 blen;
	bool			 has8bit;
	char			*auth;		/* base64 PLAIN response */
	const char		*load_error;
	/* targets */
	struct smtpc_mx		 mx;
	size_t			 hi;		/* current host */
	struct sockaddr_storage	 addr[SMTPC_ADDRS_MAX];
	socklen_t		 alen[SMTPC_ADDRS_MAX];
	size_t			 naddr, ai;
	bool			 aaaa_done;
	struct dnsq_req		*dq;
	struct smtpc_sts_req	*sts_req;
	struct smtpc_sts_policy	 sts;		/* enforce policy, if any */
	bool			 sts_enforce;
	/* connection */
	struct bufferevent	*bev;
	bool			 tls;
	bool			 ehlo_tls_done;
	bool			 verified;	/* TLS verified (MTA-STS) */
	bool			 reused;	/* the session came parked */
	bool			 no_reuse;	/* a parked one failed: fresh */
	bool			 idle;		/* between transactions */
	unsigned		 nmsgs;		/* transactions done on bev */
	char			*key;		/* next hop (smtpc_cache_key) */
	bool			 pipelining, starttls, eightbit, utf8, authplain;
	bool			 dsn;		/* RFC 3461 offered */
	uint64_t		 sizemax;
	struct buf		 reply;		/* the reply being read */
	size_t			 ncmd, nreplied;	/* MAIL + RCPTs + DATA */
	size_t			 naccepted;
	bool			 mail_ok;
	int			 tx_code;	/* MAIL failure, if any */
	char			*tx_reply;
	char			*last_error;	/* why the last target failed */
	int			 last_code;
	bool			*alive;		/* smtpc_read's, while it runs */
	char			*path;		/* copies for the load job */
	char			*user;
	char			*pwfile;
	char			*helo;		/* EHLO name: sending_fqdn */
	char			*relay_host;
	int			 relay_port;
	bool			 no_tickets;	/* outbound.tls_session_tickets */
};

static SSL_CTX	*smtpc_ssl;
static size_t	 smtpc_nopen;	/* connections held by attempts */

static void	smtpc_next_target(struct smtpc *);
static void	smtpc_resolve_host(struct smtpc *);
static void	smtpc_route(struct smtpc *);

static void
smtpc_dead(struct smtpc *c)
{
	if (c->alive != NULL) {
		*c->alive = false;
		c->alive = NULL;
	}
}

/* Close the attempt's connection, if any (no QUIT). */
static void
smtpc_drop_conn(struct smtpc *c)
{
	if (c->bev == NULL)
		return;
	bufferevent_free(c->bev);
	c->bev = NULL;
	smtpc_nopen--;
}

static void
smtpc_free(struct smtpc *c)
{
	smtpc_dead(c);
	smtpc_drop_conn(c);
	free(c->key);
	free(c->path);
	free(c->user);
	free(c->pwfile);
	free(c->helo);
	free(c->relay_host);
	dnsq_cancel(&c->dq);
	smtpc_sts_cancel(&c->sts_req);
	smtpc_sts_clear(&c->sts);
	smtpc_mx_clear(&c->mx);
	buf_free(&c->reply);
	free(c->body);
	free(c->auth);
	free(c->tx_reply);
	free(c->last_error);
	free(c);
}

/* Every recipient without a final answer gets code and text. */
static void
smtpc_set_all(struct smtpc *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
smtpc_set_all(struct smtpc *c, int code, const char *fmt, ...)
{
	struct queue_attempt	*a = c->a;
	va_list			 ap;
	char			 text[1024];
	size_t			 i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (i = 0; i < a->nrcpts; i++) {
		if (a->code[i] != 0)
			continue;
		a->code[i] = code;
		free(a->reply[i]);
		a->reply[i] = xstrdup(text);
	}
}

/* Hand the idle session to the cache for the next message (the header). */
static void
smtpc_park(struct smtpc *c)
{
	struct smtpc_conn	*k = xcalloc(1, sizeof(*k));

	k->key = xstrdup(c->key);
	k->host = xstrdup(c->mx.host[c->hi]);
	k->mx = xstrdup(c->a->mx != NULL ? c->a->mx : k->host);
	k->nmsgs = c->nmsgs;
	k->tls = c->tls;
	k->verified = c->verified;
	k->pipelining = c->pipelining;
	k->eightbit = c->eightbit;
	k->utf8 = c->utf8;
	k->dsn = c->dsn;
	k->sizemax = c->sizemax;
	k->bev = c->bev;
	c->bev = NULL;
	smtpc_nopen--;
	smtpc_cache_put(k);
}

static void
smtpc_finish(struct smtpc *c)
{
	struct queue_attempt	*a = c->a;

	smtpc_set_all(c, c->last_code ? c->last_code : 451, "%s",
	    c->last_error ? c->last_error : "4.4.0 delivery failed");
	if (c->bev != NULL && c->idle && c->st != SMTPC_S_QUIT &&
	    c->hi < c->mx.n)
		smtpc_park(c);
	a->dpriv = NULL;
	smtpc_free(c);
	a->done(a);
}

/*
 * A parked session failed before the reply to MAIL (the server closed
 * it, or answered 421): no command of the transaction took effect, so
 * the attempt carries on over a fresh connection and nothing counts as
 * a failure (RFC 5321 3.8: 421 closes the channel, not the message).
 */
static void
smtpc_reuse_failed(struct smtpc *c, const char *why)
{
	size_t	 i;

	log_info("smtpc id=%s domain=%s host=%s reused connection failed "
	    "error=\"%s\" action=reconnect", c->a->id, c->a->domain,
	    c->mx.host[c->hi], why);
	smtpc_dead(c);
	smtpc_drop_conn(c);
	for (i = 0; i < c->a->nrcpts; i++) {
		c->a->code[i] = 0;
		free(c->a->reply[i]);
		c->a->reply[i] = NULL;
	}
	free(c->tx_reply);
	c->tx_reply = NULL;
	c->reused = false;
	c->no_reuse = true;
	c->idle = false;
	c->tls = false;
	c->verified = false;
	c->ehlo_tls_done = false;
	smtpc_route(c);
}

/* Remember why this target failed; the next one is tried. */
static void
smtpc_target_failed(struct smtpc *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
smtpc_target_failed(struct smtpc *c, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	 text[1024];
	size_t	 i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (c->reused && c->st == SMTPC_S_TX && c->nreplied == 0) {
		smtpc_reuse_failed(c, text);
		return;
	}
	log_info("smtpc id=%s domain=%s host=%s failed code=%d error=\"%s\"",
	    c->a->id, c->a->domain, c->hi < c->mx.n ? c->mx.host[c->hi] : "-",
	    code, text);
	free(c->last_error);
	c->last_error = xstrdup(text);
	c->last_code = code;
	smtpc_dead(c);
	smtpc_drop_conn(c);
	c->idle = false;
	/* Results of a broken transaction do not count: the next try redoes it. */
	for (i = 0; i < c->a->nrcpts; i++) {
		c->a->code[i] = 0;
		free(c->a->reply[i]);
		c->a->reply[i] = NULL;
	}
	c->tls = false;
	c->ehlo_tls_done = false;
	c->ai++;
	smtpc_next_target(c);
}

/* ---- commands --------------------------------------------------------- */

static void
smtpc_send(struct smtpc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
smtpc_send(struct smtpc *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(c->bev), "\r\n", 2);
}

static const char *
smtpc_helo_name(const struct smtpc *c)
{
	return c->helo;
}

static bool
smtpc_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static bool
smtpc_needs_utf8(const struct smtpc *c)
{
	size_t	 i;

	if ((c->a->flags & QUEUE_F_SMTPUTF8) || !smtpc_ascii(c->a->sender))
		return true;
	for (i = 0; i < c->a->nrcpts; i++)
		if (!smtpc_ascii(c->a->rcpts[i]))
			return true;
	return false;
}

/* RFC 3461 4: xtext ("+", "=" and anything outside 33..126 as +HH). */
static void
smtpc_xtext(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '+' || *s == '=' || (unsigned char)*s < 33 ||
		    (unsigned char)*s > 126)
			buf_printf(b, "+%02X", (unsigned char)*s);
		else
			buf_putc(b, *s);
	}
}

/* RFC 3461 5.2.1: a relay passes RET and ENVID on when DSN is offered. */
static char *
smtpc_dsn_params(const struct smtpc *c)
{
	struct buf	 b = BUF_INIT;
	size_t		 len;

	if (c->dsn && c->a->ret == QUEUE_RET_FULL)
		buf_puts(&b, " RET=FULL");
	else if (c->dsn && c->a->ret == QUEUE_RET_HDRS)
		buf_puts(&b, " RET=HDRS");
	if (c->dsn && c->a->envid != NULL) {
		buf_puts(&b, " ENVID=");
		smtpc_xtext(&b, c->a->envid);
	}
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b, &len);
}

/* After EHLO (and TLS, AUTH): the transaction, pipelined if offered. */
static void
smtpc_tx_begin(struct smtpc *c)
{
	struct queue_attempt	*a = c->a;
	bool			 utf8 = smtpc_needs_utf8(c);
	char			*dsn;
	size_t			 i;

	/* Nothing outstanding: a refusal below leaves the session reusable. */
	c->idle = true;
	/* RFC 1870 6: do not send what the server announced it refuses. */
	if (c->sizemax > 0 && c->blen > c->sizemax) {
		smtpc_set_all(c, 552, "5.3.4 message size %zu exceeds the "
		    "limit of %s (%" PRIu64 ")", c->blen,
		    c->mx.host[c->hi], c->sizemax);
		smtpc_finish(c);
		return;
	}
	/* RFC 6531 3.4: no SMTPUTF8 extension, no internationalised mail. */
	if (utf8 && !c->utf8) {
		smtpc_set_all(c, 553, "5.6.7 message needs SMTPUTF8 and %s "
		    "does not offer it (RFC 6531)", c->mx.host[c->hi]);
		smtpc_finish(c);
		return;
	}
	/* RFC 6152 3: 8-bit data only to a server that offers 8BITMIME. */
	if (c->has8bit && !c->eightbit) {
		smtpc_set_all(c, 554, "5.6.3 message has 8-bit content and %s "
		    "does not offer 8BITMIME (RFC 6152)", c->mx.host[c->hi]);
		smtpc_finish(c);
		return;
	}
	c->st = SMTPC_S_TX;
	c->ncmd = 0;
	c->nreplied = 0;
	c->naccepted = 0;
	c->mail_ok = false;
	c->idle = false;
	dsn = smtpc_dsn_params(c);
	smtpc_send(c, "MAIL FROM:<%s>%s%s%s SIZE=%zu", a->sender,
	    c->has8bit ? " BODY=8BITMIME" : "", utf8 ? " SMTPUTF8" : "",
	    dsn, c->blen);
	free(dsn);
	c->ncmd = 1;
	if (!c->pipelining)
		return;
	for (i = 0; i < a->nrcpts; i++)
		smtpc_send(c, "RCPT TO:<%s>", a->rcpts[i]);
	smtpc_send(c, "DATA");
	c->ncmd = a->nrcpts + 2;
}

static void
smtpc_quit(struct smtpc *c)
{
	c->idle = false;
	c->st = SMTPC_S_QUIT;
	smtpc_send(c, "QUIT");
}

/* One complete reply of the transaction phase (MAIL, RCPT i, DATA). */
static void
smtpc_tx_reply(struct smtpc *c, int code, const char *text)
{
	struct queue_attempt	*a = c->a;
	size_t			 k = c->nreplied++, i;

	if (k == 0) {
		/* A parked session the server has given up meanwhile. */
		if (code == 421 && c->reused) {
			smtpc_reuse_failed(c, text);
			return;
		}
		c->mail_ok = code >= 200 && code < 300;
		if (!c->mail_ok) {
			/* The sender was refused: the same for everyone. */
			c->tx_code = code;
			c->tx_reply = xstrdup(text);
			if (!c->pipelining) {
				smtpc_set_all(c, code, "%s", text);
				smtpc_quit(c);
			}
			return;
		}
		if (!c->pipelining) {
			smtpc_send(c, "RCPT TO:<%s>", a->rcpts[0]);
			c->ncmd++;
		}
		return;
	}
	if (k <= a->nrcpts) {
		i = k - 1;
		if (c->mail_ok) {
			if (code >= 200 && code < 300)
				c->naccepted++;
			else {
				a->code[i] = code;
				a->reply[i] = xstrdup(text);
			}
		}
		if (c->pipelining)
			return;
		if (i + 1 < a->nrcpts) {
			smtpc_send(c, "RCPT TO:<%s>", a->rcpts[i + 1]);
			c->ncmd++;
		} else if (c->naccepted > 0) {
			smtpc_send(c, "DATA");
			c->ncmd++;
		} else
			smtpc_quit(c);
		return;
	}
	/* DATA */
	if (code == 354 && c->mail_ok && c->naccepted > 0) {
		evbuffer_add(bufferevent_get_output(c->bev), c->body, c->blen);
		c->st = SMTPC_S_BODY;
		return;
	}
	if (code == 354)	/* RFC 2920 3.1: nobody to send to */
		evbuffer_add(bufferevent_get_output(c->bev), ".\r\n", 3);
	if (!c->mail_ok)
		smtpc_set_all(c, c->tx_code, "%s", c->tx_reply);
	else if (code != 354)
		smtpc_set_all(c, code, "%s", text);
	smtpc_quit(c);
}

/* An EHLO reply: its keywords (RFC 5321 4.1.1.1). */
static void
smtpc_ehlo_caps(struct smtpc *c, const char *text)
{
	char	*copy = xstrdup(text), *p = copy, *line, *kw;
	uint64_t v;

	c->pipelining = c->starttls = c->eightbit = c->utf8 = false;
	c->authplain = c->dsn = false;
	c->sizemax = 0;
	(void)strsep(&p, "\n");			/* the greeting line */
	while ((line = strsep(&p, "\n")) != NULL) {
		kw = strsep(&line, " ");
		if (strcasecmp(kw, "PIPELINING") == 0)
			c->pipelining = true;
		else if (strcasecmp(kw, "STARTTLS") == 0)
			c->starttls = true;
		else if (strcasecmp(kw, "8BITMIME") == 0)
			c->eightbit = true;
		else if (strcasecmp(kw, "SMTPUTF8") == 0)
			c->utf8 = true;
		else if (strcasecmp(kw, "DSN") == 0)
			c->dsn = true;
		else if (strcasecmp(kw, "SIZE") == 0 && line != NULL &&
		    str_to_u64(line, UINT64_MAX, &v) == 0)
			c->sizemax = v;
		else if (strcasecmp(kw, "AUTH") == 0 && line != NULL) {
			while ((kw = strsep(&line, " ")) != NULL)
				if (strcasecmp(kw, "PLAIN") == 0)
					c->authplain = true;
		}
	}
	free(copy);
}

static void	smtpc_read(struct bufferevent *, void *);
static void	smtpc_event(struct bufferevent *, short, void *);

static void
smtpc_starttls(struct smtpc *c)
{
	struct bufferevent	*tb;
	SSL			*ssl;

	if ((ssl = SSL_new(c->sts_enforce ? smtpc_sts_verify_ctx() :
	    smtpc_ssl)) == NULL) {
		smtpc_target_failed(c, 451, "4.7.0 SSL_new failed");
		return;
	}
	/* RFC 8461 4.2: a valid certificate for the MX host name. */
	if (c->sts_enforce) {
		SSL_set1_host(ssl, c->mx.host[c->hi]);
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	}
	/*
	 * RFC 5077: no session_ticket extension in the ClientHello, for
	 * receivers that mishandle it.  Per SSL, not on the shared
	 * contexts, so that a reload takes effect.
	 */
	if (c->no_tickets)
		SSL_set_options(ssl, SSL_OP_NO_TICKET);
	/* RFC 6066 3: SNI is the host name we connect to. */
	if (c->hi < c->mx.n && !smtpc_mx_is_ip(c->mx.host[c->hi]))
		SSL_set_tlsext_host_name(ssl, c->mx.host[c->hi]);
	tb = bufferevent_openssl_filter_new(loop_base(), c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		smtpc_target_failed(c, 451, "4.7.0 TLS setup failed");
		return;
	}
	c->bev = tb;
	c->st = SMTPC_S_TLS;
	smtpc_dead(c);	/* RFC 3207 5: nothing read before TLS counts */
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	bufferevent_setcb(tb, smtpc_read, NULL, smtpc_event, c);
	bufferevent_set_timeouts(tb, &(struct timeval){ SMTPC_TIMEOUT, 0 },
	    &(struct timeval){ SMTPC_TIMEOUT, 0 });
	bufferevent_enable(tb, EV_READ | EV_WRITE);
}

/* After the EHLO that counts (plain, or again inside TLS). */
static void
smtpc_after_ehlo(struct smtpc *c)
{
	/* RFC 8461 5: an enforce policy makes STARTTLS mandatory. */
	if (c->sts_enforce && !c->tls && !c->starttls) {
		smtpc_target_failed(c, 451, "4.7.4 %s offers no STARTTLS "
		    "(MTA-STS policy enforce)", c->mx.host[c->hi]);
		return;
	}
	/* RFC 3207: opportunistic, unless the relay needs our password. */
	if (c->starttls && !c->tls && smtpc_ssl != NULL) {
		c->st = SMTPC_S_STARTTLS;
		smtpc_send(c, "STARTTLS");
		return;
	}
	if (c->relay && c->auth != NULL) {
		if (!c->tls) {
			smtpc_target_failed(c, 451, "4.7.10 relay %s offers no "
			    "STARTTLS: password not sent", c->mx.host[c->hi]);
			return;
		}
		if (!c->authplain) {
			smtpc_target_failed(c, 451, "4.7.10 relay %s does not "
			    "offer AUTH PLAIN", c->mx.host[c->hi]);
			return;
		}
		c->st = SMTPC_S_AUTH;
		smtpc_send(c, "AUTH PLAIN %s", c->auth);
		return;
	}
	smtpc_tx_begin(c);
}

static void
smtpc_reply(struct smtpc *c, int code, const char *text)
{
	char	 first[1024];
	size_t	 n;

	/* The first line is what we keep for logs and reports. */
	n = strcspn(text, "\n");
	snprintf(first, sizeof(first), "%d %.*s", code, (int)(n < 1000 ? n :
	    1000), text);
	switch (c->st) {
	case SMTPC_S_GREET:
		if (code != 220) {
			smtpc_target_failed(c, code >= 500 ? 451 : code,
			    "%s", first);
			return;
		}
		c->st = SMTPC_S_EHLO;
		smtpc_send(c, "EHLO %s", smtpc_helo_name(c));
		break;
	case SMTPC_S_EHLO:
		if (code != 250) {
			c->st = SMTPC_S_HELO;
			smtpc_send(c, "HELO %s", smtpc_helo_name(c));
			break;
		}
		smtpc_ehlo_caps(c, text);
		smtpc_after_ehlo(c);
		break;
	case SMTPC_S_HELO:
		if (code != 250) {
			smtpc_target_failed(c, 451, "%s", first);
			return;
		}
		c->pipelining = c->starttls = c->eightbit = c->utf8 = false;
		c->dsn = false;
		smtpc_after_ehlo(c);
		break;
	case SMTPC_S_STARTTLS:
		if (code != 220 && c->sts_enforce) {
			smtpc_target_failed(c, 451, "4.7.4 STARTTLS refused "
			    "(MTA-STS policy enforce): %s", first);
			return;
		}
		if (code != 220) {
			/* Opportunistic: carry on in the clear. */
			c->starttls = false;
			smtpc_after_ehlo(c);
			break;
		}
		smtpc_starttls(c);
		break;
	case SMTPC_S_AUTH:
		if (code != 235) {
			smtpc_target_failed(c, 451, "4.7.0 relay refused our "
			    "login: %s", first);
			return;
		}
		smtpc_tx_begin(c);
		break;
	case SMTPC_S_TX:
		smtpc_tx_reply(c, code, first);
		break;
	case SMTPC_S_BODY:
		/* RFC 5321 4.2.5: one reply for every accepted recipient. */
		smtpc_set_all(c, code, "%s", first);
		free(c->last_error);
		c->last_error = NULL;
		/* The transaction is complete: park the session (header). */
		if (++c->nmsgs < SMTPC_CONN_MSGS_MAX && code != 421) {
			c->idle = true;
			smtpc_finish(c);
			break;
		}
		smtpc_quit(c);
		break;
	case SMTPC_S_QUIT:
		smtpc_finish(c);
		break;
	default:
		break;
	}
}

static void
smtpc_read(struct bufferevent *bev, void *arg)
{
	struct smtpc	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line;
	size_t		 len;
	int		 code;
	char		*text;
	bool		 alive = true;

	c->alive = &alive;
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (len < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2]) ||
		    (len > 3 && line[3] != ' ' && line[3] != '-')) {
			free(line);
			smtpc_target_failed(c, 451, "4.5.0 bad reply from %s",
			    c->mx.host[c->hi]);
			return;
		}
		if (c->reply.len > 0)
			buf_putc(&c->reply, '\n');
		if (buf_append(&c->reply, len > 4 ? line + 4 : "",
		    len > 4 ? len - 4 : 0) == -1) {
			free(line);
			smtpc_target_failed(c, 451, "4.5.0 reply too long");
			return;
		}
		code = atoi(line);
		if (len > 3 && line[3] == '-') {
			free(line);
			continue;
		}
		free(line);
		text = xstrdup(c->reply.data != NULL ? c->reply.data : "");
		buf_reset(&c->reply);
		smtpc_reply(c, code, text);
		free(text);
		/* smtpc_reply may have freed c or replaced the bufferevent. */
		if (!alive)
			return;
	}
	c->alive = NULL;
	if (evbuffer_get_length(in) > SMTPC_LINE_MAX)
		smtpc_target_failed(c, 451, "4.5.0 reply line too long");
}

static void
smtpc_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpc	*c = arg;
	unsigned long	 e;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->st == SMTPC_S_TLS) {
			c->tls = true;
			/* Under enforce, SSL_VERIFY_PEER: verified. */
			c->verified = c->sts_enforce;
			log_info("smtpc id=%s host=%s tls=%s cipher=%s "
			    "verified=%s", c->a->id, c->mx.host[c->hi],
			    SSL_get_version(bufferevent_openssl_get_ssl(bev)),
			    SSL_get_cipher(bufferevent_openssl_get_ssl(bev)),
			    c->sts_enforce ? "mta-sts" : "no");
			c->st = SMTPC_S_EHLO;
			smtpc_send(c, "EHLO %s", smtpc_helo_name(c));
			return;
		}
		c->st = SMTPC_S_GREET;
		return;
	}
	if (c->st == SMTPC_S_QUIT) {
		smtpc_finish(c);
		return;
	}
	if (c->st == SMTPC_S_TLS && (e = bufferevent_get_openssl_error(bev)))
		smtpc_target_failed(c, 451, "4.7.5 TLS handshake with %s "
		    "failed: %s", c->mx.host[c->hi], ERR_reason_error_string(e));
	else
		smtpc_target_failed(c, 451, "4.4.2 %s: %s", c->mx.host[c->hi],
		    what & BEV_EVENT_TIMEOUT ? "timeout" :
		    what & BEV_EVENT_EOF ? "connection closed" :
		    "connection failed");
}

/*
 * Take a parked session of this next hop that the MTA-STS policy allows
 * and start the transaction on it; false if there is none.  When true,
 * c may be gone already (smtpc_tx_begin can finish the attempt).
 */
static bool
smtpc_reuse(struct smtpc *c)
{
	struct smtpc_conn	*k;

	if (c->no_reuse)
		return false;
	while ((k = smtpc_cache_take(c->key, c->sts_enforce ? &c->sts :
	    NULL)) != NULL) {
		/* Bytes not yet seen by the cache's callback: a 421. */
		if (evbuffer_get_length(bufferevent_get_input(k->bev)) == 0)
			break;
		smtpc_conn_free(&k);
	}
	if (k == NULL)
		return false;
	smtpc_mx_set_one(&c->mx, k->host);
	c->hi = 0;
	c->naddr = c->ai = 0;
	c->bev = k->bev;
	k->bev = NULL;
	smtpc_nopen++;
	c->reused = true;
	c->nmsgs = k->nmsgs;
	c->tls = k->tls;
	c->verified = k->verified;
	c->pipelining = k->pipelining;
	c->eightbit = k->eightbit;
	c->utf8 = k->utf8;
	c->dsn = k->dsn;
	c->sizemax = k->sizemax;
	free(c->a->mx);
	c->a->mx = xstrdup(k->mx);
	log_info("smtpc id=%s domain=%s host=%s reused messages=%u tls=%s",
	    c->a->id, c->a->domain, k->host, k->nmsgs, k->tls ? "yes" : "no");
	smtpc_conn_free(&k);
	bufferevent_setcb(c->bev, smtpc_read, NULL, smtpc_event, c);
	bufferevent_set_timeouts(c->bev, &(struct timeval){ SMTPC_TIMEOUT, 0 },
	    &(struct timeval){ SMTPC_TIMEOUT, 0 });
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	smtpc_tx_begin(c);
	return true;
}

static void
smtpc_connect(struct smtpc *c)
{
	char	 ip[INET6_ADDRSTRLEN];

	/* One parked while DNS answered serves as well. */
	if (smtpc_reuse(c))
		return;
	/*
	 * Any still parked for this next hop is unusable (policy) or suspect
	 * (no_reuse): close them, and the oldest others while the total
	 * would pass the limit (the header: connections stay within the
	 * queue's limits).
	 */
	smtpc_cache_drop(c->key);
	while (smtpc_nopen + smtpc_cache_count() >= SMTPC_OPEN_MAX &&
	    smtpc_cache_close_oldest())
		;
	c->st = SMTPC_S_CONNECT;
	c->reused = false;
	c->nmsgs = 0;
	c->verified = false;
	c->bev = bufferevent_socket_new(loop_base(), -1, BEV_OPT_CLOSE_ON_FREE);
	smtpc_nopen++;
	bufferevent_setcb(c->bev, smtpc_read, NULL, smtpc_event, c);
	bufferevent_set_timeouts(c->bev, &(struct timeval){ SMTPC_TIMEOUT, 0 },
	    &(struct timeval){ SMTPC_TIMEOUT, 0 });
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->addr[c->ai].ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&c->addr[c->ai])->
		    sin_addr, ip, sizeof(ip));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&c->addr[c->ai])->
		    sin6_addr, ip, sizeof(ip));
	log_info("smtpc id=%s domain=%s host=%s ip=%s port=%d connecting",
	    c->a->id, c->a->domain, c->mx.host[c->hi], ip, c->port);
	free(c->a->mx);
	c->a->mx = xasprintf("%s[%s]", c->mx.host[c->hi], ip);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->addr[
	    c->ai], (int)c->alen[c->ai]) == -1)
		smtpc_target_failed(c, 451, "4.4.1 cannot connect to %s",
		    c->mx.host[c->hi]);
}

/* The next address of this host, else the next host, else give up. */
static void
smtpc_next_target(struct smtpc *c)
{
	if (c->ai < c->naddr) {
		smtpc_connect(c);
		return;
	}
	c->hi++;
	if (c->hi < c->mx.n) {
		smtpc_resolve_host(c);
		return;
	}
	smtpc_finish(c);
}

static void
smtpc_add_addr(struct smtpc *c, int af, const void *ip)
{
	struct sockaddr_in	*s4;
	struct sockaddr_in6	*s6;

	if (c->naddr >= SMTPC_ADDRS_MAX)
		return;
	memset(&c->addr[c->naddr], 0, sizeof(c->addr[c->naddr]));
	if (af == AF_INET) {
		s4 = (struct sockaddr_in *)&c->addr[c->naddr];
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)c->port);
		memcpy(&s4->sin_addr, ip, sizeof(s4->sin_addr));
		c->alen[c->naddr++] = sizeof(*s4);
	} else {
		s6 = (struct sockaddr_in6 *)&c->addr[c->naddr];
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)c->port);
		memcpy(&s6->sin6_addr, ip, sizeof(s6->sin6_addr));
		c->alen[c->naddr++] = sizeof(*s6);
	}
}

static void
smtpc_addr_answer(void *arg, const struct dnsq_result *r)
{
	struct smtpc	*c = arg;
	size_t		 i;

	c->dq = NULL;
	if (r->rcode == DNSQ_OK)
		for (i = 0; i < r->n; i++)
			smtpc_add_addr(c, r->type == DNSQ_T_A ? AF_INET :
			    AF_INET6, r->type == DNSQ_T_A ?
			    (const void *)&r->rr[i].a :
			    (const void *)&r->rr[i].aaaa);
	if (r->type == DNSQ_T_A) {
		c->dq = dnsq_query(loop_shared()->dns, c->mx.host[c->hi],
		    DNSQ_T_AAAA, smtpc_addr_answer, c);
		return;
	}
	if (c->naddr == 0) {
		free(c->last_error);
		c->last_error = xasprintf("4.4.4 no address for %s",
		    c->mx.host[c->hi]);
		c->last_code = 451;
	}
	c->ai = 0;
	smtpc_next_target(c);
}

static void
smtpc_resolve_host(struct smtpc *c)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	const char	*h = c->mx.host[c->hi];

	c->naddr = 0;
	c->ai = 0;
	if (inet_pton(AF_INET, h, &a4) == 1)
		smtpc_add_addr(c, AF_INET, &a4);
	else if (inet_pton(AF_INET6, h, &a6) == 1)
		smtpc_add_addr(c, AF_INET6, &a6);
	else {
		c->st = SMTPC_S_DNS;
		c->dq = dnsq_query(loop_shared()->dns, h, DNSQ_T_A,
		    smtpc_addr_answer, c);
		return;
	}
	smtpc_next_target(c);
}

static void
smtpc_mx_answer(void *arg, const struct dnsq_result *r)
{
	struct smtpc	*c = arg;
	int		 code;
	const char	*why = NULL;
	size_t		 i, j;

	c->dq = NULL;
	code = smtpc_mx_from_answer(&c->mx, c->a->domain, r, &why);
	if (code != 0) {
		smtpc_set_all(c, code, "%s", why);
		smtpc_finish(c);
		return;
	}
	/* RFC 8461 4.1: under enforce, only the MX hosts the policy names. */
	if (c->sts_enforce) {
		for (i = j = 0; i < c->mx.n; i++) {
			if (smtpc_sts_mx_ok(&c->sts, c->mx.host[i])) {
				c->mx.host[j++] = c->mx.host[i];
				continue;
			}
			log_info("smtpc id=%s domain=%s host=%s skipped "
			    "reason=mta-sts-mx", c->a->id, c->a->domain,
			    c->mx.host[i]);
			free(c->mx.host[i]);
		}
		c->mx.n = j;
		if (c->mx.n == 0) {
			smtpc_set_all(c, 451, "4.7.5 no MX host of %s matches "
			    "its MTA-STS policy (RFC 8461 4.1)", c->a->domain);
			smtpc_finish(c);
			return;
		}
	}
	c->hi = 0;
	smtpc_resolve_host(c);
}

/* From the next hop to a connection: the relay host, or the MX records. */
static void
smtpc_route(struct smtpc *c)
{
	if (c->relay) {
		smtpc_mx_set_one(&c->mx, c->relay_host);
		c->port = c->relay_port;
		c->hi = 0;
		smtpc_resolve_host(c);
		return;
	}
	c->st = SMTPC_S_DNS;
	c->dq = dnsq_query(loop_shared()->dns, c->a->domain, DNSQ_T_MX,
	    smtpc_mx_answer, c);
}

/* The MTA-STS policy (or none) is known: a parked session, or the MX. */
static void
smtpc_sts_answer(void *arg, const struct smtpc_sts_policy *p)
{
	struct smtpc	*c = arg;

	c->sts_req = NULL;
	if (p != NULL && p->mode == SMTPC_STS_ENFORCE) {
		smtpc_sts_copy(&c->sts, p);
		c->sts_enforce = true;
	}
	if (p != NULL)
		log_info("smtpc id=%s domain=%s mta-sts=%s", c->a->id,
		    c->a->domain, p->mode == SMTPC_STS_ENFORCE ? "enforce" :
		    p->mode == SMTPC_STS_TESTING ? "testing" : "none");
	if (smtpc_reuse(c))
		return;
	smtpc_route(c);
}

/* ---- loading the message (worker) --------------------------------------- */

static void
smtpc_load_run(void *arg)
{
	struct smtpc		*c = arg;
	struct buf		 b = BUF_INIT, pw = BUF_INIT, enc = BUF_INIT;
	char			 chunk[65536], *nl;
	ssize_t			 n;
	size_t			 i, len;
	bool			 bol = true;
	int			 fd;

	if ((fd = open(c->path, O_RDONLY | O_CLOEXEC)) == -1) {
		c->load_error = "cannot open the queue file";
		return;
	}
	/* RFC 5321 4.5.2: a line starting with "." gets one more. */
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		for (i = 0; i < (size_t)n; i++) {
			if (bol && chunk[i] == '.')
				buf_putc(&b, '.');
			if ((unsigned char)chunk[i] >= 0x80)
				c->has8bit = true;
			buf_putc(&b, chunk[i]);
			bol = chunk[i] == '\n';
		}
	}
	close(fd);
	if (!bol)
		buf_puts(&b, "\r\n");
	buf_puts(&b, ".\r\n");
	c->body = buf_steal(&b, &c->blen);
	if (c->user == NULL)
		return;
	/* RFC 4616 2: authzid NUL authcid NUL passwd. */
	if (c->pwfile == NULL || (fd = open(c->pwfile, O_RDONLY | O_CLOEXEC)) == -1) {
		c->load_error = "cannot read relay.password_file";
		return;
	}
	n = read(fd, chunk, sizeof(chunk) - 1);
	close(fd);
	if (n < 0) {
		c->load_error = "cannot read relay.password_file";
		return;
	}
	chunk[n] = '\0';
	if ((nl = strpbrk(chunk, "\r\n")) != NULL)
		*nl = '\0';
	buf_putc(&pw, '\0');
	buf_puts(&pw, c->user);
	buf_putc(&pw, '\0');
	buf_puts(&pw, chunk);
	explicit_bzero(chunk, sizeof(chunk));
	b64_encode(pw.data, pw.len, &enc);
	explicit_bzero(pw.data, pw.len);
	buf_free(&pw);
	c->auth = buf_steal(&enc, &len);
}

static void
smtpc_load_done(void *arg)
{
	struct smtpc		*c = arg;

	if (c->cancelled) {
		smtpc_free(c);
		return;
	}
	if (c->load_error != NULL) {
		c->last_error = xasprintf("4.3.0 %s", c->load_error);
		c->last_code = 451;
		smtpc_finish(c);
		return;
	}
	if (c->relay) {
		if (!smtpc_reuse(c))
			smtpc_route(c);
		return;
	}
	c->st = SMTPC_S_DNS;
	c->sts_req = smtpc_sts_lookup(c->a->domain, smtpc_sts_answer, c);
}

/* ---- the deliverer ------------------------------------------------------ */

static void
smtpc_ssl_init(void)
{
	if (smtpc_ssl != NULL)
		return;
	if ((smtpc_ssl = SSL_CTX_new(TLS_client_method())) == NULL)
		return;
	SSL_CTX_set_min_proto_version(smtpc_ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(smtpc_ssl, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	/*
	 * Opportunistic TLS (RFC 7435): encrypt whenever offered, without
	 * authenticating the peer; MTA-STS/DANE would turn this on per
	 * domain.  The CA store is loaded for that later use.
	 */
	SSL_CTX_set_default_verify_paths(smtpc_ssl);
	SSL_CTX_set_verify(smtpc_ssl, SSL_VERIFY_NONE, NULL);
}

static void
smtpc_start(struct queue_attempt *a)
{
	struct smtpc	*c;
	const char	*s;
	uint64_t	 v;

	/* Our own domains (bounces to local senders): the store. */
	if (conf_is_local_domain(a->conf, a->domain)) {
		smtpc_local_start(a);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	smtpc_ssl_init();
	c->a = a;
	a->dpriv = c;
	buf_init(&c->reply, SMTPC_REPLY_MAX);
	/* A reload may free a->conf meanwhile: copy what we use. */
	c->relay = a->conf->relay.host != NULL &&
	    a->conf->relay.host[0] != '\0';
	if (c->relay) {
		c->relay_host = xstrdup(a->conf->relay.host);
		c->relay_port = a->conf->relay.port;
	}
	c->no_tickets = !a->conf->outbound.tls_session_tickets;
	c->helo = xstrdup(a->conf->sending_fqdn != NULL &&
	    a->conf->sending_fqdn[0] != '\0' ? a->conf->sending_fqdn :
	    a->conf->fqdn);
	c->port = 25;
	if ((s = getenv("POSTERN_SMTPC_TEST_PORT")) != NULL &&
	    str_to_u64(s, 65535, &v) == 0 && v > 0)
		c->port = (int)v;
	c->path = xstrdup(a->path);
	if (c->relay && a->conf->relay.username != NULL &&
	    a->conf->relay.username[0] != '\0') {
		c->user = xstrdup(a->conf->relay.username);
		if (a->conf->relay.password_file != NULL)
			c->pwfile = xstrdup(a->conf->relay.password_file);
	}
	c->key = c->relay ? smtpc_cache_key(true, c->relay_host,
	    c->relay_port, c->user, c->helo) : smtpc_cache_key(false,
	    a->domain, c->port, NULL, c->helo);
	c->st = SMTPC_S_LOAD;
	work_submit(smtpc_load_run, smtpc_load_done, c);
}

static void
smtpc_cancel(struct queue_attempt *a)
{
	struct smtpc	*c = a->dpriv;

	if (a->local) {
		smtpc_local_cancel(a);
		return;
	}
	if (c == NULL)
		return;
	a->dpriv = NULL;
	if (c->st == SMTPC_S_LOAD) {
		c->cancelled = true;	/* the job frees it */
		return;
	}
	smtpc_free(c);
}

/* The queue stops (shutdown): QUIT to every parked session. */
static void
smtpc_stop(void)
{
	smtpc_cache_close_all();
}

static const struct queue_deliverer smtpc_d = {
	smtpc_start,
	smtpc_cancel,
	smtpc_stop
};

const struct queue_deliverer *
smtpc_deliverer(void)
{
	return &smtpc_d;
}
