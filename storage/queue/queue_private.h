/*
 * queue_private.h - the in-memory queue shared by queue.c (runner,
 * submission, control), queue_rec.c (record codec, file jobs) and
 * queue_dsn.c (RFC 3464 reports).  Not for use outside storage/queue.
 */
#ifndef QUEUE_PRIVATE_H
#define QUEUE_PRIVATE_H
#include <sys/queue.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "queue.h"

enum queue_rstate {
	QUEUE_R_PENDING = 0,	/* to be tried */
	QUEUE_R_SENT,		/* the remote accepted it: never again */
	QUEUE_R_FAILED,		/* permanent failure, report not made yet */
	QUEUE_R_DONE		/* failure reported (or not to be reported) */
};

struct queue_r {
	char		*addr;
	char		*orcpt;		/* NULL if none */
	unsigned	 notify;
	enum queue_rstate state;
	int		 code;		/* last reply code, 0 if none */
	char		*reply;		/* last reply text, NULL if none */
	bool		 busy;		/* in an attempt */
	const char	*grp;		/* queue.c's group, for grp_gen */
};

struct queue_msg {
	TAILQ_ENTRY(queue_msg)	 entry;
	char			 id[17];
	char			*path;
	char			*sender;	/* "" for <> */
	unsigned		 flags;		/* QUEUE_F_* */
	char			*envid;		/* RFC 3461 ENVID or NULL */
	int			 ret;		/* QUEUE_RET_* */
	int64_t			 created;	/* ms since the epoch */
	int64_t			 next;		/* ms; next attempt */
	int64_t			 last;		/* ms; last attempt, 0 none */
	unsigned		 attempts;
	uint64_t		 size;
	struct queue_r		*r;
	size_t			 nr;
	int			 busy;		/* attempts in flight */
	bool			 writing;	/* a record job in flight */
	bool			 listed;	/* on queue.msgs */
	bool			 removed;	/* delete when idle (ctl) */
	bool			 bounce_req;	/* bounce when idle (ctl) */
	unsigned		 grp_gen;	/* conf generation of r[].grp */
};
TAILQ_HEAD(queue_msg_list, queue_msg);

/* queue_rec.c, [any] */
void	 queue_rec_encode(const struct queue_msg *, struct buf *);
/* Returns a new message or NULL (bad record). */
struct queue_msg *queue_rec_decode(const char *id, const char *val,
	    size_t len, const char *dir);
void	 queue_msg_free(struct queue_msg *);
/* [worker] Copy src (after prepend) into dst, fsync it and its dir. */
int	 queue_rec_copy_blocking(const char *src, const char *prepend,
	    const char *dst, const char *dir, uint64_t *size_r,
	    const char **error_r);
/* [worker] Write data into dst, fsync it and its dir. */
int	 queue_rec_write_blocking(const char *dst, const char *dir,
	    const void *data, size_t len, const char **error_r);

/* queue_dsn.c, [worker] */
struct queue_dsn_rcpt {
	char		*addr;
	char		*orcpt;
	int		 code;
	char		*reply;
};
/*
 * Build an RFC 3464 report from MAILER-DAEMON@from_domain for the failed
 * recipients of the message in path: its header section as text/rfc822-headers (RFC 6522), or with
 * RET=FULL (RFC 3461 4.3) the whole message as message/rfc822; envid
 * (or NULL) becomes Original-Envelope-Id (RFC 3464 2.2.1).
 */
char	*queue_dsn_build_blocking(const char *fqdn, const char *from_domain,
	    const char *id, const char *path, const char *sender, const char *envid, int ret,
	    int64_t arrival_ms, const struct queue_dsn_rcpt *, size_t n,
	    size_t *len_r);
/*
 * The From domain of our DSNs: srs.domain with srs.enable (its key signs
 * them, dkim_keyring.c), else the sending host name.  Malloc'd.  [any]
 */
char	*queue_dsn_from_domain(const struct conf *);
/* Prepend sign's DKIM-Signature fields to the report *data (id: logs). */
void	 queue_dsn_sign_blocking(queue_sign_fn *sign, struct gen *g,
	    const char *id, char **data, size_t *len);
#endif
