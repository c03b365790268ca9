/*
 * idx_read.c - read snapshots and point lookups.
 *
 * A snapshot is one LMDB read txn.  Ended snapshots are reset, not
 * aborted, and kept on a short free list: mdb_txn_renew() reuses the
 * reader slot and the allocation, so a command costs no malloc.  With
 * MDB_NOTLS the txn is not bound to a thread.  While a snapshot is live
 * it holds maplock shared so a map resize cannot unmap what it reads.
 *
 * Threads: all [any]; one snapshot is used by one thread at a time.
 * Values returned by pointer point into the map and stay valid until
 * idx_read_end().
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "idx_private.h"
#include "xmalloc.h"

#define IDX_RFREE_MAX	16

int
idx_read_begin(struct idx *idx, struct idx_read **rd_r, const char **error_r)
{
	struct idx_read	*rd;
	int		 rc;

	pthread_mutex_lock(&idx->rlock);
	if ((rd = idx->rfree) != NULL) {
		idx->rfree = rd->next;
		idx->nrfree--;
	}
	pthread_mutex_unlock(&idx->rlock);

	for (;;) {
		pthread_rwlock_rdlock(&idx->maplock);
		if (rd != NULL)
			rc = mdb_txn_renew(rd->txn);
		else {
			rd = xcalloc(1, sizeof(*rd));
			rd->idx = idx;
			rc = mdb_txn_begin(idx->env, NULL, MDB_RDONLY,
			    &rd->txn);
			if (rc != 0)
				rd->txn = NULL;
		}
		if (rc == 0)
			break;
		pthread_rwlock_unlock(&idx->maplock);
		if (rc == MDB_MAP_RESIZED &&
		    idx_env_adopt_mapsize(idx, error_r) == 0)
			continue;
		if (rc != MDB_MAP_RESIZED)
			*error_r = idx_util_err("read txn begin", rc);
		if (rd->txn != NULL)
			mdb_txn_abort(rd->txn);
		free(rd);
		return -1;
	}
	*rd_r = rd;
	return 0;
}

void
idx_read_end(struct idx_read **rdp)
{
	struct idx_read	*rd = *rdp;
	struct idx	*idx;

	if (rd == NULL)
		return;
	*rdp = NULL;
	idx = rd->idx;
	mdb_txn_reset(rd->txn);
	pthread_rwlock_unlock(&idx->maplock);
	pthread_mutex_lock(&idx->rlock);
	if (idx->nrfree < IDX_RFREE_MAX) {
		rd->next = idx->rfree;
		idx->rfree = rd;
		idx->nrfree++;
		rd = NULL;
	}
	pthread_mutex_unlock(&idx->rlock);
	if (rd != NULL) {
		mdb_txn_abort(rd->txn);
		free(rd);
	}
}

MDB_txn *
idx_read_txn(struct idx_read *rd)
{
	return rd->txn;
}

/* mdb_get with NOTFOUND folded into the 1/0/-1 convention. */
static int
idx_read_get(struct idx_read *rd, MDB_dbi dbi, const void *key, size_t klen,
    MDB_val *v, const char *what, const char **error_r)
{
	MDB_val	 k = { klen, (void *)(uintptr_t)key };
	int	 rc;

	rc = mdb_get(rd->txn, dbi, &k, v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		*error_r = idx_util_err(what, rc);
		return -1;
	}
	return 1;
}

int
idx_read_mailbox_by_id(struct idx_read *rd, uint32_t id,
    struct idx_mbox *mbox_r, const char **error_r)
{
	unsigned char	 k[4];
	MDB_val		 v;
	int		 r;

	idx_put_be32(k, id);
	r = idx_read_get(rd, rd->idx->mbox, k, sizeof(k), &v, "mailbox",
	    error_r);
	if (r != 1)
		return r;
	if (idx_util_mbox_decode(&v, id, mbox_r, NULL, NULL) == -1) {
		*error_r = idx_util_errf("index: mailbox %u: bad record", id);
		return -1;
	}
	return 1;
}

int
idx_read_mailbox(struct idx_read *rd, const char *user, const char *name,
    struct idx_mbox *mbox_r, const char **error_r)
{
	unsigned char	 k[IDX_KEY_MAX];
	size_t		 klen;
	MDB_val		 v;
	int		 r;

	if ((klen = idx_util_mbox_key(k, sizeof(k), user, name)) == 0)
		return 0;		/* too long to exist */
	r = idx_read_get(rd, rd->idx->mbox_name, k, klen, &v, "mailbox name",
	    error_r);
	if (r != 1)
		return r;
	if (v.mv_size != 4) {
		*error_r = "index: mailbox name record: bad size";
		return -1;
	}
	r = idx_read_mailbox_by_id(rd, idx_get_le32(v.mv_data), mbox_r,
	    error_r);
	if (r == 0) {
		*error_r = "index: mailbox name points to no mailbox";
		return -1;
	}
	return r;
}

int
idx_read_message(struct idx_read *rd, uint32_t mbox, uint32_t uid,
    struct idx_msg *msg_r, const char **error_r)
{
	unsigned char	 k[IDX_K_MSG];
	MDB_val		 v;
	int		 r;

	idx_key_msg(k, mbox, uid);
	r = idx_read_get(rd, rd->idx->msg, k, sizeof(k), &v, "message",
	    error_r);
	if (r != 1)
		return r;
	if (idx_util_msg_decode(&v, uid, msg_r) == -1) {
		*error_r = idx_util_errf("index: message %u/%u: bad record",
		    mbox, uid);
		return -1;
	}
	return 1;
}

int
idx_read_uid_by_name(struct idx_read *rd, uint32_t mbox,
    const char *basename, uint32_t *uid_r, const char **error_r)
{
	unsigned char	 k[4 + IDX_NAME_MAX];
	size_t		 len = strlen(basename);
	MDB_val		 v;
	int		 r;

	if (len == 0 || len > IDX_NAME_MAX)
		return 0;
	idx_put_be32(k, mbox);
	memcpy(k + 4, basename, len);
	r = idx_read_get(rd, rd->idx->msg_name, k, 4 + len, &v, "basename",
	    error_r);
	if (r != 1)
		return r;
	if (v.mv_size != 4) {
		*error_r = "index: basename record: bad size";
		return -1;
	}
	*uid_r = idx_get_le32(v.mv_data);
	return 1;
}

/* Cache record: env_len u32, bs_len u32, envelope, bodystructure. */
int
idx_read_cache(struct idx_read *rd, uint32_t mbox, uint32_t uid,
    const void **env_r, size_t *env_len_r, const void **bs_r,
    size_t *bs_len_r, const char **error_r)
{
	unsigned char		 k[IDX_K_MSG];
	const unsigned char	*p;
	MDB_val			 v;
	size_t			 elen, blen;
	int			 r;

	idx_key_msg(k, mbox, uid);
	r = idx_read_get(rd, rd->idx->cache, k, sizeof(k), &v, "cache",
	    error_r);
	if (r != 1)
		return r;
	p = v.mv_data;
	if (v.mv_size < 8)
		goto bad;
	elen = idx_get_le32(p);
	blen = idx_get_le32(p + 4);
	if (v.mv_size - 8 < elen || v.mv_size - 8 - elen < blen)
		goto bad;
	*env_r = p + 8;
	*env_len_r = elen;
	*bs_r = p + 8 + elen;
	*bs_len_r = blen;
	return 1;
bad:
	*error_r = idx_util_errf("index: cache %u/%u: bad record", mbox, uid);
	return -1;
}

int
idx_read_usage(struct idx_read *rd, const char *user,
    struct idx_usage *usage_r, const char **error_r)
{
	MDB_val	 v;
	size_t	 len = strlen(user);
	int	 r;

	if (len == 0 || len > IDX_NAME_MAX)
		return 0;
	r = idx_read_get(rd, rd->idx->users, user, len, &v, "usage", error_r);
	if (r != 1)
		return r;
	if (v.mv_size < IDX_USAGE_LEN) {
		*error_r = "index: usage record: bad size";
		return -1;
	}
	usage_r->bytes = idx_get_le64(v.mv_data);
	usage_r->messages = idx_get_le64((const unsigned char *)v.mv_data + 8);
	return 1;
}

int
idx_read_keywords(struct idx_read *rd, uint32_t mbox,
    const char *names_r[IDX_KEYWORDS_MAX], const char **error_r)
{
	MDB_cursor		*c;
	MDB_val			 k, v;
	unsigned char		 kb[IDX_K_KW];
	const unsigned char	*kp;
	int			 rc;

	memset(names_r, 0, sizeof(*names_r) * IDX_KEYWORDS_MAX);
	idx_put_be32(kb, mbox);
	kb[4] = 0;
	if ((rc = mdb_cursor_open(rd->txn, rd->idx->kw, &c)) != 0) {
		*error_r = idx_util_err("keywords", rc);
		return -1;
	}
	k.mv_data = kb;
	k.mv_size = sizeof(kb);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		kp = k.mv_data;
		if (k.mv_size != IDX_K_KW || idx_get_be32(kp) != mbox)
			break;
		if (kp[4] < IDX_KEYWORDS_MAX && v.mv_size > 0 &&
		    ((const char *)v.mv_data)[v.mv_size - 1] == '\0')
			names_r[kp[4]] = v.mv_data;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = idx_util_err("keywords", rc);
		return -1;
	}
	return 0;
}

int
idx_read_keyword_id(struct idx_read *rd, uint32_t mbox, const char *name,
    unsigned int *id_r, const char **error_r)
{
	const char	*names[IDX_KEYWORDS_MAX];
	unsigned int	 i;

	if (idx_read_keywords(rd, mbox, names, error_r) == -1)
		return -1;
	for (i = 0; i < IDX_KEYWORDS_MAX; i++)
		if (names[i] != NULL && strcasecmp(names[i], name) == 0) {
			*id_r = i;
			return 1;
		}
	return 0;
}
