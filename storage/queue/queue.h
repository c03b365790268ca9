/*
 * queue.h - the durable outbound queue (issue "Outbound delivery").
 *
 * A queued message is a file <state_dir>/queue/<id> (the trace and
 * submission headers, then the spooled message) plus a record in the
 * named LMDB database "queue" of the index environment: envelope sender,
 * per-recipient state with the RFC 3461 NOTIFY/ORCPT parameters and the
 * last reply, attempts and the time of the next attempt.  The file and
 * its directory are fsynced, then the record is committed on the serial
 * lane, and only then does queue_submit() report success: the SMTP
 * server answers "250" after that (RFC 5321 6.1: accepting a message is
 * taking responsibility for it).
 *
 * The runner (timers on loop_base()) hands the pending recipients of due
 * messages to a deliverer, grouped by domain with a per-domain
 * concurrency limit.  A recipient the remote accepted is recorded as
 * sent before anything else happens to the message, so a restart never
 * sends to it again.  4xx: retry with exponential backoff and jitter
 * (5 min doubling to 4 h); 5xx, or queue.lifetime exceeded: a delivery
 * status notification (RFC 3464) to the sender, never to <> (RFC 5321
 * 6.1, RFC 3461 6.2).
 *
 * Test knob: the environment variable POSTERN_QUEUE_TEST_SCALE (a
 * divisor, 1..100000) shrinks every backoff delay, so tests see a retry
 * after milliseconds instead of minutes.  Unset in production.
 *
 * [loop] unless noted.
 */
#ifndef QUEUE_H
#define QUEUE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf;
struct gen;
struct queue;
struct store_msg;

/* [loop, blocking: at start only] Open the queue; load its records. */
int	 queue_open(const struct conf *, struct queue **q_r, const char **error_r);

/* Message flags (struct queue_attempt.flags, queue_submit()). */
#define QUEUE_F_SMTPUTF8	0x01	/* RFC 6531: needs SMTPUTF8 */
#define QUEUE_F_8BITMIME	0x02	/* RFC 6152: BODY=8BITMIME given */
#define QUEUE_F_BOUNCE		0x04	/* a DSN we made (sender <>) */

/* RFC 3461 4.1 NOTIFY bits (same values as SMTP_NOTIFY_*). */
#define QUEUE_NOTIFY_NEVER	0x01
#define QUEUE_NOTIFY_SUCCESS	0x02
#define QUEUE_NOTIFY_FAILURE	0x04
#define QUEUE_NOTIFY_DELAY	0x08

/* RFC 3461 4.3 RET (same values as enum smtp_ret). */
#define QUEUE_RET_NONE		0	/* not given: headers only */
#define QUEUE_RET_FULL		1
#define QUEUE_RET_HDRS		2

/*
 * One delivery attempt: the pending recipients of one message for one
 * domain (or all of them, for a relay host).  The queue fills the input
 * and owns the struct; the deliverer fills code[i] and reply[i] (malloced
 * or NULL) for every recipient and calls done(a) exactly once, unless
 * cancel(a) ran first (the queue is stopping), after which it must not.
 */
struct queue_attempt {
	const struct conf	*conf;
	char			 id[17];
	const char		*path;		/* the queue file */
	const char		*sender;	/* "" for <> */
	const char		*domain;	/* lower-cased */
	char			**rcpts;
	size_t			 nrcpts;
	unsigned		 flags;		/* QUEUE_F_* */
	const char		*envid;		/* RFC 3461 ENVID or NULL */
	int			 ret;		/* QUEUE_RET_* */
	uint64_t		 size;		/* of the file */
	/* results, one per recipient: 2xx, 4xx or 5xx, and the reply */
	int			*code;
	char			**reply;
	char			*mx;		/* host that answered, or NULL */
	void			(*done)(struct queue_attempt *);
	void			*priv;		/* the queue's and the deliverer's */
	void			*dpriv;
	bool			 local;		/* the deliverer's: stored here */
};

struct queue_deliverer {
	void	(*start)(struct queue_attempt *);
	void	(*cancel)(struct queue_attempt *);
	/*
	 * The queue stops (after cancelling the attempts): release what the
	 * deliverer keeps between attempts (smtpc: the idle connections it
	 * keeps for reuse get QUIT).  NULL: nothing kept.
	 */
	void	(*stop)(void);
};

/*
 * [worker] DKIM-signs a message the queue makes (a DSN) with the keys of
 * generation g (filter.h filter_sign_blocking, which main.c installs: the
 * queue cannot depend on the filter module).  0 with *hdrs_r the header
 * lines to put first (malloc'd, NULL: none), -1 with a static reason.
 */
typedef int queue_sign_fn(struct gen *g, const char *msg, size_t len,
	    char **hdrs_r, const char **error_r);
/* [loop] Install the DSN signer; NULL (the default): DSNs go unsigned. */
void	 queue_set_signer(struct queue *, queue_sign_fn *);

/* Start the runner (timers on loop_base()); call after privileges drop. */
void	 queue_start(struct queue *, const struct queue_deliverer *);
/* Stop the runner; attempts in flight are cancelled and retried later. */
void	 queue_stop(struct queue *);
void	 queue_close(struct queue **);
void	 queue_set_conf(struct queue *, const struct conf *);

/* One recipient for queue_submit(). */
struct queue_rcpt {
	const char	*addr;		/* canonical, local@domain */
	unsigned	 notify;	/* QUEUE_NOTIFY_*, 0: not given */
	const char	*orcpt;		/* RFC 3461 4.2 ORCPT, decoded, or NULL */
};

/*
 * [loop] Queue msg for remote recipients; prepend (header lines, CRLF,
 * or NULL) goes before its bytes.  done runs on the loop thread once the
 * message and its record are durable (rc 0) or not (rc -1).  msg must
 * stay valid until then; it stays the caller's.
 */
typedef void queue_done_fn(void *arg, int rc, const char *error);
void	 queue_submit(struct queue *, struct store_msg *, const char *prepend,
	    const char *sender, const struct queue_rcpt *rcpts, size_t nrcpts,
	    unsigned flags, queue_done_fn *, void *arg);

/* The envelope of queue_submit_env(): what MAIL FROM gave. */
struct queue_env {
	const char	*sender;	/* "" for <> */
	unsigned	 flags;		/* QUEUE_F_* */
	const char	*envid;		/* RFC 3461 4.4 ENVID, decoded, or NULL */
	int		 ret;		/* QUEUE_RET_* (RFC 3461 4.3) */
};
/* queue_submit() with ENVID and RET, kept for the bounce (RFC 3464 2.2.1). */
void	 queue_submit_env(struct queue *, struct store_msg *,
	    const char *prepend, const struct queue_env *,
	    const struct queue_rcpt *rcpts, size_t nrcpts, queue_done_fn *,
	    void *arg);

/*
 * Control socket (postern queue ...).  Each returns 0, or -1 with a
 * static reason; text output is appended to *out (malloced, caller frees).
 */
int	 queue_ctl_list(struct queue *, char **out, const char **error_r);
int	 queue_ctl_show(struct queue *, const char *id, char **out,
	    const char **error_r);
int	 queue_ctl_flush(struct queue *, const char **error_r);
int	 queue_ctl_delete(struct queue *, const char *id, const char **error_r);
int	 queue_ctl_bounce(struct queue *, const char *id, const char **error_r);
#endif
