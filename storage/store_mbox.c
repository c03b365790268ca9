/*
 * store_mbox.c - mailbox management, Maildir sync and read views for
 * IMAP: CREATE/DELETE/RENAME/SUBSCRIBE (RFC 9051 6.3), the sync that
 * imports changes made outside the daemon (DESIGN.md "On disk"), STORE
 * flags and EXPUNGE, and the read snapshot a session builds its
 * sequence-number view from.
 *
 * Owns struct store_mjob (one operation) and struct store_view (one
 * snapshot).  Every operation is at most three steps: [worker] Maildir
 * files, [serial] one index batch and commit, [loop] done(arg) and the
 * watchers.  Files change before the index so a concurrent sync never
 * resurrects an expunged message: it can only see the file already gone.
 * Views are index read snapshots [any], opened on the loop thread for
 * the span of one command.
 *
 * Also the storage side of CONDSTORE/QRESYNC (RFC 7162: STORE
 * UNCHANGEDSINCE, VANISHED from the index tombstones), QUOTA (RFC 9208
 * usage and limit) and CREATE-SPECIAL-USE (RFC 6154 5.2).
 *
 * Keywords (RFC 9051 2.3.2): the index keeps up to 64 per mailbox; the
 * Maildir names carry them as Dovecot does, letters a-z numbered by the
 * folder's dovecot-keywords file ("<n> <name>" lines, letter 'a' + n),
 * which this file writes (store_keyword_letters_blocking, one writer per
 * process under store_kw_lock).  A keyword without a letter (the 27th
 * and later) lives in the index only.  The sync takes keyword letters
 * of imported files, and adds those it finds on known files, but never
 * removes a keyword because its letter is missing (a keyword without a
 * letter, or a name dovecot-keywords cannot hold, is in the index
 * only).  A new dovecot-keywords is made durable -- file and folder
 * fsynced, under the lock -- before any file name uses its letters.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "hmap.h"
#include "idx.h"
#include "log.h"
#include "mdir.h"
#include "mime.h"
#include "store.h"
#include "store_private.h"
#include "work.h"
#include "xmalloc.h"

#if STORE_F_SEEN != IDX_F_SEEN || STORE_F_ANSWERED != IDX_F_ANSWERED || \
    STORE_F_FLAGGED != IDX_F_FLAGGED || STORE_F_DELETED != IDX_F_DELETED || \
    STORE_F_DRAFT != IDX_F_DRAFT
#error "STORE_F_* must equal IDX_F_*"
#endif
#if STORE_MBOX_KEYWORDS_MAX != IDX_KEYWORDS_MAX
#error "STORE_MBOX_KEYWORDS_MAX must equal IDX_KEYWORDS_MAX"
#endif

#define STORE_SYNC_MAX_FILE	(64 * 1024 * 1024)	/* parse cap on import */
#define STORE_KW_LETTERS	26	/* Maildir keyword letters a-z */

/* Serializes read-modify-write of dovecot-keywords files (workers). */
static pthread_mutex_t store_kw_lock = PTHREAD_MUTEX_INITIALIZER;

enum store_mop {
	STORE_MOP_CREATE, STORE_MOP_DELETE, STORE_MOP_RENAME,
	STORE_MOP_SUBSCRIBE, STORE_MOP_SYNC, STORE_MOP_FLAGS,
	STORE_MOP_EXPUNGE
};

struct store_mjob {
	struct store		*store;
	enum store_mop		 op;
	char			*user;
	char			*account;	/* as given, for watchers */
	char			*name;
	char			*name2;		/* RENAME target */
	bool			 on;		/* SUBSCRIBE */
	uint32_t		*uids;
	char			**bases;	/* per uid, NULL if unknown */
	size_t			 n;
	enum store_flag_mode	 mode;
	uint32_t		 flags;
	uint32_t		*newflags;	/* per uid, for the file names */
	char			**kw;		/* keywords of a flag change */
	size_t			 nkw;
	char			*kwnames[IDX_KEYWORDS_MAX]; /* at the snapshot */
	uint64_t		*kwbits;	/* per uid, at the snapshot */
	uint64_t		*modseqs;	/* per uid, at the snapshot */
	uint64_t		 unchangedsince; /* RFC 7162 3.1.3; 0: none */
	uint32_t		*modified;	/* caller's, UNCHANGEDSINCE failed */
	size_t			*nmodified;
	struct idx_batch	*batch;		/* built on a worker (sync) */
	bool			 changed;	/* fire watchers */
	struct timespec		 mt_new, mt_cur;
	uint32_t		 mbox;
	int			 result;
	char			 error[256];
	store_mbox_done_fn	*done;
	void			*arg;
};

static struct store_mjob *
store_mjob_new(struct store *s, enum store_mop op, const char *account,
    const char *name, store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j = xcalloc(1, sizeof(*j));

	j->store = s;
	j->op = op;
	j->user = store_user(account);
	j->account = xstrdup(account);
	j->name = xstrdup(store_mailbox_name(name));
	j->done = done;
	j->arg = arg;
	return j;
}

static void
store_mjob_free(struct store_mjob **jp)
{
	struct store_mjob	*j = *jp;
	size_t			 i;

	if (j == NULL)
		return;
	for (i = 0; j->bases != NULL && i < j->n; i++)
		free(j->bases[i]);
	free(j->bases);
	free(j->uids);
	free(j->newflags);
	free(j->modseqs);
	for (i = 0; i < j->nkw; i++)
		free(j->kw[i]);
	free(j->kw);
	for (i = 0; i < IDX_KEYWORDS_MAX; i++)
		free(j->kwnames[i]);
	free(j->kwbits);
	idx_batch_free(&j->batch);
	free(j->user);
	free(j->account);
	free(j->name);
	free(j->name2);
	xfree(*jp);
}

static void
store_mjob_fail(struct store_mjob *j, int result, const char *error)
{
	if (j->result != 0)
		return;
	j->result = result;
	snprintf(j->error, sizeof(j->error), "%s", error);
}

/* [worker] The folder path of j->name (or name2). */
static char *
store_mjob_folder(struct store_mjob *j, const char *name)
{
	struct store	*s = j->store;
	char		*root, *path;
	const char	*e;

	if (mdir_user_root(s->storage_path, j->user, &root, &e) == -1) {
		store_mjob_fail(j, -1, e);
		return NULL;
	}
	if (mdir_folder_path(root, s->layout, s->sep, s->utf8, name, &path,
	    &e) == -1) {
		store_mjob_fail(j, -2, e);
		path = NULL;
	}
	free(root);
	return path;
}

static void
store_mjob_done(void *arg)
{
	struct store_mjob	*j = arg;

	j->store->stats.index_commits++;
	if (j->changed) {
		store_watch_fire(j->store, j->user, j->name);
		if (j->name2 != NULL)
			store_watch_fire(j->store, j->user, j->name2);
	}
	if (j->done != NULL)
		j->done(j->arg, j->result, j->error);
	store_mjob_free(&j);
}

/* ---- [serial] the index step ---- */

static void
store_mjob_index_run(void *arg)
{
	struct store_mjob	*j = arg;
	struct store		*s = j->store;
	struct idx_batch	*b;
	const struct idx_result	*res;
	const char		*e;
	size_t			 op = 0, i;

	if (j->result != 0 && j->op != STORE_MOP_SYNC)
		return;
	b = j->batch != NULL ? j->batch : idx_batch_new();
	j->batch = NULL;
	switch (j->op) {
	case STORE_MOP_CREATE:
		op = idx_batch_mailbox_create(b, j->user, j->name, 0,
		    j->flags);
		break;
	case STORE_MOP_DELETE:
		op = idx_batch_mailbox_delete(b, j->user, j->name);
		break;
	case STORE_MOP_RENAME:
		op = idx_batch_mailbox_rename(b, j->user, j->name, j->name2);
		break;
	case STORE_MOP_SUBSCRIBE:
		op = idx_batch_mailbox_attrs(b, j->mbox, j->on, j->flags);
		break;
	case STORE_MOP_FLAGS:
		/* Operation i is the flag change of uids[i] (a fresh batch). */
		for (i = 0; i < j->n; i++)
			idx_batch_msg_flags(b, j->mbox, j->uids[i],
			    (enum idx_flag_mode)j->mode, j->flags,
			    (const char *const *)j->kw, j->nkw,
			    j->unchangedsince);
		break;
	case STORE_MOP_EXPUNGE:
		for (i = 0; i < j->n; i++)
			idx_batch_msg_expunge(b, j->mbox, j->uids[i]);
		break;
	case STORE_MOP_SYNC:
		break;
	}
	if (idx_batch_count(b) == 0) {
		idx_batch_free(&b);
		return;
	}
	if (idx_batch_commit_blocking(s->idx, b, &e) == -1) {
		store_mjob_fail(j, -1, e);
		idx_batch_free(&b);
		return;
	}
	switch (j->op) {
	case STORE_MOP_CREATE:
	case STORE_MOP_DELETE:
	case STORE_MOP_RENAME:
	case STORE_MOP_SUBSCRIBE:
		res = idx_batch_result(b, op);
		if (res->status == IDX_EXISTS)
			store_mjob_fail(j, -2, "Mailbox already exists");
		else if (res->status == IDX_NOTFOUND)
			store_mjob_fail(j, -2, "Mailbox does not exist");
		else if (res->status != IDX_OK)
			store_mjob_fail(j, -2, res->error);
		break;
	case STORE_MOP_FLAGS:
		/* Changed by someone else since our snapshot (a race). */
		for (i = 0; j->modified != NULL && i < j->n; i++)
			if (idx_batch_result(b, i)->status == IDX_MODIFIED)
				j->modified[(*j->nmodified)++] = j->uids[i];
		/* Another session defined keywords meanwhile. */
		for (i = 0; i < j->n; i++)
			if (idx_batch_result(b, i)->status == IDX_LIMIT)
				store_mjob_fail(j, -2, STORE_ERR_KEYWORDS);
		break;
	default:
		break;
	}
	j->changed = true;
	idx_batch_free(&b);
}

static void
store_mjob_files_done(void *arg)
{
	struct store_mjob	*j = arg;

	if (j->result != 0 && j->op != STORE_MOP_SYNC) {
		if (j->done != NULL)
			j->done(j->arg, j->result, j->error);
		store_mjob_free(&j);
		return;
	}
	work_submit_serial(store_mjob_index_run, store_mjob_done, j);
}

/* ---- [worker] the Maildir step ---- */

/* ---- [worker] Dovecot keyword letters (dovecot-keywords) ---- */

/* Write kw to path: temporary file, fsync, rename over. */
static int
store_kw_write(const char *path, const struct mdir_keywords *kw,
    const char **error_r)
{
	struct buf	 b = BUF_INIT;
	char		*tmp;
	size_t		 i, off = 0;
	ssize_t		 w;
	int		 fd, rc = -1;

	/* Dovecot's format (maildir-keywords.c): "<index> <name>\n". */
	for (i = 0; i < STORE_KW_LETTERS; i++)
		if (kw->names[i] != NULL)
			buf_printf(&b, "%zu %s\n", i, kw->names[i]);
	tmp = xasprintf("%s.postern-tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		*error_r = "cannot create dovecot-keywords";
		goto out;
	}
	while (off < b.len) {
		if ((w = write(fd, b.data + off, b.len - off)) == -1 &&
		    errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off != b.len || fsync(fd) == -1) {
		*error_r = "cannot write dovecot-keywords";
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		*error_r = "cannot replace dovecot-keywords";
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	buf_free(&b);
	return rc;
}

/* [worker] The folder's dovecot-keywords, empty if it has none. */
static int
store_kw_read(const char *folder, struct mdir_keywords **kw_r,
    const char **error_r)
{
	struct stat	 st;
	char		*path;
	int		 rc = 0;

	*kw_r = NULL;
	path = xasprintf("%s/dovecot-keywords", folder);
	if (stat(path, &st) == 0)
		rc = mdir_keywords_read_blocking(path, kw_r, error_r);
	else if (errno != ENOENT) {
		*error_r = "cannot stat dovecot-keywords";
		rc = -1;
	}
	free(path);
	if (rc == 0 && *kw_r == NULL)
		*kw_r = xcalloc(1, sizeof(**kw_r));
	return rc;
}

int
store_keyword_letters_blocking(const char *folder, const char *const *names,
    size_t n, char *letters_r, const char **error_r)
{
	struct mdir_keywords	*kw;
	char			*path;
	size_t			 i, k, lfree;
	bool			 dirty = false;
	int			 rc = 0;

	memset(letters_r, 0, n);
	pthread_mutex_lock(&store_kw_lock);
	if (store_kw_read(folder, &kw, error_r) == -1) {
		pthread_mutex_unlock(&store_kw_lock);
		return -1;
	}
	for (i = 0; i < n; i++) {
		lfree = STORE_KW_LETTERS;
		for (k = 0; k < STORE_KW_LETTERS; k++) {
			if (kw->names[k] == NULL) {
				if (lfree == STORE_KW_LETTERS)
					lfree = k;
			} else if (strcasecmp(kw->names[k], names[i]) == 0)
				break;
		}
		if (k == STORE_KW_LETTERS && lfree < STORE_KW_LETTERS) {
			/* A new keyword takes the lowest free letter. */
			k = lfree;
			kw->names[k] = xstrdup(names[i]);
			dirty = true;
		}
		if (k < STORE_KW_LETTERS)
			letters_r[i] = (char)('a' + k);
	}
	if (dirty) {
		path = xasprintf("%s/dovecot-keywords", folder);
		/* The rename, too, before a name uses the new letter. */
		if ((rc = store_kw_write(path, kw, error_r)) == -1 ||
		    (rc = mdir_sidefiles_sync_blocking(folder, error_r)) == -1)
			memset(letters_r, 0, n);
		free(path);
	}
	pthread_mutex_unlock(&store_kw_lock);
	mdir_keywords_free(&kw);
	return rc;
}

/* Is name in list[0..n) (keywords match without regard to case)? */
static bool
store_kw_has(const char *const *list, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(list[i], name) == 0)
			return true;
	return false;
}

/* [worker] The keyword names message i of a flag job has afterwards. */
static size_t
store_mjob_kw_after(const struct store_mjob *j, size_t i, const char **out)
{
	size_t	 n = 0, k;

	if (j->mode != STORE_FLAGS_REPLACE) {
		for (k = 0; k < IDX_KEYWORDS_MAX; k++) {
			if (!(j->kwbits[i] & ((uint64_t)1 << k)) ||
			    j->kwnames[k] == NULL)
				continue;
			if (j->mode == STORE_FLAGS_REMOVE &&
			    store_kw_has((const char *const *)j->kw, j->nkw,
			    j->kwnames[k]))
				continue;
			out[n++] = j->kwnames[k];
		}
	}
	if (j->mode != STORE_FLAGS_REMOVE)
		for (k = 0; k < j->nkw; k++)
			if (!store_kw_has(out, n, j->kw[k]))
				out[n++] = j->kw[k];
	return n;
}

/*
 * [worker] STORE: rename each file to its new flag letters, keyword
 * letters included, so the name on disk says what the index will.
 */
static void
store_mjob_flag_files(struct store_mjob *j, const char *folder)
{
	const char	**all, **one;
	char		*kl, letters[MDIR_FLAGS_MAX], *nf, *p;
	const char	*e;
	size_t		 nall = 0, cap = IDX_KEYWORDS_MAX + j->nkw + 1;
	size_t		 i, k, m, no;

	/* Every keyword some message ends up with, each once. */
	all = xcalloc(cap, sizeof(*all));
	one = xcalloc(cap, sizeof(*one));
	for (i = 0; i < j->n; i++) {
		if (j->bases[i] == NULL)
			continue;
		no = store_mjob_kw_after(j, i, one);
		for (k = 0; k < no && nall < cap; k++)
			if (!store_kw_has(all, nall, one[k]))
				all[nall++] = one[k];
	}
	kl = xcalloc(nall + 1, 1);
	if (nall > 0 && store_keyword_letters_blocking(folder, all, nall, kl,
	    &e) == -1)
		log_warn("store keywords folder=%s error=\"%s\"", folder, e);
	for (i = 0; i < j->n; i++) {
		if (j->bases[i] == NULL)
			continue;
		store_flags_to_letters(j->newflags[i], letters);
		p = letters + strlen(letters);
		no = store_mjob_kw_after(j, i, one);
		for (k = 0; k < no; k++)
			for (m = 0; m < nall; m++)
				if (kl[m] != '\0' &&
				    strcasecmp(all[m], one[k]) == 0 &&
				    strchr(letters, kl[m]) == NULL &&
				    p < letters + sizeof(letters) - 1) {
					*p++ = kl[m];
					*p = '\0';
				}
		nf = NULL;
		if (mdir_set_flags_blocking(folder, j->bases[i], letters, &nf,
		    &e) == -1)
			log_warn("store flags-rename base=%s error=\"%s\"",
			    j->bases[i], e);
		free(nf);
	}
	free(kl);
	free(one);
	free(all);
}

static int
store_cmp_base(const void *a, const void *b)
{
	const struct mdir_entry	*x = a, *y = b;
	size_t			 n = x->base_len < y->base_len ?
			    x->base_len : y->base_len;
	int			 c = memcmp(x->fname, y->fname, n);

	if (c != 0)
		return c;
	return x->base_len < y->base_len ? -1 : x->base_len > y->base_len;
}

static struct mdir_entry *
store_find_entry(struct mdir_entry *list, size_t n, const char *base,
    size_t blen)
{
	struct mdir_entry	 key;

	memset(&key, 0, sizeof(key));
	key.fname = (char *)(uintptr_t)base;
	key.base_len = blen;
	return bsearch(&key, list, n, sizeof(*list), store_cmp_base);
}

/* [worker] Parse a file for the cache blobs and its CRLF size. */
static int
store_sync_parse(const char *path, struct idx_msg_new *nm, struct buf *env,
    struct buf *bs)
{
	struct mime_parser	*p;
	struct mime_msg		*mm;
	const struct mime_part	*root;
	const char		*e;
	char			 chunk[65536];
	ssize_t			 r;
	uint64_t		 total = 0;
	int			 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	p = mime_parser_new(NULL);
	while ((r = read(fd, chunk, sizeof(chunk))) > 0 &&
	    total < STORE_SYNC_MAX_FILE) {
		mime_parser_feed(p, chunk, (size_t)r);
		total += (uint64_t)r;
	}
	close(fd);
	if (mime_parser_finish(&p, &mm, &e) == -1)
		return -1;
	root = mime_msg_root(mm);
	nm->size = mime_part_hdr_vsize(root) + mime_part_body_vsize(root);
	mime_envelope(mm, env);
	mime_bodystructure(mm, true, bs);
	nm->envelope = env->data;
	nm->envelope_len = env->len;
	nm->bodystructure = bs->data;
	nm->bodystructure_len = bs->len;
	mime_msg_free(&mm);
	return 0;
}

/*
 * [worker] The keyword names the letters of a file name stand for;
 * out has room for STORE_KW_LETTERS.
 */
static size_t
store_sync_letter_kw(const struct mdir_keywords *kw, const char *flags,
    const char **out)
{
	size_t	 n = 0;

	for (; *flags != '\0'; flags++)
		if (*flags >= 'a' && *flags <= 'z' && n < STORE_KW_LETTERS &&
		    kw->names[*flags - 'a'] != NULL)
			out[n++] = kw->names[*flags - 'a'];
	return n;
}

/*
 * [worker] Keywords a known file's letters add to its index record
 * (never removed here: see the header comment).
 */
static void
store_sync_kw_add(struct idx_batch *b, const struct idx_mbox *mb,
    const struct idx_msg *m, const struct mdir_keywords *kw,
    const char *const *names, const char *flags)
{
	const char	*fk[STORE_KW_LETTERS], *add[STORE_KW_LETTERS];
	size_t		 n, na = 0, i, k;

	n = store_sync_letter_kw(kw, flags, fk);
	for (i = 0; i < n; i++) {
		for (k = 0; k < IDX_KEYWORDS_MAX; k++)
			if ((m->keywords & ((uint64_t)1 << k)) &&
			    names[k] != NULL && strcasecmp(names[k], fk[i]) == 0)
				break;
		if (k == IDX_KEYWORDS_MAX)
			add[na++] = fk[i];
	}
	if (na > 0)
		idx_batch_msg_flags(b, mb->id, m->uid, IDX_FLAGS_ADD, 0, add,
		    na, 0);
}

static void
store_sync_files(struct store_mjob *j, const char *folder)
{
	struct store		*s = j->store;
	struct mdir_entry	*list = NULL, *ent;
	struct mdir_keywords	*kw = NULL;
	const char		*kwnames[IDX_KEYWORDS_MAX];
	const char		*fk[STORE_KW_LETTERS];
	struct idx_read		*rd;
	struct idx_iter		*it = NULL;
	struct idx_mbox		 mb;
	struct idx_msg		 m;
	struct idx_msg_new	 nm;
	struct buf		 env, bs;
	bool			*known = NULL;
	const char		*e;
	char			*path, *base;
	size_t			 n = 0, i;
	uint32_t		 ff;
	int			 r;
	size_t			 stale = 0;

	/*
	 * Dovecot's rule: tmp/ files untouched for 36 hours are leftovers of
	 * interrupted deliveries (a crash between open and rename), never
	 * messages; sweep them whenever the folder is synced.
	 */
	if (mdir_tmp_cleanup_blocking(folder, time(NULL), &stale, &e) == 0 &&
	    stale > 0)
		log_info("store tmp-cleanup folder=%s removed=%zu", folder, stale);

	if (mdir_scan_blocking(folder, &list, &n, &e) == -1) {
		store_mjob_fail(j, -1, e);
		return;
	}
	if (n > 1)		/* qsort(NULL, 0) is undefined */
		qsort(list, n, sizeof(*list), store_cmp_base);
	known = xcalloc(n + 1, sizeof(*known));
	j->batch = idx_batch_new();
	if (store_kw_read(folder, &kw, &e) == -1) {
		/* A broken file must not stop the sync: no letters then. */
		log_warn("store sync-keywords folder=%s error=\"%s\"", folder,
		    e);
		kw = xcalloc(1, sizeof(*kw));
	}
	if (idx_read_begin(s->idx, &rd, &e) == -1) {
		store_mjob_fail(j, -1, e);
		goto out;
	}
	r = idx_read_mailbox(rd, j->user, j->name, &mb, &e);
	if (r == 1 && idx_read_keywords(rd, mb.id, kwnames, &e) == -1)
		r = -1;
	if (r == 1)
		r = idx_iter_messages(rd, mb.id, 1, UINT32_MAX, &it, &e) == 0 ?
		    1 : -1;
	while (r == 1 && (r = idx_iter_next_message(it, &m, &e)) == 1) {
		ent = store_find_entry(list, n, m.basename, m.basename_len);
		if (ent == NULL) {
			idx_batch_msg_expunge(j->batch, mb.id, m.uid);
			continue;
		}
		known[ent - list] = true;
		ff = store_letters_to_flags(ent->flags);
		if ((ff & ~m.flags) != 0)
			idx_batch_msg_flags(j->batch, mb.id, m.uid,
			    IDX_FLAGS_ADD, ff & ~m.flags, NULL, 0, 0);
		if ((m.flags & IDX_F_ALL & ~ff) != 0)
			idx_batch_msg_flags(j->batch, mb.id, m.uid,
			    IDX_FLAGS_REMOVE, m.flags & IDX_F_ALL & ~ff, NULL, 0,
			    0);
		store_sync_kw_add(j->batch, &mb, &m, kw, kwnames, ent->flags);
	}
	idx_iter_free(&it);
	idx_read_end(&rd);
	if (r == -1) {
		store_mjob_fail(j, -1, e);
		goto out;
	}
	j->mbox = mb.id;
	for (i = 0; i < n; i++) {
		if (known[i])
			continue;
		memset(&nm, 0, sizeof(nm));
		buf_init(&env, 0);
		buf_init(&bs, 0);
		base = xstrndup(list[i].fname, list[i].base_len);
		path = xasprintf("%s/%s/%s", folder, list[i].in_new ? "new" :
		    "cur", list[i].fname);
		nm.basename = base;
		nm.flags = store_letters_to_flags(list[i].flags);
		nm.keywords = fk;
		nm.nkeywords = store_sync_letter_kw(kw, list[i].flags, fk);
		nm.internaldate = (int64_t)list[i].mtime;
		nm.vsize = list[i].size;
		if (store_sync_parse(path, &nm, &env, &bs) == 0) {
			if (list[i].has_vsize)
				nm.size = list[i].vsize;
			idx_batch_msg_add(j->batch, mb.id, &nm);
		} else
			log_warn("store sync-skip path=%s", path);
		free(path);
		free(base);
		buf_free(&env);
		buf_free(&bs);
	}
	idx_batch_mailbox_mtimes(j->batch, mb.id, &j->mt_new, &j->mt_cur);
out:
	mdir_keywords_free(&kw);
	free(known);
	mdir_entries_free(&list, n);
}

static void
store_mjob_files_run(void *arg)
{
	struct store_mjob	*j = arg;
	struct store		*s = j->store;
	char			*root = NULL, *folder = NULL;
	const char		*e;
	size_t			 i;

	/* Refused on the loop (no mailbox, keyword limit): touch nothing. */
	if (j->op == STORE_MOP_SUBSCRIBE || j->result != 0)
		return;
	if ((folder = store_mjob_folder(j, j->name)) == NULL)
		return;
	if (mdir_user_root(s->storage_path, j->user, &root, &e) == -1) {
		store_mjob_fail(j, -1, e);
		goto out;
	}
	switch (j->op) {
	case STORE_MOP_CREATE:
		if (mdir_folder_create_blocking(root, s->layout, s->sep,
		    s->utf8, j->name, &e) == -1)
			store_mjob_fail(j, -2, e);
		break;
	case STORE_MOP_DELETE:
		if (mdir_folder_delete_blocking(root, s->layout, s->sep,
		    s->utf8, j->name, &e) == -1)
			store_mjob_fail(j, -2, e);
		break;
	case STORE_MOP_RENAME:
		if (mdir_folder_rename_blocking(root, s->layout, s->sep,
		    s->utf8, j->name, j->name2, &e) == -1)
			store_mjob_fail(j, -2, e);
		break;
	case STORE_MOP_FLAGS:
		store_mjob_flag_files(j, folder);
		break;
	case STORE_MOP_EXPUNGE:
		for (i = 0; i < j->n; i++)
			if (j->bases[i] != NULL && mdir_expunge_blocking(folder,
			    j->bases[i], &e) == -1)
				log_warn("store expunge base=%s error=\"%s\"",
				    j->bases[i], e);
		break;
	case STORE_MOP_SYNC:
		store_sync_files(j, folder);
		break;
	case STORE_MOP_SUBSCRIBE:
		break;
	}
out:
	free(root);
	free(folder);
}

/* ---- [loop] entry points ---- */

void
store_mbox_create(struct store *s, const char *account, const char *name,
    store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j;

	j = store_mjob_new(s, STORE_MOP_CREATE, account, name, done, arg);
	work_submit(store_mjob_files_run, store_mjob_files_done, j);
}

void
store_mbox_delete(struct store *s, const char *account, const char *name,
    store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j;

	j = store_mjob_new(s, STORE_MOP_DELETE, account, name, done, arg);
	work_submit(store_mjob_files_run, store_mjob_files_done, j);
}

void
store_mbox_rename(struct store *s, const char *account, const char *from,
    const char *to, store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j;

	j = store_mjob_new(s, STORE_MOP_RENAME, account, from, done, arg);
	j->name2 = xstrdup(store_mailbox_name(to));
	work_submit(store_mjob_files_run, store_mjob_files_done, j);
}

/* [loop] Read the mailbox record; 1/0/-1 as idx. */
static int
store_mbox_read(struct store *s, const char *user, const char *name,
    struct idx_mbox *mb_r, const char **error_r)
{
	struct idx_read	*rd;
	int		 r;

	if (idx_read_begin(s->idx, &rd, error_r) == -1)
		return -1;
	r = idx_read_mailbox(rd, user, store_mailbox_name(name), mb_r,
	    error_r);
	idx_read_end(&rd);
	return r;
}

void
store_mbox_subscribe(struct store *s, const char *account, const char *name,
    bool on, store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j;
	struct idx_mbox		 mb;
	const char		*e = "Mailbox does not exist";

	j = store_mjob_new(s, STORE_MOP_SUBSCRIBE, account, name, done, arg);
	j->on = on;
	if (store_mbox_read(s, j->user, j->name, &mb, &e) != 1)
		store_mjob_fail(j, -2, e);
	else {
		j->mbox = mb.id;
		j->flags = mb.special_use;
	}
	/* Dovecot's subscriptions file is not rewritten yet (index only). */
	work_submit(store_mjob_files_run, store_mjob_files_done, j);
}

static bool
store_ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int
store_mbox_sync(struct store *s, const char *account, const char *name,
    store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j;
	struct idx_mbox		 mb;
	struct timespec		 mn, mc;
	char			*user, *root = NULL, *folder = NULL;
	const char		*e;
	int			 r;
	bool			 rescan;

	user = store_user(account);
	r = store_mbox_read(s, user, name, &mb, &e);
	if (r != 1) {
		free(user);
		return -1;
	}
	if (mdir_user_root(s->storage_path, user, &root, &e) == -1 ||
	    mdir_folder_path(root, s->layout, s->sep, s->utf8,
	    store_mailbox_name(name), &folder, &e) == -1 ||
	    mdir_dir_mtimes(folder, &mn, &mc, &e) == -1) {
		free(user);
		free(root);
		free(folder);
		return -1;
	}
	free(root);
	free(folder);
	free(user);
	rescan = store_mailbox_needs_rescan(s, account, name, true);
	if (!rescan && store_ts_eq(&mn, &mb.mtime_new) &&
	    store_ts_eq(&mc, &mb.mtime_cur))
		return 0;
	j = store_mjob_new(s, STORE_MOP_SYNC, account, name, done, arg);
	j->mt_new = mn;
	j->mt_cur = mc;
	work_submit(store_mjob_files_run, store_mjob_files_done, j);
	return 1;
}

/* Collect base names and, for flags, the resulting flags. */
static struct store_mjob *
store_mjob_msgs(struct store *s, enum store_mop op, const char *account,
    const char *name, const uint32_t *uids, size_t n,
    store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j;
	struct idx_read		*rd;
	struct idx_mbox		 mb;
	struct idx_msg		 m;
	const char		*names[IDX_KEYWORDS_MAX];
	const char		*e = "Mailbox does not exist";
	size_t			 i;
	int			 r;

	j = store_mjob_new(s, op, account, name, done, arg);
	j->n = n;
	j->uids = xcalloc(n + 1, sizeof(*j->uids));
	if (n > 0)
		memcpy(j->uids, uids, n * sizeof(*uids));
	j->bases = xcalloc(n + 1, sizeof(*j->bases));
	j->newflags = xcalloc(n + 1, sizeof(*j->newflags));
	j->modseqs = xcalloc(n + 1, sizeof(*j->modseqs));
	j->kwbits = xcalloc(n + 1, sizeof(*j->kwbits));
	if (idx_read_begin(s->idx, &rd, &e) == -1) {
		store_mjob_fail(j, -1, e);
		return j;
	}
	r = idx_read_mailbox(rd, j->user, j->name, &mb, &e);
	if (r != 1) {
		idx_read_end(&rd);
		store_mjob_fail(j, r == 0 ? -2 : -1, r == 0 ?
		    "Mailbox does not exist" : e);
		return j;
	}
	j->mbox = mb.id;
	/* The names of the keyword bits, for the file names. */
	if (op == STORE_MOP_FLAGS) {
		if (idx_read_keywords(rd, mb.id, names, &e) == -1) {
			idx_read_end(&rd);
			store_mjob_fail(j, -1, e);
			return j;
		}
		for (i = 0; i < IDX_KEYWORDS_MAX; i++)
			if (names[i] != NULL)
				j->kwnames[i] = xstrdup(names[i]);
	}
	for (i = 0; i < n; i++) {
		if (idx_read_message(rd, mb.id, uids[i], &m, &e) != 1)
			continue;
		j->bases[i] = xstrndup(m.basename, m.basename_len);
		j->newflags[i] = m.flags;
		j->modseqs[i] = m.modseq;
		j->kwbits[i] = m.keywords;
	}
	idx_read_end(&rd);
	return j;
}

/*
 * [loop] Would adding the job's keywords define more than the mailbox
 * can hold?  Checked on the snapshot before any file changes; the index
 * checks again at commit.
 */
static bool
store_mjob_kw_over(const struct store_mjob *j)
{
	size_t	 used = 0, add = 0, i, k;

	if (j->mode == STORE_FLAGS_REMOVE || j->nkw == 0)
		return false;
	for (k = 0; k < IDX_KEYWORDS_MAX; k++)
		used += j->kwnames[k] != NULL;
	for (i = 0; i < j->nkw; i++) {
		for (k = 0; k < IDX_KEYWORDS_MAX; k++)
			if (j->kwnames[k] != NULL &&
			    strcasecmp(j->kwnames[k], j->kw[i]) == 0)
				break;
		if (k == IDX_KEYWORDS_MAX)
			add++;
	}
	return used + add > IDX_KEYWORDS_MAX;
}

void
store_mbox_flags(struct store *s, const char *account, const char *name,
    const uint32_t *uids, size_t n, enum store_flag_mode mode,
    uint32_t flags, store_mbox_done_fn *done, void *arg)
{
	struct store_flag_change	 fc;

	memset(&fc, 0, sizeof(fc));
	fc.mode = mode;
	fc.flags = flags;
	store_mbox_flags_change(s, account, name, uids, n, &fc, done, arg);
}

void
store_mbox_flags_change(struct store *s, const char *account,
    const char *name, const uint32_t *uids, size_t n,
    const struct store_flag_change *fc, store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j;
	size_t			 i, k;

	if (fc->cond)
		*fc->nmodified_r = 0;
	j = store_mjob_msgs(s, STORE_MOP_FLAGS, account, name, uids, n, done,
	    arg);
	j->mode = fc->mode;
	j->flags = fc->flags & IDX_F_ALL;
	if (fc->nkeywords > 0) {
		j->kw = xcalloc(fc->nkeywords, sizeof(*j->kw));
		for (i = 0; i < fc->nkeywords; i++)
			if (!store_kw_has((const char *const *)j->kw, j->nkw,
			    fc->keywords[i]))
				j->kw[j->nkw++] = xstrdup(fc->keywords[i]);
	}
	if (j->result == 0 && store_mjob_kw_over(j))
		store_mjob_fail(j, -2, STORE_ERR_KEYWORDS);
	if (fc->cond) {
		j->unchangedsince = fc->unchangedsince;
		j->modified = fc->modified_r;
		j->nmodified = fc->nmodified_r;
		/*
		 * RFC 7162 3.1.3: a message changed after unchangedsince is
		 * not touched.  Drop those already visible in the snapshot
		 * before the file names change; the index checks again at
		 * commit (a race with another writer is then reported the
		 * same way, though its file may have been renamed; the next
		 * sync reconciles the letters).
		 */
		for (i = 0, k = 0; i < j->n; i++) {
			if (j->bases[i] != NULL &&
			    j->modseqs[i] > fc->unchangedsince) {
				fc->modified_r[(*fc->nmodified_r)++] =
				    j->uids[i];
				free(j->bases[i]);
				continue;
			}
			j->uids[k] = j->uids[i];
			j->bases[k] = j->bases[i];
			j->newflags[k] = j->newflags[i];
			j->modseqs[k] = j->modseqs[i];
			j->kwbits[k] = j->kwbits[i];
			k++;
		}
		j->n = k;
	}
	for (i = 0; i < j->n; i++) {
		if (j->mode == STORE_FLAGS_ADD)
			j->newflags[i] |= j->flags;
		else if (j->mode == STORE_FLAGS_REMOVE)
			j->newflags[i] &= ~j->flags;
		else
			j->newflags[i] = j->flags;
	}
	work_submit(store_mjob_files_run, store_mjob_files_done, j);
}

void
store_mbox_expunge(struct store *s, const char *account, const char *name,
    const uint32_t *uids, size_t n, store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j;

	j = store_mjob_msgs(s, STORE_MOP_EXPUNGE, account, name, uids, n, done,
	    arg);
	work_submit(store_mjob_files_run, store_mjob_files_done, j);
}

/* ---- views ---- */

struct store_view {
	struct idx_read		*rd;
	struct store_mailbox	 mb;
	uint32_t		 id;
	uint64_t		 tomb_horizon;
};

int
store_view_open(struct store *s, const char *account, const char *name,
    struct store_view **view_r, const char **error_r)
{
	struct store_view	*v;
	struct idx_mbox		 mb;
	char			*user;
	int			 r;

	*view_r = NULL;
	v = xcalloc(1, sizeof(*v));
	if (idx_read_begin(s->idx, &v->rd, error_r) == -1) {
		free(v);
		return -1;
	}
	user = store_user(account);
	r = idx_read_mailbox(v->rd, user, store_mailbox_name(name), &mb,
	    error_r);
	free(user);
	if (r != 1) {
		idx_read_end(&v->rd);
		free(v);
		return r;
	}
	v->id = mb.id;
	v->tomb_horizon = mb.tomb_horizon;
	v->mb.uidvalidity = mb.uidvalidity;
	v->mb.uidnext = mb.uidnext;
	v->mb.messages = mb.messages;
	v->mb.unseen = mb.unseen;
	v->mb.size = mb.size_total;
	v->mb.highestmodseq = mb.highestmodseq;
	v->mb.subscribed = mb.subscribed;
	v->mb.special_use = mb.special_use;
	*view_r = v;
	return 1;
}

const struct store_mailbox *
store_view_mailbox(const struct store_view *v)
{
	return &v->mb;
}

static void
store_view_fill(const struct idx_msg *m, struct store_msginfo *r)
{
	r->uid = m->uid;
	r->flags = m->flags;
	r->keywords = m->keywords;
	r->modseq = m->modseq;
	r->internaldate = m->internaldate;
	r->size = m->size;
}

int
store_view_messages(struct store_view *v, struct store_msginfo **list_r,
    size_t *count_r, const char **error_r)
{
	struct idx_iter		*it;
	struct idx_msg		 m;
	struct store_msginfo	*l = NULL;
	size_t			 n = 0, cap = 0;
	int			 r;

	*list_r = NULL;
	*count_r = 0;
	if (idx_iter_messages(v->rd, v->id, 1, UINT32_MAX, &it, error_r) == -1)
		return -1;
	while ((r = idx_iter_next_message(it, &m, error_r)) == 1) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			l = xreallocarray(l, cap, sizeof(*l));
		}
		store_view_fill(&m, &l[n++]);
	}
	idx_iter_free(&it);
	if (r == -1) {
		free(l);
		return -1;
	}
	*list_r = l;
	*count_r = n;
	return 0;
}

int
store_view_msg(struct store_view *v, uint32_t uid, struct store_msginfo *r,
    const char **error_r)
{
	struct idx_msg	 m;
	int		 rc;

	if ((rc = idx_read_message(v->rd, v->id, uid, &m, error_r)) == 1)
		store_view_fill(&m, r);
	return rc;
}

int
store_view_cache(struct store_view *v, uint32_t uid, const void **env_r,
    size_t *envlen_r, const void **bs_r, size_t *bslen_r,
    const char **error_r)
{
	return idx_read_cache(v->rd, v->id, uid, env_r, envlen_r, bs_r,
	    bslen_r, error_r);
}

int
store_view_keywords(struct store_view *v,
    const char *names_r[STORE_MBOX_KEYWORDS_MAX], const char **error_r)
{
	return idx_read_keywords(v->rd, v->id, names_r, error_r);
}

void
store_view_close(struct store_view **vp)
{
	struct store_view	*v = *vp;

	if (v == NULL)
		return;
	idx_read_end(&v->rd);
	xfree(*vp);
}

/* ---- CONDSTORE/QRESYNC, QUOTA, CREATE-SPECIAL-USE ---- */

void
store_mbox_flags_cond(struct store *s, const char *account, const char *name,
    const uint32_t *uids, size_t n, enum store_flag_mode mode, uint32_t flags,
    uint64_t unchangedsince, uint32_t *modified_r, size_t *nmodified_r,
    store_mbox_done_fn *done, void *arg)
{
	struct store_flag_change	 fc;

	memset(&fc, 0, sizeof(fc));
	fc.mode = mode;
	fc.flags = flags;
	fc.cond = true;
	fc.unchangedsince = unchangedsince;
	fc.modified_r = modified_r;
	fc.nmodified_r = nmodified_r;
	store_mbox_flags_change(s, account, name, uids, n, &fc, done, arg);
}

int
store_mbox_create_special(struct store *s, const char *account,
    const char *name, const char *const *uses, size_t nuses,
    store_mbox_done_fn *done, void *arg)
{
	struct store_mjob	*j;
	uint32_t		 su = 0, bit;
	size_t			 i;

	for (i = 0; i < nuses; i++) {
		if ((bit = store_special_use_bits(uses[i])) == 0)
			return -1;
		su |= bit;
	}
	j = store_mjob_new(s, STORE_MOP_CREATE, account, name, done, arg);
	j->flags = su;
	work_submit(store_mjob_files_run, store_mjob_files_done, j);
	return 0;
}

int
store_mbox_quota(struct store *s, const char *account, uint64_t *used_r,
    uint64_t *limit_r, const char **error_r)
{
	struct idx_read			*rd;
	struct idx_usage		 u;
	char				*user;
	int				 r;

	*used_r = 0;
	*limit_r = 0;
	user = store_user(account);
	*limit_r = store_quota_of(s->conf, user);	/* as delivery checks */
	if (idx_read_begin(s->idx, &rd, error_r) == -1) {
		free(user);
		return -1;
	}
	memset(&u, 0, sizeof(u));
	r = idx_read_usage(rd, user, &u, error_r);
	idx_read_end(&rd);
	free(user);
	if (r == -1)
		return -1;
	*used_r = u.bytes;
	return 0;
}

static int
store_cmp_u32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
store_view_vanished(struct store_view *v, uint64_t since, uint32_t **uids_r,
    size_t *n_r, const char **error_r)
{
	struct idx_iter	*it;
	uint32_t	*l = NULL, uid;
	uint64_t	 ms;
	size_t		 n = 0, cap = 0;
	int		 r;

	*uids_r = NULL;
	*n_r = 0;
	if (idx_iter_vanished(v->rd, v->id, since, &it, error_r) == -1)
		return -1;
	while ((r = idx_iter_next_vanished(it, &uid, &ms, error_r)) == 1) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			l = xreallocarray(l, cap, sizeof(*l));
		}
		l[n++] = uid;
	}
	idx_iter_free(&it);
	if (r == -1) {
		free(l);
		return -1;
	}
	/* The iterator walks in modseq order; callers want UIDs. */
	if (n > 1)
		qsort(l, n, sizeof(*l), store_cmp_u32);
	*uids_r = l;
	*n_r = n;
	return 0;
}

uint64_t
store_view_tomb_horizon(const struct store_view *v)
{
	return v->tomb_horizon;
}
