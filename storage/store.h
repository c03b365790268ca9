/*
 * store.h - the mail store facade: the only storage API that protocols
 * include.  It ties the Maildir files (mdir_*), the LMDB index (idx_*) and
 * the MIME parser (mime_*) together, and owns the durability order of
 * DESIGN.md: tmp/ write -> fsync(file) -> rename into new/ -> fsync(dir)
 * -> index group commit -> only then the caller's completion (the SMTP
 * "250", the IMAP "OK" to APPEND).
 *
 * One struct store per process; it lives across config reloads (storage
 * path and layout changes need a restart).  [loop] calls never block:
 * file writes of an incoming message go to the page cache only; fsync,
 * rename, scans and index commits run on the worker pool (work.h), index
 * commits on its serial lane so many deliveries share one transaction and
 * one sync.  Completions come back on the loop thread.
 */
#ifndef STORE_H
#define STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conf;
struct store;
struct store_msg;	/* an incoming message being spooled (opaque) */

/* [loop, blocking: at start only] Open the index, create state dirs. */
int	 store_open(const struct conf *, struct store **store_r,
	    const char **error_r);
void	 store_close(struct store **);
/* [loop] Give the store the generation's conf after a reload. */
void	 store_set_conf(struct store *, const struct conf *);

/*
 * Receiving a message (SMTP DATA/BDAT, IMAP APPEND, `postern deliver`):
 * begin, write the bytes as they arrive (CRLF line ends), then deliver.
 * [loop]
 */
int	 store_msg_begin(struct store *, struct store_msg **msg_r,
	    const char **error_r);
int	 store_msg_write(struct store_msg *, const void *, size_t,
	    const char **error_r);
uint64_t store_msg_size(const struct store_msg *);
/* The spool file's path (filters read it on workers). */
const char *store_msg_path(const struct store_msg *);
void	 store_msg_free(struct store_msg **);	/* unlinks the spool file */

/* One local recipient of a delivery. */
struct store_rcpt {
	const char	*account;	/* account name (login address) */
	const char	*folder;	/* UTF-8 IMAP name; NULL: INBOX */
	bool		 folder_fallback; /* folder missing: INBOX, not failure */
	const char	*prepend;	/* header lines to put first (CRLF), or NULL */
	const char	*flags;		/* initial IMAP flags, e.g. "\\Seen", or NULL */
	/* results, filled before the completion runs: */
	int		 result;	/* 0 delivered, -1 temporary, -2 permanent */
	const char	*error;		/* reply text for result != 0 (static) */
	uint32_t	 uid;		/* assigned UID */
	uint32_t	 uidvalidity;
};

typedef void store_done_fn(void *arg);

/*
 * [loop] Deliver msg durably to every recipient.  When done runs (on the
 * loop thread) every rcpts[i].result is set; a result of 0 means the
 * message is fsynced in the Maildir and committed to the index.  msg and
 * rcpts must stay valid until then.  Over-quota is a temporary failure
 * ("452 4.2.2" for SMTP).
 */
void	 store_deliver(struct store *, struct store_msg *,
	    struct store_rcpt *rcpts, size_t nrcpts, store_done_fn *done,
	    void *arg);

/* [loop] Create an account's Maildir and special-use folders if missing. */
void	 store_account_ensure(struct store *, const char *account,
	    store_done_fn *done, void *arg);

/*
 * Change notification (IMAP IDLE, several sessions on one mailbox):
 * watch a user's mailbox by name; cb runs on the loop thread after every
 * committed change to it (delivery, flags, expunge).  [loop]
 */
struct store_watch;
struct store_watch *store_watch_add(struct store *, const char *account,
	    const char *mailbox, void (*cb)(void *arg), void *arg);
void	 store_watch_del(struct store_watch **);
#endif
