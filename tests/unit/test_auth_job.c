/*
 * test_auth_job.c - the shared login job: plain checks (good, wrong,
 * too long, NUL), SASL PLAIN with an initial response, SASL LOGIN over
 * three steps, a job freed while its step runs (no completion, no leak,
 * the generation reference released), and the throttle helpers.
 * Accounts are built by hand; the worker pool runs for real.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "auth.h"
#include "auth_job.h"
#include "conf.h"
#include "log.h"
#include "loop.h"
#include "work.h"
#include "xmalloc.h"

static struct event_base	*base;
static char			 n_alice[] = "alice@example.com";
static char			*alice_hash;
static struct conf_account	 accts[1];
static char			 fqdn[] = "mx.example.com";
static struct conf		 cf;
static struct gen		 gen;		/* refs: 1, the test's */

/* What the last completion saw. */
static int			 ndone;
static uint64_t			 last_sid;
static enum auth_sasl_result	 last_res;
static char			 last_user[AUTH_LOGIN_MAX + 1];
static char			*last_challenge;

static void
done(uint64_t sid, struct auth_job *job, enum auth_sasl_result res)
{
	ndone++;
	last_sid = sid;
	last_res = res;
	last_user[0] = '\0';
	free(last_challenge);
	last_challenge = NULL;
	if (res == AUTH_SASL_OK && auth_job_user(job) != NULL)
		snprintf(last_user, sizeof(last_user), "%s",
		    auth_job_user(job));
	if (res == AUTH_SASL_CONTINUE)
		last_challenge = auth_job_challenge_b64(job);
	event_base_loopexit(base, NULL);
}

/* Run the loop until a completion, or 10 s. */
static void
wait_done(void)
{
	struct timeval	 limit = { 10, 0 };

	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
}

static struct auth_job *
new_job(uint64_t sid)
{
	return auth_job_new(sid, &gen, "imap", "127.0.0.1", 143, "::1", 40000,
	    done);
}

static char *
dup_bytes(const char *p, size_t len)
{
	char	*s = xmalloc(len + 1);

	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static int
group_setup(void **state)
{
	const char	*error = NULL;

	log_init(LOG_L_WARN);
	evthread_use_pthreads();
	if ((base = event_base_new()) == NULL)
		return -1;
	if (work_init(base, 2, &error) == -1)
		return -1;
	if (auth_pw_hash_blocking("correct horse", "yescrypt", &alice_hash,
	    &error) != 0)
		return -1;
	if (auth_sasl_global_init_blocking("postern-test", &error) != 0) {
		fprintf(stderr, "sasl init: %s\n", error);
		return -1;
	}
	accts[0].name = n_alice;
	accts[0].hashed_password = alice_hash;
	cf.accounts = accts;
	cf.naccounts = 1;
	cf.fqdn = fqdn;
	gen.refs = 1;
	gen.conf = &cf;
	gen.auth = auth_db_new(&cf);
	return 0;
}

static int
group_teardown(void **state)
{
	work_shutdown();
	auth_db_free(&gen.auth);
	auth_sasl_global_done();
	event_base_free(base);
	free(alice_hash);
	free(last_challenge);
	return 0;
}

static void
test_plain(void **state)
{
	static const struct {
		const char		*login;
		const char		*password;
		size_t			 len;
		enum auth_sasl_result	 res;
	} t[] = {
		{ "Alice@Example.COM", "correct horse", 13, AUTH_SASL_OK },
		{ "alice@example.com", "wrong horse", 11, AUTH_SASL_FAIL },
		{ "nobody@example.com", "correct horse", 13, AUTH_SASL_FAIL },
		{ "alice@example.com", "correct horse\0x", 15, AUTH_SASL_FAIL },
	};
	struct auth_job	*j;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ndone = 0;
		j = new_job(100 + i);
		auth_job_plain(j, t[i].login, strlen(t[i].login),
		    t[i].password, t[i].len);
		wait_done();
		assert_int_equal(ndone, 1);
		assert_int_equal(last_sid, 100 + i);
		assert_int_equal(last_res, t[i].res);
		assert_null(auth_job_mech(j));
		if (t[i].res == AUTH_SASL_OK)
			assert_string_equal(last_user, "alice@example.com");
		else
			assert_string_equal(auth_job_error(j),
			    "bad credentials");
		auth_job_free(&j);
		assert_null(j);
	}
	assert_int_equal(gen.refs, 1);
}

static void
test_plain_too_long(void **state)
{
	char		 login[AUTH_LOGIN_MAX + 2];
	char		*pw;
	struct auth_job	*j;

	memset(login, 'a', sizeof(login) - 1);
	login[sizeof(login) - 1] = '\0';
	j = new_job(1);
	auth_job_plain(j, login, strlen(login), "x", 1);
	wait_done();
	assert_int_equal(last_res, AUTH_SASL_FAIL);
	pw = xmalloc(AUTH_PASSWORD_MAX + 1);
	memset(pw, 'p', AUTH_PASSWORD_MAX + 1);
	auth_job_plain(j, "alice@example.com", 17, pw, AUTH_PASSWORD_MAX + 1);
	free(pw);
	wait_done();
	assert_int_equal(last_res, AUTH_SASL_FAIL);
	auth_job_free(&j);
}

static void
test_sasl_plain_ir(void **state)
{
	static const char	 ir[] = "\0alice@example.com\0correct horse";
	const char		*error = NULL;
	struct auth_job		*j;

	ndone = 0;
	j = new_job(7);
	assert_int_equal(auth_job_start(j, "PLAIN", true,
	    dup_bytes(ir, sizeof(ir) - 1), sizeof(ir) - 1, &error), 0);
	wait_done();
	assert_int_equal(ndone, 1);
	assert_int_equal(last_res, AUTH_SASL_OK);
	assert_string_equal(last_user, "alice@example.com");
	assert_string_equal(auth_job_mech(j), "PLAIN");
	auth_job_free(&j);

	/* A wrong password fails; the SASL error is there for logs. */
	j = new_job(8);
	assert_int_equal(auth_job_start(j, "PLAIN", true,
	    dup_bytes("\0alice@example.com\0nope", 23), 23, &error), 0);
	wait_done();
	assert_int_equal(last_res, AUTH_SASL_FAIL);
	assert_non_null(auth_job_error(j));
	auth_job_free(&j);
	assert_int_equal(gen.refs, 1);
}

static void
test_sasl_login_steps(void **state)
{
	const char	*error = NULL;
	struct auth_job	*j;

	j = new_job(9);
	assert_int_equal(auth_job_start(j, "LOGIN", false, NULL, 0, &error),
	    0);
	wait_done();
	assert_int_equal(last_res, AUTH_SASL_CONTINUE);
	assert_string_equal(last_challenge, "VXNlcm5hbWU6");	/* Username: */
	auth_job_step(j, dup_bytes("alice@example.com", 17), 17);
	wait_done();
	assert_int_equal(last_res, AUTH_SASL_CONTINUE);
	assert_string_equal(last_challenge, "UGFzc3dvcmQ6");	/* Password: */
	auth_job_step(j, dup_bytes("correct horse", 13), 13);
	wait_done();
	assert_int_equal(last_res, AUTH_SASL_OK);
	assert_string_equal(last_user, "alice@example.com");
	auth_job_free(&j);
}

/* A session that goes away frees its job while the step runs. */
static void
test_orphan(void **state)
{
	struct auth_job	*j;
	struct timeval	 tv = { 0, 300000 };

	ndone = 0;
	j = new_job(11);
	auth_job_plain(j, "alice@example.com", 17, "wrong", 5);
	auth_job_free(&j);
	assert_null(j);
	assert_int_equal(gen.refs, 2);		/* the worker holds it */
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	while (work_pending() > 0) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(ndone, 0);
	assert_int_equal(gen.refs, 1);
}

static void
test_throttle(void **state)
{
	struct sockaddr_in	 sin;
	const struct sockaddr	*sa = (const struct sockaddr *)&sin;
	int			 i, ms = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0xc0000201);	/* 192.0.2.1 */
	assert_false(auth_job_refused(sa));
	assert_int_equal(auth_job_failed(sa), 0);	/* no throttle */
	loop_shared()->auth_throttle = auth_throttle_new(0, 0, 5);
	for (i = 0; i < 3; i++)
		ms = auth_job_failed(sa);
	assert_true(ms > 0);
	assert_false(auth_job_refused(sa));
	auth_job_succeeded(sa);
	assert_int_equal(auth_job_failed(sa), 0);	/* count cleared */
	for (i = 0; i < 5; i++)
		(void)auth_job_failed(sa);
	assert_true(auth_job_refused(sa));
	auth_throttle_free(&loop_shared()->auth_throttle);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_plain_too_long),
		cmocka_unit_test(test_sasl_plain_ir),
		cmocka_unit_test(test_sasl_login_steps),
		cmocka_unit_test(test_orphan),
		cmocka_unit_test(test_throttle),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
