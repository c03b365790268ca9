/*
 * spam_rules.c - the spam.rules_file: PCRE2 rules that add symbols.
 *
 * Format, one rule per line (UTF-8 text; blank lines and lines whose
 * first non-blank character is '#' are ignored):
 *
 *   header  SYMBOL  Field-Name  /regex/flags  [weight]
 *   body    SYMBOL  /regex/flags  [weight]
 *   rawbody SYMBOL  /regex/flags  [weight]
 *   uri     SYMBOL  /regex/flags  [weight]
 *   full    SYMBOL  /regex/flags  [weight]
 *
 * - header: every field of that name in the top header block, unfolded
 *   and RFC 2047-decoded; the name ALL means the raw header block.
 *   "header SYMBOL Field-Name exists [weight]" fires when the field is
 *   present; "!~" before the regex (header only) fires when no field
 *   matches.
 * - body: the text parts decoded to UTF-8, HTML reduced to its text.
 * - rawbody: the text parts decoded, HTML kept.
 * - uri: every http/https URI of the text and of href/src attributes.
 * - full: the whole raw message (first 1 MiB).
 * - SYMBOL: [A-Z0-9_], 1..64 characters, not one of the built-in names.
 * - regex: between the first '/' and the last '/' of the line; flags
 *   are any of i (caseless), m (multiline), s (dotall), x (extended).
 * - weight: a decimal number, default 1.0; spam.symbols overrides it.
 *
 * A symbol fires at most once per message.  Errors name the file and
 * the line: "rules.conf:12: body FOO: regex error at offset 3: missing
 * closing parenthesis"; the first error fails the whole file (the
 * daemon then logs it and runs without rules).  Matching is bounded
 * (match and depth limits), so a pathological pattern cannot stall a
 * worker.
 *
 * Owns the compiled patterns.  Threads: [any]; a compiled set is
 * read-only and shared by workers (each match gets its own data block).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "spam.h"
#include "spam_private.h"
#include "xmalloc.h"

#define SPAM_RULES_FILE_MAX	(4 * 1024 * 1024)
#define SPAM_RULES_MAX		10000
#define SPAM_FULL_MAX		(1024 * 1024)
#define SPAM_MATCH_LIMIT	200000
#define SPAM_DEPTH_LIMIT	5000

enum spam_rule_kind {
	SPAM_R_HEADER, SPAM_R_BODY, SPAM_R_RAWBODY, SPAM_R_URI, SPAM_R_FULL
};

struct spam_rule {
	enum spam_rule_kind	 kind;
	char			*sym;
	char			*field;		/* header only */
	pcre2_code		*re;		/* NULL: "exists" */
	bool			 negate;
	double			 weight;
};

struct spam_rules {
	struct spam_rule	*r;
	size_t			 n;
};

static const struct {
	const char		*name;
	enum spam_rule_kind	 kind;
} spam_kinds[] = {
	{ "header", SPAM_R_HEADER }, { "body", SPAM_R_BODY },
	{ "rawbody", SPAM_R_RAWBODY }, { "uri", SPAM_R_URI },
	{ "full", SPAM_R_FULL },
};

void
spam_rules_free(struct spam_rules **rp)
{
	struct spam_rules	*rs = *rp;
	size_t			 i;

	if (rs == NULL)
		return;
	*rp = NULL;
	for (i = 0; i < rs->n; i++) {
		free(rs->r[i].sym);
		free(rs->r[i].field);
		pcre2_code_free(rs->r[i].re);
	}
	free(rs->r);
	free(rs);
}

size_t
spam_rules_count(const struct spam_rules *rs)
{
	return rs != NULL ? rs->n : 0;
}

/* Next blank-separated word of *p (advanced), or NULL at the end. */
static char *
spam_word(char **p)
{
	char	*s = *p, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return NULL;
	w = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return w;
}

static bool
spam_weight_parse(const char *s, double *w_r)
{
	char	*end;

	errno = 0;
	*w_r = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && *w_r > -1e6 &&
	    *w_r < 1e6;
}

/* Parse one non-comment line into r.  -1 with a static *what. */
static int
spam_rule_line(char *line, struct spam_rule *r, char *msg, size_t msglen)
{
	char		*p = line, *kind, *sym, *end, *slash, *rest;
	size_t		 i, n;
	uint32_t	 opts = 0;
	int		 ec;
	PCRE2_SIZE	 eo;
	PCRE2_UCHAR	 eb[160];

	memset(r, 0, sizeof(*r));
	r->weight = 1.0;
	kind = spam_word(&p);
	for (i = 0; i < sizeof(spam_kinds) / sizeof(spam_kinds[0]); i++)
		if (strcmp(kind, spam_kinds[i].name) == 0)
			break;
	if (i == sizeof(spam_kinds) / sizeof(spam_kinds[0])) {
		snprintf(msg, msglen, "unknown rule type \"%.32s\" (expected "
		    "header, body, rawbody, uri or full)", kind);
		return -1;
	}
	r->kind = spam_kinds[i].kind;
	if ((sym = spam_word(&p)) == NULL) {
		snprintf(msg, msglen, "%s: missing symbol name", kind);
		return -1;
	}
	n = strlen(sym);
	if (n > 64 || strspn(sym, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
	    != n) {
		snprintf(msg, msglen, "%s: bad symbol name \"%.64s\" (expected "
		    "A-Z, 0-9 and _, at most 64)", kind, sym);
		return -1;
	}
	if (spam_symbol_default(sym, NULL)) {
		snprintf(msg, msglen, "%s %s: a built-in symbol", kind, sym);
		return -1;
	}
	r->sym = xstrdup(sym);
	if (r->kind == SPAM_R_HEADER) {
		if ((rest = spam_word(&p)) == NULL || rest[0] == '/') {
			snprintf(msg, msglen, "header %s: missing field name",
			    sym);
			return -1;
		}
		if (strspn(rest, "!\"#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMN"
		    "OPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != strlen(rest)) {
			snprintf(msg, msglen, "header %s: bad field name", sym);
			return -1;
		}
		r->field = xstrdup(rest);
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "exists", 6) == 0 && (p[6] == '\0' ||
		    p[6] == ' ' || p[6] == '\t')) {
			p += 6;
			if ((rest = spam_word(&p)) != NULL &&
			    !spam_weight_parse(rest, &r->weight)) {
				snprintf(msg, msglen, "header %s: bad weight "
				    "\"%.32s\"", sym, rest);
				return -1;
			}
			if (spam_word(&p) != NULL) {
				snprintf(msg, msglen, "header %s: text after "
				    "the weight", sym);
				return -1;
			}
			return 0;
		}
		if (p[0] == '!' && p[1] == '~') {
			r->negate = true;
			for (p += 2; *p == ' ' || *p == '\t'; p++)
				;
		}
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '/' || (slash = strrchr(p, '/')) == p) {
		snprintf(msg, msglen, "%s %s: expected /regex/flags", kind, sym);
		return -1;
	}
	/* Flags, then an optional weight. */
	end = slash + 1;
	for (; *end != '\0' && *end != ' ' && *end != '\t'; end++) {
		switch (*end) {
		case 'i':
			opts |= PCRE2_CASELESS;
			break;
		case 'm':
			opts |= PCRE2_MULTILINE;
			break;
		case 's':
			opts |= PCRE2_DOTALL;
			break;
		case 'x':
			opts |= PCRE2_EXTENDED;
			break;
		default:
			snprintf(msg, msglen, "%s %s: unknown regex flag '%c' "
			    "(expected i, m, s or x)", kind, sym, *end);
			return -1;
		}
	}
	rest = end;
	if ((end = spam_word(&rest)) != NULL &&
	    !spam_weight_parse(end, &r->weight)) {
		snprintf(msg, msglen, "%s %s: bad weight \"%.32s\"", kind, sym,
		    end);
		return -1;
	}
	if (spam_word(&rest) != NULL) {
		snprintf(msg, msglen, "%s %s: text after the weight", kind,
		    sym);
		return -1;
	}
	r->re = pcre2_compile((PCRE2_SPTR)(p + 1), (PCRE2_SIZE)(slash - p - 1),
	    opts, &ec, &eo, NULL);
	if (r->re == NULL) {
		if (pcre2_get_error_message(ec, eb, sizeof(eb)) < 0)
			snprintf((char *)eb, sizeof(eb), "error %d", ec);
		snprintf(msg, msglen, "%s %s: regex error at offset %zu: %s",
		    kind, sym, (size_t)eo, (const char *)eb);
		return -1;
	}
	return 0;
}

int
spam_rules_parse(const char *text, size_t len, const char *name,
    struct spam_rules **rules_r, char **error_r)
{
	struct spam_rules	*rs = xcalloc(1, sizeof(*rs));
	struct spam_rule	 r;
	char			*line, msg[256], *s;
	size_t			 i = 0, n, lineno = 0;

	*rules_r = NULL;
	*error_r = NULL;
	while (i < len) {
		lineno++;
		for (n = i; n < len && text[n] != '\n'; n++)
			;
		line = xstrndup(text + i, n - i);
		if (strlen(line) != n - i) {
			*error_r = xasprintf("%s:%zu: NUL byte in line", name,
			    lineno);
			free(line);
			goto fail;
		}
		i = n + 1;
		if ((s = strchr(line, '\r')) != NULL && s[1] == '\0')
			*s = '\0';
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		if (*s == '\0' || *s == '#') {
			free(line);
			continue;
		}
		if (rs->n == SPAM_RULES_MAX) {
			*error_r = xasprintf("%s:%zu: more than %d rules", name,
			    lineno, SPAM_RULES_MAX);
			free(line);
			goto fail;
		}
		if (spam_rule_line(s, &r, msg, sizeof(msg)) == -1) {
			*error_r = xasprintf("%s:%zu: %s", name, lineno, msg);
			free(r.sym);
			free(r.field);
			free(line);
			goto fail;
		}
		free(line);
		rs->r = xreallocarray(rs->r, rs->n + 1, sizeof(*rs->r));
		rs->r[rs->n++] = r;
	}
	*rules_r = rs;
	return 0;
 fail:
	spam_rules_free(&rs);
	return -1;
}

int
spam_rules_load_blocking(const char *path, struct spam_rules **rules_r,
    char **error_r)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[8192];
	ssize_t		 r;
	int		 fd, rc;

	*rules_r = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((r = read(fd, chunk, sizeof(chunk))) > 0 ||
	    (r == -1 && errno == EINTR)) {
		if (r > 0)
			buf_append(&b, chunk, (size_t)r);
		if (b.len > SPAM_RULES_FILE_MAX) {
			r = 0;
			break;
		}
	}
	close(fd);
	if (r == -1 || b.len > SPAM_RULES_FILE_MAX) {
		*error_r = xasprintf("%s: %s", path, r == -1 ?
		    strerror(errno) : "larger than 4 MiB");
		buf_free(&b);
		return -1;
	}
	rc = spam_rules_parse(b.data != NULL ? b.data : "", b.len, path,
	    rules_r, error_r);
	buf_free(&b);
	return rc;
}

/* ---- matching --------------------------------------------------------- */

struct spam_match {
	const struct spam_rule	*r;
	pcre2_match_data	*md;
	pcre2_match_context	*mc;
};

static bool
spam_match(void *arg, const char *s, size_t len)
{
	struct spam_match	*m = arg;

	return pcre2_match(m->r->re, (PCRE2_SPTR)s, len, 0, 0, m->md,
	    m->mc) >= 0;
}

static bool
spam_exists(void *arg, const char *s, size_t len)
{
	(void)arg;
	(void)s;
	(void)len;
	return true;
}

void
spam_rules_run(const struct spam_rules *rs, const struct spam_msg *msg,
    struct spam_result *res)
{
	struct spam_match	 m;
	const struct spam_rule	*r;
	size_t			 i, j;
	bool			 hit;

	if (rs == NULL || rs->n == 0)
		return;
	m.mc = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(m.mc, SPAM_MATCH_LIMIT);
	pcre2_set_depth_limit(m.mc, SPAM_DEPTH_LIMIT);
	m.md = pcre2_match_data_create(1, NULL);
	for (i = 0; i < rs->n; i++) {
		r = m.r = &rs->r[i];
		hit = false;
		switch (r->kind) {
		case SPAM_R_HEADER:
			if (r->re == NULL)
				hit = spam_msg_header_any(msg, r->field,
				    spam_exists, NULL);
			else
				hit = spam_msg_header_any(msg, r->field,
				    spam_match, &m);
			if (r->negate)
				hit = !hit;
			break;
		case SPAM_R_BODY:
			hit = spam_match(&m, msg->text.data != NULL ?
			    msg->text.data : "", msg->text.len);
			break;
		case SPAM_R_RAWBODY:
			hit = spam_match(&m, msg->rawbody.data != NULL ?
			    msg->rawbody.data : "", msg->rawbody.len);
			break;
		case SPAM_R_URI:
			for (j = 0; j < msg->nuri && !hit; j++)
				hit = spam_match(&m, msg->uri[j],
				    strlen(msg->uri[j]));
			break;
		case SPAM_R_FULL:
			hit = spam_match(&m, msg->raw, msg->rawlen <
			    SPAM_FULL_MAX ? msg->rawlen : SPAM_FULL_MAX);
			break;
		}
		if (hit)
			spam_result_add(res, r->sym, 1, r->weight, NULL);
	}
	pcre2_match_data_free(m.md);
	pcre2_match_context_free(m.mc);
}
