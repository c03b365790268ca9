/*
 * mime_header.c - helpers over a raw RFC 5322 header block: field
 * iterator, unfolding, first-field lookup, the HEADER.FIELDS filter of
 * IMAP FETCH, and MIME parameter lists with RFC 2231 continuations and
 * charsets.  Owns nothing beyond what it returns.  [any]
 */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mime_private.h"
#include "xmalloc.h"

#define MIME_MAX_PARAMS		128	/* per header field */
#define MIME_MAX_SECTION	999	/* RFC 2231 section numbers */

void
mime_header_iter_init(struct mime_header_iter *it, const char *hdr,
    size_t len)
{
	it->p = hdr;
	it->end = hdr + len;
}

/* End of the line starting at s (after its LF, or end). */
static const char *
mime_line_end(const char *s, const char *end)
{
	const char	*nl = memchr(s, '\n', (size_t)(end - s));

	return nl != NULL ? nl + 1 : end;
}

bool
mime_header_iter_next(struct mime_header_iter *it,
    struct mime_header_field *f)
{
	const char	*s, *e, *colon, *ve;

	while (it->p < it->end) {
		s = it->p;
		/* The blank line ends the header (RFC 5322 2.1). */
		if (*s == '\n' || (*s == '\r' && s + 1 < it->end &&
		    s[1] == '\n')) {
			it->p = it->end;
			return false;
		}
		e = mime_line_end(s, it->end);
		while (e < it->end && (*e == ' ' || *e == '\t'))
			e = mime_line_end(e, it->end);
		it->p = e;
		if (*s == ' ' || *s == '\t')
			continue;	/* continuation with no field */
		colon = memchr(s, ':', (size_t)(e - s));
		if (colon == NULL || colon == s)
			continue;
		if (memchr(s, '\n', (size_t)(colon - s)) != NULL)
			continue;	/* colon on a later line */
		f->name = s;
		f->name_len = (size_t)(colon - s);
		/* RFC 5322 4.5: obsolete WSP before the colon. */
		while (f->name_len > 0 && (s[f->name_len - 1] == ' ' ||
		    s[f->name_len - 1] == '\t'))
			f->name_len--;
		if (f->name_len == 0)
			continue;
		ve = e;
		if (ve > colon + 1 && ve[-1] == '\n')
			ve--;
		if (ve > colon + 1 && ve[-1] == '\r')
			ve--;
		f->value = colon + 1;
		f->value_len = (size_t)(ve - (colon + 1));
		f->full = s;
		f->full_len = (size_t)(e - s);
		return true;
	}
	return false;
}

/* RFC 5322 2.2.3: unfolding removes the CRLF; then trim the ends. */
void
mime_header_unfold(const char *v, size_t len, struct buf *out)
{
	const char	*end = v + len;
	size_t		 start = out->len;

	while (v < end && (*v == ' ' || *v == '\t' || *v == '\r' ||
	    *v == '\n'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'))
		end--;
	for (; v < end; v++) {
		if (*v == '\r' || *v == '\n')
			continue;
		buf_putc(out, *v);
	}
	if (out->data == NULL || out->len == start)
		buf_append(out, "", 0);
}

bool
mime_header_get(const char *hdr, size_t len, const char *name,
    struct buf *out)
{
	struct mime_header_iter	 it;
	struct mime_header_field f;
	size_t			 n = strlen(name);

	mime_header_iter_init(&it, hdr, len);
	while (mime_header_iter_next(&it, &f)) {
		if (f.name_len == n && strncasecmp(f.name, name, n) == 0) {
			mime_header_unfold(f.value, f.value_len, out);
			return true;
		}
	}
	return false;
}

void
mime_header_fields(const char *hdr, size_t len, const char *const *names,
    size_t n, bool not, struct buf *out)
{
	struct mime_header_iter	 it;
	struct mime_header_field f;
	const char		*nl;
	bool			 match, crlf = true;
	size_t			 i;

	/* The blank line follows the style of the block's first line. */
	if ((nl = memchr(hdr, '\n', len)) != NULL)
		crlf = nl > hdr && nl[-1] == '\r';
	mime_header_iter_init(&it, hdr, len);
	while (mime_header_iter_next(&it, &f)) {
		match = false;
		for (i = 0; i < n && !match; i++)
			match = strlen(names[i]) == f.name_len &&
			    strncasecmp(names[i], f.name, f.name_len) == 0;
		if (match == not)
			continue;
		buf_append(out, f.full, f.full_len);
		if (f.full[f.full_len - 1] != '\n')
			buf_puts(out, crlf ? "\r\n" : "\n");
	}
	buf_puts(out, crlf ? "\r\n" : "\n");
}

/* ---- Parameters: RFC 2045 5.1, RFC 2231 ---- */

struct mime_rawparam {
	char	*base;			/* name without the RFC 2231 suffix */
	int	 section;		/* -1: none */
	bool	 ext;			/* trailing '*': charset'lang'%XX */
	char	*value;
	bool	 used;
};

static const char *
mime_skip_ws(const char *s, const char *end)
{
	int	 depth;

	for (;;) {
		while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' ||
		    *s == '\n'))
			s++;
		if (s >= end || *s != '(')
			return s;
		depth = 0;
		while (s < end) {
			if (*s == '\\' && s + 1 < end)
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0) {
				s++;
				break;
			}
			s++;
		}
	}
}

static bool
mime_attr_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Split "name*2*" into base, section and extended flag. */
static void
mime_split_name(const char *name, struct mime_rawparam *rp)
{
	const char	*star = strchr(name, '*'), *d;
	int		 sec = 0;

	rp->section = -1;
	rp->ext = false;
	if (star == NULL) {
		rp->base = xstrdup(name);
		return;
	}
	d = star + 1;
	if (*d == '\0') {
		rp->ext = true;
		rp->base = xstrndup(name, (size_t)(star - name));
		return;
	}
	if (*d < '0' || *d > '9' || (d[0] == '0' && d[1] >= '0' &&
	    d[1] <= '9')) {
		rp->base = xstrdup(name);
		return;
	}
	for (; *d >= '0' && *d <= '9'; d++) {
		sec = sec * 10 + (*d - '0');
		if (sec > MIME_MAX_SECTION)
			break;
	}
	if (sec > MIME_MAX_SECTION || (*d != '\0' && strcmp(d, "*") != 0)) {
		rp->base = xstrdup(name);
		return;
	}
	rp->ext = *d == '*';
	rp->section = sec;
	rp->base = xstrndup(name, (size_t)(star - name));
}

static int
mime_hexval(char c)
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
mime_pct_decode(const char *s, struct buf *out)
{
	int	 h, l;

	for (; *s != '\0'; s++) {
		if (*s == '%' && (h = mime_hexval(s[1])) >= 0 &&
		    (l = mime_hexval(s[2])) >= 0) {
			buf_putc(out, (char)(h * 16 + l));
			s += 2;
		} else
			buf_putc(out, *s);
	}
}

/* Dovecot shows a plain segment of an extended value %-encoded. */
static void
mime_pct_encode(const char *s, struct buf *out)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr("%*'\"", *s) != NULL)
			buf_printf(out, "%%%02X", (unsigned char)*s);
		else
			buf_putc(out, *s);
	}
}

static char *
mime_buf_str(struct buf *b)
{
	if (b->data == NULL)
		return xstrdup("");
	return buf_steal(b, NULL);
}

/* Decode "charset'lang'%XX..." (already merged and %-decoded after). */
static char *
mime_ext_value(const char *raw)
{
	struct buf	 bytes, out;
	const char	*q1, *q2, *data = raw;
	char		*charset = NULL;

	buf_init(&bytes, 0);
	buf_init(&out, 0);
	if ((q1 = strchr(raw, '\'')) != NULL &&
	    (q2 = strchr(q1 + 1, '\'')) != NULL) {
		charset = xstrndup(raw, (size_t)(q1 - raw));
		data = q2 + 1;
	}
	mime_pct_decode(data, &bytes);
	(void)mime_charset_to_utf8(charset != NULL && *charset != '\0' ?
	    charset : "us-ascii", bytes.data != NULL ? bytes.data : "",
	    bytes.len, &out);
	free(charset);
	buf_free(&bytes);
	return mime_buf_str(&out);
}

static char *
mime_plain_value(const char *v)
{
	struct buf	 out;

	if (strstr(v, "=?") == NULL)
		return xstrdup(v);
	/* Not standard, but common: RFC 2047 words in a parameter. */
	buf_init(&out, 0);
	mime_decode_2047(v, strlen(v), &out);
	return mime_buf_str(&out);
}

static void
mime_add_param(struct mime_param **params, size_t *n, char *name,
    char *value, char *raw_name, char *raw_value)
{
	struct mime_param	*pm;

	*params = xreallocarray(*params, *n + 1, sizeof(**params));
	pm = &(*params)[(*n)++];
	pm->name = name;
	pm->value = value;
	pm->raw_name = raw_name;
	pm->raw_value = raw_value;
}

/* Merge the continuations of rp[first] (RFC 2231 3, 4.1). */
static void
mime_merge_sections(struct mime_rawparam *rp, size_t n, size_t first,
    struct mime_param **params, size_t *np)
{
	struct buf	 raw;
	bool		 ext = false, any_ext = false;
	size_t		 i;
	int		 sec;

	for (i = first; i < n; i++)
		if (rp[i].section >= 0 && rp[i].ext &&
		    strcasecmp(rp[i].base, rp[first].base) == 0)
			any_ext = true;
	buf_init(&raw, 0);
	for (sec = 0; sec <= MIME_MAX_SECTION; sec++) {
		for (i = first; i < n; i++)
			if (!rp[i].used && rp[i].section == sec &&
			    strcasecmp(rp[i].base, rp[first].base) == 0)
				break;
		if (i == n)
			break;
		rp[i].used = true;
		if (sec == 0)
			ext = rp[i].ext;
		if (any_ext && !rp[i].ext)
			mime_pct_encode(rp[i].value, &raw);
		else
			buf_puts(&raw, rp[i].value);
	}
	/* Sections after a gap are dropped; mark the whole name as used. */
	for (i = first; i < n; i++)
		if (rp[i].section >= 0 &&
		    strcasecmp(rp[i].base, rp[first].base) == 0)
			rp[i].used = true;
	if (raw.data == NULL)
		buf_append(&raw, "", 0);
	if (ext || any_ext) {
		char *rv = mime_buf_str(&raw);
		mime_add_param(params, np, xstrdup(rp[first].base),
		    ext ? mime_ext_value(rv) : mime_plain_value(rv),
		    xasprintf("%s*", rp[first].base), rv);
	} else {
		char *rv = mime_buf_str(&raw);
		mime_add_param(params, np, xstrdup(rp[first].base),
		    mime_plain_value(rv), xstrdup(rp[first].base), rv);
	}
}

void
mime_header_parse_params(const char *s, const char *end,
    struct mime_param **params_r, size_t *n_r)
{
	struct mime_rawparam	 rp[MIME_MAX_PARAMS];
	struct buf		 v;
	const char		*t;
	char			*name;
	size_t			 n = 0, i;

	*params_r = NULL;
	*n_r = 0;
	buf_init(&v, 0);
	while (n < MIME_MAX_PARAMS) {
		s = mime_skip_ws(s, end);
		if (s < end && *s != ';') {
			/* Junk: resynchronise on the next ';'. */
			while (s < end && *s != ';')
				s++;
		}
		if (s >= end)
			break;
		s = mime_skip_ws(s + 1, end);
		for (t = s; t < end && mime_attr_char((unsigned char)*t); t++)
			;
		if (t == s)
			continue;
		name = xstrndup(s, (size_t)(t - s));
		s = mime_skip_ws(t, end);
		if (s >= end || *s != '=') {
			free(name);
			continue;
		}
		s = mime_skip_ws(s + 1, end);
		buf_reset(&v);
		if (s < end && *s == '"') {
			/* quoted-string, RFC 5322 3.2.4; folding removed. */
			for (s++; s < end && *s != '"'; s++) {
				if (*s == '\\' && s + 1 < end)
					s++;
				else if (*s == '\r' || *s == '\n')
					continue;
				buf_putc(&v, *s);
			}
			if (s < end)
				s++;
		} else {
			/* Lenient token: up to ';' or white space. */
			for (t = s; t < end && *t != ';' && *t != ' ' &&
			    *t != '\t' && *t != '\r' && *t != '\n'; t++)
				;
			buf_append(&v, s, (size_t)(t - s));
			s = t;
		}
		mime_split_name(name, &rp[n]);
		free(name);
		rp[n].value = v.data != NULL ? xstrndup(v.data, v.len) :
		    xstrdup("");
		rp[n].used = false;
		n++;
	}
	buf_free(&v);

	for (i = 0; i < n; i++) {
		if (rp[i].used)
			continue;
		if (rp[i].section >= 0) {
			mime_merge_sections(rp, n, i, params_r, n_r);
			continue;
		}
		rp[i].used = true;
		if (rp[i].ext)
			mime_add_param(params_r, n_r, xstrdup(rp[i].base),
			    mime_ext_value(rp[i].value),
			    xasprintf("%s*", rp[i].base),
			    xstrdup(rp[i].value));
		else
			mime_add_param(params_r, n_r, xstrdup(rp[i].base),
			    mime_plain_value(rp[i].value),
			    xstrdup(rp[i].base), xstrdup(rp[i].value));
	}
	for (i = 0; i < n; i++) {
		free(rp[i].base);
		free(rp[i].value);
	}
}

void
mime_header_free_params(struct mime_param *params, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].value);
		free(params[i].raw_name);
		free(params[i].raw_value);
	}
	free(params);
}
