/*
 * spam_greylist.c - greylisting (spam.greylist): a message that scores
 * at spam.actions.greylist is deferred (451 4.7.1, by the SMTP session)
 * unless each of its triplets (client network, envelope sender,
 * recipient) was first seen at least spam.greylist.delay seconds ago.
 *
 * Records live in the LMDB named database "greylist" of the store's
 * index: key spam_greylist_key(), value two int64_t in host order:
 * first seen, and when it last passed (0: not yet).  A passed triplet is kept SPAM_GREYLIST_PASSED after its
 * last use; one never retried is forgotten after SPAM_GREYLIST_RETRY.
 * At most once an hour a write transaction also prunes what expired.
 *
 * Owns the cached dbi handle and the prune time (mutex).
 * Threads: spam_greylist_blocking [worker]; the key [any].
 */
#include <arpa/inet.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "buf.h"
#include "idx.h"
#include "spam.h"
#include "xmalloc.h"

#define SPAM_GREY_PRUNE_EVERY	3600
#define SPAM_GREY_PRUNE_MAX	10000	/* deletions per transaction */

struct spam_grey_rec {
	int64_t		 first;
	int64_t		 passed;	/* last passing use; 0: not yet */
};

struct spam_grey_job {
	MDB_dbi		 dbi;
	char		**keys;
	size_t		*lens;
	size_t		 n;
	int64_t		 now;
	int		 delay;
	bool		 prune;
	int		 defer;		/* output */
};

static pthread_mutex_t	 spam_grey_lock = PTHREAD_MUTEX_INITIALIZER;
static struct idx	*spam_grey_idx;
static MDB_dbi		 spam_grey_dbi;
static int64_t		 spam_grey_pruned;

static void
spam_grey_lower(struct buf *b, const char *s)
{
	char	 c;

	for (; *s != '\0'; s++) {
		c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		buf_append(b, &c, 1);
	}
}

char *
spam_greylist_key(const char *ip, const char *sender, const char *rcpt,
    size_t *len_r)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	struct buf	 b = BUF_INIT;
	char		 net[INET6_ADDRSTRLEN + 4];
	uint8_t		*p;

	if (ip == NULL)
		return NULL;
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		p = (uint8_t *)&a4;
		snprintf(net, sizeof(net), "%u.%u.%u.0/24", p[0], p[1], p[2]);
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			p = a6.s6_addr + 12;
			snprintf(net, sizeof(net), "%u.%u.%u.0/24", p[0], p[1],
			    p[2]);
		} else {
			memset(a6.s6_addr + 8, 0, 8);
			if (inet_ntop(AF_INET6, &a6, net, sizeof(net) - 4) ==
			    NULL)
				return NULL;
			strcat(net, "/64");
		}
	} else
		return NULL;
	buf_puts(&b, net);
	buf_append(&b, "", 1);
	spam_grey_lower(&b, sender != NULL ? sender : "");
	buf_append(&b, "", 1);
	spam_grey_lower(&b, rcpt != NULL ? rcpt : "");
	return buf_steal(&b, len_r);
}

static bool
spam_grey_expired(const struct spam_grey_rec *r, int64_t now)
{
	if (r->passed != 0)
		return now - r->passed > SPAM_GREYLIST_PASSED;
	return now - r->first > SPAM_GREYLIST_RETRY;
}

static int
spam_grey_prune(MDB_txn *txn, MDB_dbi dbi, int64_t now)
{
	MDB_cursor		*cur;
	MDB_val			 k, v;
	struct spam_grey_rec	 r;
	size_t			 n = 0;
	int			 rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size == sizeof(r))
			memcpy(&r, v.mv_data, sizeof(r));
		if (v.mv_size == sizeof(r) && !spam_grey_expired(&r, now))
			continue;
		if ((rc = mdb_cursor_del(cur, 0)) != 0 ||
		    ++n >= SPAM_GREY_PRUNE_MAX)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
spam_grey_txn(MDB_txn *txn, void *arg, const char **error_r)
{
	struct spam_grey_job	*j = arg;
	struct spam_grey_rec	 r;
	MDB_val			 k, v;
	size_t			 i;
	bool			 put;
	int			 rc;

	j->defer = 0;
	if (j->prune && (rc = spam_grey_prune(txn, j->dbi, j->now)) != 0) {
		*error_r = "greylist: prune failed";
		return rc == MDB_MAP_FULL ? rc : -1;
	}
	for (i = 0; i < j->n; i++) {
		k.mv_data = j->keys[i];
		k.mv_size = j->lens[i];
		rc = mdb_get(txn, j->dbi, &k, &v);
		if (rc == 0 && v.mv_size == sizeof(r))
			memcpy(&r, v.mv_data, sizeof(r));
		if (rc != 0 || v.mv_size != sizeof(r) ||
		    spam_grey_expired(&r, j->now) || r.first > j->now) {
			/* New (or forgotten): seen now, try again later. */
			r.first = j->now;
			r.passed = 0;
			j->defer = 1;
			put = true;
		} else if (r.passed != 0) {
			r.passed = j->now;
			put = true;
		} else if (j->now - r.first < j->delay) {
			j->defer = 1;
			put = false;
		} else {
			r.passed = j->now;
			put = true;
		}
		if (!put)
			continue;
		v.mv_data = &r;
		v.mv_size = sizeof(r);
		if ((rc = mdb_put(txn, j->dbi, &k, &v, 0)) != 0) {
			*error_r = "greylist: record write failed";
			return rc == MDB_MAP_FULL ? rc : -1;
		}
	}
	return 0;
}

int
spam_greylist_blocking(struct idx *idx, const char *ip, const char *sender,
    const char *const *rcpts, size_t n, int64_t now, int delay,
    const char **error_r)
{
	struct spam_grey_job	 j;
	size_t			 i;
	int			 rc = 0;

	memset(&j, 0, sizeof(j));
	pthread_mutex_lock(&spam_grey_lock);
	if (spam_grey_idx != idx) {
		if ((rc = idx_env_dbi_open_blocking(idx, SPAM_GREYLIST_DB,
		    MDB_CREATE, &spam_grey_dbi, error_r)) == 0) {
			spam_grey_idx = idx;
			spam_grey_pruned = 0;
		}
	}
	j.dbi = spam_grey_dbi;
	if (rc == 0 && now - spam_grey_pruned >= SPAM_GREY_PRUNE_EVERY) {
		j.prune = true;
		spam_grey_pruned = now;
	}
	pthread_mutex_unlock(&spam_grey_lock);
	if (rc != 0)
		return -1;
	j.keys = xcalloc(n + 1, sizeof(*j.keys));
	j.lens = xcalloc(n + 1, sizeof(*j.lens));
	for (i = 0; i < n; i++) {
		if ((j.keys[j.n] = spam_greylist_key(ip, sender, rcpts[i],
		    &j.lens[j.n])) == NULL) {
			*error_r = "greylist: bad client address";
			rc = -1;
			goto out;
		}
		j.n++;
	}
	j.now = now;
	j.delay = delay;
	if (j.n > 0 && (rc = idx_env_write_blocking(idx, spam_grey_txn, &j,
	    error_r)) == 0)
		rc = j.defer;
 out:
	for (i = 0; i < j.n; i++)
		free(j.keys[i]);
	free(j.keys);
	free(j.lens);
	return rc < 0 ? -1 : rc;
}
