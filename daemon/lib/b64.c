/*
 * b64.c - base64 encoding and decoding with strict and lenient modes.
 * Strict mode is what SASL (RFC 4422) and DKIM (RFC 6376 3.5 b=, bh=, p=)
 * need: the input must be the canonical encoding.  Lenient mode follows
 * RFC 2045 6.8 for mail bodies: characters outside the alphabet are
 * ignored and a missing or odd tail is decoded as far as it goes.  [any]
 */
#include <stdint.h>
#include <string.h>

#include "b64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void
b64_encode(const void *data, size_t len, struct buf *out)
{
	const unsigned char	*p = data;
	char			 q[4];
	uint32_t		 v;
	size_t			 i;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		q[0] = b64_alphabet[v >> 18 & 63];
		q[1] = b64_alphabet[v >> 12 & 63];
		q[2] = b64_alphabet[v >> 6 & 63];
		q[3] = b64_alphabet[v & 63];
		buf_append(out, q, 4);
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		q[0] = b64_alphabet[v >> 18 & 63];
		q[1] = b64_alphabet[v >> 12 & 63];
		q[2] = q[3] = '=';
		buf_append(out, q, 4);
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		q[0] = b64_alphabet[v >> 18 & 63];
		q[1] = b64_alphabet[v >> 12 & 63];
		q[2] = b64_alphabet[v >> 6 & 63];
		q[3] = '=';
		buf_append(out, q, 4);
	}
}

static int
b64_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
b64_decode(const char *in, size_t len, int flags, struct buf *out)
{
	size_t		 start = out->len, i, cnt = 0, pad = 0;
	uint32_t	 acc = 0;
	char		 tmp[3];
	int		 v;

	for (i = 0; i < len; i++) {
		if ((flags & (B64_SKIP_WS | B64_LENIENT)) && b64_is_ws(in[i]))
			continue;
		if (in[i] == '=') {
			if (flags & B64_LENIENT) {
				/* Padding ends a quantum (RFC 2045 6.8). */
				if (cnt % 4 == 2)
					buf_putc(out, (char)(acc >> 4));
				else if (cnt % 4 == 3) {
					tmp[0] = (char)(acc >> 10);
					tmp[1] = (char)(acc >> 2);
					buf_append(out, tmp, 2);
				}
				cnt = 0;
				acc = 0;
				continue;
			}
			pad++;
			continue;
		}
		if ((v = b64_value((unsigned char)in[i])) < 0) {
			if (flags & B64_LENIENT)
				continue;
			goto bad;
		}
		if (pad > 0)
			goto bad;			/* data after padding */
		acc = acc << 6 | (uint32_t)v;
		if (++cnt % 4 == 0) {
			tmp[0] = (char)(acc >> 16);
			tmp[1] = (char)(acc >> 8);
			tmp[2] = (char)acc;
			if (buf_append(out, tmp, 3) == -1)
				goto bad;
			acc = 0;
		}
	}
	switch (cnt % 4) {
	case 0:
		if (pad != 0 && !(flags & B64_LENIENT))
			goto bad;
		break;
	case 2:
		if (!(flags & B64_LENIENT) && (pad != 2 || (acc & 0xf) != 0))
			goto bad;
		buf_putc(out, (char)(acc >> 4));
		break;
	case 3:
		if (!(flags & B64_LENIENT) && (pad != 1 || (acc & 0x3) != 0))
			goto bad;
		tmp[0] = (char)(acc >> 10);
		tmp[1] = (char)(acc >> 2);
		buf_append(out, tmp, 2);
		break;
	default:
		if (!(flags & B64_LENIENT))
			goto bad;		/* one dangling character */
		break;
	}
	return 0;
bad:
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}
