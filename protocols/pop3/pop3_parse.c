/*
 * pop3_parse.c - POP3 command lines (RFC 1939 section 3: a keyword of
 * three or four characters, case-insensitive, then arguments separated by
 * one space) and the RETR/TOP body transform.
 *
 * Owns struct pop3_xform (one per transfer).  Pure code: no I/O, no
 * globals.  Threads: [any].
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "pop3_parse.h"
#include "xmalloc.h"

/* What a verb takes: none, a message number, an optional one, ... */
enum pop3_args {
	POP3_A_NONE = 0,
	POP3_A_MSG,		/* RETR n, DELE n */
	POP3_A_OPTMSG,		/* LIST [n], UIDL [n] */
	POP3_A_TOP,		/* TOP n l */
	POP3_A_NAME,		/* USER name */
	POP3_A_REST,		/* PASS string (spaces allowed) */
	POP3_A_AUTH,		/* AUTH [mech [initial-response]] */
	POP3_A_ANY		/* APOP: refused anyway */
};

static const struct {
	const char	*name;
	enum pop3_verb	 verb;
	enum pop3_args	 args;
} pop3_verbs[] = {
	{ "USER", POP3_CMD_USER, POP3_A_NAME },
	{ "PASS", POP3_CMD_PASS, POP3_A_REST },
	{ "APOP", POP3_CMD_APOP, POP3_A_ANY },
	{ "AUTH", POP3_CMD_AUTH, POP3_A_AUTH },
	{ "STLS", POP3_CMD_STLS, POP3_A_NONE },
	{ "CAPA", POP3_CMD_CAPA, POP3_A_NONE },
	{ "QUIT", POP3_CMD_QUIT, POP3_A_NONE },
	{ "STAT", POP3_CMD_STAT, POP3_A_NONE },
	{ "LIST", POP3_CMD_LIST, POP3_A_OPTMSG },
	{ "RETR", POP3_CMD_RETR, POP3_A_MSG },
	{ "DELE", POP3_CMD_DELE, POP3_A_MSG },
	{ "NOOP", POP3_CMD_NOOP, POP3_A_NONE },
	{ "RSET", POP3_CMD_RSET, POP3_A_NONE },
	{ "TOP", POP3_CMD_TOP, POP3_A_TOP },
	{ "UIDL", POP3_CMD_UIDL, POP3_A_OPTMSG },
};

#define POP3_NVERBS	(sizeof(pop3_verbs) / sizeof(pop3_verbs[0]))

const char *
pop3_verb_name(enum pop3_verb v)
{
	size_t	 i;

	for (i = 0; i < POP3_NVERBS; i++)
		if (pop3_verbs[i].verb == v)
			return pop3_verbs[i].name;
	return "UNKNOWN";
}

static int
pop3_fail(struct pop3_cmd *cmd, const char *error)
{
	cmd->error = error;
	return -1;
}

/* Next space-separated word of [*p, end); 0 if none. */
static size_t
pop3_word(const char **p, const char *end, const char **word_r)
{
	const char	*s = *p, *e;

	while (s < end && *s == ' ')
		s++;
	for (e = s; e < end && *e != ' '; e++)
		;
	*word_r = s;
	*p = e;
	return (size_t)(e - s);
}

/* A decimal number of at most digits_max digits, <= max. */
static int
pop3_number(const char *s, size_t len, uint64_t max, uint64_t *v_r)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*v_r = v;
	return 0;
}

static int
pop3_msgnum(const char *s, size_t len, struct pop3_cmd *cmd)
{
	uint64_t	 v;

	if (pop3_number(s, len, UINT32_MAX, &v) == -1)
		return pop3_fail(cmd, "Invalid message number");
	if (v == 0)
		return pop3_fail(cmd, "There's no message 0");
	cmd->msg = (uint32_t)v;
	return 0;
}

int
pop3_parse_cmd(const char *line, size_t len, struct pop3_cmd *cmd)
{
	const char	*end = line + len, *p, *w;
	size_t		 i, klen, wlen;
	uint64_t	 v;
	enum pop3_args	 args;

	memset(cmd, 0, sizeof(*cmd));
	/* NUL, CR and LF never belong in a line (smuggling, truncation). */
	for (i = 0; i < len; i++)
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
			return pop3_fail(cmd, "Invalid character in command");
	for (klen = 0; klen < len && line[klen] != ' '; klen++)
		;
	if (klen == 0)
		return pop3_fail(cmd, len == 0 ? "Empty command" :
		    "Invalid command syntax");
	for (i = 0; i < POP3_NVERBS; i++)
		if (strlen(pop3_verbs[i].name) == klen &&
		    strncasecmp(line, pop3_verbs[i].name, klen) == 0)
			break;
	if (i < POP3_NVERBS)
		cmd->verb = pop3_verbs[i].verb;
	if (len > POP3_LINE_MAX - 2 &&
	    (cmd->verb != POP3_CMD_AUTH || len > POP3_SASL_LINE_MAX - 2))
		return pop3_fail(cmd, "Line too long");
	if (i == POP3_NVERBS)
		return pop3_fail(cmd, "Unknown command");
	args = pop3_verbs[i].args;
	p = line + klen;

	switch (args) {
	case POP3_A_NONE:
		if (pop3_word(&p, end, &w) != 0)
			return pop3_fail(cmd, "Too many arguments");
		return 0;
	case POP3_A_MSG:
	case POP3_A_OPTMSG:
	case POP3_A_TOP:
		if ((wlen = pop3_word(&p, end, &w)) == 0) {
			if (args == POP3_A_OPTMSG)
				return 0;
			return pop3_fail(cmd, "Missing message number");
		}
		if (pop3_msgnum(w, wlen, cmd) == -1)
			return -1;
		cmd->has_msg = true;
		if (args == POP3_A_TOP) {
			if ((wlen = pop3_word(&p, end, &w)) == 0)
				return pop3_fail(cmd, "Missing line count");
			if (pop3_number(w, wlen, INT64_MAX, &v) == -1)
				return pop3_fail(cmd, "Invalid line count");
			cmd->lines = v;
		}
		if (pop3_word(&p, end, &w) != 0)
			return pop3_fail(cmd, "Too many arguments");
		return 0;
	case POP3_A_NAME:
		/* RFC 1939 7: a single argument; trailing blanks tolerated. */
		if ((wlen = pop3_word(&p, end, &w)) == 0)
			return pop3_fail(cmd, "Missing user name");
		cmd->arg = w;
		cmd->arg_len = wlen;
		if (pop3_word(&p, end, &w) != 0)
			return pop3_fail(cmd, "Too many arguments");
		return 0;
	case POP3_A_REST:
		/*
		 * RFC 1939 7 (PASS discussion): the server may treat spaces
		 * in the argument as part of the password.  Everything after
		 * the one space that ends the keyword is the password.
		 */
		if (p == end || p + 1 == end)
			return pop3_fail(cmd, "Missing password");
		cmd->arg = p + 1;
		cmd->arg_len = (size_t)(end - p - 1);
		return 0;
	case POP3_A_AUTH:
		/* RFC 5034 4: AUTH [mechanism [initial-response]]. */
		if ((wlen = pop3_word(&p, end, &w)) == 0)
			return 0;
		if (wlen > POP3_MECH_MAX)
			return pop3_fail(cmd, "Invalid mechanism name");
		for (i = 0; i < wlen; i++)
			if (!((w[i] >= 'A' && w[i] <= 'Z') ||
			    (w[i] >= 'a' && w[i] <= 'z') ||
			    (w[i] >= '0' && w[i] <= '9') || w[i] == '-' ||
			    w[i] == '_'))
				return pop3_fail(cmd, "Invalid mechanism name");
		cmd->arg = w;
		cmd->arg_len = wlen;
		if ((wlen = pop3_word(&p, end, &w)) != 0) {
			cmd->ir = w;
			cmd->ir_len = wlen;
		}
		if (pop3_word(&p, end, &w) != 0)
			return pop3_fail(cmd, "Too many arguments");
		return 0;
	case POP3_A_ANY:
		return 0;
	}
	return pop3_fail(cmd, "Invalid command syntax");
}

/* ---- RETR / TOP output ---- */

enum pop3_xstate {
	POP3_X_HEADER = 0,	/* in the header section */
	POP3_X_BODY,		/* after the blank line */
	POP3_X_DONE		/* TOP limit reached: drop the rest */
};

struct pop3_xform {
	enum pop3_xstate	 state;
	int64_t			 lines;	/* < 0: no limit */
	uint64_t		 body_lines;
	bool			 bol;	/* at a line start */
	bool			 prev_cr; /* last octet was CR */
	bool			 blank;	/* line is empty so far */
};

struct pop3_xform *
pop3_xform_new(int64_t lines)
{
	struct pop3_xform	*x = xcalloc(1, sizeof(*x));

	x->lines = lines;
	x->bol = true;
	x->blank = true;
	return x;
}

void
pop3_xform_free(struct pop3_xform **xp)
{
	xfree(*xp);
}

/* A line ended (its CRLF is out): advance the header/body state. */
static void
pop3_xform_eol(struct pop3_xform *x)
{
	if (x->state == POP3_X_HEADER) {
		if (x->blank) {
			x->state = POP3_X_BODY;
			if (x->lines == 0)
				x->state = POP3_X_DONE;
		}
	} else if (x->state == POP3_X_BODY && x->lines >= 0 &&
	    ++x->body_lines >= (uint64_t)x->lines)
		x->state = POP3_X_DONE;
	x->bol = true;
	x->blank = true;
}

bool
pop3_xform_feed(struct pop3_xform *x, const void *data, size_t len,
    struct buf *out)
{
	const char	*p = data, *end = p + len, *run;
	char		 c;

	while (p < end && x->state != POP3_X_DONE) {
		c = *p;
		if (c == '\n') {
			/* Bare LF becomes CRLF; CRLF passes as is. */
			buf_append(out, x->prev_cr ? "\n" : "\r\n",
			    x->prev_cr ? 1 : 2);
			x->prev_cr = false;
			p++;
			pop3_xform_eol(x);
			continue;
		}
		if (x->bol && c == '.')
			buf_putc(out, '.');	/* RFC 1939 3: byte-stuff */
		if (x->prev_cr) {
			/* The CR before was bare: the line goes on. */
			x->blank = false;
		}
		x->bol = false;
		/* Copy a run of ordinary octets in one go. */
		for (run = p; p < end && *p != '\n' && *p != '\r'; p++)
			;
		if (p > run) {
			buf_append(out, run, (size_t)(p - run));
			x->blank = false;
			x->prev_cr = false;
		}
		if (p < end && *p == '\r') {
			buf_putc(out, '\r');
			if (x->prev_cr)
				x->blank = false;
			x->prev_cr = true;
			p++;
		}
	}
	return x->state == POP3_X_DONE;
}

void
pop3_xform_finish(struct pop3_xform *x, struct buf *out)
{
	if (x->state != POP3_X_DONE && !x->bol)
		buf_append(out, x->prev_cr ? "\n" : "\r\n",
		    x->prev_cr ? 1 : 2);
	buf_append(out, ".\r\n", 3);
	x->state = POP3_X_DONE;
}
