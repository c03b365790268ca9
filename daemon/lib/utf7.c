/*
 * utf7.c - IMAP modified UTF-7 (RFC 3501 5.1.3, RFC 2152) <-> UTF-8, and a
 * strict UTF-8 validator.
 *
 * Only the canonical form is accepted on decode, so every valid name has
 * exactly one spelling and encode(decode(x)) == x holds for all valid x:
 *   - printable US-ASCII (0x20-0x7e) other than '&' stands for itself and
 *     must never appear base64-encoded; '&' is written "&-";
 *   - a base64 run ("&" modified-BASE64 "-") is non-empty, terminated by
 *     '-', uses ',' instead of '/', has no '=' padding, uses the fewest
 *     characters for its UTF-16 units and leaves its spare bits zero;
 *   - two runs never touch ("&AGE-&AGI-" must be "&AGEAYg-");
 *   - UTF-16 surrogates come in pairs, and U+0000 is never encoded.
 * Owns nothing beyond the caller's output buffer.  [any]: pure code.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "utf7.h"

static const char utf7_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
utf7_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static bool
utf7_printable(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Append code point cp as UTF-8 (cp already known to be a scalar value). */
static int
utf7_put_utf8(struct buf *out, uint32_t cp)
{
	char	 s[4];
	size_t	 n;

	if (out == NULL)
		return 0;
	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xc0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		s[0] = (char)(0xf0 | (cp >> 18));
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, s, n);
}

/*
 * Decode one base64 run starting just after '&' at in[*pos].  On success
 * *pos points just past the closing '-'.
 */
static int
utf7_decode_run(const unsigned char *in, size_t len, size_t *pos,
    struct buf *out)
{
	uint32_t	 bits = 0, high = 0, unit, cp;
	unsigned int	 nbits = 0;
	size_t		 i = *pos, nchars = 0;
	int		 v;

	for (;;) {
		if (i >= len)
			return -1;		/* unterminated run */
		if (in[i] == '-')
			break;
		if ((v = utf7_b64_value(in[i])) == -1)
			return -1;		/* includes '=' padding */
		i++;
		nchars++;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		unit = (bits >> nbits) & 0xffff;
		bits &= (1U << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;	/* high surrogate alone */
			cp = 0x10000 + ((high - 0xd800) << 10) +
			    (unit - 0xdc00);
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
			continue;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return -1;		/* low surrogate alone */
		} else
			cp = unit;
		/* Printable ASCII must be written directly; NUL never. */
		if (cp == 0 || utf7_printable(cp))
			return -1;
		if (utf7_put_utf8(out, cp) == -1)
			return -1;
	}
	/* "&-" is handled by the caller; an empty run here is invalid. */
	if (nchars == 0 || high != 0)
		return -1;
	/* Canonical: fewer than 6 spare bits, and they are zero. */
	if (nbits >= 6 || bits != 0)
		return -1;
	*pos = i + 1;
	return 0;
}

static int
utf7_decode_to(const char *in0, size_t len, struct buf *out)
{
	const unsigned char	*in = (const unsigned char *)in0;
	size_t			 i = 0;
	bool			 after_run = false;

	while (i < len) {
		if (in[i] != '&') {
			if (!utf7_printable(in[i]))
				return -1;
			if (out != NULL && buf_putc(out, (char)in[i]) == -1)
				return -1;
			i++;
			after_run = false;
			continue;
		}
		if (i + 1 < len && in[i + 1] == '-') {
			if (out != NULL && buf_putc(out, '&') == -1)
				return -1;
			i += 2;
			after_run = false;
			continue;
		}
		/* Two adjacent runs are one run written twice: not canonical. */
		if (after_run)
			return -1;
		i++;
		if (utf7_decode_run(in, len, &i, out) == -1)
			return -1;
		after_run = true;
	}
	return 0;
}

int
utf7_decode(const char *in, size_t len, struct buf *out)
{
	size_t	 orig = out->len;

	if (utf7_decode_to(in, len, out) == -1) {
		/* Leave the buffer as it was. */
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
		return -1;
	}
	return 0;
}

bool
utf7_valid(const char *in, size_t len)
{
	return utf7_decode_to(in, len, NULL) == 0;
}

/*
 * Read one UTF-8 sequence at s[*pos]; -1 if it is not a shortest-form
 * encoding of a Unicode scalar value (RFC 3629 section 4).
 */
static int
utf8_next(const unsigned char *s, size_t len, size_t *pos, uint32_t *cp_r)
{
	size_t		 i = *pos, n, k;
	uint32_t	 cp;
	unsigned char	 c = s[i];

	if (c < 0x80) {
		*cp_r = c;
		*pos = i + 1;
		return 0;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
	} else
		return -1;		/* continuation, C0/C1 overlong, > F4 */
	if (n > len - i - 1)
		return -1;
	for (k = 1; k <= n; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i + k] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	*pos = i + n + 1;
	return 0;
}

bool
utf8_valid(const char *in, size_t len)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 i = 0;
	uint32_t		 cp;

	while (i < len)
		if (utf8_next(s, len, &i, &cp) == -1)
			return false;
	return true;
}

/* Flush pending UTF-16 units of a run as base64, then close it. */
static int
utf7_flush(struct buf *out, uint32_t *bits, unsigned int *nbits)
{
	if (*nbits > 0) {
		/* Pad the last sextet with zero bits. */
		if (buf_putc(out,
		    utf7_b64[(*bits << (6 - *nbits)) & 0x3f]) == -1)
			return -1;
	}
	*bits = 0;
	*nbits = 0;
	return buf_putc(out, '-');
}

static int
utf7_put_unit(struct buf *out, uint32_t unit, uint32_t *bits,
    unsigned int *nbits)
{
	*bits = (*bits << 16) | unit;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		if (buf_putc(out, utf7_b64[(*bits >> *nbits) & 0x3f]) == -1)
			return -1;
	}
	*bits &= (1U << *nbits) - 1;
	return 0;
}

static int
utf7_encode_to(const char *in0, size_t len, struct buf *out)
{
	const unsigned char	*in = (const unsigned char *)in0;
	size_t			 i = 0;
	uint32_t		 cp, bits = 0;
	unsigned int		 nbits = 0;
	bool			 in_run = false;

	while (i < len) {
		if (utf8_next(in, len, &i, &cp) == -1 || cp == 0)
			return -1;
		if (utf7_printable(cp)) {
			if (in_run && utf7_flush(out, &bits, &nbits) == -1)
				return -1;
			in_run = false;
			if (cp == '&') {
				if (buf_append(out, "&-", 2) == -1)
					return -1;
			} else if (buf_putc(out, (char)cp) == -1)
				return -1;
			continue;
		}
		if (!in_run) {
			if (buf_putc(out, '&') == -1)
				return -1;
			in_run = true;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			if (utf7_put_unit(out, 0xd800 + (cp >> 10), &bits,
			    &nbits) == -1 ||
			    utf7_put_unit(out, 0xdc00 + (cp & 0x3ff), &bits,
			    &nbits) == -1)
				return -1;
		} else if (utf7_put_unit(out, cp, &bits, &nbits) == -1)
			return -1;
	}
	if (in_run && utf7_flush(out, &bits, &nbits) == -1)
		return -1;
	return 0;
}

int
utf7_encode(const char *in, size_t len, struct buf *out)
{
	size_t	 orig = out->len;

	if (utf7_encode_to(in, len, out) == -1) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
		return -1;
	}
	return 0;
}
