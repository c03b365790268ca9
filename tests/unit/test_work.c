/*
 * test_work.c - the worker pool: jobs run off the loop thread, their
 * completions run on it, 10,000 jobs all complete, the serial lane keeps
 * order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "work.h"

struct job {
	pthread_t	 run_thread;
	pthread_t	 done_thread;
	int		 seq;
};

static pthread_t		 loop_thread;
static struct event_base	*base;
static int			 done_count, want;
static atomic_int		 run_count;
static int			 on_loop_violations, off_loop_violations;
static int			 order_errors, next_serial;

static void
job_run(void *arg)
{
	struct job	*j = arg;

	j->run_thread = pthread_self();
	if (work_on_loop_thread())
		off_loop_violations++;
	atomic_fetch_add(&run_count, 1);
}

static void
job_done(void *arg)
{
	struct job	*j = arg;

	j->done_thread = pthread_self();
	if (!pthread_equal(j->done_thread, loop_thread) || !work_on_loop_thread())
		on_loop_violations++;
	if (pthread_equal(j->run_thread, loop_thread))
		off_loop_violations++;
	free(j);
	if (++done_count == want)
		event_base_loopexit(base, NULL);
}

static void
serial_run(void *arg)
{
	struct job	*j = arg;

	/* Only one serial job runs at a time and in submission order. */
	if (j->seq != next_serial)
		order_errors++;
	next_serial++;
}

static void
serial_done(void *arg)
{
	free(arg);
	if (++done_count == want)
		event_base_loopexit(base, NULL);
}

static int
setup(void **state)
{
	const char	*err;

	evthread_use_pthreads();
	base = event_base_new();
	loop_thread = pthread_self();
	if (work_init(base, 4, &err) == -1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	work_shutdown();
	event_base_free(base);
	return 0;
}

static void
test_ten_thousand_jobs(void **state)
{
	struct timeval	 limit = { 60, 0 };
	int		 i;

	done_count = 0;
	want = 10000;
	atomic_store(&run_count, 0);
	for (i = 0; i < want; i++)
		work_submit(job_run, job_done, calloc(1, sizeof(struct job)));
	assert_int_equal(work_pending(), want);
	event_base_loopexit(base, &limit);	/* safety net, never reached */
	event_base_dispatch(base);
	assert_int_equal(done_count, 10000);
	assert_int_equal(atomic_load(&run_count), 10000);
	assert_int_equal(on_loop_violations, 0);
	assert_int_equal(off_loop_violations, 0);
	assert_int_equal(work_pending(), 0);
}

static void
test_serial_lane_order(void **state)
{
	struct timeval	 limit = { 60, 0 };
	struct job	*j;
	int		 i;

	done_count = 0;
	want = 2000;
	next_serial = 0;
	for (i = 0; i < want; i++) {
		j = calloc(1, sizeof(*j));
		j->seq = i;
		work_submit_serial(serial_run, serial_done, j);
	}
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(done_count, want);
	assert_int_equal(order_errors, 0);
	assert_int_equal(next_serial, want);
}

static void
noop(void *arg)
{
	(void)arg;
}

static void
test_done_may_be_null(void **state)
{
	struct timeval	 tv = { 0, 200000 };

	work_submit(noop, NULL, NULL);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_int_equal(work_pending(), 0);
}

static int	 chain_done;

static void
chain_second_done(void *arg)
{
	chain_done++;
}

/* A completion that submits a follow-up, as a delivery does. */
static void
chain_first_done(void *arg)
{
	work_submit_serial(noop, chain_second_done, NULL);
}

static void
test_shutdown_drains_follow_ups(void **state)
{
	const char	*err;
	int		 i;

	work_shutdown();		/* the group's pool: start a fresh one */
	assert_int_equal(work_init(base, 2, &err), 0);
	chain_done = 0;
	for (i = 0; i < 100; i++)
		work_submit(noop, chain_first_done, NULL);
	work_shutdown();		/* no loop runs: shutdown must drain */
	assert_int_equal(chain_done, 100);
	assert_int_equal(work_pending(), 0);
	assert_int_equal(work_init(base, 2, &err), 0);	/* for teardown */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ten_thousand_jobs),
		cmocka_unit_test(test_serial_lane_order),
		cmocka_unit_test(test_done_may_be_null),
		cmocka_unit_test(test_shutdown_drains_follow_ups),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
