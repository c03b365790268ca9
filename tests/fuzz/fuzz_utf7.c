/*
 * fuzz_utf7.c - libFuzzer target for modified UTF-7 and UTF-8 checks.
 * Properties: decode succeeds iff utf7_valid; for valid x,
 * encode(decode(x)) == x; for valid UTF-8 y without NUL,
 * decode(encode(y)) == y.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "utf7.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*in = (const char *)data;
	struct buf	 a, b;
	int		 rc;

	buf_init(&a, 0);
	buf_init(&b, 0);
	rc = utf7_decode(in, size, &a);
	if ((rc == 0) != utf7_valid(in, size))
		abort();
	if (rc == 0) {
		if (!utf8_valid(a.data ? a.data : "", a.len))
			abort();
		if (utf7_encode(a.data ? a.data : "", a.len, &b) != 0 ||
		    b.len != size || (size > 0 && memcmp(b.data, in, size)))
			abort();
	} else if (a.len != 0)
		abort();
	buf_reset(&a);
	buf_reset(&b);
	if (utf8_valid(in, size) && memchr(in, '\0', size) == NULL) {
		if (utf7_encode(in, size, &a) != 0 ||
		    !utf7_valid(a.data ? a.data : "", a.len) ||
		    utf7_decode(a.data ? a.data : "", a.len, &b) != 0 ||
		    b.len != size || (size > 0 && memcmp(b.data, in, size)))
			abort();
	} else if (utf7_encode(in, size, &a) != -1)
		abort();
	buf_free(&a);
	buf_free(&b);
	return 0;
}
