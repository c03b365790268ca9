/*
 * fuzz_mime.c - libFuzzer target for protocols/mime: parse the input fed
 * whole and in 1, 7 and 4096-byte chunks (the trees must agree), then
 * write ENVELOPE, BODY, BODYSTRUCTURE, a few sections, a HEADER.FIELDS
 * filter and the decoders over the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct mime_msg *
fuzz_parse(const uint8_t *data, size_t len, size_t chunk)
{
	struct mime_limits	 lim;
	struct mime_parser	*p;
	struct mime_msg		*msg;
	const char		*error;
	size_t			 off, n;

	mime_limits_default(&lim);
	lim.max_parts = 200;
	lim.max_depth = 12;
	lim.max_header_field = 4096;
	lim.max_header_block = 16384;
	p = mime_parser_new(&lim);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		mime_parser_feed(p, data + off, n);
	}
	if (mime_parser_finish(&p, &msg, &error) != 0)
		abort();
	return msg;
}

static void
fuzz_describe(const struct mime_msg *msg, struct buf *out)
{
	mime_envelope(msg, out);
	mime_bodystructure(msg, false, out);
	mime_bodystructure(msg, true, out);
	buf_printf(out, "%u %u %llu", mime_msg_flags(msg),
	    mime_msg_part_count(msg), (unsigned long long)mime_msg_size(msg));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *const specs[] = { "", "HEADER", "TEXT", "1", "2",
	    "1.MIME", "1.2", "2.HEADER", "2.1.TEXT", "1.1.1", "3.HEADER.FIELDS" };
	static const char *const names[] = { "From", "Subject", "X" };
	static const size_t chunks[] = { 1, 7, 4096 };
	struct mime_msg		*msg, *other;
	struct mime_section	 sect;
	struct buf		 a, b;
	const char		*error;
	size_t			 i;

	buf_init(&a, 0);
	buf_init(&b, 0);
	msg = fuzz_parse(data, len, len > 0 ? len : 1);
	fuzz_describe(msg, &a);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		if (len > 20000 && chunks[i] == 1)
			continue;
		other = fuzz_parse(data, len, chunks[i]);
		buf_reset(&b);
		fuzz_describe(other, &b);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			abort();
		mime_msg_free(&other);
	}
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		if (mime_section_find(msg, specs[i], &sect, &error) != 0)
			continue;
		if (sect.range.off > len || sect.range.len > len - sect.range.off)
			abort();
		if (sect.kind == MIME_SECTION_HEADER_FIELDS) {
			buf_reset(&b);
			mime_header_fields((const char *)data + sect.range.off,
			    (size_t)sect.range.len, names, 3, false, &b);
		}
	}
	buf_reset(&b);
	mime_decode_2047((const char *)data, len > 2048 ? 2048 : len, &b);
	buf_reset(&b);
	mime_decode_cte(MIME_CTE_QP, (const char *)data, len, &b);
	buf_reset(&b);
	mime_decode_cte(MIME_CTE_BASE64, (const char *)data, len, &b);
	buf_reset(&b);
	(void)mime_header_get((const char *)data, len, "subject", &b);
	mime_msg_free(&msg);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
