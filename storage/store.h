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

/*
 * Counters for metrics and benchmarks ("fsyncs per message").  Updated
 * on the loop thread when each job completes.  [loop]
 */
struct store_stats {
	uint64_t	 deliveries;	/* recipients delivered (result 0) */
	uint64_t	 failures;	/* recipients with result != 0 */
	uint64_t	 file_fsyncs;	/* message files fsynced */
	uint64_t	 dir_fsyncs;	/* new/ and cur/ directories fsynced */
	uint64_t	 index_commits;	/* LMDB write txns, one sync each */
	uint64_t	 index_errors;	/* failed index commits (see store_deliver.c) */
};
void	 store_stats(const struct store *, struct store_stats *stats_r);

/*
 * [loop] True if a delivery to this mailbox reached the Maildir but not
 * the index (its commit failed), so the next SELECT/STATUS must rescan
 * the folder; clear resets the mark once the caller has synced.
 */
bool	 store_mailbox_needs_rescan(struct store *, const char *account,
	    const char *mailbox, bool clear);

/*
 * Reading (POP3, IMAP).  Mailbox names are UTF-8 IMAP names with the
 * configured hierarchy separator; "INBOX" matches in any case.
 */
struct store_mailbox {
	char		*name;
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint32_t	 messages;
	uint32_t	 unseen;
	uint64_t	 size;		/* sum of RFC822.SIZE */
	uint64_t	 highestmodseq;
	bool		 subscribed;
	uint32_t	 special_use;	/* IDX_SU_* bits (idx.h) */
};

/* [loop] The account's mailboxes from one index snapshot, name order. */
int	 store_mailbox_list(struct store *, const char *account,
	    struct store_mailbox **list_r, size_t *count_r,
	    const char **error_r);
void	 store_mailbox_list_free(struct store_mailbox **list, size_t count);

/*
 * [worker] The current path of message uid in mailbox: from the index
 * base name, new/<base> or cur/<base>:2,<flags> is tried first, then the
 * folder's new/ and cur/ are scanned (another program may have renamed
 * it).  Returns 1 with *path_r (caller frees), 0 if the index has no
 * such message or no file has its base name any more, -1 on error.
 */
int	 store_msg_open_path_blocking(struct store *, const char *account,
	    const char *mailbox, uint32_t uid, char **path_r,
	    const char **error_r);
#endif
