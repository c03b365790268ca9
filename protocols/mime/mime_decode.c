/*
 * mime_decode.c - decoders: RFC 2047 encoded words, the base64 and
 * quoted-printable transfer encodings (RFC 2045 6.7, 6.8) and charset
 * conversion to UTF-8 through iconv.  Tolerant by design: what cannot be
 * decoded is passed through, never an error.  Owns nothing.  [any]
 */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "mime_private.h"
#include "xmalloc.h"

#define MIME_CHARSET_MAX	64

static const char mime_fffd[] = "\xef\xbf\xbd";

enum mime_cte
mime_cte_parse(const char *s, size_t len)
{
	static const struct {
		const char	*name;
		enum mime_cte	 cte;
	} tab[] = {
		{ "7bit", MIME_CTE_7BIT },
		{ "8bit", MIME_CTE_8BIT },
		{ "binary", MIME_CTE_BINARY },
		{ "quoted-printable", MIME_CTE_QP },
		{ "base64", MIME_CTE_BASE64 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].name) == len &&
		    strncasecmp(tab[i].name, s, len) == 0)
			return tab[i].cte;
	return MIME_CTE_OTHER;
}

/* Length of the valid UTF-8 sequence at s, or 0 (RFC 3629 4). */
static size_t
mime_utf8_seq(const unsigned char *s, size_t len)
{
	size_t		 n, i;
	unsigned int	 c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* Copy valid UTF-8, each bad byte as U+FFFD. */
static void
mime_utf8_copy(const char *in, size_t len, struct buf *out)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 i = 0, n;

	while (i < len) {
		if ((n = mime_utf8_seq(s + i, len - i)) == 0) {
			buf_puts(out, mime_fffd);
			i++;
			continue;
		}
		buf_append(out, s + i, n);
		i += n;
	}
}

static bool
mime_charset_is(const char *cs, const char *name)
{
	return strcasecmp(cs, name) == 0;
}

int
mime_charset_to_utf8(const char *charset, const char *in, size_t len,
    struct buf *out)
{
	char		 cs[MIME_CHARSET_MAX], obuf[1024], *ip, *op;
	size_t		 i, il, ol;
	iconv_t		 cd;

	/* RFC 2231 5: "charset*language"; also sanitise for iconv. */
	for (i = 0; charset[i] != '\0' && charset[i] != '*'; i++) {
		if (i + 1 >= sizeof(cs) || !(charset[i] == '-' ||
		    charset[i] == '_' || charset[i] == '.' ||
		    charset[i] == ':' || (charset[i] >= '0' &&
		    charset[i] <= '9') || (charset[i] >= 'a' &&
		    charset[i] <= 'z') || (charset[i] >= 'A' &&
		    charset[i] <= 'Z'))) {
			mime_utf8_copy(in, len, out);
			return -1;
		}
		cs[i] = charset[i];
	}
	cs[i] = '\0';
	if (i == 0 || mime_charset_is(cs, "utf-8") ||
	    mime_charset_is(cs, "utf8") || mime_charset_is(cs, "us-ascii") ||
	    mime_charset_is(cs, "ascii")) {
		mime_utf8_copy(in, len, out);
		return 0;
	}
	/* Stateful converters with a record of output bugs stay out. */
	if (strncasecmp(cs, "iso-2022-cn", 11) == 0 ||
	    (cd = iconv_open("UTF-8", cs)) == (iconv_t)-1) {
		mime_utf8_copy(in, len, out);
		return -1;
	}
	ip = (char *)(uintptr_t)in;	/* iconv's prototype is not const */
	il = len;
	while (il > 0) {
		op = obuf;
		ol = sizeof(obuf);
		if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1) {
			buf_append(out, obuf, (size_t)(op - obuf));
			continue;
		}
		buf_append(out, obuf, (size_t)(op - obuf));
		if (errno == E2BIG)
			continue;
		buf_puts(out, mime_fffd);
		if (errno != EILSEQ)
			break;		/* EINVAL: truncated at the end */
		ip++;
		il--;
	}
	op = obuf;
	ol = sizeof(obuf);
	if (iconv(cd, NULL, NULL, &op, &ol) != (size_t)-1)
		buf_append(out, obuf, (size_t)(op - obuf));
	iconv_close(cd);
	return 0;
}

/* ---- base64 and quoted-printable ---- */

/* Decode base64; strict: refuse anything but the canonical encoding. */
static int
mime_b64_decode(const char *in, size_t len, bool strict, struct buf *out)
{
	return b64_decode(in, len, strict ? B64_STRICT : B64_LENIENT, out);
}

static int
mime_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
mime_qp_decode(const char *in, size_t len, struct buf *out)
{
	size_t	 i = 0, j, ws;
	int	 h, l;

	while (i < len) {
		if (in[i] == ' ' || in[i] == '\t') {
			/* Rule 3: white space at the end of a line is dropped. */
			for (j = i; j < len && (in[j] == ' ' || in[j] == '\t');
			    j++)
				;
			ws = j - i;
			if (j == len || in[j] == '\n' || (in[j] == '\r' &&
			    j + 1 < len && in[j + 1] == '\n')) {
				i = j;
				continue;
			}
			buf_append(out, in + i, ws);
			i = j;
			continue;
		}
		if (in[i] != '=') {
			buf_putc(out, in[i++]);
			continue;
		}
		/* Soft line break: "=" [WSP] CRLF (rule 5). */
		for (j = i + 1; j < len && (in[j] == ' ' || in[j] == '\t'); j++)
			;
		if (j == len) {
			i = j;
			continue;
		}
		if (in[j] == '\n') {
			i = j + 1;
			continue;
		}
		if (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n') {
			i = j + 2;
			continue;
		}
		if (i + 2 < len && (h = mime_hex((unsigned char)in[i + 1])) >= 0 &&
		    (l = mime_hex((unsigned char)in[i + 2])) >= 0) {
			buf_putc(out, (char)(h * 16 + l));
			i += 3;
			continue;
		}
		buf_putc(out, in[i++]);		/* stray "=": keep it */
	}
}

void
mime_decode_cte(enum mime_cte cte, const char *in, size_t len,
    struct buf *out)
{
	switch (cte) {
	case MIME_CTE_BASE64:
		(void)mime_b64_decode(in, len, false, out);
		break;
	case MIME_CTE_QP:
		mime_qp_decode(in, len, out);
		break;
	default:
		buf_append(out, in, len);
		break;
	}
	if (out->data == NULL)
		buf_append(out, "", 0);
}

/* ---- RFC 2047 ---- */

struct mime_word {
	const char	*start, *end;	/* the whole "=?...?=" */
	char		 charset[MIME_CHARSET_MAX];
	char		 enc;		/* 'B' or 'Q' */
	const char	*text, *text_end;
};

/* Parse an encoded word at s (RFC 2047 2); no white space inside. */
static bool
mime_word_parse(const char *s, const char *end, struct mime_word *w)
{
	const char	*p = s + 2, *cs = p, *q;
	size_t		 n;

	if (end - s < 8 || s[0] != '=' || s[1] != '?')
		return false;
	while (p < end && *p != '?' && *p > 0x20 && *p < 0x7f)
		p++;
	if (p >= end || *p != '?' || p == cs ||
	    (n = (size_t)(p - cs)) >= sizeof(w->charset))
		return false;
	memcpy(w->charset, cs, n);
	w->charset[n] = '\0';
	p++;
	if (end - p < 3 || p[1] != '?')
		return false;
	if (*p == 'B' || *p == 'b')
		w->enc = 'B';
	else if (*p == 'Q' || *p == 'q')
		w->enc = 'Q';
	else
		return false;
	w->text = p + 2;
	for (q = w->text; q + 1 < end; q++) {
		if (*q == '?' && q[1] == '=') {
			w->text_end = q;
			w->start = s;
			w->end = q + 2;
			return true;
		}
		if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
			return false;
	}
	return false;
}

static bool
mime_word_bytes(const struct mime_word *w, struct buf *bytes)
{
	const char	*p;
	int		 h, l;

	if (w->enc == 'B')
		return mime_b64_decode(w->text, (size_t)(w->text_end - w->text),
		    true, bytes) == 0;
	/* RFC 2047 4.2: "_" is space, "=XX" an octet. */
	for (p = w->text; p < w->text_end; p++) {
		if (*p == '_')
			buf_putc(bytes, ' ');
		else if (*p == '=' && p + 2 < w->text_end &&
		    (h = mime_hex((unsigned char)p[1])) >= 0 &&
		    (l = mime_hex((unsigned char)p[2])) >= 0) {
			buf_putc(bytes, (char)(h * 16 + l));
			p += 2;
		} else
			buf_putc(bytes, *p);
	}
	return true;
}

static bool
mime_is_lwsp(const char *s, const char *e)
{
	for (; s < e; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
	return true;
}

static void
mime_append_unfolded(struct buf *out, const char *s, const char *e)
{
	for (; s < e; s++)
		if (*s != '\r' && *s != '\n')
			buf_putc(out, *s);
}

static void
mime_flush_pending(struct buf *pend, const char *charset, struct buf *out)
{
	if (pend->len == 0)
		return;
	(void)mime_charset_to_utf8(charset, pend->data, pend->len, out);
	buf_reset(pend);
}

void
mime_decode_2047(const char *in, size_t len, struct buf *out)
{
	const char	*p = in, *end = in + len, *q, *lit;
	struct mime_word w;
	struct buf	 pend, bytes;
	char		 pend_cs[MIME_CHARSET_MAX] = "";
	bool		 prev_word = false;

	buf_init(&pend, 0);
	buf_init(&bytes, 0);
	lit = p;
	while (p < end) {
		q = memchr(p, '=', (size_t)(end - p));
		if (q == NULL)
			break;
		if (!mime_word_parse(q, end, &w)) {
			p = q + 1;
			continue;
		}
		buf_reset(&bytes);
		if (!mime_word_bytes(&w, &bytes) ||
		    mime_charset_to_utf8(w.charset, "", 0, out) != 0) {
			/* Invalid word or unknown charset: keep it as is. */
			p = q + 1;
			continue;
		}
		/* RFC 2047 6.2: white space between adjacent words goes. */
		if (!(prev_word && mime_is_lwsp(lit, q))) {
			mime_flush_pending(&pend, pend_cs, out);
			mime_append_unfolded(out, lit, q);
		}
		/* Same charset: join the bytes so split characters survive. */
		if (pend.len > 0 && strcasecmp(pend_cs, w.charset) != 0)
			mime_flush_pending(&pend, pend_cs, out);
		memcpy(pend_cs, w.charset, sizeof(pend_cs));
		buf_append(&pend, bytes.data != NULL ? bytes.data : "",
		    bytes.len);
		prev_word = true;
		p = lit = w.end;
	}
	mime_flush_pending(&pend, pend_cs, out);
	mime_append_unfolded(out, lit, end);
	if (out->data == NULL)
		buf_append(out, "", 0);
	buf_free(&pend);
	buf_free(&bytes);
}
