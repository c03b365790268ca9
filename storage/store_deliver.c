/*
 * store_deliver.c - durable local delivery and the index group commit.
 *
 * One store_deliver() call is one job on the worker pool, then one slot
 * in a group commit on the serial lane:
 *
 *   [loop]   snapshot per recipient what the job needs from the conf
 *            (quota, special-use), so a reload cannot pull it away
 *   [worker] per recipient: make the Maildir root, check the folder
 *            (missing: INBOX if folder_fallback, else -2), check quota
 *            (-1 "Mailbox full"), give keywords (APPEND, Sieve flags)
 *            their letters in the folder's dovecot-keywords (durable
 *            first: store_deliver_keyword_letters_blocking), open
 *            tmp/<unique>, write the prepend;
 *            then ONE pass over the spool file writes every copy and
 *            feeds one MIME parser per distinct prepend (the prepend is
 *            part of the header, so recipients sharing it share the
 *            parse); then ONE mdir_commit_many_blocking: fsync each file,
 *            rename into new/ (cur/ with ":2," and the system flag and
 *            keyword letters, as Dovecot names them), fsync each
 *            directory once
 *   [loop]   the delivery joins the pending list
 *   [serial] when the lane is idle, one job takes EVERY pending delivery
 *            into one idx batch and one commit (one LMDB sync); UIDs are
 *            handed out in pending order
 *   [loop]   results filled in, watchers fired, done(arg) called
 *
 * If the index commit fails the files are already durable in new/ or
 * cur/, where the mailbox sync imports them (it compares directory
 * mtimes at SELECT, NOOP and IDLE).  Answering 4xx then would make the
 * client send the message again and the user get it twice, so the
 * result stays 0 with uid 0 ("UID not known yet"), the error is logged
 * and counted, and the mailbox is marked for rescan
 * (store_mailbox_needs_rescan).  A duplicate is only risked when the
 * Maildir step itself failed, and there we answer -1, never 0.
 *
 * Owns struct store_dlv (one call) and struct store_commit (one serial
 * job).  Threads as marked; a store_dlv is touched by one thread at a
 * time, handed over through work_submit and the pending list.
 */
#include <sys/stat.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

#define STORE_COPY_CHUNK	(64 * 1024)
#define STORE_KEYWORDS_MAX	32

/* Reply texts (rcpt->error); SMTP maps -1/-2 to its own codes. */
#define STORE_E_LOCAL		"Local error in processing"
#define STORE_E_FULL		"Mailbox full"
#define STORE_E_NOBOX		"Mailbox does not exist"
#define STORE_E_BADNAME		"Invalid mailbox name"

struct store_dlv_rcpt {
	struct store_rcpt	*r;
	char			*user;		/* lower-cased account */
	const char		*mailbox;	/* index name, after fallback */
	uint32_t		 special_use;	/* of the folder, from the conf */
	bool			 autocreate;	/* a `mailboxes` entry with auto */
	uint32_t		 fallback_su;	/* of INBOX (always 0) */
	uint64_t		 quota;		/* bytes; 0: none */
	char			 letters[MDIR_FLAGS_MAX];
	uint32_t		 idx_flags;
	char			*keywords[STORE_KEYWORDS_MAX];
	size_t			 nkeywords;
	size_t			 group;		/* parse group (prepend) */
	struct mdir_dlv		*dlv;
	/* after the Maildir commit */
	bool			 need_index;
	bool			 index_failed;
	char			*basename;
	uint64_t		 size;		/* physical bytes (S=) */
	uint64_t		 vsize;		/* CRLF bytes (W=): RFC822.SIZE */
};

struct store_blob {
	const char		*prepend;	/* the group key (not owned) */
	struct mime_parser	*parser;
	struct buf		 envelope;
	struct buf		 bodystructure;
};

struct store_dlv {
	TAILQ_ENTRY(store_dlv)	 entry;
	struct store		*store;
	struct store_msg	*msg;
	char			*spool_path;
	uint64_t		 msg_size;
	struct store_dlv_rcpt	*rc;
	size_t			 n;
	struct store_blob	*blobs;
	size_t			 nblobs;
	store_done_fn		*done;
	void			*arg;
	int64_t			 internaldate;
	size_t			 file_fsyncs;
	size_t			 dir_fsyncs;
};

struct store_commit {
	struct store		*store;
	struct store_dlv_list	 dlvs;
	size_t			 commits;
	size_t			 errors;
};

static void	store_commit_kick(struct store *);

/* ---- [loop] set-up ---- */

static void
store_rcpt_flags(struct store_dlv_rcpt *rc, const char *flags)
{
	static const struct {
		const char	*name;
		char		 letter;
		uint32_t	 bit;
	} sys[] = {
		{ "\\Draft", 'D', IDX_F_DRAFT },
		{ "\\Flagged", 'F', IDX_F_FLAGGED },
		{ "\\Answered", 'R', IDX_F_ANSWERED },
		{ "\\Seen", 'S', IDX_F_SEEN },
		{ "\\Deleted", 'T', IDX_F_DELETED },
	};
	const char	*p, *e;
	size_t		 len, i, nl = 0;

	for (p = flags; p != NULL && *p != '\0'; p = e) {
		while (*p == ' ' || *p == '(' || *p == ')')
			p++;
		for (e = p; *e != '\0' && *e != ' ' && *e != ')'; e++)
			;
		if ((len = (size_t)(e - p)) == 0)
			continue;
		for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
			if (strlen(sys[i].name) == len &&
			    strncasecmp(p, sys[i].name, len) == 0)
				break;
		if (i < sizeof(sys) / sizeof(sys[0])) {
			if (!(rc->idx_flags & sys[i].bit)) {
				rc->idx_flags |= sys[i].bit;
				rc->letters[nl++] = sys[i].letter;
			}
		} else if (*p != '\\' && rc->nkeywords < STORE_KEYWORDS_MAX)
			rc->keywords[rc->nkeywords++] = xstrndup(p, len);
		/* Other \flags (\Recent, unknown) are not stored. */
	}
	rc->letters[nl] = '\0';
}

uint64_t
store_quota_of(const struct conf *conf, const char *user)
{
	const struct conf_account	*a;

	if (conf == NULL || !conf->quota.enable)
		return 0;
	if ((a = conf_find_account(conf, user)) != NULL && a->quota != 0)
		return a->quota;
	return conf->quota.default_per_user;
}

static uint32_t
store_conf_special_use(const struct conf *conf, const char *mailbox)
{
	size_t	 i;

	if (conf == NULL)
		return 0;
	for (i = 0; i < conf->nmailboxes; i++)
		if (strcmp(conf->mailboxes[i].name, mailbox) == 0)
			return store_special_use_bits(
			    conf->mailboxes[i].special_use);
	return 0;
}

/* The folder is in `mailboxes` with auto = create|subscribe. */
static bool
store_conf_autocreate(const struct conf *conf, const char *mailbox)
{
	size_t	 i;

	if (conf == NULL)
		return false;
	for (i = 0; i < conf->nmailboxes; i++)
		if (strcmp(conf->mailboxes[i].name, mailbox) == 0)
			return conf->mailboxes[i].autocreate != CONF_AUTO_NO;
	return false;
}

static void
store_dlv_free(struct store_dlv **dp)
{
	struct store_dlv	*d = *dp;
	size_t			 i, j;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++) {
		mdir_dlv_free(&d->rc[i].dlv);
		free(d->rc[i].user);
		free(d->rc[i].basename);
		for (j = 0; j < d->rc[i].nkeywords; j++)
			free(d->rc[i].keywords[j]);
	}
	for (i = 0; i < d->nblobs; i++) {
		mime_parser_free(&d->blobs[i].parser);
		buf_free(&d->blobs[i].envelope);
		buf_free(&d->blobs[i].bodystructure);
	}
	free(d->blobs);
	free(d->rc);
	free(d->spool_path);
	xfree(*dp);
}

/* ---- [worker] the Maildir part ---- */

static bool
store_is_dir(const char *path)
{
	struct stat	 st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
store_rcpt_fail(struct store_dlv_rcpt *rc, int result, const char *error)
{
	rc->r->result = result;
	rc->r->error = error;
	mdir_dlv_free(&rc->dlv);
}

static uint64_t
store_usage_blocking(struct store *s, const char *user)
{
	struct idx_read	*rd;
	struct idx_usage u;
	const char	*e;
	uint64_t	 bytes = 0;

	if (idx_read_begin(s->idx, &rd, &e) == -1) {
		log_warn("store quota-read user=%s error=\"%s\"", user, e);
		return 0;
	}
	if (idx_read_usage(rd, user, &u, &e) == 1)
		bytes = u.bytes;
	idx_read_end(&rd);
	return bytes;
}

int
store_deliver_keyword_letters_blocking(const char *folder,
    const char *const *names, size_t n, char *letters_r,
    const char **error_r)
{
	const char	**ok;
	char		 *kl;
	size_t		  i, k = 0;
	int		  rc = 0;

	memset(letters_r, 0, n);
	ok = xcalloc(n + 1, sizeof(*ok));
	for (i = 0; i < n; i++)
		if (mdir_keyword_ok(names[i]))
			ok[k++] = names[i];
	if (k == 0) {
		free(ok);
		return 0;
	}
	kl = xcalloc(k + 1, 1);
	/* A new dovecot-keywords is durable (file and folder fsynced,
	 * under the writer's lock) before anyone gets its letters. */
	if (store_keyword_letters_blocking(folder, ok, k, kl, error_r) == -1)
		rc = -1;
	else
		for (i = 0, k = 0; i < n; i++)
			if (mdir_keyword_ok(names[i]))
				letters_r[i] = kl[k++];
	free(kl);
	free(ok);
	return rc;
}

/*
 * [worker] rc's flag letters for folder: the system flags', then the
 * keyword letters (their names go to dovecot-keywords as needed).  A
 * keyword without a letter (all 26 taken, a name Maildir cannot hold,
 * an I/O error) is still in the index.
 */
static void
store_rcpt_letters(struct store_dlv_rcpt *rc, const char *folder,
    char *letters)
{
	char		 kl[STORE_KEYWORDS_MAX];
	const char	*e;
	size_t		 i, nl;

	memcpy(letters, rc->letters, sizeof(rc->letters));
	if (rc->nkeywords == 0)
		return;
	if (store_deliver_keyword_letters_blocking(folder,
	    (const char *const *)rc->keywords, rc->nkeywords, kl, &e) == -1)
		log_warn("store deliver user=%s mailbox=%s keywords "
		    "error=\"%s\"", rc->user, rc->mailbox, e);
	nl = strlen(letters);
	for (i = 0; i < rc->nkeywords; i++)
		if (kl[i] != '\0' && strchr(letters, kl[i]) == NULL &&
		    nl + 1 < MDIR_FLAGS_MAX) {
			letters[nl++] = kl[i];
			letters[nl] = '\0';
		}
}

/* Find or make the recipient's folder and open a tmp/ file in it. */
static void
store_rcpt_prepare(struct store_dlv *d, struct store_dlv_rcpt *rc)
{
	struct store	*s = d->store;
	struct mdir	*m = NULL;
	char		*root = NULL, *folder = NULL, *cur;
	char		 letters[MDIR_FLAGS_MAX];
	const char	*e, *pre = rc->r->prepend;
	uint64_t	 need, used;
	bool		 exists;

	if (mdir_user_root(s->storage_path, rc->user, &root, &e) == -1) {
		log_warn("store deliver user=%s error=\"%s\"", rc->user, e);
		store_rcpt_fail(rc, -2, STORE_E_BADNAME);
		return;
	}
	/* INBOX is the root itself: this makes the account on first use. */
	if (mdir_open(root, true, &m, &e) == -1) {
		log_err("store deliver user=%s error=\"%s\"", rc->user, e);
		store_rcpt_fail(rc, -1, STORE_E_LOCAL);
		goto out;
	}
	mdir_close(&m);
	if (strcmp(rc->mailbox, "INBOX") != 0) {
		exists = false;
		if (mdir_folder_path(root, s->layout, s->sep, s->utf8,
		    rc->mailbox, &folder, &e) == 0) {
			cur = xasprintf("%s/cur", folder);
			exists = store_is_dir(cur);
			free(cur);
		}
		/*
		 * Folders of `mailboxes` with auto are made at first use
		 * (CONFIG.md): spam filed into Junk before the user ever
		 * logged in must not fall back to INBOX.
		 */
		if (!exists && folder != NULL && rc->autocreate) {
			if (mdir_folder_create_blocking(root, s->layout, s->sep,
			    s->utf8, rc->mailbox, &e) == 0)
				exists = true;
			else
				log_warn("store deliver user=%s mailbox=%s "
				    "create error=\"%s\"", rc->user,
				    rc->mailbox, e);
		}
		if (!exists && !rc->r->folder_fallback) {
			store_rcpt_fail(rc, -2, STORE_E_NOBOX);
			goto out;
		}
		if (!exists) {
			rc->mailbox = "INBOX";
			rc->special_use = 0;
			xfree(folder);
		}
	}
	if (rc->quota != 0) {
		need = d->msg_size + (pre != NULL ? strlen(pre) : 0);
		used = store_usage_blocking(s, rc->user);
		if (used > rc->quota || need > rc->quota - used) {
			log_info("store over-quota user=%s used=%llu "
			    "size=%llu quota=%llu", rc->user,
			    (unsigned long long)used, (unsigned long long)need,
			    (unsigned long long)rc->quota);
			store_rcpt_fail(rc, -1, STORE_E_FULL);
			goto out;
		}
	}
	store_rcpt_letters(rc, folder != NULL ? folder : root, letters);
	if (mdir_open(folder != NULL ? folder : root, false, &m, &e) == -1 ||
	    mdir_dlv_begin(m, &rc->dlv, &e) == -1 ||
	    (letters[0] != '\0' &&
	    mdir_dlv_set_dest(rc->dlv, true, letters, &e) == -1) ||
	    (pre != NULL && mdir_dlv_write(rc->dlv, pre, strlen(pre),
	    &e) == -1)) {
		log_err("store deliver user=%s mailbox=%s error=\"%s\"",
		    rc->user, rc->mailbox, e);
		store_rcpt_fail(rc, -1, STORE_E_LOCAL);
		goto out;
	}
out:
	mdir_close(&m);
	free(folder);
	free(root);
}

/* One parser per distinct prepend among the live recipients. */
static void
store_blobs_setup(struct store_dlv *d)
{
	struct store_dlv_rcpt	*rc;
	const char		*pre;
	size_t			 i, j;

	d->blobs = xcalloc(d->n, sizeof(*d->blobs));
	for (i = 0; i < d->n; i++) {
		rc = &d->rc[i];
		if (rc->dlv == NULL)
			continue;
		pre = rc->r->prepend != NULL ? rc->r->prepend : "";
		for (j = 0; j < d->nblobs; j++)
			if (strcmp(d->blobs[j].prepend, pre) == 0)
				break;
		if (j == d->nblobs) {
			d->blobs[j].prepend = pre;
			d->blobs[j].parser = mime_parser_new(NULL);
			buf_init(&d->blobs[j].envelope, 0);
			buf_init(&d->blobs[j].bodystructure, 0);
			mime_parser_feed(d->blobs[j].parser, pre, strlen(pre));
			d->nblobs++;
		}
		rc->group = j;
	}
}

static void
store_blobs_finish(struct store_dlv *d)
{
	struct store_blob	*b;
	struct mime_msg		*mm;
	const char		*e;
	size_t			 i;

	for (i = 0; i < d->nblobs; i++) {
		b = &d->blobs[i];
		if (mime_parser_finish(&b->parser, &mm, &e) == -1) {
			log_warn("store mime error=\"%s\"", e);
			continue;
		}
		mime_envelope(mm, &b->envelope);
		mime_bodystructure(mm, true, &b->bodystructure);
		mime_msg_free(&mm);
	}
}

/* One read of the spool file feeds every copy and every parser. */
static void
store_copy_spool(struct store_dlv *d)
{
	struct store_dlv_rcpt	*rc;
	char			*chunk;
	const char		*e;
	ssize_t			 n;
	size_t			 i;
	int			 fd;

	if ((fd = open(d->spool_path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_err("store spool-open path=%s error=\"%s\"",
		    d->spool_path, strerror(errno));
		for (i = 0; i < d->n; i++)
			if (d->rc[i].dlv != NULL)
				store_rcpt_fail(&d->rc[i], -1, STORE_E_LOCAL);
		return;
	}
	chunk = xmalloc(STORE_COPY_CHUNK);
	for (;;) {
		n = read(fd, chunk, STORE_COPY_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < d->nblobs; i++)
			mime_parser_feed(d->blobs[i].parser, chunk,
			    (size_t)n);
		for (i = 0; i < d->n; i++) {
			rc = &d->rc[i];
			if (rc->dlv != NULL && mdir_dlv_write(rc->dlv, chunk,
			    (size_t)n, &e) == -1) {
				log_err("store deliver user=%s error=\"%s\"",
				    rc->user, e);
				store_rcpt_fail(rc, -1, STORE_E_LOCAL);
			}
		}
	}
	if (n == -1) {
		log_err("store spool-read path=%s error=\"%s\"", d->spool_path,
		    strerror(errno));
		for (i = 0; i < d->n; i++)
			if (d->rc[i].dlv != NULL)
				store_rcpt_fail(&d->rc[i], -1, STORE_E_LOCAL);
	}
	free(chunk);
	close(fd);
}

static void
store_dlv_files_run(void *arg)
{
	struct store_dlv	*d = arg;
	struct store_dlv_rcpt	*rc;
	struct mdir_dlv		**v;
	struct mdir_fname	 fn;
	const char		*e;
	size_t			 i, nv = 0, dirs = 0;

	for (i = 0; i < d->n; i++) {
		d->rc[i].r->result = -1;
		d->rc[i].r->error = STORE_E_LOCAL;
		store_rcpt_prepare(d, &d->rc[i]);
	}
	store_blobs_setup(d);
	store_copy_spool(d);
	v = xcalloc(d->n + 1, sizeof(*v));
	for (i = 0; i < d->n; i++)
		if (d->rc[i].dlv != NULL)
			v[nv++] = d->rc[i].dlv;
	if (nv > 0 && mdir_commit_many_blocking(v, nv, &dirs, &e) == -1)
		log_err("store commit error=\"%s\"", e);
	free(v);
	d->file_fsyncs = nv;
	d->dir_fsyncs = dirs;
	for (i = 0; i < d->n; i++) {
		rc = &d->rc[i];
		if (rc->dlv == NULL)
			continue;
		if (!mdir_dlv_committed(rc->dlv) ||
		    mdir_name_parse(mdir_dlv_name(rc->dlv), &fn, &e) == -1) {
			/* Freeing unlinks a file left in tmp/. */
			store_rcpt_fail(rc, -1, STORE_E_LOCAL);
			continue;
		}
		rc->basename = xstrndup(mdir_dlv_name(rc->dlv), fn.base_len);
		rc->size = fn.has_size ? fn.size : mdir_dlv_size(rc->dlv);
		rc->vsize = fn.has_vsize ? fn.vsize : rc->size;
		rc->need_index = true;
		rc->r->result = 0;
		rc->r->error = NULL;
		mdir_dlv_free(&rc->dlv);
	}
	store_blobs_finish(d);
}

/* ---- [loop] completion and the pending list ---- */

static void
store_dlv_finish(struct store *s, struct store_dlv *d)
{
	struct store_dlv_rcpt	*rc;
	size_t			 i;

	for (i = 0; i < d->n; i++) {
		rc = &d->rc[i];
		if (rc->r->result != 0) {
			s->stats.failures++;
			continue;
		}
		s->stats.deliveries++;
		if (rc->index_failed)
			store_rescan_mark(s, rc->user, rc->mailbox);
		store_watch_fire(s, rc->user, rc->mailbox);
	}
	d->done(d->arg);
	store_dlv_free(&d);
}

static void
store_dlv_files_done(void *arg)
{
	struct store_dlv	*d = arg;
	struct store		*s = d->store;
	size_t			 i;
	bool			 index = false;

	TAILQ_REMOVE(&s->inflight, d, entry);
	s->stats.file_fsyncs += d->file_fsyncs;
	s->stats.dir_fsyncs += d->dir_fsyncs;
	for (i = 0; i < d->n; i++)
		index |= d->rc[i].need_index;
	if (!index) {
		store_dlv_finish(s, d);
		return;
	}
	TAILQ_INSERT_TAIL(&s->pending, d, entry);
	store_commit_kick(s);
}

void
store_deliver(struct store *s, struct store_msg *msg,
    struct store_rcpt *rcpts, size_t nrcpts, store_done_fn *done, void *arg)
{
	struct store_dlv	*d;
	struct store_dlv_rcpt	*rc;
	size_t			 i;

	d = xcalloc(1, sizeof(*d));
	d->store = s;
	d->msg = msg;
	d->spool_path = xstrdup(store_msg_path(msg));
	d->msg_size = store_msg_size(msg);
	d->done = done;
	d->arg = arg;
	d->internaldate = (int64_t)time(NULL);
	d->n = nrcpts;
	d->rc = xcalloc(nrcpts + 1, sizeof(*d->rc));
	for (i = 0; i < nrcpts; i++) {
		rc = &d->rc[i];
		rc->r = &rcpts[i];
		rc->r->result = -1;
		rc->r->error = STORE_E_LOCAL;
		rc->r->uid = 0;
		rc->r->uidvalidity = 0;
		rc->user = store_user(rcpts[i].account);
		rc->mailbox = store_mailbox_name(rcpts[i].folder);
		rc->special_use = store_conf_special_use(s->conf, rc->mailbox);
		rc->autocreate = store_conf_autocreate(s->conf, rc->mailbox);
		rc->quota = store_quota_of(s->conf, rc->user);
		store_rcpt_flags(rc, rcpts[i].flags);
	}
	TAILQ_INSERT_TAIL(&s->inflight, d, entry);
	work_submit(store_dlv_files_run, store_dlv_files_done, d);
}

/* ---- [serial] the index group commit ---- */

struct store_mbref {
	const char	*user;
	const char	*mailbox;
	uint32_t	 special_use;
	uint32_t	 id;
	uint32_t	 uidvalidity;
	bool		 found;
	size_t		 op;		/* create op */
};

/* Look up every slot's mailbox in one snapshot. */
static int
store_mbrefs_read(struct store *s, struct store_mbref *v, size_t n,
    const char **error_r)
{
	struct idx_read	*rd;
	struct idx_mbox	 mb;
	size_t		 i;
	int		 r;

	if (idx_read_begin(s->idx, &rd, error_r) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i].found)
			continue;
		r = idx_read_mailbox(rd, v[i].user, v[i].mailbox, &mb,
		    error_r);
		if (r == -1) {
			idx_read_end(&rd);
			return -1;
		}
		if (r == 1) {
			v[i].found = true;
			v[i].id = mb.id;
			v[i].uidvalidity = mb.uidvalidity;
		}
	}
	idx_read_end(&rd);
	return 0;
}

/* Create the mailbox records a delivery needs for the first time. */
static int
store_mbrefs_create(struct store_commit *c, struct store_mbref *v, size_t n,
    const char **error_r)
{
	struct idx_batch	*b;
	size_t			 i, want = 0;
	int			 r;

	b = idx_batch_new();
	for (i = 0; i < n; i++) {
		if (v[i].found)
			continue;
		v[i].op = idx_batch_mailbox_create(b, v[i].user, v[i].mailbox,
		    0, v[i].special_use);
		want++;
	}
	r = 0;
	if (want > 0) {
		c->commits++;
		r = idx_batch_commit_blocking(c->store->idx, b, error_r);
	}
	idx_batch_free(&b);
	if (r == 0 && want > 0)
		r = store_mbrefs_read(c->store, v, n, error_r);
	return r;
}

static void
store_commit_run(void *arg)
{
	struct store_commit	*c = arg;
	struct store		*s = c->store;
	struct store_dlv	*d;
	struct store_dlv_rcpt	*rc;
	struct store_mbref	*v = NULL, *ref;
	struct store_blob	*bl;
	struct idx_batch	*b = NULL;
	struct idx_msg_new	 nm;
	const struct idx_result	*res;
	struct hmap		*map;
	const char		*e = NULL;
	size_t			 n = 0, cap = 0, i, klen, *ops = NULL, nops = 0;
	uintptr_t		 slot;
	char			*key;
	int			 r;

	/* Distinct (user, mailbox) slots; hmap values are index + 1. */
	map = hmap_new();
	TAILQ_FOREACH(d, &c->dlvs, entry) {
		for (i = 0; i < d->n; i++) {
			rc = &d->rc[i];
			if (!rc->need_index)
				continue;
			nops++;
			key = store_key(rc->user, rc->mailbox, &klen);
			if (hmap_get(map, key, klen) == NULL) {
				if (n == cap) {
					cap = cap == 0 ? 16 : cap * 2;
					v = xreallocarray(v, cap, sizeof(*v));
				}
				memset(&v[n], 0, sizeof(v[n]));
				v[n].user = rc->user;
				v[n].mailbox = rc->mailbox;
				v[n].special_use = rc->special_use;
				n++;
				hmap_put(map, key, klen, (void *)(uintptr_t)n);
			}
			free(key);
		}
	}
	r = store_mbrefs_read(s, v, n, &e);
	if (r == 0)
		r = store_mbrefs_create(c, v, n, &e);
	if (r == 0) {
		b = idx_batch_new();
		ops = xcalloc(nops + 1, sizeof(*ops));
		nops = 0;
		TAILQ_FOREACH(d, &c->dlvs, entry) {
			for (i = 0; i < d->n; i++) {
				rc = &d->rc[i];
				if (!rc->need_index)
					continue;
				key = store_key(rc->user, rc->mailbox, &klen);
				slot = (uintptr_t)hmap_get(map, key, klen);
				free(key);
				ref = &v[slot - 1];
				if (!ref->found) {
					ops[nops++] = SIZE_MAX;
					continue;
				}
				bl = &d->blobs[rc->group];
				memset(&nm, 0, sizeof(nm));
				nm.basename = rc->basename;
				nm.flags = rc->idx_flags;
				nm.keywords = (const char *const *)rc->keywords;
				nm.nkeywords = rc->nkeywords;
				nm.internaldate = d->internaldate;
				nm.size = rc->vsize;
				nm.vsize = rc->size;
				nm.envelope = bl->envelope.data;
				nm.envelope_len = bl->envelope.len;
				nm.bodystructure = bl->bodystructure.data;
				nm.bodystructure_len = bl->bodystructure.len;
				ops[nops++] = idx_batch_msg_add(b, ref->id, &nm);
				rc->r->uidvalidity = ref->uidvalidity;
			}
		}
		c->commits++;
		r = idx_batch_commit_blocking(s->idx, b, &e);
	}
	if (r == -1)
		log_err("store index-commit error=\"%s\"", e);
	nops = 0;
	TAILQ_FOREACH(d, &c->dlvs, entry) {
		for (i = 0; i < d->n; i++) {
			rc = &d->rc[i];
			if (!rc->need_index)
				continue;
			res = NULL;
			if (r == 0 && ops[nops] != SIZE_MAX)
				res = idx_batch_result(b, ops[nops]);
			nops++;
			/* EXISTS: a concurrent rescan indexed it first. */
			if (res != NULL && (res->status == IDX_OK ||
			    (res->status == IDX_EXISTS && res->uid != 0))) {
				rc->r->uid = res->uid;
				continue;
			}
			if (res != NULL)
				log_err("store index-add user=%s mailbox=%s "
				    "file=%s error=\"%s\"", rc->user,
				    rc->mailbox, rc->basename, res->error);
			rc->index_failed = true;
			rc->r->uid = 0;
			rc->r->uidvalidity = 0;
			c->errors++;
		}
	}
	idx_batch_free(&b);
	free(ops);
	free(v);
	hmap_free(&map, NULL);
}

static void
store_commit_done(void *arg)
{
	struct store_commit	*c = arg;
	struct store		*s = c->store;
	struct store_dlv	*d;

	s->stats.index_commits += c->commits;
	s->stats.index_errors += c->errors;
	s->running = NULL;
	/* Start the next group before running callbacks: less idle time. */
	store_commit_kick(s);
	while ((d = TAILQ_FIRST(&c->dlvs)) != NULL) {
		TAILQ_REMOVE(&c->dlvs, d, entry);
		store_dlv_finish(s, d);
	}
	free(c);
}

/* Take everything pending into one serial job, if the lane is idle. */
static void
store_commit_kick(struct store *s)
{
	struct store_commit	*c;

	if (s->running != NULL || TAILQ_EMPTY(&s->pending))
		return;
	c = xcalloc(1, sizeof(*c));
	c->store = s;
	TAILQ_INIT(&c->dlvs);
	TAILQ_CONCAT(&c->dlvs, &s->pending, entry);
	s->running = c;
	work_submit_serial(store_commit_run, store_commit_done, c);
}

/*
 * store_close() after work_shutdown(): a delivery whose files were
 * committed while the pool drained may still sit in pending (the serial
 * lane had stopped).  Its files are durable and the sync will index
 * them; its caller is gone.  Free, do not call back.
 */
void
store_deliver_abandon(struct store *s)
{
	struct store_dlv	*d;
	struct store_commit	*c;

	if ((c = s->running) != NULL) {
		TAILQ_CONCAT(&s->pending, &c->dlvs, entry);
		free(c);
		s->running = NULL;
	}
	while ((d = TAILQ_FIRST(&s->pending)) != NULL) {
		TAILQ_REMOVE(&s->pending, d, entry);
		log_warn("store abandon-delivery spool=%s", d->spool_path);
		store_dlv_free(&d);
	}
	while ((d = TAILQ_FIRST(&s->inflight)) != NULL) {
		TAILQ_REMOVE(&s->inflight, d, entry);
		log_warn("store abandon-delivery spool=%s", d->spool_path);
		store_dlv_free(&d);
	}
}
