/*
 * idx_writer.c - the one index writer thread, for group commit.
 *
 * Producers (delivery jobs, IMAP STORE/EXPUNGE, Maildir sync) submit
 * batches; the thread takes everything queued so far in one swap and
 * commits it in one write txn with one sync.  Under load many batches
 * share each fsync; when idle a lone batch commits at once, so nobody
 * waits for a timer.
 *
 * Owns the queue (mutex + condvar) and the thread.  Callbacks run on the
 * writer thread, in submit order, after the shared commit; the daemon
 * bounces them to the loop.  The writer never holds a read snapshot, so
 * it can always grow the map.
 *
 * Threads: submit/stop [any]; callbacks on the writer thread.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "idx_private.h"
#include "log.h"
#include "xmalloc.h"

/* Bound one txn: a huge queue is committed in several slices. */
#define IDX_WRITER_SLICE	256

struct idx_writer_job {
	struct idx_batch		*batch;
	idx_writer_cb			*cb;
	void				*arg;
	TAILQ_ENTRY(idx_writer_job)	 entry;
};

TAILQ_HEAD(idx_writer_q, idx_writer_job);

struct idx_writer {
	struct idx		*idx;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct idx_writer_q	 queue;
	bool			 stopping;
};

static void
idx_writer_run(struct idx_writer *w, struct idx_writer_q *q)
{
	struct idx_batch	*batches[IDX_WRITER_SLICE];
	struct idx_writer_job	*jobs[IDX_WRITER_SLICE];
	const char		*error = NULL;
	size_t			 n, i;
	int			 rc;

	while (!TAILQ_EMPTY(q)) {
		for (n = 0; n < IDX_WRITER_SLICE && !TAILQ_EMPTY(q); n++) {
			jobs[n] = TAILQ_FIRST(q);
			TAILQ_REMOVE(q, jobs[n], entry);
			batches[n] = jobs[n]->batch;
		}
		rc = idx_batch_commit_many_blocking(w->idx, batches, n, &error);
		if (rc == -1)
			log_err("idx writer-commit batches=%zu error=\"%s\"", n,
			    error);
		else
			log_debug("idx writer-commit batches=%zu", n);
		for (i = 0; i < n; i++) {
			jobs[i]->cb(jobs[i]->batch, rc, rc == 0 ? NULL : error,
			    jobs[i]->arg);
			free(jobs[i]);
		}
	}
}

static void *
idx_writer_main(void *arg)
{
	struct idx_writer	*w = arg;
	struct idx_writer_q	 q;
	bool			 stop;

	for (;;) {
		TAILQ_INIT(&q);
		pthread_mutex_lock(&w->lock);
		while (TAILQ_EMPTY(&w->queue) && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		TAILQ_CONCAT(&q, &w->queue, entry);
		stop = w->stopping;
		pthread_mutex_unlock(&w->lock);
		idx_writer_run(w, &q);
		/* Stop only once a swap found the queue empty. */
		if (stop && TAILQ_EMPTY(&q)) {
			pthread_mutex_lock(&w->lock);
			stop = TAILQ_EMPTY(&w->queue);
			pthread_mutex_unlock(&w->lock);
			if (stop)
				break;
		}
	}
	return NULL;
}

int
idx_writer_start(struct idx *idx, struct idx_writer **w_r,
    const char **error_r)
{
	struct idx_writer	*w;
	int			 rc;

	w = xcalloc(1, sizeof(*w));
	w->idx = idx;
	TAILQ_INIT(&w->queue);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if ((rc = pthread_create(&w->thread, NULL, idx_writer_main, w)) != 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		*error_r = idx_util_errf("index: writer thread: %s",
		    strerror(rc));
		return -1;
	}
	*w_r = w;
	return 0;
}

void
idx_writer_submit(struct idx_writer *w, struct idx_batch *b,
    idx_writer_cb *cb, void *arg)
{
	struct idx_writer_job	*j = xmalloc(sizeof(*j));

	j->batch = b;
	j->cb = cb;
	j->arg = arg;
	pthread_mutex_lock(&w->lock);
	TAILQ_INSERT_TAIL(&w->queue, j, entry);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void
idx_writer_stop(struct idx_writer **wp)
{
	struct idx_writer	*w = *wp;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	*wp = NULL;
}
