/*
 * test_spam_autolearn.c - which results teach Bayes by themselves
 * (spam_autolearn.c): Bayes' own symbols never count, the spam bound is
 * spam.actions.reject (15 when off), the ham bound asks for more than
 * authentication, GTUBE and the switches turn it off; and real checks
 * of a plain, an authenticated and a spammy message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "spam.h"
#include "spam_private.h"

#define NSYM	4

struct al_case {
	const char	*label;
	struct { const char *name; double w; } sym[NSYM];
	double		 reject;	/* spam.actions.reject */
	int		 want;		/* 1 spam, -1 ham, 0 none */
	double		 score;		/* without Bayes */
};

/* T_* are rules-file style symbols: their weight is the given one. */
static const struct al_case al_cases[] = {
	{ "nothing", { { NULL, 0 } }, 15, 0, 0 },
	{ "at reject", { { "T_A", 10 }, { "T_B", 5 } }, 15, 1, 15 },
	{ "just below reject", { { "T_A", 14.9 } }, 15, 0, 14.9 },
	{ "a lower reject", { { "T_A", 8 } }, 8, 1, 8 },
	{ "reject off: 15", { { "T_A", 14 } }, -1, 0, 14 },
	{ "reject off: 15 reached", { { "T_A", 15 } }, -1, 1, 15 },
	/* BAYES_SPAM (12 at p = 1) alone must not make it spam ... */
	{ "bayes lifts past reject", { { "T_A", 5 }, { "BAYES_SPAM", 1 } },
	    15, 0, 5 },
	/* ... nor keep a conclusive message from being learned. */
	{ "spam despite bayes ham", { { "T_A", 18 }, { "BAYES_HAM", 1 } },
	    15, 1, 18 },
	{ "ham bound", { { "T_GOOD", -2 } }, 15, -1, -2 },
	{ "authentication is not enough", { { "R_SPF_ALLOW", 1 },
	    { "R_DKIM_ALLOW", 1 }, { "DMARC_POLICY_ALLOW", 1 } }, 15, 0,
	    -0.9 },
	{ "bayes ham is not enough", { { "R_SPF_ALLOW", 1 },
	    { "DMARC_POLICY_ALLOW", 1 }, { "BAYES_HAM", 1 } }, 15, 0, -0.7 },
	{ "allowlist", { { "R_DKIM_ALLOW", 1 }, { "RBL_LIST_DNSWL_ORG", -3 },
	    { "MISSING_DATE", 1 } }, 15, -1, -2.2 },
	{ "allowlist and heuristics", { { "RBL_LIST_DNSWL_ORG", -3 },
	    { "MISSING_MID", 1 } }, 15, 0, -0.5 },
	{ "gtube", { { "GTUBE", 1 } }, 15, 0, 0 },
	/* Train on error: Bayes already agrees, nothing to teach. */
	{ "bayes already spam", { { "T_A", 18 }, { "BAYES_SPAM", 0.5 } },
	    15, 0, 18 },
	{ "bayes only unsure", { { "T_A", 18 }, { "BAYES_SPAM", 1.0 / 3 } },
	    15, 1, 18 },
	{ "bayes already ham", { { "T_GOOD", -3 }, { "BAYES_HAM", 0.5 } },
	    15, 0, -3 },
};

static struct conf *
al_conf(double reject)
{
	struct conf	*c = conf_default_dev();

	c->spam.reject = reject;
	c->spam.bayes_enable = true;
	c->spam.bayes_autolearn = true;
	return c;
}

/* A result holding the symbols of k (built-in weights times w for the
 * built-in names, w itself for T_* and RBL_*). */
static struct spam_result *
al_result(const struct conf *c, const struct al_case *k)
{
	struct spam_result	*r = spam_result_new(c);
	size_t			 i;

	for (i = 0; i < NSYM && k->sym[i].name != NULL; i++) {
		if (spam_symbol_default(k->sym[i].name, NULL))
			spam_result_add(r, k->sym[i].name, k->sym[i].w, 0,
			    NULL);
		else
			spam_result_add(r, k->sym[i].name, 1, k->sym[i].w,
			    NULL);
	}
	spam_result_finish(r);
	return r;
}

static void
test_table(void **state)
{
	const struct al_case	*k;
	struct spam_result	*r;
	struct conf		*c;
	double			 s;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(al_cases) / sizeof(al_cases[0]); i++) {
		k = &al_cases[i];
		c = al_conf(k->reject);
		r = al_result(c, k);
		s = 1e9;
		if (spam_autolearn(c, r, &s) != k->want || s < k->score -
		    0.001 || s > k->score + 0.001)
			fail_msg("%s: got %d score %.3f, want %d score %.3f",
			    k->label, spam_autolearn(c, r, NULL), s, k->want,
			    k->score);
		spam_result_free(&r);
		conf_free(&c);
	}
}

static void
test_switches(void **state)
{
	static const struct al_case spam = { "spam", { { "T_A", 20 } }, 15,
	    1, 20 };
	struct spam_result	*r;
	struct conf		*c = al_conf(15);

	(void)state;
	r = al_result(c, &spam);
	assert_int_equal(spam_autolearn(c, r, NULL), 1);
	c->spam.bayes_autolearn = false;
	assert_int_equal(spam_autolearn(c, r, NULL), 0);
	c->spam.bayes_autolearn = true;
	c->spam.bayes_enable = false;
	assert_int_equal(spam_autolearn(c, r, NULL), 0);
	assert_int_equal(spam_autolearn(NULL, r, NULL), 0);
	spam_result_free(&r);
	conf_free(&c);
	/* The shipped default: on. */
	c = conf_default_dev();
	assert_true(c->spam.bayes_autolearn);
	conf_free(&c);
}

/* Real checks: what our heuristics give the messages that matter. */
static void
test_checks(void **state)
{
	static const char plain[] = "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	    "Message-ID: <1@example.com>\r\nFrom: Alice <alice@example.com>\r\n"
	    "To: bob@example.org\r\nMIME-Version: 1.0\r\n"
	    "Subject: Lunch tomorrow\r\n\r\nShall we meet at noon?\r\n";
	static const char spammy[] = "From: <a@b.test>\r\n"
	    "Reply-To: <x@elsewhere.test>\r\n"
	    "Subject: CHEAP PILLS FOR EVERYONE!!!\r\n\r\n"
	    "see http://192.0.2.55/buy\r\n";
	struct spam_env		 env = { 0 };
	struct spam_result	*r;
	struct conf		*c = al_conf(15);

	(void)state;
	env.now = 1704103200;
	env.helo = "mail.example.com";
	env.peer_ip = "192.0.2.1";
	r = spam_check_with(c, NULL, NULL, 0, &env, plain, strlen(plain));
	assert_int_equal(spam_autolearn(c, r, NULL), 0);
	spam_result_free(&r);
	/* SPF, DKIM and DMARC all pass: still not ham by itself. */
	env.spf = SPAM_SPF_PASS;
	env.dkim = SPAM_DKIM_ALLOW;
	env.dmarc = SPAM_DMARC_ALLOW;
	r = spam_check_with(c, NULL, NULL, 0, &env, plain, strlen(plain));
	assert_true(spam_result_score(r) < 0);
	assert_int_equal(spam_autolearn(c, r, NULL), 0);
	spam_result_free(&r);
	/* Heuristics alone past reject: spam. */
	memset(&env, 0, sizeof(env));
	env.now = 1704103200;
	env.helo = "[192.0.2.1]";
	env.peer_ip = "192.0.2.2";
	r = spam_check_with(c, NULL, NULL, 0, &env, spammy, strlen(spammy));
	assert_true(spam_result_score(r) >= 15);
	assert_int_equal(spam_autolearn(c, r, NULL), 1);
	spam_result_free(&r);
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_switches),
		cmocka_unit_test(test_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
