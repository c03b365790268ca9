/*
 * sieve_parse.c - the Sieve lexer and parser (RFC 5228 2 and 8):
 * identifiers, tags, numbers with K/M/G, quoted and multi-line strings,
 * string lists, hash and bracket comments, commands with blocks and
 * tests with test lists, then encoded-character (RFC 5228 2.4.2.4)
 * decoding.  Produces the generic node tree that sieve_compile.c checks.
 *
 * Owns the nodes it builds until they are handed to the script.  Every
 * error carries line and column.  Pure code [any].
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sieve_private.h"
#include "str.h"
#include "xmalloc.h"

enum sieve_tok {
	TOK_EOF = 0,
	TOK_IDENT,
	TOK_TAG,
	TOK_NUMBER,
	TOK_STRING,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_COMMA,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_SEMI,
	TOK_ERROR
};

struct sieve_parser {
	const char	*p, *end, *line_start;
	unsigned int	 line;
	/* Current token. */
	enum sieve_tok	 tok;
	unsigned int	 tline, tcol;
	struct buf	 text;		/* identifier, tag or string */
	uint64_t	 num;
	size_t		 nodes;
	bool		 enc_char;	/* encoded-character required */
	struct sieve_error *err;
	bool		 failed;
};

void
sieve_parse_error(struct sieve_error *err, unsigned int line,
    unsigned int col, const char *fmt, ...)
{
	char	 msg[200];
	va_list	 ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err->line = line;
	err->column = col;
	if (line > 0)
		snprintf(err->msg, sizeof(err->msg),
		    "line %u, column %u: %s", line, col, msg);
	else
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

static void __attribute__((format(printf, 4, 5)))
sieve_perr(struct sieve_parser *ps, unsigned int line, unsigned int col,
    const char *fmt, ...)
{
	char	 msg[200];
	va_list	 ap;

	if (ps->failed)
		return;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sieve_parse_error(ps->err, line, col, "%s", msg);
}

static unsigned int
sieve_col(const struct sieve_parser *ps)
{
	return (unsigned int)(ps->p - ps->line_start) + 1;
}

static void
sieve_newline(struct sieve_parser *ps)
{
	ps->line++;
	ps->line_start = ps->p;
}

static int
sieve_putc(struct sieve_parser *ps, char c)
{
	if (buf_putc(&ps->text, c) == -1) {
		sieve_perr(ps, ps->tline, ps->tcol,
		    "string longer than %u bytes", SIEVE_MAX_STRING);
		return -1;
	}
	return 0;
}

/* Skip white space and comments (RFC 5228 2.3). */
static int
sieve_skip_ws(struct sieve_parser *ps)
{
	unsigned int	 l, c;

	while (ps->p < ps->end) {
		if (*ps->p == '\n') {
			ps->p++;
			sieve_newline(ps);
		} else if (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r') {
			ps->p++;
		} else if (*ps->p == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (*ps->p == '/' && ps->p + 1 < ps->end &&
		    ps->p[1] == '*') {
			l = ps->line;
			c = sieve_col(ps);
			ps->p += 2;
			for (;;) {
				if (ps->p + 1 >= ps->end) {
					sieve_perr(ps, l, c,
					    "unterminated comment");
					return -1;
				}
				if (ps->p[0] == '*' && ps->p[1] == '/')
					break;
				if (*ps->p++ == '\n')
					sieve_newline(ps);
			}
			ps->p += 2;
		} else
			break;
	}
	return 0;
}

static bool
sieve_is_ident(int c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == '_' || (!first && c >= '0' && c <= '9');
}

static enum sieve_tok
sieve_lex_quoted(struct sieve_parser *ps)
{
	ps->p++;
	for (;;) {
		if (ps->p >= ps->end) {
			sieve_perr(ps, ps->tline, ps->tcol,
			    "unterminated string");
			return TOK_ERROR;
		}
		if (*ps->p == '"') {
			ps->p++;
			return TOK_STRING;
		}
		/* "\" followed by any character is that character (2.4.2). */
		if (*ps->p == '\\' && ps->p + 1 < ps->end)
			ps->p++;
		if (*ps->p == '\n') {
			ps->p++;
			if (sieve_putc(ps, '\n') == -1)
				return TOK_ERROR;
			sieve_newline(ps);
			continue;
		}
		if (sieve_putc(ps, *ps->p++) == -1)
			return TOK_ERROR;
	}
}

/* "text:" *(SP / HTAB) (hash-comment / CRLF) *lines "." CRLF (2.4.2). */
static enum sieve_tok
sieve_lex_multiline(struct sieve_parser *ps)
{
	const char	*nl;
	size_t		 len;

	ps->p += 5;
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
	if (ps->p < ps->end && *ps->p == '#')
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
	if (ps->p < ps->end && *ps->p == '\r')
		ps->p++;
	if (ps->p >= ps->end || *ps->p != '\n') {
		sieve_perr(ps, ps->line, sieve_col(ps),
		    "expected end of line after 'text:'");
		return TOK_ERROR;
	}
	ps->p++;
	sieve_newline(ps);
	for (;;) {
		if (ps->p >= ps->end) {
			sieve_perr(ps, ps->tline, ps->tcol,
			    "unterminated multi-line string");
			return TOK_ERROR;
		}
		nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
		len = nl != NULL ? (size_t)(nl - ps->p) : (size_t)(ps->end -
		    ps->p);
		if (len > 0 && ps->p[len - 1] == '\r')
			len--;
		if (len == 1 && ps->p[0] == '.') {
			ps->p = nl != NULL ? nl + 1 : ps->end;
			if (nl != NULL)
				sieve_newline(ps);
			return TOK_STRING;
		}
		/* A leading ".." loses one dot (RFC 5228 8.1). */
		if (len > 1 && ps->p[0] == '.' && ps->p[1] == '.')
			ps->p++, len--;
		if (buf_append(&ps->text, ps->p, len) == -1 ||
		    (nl != NULL && buf_putc(&ps->text, '\n') == -1)) {
			sieve_perr(ps, ps->tline, ps->tcol,
			    "string longer than %u bytes", SIEVE_MAX_STRING);
			return TOK_ERROR;
		}
		if (nl == NULL) {
			ps->p = ps->end;
			continue;
		}
		ps->p = nl + 1;
		sieve_newline(ps);
	}
}

static enum sieve_tok
sieve_lex_number(struct sieve_parser *ps)
{
	uint64_t	 v = 0, mult = 1;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		if (v > (UINT64_MAX - 9) / 10) {
			sieve_perr(ps, ps->tline, ps->tcol,
			    "number too large");
			return TOK_ERROR;
		}
		v = v * 10 + (uint64_t)(*ps->p++ - '0');
	}
	if (ps->p < ps->end) {
		switch (*ps->p) {
		case 'K': case 'k':
			mult = 1024;
			break;
		case 'M': case 'm':
			mult = 1024 * 1024;
			break;
		case 'G': case 'g':
			mult = 1024 * 1024 * 1024;
			break;
		}
		if (mult > 1)
			ps->p++;
	}
	if (v > UINT64_MAX / mult) {
		sieve_perr(ps, ps->tline, ps->tcol, "number too large");
		return TOK_ERROR;
	}
	ps->num = v * mult;
	if (ps->p < ps->end && sieve_is_ident(*ps->p, false)) {
		sieve_perr(ps, ps->line, sieve_col(ps),
		    "unexpected character after number");
		return TOK_ERROR;
	}
	return TOK_NUMBER;
}

static enum sieve_tok
sieve_lex(struct sieve_parser *ps)
{
	char	 c;

	buf_reset(&ps->text);
	if (sieve_skip_ws(ps) == -1)
		return ps->tok = TOK_ERROR;
	ps->tline = ps->line;
	ps->tcol = sieve_col(ps);
	if (ps->p >= ps->end)
		return ps->tok = TOK_EOF;
	c = *ps->p;
	switch (c) {
	case '[': ps->p++; return ps->tok = TOK_LBRACKET;
	case ']': ps->p++; return ps->tok = TOK_RBRACKET;
	case ',': ps->p++; return ps->tok = TOK_COMMA;
	case '(': ps->p++; return ps->tok = TOK_LPAREN;
	case ')': ps->p++; return ps->tok = TOK_RPAREN;
	case '{': ps->p++; return ps->tok = TOK_LBRACE;
	case '}': ps->p++; return ps->tok = TOK_RBRACE;
	case ';': ps->p++; return ps->tok = TOK_SEMI;
	case '"': return ps->tok = sieve_lex_quoted(ps);
	}
	if (c >= '0' && c <= '9')
		return ps->tok = sieve_lex_number(ps);
	if (c == ':') {
		ps->p++;
		if (ps->p >= ps->end || !sieve_is_ident(*ps->p, true)) {
			sieve_perr(ps, ps->tline, ps->tcol,
			    "expected tag name after ':'");
			return ps->tok = TOK_ERROR;
		}
		while (ps->p < ps->end && sieve_is_ident(*ps->p, false))
			sieve_putc(ps, *ps->p++);
		return ps->tok = TOK_TAG;
	}
	if (sieve_is_ident(c, true)) {
		if (ps->end - ps->p >= 5 && strncasecmp(ps->p, "text:", 5) == 0)
			return ps->tok = sieve_lex_multiline(ps);
		while (ps->p < ps->end && sieve_is_ident(*ps->p, false))
			if (sieve_putc(ps, *ps->p++) == -1)
				return ps->tok = TOK_ERROR;
		return ps->tok = TOK_IDENT;
	}
	if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
		sieve_perr(ps, ps->tline, ps->tcol,
		    "unexpected character 0x%02x", (unsigned char)c);
	else
		sieve_perr(ps, ps->tline, ps->tcol,
		    "unexpected character '%c'", c);
	return ps->tok = TOK_ERROR;
}

static int
sieve_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
sieve_put_utf8(struct buf *out, uint32_t cp)
{
	if (cp < 0x80) {
		buf_putc(out, (char)cp);
	} else if (cp < 0x800) {
		buf_putc(out, (char)(0xc0 | (cp >> 6)));
		buf_putc(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_putc(out, (char)(0xe0 | (cp >> 12)));
		buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_putc(out, (char)(0xf0 | (cp >> 18)));
		buf_putc(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(out, (char)(0x80 | (cp & 0x3f)));
	}
}

/*
 * Decode one "${hex:..}" or "${unicode:..}" at s (RFC 5228 2.4.2.4).
 * Returns the bytes consumed, 0 when malformed (then left as written),
 * -1 for a code point outside Unicode (an error per 2.4.2.4).
 */
static long
sieve_enc_one(const char *s, struct buf *out)
{
	const char	*p;
	bool		 uni;
	uint32_t	 v;
	size_t		 nd, mark = out->len;
	int		 h;

	if (strncasecmp(s, "${hex:", 6) == 0)
		uni = false, p = s + 6;
	else if (strncasecmp(s, "${unicode:", 10) == 0)
		uni = true, p = s + 10;
	else
		return 0;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '}')
			break;
		v = 0;
		for (nd = 0; (h = sieve_hexval(*p)) >= 0; nd++, p++) {
			if (nd >= 8)
				goto bad;
			v = v << 4 | (uint32_t)h;
		}
		if (nd == 0 || (!uni && nd > 2))
			goto bad;
		if (*p != '}' && *p != ' ' && *p != '\t' && *p != '\r' &&
		    *p != '\n')
			goto bad;
		if (v == 0)		/* NUL cannot live in our C strings */
			goto bad;
		if (uni) {
			if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
				out->len = mark;
				return -1;
			}
			sieve_put_utf8(out, v);
		} else
			buf_putc(out, (char)v);
	}
	return (long)(p + 1 - s);
bad:
	out->len = mark;
	if (out->data != NULL)
		out->data[mark] = '\0';
	return 0;
}

static char *
sieve_string_finish(struct sieve_parser *ps, unsigned int line,
    unsigned int col)
{
	struct buf	 out;
	const char	*s = ps->text.data != NULL ? ps->text.data : "";
	size_t		 i, len = ps->text.len;
	long		 n;

	if (memchr(s, '\0', len) != NULL) {
		sieve_perr(ps, line, col, "NUL character in string");
		return NULL;
	}
	if (!ps->enc_char || strstr(s, "${") == NULL)
		return xstrndup(s, len);
	buf_init(&out, 0);
	for (i = 0; i < len; ) {
		if (s[i] == '$' && s[i + 1] == '{') {
			n = sieve_enc_one(s + i, &out);
			if (n < 0) {
				buf_free(&out);
				sieve_perr(ps, line, col,
				    "invalid Unicode code point in "
				    "encoded character");
				return NULL;
			}
			if (n > 0) {
				i += (size_t)n;
				continue;
			}
		}
		buf_putc(&out, s[i++]);
	}
	if (out.data == NULL)
		return xstrdup("");
	return buf_steal(&out, NULL);
}

static void
sieve_strlist_free(struct sieve_strlist *sl)
{
	size_t	 i;

	for (i = 0; i < sl->n; i++)
		free(sl->v[i]);
	xfree(sl->v);
	sl->n = 0;
}

void
sieve_node_free(struct sieve_node **np)
{
	struct sieve_node	*n = *np;
	size_t			 i;

	if (n == NULL)
		return;
	free(n->id);
	for (i = 0; i < n->n_args; i++) {
		free(n->args[i].tag);
		sieve_strlist_free(&n->args[i].sl);
	}
	free(n->args);
	for (i = 0; i < n->n_tests; i++)
		sieve_node_free(&n->tests[i]);
	free(n->tests);
	for (i = 0; i < n->n_block; i++)
		sieve_node_free(&n->block[i]);
	free(n->block);
	free(n);
	*np = NULL;
}

static int
sieve_strlist_add(struct sieve_parser *ps, struct sieve_strlist *sl)
{
	char	*s;

	if (sl->n >= SIEVE_MAX_LIST) {
		sieve_perr(ps, ps->tline, ps->tcol,
		    "string list longer than %u items", SIEVE_MAX_LIST);
		return -1;
	}
	if ((s = sieve_string_finish(ps, ps->tline, ps->tcol)) == NULL)
		return -1;
	sl->v = xreallocarray(sl->v, sl->n + 1, sizeof(*sl->v));
	sl->v[sl->n++] = s;
	return 0;
}

static struct sieve_node *sieve_parse_test(struct sieve_parser *,
	    unsigned int);

static bool
sieve_parse_requires_encchar(const struct sieve_node *n)
{
	size_t	 i, j;

	for (i = 0; i < n->n_args; i++)
		for (j = 0; j < n->args[i].sl.n; j++)
			if (strcmp(n->args[i].sl.v[j], "encoded-character") == 0)
				return true;
	return false;
}

static struct sieve_node *
sieve_node_new(struct sieve_parser *ps)
{
	struct sieve_node	*n;

	if (++ps->nodes > SIEVE_MAX_NODES) {
		sieve_perr(ps, ps->tline, ps->tcol,
		    "too many commands and tests (limit %u)",
		    SIEVE_MAX_NODES);
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->id = xstrndup(ps->text.data, ps->text.len);
	str_lower(n->id);
	n->line = ps->tline;
	n->col = ps->tcol;
	return n;
}

/* arguments = *argument [ test / test-list ] (RFC 5228 8.2). */
static int
sieve_parse_args(struct sieve_parser *ps, struct sieve_node *n,
    unsigned int depth)
{
	struct sieve_arg	*a;
	struct sieve_node	*t;

	for (;;) {
		if (ps->tok == TOK_TAG || ps->tok == TOK_NUMBER ||
		    ps->tok == TOK_STRING || ps->tok == TOK_LBRACKET) {
			n->args = xreallocarray(n->args, n->n_args + 1,
			    sizeof(*n->args));
			a = &n->args[n->n_args++];
			memset(a, 0, sizeof(*a));
			a->line = ps->tline;
			a->col = ps->tcol;
			if (ps->tok == TOK_TAG) {
				a->kind = SIEVE_ARG_TAG;
				a->tag = xstrndup(ps->text.data, ps->text.len);
				str_lower(a->tag);
			} else if (ps->tok == TOK_NUMBER) {
				a->kind = SIEVE_ARG_NUMBER;
				a->num = ps->num;
			} else if (ps->tok == TOK_STRING) {
				a->kind = SIEVE_ARG_STRING;
				if (sieve_strlist_add(ps, &a->sl) == -1)
					return -1;
			} else {
				a->kind = SIEVE_ARG_LIST;
				for (;;) {
					if (sieve_lex(ps) != TOK_STRING) {
						if (ps->tok != TOK_ERROR)
							sieve_perr(ps,
							    ps->tline, ps->tcol,
							    "expected string in "
							    "string list");
						return -1;
					}
					if (sieve_strlist_add(ps, &a->sl) == -1)
						return -1;
					if (sieve_lex(ps) == TOK_RBRACKET)
						break;
					if (ps->tok != TOK_COMMA) {
						if (ps->tok != TOK_ERROR)
							sieve_perr(ps,
							    ps->tline, ps->tcol,
							    "expected ',' or "
							    "']' in string "
							    "list");
						return -1;
					}
				}
			}
			sieve_lex(ps);
			continue;
		}
		break;
	}
	if (ps->tok == TOK_IDENT) {
		if ((t = sieve_parse_test(ps, depth + 1)) == NULL)
			return -1;
		n->tests = xcalloc(1, sizeof(*n->tests));
		n->tests[0] = t;
		n->n_tests = 1;
	} else if (ps->tok == TOK_LPAREN) {
		for (;;) {
			if (sieve_lex(ps) != TOK_IDENT) {
				if (ps->tok != TOK_ERROR)
					sieve_perr(ps, ps->tline, ps->tcol,
					    "expected test in test list");
				return -1;
			}
			if ((t = sieve_parse_test(ps, depth + 1)) == NULL)
				return -1;
			n->tests = xreallocarray(n->tests, n->n_tests + 1,
			    sizeof(*n->tests));
			n->tests[n->n_tests++] = t;
			if (ps->tok == TOK_RPAREN)
				break;
			if (ps->tok != TOK_COMMA) {
				if (ps->tok != TOK_ERROR)
					sieve_perr(ps, ps->tline, ps->tcol,
					    "expected ',' or ')' in test list");
				return -1;
			}
		}
		sieve_lex(ps);
	}
	return ps->tok == TOK_ERROR ? -1 : 0;
}

/* test = identifier arguments; on entry the identifier is current. */
static struct sieve_node *
sieve_parse_test(struct sieve_parser *ps, unsigned int depth)
{
	struct sieve_node	*n;

	if (depth > SIEVE_MAX_DEPTH) {
		sieve_perr(ps, ps->tline, ps->tcol,
		    "nesting deeper than %u", SIEVE_MAX_DEPTH);
		return NULL;
	}
	if ((n = sieve_node_new(ps)) == NULL)
		return NULL;
	sieve_lex(ps);
	if (sieve_parse_args(ps, n, depth) == -1) {
		sieve_node_free(&n);
		return NULL;
	}
	return n;
}

static int sieve_parse_commands(struct sieve_parser *, struct sieve_node ***,
	    size_t *, unsigned int, bool);

/* command = identifier arguments (";" / block) (RFC 5228 8.2). */
static struct sieve_node *
sieve_parse_command(struct sieve_parser *ps, unsigned int depth)
{
	struct sieve_node	*n;
	unsigned int		 l, c;

	if ((n = sieve_node_new(ps)) == NULL)
		return NULL;
	sieve_lex(ps);
	if (sieve_parse_args(ps, n, depth) == -1)
		goto fail;
	if (ps->tok == TOK_SEMI) {
		sieve_lex(ps);
	} else if (ps->tok == TOK_LBRACE) {
		if (depth + 1 > SIEVE_MAX_DEPTH) {
			sieve_perr(ps, ps->tline, ps->tcol,
			    "nesting deeper than %u", SIEVE_MAX_DEPTH);
			goto fail;
		}
		l = ps->tline;
		c = ps->tcol;
		n->has_block = true;
		sieve_lex(ps);
		if (sieve_parse_commands(ps, &n->block, &n->n_block,
		    depth + 1, true) == -1)
			goto fail;
		if (ps->tok != TOK_RBRACE) {
			sieve_perr(ps, l, c, "unterminated block");
			goto fail;
		}
		sieve_lex(ps);
	} else {
		if (ps->tok != TOK_ERROR)
			sieve_perr(ps, ps->tline, ps->tcol,
			    "expected ';' after command");
		goto fail;
	}
	if (ps->tok == TOK_ERROR)
		goto fail;
	return n;
fail:
	sieve_node_free(&n);
	return NULL;
}

static int
sieve_parse_commands(struct sieve_parser *ps, struct sieve_node ***v_r,
    size_t *n_r, unsigned int depth, bool in_block)
{
	struct sieve_node	*n;

	for (;;) {
		if (ps->tok == TOK_ERROR)
			return -1;
		if (ps->tok == TOK_EOF || (in_block && ps->tok == TOK_RBRACE))
			return 0;
		if (ps->tok != TOK_IDENT) {
			sieve_perr(ps, ps->tline, ps->tcol, "%s",
			    ps->tok == TOK_RBRACE ? "unexpected '}'" :
			    "expected command name");
			return -1;
		}
		if ((n = sieve_parse_command(ps, depth)) == NULL)
			return -1;
		*v_r = xreallocarray(*v_r, *n_r + 1, sizeof(**v_r));
		(*v_r)[(*n_r)++] = n;
		/* encoded-character applies to strings after its require. */
		if (depth == 0 && strcmp(n->id, "require") == 0 &&
		    sieve_parse_requires_encchar(n))
			ps->enc_char = true;
	}
}

int
sieve_parse(const char *src, size_t len, struct sieve_node ***cmds_r,
    size_t *n_r, struct sieve_error *err)
{
	struct sieve_parser	 ps;
	int			 rc;

	memset(&ps, 0, sizeof(ps));
	*cmds_r = NULL;
	*n_r = 0;
	if (len > SIEVE_MAX_SCRIPT) {
		sieve_parse_error(err, 0, 0, "script larger than %u bytes",
		    SIEVE_MAX_SCRIPT);
		return -1;
	}
	ps.p = ps.line_start = src;
	ps.end = src + len;
	ps.line = 1;
	ps.err = err;
	buf_init(&ps.text, SIEVE_MAX_STRING);
	sieve_lex(&ps);
	rc = sieve_parse_commands(&ps, cmds_r, n_r, 0, false);
	buf_free(&ps.text);
	return rc;
}

