/*
 * test_imap_search_sort.c - the pure helper SORT and THREAD use to find
 * the header section of a message (imap_thread_hdr_len), table-driven:
 * whether the sort keys come from a file read for BODY/TEXT matching or
 * from a fresh read of the header, the same bytes must give the same
 * section, so SORT with file keys answers as SORT ALL does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap_private.h"

#define C(s)	(s), sizeof(s) - 1

static void
test_hdr_len_table(void **state)
{
	static const struct {
		const char	*label;
		const char	*d;
		size_t		 len;
		size_t		 want;
	} t[] = {
		{ "crlf", C("A: 1\r\nB: 2\r\n\r\nbody\r\n"), 14 },
		{ "lf", C("A: 1\nB: 2\n\nbody\n"), 11 },
		{ "crlf wins over an earlier lf lf",
		    C("A: 1\n\nB: 2\r\n\r\nbody"), 14 },
		{ "lf lf when crlf crlf is absent",
		    C("A: 1\r\n\nbody\r\n"), 7 },
		{ "no blank line: everything", C("A: 1\r\nB: 2\r\n"), 12 },
		{ "empty", C(""), 0 },
		{ "empty header", C("\r\n\r\nbody"), 4 },
		{ "blank line after a NUL is not seen",
		    C("A: 1\0\r\n\r\nbody"), 13 },
		{ "blank line before a NUL is", C("A: 1\r\n\r\n\0x"), 8 },
		{ "crlf crlf split by the end", C("A: 1\r\n\r"), 7 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (imap_thread_hdr_len(t[i].d, t[i].len) != t[i].want)
			fail_msg("%s: got %zu, want %zu", t[i].label,
			    imap_thread_hdr_len(t[i].d, t[i].len), t[i].want);
	}
}

/*
 * The same answer whether the buffer is the whole file or only its
 * first bytes, once those hold the blank line.
 */
static void
test_hdr_len_prefix(void **state)
{
	static const char	 msg[] = "Subject: x\r\nFrom: y\r\n\r\n"
	    "body with\r\n\r\nanother blank line\r\n";
	size_t			 n, want = 23;

	(void)state;
	for (n = want; n <= sizeof(msg) - 1; n++)
		assert_int_equal(imap_thread_hdr_len(msg, n), want);
	for (n = 0; n < want; n++)
		assert_int_equal(imap_thread_hdr_len(msg, n), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_len_table),
		cmocka_unit_test(test_hdr_len_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
