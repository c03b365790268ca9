/*
 * idx_util.c - helpers shared by the index files: error text and the
 * decoding of mailbox and message records.
 *
 * Owns one thread-local error buffer, so an error string returned by
 * any idx call stays valid until the next failing idx call on the same
 * thread, and threads never see each other's messages.  [any]
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "idx_private.h"

static __thread char	 idx_errbuf[512];

const char *
idx_util_err(const char *what, int rc)
{
	snprintf(idx_errbuf, sizeof(idx_errbuf), "index: %s: %s", what,
	    mdb_strerror(rc));
	return idx_errbuf;
}

const char *
idx_util_errf(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(idx_errbuf, sizeof(idx_errbuf), fmt, ap);
	va_end(ap);
	return idx_errbuf;
}

/*
 * Mailbox record, little-endian:
 *   0 uidvalidity u32      4 uidnext u32        8 highestmodseq u64
 *  16 messages u32        20 unseen u32        24 deleted u32
 *  28 attrs u32 (bit 0 subscribed)             32 size_total u64
 *  40 mtime_new sec i64   48 nsec i64          56 mtime_cur sec i64
 *  64 nsec i64            72 special_use u32   76 reserved u32
 *  80 tomb_horizon u64    88 user_len u16      90 name_len u16
 *  92 user bytes, name bytes (no NULs)
 * The user is kept so usage can follow message changes by id alone.
 */
int
idx_util_mbox_decode(const MDB_val *v, uint32_t id, struct idx_mbox *m,
    const char **user_r, size_t *user_len_r)
{
	const unsigned char	*p = v->mv_data;
	size_t			 ulen, nlen;

	if (v->mv_size < IDX_MBOX_FIXED)
		return -1;
	ulen = idx_get_le16(p + 88);
	nlen = idx_get_le16(p + 90);
	if (v->mv_size < IDX_MBOX_FIXED + ulen + nlen)
		return -1;
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->uidvalidity = idx_get_le32(p);
	m->uidnext = idx_get_le32(p + 4);
	m->highestmodseq = idx_get_le64(p + 8);
	m->messages = idx_get_le32(p + 16);
	m->unseen = idx_get_le32(p + 20);
	m->deleted = idx_get_le32(p + 24);
	m->subscribed = (idx_get_le32(p + 28) & 1) != 0;
	m->size_total = idx_get_le64(p + 32);
	m->mtime_new.tv_sec = (time_t)idx_get_le64(p + 40);
	m->mtime_new.tv_nsec = (long)idx_get_le64(p + 48);
	m->mtime_cur.tv_sec = (time_t)idx_get_le64(p + 56);
	m->mtime_cur.tv_nsec = (long)idx_get_le64(p + 64);
	m->special_use = idx_get_le32(p + 72);
	m->tomb_horizon = idx_get_le64(p + 80);
	if (user_r != NULL)
		*user_r = (const char *)p + IDX_MBOX_FIXED;
	if (user_len_r != NULL)
		*user_len_r = ulen;
	return 0;
}

/*
 * Message record, little-endian:
 *   0 flags u32   4 reserved u32   8 keywords u64   16 modseq u64
 *  24 internaldate i64   32 size u64   40 vsize u64   48 name_len u16
 *  50 basename bytes, then a NUL so readers get a C string from the map.
 */
int
idx_util_msg_decode(const MDB_val *v, uint32_t uid, struct idx_msg *m)
{
	const unsigned char	*p = v->mv_data;
	size_t			 nlen;

	if (v->mv_size < IDX_MSG_FIXED + 1)
		return -1;
	nlen = idx_get_le16(p + 48);
	if (v->mv_size < IDX_MSG_FIXED + nlen + 1 ||
	    p[IDX_MSG_FIXED + nlen] != '\0')
		return -1;
	m->uid = uid;
	m->flags = idx_get_le32(p);
	m->keywords = idx_get_le64(p + 8);
	m->modseq = idx_get_le64(p + 16);
	m->internaldate = (int64_t)idx_get_le64(p + 24);
	m->size = idx_get_le64(p + 32);
	m->vsize = idx_get_le64(p + 40);
	m->basename = (const char *)p + IDX_MSG_FIXED;
	m->basename_len = nlen;
	return 0;
}

size_t
idx_util_mbox_key(unsigned char *k, size_t ksize, const char *user,
    const char *name)
{
	size_t	 ulen = strlen(user), nlen = strlen(name);

	if (ulen == 0 || ulen > IDX_NAME_MAX || nlen > IDX_NAME_MAX ||
	    ulen + 1 + nlen > ksize)
		return 0;
	memcpy(k, user, ulen);
	k[ulen] = '\0';
	memcpy(k + ulen + 1, name, nlen);
	return ulen + 1 + nlen;
}
