/*
 * test_spam_grey.c - DNSBL/DNSWL symbols (spam_dnsbl.c) and greylisting
 * (spam_greylist.c): zone names, symbols and weights, what counts as a
 * listing, adding listings to a result, triplet keys (/24, /64), and the
 * greylist database: new, too young, passed, remembered, expired.
 */
#include <arpa/inet.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "idx.h"
#include "spam.h"

static const char good[] = "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <1@example.com>\r\nFrom: Alice <alice@example.com>\r\n"
    "To: bob@example.org\r\nSubject: Lunch tomorrow\r\n\r\n"
    "Shall we meet at noon?\r\n";

static void
test_zone(void **state)
{
	char	 zone[64], sym[64];
	double	 w = 0;

	(void)state;
	assert_int_equal(spam_dnsbl_zone("zen.example.test", zone,
	    sizeof(zone), sym, sizeof(sym), &w), 0);
	assert_string_equal(zone, "zen.example.test");
	assert_string_equal(sym, "RBL_ZEN_EXAMPLE_TEST");
	assert_true(w > 0);
	assert_int_equal(spam_dnsbl_zone("wl.example-1.test:wl", zone,
	    sizeof(zone), sym, sizeof(sym), &w), 0);
	assert_string_equal(zone, "wl.example-1.test");
	assert_string_equal(sym, "RBL_WL_EXAMPLE_1_TEST");
	assert_true(w < 0);
	assert_int_equal(spam_dnsbl_zone("list.dnswl.org", zone,
	    sizeof(zone), sym, sizeof(sym), &w), 0);
	assert_true(w < 0);
	assert_int_equal(spam_dnsbl_zone(":wl", zone, sizeof(zone), sym,
	    sizeof(sym), &w), -1);
	assert_int_equal(spam_dnsbl_zone("zen.example.test", zone, 4, sym,
	    sizeof(sym), &w), -1);
}

static void
test_listed(void **state)
{
	(void)state;
	assert_true(spam_dnsbl_listed("zen.test", htonl(0x7f000002)));
	assert_false(spam_dnsbl_listed("zen.test", htonl(0x7f010002)));
	assert_false(spam_dnsbl_listed("zen.test", htonl(0x0a000002)));
	assert_true(spam_dnsbl_listed("list.dnswl.org", htonl(0x7f000a01)));
	assert_false(spam_dnsbl_listed("x.test:wl", htonl(0x7f7f0001)));
	/* dnswl.org's "you are blocked" answer lists nobody. */
	assert_false(spam_dnsbl_listed("list.dnswl.org", htonl(0x7f0000ff)));
	assert_true(spam_dnsbl_listed("x.test:wl", htonl(0x7f0000fe)));
}

static void
test_add(void **state)
{
	struct spam_env		 env = { 0 };
	struct spam_result	*r;
	const char		*e[3] = { "bl.test", "x.test:wl", "no.test" };
	const char		*a[3] = { "127.0.0.2", "127.0.0.4", NULL };
	double			 before, s = 0;

	(void)state;
	env.now = 1704103200;
	r = spam_check_with(NULL, NULL, NULL, 0, &env, good, strlen(good));
	before = spam_result_score(r);
	spam_dnsbl_add(r, e, a, 3);
	assert_true(spam_result_has(r, "RBL_BL_TEST", &s));
	assert_true(s == SPAM_DNSBL_WEIGHT);
	assert_true(spam_result_has(r, "RBL_X_TEST", &s));
	assert_true(s == SPAM_DNSWL_WEIGHT);
	assert_false(spam_result_has(r, "RBL_NO_TEST", NULL));
	assert_true(spam_result_score(r) - before -
	    (SPAM_DNSBL_WEIGHT + SPAM_DNSWL_WEIGHT) < 1e-9);
	spam_result_free(&r);
}

static void
test_key(void **state)
{
	char	*k;
	size_t	 len;

	(void)state;
	k = spam_greylist_key("192.0.2.77", "Carol@Example.NET",
	    "Bob@example.test", &len);
	assert_non_null(k);
	assert_int_equal(len, sizeof("192.0.2.0/24\0carol@example.net\0"
	    "bob@example.test") - 1);
	assert_memory_equal(k, "192.0.2.0/24\0carol@example.net\0"
	    "bob@example.test", len);
	free(k);
	k = spam_greylist_key("2001:db8:1:2:3:4:5:6", "", "b@x", &len);
	assert_non_null(k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	free(k);
	k = spam_greylist_key("::ffff:192.0.2.9", NULL, "b@x", &len);
	assert_non_null(k);
	assert_string_equal(k, "192.0.2.0/24");
	free(k);
	assert_null(spam_greylist_key("nonsense", "a", "b", &len));
	assert_null(spam_greylist_key(NULL, "a", "b", &len));
}

static void
rm_dir(const char *path)
{
	char		 p[512];
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (unlink(p) == -1)
			rm_dir(p);
	}
	closedir(d);
	rmdir(path);
}

static void
test_greylist_db(void **state)
{
	char		 dir[64], path[128];
	struct idx	*idx = NULL;
	const char	*error = NULL;
	const char	*r1[] = { "bob@example.test" };
	const char	*r2[] = { "bob@example.test", "dave@example.test" };
	int64_t		 t = 1700000000;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_spam_grey.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/index.lmdb", dir);
	if (idx_open_blocking(path, &idx, &error) == -1)
		fail_msg("open: %s", error);
	/* New: deferred; too young: deferred; after delay: passed. */
	assert_int_equal(spam_greylist_blocking(idx, "192.0.2.1", "c@n",
	    r1, 1, t, 300, &error), 1);
	assert_int_equal(spam_greylist_blocking(idx, "192.0.2.1", "c@n",
	    r1, 1, t + 100, 300, &error), 1);
	/* Same /24: the same triplet. */
	assert_int_equal(spam_greylist_blocking(idx, "192.0.2.200", "C@N",
	    r1, 1, t + 300, 300, &error), 0);
	/* Remembered once passed. */
	assert_int_equal(spam_greylist_blocking(idx, "192.0.2.1", "c@n",
	    r1, 1, t + 86400, 300, &error), 0);
	/* One new recipient defers the message. */
	assert_int_equal(spam_greylist_blocking(idx, "192.0.2.1", "c@n",
	    r2, 2, t + 86400, 300, &error), 1);
	assert_int_equal(spam_greylist_blocking(idx, "192.0.2.1", "c@n",
	    r2, 2, t + 86400 + 301, 300, &error), 0);
	/* Another network is another triplet. */
	assert_int_equal(spam_greylist_blocking(idx, "198.51.100.1", "c@n",
	    r1, 1, t + 86400 + 400, 300, &error), 1);
	/* Expired after SPAM_GREYLIST_PASSED without use (pruned). */
	assert_int_equal(spam_greylist_blocking(idx, "192.0.2.1", "c@n",
	    r1, 1, t + 86400 + 301 + SPAM_GREYLIST_PASSED + 1, 300, &error),
	    1);
	/* Never retried: forgotten after SPAM_GREYLIST_RETRY. */
	assert_int_equal(spam_greylist_blocking(idx, "198.51.100.1", "c@n",
	    r1, 1, t + 86400 + 400 + SPAM_GREYLIST_RETRY + 1, 300, &error), 1);
	assert_int_equal(spam_greylist_blocking(idx, "bad", "c@n", r1, 1, t,
	    300, &error), -1);
	idx_close(&idx);
	rm_dir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone),
		cmocka_unit_test(test_listed),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_greylist_db),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
