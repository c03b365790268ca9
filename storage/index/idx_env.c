/*
 * idx_env.c - the LMDB environment as other modules see it, and the one
 * write-transaction runner every index write goes through.
 *
 * The runner owns map growth: LMDB reports MDB_MAP_FULL when the map is
 * too small, and the only cure is mdb_env_set_mapsize(), which unmaps
 * the old map.  So we abort the txn, wait for every read snapshot of this
 * process to end (maplock exclusive), resize, and run the txn again.
 * Resizes double the map, so they are rare and a short stall is fine.
 *
 * Threads: idx_env_raw [any]; the rest [worker], one writer at a time
 * (wlock).  A thread must not hold a read snapshot while it writes.
 */
#include <stdlib.h>
#include <string.h>

#include "idx_private.h"
#include "log.h"

MDB_env *
idx_env_raw(struct idx *idx)
{
	return idx->env;
}

/* Called with wlock held and no write txn: grow the map. */
static int
idx_env_grow(struct idx *idx, const char **error_r)
{
	MDB_envinfo	 info;
	size_t		 old = idx->map_size, want;
	int		 rc;

	if (old >= idx->map_max) {
		*error_r = idx_util_errf("index: map is full at %zu bytes "
		    "(the configured maximum)", old);
		return -1;
	}
	want = old > idx->map_max / 2 ? idx->map_max : old * 2;
	pthread_rwlock_wrlock(&idx->maplock);
	rc = mdb_env_set_mapsize(idx->env, want);
	if (rc == 0 && mdb_env_info(idx->env, &info) == 0)
		idx->map_size = info.me_mapsize;
	pthread_rwlock_unlock(&idx->maplock);
	if (rc != 0) {
		*error_r = idx_util_err("map resize", rc);
		return -1;
	}
	log_info("idx map-grown path=%s from=%zu to=%zu", idx->path, old,
	    idx->map_size);
	return 0;
}

/*
 * Another process (postern check, reindex) grew the map: adopt its size.
 * Called with wlock held or by a reader that holds no snapshot.
 */
int
idx_env_adopt_mapsize(struct idx *idx, const char **error_r)
{
	MDB_envinfo	 info;
	int		 rc;

	pthread_rwlock_wrlock(&idx->maplock);
	rc = mdb_env_set_mapsize(idx->env, 0);
	if (rc == 0 && mdb_env_info(idx->env, &info) == 0)
		idx->map_size = info.me_mapsize;
	pthread_rwlock_unlock(&idx->maplock);
	if (rc != 0) {
		*error_r = idx_util_err("map adopt", rc);
		return -1;
	}
	return 0;
}

int
idx_env_write_blocking(struct idx *idx,
    int (*fn)(MDB_txn *, void *, const char **), void *arg,
    const char **error_r)
{
	MDB_txn		*txn;
	const char	*error = NULL;
	int		 rc, r = -1;

	pthread_mutex_lock(&idx->wlock);
	for (;;) {
		rc = mdb_txn_begin(idx->env, NULL, 0, &txn);
		if (rc == MDB_MAP_RESIZED) {
			if (idx_env_adopt_mapsize(idx, &error) == -1)
				break;
			continue;
		}
		if (rc != 0) {
			error = idx_util_err("write txn begin", rc);
			break;
		}
		rc = fn(txn, arg, &error);
		if (rc == MDB_MAP_FULL) {
			mdb_txn_abort(txn);
			if (idx_env_grow(idx, &error) == -1)
				break;
			continue;
		}
		if (rc != 0) {
			mdb_txn_abort(txn);
			if (error == NULL)
				error = "index: write aborted";
			break;
		}
		/* The commit itself may allocate pages (free list). */
		rc = mdb_txn_commit(txn);
		if (rc == MDB_MAP_FULL) {
			if (idx_env_grow(idx, &error) == -1)
				break;
			continue;
		}
		if (rc != 0) {
			error = idx_util_err("commit", rc);
			break;
		}
		r = 0;
		break;
	}
	pthread_mutex_unlock(&idx->wlock);
	if (r == -1)
		*error_r = error;
	return r;
}

struct idx_env_dbi {
	const char	*name;
	unsigned int	 flags;
	MDB_dbi		 dbi;
};

static int
idx_env_dbi_txn(MDB_txn *txn, void *arg, const char **error_r)
{
	struct idx_env_dbi	*d = arg;
	int			 rc;

	rc = mdb_dbi_open(txn, d->name, d->flags, &d->dbi);
	if (rc == MDB_MAP_FULL)
		return rc;
	if (rc != 0) {
		*error_r = idx_util_err(d->name, rc);
		return -1;
	}
	return 0;
}

int
idx_env_dbi_open_blocking(struct idx *idx, const char *name,
    unsigned int flags, MDB_dbi *dbi_r, const char **error_r)
{
	struct idx_env_dbi	 d = { name, flags, 0 };

	if (name == NULL || strncmp(name, IDX_DB_PREFIX,
	    strlen(IDX_DB_PREFIX)) == 0) {
		*error_r = idx_util_errf("index: database name \"%s\" is "
		    "reserved", name == NULL ? "(null)" : name);
		return -1;
	}
	/*
	 * A dbi handle opened in a write txn becomes visible to every txn
	 * once that txn commits, so open it in its own small commit.
	 */
	if (idx_env_write_blocking(idx, idx_env_dbi_txn, &d, error_r) == -1)
		return -1;
	*dbi_r = d.dbi;
	return 0;
}
