/*
 * work.c - worker threads and the doorbell that returns results to the loop.
 *
 * Workers take jobs from a mutex-guarded queue.  When a job finishes it is
 * put on the done list and the loop is woken with event_active() on a
 * doorbell event; activations merge, so the loop swaps out the whole done
 * list at once and runs every completion (the shape of Redis bio.c and
 * nginx's thread pool, our own code).  A second queue with exactly one
 * thread serves jobs that must run in order on one thread.
 */
#include <sys/queue.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"
#include "work.h"
#include "xmalloc.h"

struct work_job {
	TAILQ_ENTRY(work_job)	 entry;
	work_fn			*run;
	work_fn			*done;
	void			*arg;
};
TAILQ_HEAD(work_list, work_job);

struct work_queue {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct work_list	 todo;
	pthread_t		*threads;
	int			 nthreads;
	int			 stop;
};

static struct work_queue	 wq_pool, wq_serial;
static pthread_mutex_t		 wq_done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 wq_done_cond = PTHREAD_COND_INITIALIZER;
static struct work_list		 wq_done = TAILQ_HEAD_INITIALIZER(wq_done);
static struct event		*wq_bell;
static int			 wq_pending;	/* loop thread only */
static pthread_t		 wq_loop_thread;

static void *
work_thread(void *p)
{
	struct work_queue	*q = p;
	struct work_job		*j;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (TAILQ_EMPTY(&q->todo) && !q->stop)
			pthread_cond_wait(&q->cond, &q->lock);
		if ((j = TAILQ_FIRST(&q->todo)) == NULL)
			break;				/* stop and drained */
		TAILQ_REMOVE(&q->todo, j, entry);
		pthread_mutex_unlock(&q->lock);

		j->run(j->arg);

		pthread_mutex_lock(&wq_done_lock);
		TAILQ_INSERT_TAIL(&wq_done, j, entry);
		pthread_cond_signal(&wq_done_cond);	/* work_shutdown waits */
		pthread_mutex_unlock(&wq_done_lock);
		event_active(wq_bell, EV_READ, 0);	/* merges; drain all */
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Loop thread: take the whole done list in one swap, run each done(). */
static void
work_bell(evutil_socket_t fd, short what, void *unused)
{
	struct work_list	 ready = TAILQ_HEAD_INITIALIZER(ready);
	struct work_job		*j;

	pthread_mutex_lock(&wq_done_lock);
	TAILQ_CONCAT(&ready, &wq_done, entry);
	pthread_mutex_unlock(&wq_done_lock);
	while ((j = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, j, entry);
		wq_pending--;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

static int
work_queue_start(struct work_queue *q, int n, const char **error_r)
{
	int	 i;

	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	TAILQ_INIT(&q->todo);
	q->threads = xcalloc((size_t)n, sizeof(*q->threads));
	q->nthreads = n;
	q->stop = 0;
	for (i = 0; i < n; i++) {
		if (pthread_create(&q->threads[i], NULL, work_thread, q) != 0) {
			*error_r = "cannot start worker thread";
			q->nthreads = i;
			return -1;
		}
	}
	return 0;
}

int
work_init(struct event_base *base, int nthreads, const char **error_r)
{
	if (nthreads < 2)
		nthreads = 2;
	wq_loop_thread = pthread_self();
	wq_bell = event_new(base, -1, 0, work_bell, NULL);
	if (wq_bell == NULL) {
		*error_r = "cannot create worker doorbell";
		return -1;
	}
	if (work_queue_start(&wq_pool, nthreads, error_r) == -1 ||
	    work_queue_start(&wq_serial, 1, error_r) == -1)
		return -1;
	return 0;
}

static void
work_enqueue(struct work_queue *q, work_fn *run, work_fn *done, void *arg)
{
	struct work_job	*j = xmalloc(sizeof(*j));

	j->run = run;
	j->done = done;
	j->arg = arg;
	wq_pending++;
	pthread_mutex_lock(&q->lock);
	TAILQ_INSERT_TAIL(&q->todo, j, entry);
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void
work_submit(work_fn *run, work_fn *done, void *arg)
{
	work_enqueue(&wq_pool, run, done, arg);
}

void
work_submit_serial(work_fn *run, work_fn *done, void *arg)
{
	work_enqueue(&wq_serial, run, done, arg);
}

int
work_pending(void)
{
	return wq_pending;
}

static void
work_queue_stop(struct work_queue *q)
{
	int	 i;

	if (q->threads == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	for (i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	free(q->threads);
	q->threads = NULL;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

void
work_shutdown(void)
{
	struct timespec	 deadline;

	/*
	 * Drain in rounds: a completion may submit a follow-up job (a
	 * delivery's files are durable, now its index commit), so run
	 * completions until nothing is pending, then stop the threads.
	 * Bounded, so a stuck job cannot hang the exit forever.
	 */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	while (wq_pending > 0 && wq_bell != NULL) {
		pthread_mutex_lock(&wq_done_lock);
		while (TAILQ_EMPTY(&wq_done))
			if (pthread_cond_timedwait(&wq_done_cond, &wq_done_lock,
			    &deadline) != 0)
				break;
		pthread_mutex_unlock(&wq_done_lock);
		if (TAILQ_EMPTY(&wq_done))
			break;			/* deadline passed */
		work_bell(-1, 0, NULL);
	}
	work_queue_stop(&wq_pool);
	work_queue_stop(&wq_serial);
	if (wq_bell != NULL) {
		work_bell(-1, 0, NULL);
		event_free(wq_bell);
		wq_bell = NULL;
	}
	if (wq_pending != 0)
		log_warn("work shutdown pending=%d", wq_pending);
}

int
work_on_loop_thread(void)
{
	return pthread_equal(pthread_self(), wq_loop_thread);
}
