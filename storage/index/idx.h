/*
 * idx.h - the LMDB index of the mail store: users, mailboxes, UIDs,
 * flags, keywords, MODSEQ, expunge tombstones and cached FETCH strings.
 *
 * One environment lives at <state_dir>/index.lmdb/.  The Maildir files
 * stay the truth for content and standard flags; this index holds what
 * Maildir cannot (UIDs, UIDVALIDITY, MODSEQ, keywords, cache) and can be
 * rebuilt from the Maildir.
 *
 * Threads: reads are [any] and cheap; they run inside a read snapshot the
 * caller opens with idx_read_begin() and closes with idx_read_end(), so a
 * whole IMAP command sees one consistent state.  Writes are collected in a
 * struct idx_batch on any thread and applied by *_blocking calls [worker],
 * normally from the one writer thread of idx_writer_*.  Never call a
 * *_blocking function while the same thread holds a read snapshot: a map
 * resize waits for every snapshot to end.
 *
 * Lookups return 1 (found), 0 (not found) or -1 (error, *error_r set).
 * Other calls return 0 or -1.  Error strings stay valid until the next
 * idx call on the same thread.
 */
#ifndef IDX_H
#define IDX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <lmdb.h>

#define IDX_SCHEMA_VERSION	1	/* what this build writes */
#define IDX_KEYWORDS_MAX	64	/* per mailbox, bit i of idx_msg.keywords */
#define IDX_NAME_MAX		400	/* user, mailbox and Maildir base names */

/* System flags kept in the index; \Recent is a session property, not here. */
#define IDX_F_SEEN	0x01
#define IDX_F_ANSWERED	0x02
#define IDX_F_FLAGGED	0x04
#define IDX_F_DELETED	0x08
#define IDX_F_DRAFT	0x10
#define IDX_F_ALL	0x1f

/* RFC 6154 special-use attributes (idx_mbox.special_use). */
#define IDX_SU_ALL	0x01
#define IDX_SU_ARCHIVE	0x02
#define IDX_SU_DRAFTS	0x04
#define IDX_SU_FLAGGED	0x08
#define IDX_SU_JUNK	0x10
#define IDX_SU_SENT	0x20
#define IDX_SU_TRASH	0x40

struct idx;		/* an open index (opaque) */
struct idx_read;	/* one read snapshot (opaque) */
struct idx_iter;	/* a cursor over one kind of record (opaque) */
struct idx_batch;	/* collected write operations (opaque) */
struct idx_writer;	/* the group-commit writer thread (opaque) */

/* Open options; zero fields take the defaults. */
struct idx_opts {
	size_t		 map_size;	/* initial map; default 1 GiB (64-bit) */
	size_t		 map_max;	/* growth cap; default 64 GiB (64-bit) */
	bool		 nosync;	/* tools/tests: no fsync per commit */
};

struct idx_mbox {
	uint32_t	 id;		/* stable across rename, never reused */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 highestmodseq;
	uint32_t	 messages;
	uint32_t	 unseen;
	uint32_t	 deleted;	/* messages with \Deleted */
	uint64_t	 size_total;	/* sum of rfc822 sizes */
	struct timespec	 mtime_new;	/* of new/ and cur/ at the last sync */
	struct timespec	 mtime_cur;
	bool		 subscribed;
	uint32_t	 special_use;	/* IDX_SU_* */
	/*
	 * Tombstones with modseq <= tomb_horizon were pruned: a QRESYNC
	 * client older than this cannot get an exact VANISHED list.
	 */
	uint64_t	 tomb_horizon;
};

struct idx_msg {
	uint32_t	 uid;
	uint32_t	 flags;		/* IDX_F_* */
	uint64_t	 keywords;	/* bit i: keyword id i of the mailbox */
	uint64_t	 modseq;
	int64_t		 internaldate;	/* seconds since the epoch */
	uint64_t	 size;		/* RFC822.SIZE (CRLF) */
	uint64_t	 vsize;		/* bytes on disk (LF) */
	/* Maildir base name, NUL-terminated, valid until idx_read_end(). */
	const char	*basename;
	size_t		 basename_len;
};

struct idx_usage {
	uint64_t	 bytes;
	uint64_t	 messages;
};

struct idx_stat {
	uint32_t	 schema;
	size_t		 map_size;
	size_t		 map_used;
	uint64_t	 users;
	uint64_t	 mailboxes;
	uint64_t	 messages;
	uint64_t	 basenames;
	uint64_t	 cached;
	uint64_t	 modseqs;
	uint64_t	 tombstones;
	uint64_t	 keywords;
};

/* --- environment (idx.c, idx_env.c) --- */

/*
 * [worker] Open or create the index directory; migrate or refuse schemas.
 * Open a path once per process (an LMDB rule); share the struct idx.
 */
int	 idx_open_blocking(const char *path, struct idx **idx_r,
	    const char **error_r);
int	 idx_open_opts_blocking(const char *path, const struct idx_opts *,
	    struct idx **idx_r, const char **error_r);
/* [worker] No snapshot, batch or writer may be live.  Sets *idx = NULL. */
void	 idx_close(struct idx **idx);
/* [any] Entry counts for `postern check`. */
int	 idx_stat(struct idx *, struct idx_stat *st_r, const char **error_r);
/* [worker] Flush commits made with idx_opts.nosync. */
int	 idx_sync_blocking(struct idx *, const char **error_r);

/*
 * Other modules (queue, Bayes, greylist, vacation) keep their own named
 * databases in this environment.  Names starting with "idx." are ours.
 * Read through idx_read_begin() + idx_read_txn() so a map resize cannot
 * pull the map from under you; write through idx_env_write_blocking(),
 * which grows the map and re-runs fn when fn returns MDB_MAP_FULL (pass
 * that rc up from mdb_put), so fn must only depend on its arg and the
 * txn.  fn returns 0 to commit, -1 (with *error_r) to abort.
 */
MDB_env	*idx_env_raw(struct idx *);				/* [any] */
int	 idx_env_dbi_open_blocking(struct idx *, const char *name,
	    unsigned int flags, MDB_dbi *dbi_r, const char **error_r);
int	 idx_env_write_blocking(struct idx *,
	    int (*fn)(MDB_txn *, void *arg, const char **error_r), void *arg,
	    const char **error_r);

/* --- read snapshots (idx_read.c), all [any] --- */

int	 idx_read_begin(struct idx *, struct idx_read **rd_r,
	    const char **error_r);
void	 idx_read_end(struct idx_read **rd);
MDB_txn	*idx_read_txn(struct idx_read *);
int	 idx_read_mailbox(struct idx_read *, const char *user,
	    const char *name, struct idx_mbox *mbox_r, const char **error_r);
int	 idx_read_mailbox_by_id(struct idx_read *, uint32_t id,
	    struct idx_mbox *mbox_r, const char **error_r);
int	 idx_read_message(struct idx_read *, uint32_t mbox, uint32_t uid,
	    struct idx_msg *msg_r, const char **error_r);
int	 idx_read_uid_by_name(struct idx_read *, uint32_t mbox,
	    const char *basename, uint32_t *uid_r, const char **error_r);
/* Blobs point into the snapshot; valid until idx_read_end(). */
int	 idx_read_cache(struct idx_read *, uint32_t mbox, uint32_t uid,
	    const void **envelope_r, size_t *envelope_len_r,
	    const void **bodystructure_r, size_t *bodystructure_len_r,
	    const char **error_r);
int	 idx_read_usage(struct idx_read *, const char *user,
	    struct idx_usage *usage_r, const char **error_r);
/* names_r[i] is keyword id i or NULL; pointers valid until idx_read_end(). */
int	 idx_read_keywords(struct idx_read *, uint32_t mbox,
	    const char *names_r[IDX_KEYWORDS_MAX], const char **error_r);
/* Keyword id by name (case-insensitive), 1/0/-1. */
int	 idx_read_keyword_id(struct idx_read *, uint32_t mbox,
	    const char *name, unsigned int *id_r, const char **error_r);

/*
 * --- iterators (idx_iter.c), all [any] ---
 * One cursor per iterator, no allocation per record.  An iterator lives
 * inside its snapshot: free it before idx_read_end().  next functions
 * return 1 (a record), 0 (done) or -1 (error).
 */

/* A user's mailboxes in name order; name_r valid until the next call. */
int	 idx_iter_mailboxes(struct idx_read *, const char *user,
	    struct idx_iter **it_r, const char **error_r);
int	 idx_iter_next_mailbox(struct idx_iter *, const char **name_r,
	    struct idx_mbox *mbox_r, const char **error_r);
/* Messages with uid_lo <= uid <= uid_hi, in UID order. */
int	 idx_iter_messages(struct idx_read *, uint32_t mbox, uint32_t uid_lo,
	    uint32_t uid_hi, struct idx_iter **it_r, const char **error_r);
/* CHANGEDSINCE: messages with modseq > since, in modseq order. */
int	 idx_iter_changes(struct idx_read *, uint32_t mbox, uint64_t since,
	    struct idx_iter **it_r, const char **error_r);
int	 idx_iter_next_message(struct idx_iter *, struct idx_msg *msg_r,
	    const char **error_r);
/* VANISHED (EARLIER): expunged UIDs with modseq > since, in modseq order. */
int	 idx_iter_vanished(struct idx_read *, uint32_t mbox, uint64_t since,
	    struct idx_iter **it_r, const char **error_r);
int	 idx_iter_next_vanished(struct idx_iter *, uint32_t *uid_r,
	    uint64_t *modseq_r, const char **error_r);
void	 idx_iter_free(struct idx_iter **it);

/*
 * --- write batches (idx_batch.c) ---
 * Building a batch is [any] and touches no database.  Each call returns
 * the operation's number for idx_batch_result().  A commit applies all
 * operations in ONE write transaction with ONE sync.  An operation whose
 * precondition fails (no such mailbox, name taken, UNCHANGEDSINCE) is
 * skipped with its own status; the others still commit.  UIDs and
 * modseqs are assigned at commit.
 */

enum idx_status {
	IDX_OK = 0,
	IDX_NOTFOUND,		/* mailbox, message or user missing */
	IDX_EXISTS,		/* mailbox name or base name taken */
	IDX_MODIFIED,		/* UNCHANGEDSINCE failed (RFC 7162 3.2) */
	IDX_LIMIT,		/* too many keywords */
	IDX_INVALID,		/* bad argument (name too long, bad uid) */
	IDX_PENDING		/* not committed (yet) */
};

enum idx_flag_mode {
	IDX_FLAGS_REPLACE = 0,	/* STORE FLAGS */
	IDX_FLAGS_ADD,		/* STORE +FLAGS */
	IDX_FLAGS_REMOVE	/* STORE -FLAGS */
};

struct idx_result {
	enum idx_status	 status;
	const char	*error;		/* static text when status != IDX_OK */
	uint32_t	 mbox;		/* mailbox id (create: the new id) */
	uint32_t	 uid;		/* add: assigned UID */
	uint64_t	 modseq;	/* the modseq this op set, 0 if none */
	uint32_t	 flags;		/* flags after a flag change */
	uint64_t	 keywords;
	bool		 changed;	/* a flag op changed something */
};

/* A new message; the batch copies every string and blob. */
struct idx_msg_new {
	const char		*basename;	/* Maildir name without ":2," */
	uint32_t		 flags;		/* IDX_F_* */
	const char *const	*keywords;
	size_t			 nkeywords;
	int64_t			 internaldate;
	uint64_t		 size;
	uint64_t		 vsize;
	uint32_t		 uid;		/* 0: next; else import, >= uidnext */
	const void		*envelope;	/* cached ENVELOPE, may be NULL */
	size_t			 envelope_len;
	const void		*bodystructure;
	size_t			 bodystructure_len;
};

struct idx_batch *idx_batch_new(void);				/* [any] */
void	 idx_batch_free(struct idx_batch **);			/* [any] */
size_t	 idx_batch_count(const struct idx_batch *);		/* [any] */
/* uidvalidity 0: pick one that is new for this index. */
size_t	 idx_batch_mailbox_create(struct idx_batch *, const char *user,
	    const char *name, uint32_t uidvalidity, uint32_t special_use);
size_t	 idx_batch_mailbox_rename(struct idx_batch *, const char *user,
	    const char *name, const char *newname);
size_t	 idx_batch_mailbox_delete(struct idx_batch *, const char *user,
	    const char *name);
size_t	 idx_batch_mailbox_mtimes(struct idx_batch *, uint32_t mbox,
	    const struct timespec *mtime_new, const struct timespec *mtime_cur);
size_t	 idx_batch_mailbox_attrs(struct idx_batch *, uint32_t mbox,
	    bool subscribed, uint32_t special_use);
/* Raise uidnext to at least uidnext, never lower it (reindex keeps the
 * UIDNEXT Dovecot reached: UIDs it handed out are never reused). */
size_t	 idx_batch_mailbox_uidnext(struct idx_batch *, uint32_t mbox,
	    uint32_t uidnext);
/* Removes every message, keyword and tombstone (for reindex). */
size_t	 idx_batch_mailbox_drop(struct idx_batch *, uint32_t mbox,
	    bool new_uidvalidity);
/* Keep at most keep_max tombstones, the newest ones. */
size_t	 idx_batch_tombstones_prune(struct idx_batch *, uint32_t mbox,
	    size_t keep_max);
size_t	 idx_batch_msg_add(struct idx_batch *, uint32_t mbox,
	    const struct idx_msg_new *);
/* unchangedsince 0: unconditional. */
size_t	 idx_batch_msg_flags(struct idx_batch *, uint32_t mbox, uint32_t uid,
	    enum idx_flag_mode, uint32_t flags, const char *const *keywords,
	    size_t nkeywords, uint64_t unchangedsince);
size_t	 idx_batch_msg_expunge(struct idx_batch *, uint32_t mbox,
	    uint32_t uid);
/*
 * Quota usage follows message add, expunge and mailbox delete by itself;
 * these correct it for changes made outside (reindex, restore).
 */
size_t	 idx_batch_usage_adjust(struct idx_batch *, const char *user,
	    int64_t bytes, int64_t messages);
size_t	 idx_batch_usage_set(struct idx_batch *, const char *user,
	    uint64_t bytes, uint64_t messages);
/* [worker] Apply, one txn, one sync.  -1: nothing was applied. */
int	 idx_batch_commit_blocking(struct idx *, struct idx_batch *,
	    const char **error_r);
/* [any] After commit: the outcome of operation op. */
const struct idx_result *idx_batch_result(const struct idx_batch *,
	    size_t op);
/* [worker] One-shot wrapper around idx_batch_mailbox_drop(). */
int	 idx_drop_mailbox_contents_blocking(struct idx *, uint32_t mbox,
	    bool new_uidvalidity, const char **error_r);

/*
 * --- writer thread (idx_writer.c) ---
 * Producers on any thread submit batches; one thread commits everything
 * queued so far in one transaction (group commit), then runs each
 * callback on the writer thread in submit order.  The callback owns the
 * batch again.  rc/error are those of the shared commit.
 */
typedef void idx_writer_cb(struct idx_batch *, int rc, const char *error,
    void *arg);

int	 idx_writer_start(struct idx *, struct idx_writer **w_r,
	    const char **error_r);				/* [any] */
void	 idx_writer_submit(struct idx_writer *, struct idx_batch *,
	    idx_writer_cb *, void *arg);			/* [any] */
/* [any] Commit what is queued, stop the thread.  Sets *w = NULL. */
void	 idx_writer_stop(struct idx_writer **w);
#endif
