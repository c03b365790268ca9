/*
 * smtp_parse.c - the SMTP command-line grammar (RFC 5321 4.1.1, 4.1.2 and
 * the ESMTP parameters of RFC 1870, 3030, 3461, 4954, 6152, 6531).
 *
 * smtp_parse_cmd() turns one line (without CRLF) into a struct smtp_cmd,
 * or fills cmd->reply with the exact reply to send.  It knows nothing of
 * session state: which extensions were advertised, whether a transaction
 * is open, what limits apply.  The session checks those from cmd->params
 * and friends.  We are strict: single SP between elements, no trailing
 * blanks, with one tolerance ("MAIL FROM: <x>", as Postfix accepts).
 *
 * Owns nothing; fills caller storage.  No I/O, no globals (the replies
 * are constant data).  [any] thread.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "smtp_addr.h"
#include "smtp_parse.h"

#define REPLY(name, c, st, tx) \
	static const struct smtp_reply name = { c, st, tx }

/* RFC 5321 4.2.2 / 4.5.3.1.10, RFC 3463 3.6 (X.5.x protocol status). */
REPLY(r_unknown, 500, "5.5.2", "Command not recognized");
REPLY(r_too_long, 500, "5.5.2", "Line too long");
REPLY(r_bad_char, 500, "5.5.2", "Invalid character in command");
REPLY(r_syntax, 501, "5.5.4", "Syntax error in parameters or arguments");
REPLY(r_no_args, 501, "5.5.4", "Syntax error (no parameters allowed)");
REPLY(r_helo_missing, 501, "5.5.4", "Domain or address literal required");
REPLY(r_helo_bad, 501, "5.5.4", "Invalid domain or address literal");
REPLY(r_mail_syntax, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
REPLY(r_rcpt_syntax, 501, "5.5.4", "Syntax: RCPT TO:<address>");
/* RFC 3463 3.2: X.1.7 bad sender, X.1.3 bad destination mailbox syntax. */
REPLY(r_mail_bad, 501, "5.1.7", "Bad sender address syntax");
REPLY(r_rcpt_bad, 501, "5.1.3", "Bad recipient address syntax");
REPLY(r_mail_long, 501, "5.1.7", "Path too long");
REPLY(r_rcpt_long, 501, "5.1.3", "Path too long");
REPLY(r_rcpt_null, 501, "5.1.3", "Null recipient not allowed");
REPLY(r_mail_utf8, 553, "5.6.7",
    "Non-ASCII sender address requires SMTPUTF8");
/* RFC 5321 4.3.2: 555 for MAIL/RCPT parameters not recognized. */
REPLY(r_param_unknown, 555, "5.5.4", "Unsupported parameter");
REPLY(r_param_dup, 501, "5.5.4", "Duplicate parameter");
REPLY(r_param_bad, 501, "5.5.4", "Invalid parameter value");
/* RFC 1870 6.1: 552 5.3.4 for a declared size over the maximum. */
REPLY(r_size_big, 552, "5.3.4",
    "Message size exceeds fixed maximum message size");
REPLY(r_bdat_syntax, 501, "5.5.4", "Syntax: BDAT <size> [LAST]");
REPLY(r_bdat_big, 552, "5.3.4", "Chunk size exceeds maximum");
REPLY(r_auth_syntax, 501, "5.5.4",
    "Syntax: AUTH mechanism [initial-response]");
REPLY(r_text_bad, 501, "5.5.4", "Invalid character in argument");

/* RFC 6531 3.5. */
const struct smtp_reply smtp_reply_utf8_rcpt = { 553, "5.6.7",
    "Non-ASCII recipient address requires SMTPUTF8" };
/* RFC 4954 6. */
const struct smtp_reply smtp_reply_auth_mech = { 504, "5.5.4",
    "Unrecognized authentication type" };

enum smtp_args { ARGS_NONE, ARGS_OPT, ARGS_OWN };

static const struct smtp_verb_def {
	const char	*name;
	enum smtp_verb	 verb;
	enum smtp_args	 args;
} smtp_verbs[] = {
	{ "HELO", SMTP_CMD_HELO, ARGS_OWN },
	{ "EHLO", SMTP_CMD_EHLO, ARGS_OWN },
	{ "MAIL", SMTP_CMD_MAIL, ARGS_OWN },
	{ "RCPT", SMTP_CMD_RCPT, ARGS_OWN },
	{ "DATA", SMTP_CMD_DATA, ARGS_NONE },
	{ "BDAT", SMTP_CMD_BDAT, ARGS_OWN },
	{ "RSET", SMTP_CMD_RSET, ARGS_NONE },
	{ "NOOP", SMTP_CMD_NOOP, ARGS_OPT },
	{ "QUIT", SMTP_CMD_QUIT, ARGS_NONE },
	{ "VRFY", SMTP_CMD_VRFY, ARGS_OPT },
	{ "EXPN", SMTP_CMD_EXPN, ARGS_OPT },
	{ "HELP", SMTP_CMD_HELP, ARGS_OPT },
	{ "STARTTLS", SMTP_CMD_STARTTLS, ARGS_NONE },
	{ "AUTH", SMTP_CMD_AUTH, ARGS_OWN },
};

static int
smtp_parse_fail(struct smtp_cmd *cmd, const struct smtp_reply *r)
{
	cmd->reply = *r;
	return -1;
}

const char *
smtp_parse_verb_name(enum smtp_verb v)
{
	size_t	 i;

	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++)
		if (smtp_verbs[i].verb == v)
			return smtp_verbs[i].name;
	return "UNKNOWN";
}

/* Case-insensitive compare of s[0..len) with the NUL-terminated word. */
static bool
smtp_parse_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* Parse 1*DIGIT in s[0..len), with no overflow past max. */
static int
smtp_parse_number(const char *s, size_t len, uint64_t max, uint64_t *v_r,
    bool *overflow_r)
{
	uint64_t	 v = 0, d;
	size_t		 i;

	*overflow_r = false;
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	for (i = 0; i < len; i++) {
		d = (uint64_t)(s[i] - '0');
		if (v > (max - d) / 10) {
			*overflow_r = true;
			return -1;
		}
		v = v * 10 + d;
	}
	*v_r = v;
	return 0;
}

static int
smtp_parse_hex(char c)
{
	/* RFC 3461 4: hexchar uses upper-case A-F only. */
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
smtp_parse_xtext(const char *in, size_t len, char *out, size_t size)
{
	size_t	 i, o = 0;
	int	 hi, lo;
	char	 c;

	if (size == 0)
		return -1;
	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '+') {
			if (len - i < 3 ||
			    (hi = smtp_parse_hex(in[i + 1])) == -1 ||
			    (lo = smtp_parse_hex(in[i + 2])) == -1)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
			/* Decoded: printable US-ASCII or SP only. */
			if (c < 32 || c > 126)
				return -1;
		} else if (c < 33 || c > 126 || c == '=')
			return -1;
		if (o >= size - 1)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

/*
 * Find the end of "<...>" starting at s[0] == '<': the first '>' outside
 * a quoted string.  Returns the length including '>', or 0.
 */
static size_t
smtp_parse_path_end(const char *s, size_t len)
{
	size_t	 i;
	bool	 q = false;

	for (i = 1; i < len; i++) {
		if (q && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			q = !q;
		else if (!q && s[i] == '>')
			return i + 1;
	}
	return 0;
}

/* RFC 5321 4.1.2 esmtp-keyword and esmtp-value. */
static bool
smtp_parse_param_syntax(const char *kw, size_t kwlen, const char *val,
    size_t vlen, bool has_val)
{
	size_t	 i;

	if (kwlen == 0)
		return false;
	for (i = 0; i < kwlen; i++) {
		unsigned char c = (unsigned char)kw[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || (c == '-' && i > 0)))
			return false;
	}
	if (!has_val)
		return true;
	if (vlen == 0)
		return false;
	for (i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)val[i];

		if (c < 33 || c > 126 || c == '=')
			return false;
	}
	return true;
}

/* RFC 3461 4.1: NOTIFY="NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY"). */
static int
smtp_parse_notify(const char *v, size_t len, unsigned *notify_r)
{
	unsigned	 n = 0, bit;
	size_t		 i = 0, start;

	for (;;) {
		start = i;
		while (i < len && v[i] != ',')
			i++;
		if (smtp_parse_is(v + start, i - start, "NEVER"))
			bit = SMTP_NOTIFY_NEVER;
		else if (smtp_parse_is(v + start, i - start, "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (smtp_parse_is(v + start, i - start, "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (smtp_parse_is(v + start, i - start, "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return -1;
		if (n & bit)
			return -1;
		n |= bit;
		if (i == len)
			break;
		i++;			/* ',' */
	}
	if ((n & SMTP_NOTIFY_NEVER) && n != SMTP_NOTIFY_NEVER)
		return -1;
	*notify_r = n;
	return 0;
}

/* RFC 3461 4.2: ORCPT=addr-type ";" xtext, addr-type = atom. */
static int
smtp_parse_orcpt(const char *v, size_t len, struct smtp_cmd *cmd)
{
	const char	*semi;
	size_t		 tlen, i;

	if (len > SMTP_XTEXT_MAX ||
	    (semi = memchr(v, ';', len)) == NULL)
		return -1;
	tlen = (size_t)(semi - v);
	if (tlen == 0 || tlen == len - 1)
		return -1;
	for (i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') ||
		    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL))
			return -1;
	}
	memcpy(cmd->orcpt_type, v, tlen);
	cmd->orcpt_type[tlen] = '\0';
	return smtp_parse_xtext(semi + 1, len - tlen - 1, cmd->orcpt,
	    sizeof(cmd->orcpt)) == -1 ? -1 : 0;
}

/* One "keyword[=value]" of MAIL (mail != 0) or RCPT. */
static int
smtp_parse_param(struct smtp_cmd *cmd, bool mail, const char *p, size_t len)
{
	const char	*eq, *val = NULL;
	size_t		 kwlen = len, vlen = 0;
	unsigned	 bit;
	uint64_t	 v;
	bool		 ovf;

	if ((eq = memchr(p, '=', len)) != NULL) {
		kwlen = (size_t)(eq - p);
		val = eq + 1;
		vlen = len - kwlen - 1;
	}
	if (!smtp_parse_param_syntax(p, kwlen, val, vlen, eq != NULL))
		return smtp_parse_fail(cmd, &r_syntax);

	if (mail && smtp_parse_is(p, kwlen, "SIZE"))
		bit = SMTP_PARAM_SIZE;
	else if (mail && smtp_parse_is(p, kwlen, "BODY"))
		bit = SMTP_PARAM_BODY;
	else if (mail && smtp_parse_is(p, kwlen, "SMTPUTF8"))
		bit = SMTP_PARAM_SMTPUTF8;
	else if (mail && smtp_parse_is(p, kwlen, "RET"))
		bit = SMTP_PARAM_RET;
	else if (mail && smtp_parse_is(p, kwlen, "ENVID"))
		bit = SMTP_PARAM_ENVID;
	else if (mail && smtp_parse_is(p, kwlen, "AUTH"))
		bit = SMTP_PARAM_AUTH;
	else if (!mail && smtp_parse_is(p, kwlen, "NOTIFY"))
		bit = SMTP_PARAM_NOTIFY;
	else if (!mail && smtp_parse_is(p, kwlen, "ORCPT"))
		bit = SMTP_PARAM_ORCPT;
	else
		return smtp_parse_fail(cmd, &r_param_unknown);
	if (cmd->params & bit)
		return smtp_parse_fail(cmd, &r_param_dup);
	cmd->params |= bit;

	/* SMTPUTF8 takes no value (RFC 6531 3.4); every other one needs one. */
	if ((bit == SMTP_PARAM_SMTPUTF8) != (val == NULL))
		return smtp_parse_fail(cmd, &r_param_bad);

	switch (bit) {
	case SMTP_PARAM_SIZE:
		/* RFC 1870 5: size-value = 1*20DIGIT */
		if (vlen > 20 ||
		    smtp_parse_number(val, vlen, UINT64_MAX, &v, &ovf) == -1)
			return smtp_parse_fail(cmd, vlen <= 20 && ovf ?
			    &r_size_big : &r_param_bad);
		cmd->size = v;
		break;
	case SMTP_PARAM_BODY:
		if (smtp_parse_is(val, vlen, "7BIT"))
			cmd->body = SMTP_BODY_7BIT;
		else if (smtp_parse_is(val, vlen, "8BITMIME"))
			cmd->body = SMTP_BODY_8BITMIME;
		else if (smtp_parse_is(val, vlen, "BINARYMIME"))
			cmd->body = SMTP_BODY_BINARYMIME;
		else
			return smtp_parse_fail(cmd, &r_param_bad);
		break;
	case SMTP_PARAM_SMTPUTF8:
		cmd->smtputf8 = true;
		break;
	case SMTP_PARAM_RET:
		if (smtp_parse_is(val, vlen, "FULL"))
			cmd->ret = SMTP_RET_FULL;
		else if (smtp_parse_is(val, vlen, "HDRS"))
			cmd->ret = SMTP_RET_HDRS;
		else
			return smtp_parse_fail(cmd, &r_param_bad);
		break;
	case SMTP_PARAM_ENVID:
		/* RFC 3461 4.4: at most 100 characters. */
		if (smtp_parse_xtext(val, vlen, cmd->envid,
		    sizeof(cmd->envid)) == -1)
			return smtp_parse_fail(cmd, &r_param_bad);
		break;
	case SMTP_PARAM_AUTH:
		/* RFC 4954 5: xtext of an addr-spec or "<>"; kept decoded. */
		if (smtp_parse_xtext(val, vlen, cmd->auth,
		    sizeof(cmd->auth)) == -1)
			return smtp_parse_fail(cmd, &r_param_bad);
		break;
	case SMTP_PARAM_NOTIFY:
		if (smtp_parse_notify(val, vlen, &cmd->notify) == -1)
			return smtp_parse_fail(cmd, &r_param_bad);
		break;
	case SMTP_PARAM_ORCPT:
		if (smtp_parse_orcpt(val, vlen, cmd) == -1)
			return smtp_parse_fail(cmd, &r_param_bad);
		break;
	}
	return 0;
}

/* MAIL FROM:<path> [SP params] and RCPT TO:<path> [SP params]. */
static int
smtp_parse_mail_rcpt(struct smtp_cmd *cmd, const char *a, size_t len)
{
	bool		 mail = cmd->verb == SMTP_CMD_MAIL;
	const char	*kw = mail ? "FROM:" : "TO:";
	size_t		 kwlen = strlen(kw), plen, i, start;
	const char	*path, *err;
	unsigned	 af;

	if (len < kwlen || strncasecmp(a, kw, kwlen) != 0)
		return smtp_parse_fail(cmd, mail ? &r_mail_syntax :
		    &r_rcpt_syntax);
	a += kwlen;
	len -= kwlen;
	/* Postfix-style tolerance: one SP after the colon. */
	if (len > 0 && a[0] == ' ') {
		a++;
		len--;
	}
	if (len == 0 || a[0] != '<')
		return smtp_parse_fail(cmd, mail ? &r_mail_syntax :
		    &r_rcpt_syntax);
	if ((plen = smtp_parse_path_end(a, len)) == 0)
		return smtp_parse_fail(cmd, mail ? &r_mail_bad : &r_rcpt_bad);
	path = a;
	a += plen;
	len -= plen;

	if (len > 0) {
		/* Mail-parameters = esmtp-param *(SP esmtp-param) */
		if (a[0] != ' ')
			return smtp_parse_fail(cmd, mail ? &r_mail_bad :
			    &r_rcpt_bad);
		for (i = 1;;) {
			start = i;
			while (i < len && a[i] != ' ')
				i++;
			if (i == start)
				return smtp_parse_fail(cmd, &r_syntax);
			if (smtp_parse_param(cmd, mail, a + start,
			    i - start) == -1)
				return -1;
			if (i == len)
				break;
			i++;
		}
	}

	af = SMTP_ADDR_NEED_BRACKETS;
	if (mail)
		af |= SMTP_ADDR_ALLOW_NULL | (cmd->smtputf8 ? SMTP_ADDR_UTF8 : 0);
	else
		af |= SMTP_ADDR_ALLOW_POSTMASTER | SMTP_ADDR_UTF8;
	if (smtp_addr_parse(path, plen, af, &cmd->addr, &err) == -1) {
		switch (cmd->addr.err) {
		case SMTP_ADDR_E_TOO_LONG:
			return smtp_parse_fail(cmd, mail ? &r_mail_long :
			    &r_rcpt_long);
		case SMTP_ADDR_E_UTF8:
			return smtp_parse_fail(cmd, &r_mail_utf8);
		case SMTP_ADDR_E_NULL:
			return smtp_parse_fail(cmd, &r_rcpt_null);
		default:
			return smtp_parse_fail(cmd, mail ? &r_mail_bad :
			    &r_rcpt_bad);
		}
	}
	return 0;
}

static int
smtp_parse_helo(struct smtp_cmd *cmd, const char *a, size_t len, bool has)
{
	bool	 v6;

	if (!has || len == 0)
		return smtp_parse_fail(cmd, &r_helo_missing);
	if (a[0] == '[') {
		if (!smtp_addr_is_valid_literal(a, len, &v6))
			return smtp_parse_fail(cmd, &r_helo_bad);
		cmd->helo_literal = true;
	} else if (!smtp_addr_is_valid_domain(a, len, false))
		return smtp_parse_fail(cmd, &r_helo_bad);
	memcpy(cmd->helo, a, len);	/* both checks cap len at 255 */
	cmd->helo[len] = '\0';
	return 0;
}

/* RFC 3030 2: "BDAT" SP chunk-size [ SP end-marker ]. */
static int
smtp_parse_bdat(struct smtp_cmd *cmd, const char *a, size_t len, bool has)
{
	const char	*sp;
	size_t		 nlen = len;
	bool		 ovf;

	if (!has)
		return smtp_parse_fail(cmd, &r_bdat_syntax);
	if ((sp = memchr(a, ' ', len)) != NULL) {
		nlen = (size_t)(sp - a);
		if (!smtp_parse_is(sp + 1, len - nlen - 1, "LAST"))
			return smtp_parse_fail(cmd, &r_bdat_syntax);
		cmd->bdat_last = true;
	}
	if (smtp_parse_number(a, nlen, SMTP_BDAT_MAX, &cmd->bdat_size,
	    &ovf) == -1)
		return smtp_parse_fail(cmd, ovf ? &r_bdat_big :
		    &r_bdat_syntax);
	return 0;
}

/* RFC 4954 4: "AUTH" SP sasl-mech [SP initial-response]. */
static int
smtp_parse_auth(struct smtp_cmd *cmd, const char *a, size_t len, bool has)
{
	const char	*sp;
	size_t		 mlen = len, i, ilen, pad = 0;
	char		 c;

	if (!has)
		return smtp_parse_fail(cmd, &r_auth_syntax);
	if ((sp = memchr(a, ' ', len)) != NULL)
		mlen = (size_t)(sp - a);
	/* RFC 4422 3.1: 1*20 of upper-case ALPHA, DIGIT, "-" / "_". */
	if (mlen == 0 || mlen > SMTP_MECH_MAX)
		return smtp_parse_fail(cmd, &r_auth_syntax);
	for (i = 0; i < mlen; i++) {
		c = a[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return smtp_parse_fail(cmd, &r_auth_syntax);
		cmd->mech[i] = c;
	}
	cmd->mech[mlen] = '\0';
	if (sp == NULL)
		return 0;

	a = sp + 1;
	ilen = len - mlen - 1;
	if (ilen == 0)
		return smtp_parse_fail(cmd, &r_auth_syntax);
	cmd->ir_present = true;
	cmd->has_arg = true;
	if (ilen == 1 && a[0] == '=')
		return 0;		/* "=": an empty initial response */
	for (i = 0; i < ilen; i++) {
		c = a[i];
		if (c == '=') {
			if (++pad > 2)
				return smtp_parse_fail(cmd, &r_auth_syntax);
		} else if (pad > 0 || !((c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/'))
			return smtp_parse_fail(cmd, &r_auth_syntax);
	}
	if (ilen % 4 != 0)
		return smtp_parse_fail(cmd, &r_auth_syntax);
	memcpy(cmd->arg, a, ilen);
	cmd->arg[ilen] = '\0';
	return 0;
}

int
smtp_parse_cmd(const char *line, size_t len, struct smtp_cmd *cmd_r)
{
	const struct smtp_verb_def	*vd = NULL;
	const char			*args;
	size_t				 vlen, alen, i, max;
	bool				 has;

	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->verb = SMTP_CMD_UNKNOWN;

	/* Bare CR/LF or NUL never belong in a command (smuggling). */
	for (i = 0; i < len; i++)
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
			return smtp_parse_fail(cmd_r, &r_bad_char);

	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++)
		if (smtp_parse_is(line, vlen, smtp_verbs[i].name)) {
			vd = &smtp_verbs[i];
			break;
		}
	if (vd != NULL)
		cmd_r->verb = vd->verb;

	/* Limits count the CRLF that the caller stripped. */
	max = cmd_r->verb == SMTP_CMD_MAIL ? SMTP_LINE_MAX_MAIL :
	    cmd_r->verb == SMTP_CMD_RCPT ? SMTP_LINE_MAX_RCPT : SMTP_LINE_MAX;
	if (len > max - 2)
		return smtp_parse_fail(cmd_r, &r_too_long);
	if (vd == NULL)
		return smtp_parse_fail(cmd_r, &r_unknown);

	has = vlen < len;		/* a SP follows the verb */
	args = has ? line + vlen + 1 : line + len;
	alen = has ? len - vlen - 1 : 0;

	switch (vd->args) {
	case ARGS_NONE:
		if (has)
			return smtp_parse_fail(cmd_r, &r_no_args);
		return 0;
	case ARGS_OPT:
		for (i = 0; i < alen; i++) {
			unsigned char c = (unsigned char)args[i];

			if ((c < 32 && c != '\t') || c == 127)
				return smtp_parse_fail(cmd_r, &r_text_bad);
		}
		cmd_r->has_arg = has;
		memcpy(cmd_r->arg, args, alen);
		cmd_r->arg[alen] = '\0';
		return 0;
	case ARGS_OWN:
		break;
	}

	switch (vd->verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		return smtp_parse_helo(cmd_r, args, alen, has);
	case SMTP_CMD_MAIL:
	case SMTP_CMD_RCPT:
		if (!has)
			return smtp_parse_fail(cmd_r, vd->verb ==
			    SMTP_CMD_MAIL ? &r_mail_syntax : &r_rcpt_syntax);
		return smtp_parse_mail_rcpt(cmd_r, args, alen);
	case SMTP_CMD_BDAT:
		return smtp_parse_bdat(cmd_r, args, alen, has);
	case SMTP_CMD_AUTH:
		return smtp_parse_auth(cmd_r, args, alen, has);
	default:
		break;
	}
	return smtp_parse_fail(cmd_r, &r_unknown);
}
