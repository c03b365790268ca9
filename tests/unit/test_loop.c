/*
 * test_loop.c - reloads off the loop thread (daemon/loop.c): the build
 * hook runs on a worker and the activate hook on the loop thread; requests
 * made during a build are coalesced into one more build that reads the
 * file again (the last request wins); a refused config or build keeps the
 * old generation and reports every error; a shutdown with a build in
 * flight discards it and answers every requester (ASan: nothing leaks).
 *
 * The build hook can be held at a gate so a build is "in flight" for as
 * long as a test needs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "loop.h"
#include "work.h"
#include "xmalloc.h"

#define MAX_ANSWERS	8

struct answer {
	int		 rc;
	unsigned	 serial;
	char		*error;
};

static char		 tmpdir[64];
static char		*conf_path;
static pthread_t	 loop_thread;

/* Hook bookkeeping; builds run on workers, hence atomics and a lock. */
static atomic_int	 builds_started, builds_on_loop;
static pthread_mutex_t	 gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 gate_cond = PTHREAD_COND_INITIALIZER;
static bool		 gate_closed;
static int		 activations, activations_off_loop, frees;
static char		*activated[MAX_ANSWERS];

static struct answer	 answers[MAX_ANSWERS];
static int		 nanswers, want_answers;

static int
hook_build(struct gen *g, char *err, size_t errlen)
{
	bool	 on_loop = pthread_equal(pthread_self(), loop_thread);

	if (on_loop)
		atomic_fetch_add(&builds_on_loop, 1);
	atomic_fetch_add(&builds_started, 1);
	/* On the loop thread nobody could open the gate: fail, not hang. */
	pthread_mutex_lock(&gate_lock);
	while (gate_closed && !on_loop)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	if (strncmp(g->conf->fqdn, "fail.", 5) == 0) {
		snprintf(err, errlen, "test: refused fqdn %s", g->conf->fqdn);
		return -1;
	}
	g->ext[0] = xstrdup(g->conf->fqdn);	/* something to free */
	return 0;
}

static void
hook_activate(struct gen *g)
{
	if (!pthread_equal(pthread_self(), loop_thread))
		activations_off_loop++;
	if (activations < MAX_ANSWERS)
		activated[activations] = xstrdup(g->conf->fqdn);
	activations++;
}

static void
hook_free(struct gen *g)
{
	frees++;
	free(g->ext[0]);
	g->ext[0] = NULL;
}

static void
gate(bool closed)
{
	pthread_mutex_lock(&gate_lock);
	gate_closed = closed;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* Wait (without the loop) until n builds have reached the hook. */
static void
wait_builds(int n)
{
	struct timespec	 ts = { 0, 1000000 };
	int		 i;

	for (i = 0; i < 10000 && atomic_load(&builds_started) < n; i++)
		nanosleep(&ts, NULL);
	assert_true(atomic_load(&builds_started) >= n);
}

static void
on_answer(void *arg, int rc, unsigned serial, const char *error)
{
	struct answer	*a = &answers[nanswers++];

	(void)arg;
	assert_true(pthread_equal(pthread_self(), loop_thread));
	a->rc = rc;
	a->serial = serial;
	a->error = error != NULL ? xstrdup(error) : NULL;
	if (nanswers == want_answers && loop_base() != NULL)
		event_base_loopexit(loop_base(), NULL);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fail_msg("timeout: %d of %d answers", nanswers, want_answers);
}

/* Run the loop until want answers came (10 s at most). */
static void
run_until(int want)
{
	struct timeval	 tv = { 10, 0 };
	struct event	*t;

	want_answers = want;
	if (nanswers >= want)
		return;
	t = evtimer_new(loop_base(), on_timeout, NULL);
	evtimer_add(t, &tv);
	event_base_dispatch(loop_base());
	event_free(t);
	assert_int_equal(nanswers, want);
}

static void
write_conf(const char *fqdn, const char *extra)
{
	FILE	*fp = fopen(conf_path, "w");

	assert_non_null(fp);
	fprintf(fp, "fqdn = \"%s\";\ndomains = [ \"example.net\" ];\n"
	    "state_dir = \"%s/state\";\nstorage = { path = \"%s/mail\"; };\n"
	    "%s", fqdn, tmpdir, tmpdir, extra != NULL ? extra : "");
	assert_int_equal(fclose(fp), 0);
}

static int
setup(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*conf;
	const char		*e = NULL;
	char			 err[512], *dir;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_loop.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	dir = xasprintf("%s/state", tmpdir);
	mkdir(dir, 0700);
	free(dir);
	conf_path = xasprintf("%s/postern.conf", tmpdir);
	write_conf("first.example.net", NULL);
	if ((conf = conf_load(conf_path, &errs)) == NULL) {
		conf_errors_free(&errs);
		return -1;
	}
	loop_thread = pthread_self();
	atomic_store(&builds_started, 0);
	atomic_store(&builds_on_loop, 0);
	activations = activations_off_loop = frees = 0;
	nanswers = want_answers = 0;
	gate(false);
	loop_set_conf_file(conf_path);
	if (loop_init(conf, hook_build, hook_activate, hook_free, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "loop_init: %s\n", err);
		conf_free(&conf);
		return -1;
	}
	if (work_init(loop_base(), 2, &e) == -1)
		return -1;
	/* The first generation is built on the loop thread, at start. */
	if (atomic_load(&builds_on_loop) != 1 || activations != 1)
		return -1;
	atomic_store(&builds_on_loop, 0);
	atomic_store(&builds_started, 0);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	int	 i;

	(void)state;
	gate(false);
	work_shutdown();
	loop_free();
	for (i = 0; i < nanswers; i++)
		free(answers[i].error);
	for (i = 0; i < activations && i < MAX_ANSWERS; i++)
		free(activated[i]);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(conf_path);
	conf_path = NULL;
	return 0;
}

static void
test_reload_builds_on_worker(void **state)
{
	(void)state;
	write_conf("second.example.net", NULL);
	loop_reload(on_answer, NULL);
	assert_true(loop_reloading());
	run_until(1);
	assert_false(loop_reloading());
	assert_int_equal(answers[0].rc, 0);
	assert_int_equal(answers[0].serial, 2);
	assert_null(answers[0].error);
	assert_int_equal(atomic_load(&builds_started), 1);
	assert_int_equal(atomic_load(&builds_on_loop), 0);
	assert_int_equal(activations, 2);
	assert_int_equal(activations_off_loop, 0);
	assert_string_equal(activated[1], "second.example.net");
	assert_int_equal(loop_gen()->serial, 2);
	assert_string_equal(loop_gen()->conf->fqdn, "second.example.net");
	assert_non_null(loop_gen()->ssl);
	/* The first generation was freed at the swap (nobody held it). */
	assert_int_equal(frees, 1);
}

static void
test_reload_coalesces_last_wins(void **state)
{
	(void)state;
	gate(true);
	write_conf("second.example.net", NULL);
	loop_reload(on_answer, NULL);
	wait_builds(1);		/* it has read "second" and waits */
	write_conf("third.example.net", NULL);
	loop_reload(on_answer, NULL);
	loop_reload(on_answer, NULL);
	loop_reload(NULL, NULL);	/* SIGHUP: nobody to answer */
	write_conf("fourth.example.net", NULL);
	loop_reload(on_answer, NULL);
	gate(false);
	run_until(4);
	/* Two builds: the one in flight and one for all the others. */
	assert_int_equal(atomic_load(&builds_started), 2);
	assert_int_equal(atomic_load(&builds_on_loop), 0);
	assert_int_equal(answers[0].rc, 0);
	assert_int_equal(answers[0].serial, 2);
	assert_int_equal(answers[1].serial, 3);
	assert_int_equal(answers[2].serial, 3);
	assert_int_equal(answers[3].serial, 3);
	assert_int_equal(answers[3].rc, 0);
	assert_int_equal(activations, 3);
	assert_string_equal(activated[1], "second.example.net");
	assert_string_equal(activated[2], "fourth.example.net");
	assert_string_equal(loop_gen()->conf->fqdn, "fourth.example.net");
	assert_false(loop_reloading());
}

static void
test_reload_refused_keeps_old(void **state)
{
	char	*want;

	(void)state;
	/* A file that does not parse: file:line in the answer. */
	write_conf("second.example.net", "frobnicate = 1;\n");
	loop_reload(on_answer, NULL);
	run_until(1);
	assert_int_equal(answers[0].rc, -1);
	assert_int_equal(answers[0].serial, 1);
	want = xasprintf("%s:5: frobnicate: unknown option", conf_path);
	assert_non_null(answers[0].error);
	assert_non_null(strstr(answers[0].error, want));
	free(want);
	assert_int_equal(atomic_load(&builds_started), 0);

	/* A build that fails: the half-built generation is freed. */
	write_conf("fail.example.net", NULL);
	loop_reload(on_answer, NULL);
	run_until(2);
	assert_int_equal(answers[1].rc, -1);
	assert_int_equal(answers[1].serial, 1);
	assert_string_equal(answers[1].error,
	    "test: refused fqdn fail.example.net");
	assert_int_equal(frees, 1);
	assert_int_equal(activations, 1);
	assert_int_equal(loop_gen()->serial, 1);
	assert_string_equal(loop_gen()->conf->fqdn, "first.example.net");

	/* And the next good one goes through. */
	write_conf("second.example.net", NULL);
	loop_reload(on_answer, NULL);
	run_until(3);
	assert_int_equal(answers[2].rc, 0);
	assert_int_equal(answers[2].serial, 2);
}

static void
test_shutdown_with_build_in_flight(void **state)
{
	(void)state;
	gate(true);
	write_conf("second.example.net", NULL);
	loop_reload(on_answer, NULL);
	wait_builds(1);
	loop_reload(on_answer, NULL);		/* coalesced behind it */
	loop_shutdown();			/* no connections: exits */
	assert_int_equal(loop_run(), 0);
	/* Too late to ask: answered at once. */
	loop_reload(on_answer, NULL);
	assert_int_equal(nanswers, 1);
	assert_int_equal(answers[0].rc, -1);
	gate(false);
	work_shutdown();			/* runs the build's done() */
	assert_int_equal(nanswers, 3);
	assert_int_equal(answers[1].rc, -1);
	assert_int_equal(answers[2].rc, -1);
	assert_non_null(strstr(answers[1].error, "shutting down"));
	assert_non_null(strstr(answers[2].error, "shutting down"));
	/* One build only, discarded: freed, never made current. */
	assert_int_equal(atomic_load(&builds_started), 1);
	assert_int_equal(activations, 1);
	assert_int_equal(frees, 1);
	assert_int_equal(loop_gen()->serial, 1);
	assert_false(loop_reloading());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reload_builds_on_worker,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_coalesces_last_wins,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_refused_keeps_old,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_shutdown_with_build_in_flight, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
