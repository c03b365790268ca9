/*
 * queue.c - PLACEHOLDER for the outbound queue of queue.h: it queues
 * nothing, so remote recipients are refused (451) by the callers.
 */
#include <stdlib.h>

#include "queue.h"
#include "xmalloc.h"

struct queue {
	const struct conf	*conf;
};

int
queue_open(const struct conf *conf, struct queue **q_r, const char **error_r)
{
	struct queue	*q = xcalloc(1, sizeof(*q));

	q->conf = conf;
	*q_r = q;
	return 0;
}

void
queue_start(struct queue *q, const struct queue_deliverer *d)
{
}

void
queue_stop(struct queue *q)
{
}

void
queue_close(struct queue **qp)
{
	free(*qp);
	*qp = NULL;
}

void
queue_set_conf(struct queue *q, const struct conf *conf)
{
	q->conf = conf;
}

void
queue_submit(struct queue *q, struct store_msg *msg, const char *sender,
    const char *const *rcpts, size_t nrcpts, queue_done_fn *done, void *arg)
{
	done(arg, -1, "remote delivery not available yet");
}
