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
	const char	*flags;		/* initial IMAP flags, e.g. "\\Seen $Junk",
					   or NULL; keywords are also put in
					   the file name (dovecot-keywords
					   letters) */
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

/*
 * ---- mailbox management, sync and views (store_mbox.c) ----
 * Used by IMAP.  Mailbox names are UTF-8 IMAP names as above.  Every
 * change runs as jobs: Maildir files on the worker pool, the index on
 * the serial lane; done(arg, result, error) then runs on the loop thread
 * with result 0 (done), -1 (temporary failure) or -2 (refused: no such
 * mailbox, exists, has children, ...).  error is valid during the call.
 */
#define STORE_F_SEEN		0x01	/* = IDX_F_* (idx.h) */
#define STORE_F_ANSWERED	0x02
#define STORE_F_FLAGGED		0x04
#define STORE_F_DELETED		0x08
#define STORE_F_DRAFT		0x10

enum store_flag_mode {
	STORE_FLAGS_REPLACE = 0,
	STORE_FLAGS_ADD,
	STORE_FLAGS_REMOVE
};

typedef void store_mbox_done_fn(void *arg, int result, const char *error);

/* [loop] CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE (RFC 9051 6.3). */
void	 store_mbox_create(struct store *, const char *account,
	    const char *name, store_mbox_done_fn *, void *arg);
void	 store_mbox_delete(struct store *, const char *account,
	    const char *name, store_mbox_done_fn *, void *arg);
void	 store_mbox_rename(struct store *, const char *account,
	    const char *from, const char *to, store_mbox_done_fn *, void *arg);
void	 store_mbox_subscribe(struct store *, const char *account,
	    const char *name, bool on, store_mbox_done_fn *, void *arg);
/*
 * [loop] Bring the index in line with the Maildir when new/ or cur/
 * changed since the last sync (or the mailbox is marked for rescan):
 * import unknown files, drop vanished ones, take flag letters.  Returns
 * 0 when nothing needs doing (done is not called), 1 when a job was
 * queued (done will run), -1 if the mailbox does not exist.
 */
int	 store_mbox_sync(struct store *, const char *account,
	    const char *name, store_mbox_done_fn *, void *arg);

/* One message of a view. */
struct store_msginfo {
	uint32_t	 uid;
	uint32_t	 flags;		/* STORE_F_* */
	uint64_t	 keywords;	/* bit i: keyword i (store_view_keywords) */
	uint64_t	 modseq;
	int64_t		 internaldate;
	uint64_t	 size;		/* RFC822.SIZE */
};

struct store_view;	/* one index read snapshot of one mailbox (opaque) */

/*
 * [loop] Open a snapshot of mailbox: 1, 0 (no such mailbox) or -1.  Keep
 * it for one command only.  The mailbox fields stay valid until close
 * (name is NULL).
 */
int	 store_view_open(struct store *, const char *account,
	    const char *name, struct store_view **view_r,
	    const char **error_r);
const struct store_mailbox *store_view_mailbox(const struct store_view *);
/* [loop] Every message in UID order; *list_r is malloced. */
int	 store_view_messages(struct store_view *, struct store_msginfo **list_r,
	    size_t *count_r, const char **error_r);
/* [loop] One message: 1, 0 (gone) or -1. */
int	 store_view_msg(struct store_view *, uint32_t uid,
	    struct store_msginfo *info_r, const char **error_r);
/* [loop] Cached ENVELOPE and BODYSTRUCTURE; valid until close.  1/0/-1. */
int	 store_view_cache(struct store_view *, uint32_t uid,
	    const void **envelope_r, size_t *envelope_len_r,
	    const void **bodystructure_r, size_t *bodystructure_len_r,
	    const char **error_r);
void	 store_view_close(struct store_view **);

/*
 * Keywords (RFC 9051 2.3.2): at most STORE_MBOX_KEYWORDS_MAX names per
 * mailbox, each with a stable id (the bit in store_msginfo.keywords).
 * Names match without regard to case.
 */
#define STORE_MBOX_KEYWORDS_MAX	64	/* = IDX_KEYWORDS_MAX */
#define STORE_KEYWORD_LEN_MAX	200	/* bytes of one keyword name */
/* The done error of a flag change over the limit (IMAP NO [LIMIT]). */
#define STORE_ERR_KEYWORDS	"Too many keywords in this mailbox"
/*
 * [loop] names_r[i] is keyword id i or NULL; valid until close.  Returns
 * 0 or -1.
 */
int	 store_view_keywords(struct store_view *,
	    const char *names_r[STORE_MBOX_KEYWORDS_MAX], const char **error_r);

/*
 * [loop] Change the flags of uids (STORE), Maildir file names first,
 * then the index; watchers fire.
 */
void	 store_mbox_flags(struct store *, const char *account,
	    const char *name, const uint32_t *uids, size_t n,
	    enum store_flag_mode, uint32_t flags, store_mbox_done_fn *,
	    void *arg);
/*
 * [loop] The general flag change: system flags and keywords (copied),
 * optionally with UNCHANGEDSINCE (cond, as store_mbox_flags_cond: the
 * caller's modified_r has n entries and must stay valid until done).
 * Keywords go into the Maildir names as Dovecot's letters a-z through
 * the folder's dovecot-keywords file, so they survive a reindex and a
 * move back to Dovecot.  A change that would define more keywords than
 * the mailbox can hold fails with -2 and STORE_ERR_KEYWORDS before any
 * file is touched.
 */
struct store_flag_change {
	enum store_flag_mode	 mode;
	uint32_t		 flags;		/* STORE_F_* */
	const char *const	*keywords;
	size_t			 nkeywords;
	bool			 cond;		/* UNCHANGEDSINCE given */
	uint64_t		 unchangedsince;
	uint32_t		*modified_r;	/* cond only */
	size_t			*nmodified_r;	/* cond only */
};
void	 store_mbox_flags_change(struct store *, const char *account,
	    const char *name, const uint32_t *uids, size_t n,
	    const struct store_flag_change *, store_mbox_done_fn *, void *arg);
/*
 * [worker] Dovecot keyword letters of folder (a Maildir directory) for
 * names[0..n): letters_r[i] is 'a'..'z', or '\0' when all 26 letters are
 * taken.  Names missing from <folder>/dovecot-keywords are added to it
 * (temporary file, fsync, rename; one writer per process at a time).
 * -1 (letters all '\0') if the file cannot be read or written.
 */
int	 store_keyword_letters_blocking(const char *folder,
	    const char *const *names, size_t n, char *letters_r,
	    const char **error_r);
/* [loop] Expunge uids: unlink the files, then the index; watchers fire. */
void	 store_mbox_expunge(struct store *, const char *account,
	    const char *name, const uint32_t *uids, size_t n,
	    store_mbox_done_fn *, void *arg);

/*
 * The POP3 maildrop (store_pop.c): the account's INBOX as one snapshot
 * per session (RFC 1939 section 8: the server fixes the message list at
 * login).  Opening syncs the Maildir first: new/ messages move to cur/
 * (as Dovecot does), files the index lacks are added to it (their UIDs
 * are then stable for UIDL and IMAP alike), and the snapshot lists, in
 * UID order, the indexed messages whose files exist, with their CRLF
 * sizes.  A snapshot is reference counted on the loop thread so a worker
 * job can read it while the session that owns it goes away.
 */
struct store_pop;	/* a maildrop snapshot (opaque) */

/* pop is NULL on failure (error is then set, static or ours). */
typedef void store_pop_open_fn(struct store_pop *pop, const char *error,
	    void *arg);
typedef void store_pop_expunge_fn(int result, const char *error, void *arg);

/* [loop] Sync and snapshot account's INBOX; cb owns one reference. */
void	 store_pop_open(struct store *, const char *account,
	    store_pop_open_fn *cb, void *arg);
struct store_pop *store_pop_ref(struct store_pop *);	/* [loop] */
void	 store_pop_unref(struct store_pop **);		/* [loop] */
/* [any] Immutable after open. */
size_t	 store_pop_count(const struct store_pop *);
uint32_t store_pop_uidvalidity(const struct store_pop *);
uint32_t store_pop_uid(const struct store_pop *, size_t i);
uint64_t store_pop_size(const struct store_pop *, size_t i);	/* CRLF */
/*
 * [worker] Open message i read-only.  Returns 1 with *fd_r, 0 if the
 * file is gone (expunged by another session), -1 on error.
 */
int	 store_pop_msg_open_blocking(const struct store_pop *, size_t i,
	    int *fd_r, const char **error_r);
/*
 * [loop] Remove messages idx[0..n) of pop for good (POP3 QUIT, RFC 1939
 * section 6): unlink on a worker, fsync cur/, then expunge them from the
 * index on the serial lane and wake the mailbox's watchers (IMAP).
 * result 0: all gone; -1: some could not be removed (error says why).
 * The job holds its own reference to pop and copies idx.
 */
void	 store_pop_expunge(struct store *, struct store_pop *,
	    const size_t *idx, size_t n, store_pop_expunge_fn *cb,
	    void *arg);
/*
 * Offline index tools (store_reindex.c), for `postern reindex` and
 * `postern check`.  They open <state_dir>/index.lmdb themselves and
 * block: call them from the CLI only, reindex only while the daemon is
 * stopped (check only reads).  account NULL: every account found under
 * storage.path (<domain>/<local>/mail).  Reports go to stdout, warnings
 * to stderr.  [blocking, CLI]
 */
#define STORE_TOOL_VERBOSE	0x01	/* per-folder lines; check lists */
int	 store_reindex_blocking(const struct conf *, const char *account,
	    unsigned int opts, const char **error_r);
/* *problems_r: inconsistencies found (0: index and Maildir agree). */
int	 store_check_blocking(const struct conf *, const char *account,
	    unsigned int opts, size_t *problems_r, const char **error_r);

/*
 * ---- CONDSTORE/QRESYNC, QUOTA, CREATE-SPECIAL-USE (store_mbox.c) ----
 */

/*
 * [loop] STORE with UNCHANGEDSINCE (RFC 7162 3.1.3): as store_mbox_flags,
 * but a message whose modseq is above unchangedsince is left alone and
 * its UID goes to modified_r (the caller's array of n entries, valid
 * until done runs); *nmodified_r is set before done runs.
 */
void	 store_mbox_flags_cond(struct store *, const char *account,
	    const char *name, const uint32_t *uids, size_t n,
	    enum store_flag_mode, uint32_t flags, uint64_t unchangedsince,
	    uint32_t *modified_r, size_t *nmodified_r, store_mbox_done_fn *,
	    void *arg);
/*
 * [loop] CREATE with USE (RFC 6154 5.2): uses are "\\Sent"-style names.
 * Returns -1 without calling done if one is unknown, else 0.
 */
int	 store_mbox_create_special(struct store *, const char *account,
	    const char *name, const char *const *uses, size_t nuses,
	    store_mbox_done_fn *, void *arg);
/*
 * [loop] The account's storage usage (bytes) and limit (bytes, 0: none)
 * from the index and quota.enable / the account quota /
 * quota.default_per_user (RFC 9208 STORAGE).
 */
int	 store_mbox_quota(struct store *, const char *account,
	    uint64_t *used_r, uint64_t *limit_r, const char **error_r);
/*
 * [loop] QRESYNC (RFC 7162 3.2.5, 3.2.6): the UIDs expunged with a modseq
 * above since, ascending, from the index tombstones; *uids_r is malloced.
 * Tombstones up to store_view_tomb_horizon() were pruned: for an older
 * since the list is incomplete and the caller must fall back.
 */
int	 store_view_vanished(struct store_view *, uint64_t since,
	    uint32_t **uids_r, size_t *n_r, const char **error_r);
uint64_t store_view_tomb_horizon(const struct store_view *);
/*
 * ---- COPY and MOVE (store_copy.c) ----
 * RFC 9051 6.4.7, RFC 6851, UIDPLUS COPYUID (RFC 4315 3).  Files on a
 * worker (link or copy, or rename for MOVE, then one fsync per
 * directory), the index on the serial lane, done on the loop thread.
 */
/* [worker] Spam training of a durable file (filter_learn_hook). */
typedef void store_learn_fn(const char *account, const char *path,
	    bool spam);

struct store_copy_result {
	int		 result;	/* 0, -1 temporary, -2 refused */
	const char	*error;		/* result != 0 */
	bool		 nonexistent;	/* -2: no such target (TRYCREATE) */
	bool		 overquota;	/* -2: RFC 9208 OVERQUOTA */
	uint32_t	 uidvalidity;	/* of the target */
	const uint32_t	*src_uids;	/* source UIDs, ascending */
	const uint32_t	*dst_uids;	/* their new UIDs in the target */
	size_t		 n;		/* 0: no UIDs known (COPYUID left out) */
};

typedef void store_copy_done_fn(void *arg, const struct store_copy_result *);

/*
 * [loop] Copy (move = false) or move uids from mailbox from to mailbox to
 * of account.  UIDs that no longer exist are skipped.  learn (may be
 * NULL) runs on a worker for each file put into a \Junk mailbox
 * (spam) or moved out of one into a folder that is not \Trash (ham).
 * done may run before store_copy returns (refusals); the result is
 * valid during the call.
 */
void	 store_copy(struct store *, const char *account, const char *from,
	    const char *to, const uint32_t *uids, size_t n, bool move,
	    store_learn_fn *learn, store_copy_done_fn *done, void *arg);
#endif
