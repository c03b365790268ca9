/*
 * test_utf7.c - modified UTF-7 (RFC 3501 5.1.3) and UTF-8 validation:
 * vectors, non-canonical forms, and the round-trip property.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "utf7.h"

static const struct {
	const char	*utf7;
	const char	*utf8;
} good[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&-", "&" },
	{ "a&-b&-", "a&b&" },
	/* RFC 3501 5.1.3 example. */
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "&AOk-t&AOk-", "\xc3\xa9t\xc3\xa9" },		/* été */
	{ "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },		/* U+1F600 */
	{ "&AAE-", "\x01" },
	{ "&AH8-", "\x7f" },
	{ "&AOkA6QDp-", "\xc3\xa9\xc3\xa9\xc3\xa9" },
	{ "&,,8-", "\xef\xbf\xbf" },			/* U+FFFF */
	{ "&2,,f,w-", "\xf4\x8f\xbf\xbf" },		/* U+10FFFF */
};

static const char *const bad_utf7[] = {
	"&",			/* unterminated */
	"&AOk",			/* unterminated run */
	"&AGE-&AGI-",		/* two adjacent runs */
	"&AGE=-",		/* padding */
	"&AOl-",		/* non-zero spare bits */
	"&AOkA-",		/* one sextet too many */
	"&AGE-",		/* 'a' encoded: printable must be direct */
	"&ACY-",		/* '&' encoded */
	"&ACA-",		/* ' ' encoded */
	"&2D0-",		/* lone high surrogate */
	"&3gA-",		/* lone low surrogate */
	"&2D3YPQ-",		/* high surrogate twice */
	"&AAA-",		/* U+0000 */
	"&A/k-",		/* '/' is not modified base64 */
	"a\x01",		/* control character raw */
	"\xc3\xa9",		/* 8-bit raw */
	"a\x7f",		/* DEL raw */
	"&&-",			/* '&' inside run */
};

static const char *const bad_utf8[] = {
	"\x80", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80",
	"\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
	"\xc3", "\xe2\x82", "\xff", "a\xc3(",
};

static void
test_vectors(void **state)
{
	struct buf	 b;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *u8 = good[i].utf8;
		size_t u8len = strlen(u8);

		buf_init(&b, 0);
		assert_true(utf7_valid(good[i].utf7, strlen(good[i].utf7)));
		assert_int_equal(utf7_decode(good[i].utf7,
		    strlen(good[i].utf7), &b), 0);
		assert_int_equal(b.len, u8len);
		assert_memory_equal(b.len ? b.data : "", u8, u8len);
		buf_reset(&b);
		assert_true(utf8_valid(u8, u8len));
		assert_int_equal(utf7_encode(u8, u8len, &b), 0);
		assert_string_equal(b.data ? b.data : "", good[i].utf7);
		buf_free(&b);
	}
}

static void
test_invalid(void **state)
{
	struct buf	 b;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad_utf7) / sizeof(bad_utf7[0]); i++) {
		buf_init(&b, 0);
		buf_puts(&b, "keep");
		assert_false(utf7_valid(bad_utf7[i], strlen(bad_utf7[i])));
		assert_int_equal(utf7_decode(bad_utf7[i], strlen(bad_utf7[i]),
		    &b), -1);
		/* The output is left as it was. */
		assert_string_equal(b.data, "keep");
		buf_free(&b);
	}
	/* "&AGEAYg-" decodes to "ab" which must be direct: invalid. */
	assert_false(utf7_valid("&AGEAYg-", 8));
	for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		buf_init(&b, 0);
		assert_false(utf8_valid(bad_utf8[i], strlen(bad_utf8[i])));
		assert_int_equal(utf7_encode(bad_utf8[i], strlen(bad_utf8[i]),
		    &b), -1);
		buf_free(&b);
	}
	/* NUL cannot be encoded. */
	buf_init(&b, 0);
	assert_int_equal(utf7_encode("a\0b", 3, &b), -1);
	buf_free(&b);
}

static void
test_buf_max(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 4);
	assert_int_equal(utf7_encode("\xc3\xa9\xc3\xa9", 4, &b), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(utf7_decode("abcdef", 6, &b), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* Deterministic PRNG so failures reproduce. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_roundtrip(void **state)
{
	struct buf	 u8, u7, back;
	uint32_t	 seed = 12345, cp;
	int		 iter, n, k;

	(void)state;
	for (iter = 0; iter < 2000; iter++) {
		buf_init(&u8, 0);
		buf_init(&u7, 0);
		buf_init(&back, 0);
		n = (int)(rnd(&seed) % 12);
		for (k = 0; k < n; k++) {
			switch (rnd(&seed) % 4) {
			case 0:
				cp = 0x20 + rnd(&seed) % 0x5f;
				break;
			case 1:
				cp = 0x80 + rnd(&seed) % 0x780;
				break;
			case 2:
				cp = 0x800 + rnd(&seed) % 0xf800;
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0x4e2d;
				break;
			default:
				cp = 0x10000 + rnd(&seed) % 0x100000;
				break;
			}
			if (cp < 0x80)
				buf_putc(&u8, (char)cp);
			else if (cp < 0x800) {
				buf_putc(&u8, (char)(0xc0 | (cp >> 6)));
				buf_putc(&u8, (char)(0x80 | (cp & 0x3f)));
			} else if (cp < 0x10000) {
				buf_putc(&u8, (char)(0xe0 | (cp >> 12)));
				buf_putc(&u8, (char)(0x80 | ((cp >> 6) & 0x3f)));
				buf_putc(&u8, (char)(0x80 | (cp & 0x3f)));
			} else {
				buf_putc(&u8, (char)(0xf0 | (cp >> 18)));
				buf_putc(&u8, (char)(0x80 | ((cp >> 12) & 0x3f)));
				buf_putc(&u8, (char)(0x80 | ((cp >> 6) & 0x3f)));
				buf_putc(&u8, (char)(0x80 | (cp & 0x3f)));
			}
		}
		assert_true(utf8_valid(u8.data ? u8.data : "", u8.len));
		assert_int_equal(utf7_encode(u8.data ? u8.data : "", u8.len,
		    &u7), 0);
		assert_true(utf7_valid(u7.data ? u7.data : "", u7.len));
		assert_int_equal(utf7_decode(u7.data ? u7.data : "", u7.len,
		    &back), 0);
		assert_int_equal(back.len, u8.len);
		if (u8.len > 0)
			assert_memory_equal(back.data, u8.data, u8.len);
		buf_free(&u8);
		buf_free(&u7);
		buf_free(&back);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_buf_max),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
