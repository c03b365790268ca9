/*
 * test_auth.c - unit tests for auth/: crypt hashes, the account table,
 * the login cache, the failure throttle, base64 and SASL PLAIN/LOGIN.
 * Accounts are built by hand, not loaded from a config file.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "auth_private.h"
#include "conf.h"
#include "log.h"

/* ---- fixtures -------------------------------------------------------- */

static char	 tmpdir[] = "/tmp/test_auth.XXXXXX";
static char	*bob_file;

static char	 n_alice[] = "alice@example.com";
static char	 n_bob[] = "bob@example.com";
static char	 n_carol[] = "carol@example.com";
static char	*alice_hash;

static struct conf_account	 accts[3];
static struct conf		 cf;

static int
group_setup(void **state)
{
	const char	*error = NULL;
	FILE		*f;

	log_init(LOG_L_WARN);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	if (asprintf(&bob_file, "%s/bob.pw", tmpdir) == -1)
		return -1;
	if ((f = fopen(bob_file, "w")) == NULL)
		return -1;
	fputs("hunter2\n", f);
	fclose(f);
	if (auth_pw_hash_blocking("correct horse", "yescrypt", &alice_hash,
	    &error) != 0)
		return -1;
	accts[0].name = n_alice;
	accts[0].hashed_password = alice_hash;
	accts[1].name = n_bob;
	accts[1].password_file = bob_file;
	accts[2].name = n_carol;
	cf.accounts = accts;
	cf.naccounts = 3;
	if (auth_sasl_global_init_blocking("postern-test", &error) != 0) {
		fprintf(stderr, "sasl init: %s\n", error);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	auth_sasl_global_done();
	unlink(bob_file);
	rmdir(tmpdir);
	free(bob_file);
	free(alice_hash);
	return 0;
}

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- auth_pw ---------------------------------------------------------- */

static void
test_pw_schemes(void **state)
{
	static const struct {
		const char	*scheme;
		const char	*prefix;
	} t[] = {
		{ "yescrypt", "$y$" },
		{ NULL, "$y$" },
		{ "sha512", "$6$rounds=100000$" },
		{ "bcrypt", "$2b$10$" },
	};
	const char	*error = NULL;
	char		*h, *h2;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(auth_pw_hash_blocking("s3cret pw", t[i].scheme,
		    &h, &error), 0);
		assert_non_null(h);
		assert_memory_equal(h, t[i].prefix, strlen(t[i].prefix));
		assert_true(auth_pw_scheme_known(h));
		assert_true(auth_pw_verify_blocking("s3cret pw", h));
		assert_false(auth_pw_verify_blocking("s3cret pW", h));
		assert_false(auth_pw_verify_blocking("", h));
		/* Fresh salt every time. */
		assert_int_equal(auth_pw_hash_blocking("s3cret pw",
		    t[i].scheme, &h2, &error), 0);
		assert_string_not_equal(h, h2);
		free(h);
		free(h2);
	}
}

static void
test_pw_locked_unknown(void **state)
{
	const char	*error = NULL;
	char		*h, *locked, *other = NULL;

	assert_int_equal(auth_pw_hash_blocking("pw", "sha512", &h, &error), 0);
	assert_non_null(locked = malloc(strlen(h) + 2));
	locked[0] = '!';
	strcpy(locked + 1, h);
	assert_false(auth_pw_verify_blocking("pw", locked));
	assert_false(auth_pw_scheme_known(locked));
	assert_false(auth_pw_verify_blocking("pw", "*"));
	assert_false(auth_pw_verify_blocking("pw", "!"));
	assert_false(auth_pw_verify_blocking("pw", ""));
	assert_false(auth_pw_verify_blocking("pw", NULL));
	assert_false(auth_pw_verify_blocking(NULL, h));
	assert_false(auth_pw_scheme_known("$zz$abc$def"));
	assert_false(auth_pw_verify_blocking("pw", "$zz$abc$def"));
	assert_false(auth_pw_scheme_known("plaintext"));
	assert_int_equal(auth_pw_hash_blocking("pw", "md4", &other, &error),
	    -1);
	assert_null(other);
	assert_non_null(error);
	free(locked);
	free(h);
}

/* ---- auth_db ---------------------------------------------------------- */

static void
test_db_check(void **state)
{
	struct auth_db	*db = auth_db_new(&cf);
	const char	*canon = NULL;

	assert_int_equal(auth_db_count(db), 3);
	assert_true(auth_db_check_blocking(db, "alice@example.com",
	    "correct horse", &canon));
	assert_string_equal(canon, "alice@example.com");
	/* Case-insensitive on both parts; canonical is the config's. */
	canon = NULL;
	assert_true(auth_db_check_blocking(db, "ALICE@Example.COM",
	    "correct horse", &canon));
	assert_string_equal(canon, "alice@example.com");
	assert_false(auth_db_check_blocking(db, "alice@example.com",
	    "Correct horse", &canon));
	assert_null(canon);
	/* Cleartext file: trailing newline stripped, exact match. */
	assert_true(auth_db_check_blocking(db, "Bob@example.com", "hunter2",
	    &canon));
	assert_string_equal(canon, "bob@example.com");
	assert_false(auth_db_check_blocking(db, "bob@example.com",
	    "hunter2\n", NULL));
	assert_false(auth_db_check_blocking(db, "bob@example.com", "hunter",
	    NULL));
	assert_false(auth_db_check_blocking(db, "bob@example.com", "", NULL));
	/* No password source: may not log in. */
	assert_false(auth_db_check_blocking(db, "carol@example.com", "",
	    NULL));
	assert_false(auth_db_check_blocking(db, "carol@example.com", "x",
	    NULL));
	/* Unknown users, odd input. */
	assert_false(auth_db_check_blocking(db, "mallory@example.com",
	    "correct horse", &canon));
	assert_null(canon);
	assert_false(auth_db_check_blocking(db, "alice", "correct horse",
	    NULL));
	assert_false(auth_db_check_blocking(db, NULL, "x", NULL));
	assert_false(auth_db_check_blocking(db, "alice@example.com", NULL,
	    NULL));
	assert_string_equal(auth_db_canonical(db, "CAROL@example.com"),
	    "carol@example.com");
	assert_null(auth_db_canonical(db, "dave@example.com"));
	auth_db_free(&db);
	assert_null(db);
	auth_db_free(&db);
}

static void
test_db_missing_file(void **state)
{
	struct conf_account	 a[1];
	struct conf		 c;
	struct auth_db		*db;
	char			 name[] = "eve@example.com";
	char			 path[] = "/nonexistent/postern/eve.pw";

	memset(a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	a[0].name = name;
	a[0].password_file = path;
	c.accounts = a;
	c.naccounts = 1;
	db = auth_db_new(&c);
	assert_false(auth_db_check_blocking(db, name, "", NULL));
	assert_false(auth_db_check_blocking(db, name, "x", NULL));
	auth_db_free(&db);
	/* An empty config still yields a working (empty) db. */
	db = auth_db_new(NULL);
	assert_int_equal(auth_db_count(db), 0);
	assert_false(auth_db_check_blocking(db, name, "x", NULL));
	auth_db_free(&db);
}

/* Unknown logins must not be much cheaper than known ones. */
static void
test_db_timing(void **state)
{
	struct auth_db	*db = auth_db_new(&cf);
	double		 t0, known, unknown;
	int		 i;

	t0 = mono();
	for (i = 0; i < 3; i++)
		(void)auth_db_check_blocking(db, "alice@example.com", "nope",
		    NULL);
	known = mono() - t0;
	t0 = mono();
	for (i = 0; i < 3; i++)
		(void)auth_db_check_blocking(db, "nobody@example.com", "nope",
		    NULL);
	unknown = mono() - t0;
	/* Loose bound: same crypt setting, so within noise of each other. */
	assert_true(unknown > known * 0.5);
	auth_db_free(&db);
}

static void
test_db_cached(void **state)
{
	struct auth_db		*db = auth_db_new(&cf);
	struct auth_cache	*c = auth_cache_new(60, 16);
	const char		*canon = NULL;

	assert_true(auth_db_check_cached_blocking(db, c, "Alice@example.com",
	    "correct horse", 1000, &canon));
	assert_string_equal(canon, "alice@example.com");
	assert_int_equal(auth_cache_count(c), 1);
	assert_true(auth_cache_lookup(c, "alice@example.com", "correct horse",
	    1001));
	assert_true(auth_db_check_cached_blocking(db, c, "ALICE@EXAMPLE.COM",
	    "correct horse", 1002, &canon));
	assert_string_equal(canon, "alice@example.com");
	/* Failures are never cached. */
	assert_false(auth_db_check_cached_blocking(db, c, "alice@example.com",
	    "wrong", 1003, &canon));
	assert_null(canon);
	assert_int_equal(auth_cache_count(c), 1);
	/* Password-file accounts are read each time, not cached. */
	assert_true(auth_db_check_cached_blocking(db, c, "bob@example.com",
	    "hunter2", 1004, NULL));
	assert_int_equal(auth_cache_count(c), 1);
	assert_true(auth_db_check_cached_blocking(db, NULL, "bob@example.com",
	    "hunter2", 1004, NULL));
	auth_cache_free(&c);
	assert_null(c);
	auth_db_free(&db);
}

/* ---- auth_cache -------------------------------------------------------- */

static void
test_cache_basic(void **state)
{
	struct auth_cache	*c = auth_cache_new(300, 100);

	assert_false(auth_cache_lookup(c, "u@x", "pw", 0));
	auth_cache_add(c, "u@x", "pw", 100);
	assert_true(auth_cache_lookup(c, "u@x", "pw", 100));
	assert_true(auth_cache_lookup(c, "U@X", "pw", 399));
	assert_false(auth_cache_lookup(c, "u@x", "pw2", 101));
	assert_false(auth_cache_lookup(c, "v@x", "pw", 101));
	/* Not the same pair: "u@x\0pw" must not collide with "u@xp\0w". */
	assert_false(auth_cache_lookup(c, "u@xp", "w", 101));
	/* Expired exactly at ttl, and removed. */
	assert_false(auth_cache_lookup(c, "u@x", "pw", 400));
	assert_int_equal(auth_cache_count(c), 0);
	/* Clock going backwards ends the entry too. */
	auth_cache_add(c, "u@x", "pw", 500);
	assert_false(auth_cache_lookup(c, "u@x", "pw", 499));
	/* Re-adding refreshes. */
	auth_cache_add(c, "u@x", "pw", 500);
	auth_cache_add(c, "u@x", "pw", 700);
	assert_int_equal(auth_cache_count(c), 1);
	assert_true(auth_cache_lookup(c, "u@x", "pw", 900));
	auth_cache_clear(c);
	assert_int_equal(auth_cache_count(c), 0);
	assert_false(auth_cache_lookup(c, "u@x", "pw", 900));
	auth_cache_add(c, "u@x", "pw", 900);
	assert_true(auth_cache_lookup(c, "u@x", "pw", 901));
	auth_cache_free(&c);
}

static void
test_cache_eviction(void **state)
{
	struct auth_cache	*c = auth_cache_new(300, 3);
	char			 login[32];
	int			 i;

	auth_cache_add(c, "a@x", "pw", 10);
	auth_cache_add(c, "b@x", "pw", 11);
	auth_cache_add(c, "c@x", "pw", 12);
	assert_int_equal(auth_cache_count(c), 3);
	auth_cache_add(c, "d@x", "pw", 13);
	assert_int_equal(auth_cache_count(c), 3);
	assert_false(auth_cache_lookup(c, "a@x", "pw", 14));	/* oldest */
	assert_true(auth_cache_lookup(c, "b@x", "pw", 14));
	assert_true(auth_cache_lookup(c, "c@x", "pw", 14));
	assert_true(auth_cache_lookup(c, "d@x", "pw", 14));
	/* Many more: bounded, and the newest three survive. */
	for (i = 0; i < 1000; i++) {
		snprintf(login, sizeof(login), "user%d@x", i);
		auth_cache_add(c, login, "pw", 20);
		assert_true(auth_cache_count(c) <= 3);
	}
	assert_true(auth_cache_lookup(c, "user999@x", "pw", 21));
	assert_true(auth_cache_lookup(c, "user997@x", "pw", 21));
	assert_false(auth_cache_lookup(c, "user996@x", "pw", 21));
	auth_cache_free(&c);
	/* Defaults. */
	c = auth_cache_new(0, 0);
	auth_cache_add(c, "a@x", "pw", 0);
	assert_true(auth_cache_lookup(c, "a@x", "pw", AUTH_CACHE_TTL_DEFAULT -
	    1));
	assert_false(auth_cache_lookup(c, "a@x", "pw", AUTH_CACHE_TTL_DEFAULT));
	auth_cache_free(&c);
}

static void
test_cache_no_password(void **state)
{
	static const char	 pw[] = "Very-Distinctive-Password-7731";
	struct auth_cache	*c = auth_cache_new(300, 8);
	struct auth_cache	*c2 = auth_cache_new(300, 8);
	unsigned char		 k1[AUTH_CACHE_KEY_LEN], k2[AUTH_CACHE_KEY_LEN];
	unsigned char		 k3[AUTH_CACHE_KEY_LEN], k4[AUTH_CACHE_KEY_LEN];
	const void		*raw;
	size_t			 len;

	auth_cache_add(c, "alice@example.com", pw, 1);
	raw = auth_cache_raw(c, &len);
	assert_true(len > 0);
	assert_null(memmem(raw, len, pw, strlen(pw)));
	assert_null(memmem(raw, len, "Very", 4));
	assert_null(memmem(raw, len, "alice", 5));
	auth_cache_key(c, "alice@example.com", pw, k1);
	auth_cache_key(c, "alice@example.com", "other", k2);
	auth_cache_key(c, "ALICE@example.com", pw, k3);
	assert_memory_not_equal(k1, k2, sizeof(k1));
	assert_memory_equal(k1, k3, sizeof(k1));
	/* The stored entry is the key, nothing else recognisable. */
	assert_non_null(memmem(raw, len, k1, sizeof(k1)));
	/* Another process (here: cache) has another key. */
	auth_cache_key(c2, "alice@example.com", pw, k4);
	assert_memory_not_equal(k1, k4, sizeof(k1));
	/* clear() rekeys. */
	auth_cache_clear(c);
	auth_cache_key(c, "alice@example.com", pw, k2);
	assert_memory_not_equal(k1, k2, sizeof(k1));
	auth_cache_free(&c);
	auth_cache_free(&c2);
}

/* ---- auth_throttle ----------------------------------------------------- */

static struct sockaddr_storage
sa4(const char *ip)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(12345);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage
sa6(const char *ip)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(443);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	return ss;
}

#define SA(x)	((const struct sockaddr *)&(x))

static void
test_throttle_grow_decay(void **state)
{
	static const int	 want[] = { 0, 0, 0, 1000, 2000, 4000, 8000,
	    15000, 15000, 15000 };
	struct auth_throttle	*t = auth_throttle_new(64, 60, 20);
	struct sockaddr_storage	 a = sa4("192.0.2.1"), b = sa4("192.0.2.2");
	size_t			 i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(auth_throttle_delay_ms(t, SA(a), 100), want[i]);
		auth_throttle_fail(t, SA(a), 100);
	}
	assert_int_equal(auth_throttle_failures(t, SA(a), 100), 10);
	assert_int_equal(auth_throttle_delay_ms(t, SA(b), 100), 0);
	/* One failure forgiven per 60 s. */
	assert_int_equal(auth_throttle_failures(t, SA(a), 159), 10);
	assert_int_equal(auth_throttle_failures(t, SA(a), 160), 9);
	assert_int_equal(auth_throttle_failures(t, SA(a), 100 + 5 * 60), 5);
	assert_int_equal(auth_throttle_delay_ms(t, SA(a), 100 + 5 * 60), 4000);
	assert_int_equal(auth_throttle_delay_ms(t, SA(a), 100 + 8 * 60), 0);
	assert_int_equal(auth_throttle_failures(t, SA(a), 100 + 10 * 60), 0);
	/* Refuse outright at 20 failures. */
	for (i = 0; i < 19; i++)
		auth_throttle_fail(t, SA(b), 1000);
	assert_int_equal(auth_throttle_delay_ms(t, SA(b), 1000), 15000);
	auth_throttle_fail(t, SA(b), 1000);
	assert_int_equal(auth_throttle_delay_ms(t, SA(b), 1000),
	    AUTH_THROTTLE_REFUSE);
	/* Success clears. */
	auth_throttle_success(t, SA(b));
	assert_int_equal(auth_throttle_delay_ms(t, SA(b), 1000), 0);
	assert_int_equal(auth_throttle_failures(t, SA(b), 1000), 0);
	/* NULL address: nothing to count. */
	auth_throttle_fail(t, NULL, 1000);
	assert_int_equal(auth_throttle_delay_ms(t, NULL, 1000), 0);
	auth_throttle_free(&t);
	assert_null(t);
}

static void
test_throttle_ipv6(void **state)
{
	struct auth_throttle	*t = auth_throttle_new(0, 0, 0);
	struct sockaddr_storage	 a = sa6("2001:db8:1:2::1");
	struct sockaddr_storage	 b = sa6("2001:db8:1:2:ffff:1:2:3");
	struct sockaddr_storage	 c = sa6("2001:db8:1:3::1");
	struct sockaddr_storage	 m = sa6("::ffff:198.51.100.7");
	struct sockaddr_storage	 v4 = sa4("198.51.100.7");
	int			 i;

	for (i = 0; i < 4; i++)
		auth_throttle_fail(t, SA(a), 10);
	/* Same /64: shared; the next /64: separate. */
	assert_int_equal(auth_throttle_failures(t, SA(b), 10), 4);
	assert_int_equal(auth_throttle_delay_ms(t, SA(b), 10), 2000);
	assert_int_equal(auth_throttle_failures(t, SA(c), 10), 0);
	auth_throttle_fail(t, SA(b), 10);
	assert_int_equal(auth_throttle_failures(t, SA(a), 10), 5);
	/* IPv4-mapped IPv6 is the IPv4 address. */
	auth_throttle_fail(t, SA(m), 10);
	auth_throttle_fail(t, SA(v4), 10);
	assert_int_equal(auth_throttle_failures(t, SA(v4), 10), 2);
	assert_int_equal(auth_throttle_failures(t, SA(m), 10), 2);
	auth_throttle_free(&t);
}

static void
test_throttle_bounded(void **state)
{
	struct auth_throttle	*t = auth_throttle_new(8, 60, 30);
	struct sockaddr_storage	 a, first = sa4("10.0.0.1");
	char			 ip[32];
	int			 i, tracked = 0;

	auth_throttle_fail(t, SA(first), 0);
	for (i = 0; i < 2000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", 1 + i / 65536,
		    (i / 256) % 256, i % 256);
		a = sa4(ip);
		auth_throttle_fail(t, SA(a), 1 + i / 100);
	}
	/* The oldest client was pushed out of the fixed table. */
	assert_int_equal(auth_throttle_failures(t, SA(first), 21), 0);
	/* At most 8 clients tracked. */
	for (i = 0; i < 2000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", 1 + i / 65536,
		    (i / 256) % 256, i % 256);
		a = sa4(ip);
		if (auth_throttle_failures(t, SA(a), 21) > 0)
			tracked++;
	}
	assert_true(tracked > 0);
	assert_true(tracked <= 8);
	/* The most recent one is there. */
	assert_int_equal(auth_throttle_failures(t, SA(a), 21), 1);
	auth_throttle_free(&t);
}

/* ---- auth_b64 ------------------------------------------------------------ */

static void
test_b64(void **state)
{
	static const struct {
		const char	*plain;
		size_t		 len;
		const char	*enc;
	} ok[] = {
		{ "", 0, "" },
		{ "f", 1, "Zg==" },
		{ "fo", 2, "Zm8=" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg==" },
		{ "fooba", 5, "Zm9vYmE=" },
		{ "\0alice\0secret", 13, "AGFsaWNlAHNlY3JldA==" },
		{ "\xff\xfe\xfd", 3, "//79" },
	};
	static const char *const bad[] = {
		"Zg=", "Zg", "Z===", "====", "Zg==Zg==", "Zm9v\r\n", " Zm9v",
		"Zm 9", "Zh==", "Zm9=", "Zm-v", "Zm_v", "Z=g=", "=Zg=",
	};
	const char	*error = NULL;
	char		*e, *d;
	size_t		 i, dlen;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		e = auth_b64_encode(ok[i].plain, ok[i].len);
		assert_string_equal(e, ok[i].enc);
		assert_int_equal(auth_b64_decode(e, strlen(e), &d, &dlen,
		    &error), 0);
		assert_int_equal(dlen, ok[i].len);
		assert_memory_equal(d, ok[i].plain, dlen);
		assert_int_equal(d[dlen], '\0');
		free(e);
		free(d);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(auth_b64_decode(bad[i], strlen(bad[i]), &d,
		    &dlen, &error), -1);
		assert_null(d);
		assert_non_null(error);
	}
}

/* ---- auth_sasl ------------------------------------------------------------ */

struct checker_ctx {
	struct auth_db	*db;
	int		 calls;
};

static bool
checker(void *arg, const char *login, const char *password,
    const char **canonical_login_r)
{
	struct checker_ctx *cc = arg;

	cc->calls++;
	return auth_db_check_blocking(cc->db, login, password,
	    canonical_login_r);
}

static struct auth_sasl *
sasl_session(struct checker_ctx *cc)
{
	struct auth_sasl	*s = NULL;
	const char		*error = NULL;

	assert_int_equal(auth_sasl_new("smtp", "mx.example.com",
	    "192.0.2.1:587", "[2001:db8::1]:50000", checker, cc, &s, &error),
	    0);
	assert_non_null(s);
	return s;
}

/* PLAIN message from its three parts. */
static size_t
plain_msg(char *buf, const char *authz, const char *authn, const char *pw)
{
	size_t	 n = 0;

	memcpy(buf + n, authz, strlen(authz));
	n += strlen(authz);
	buf[n++] = '\0';
	memcpy(buf + n, authn, strlen(authn));
	n += strlen(authn);
	buf[n++] = '\0';
	memcpy(buf + n, pw, strlen(pw));
	n += strlen(pw);
	return n;
}

static void
test_sasl_plain(void **state)
{
	struct checker_ctx	 cc = { auth_db_new(&cf), 0 };
	struct auth_sasl	*s;
	const char		*ch;
	char			 msg[256];
	size_t			 chlen, n;

	assert_string_equal(auth_sasl_mech_list(), "PLAIN LOGIN");
	assert_true(auth_sasl_mech_supported("plain"));
	assert_false(auth_sasl_mech_supported("CRAM-MD5"));

	/* With an initial response. */
	s = sasl_session(&cc);
	n = plain_msg(msg, "", "Alice@Example.com", "correct horse");
	assert_int_equal(auth_sasl_start_blocking(s, "PLAIN", msg, n, &ch,
	    &chlen), AUTH_SASL_OK);
	assert_string_equal(auth_sasl_user(s), "alice@example.com");
	assert_int_equal(cc.calls, 1);
	auth_sasl_free(&s);
	assert_null(s);

	/* Without: empty challenge first, then the response. */
	s = sasl_session(&cc);
	assert_int_equal(auth_sasl_start_blocking(s, "PLAIN", NULL, 0, &ch,
	    &chlen), AUTH_SASL_CONTINUE);
	assert_int_equal(chlen, 0);
	assert_null(auth_sasl_user(s));
	n = plain_msg(msg, "alice@example.com", "alice@example.com",
	    "correct horse");
	assert_int_equal(auth_sasl_step_blocking(s, msg, n, &ch, &chlen),
	    AUTH_SASL_OK);
	assert_string_equal(auth_sasl_user(s), "alice@example.com");
	auth_sasl_free(&s);

	/* Wrong password, then the right one on the same session. */
	s = sasl_session(&cc);
	n = plain_msg(msg, "", "alice@example.com", "wrong horse");
	assert_int_equal(auth_sasl_start_blocking(s, "PLAIN", msg, n, &ch,
	    &chlen), AUTH_SASL_FAIL);
	assert_null(auth_sasl_user(s));
	assert_non_null(auth_sasl_error(s));
	n = plain_msg(msg, "", "bob@example.com", "hunter2");
	assert_int_equal(auth_sasl_start_blocking(s, "plain", msg, n, &ch,
	    &chlen), AUTH_SASL_OK);
	assert_string_equal(auth_sasl_user(s), "bob@example.com");
	auth_sasl_free(&s);

	/* Unknown user. */
	s = sasl_session(&cc);
	n = plain_msg(msg, "", "mallory@example.com", "correct horse");
	assert_int_equal(auth_sasl_start_blocking(s, "PLAIN", msg, n, &ch,
	    &chlen), AUTH_SASL_FAIL);
	assert_null(auth_sasl_user(s));
	auth_sasl_free(&s);
	auth_db_free(&cc.db);
}

static void
test_sasl_plain_authzid(void **state)
{
	struct checker_ctx	 cc = { auth_db_new(&cf), 0 };
	struct auth_sasl	*s;
	const char		*ch;
	char			 msg[256];
	size_t			 chlen, n;

	/* Right password, but asks to act as someone else: refused. */
	s = sasl_session(&cc);
	n = plain_msg(msg, "bob@example.com", "alice@example.com",
	    "correct horse");
	assert_int_equal(auth_sasl_start_blocking(s, "PLAIN", msg, n, &ch,
	    &chlen), AUTH_SASL_FAIL);
	assert_null(auth_sasl_user(s));
	assert_non_null(strstr(auth_sasl_error(s), "authorization identity"));
	auth_sasl_free(&s);

	/* The same identity in another case is fine. */
	s = sasl_session(&cc);
	n = plain_msg(msg, "ALICE@example.com", "alice@example.com",
	    "correct horse");
	assert_int_equal(auth_sasl_start_blocking(s, "PLAIN", msg, n, &ch,
	    &chlen), AUTH_SASL_OK);
	assert_string_equal(auth_sasl_user(s), "alice@example.com");
	auth_sasl_free(&s);

	/* Malformed: no NULs, empty initial response, trailing junk. */
	s = sasl_session(&cc);
	assert_int_equal(auth_sasl_start_blocking(s, "PLAIN",
	    "alice@example.com", 17, &ch, &chlen), AUTH_SASL_FAIL);
	assert_int_equal(auth_sasl_start_blocking(s, "PLAIN", "", 0, &ch,
	    &chlen), AUTH_SASL_FAIL);
	n = plain_msg(msg, "", "alice@example.com", "correct horse");
	msg[n++] = '\0';
	msg[n++] = 'x';
	assert_int_equal(auth_sasl_start_blocking(s, "PLAIN", msg, n, &ch,
	    &chlen), AUTH_SASL_FAIL);
	assert_int_equal(auth_sasl_start_blocking(s, "CRAM-MD5", NULL, 0,
	    &ch, &chlen), AUTH_SASL_FAIL);
	assert_null(auth_sasl_user(s));
	auth_sasl_free(&s);
	auth_db_free(&cc.db);
}

static void
test_sasl_login(void **state)
{
	struct checker_ctx	 cc = { auth_db_new(&cf), 0 };
	struct auth_sasl	*s;
	const char		*ch, *error = NULL;
	char			*resp;
	size_t			 chlen, rlen;

	/* The classic exchange, through base64 as a protocol would. */
	s = sasl_session(&cc);
	assert_int_equal(auth_sasl_start_blocking(s, "LOGIN", NULL, 0, &ch,
	    &chlen), AUTH_SASL_CONTINUE);
	assert_int_equal(chlen, 9);
	assert_memory_equal(ch, "Username:", 9);
	assert_int_equal(auth_b64_decode("YWxpY2VAZXhhbXBsZS5jb20=", 24,
	    &resp, &rlen, &error), 0);
	assert_int_equal(auth_sasl_step_blocking(s, resp, rlen, &ch, &chlen),
	    AUTH_SASL_CONTINUE);
	free(resp);
	assert_int_equal(chlen, 9);
	assert_memory_equal(ch, "Password:", 9);
	assert_int_equal(auth_b64_decode("Y29ycmVjdCBob3JzZQ==", 20, &resp,
	    &rlen, &error), 0);
	assert_int_equal(auth_sasl_step_blocking(s, resp, rlen, &ch, &chlen),
	    AUTH_SASL_OK);
	free(resp);
	assert_string_equal(auth_sasl_user(s), "alice@example.com");
	/* Nothing more to step once done. */
	assert_int_equal(auth_sasl_step_blocking(s, "x", 1, &ch, &chlen),
	    AUTH_SASL_FAIL);
	auth_sasl_free(&s);

	/* Username as the initial response (AUTH LOGIN <b64 user>). */
	s = sasl_session(&cc);
	assert_int_equal(auth_sasl_start_blocking(s, "LOGIN", "BOB@example.com",
	    15, &ch, &chlen), AUTH_SASL_CONTINUE);
	assert_memory_equal(ch, "Password:", 9);
	assert_int_equal(auth_sasl_step_blocking(s, "hunter2", 7, &ch,
	    &chlen), AUTH_SASL_OK);
	assert_string_equal(auth_sasl_user(s), "bob@example.com");
	auth_sasl_free(&s);

	/* Wrong password. */
	s = sasl_session(&cc);
	assert_int_equal(auth_sasl_start_blocking(s, "LOGIN", NULL, 0, &ch,
	    &chlen), AUTH_SASL_CONTINUE);
	assert_int_equal(auth_sasl_step_blocking(s, "alice@example.com", 17,
	    &ch, &chlen), AUTH_SASL_CONTINUE);
	assert_int_equal(auth_sasl_step_blocking(s, "hunter2", 7, &ch,
	    &chlen), AUTH_SASL_FAIL);
	assert_null(auth_sasl_user(s));
	auth_sasl_free(&s);

	/* A response that is not base64 never reaches SASL. */
	assert_int_equal(auth_b64_decode("Y29ycm*jdA==", 12, &resp, &rlen,
	    &error), -1);
	assert_null(resp);
	auth_db_free(&cc.db);
}

/*
 * Sessions stepped on several worker threads at once, sharing one db and
 * one cache, as the daemon's worker pool does.
 */
struct worker_ctx {
	struct auth_db		*db;
	struct auth_cache	*cache;
	int			 ok;
};

static bool
checker_cached(void *arg, const char *login, const char *password,
    const char **canonical_login_r)
{
	struct worker_ctx *w = arg;

	return auth_db_check_cached_blocking(w->db, w->cache, login, password,
	    time(NULL), canonical_login_r);
}

static void *
worker_main(void *arg)
{
	struct worker_ctx	*w = arg;
	struct auth_sasl	*s;
	const char		*ch, *error;
	char			 msg[256];
	size_t			 chlen, n;
	int			 i;

	for (i = 0; i < 5; i++) {
		if (auth_sasl_new("imap", "mx.example.com", NULL, NULL,
		    checker_cached, w, &s, &error) != 0)
			return NULL;
		n = plain_msg(msg, "", i % 2 ? "alice@example.com" :
		    "bob@example.com", i % 2 ? "correct horse" : "hunter2");
		if (auth_sasl_start_blocking(s, "PLAIN", msg, n, &ch,
		    &chlen) == AUTH_SASL_OK && auth_sasl_user(s) != NULL)
			__atomic_add_fetch(&w->ok, 1, __ATOMIC_RELAXED);
		auth_sasl_free(&s);
	}
	return NULL;
}

static void
test_sasl_threads(void **state)
{
	struct worker_ctx	 w = { auth_db_new(&cf), auth_cache_new(0, 0), 0 };
	pthread_t		 t[4];
	int			 i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w),
		    0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(w.ok, 20);
	assert_int_equal(auth_cache_count(w.cache), 1);	/* alice only */
	auth_cache_free(&w.cache);
	auth_db_free(&w.db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pw_schemes),
		cmocka_unit_test(test_pw_locked_unknown),
		cmocka_unit_test(test_db_check),
		cmocka_unit_test(test_db_missing_file),
		cmocka_unit_test(test_db_timing),
		cmocka_unit_test(test_db_cached),
		cmocka_unit_test(test_cache_basic),
		cmocka_unit_test(test_cache_eviction),
		cmocka_unit_test(test_cache_no_password),
		cmocka_unit_test(test_throttle_grow_decay),
		cmocka_unit_test(test_throttle_ipv6),
		cmocka_unit_test(test_throttle_bounded),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_sasl_plain),
		cmocka_unit_test(test_sasl_plain_authzid),
		cmocka_unit_test(test_sasl_login),
		cmocka_unit_test(test_sasl_threads),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
