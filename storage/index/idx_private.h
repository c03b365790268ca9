/*
 * idx_private.h - the layout shared by the idx_*.c files: struct idx,
 * record encodings, key builders.  Nothing outside storage/index/
 * includes this.
 *
 * Encoding: keys are big-endian so LMDB's byte order sorts them
 * numerically; values are little-endian fixed width.  Values may grow at
 * their end in later schema versions: decoders check a minimum length.
 */
#ifndef IDX_PRIVATE_H
#define IDX_PRIVATE_H
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "idx.h"

/* Named databases; the rest of the 32 slots belong to other modules. */
#define IDX_MAXDBS	32
#define IDX_DB_PREFIX	"idx."

struct idx {
	MDB_env		*env;
	char		*path;
	MDB_dbi		 meta;		/* "schema", counters */
	MDB_dbi		 users;		/* user -> usage */
	MDB_dbi		 mbox_name;	/* user NUL name -> mbox id */
	MDB_dbi		 mbox;		/* id -> mailbox record */
	MDB_dbi		 msg;		/* id uid -> message record */
	MDB_dbi		 msg_name;	/* id basename -> uid */
	MDB_dbi		 cache;		/* id uid -> envelope, bodystructure */
	MDB_dbi		 modseq;	/* id modseq -> uid, live messages */
	MDB_dbi		 tomb;		/* id modseq -> uid, expunged */
	MDB_dbi		 kw;		/* id kwid -> keyword name */
	size_t		 map_size;	/* current map size */
	size_t		 map_max;
	/*
	 * One writer at a time.  LMDB serialises write txns itself; we also
	 * need it so nobody begins a write txn while the map is resized.
	 */
	pthread_mutex_t	 wlock;
	/*
	 * Live read snapshots hold this shared; a map resize takes it
	 * exclusive, because mdb_env_set_mapsize() unmaps the old map that
	 * those snapshots point into.  glibc's default rwlock prefers
	 * readers, so a thread that nests two snapshots cannot deadlock.
	 */
	pthread_rwlock_t maplock;
	/* Reset read txns kept for mdb_txn_renew(): cheaper than begin. */
	pthread_mutex_t	 rlock;
	struct idx_read	*rfree;
	unsigned int	 nrfree;
};

struct idx_read {
	struct idx	*idx;
	MDB_txn		*txn;
	struct idx_read	*next;		/* free list */
};

/* Fixed parts of the values (see idx_mbox_decode / idx_msg_decode). */
#define IDX_MBOX_FIXED	92
#define IDX_MSG_FIXED	50
#define IDX_USAGE_LEN	16

/* LMDB's default compile-time key limit (mdb_env_get_maxkeysize). */
#define IDX_KEY_MAX	511

/* Key sizes. */
#define IDX_K_MSG	8	/* mbox, uid */
#define IDX_K_SEQ	12	/* mbox, modseq */
#define IDX_K_KW	5	/* mbox, keyword id */

static inline void
idx_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static inline uint32_t
idx_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
idx_put_be64(unsigned char *p, uint64_t v)
{
	idx_put_be32(p, v >> 32);
	idx_put_be32(p + 4, (uint32_t)v);
}

static inline uint64_t
idx_get_be64(const unsigned char *p)
{
	return (uint64_t)idx_get_be32(p) << 32 | idx_get_be32(p + 4);
}

static inline void
idx_put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static inline uint32_t
idx_get_le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[1] << 8 | p[0];
}

static inline void
idx_put_le64(unsigned char *p, uint64_t v)
{
	idx_put_le32(p, (uint32_t)v);
	idx_put_le32(p + 4, v >> 32);
}

static inline uint64_t
idx_get_le64(const unsigned char *p)
{
	return (uint64_t)idx_get_le32(p + 4) << 32 | idx_get_le32(p);
}

static inline void
idx_put_le16(unsigned char *p, uint16_t v)
{
	p[0] = v; p[1] = v >> 8;
}

static inline uint16_t
idx_get_le16(const unsigned char *p)
{
	return (uint16_t)(p[1] << 8 | p[0]);
}

/* Key of (mbox, uid) in msg and cache. */
static inline void
idx_key_msg(unsigned char k[IDX_K_MSG], uint32_t mbox, uint32_t uid)
{
	idx_put_be32(k, mbox);
	idx_put_be32(k + 4, uid);
}

/* Key of (mbox, modseq) in modseq and tomb. */
static inline void
idx_key_seq(unsigned char k[IDX_K_SEQ], uint32_t mbox, uint64_t modseq)
{
	idx_put_be32(k, mbox);
	idx_put_be64(k + 4, modseq);
}

/* idx_env.c: adopt a map grown by another process (MDB_MAP_RESIZED). */
int	 idx_env_adopt_mapsize(struct idx *, const char **error_r);

/* idx.c: hand out the next value of a never-decreasing meta counter. */
#define IDX_META_MBOX_NEXT	"mbox_next"
#define IDX_META_UIDVALIDITY	"uidvalidity_next"
int	 idx_meta_counter_next(struct idx *, MDB_txn *, const char *which,
	    uint32_t floor, uint32_t *v_r);

/* idx_batch.c: commit many batches in one txn (the writer thread). */
int	 idx_batch_commit_many_blocking(struct idx *, struct idx_batch **,
	    size_t n, const char **error_r);

/* idx_util.c: shared by the other idx_*.c files. */
const char *idx_util_err(const char *what, int rc);
const char *idx_util_errf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
int	 idx_util_mbox_decode(const MDB_val *, uint32_t id, struct idx_mbox *,
	    const char **user_r, size_t *user_len_r);
int	 idx_util_msg_decode(const MDB_val *, uint32_t uid, struct idx_msg *);
/* The user NUL name key; returns its length or 0 if too long. */
size_t	 idx_util_mbox_key(unsigned char *k, size_t ksize, const char *user,
	    const char *name);
#endif
