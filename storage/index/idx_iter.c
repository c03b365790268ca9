/*
 * idx_iter.c - cursors over a user's mailboxes, a mailbox's messages in
 * UID order, its changes since a modseq (CONDSTORE CHANGEDSINCE) and its
 * expunge tombstones since a modseq (QRESYNC VANISHED).
 *
 * Owns one MDB_cursor per iterator; records are decoded in place from
 * the map, so walking 10,000 messages allocates nothing.
 *
 * Threads: [any], the thread that uses the snapshot.
 */
#include <stdlib.h>
#include <string.h>

#include "idx_private.h"
#include "xmalloc.h"

enum idx_iter_kind {
	IDX_IT_MAILBOXES,
	IDX_IT_MESSAGES,
	IDX_IT_CHANGES,
	IDX_IT_VANISHED
};

struct idx_iter {
	struct idx_read		*rd;
	MDB_cursor		*cur;
	enum idx_iter_kind	 kind;
	uint32_t		 mbox;
	uint64_t		 hi;		/* last uid (messages) */
	bool			 started;
	bool			 done;
	size_t			 klen;		/* start key */
	unsigned char		 key[IDX_KEY_MAX];
};

static int
idx_iter_new(struct idx_read *rd, enum idx_iter_kind kind, MDB_dbi dbi,
    struct idx_iter **it_r, const char **error_r)
{
	struct idx_iter	*it;
	int		 rc;

	it = xcalloc(1, sizeof(*it));
	it->rd = rd;
	it->kind = kind;
	if ((rc = mdb_cursor_open(rd->txn, dbi, &it->cur)) != 0) {
		free(it);
		*error_r = idx_util_err("cursor", rc);
		return -1;
	}
	*it_r = it;
	return 0;
}

void
idx_iter_free(struct idx_iter **itp)
{
	if (*itp == NULL)
		return;
	mdb_cursor_close((*itp)->cur);
	free(*itp);
	*itp = NULL;
}

/* Step: SET_RANGE to the start key the first time, then NEXT. */
static int
idx_iter_step(struct idx_iter *it, MDB_val *k, MDB_val *v,
    const char **error_r)
{
	int	 rc;

	if (it->done)
		return 0;
	if (!it->started) {
		it->started = true;
		k->mv_data = it->key;
		k->mv_size = it->klen;
		rc = mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE);
	} else
		rc = mdb_cursor_get(it->cur, k, v, MDB_NEXT);
	if (rc == MDB_NOTFOUND) {
		it->done = true;
		return 0;
	}
	if (rc != 0) {
		*error_r = idx_util_err("cursor", rc);
		return -1;
	}
	return 1;
}

int
idx_iter_mailboxes(struct idx_read *rd, const char *user,
    struct idx_iter **it_r, const char **error_r)
{
	struct idx_iter	*it;
	size_t		 len;

	if (idx_iter_new(rd, IDX_IT_MAILBOXES, rd->idx->mbox_name, &it,
	    error_r) == -1)
		return -1;
	if ((len = idx_util_mbox_key(it->key, sizeof(it->key), user, "")) == 0)
		it->done = true;
	it->klen = len;
	*it_r = it;
	return 0;
}

int
idx_iter_next_mailbox(struct idx_iter *it, const char **name_r,
    struct idx_mbox *mbox_r, const char **error_r)
{
	MDB_val	 k, v;
	int	 r;

	if (it->kind != IDX_IT_MAILBOXES) {
		*error_r = "index: wrong iterator kind";
		return -1;
	}
	if ((r = idx_iter_step(it, &k, &v, error_r)) != 1)
		return r;
	/* The key is "user NUL name": stop when the prefix changes. */
	if (k.mv_size < it->klen || memcmp(k.mv_data, it->key, it->klen) != 0) {
		it->done = true;
		return 0;
	}
	if (v.mv_size != 4) {
		*error_r = "index: mailbox name record: bad size";
		return -1;
	}
	r = idx_read_mailbox_by_id(it->rd, idx_get_le32(v.mv_data), mbox_r,
	    error_r);
	if (r == 0) {
		*error_r = "index: mailbox name points to no mailbox";
		return -1;
	}
	if (r == -1)
		return -1;
	/*
	 * The name in the key has no NUL.  Copy it behind the user prefix
	 * in our own buffer (the start key is spent after the first step),
	 * so the caller gets a C string without an allocation.
	 */
	if (k.mv_size >= sizeof(it->key)) {
		*error_r = "index: mailbox name too long";
		return -1;
	}
	memcpy(it->key + it->klen, (const char *)k.mv_data + it->klen,
	    k.mv_size - it->klen);
	it->key[k.mv_size] = '\0';
	*name_r = (const char *)it->key + it->klen;
	return 1;
}

int
idx_iter_messages(struct idx_read *rd, uint32_t mbox, uint32_t uid_lo,
    uint32_t uid_hi, struct idx_iter **it_r, const char **error_r)
{
	struct idx_iter	*it;

	if (idx_iter_new(rd, IDX_IT_MESSAGES, rd->idx->msg, &it,
	    error_r) == -1)
		return -1;
	it->mbox = mbox;
	it->hi = uid_hi;
	idx_key_msg(it->key, mbox, uid_lo);
	it->klen = IDX_K_MSG;
	if (uid_lo > uid_hi)
		it->done = true;
	*it_r = it;
	return 0;
}

int
idx_iter_changes(struct idx_read *rd, uint32_t mbox, uint64_t since,
    struct idx_iter **it_r, const char **error_r)
{
	struct idx_iter	*it;

	if (idx_iter_new(rd, IDX_IT_CHANGES, rd->idx->modseq, &it,
	    error_r) == -1)
		return -1;
	it->mbox = mbox;
	if (since == UINT64_MAX)
		it->done = true;
	idx_key_seq(it->key, mbox, since + 1);
	it->klen = IDX_K_SEQ;
	*it_r = it;
	return 0;
}

int
idx_iter_next_message(struct idx_iter *it, struct idx_msg *msg_r,
    const char **error_r)
{
	MDB_val		 k, v, mk, mv;
	unsigned char	 kb[IDX_K_MSG];
	uint32_t	 uid;
	int		 r, rc;

	if (it->kind != IDX_IT_MESSAGES && it->kind != IDX_IT_CHANGES) {
		*error_r = "index: wrong iterator kind";
		return -1;
	}
	if ((r = idx_iter_step(it, &k, &v, error_r)) != 1)
		return r;
	if (k.mv_size != it->klen || idx_get_be32(k.mv_data) != it->mbox) {
		it->done = true;
		return 0;
	}
	if (it->kind == IDX_IT_MESSAGES) {
		uid = idx_get_be32((const unsigned char *)k.mv_data + 4);
		if (uid > it->hi) {
			it->done = true;
			return 0;
		}
	} else {
		/* modseq -> uid, then the message record itself. */
		if (v.mv_size != 4)
			goto bad;
		uid = idx_get_le32(v.mv_data);
		idx_key_msg(kb, it->mbox, uid);
		mk.mv_data = kb;
		mk.mv_size = sizeof(kb);
		if ((rc = mdb_get(it->rd->txn, it->rd->idx->msg, &mk,
		    &mv)) != 0) {
			*error_r = rc == MDB_NOTFOUND ?
			    "index: modseq entry without message" :
			    idx_util_err("message", rc);
			return -1;
		}
		v = mv;
	}
	if (idx_util_msg_decode(&v, uid, msg_r) == -1)
		goto bad;
	return 1;
bad:
	*error_r = idx_util_errf("index: message record in mailbox %u: bad",
	    it->mbox);
	return -1;
}

int
idx_iter_vanished(struct idx_read *rd, uint32_t mbox, uint64_t since,
    struct idx_iter **it_r, const char **error_r)
{
	struct idx_iter	*it;

	if (idx_iter_new(rd, IDX_IT_VANISHED, rd->idx->tomb, &it,
	    error_r) == -1)
		return -1;
	it->mbox = mbox;
	if (since == UINT64_MAX)
		it->done = true;
	idx_key_seq(it->key, mbox, since + 1);
	it->klen = IDX_K_SEQ;
	*it_r = it;
	return 0;
}

int
idx_iter_next_vanished(struct idx_iter *it, uint32_t *uid_r,
    uint64_t *modseq_r, const char **error_r)
{
	MDB_val	 k, v;
	int	 r;

	if (it->kind != IDX_IT_VANISHED) {
		*error_r = "index: wrong iterator kind";
		return -1;
	}
	if ((r = idx_iter_step(it, &k, &v, error_r)) != 1)
		return r;
	if (k.mv_size != IDX_K_SEQ || idx_get_be32(k.mv_data) != it->mbox) {
		it->done = true;
		return 0;
	}
	if (v.mv_size != 4) {
		*error_r = "index: tombstone: bad size";
		return -1;
	}
	*uid_r = idx_get_le32(v.mv_data);
	*modseq_r = idx_get_be64((const unsigned char *)k.mv_data + 4);
	return 1;
}
