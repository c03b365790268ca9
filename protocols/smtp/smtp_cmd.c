/*
 * smtp_cmd.c - the SMTP server verbs (RFC 5321 4.1.1 and the extensions
 * we offer: PIPELINING RFC 2920, SIZE RFC 1870, 8BITMIME RFC 6152,
 * SMTPUTF8 RFC 6531, ENHANCEDSTATUSCODES RFC 2034/3463, CHUNKING RFC
 * 3030, DSN RFC 3461, STARTTLS RFC 3207, AUTH RFC 4954).  Dispatch goes
 * through one table; each handler answers with an enhanced status code.
 *
 * Recipient policy lives here: local recipients are routed at RCPT time
 * (unknown users get 550 5.1.1 before DATA); relaying needs an
 * authenticated submission session, and even then address literals,
 * percent hacks and quoted local parts hiding an '@' are refused.
 *
 * Owns nothing beyond the session's transaction it fills.  [loop]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "conn.h"
#include "filter.h"
#include "log.h"
#include "loop.h"
#include "route.h"
#include "smtp_data.h"
#include "smtp_parse.h"
#include "smtp_private.h"
#include "srs.h"
#include "xmalloc.h"

typedef void smtp_cmd_fn(struct smtp_session *, struct smtp_cmd *);

static void
smtp_cmd_helo(struct smtp_session *s, struct smtp_cmd *cmd)
{
	bool	 ehlo = cmd->verb == SMTP_CMD_EHLO;

	/* RFC 5321 4.1.4: EHLO/HELO reset the transaction like RSET. */
	smtp_tx_free(s);
	memcpy(s->helo, cmd->helo, sizeof(s->helo));
	s->esmtp = ehlo;
	if (!ehlo) {
		smtp_reply(s, 250, "2.0.0", "%s", s->conf->fqdn);
		return;
	}
	conn_printf(s->c, "250-%s Hello %s\r\n", s->conf->fqdn, s->helo);
	conn_puts(s->c, "250-PIPELINING\r\n");
	conn_printf(s->c, "250-SIZE %" PRIu64 "\r\n", s->conf->message_size_limit);
	conn_puts(s->c, "250-8BITMIME\r\n250-SMTPUTF8\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n");
	if (!conn_tls(s->c))
		conn_puts(s->c, "250-STARTTLS\r\n");
	if (smtp_auth_offered(s))
		conn_puts(s->c, "250-AUTH PLAIN LOGIN\r\n");
	conn_puts(s->c, "250 DSN\r\n");
}

static void
smtp_cmd_mail(struct smtp_session *s, struct smtp_cmd *cmd)
{
	const char	*text;
	struct smtp_tx	*tx;
	char		 from[SMTP_ADDR_FMT_SIZE];

	if (s->helo[0] == '\0') {
		smtp_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return;
	}
	if (s->tx != NULL) {
		smtp_reply(s, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	/* RFC 6409 4.3 (and 8314): submission needs a login. */
	if (smtp_is_submission(s) && s->user == NULL) {
		smtp_reply(s, 530, "5.7.0", "Authentication required");
		return;
	}
	/* RFC 1870 6: a declared size over the limit fails at once. */
	if ((cmd->params & SMTP_PARAM_SIZE) &&
	    s->conf->message_size_limit > 0 &&
	    cmd->size > s->conf->message_size_limit) {
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed "
		    "maximum message size");
		return;
	}
	/* We do not offer BINARYMIME (RFC 3030 3). */
	if (cmd->body == SMTP_BODY_BINARYMIME) {
		smtp_reply(s, 555, "5.5.4", "BODY=BINARYMIME not supported");
		return;
	}
	if (smtp_addr_format(&cmd->addr, from, sizeof(from)) == -1) {
		smtp_reply(s, 501, "5.1.7", "Bad sender address syntax");
		return;
	}
	if (s->user == NULL &&
	    route_sender_rejected(s->route, from, &text)) {
		log_info("%016" PRIx64 " smtp reject_sender from=<%s>", s->id,
		    from);
		smtp_reply(s, 554, "5.7.1", "<%s>: %s", from, text != NULL ?
		    text : "Sender address rejected: Access denied");
		return;
	}
	/* RFC 6409 6.1: the MSA may refuse senders the login does not own. */
	if (s->user != NULL && !route_may_send_as(s->route, s->user, from)) {
		log_info("%016" PRIx64 " smtp sender not owned user=%s "
		    "from=<%s>", s->id, s->user, from);
		smtp_reply(s, 553, "5.7.1", "<%s>: Sender address rejected: "
		    "not owned by user %s", from, s->user);
		return;
	}
	tx = xcalloc(1, sizeof(*tx));
	snprintf(tx->id, sizeof(tx->id), "%010" PRIX64 "%06X",
	    (uint64_t)(s->id & 0xffffffffffULL),
	    (++s->ntx * 2654435761u) & 0xffffff);
	memcpy(tx->from, from, sizeof(tx->from));
	tx->smtputf8 = cmd->smtputf8;
	tx->body = cmd->body;
	/* RFC 3461 4.3, 4.4: kept for the queue and its bounces. */
	tx->ret = cmd->ret;
	memcpy(tx->envid, cmd->envid, sizeof(tx->envid));
	buf_init(&tx->out, 0);
	buf_init(&tx->hdr, 0);
	/* SPF starts now; DKIM and DMARC at the end of the message. */
	tx->filter = filter_new(conn_gen(s->c), smtp_is_submission(s) ?
	    FILTER_SUBMISSION : FILTER_INBOUND, s->id, conn_peer_sa(s->c),
	    s->helo, from);
	s->tx = tx;
	smtp_reply(s, 250, "2.1.0", "Ok");
}

/*
 * Forms that only ever served relaying tricks: "user%host@us",
 * "host!user@us" (RFC 5321 3.6.1 leaves percent hacks to local policy),
 * a quoted local part that hides an address ("\"u@other\"@us"), and
 * domain literals.  We never route them.
 */
static bool
smtp_rcpt_tricky(const struct smtp_addr *a)
{
	if (a->flags & (SMTP_ADDR_HAS_PERCENT | SMTP_ADDR_IS_LITERAL))
		return true;
	if ((a->flags & SMTP_ADDR_IS_QUOTED) &&
	    strpbrk(a->local, "@%!") != NULL)
		return true;
	return false;
}

/*
 * A RCPT in srs.domain with an SRS local part is a bounce (or reply) to
 * an address we minted for a forward: reversed (srs.h), it names the
 * original sender, where the mail is routed instead.  Returns 1 with
 * *orig_r (free it), 0 when the address is not ours to reverse, -1 after
 * a reply (bad hash, expired timestamp).
 */
static int
smtp_rcpt_srs(struct smtp_session *s, const char *to, char **orig_r)
{
	const struct srs	*srs = s->srs;
	const char		*at = strrchr(to, '@'), *err = NULL;

	*orig_r = NULL;
	if (srs == NULL || at == NULL ||
	    strcasecmp(at + 1, srs_domain(srs)) != 0 || !srs_is_srs(to))
		return 0;
	if (srs_reverse(srs, to, time(NULL), orig_r, &err) == -1) {
		log_info("%016" PRIx64 " smtp srs reverse failed rcpt=<%s> "
		    "error=\"%s\"", s->id, to, err != NULL ? err : "");
		smtp_reply(s, 550, "5.1.1", "<%s>: %s", to, err != NULL ? err :
		    "Invalid SRS address");
		return -1;
	}
	log_info("%016" PRIx64 " smtp srs rcpt=<%s> orig=<%s>", s->id, to,
	    *orig_r);
	return 1;
}

static void
smtp_cmd_rcpt(struct smtp_session *s, struct smtp_cmd *cmd)
{
	struct smtp_tx		*tx = s->tx;
	struct smtp_rcpt	*r;
	struct route_result	 res;
	char			 to[SMTP_ADDR_FMT_SIZE];
	char			**remote;
	char			*orig;
	size_t			 nremote;

	if (tx == NULL) {
		smtp_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (smtp_is_submission(s) && s->user == NULL) {
		smtp_reply(s, 530, "5.7.0", "Authentication required");
		return;
	}
	if (tx->nrcpts >= SMTP_MAX_RCPTS) {
		/* RFC 5321 4.5.3.1.8 / 3.3: 452 and the client retries. */
		smtp_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	if ((cmd->addr.flags & SMTP_ADDR_HAS_UTF8) && !tx->smtputf8) {
		smtp_reply_r(s, &smtp_reply_utf8_rcpt);
		return;
	}
	if (smtp_addr_format(&cmd->addr, to, sizeof(to)) == -1) {
		smtp_reply(s, 501, "5.1.3", "Bad recipient address syntax");
		return;
	}
	if (smtp_rcpt_tricky(&cmd->addr)) {
		log_info("%016" PRIx64 " smtp relay denied rcpt=<%s> "
		    "reason=address-form", s->id, to);
		smtp_reply(s, 554, "5.7.1", "<%s>: Relay access denied", to);
		return;
	}
	if (smtp_rcpt_srs(s, to, &orig) == -1)
		return;
	/* RFC 5321 4.1.1.3: a source route is ignored, the mailbox counts. */
	route_resolve(s->route, orig != NULL ? orig : to, &res);
	remote = NULL;
	nremote = 0;
	switch (res.kind) {
	case ROUTE_LOCAL:
	case ROUTE_REMOTE:
		/* Forwards (and local copies): remote ones go to the queue. */
		if (res.nremote == 0)
			break;
		if (loop_shared()->queue == NULL) {
			route_result_clear(&res);
			free(orig);
			smtp_reply(s, 451, "4.3.0", "<%s>: Forwarding not "
			    "available", to);
			return;
		}
		remote = res.remote;
		nremote = res.nremote;
		res.remote = NULL;
		res.nremote = 0;
		break;
	case ROUTE_REJECT:
		smtp_reply(s, res.code, res.enhanced != NULL ? res.enhanced :
		    "5.1.1", "%s", res.text != NULL ? res.text :
		    "Recipient address rejected");
		route_result_clear(&res);
		free(orig);
		return;
	case ROUTE_NOT_LOCAL:
		route_result_clear(&res);
		/* A reversed SRS address goes back where it came from. */
		if (s->user == NULL && orig == NULL) {
			log_info("%016" PRIx64 " smtp relay denied rcpt=<%s>",
			    s->id, to);
			smtp_reply(s, 554, "5.7.1", "<%s>: Relay access denied",
			    to);
			return;
		}
		/* Authenticated submission may relay (RFC 6409 4.3). */
		if (loop_shared()->queue == NULL) {
			free(orig);
			smtp_reply(s, 451, "4.3.0", "<%s>: Remote delivery "
			    "not available", to);
			return;
		}
		remote = xcalloc(1, sizeof(*remote));
		remote[0] = xstrdup(orig != NULL ? orig : to);
		nremote = 1;
		break;
	}
	free(orig);
	r = &tx->rcpts[tx->nrcpts++];
	r->addr = xstrdup(to);
	r->route = res;
	r->remote = remote;
	r->nremote = nremote;
	r->notify = cmd->notify;
	/* Kept for the delivery status notifications (RFC 3461 4.2). */
	if (cmd->orcpt[0] != '\0')
		r->orcpt = xasprintf("%s;%s", cmd->orcpt_type[0] != '\0' ?
		    cmd->orcpt_type : "rfc822", cmd->orcpt);
	smtp_reply(s, 250, "2.1.5", "Ok");
}

/* Common checks of DATA and BDAT.  NULL: go ahead. */
static const char *
smtp_cmd_tx_ready(struct smtp_session *s, int *code_r)
{
	*code_r = 503;
	if (s->tx == NULL)
		return "Error: need MAIL command";
	if (s->tx->nrcpts == 0) {
		*code_r = 554;		/* RFC 5321 3.3 */
		return "Error: no valid recipients";
	}
	return NULL;
}

static void
smtp_cmd_data(struct smtp_session *s, struct smtp_cmd *cmd)
{
	const char	*why;
	int		 code;

	if ((why = smtp_cmd_tx_ready(s, &code)) != NULL) {
		smtp_reply(s, code, "5.5.1", "%s", why);
		return;
	}
	if (s->tx->bdat) {
		/* RFC 3030 2: no DATA in a BDAT transaction. */
		smtp_reply(s, 503, "5.5.1", "Error: DATA after BDAT");
		return;
	}
	if (smtp_msg_begin(s) == -1) {
		smtp_reply(s, 451, "4.3.0", "Local error: cannot spool message");
		return;
	}
	s->tx->dec = smtp_data_new(s->conf->message_size_limit,
	    SMTP_DATA_LINE_MAX);
	smtp_reply(s, 354, "2.0.0", "End data with <CR><LF>.<CR><LF>");
	smtp_enter(s, SMTP_S_DATA);
}

/*
 * RFC 3030 2: the chunk follows the command whatever we answer, so a
 * refused chunk is still read (and dropped) before the reply.
 */
static void
smtp_cmd_bdat(struct smtp_session *s, struct smtp_cmd *cmd)
{
	const char		*why;
	int			 code;
	struct smtp_reply	*r = &cmd->reply;

	s->bdat_left = cmd->bdat_size;
	s->bdat_last = cmd->bdat_last;
	s->bdat_discard = true;
	if ((why = smtp_cmd_tx_ready(s, &code)) != NULL)
		*r = (struct smtp_reply){ code, "5.5.1", why };
	else if (s->tx->bdat_failed)
		*r = (struct smtp_reply){ 503, "5.5.1",
		    "Error: transaction failed, send RSET" };
	else if (s->tx->dec != NULL && !s->tx->bdat)
		*r = (struct smtp_reply){ 503, "5.5.1",
		    "Error: BDAT during DATA" };
	else if (smtp_msg_begin(s) == -1)
		*r = (struct smtp_reply){ 451, "4.3.0",
		    "Local error: cannot spool message" };
	else {
		s->bdat_discard = false;
		if (s->tx->dec == NULL)
			s->tx->dec = smtp_data_new_bdat(
			    s->conf->message_size_limit, SMTP_DATA_LINE_MAX,
			    false);
		s->tx->bdat = true;
	}
	smtp_enter(s, SMTP_S_BDAT);
}

static void
smtp_cmd_rset(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_tx_free(s);
	smtp_reply(s, 250, "2.0.0", "Ok");
}

static void
smtp_cmd_noop(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_reply(s, 250, "2.0.0", "Ok");
}

static void
smtp_cmd_quit(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_reply(s, 221, "2.0.0", "Bye");
	smtp_close(s);
}

static void
smtp_cmd_vrfy(struct smtp_session *s, struct smtp_cmd *cmd)
{
	/* RFC 5321 3.5.3: 252 when we will not verify. */
	smtp_reply(s, 252, "2.0.0", "Cannot VRFY user, but will accept "
	    "message and attempt delivery");
}

static void
smtp_cmd_expn(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_reply(s, 502, "5.5.1", "EXPN not available");
}

static void
smtp_cmd_help(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_reply(s, 214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA "
	    "BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH; see RFC 5321");
}

/*
 * RFC 3207 4.2: after the handshake the client must start over, and we
 * forget everything we learnt in plain text (HELO, transaction).  conn
 * drops any plain text already pipelined behind the command.
 */
static void
smtp_cmd_starttls(struct smtp_session *s, struct smtp_cmd *cmd)
{
	const char	*err;

	if (conn_tls(s->c)) {
		smtp_reply(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	smtp_tx_free(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	xfree(s->user);
	smtp_auth_free(s);
	if (conn_starttls(s->c, &err) == -1) {
		log_err("%016" PRIx64 " smtp starttls failed error=\"%s\"",
		    s->id, err);
		smtp_close(s);
	}
}

static void
smtp_cmd_auth(struct smtp_session *s, struct smtp_cmd *cmd)
{
	smtp_auth_cmd(s, cmd);
}

static smtp_cmd_fn *const smtp_cmd_table[] = {
	[SMTP_CMD_HELO] = smtp_cmd_helo,
	[SMTP_CMD_EHLO] = smtp_cmd_helo,
	[SMTP_CMD_MAIL] = smtp_cmd_mail,
	[SMTP_CMD_RCPT] = smtp_cmd_rcpt,
	[SMTP_CMD_DATA] = smtp_cmd_data,
	[SMTP_CMD_BDAT] = smtp_cmd_bdat,
	[SMTP_CMD_RSET] = smtp_cmd_rset,
	[SMTP_CMD_NOOP] = smtp_cmd_noop,
	[SMTP_CMD_QUIT] = smtp_cmd_quit,
	[SMTP_CMD_VRFY] = smtp_cmd_vrfy,
	[SMTP_CMD_EXPN] = smtp_cmd_expn,
	[SMTP_CMD_HELP] = smtp_cmd_help,
	[SMTP_CMD_STARTTLS] = smtp_cmd_starttls,
	[SMTP_CMD_AUTH] = smtp_cmd_auth,
};

/* One command line (no CRLF). */
void
smtp_cmd_line(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_cmd	*cmd = &s->cmd;
	smtp_cmd_fn	*fn;

	if (smtp_parse_cmd(line, len, cmd) == -1) {
		/*
		 * A BDAT we cannot parse has no size we could skip: RFC 3030
		 * leaves us no way to resync, so treat it like any error.
		 */
		log_debug("%016" PRIx64 " smtp bad command verb=%s code=%d",
		    s->id, smtp_parse_verb_name(cmd->verb), cmd->reply.code);
		smtp_reply_r(s, &cmd->reply);
		return;
	}
	log_debug("%016" PRIx64 " smtp command verb=%s", s->id,
	    smtp_parse_verb_name(cmd->verb));
	if ((size_t)cmd->verb >= sizeof(smtp_cmd_table) /
	    sizeof(smtp_cmd_table[0]) ||
	    (fn = smtp_cmd_table[cmd->verb]) == NULL) {
		smtp_reply(s, 502, "5.5.1", "Command not implemented");
		return;
	}
	fn(s, cmd);
}
