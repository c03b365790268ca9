/*
 * http_parse.c - the HTTP/1.1 request head parser (RFC 9112) and the
 * small decoders the endpoints need: percent-encoding (RFC 3986 2.1),
 * query strings, one XML element's text, a mailbox address.
 *
 * The head is parsed again from its first octet on every call until it is
 * complete; it is at most HTTP_HEAD_MAX octets, so that costs little and
 * keeps the parser free of state.  Strict on purpose: a front proxy and
 * we must agree on where each request ends (RFC 9112 section 11.2), so
 * anything two parsers could read two ways is a 400.
 *
 * Owns nothing; no globals, no allocation.  Threads: any.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "http_parse.h"

#define HTTP_METHOD_MAX	16

/* RFC 9110 5.6.2 tchar. */
static bool
http_parse_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * One line from p: 1 with *eol_r at its CR, 0 if it has no CRLF yet, -1
 * on a bare CR, a bare LF or a NUL.
 */
static int
http_parse_line(const char *p, const char *end, const char **eol_r)
{
	for (; p < end; p++) {
		if (*p == '\r') {
			if (p + 1 == end)
				return 0;
			if (p[1] != '\n')
				return -1;
			*eol_r = p;
			return 1;
		}
		if (*p == '\n' || *p == '\0')
			return -1;
	}
	return 0;
}

static int
http_parse_fail(int status, const char *error, int *status_r,
    const char **error_r)
{
	*status_r = status;
	*error_r = error;
	return -1;
}

static int
http_parse_reqline(const char *p, const char *eol, struct http_req *r,
    int *status_r, const char **error_r)
{
	const char	*sp1, *sp2, *v;
	size_t		 n;

	if ((sp1 = memchr(p, ' ', (size_t)(eol - p))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL)
		return http_parse_fail(400, "malformed request line",
		    status_r, error_r);
	n = (size_t)(sp1 - p);
	if (n == 0 || n > HTTP_METHOD_MAX)
		return http_parse_fail(400, "bad method", status_r, error_r);
	for (v = p; v < sp1; v++)
		if (!http_parse_tchar((unsigned char)*v))
			return http_parse_fail(400, "bad method", status_r,
			    error_r);
	r->method_name = p;
	r->method_len = n;
	if (n == 3 && memcmp(p, "GET", 3) == 0)
		r->method = HTTP_M_GET;
	else if (n == 4 && memcmp(p, "HEAD", 4) == 0)
		r->method = HTTP_M_HEAD;
	else if (n == 4 && memcmp(p, "POST", 4) == 0)
		r->method = HTTP_M_POST;
	else
		r->method = HTTP_M_OTHER;

	r->target = sp1 + 1;
	r->target_len = (size_t)(sp2 - sp1 - 1);
	if (r->target_len == 0 || r->target[0] != '/')
		return http_parse_fail(400, "request target must be a path",
		    status_r, error_r);
	for (v = r->target; v < sp2; v++)
		if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f ||
		    *v == '#')
			return http_parse_fail(400, "bad request target",
			    status_r, error_r);

	v = sp2 + 1;
	if (eol - v != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return http_parse_fail(400, "bad HTTP version", status_r,
		    error_r);
	if (v[5] != '1')
		return http_parse_fail(505, "only HTTP/1.x is served",
		    status_r, error_r);
	/* RFC 9110 2.5: a higher minor version is answered as 1.1. */
	r->minor = v[7] == '0' ? 0 : 1;
	return 0;
}

static bool
http_parse_name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* Does the comma-separated token list value hold tok? */
static bool
http_parse_has_token(const char *v, size_t len, const char *tok)
{
	const char	*e = v + len, *s;
	size_t		 n;

	while (v < e) {
		while (v < e && (*v == ' ' || *v == '\t' || *v == ','))
			v++;
		s = v;
		while (v < e && *v != ',' && *v != ' ' && *v != '\t')
			v++;
		n = (size_t)(v - s);
		if (n > 0 && http_parse_name_is(s, n, tok))
			return true;
		while (v < e && *v != ',')
			v++;
	}
	return false;
}

struct http_parse_flags {
	bool	 have_cl;
	bool	 conn_close;
	bool	 conn_keep;
};

static int
http_parse_field(const char *p, const char *eol, struct http_req *r,
    struct http_parse_flags *f, int *status_r, const char **error_r)
{
	const char	*name = p, *v, *ve, *q;
	size_t		 nlen;
	uint64_t	 cl;

	while (p < eol && http_parse_tchar((unsigned char)*p))
		p++;
	nlen = (size_t)(p - name);
	/* No name: obsolete line folding (RFC 9112 5.2) or junk. */
	if (nlen == 0 || p == eol || *p != ':')
		return http_parse_fail(400, "malformed header field",
		    status_r, error_r);
	v = p + 1;
	ve = eol;
	for (q = v; q < ve; q++)
		if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
			return http_parse_fail(400, "control character in "
			    "header field", status_r, error_r);
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;

	if (http_parse_name_is(name, nlen, "Content-Length")) {
		if (v == ve)
			return http_parse_fail(400, "empty Content-Length",
			    status_r, error_r);
		for (cl = 0, q = v; q < ve; q++) {
			if (*q < '0' || *q > '9')
				return http_parse_fail(400, "bad "
				    "Content-Length", status_r, error_r);
			/* Stop early: no overflow, and 413 is the answer. */
			if (cl <= HTTP_BODY_MAX)
				cl = cl * 10 + (uint64_t)(*q - '0');
		}
		if (f->have_cl && cl != r->content_length)
			return http_parse_fail(400, "conflicting "
			    "Content-Length", status_r, error_r);
		if (cl > HTTP_BODY_MAX)
			return http_parse_fail(413, "request body too large",
			    status_r, error_r);
		f->have_cl = true;
		r->content_length = cl;
	} else if (http_parse_name_is(name, nlen, "Transfer-Encoding")) {
		return http_parse_fail(f->have_cl ? 400 : 501,
		    "Transfer-Encoding is not supported (send Content-Length)",
		    status_r, error_r);
	} else if (http_parse_name_is(name, nlen, "Host")) {
		if (r->host != NULL)
			return http_parse_fail(400, "more than one Host",
			    status_r, error_r);
		r->host = v;
		r->host_len = (size_t)(ve - v);
	} else if (http_parse_name_is(name, nlen, "Connection")) {
		if (http_parse_has_token(v, (size_t)(ve - v), "close"))
			f->conn_close = true;
		if (http_parse_has_token(v, (size_t)(ve - v), "keep-alive"))
			f->conn_keep = true;
	} else if (http_parse_name_is(name, nlen, "Expect")) {
		if (!http_parse_name_is(v, (size_t)(ve - v), "100-continue"))
			return http_parse_fail(417, "only Expect: "
			    "100-continue is known", status_r, error_r);
		r->expect_continue = true;
	}
	return 0;
}

int
http_parse_head(const char *data, size_t len, struct http_req *r,
    int *status_r, const char **error_r)
{
	struct http_parse_flags	 f = { false, false, false };
	const char		*p = data, *end = data + len, *eol;
	bool			 first = true;
	int			 rc;

	memset(r, 0, sizeof(*r));
	*status_r = 0;
	*error_r = NULL;
	for (;;) {
		rc = http_parse_line(p, end, &eol);
		if (rc == -1)
			return http_parse_fail(400, "bare CR, bare LF or NUL "
			    "in the request head", status_r, error_r);
		if (rc == 0) {
			if (first && (size_t)(end - p) > HTTP_LINE_MAX)
				return http_parse_fail(414, "request line too "
				    "long", status_r, error_r);
			if (len > HTTP_HEAD_MAX)
				return http_parse_fail(431, "request header "
				    "section too large", status_r, error_r);
			return 1;
		}
		if ((size_t)(eol + 2 - data) > HTTP_HEAD_MAX)
			return http_parse_fail(first && (size_t)(eol - p) >
			    HTTP_LINE_MAX ? 414 : 431, "request header section "
			    "too large", status_r, error_r);
		if (first) {
			/* RFC 9112 2.2: ignore empty lines before it. */
			if (eol == p) {
				p = eol + 2;
				continue;
			}
			if ((size_t)(eol - p) > HTTP_LINE_MAX)
				return http_parse_fail(414, "request line too "
				    "long", status_r, error_r);
			if (http_parse_reqline(p, eol, r, status_r,
			    error_r) == -1)
				return -1;
			first = false;
		} else if (eol == p) {
			break;
		} else {
			if (++r->nfields > HTTP_FIELDS_MAX)
				return http_parse_fail(431, "too many header "
				    "fields", status_r, error_r);
			if (http_parse_field(p, eol, r, &f, status_r,
			    error_r) == -1)
				return -1;
		}
		p = eol + 2;
	}
	r->head_len = (size_t)(eol + 2 - data);
	if (r->minor == 1 && r->host == NULL)
		return http_parse_fail(400, "HTTP/1.1 request without Host",
		    status_r, error_r);
	r->keep_alive = r->minor == 1 ? !f.conn_close :
	    f.conn_keep && !f.conn_close;
	if (r->content_length == 0)
		r->expect_continue = false;
	return 0;
}

static int
http_parse_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
http_parse_pct(const char *s, size_t len, bool plus_space, char *out,
    size_t outsize)
{
	size_t		 i, o = 0;
	int		 hi, lo;
	unsigned char	 c;

	if (outsize == 0)
		return -1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (len - i < 3 || (hi = http_parse_hex(s[i + 1])) ==
			    -1 || (lo = http_parse_hex(s[i + 2])) == -1)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_space)
			c = ' ';
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (o + 1 >= outsize)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int
http_parse_target(const struct http_req *r, char *path, size_t pathsize,
    const char **query_r, size_t *query_len_r)
{
	const char	*q;
	size_t		 plen = r->target_len;

	*query_r = NULL;
	*query_len_r = 0;
	if ((q = memchr(r->target, '?', r->target_len)) != NULL) {
		plen = (size_t)(q - r->target);
		*query_r = q + 1;
		*query_len_r = r->target_len - plen - 1;
	}
	return http_parse_pct(r->target, plen, false, path, pathsize);
}

int
http_parse_query(const char *query, size_t len, const char *key, char *out,
    size_t outsize)
{
	const char	*p = query, *e = query + len, *amp, *eq;
	size_t		 klen = strlen(key);

	if (query == NULL)
		return 0;
	while (p < e) {
		if ((amp = memchr(p, '&', (size_t)(e - p))) == NULL)
			amp = e;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && (size_t)(eq - p) == klen &&
		    memcmp(p, key, klen) == 0)
			return http_parse_pct(eq + 1, (size_t)(amp - eq - 1),
			    true, out, outsize) == -1 ? -1 : 1;
		p = amp + 1;
	}
	return 0;
}

/* Decode the five predefined entities of [s, e) into out. */
static int
http_parse_xml_unescape(const char *s, const char *e, char *out,
    size_t outsize)
{
	static const struct {
		const char	*ent;
		char		 c;
	} ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' }
	};
	size_t		 o = 0, i, n;
	char		 c;

	while (s < e) {
		c = *s;
		if (c == '&') {
			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				n = strlen(ents[i].ent);
				if ((size_t)(e - s) >= n &&
				    memcmp(s, ents[i].ent, n) == 0)
					break;
			}
			if (i == sizeof(ents) / sizeof(ents[0]))
				return -1;
			c = ents[i].c;
			s += strlen(ents[i].ent);
		} else
			s++;
		if (c == '\0' || o + 1 >= outsize)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static bool
http_parse_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
http_parse_xml_text(const char *xml, size_t len, const char *name, char *out,
    size_t outsize)
{
	const char	*p = xml, *e = xml + len, *n, *colon, *gt, *lt;
	size_t		 want = strlen(name);

	while (p < e && (p = memchr(p, '<', (size_t)(e - p))) != NULL) {
		n = ++p;
		while (p < e && !http_parse_xml_space(*p) && *p != '>' &&
		    *p != '/')
			p++;
		if (n == p || *n == '/' || *n == '?' || *n == '!')
			continue;
		colon = memrchr(n, ':', (size_t)(p - n));
		if (colon != NULL)
			n = colon + 1;
		if ((size_t)(p - n) != want || strncasecmp(n, name, want) != 0)
			continue;
		if ((gt = memchr(p, '>', (size_t)(e - p))) == NULL)
			return -1;
		if (gt[-1] == '/') {		/* <EMailAddress/> */
			out[0] = '\0';
			return outsize > 0 ? 1 : -1;
		}
		p = gt + 1;
		if ((lt = memchr(p, '<', (size_t)(e - p))) == NULL)
			return -1;
		while (p < lt && http_parse_xml_space(*p))
			p++;
		while (lt > p && http_parse_xml_space(lt[-1]))
			lt--;
		return http_parse_xml_unescape(p, lt, out, outsize) == -1 ?
		    -1 : 1;
	}
	return 0;
}

void
http_parse_xml_escape(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&apos;");
			break;
		default:
			buf_putc(b, *s);
			break;
		}
	}
}

bool
http_parse_addr(char *addr, const char **domain_r)
{
	char		*at, *p, *label;
	size_t		 n = strlen(addr);

	if (n == 0 || n > HTTP_ADDR_MAX || (at = strrchr(addr, '@')) == NULL)
		return false;
	/* Local part: RFC 5322 dot-atom, at most 64 octets. */
	if (at == addr || at - addr > 64 || addr[0] == '.' || at[-1] == '.')
		return false;
	for (p = addr; p < at; p++) {
		if (*p == '.' && p[1] == '.')
			return false;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' ||
		    strchr("!#$%&'*+-/=?^_`{|}~", *p) != NULL))
			return false;
	}
	/* Domain: LDH labels of 1-63 octets. */
	label = at + 1;
	if (*label == '\0')
		return false;
	for (p = label;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || *label == '-' ||
			    p[-1] == '-')
				return false;
			if (*p == '\0')
				break;
			label = p + 1;
			continue;
		}
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (!((*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	}
	*domain_r = at + 1;
	return true;
}
