/*
 * spam_msg.c - the decoded view of a message the spam checks read
 * (spam_private.h) and the built-in heuristics, which need no network:
 *
 *   Date            MISSING_DATE, INVALID_DATE (not RFC 5322 3.3, with
 *                   the obsolete forms of 4.3), DATE_IN_FUTURE (> 1 day)
 *   Message-ID      MISSING_MID, INVALID_MSGID (not "<left@right>")
 *   From/To         MISSING_FROM, MULTIPLE_FROM, MISSING_TO,
 *                   R_UNDISC_RCPT, REPLYTO_DOM_NEQ_FROM_DOM
 *   HELO            FORGED_HELO_IP (an address literal that is not the
 *                   peer), FORGED_HELO_FQDN (our own name), HELO_BAREIP
 *                   (an address without brackets, RFC 5321 4.1.3)
 *   Subject         MISSING_SUBJECT, EMPTY_SUBJECT, SUBJ_ALL_CAPS (ten
 *                   letters or more, none lower case), SUBJ_EXCESS_PUNCT
 *   MIME            MIME_HTML_ONLY, MIME_BROKEN, MISSING_MIME_VERSION,
 *                   MIME_BAD_EXTENSION (.exe .scr .js .vbs ... as an
 *                   attachment name), MIME_DOUBLE_BAD_EXTENSION
 *                   ("invoice.pdf.exe")
 *   URIs            URL_BARE_IP (http://192.0.2.1/, decimal, hex, [v6])
 *   body            GTUBE (the generic test for unsolicited bulk email)
 *
 * Text parts are decoded (transfer encoding, charset to UTF-8); HTML is
 * reduced to its text, with href/src URIs collected.  Everything is
 * bounded: SPAM_TEXT_MAX bytes of text, SPAM_URI_MAX URIs.
 *
 * Owns the view's buffers.  Threads: [any].
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "mime.h"
#include "spam.h"
#include "spam_private.h"
#include "xmalloc.h"

#define SPAM_PARSE_MAX	(8 * 1024 * 1024)	/* bytes given to MIME */
#define SPAM_GTUBE	"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-" \
			"UBE-TEST-EMAIL*C.34X"

static size_t
spam_hdr_end(const char *m, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (m[i] != '\n')
			continue;
		if (i + 1 < len && m[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && m[i + 1] == '\r' && m[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

static void
spam_uri_add(char ***uri, size_t *nuri, const char *s, size_t len)
{
	if (*nuri >= SPAM_URI_MAX || len == 0 || len > 2048)
		return;
	*uri = xreallocarray(*uri, *nuri + 1, sizeof(**uri));
	(*uri)[(*nuri)++] = xstrndup(s, len);
}

void
spam_text_uris(const char *in, size_t len, char ***uri, size_t *nuri)
{
	size_t	 i, j;

	for (i = 0; i + 7 < len; i++) {
		if (in[i] != 'h' && in[i] != 'H')
			continue;
		if (strncasecmp(in + i, "http://", 7) == 0)
			j = i + 7;
		else if (i + 8 < len && strncasecmp(in + i, "https://", 8) == 0)
			j = i + 8;
		else
			continue;
		while (j < len && (unsigned char)in[j] > ' ' && in[j] != '"' &&
		    in[j] != '<' && in[j] != '>' && in[j] != '\'' &&
		    in[j] != ')')
			j++;
		spam_uri_add(uri, nuri, in + i, j - i);
		i = j - 1;
	}
}

/* Append code point c as UTF-8. */
static void
spam_put_utf8(struct buf *out, unsigned long c)
{
	char	 u[4];

	if (c == 0 || c > 0x10ffff)
		c = 0xfffd;
	if (c < 0x80) {
		buf_putc(out, (char)c);
	} else if (c < 0x800) {
		u[0] = (char)(0xc0 | (c >> 6));
		u[1] = (char)(0x80 | (c & 0x3f));
		buf_append(out, u, 2);
	} else if (c < 0x10000) {
		u[0] = (char)(0xe0 | (c >> 12));
		u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[2] = (char)(0x80 | (c & 0x3f));
		buf_append(out, u, 3);
	} else {
		u[0] = (char)(0xf0 | (c >> 18));
		u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (char)(0x80 | (c & 0x3f));
		buf_append(out, u, 4);
	}
}

/* An entity at in[0] == '&': append its text, return bytes used. */
static size_t
spam_entity(const char *in, size_t len, struct buf *out)
{
	static const struct { const char *n; const char *v; } ent[] = {
		{ "amp;", "&" }, { "lt;", "<" }, { "gt;", ">" },
		{ "quot;", "\"" }, { "nbsp;", " " }, { "apos;", "'" },
	};
	unsigned long	 c = 0;
	size_t		 i, j;

	if (len > 2 && in[1] == '#') {
		j = 2;
		if (j < len && (in[j] == 'x' || in[j] == 'X')) {
			for (j++; j < len && j < 12 && isxdigit((unsigned char)
			    in[j]); j++)
				c = c * 16 + (unsigned long)(isdigit(
				    (unsigned char)in[j]) ? in[j] - '0' :
				    (tolower((unsigned char)in[j]) - 'a' + 10));
		} else
			for (; j < len && j < 10 && isdigit((unsigned char)
			    in[j]); j++)
				c = c * 10 + (unsigned long)(in[j] - '0');
		if (j > 2) {
			spam_put_utf8(out, c);
			return j < len && in[j] == ';' ? j + 1 : j;
		}
	}
	for (i = 0; i < sizeof(ent) / sizeof(ent[0]); i++) {
		j = strlen(ent[i].n);
		if (len > j && strncasecmp(in + 1, ent[i].n, j) == 0) {
			buf_puts(out, ent[i].v);
			return j + 1;
		}
	}
	buf_putc(out, '&');
	return 1;
}

/* The value of attribute href= or src= inside a tag, to the URI list. */
static void
spam_tag_uris(const char *t, size_t len, char ***uri, size_t *nuri)
{
	size_t	 i, j, n;
	char	 q;

	for (i = 0; i < len; i++) {
		if (i > 0 && !isspace((unsigned char)t[i - 1]))
			continue;
		if (len - i > 5 && strncasecmp(t + i, "href=", 5) == 0)
			n = 5;
		else if (len - i > 4 && strncasecmp(t + i, "src=", 4) == 0)
			n = 4;
		else
			continue;
		j = i + n;
		q = t[j] == '"' || t[j] == '\'' ? t[j++] : '\0';
		for (n = j; n < len && (q != '\0' ? t[n] != q :
		    !isspace((unsigned char)t[n])); n++)
			;
		if (n - j > 7 && (strncasecmp(t + j, "http://", 7) == 0 ||
		    strncasecmp(t + j, "https://", 8) == 0))
			spam_uri_add(uri, nuri, t + j, n - j);
		i = n;
	}
}

void
spam_html_strip(const char *in, size_t len, struct buf *out, char ***uri,
    size_t *nuri)
{
	const char	*end;
	size_t		 i = 0, j, tl;
	bool		 block;

	while (i < len) {
		if (in[i] == '&') {
			i += spam_entity(in + i, len - i, out);
			continue;
		}
		if (in[i] != '<') {
			buf_putc(out, in[i++]);
			continue;
		}
		if (len - i >= 4 && memcmp(in + i, "<!--", 4) == 0) {
			end = memmem(in + i + 4, len - i - 4, "-->", 3);
			i = end != NULL ? (size_t)(end - in) + 3 : len;
			continue;
		}
		for (j = i + 1; j < len && in[j] != '>'; j++)
			;
		tl = j - i - 1;
		if (uri != NULL)
			spam_tag_uris(in + i + 1, tl, uri, nuri);
		block = tl > 0 && strchr("pbdtlhP BDTLH/", in[i + 1]) != NULL;
		if ((tl >= 6 && strncasecmp(in + i + 1, "script", 6) == 0) ||
		    (tl >= 5 && strncasecmp(in + i + 1, "style", 5) == 0)) {
			/* Skip the content up to the closing tag. */
			for (j++; j + 1 < len; j++)
				if (in[j] == '<' && in[j + 1] == '/' &&
				    len - j > 7 && (strncasecmp(in + j + 2,
				    "script", 6) == 0 || strncasecmp(in + j + 2,
				    "style", 5) == 0))
					break;
			for (; j < len && in[j] != '>'; j++)
				;
		}
		if (block)
			buf_putc(out, ' ');
		i = j < len ? j + 1 : len;
	}
}

/* Decode one leaf part's body into out (UTF-8). */
static void
spam_part_text(const char *raw, size_t rawlen, const struct mime_part *p,
    struct buf *out)
{
	struct buf	 dec = BUF_INIT;
	uint64_t	 off = mime_part_body_off(p), end = mime_part_end_off(p);
	const char	*cs;

	if (off >= rawlen || end <= off)
		return;
	if (end > rawlen)
		end = rawlen;
	mime_decode_cte(mime_part_cte(p), raw + off, (size_t)(end - off),
	    &dec);
	if (dec.len == 0) {
		buf_free(&dec);
		return;
	}
	cs = mime_part_param(p, "charset");
	if (cs == NULL || cs[0] == '\0')
		buf_append(out, dec.data, dec.len);
	else
		(void)mime_charset_to_utf8(cs, dec.data, dec.len, out);
	buf_free(&dec);
}

static const char *
spam_part_filename(const struct mime_part *p)
{
	const struct mime_param	*v;
	size_t			 i, n;

	v = mime_part_disposition_params(p, &n);
	for (i = 0; v != NULL && i < n; i++)
		if (v[i].name != NULL && strcasecmp(v[i].name, "filename") == 0)
			return v[i].value;
	return mime_part_param(p, "name");
}

static void
spam_msg_walk(struct spam_msg *m, const struct mime_part *p, unsigned depth)
{
	const struct mime_part	*c;
	const char		*type, *sub, *disp, *fn;
	struct buf		 t = BUF_INIT;

	if (depth > 32)
		return;
	if (mime_part_is_multipart(p) || mime_part_is_message(p)) {
		for (c = mime_part_child(p); c != NULL; c = mime_part_next(c))
			spam_msg_walk(m, c, depth + 1);
		return;
	}
	type = mime_part_type(p);
	sub = mime_part_subtype(p);
	disp = mime_part_disposition(p);
	if ((fn = spam_part_filename(p)) != NULL && m->natt < SPAM_URI_MAX) {
		m->att = xreallocarray(m->att, m->natt + 1, sizeof(*m->att));
		m->att[m->natt++] = xstrdup(fn);
	}
	if (strcasecmp(type, "text") != 0 || (disp != NULL &&
	    strcasecmp(disp, "attachment") == 0) ||
	    m->text.len >= SPAM_TEXT_MAX)
		return;
	spam_part_text(m->raw, m->rawlen, p, &t);
	if (t.len == 0) {
		buf_free(&t);
		return;
	}
	buf_append(&m->rawbody, t.data, t.len);
	buf_putc(&m->rawbody, '\n');
	if (strcasecmp(sub, "html") == 0) {
		m->has_html = true;
		spam_html_strip(t.data, t.len, &m->text, &m->uri, &m->nuri);
	} else {
		if (strcasecmp(sub, "plain") == 0)
			m->has_plain = true;
		buf_append(&m->text, t.data, t.len);
	}
	buf_putc(&m->text, '\n');
	buf_free(&t);
}

void
spam_msg_init(struct spam_msg *m, const char *raw, size_t len)
{
	struct mime_msg	*mm;
	size_t		 n;

	memset(m, 0, sizeof(*m));
	buf_init(&m->text, 0);
	buf_init(&m->rawbody, 0);
	m->raw = raw;
	m->rawlen = len;
	m->hdr = raw;
	m->hlen = spam_hdr_end(raw, len);
	n = len < SPAM_PARSE_MAX ? len : SPAM_PARSE_MAX;
	if ((mm = mime_parse(raw, n, NULL)) == NULL)
		return;
	m->broken = (mime_msg_flags(mm) & MIME_MSG_BROKEN) != 0;
	spam_msg_walk(m, mime_msg_root(mm), 0);
	mime_msg_free(&mm);
	n = m->nuri;
	spam_text_uris(m->text.data != NULL ? m->text.data : "", m->text.len,
	    &m->uri, &m->nuri);
	(void)n;
}

void
spam_msg_clear(struct spam_msg *m)
{
	size_t	 i;

	for (i = 0; i < m->nuri; i++)
		free(m->uri[i]);
	free(m->uri);
	for (i = 0; i < m->natt; i++)
		free(m->att[i]);
	free(m->att);
	buf_free(&m->text);
	buf_free(&m->rawbody);
	memset(m, 0, sizeof(*m));
}

bool
spam_msg_header_any(const struct spam_msg *m, const char *name,
    bool (*fn)(void *, const char *, size_t), void *arg)
{
	struct mime_header_iter	 it;
	struct mime_header_field f;
	struct buf		 u = BUF_INIT, d = BUF_INIT;
	bool			 hit = false;

	if (strcmp(name, "ALL") == 0)
		return fn(arg, m->hdr, m->hlen);
	mime_header_iter_init(&it, m->hdr, m->hlen);
	while (!hit && mime_header_iter_next(&it, &f)) {
		if (f.name_len != strlen(name) ||
		    strncasecmp(f.name, name, f.name_len) != 0)
			continue;
		buf_reset(&u);
		buf_reset(&d);
		mime_header_unfold(f.value, f.value_len, &u);
		mime_decode_2047(u.data != NULL ? u.data : "", u.len, &d);
		hit = fn(arg, d.data != NULL ? d.data : "", d.len);
	}
	buf_free(&u);
	buf_free(&d);
	return hit;
}

/* ---- heuristics ------------------------------------------------------- */

static int
spam_month(const char *s)
{
	static const char	 mon[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int			 i;

	for (i = 0; i < 12; i++)
		if (strncasecmp(s, mon + 3 * i, 3) == 0)
			return i;
	return -1;
}

/* RFC 5322 3.3 date-time (and 4.3 obsolete forms); -1 if malformed. */
static int
spam_date_parse(const char *s, int64_t *t_r)
{
	struct tm	 tm;
	char		 mon[4], zone[16];
	int		 d, y, hh, mm, ss = 0, n = 0, off = 0, sign;
	const char	*p = s, *c;

	while (isspace((unsigned char)*p))
		p++;
	if ((c = strchr(p, ',')) != NULL)
		p = c + 1;
	memset(&tm, 0, sizeof(tm));
	zone[0] = '\0';
	if (sscanf(p, " %d %3s %d %d:%d%n", &d, mon, &y, &hh, &mm, &n) < 5 ||
	    n == 0)
		return -1;
	p += n;
	if (*p == ':' && sscanf(p, ":%d%n", &ss, &n) == 1)
		p += n;
	(void)sscanf(p, " %15s", zone);
	if ((tm.tm_mon = spam_month(mon)) == -1 || d < 1 || d > 31 ||
	    hh > 23 || hh < 0 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return -1;
	if (y < 50)
		y += 2000;
	else if (y < 1000)
		y += 1900;
	if (y > 9999)
		return -1;
	if (zone[0] == '+' || zone[0] == '-') {
		sign = zone[0] == '-' ? -1 : 1;
		if (strlen(zone) < 5 || !isdigit((unsigned char)zone[1]))
			return -1;
		off = sign * (((zone[1] - '0') * 10 + (zone[2] - '0')) * 60 +
		    (zone[3] - '0') * 10 + (zone[4] - '0'));
	} else if (zone[0] == '\0')
		return -1;
	tm.tm_mday = d;
	tm.tm_year = y - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*t_r = (int64_t)timegm(&tm) - off * 60;
	return 0;
}

static bool
spam_hdr_get(const struct spam_msg *m, const char *name, struct buf *out)
{
	return mime_header_get(m->hdr, m->hlen, name, out);
}

static unsigned
spam_hdr_count(const struct spam_msg *m, const char *name)
{
	struct mime_header_iter	 it;
	struct mime_header_field f;
	unsigned		 n = 0;

	mime_header_iter_init(&it, m->hdr, m->hlen);
	while (mime_header_iter_next(&it, &f))
		if (f.name_len == strlen(name) &&
		    strncasecmp(f.name, name, f.name_len) == 0)
			n++;
	return n;
}

/* Domain of the first mailbox in an address header, malloc'd, or NULL. */
static char *
spam_addr_domain(const struct spam_msg *m, const char *name)
{
	struct buf	 v = BUF_INIT;
	struct mime_addr *a = NULL;
	size_t		 i, n = 0;
	char		*d = NULL;

	if (spam_hdr_get(m, name, &v) && v.data != NULL)
		mime_addr_parse_list(v.data, v.len, &a, &n);
	for (i = 0; i < n && d == NULL; i++)
		if (a[i].kind == MIME_ADDR_MAILBOX && a[i].domain != NULL)
			d = xstrdup(a[i].domain);
	mime_addr_free_list(&a, n);
	buf_free(&v);
	return d;
}

static bool
spam_ip_same(const char *a, const char *b)
{
	unsigned char	 x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1)
		return inet_pton(AF_INET6, b, y) == 1 &&
		    memcmp(x, y, 16) == 0;
	return false;
}

static bool
spam_is_ip(const char *s)
{
	unsigned char	 x[16];

	return inet_pton(AF_INET, s, x) == 1 || inet_pton(AF_INET6, s, x) == 1;
}

static void
spam_helo(const struct spam_env *env, struct spam_result *r)
{
	char	 lit[64];
	size_t	 n;

	if (env->helo == NULL || env->helo[0] == '\0')
		return;
	if (env->helo[0] == '[') {
		n = strcspn(env->helo + 1, "]");
		if (n >= sizeof(lit))
			n = sizeof(lit) - 1;
		memcpy(lit, env->helo + 1, n);
		lit[n] = '\0';
		if (env->peer_ip != NULL && !spam_ip_same(strncasecmp(lit,
		    "IPv6:", 5) == 0 ? lit + 5 : lit, env->peer_ip))
			spam_result_add(r, "FORGED_HELO_IP", 1, 0, env->helo);
		return;
	}
	if (spam_is_ip(env->helo))
		spam_result_add(r, "HELO_BAREIP", 1, 0, env->helo);
	if (env->our_fqdn != NULL && strcasecmp(env->helo,
	    env->our_fqdn) == 0)
		spam_result_add(r, "FORGED_HELO_FQDN", 1, 0, env->helo);
}

static void
spam_auth(const struct spam_env *env, struct spam_result *r)
{
	static const char *const spf[] = { "R_SPF_NA", "R_SPF_ALLOW",
	    "R_SPF_FAIL", "R_SPF_SOFTFAIL", "R_SPF_NEUTRAL", "R_SPF_DNSFAIL",
	    "R_SPF_PERMFAIL" };
	static const char *const dkim[] = { "R_DKIM_NA", "R_DKIM_ALLOW",
	    "R_DKIM_REJECT", "R_DKIM_TEMPFAIL", "R_DKIM_PERMFAIL" };
	static const char *const dmarc[] = { "DMARC_NA", "DMARC_POLICY_ALLOW",
	    "DMARC_POLICY_REJECT", "DMARC_POLICY_QUARANTINE",
	    "DMARC_POLICY_SOFTFAIL", "DMARC_DNSFAIL" };

	if ((size_t)env->spf < sizeof(spf) / sizeof(spf[0]))
		spam_result_add(r, spf[env->spf], 1, 0, NULL);
	if ((size_t)env->dkim < sizeof(dkim) / sizeof(dkim[0]))
		spam_result_add(r, dkim[env->dkim], 1, 0, NULL);
	if ((size_t)env->dmarc < sizeof(dmarc) / sizeof(dmarc[0]))
		spam_result_add(r, dmarc[env->dmarc], 1, 0, NULL);
}

static void
spam_subject(const struct spam_msg *m, struct spam_result *r)
{
	struct buf	 raw = BUF_INIT, s = BUF_INIT;
	size_t		 i, up = 0, low = 0;
	const char	*p;

	if (!spam_hdr_get(m, "Subject", &raw)) {
		spam_result_add(r, "MISSING_SUBJECT", 1, 0, NULL);
		return;
	}
	mime_decode_2047(raw.data != NULL ? raw.data : "", raw.len, &s);
	p = s.data != NULL ? s.data : "";
	for (i = 0; i < s.len; i++) {
		if (isupper((unsigned char)p[i]))
			up++;
		else if (islower((unsigned char)p[i]))
			low++;
	}
	if (s.len == 0 || strspn(p, " \t") == s.len)
		spam_result_add(r, "EMPTY_SUBJECT", 1, 0, NULL);
	else if (up >= 10 && low == 0)
		spam_result_add(r, "SUBJ_ALL_CAPS", 1, 0, NULL);
	if (strstr(p, "!!!") != NULL || strstr(p, "$$$") != NULL ||
	    strstr(p, "???") != NULL)
		spam_result_add(r, "SUBJ_EXCESS_PUNCT", 1, 0, NULL);
	buf_free(&raw);
	buf_free(&s);
}

static bool
spam_bad_ext(const char *name, size_t len)
{
	static const char *const bad[] = { "exe", "scr", "js", "jse", "vbs",
	    "vbe", "bat", "cmd", "com", "pif", "cpl", "wsf", "wsh", "hta",
	    "msi", "lnk", "jar", "ps1", "reg", "iso", "img", "dll", "apk" };
	const char	*dot;
	size_t		 i, n;

	for (dot = NULL, i = 0; i < len; i++)
		if (name[i] == '.')
			dot = name + i;
	if (dot == NULL)
		return false;
	n = len - (size_t)(dot + 1 - name);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (n == strlen(bad[i]) && strncasecmp(dot + 1, bad[i], n) == 0)
			return true;
	return false;
}

static void
spam_attachments(const struct spam_msg *m, struct spam_result *r)
{
	const char	*a, *dot;
	size_t		 i, len;

	for (i = 0; i < m->natt; i++) {
		a = m->att[i];
		len = strlen(a);
		while (len > 0 && (a[len - 1] == ' ' || a[len - 1] == '.'))
			len--;
		if (!spam_bad_ext(a, len))
			continue;
		spam_result_add(r, "MIME_BAD_EXTENSION", 1, 0, a);
		/* "x.pdf.exe": a harmless-looking extension first. */
		for (dot = a + len - 1; dot > a && *dot != '.'; dot--)
			;
		if (dot > a && memchr(a, '.', (size_t)(dot - a)) != NULL &&
		    dot - a >= 4 && (size_t)(dot - a) < len)
			spam_result_add(r, "MIME_DOUBLE_BAD_EXTENSION", 1, 0,
			    a);
	}
}

/* Is the host of URI u a bare address (dotted, decimal, hex, [v6])? */
static bool
spam_uri_bare_ip(const char *u)
{
	char		 host[256];
	const char	*p = strstr(u, "://"), *at;
	size_t		 n, i;
	bool		 num = true, hex;

	if (p == NULL)
		return false;
	p += 3;
	n = strcspn(p, "/?#");
	if ((at = memchr(p, '@', n)) != NULL) {
		n -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	if (n > 0 && p[0] == '[')
		return true;
	n = strcspn(p, ":/?#");
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	if (n > 0 && host[n - 1] == '.')
		host[--n] = '\0';
	hex = n > 2 && host[0] == '0' && (host[1] == 'x' || host[1] == 'X');
	for (i = hex ? 2 : 0; i < n; i++)
		if (!(hex ? isxdigit((unsigned char)host[i]) :
		    (isdigit((unsigned char)host[i]) || host[i] == '.')))
			num = false;
	return num && n > 0;
}

void
spam_msg_heuristics(const struct spam_msg *m, const struct spam_env *env,
    struct spam_result *r)
{
	struct buf	 v = BUF_INIT;
	char		*fd, *rd;
	int64_t		 t, now;
	size_t		 i;

	spam_auth(env, r);
	spam_helo(env, r);
	now = env->now != 0 ? env->now : (int64_t)time(NULL);
	if (!spam_hdr_get(m, "Date", &v))
		spam_result_add(r, "MISSING_DATE", 1, 0, NULL);
	else if (spam_date_parse(v.data != NULL ? v.data : "", &t) == -1)
		spam_result_add(r, "INVALID_DATE", 1, 0, v.data);
	else if (t > now + 86400)
		spam_result_add(r, "DATE_IN_FUTURE", 1, 0, NULL);
	buf_reset(&v);
	if (!spam_hdr_get(m, "Message-ID", &v))
		spam_result_add(r, "MISSING_MID", 1, 0, NULL);
	else if (v.data == NULL || v.data[0] != '<' ||
	    strchr(v.data, '@') == NULL || strchr(v.data, '>') == NULL)
		spam_result_add(r, "INVALID_MSGID", 1, 0, v.data);
	i = spam_hdr_count(m, "From");
	if (i == 0)
		spam_result_add(r, "MISSING_FROM", 1, 0, NULL);
	else if (i > 1)
		spam_result_add(r, "MULTIPLE_FROM", 1, 0, NULL);
	buf_reset(&v);
	if (!spam_hdr_get(m, "To", &v))
		spam_result_add(r, "MISSING_TO", 1, 0, NULL);
	else if (v.data != NULL && strcasestr(v.data,
	    "undisclosed-recipients") != NULL)
		spam_result_add(r, "R_UNDISC_RCPT", 1, 0, NULL);
	fd = spam_addr_domain(m, "From");
	rd = spam_addr_domain(m, "Reply-To");
	if (fd != NULL && rd != NULL && strcasecmp(fd, rd) != 0)
		spam_result_add(r, "REPLYTO_DOM_NEQ_FROM_DOM", 1, 0, rd);
	free(fd);
	free(rd);
	buf_reset(&v);
	if (!spam_hdr_get(m, "MIME-Version", &v)) {
		buf_reset(&v);
		if ((spam_hdr_get(m, "Content-Type", &v) && v.data != NULL &&
		    strncasecmp(v.data, "multipart/", 10) == 0) ||
		    spam_hdr_count(m, "Content-Transfer-Encoding") > 0)
			spam_result_add(r, "MISSING_MIME_VERSION", 1, 0, NULL);
	}
	buf_free(&v);
	spam_subject(m, r);
	if (m->has_html && !m->has_plain)
		spam_result_add(r, "MIME_HTML_ONLY", 1, 0, NULL);
	if (m->broken)
		spam_result_add(r, "MIME_BROKEN", 1, 0, NULL);
	spam_attachments(m, r);
	for (i = 0; i < m->nuri; i++)
		if (spam_uri_bare_ip(m->uri[i])) {
			spam_result_add(r, "URL_BARE_IP", 1, 0, m->uri[i]);
			break;
		}
	if (memmem(m->raw, m->rawlen, SPAM_GTUBE, sizeof(SPAM_GTUBE) - 1)
	    != NULL)
		spam_result_add(r, "GTUBE", 1, 0, NULL);
}
