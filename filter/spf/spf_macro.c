/*
 * spf_macro.c - SPF macro expansion (RFC 7208 7): %{s l o d i p h c r t v}
 * with the digit and "r" transformers, custom delimiters, %% %_ %-, and
 * URL escaping for upper-case macro letters (7.3).  Pure functions over
 * caller-owned strings; output is bounded by SPF_MACRO_OUT_MAX.  [any]
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"
#include "spf_private.h"

#define SPF_MACRO_PARTS	128	/* labels we split one value into */

void
spf_macro_ip_dotted(const struct spf_ip *ip, char *buf, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;

	if (!ip->v6) {
		snprintf(buf, size, "%u.%u.%u.%u", ip->a[0], ip->a[1],
		    ip->a[2], ip->a[3]);
		return;
	}
	/* RFC 7208 7.3: dot-format, one nibble per label, not reversed. */
	for (i = 0; i < 16 && o + 4 < size; i++) {
		buf[o++] = hex[ip->a[i] >> 4];
		buf[o++] = '.';
		buf[o++] = hex[ip->a[i] & 0xf];
		buf[o++] = i == 15 ? '\0' : '.';
	}
	if (o < size)
		buf[o] = '\0';
	else if (size > 0)
		buf[size - 1] = '\0';
}

bool
spf_macro_uses_p(const char *in)
{
	const char *s;

	for (s = in; (s = strchr(s, '%')) != NULL; s++) {
		if (s[1] == '{' && (s[2] == 'p' || s[2] == 'P'))
			return true;
		if (s[1] != '\0')
			s++;			/* skip %% and friends */
	}
	return false;
}

static bool
spf_macro_is_delim(char c)
{
	return strchr(".-+,/_=", c) != NULL && c != '\0';
}

static bool
spf_macro_unreserved(unsigned char c)
{
	/* RFC 3986 2.3 unreserved. */
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* The value of one macro letter (lower case) into val (>= 64 bytes). */
static const char *
spf_macro_value(char letter, const struct spf_macro_ctx *ctx, char *val,
    size_t size)
{
	switch (letter) {
	case 's': return ctx->s;
	case 'l': return ctx->l;
	case 'o': return ctx->o;
	case 'd': return ctx->d;
	case 'h': return ctx->h;
	case 'r': return ctx->r != NULL ? ctx->r : "unknown";
	case 'p': return ctx->p != NULL ? ctx->p : "unknown";
	case 'v': return ctx->ip->v6 ? "ip6" : "in-addr";
	case 'i':
		spf_macro_ip_dotted(ctx->ip, val, size);
		return val;
	case 'c':
		/* Readable form: RFC 7208 7.3. */
		if (inet_ntop(ctx->ip->v6 ? AF_INET6 : AF_INET, ctx->ip->a,
		    val, size) == NULL)
			val[0] = '\0';
		return val;
	case 't':
		snprintf(val, size, "%lld", (long long)ctx->t);
		return val;
	}
	return "";
}

/*
 * Apply transformers and delimiters (7.3): split on delims, optionally
 * reverse, keep the rightmost ndigits parts, join with ".".
 */
static int
spf_macro_transform(struct buf *out, const char *v, const char *delims,
    unsigned long digits, bool reverse, bool escape)
{
	const char	*part[SPF_MACRO_PARTS];
	size_t		 plen[SPF_MACRO_PARTS];
	size_t		 n = 0, i, first, len;
	const char	*s, *start;

	for (s = start = v;; s++) {
		if (*s == '\0' || strchr(delims, *s) != NULL) {
			if (n == SPF_MACRO_PARTS)
				return -1;
			part[n] = start;
			plen[n++] = (size_t)(s - start);
			if (*s == '\0')
				break;
			start = s + 1;
		}
	}
	if (reverse) {
		for (i = 0; i < n / 2; i++) {
			const char	*tp = part[i];
			size_t		 tl = plen[i];

			part[i] = part[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			part[n - 1 - i] = tp;
			plen[n - 1 - i] = tl;
		}
	}
	first = (digits != 0 && digits < n) ? n - digits : 0;
	for (i = first; i < n; i++) {
		if (i > first && buf_putc(out, '.') == -1)
			return -1;
		for (len = 0; len < plen[i]; len++) {
			unsigned char c = (unsigned char)part[i][len];

			if (escape && !spf_macro_unreserved(c)) {
				if (buf_printf(out, "%%%02X", c) == -1)
					return -1;
			} else if (buf_putc(out, (char)c) == -1)
				return -1;
		}
	}
	return 0;
}

int
spf_macro_expand(const char *in, const struct spf_macro_ctx *ctx, int flags,
    char **out_r, const char **error_r)
{
	struct buf	 out;
	const char	*s = in, *v;
	char		 delims[8], val[96];
	unsigned long	 digits;
	bool		 reverse, upper;
	char		 letter;
	size_t		 nd;

	buf_init(&out, SPF_MACRO_OUT_MAX);
	if (buf_puts(&out, "") == -1)
		goto toolong;
	while (*s != '\0') {
		unsigned char c = (unsigned char)*s;

		if (c != '%') {
			/* macro-literal = %x21-24 / %x26-7E; SP in exp only. */
			if (c < 0x21 || c > 0x7e) {
				if (!(c == ' ' && (flags & SPF_MACRO_EXP))) {
					*error_r = "invalid character in "
					    "macro-string";
					goto fail;
				}
			}
			if (buf_putc(&out, (char)c) == -1)
				goto toolong;
			s++;
			continue;
		}
		switch (s[1]) {
		case '%':
			if (buf_putc(&out, '%') == -1)
				goto toolong;
			s += 2;
			continue;
		case '_':
			if (buf_putc(&out, ' ') == -1)
				goto toolong;
			s += 2;
			continue;
		case '-':
			if (buf_puts(&out, "%20") == -1)
				goto toolong;
			s += 2;
			continue;
		case '{':
			break;
		default:
			*error_r = "invalid macro: '%' not followed by "
			    "'{', '%', '_' or '-'";
			goto fail;
		}
		s += 2;
		letter = *s;
		upper = letter >= 'A' && letter <= 'Z';
		if (upper)
			letter = (char)(letter - 'A' + 'a');
		if (letter == '\0' || strchr("slodiphcrtv", letter) == NULL) {
			*error_r = "invalid macro letter";
			goto fail;
		}
		if (strchr("crt", letter) != NULL &&
		    !(flags & SPF_MACRO_EXP)) {
			*error_r = "macro c, r or t outside exp";
			goto fail;
		}
		s++;
		digits = 0;
		nd = 0;
		while (*s >= '0' && *s <= '9') {
			if (digits < 1000)
				digits = digits * 10 + (unsigned long)(*s - '0');
			s++;
			nd++;
		}
		if (nd > 0 && digits == 0) {
			*error_r = "macro transformer 0";	/* 7.3 */
			goto fail;
		}
		reverse = false;
		if (*s == 'r' || *s == 'R') {
			reverse = true;
			s++;
		}
		nd = 0;
		while (spf_macro_is_delim(*s)) {
			if (nd < sizeof(delims) - 1 &&
			    memchr(delims, *s, nd) == NULL)
				delims[nd++] = *s;
			s++;
		}
		delims[nd] = '\0';
		if (nd == 0) {
			delims[0] = '.';
			delims[1] = '\0';
		}
		if (*s != '}') {
			*error_r = "unterminated or malformed macro";
			goto fail;
		}
		s++;
		if (ctx == NULL)
			continue;
		v = spf_macro_value(letter, ctx, val, sizeof(val));
		if (v == NULL)
			v = "";
		if (spf_macro_transform(&out, v, delims, digits, reverse,
		    upper) == -1)
			goto toolong;
	}
	*out_r = buf_steal(&out, NULL);
	return 0;
toolong:
	*error_r = "macro expansion too long";
fail:
	buf_free(&out);
	return -1;
}
