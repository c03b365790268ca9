/*
 * idx.c - open and close the index environment, check and migrate its
 * schema, report statistics.
 *
 * Owns struct idx and the "idx.meta" database: the schema version and
 * the counters that must never go backwards (next mailbox id, last
 * UIDVALIDITY handed out).
 *
 * Durability: we use LMDB's normal synchronous commit rather than
 * MDB_NOSYNC + one mdb_env_sync().  A batch is already one txn, so a
 * commit costs the same single group sync either way, and the normal
 * commit keeps LMDB's ordering (data pages, then meta page) that protects
 * the file on filesystems that reorder writes.  idx_opts.nosync exists
 * for reindex and tests, with idx_sync_blocking() to flush at the end.
 *
 * Threads: open/close/sync [worker]; idx_stat [any].
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "idx_private.h"
#include "log.h"
#include "xmalloc.h"

#define IDX_META_SCHEMA		"schema"

/*
 * Reader slots: one per live snapshot plus the reset ones kept for reuse.
 * LMDB's default of 126 is tight for a loop with many IMAP commands in
 * flight; a slot costs 64 bytes of lock file.
 */
#define IDX_MAXREADERS		512

/*
 * Each step upgrades the schema from `from` to from + 1 inside the open
 * txn, so a crash mid-migration leaves the old version intact.
 * Version 0 is the pre-release layout that had no counters in idx.meta:
 * its step rebuilds them from the mailbox records.
 */
struct idx_migration {
	uint32_t	 from;
	const char	*what;
	int		(*run)(struct idx *, MDB_txn *, const char **);
};

static int	idx_migrate_0(struct idx *, MDB_txn *, const char **);

static const struct idx_migration idx_migrations[] = {
	{ 0, "rebuild-counters", idx_migrate_0 },
};

static int
idx_meta_get32(struct idx *idx, MDB_txn *txn, const char *key,
    uint32_t *v_r)
{
	MDB_val	 k = { strlen(key), (void *)(uintptr_t)key }, v;
	int	 rc;

	rc = mdb_get(txn, idx->meta, &k, &v);
	if (rc != 0)
		return rc;
	if (v.mv_size < 4)
		return MDB_CORRUPTED;
	*v_r = idx_get_le32(v.mv_data);
	return 0;
}

static int
idx_meta_put32(struct idx *idx, MDB_txn *txn, const char *key, uint32_t val)
{
	unsigned char	 b[4];
	MDB_val		 k = { strlen(key), (void *)(uintptr_t)key };
	MDB_val		 v = { sizeof(b), b };

	idx_put_le32(b, val);
	return mdb_put(txn, idx->meta, &k, &v, 0);
}

static int
idx_migrate_0(struct idx *idx, MDB_txn *txn, const char **error_r)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint32_t	 next = 1, uv = 1, id;
	int		 rc;

	if ((rc = mdb_cursor_open(txn, idx->mbox, &c)) != 0)
		goto fail;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 4 || v.mv_size < 4)
			continue;
		id = idx_get_be32(k.mv_data);
		if (id >= next)
			next = id + 1;
		if (idx_get_le32(v.mv_data) >= uv)
			uv = idx_get_le32(v.mv_data) + 1;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		goto fail;
	if ((rc = idx_meta_put32(idx, txn, IDX_META_MBOX_NEXT, next)) != 0 ||
	    (rc = idx_meta_put32(idx, txn, IDX_META_UIDVALIDITY, uv)) != 0)
		goto fail;
	log_info("idx migrate-step path=%s from=0 to=1 mbox_next=%u "
	    "uidvalidity_next=%u", idx->path, next, uv);
	return 0;
fail:
	if (rc == MDB_MAP_FULL)
		return rc;
	*error_r = idx_util_err("migrate 0", rc);
	return -1;
}

static int
idx_open_txn(MDB_txn *txn, void *arg, const char **error_r)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} dbs[] = {
		{ "idx.users", offsetof(struct idx, users) },
		{ "idx.mbox_name", offsetof(struct idx, mbox_name) },
		{ "idx.mbox", offsetof(struct idx, mbox) },
		{ "idx.msg", offsetof(struct idx, msg) },
		{ "idx.msg_name", offsetof(struct idx, msg_name) },
		{ "idx.cache", offsetof(struct idx, cache) },
		{ "idx.modseq", offsetof(struct idx, modseq) },
		{ "idx.tomb", offsetof(struct idx, tomb) },
		{ "idx.kw", offsetof(struct idx, kw) },
	};
	struct idx	*idx = arg;
	MDB_stat	 st;
	uint32_t	 ver = 0;
	size_t		 i, m;
	int		 rc, have, fresh = 0;

	if ((rc = mdb_dbi_open(txn, "idx.meta", MDB_CREATE, &idx->meta)) != 0)
		goto fail;
	rc = idx_meta_get32(idx, txn, IDX_META_SCHEMA, &ver);
	if (rc == 0 && ver > IDX_SCHEMA_VERSION) {
		/* Refuse before we create or touch anything. */
		*error_r = idx_util_errf("%s: index schema version %u is newer "
		    "than this postern supports (%u); upgrade postern",
		    idx->path, ver, IDX_SCHEMA_VERSION);
		return -1;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	have = rc == 0;
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE,
		    (MDB_dbi *)(void *)((char *)idx + dbs[i].off));
		if (rc != 0)
			goto fail;
	}
	if (!have) {
		/* No version record: new, unless mailboxes exist already. */
		if ((rc = mdb_stat(txn, idx->mbox, &st)) != 0)
			goto fail;
		if (st.ms_entries == 0) {
			fresh = 1;
			ver = IDX_SCHEMA_VERSION;
		} else
			ver = 0;
	}
	if (fresh) {
		if ((rc = idx_meta_put32(idx, txn, IDX_META_MBOX_NEXT,
		    1)) != 0 ||
		    (rc = idx_meta_put32(idx, txn, IDX_META_UIDVALIDITY,
		    1)) != 0)
			goto fail;
		log_info("idx created path=%s schema=%u", idx->path, ver);
	}
	while (ver < IDX_SCHEMA_VERSION) {
		for (m = 0; m < sizeof(idx_migrations) /
		    sizeof(idx_migrations[0]); m++)
			if (idx_migrations[m].from == ver)
				break;
		if (m == sizeof(idx_migrations) / sizeof(idx_migrations[0])) {
			*error_r = idx_util_errf("%s: index schema version %u "
			    "has no migration path; run postern reindex",
			    idx->path, ver);
			return -1;
		}
		log_info("idx migrate path=%s from=%u to=%u step=%s",
		    idx->path, ver, ver + 1, idx_migrations[m].what);
		if ((rc = idx_migrations[m].run(idx, txn, error_r)) != 0)
			return rc;
		ver++;
	}
	if ((rc = idx_meta_put32(idx, txn, IDX_META_SCHEMA, ver)) != 0)
		goto fail;
	return 0;
fail:
	if (rc == MDB_MAP_FULL)
		return rc;
	*error_r = idx_util_err("open", rc);
	return -1;
}

int
idx_open_blocking(const char *path, struct idx **idx_r, const char **error_r)
{
	return idx_open_opts_blocking(path, NULL, idx_r, error_r);
}

int
idx_open_opts_blocking(const char *path, const struct idx_opts *opts,
    struct idx **idx_r, const char **error_r)
{
	struct idx	*idx;
	MDB_envinfo	 info;
	size_t		 map_size, map_max;
	unsigned int	 flags;
	int		 rc, stale = 0;

	/* The map is address space, not memory: be generous on 64-bit. */
	map_size = sizeof(void *) >= 8 ? (size_t)1 << 30 : (size_t)64 << 20;
	map_max = sizeof(void *) >= 8 ? (size_t)64 << 30 : (size_t)1 << 30;
	if (opts != NULL && opts->map_size != 0)
		map_size = opts->map_size;
	if (opts != NULL && opts->map_max != 0)
		map_max = opts->map_max;
	if (map_max < map_size)
		map_max = map_size;

	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		*error_r = idx_util_errf("index: mkdir %s: %s", path,
		    strerror(errno));
		return -1;
	}
	idx = xcalloc(1, sizeof(*idx));
	idx->path = xstrdup(path);
	idx->map_max = map_max;
	pthread_mutex_init(&idx->wlock, NULL);
	pthread_mutex_init(&idx->rlock, NULL);
	pthread_rwlock_init(&idx->maplock, NULL);

	if ((rc = mdb_env_create(&idx->env)) != 0) {
		idx->env = NULL;
		*error_r = idx_util_err("env create", rc);
		goto fail;
	}
	/*
	 * MDB_NOTLS: a read txn belongs to its struct idx_read, not to a
	 * thread, so the loop can reuse reset txns and snapshots may end on
	 * another thread than the one that began them.
	 */
	flags = MDB_NOTLS;
	if (opts != NULL && opts->nosync)
		flags |= MDB_NOSYNC;
	if ((rc = mdb_env_set_maxdbs(idx->env, IDX_MAXDBS)) != 0 ||
	    (rc = mdb_env_set_maxreaders(idx->env, IDX_MAXREADERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(idx->env, map_size)) != 0) {
		*error_r = idx_util_err("env setup", rc);
		goto fail;
	}
	if ((rc = mdb_env_open(idx->env, path, flags, 0600)) != 0) {
		*error_r = idx_util_errf("index: open %s: %s", path,
		    mdb_strerror(rc));
		goto fail;
	}
	/* Free reader slots left behind by a crashed process. */
	if ((rc = mdb_reader_check(idx->env, &stale)) == 0 && stale > 0)
		log_warn("idx stale-readers path=%s cleared=%d", path, stale);
	/* An existing file may be bigger than what we asked for. */
	if ((rc = mdb_env_info(idx->env, &info)) != 0) {
		*error_r = idx_util_err("env info", rc);
		goto fail;
	}
	idx->map_size = info.me_mapsize;
	if (idx->map_max < idx->map_size)
		idx->map_max = idx->map_size;
	if (idx_env_write_blocking(idx, idx_open_txn, idx, error_r) == -1)
		goto fail;
	*idx_r = idx;
	return 0;
fail:
	idx_close(&idx);
	return -1;
}

void
idx_close(struct idx **idxp)
{
	struct idx	*idx = *idxp;
	struct idx_read	*rd;

	if (idx == NULL)
		return;
	while ((rd = idx->rfree) != NULL) {
		idx->rfree = rd->next;
		mdb_txn_abort(rd->txn);
		free(rd);
	}
	if (idx->env != NULL)
		mdb_env_close(idx->env);
	pthread_rwlock_destroy(&idx->maplock);
	pthread_mutex_destroy(&idx->rlock);
	pthread_mutex_destroy(&idx->wlock);
	free(idx->path);
	free(idx);
	*idxp = NULL;
}

int
idx_sync_blocking(struct idx *idx, const char **error_r)
{
	int	 rc;

	if ((rc = mdb_env_sync(idx->env, 1)) != 0) {
		*error_r = idx_util_err("sync", rc);
		return -1;
	}
	return 0;
}

int
idx_stat(struct idx *idx, struct idx_stat *st, const char **error_r)
{
	struct {
		MDB_dbi		 dbi;
		uint64_t	*count;
	} dbs[] = {
		{ idx->users, &st->users },
		{ idx->mbox, &st->mailboxes },
		{ idx->msg, &st->messages },
		{ idx->msg_name, &st->basenames },
		{ idx->cache, &st->cached },
		{ idx->modseq, &st->modseqs },
		{ idx->tomb, &st->tombstones },
		{ idx->kw, &st->keywords },
	};
	struct idx_read	*rd;
	MDB_envinfo	 info;
	MDB_stat	 ms;
	size_t		 i;
	int		 rc;

	memset(st, 0, sizeof(*st));
	if (idx_read_begin(idx, &rd, error_r) == -1)
		return -1;
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		if ((rc = mdb_stat(rd->txn, dbs[i].dbi, &ms)) != 0)
			goto fail;
		*dbs[i].count = ms.ms_entries;
	}
	if ((rc = idx_meta_get32(idx, rd->txn, IDX_META_SCHEMA,
	    &st->schema)) != 0)
		goto fail;
	if ((rc = mdb_env_info(idx->env, &info)) != 0 ||
	    (rc = mdb_env_stat(idx->env, &ms)) != 0)
		goto fail;
	st->map_size = info.me_mapsize;
	st->map_used = (info.me_last_pgno + 1) * (size_t)ms.ms_psize;
	idx_read_end(&rd);
	return 0;
fail:
	idx_read_end(&rd);
	*error_r = idx_util_err("stat", rc);
	return -1;
}

/* Used by idx_batch.c; lives here because idx.meta is ours. */
int
idx_meta_counter_next(struct idx *idx, MDB_txn *txn, const char *which,
    uint32_t floor, uint32_t *v_r)
{
	uint32_t	 v = 0;
	int		 rc;

	rc = idx_meta_get32(idx, txn, which, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (v < floor)
		v = floor;
	if (v == UINT32_MAX)
		return MDB_BAD_VALSIZE;	/* 2^32 mailboxes: refuse, never wrap */
	if ((rc = idx_meta_put32(idx, txn, which, v + 1)) != 0)
		return rc;
	*v_r = v;
	return 0;
}
