/*
 * idx_batch.c - write batches and their commit (group commit).
 *
 * A batch is a list of operations that copies everything it is given,
 * so producers can build one on any thread without touching LMDB.  The
 * commit applies one or many batches in ONE write txn, which costs ONE
 * sync (idx.c explains the sync choice).  Each operation first checks
 * its preconditions with reads and only then writes, so a failed
 * precondition leaves nothing half-done and does not abort the txn:
 * one client's stale STORE must not cost another client's delivery.
 * Only environment errors (I/O, a full map) abort, and a full map is
 * grown and the whole txn re-run from the ops, which is safe because
 * UIDs and modseqs are assigned here from the stored counters.
 *
 * Mailbox invariants kept here: uidnext only grows and a UID is never
 * handed out twice (expunge keeps uidnext); every change takes
 * modseq = ++highestmodseq; the modseq DB holds exactly one entry per
 * live message; an expunge moves that entry to the tombstone DB.
 *
 * Threads: building and reading results [any]; commit [worker].
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "idx_private.h"
#include "log.h"
#include "xmalloc.h"

#define IDX_KW_NAME_MAX	200

enum idx_op_kind {
	IDX_OP_MBOX_CREATE,
	IDX_OP_MBOX_RENAME,
	IDX_OP_MBOX_DELETE,
	IDX_OP_MBOX_MTIMES,
	IDX_OP_MBOX_ATTRS,
	IDX_OP_MBOX_UIDNEXT,
	IDX_OP_MBOX_DROP,
	IDX_OP_TOMB_PRUNE,
	IDX_OP_MSG_ADD,
	IDX_OP_MSG_FLAGS,
	IDX_OP_MSG_EXPUNGE,
	IDX_OP_USAGE_ADJUST,
	IDX_OP_USAGE_SET
};

struct idx_op {
	enum idx_op_kind	 kind;
	uint32_t		 mbox;
	uint32_t		 uid;
	uint32_t		 u32;		/* uidvalidity, special_use */
	uint32_t		 flags;
	enum idx_flag_mode	 mode;
	bool			 b;		/* subscribed, new uidv. */
	bool			 bad;		/* rejected while building */
	uint64_t		 u64a;		/* unchangedsince, size, keep */
	uint64_t		 u64b;		/* vsize */
	int64_t			 i64a;		/* internaldate, bytes */
	int64_t			 i64b;		/* messages */
	char			*user;
	char			*name;		/* mailbox or base name */
	char			*name2;		/* rename target */
	char			**kw;
	size_t			 nkw;
	unsigned char		*cache;		/* encoded cache value */
	size_t			 cache_len;
	struct timespec		 t1, t2;
	struct idx_result	 res;
};

struct idx_batch {
	struct idx_op	*ops;
	size_t		 n;
	size_t		 cap;
};

/* A mailbox record loaded for update, with its strings copied out. */
struct idx_mrec {
	struct idx_mbox	 m;
	size_t		 ulen;
	size_t		 nlen;
	char		 user[IDX_NAME_MAX + 1];
	char		 name[IDX_NAME_MAX + 1];
};

struct idx_apply {
	struct idx		*idx;
	struct idx_batch	**batches;
	size_t			 nbatches;
};

struct idx_batch *
idx_batch_new(void)
{
	return xcalloc(1, sizeof(struct idx_batch));
}

void
idx_batch_free(struct idx_batch **bp)
{
	struct idx_batch	*b = *bp;
	struct idx_op		*op;
	size_t			 i, j;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		op = &b->ops[i];
		free(op->user);
		free(op->name);
		free(op->name2);
		for (j = 0; j < op->nkw; j++)
			free(op->kw[j]);
		free(op->kw);
		free(op->cache);
	}
	free(b->ops);
	free(b);
	*bp = NULL;
}

size_t
idx_batch_count(const struct idx_batch *b)
{
	return b->n;
}

const struct idx_result *
idx_batch_result(const struct idx_batch *b, size_t op)
{
	if (op >= b->n)
		return NULL;
	return &b->ops[op].res;
}

static struct idx_op *
idx_batch_push(struct idx_batch *b, enum idx_op_kind kind)
{
	struct idx_op	*op;

	if (b->n == b->cap) {
		b->cap = b->cap == 0 ? 16 : b->cap * 2;
		b->ops = xreallocarray(b->ops, b->cap, sizeof(*b->ops));
	}
	op = &b->ops[b->n++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->res.status = IDX_PENDING;
	op->res.error = "not committed";
	return op;
}

static char *
idx_batch_strdup(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

static void
idx_batch_kw_copy(struct idx_op *op, const char *const *kw, size_t n)
{
	size_t	 i;

	if (n == 0 || kw == NULL)
		return;
	op->kw = xreallocarray(NULL, n, sizeof(*op->kw));
	for (i = 0; i < n; i++)
		op->kw[i] = xstrdup(kw[i]);
	op->nkw = n;
}

size_t
idx_batch_mailbox_create(struct idx_batch *b, const char *user,
    const char *name, uint32_t uidvalidity, uint32_t special_use)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MBOX_CREATE);

	op->user = idx_batch_strdup(user);
	op->name = idx_batch_strdup(name);
	op->u32 = uidvalidity;
	op->flags = special_use;
	return b->n - 1;
}

size_t
idx_batch_mailbox_rename(struct idx_batch *b, const char *user,
    const char *name, const char *newname)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MBOX_RENAME);

	op->user = idx_batch_strdup(user);
	op->name = idx_batch_strdup(name);
	op->name2 = idx_batch_strdup(newname);
	return b->n - 1;
}

size_t
idx_batch_mailbox_delete(struct idx_batch *b, const char *user,
    const char *name)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MBOX_DELETE);

	op->user = idx_batch_strdup(user);
	op->name = idx_batch_strdup(name);
	return b->n - 1;
}

size_t
idx_batch_mailbox_mtimes(struct idx_batch *b, uint32_t mbox,
    const struct timespec *mtime_new, const struct timespec *mtime_cur)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MBOX_MTIMES);

	op->mbox = mbox;
	op->t1 = *mtime_new;
	op->t2 = *mtime_cur;
	return b->n - 1;
}

size_t
idx_batch_mailbox_attrs(struct idx_batch *b, uint32_t mbox, bool subscribed,
    uint32_t special_use)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MBOX_ATTRS);

	op->mbox = mbox;
	op->b = subscribed;
	op->u32 = special_use;
	return b->n - 1;
}

size_t
idx_batch_mailbox_uidnext(struct idx_batch *b, uint32_t mbox,
    uint32_t uidnext)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MBOX_UIDNEXT);

	op->mbox = mbox;
	op->uid = uidnext;
	return b->n - 1;
}

size_t
idx_batch_mailbox_drop(struct idx_batch *b, uint32_t mbox,
    bool new_uidvalidity)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MBOX_DROP);

	op->mbox = mbox;
	op->b = new_uidvalidity;
	return b->n - 1;
}

size_t
idx_batch_tombstones_prune(struct idx_batch *b, uint32_t mbox,
    size_t keep_max)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_TOMB_PRUNE);

	op->mbox = mbox;
	op->u64a = keep_max;
	return b->n - 1;
}

size_t
idx_batch_msg_add(struct idx_batch *b, uint32_t mbox,
    const struct idx_msg_new *m)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MSG_ADD);
	size_t		 elen, blen;

	op->mbox = mbox;
	op->name = idx_batch_strdup(m->basename);
	op->flags = m->flags;
	op->uid = m->uid;
	op->i64a = m->internaldate;
	op->u64a = m->size;
	op->u64b = m->vsize;
	idx_batch_kw_copy(op, m->keywords, m->nkeywords);
	elen = m->envelope != NULL ? m->envelope_len : 0;
	blen = m->bodystructure != NULL ? m->bodystructure_len : 0;
	if (elen > UINT32_MAX || blen > UINT32_MAX)
		op->bad = true;		/* rejected at commit */
	else if (elen != 0 || blen != 0) {
		/* Encode now: the commit then only copies bytes. */
		op->cache_len = 8 + elen + blen;
		op->cache = xmalloc(op->cache_len);
		idx_put_le32(op->cache, (uint32_t)elen);
		idx_put_le32(op->cache + 4, (uint32_t)blen);
		if (elen != 0)
			memcpy(op->cache + 8, m->envelope, elen);
		if (blen != 0)
			memcpy(op->cache + 8 + elen, m->bodystructure, blen);
	}
	return b->n - 1;
}

size_t
idx_batch_msg_flags(struct idx_batch *b, uint32_t mbox, uint32_t uid,
    enum idx_flag_mode mode, uint32_t flags, const char *const *keywords,
    size_t nkeywords, uint64_t unchangedsince)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MSG_FLAGS);

	op->mbox = mbox;
	op->uid = uid;
	op->mode = mode;
	op->flags = flags;
	op->u64a = unchangedsince;
	idx_batch_kw_copy(op, keywords, nkeywords);
	return b->n - 1;
}

size_t
idx_batch_msg_expunge(struct idx_batch *b, uint32_t mbox, uint32_t uid)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_MSG_EXPUNGE);

	op->mbox = mbox;
	op->uid = uid;
	return b->n - 1;
}

size_t
idx_batch_usage_adjust(struct idx_batch *b, const char *user, int64_t bytes,
    int64_t messages)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_USAGE_ADJUST);

	op->user = idx_batch_strdup(user);
	op->i64a = bytes;
	op->i64b = messages;
	return b->n - 1;
}

size_t
idx_batch_usage_set(struct idx_batch *b, const char *user, uint64_t bytes,
    uint64_t messages)
{
	struct idx_op	*op = idx_batch_push(b, IDX_OP_USAGE_SET);

	op->user = idx_batch_strdup(user);
	op->u64a = bytes;
	op->u64b = messages;
	return b->n - 1;
}

/* --- applying, inside the write txn --- */

static void
idx_op_fail(struct idx_op *op, enum idx_status st, const char *error)
{
	op->res.status = st;
	op->res.error = error;
}

static int
idx_apply_put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
    const void *v, size_t vlen)
{
	MDB_val	 kv = { klen, (void *)(uintptr_t)k };
	MDB_val	 vv = { vlen, (void *)(uintptr_t)v };

	return mdb_put(txn, dbi, &kv, &vv, 0);
}

/* Delete; a missing key is not an error. */
static int
idx_apply_del(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen)
{
	MDB_val	 kv = { klen, (void *)(uintptr_t)k };
	int	 rc;

	rc = mdb_del(txn, dbi, &kv, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Delete every key that starts with prefix.  We re-seek after each delete
 * instead of trusting the cursor position after mdb_cursor_del(), which
 * has had bugs at page boundaries; the cost is a log-time seek each.
 */
static int
idx_apply_del_prefix(MDB_txn *txn, MDB_dbi dbi, const unsigned char *prefix,
    size_t plen, uint64_t *count_r)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint64_t	 n = 0;
	int		 rc;

	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	for (;;) {
		k.mv_data = (void *)(uintptr_t)prefix;
		k.mv_size = plen;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc != 0)
			break;
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(c);
	if (count_r != NULL)
		*count_r = n;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
idx_mrec_load(struct idx *idx, MDB_txn *txn, uint32_t id,
    struct idx_mrec *r)
{
	unsigned char		 k[4];
	const unsigned char	*p;
	const char		*user;
	MDB_val			 kv = { sizeof(k), k }, v;
	int			 rc;

	idx_put_be32(k, id);
	if ((rc = mdb_get(txn, idx->mbox, &kv, &v)) != 0)
		return rc;
	if (idx_util_mbox_decode(&v, id, &r->m, &user, &r->ulen) == -1 ||
	    r->ulen > IDX_NAME_MAX)
		return MDB_CORRUPTED;
	p = v.mv_data;
	r->nlen = idx_get_le16(p + 90);
	if (r->nlen > IDX_NAME_MAX)
		return MDB_CORRUPTED;
	memcpy(r->user, user, r->ulen);
	r->user[r->ulen] = '\0';
	memcpy(r->name, user + r->ulen, r->nlen);
	r->name[r->nlen] = '\0';
	return 0;
}

static int
idx_mrec_save(struct idx *idx, MDB_txn *txn, const struct idx_mrec *r)
{
	unsigned char		 k[4];
	unsigned char		 v[IDX_MBOX_FIXED + 2 * IDX_NAME_MAX];
	const struct idx_mbox	*m = &r->m;

	memset(v, 0, IDX_MBOX_FIXED);
	idx_put_le32(v, m->uidvalidity);
	idx_put_le32(v + 4, m->uidnext);
	idx_put_le64(v + 8, m->highestmodseq);
	idx_put_le32(v + 16, m->messages);
	idx_put_le32(v + 20, m->unseen);
	idx_put_le32(v + 24, m->deleted);
	idx_put_le32(v + 28, m->subscribed ? 1 : 0);
	idx_put_le64(v + 32, m->size_total);
	idx_put_le64(v + 40, (uint64_t)m->mtime_new.tv_sec);
	idx_put_le64(v + 48, (uint64_t)m->mtime_new.tv_nsec);
	idx_put_le64(v + 56, (uint64_t)m->mtime_cur.tv_sec);
	idx_put_le64(v + 64, (uint64_t)m->mtime_cur.tv_nsec);
	idx_put_le32(v + 72, m->special_use);
	idx_put_le64(v + 80, m->tomb_horizon);
	idx_put_le16(v + 88, (uint16_t)r->ulen);
	idx_put_le16(v + 90, (uint16_t)r->nlen);
	memcpy(v + IDX_MBOX_FIXED, r->user, r->ulen);
	memcpy(v + IDX_MBOX_FIXED + r->ulen, r->name, r->nlen);
	idx_put_be32(k, m->id);
	return idx_apply_put(txn, idx->mbox, k, sizeof(k), v,
	    IDX_MBOX_FIXED + r->ulen + r->nlen);
}

static int
idx_msg_save(struct idx *idx, MDB_txn *txn, uint32_t mbox,
    const struct idx_msg *m)
{
	unsigned char	 k[IDX_K_MSG];
	unsigned char	 v[IDX_MSG_FIXED + IDX_NAME_MAX + 1];

	memset(v, 0, IDX_MSG_FIXED);
	idx_put_le32(v, m->flags);
	idx_put_le64(v + 8, m->keywords);
	idx_put_le64(v + 16, m->modseq);
	idx_put_le64(v + 24, (uint64_t)m->internaldate);
	idx_put_le64(v + 32, m->size);
	idx_put_le64(v + 40, m->vsize);
	idx_put_le16(v + 48, (uint16_t)m->basename_len);
	memcpy(v + IDX_MSG_FIXED, m->basename, m->basename_len);
	v[IDX_MSG_FIXED + m->basename_len] = '\0';
	idx_key_msg(k, mbox, m->uid);
	return idx_apply_put(txn, idx->msg, k, sizeof(k), v,
	    IDX_MSG_FIXED + m->basename_len + 1);
}

/* Usage follows messages; clamp at zero rather than wrap on drift. */
static int
idx_usage_update(struct idx *idx, MDB_txn *txn, const char *user,
    size_t ulen, int64_t dbytes, int64_t dmsgs, bool absolute,
    uint64_t bytes, uint64_t msgs)
{
	unsigned char	 v[IDX_USAGE_LEN];
	MDB_val		 kv = { ulen, (void *)(uintptr_t)user }, cur;
	uint64_t	 b = 0, n = 0;
	int		 rc;

	rc = mdb_get(txn, idx->users, &kv, &cur);
	if (rc == 0 && cur.mv_size >= IDX_USAGE_LEN) {
		b = idx_get_le64(cur.mv_data);
		n = idx_get_le64((const unsigned char *)cur.mv_data + 8);
	} else if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (absolute) {
		b = bytes;
		n = msgs;
	} else {
		if (dbytes < 0 && (uint64_t)-dbytes > b) {
			log_warn("idx usage-clamp user=%.*s bytes=%" PRIu64
			    " delta=%" PRId64, (int)ulen, user, b, dbytes);
			b = 0;
		} else
			b += (uint64_t)dbytes;
		if (dmsgs < 0 && (uint64_t)-dmsgs > n)
			n = 0;
		else
			n += (uint64_t)dmsgs;
	}
	idx_put_le64(v, b);
	idx_put_le64(v + 8, n);
	return idx_apply_put(txn, idx->users, user, ulen, v, sizeof(v));
}

/* Load the mailbox of an op; NOTFOUND becomes the op's status. */
static int
idx_apply_mbox(struct idx *idx, MDB_txn *txn, struct idx_op *op,
    struct idx_mrec *r, int *missing_r)
{
	int	 rc;

	*missing_r = 0;
	rc = idx_mrec_load(idx, txn, op->mbox, r);
	if (rc == MDB_NOTFOUND) {
		idx_op_fail(op, IDX_NOTFOUND, "no such mailbox");
		*missing_r = 1;
		return 0;
	}
	return rc;
}

/* Look up a mailbox id by (user, name): 0 ok, MDB_NOTFOUND, or an rc. */
static int
idx_apply_mbox_id(struct idx *idx, MDB_txn *txn, const unsigned char *k,
    size_t klen, uint32_t *id_r)
{
	MDB_val	 kv = { klen, (void *)(uintptr_t)k }, v;
	int	 rc;

	if ((rc = mdb_get(txn, idx->mbox_name, &kv, &v)) != 0)
		return rc;
	if (v.mv_size != 4)
		return MDB_CORRUPTED;
	*id_r = idx_get_le32(v.mv_data);
	return 0;
}

/* Remove all per-message data of a mailbox. */
static int
idx_apply_clear(struct idx *idx, MDB_txn *txn, uint32_t mbox, bool keywords)
{
	unsigned char	 p[4];
	int		 rc;

	idx_put_be32(p, mbox);
	if ((rc = idx_apply_del_prefix(txn, idx->msg, p, 4, NULL)) != 0 ||
	    (rc = idx_apply_del_prefix(txn, idx->msg_name, p, 4, NULL)) != 0 ||
	    (rc = idx_apply_del_prefix(txn, idx->cache, p, 4, NULL)) != 0 ||
	    (rc = idx_apply_del_prefix(txn, idx->modseq, p, 4, NULL)) != 0 ||
	    (rc = idx_apply_del_prefix(txn, idx->tomb, p, 4, NULL)) != 0)
		return rc;
	if (keywords)
		rc = idx_apply_del_prefix(txn, idx->kw, p, 4, NULL);
	return rc;
}

static int
idx_apply_mbox_create(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	unsigned char	 k[IDX_KEY_MAX], idb[4];
	struct idx_mrec	 r;
	uint32_t	 id, uv, now;
	size_t		 klen;
	int		 rc;

	if (op->user == NULL || op->name == NULL || op->name[0] == '\0' ||
	    (klen = idx_util_mbox_key(k, sizeof(k), op->user,
	    op->name)) == 0) {
		idx_op_fail(op, IDX_INVALID, "bad user or mailbox name");
		return 0;
	}
	rc = idx_apply_mbox_id(idx, txn, k, klen, &id);
	if (rc == 0) {
		idx_op_fail(op, IDX_EXISTS, "mailbox exists");
		op->res.mbox = id;
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = idx_meta_counter_next(idx, txn, IDX_META_MBOX_NEXT, 1,
	    &id)) != 0)
		return rc;
	uv = op->u32;
	if (uv == 0) {
		/*
		 * Time-based like Dovecot, but never equal to one handed out
		 * before, so a mailbox deleted and created again in the same
		 * second still gets a new UIDVALIDITY (RFC 3501 2.3.1.1).
		 */
		now = (uint32_t)time(NULL);
		if ((rc = idx_meta_counter_next(idx, txn,
		    IDX_META_UIDVALIDITY, now, &uv)) != 0)
			return rc;
	}
	memset(&r, 0, sizeof(r));
	r.m.id = id;
	r.m.uidvalidity = uv;
	r.m.uidnext = 1;
	r.m.highestmodseq = 1;
	r.m.special_use = op->flags;
	r.ulen = strlen(op->user);
	r.nlen = strlen(op->name);
	memcpy(r.user, op->user, r.ulen);
	memcpy(r.name, op->name, r.nlen);
	idx_put_le32(idb, id);
	if ((rc = idx_apply_put(txn, idx->mbox_name, k, klen, idb, 4)) != 0 ||
	    (rc = idx_mrec_save(idx, txn, &r)) != 0)
		return rc;
	op->res.mbox = id;
	op->res.modseq = r.m.highestmodseq;
	return 0;
}

static int
idx_apply_mbox_rename(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	unsigned char	 k[IDX_KEY_MAX], k2[IDX_KEY_MAX], idb[4];
	struct idx_mrec	 r;
	uint32_t	 id, id2;
	size_t		 klen, k2len;
	int		 rc;

	if (op->user == NULL || op->name == NULL || op->name2 == NULL ||
	    op->name2[0] == '\0' ||
	    (klen = idx_util_mbox_key(k, sizeof(k), op->user, op->name)) == 0 ||
	    (k2len = idx_util_mbox_key(k2, sizeof(k2), op->user,
	    op->name2)) == 0) {
		idx_op_fail(op, IDX_INVALID, "bad user or mailbox name");
		return 0;
	}
	rc = idx_apply_mbox_id(idx, txn, k, klen, &id);
	if (rc == MDB_NOTFOUND) {
		idx_op_fail(op, IDX_NOTFOUND, "no such mailbox");
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = idx_apply_mbox_id(idx, txn, k2, k2len, &id2);
	if (rc == 0) {
		idx_op_fail(op, IDX_EXISTS, "target mailbox exists");
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = idx_mrec_load(idx, txn, id, &r)) != 0)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	/* Same id, so UIDs, UIDVALIDITY and modseqs all carry over. */
	r.nlen = strlen(op->name2);
	memcpy(r.name, op->name2, r.nlen);
	r.name[r.nlen] = '\0';
	idx_put_le32(idb, id);
	if ((rc = idx_apply_del(txn, idx->mbox_name, k, klen)) != 0 ||
	    (rc = idx_apply_put(txn, idx->mbox_name, k2, k2len, idb, 4)) != 0 ||
	    (rc = idx_mrec_save(idx, txn, &r)) != 0)
		return rc;
	op->res.mbox = id;
	return 0;
}

static int
idx_apply_mbox_delete(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	unsigned char	 k[IDX_KEY_MAX], idk[4];
	struct idx_mrec	 r;
	uint32_t	 id;
	size_t		 klen;
	int		 rc;

	if (op->user == NULL || op->name == NULL ||
	    (klen = idx_util_mbox_key(k, sizeof(k), op->user, op->name)) == 0) {
		idx_op_fail(op, IDX_INVALID, "bad user or mailbox name");
		return 0;
	}
	rc = idx_apply_mbox_id(idx, txn, k, klen, &id);
	if (rc == MDB_NOTFOUND) {
		idx_op_fail(op, IDX_NOTFOUND, "no such mailbox");
		return 0;
	}
	if (rc != 0)
		return rc;
	if ((rc = idx_mrec_load(idx, txn, id, &r)) != 0)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	idx_put_be32(idk, id);
	if ((rc = idx_apply_clear(idx, txn, id, true)) != 0 ||
	    (rc = idx_apply_del(txn, idx->mbox, idk, 4)) != 0 ||
	    (rc = idx_apply_del(txn, idx->mbox_name, k, klen)) != 0)
		return rc;
	if (r.m.size_total != 0 || r.m.messages != 0)
		rc = idx_usage_update(idx, txn, r.user, r.ulen,
		    -(int64_t)r.m.size_total, -(int64_t)r.m.messages, false,
		    0, 0);
	op->res.mbox = id;
	return rc;
}

static int
idx_apply_mbox_drop(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	struct idx_mrec	 r;
	int		 rc, missing;

	if ((rc = idx_apply_mbox(idx, txn, op, &r, &missing)) != 0 || missing)
		return rc;
	if ((rc = idx_apply_clear(idx, txn, op->mbox, true)) != 0)
		return rc;
	if (r.m.size_total != 0 || r.m.messages != 0)
		if ((rc = idx_usage_update(idx, txn, r.user, r.ulen,
		    -(int64_t)r.m.size_total, -(int64_t)r.m.messages, false,
		    0, 0)) != 0)
			return rc;
	r.m.messages = r.m.unseen = r.m.deleted = 0;
	r.m.size_total = 0;
	/* No tombstones survive: QRESYNC clients older than now resync. */
	r.m.tomb_horizon = r.m.highestmodseq;
	if (op->b) {
		if ((rc = idx_meta_counter_next(idx, txn,
		    IDX_META_UIDVALIDITY, (uint32_t)time(NULL),
		    &r.m.uidvalidity)) != 0)
			return rc;
		r.m.uidnext = 1;
	}
	op->res.mbox = op->mbox;
	return idx_mrec_save(idx, txn, &r);
}

static int
idx_apply_tomb_prune(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	unsigned char	 p[4];
	struct idx_mrec	 r;
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint64_t	 total = 0, drop, last = 0;
	int		 rc, missing;

	if ((rc = idx_apply_mbox(idx, txn, op, &r, &missing)) != 0 || missing)
		return rc;
	idx_put_be32(p, op->mbox);
	if ((rc = mdb_cursor_open(txn, idx->tomb, &c)) != 0)
		return rc;
	/* Count this mailbox's tombstones, then delete the oldest ones. */
	k.mv_data = p;
	k.mv_size = 4;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != IDX_K_SEQ || memcmp(k.mv_data, p, 4) != 0)
			break;
		total++;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	for (drop = total > op->u64a ? total - op->u64a : 0; drop > 0;
	    drop--) {
		k.mv_data = p;
		k.mv_size = 4;
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		last = idx_get_be64((const unsigned char *)k.mv_data + 4);
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
out:
	mdb_cursor_close(c);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (last > r.m.tomb_horizon) {
		r.m.tomb_horizon = last;
		rc = idx_mrec_save(idx, txn, &r);
	}
	op->res.mbox = op->mbox;
	return rc;
}

/*
 * Map keyword names to a bit mask, defining new ones when create is set.
 * The table is re-read after each definition because a put may move the
 * pages our name pointers point into.
 */
static int
idx_apply_keywords(struct idx *idx, MDB_txn *txn, struct idx_op *op,
    bool create, uint64_t *mask_r, int *bad_r)
{
	const char	*names[IDX_KEYWORDS_MAX];
	unsigned char	 k[IDX_K_KW];
	struct idx_read	 rd = { idx, txn, NULL };
	const char	*error;
	uint64_t	 mask = 0;
	size_t		 i, len;
	unsigned int	 j;
	int		 rc;

	*bad_r = 0;
	for (i = 0; i < op->nkw; i++) {
		len = strlen(op->kw[i]);
		if (len == 0 || len > IDX_KW_NAME_MAX || op->kw[i][0] == '\\') {
			idx_op_fail(op, IDX_INVALID, "bad keyword");
			*bad_r = 1;
			return 0;
		}
	}
	for (i = 0; i < op->nkw; i++) {
		if (idx_read_keywords(&rd, op->mbox, names, &error) == -1)
			return MDB_CORRUPTED;
		for (j = 0; j < IDX_KEYWORDS_MAX; j++)
			if (names[j] != NULL &&
			    strcasecmp(names[j], op->kw[i]) == 0)
				break;
		if (j < IDX_KEYWORDS_MAX) {
			mask |= (uint64_t)1 << j;
			continue;
		}
		if (!create)
			continue;
		for (j = 0; j < IDX_KEYWORDS_MAX; j++)
			if (names[j] == NULL)
				break;
		if (j == IDX_KEYWORDS_MAX) {
			idx_op_fail(op, IDX_LIMIT, "too many keywords");
			*bad_r = 1;
			return 0;
		}
		idx_put_be32(k, op->mbox);
		k[4] = (unsigned char)j;
		rc = idx_apply_put(txn, idx->kw, k, sizeof(k), op->kw[i],
		    strlen(op->kw[i]) + 1);
		if (rc != 0)
			return rc;
		mask |= (uint64_t)1 << j;
	}
	*mask_r = mask;
	return 0;
}

static int
idx_apply_msg_add(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	unsigned char	 k[4 + IDX_NAME_MAX], mk[IDX_K_MSG], sk[IDX_K_SEQ];
	unsigned char	 uidb[4];
	struct idx_mrec	 r;
	struct idx_msg	 m;
	MDB_val		 kv, v;
	uint64_t	 mask = 0;
	size_t		 blen;
	uint32_t	 uid;
	int		 rc, missing, bad;

	if ((rc = idx_apply_mbox(idx, txn, op, &r, &missing)) != 0 || missing)
		return rc;
	blen = op->name == NULL ? 0 : strlen(op->name);
	if (blen == 0 || blen > IDX_NAME_MAX || (op->flags & ~IDX_F_ALL) ||
	    op->bad) {
		idx_op_fail(op, IDX_INVALID, "bad base name, flags or cache");
		return 0;
	}
	if (op->uid != 0 && op->uid < r.m.uidnext) {
		idx_op_fail(op, IDX_INVALID, "uid below uidnext");
		return 0;
	}
	uid = op->uid != 0 ? op->uid : r.m.uidnext;
	if (uid == UINT32_MAX) {
		/* uidnext would wrap: the mailbox needs a new UIDVALIDITY. */
		idx_op_fail(op, IDX_LIMIT, "uid space exhausted");
		return 0;
	}
	idx_put_be32(k, op->mbox);
	memcpy(k + 4, op->name, blen);
	kv.mv_data = k;
	kv.mv_size = 4 + blen;
	rc = mdb_get(txn, idx->msg_name, &kv, &v);
	if (rc == 0) {
		idx_op_fail(op, IDX_EXISTS, "base name already indexed");
		op->res.uid = v.mv_size == 4 ? idx_get_le32(v.mv_data) : 0;
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = idx_apply_keywords(idx, txn, op, true, &mask, &bad)) != 0 ||
	    bad)
		return rc;

	memset(&m, 0, sizeof(m));
	m.uid = uid;
	m.flags = op->flags;
	m.keywords = mask;
	m.modseq = ++r.m.highestmodseq;
	m.internaldate = op->i64a;
	m.size = op->u64a;
	m.vsize = op->u64b;
	m.basename = op->name;
	m.basename_len = blen;
	r.m.uidnext = uid + 1;
	r.m.messages++;
	if (!(m.flags & IDX_F_SEEN))
		r.m.unseen++;
	if (m.flags & IDX_F_DELETED)
		r.m.deleted++;
	r.m.size_total += m.size;

	idx_put_le32(uidb, uid);
	idx_key_msg(mk, op->mbox, uid);
	idx_key_seq(sk, op->mbox, m.modseq);
	if ((rc = idx_msg_save(idx, txn, op->mbox, &m)) != 0 ||
	    (rc = idx_apply_put(txn, idx->msg_name, k, 4 + blen, uidb,
	    4)) != 0 ||
	    (rc = idx_apply_put(txn, idx->modseq, sk, sizeof(sk), uidb,
	    4)) != 0)
		return rc;
	if (op->cache != NULL && (rc = idx_apply_put(txn, idx->cache, mk,
	    sizeof(mk), op->cache, op->cache_len)) != 0)
		return rc;
	if ((rc = idx_mrec_save(idx, txn, &r)) != 0 ||
	    (rc = idx_usage_update(idx, txn, r.user, r.ulen,
	    (int64_t)m.size, 1, false, 0, 0)) != 0)
		return rc;
	op->res.mbox = op->mbox;
	op->res.uid = uid;
	op->res.modseq = m.modseq;
	op->res.flags = m.flags;
	op->res.keywords = m.keywords;
	op->res.changed = true;
	return 0;
}

/* Load a message record with its base name copied out of the map. */
static int
idx_apply_msg_load(struct idx *idx, MDB_txn *txn, uint32_t mbox,
    uint32_t uid, struct idx_msg *m, char name[IDX_NAME_MAX + 1])
{
	unsigned char	 k[IDX_K_MSG];
	MDB_val		 kv = { sizeof(k), k }, v;
	int		 rc;

	idx_key_msg(k, mbox, uid);
	if ((rc = mdb_get(txn, idx->msg, &kv, &v)) != 0)
		return rc;
	if (idx_util_msg_decode(&v, uid, m) == -1 ||
	    m->basename_len > IDX_NAME_MAX)
		return MDB_CORRUPTED;
	memcpy(name, m->basename, m->basename_len + 1);
	m->basename = name;
	return 0;
}

static int
idx_apply_msg_flags(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	char		 name[IDX_NAME_MAX + 1];
	unsigned char	 sk[IDX_K_SEQ], uidb[4];
	struct idx_mrec	 r;
	struct idx_msg	 m;
	uint64_t	 mask = 0, kw;
	uint32_t	 fl;
	int		 rc, missing, bad;

	if ((rc = idx_apply_mbox(idx, txn, op, &r, &missing)) != 0 || missing)
		return rc;
	if ((op->flags & ~IDX_F_ALL) || op->mode > IDX_FLAGS_REMOVE) {
		idx_op_fail(op, IDX_INVALID, "bad flags");
		return 0;
	}
	rc = idx_apply_msg_load(idx, txn, op->mbox, op->uid, &m, name);
	if (rc == MDB_NOTFOUND) {
		idx_op_fail(op, IDX_NOTFOUND, "no such message");
		return 0;
	}
	if (rc != 0)
		return rc;
	op->res.mbox = op->mbox;
	op->res.uid = op->uid;
	op->res.modseq = m.modseq;
	op->res.flags = m.flags;
	op->res.keywords = m.keywords;
	/* RFC 7162 3.2: fail if changed after the client's UNCHANGEDSINCE. */
	if (op->u64a != 0 && m.modseq > op->u64a) {
		idx_op_fail(op, IDX_MODIFIED, "modified since");
		return 0;
	}
	if ((rc = idx_apply_keywords(idx, txn, op,
	    op->mode != IDX_FLAGS_REMOVE, &mask, &bad)) != 0 || bad)
		return rc;
	switch (op->mode) {
	case IDX_FLAGS_ADD:
		fl = m.flags | op->flags;
		kw = m.keywords | mask;
		break;
	case IDX_FLAGS_REMOVE:
		fl = m.flags & ~op->flags;
		kw = m.keywords & ~mask;
		break;
	default:
		fl = op->flags;
		kw = mask;
		break;
	}
	op->res.status = IDX_OK;
	op->res.error = NULL;
	if (fl == m.flags && kw == m.keywords)
		return 0;	/* no change, no new modseq */

	if (!(m.flags & IDX_F_SEEN) && (fl & IDX_F_SEEN))
		r.m.unseen--;
	else if ((m.flags & IDX_F_SEEN) && !(fl & IDX_F_SEEN))
		r.m.unseen++;
	if (!(m.flags & IDX_F_DELETED) && (fl & IDX_F_DELETED))
		r.m.deleted++;
	else if ((m.flags & IDX_F_DELETED) && !(fl & IDX_F_DELETED))
		r.m.deleted--;
	idx_key_seq(sk, op->mbox, m.modseq);
	if ((rc = idx_apply_del(txn, idx->modseq, sk, sizeof(sk))) != 0)
		return rc;
	m.flags = fl;
	m.keywords = kw;
	m.modseq = ++r.m.highestmodseq;
	idx_key_seq(sk, op->mbox, m.modseq);
	idx_put_le32(uidb, op->uid);
	if ((rc = idx_apply_put(txn, idx->modseq, sk, sizeof(sk), uidb,
	    4)) != 0 ||
	    (rc = idx_msg_save(idx, txn, op->mbox, &m)) != 0 ||
	    (rc = idx_mrec_save(idx, txn, &r)) != 0)
		return rc;
	op->res.modseq = m.modseq;
	op->res.flags = fl;
	op->res.keywords = kw;
	op->res.changed = true;
	return 0;
}

static int
idx_apply_msg_expunge(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	char		 name[IDX_NAME_MAX + 1];
	unsigned char	 nk[4 + IDX_NAME_MAX], mk[IDX_K_MSG], sk[IDX_K_SEQ];
	unsigned char	 uidb[4];
	struct idx_mrec	 r;
	struct idx_msg	 m;
	int		 rc, missing;

	if ((rc = idx_apply_mbox(idx, txn, op, &r, &missing)) != 0 || missing)
		return rc;
	rc = idx_apply_msg_load(idx, txn, op->mbox, op->uid, &m, name);
	if (rc == MDB_NOTFOUND) {
		idx_op_fail(op, IDX_NOTFOUND, "no such message");
		return 0;
	}
	if (rc != 0)
		return rc;
	idx_key_msg(mk, op->mbox, op->uid);
	idx_put_be32(nk, op->mbox);
	memcpy(nk + 4, name, m.basename_len);
	idx_key_seq(sk, op->mbox, m.modseq);
	if ((rc = idx_apply_del(txn, idx->msg, mk, sizeof(mk))) != 0 ||
	    (rc = idx_apply_del(txn, idx->msg_name, nk,
	    4 + m.basename_len)) != 0 ||
	    (rc = idx_apply_del(txn, idx->cache, mk, sizeof(mk))) != 0 ||
	    (rc = idx_apply_del(txn, idx->modseq, sk, sizeof(sk))) != 0)
		return rc;
	/* The tombstone answers VANISHED (EARLIER) for this modseq. */
	op->res.modseq = ++r.m.highestmodseq;
	idx_key_seq(sk, op->mbox, op->res.modseq);
	idx_put_le32(uidb, op->uid);
	if ((rc = idx_apply_put(txn, idx->tomb, sk, sizeof(sk), uidb, 4)) != 0)
		return rc;
	r.m.messages--;
	if (!(m.flags & IDX_F_SEEN))
		r.m.unseen--;
	if (m.flags & IDX_F_DELETED)
		r.m.deleted--;
	r.m.size_total -= m.size < r.m.size_total ? m.size : r.m.size_total;
	if ((rc = idx_mrec_save(idx, txn, &r)) != 0 ||
	    (rc = idx_usage_update(idx, txn, r.user, r.ulen,
	    -(int64_t)m.size, -1, false, 0, 0)) != 0)
		return rc;
	op->res.mbox = op->mbox;
	op->res.uid = op->uid;
	op->res.changed = true;
	return 0;
}

static int
idx_apply_mbox_set(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	struct idx_mrec	 r;
	int		 rc, missing;

	if ((rc = idx_apply_mbox(idx, txn, op, &r, &missing)) != 0 || missing)
		return rc;
	if (op->kind == IDX_OP_MBOX_MTIMES) {
		r.m.mtime_new = op->t1;
		r.m.mtime_cur = op->t2;
	} else if (op->kind == IDX_OP_MBOX_UIDNEXT) {
		/* Only up: a UID below uidnext may have been handed out. */
		if (op->uid > r.m.uidnext)
			r.m.uidnext = op->uid;
	} else {
		r.m.subscribed = op->b;
		r.m.special_use = op->u32;
	}
	op->res.mbox = op->mbox;
	return idx_mrec_save(idx, txn, &r);
}

static int
idx_apply_usage(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	size_t	 len = op->user == NULL ? 0 : strlen(op->user);

	if (len == 0 || len > IDX_NAME_MAX) {
		idx_op_fail(op, IDX_INVALID, "bad user");
		return 0;
	}
	if (op->kind == IDX_OP_USAGE_SET)
		return idx_usage_update(idx, txn, op->user, len, 0, 0, true,
		    op->u64a, op->u64b);
	return idx_usage_update(idx, txn, op->user, len, op->i64a, op->i64b,
	    false, 0, 0);
}

static int
idx_apply_op(struct idx *idx, MDB_txn *txn, struct idx_op *op)
{
	memset(&op->res, 0, sizeof(op->res));
	op->res.status = IDX_OK;
	switch (op->kind) {
	case IDX_OP_MBOX_CREATE:
		return idx_apply_mbox_create(idx, txn, op);
	case IDX_OP_MBOX_RENAME:
		return idx_apply_mbox_rename(idx, txn, op);
	case IDX_OP_MBOX_DELETE:
		return idx_apply_mbox_delete(idx, txn, op);
	case IDX_OP_MBOX_MTIMES:
	case IDX_OP_MBOX_ATTRS:
	case IDX_OP_MBOX_UIDNEXT:
		return idx_apply_mbox_set(idx, txn, op);
	case IDX_OP_MBOX_DROP:
		return idx_apply_mbox_drop(idx, txn, op);
	case IDX_OP_TOMB_PRUNE:
		return idx_apply_tomb_prune(idx, txn, op);
	case IDX_OP_MSG_ADD:
		return idx_apply_msg_add(idx, txn, op);
	case IDX_OP_MSG_FLAGS:
		return idx_apply_msg_flags(idx, txn, op);
	case IDX_OP_MSG_EXPUNGE:
		return idx_apply_msg_expunge(idx, txn, op);
	case IDX_OP_USAGE_ADJUST:
	case IDX_OP_USAGE_SET:
		return idx_apply_usage(idx, txn, op);
	}
	return MDB_INVALID;
}

static int
idx_apply_txn(MDB_txn *txn, void *arg, const char **error_r)
{
	struct idx_apply	*a = arg;
	size_t			 i, j;
	int			 rc;

	for (i = 0; i < a->nbatches; i++)
		for (j = 0; j < a->batches[i]->n; j++) {
			rc = idx_apply_op(a->idx, txn, &a->batches[i]->ops[j]);
			if (rc == MDB_MAP_FULL)
				return rc;
			if (rc != 0) {
				*error_r = idx_util_err("batch", rc);
				return -1;
			}
		}
	return 0;
}

static void
idx_batch_mark_pending(struct idx_batch *b)
{
	size_t	 i;

	for (i = 0; i < b->n; i++) {
		memset(&b->ops[i].res, 0, sizeof(b->ops[i].res));
		b->ops[i].res.status = IDX_PENDING;
		b->ops[i].res.error = "not committed";
	}
}

/* Shared with idx_writer.c: many batches, one txn, one sync. */
int
idx_batch_commit_many_blocking(struct idx *idx, struct idx_batch **batches,
    size_t n, const char **error_r)
{
	struct idx_apply	 a = { idx, batches, n };
	size_t			 i;

	if (idx_env_write_blocking(idx, idx_apply_txn, &a, error_r) == 0)
		return 0;
	for (i = 0; i < n; i++)
		idx_batch_mark_pending(batches[i]);
	return -1;
}

int
idx_batch_commit_blocking(struct idx *idx, struct idx_batch *b,
    const char **error_r)
{
	return idx_batch_commit_many_blocking(idx, &b, 1, error_r);
}

int
idx_drop_mailbox_contents_blocking(struct idx *idx, uint32_t mbox,
    bool new_uidvalidity, const char **error_r)
{
	struct idx_batch	*b = idx_batch_new();
	const struct idx_result	*res;
	int			 r;

	idx_batch_mailbox_drop(b, mbox, new_uidvalidity);
	r = idx_batch_commit_blocking(idx, b, error_r);
	if (r == 0) {
		res = idx_batch_result(b, 0);
		if (res->status != IDX_OK) {
			*error_r = idx_util_errf("index: drop mailbox %u: %s",
			    mbox, res->error);
			r = -1;
		}
	}
	idx_batch_free(&b);
	if (r == 0)
		log_info("idx mailbox-dropped mbox=%u new_uidvalidity=%d",
		    mbox, new_uidvalidity);
	return r;
}
