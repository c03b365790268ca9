/*
 * test_base.c - daemon/lib: buf, str, hmap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "hmap.h"
#include "str.h"
#include "xmalloc.h"

static void
test_buf_limit(void **state)
{
	struct buf	 b;

	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "abcd"), 0);
	assert_int_equal(buf_printf(&b, "%d", 1234), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "abcd1234");
	/* Past max fails and leaves the buffer as it was. */
	assert_int_equal(buf_putc(&b, 'x'), -1);
	assert_int_equal(buf_printf(&b, "%s", "y"), -1);
	assert_string_equal(b.data, "abcd1234");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
}

static void
test_buf_grow_and_steal(void **state)
{
	struct buf	 b = BUF_INIT;
	char		*p;
	size_t		 len, i;

	for (i = 0; i < 10000; i++)
		assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 100000);
	p = buf_steal(&b, &len);
	assert_int_equal(len, 100000);
	assert_int_equal(strlen(p), 100000);
	assert_null(b.data);
	free(p);
	p = buf_steal(&b, &len);		/* empty steal: "" not NULL */
	assert_non_null(p);
	assert_string_equal(p, "");
	free(p);
}

static void
test_str_size(void **state)
{
	static const struct { const char *in; int rc; uint64_t v; } t[] = {
		{ "0", 0, 0 }, { "1024", 0, 1024 }, { "2k", 0, 2048 },
		{ "20M", 0, 20971520 }, { "2G", 0, 2147483648ULL },
		{ "1T", 0, 1099511627776ULL }, { "", -1, 0 }, { "G", -1, 0 },
		{ "-1", -1, 0 }, { "1.5G", -1, 0 }, { "12x", -1, 0 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -1, 0 }, { "17179869184G", -1, 0 },
		{ " 1", -1, 0 },
	};
	size_t		 i;
	uint64_t	 v;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 0;
		assert_int_equal(str_to_size(t[i].in, &v), t[i].rc);
		if (t[i].rc == 0)
			assert_true(v == t[i].v);
	}
}

static void
test_str_misc(void **state)
{
	char	 small[4], s[] = "  Hello World \t";

	assert_int_equal(str_lcpy(small, "abcdef", sizeof(small)), 6);
	assert_string_equal(small, "abc");
	assert_string_equal(str_trim(s), "Hello World");
	str_lower(s);
	assert_string_equal(s, "hello world");
	assert_true(str_has_prefix_ci("STARTTLS", "start"));
	assert_true(str_ct_equal("abc", "abc", 3));
	assert_false(str_ct_equal("abc", "abd", 3));
}

static void
test_hmap(void **state)
{
	struct hmap	*m = hmap_new();
	char		 key[32];
	uintptr_t	 i;

	for (i = 1; i <= 50000; i++) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		assert_null(hmap_put(m, key, strlen(key), (void *)i));
	}
	assert_int_equal(hmap_count(m), 50000);
	for (i = 1; i <= 50000; i++) {
		snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
		assert_true((uintptr_t)hmap_get(m, key, strlen(key)) == i);
	}
	assert_null(hmap_get(m, "nope", 4));
	assert_true((uintptr_t)hmap_put(m, "k7", 2, (void *)99) == 7);
	assert_true((uintptr_t)hmap_del(m, "k7", 2) == 99);
	assert_null(hmap_get(m, "k7", 2));
	assert_null(hmap_del(m, "k7", 2));
	assert_int_equal(hmap_count(m), 49999);
	hmap_free(&m, NULL);
	assert_null(m);
}

static void
test_b64(void **state)
{
	static const struct { const char *in; int flags; int rc; const char *out; } t[] = {
		/* RFC 4648 section 10 vectors, strict. */
		{ "", B64_STRICT, 0, "" }, { "Zg==", B64_STRICT, 0, "f" },
		{ "Zm8=", B64_STRICT, 0, "fo" }, { "Zm9v", B64_STRICT, 0, "foo" },
		{ "Zm9vYg==", B64_STRICT, 0, "foob" },
		{ "Zm9vYmE=", B64_STRICT, 0, "fooba" },
		{ "Zm9vYmFy", B64_STRICT, 0, "foobar" },
		/* Strict refuses every non-canonical form. */
		{ "Zg", B64_STRICT, -1, NULL }, { "Zg=", B64_STRICT, -1, NULL },
		{ "Zh==", B64_STRICT, -1, NULL },	/* stray bits */
		{ "Zm 9v", B64_STRICT, -1, NULL }, { "Zm9v*", B64_STRICT, -1, NULL },
		{ "Zg==Zg==", B64_STRICT, -1, NULL }, { "Z", B64_STRICT, -1, NULL },
		{ "Zm9v\r\n", B64_STRICT, -1, NULL },
		/* Folding white space allowed where asked (DKIM). */
		{ "Zm9v\r\n YmFy", B64_SKIP_WS, 0, "foobar" },
		{ "Zm 9v Yg = =", B64_SKIP_WS, 0, "foob" },
		{ "Zm9v*", B64_SKIP_WS, -1, NULL },
		/* Lenient (RFC 2045 6.8): junk skipped, tails decoded. */
		{ "Zm9v!YmFy", B64_LENIENT, 0, "foobar" },
		{ "Zg", B64_LENIENT, 0, "f" }, { "Zg=Zm8=", B64_LENIENT, 0, "ffo" },
		{ "Z", B64_LENIENT, 0, "" },
	};
	struct buf	 b = BUF_INIT;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		buf_reset(&b);
		assert_int_equal(b64_decode(t[i].in, strlen(t[i].in), t[i].flags,
		    &b), t[i].rc);
		if (t[i].rc == 0)
			assert_string_equal(b.data ? b.data : "", t[i].out);
		else
			assert_int_equal(b.len, 0);	/* unchanged on error */
	}
	for (i = 0; i < 7; i++) {		/* encode the RFC vectors back */
		buf_reset(&b);
		b64_encode(t[i].out, strlen(t[i].out), &b);
		assert_string_equal(b.data ? b.data : "", t[i].in);
	}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_buf_grow_and_steal),
		cmocka_unit_test(test_str_size),
		cmocka_unit_test(test_str_misc),
		cmocka_unit_test(test_hmap),
		cmocka_unit_test(test_b64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
