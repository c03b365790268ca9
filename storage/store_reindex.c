/*
 * store_reindex.c - the offline index tools behind `postern reindex` and
 * `postern check`: rebuild or verify the LMDB index from the Maildir,
 * which is the truth for content and standard flags (DESIGN.md "On
 * disk").
 *
 * Per account and folder:
 *   - no index record for the folder: create it, importing Dovecot's
 *     dovecot-uidlist (UIDVALIDITY, each file's UID, next UID) and
 *     dovecot-keywords (keyword letters in file names) when present, so
 *     clients that migrate from Dovecot keep their caches;
 *   - a record exists: sync it, keeping UIDVALIDITY, UIDs and keywords:
 *     files the index lacks are added with new UIDs, index entries whose
 *     file is gone are expunged, standard flags follow the file names;
 *   - index mailboxes with no folder on disk are deleted.
 * Every added message is parsed for the cached ENVELOPE and
 * BODYSTRUCTURE.  Quota usage is recomputed at the end.  check does the
 * same comparison without writing and reports what differs.
 *
 * Owns struct store_tool (one run) and its scratch lists.  Threads: the
 * CLI's main thread only, with no event loop: everything here blocks and
 * it opens the index itself, so reindex must not run while the daemon
 * does (cmd_store.c refuses when the control socket answers); check only
 * reads and may run beside the daemon.  Reports go to stdout, warnings
 * to stderr.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "hmap.h"
#include "idx.h"
#include "mdir.h"
#include "mime.h"
#include "store.h"
#include "store_private.h"
#include "str.h"
#include "xmalloc.h"

#define STORE_TOOL_BATCH	256	/* message adds per index commit */
#define STORE_TOOL_CHUNK	(64 * 1024)
#define STORE_TOOL_KW_MAX	26

struct store_tool {
	const struct conf	*conf;
	struct idx		*idx;
	const char		*storage_path;
	enum mdir_layout	 layout;
	char			 sep;
	bool			 utf8;
	unsigned int		 opts;
	bool			 check;		/* report only, never write */
	size_t			 problems;
	size_t			 added, expunged, reflagged, imported;
	size_t			 mailboxes;
	char			 ebuf[512];
};

/* One message of the index, copied out of its snapshot. */
struct store_tool_imsg {
	uint32_t	 uid;
	uint32_t	 flags;
	uint64_t	 keywords;
	uint64_t	 size;
	char		*base;
	bool		 matched;	/* a file has its base name */
};

/* ---- helpers ---- */

static void	store_tool_problem(struct store_tool *, const char *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

static void
store_tool_problem(struct store_tool *t, const char *user, const char *mbox,
    const char *fmt, ...)
{
	va_list	 ap;

	t->problems++;
	printf("%s %s: ", user, mbox);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static bool
store_tool_exists(const char *path)
{
	struct stat	 st;

	return stat(path, &st) == 0;
}

/*
 * Read one message file: its CRLF size (RFC822.SIZE) and the cached
 * ENVELOPE and BODYSTRUCTURE strings.  -1 if it cannot be read (it may
 * have been expunged meanwhile).
 */
static int
store_tool_parse(const char *path, uint64_t *crlf_size_r, struct buf *env,
    struct buf *bs)
{
	struct mime_parser	*p;
	struct mime_msg		*mm;
	const char		*e;
	unsigned char		*chunk;
	uint64_t		 size = 0;
	ssize_t			 n;
	size_t			 i;
	bool			 last_cr = false;
	int			 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	p = mime_parser_new(NULL);
	chunk = xmalloc(STORE_TOOL_CHUNK);
	for (;;) {
		n = read(fd, chunk, STORE_TOOL_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		mime_parser_feed(p, chunk, (size_t)n);
		/* RFC822.SIZE counts a bare LF as CRLF. */
		for (i = 0; i < (size_t)n; i++) {
			if (chunk[i] == '\n' && !last_cr)
				size++;
			last_cr = chunk[i] == '\r';
		}
		size += (uint64_t)n;
	}
	free(chunk);
	close(fd);
	if (n == -1) {
		mime_parser_free(&p);
		return -1;
	}
	if (mime_parser_finish(&p, &mm, &e) == 0) {
		mime_envelope(mm, env);
		mime_bodystructure(mm, true, bs);
		mime_msg_free(&mm);
	}
	*crlf_size_r = size;
	return 0;
}

static int
store_tool_commit(struct store_tool *t, struct idx_batch **bp,
    const char **error_r)
{
	int	 rc = 0;

	if (*bp != NULL && idx_batch_count(*bp) > 0)
		rc = idx_batch_commit_blocking(t->idx, *bp, error_r);
	idx_batch_free(bp);
	return rc;
}

/* ---- one folder ---- */

struct store_tool_folder {
	struct store_tool	*t;
	const char		*user;
	const char		*name;
	char			*path;
	struct mdir_entry	*files;
	size_t			 nfiles;
	struct mdir_uidlist	*uidlist;
	struct mdir_keywords	*kw;
	struct idx_batch	*b;
	size_t			 nadds;
	uint32_t		 mbox;
};

/* Map a file's keyword letters through dovecot-keywords. */
static size_t
store_tool_file_keywords(const struct store_tool_folder *f,
    const struct mdir_entry *e, const char **kw_r)
{
	const char	*p;
	size_t		 n = 0;

	if (f->kw == NULL)
		return 0;
	for (p = e->flags; *p != '\0' && n < STORE_TOOL_KW_MAX; p++)
		if (*p >= 'a' && *p <= 'z' && f->kw->names[*p - 'a'] != NULL)
			kw_r[n++] = f->kw->names[*p - 'a'];
	return n;
}

/* Queue one file as a new message with uid (0: next). */
static int
store_tool_add(struct store_tool_folder *f, const struct mdir_entry *e,
    uint32_t uid, const char **error_r)
{
	struct idx_msg_new	 nm;
	struct buf		 env = BUF_INIT, bs = BUF_INIT;
	const char		*kw[STORE_TOOL_KW_MAX];
	char			*path, *base;
	uint64_t		 crlf;
	int			 rc = 0;

	path = xasprintf("%s/%s/%s", f->path, e->in_new ? "new" : "cur",
	    e->fname);
	if (store_tool_parse(path, &crlf, &env, &bs) == -1) {
		fprintf(stderr, "postern: %s: %s (skipped)\n", path,
		    strerror(errno));
		free(path);
		return 0;
	}
	free(path);
	base = xstrndup(e->fname, e->base_len);
	memset(&nm, 0, sizeof(nm));
	nm.basename = base;
	nm.flags = store_letters_to_flags(e->flags);
	nm.keywords = kw;
	nm.nkeywords = store_tool_file_keywords(f, e, kw);
	nm.internaldate = (int64_t)e->mtime;	/* Dovecot's INTERNALDATE */
	nm.size = e->has_vsize ? e->vsize : crlf;
	nm.vsize = e->size;
	nm.uid = uid;
	nm.envelope = env.data;
	nm.envelope_len = env.len;
	nm.bodystructure = bs.data;
	nm.bodystructure_len = bs.len;
	if (f->b == NULL)
		f->b = idx_batch_new();
	idx_batch_msg_add(f->b, f->mbox, &nm);
	f->t->added++;
	free(base);
	buf_free(&env);
	buf_free(&bs);
	if (++f->nadds % STORE_TOOL_BATCH == 0)
		rc = store_tool_commit(f->t, &f->b, error_r);
	return rc;
}

static int
store_tool_fname_cmp(const void *a, const void *b)
{
	const struct mdir_entry	*const *x = a, *const *y = b;

	return strcmp((*x)->fname, (*y)->fname);
}

/*
 * A new index mailbox: UIDs from dovecot-uidlist in ascending order
 * (the parser guarantees that order), then the other files, in name
 * (= delivery time) order, with fresh UIDs from the uidlist's next UID.
 */
static size_t
store_tool_short_len(const char *base, size_t len)
{
	const char	*comma = memchr(base, ',', len);

	return comma != NULL ? (size_t)(comma - base) : len;
}

/*
 * The file a uidlist entry names: by its whole base name (Dovecot keeps
 * ",S=..,W=.." in it), else by the part before the first ',', since
 * hand-made or older lists leave those fields out.
 */
static struct mdir_entry *
store_tool_find(struct store_tool_folder *f, struct hmap *full,
    struct hmap *shrt, bool *used, const char *base)
{
	struct mdir_entry	*e;
	size_t			 len = strlen(base);

	if ((e = hmap_get(full, base, len)) == NULL)
		e = hmap_get(shrt, base, store_tool_short_len(base, len));
	if (e == NULL || used[e - f->files])
		return NULL;
	used[e - f->files] = true;
	return e;
}

/*
 * A new index mailbox: UIDs from dovecot-uidlist in ascending order
 * (the parser guarantees that order), then the other files, in name
 * (= delivery time) order, with fresh UIDs from the uidlist's next UID.
 */
static int
store_tool_import(struct store_tool_folder *f, const char **error_r)
{
	struct mdir_uidlist	*ul = f->uidlist;
	struct mdir_uidlist_entry *ue;
	struct mdir_entry	**rest, *e;
	struct hmap		*full, *shrt;
	size_t			 i, nrest = 0;
	uint32_t		 last = 0;
	bool			*used;
	int			 rc = 0;

	full = hmap_new();
	shrt = hmap_new();
	used = xcalloc(f->nfiles + 1, sizeof(*used));
	for (i = f->nfiles; i-- > 0; ) {
		/* Backwards: of two files with one base, new/ wins. */
		e = &f->files[i];
		hmap_put(full, e->fname, e->base_len, e);
		hmap_put(shrt, e->fname, store_tool_short_len(e->fname,
		    e->base_len), e);
	}
	for (i = 0; ul != NULL && i < ul->count && rc == 0; i++) {
		ue = &ul->entries[i];
		if ((e = store_tool_find(f, full, shrt, used,
		    ue->base)) == NULL)
			continue;	/* expunged since Dovecot wrote it */
		rc = store_tool_add(f, e, ue->uid, error_r);
		last = ue->uid;
		f->t->imported++;
	}
	/*
	 * Dovecot may have handed out UIDs up to N-1 to messages expunged
	 * since: new ones must start at N.
	 */
	if (rc == 0 && ul != NULL && ul->uidnext > 1 &&
	    ul->uidnext - 1 > last) {
		if (f->b == NULL)
			f->b = idx_batch_new();
		idx_batch_mailbox_uidnext(f->b, f->mbox, ul->uidnext);
	}
	rest = xcalloc(f->nfiles + 1, sizeof(*rest));
	for (i = 0; i < f->nfiles; i++) {
		e = &f->files[i];
		/* Skip uidlist hits and the cur/ twin of a new/ file. */
		if (!used[i] && hmap_get(full, e->fname, e->base_len) == e)
			rest[nrest++] = e;
	}
	qsort(rest, nrest, sizeof(*rest), store_tool_fname_cmp);
	for (i = 0; i < nrest && rc == 0; i++)
		rc = store_tool_add(f, rest[i], 0, error_r);
	free(rest);
	free(used);
	hmap_free(&full, NULL);
	hmap_free(&shrt, NULL);
	return rc;
}

static void
store_tool_imsgs_free(struct store_tool_imsg *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i].base);
	free(v);
}

/* Copy the mailbox's messages out of one snapshot. */
static int
store_tool_load(struct store_tool *t, uint32_t mbox,
    struct store_tool_imsg **v_r, size_t *n_r, const char **error_r)
{
	struct idx_read		*rd;
	struct idx_iter		*it = NULL;
	struct idx_msg		 m;
	struct store_tool_imsg	*v = NULL;
	size_t			 n = 0, cap = 0;
	int			 r;

	*v_r = NULL;
	*n_r = 0;
	if (idx_read_begin(t->idx, &rd, error_r) == -1)
		return -1;
	r = idx_iter_messages(rd, mbox, 1, UINT32_MAX, &it, error_r);
	while (r == 0 && (r = idx_iter_next_message(it, &m, error_r)) == 1) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n].uid = m.uid;
		v[n].flags = m.flags;
		v[n].keywords = m.keywords;
		v[n].size = m.size;
		v[n].base = xstrndup(m.basename, m.basename_len);
		v[n].matched = false;
		n++;
		r = 0;
	}
	idx_iter_free(&it);
	idx_read_end(&rd);
	if (r == -1) {
		store_tool_imsgs_free(v, n);
		return -1;
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

/* Print a mailbox and its messages (check --verbose). */
static int
store_tool_list(struct store_tool *t, const char *user, const char *name,
    const char **error_r)
{
	struct idx_read		*rd;
	struct idx_iter		*it = NULL;
	struct idx_mbox		 mb;
	struct idx_msg		 m;
	const char		*kw[IDX_KEYWORDS_MAX];
	char			 letters[8];
	unsigned int		 i;
	int			 r, sep;

	if (idx_read_begin(t->idx, &rd, error_r) == -1)
		return -1;
	if ((r = idx_read_mailbox(rd, user, name, &mb, error_r)) != 1 ||
	    (r = idx_read_keywords(rd, mb.id, kw, error_r)) == -1) {
		idx_read_end(&rd);
		return r == -1 ? -1 : 0;
	}
	printf("mailbox %s %s uidvalidity=%" PRIu32 " uidnext=%" PRIu32
	    " messages=%" PRIu32 " unseen=%" PRIu32 " highestmodseq=%" PRIu64
	    "\n", user, name, mb.uidvalidity, mb.uidnext, mb.messages,
	    mb.unseen, mb.highestmodseq);
	r = idx_iter_messages(rd, mb.id, 1, UINT32_MAX, &it, error_r);
	while (r == 0 && (r = idx_iter_next_message(it, &m, error_r)) == 1) {
		store_flags_to_letters(m.flags, letters);
		printf("  uid=%" PRIu32 " flags=%s keywords=", m.uid,
		    letters[0] != '\0' ? letters : "-");
		sep = 0;
		for (i = 0; i < IDX_KEYWORDS_MAX; i++)
			if ((m.keywords & ((uint64_t)1 << i)) && kw[i] != NULL) {
				printf("%s%s", sep ? "," : "", kw[i]);
				sep = 1;
			}
		printf("%s size=%" PRIu64 " file=%.*s\n", sep ? "" : "-",
		    m.size, (int)m.basename_len, m.basename);
		r = 0;
	}
	idx_iter_free(&it);
	idx_read_end(&rd);
	return r == -1 ? -1 : 0;
}

/*
 * An existing index mailbox: keep its UIDs, follow the files.  In check
 * mode, count and report the differences instead.
 */
static int
store_tool_sync(struct store_tool_folder *f, const struct idx_mbox *mb,
    const char **error_r)
{
	struct store_tool	*t = f->t;
	struct store_tool_imsg	*v, *im;
	struct mdir_entry	*e;
	struct hmap		*byname, *seen;
	uint32_t		 want, unseen = 0, deleted = 0;
	uint64_t		 total = 0;
	size_t			 n, i, before = t->problems;
	int			 rc = 0;

	if (store_tool_load(t, f->mbox, &v, &n, error_r) == -1)
		return -1;
	byname = hmap_new();
	seen = hmap_new();
	for (i = 0; i < n; i++)
		hmap_put(byname, v[i].base, strlen(v[i].base), &v[i]);
	for (i = 0; i < f->nfiles && rc == 0; i++) {
		e = &f->files[i];
		if (hmap_put(seen, e->fname, e->base_len, e) != NULL) {
			/* Same base name in new/ and cur/: a half rename. */
			if (t->check)
				store_tool_problem(t, f->user, f->name,
				    "two files share the base name of %s",
				    e->fname);
			continue;
		}
		im = hmap_get(byname, e->fname, e->base_len);
		if (im == NULL) {
			if (t->check)
				store_tool_problem(t, f->user, f->name,
				    "file not indexed: %s", e->fname);
			else
				rc = store_tool_add(f, e, 0, error_r);
			continue;
		}
		im->matched = true;
		want = store_letters_to_flags(e->flags);
		if (want == im->flags)
			continue;
		if (t->check) {
			store_tool_problem(t, f->user, f->name,
			    "flags differ between index and file %s",
			    e->fname);
			continue;
		}
		if (f->b == NULL)
			f->b = idx_batch_new();
		/* ADD then REMOVE: keywords stay as they are. */
		if (want & ~im->flags)
			idx_batch_msg_flags(f->b, f->mbox, im->uid,
			    IDX_FLAGS_ADD, want & ~im->flags, NULL, 0, 0);
		if (im->flags & ~want)
			idx_batch_msg_flags(f->b, f->mbox, im->uid,
			    IDX_FLAGS_REMOVE, im->flags & ~want, NULL, 0, 0);
		t->reflagged++;
	}
	for (i = 0; i < n && rc == 0; i++) {
		im = &v[i];
		if (im->matched) {
			total += im->size;
			if (!(im->flags & IDX_F_SEEN))
				unseen++;
			if (im->flags & IDX_F_DELETED)
				deleted++;
			continue;
		}
		if (t->check) {
			store_tool_problem(t, f->user, f->name,
			    "indexed message has no file: %s", im->base);
			continue;
		}
		if (f->b == NULL)
			f->b = idx_batch_new();
		idx_batch_msg_expunge(f->b, f->mbox, im->uid);
		t->expunged++;
	}
	if (t->check && t->problems == before) {
		/* Only worth comparing when the message sets agree. */
		snprintf(t->ebuf, sizeof(t->ebuf), "messages=%" PRIu32
		    "/%zu unseen=%" PRIu32 "/%" PRIu32 " deleted=%" PRIu32
		    "/%" PRIu32 " size=%" PRIu64 "/%" PRIu64, mb->messages, n,
		    mb->unseen, unseen, mb->deleted, deleted, mb->size_total,
		    total);
		if (mb->messages != n || mb->unseen != unseen ||
		    mb->deleted != deleted || mb->size_total != total)
			store_tool_problem(t, f->user, f->name,
			    "counters differ (index/actual): %s", t->ebuf);
	}
	store_tool_imsgs_free(v, n);
	hmap_free(&byname, NULL);
	hmap_free(&seen, NULL);
	return rc;
}

static uint32_t
store_tool_conf_special_use(const struct conf *conf, const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->nmailboxes; i++)
		if (strcmp(conf->mailboxes[i].name, name) == 0)
			return store_special_use_bits(
			    conf->mailboxes[i].special_use);
	return 0;
}

/* Read a mailbox record: 1 found, 0 not, -1 error. */
static int
store_tool_mailbox(struct store_tool *t, const char *user, const char *name,
    struct idx_mbox *mb_r, const char **error_r)
{
	struct idx_read	*rd;
	int		 r;

	if (idx_read_begin(t->idx, &rd, error_r) == -1)
		return -1;
	r = idx_read_mailbox(rd, user, name, mb_r, error_r);
	idx_read_end(&rd);
	return r;
}

static int
store_tool_folder(struct store_tool *t, const char *user, const char *root,
    const char *name, bool subscribed, const char **error_r)
{
	struct store_tool_folder f;
	struct idx_batch	*b;
	struct idx_mbox		 mb;
	struct timespec		 mt_new, mt_cur;
	const struct idx_result	*res;
	char			*p;
	const char		*e;
	uint32_t		 su;
	size_t			 op;
	int			 r, rc = -1;
	bool			 fresh = false;

	memset(&f, 0, sizeof(f));
	f.t = t;
	f.user = user;
	f.name = name;
	t->mailboxes++;
	if (mdir_folder_path(root, t->layout, t->sep, t->utf8, name, &f.path,
	    error_r) == -1 ||
	    mdir_dir_mtimes(f.path, &mt_new, &mt_cur, error_r) == -1 ||
	    mdir_scan_blocking(f.path, &f.files, &f.nfiles, error_r) == -1)
		goto out;
	if ((r = store_tool_mailbox(t, user, name, &mb, error_r)) == -1)
		goto out;
	if (r == 0 && t->check) {
		store_tool_problem(t, user, name, "%s", "folder not indexed");
		rc = 0;
		goto out;
	}
	su = store_tool_conf_special_use(t->conf, name);
	if (r == 0) {
		fresh = true;
		p = xasprintf("%s/dovecot-uidlist", f.path);
		if (store_tool_exists(p) &&
		    mdir_uidlist_read_blocking(p, &f.uidlist, &e) == -1)
			fprintf(stderr, "postern: %s (ignored)\n", e);
		free(p);
		p = xasprintf("%s/dovecot-keywords", f.path);
		if (store_tool_exists(p) &&
		    mdir_keywords_read_blocking(p, &f.kw, &e) == -1)
			fprintf(stderr, "postern: %s (ignored)\n", e);
		free(p);
		b = idx_batch_new();
		op = idx_batch_mailbox_create(b, user, name,
		    f.uidlist != NULL ? f.uidlist->uidvalidity : 0, su);
		if (idx_batch_commit_blocking(t->idx, b, error_r) == -1) {
			idx_batch_free(&b);
			goto out;
		}
		res = idx_batch_result(b, op);
		if (res->status != IDX_OK) {
			snprintf(t->ebuf, sizeof(t->ebuf), "create %s %s: %s",
			    user, name, res->error);
			*error_r = t->ebuf;
			idx_batch_free(&b);
			goto out;
		}
		f.mbox = res->mbox;
		idx_batch_free(&b);
		if (store_tool_import(&f, error_r) == -1)
			goto out;
	} else {
		f.mbox = mb.id;
		if (mb.special_use != 0 && su == 0)
			su = mb.special_use;
		if (store_tool_sync(&f, &mb, error_r) == -1)
			goto out;
		if (t->check) {
			/* Subscriptions are not compared: the file rules. */
			rc = 0;
			goto out;
		}
	}
	if (f.b == NULL)
		f.b = idx_batch_new();
	idx_batch_mailbox_attrs(f.b, f.mbox, subscribed, su);
	/* The daemon compares these at SELECT: we are in sync now. */
	idx_batch_mailbox_mtimes(f.b, f.mbox, &mt_new, &mt_cur);
	if (store_tool_commit(t, &f.b, error_r) == -1)
		goto out;
	if (t->opts & STORE_TOOL_VERBOSE)
		printf("reindexed %s %s: %zu files%s%s\n", user, name,
		    f.nfiles, fresh ? " (new index mailbox)" : "",
		    f.uidlist != NULL ? ", dovecot-uidlist imported" : "");
	rc = 0;
out:
	idx_batch_free(&f.b);
	mdir_uidlist_free(&f.uidlist);
	mdir_keywords_free(&f.kw);
	mdir_entries_free(&f.files, f.nfiles);
	free(f.path);
	return rc;
}

/* ---- one account ---- */

static bool
store_tool_has(char **v, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool
store_tool_on_disk(const struct mdir_folder_info *v, size_t n,
    const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!v[i].noselect && strcmp(v[i].name, name) == 0)
			return true;
	return false;
}

/* The index mailboxes of user (names only). */
static int
store_tool_index_names(struct store_tool *t, const char *user,
    char ***names_r, size_t *n_r, const char **error_r)
{
	struct idx_read	*rd;
	struct idx_iter	*it = NULL;
	struct idx_mbox	 mb;
	const char	*name;
	char		**v = NULL;
	size_t		 n = 0;
	int		 r;

	if (idx_read_begin(t->idx, &rd, error_r) == -1)
		return -1;
	r = idx_iter_mailboxes(rd, user, &it, error_r);
	while (r == 0 && (r = idx_iter_next_mailbox(it, &name, &mb,
	    error_r)) == 1) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(name);
		r = 0;
	}
	idx_iter_free(&it);
	idx_read_end(&rd);
	*names_r = v;
	*n_r = n;
	return r == -1 ? -1 : 0;
}

static void
store_tool_names_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Quota usage from the mailbox counters, after everything else. */
static int
store_tool_usage(struct store_tool *t, const char *user, const char **error_r)
{
	struct idx_read		*rd;
	struct idx_iter		*it = NULL;
	struct idx_mbox		 mb;
	struct idx_batch	*b;
	const char		*name;
	uint64_t		 bytes = 0, msgs = 0;
	int			 r;

	if (idx_read_begin(t->idx, &rd, error_r) == -1)
		return -1;
	r = idx_iter_mailboxes(rd, user, &it, error_r);
	while (r == 0 && (r = idx_iter_next_mailbox(it, &name, &mb,
	    error_r)) == 1) {
		bytes += mb.size_total;
		msgs += mb.messages;
		r = 0;
	}
	idx_iter_free(&it);
	idx_read_end(&rd);
	if (r == -1)
		return -1;
	b = idx_batch_new();
	idx_batch_usage_set(b, user, bytes, msgs);
	return store_tool_commit(t, &b, error_r);
}

static int
store_tool_account(struct store_tool *t, const char *account,
    const char **error_r)
{
	struct mdir_folder_info	*folders = NULL;
	struct idx_batch	*b = NULL;
	char			*user, *root = NULL, *p, **subs = NULL;
	char			**inames = NULL;
	const char		*e;
	size_t			 nfolders = 0, nsubs = 0, ninames = 0, i;
	int			 rc = -1;

	user = store_user(account);
	if (mdir_user_root(t->storage_path, user, &root, error_r) == -1)
		goto out;
	if (!store_tool_exists(root)) {
		snprintf(t->ebuf, sizeof(t->ebuf), "%s: no Maildir at %s",
		    user, root);
		*error_r = t->ebuf;
		goto out;
	}
	if (mdir_list_folders_blocking(root, t->layout, t->sep, t->utf8,
	    &folders, &nfolders, error_r) == -1)
		goto out;
	p = xasprintf("%s/subscriptions", root);
	if (store_tool_exists(p) &&
	    mdir_subs_read_blocking(p, t->sep, &subs, &nsubs, &e) == -1)
		fprintf(stderr, "postern: %s (ignored)\n", e);
	free(p);
	for (i = 0; i < nfolders; i++) {
		if (folders[i].noselect)
			continue;
		if (store_tool_folder(t, user, root, folders[i].name,
		    store_tool_has(subs, nsubs, folders[i].name) ||
		    strcmp(folders[i].name, "INBOX") == 0, error_r) == -1)
			goto out;
		if (t->opts & STORE_TOOL_VERBOSE && t->check &&
		    store_tool_list(t, user, folders[i].name, error_r) == -1)
			goto out;
	}
	/* Index mailboxes whose folder is gone. */
	if (store_tool_index_names(t, user, &inames, &ninames, error_r) == -1)
		goto out;
	for (i = 0; i < ninames; i++) {
		if (store_tool_on_disk(folders, nfolders, inames[i]))
			continue;
		if (t->check) {
			store_tool_problem(t, user, inames[i], "%s",
			    "indexed mailbox has no folder on disk");
			continue;
		}
		if (b == NULL)
			b = idx_batch_new();
		idx_batch_mailbox_delete(b, user, inames[i]);
	}
	if (!t->check && (store_tool_commit(t, &b, error_r) == -1 ||
	    store_tool_usage(t, user, error_r) == -1))
		goto out;
	rc = 0;
out:
	idx_batch_free(&b);
	store_tool_names_free(inames, ninames);
	if (subs != NULL)
		mdir_subs_free(&subs, nsubs);
	mdir_folder_list_free(&folders, nfolders);
	free(root);
	free(user);
	return rc;
}

/* ---- every account: <storage>/<domain>/<local>/mail ---- */

static int
store_tool_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
store_tool_accounts(const char *storage, char ***v_r, size_t *n_r,
    const char **error_r)
{
	static char	 ebuf[512];
	DIR		*dd, *ld;
	struct dirent	*de, *le;
	char		*dpath, *mpath, **v = NULL;
	size_t		 n = 0;

	if ((dd = opendir(storage)) == NULL) {
		snprintf(ebuf, sizeof(ebuf), "%s: %s", storage,
		    strerror(errno));
		*error_r = ebuf;
		return -1;
	}
	while ((de = readdir(dd)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		dpath = xasprintf("%s/%s", storage, de->d_name);
		if ((ld = opendir(dpath)) == NULL) {
			free(dpath);
			continue;
		}
		while ((le = readdir(ld)) != NULL) {
			if (le->d_name[0] == '.')
				continue;
			mpath = xasprintf("%s/%s/mail", dpath, le->d_name);
			if (store_tool_exists(mpath)) {
				v = xreallocarray(v, n + 1, sizeof(*v));
				v[n++] = xasprintf("%s@%s", le->d_name,
				    de->d_name);
			}
			free(mpath);
		}
		closedir(ld);
		free(dpath);
	}
	closedir(dd);
	if (n > 1)
		qsort(v, n, sizeof(*v), store_tool_name_cmp);
	*v_r = v;
	*n_r = n;
	return 0;
}

static int
store_tool_run(struct store_tool *t, const char *account,
    const char **error_r)
{
	char		*ipath, **accts = NULL;
	size_t		 n = 0, i;
	int		 rc = 0;

	if (t->conf->state_dir == NULL || t->conf->storage.path == NULL) {
		*error_r = "state_dir and storage.path must be set";
		return -1;
	}
	t->storage_path = t->conf->storage.path;
	t->layout = t->conf->storage.layout == CONF_LAYOUT_FS ?
	    MDIR_LAYOUT_FS : MDIR_LAYOUT_MAILDIRPP;
	t->sep = t->conf->storage.hierarchy_separator != '\0' ?
	    t->conf->storage.hierarchy_separator : '.';
	t->utf8 = t->conf->storage.use_utf8_folder_names;
	if (account != NULL) {
		accts = xcalloc(1, sizeof(*accts));
		accts[n++] = xstrdup(account);
	} else if (store_tool_accounts(t->storage_path, &accts, &n,
	    error_r) == -1)
		return -1;
	ipath = xasprintf("%s/index.lmdb", t->conf->state_dir);
	if (t->check && !store_tool_exists(ipath)) {
		snprintf(t->ebuf, sizeof(t->ebuf), "no index at %s (run "
		    "`postern reindex`)", ipath);
		*error_r = t->ebuf;
		rc = -1;
	} else if (!t->check && mkdir(t->conf->state_dir, 0700) == -1 &&
	    errno != EEXIST) {
		snprintf(t->ebuf, sizeof(t->ebuf), "mkdir %s: %s",
		    t->conf->state_dir, strerror(errno));
		*error_r = t->ebuf;
		rc = -1;
	} else if (idx_open_blocking(ipath, &t->idx, error_r) == -1)
		rc = -1;
	free(ipath);
	for (i = 0; i < n && rc == 0; i++)
		rc = store_tool_account(t, accts[i], error_r);
	if (t->idx != NULL)
		idx_close(&t->idx);
	for (i = 0; i < n; i++)
		free(accts[i]);
	free(accts);
	return rc;
}

int
store_reindex_blocking(const struct conf *conf, const char *account,
    unsigned int opts, const char **error_r)
{
	struct store_tool	*t;
	int			 rc;

	t = xcalloc(1, sizeof(*t));
	t->conf = conf;
	t->opts = opts;
	rc = store_tool_run(t, account, error_r);
	if (rc == 0)
		printf("reindexed %zu mailboxes: %zu messages added (%zu with "
		    "Dovecot UIDs), %zu expunged, %zu reflagged\n",
		    t->mailboxes, t->added, t->imported, t->expunged,
		    t->reflagged);
	else {
		/* error_r may point into t. */
		static char	 ebuf[512];

		snprintf(ebuf, sizeof(ebuf), "%s", *error_r);
		*error_r = ebuf;
	}
	free(t);
	return rc;
}

int
store_check_blocking(const struct conf *conf, const char *account,
    unsigned int opts, size_t *problems_r, const char **error_r)
{
	struct store_tool	*t;
	int			 rc;

	t = xcalloc(1, sizeof(*t));
	t->conf = conf;
	t->opts = opts;
	t->check = true;
	rc = store_tool_run(t, account, error_r);
	*problems_r = t->problems;
	if (rc == -1) {
		static char	 ebuf[512];

		snprintf(ebuf, sizeof(ebuf), "%s", *error_r);
		*error_r = ebuf;
	}
	free(t);
	return rc;
}
