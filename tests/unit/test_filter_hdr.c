/*
 * test_filter_hdr.c - the header helpers of the mail authentication
 * filter (filter_hdr.c): removing a sender's X-Spam fields in a stream
 * (filter_xspam), whatever the pieces the message comes in, and the
 * forged Authentication-Results removal it runs beside.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "filter.h"

struct xs_case {
	const char	*label;
	const char	*in;
	const char	*out;
};

static const struct xs_case xs_cases[] = {
	{ "none",
	  "From: a@b\r\nSubject: hi\r\n\r\nX-Spam: Yes\r\n",
	  "From: a@b\r\nSubject: hi\r\n\r\nX-Spam: Yes\r\n" },
	{ "the family",
	  "X-Spam: Yes\r\nFrom: a@b\r\nX-Spam-Score: 99\r\n"
	  "x-spam-flag: YES\r\nX-SPAM-LEVEL: ****\r\nSubject: s\r\n"
	  "X-Spam-Result: reject\r\n\r\nbody\r\n",
	  "From: a@b\r\nSubject: s\r\n\r\nbody\r\n" },
	{ "folded",
	  "X-Spam-Status: Yes, score=99.0\r\n\ttests=FAKE\r\n"
	  "  autolearn=no\r\nTo: c@d\r\n\tand more\r\n\r\nb\r\n",
	  "To: c@d\r\n\tand more\r\n\r\nb\r\n" },
	{ "obsolete space before the colon (RFC 5322 4.5)",
	  "X-Spam  : Yes\r\nX-Spam\t:Yes\r\nA: b\r\n\r\n",
	  "A: b\r\n\r\n" },
	/* Readers trim any white space before the colon; so do we, and a
	 * malformed "X-Spam x" goes too. */
	{ "long white space before the colon",
	  "X-Spam                    : No\r\nX-Spam x: w\r\nA: b\r\n\r\n",
	  "A: b\r\n\r\n" },
	{ "relatives stay",
	  "X-Spamd-Result: x\r\nX-Spammy: y\r\nX-Spa: z\r\nX-Spam\r\n"
	  "XX-Spam: v\r\n X-Spam: folded\r\n\r\n",
	  "X-Spamd-Result: x\r\nX-Spammy: y\r\nX-Spa: z\r\nX-Spam\r\n"
	  "XX-Spam: v\r\n X-Spam: folded\r\n\r\n" },
	{ "last field, no body",
	  "From: a@b\r\nX-Spam-Score: -100\r\n",
	  "From: a@b\r\n" },
	{ "cut short",
	  "From: a@b\r\nX-Sp",
	  "From: a@b\r\nX-Sp" },
	{ "empty header",
	  "\r\nX-Spam: Yes\r\n",
	  "\r\nX-Spam: Yes\r\n" },
	{ "bare LF lines",
	  "X-Spam: Yes\nA: b\n\nX-Spam: no\n",
	  "A: b\n\nX-Spam: no\n" },
};

/* Run in through a stripper in pieces of at most step bytes. */
static char *
xs_run(const char *in, size_t step, uint64_t *dropped_r)
{
	struct filter_xspam	 xs;
	struct buf		 out = BUF_INIT;
	size_t			 len = strlen(in), i, n;

	filter_xspam_init(&xs);
	for (i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		filter_xspam_feed(&xs, in + i, n, &out);
	}
	filter_xspam_end(&xs, &out);
	*dropped_r = xs.dropped;
	return out.data != NULL ? buf_steal(&out, NULL) : strdup("");
}

static void
test_xspam(void **state)
{
	const struct xs_case	*k;
	struct filter_xspam	 count;
	uint64_t		 dropped;
	size_t			 i, step;
	char			*got;

	(void)state;
	for (i = 0; i < sizeof(xs_cases) / sizeof(xs_cases[0]); i++) {
		k = &xs_cases[i];
		/* Every piece size, down to one byte at a time. */
		for (step = 1; step <= strlen(k->in) + 1; step++) {
			got = xs_run(k->in, step, &dropped);
			if (strcmp(got, k->out) != 0)
				fail_msg("%s (pieces of %zu): got \"%s\"",
				    k->label, step, got);
			assert_int_equal(dropped, strlen(k->in) -
			    strlen(k->out));
			free(got);
		}
		/* Counting alone (no output) agrees. */
		filter_xspam_init(&count);
		filter_xspam_feed(&count, k->in, strlen(k->in), NULL);
		filter_xspam_end(&count, NULL);
		assert_int_equal(count.dropped, strlen(k->in) -
		    strlen(k->out));
	}
}

/* A header far longer than any buffer still loses its X-Spam field. */
static void
test_xspam_long(void **state)
{
	struct buf	 in = BUF_INIT;
	uint64_t	 dropped;
	size_t		 i;
	char		*got;

	(void)state;
	for (i = 0; i < 20000; i++)
		buf_printf(&in, "X-Pad-%zu: %064zu\r\n", i, i);
	buf_puts(&in, "X-Spam: Yes\r\n\r\nbody\r\n");
	got = xs_run(in.data, 65536, &dropped);
	assert_int_equal(dropped, strlen("X-Spam: Yes\r\n"));
	assert_null(strstr(got, "X-Spam:"));
	assert_non_null(strstr(got, "X-Pad-19999: "));
	assert_non_null(strstr(got, "\r\n\r\nbody\r\n"));
	free(got);
	buf_free(&in);
}

static void
test_strip_ar(void **state)
{
	char	 h[] = "Authentication-Results: MX.example.test;\r\n"
	    "\tdkim=pass\r\nAuthentication-Results: other.test; spf=pass\r\n"
	    "From: a@b\r\n\r\n";
	size_t	 n;

	(void)state;
	n = filter_hdr_strip_ar(h, strlen(h), "mx.example.test");
	h[n] = '\0';
	assert_string_equal(h, "Authentication-Results: other.test; "
	    "spf=pass\r\nFrom: a@b\r\n\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xspam),
		cmocka_unit_test(test_xspam_long),
		cmocka_unit_test(test_strip_ar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
