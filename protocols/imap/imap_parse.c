/*
 * imap_parse.c - incremental IMAP command parser.
 *
 * Two stages.  The framer consumes bytes in any chunking, splits the input
 * into line segments and literals, and enforces every size limit as the
 * bytes arrive; it keeps only a small amount of state per byte (quote
 * state, the last bytes of the segment), so feeding one byte at a time is
 * linear.  When a command is complete the tokenizer builds the argument
 * tree in one pass over the stored line, in which each literal is
 * represented by a NUL placeholder (a real NUL in line text is an error).
 *
 * Protocol decisions (RFC 9051 sections 4.3 and 7.1, RFC 7888):
 *  - Line ends: CRLF; a bare LF is accepted as a line end too, as most
 *    servers do, because some clients send it.  A bare CR is a control
 *    character and makes the command invalid.
 *  - A synchronizing literal {n} that is accepted yields
 *    IMAP_PARSE_CONTINUE once; the session sends "+ Ready".  One that is
 *    refused yields IMAP_PARSE_ERROR at once and the command ends there:
 *    the client waits for "+", so no literal bytes will follow.
 *  - A refused non-synchronizing literal {n+} also yields the error at
 *    once (with toobig set when it is a size problem); the client sends
 *    the bytes anyway, so the framer discards n bytes and the rest of the
 *    command.  If n exceeds limits.max_skip the error is fatal instead:
 *    the session says BYE and closes (RFC 7888 section 4 allows either).
 *  - A line longer than max_line is reported as soon as the limit is
 *    crossed; the rest of the command is then discarded, still honouring
 *    literal framing so literal data is never run as commands.
 *  - The section of BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...]
 *    and BINARY.SIZE[...] stays inside its atom, spaces and parentheses
 *    included, so imap_fetchatt sees "BODY[HEADER.FIELDS (A B)]<0.10>".
 *
 * Owns: the input bytes not yet consumed, the command being assembled.
 * [any]: pure code, no I/O, no globals.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap_parse.h"
#include "utf7.h"
#include "xmalloc.h"

/* Recursion guard, whatever limits.max_depth says. */
#define IMAP_PARSE_DEPTH_HARD	256
/* "~{" 20 digits "+}" plus the separator before it. */
#define IMAP_TAIL_MAX		32

enum imap_pstate {
	IMAP_PST_LINE,		/* reading line text */
	IMAP_PST_LITERAL,	/* reading (or skipping) literal data */
	IMAP_PST_FATAL		/* refuse everything */
};

struct imap_lit {
	struct buf	 data;
	bool		 lit8;
};

struct imap_parser {
	struct imap_parse_limits lim;

	char		*in;		/* fed bytes; in[in_pos..in_len) new */
	size_t		 in_len, in_pos, in_cap;

	enum imap_pstate state;
	struct buf	 line;		/* line text of this command */
	size_t		 line_bytes;	/* counted even while discarding */
	bool		 in_quote, escape;
	char		 tail[IMAP_TAIL_MAX];	/* end of this segment */
	size_t		 tail_len;
	size_t		 seg_len;

	bool		 discard;	/* an error is decided; drop input */
	bool		 reported;	/* ...and was already returned */
	const char	*err;
	bool		 err_toobig;

	struct imap_lit	*lits;
	size_t		 nlits, lits_cap;
	uint64_t	 lit_total;
	uint64_t	 lit_left;
	bool		 lit_store;

	bool		 raw_discard;	/* next_line(): skipping a long line */
	const char	*fatal_err;
};

void
imap_parse_limits_default(struct imap_parse_limits *l, bool authenticated)
{
	memset(l, 0, sizeof(*l));
	l->max_line = 64 * 1024;
	l->max_depth = 32;
	l->max_nonsync = 4096;			/* LITERAL- */
	if (authenticated) {
		l->max_literal = 64 * 1024;
		l->max_append_literal = 50ULL * 1024 * 1024;
		l->max_literal_total = 64ULL * 1024 * 1024;
		l->max_skip = 64ULL * 1024 * 1024;
		l->max_args = 100000;
	} else {
		l->max_line = 8 * 1024;
		l->max_literal = 8 * 1024;
		l->max_append_literal = 8 * 1024;
		l->max_literal_total = 16 * 1024;
		l->max_skip = 64 * 1024;
		l->max_args = 100;
	}
}

struct imap_parser *
imap_parser_new(const struct imap_parse_limits *lim)
{
	struct imap_parser	*p;

	p = xcalloc(1, sizeof(*p));
	p->lim = *lim;
	buf_init(&p->line, 0);
	p->state = IMAP_PST_LINE;
	return p;
}

void
imap_parser_set_limits(struct imap_parser *p,
    const struct imap_parse_limits *lim)
{
	p->lim = *lim;
}

static void
imap_parser_reset_cmd(struct imap_parser *p)
{
	size_t	 i;

	for (i = 0; i < p->nlits; i++)
		buf_free(&p->lits[i].data);
	p->nlits = 0;
	p->lit_total = 0;
	p->lit_left = 0;
	p->lit_store = false;
	buf_reset(&p->line);
	p->line_bytes = 0;
	p->in_quote = p->escape = false;
	p->tail_len = p->seg_len = 0;
	p->discard = p->reported = false;
	p->err = NULL;
	p->err_toobig = false;
	if (p->state != IMAP_PST_FATAL)
		p->state = IMAP_PST_LINE;
}

void
imap_parser_trim(struct imap_parser *p)
{
	/* Only between commands, with nothing buffered. */
	if (p->in_pos != p->in_len || p->line_bytes != 0 || p->nlits != 0 ||
	    p->state != IMAP_PST_LINE)
		return;
	free(p->in);
	p->in = NULL;
	p->in_len = p->in_pos = p->in_cap = 0;
	free(p->lits);
	p->lits = NULL;
	p->lits_cap = 0;
	buf_free(&p->line);
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser	*p = *pp;

	if (p == NULL)
		return;
	imap_parser_reset_cmd(p);
	free(p->lits);
	buf_free(&p->line);
	free(p->in);
	free(p);
	*pp = NULL;
}

void
imap_parser_feed(struct imap_parser *p, const char *data, size_t len)
{
	size_t	 avail, cap;

	if (len == 0)
		return;
	/* Compact only when at least half is consumed: linear overall. */
	if (p->in_pos > 0 && p->in_pos >= p->in_len - p->in_pos) {
		avail = p->in_len - p->in_pos;
		memmove(p->in, p->in + p->in_pos, avail);
		p->in_len = avail;
		p->in_pos = 0;
	}
	if (len > p->in_cap - p->in_len) {
		if (len > (size_t)-1 / 2 - p->in_len)
			abort();		/* cannot happen with real I/O */
		cap = p->in_cap ? p->in_cap : 256;
		while (cap < p->in_len + len)
			cap *= 2;
		p->in = xrealloc(p->in, cap);
		p->in_cap = cap;
	}
	memcpy(p->in + p->in_len, data, len);
	p->in_len += len;
}

size_t
imap_parser_pending(const struct imap_parser *p)
{
	return p->in_len - p->in_pos;
}

static void
imap_arg_free_list(struct imap_arg *list, size_t count)
{
	size_t	 i;

	for (i = 0; i < count; i++) {
		if (list[i].type == IMAP_ARG_LIST)
			imap_arg_free_list(list[i].list, list[i].count);
		else
			free(list[i].str);
	}
	free(list);
}

void
imap_cmd_free(struct imap_cmd **cp)
{
	struct imap_cmd	*c = *cp;

	if (c == NULL)
		return;
	free(c->tag);
	free(c->name);
	imap_arg_free_list(c->args, c->nargs);
	free(c);
	*cp = NULL;
}

/* tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 section 9). */
static bool
imap_tag_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\+", c) == NULL;
}

/* ATOM-CHAR, plus list-wildcards and '\' (flags): what an atom may hold. */
static bool
imap_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){\"", c) == NULL;
}

/* Length of a valid tag at the start of s, 0 if none. */
static size_t
imap_tag_len(const char *s, size_t len)
{
	size_t	 i = 0;

	while (i < len && imap_tag_char((unsigned char)s[i]))
		i++;
	if (i == 0 || (i < len && s[i] != ' ' && s[i] != '\r'))
		return 0;
	return i;
}

static struct imap_cmd *
imap_error_cmd(struct imap_parser *p, bool fatal, bool toobig)
{
	struct imap_cmd	*c = xcalloc(1, sizeof(*c));
	size_t		 n;

	n = imap_tag_len(p->line.data ? p->line.data : "", p->line.len);
	c->tag = n ? xstrndup(p->line.data, n) : xstrdup("*");
	c->fatal = fatal;
	c->toobig = toobig;
	return c;
}

/* Is the command whose first segment is in line APPEND or REPLACE? */
static bool
imap_line_is_append(const char *s, size_t len)
{
	size_t	 i, n;

	if ((i = imap_tag_len(s, len)) == 0 || i >= len)
		return false;
	i++;
	if (len - i >= 4 && strncasecmp(s + i, "UID ", 4) == 0)
		i += 4;
	for (n = 0; i + n < len && s[i + n] != ' '; n++)
		;
	return (n == 6 && strncasecmp(s + i, "APPEND", 6) == 0) ||
	    (n == 7 && strncasecmp(s + i, "REPLACE", 7) == 0);
}

static void
imap_tail_push(struct imap_parser *p, char c)
{
	if (p->tail_len == IMAP_TAIL_MAX) {
		memmove(p->tail, p->tail + 1, IMAP_TAIL_MAX - 1);
		p->tail_len--;
	}
	p->tail[p->tail_len++] = c;
	p->seg_len++;
}

/*
 * Does the segment that just ended with LF end in a literal header
 * ("{" number ["+"] "}" or "~{" ...), preceded by SP or "("?  Returns the
 * header length (from '{' or '~' through '}', line end excluded).
 */
static size_t
imap_tail_literal(struct imap_parser *p, uint64_t *n_r, bool *nonsync_r,
    bool *lit8_r)
{
	const char	*t = p->tail;
	size_t		 end = p->tail_len, i, hlen, ndig;
	uint64_t	 n = 0;

	if (p->in_quote)
		return 0;
	if (end > 0 && t[end - 1] == '\r')
		end--;
	if (end == 0 || t[end - 1] != '}')
		return 0;
	i = end - 1;
	*nonsync_r = false;
	if (i > 0 && t[i - 1] == '+') {
		*nonsync_r = true;
		i--;
	}
	ndig = 0;
	while (i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9') {
		i--;
		ndig++;
	}
	if (ndig == 0 || i == 0 || t[i - 1] != '{')
		return 0;
	i--;
	*lit8_r = false;
	if (i > 0 && t[i - 1] == '~') {
		*lit8_r = true;
		i--;
	}
	hlen = end - i;
	/* The separator must be in this segment (not a previous literal). */
	if (i == 0 || p->seg_len - (p->tail_len - end) <= hlen ||
	    (t[i - 1] != ' ' && t[i - 1] != '('))
		return 0;
	/* Digits: check before multiplying (leading zeros are legal). */
	for (size_t k = end - (*nonsync_r ? 2 : 1) - ndig;
	    k < end - (*nonsync_r ? 2 : 1); k++) {
		if (n > (UINT64_MAX - 9) / 10) {
			n = UINT64_MAX;		/* too big for any limit */
			break;
		}
		n = n * 10 + (uint64_t)(t[k] - '0');
	}
	*n_r = n;
	return hlen;
}

static enum imap_parse_result
imap_report(struct imap_parser *p, const char *msg, bool toobig,
    bool fatal, struct imap_cmd **cmd_r, const char **error_r)
{
	*cmd_r = imap_error_cmd(p, fatal, toobig);
	*error_r = msg;
	if (fatal) {
		p->state = IMAP_PST_FATAL;
		p->fatal_err = msg;
	}
	return IMAP_PARSE_ERROR;
}

/* Decide an error; it is returned now (report) or at the command end. */
static void
imap_set_error(struct imap_parser *p, const char *msg, bool toobig)
{
	if (p->err == NULL) {
		p->err = msg;
		p->err_toobig = toobig;
	}
	p->discard = true;
	p->lit_store = false;
}

static enum imap_parse_result imap_build(struct imap_parser *,
	    struct imap_cmd **, const char **);

/*
 * A literal header ended a segment.  Returns NEED_MORE to keep going, or
 * an event for the caller.
 */
static enum imap_parse_result
imap_literal_header(struct imap_parser *p, size_t hlen, uint64_t n,
    bool nonsync, bool lit8, struct imap_cmd **cmd_r, const char **error_r)
{
	struct imap_lit	*l;
	uint64_t	 max;
	const char	*msg = NULL;
	bool		 toobig = false;
	enum imap_parse_result r;

	if (!p->discard) {
		/* Drop the header (and CR) from the line; leave a marker. */
		p->line.len -= hlen;
		p->line.data[p->line.len] = '\0';
		max = imap_line_is_append(p->line.data, p->line.len) ?
		    p->lim.max_append_literal : p->lim.max_literal;
		if (p->nlits >= p->lim.max_args)
			msg = "Too many literals";
		else if (n > max || n > p->lim.max_literal_total -
		    (p->lim.max_literal_total < p->lit_total ?
		    p->lim.max_literal_total : p->lit_total) ||
		    (nonsync && p->lim.max_nonsync != 0 &&
		    n > p->lim.max_nonsync)) {
			msg = "Literal too large";
			toobig = true;
		}
		if (msg != NULL)
			imap_set_error(p, msg, toobig);
	}
	if (p->discard) {
		if (!nonsync) {
			/* The client waits for "+": the command ends here. */
			if (p->reported) {
				imap_parser_reset_cmd(p);
				return IMAP_PARSE_NEED_MORE;
			}
			r = imap_report(p, p->err, p->err_toobig, false,
			    cmd_r, error_r);
			imap_parser_reset_cmd(p);
			return r;
		}
		if (n > p->lim.max_skip)
			return imap_report(p, p->err ? p->err :
			    "Literal too large", true, true, cmd_r, error_r);
		p->lit_left = n;
		p->lit_store = false;
		p->state = IMAP_PST_LITERAL;
		if (!p->reported) {
			p->reported = true;
			return imap_report(p, p->err, p->err_toobig, false,
			    cmd_r, error_r);
		}
		return IMAP_PARSE_NEED_MORE;
	}

	/* Accepted: a NUL marks the literal's place in the line text. */
	buf_putc(&p->line, '\0');
	if (p->nlits == p->lits_cap) {
		p->lits_cap = p->lits_cap ? p->lits_cap * 2 : 4;
		p->lits = xreallocarray(p->lits, p->lits_cap,
		    sizeof(*p->lits));
	}
	l = &p->lits[p->nlits++];
	buf_init(&l->data, 0);
	buf_append(&l->data, "", 0);		/* never NULL data */
	l->lit8 = lit8;
	p->lit_total += n;
	p->lit_left = n;
	p->lit_store = true;
	p->state = IMAP_PST_LITERAL;
	return nonsync ? IMAP_PARSE_NEED_MORE : IMAP_PARSE_CONTINUE;
}

/* A segment ended in LF without a literal header: the command is done. */
static enum imap_parse_result
imap_end_command(struct imap_parser *p, struct imap_cmd **cmd_r,
    const char **error_r)
{
	enum imap_parse_result	 r;

	if (p->discard) {
		if (p->reported) {
			imap_parser_reset_cmd(p);
			return IMAP_PARSE_NEED_MORE;
		}
		r = imap_report(p, p->err, p->err_toobig, false, cmd_r,
		    error_r);
		imap_parser_reset_cmd(p);
		return r;
	}
	/* Strip the CR of CRLF; a bare LF is accepted (see above). */
	if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
		p->line.data[--p->line.len] = '\0';
	r = imap_build(p, cmd_r, error_r);
	imap_parser_reset_cmd(p);
	return r;
}

static enum imap_parse_result
imap_step_line(struct imap_parser *p, struct imap_cmd **cmd_r,
    const char **error_r)
{
	uint64_t	 n;
	size_t		 hlen;
	bool		 nonsync = false, lit8 = false;
	char		 c;

	while (p->in_pos < p->in_len) {
		c = p->in[p->in_pos++];
		if (p->line_bytes < (size_t)-1)
			p->line_bytes++;
		if (p->line_bytes > p->lim.max_line && !p->discard) {
			imap_set_error(p, "Command line too long", true);
			p->reported = true;
			if (c == '\n')
				p->in_pos--, p->line_bytes--;
			return imap_report(p, p->err, true, false, cmd_r,
			    error_r);
		}
		if (c == '\n') {
			hlen = imap_tail_literal(p, &n, &nonsync, &lit8);
			if (hlen == 0)
				return imap_end_command(p, cmd_r, error_r);
			/* The CR (if any) is part of the line too. */
			if (!p->discard && p->line.len > 0 &&
			    p->line.data[p->line.len - 1] == '\r')
				p->line.data[--p->line.len] = '\0';
			p->tail_len = p->seg_len = 0;
			p->in_quote = p->escape = false;
			return imap_literal_header(p, hlen, n, nonsync, lit8,
			    cmd_r, error_r);
		}
		if (p->in_quote) {
			if (p->escape)
				p->escape = false;
			else if (c == '\\')
				p->escape = true;
			else if (c == '"')
				p->in_quote = false;
		} else if (c == '"')
			p->in_quote = true;
		if (c == '\0')
			imap_set_error(p, "NUL character in command", false);
		imap_tail_push(p, c);
		if (!p->discard)
			buf_putc(&p->line, c);
	}
	return IMAP_PARSE_NEED_MORE;
}

static void
imap_step_literal(struct imap_parser *p)
{
	struct imap_lit	*l;
	size_t		 avail = p->in_len - p->in_pos, k;
	const char	*s = p->in + p->in_pos;

	k = avail;
	if ((uint64_t)k > p->lit_left)
		k = (size_t)p->lit_left;
	if (p->lit_store) {
		l = &p->lits[p->nlits - 1];
		if (!l->lit8 && memchr(s, '\0', k) != NULL) {
			/* RFC 9051: CHAR8 excludes NUL; only literal8 may. */
			imap_set_error(p, "NUL in literal (use literal8)",
			    false);
		} else
			buf_append(&l->data, s, k);
	}
	p->in_pos += k;
	p->lit_left -= k;
	if (p->lit_left == 0)
		p->state = IMAP_PST_LINE;
}

enum imap_parse_result
imap_parser_next(struct imap_parser *p, struct imap_cmd **cmd_r,
    const char **error_r)
{
	enum imap_parse_result	 r;

	*cmd_r = NULL;
	*error_r = NULL;
	for (;;) {
		switch (p->state) {
		case IMAP_PST_FATAL:
			*cmd_r = imap_error_cmd(p, true, false);
			*error_r = p->fatal_err;
			return IMAP_PARSE_ERROR;
		case IMAP_PST_LITERAL:
			if (p->in_pos == p->in_len && p->lit_left > 0)
				return IMAP_PARSE_NEED_MORE;
			imap_step_literal(p);
			break;
		case IMAP_PST_LINE:
			if (p->in_pos == p->in_len)
				return IMAP_PARSE_NEED_MORE;
			r = imap_step_line(p, cmd_r, error_r);
			if (r != IMAP_PARSE_NEED_MORE)
				return r;
			break;
		}
	}
}

enum imap_parse_result
imap_parser_next_line(struct imap_parser *p, char **line_r, size_t *len_r,
    const char **error_r)
{
	const char	*s, *nl;
	size_t		 avail, k;

	*line_r = NULL;
	*len_r = 0;
	*error_r = NULL;
	if (p->state != IMAP_PST_LINE || p->line_bytes != 0) {
		*error_r = "Raw line requested inside a command";
		return IMAP_PARSE_ERROR;
	}
	while (p->in_pos < p->in_len) {
		s = p->in + p->in_pos;
		avail = p->in_len - p->in_pos;
		nl = memchr(s, '\n', avail);
		k = nl != NULL ? (size_t)(nl - s) : avail;
		if (p->raw_discard) {
			p->in_pos += k;
			if (nl != NULL) {
				p->in_pos++;
				p->raw_discard = false;
			}
			continue;
		}
		if (k > p->lim.max_line - (p->line.len < p->lim.max_line ?
		    p->line.len : p->lim.max_line)) {
			buf_reset(&p->line);
			p->raw_discard = true;
			*error_r = "Line too long";
			return IMAP_PARSE_ERROR;
		}
		buf_append(&p->line, s, k);
		p->in_pos += k;
		if (nl == NULL)
			break;
		p->in_pos++;
		if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
			p->line.len--;
		*line_r = xmemdup(p->line.data, p->line.len + 1);
		(*line_r)[p->line.len] = '\0';
		*len_r = p->line.len;
		buf_reset(&p->line);
		return IMAP_PARSE_LINE;
	}
	return IMAP_PARSE_NEED_MORE;
}

/* ---- tokenizer: line text + literals -> argument tree ---- */

struct imap_tok {
	const char		*s;
	size_t			 len, pos;
	struct imap_parser	*p;
	size_t			 lit_idx;
	size_t			 nodes;
	const char		*err;
};

struct imap_vec {
	struct imap_arg	*v;
	size_t		 n, cap;
};

static struct imap_arg *
imap_vec_add(struct imap_vec *vec)
{
	if (vec->n == vec->cap) {
		vec->cap = vec->cap ? vec->cap * 2 : 4;
		vec->v = xreallocarray(vec->v, vec->cap, sizeof(*vec->v));
	}
	memset(&vec->v[vec->n], 0, sizeof(vec->v[0]));
	return &vec->v[vec->n++];
}

static bool
imap_section_prefix(const char *s, size_t n)
{
	static const char *const names[] = { "BODY", "BODY.PEEK", "BINARY",
	    "BINARY.PEEK", "BINARY.SIZE" };
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncasecmp(s, names[i], n) == 0)
			return true;
	return false;
}

/* Skip a bracketed section starting at '['; false on error. */
static bool
imap_tok_section(struct imap_tok *t)
{
	unsigned int	 parens = 0;
	unsigned char	 c;

	t->pos++;				/* '[' */
	while (t->pos < t->len) {
		c = (unsigned char)t->s[t->pos];
		if (c == '\0') {
			t->err = "Literal inside a section is not supported";
			return false;
		}
		if (c < 0x20 || c >= 0x7f || c == '[' || c == '{') {
			t->err = "Invalid character in section";
			return false;
		}
		if (c == '"') {
			for (t->pos++; t->pos < t->len; t->pos++) {
				c = (unsigned char)t->s[t->pos];
				if (c == '\\' && t->pos + 1 < t->len)
					t->pos++;
				else if (c == '"')
					break;
				else if (c < 0x20 || c >= 0x7f)
					break;
			}
			if (t->pos >= t->len || t->s[t->pos] != '"') {
				t->err = "Invalid quoted string in section";
				return false;
			}
		} else if (c == '(') {
			parens++;
		} else if (c == ')') {
			if (parens == 0) {
				t->err = "Unbalanced parenthesis in section";
				return false;
			}
			parens--;
		} else if (c == ']' && parens == 0) {
			t->pos++;
			return true;
		}
		t->pos++;
	}
	t->err = "Missing ']' in section";
	return false;
}

static bool
imap_tok_atom(struct imap_tok *t, struct imap_arg *a)
{
	size_t		 start = t->pos, i;
	uint64_t	 n = 0;
	bool		 digits = true, section = false;
	unsigned char	 c;

	while (t->pos < t->len) {
		c = (unsigned char)t->s[t->pos];
		if (c == '[' && !section &&
		    imap_section_prefix(t->s + start, t->pos - start)) {
			if (!imap_tok_section(t))
				return false;
			section = true;
			continue;
		}
		if (!imap_atom_char(c))
			break;
		t->pos++;
	}
	if (t->pos == start) {
		t->err = (unsigned char)t->s[t->pos] >= 0x80 ?
		    "8-bit character outside a quoted string" :
		    "Invalid character";
		return false;
	}
	a->len = t->pos - start;
	a->str = xstrndup(t->s + start, a->len);
	if (a->len == 3 && strcasecmp(a->str, "NIL") == 0) {
		a->type = IMAP_ARG_NIL;
		return true;
	}
	for (i = 0; i < a->len; i++) {
		c = (unsigned char)a->str[i];
		if (c < '0' || c > '9') {
			digits = false;
			break;
		}
		if (n > (UINT64_MAX - (c - '0')) / 10) {
			digits = false;		/* overflow: stays an atom */
			break;
		}
		n = n * 10 + (c - '0');
	}
	a->type = digits ? IMAP_ARG_NUMBER : IMAP_ARG_ATOM;
	a->num = digits ? n : 0;
	return true;
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE; only \" and \\ are escapes. */
static bool
imap_tok_quoted(struct imap_tok *t, struct imap_arg *a)
{
	struct buf	 b;
	unsigned char	 c;
	bool		 eightbit = false;

	buf_init(&b, 0);
	buf_append(&b, "", 0);
	t->pos++;
	for (;;) {
		if (t->pos >= t->len) {
			t->err = "Unterminated quoted string";
			goto fail;
		}
		c = (unsigned char)t->s[t->pos++];
		if (c == '"')
			break;
		if (c == '\\') {
			if (t->pos >= t->len || (t->s[t->pos] != '"' &&
			    t->s[t->pos] != '\\')) {
				t->err = "Invalid escape in quoted string";
				goto fail;
			}
			c = (unsigned char)t->s[t->pos++];
		} else if (c == '\0' || c == '\r' || c == '\n') {
			t->err = "Invalid character in quoted string";
			goto fail;
		} else if (c >= 0x80) {
			if (!t->p->lim.utf8) {
				t->err = "8-bit character in quoted string";
				goto fail;
			}
			eightbit = true;
		}
		buf_putc(&b, (char)c);
	}
	/* RFC 9051 section 4.3: with UTF8=ACCEPT the bytes are UTF-8. */
	if (eightbit && !utf8_valid(b.data, b.len)) {
		t->err = "Invalid UTF-8 in quoted string";
		goto fail;
	}
	a->type = IMAP_ARG_STRING;
	a->str = buf_steal(&b, &a->len);
	return true;
fail:
	buf_free(&b);
	return false;
}

static bool imap_tok_list(struct imap_tok *, unsigned int, struct imap_vec *);

static bool
imap_tok_one(struct imap_tok *t, unsigned int depth, struct imap_vec *vec)
{
	struct imap_arg	*a;
	struct imap_lit	*l;
	struct imap_vec	 sub = { NULL, 0, 0 };
	unsigned int	 maxd;
	char		 c = t->s[t->pos];

	if (t->nodes >= t->p->lim.max_args) {
		t->err = "Too many arguments";
		return false;
	}
	t->nodes++;
	if (c == '(') {
		maxd = t->p->lim.max_depth < IMAP_PARSE_DEPTH_HARD ?
		    t->p->lim.max_depth : IMAP_PARSE_DEPTH_HARD;
		if (depth >= maxd) {
			t->err = "Lists nested too deeply";
			return false;
		}
		t->pos++;
		if (!imap_tok_list(t, depth + 1, &sub)) {
			imap_arg_free_list(sub.v, sub.n);
			return false;
		}
		a = imap_vec_add(vec);
		a->type = IMAP_ARG_LIST;
		a->list = sub.v;
		a->count = sub.n;
		return true;
	}
	if (c == '\0') {
		if (t->lit_idx >= t->p->nlits) {
			t->err = "Unexpected literal";	/* defensive */
			return false;
		}
		l = &t->p->lits[t->lit_idx++];
		a = imap_vec_add(vec);
		a->type = IMAP_ARG_LITERAL;
		a->literal8 = l->lit8;
		a->str = buf_steal(&l->data, &a->len);
		t->pos++;
		return true;
	}
	a = imap_vec_add(vec);
	if ((c == '"' && imap_tok_quoted(t, a)) ||
	    (c != '"' && imap_tok_atom(t, a)))
		return true;
	vec->n--;
	return false;
}

/*
 * Parse tokens until ')' (depth > 0) or the end of the line (depth 0).
 * Tokens are separated by spaces; extra spaces are tolerated.
 */
static bool
imap_tok_list(struct imap_tok *t, unsigned int depth, struct imap_vec *vec)
{
	bool	 need_sep = false;
	char	 c;

	for (;;) {
		if (t->pos >= t->len) {
			if (depth > 0) {
				t->err = "Missing ')'";
				return false;
			}
			return true;
		}
		c = t->s[t->pos];
		if (c == ' ') {
			t->pos++;
			need_sep = false;
			continue;
		}
		if (c == ')') {
			if (depth == 0) {
				t->err = "Unexpected ')'";
				return false;
			}
			t->pos++;
			return true;
		}
		if (need_sep) {
			t->err = "Missing space between arguments";
			return false;
		}
		if (!imap_tok_one(t, depth, vec))
			return false;
		need_sep = true;
	}
}

static size_t
imap_name_len(const char *s, size_t len)
{
	size_t	 i = 0;

	while (i < len && imap_atom_char((unsigned char)s[i]) &&
	    strchr("%*[]\\", s[i]) == NULL)
		i++;
	return i;
}

static enum imap_parse_result
imap_build(struct imap_parser *p, struct imap_cmd **cmd_r,
    const char **error_r)
{
	struct imap_cmd	*c;
	struct imap_tok	 t;
	struct imap_vec	 vec = { NULL, 0, 0 };
	const char	*s = p->line.data ? p->line.data : "";
	size_t		 len = p->line.len, i, n, m;

	c = xcalloc(1, sizeof(*c));
	*cmd_r = c;
	if ((n = imap_tag_len(s, len)) == 0) {
		c->tag = xstrdup("*");
		*error_r = len == 0 ? "Empty command line" : "Invalid tag";
		return IMAP_PARSE_ERROR;
	}
	c->tag = xstrndup(s, n);
	i = n;
	if (i >= len || (m = imap_name_len(s + i + 1, len - i - 1)) == 0 ||
	    (i + 1 + m < len && s[i + 1 + m] != ' ')) {
		*error_r = "Missing or invalid command name";
		return IMAP_PARSE_ERROR;
	}
	i++;
	c->name = xstrndup(s + i, m);
	for (char *q = c->name; *q != '\0'; q++)
		if (*q >= 'a' && *q <= 'z')
			*q = (char)(*q - 'a' + 'A');
	i += m;
	if (strcmp(c->name, "UID") == 0) {
		if (i >= len ||
		    (m = imap_name_len(s + i + 1, len - i - 1)) == 0 ||
		    (i + 1 + m < len && s[i + 1 + m] != ' ')) {
			*error_r = "Missing command after UID";
			xfree(c->name);
			return IMAP_PARSE_ERROR;
		}
		free(c->name);
		c->name = xasprintf("UID %.*s", (int)m, s + i + 1);
		for (char *q = c->name; *q != '\0'; q++)
			if (*q >= 'a' && *q <= 'z')
				*q = (char)(*q - 'a' + 'A');
		c->uid = true;
		i += 1 + m;
	}
	memset(&t, 0, sizeof(t));
	t.s = s;
	t.len = len;
	t.pos = i;
	t.p = p;
	if (!imap_tok_list(&t, 0, &vec)) {
		imap_arg_free_list(vec.v, vec.n);
		xfree(c->name);
		*error_r = t.err;
		return IMAP_PARSE_ERROR;
	}
	c->args = vec.v;
	c->nargs = vec.n;
	return IMAP_PARSE_CMD;
}

bool
imap_arg_astring(const struct imap_arg *a, const char **str_r,
    size_t *len_r)
{
	if (a == NULL || a->type == IMAP_ARG_LIST || a->literal8)
		return false;
	*str_r = a->str;
	*len_r = a->len;
	return true;
}

bool
imap_arg_string(const struct imap_arg *a, const char **str_r,
    size_t *len_r)
{
	if (a == NULL || (a->type != IMAP_ARG_STRING &&
	    a->type != IMAP_ARG_LITERAL) || a->literal8)
		return false;
	*str_r = a->str;
	*len_r = a->len;
	return true;
}

bool
imap_arg_atom_is(const struct imap_arg *a, const char *upper)
{
	return a != NULL && (a->type == IMAP_ARG_ATOM ||
	    a->type == IMAP_ARG_NIL || a->type == IMAP_ARG_NUMBER) &&
	    strcasecmp(a->str, upper) == 0;
}
