/*
 * test_srs.c - unit tests for filter/srs/ (SRS forward and reverse).
 *
 * The compatibility vectors in tests/data/srs/vectors.tsv were produced by
 * PostSRSd 1.10 and Mail::SRS 0.31 (gen-vectors.sh); they replay without
 * either.  When postsrsd is installed, test_srs_live also starts it on
 * 127.0.0.1 (its tcp_table protocol, clock pinned with libfaketime when
 * present) and compares its answers with ours, row by row.
 * Single-threaded; the live part forks postsrsd and kills it by pid.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "srs.h"
#include "xmalloc.h"

#define SRS_DATA	TEST_DATA_DIR "/srs"
#define T0		((time_t)1704110400)	/* 2024-01-01 12:00:00 UTC */
#define DAY		((time_t)86400)

struct vec {
	char	*oracle;	/* postsrsd | mailsrs */
	char	*op;		/* forward | reverse */
	time_t	 t;
	char	*in;
	char	*want;		/* address, or "!" + error text */
};

static struct vec	*vecs;
static size_t		 nvecs;

/* Where Mail::SRS and postsrsd disagree we follow postsrsd. */
static const char *const mailsrs_deviations[] = {
	"SRS0=5857x=IL=example.com=alice@fwd.example",	/* longer hash */
	"alice@",					/* empty domain */
	NULL
};

static struct srs *
new_srs(const char *s1, const char *s2, unsigned int max_age)
{
	const char	*sec[2] = { s1, s2 };
	const char	*err = NULL;
	struct srs	*srs;

	if (srs_new("fwd.example", sec, s2 != NULL ? 2 : 1, max_age, &srs,
	    &err) != 0)
		fail_msg("srs_new: %s", err);
	return srs;
}

static struct srs *
fixture_srs(void)
{
	char		**sec;
	size_t		 n;
	const char	*err = NULL;
	struct srs	*srs;

	if (srs_load_secrets_blocking(SRS_DATA "/secrets", &sec, &n, &err))
		fail_msg("%s", err);
	assert_int_equal(n, 2);
	assert_int_equal(srs_new("fwd.example", (const char *const *)sec, n,
	    0, &srs, &err), 0);
	srs_secrets_free(&sec);
	assert_null(sec);
	return srs;
}

static int
load_vectors(void **state)
{
	FILE		*fp;
	char		*line = NULL, *f[5], *p;
	size_t		 cap = 0, i;
	ssize_t		 len;

	if ((fp = fopen(SRS_DATA "/vectors.tsv", "r")) == NULL)
		return -1;
	while ((len = getline(&line, &cap, fp)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		p = line;
		for (i = 0; i < 5; i++) {
			f[i] = p;
			if (i < 4) {
				if ((p = strchr(p, '\t')) == NULL)
					return -1;
				*p++ = '\0';
			}
		}
		vecs = xreallocarray(vecs, nvecs + 1, sizeof(*vecs));
		vecs[nvecs].oracle = xstrdup(f[0]);
		vecs[nvecs].op = xstrdup(f[1]);
		vecs[nvecs].t = (time_t)strtoll(f[2], NULL, 10);
		vecs[nvecs].in = xstrdup(f[3]);
		vecs[nvecs].want = xstrdup(f[4]);
		nvecs++;
	}
	free(line);
	fclose(fp);
	return nvecs > 100 ? 0 : -1;
}

static int
free_vectors(void **state)
{
	size_t		 i;

	for (i = 0; i < nvecs; i++) {
		free(vecs[i].oracle);
		free(vecs[i].op);
		free(vecs[i].in);
		free(vecs[i].want);
	}
	free(vecs);
	return 0;
}

/*
 * Check our answer for one vector against want (a fixture value or the
 * live oracle's).  strict_err: compare libsrs2's error text too.
 */
static void
check_one(const struct srs *srs, const char *op, time_t t, const char *in,
    const char *want, int strict_err)
{
	char		*out = NULL;
	const char	*err = NULL;
	int		 r;

	if (strcmp(op, "forward") == 0) {
		r = srs_forward(srs, in, t, &out);
		assert_non_null(out);
		if (want[0] == '!' || strcmp(want, in) == 0) {
			/* postsrsd's 500 or echo: Postfix keeps the sender. */
			if (r != 0 || strcmp(out, in) != 0)
				fail_msg("forward %s: got %s, want unchanged",
				    in, out);
		} else if (r != 1 || strcmp(out, want) != 0)
			fail_msg("forward %s at %lld: got %s (%d), want %s",
			    in, (long long)t, out, r, want);
		free(out);
		return;
	}
	r = srs_reverse(srs, in, t, &out, &err);
	if (want[0] == '!') {
		if (r != -1 || out != NULL)
			fail_msg("reverse %s at %lld: got %s, want error %s",
			    in, (long long)t, out, want + 1);
		if (strict_err && strcmp(err, want + 1) != 0)
			fail_msg("reverse %s: error \"%s\", want \"%s\"", in,
			    err, want + 1);
		return;
	}
	if (r != 0 || strcmp(out, want) != 0)
		fail_msg("reverse %s at %lld: got %s (%s), want %s", in,
		    (long long)t, r == 0 ? out : "-", r == 0 ? "" : err, want);
	free(out);
}

static void
test_srs_vectors(void **state)
{
	struct srs	*srs = fixture_srs();
	size_t		 i, j, np = 0, nm = 0;
	int		 dev;

	for (i = 0; i < nvecs; i++) {
		if (strcmp(vecs[i].oracle, "mailsrs") == 0) {
			for (dev = 0, j = 0; mailsrs_deviations[j]; j++)
				dev |= !strcmp(vecs[i].in,
				    mailsrs_deviations[j]);
			if (dev)
				continue;
			nm++;
		} else
			np++;
		check_one(srs, vecs[i].op, vecs[i].t, vecs[i].in,
		    vecs[i].want, strcmp(vecs[i].oracle, "postsrsd") == 0);
	}
	assert_true(np > 100);
	assert_true(nm > 40);
	srs_free(&srs);
	assert_null(srs);
}

/* The README's example, and the day arithmetic. */
static void
test_srs_basic(void **state)
{
	struct srs	*srs = new_srs("topsecret", NULL, 0);
	char		*out, *back;
	const char	*err;

	assert_int_equal(srs_forward(srs, "alice@example.com", T0, &out), 1);
	assert_string_equal(out, "SRS0=5857=IL=example.com=alice@fwd.example");
	assert_int_equal(srs_reverse(srs, out, T0 + 21 * DAY + DAY / 2 - 1,
	    &back, &err), 0);
	assert_string_equal(back, "alice@example.com");
	free(back);
	assert_int_equal(srs_reverse(srs, out, T0 + 22 * DAY, &back, &err),
	    -1);
	assert_string_equal(err, "Time stamp out of date.");
	assert_null(back);
	/* A stamp from tomorrow is ~1023 days old, not in the window. */
	assert_int_equal(srs_reverse(srs, out, T0 - DAY, &back, &err), -1);
	free(out);
	/* Clocks before 1970 are day 0 ("AA"), not a crash. */
	assert_int_equal(srs_forward(srs, "a@b.example", -5, &out), 1);
	assert_non_null(strstr(out, "=AA=b.example=a@"));
	free(out);
	assert_string_equal(srs_domain(srs), "fwd.example");
	srs_free(&srs);
	srs_free(&srs);		/* NULL is fine */
}

static void
test_srs_max_age(void **state)
{
	struct srs	*srs = new_srs("topsecret", NULL, 3);
	char		*out, *back;
	const char	*err;

	assert_int_equal(srs_forward(srs, "alice@example.com", T0, &out), 1);
	assert_int_equal(srs_reverse(srs, out, T0 + 3 * DAY, &back, &err), 0);
	free(back);
	assert_int_equal(srs_reverse(srs, out, T0 + 4 * DAY, &back, &err),
	    -1);
	free(out);
	srs_free(&srs);
}

/* First secret signs, every secret verifies: rotation. */
static void
test_srs_rotation(void **state)
{
	struct srs	*old = new_srs("topsecret", NULL, 0);
	struct srs	*cur = new_srs("newsecret", "topsecret", 0);
	struct srs	*gone = new_srs("newsecret", NULL, 0);
	char		*a, *b, *back;
	const char	*err;

	assert_int_equal(srs_forward(old, "alice@example.com", T0, &a), 1);
	assert_int_equal(srs_forward(cur, "alice@example.com", T0, &b), 1);
	assert_string_not_equal(a, b);
	assert_int_equal(srs_reverse(cur, a, T0, &back, &err), 0);
	free(back);
	assert_int_equal(srs_reverse(cur, b, T0, &back, &err), 0);
	free(back);
	assert_int_equal(srs_reverse(gone, a, T0, &back, &err), -1);
	assert_string_equal(err, "Hash invalid in SRS address.");
	assert_int_equal(srs_reverse(old, b, T0, &back, &err), -1);
	/* Ours under an old secret, other domain: "Already rewritten". */
	a[strlen(a) - strlen("fwd.example")] = '\0';
	back = xasprintf("%sother.example", a);
	free(a);
	assert_int_equal(srs_forward(cur, back, T0, &a), 0);
	assert_string_equal(a, back);
	free(a);
	free(back);
	free(b);
	srs_free(&old);
	srs_free(&cur);
	srs_free(&gone);
}

static void
test_srs_is_srs(void **state)
{
	assert_true(srs_is_srs("SRS0=a=b=c=d@e"));
	assert_true(srs_is_srs("srs1+x"));
	assert_true(srs_is_srs("Srs0-"));
	assert_false(srs_is_srs("SRS0"));
	assert_false(srs_is_srs("SRS"));
	assert_false(srs_is_srs(""));
	assert_false(srs_is_srs("SRS2=a"));
	assert_false(srs_is_srs("SRS0@x"));
	assert_false(srs_is_srs("SRS0_a"));
	assert_false(srs_is_srs("alice@example.com"));
}

/*
 * libsrs2 turns "SRS0@x" into an address nobody can reverse (it reads
 * past the string); we treat it as a plain local part, as Mail::SRS does.
 */
static void
test_srs_deviation(void **state)
{
	struct srs	*srs = new_srs("topsecret", NULL, 0);
	char		*out, *back;
	const char	*err;

	assert_int_equal(srs_forward(srs, "SRS0@example.com", T0, &out), 1);
	assert_string_equal(out, "SRS0=rjsp=IL=example.com=SRS0@fwd.example");
	assert_int_equal(srs_reverse(srs, out, T0, &back, &err), 0);
	assert_string_equal(back, "SRS0@example.com");
	free(back);
	free(out);
	srs_free(&srs);
}

static void
test_srs_limits(void **state)
{
	struct srs	*srs = new_srs("topsecret", NULL, 0);
	char		 big[SRS_ADDR_MAX + 2];
	char		*out, *back;
	const char	*err;
	size_t		 n;

	/* The longest address whose rewrite still fits: rewritten. */
	n = SRS_ADDR_MAX - strlen("SRS0=XXXX=IL=example.com=@fwd.example");
	memset(big, 'a', n);
	memcpy(big + n, "@example.com", sizeof("@example.com"));
	assert_int_equal(srs_forward(srs, big, T0, &out), 1);
	assert_int_equal(strlen(out), SRS_ADDR_MAX);
	assert_int_equal(srs_reverse(srs, out, T0, &back, &err), 0);
	assert_string_equal(back, big);
	free(back);
	free(out);
	/* One more byte: left alone. */
	memset(big, 'a', n + 1);
	memcpy(big + n + 1, "@example.com", sizeof("@example.com"));
	assert_int_equal(srs_forward(srs, big, T0, &out), 0);
	assert_string_equal(out, big);
	free(out);
	/* Over the limit as input. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "SRS0=", 5);
	assert_int_equal(srs_forward(srs, big, T0, &out), 0);
	free(out);
	assert_int_equal(srs_reverse(srs, big, T0, &back, &err), -1);
	assert_string_equal(err, "Buffer too small.");
	/* The null sender and a bare local part stay as they are. */
	assert_int_equal(srs_forward(srs, "", T0, &out), 0);
	assert_string_equal(out, "");
	free(out);
	srs_free(&srs);
}

static void
test_srs_new_errors(void **state)
{
	const char	*sec[2] = { "s", "" };
	const char	*crlf[1] = { "a\r\n" };
	const char	*err = NULL;
	struct srs	*srs = NULL;

	assert_int_equal(srs_new("", sec, 1, 0, &srs, &err), -1);
	assert_null(srs);
	assert_int_equal(srs_new("a@b", sec, 1, 0, &srs, &err), -1);
	assert_int_equal(srs_new("a b", sec, 1, 0, &srs, &err), -1);
	assert_int_equal(srs_new("d.example", sec, 0, 0, &srs, &err), -1);
	assert_int_equal(srs_new("d.example", sec, 2, 0, &srs, &err), -1);
	assert_int_equal(srs_new("d.example", crlf, 1, 0, &srs, &err), -1);
	assert_int_equal(srs_new("d.example", sec, 1, 1001, &srs, &err), -1);
	assert_non_null(strstr(err, "max_age_days"));
	assert_int_equal(srs_new("d.example", sec, 1, 1000, &srs, &err), 0);
	srs_free(&srs);
}

static char *
write_tmp(const void *data, size_t len)
{
	char		*path = xstrdup("/tmp/test_srs.XXXXXX");
	int		 fd;

	if ((fd = mkstemp(path)) < 0)
		fail_msg("mkstemp: %s", strerror(errno));
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static int
load_tmp(const void *data, size_t len, char ***sec_r, size_t *n_r,
    const char **err_r)
{
	char		*path = write_tmp(data, len);
	int		 r;

	r = srs_load_secrets_blocking(path, sec_r, n_r, err_r);
	unlink(path);
	free(path);
	return r;
}

#define SECRETS_TXT	"\r\none\r\n\n#two\nthree"

static void
test_srs_secrets_file(void **state)
{
	char		**sec;
	char		 big[1100];
	size_t		 n;
	const char	*err;

	/* postsrsd: strtok(line, "\r\n"); empty lines are skipped. */
	assert_int_equal(load_tmp(SECRETS_TXT, sizeof(SECRETS_TXT) - 1, &sec,
	    &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(sec[0], "one");
	assert_string_equal(sec[1], "#two");
	assert_string_equal(sec[2], "three");
	assert_null(sec[3]);
	srs_secrets_free(&sec);

	assert_int_equal(load_tmp("\n\r\n", 3, &sec, &n, &err), -1);
	assert_non_null(strstr(err, "no secret"));
	assert_null(sec);
	assert_int_equal(load_tmp("ab\0c\n", 5, &sec, &n, &err), -1);
	assert_non_null(strstr(err, "line 1: NUL"));
	memset(big, 'x', sizeof(big));
	big[0] = '\n';
	assert_int_equal(load_tmp(big, sizeof(big), &sec, &n, &err), -1);
	assert_non_null(strstr(err, "line 2: secret longer"));
	assert_int_equal(load_tmp(big, 1023, &sec, &n, &err), 0);
	assert_int_equal(strlen(sec[0]), SRS_SECRET_MAX);
	srs_secrets_free(&sec);
	assert_int_equal(srs_load_secrets_blocking(SRS_DATA "/missing",
	    &sec, &n, &err), -1);
	assert_non_null(strstr(err, "missing: No such file"));
}

/*
 * Round trips over a grid of local parts and domains (no '=' or '@' in
 * the domain: libsrs2 cannot split those back, see vectors.tsv).
 */
static void
test_srs_roundtrip(void **state)
{
	static const char *const users[] = { "a", "A.b", "x+y", "p=q", "",
	    "SRS0", "srs1", "SRS0=x", "-", "=", "'\"", "\xc3\xa9t\xc3\xa9" };
	static const char *const hosts[] = { "example.com", "EXAMPLE.org",
	    "x", "", "a-b.example" };
	struct srs	*srs = new_srs("k", "k2", 0);
	struct srs	*other = new_srs("z", NULL, 0);
	char		*addr, *fwd, *back, *fwd2, *back2;
	const char	*err;
	size_t		 i, j;
	time_t		 t;

	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		for (j = 0; j < sizeof(hosts) / sizeof(hosts[0]); j++) {
			t = T0 + (time_t)(i * 977 + j) * 3600;
			addr = xasprintf("%s@%s", users[i], hosts[j]);
			assert_int_equal(srs_forward(srs, addr, t, &fwd), 1);
			assert_true(srs_is_srs(fwd));
			assert_int_equal(srs_reverse(srs, fwd, t + 20 * DAY,
			    &back, &err), 0);
			assert_string_equal(back, addr);
			free(back);
			/* Ours, seen again at another domain: left alone. */
			*strrchr(fwd, '@') = '\0';
			back = xasprintf("%s@hop1.example", fwd);
			free(fwd);
			fwd = back;
			assert_int_equal(srs_forward(srs, fwd, t, &fwd2), 0);
			assert_string_equal(fwd2, fwd);
			free(fwd2);
			/* A second forwarder wraps our SRS0 as SRS1; its
			 * reversal gives our SRS0 back. */
			assert_int_equal(srs_forward(other, fwd, t, &fwd2), 1);
			assert_int_equal(strncmp(fwd2, "SRS1=", 5), 0);
			assert_int_equal(srs_reverse(other, fwd2, t, &back2,
			    &err), 0);
			if (strncmp(fwd, "SRS0", 4) == 0)
				assert_string_equal(back2, fwd);
			free(back2);
			free(fwd2);
			free(fwd);
			free(addr);
		}
	srs_free(&srs);
	srs_free(&other);
}

/* ---- live comparison with postsrsd --------------------------------- */

static int
have_postsrsd(void)
{
	const char	*path = getenv("PATH");
	char		*dirs, *d, *save = NULL, *f;
	int		 ok = 0;

	dirs = xstrdup(path != NULL ? path : "/usr/bin:/bin");
	dirs = xreallocarray(dirs, strlen(dirs) + 32, 1);
	strcat(dirs, ":/usr/sbin:/sbin");
	for (d = strtok_r(dirs, ":", &save); d != NULL && !ok;
	    d = strtok_r(NULL, ":", &save)) {
		f = xasprintf("%s/postsrsd", d);
		ok = access(f, X_OK) == 0;
		free(f);
	}
	free(dirs);
	return ok;
}

static char *
faketime_lib(void)
{
	glob_t		 g;
	char		*s = NULL;

	if (glob("/usr/lib/*/faketime/libfaketime.so.1", 0, NULL, &g) == 0 &&
	    g.gl_pathc > 0)
		s = xstrdup(g.gl_pathv[0]);
	globfree(&g);
	return s;
}

struct oracle {
	pid_t		 pid;
	int		 port;
};

/* Start postsrsd with our fixture secrets, the clock at t (or real). */
static int
oracle_start(struct oracle *o, int port, const char *fakelib, time_t t)
{
	struct sockaddr_in	 sin;
	struct tm		 tm;
	char			 when[64], fopt[32], ropt[32];
	int			 i, s;

	o->port = port;
	if ((o->pid = fork()) < 0)
		return -1;
	if (o->pid == 0) {
		if (fakelib != NULL) {
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "@%Y-%m-%d %H:%M:%S",
			    &tm);
			setenv("TZ", "UTC", 1);
			setenv("FAKETIME", when, 1);
			setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
			setenv("LD_PRELOAD", fakelib, 1);
		}
		snprintf(fopt, sizeof(fopt), "-f%d", port);
		snprintf(ropt, sizeof(ropt), "-r%d", port + 1);
		execlp("postsrsd", "postsrsd", "-s" SRS_DATA "/secrets",
		    "-dfwd.example", "-4", "-l127.0.0.1", fopt, ropt,
		    (char *)NULL);
		execl("/usr/sbin/postsrsd", "postsrsd", "-s" SRS_DATA
		    "/secrets", "-dfwd.example", "-4", "-l127.0.0.1", fopt,
		    ropt, (char *)NULL);
		_exit(127);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 100; i++) {
		sin.sin_port = htons((uint16_t)(port + 1));
		if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			return -1;
		if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(s);
			return 0;
		}
		close(s);
		if (waitpid(o->pid, NULL, WNOHANG) == o->pid) {
			o->pid = -1;
			return -1;	/* exited: port taken? */
		}
		usleep(50000);
	}
	return -1;
}

/* A port may be taken by someone else: try a few. */
static void
oracle_start_any(struct oracle *o, int *port, const char *fakelib, time_t t)
{
	int		 i;

	for (i = 0; i < 8; i++, *port += 2)
		if (oracle_start(o, *port, fakelib, t) == 0)
			return;
		else if (o->pid > 0) {
			kill(o->pid, SIGTERM);
			waitpid(o->pid, NULL, 0);
		}
	fail_msg("cannot start postsrsd on 127.0.0.1 near port %d", *port);
}

static void
oracle_stop(struct oracle *o)
{
	if (o->pid > 0) {
		kill(o->pid, SIGTERM);
		waitpid(o->pid, NULL, 0);
	}
	o->pid = -1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* tcp_table "get KEY" -> the oracle's answer as a vector "want". */
static char *
oracle_get(const struct oracle *o, const char *op, const char *key)
{
	struct sockaddr_in	 sin;
	FILE			*fp;
	char			 line[4096], *w, *p;
	const char		*k;
	int			 s;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)(o->port +
	    (strcmp(op, "reverse") == 0)));
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(s, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		fail_msg("connect postsrsd: %s", strerror(errno));
	fp = fdopen(s, "r+");
	assert_non_null(fp);
	fputs("get ", fp);
	for (k = key; *k != '\0'; k++)
		if (*k == '%' || (unsigned char)*k <= ' ' ||
		    (unsigned char)*k >= 0x7f)
			fprintf(fp, "%%%02X", (unsigned char)*k);
		else
			fputc(*k, fp);
	fputc('\n', fp);
	fflush(fp);
	if (fgets(line, sizeof(line), fp) == NULL)
		fail_msg("postsrsd closed the connection for %s", key);
	fclose(fp);
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "500 ", 4) == 0)
		return xasprintf("!%s", line + 4);
	if (strncmp(line, "200 ", 4) != 0)
		fail_msg("postsrsd: %s", line);
	w = xstrdup(line + 4);
	for (p = w, k = w; *k != '\0'; p++, k++)
		if (k[0] == '%' && hexval(k[1]) >= 0 && hexval(k[2]) >= 0) {
			*p = (char)(hexval(k[1]) * 16 + hexval(k[2]));
			k += 2;
		} else
			*p = *k;
	*p = '\0';
	return w;
}

static void
test_srs_live(void **state)
{
	static const char *const plain[] = { "alice@example.com",
	    "Bob+Tag@Example.ORG", "x=y@z.example", "q@fwd.example",
	    "SRS0=abcd=IL=orig.example=joe@other.example",
	    "SRS1=wxyz=other.example==abcd=IL=o.example=joe@third.example" };
	struct srs	*srs;
	struct oracle	 o;
	char		*fakelib, *want, *fwd;
	size_t		 i, j, ntimes = 0, checked = 0;
	time_t		 times[16], now = time(NULL);
	int		 port;

	if (!have_postsrsd()) {
		print_message("postsrsd not installed: live check skipped\n");
		skip();
	}
	srs = fixture_srs();
	fakelib = faketime_lib();
	port = 23000 + (int)(getpid() % 1000) * 2;

	/* 1. The real clock: forward, then reverse what came back. */
	oracle_start_any(&o, &port, NULL, 0);
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		want = oracle_get(&o, "forward", plain[i]);
		check_one(srs, "forward", now, plain[i], want, 1);
		if (want[0] != '!') {
			fwd = want;
			want = oracle_get(&o, "reverse", fwd);
			check_one(srs, "reverse", now, fwd, want, 1);
			free(fwd);
		}
		free(want);
		checked++;
	}
	oracle_stop(&o);

	/* 2. Every postsrsd row of the fixture, the clock pinned. */
	if (fakelib == NULL) {
		print_message("libfaketime not installed: pinned-clock "
		    "rows skipped\n");
		goto done;
	}
	for (i = 0; i < nvecs; i++) {
		for (j = 0; j < ntimes && times[j] != vecs[i].t; j++)
			;
		if (j == ntimes && ntimes < 16)
			times[ntimes++] = vecs[i].t;
	}
	for (j = 0; j < ntimes; j++) {
		port += 2;
		oracle_start_any(&o, &port, fakelib, times[j]);
		for (i = 0; i < nvecs; i++) {
			if (vecs[i].t != times[j] ||
			    strcmp(vecs[i].oracle, "postsrsd") != 0)
				continue;
			want = oracle_get(&o, vecs[i].op, vecs[i].in);
			/* The oracle today still agrees with the fixture. */
			if (strcmp(want, vecs[i].want) != 0)
				fail_msg("postsrsd now says %s for %s %s, "
				    "fixture %s", want, vecs[i].op,
				    vecs[i].in, vecs[i].want);
			check_one(srs, vecs[i].op, vecs[i].t, vecs[i].in,
			    want, 1);
			free(want);
			checked++;
		}
		oracle_stop(&o);
	}
	assert_true(checked > 100);
done:
	print_message("live postsrsd comparisons: %zu\n", checked);
	free(fakelib);
	srs_free(&srs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_srs_vectors),
		cmocka_unit_test(test_srs_basic),
		cmocka_unit_test(test_srs_max_age),
		cmocka_unit_test(test_srs_rotation),
		cmocka_unit_test(test_srs_is_srs),
		cmocka_unit_test(test_srs_deviation),
		cmocka_unit_test(test_srs_limits),
		cmocka_unit_test(test_srs_new_errors),
		cmocka_unit_test(test_srs_secrets_file),
		cmocka_unit_test(test_srs_roundtrip),
		cmocka_unit_test(test_srs_live),
	};

	return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
