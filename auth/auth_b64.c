/*
 * auth_b64.c - base64 (RFC 4648 section 4) for SASL exchanges in SMTP
 * AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 3501) and POP3 AUTH (RFC 5034).
 *
 * The decoder is strict on purpose: no whitespace, the length a multiple
 * of four, "=" only as final padding, and zero bits after the data, so
 * each byte string has exactly one accepted encoding and junk is refused
 * rather than half-decoded.  Owns nothing.  [any]
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "xmalloc.h"

static const char auth_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
auth_b64_encode(const void *data, size_t len)
{
	const unsigned char	*p = data;
	char			*out, *o;
	size_t			 i;
	uint32_t		 v;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		abort();		/* cannot happen for SASL data */
	out = o = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = auth_b64_alphabet[v >> 18 & 63];
		*o++ = auth_b64_alphabet[v >> 12 & 63];
		*o++ = auth_b64_alphabet[v >> 6 & 63];
		*o++ = auth_b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		*o++ = auth_b64_alphabet[v >> 18 & 63];
		*o++ = auth_b64_alphabet[v >> 12 & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = auth_b64_alphabet[v >> 18 & 63];
		*o++ = auth_b64_alphabet[v >> 12 & 63];
		*o++ = auth_b64_alphabet[v >> 6 & 63];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
auth_b64_value(unsigned char c)
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

int
auth_b64_decode(const char *in, size_t in_len, char **out_r,
    size_t *out_len_r, const char **error_r)
{
	unsigned char	*out;
	size_t		 i, o = 0, pad = 0;
	uint32_t	 v;
	int		 d, k;

	*out_r = NULL;
	*out_len_r = 0;
	if (in_len % 4 != 0) {
		*error_r = "base64 length is not a multiple of 4";
		return -1;
	}
	if (in_len > 0 && in[in_len - 1] == '=')
		pad = (in_len > 1 && in[in_len - 2] == '=') ? 2 : 1;
	out = xmalloc(in_len / 4 * 3 + 1);
	for (i = 0; i < in_len; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			/* Padding only in the last group's last places. */
			if (i + 4 == in_len && k >= 4 - (int)pad) {
				v <<= 6;
				continue;
			}
			if ((d = auth_b64_value((unsigned char)in[i + k])) < 0) {
				free(out);
				*error_r = "invalid base64 character";
				return -1;
			}
			v = v << 6 | (uint32_t)d;
		}
		if (i + 4 == in_len && pad == 2) {
			if ((v & 0xffff) != 0)
				goto nonzero;
			out[o++] = (unsigned char)(v >> 16);
		} else if (i + 4 == in_len && pad == 1) {
			if ((v & 0xff) != 0)
				goto nonzero;
			out[o++] = (unsigned char)(v >> 16);
			out[o++] = (unsigned char)(v >> 8);
		} else {
			out[o++] = (unsigned char)(v >> 16);
			out[o++] = (unsigned char)(v >> 8);
			out[o++] = (unsigned char)v;
		}
	}
	out[o] = '\0';
	*out_r = (char *)out;
	*out_len_r = o;
	return 0;

nonzero:
	free(out);
	*error_r = "base64 has bits set after the data";
	return -1;
}
