/*
 * store_pop.c - the POP3 maildrop: an account's INBOX as one snapshot per
 * session, and the expunge of the messages a session deleted (RFC 1939
 * sections 6 and 8).
 *
 * Opening is three steps:
 *   [worker] make the Maildir if missing, scan new/ and cur/, move new/
 *            messages to cur/ (Dovecot does so once a client has seen
 *            them), and note which files the index lacks; for those, the
 *            CRLF size is taken from W= or counted in the file
 *   [serial] create the INBOX record if needed and add the missing files
 *            in one index commit (UIDs in arrival order), then read, in
 *            UID order, every indexed message whose file the scan saw;
 *            messages delivered after the scan show up next session
 *   [loop]   wake the INBOX watchers if files were indexed; hand the
 *            snapshot to the caller
 * Index entries whose files were not seen are left alone: a delivery may
 * have renamed its file in after the scan and be about to index it.
 *
 * Expunging: [worker] unlink each file (found again by base name if
 * another program renamed it), fsync cur/ and new/; [serial] one index
 * commit expunges them, so IMAP sees the EXPUNGEs; [loop] watchers, then
 * the caller's completion.
 *
 * Owns struct store_pop (reference counted on the loop thread; immutable
 * after open, so workers may read it while they hold a reference) and the
 * two job structs.  Threads as marked.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmap.h"
#include "idx.h"
#include "log.h"
#include "mdir.h"
#include "store.h"
#include "store_private.h"
#include "work.h"
#include "xmalloc.h"

#define STORE_POP_READ_CHUNK	(64 * 1024)

struct store_pop_msg {
	uint32_t	 uid;
	uint64_t	 size;		/* RFC822.SIZE: CRLF octets */
	char		*fname;		/* file name at open time */
	bool		 in_new;
};

struct store_pop {
	int			 refs;
	char			*user;
	char			*folder;	/* the INBOX directory */
	uint32_t		 mbox;		/* index mailbox id */
	uint32_t		 uidvalidity;
	struct store_pop_msg	*v;
	size_t			 n;
};

struct store_pop_open_job {
	struct store		*s;
	char			*user;
	char			*folder;
	store_pop_open_fn	*cb;
	void			*arg;
	struct mdir_entry	*ents;
	size_t			 nents;
	bool			*missing;	/* not in the index */
	uint64_t		*csize;		/* CRLF size */
	size_t			 added;
	size_t			 commits;
	struct store_pop	*pop;
	char			 error[256];
};

struct store_pop_exp_job {
	struct store		*s;
	struct store_pop	*pop;		/* a reference */
	size_t			*idx;
	size_t			 n;
	bool			*gone;
	size_t			 dir_fsyncs;
	size_t			 commits;
	bool			 index_failed;
	int			 result;
	char			 error[256];
	store_pop_expunge_fn	*cb;
	void			*arg;
};

/* ---- the snapshot ---- */

static void
store_pop_free(struct store_pop *p)
{
	size_t	 i;

	for (i = 0; i < p->n; i++)
		free(p->v[i].fname);
	free(p->v);
	free(p->user);
	free(p->folder);
	free(p);
}

struct store_pop *
store_pop_ref(struct store_pop *p)
{
	p->refs++;
	return p;
}

void
store_pop_unref(struct store_pop **pp)
{
	struct store_pop	*p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	if (--p->refs == 0)
		store_pop_free(p);
}

size_t
store_pop_count(const struct store_pop *p)
{
	return p->n;
}

uint32_t
store_pop_uidvalidity(const struct store_pop *p)
{
	return p->uidvalidity;
}

uint32_t
store_pop_uid(const struct store_pop *p, size_t i)
{
	return i < p->n ? p->v[i].uid : 0;
}

uint64_t
store_pop_size(const struct store_pop *p, size_t i)
{
	return i < p->n ? p->v[i].size : 0;
}

static const char *
store_pop_err(char *buf, size_t len, const char *what, const char *e)
{
	snprintf(buf, len, "%s: %s", what, e != NULL ? e : "unknown error");
	return buf;
}

int
store_pop_msg_open_blocking(const struct store_pop *p, size_t i, int *fd_r,
    const char **error_r)
{
	static __thread char	 ebuf[512];
	const struct store_pop_msg *m;
	struct mdir_entry	*list;
	struct mdir_fname	 fn;
	const char		*e;
	char			*path;
	size_t			 n, j;
	int			 fd, k;

	*fd_r = -1;
	if (i >= p->n) {
		*error_r = "no such message";
		return -1;
	}
	m = &p->v[i];
	/* The name we saw, in cur/ then new/; then by base name. */
	for (k = 0; k < 2; k++) {
		path = xasprintf("%s/%s/%s", p->folder,
		    (k == 0) != m->in_new ? "cur" : "new", m->fname);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		free(path);
		if (fd != -1) {
			*fd_r = fd;
			return 1;
		}
		if (errno != ENOENT) {
			snprintf(ebuf, sizeof(ebuf), "open %s: %s", m->fname,
			    strerror(errno));
			*error_r = ebuf;
			return -1;
		}
	}
	if (mdir_name_parse(m->fname, &fn, &e) == -1 ||
	    mdir_scan_blocking(p->folder, &list, &n, &e) == -1) {
		*error_r = store_pop_err(ebuf, sizeof(ebuf), "scan", e);
		return -1;
	}
	fd = -1;
	for (j = 0; j < n; j++) {
		if (list[j].base_len != fn.base_len ||
		    memcmp(list[j].fname, m->fname, fn.base_len) != 0)
			continue;
		path = xasprintf("%s/%s/%s", p->folder,
		    list[j].in_new ? "new" : "cur", list[j].fname);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		free(path);
		break;
	}
	mdir_entries_free(&list, n);
	if (fd == -1)
		return 0;
	*fd_r = fd;
	return 1;
}

/* ---- open: [worker] files ---- */

static void
store_pop_open_job_free(struct store_pop_open_job *j)
{
	mdir_entries_free(&j->ents, j->nents);
	free(j->missing);
	free(j->csize);
	free(j->user);
	free(j->folder);
	if (j->pop != NULL)
		store_pop_unref(&j->pop);
	free(j);
}

/* CRLF octets of a file: each LF not after a CR counts one more. */
static uint64_t
store_pop_crlf_size(const char *path, uint64_t fallback)
{
	char		*chunk;
	ssize_t		 r, k;
	uint64_t	 size = 0;
	char		 prev = '\0';
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return fallback;
	chunk = xmalloc(STORE_POP_READ_CHUNK);
	for (;;) {
		r = read(fd, chunk, STORE_POP_READ_CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (k = 0; k < r; k++) {
			if (chunk[k] == '\n' && prev != '\r')
				size++;
			prev = chunk[k];
		}
		size += (uint64_t)r;
	}
	free(chunk);
	close(fd);
	return r == 0 ? size : fallback;
}

static void
store_pop_open_files_run(void *arg)
{
	struct store_pop_open_job	*j = arg;
	struct idx_read			*rd;
	struct idx_mbox			 mb;
	struct mdir			*m = NULL;
	struct mdir_entry		*en;
	const char			*e;
	char				*newname, *base, *path;
	uint32_t			 uid;
	size_t				 i;
	int				 found = 0, r;

	if (mdir_open(j->folder, true, &m, &e) == -1 ||
	    mdir_scan_blocking(j->folder, &j->ents, &j->nents, &e) == -1) {
		store_pop_err(j->error, sizeof(j->error), "maildir", e);
		mdir_close(&m);
		return;
	}
	mdir_close(&m);
	for (i = 0; i < j->nents; i++) {
		en = &j->ents[i];
		if (!en->in_new)
			continue;
		if (mdir_move_to_cur_blocking(j->folder, en->fname, &newname,
		    &e) == -1) {
			log_warn("store pop new-to-cur user=%s file=%s "
			    "error=\"%s\"", j->user, en->fname, e);
			continue;
		}
		free(en->fname);
		en->fname = newname;
		en->in_new = false;
	}
	j->missing = xcalloc(j->nents + 1, sizeof(*j->missing));
	j->csize = xcalloc(j->nents + 1, sizeof(*j->csize));
	if (idx_read_begin(j->s->idx, &rd, &e) == -1) {
		store_pop_err(j->error, sizeof(j->error), "index", e);
		return;
	}
	found = idx_read_mailbox(rd, j->user, "INBOX", &mb, &e);
	for (i = 0; i < j->nents && found != -1; i++) {
		en = &j->ents[i];
		j->missing[i] = true;
		if (found == 1) {
			base = xstrndup(en->fname, en->base_len);
			r = idx_read_uid_by_name(rd, mb.id, base, &uid, &e);
			free(base);
			if (r == -1)
				found = -1;
			j->missing[i] = r == 0;
		}
	}
	idx_read_end(&rd);
	if (found == -1) {
		store_pop_err(j->error, sizeof(j->error), "index", e);
		return;
	}
	for (i = 0; i < j->nents; i++) {
		en = &j->ents[i];
		if (!j->missing[i])
			continue;
		if (en->has_vsize)
			j->csize[i] = en->vsize;
		else {
			path = xasprintf("%s/%s/%s", j->folder,
			    en->in_new ? "new" : "cur", en->fname);
			j->csize[i] = store_pop_crlf_size(path, en->size);
			free(path);
		}
	}
}

/* ---- open: [serial] index ---- */

struct store_pop_arrival {
	const struct mdir_entry	*en;
	size_t			 i;
};

/* Arrival order: mtime, then name (it starts with the delivery time). */
static int
store_pop_arrival_cmp(const void *a, const void *b)
{
	const struct store_pop_arrival	*pa = a, *pb = b;
	const struct mdir_entry		*x = pa->en, *y = pb->en;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->fname, y->fname);
}

static int
store_pop_mbox(struct store_pop_open_job *j, struct idx_mbox *mb,
    const char **error_r)
{
	struct idx_read		*rd;
	struct idx_batch	*b;
	int			 r, pass;

	for (pass = 0; pass < 2; pass++) {
		if (idx_read_begin(j->s->idx, &rd, error_r) == -1)
			return -1;
		r = idx_read_mailbox(rd, j->user, "INBOX", mb, error_r);
		idx_read_end(&rd);
		if (r != 0 || pass == 1)
			break;
		b = idx_batch_new();
		idx_batch_mailbox_create(b, j->user, "INBOX", 0, 0);
		j->commits++;
		r = idx_batch_commit_blocking(j->s->idx, b, error_r);
		idx_batch_free(&b);
		if (r == -1)
			return -1;
	}
	if (r == 0)
		*error_r = "INBOX missing from the index";
	return r == 1 ? 0 : -1;
}

static void
store_pop_open_index_run(void *arg)
{
	struct store_pop_open_job	*j = arg;
	struct store_pop		*p;
	struct idx_mbox			 mb;
	struct idx_msg_new		 nm;
	struct idx_batch		*b;
	struct idx_read			*rd = NULL;
	struct idx_iter			*it = NULL;
	struct idx_msg			 msg;
	struct mdir_entry		*en;
	struct hmap			*byname;
	const char			*e = NULL;
	struct store_pop_arrival	*order;
	char				*base;
	size_t				 nmiss = 0, i, cap = 0;
	uintptr_t			 slot;
	int				 r;

	if (j->error[0] != '\0')
		return;
	if (store_pop_mbox(j, &mb, &e) == -1) {
		store_pop_err(j->error, sizeof(j->error), "index", e);
		return;
	}
	order = xcalloc(j->nents + 1, sizeof(*order));
	for (i = 0; i < j->nents; i++)
		if (j->missing[i]) {
			order[nmiss].en = &j->ents[i];
			order[nmiss++].i = i;
		}
	if (nmiss > 0) {
		qsort(order, nmiss, sizeof(*order), store_pop_arrival_cmp);
		b = idx_batch_new();
		for (i = 0; i < nmiss; i++) {
			en = &j->ents[order[i].i];
			base = xstrndup(en->fname, en->base_len);
			memset(&nm, 0, sizeof(nm));
			nm.basename = base;
			nm.flags = store_letters_to_flags(en->flags);
			nm.internaldate = (int64_t)en->mtime;
			nm.size = j->csize[order[i].i];
			nm.vsize = en->size;
			idx_batch_msg_add(b, mb.id, &nm);	/* copies */
			free(base);
		}
		j->commits++;
		r = idx_batch_commit_blocking(j->s->idx, b, &e);
		idx_batch_free(&b);
		if (r == -1) {
			free(order);
			store_pop_err(j->error, sizeof(j->error),
			    "index commit", e);
			return;
		}
		j->added = nmiss;
	}
	free(order);

	/* Base name -> entry index + 1. */
	byname = hmap_new();
	for (i = 0; i < j->nents; i++)
		hmap_put(byname, j->ents[i].fname, j->ents[i].base_len,
		    (void *)(uintptr_t)(i + 1));
	p = xcalloc(1, sizeof(*p));
	p->refs = 1;
	p->user = xstrdup(j->user);
	p->folder = xstrdup(j->folder);
	r = idx_read_begin(j->s->idx, &rd, &e);
	if (r == 0)
		r = idx_read_mailbox(rd, j->user, "INBOX", &mb, &e) == 1 ?
		    0 : -1;
	if (r == 0)
		r = idx_iter_messages(rd, mb.id, 1, UINT32_MAX, &it, &e);
	while (r == 0 && (r = idx_iter_next_message(it, &msg, &e)) == 1) {
		r = 0;
		slot = (uintptr_t)hmap_get(byname, msg.basename,
		    msg.basename_len);
		if (slot == 0)
			continue;
		en = &j->ents[slot - 1];
		if (p->n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			p->v = xreallocarray(p->v, cap, sizeof(*p->v));
		}
		p->v[p->n].uid = msg.uid;
		p->v[p->n].size = msg.size != 0 ? msg.size : en->size;
		p->v[p->n].fname = xstrdup(en->fname);
		p->v[p->n].in_new = en->in_new;
		p->n++;
	}
	if (r == 0) {
		p->mbox = mb.id;
		p->uidvalidity = mb.uidvalidity;
	}
	idx_iter_free(&it);
	if (rd != NULL)
		idx_read_end(&rd);
	hmap_free(&byname, NULL);
	if (r == -1) {
		store_pop_err(j->error, sizeof(j->error), "index read",
		    e != NULL ? e : "INBOX missing");
		store_pop_free(p);
		return;
	}
	j->pop = p;
}

/* ---- open: [loop] ---- */

static void
store_pop_open_index_done(void *arg)
{
	struct store_pop_open_job	*j = arg;
	struct store_pop		*p;

	j->s->stats.index_commits += j->commits;
	if (j->added > 0) {
		log_info("store pop indexed user=%s messages=%zu", j->user,
		    j->added);
		store_watch_fire(j->s, j->user, "INBOX");
	}
	p = j->pop;
	j->pop = NULL;
	if (p == NULL)
		log_err("store pop open user=%s error=\"%s\"", j->user,
		    j->error);
	j->cb(p, p == NULL ? j->error : NULL, j->arg);
	store_pop_open_job_free(j);
}

static void
store_pop_open_files_done(void *arg)
{
	work_submit_serial(store_pop_open_index_run,
	    store_pop_open_index_done, arg);
}

void
store_pop_open(struct store *s, const char *account, store_pop_open_fn *cb,
    void *arg)
{
	struct store_pop_open_job	*j;
	const char			*e;

	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->user = store_user(account);
	j->cb = cb;
	j->arg = arg;
	if (mdir_user_root(s->storage_path, j->user, &j->folder, &e) == -1) {
		store_pop_err(j->error, sizeof(j->error), "maildir", e);
		j->cb(NULL, j->error, j->arg);
		store_pop_open_job_free(j);
		return;
	}
	work_submit(store_pop_open_files_run, store_pop_open_files_done, j);
}

/* ---- expunge ---- */

static int
store_pop_fsync_dir(const char *folder, const char *sub)
{
	char	*path = xasprintf("%s/%s", folder, sub);
	int	 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		rc = fsync(fd);
		close(fd);
	}
	free(path);
	return rc;
}

static void
store_pop_exp_files_run(void *arg)
{
	struct store_pop_exp_job	*j = arg;
	const struct store_pop		*p = j->pop;
	const char			*e;
	size_t				 i, failed = 0;

	for (i = 0; i < j->n; i++) {
		if (mdir_expunge_blocking(p->folder, p->v[j->idx[i]].fname,
		    &e) == -1) {
			if (failed++ == 0)
				store_pop_err(j->error, sizeof(j->error),
				    "unlink", e);
			continue;
		}
		j->gone[i] = true;
	}
	/* The unlinks must be durable before we say "+OK". */
	if (store_pop_fsync_dir(p->folder, "cur") == -1 ||
	    store_pop_fsync_dir(p->folder, "new") == -1) {
		if (failed++ == 0)
			snprintf(j->error, sizeof(j->error), "fsync %s: %s",
			    p->folder, strerror(errno));
	}
	j->dir_fsyncs = 2;
	j->result = failed > 0 ? -1 : 0;
}

static void
store_pop_exp_index_run(void *arg)
{
	struct store_pop_exp_job	*j = arg;
	struct idx_batch		*b;
	const char			*e;
	size_t				 i;

	b = idx_batch_new();
	for (i = 0; i < j->n; i++)
		if (j->gone[i])
			idx_batch_msg_expunge(b, j->pop->mbox,
			    j->pop->v[j->idx[i]].uid);
	if (idx_batch_count(b) > 0) {
		j->commits++;
		if (idx_batch_commit_blocking(j->s->idx, b, &e) == -1) {
			log_err("store pop expunge-index user=%s error=\"%s\"",
			    j->pop->user, e);
			j->index_failed = true;
		}
	}
	idx_batch_free(&b);
}

static void
store_pop_exp_job_free(struct store_pop_exp_job *j)
{
	store_pop_unref(&j->pop);
	free(j->idx);
	free(j->gone);
	free(j);
}

static void
store_pop_exp_index_done(void *arg)
{
	struct store_pop_exp_job	*j = arg;

	j->s->stats.index_commits += j->commits;
	if (j->index_failed) {
		/* The files are gone: a rescan drops the stale entries. */
		store_rescan_mark(j->s, j->pop->user, "INBOX");
		j->s->stats.index_errors++;
	}
	store_watch_fire(j->s, j->pop->user, "INBOX");
	j->cb(j->result, j->result == 0 ? NULL : j->error, j->arg);
	store_pop_exp_job_free(j);
}

static void
store_pop_exp_files_done(void *arg)
{
	struct store_pop_exp_job	*j = arg;

	j->s->stats.dir_fsyncs += j->dir_fsyncs;
	work_submit_serial(store_pop_exp_index_run, store_pop_exp_index_done,
	    j);
}

void
store_pop_expunge(struct store *s, struct store_pop *p, const size_t *idx,
    size_t n, store_pop_expunge_fn *cb, void *arg)
{
	struct store_pop_exp_job	*j;
	size_t				 i, k = 0;

	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->pop = store_pop_ref(p);
	j->idx = xcalloc(n + 1, sizeof(*j->idx));
	j->gone = xcalloc(n + 1, sizeof(*j->gone));
	for (i = 0; i < n; i++)
		if (idx[i] < p->n)
			j->idx[k++] = idx[i];
	j->n = k;
	j->cb = cb;
	j->arg = arg;
	work_submit(store_pop_exp_files_run, store_pop_exp_files_done, j);
}
