/*
 * auth_b64.c - base64 (RFC 4648 section 4) for SASL exchanges in SMTP
 * AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 3501) and POP3 AUTH (RFC 5034).
 *
 * The decoder is strict on purpose (b64.h B64_STRICT): no whitespace, the
 * length a multiple of four, "=" only as final padding, and zero bits
 * after the data, so each byte string has exactly one accepted encoding
 * and junk is refused rather than half-decoded.  Owns nothing.  [any]
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "b64.h"
#include "buf.h"

char *
auth_b64_encode(const void *data, size_t len)
{
	struct buf	 b = BUF_INIT;

	b64_encode(data, len, &b);
	return buf_steal(&b, NULL);
}

int
auth_b64_decode(const char *in, size_t in_len, char **out_r,
    size_t *out_len_r, const char **error_r)
{
	struct buf	 b = BUF_INIT;

	*out_r = NULL;
	*out_len_r = 0;
	if (b64_decode(in, in_len, B64_STRICT, &b) == -1) {
		buf_free(&b);
		*error_r = "invalid base64";
		return -1;
	}
	*out_r = buf_steal(&b, out_len_r);
	return 0;
}
