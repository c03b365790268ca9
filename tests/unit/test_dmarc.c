/*
 * test_dmarc.c - DMARC (RFC 7489): record parsing, organizational
 * domains from the Public Suffix List (system list when installed, and
 * always the bundled tests/data/dmarc/psl_small.dat), policy discovery
 * against an in-memory zone, alignment, sp=, pct and the A-R text.  [test]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dmarc.h"

#define SYSTEM_PSL	"/usr/share/publicsuffix/public_suffix_list.dat"
#define SMALL_PSL	TEST_DATA_DIR "/dmarc/psl_small.dat"

static struct dmarc_psl *small_psl;

static int
setup(void **state)
{
	const char	*err;

	(void)state;
	return dmarc_psl_load(SMALL_PSL, &small_psl, &err);
}

static int
teardown(void **state)
{
	(void)state;
	dmarc_psl_free(&small_psl);
	return 0;
}

static void
check_org(const struct dmarc_psl *psl, const char *d, const char *want)
{
	char	*o = dmarc_psl_org_domain(psl, d);

	if (strcmp(o, want) != 0)
		fail_msg("org(%s) = %s, want %s", d, o, want);
	free(o);
}

static void
test_org_domain_small(void **state)
{
	(void)state;
	assert_true(dmarc_psl_nrules(small_psl) >= 15);
	check_org(small_psl, "example.com", "example.com");
	check_org(small_psl, "mail.Example.COM.", "example.com");
	check_org(small_psl, "a.b.c.example.co.uk", "example.co.uk");
	check_org(small_psl, "example.co.uk", "example.co.uk");
	check_org(small_psl, "co.uk", "co.uk");		/* a suffix itself */
	check_org(small_psl, "foo.example.uk", "example.uk");
	check_org(small_psl, "x.y.tokyo.jp", "y.tokyo.jp");
	/* Wildcard *.kawasaki.jp and exception !city.kawasaki.jp. */
	check_org(small_psl, "a.b.kawasaki.jp", "a.b.kawasaki.jp");
	check_org(small_psl, "z.a.b.kawasaki.jp", "a.b.kawasaki.jp");
	check_org(small_psl, "city.kawasaki.jp", "city.kawasaki.jp");
	check_org(small_psl, "www.city.kawasaki.jp", "city.kawasaki.jp");
	check_org(small_psl, "www.ck", "www.ck");
	check_org(small_psl, "a.www.ck", "www.ck");
	check_org(small_psl, "a.b.foo.ck", "b.foo.ck");
	/* Unlisted TLD: the implicit "*" rule. */
	check_org(small_psl, "a.b.example.zz", "example.zz");
	/* Private section. */
	check_org(small_psl, "user.github.io", "user.github.io");
	check_org(small_psl, "x.user.github.io", "user.github.io");
	/* No list: last two labels. */
	check_org(NULL, "a.b.example.co.uk", "co.uk");
	check_org(NULL, "localhost", "localhost");
}

static void
test_org_domain_system(void **state)
{
	struct dmarc_psl	*psl;
	const char		*err;

	(void)state;
	if (access(SYSTEM_PSL, R_OK) != 0) {
		printf("%s absent: skipped\n", SYSTEM_PSL);
		return;
	}
	assert_int_equal(dmarc_psl_load(SYSTEM_PSL, &psl, &err), 0);
	assert_true(dmarc_psl_nrules(psl) > 5000);
	check_org(psl, "mail.example.co.uk", "example.co.uk");
	check_org(psl, "www.example.com", "example.com");
	check_org(psl, "a.b.c.kawasaki.jp", "b.c.kawasaki.jp");
	check_org(psl, "www.city.kawasaki.jp", "city.kawasaki.jp");
	check_org(psl, "a.b.example.com.au", "example.com.au");
	check_org(psl, "x.y.s3.amazonaws.com", "y.s3.amazonaws.com");
	dmarc_psl_free(&psl);
	assert_null(psl);
	assert_int_equal(dmarc_psl_load("/nonexistent/psl.dat", &psl, &err),
	    -1);
	assert_null(psl);
}

static void
test_record_parse(void **state)
{
	struct dmarc_record	*r;
	const char		*err;

	(void)state;
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=reject; sp=none; "
	    "np=quarantine; pct=50; adkim=s; aspf=r; rua=mailto:a@example.com,"
	    "mailto:b@example.com!10m; ruf=mailto:f@example.com; fo=1:d; "
	    "rf=afrf; ri=3600; future=tag", &r, &err), 0);
	assert_int_equal(dmarc_record_p(r), DMARC_P_REJECT);
	assert_int_equal(dmarc_record_sp(r), DMARC_P_NONE);
	assert_int_equal(dmarc_record_np(r), DMARC_P_QUARANTINE);
	assert_int_equal(dmarc_record_pct(r), 50);
	assert_true(dmarc_record_adkim_strict(r));
	assert_false(dmarc_record_aspf_strict(r));
	assert_string_equal(dmarc_record_rua(r),
	    "mailto:a@example.com,mailto:b@example.com!10m");
	assert_string_equal(dmarc_record_ruf(r), "mailto:f@example.com");
	assert_string_equal(dmarc_record_fo(r), "1:d");
	assert_string_equal(dmarc_record_rf(r), "afrf");
	assert_int_equal(dmarc_record_ri(r), 3600);
	dmarc_record_free(&r);
	assert_null(r);

	/* Defaults. */
	assert_int_equal(dmarc_record_parse("v=DMARC1;p=none", &r, &err), 0);
	assert_int_equal(dmarc_record_p(r), DMARC_P_NONE);
	assert_int_equal(dmarc_record_sp(r), DMARC_P_UNSET);
	assert_int_equal(dmarc_record_pct(r), 100);
	assert_false(dmarc_record_adkim_strict(r));
	assert_null(dmarc_record_rua(r));
	assert_string_equal(dmarc_record_fo(r), "0");
	assert_int_equal(dmarc_record_ri(r), 86400);
	dmarc_record_free(&r);

	/* Whitespace around tags and values, trailing ";". */
	assert_int_equal(dmarc_record_parse(" v = DMARC1 ;  p = Quarantine ; ",
	    &r, &err), 0);
	assert_int_equal(dmarc_record_p(r), DMARC_P_QUARANTINE);
	dmarc_record_free(&r);

	/* Bad pct falls back to 100. */
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=reject; pct=150",
	    &r, &err), 0);
	assert_int_equal(dmarc_record_pct(r), 100);
	dmarc_record_free(&r);

	/* 6.6.3 step 6: bad/missing p with rua: p=none; without: invalid. */
	assert_int_equal(dmarc_record_parse("v=DMARC1; rua=mailto:x@example.com",
	    &r, &err), 0);
	assert_int_equal(dmarc_record_p(r), DMARC_P_NONE);
	dmarc_record_free(&r);
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=bogus; "
	    "rua=mailto:x@example.com", &r, &err), 0);
	assert_int_equal(dmarc_record_p(r), DMARC_P_NONE);
	dmarc_record_free(&r);
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=bogus", &r, &err), -1);
	assert_null(r);
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=reject; sp=bad", &r,
	    &err), -1);
	assert_int_equal(dmarc_record_parse("v=DMARC1", &r, &err), -1);
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=none; rua=bogus",
	    &r, &err), 0);
	assert_null(dmarc_record_rua(r));
	dmarc_record_free(&r);

	/* Not DMARC at all. */
	assert_int_equal(dmarc_record_parse("p=reject; v=DMARC1", &r, &err), -1);
	assert_int_equal(dmarc_record_parse("v=dmarc1; p=reject", &r, &err), -1);
	assert_int_equal(dmarc_record_parse("v=DMARC10; p=reject", &r, &err),
	    -1);
	assert_int_equal(dmarc_record_parse("v=spf1 -all", &r, &err), -1);
	assert_false(dmarc_record_is_dmarc(""));
}

/* ---- evaluation against a zone ---------------------------------------- */

struct ztxt {
	const char	*name;
	const char	*txt;		/* NULL: SERVFAIL */
};

static struct dmarc_eval *
eval(const struct ztxt *zone, const char *from, bool spf_pass,
    const char *spf_dom, const char *dkim1, const char *dkim2, int sample,
    int *queries_r)
{
	struct dmarc_eval	*ev;
	struct dmarc_dns_query	 q;
	const char		*rrs[8];
	size_t			 n, i;
	enum dmarc_rcode	 rc;
	int			 queries = 0;

	ev = dmarc_eval_new(small_psl, from);
	dmarc_eval_set_spf(ev, spf_pass, spf_dom);
	if (dkim1 != NULL)
		dmarc_eval_add_dkim(ev, dkim1);
	if (dkim2 != NULL)
		dmarc_eval_add_dkim(ev, dkim2);
	if (sample >= 0)
		dmarc_eval_set_sample(ev, (unsigned)sample);
	while (dmarc_eval_step(ev, &q) == DMARC_NEED_DNS) {
		assert_true(++queries <= 2);
		n = 0;
		rc = DMARC_RC_NXDOMAIN;
		for (i = 0; zone[i].name != NULL; i++) {
			if (strcmp(zone[i].name, q.name) != 0)
				continue;
			if (zone[i].txt == NULL) {
				rc = DMARC_RC_SERVFAIL;
				break;
			}
			rc = DMARC_RC_OK;
			rrs[n++] = zone[i].txt;
		}
		dmarc_eval_answer(ev, rc, rrs, n);
	}
	if (queries_r != NULL)
		*queries_r = queries;
	return ev;
}

static const struct ztxt zone[] = {
	{ "_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; "
	    "rua=mailto:d@example.com" },
	{ "_dmarc.example.com", "some other TXT record" },
	{ "_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s" },
	{ "_dmarc.sub.example.com", "v=DMARC1; p=none" },
	{ "_dmarc.pct.example", "v=DMARC1; p=reject; pct=20" },
	{ "_dmarc.pctq.example", "v=DMARC1; p=quarantine; pct=0" },
	{ "_dmarc.two.example", "v=DMARC1; p=reject" },
	{ "_dmarc.two.example", "v=DMARC1; p=none" },
	{ "_dmarc.bad.example", "v=DMARC1; p=maybe" },
	{ "_dmarc.example.co.uk", "v=DMARC1; p=quarantine" },
	{ "_dmarc.temp.example", NULL },
	{ "_dmarc.nosp.example", "v=DMARC1; p=reject" },
	{ NULL, NULL }
};

static void
test_eval_alignment(void **state)
{
	struct dmarc_eval	*ev;
	char			*s;
	int			 nq;

	(void)state;
	/* Exact SPF alignment: pass. */
	ev = eval(zone, "example.com", true, "example.com", NULL, NULL, -1,
	    &nq);
	assert_int_equal(nq, 1);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_PASS);
	assert_true(dmarc_eval_spf_aligned(ev));
	assert_int_equal(dmarc_eval_disposition(ev), DMARC_P_NONE);
	s = dmarc_eval_authres(ev);
	assert_string_equal(s,
	    "dmarc=pass (p=reject dis=none) header.from=example.com");
	free(s);
	dmarc_eval_free(&ev);
	assert_null(ev);

	/* Relaxed: bounce.example.com aligns with Example.COM. */
	ev = eval(zone, "Example.COM", true, "bounce.example.com", NULL, NULL,
	    -1, NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_PASS);
	dmarc_eval_free(&ev);
	/* SPF pass for an unrelated domain, no DKIM: fail, reject. */
	ev = eval(zone, "example.com", true, "example.net", NULL, NULL, -1,
	    NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_FAIL);
	assert_int_equal(dmarc_eval_disposition(ev), DMARC_P_REJECT);
	s = dmarc_eval_authres(ev);
	assert_string_equal(s,
	    "dmarc=fail (p=reject dis=reject) header.from=example.com");
	free(s);
	dmarc_eval_free(&ev);
	/* Aligned SPF domain but SPF failed: not aligned. */
	ev = eval(zone, "example.com", false, "example.com", NULL, NULL, -1,
	    NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_FAIL);
	dmarc_eval_free(&ev);
	/* DKIM: second signature aligns (relaxed). */
	ev = eval(zone, "example.com", false, "x.example", "example.net",
	    "mail.example.com", -1, NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_PASS);
	assert_true(dmarc_eval_dkim_aligned(ev));
	assert_false(dmarc_eval_spf_aligned(ev));
	dmarc_eval_free(&ev);
	/* Strict: subdomain d= and MAIL FROM do not align. */
	ev = eval(zone, "strict.example", true, "mail.strict.example",
	    "mail.strict.example", NULL, -1, NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_FAIL);
	dmarc_eval_free(&ev);
	ev = eval(zone, "strict.example", false, "x.example",
	    "STRICT.example.", NULL, -1, NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_PASS);
	dmarc_eval_free(&ev);
	/* Relaxed never aligns across a public suffix: co.uk. */
	ev = eval(zone, "example.co.uk", true, "other.co.uk", "co.uk", NULL,
	    -1, NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_FAIL);
	assert_int_equal(dmarc_eval_disposition(ev), DMARC_P_QUARANTINE);
	dmarc_eval_free(&ev);
	ev = eval(zone, "www.example.co.uk", true, "bounces.example.co.uk",
	    NULL, NULL, -1, &nq);
	assert_int_equal(nq, 2);
	assert_string_equal(dmarc_eval_org_domain(ev), "example.co.uk");
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_PASS);
	dmarc_eval_free(&ev);
}

static void
test_eval_discovery(void **state)
{
	struct dmarc_eval	*ev;
	char			*s;
	int			 nq;

	(void)state;
	/* Subdomain without record: org record, sp= applies. */
	ev = eval(zone, "a.b.example.com", false, "x.example", NULL, NULL, -1,
	    &nq);
	assert_int_equal(nq, 2);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_FAIL);
	assert_int_equal(dmarc_eval_policy(ev), DMARC_P_QUARANTINE);
	assert_int_equal(dmarc_eval_disposition(ev), DMARC_P_QUARANTINE);
	dmarc_eval_free(&ev);
	/* Subdomain with its own record: that record, p= of it. */
	ev = eval(zone, "sub.example.com", false, "x.example", NULL, NULL, -1,
	    &nq);
	assert_int_equal(nq, 1);
	assert_int_equal(dmarc_eval_policy(ev), DMARC_P_NONE);
	assert_int_equal(dmarc_eval_disposition(ev), DMARC_P_NONE);
	dmarc_eval_free(&ev);
	/* No sp=: p= applies to subdomains. */
	ev = eval(zone, "x.nosp.example", false, "x.example", NULL, NULL, -1,
	    NULL);
	assert_int_equal(dmarc_eval_policy(ev), DMARC_P_REJECT);
	dmarc_eval_free(&ev);
	/* Nothing anywhere: none, and no policy part in A-R. */
	ev = eval(zone, "mail.nothing.example", true, "mail.nothing.example",
	    NULL, NULL, -1, &nq);
	assert_int_equal(nq, 2);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_NONE);
	assert_null(dmarc_eval_record(ev));
	s = dmarc_eval_authres(ev);
	assert_string_equal(s, "dmarc=none header.from=mail.nothing.example");
	free(s);
	dmarc_eval_free(&ev);
	/* From is the org domain: one query only. */
	ev = eval(zone, "nothing.example", true, "x", NULL, NULL, -1, &nq);
	assert_int_equal(nq, 1);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_NONE);
	dmarc_eval_free(&ev);
	/* Two records: no DMARC processing. */
	ev = eval(zone, "two.example", false, "x", NULL, NULL, -1, NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_NONE);
	assert_non_null(dmarc_eval_problem(ev));
	dmarc_eval_free(&ev);
	/* Invalid record (bad p, no rua): ignored, none. */
	ev = eval(zone, "bad.example", false, "x", NULL, NULL, -1, NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_NONE);
	dmarc_eval_free(&ev);
	/* DNS failure: temperror. */
	ev = eval(zone, "temp.example", true, "temp.example", NULL, NULL, -1,
	    NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_TEMPERROR);
	s = dmarc_eval_authres(ev);
	assert_string_equal(s, "dmarc=temperror header.from=temp.example");
	free(s);
	dmarc_eval_free(&ev);
	/* Unusable From domain: permerror, no query. */
	ev = eval(zone, "localhost", true, "x", NULL, NULL, -1, &nq);
	assert_int_equal(nq, 0);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_PERMERROR);
	dmarc_eval_free(&ev);
	ev = eval(zone, "", true, "x", NULL, NULL, -1, &nq);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_PERMERROR);
	dmarc_eval_free(&ev);
}

static void
test_eval_pct(void **state)
{
	struct dmarc_eval	*ev;
	int			 i, reject = 0;

	(void)state;
	/* pct=20: draws 0..19 are selected, 20..99 get the next lower. */
	ev = eval(zone, "pct.example", false, "x", NULL, NULL, 19, NULL);
	assert_int_equal(dmarc_eval_disposition(ev), DMARC_P_REJECT);
	dmarc_eval_free(&ev);
	ev = eval(zone, "pct.example", false, "x", NULL, NULL, 20, NULL);
	assert_int_equal(dmarc_eval_result(ev), DMARC_R_FAIL);
	assert_int_equal(dmarc_eval_policy(ev), DMARC_P_REJECT);
	assert_int_equal(dmarc_eval_disposition(ev), DMARC_P_QUARANTINE);
	dmarc_eval_free(&ev);
	/* pct=0 on quarantine: never applied, none. */
	ev = eval(zone, "pctq.example", false, "x", NULL, NULL, 0, NULL);
	assert_int_equal(dmarc_eval_disposition(ev), DMARC_P_NONE);
	dmarc_eval_free(&ev);
	/* pass is never sampled. */
	ev = eval(zone, "pct.example", true, "pct.example", NULL, NULL, 99,
	    NULL);
	assert_int_equal(dmarc_eval_disposition(ev), DMARC_P_NONE);
	dmarc_eval_free(&ev);
	/* Real draws: roughly 20% of 2000. */
	for (i = 0; i < 2000; i++) {
		ev = eval(zone, "pct.example", false, "x", NULL, NULL, -1,
		    NULL);
		if (dmarc_eval_disposition(ev) == DMARC_P_REJECT)
			reject++;
		dmarc_eval_free(&ev);
	}
	assert_in_range(reject, 250, 550);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_org_domain_small),
		cmocka_unit_test(test_org_domain_system),
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_eval_alignment),
		cmocka_unit_test(test_eval_discovery),
		cmocka_unit_test(test_eval_pct),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
