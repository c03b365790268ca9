/*
 * b64.h - base64 (RFC 4648 section 4), one implementation for every
 * protocol: SASL (strict), DKIM tags (strict, folding white space
 * allowed) and MIME bodies and encoded words (lenient, RFC 2045 6.8).  [any]
 */
#ifndef B64_H
#define B64_H
#include <stddef.h>

#include "buf.h"

#define B64_STRICT	0x00	/* padding exact, no stray bits, no junk */
#define B64_SKIP_WS	0x01	/* ignore SP, HTAB, CR, LF anywhere */
#define B64_LENIENT	0x02	/* skip non-alphabet bytes, accept any tail */

/* The value of one alphabet character, or -1. */
int	 b64_value(unsigned char);
/* Append the encoding of data to out (with padding). */
void	 b64_encode(const void *data, size_t len, struct buf *out);
/* Append the decoded bytes to out; -1 on invalid input (out unchanged). */
int	 b64_decode(const char *in, size_t len, int flags, struct buf *out);
#endif
