/*
 * queue.h - the durable outbound queue (issue "Outbound delivery").
 *
 * A queued message is a spooled file plus an LMDB record (envelope
 * sender, per-recipient state and DSN parameters, attempts, next attempt,
 * last reply), written and fsynced before the "250" that accepted it.
 * The runner on the event loop hands due messages to the SMTP client
 * (smtpc.h), retries with backoff, and bounces after queue.lifetime.
 * [loop] unless noted.
 */
#ifndef QUEUE_H
#define QUEUE_H
#include <stddef.h>

struct conf;
struct queue;
struct store_msg;

/* [loop, blocking: at start only] Open the queue under <state_dir>/queue. */
int	 queue_open(const struct conf *, struct queue **q_r, const char **error_r);
/*
 * How the runner hands a due message to the network.  The SMTP client
 * (protocols/smtp/smtpc_*.c) provides it; storage does not depend on it.
 * The owner of this module defines the members.
 */
struct queue_deliverer;
/* Start the runner (timers on loop_base()); call after privileges drop. */
void	 queue_start(struct queue *, const struct queue_deliverer *);
/* Stop the runner; deliveries in flight finish or are retried later. */
void	 queue_stop(struct queue *);
void	 queue_close(struct queue **);
void	 queue_set_conf(struct queue *, const struct conf *);

/*
 * [loop] Queue msg for remote recipients; done runs on the loop thread
 * once the message and its record are durable (rc 0) or not (rc -1).
 * The store_msg stays the caller's.
 */
typedef void queue_done_fn(void *arg, int rc, const char *error);
void	 queue_submit(struct queue *, struct store_msg *, const char *sender,
	    const char *const *rcpts, size_t nrcpts, queue_done_fn *, void *arg);
#endif
