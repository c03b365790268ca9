/*
 * test_idx.c - unit tests of the LMDB index (storage/index/).
 * Each test gets its own temporary state directory, removed afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "idx.h"

struct t {
	char		 dir[64];
	char		 path[96];
	struct idx	*idx;
};

static int
setup(void **state)
{
	struct t	*t = calloc(1, sizeof(*t));
	const char	*error = NULL;

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_idx.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/index.lmdb", t->dir);
	if (idx_open_blocking(t->path, &t->idx, &error) == -1)
		fail_msg("open: %s", error);
	*state = t;
	return 0;
}

static void
rm_dir(const char *path)
{
	char		 p[512];
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (unlink(p) == -1)
			rm_dir(p);
	}
	closedir(d);
	rmdir(path);
}

static int
teardown(void **state)
{
	struct t	*t = *state;

	idx_close(&t->idx);
	rm_dir(t->dir);
	free(t);
	return 0;
}

static void
reopen(struct t *t, const struct idx_opts *opts)
{
	const char	*error = NULL;

	idx_close(&t->idx);
	assert_null(t->idx);
	if (idx_open_opts_blocking(t->path, opts, &t->idx, &error) == -1)
		fail_msg("reopen: %s", error);
}

static void
commit(struct t *t, struct idx_batch *b)
{
	const char	*error = NULL;

	if (idx_batch_commit_blocking(t->idx, b, &error) == -1)
		fail_msg("commit: %s", error);
}

static uint32_t
mbox_create(struct t *t, const char *user, const char *name)
{
	struct idx_batch	*b = idx_batch_new();
	const struct idx_result	*r;
	size_t			 op;
	uint32_t		 id;

	op = idx_batch_mailbox_create(b, user, name, 0, 0);
	commit(t, b);
	r = idx_batch_result(b, op);
	assert_int_equal(r->status, IDX_OK);
	id = r->mbox;
	assert_true(id != 0);
	idx_batch_free(&b);
	return id;
}

static size_t
add_msg(struct idx_batch *b, uint32_t mbox, const char *base, uint64_t size,
    uint32_t flags)
{
	struct idx_msg_new	 m;

	memset(&m, 0, sizeof(m));
	m.basename = base;
	m.flags = flags;
	m.size = size;
	m.vsize = size;
	m.internaldate = 1700000000;
	return idx_batch_msg_add(b, mbox, &m);
}

/* Add n messages named <prefix>.<i> in one batch; returns first UID. */
static uint32_t
add_n(struct t *t, uint32_t mbox, const char *prefix, int n, uint64_t size)
{
	struct idx_batch	*b = idx_batch_new();
	char			 name[64];
	uint32_t		 first = 0;
	int			 i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s.%d", prefix, i);
		add_msg(b, mbox, name, size, 0);
	}
	commit(t, b);
	for (i = 0; i < n; i++) {
		assert_int_equal(idx_batch_result(b, i)->status, IDX_OK);
		if (i == 0)
			first = idx_batch_result(b, i)->uid;
	}
	idx_batch_free(&b);
	return first;
}

static void
get_mbox(struct t *t, uint32_t id, struct idx_mbox *m)
{
	struct idx_read	*rd;
	const char	*error = NULL;

	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_mailbox_by_id(rd, id, m, &error), 1);
	idx_read_end(&rd);
	assert_null(rd);
}

static struct idx_result
flags1(struct t *t, uint32_t mbox, uint32_t uid, enum idx_flag_mode mode,
    uint32_t flags, const char *kw, uint64_t unchangedsince)
{
	struct idx_batch	*b = idx_batch_new();
	const char		*kws[1] = { kw };
	struct idx_result	 r;

	idx_batch_msg_flags(b, mbox, uid, mode, flags, kws, kw ? 1 : 0,
	    unchangedsince);
	commit(t, b);
	r = *idx_batch_result(b, 0);
	idx_batch_free(&b);
	return r;
}

static void
expunge1(struct t *t, uint32_t mbox, uint32_t uid)
{
	struct idx_batch	*b = idx_batch_new();

	idx_batch_msg_expunge(b, mbox, uid);
	commit(t, b);
	assert_int_equal(idx_batch_result(b, 0)->status, IDX_OK);
	idx_batch_free(&b);
}

/* Raw write of the schema record, as a future or past postern would. */
static void
poke_schema(struct t *t, uint32_t ver, bool drop_counters)
{
	MDB_env		*env = idx_env_raw(t->idx);
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	unsigned char	 b[4] = { ver, ver >> 8, ver >> 16, ver >> 24 };
	MDB_val		 k = { 6, (void *)(uintptr_t)"schema" }, v = { 4, b };
	MDB_val		 k2 = { 9, (void *)(uintptr_t)"mbox_next" };

	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "idx.meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	if (drop_counters)
		assert_int_equal(mdb_del(txn, dbi, &k2, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static void
test_open_reopen(void **state)
{
	struct t	*t = *state;
	struct idx_stat	 st;
	const char	*error = NULL;

	assert_int_equal(idx_stat(t->idx, &st, &error), 0);
	assert_int_equal(st.schema, IDX_SCHEMA_VERSION);
	assert_int_equal(st.mailboxes, 0);
	assert_true(st.map_size >= ((size_t)64 << 20));
	assert_int_equal(access(t->path, F_OK), 0);
	reopen(t, NULL);
	assert_int_equal(idx_stat(t->idx, &st, &error), 0);
	assert_int_equal(st.schema, IDX_SCHEMA_VERSION);
}

static void
test_schema_newer_refused(void **state)
{
	struct t	*t = *state;
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	struct idx	*idx = NULL;
	const char	*error = NULL;
	unsigned char	 b[4] = { 99, 0, 0, 0 };
	MDB_val		 k = { 6, (void *)(uintptr_t)"schema" }, v = { 4, b };

	/* Write the future version with plain LMDB, no idx open. */
	mbox_create(t, "alice@example.com", "INBOX");
	idx_close(&t->idx);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, t->path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "idx.meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(idx_open_blocking(t->path, &idx, &error), -1);
	assert_null(idx);
	assert_non_null(strstr(error, "index schema version 99 is newer than "
	    "this postern supports (1); upgrade postern"));
}

static void
test_schema_migration(void **state)
{
	struct t	*t = *state;
	struct idx_stat	 st;
	const char	*error = NULL;
	uint32_t	 a, b;

	a = mbox_create(t, "alice@example.com", "INBOX");
	mbox_create(t, "alice@example.com", "Sent");
	add_n(t, a, "m", 3, 10);
	/* A version-0 index: no counters in meta. */
	poke_schema(t, 0, true);
	reopen(t, NULL);
	assert_int_equal(idx_stat(t->idx, &st, &error), 0);
	assert_int_equal(st.schema, 1);
	assert_int_equal(st.messages, 3);
	/* The rebuilt counter must not hand out an existing id again. */
	b = mbox_create(t, "alice@example.com", "Trash");
	assert_true(b > a + 1);
}

static void
test_mailboxes(void **state)
{
	struct t		*t = *state;
	struct idx_batch	*b;
	struct idx_read		*rd;
	struct idx_iter		*it;
	struct idx_mbox		 m, m2;
	const char		*error = NULL, *name;
	const char		*want[] = { "INBOX", "Sent Items", "Work/Sub" };
	uint32_t		 inbox, sent, trash, uid;
	size_t			 op;
	int			 n;

	inbox = mbox_create(t, "alice@example.com", "INBOX");
	sent = mbox_create(t, "alice@example.com", "Sent");
	trash = mbox_create(t, "alice@example.com", "Trash");
	mbox_create(t, "alice@example.com", "Work/Sub");
	mbox_create(t, "bob@example.com", "INBOX");
	assert_true(inbox != sent && sent != trash);

	b = idx_batch_new();
	op = idx_batch_mailbox_create(b, "alice@example.com", "INBOX", 0, 0);
	idx_batch_mailbox_create(b, "", "x", 0, 0);
	commit(t, b);
	assert_int_equal(idx_batch_result(b, op)->status, IDX_EXISTS);
	assert_int_equal(idx_batch_result(b, op)->mbox, inbox);
	assert_int_equal(idx_batch_result(b, 1)->status, IDX_INVALID);
	idx_batch_free(&b);

	/* Rename keeps id, UIDVALIDITY and UIDs. */
	uid = add_n(t, sent, "s", 2, 5);
	get_mbox(t, sent, &m);
	b = idx_batch_new();
	idx_batch_mailbox_rename(b, "alice@example.com", "Sent", "Sent Items");
	idx_batch_mailbox_rename(b, "alice@example.com", "Nope", "X");
	idx_batch_mailbox_rename(b, "alice@example.com", "Trash", "INBOX");
	idx_batch_mailbox_delete(b, "alice@example.com", "Trash");
	idx_batch_mailbox_attrs(b, sent, true, IDX_SU_SENT);
	commit(t, b);
	assert_int_equal(idx_batch_result(b, 0)->status, IDX_OK);
	assert_int_equal(idx_batch_result(b, 1)->status, IDX_NOTFOUND);
	assert_int_equal(idx_batch_result(b, 2)->status, IDX_EXISTS);
	assert_int_equal(idx_batch_result(b, 3)->status, IDX_OK);
	idx_batch_free(&b);

	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_mailbox(rd, "alice@example.com", "Sent",
	    &m2, &error), 0);
	assert_int_equal(idx_read_mailbox(rd, "alice@example.com",
	    "Sent Items", &m2, &error), 1);
	assert_int_equal(m2.id, sent);
	assert_int_equal(m2.uidvalidity, m.uidvalidity);
	assert_int_equal(m2.uidnext, uid + 2);
	assert_int_equal(m2.messages, 2);
	assert_true(m2.subscribed);
	assert_int_equal(m2.special_use, IDX_SU_SENT);
	assert_int_equal(idx_read_mailbox(rd, "alice@example.com", "Trash",
	    &m2, &error), 0);
	assert_int_equal(idx_read_mailbox_by_id(rd, trash, &m2, &error), 0);

	assert_int_equal(idx_iter_mailboxes(rd, "alice@example.com", &it,
	    &error), 0);
	n = 0;
	while (idx_iter_next_mailbox(it, &name, &m2, &error) == 1) {
		assert_true(n < 3);
		assert_string_equal(name, want[n]);
		n++;
	}
	assert_int_equal(n, 3);
	idx_iter_free(&it);
	assert_null(it);
	/* A user whose name is a prefix of another's sees only its own. */
	assert_int_equal(idx_iter_mailboxes(rd, "bob@example.co", &it,
	    &error), 0);
	assert_int_equal(idx_iter_next_mailbox(it, &name, &m2, &error), 0);
	idx_iter_free(&it);
	idx_read_end(&rd);

	/* Delete, create again: new id and a different UIDVALIDITY. */
	b = idx_batch_new();
	idx_batch_mailbox_delete(b, "alice@example.com", "Sent Items");
	op = idx_batch_mailbox_create(b, "alice@example.com", "Sent Items",
	    0, 0);
	commit(t, b);
	assert_true(idx_batch_result(b, op)->mbox != sent);
	get_mbox(t, idx_batch_result(b, op)->mbox, &m2);
	assert_true(m2.uidvalidity != m.uidvalidity);
	assert_int_equal(m2.uidnext, 1);
	idx_batch_free(&b);
}

static void
test_add_many_one_batch(void **state)
{
	struct t		*t = *state;
	struct idx_batch	*b = idx_batch_new();
	const struct idx_result	*r;
	struct idx_mbox		 m;
	struct idx_read		*rd;
	struct idx_msg		 msg;
	const char		*error = NULL;
	char			 name[32];
	uint32_t		 mbox, uid;
	uint64_t		 prev = 0;
	int			 i;

	mbox = mbox_create(t, "a@x", "INBOX");
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "17000.%d.host", i);
		add_msg(b, mbox, name, 100 + i, i % 2 ? IDX_F_SEEN : 0);
	}
	add_msg(b, mbox, "17000.7.host", 1, 0);		/* duplicate */
	add_msg(b, 999, "other", 1, 0);			/* no mailbox */
	commit(t, b);
	for (i = 0; i < 500; i++) {
		r = idx_batch_result(b, i);
		assert_int_equal(r->status, IDX_OK);
		assert_int_equal(r->uid, (uint32_t)i + 1);
		assert_true(r->modseq > prev);
		prev = r->modseq;
	}
	assert_int_equal(idx_batch_result(b, 500)->status, IDX_EXISTS);
	assert_int_equal(idx_batch_result(b, 500)->uid, 8);
	assert_int_equal(idx_batch_result(b, 501)->status, IDX_NOTFOUND);
	assert_null(idx_batch_result(b, 502));
	idx_batch_free(&b);

	get_mbox(t, mbox, &m);
	assert_int_equal(m.messages, 500);
	assert_int_equal(m.unseen, 250);
	assert_int_equal(m.uidnext, 501);
	assert_int_equal(m.highestmodseq, prev);
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_uid_by_name(rd, mbox, "17000.41.host", &uid,
	    &error), 1);
	assert_int_equal(uid, 42);
	assert_int_equal(idx_read_message(rd, mbox, 42, &msg, &error), 1);
	assert_string_equal(msg.basename, "17000.41.host");
	assert_int_equal(msg.size, 141);
	assert_int_equal(msg.flags, IDX_F_SEEN);
	assert_int_equal(msg.internaldate, 1700000000);
	assert_int_equal(idx_read_message(rd, mbox, 501, &msg, &error), 0);
	idx_read_end(&rd);
}

static void
test_uid_never_reused(void **state)
{
	struct t		*t = *state;
	struct idx_batch	*b;
	struct idx_read		*rd;
	struct idx_msg		 msg;
	struct idx_mbox		 m;
	const char		*error = NULL;
	uint32_t		 mbox, uid;

	mbox = mbox_create(t, "a@x", "INBOX");
	add_n(t, mbox, "m", 3, 10);
	expunge1(t, mbox, 3);
	expunge1(t, mbox, 2);
	reopen(t, NULL);
	get_mbox(t, mbox, &m);
	assert_int_equal(m.uidnext, 4);
	assert_int_equal(m.messages, 1);
	/* The same base name can come back (restore) and gets a new UID. */
	b = idx_batch_new();
	add_msg(b, mbox, "m.2", 10, 0);
	commit(t, b);
	assert_int_equal(idx_batch_result(b, 0)->uid, 4);
	idx_batch_free(&b);
	/* An import may ask for a UID, never one below uidnext. */
	b = idx_batch_new();
	{
		struct idx_msg_new nm = { .basename = "imp.1", .uid = 3 };
		struct idx_msg_new nm2 = { .basename = "imp.2", .uid = 10 };

		idx_batch_msg_add(b, mbox, &nm);
		idx_batch_msg_add(b, mbox, &nm2);
	}
	commit(t, b);
	assert_int_equal(idx_batch_result(b, 0)->status, IDX_INVALID);
	assert_int_equal(idx_batch_result(b, 1)->uid, 10);
	idx_batch_free(&b);
	reopen(t, NULL);
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_message(rd, mbox, 2, &msg, &error), 0);
	assert_int_equal(idx_read_message(rd, mbox, 4, &msg, &error), 1);
	assert_string_equal(msg.basename, "m.2");
	assert_int_equal(idx_read_uid_by_name(rd, mbox, "m.1", &uid, &error),
	    0);
	assert_int_equal(idx_read_mailbox_by_id(rd, mbox, &m, &error), 1);
	assert_int_equal(m.uidnext, 11);
	idx_read_end(&rd);
	/* uidnext can be raised (reindex), never lowered. */
	b = idx_batch_new();
	idx_batch_mailbox_uidnext(b, mbox, 50);
	idx_batch_mailbox_uidnext(b, mbox, 20);
	add_msg(b, mbox, "after.1", 10, 0);
	commit(t, b);
	assert_int_equal(idx_batch_result(b, 0)->status, IDX_OK);
	assert_int_equal(idx_batch_result(b, 2)->uid, 50);
	idx_batch_free(&b);
	get_mbox(t, mbox, &m);
	assert_int_equal(m.uidnext, 51);
	assert_int_equal(m.messages, 4);
}

static void
test_flags_modseq(void **state)
{
	struct t		*t = *state;
	struct idx_result	 r;
	struct idx_mbox		 m;
	uint32_t		 mbox;
	uint64_t		 ms;

	mbox = mbox_create(t, "a@x", "INBOX");
	add_n(t, mbox, "m", 2, 10);
	get_mbox(t, mbox, &m);
	ms = m.highestmodseq;
	assert_int_equal(m.unseen, 2);

	r = flags1(t, mbox, 1, IDX_FLAGS_ADD, IDX_F_SEEN | IDX_F_DELETED,
	    NULL, 0);
	assert_int_equal(r.status, IDX_OK);
	assert_true(r.changed);
	assert_int_equal(r.modseq, ms + 1);
	assert_int_equal(r.flags, IDX_F_SEEN | IDX_F_DELETED);
	get_mbox(t, mbox, &m);
	assert_int_equal(m.highestmodseq, ms + 1);
	assert_int_equal(m.unseen, 1);
	assert_int_equal(m.deleted, 1);

	/* No change: no new modseq. */
	r = flags1(t, mbox, 1, IDX_FLAGS_ADD, IDX_F_SEEN, NULL, 0);
	assert_int_equal(r.status, IDX_OK);
	assert_false(r.changed);
	assert_int_equal(r.modseq, ms + 1);

	/* UNCHANGEDSINCE older than the message: refused, untouched. */
	r = flags1(t, mbox, 1, IDX_FLAGS_REMOVE, IDX_F_SEEN, NULL, ms);
	assert_int_equal(r.status, IDX_MODIFIED);
	assert_int_equal(r.modseq, ms + 1);
	r = flags1(t, mbox, 1, IDX_FLAGS_REMOVE, IDX_F_DELETED, NULL, ms + 1);
	assert_int_equal(r.status, IDX_OK);
	assert_int_equal(r.modseq, ms + 2);
	assert_int_equal(r.flags, IDX_F_SEEN);

	r = flags1(t, mbox, 2, IDX_FLAGS_REPLACE, IDX_F_FLAGGED, NULL, 0);
	assert_int_equal(r.modseq, ms + 3);
	r = flags1(t, mbox, 9, IDX_FLAGS_ADD, IDX_F_SEEN, NULL, 0);
	assert_int_equal(r.status, IDX_NOTFOUND);
	r = flags1(t, mbox, 2, IDX_FLAGS_ADD, 0x100, NULL, 0);
	assert_int_equal(r.status, IDX_INVALID);
	get_mbox(t, mbox, &m);
	assert_int_equal(m.highestmodseq, ms + 3);
	assert_int_equal(m.deleted, 0);
	assert_int_equal(m.unseen, 1);
}

static void
test_changedsince(void **state)
{
	struct t	*t = *state;
	struct idx_read	*rd;
	struct idx_iter	*it;
	struct idx_msg	 msg;
	struct idx_mbox	 m;
	const char	*error = NULL;
	uint32_t	 mbox, want[] = { 7, 3, 5 };
	uint64_t	 since, prev;
	int		 n;

	mbox = mbox_create(t, "a@x", "INBOX");
	add_n(t, mbox, "m", 10, 10);
	get_mbox(t, mbox, &m);
	since = m.highestmodseq;
	flags1(t, mbox, 7, IDX_FLAGS_ADD, IDX_F_SEEN, NULL, 0);
	flags1(t, mbox, 3, IDX_FLAGS_ADD, IDX_F_ANSWERED, NULL, 0);
	flags1(t, mbox, 5, IDX_FLAGS_ADD, IDX_F_DRAFT, NULL, 0);
	flags1(t, mbox, 5, IDX_FLAGS_ADD, IDX_F_DRAFT, NULL, 0);  /* no-op */

	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_iter_changes(rd, mbox, since, &it, &error), 0);
	n = 0;
	prev = since;
	while (idx_iter_next_message(it, &msg, &error) == 1) {
		assert_true(n < 3);
		assert_int_equal(msg.uid, want[n]);
		assert_true(msg.modseq > prev);
		prev = msg.modseq;
		n++;
	}
	assert_int_equal(n, 3);
	idx_iter_free(&it);
	/* Since 0: every live message, each exactly once. */
	assert_int_equal(idx_iter_changes(rd, mbox, 0, &it, &error), 0);
	for (n = 0; idx_iter_next_message(it, &msg, &error) == 1; n++)
		;
	assert_int_equal(n, 10);
	idx_iter_free(&it);
	/* Since the highest: nothing. */
	assert_int_equal(idx_iter_changes(rd, mbox, prev, &it, &error), 0);
	assert_int_equal(idx_iter_next_message(it, &msg, &error), 0);
	idx_iter_free(&it);
	/* UID range iteration. */
	assert_int_equal(idx_iter_messages(rd, mbox, 4, 6, &it, &error), 0);
	for (n = 0; idx_iter_next_message(it, &msg, &error) == 1; n++)
		assert_int_equal(msg.uid, 4 + n);
	assert_int_equal(n, 3);
	idx_iter_free(&it);
	idx_read_end(&rd);
}

static void
test_vanished(void **state)
{
	struct t		*t = *state;
	struct idx_batch	*b;
	struct idx_read		*rd;
	struct idx_iter		*it;
	struct idx_msg		 msg;
	struct idx_mbox		 m;
	const char		*error = NULL;
	uint32_t		 mbox, uid, mbox2;
	uint64_t		 since, ms, ms4 = 0;
	int			 n;

	mbox = mbox_create(t, "a@x", "INBOX");
	mbox2 = mbox_create(t, "a@x", "Other");
	add_n(t, mbox, "m", 6, 10);
	add_n(t, mbox2, "o", 2, 10);
	expunge1(t, mbox, 1);
	get_mbox(t, mbox, &m);
	since = m.highestmodseq;
	expunge1(t, mbox, 2);
	expunge1(t, mbox, 4);
	expunge1(t, mbox2, 1);
	b = idx_batch_new();
	idx_batch_msg_expunge(b, mbox, 4);		/* already gone */
	commit(t, b);
	assert_int_equal(idx_batch_result(b, 0)->status, IDX_NOTFOUND);
	idx_batch_free(&b);

	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_iter_vanished(rd, mbox, since, &it, &error), 0);
	assert_int_equal(idx_iter_next_vanished(it, &uid, &ms, &error), 1);
	assert_int_equal(uid, 2);
	assert_int_equal(idx_iter_next_vanished(it, &uid, &ms4, &error), 1);
	assert_int_equal(uid, 4);
	assert_true(ms4 > ms);
	assert_int_equal(idx_iter_next_vanished(it, &uid, &ms, &error), 0);
	idx_iter_free(&it);
	/* Expunged messages are gone from CHANGEDSINCE. */
	assert_int_equal(idx_iter_changes(rd, mbox, 0, &it, &error), 0);
	for (n = 0; idx_iter_next_message(it, &msg, &error) == 1; n++)
		assert_true(msg.uid != 1 && msg.uid != 2 && msg.uid != 4);
	assert_int_equal(n, 3);
	idx_iter_free(&it);
	idx_read_end(&rd);

	/* Prune to the newest one; the horizon says what was lost. */
	b = idx_batch_new();
	idx_batch_tombstones_prune(b, mbox, 1);
	commit(t, b);
	idx_batch_free(&b);
	get_mbox(t, mbox, &m);
	assert_true(m.tomb_horizon > 0 && m.tomb_horizon < ms4);
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_iter_vanished(rd, mbox, 0, &it, &error), 0);
	assert_int_equal(idx_iter_next_vanished(it, &uid, &ms, &error), 1);
	assert_int_equal(uid, 4);
	assert_int_equal(idx_iter_next_vanished(it, &uid, &ms, &error), 0);
	idx_iter_free(&it);
	/* The other mailbox's tombstone is untouched. */
	assert_int_equal(idx_iter_vanished(rd, mbox2, 0, &it, &error), 0);
	assert_int_equal(idx_iter_next_vanished(it, &uid, &ms, &error), 1);
	assert_int_equal(uid, 1);
	idx_iter_free(&it);
	idx_read_end(&rd);
}

static void
test_keywords(void **state)
{
	struct t		*t = *state;
	struct idx_batch	*b;
	struct idx_read		*rd;
	struct idx_msg		 msg;
	struct idx_msg_new	 nm;
	struct idx_result	 r;
	const char		*kws[] = { "$Junk", "work" };
	const char		*names[IDX_KEYWORDS_MAX];
	const char		*error = NULL;
	char			 kw[16];
	unsigned int		 id;
	uint32_t		 mbox;
	int			 i;

	mbox = mbox_create(t, "a@x", "INBOX");
	b = idx_batch_new();
	memset(&nm, 0, sizeof(nm));
	nm.basename = "k.1";
	nm.keywords = kws;
	nm.nkeywords = 2;
	idx_batch_msg_add(b, mbox, &nm);
	commit(t, b);
	assert_int_equal(idx_batch_result(b, 0)->keywords, 3);
	idx_batch_free(&b);

	/* Keywords are case-insensitive: "WORK" is "work". */
	r = flags1(t, mbox, 1, IDX_FLAGS_REMOVE, 0, "WORK", 0);
	assert_true(r.changed);
	assert_int_equal(r.keywords, 1);
	r = flags1(t, mbox, 1, IDX_FLAGS_REMOVE, 0, "never-defined", 0);
	assert_false(r.changed);
	r = flags1(t, mbox, 1, IDX_FLAGS_ADD, 0, "Later", 0);
	assert_int_equal(r.keywords, 1 | 4);
	r = flags1(t, mbox, 1, IDX_FLAGS_ADD, 0, "\\Seen", 0);
	assert_int_equal(r.status, IDX_INVALID);

	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_keywords(rd, mbox, names, &error), 0);
	assert_string_equal(names[0], "$Junk");
	assert_string_equal(names[1], "work");
	assert_string_equal(names[2], "Later");
	assert_null(names[3]);
	assert_int_equal(idx_read_keyword_id(rd, mbox, "later", &id, &error),
	    1);
	assert_int_equal(id, 2);
	assert_int_equal(idx_read_message(rd, mbox, 1, &msg, &error), 1);
	assert_int_equal(msg.keywords, 5);
	idx_read_end(&rd);

	/* Up to 64 per mailbox, then IDX_LIMIT. */
	for (i = 3; i < IDX_KEYWORDS_MAX; i++) {
		snprintf(kw, sizeof(kw), "kw%d", i);
		r = flags1(t, mbox, 1, IDX_FLAGS_ADD, 0, kw, 0);
		assert_int_equal(r.status, IDX_OK);
	}
	assert_int_equal(r.keywords, UINT64_MAX & ~(uint64_t)2);
	r = flags1(t, mbox, 1, IDX_FLAGS_ADD, 0, "one-too-many", 0);
	assert_int_equal(r.status, IDX_LIMIT);
}

static void
test_cache(void **state)
{
	struct t		*t = *state;
	struct idx_batch	*b = idx_batch_new();
	struct idx_read		*rd;
	struct idx_msg_new	 nm;
	const char		*env = "(\"date\" \"subj\" NIL NIL)";
	const char		*bs = "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1)";
	const void		*e, *s;
	size_t			 elen, slen;
	const char		*error = NULL;
	uint32_t		 mbox;

	mbox = mbox_create(t, "a@x", "INBOX");
	memset(&nm, 0, sizeof(nm));
	nm.basename = "c.1";
	nm.envelope = env;
	nm.envelope_len = strlen(env);
	nm.bodystructure = bs;
	nm.bodystructure_len = strlen(bs);
	idx_batch_msg_add(b, mbox, &nm);
	add_msg(b, mbox, "c.2", 1, 0);
	commit(t, b);
	idx_batch_free(&b);
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_cache(rd, mbox, 1, &e, &elen, &s, &slen,
	    &error), 1);
	assert_int_equal(elen, strlen(env));
	assert_memory_equal(e, env, elen);
	assert_int_equal(slen, strlen(bs));
	assert_memory_equal(s, bs, slen);
	assert_int_equal(idx_read_cache(rd, mbox, 2, &e, &elen, &s, &slen,
	    &error), 0);
	idx_read_end(&rd);
	expunge1(t, mbox, 1);
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_cache(rd, mbox, 1, &e, &elen, &s, &slen,
	    &error), 0);
	idx_read_end(&rd);
}

static void
usage_is(struct t *t, const char *user, uint64_t bytes, uint64_t msgs)
{
	struct idx_read		*rd;
	struct idx_usage	 u;
	const char		*error = NULL;

	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_usage(rd, user, &u, &error), 1);
	assert_int_equal(u.bytes, bytes);
	assert_int_equal(u.messages, msgs);
	idx_read_end(&rd);
}

static void
test_quota(void **state)
{
	struct t		*t = *state;
	struct idx_batch	*b;
	struct idx_read		*rd;
	struct idx_usage	 u;
	const char		*error = NULL;
	uint32_t		 inbox, junk, bob;

	inbox = mbox_create(t, "alice@x", "INBOX");
	junk = mbox_create(t, "alice@x", "Junk");
	bob = mbox_create(t, "bob@x", "INBOX");
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_usage(rd, "alice@x", &u, &error), 0);
	idx_read_end(&rd);

	b = idx_batch_new();
	add_msg(b, inbox, "a.1", 100, 0);
	add_msg(b, inbox, "a.2", 1000, 0);
	add_msg(b, junk, "a.3", 200, 0);
	add_msg(b, bob, "b.1", 7, 0);
	commit(t, b);
	idx_batch_free(&b);
	usage_is(t, "alice@x", 1300, 3);
	usage_is(t, "bob@x", 7, 1);

	expunge1(t, inbox, 1);
	usage_is(t, "alice@x", 1200, 2);
	/* Deleting a mailbox releases its usage. */
	b = idx_batch_new();
	idx_batch_mailbox_delete(b, "alice@x", "Junk");
	commit(t, b);
	idx_batch_free(&b);
	usage_is(t, "alice@x", 1000, 1);

	/* Corrections; going below zero clamps. */
	b = idx_batch_new();
	idx_batch_usage_adjust(b, "alice@x", 24, 1);
	idx_batch_usage_adjust(b, "bob@x", -100, -5);
	commit(t, b);
	idx_batch_free(&b);
	usage_is(t, "alice@x", 1024, 2);
	usage_is(t, "bob@x", 0, 0);
	b = idx_batch_new();
	idx_batch_usage_set(b, "carol@x", 5000, 50);
	commit(t, b);
	idx_batch_free(&b);
	usage_is(t, "carol@x", 5000, 50);
}

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
test_10k(void **state)
{
	struct t		*t = *state;
	struct idx_batch	*b;
	struct idx_read		*rd;
	struct idx_iter		*it;
	struct idx_msg		 msg;
	struct idx_mbox		 m;
	struct idx_opts		 o = { .nosync = true };
	const char		*error = NULL;
	char			 name[64], envbuf[200];
	double			 t0, t1, t2;
	uint64_t		 sum = 0;
	uint32_t		 mbox, expect = 1;
	int			 i, j, n;

	reopen(t, &o);
	mbox = mbox_create(t, "a@x", "INBOX");
	memset(envbuf, 'e', sizeof(envbuf));
	t0 = now_ms();
	for (i = 0; i < 100; i++) {
		b = idx_batch_new();
		for (j = 0; j < 100; j++) {
			struct idx_msg_new nm = { 0 };

			snprintf(name, sizeof(name),
			    "1700000000.M%dP%d.mail.example.com,S=%d",
			    i * 100 + j, 4242, 2000 + j);
			nm.basename = name;
			nm.size = 2000 + j;
			nm.vsize = 1950 + j;
			nm.envelope = envbuf;
			nm.envelope_len = sizeof(envbuf);
			idx_batch_msg_add(b, mbox, &nm);
		}
		commit(t, b);
		assert_int_equal(idx_batch_result(b, 99)->uid,
		    (uint32_t)(i + 1) * 100);
		idx_batch_free(&b);
	}
	assert_int_equal(idx_sync_blocking(t->idx, &error), 0);
	t1 = now_ms();
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_iter_messages(rd, mbox, 1, UINT32_MAX, &it,
	    &error), 0);
	for (n = 0; idx_iter_next_message(it, &msg, &error) == 1; n++) {
		assert_true(msg.uid == expect);
		expect++;
		sum += msg.size;
	}
	idx_iter_free(&it);
	assert_int_equal(idx_read_mailbox_by_id(rd, mbox, &m, &error), 1);
	idx_read_end(&rd);
	t2 = now_ms();
	assert_int_equal(n, 10000);
	assert_int_equal(m.messages, 10000);
	assert_int_equal(m.size_total, sum);
	printf("idx 10k: add in 100 batches %.1f ms, iterate %.1f ms\n",
	    t1 - t0, t2 - t1);
}

static void
test_map_full_growth(void **state)
{
	struct t		*t = *state;
	struct idx_opts		 o = { .map_size = 256 * 1024,
	    .map_max = 512 << 20, .nosync = true };
	struct idx_batch	*b;
	struct idx_stat		 st;
	struct idx_read		*rd;
	struct idx_msg		 msg;
	const char		*error = NULL;
	static char		 blob[2048];
	char			 name[64];
	size_t			 first_map;
	uint32_t		 mbox;
	int			 i, j;

	idx_close(&t->idx);
	rm_dir(t->path);
	if (idx_open_opts_blocking(t->path, &o, &t->idx, &error) == -1)
		fail_msg("open: %s", error);
	assert_int_equal(idx_stat(t->idx, &st, &error), 0);
	first_map = st.map_size;
	assert_true(first_map <= 1 << 20);
	memset(blob, 'b', sizeof(blob));
	mbox = mbox_create(t, "a@x", "INBOX");
	for (i = 0; i < 10; i++) {
		b = idx_batch_new();
		for (j = 0; j < 300; j++) {
			struct idx_msg_new nm = { 0 };

			snprintf(name, sizeof(name), "big.%d.%d", i, j);
			nm.basename = name;
			nm.size = 1;
			nm.bodystructure = blob;
			nm.bodystructure_len = sizeof(blob);
			idx_batch_msg_add(b, mbox, &nm);
		}
		commit(t, b);
		assert_int_equal(idx_batch_result(b, 299)->status, IDX_OK);
		idx_batch_free(&b);
	}
	assert_int_equal(idx_stat(t->idx, &st, &error), 0);
	assert_true(st.map_size > first_map);
	assert_true(st.map_used > 3000 * sizeof(blob));
	assert_int_equal(st.messages, 3000);
	assert_int_equal(st.cached, 3000);
	reopen(t, &o);
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_message(rd, mbox, 3000, &msg, &error), 1);
	assert_string_equal(msg.basename, "big.9.299");
	idx_read_end(&rd);

	/* A cap that is too small gives a clean error, not a crash. */
	{
		struct idx_opts small = { .map_size = 256 * 1024,
		    .map_max = 256 * 1024, .nosync = true };

		idx_close(&t->idx);
		rm_dir(t->path);
		if (idx_open_opts_blocking(t->path, &small, &t->idx,
		    &error) == -1)
			fail_msg("open: %s", error);
		mbox = mbox_create(t, "a@x", "INBOX");
		b = idx_batch_new();
		for (j = 0; j < 300; j++) {
			struct idx_msg_new nm = { 0 };

			snprintf(name, sizeof(name), "big.%d", j);
			nm.basename = name;
			nm.bodystructure = blob;
			nm.bodystructure_len = sizeof(blob);
			idx_batch_msg_add(b, mbox, &nm);
		}
		assert_int_equal(idx_batch_commit_blocking(t->idx, b, &error),
		    -1);
		assert_non_null(strstr(error, "map is full"));
		assert_int_equal(idx_batch_result(b, 0)->status, IDX_PENDING);
		idx_batch_free(&b);
	}
}

static void
test_persistence(void **state)
{
	struct t	*t = *state;
	struct idx_read	*rd;
	struct idx_msg	 msg;
	struct idx_mbox	 m;
	struct timespec	 tn = { 1700000001, 5 }, tc = { 1700000002, 6 };
	struct idx_batch *b;
	const char	*names[IDX_KEYWORDS_MAX];
	const char	*error = NULL;
	uint32_t	 mbox;

	mbox = mbox_create(t, "a@x", "INBOX");
	add_n(t, mbox, "p", 5, 33);
	flags1(t, mbox, 2, IDX_FLAGS_ADD, IDX_F_FLAGGED, "$Important", 0);
	b = idx_batch_new();
	idx_batch_mailbox_mtimes(b, mbox, &tn, &tc);
	commit(t, b);
	idx_batch_free(&b);
	reopen(t, NULL);
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	assert_int_equal(idx_read_mailbox(rd, "a@x", "INBOX", &m, &error), 1);
	assert_int_equal(m.id, mbox);
	assert_int_equal(m.messages, 5);
	assert_int_equal(m.mtime_new.tv_sec, 1700000001);
	assert_int_equal(m.mtime_new.tv_nsec, 5);
	assert_int_equal(m.mtime_cur.tv_sec, 1700000002);
	assert_int_equal(m.mtime_cur.tv_nsec, 6);
	assert_int_equal(idx_read_message(rd, mbox, 2, &msg, &error), 1);
	assert_int_equal(msg.flags, IDX_F_FLAGGED);
	assert_int_equal(msg.keywords, 1);
	assert_int_equal(msg.modseq, m.highestmodseq);
	assert_int_equal(idx_read_keywords(rd, mbox, names, &error), 0);
	assert_string_equal(names[0], "$Important");
	idx_read_end(&rd);
}

static void
test_drop_contents(void **state)
{
	struct t	*t = *state;
	struct idx_mbox	 m, m2;
	struct idx_stat	 st;
	const char	*error = NULL;
	uint32_t	 mbox;

	mbox = mbox_create(t, "a@x", "INBOX");
	add_n(t, mbox, "d", 20, 10);
	expunge1(t, mbox, 1);
	get_mbox(t, mbox, &m);
	assert_int_equal(idx_drop_mailbox_contents_blocking(t->idx, mbox,
	    false, &error), 0);
	get_mbox(t, mbox, &m2);
	assert_int_equal(m2.messages, 0);
	assert_int_equal(m2.uidnext, m.uidnext);
	assert_int_equal(m2.uidvalidity, m.uidvalidity);
	assert_int_equal(m2.tomb_horizon, m.highestmodseq);
	assert_int_equal(idx_stat(t->idx, &st, &error), 0);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.basenames, 0);
	assert_int_equal(st.modseqs, 0);
	assert_int_equal(st.tombstones, 0);
	usage_is(t, "a@x", 0, 0);
	/* Re-adding after a drop continues the UIDs. */
	assert_int_equal(add_n(t, mbox, "d", 1, 10), m.uidnext);
	assert_int_equal(idx_drop_mailbox_contents_blocking(t->idx, mbox,
	    true, &error), 0);
	get_mbox(t, mbox, &m2);
	assert_true(m2.uidvalidity != m.uidvalidity);
	assert_int_equal(m2.uidnext, 1);
	assert_int_equal(idx_drop_mailbox_contents_blocking(t->idx, 4242,
	    false, &error), -1);
}

struct gl {
	MDB_dbi		 dbi;
	const char	*key;
	const char	*val;
};

static int
gl_put(MDB_txn *txn, void *arg, const char **error_r)
{
	struct gl	*g = arg;
	MDB_val		 k = { strlen(g->key), (void *)(uintptr_t)g->key };
	MDB_val		 v = { strlen(g->val), (void *)(uintptr_t)g->val };
	int		 rc;

	if ((rc = mdb_put(txn, g->dbi, &k, &v, 0)) == MDB_MAP_FULL)
		return rc;
	if (rc != 0) {
		*error_r = mdb_strerror(rc);
		return -1;
	}
	return 0;
}

static void
test_env_other_dbs(void **state)
{
	struct t	*t = *state;
	struct idx_read	*rd;
	struct gl	 g = { 0, "1.2.3.4/a@x/b@y", "1700000000" };
	MDB_val		 k, v;
	MDB_dbi		 d;
	const char	*error = NULL;

	assert_int_equal(idx_env_dbi_open_blocking(t->idx, "idx.msg",
	    MDB_CREATE, &d, &error), -1);
	assert_non_null(strstr(error, "reserved"));
	assert_int_equal(idx_env_dbi_open_blocking(t->idx, "greylist",
	    MDB_CREATE, &g.dbi, &error), 0);
	assert_int_equal(idx_env_write_blocking(t->idx, gl_put, &g, &error),
	    0);
	assert_int_equal(idx_read_begin(t->idx, &rd, &error), 0);
	k.mv_data = (void *)(uintptr_t)g.key;
	k.mv_size = strlen(g.key);
	assert_int_equal(mdb_get(idx_read_txn(rd), g.dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, strlen(g.val));
	idx_read_end(&rd);
	reopen(t, NULL);
	assert_int_equal(idx_env_dbi_open_blocking(t->idx, "greylist", 0,
	    &g.dbi, &error), 0);
}

/*
 * A reader on another thread keeps its snapshot while the writer thread
 * commits; a new snapshot then sees the commit.
 */
struct conc {
	struct t	*t;
	uint32_t	 mbox;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 step;		/* 1: reader has snapshot, 2: committed */
	int		 seen_before, seen_during, seen_after;
	int		 callbacks;
	int		 cb_rc;
};

static void
conc_wait(struct conc *c, int step)
{
	pthread_mutex_lock(&c->lock);
	while (c->step < step)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

static void
conc_set(struct conc *c, int step)
{
	pthread_mutex_lock(&c->lock);
	c->step = step;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static int
conc_count(struct idx_read *rd, uint32_t mbox)
{
	struct idx_iter	*it;
	struct idx_msg	 msg;
	const char	*error = NULL;
	int		 n;

	assert_int_equal(idx_iter_messages(rd, mbox, 1, UINT32_MAX, &it,
	    &error), 0);
	for (n = 0; idx_iter_next_message(it, &msg, &error) == 1; n++)
		;
	idx_iter_free(&it);
	return n;
}

static void *
conc_reader(void *arg)
{
	struct conc	*c = arg;
	struct idx_read	*rd;
	struct idx_mbox	 m;
	const char	*error = NULL;

	if (idx_read_begin(c->t->idx, &rd, &error) == -1)
		return NULL;
	c->seen_before = conc_count(rd, c->mbox);
	conc_set(c, 1);
	conc_wait(c, 2);
	idx_read_mailbox_by_id(rd, c->mbox, &m, &error);
	c->seen_during = conc_count(rd, c->mbox);
	if ((int)m.messages != c->seen_during)
		c->seen_during = -1;
	idx_read_end(&rd);
	if (idx_read_begin(c->t->idx, &rd, &error) == -1)
		return NULL;
	c->seen_after = conc_count(rd, c->mbox);
	idx_read_end(&rd);
	return NULL;
}

static void
conc_cb(struct idx_batch *b, int rc, const char *error, void *arg)
{
	struct conc	*c = arg;

	pthread_mutex_lock(&c->lock);
	c->callbacks++;
	if (rc != 0 || idx_batch_result(b, 0)->status != IDX_OK)
		c->cb_rc = -1;
	pthread_mutex_unlock(&c->lock);
	idx_batch_free(&b);
}

static void
test_concurrent_snapshot(void **state)
{
	struct t		*t = *state;
	struct idx_writer	*w = NULL;
	struct conc		 c;
	pthread_t		 th;
	const char		*error = NULL;
	char			 name[32];
	int			 i;

	memset(&c, 0, sizeof(c));
	c.t = t;
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	c.mbox = mbox_create(t, "a@x", "INBOX");
	add_n(t, c.mbox, "before", 10, 1);

	assert_int_equal(pthread_create(&th, NULL, conc_reader, &c), 0);
	conc_wait(&c, 1);
	/* 50 producers' batches through the group-commit writer. */
	assert_int_equal(idx_writer_start(t->idx, &w, &error), 0);
	for (i = 0; i < 50; i++) {
		struct idx_batch *b = idx_batch_new();

		snprintf(name, sizeof(name), "during.%d", i);
		add_msg(b, c.mbox, name, 1, 0);
		idx_writer_submit(w, b, conc_cb, &c);
	}
	idx_writer_stop(&w);
	assert_null(w);
	assert_int_equal(c.callbacks, 50);
	assert_int_equal(c.cb_rc, 0);
	conc_set(&c, 2);
	pthread_join(th, NULL);
	assert_int_equal(c.seen_before, 10);
	assert_int_equal(c.seen_during, 10);
	assert_int_equal(c.seen_after, 60);
	pthread_cond_destroy(&c.cond);
	pthread_mutex_destroy(&c.lock);
}

/*
 * The map grows while another thread holds a snapshot: the resize must
 * wait until that snapshot ends (ASan would catch a read of the old,
 * unmapped map), and the commit must then succeed.
 */
struct grow {
	struct conc	 c;
	const char	*name;		/* read from the snapshot, late */
	bool		 ok;
};

static void *
grow_reader(void *arg)
{
	struct grow	*g = arg;
	struct idx_read	*rd;
	struct idx_msg	 msg;
	const char	*error = NULL;

	if (idx_read_begin(g->c.t->idx, &rd, &error) == -1)
		return NULL;
	if (idx_read_message(rd, g->c.mbox, 1, &msg, &error) != 1) {
		idx_read_end(&rd);
		return NULL;
	}
	conc_set(&g->c, 1);
	/* Give the writer time to hit MAP_FULL and wait for us. */
	usleep(200 * 1000);
	g->ok = strcmp(msg.basename, "first.0") == 0 &&
	    conc_count(rd, g->c.mbox) == 1;
	idx_read_end(&rd);
	return NULL;
}

static void
test_map_growth_with_reader(void **state)
{
	struct t		*t = *state;
	struct idx_opts		 o = { .map_size = 256 * 1024,
	    .map_max = 256 << 20, .nosync = true };
	struct idx_batch	*b;
	struct idx_stat		 st;
	struct grow		 g;
	pthread_t		 th;
	const char		*error = NULL;
	static char		 blob[4096];
	char			 name[32];
	size_t			 first_map;
	int			 j;

	idx_close(&t->idx);
	rm_dir(t->path);
	if (idx_open_opts_blocking(t->path, &o, &t->idx, &error) == -1)
		fail_msg("open: %s", error);
	assert_int_equal(idx_stat(t->idx, &st, &error), 0);
	first_map = st.map_size;
	memset(&g, 0, sizeof(g));
	g.c.t = t;
	pthread_mutex_init(&g.c.lock, NULL);
	pthread_cond_init(&g.c.cond, NULL);
	g.c.mbox = mbox_create(t, "a@x", "INBOX");
	add_n(t, g.c.mbox, "first", 1, 1);
	assert_int_equal(pthread_create(&th, NULL, grow_reader, &g), 0);
	conc_wait(&g.c, 1);
	memset(blob, 'g', sizeof(blob));
	b = idx_batch_new();
	for (j = 0; j < 500; j++) {
		struct idx_msg_new nm = { 0 };

		snprintf(name, sizeof(name), "grow.%d", j);
		nm.basename = name;
		nm.bodystructure = blob;
		nm.bodystructure_len = sizeof(blob);
		idx_batch_msg_add(b, g.c.mbox, &nm);
	}
	commit(t, b);
	assert_int_equal(idx_batch_result(b, 499)->uid, 501);
	idx_batch_free(&b);
	pthread_join(th, NULL);
	assert_true(g.ok);
	assert_int_equal(idx_stat(t->idx, &st, &error), 0);
	assert_true(st.map_size > first_map);
	assert_int_equal(st.messages, 501);
	pthread_cond_destroy(&g.c.cond);
	pthread_mutex_destroy(&g.c.lock);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_open_reopen),
		T(test_schema_newer_refused),
		T(test_schema_migration),
		T(test_mailboxes),
		T(test_add_many_one_batch),
		T(test_uid_never_reused),
		T(test_flags_modseq),
		T(test_changedsince),
		T(test_vanished),
		T(test_keywords),
		T(test_cache),
		T(test_quota),
		T(test_10k),
		T(test_map_full_growth),
		T(test_persistence),
		T(test_drop_contents),
		T(test_env_other_dbs),
		T(test_concurrent_snapshot),
		T(test_map_growth_with_reader),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
