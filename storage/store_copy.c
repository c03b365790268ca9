/*
 * store_copy.c - COPY and MOVE of messages between two mailboxes of one
 * account (RFC 9051 6.4.7, RFC 6851), with the UID mapping UIDPLUS needs
 * for COPYUID (RFC 4315 3).
 *
 * One store_copy() call is three steps, like store_mbox.c:
 *
 *   [loop]   one index snapshot: both mailboxes, each message's base
 *            name, flags, keywords, dates, sizes and cached ENVELOPE and
 *            BODYSTRUCTURE (copied, so the worker holds no snapshot);
 *            quota for COPY (a MOVE within one account changes nothing)
 *   [worker] per message: COPY makes a new file under a new unique name,
 *            link() straight into new/ or cur/ (atomic, and the data is
 *            already durable), else a byte copy through tmp/ with fsync
 *            and rename; MOVE renames the file into the target folder
 *            (same file system: one atomic step), else copy + unlink.
 *            The new name carries the flag letters and the keyword
 *            letters of the target folder's dovecot-keywords (a moved
 *            file's old letters meant the source's keywords), that file
 *            made durable first (store_deliver_keyword_letters_blocking).
 *            Then every touched directory is fsynced once, and only
 *            then the learn hook sees the durable file (\Junk rules)
 *   [serial] one index batch: the new messages into the target (UIDs are
 *            given out here) and, for MOVE, the expunges from the source
 *   [loop]   watchers of both mailboxes fire, done(arg, result)
 *
 * COPY is all or nothing (RFC 9051 6.4.7: a failed COPY leaves the target
 * as it was): on a file error every copy made so far is unlinked.  A MOVE
 * that fails part way indexes what moved, since those files have left
 * the source already.  If the index commit fails the files are durable
 * and both mailboxes are marked for rescan (store_deliver.c does the
 * same); the result is then 0 with no UIDs.
 *
 * Owns struct store_cjob (one call).  Threads as marked; a job is touched
 * by one thread at a time, handed over through work_submit.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "idx.h"
#include "log.h"
#include "mdir.h"
#include "store.h"
#include "store_private.h"
#include "work.h"
#include "xmalloc.h"

#define STORE_COPY_BUF		(64 * 1024)

struct store_cmsg {
	uint32_t	 src_uid;
	uint32_t	 flags;		/* IDX_F_* */
	char		*kw[IDX_KEYWORDS_MAX];
	size_t		 nkw;
	int64_t		 internaldate;
	uint64_t	 size;		/* RFC822.SIZE (CRLF) */
	uint64_t	 vsize;		/* bytes on disk */
	void		*env;
	size_t		 env_len;
	void		*bs;
	size_t		 bs_len;
	/* after the file step */
	char		*dst_base;	/* file name up to ':' */
	char		*dst_path;	/* for the learn hook and rollback */
	bool		 placed;
	/* after the index step */
	size_t		 op;
	uint32_t	 dst_uid;
};

struct store_cjob {
	struct store		*store;
	char			*user;
	char			*account;
	char			*from;
	char			*to;
	bool			 move;
	uint32_t		 src_id;
	uint32_t		 dst_id;
	uint32_t		 uidvalidity;	/* of the target */
	uint32_t		 src_su;	/* IDX_SU_* */
	uint32_t		 dst_su;
	struct store_cmsg	*m;
	size_t			 n;
	store_learn_fn		*learn;
	bool			 index_failed;
	bool			 changed;
	struct store_copy_result res;
	char			 error[256];
	uint32_t		*ru_src;
	uint32_t		*ru_dst;
	store_copy_done_fn	*done;
	void			*arg;
};

static void
store_cjob_free(struct store_cjob **jp)
{
	struct store_cjob	*j = *jp;
	size_t			 i, k;

	if (j == NULL)
		return;
	for (i = 0; i < j->n; i++) {
		for (k = 0; k < j->m[i].nkw; k++)
			free(j->m[i].kw[k]);
		free(j->m[i].env);
		free(j->m[i].bs);
		free(j->m[i].dst_base);
		free(j->m[i].dst_path);
	}
	free(j->m);
	free(j->ru_src);
	free(j->ru_dst);
	free(j->user);
	free(j->account);
	free(j->from);
	free(j->to);
	xfree(*jp);
}

static void
store_cjob_fail(struct store_cjob *j, int result, const char *error)
{
	if (j->res.result != 0)
		return;
	j->res.result = result;
	snprintf(j->error, sizeof(j->error), "%s", error);
	j->res.error = j->error;
}

/* The account's quota in bytes, 0 for none (as store_deliver.c). */
static uint64_t
store_copy_quota(const struct conf *conf, const char *user)
{
	const struct conf_account	*a;

	if (conf == NULL || !conf->quota.enable)
		return 0;
	if ((a = conf_find_account(conf, user)) != NULL && a->quota != 0)
		return a->quota;
	return conf->quota.default_per_user;
}

static void *
store_copy_memdup(const void *p, size_t len)
{
	void	*r;

	if (p == NULL || len == 0)
		return NULL;
	r = xmalloc(len);
	memcpy(r, p, len);
	return r;
}

/* [loop] Everything the worker needs, from one snapshot. */
static void
store_copy_snapshot(struct store_cjob *j, const uint32_t *uids, size_t n)
{
	struct store		*s = j->store;
	struct idx_read		*rd;
	struct idx_mbox		 src, dst;
	struct idx_msg		 msg;
	struct idx_usage	 u;
	struct store_cmsg	*cm;
	const char		*names[IDX_KEYWORDS_MAX];
	const void		*env, *bs;
	const char		*e;
	size_t			 i, k, env_len, bs_len;
	uint64_t		 need = 0, quota;
	int			 r;

	if (idx_read_begin(s->idx, &rd, &e) == -1) {
		store_cjob_fail(j, -1, e);
		return;
	}
	if ((r = idx_read_mailbox(rd, j->user, j->from, &src, &e)) != 1) {
		store_cjob_fail(j, r == 0 ? -2 : -1, r == 0 ?
		    "Source mailbox does not exist" : e);
		goto out;
	}
	if ((r = idx_read_mailbox(rd, j->user, j->to, &dst, &e)) != 1) {
		if (r == 0)
			j->res.nonexistent = true;
		store_cjob_fail(j, r == 0 ? -2 : -1, r == 0 ?
		    "Mailbox does not exist" : e);
		goto out;
	}
	j->src_id = src.id;
	j->dst_id = dst.id;
	j->uidvalidity = dst.uidvalidity;
	j->src_su = src.special_use;
	j->dst_su = dst.special_use;
	for (k = 0; k < IDX_KEYWORDS_MAX; k++)
		names[k] = NULL;
	if (idx_read_keywords(rd, src.id, names, &e) == -1) {
		store_cjob_fail(j, -1, e);
		goto out;
	}
	j->m = xcalloc(n + 1, sizeof(*j->m));
	for (i = 0; i < n; i++) {
		if ((r = idx_read_message(rd, src.id, uids[i], &msg, &e)) == -1) {
			store_cjob_fail(j, -1, e);
			goto out;
		}
		if (r == 0)
			continue;	/* expunged meanwhile: skip it */
		cm = &j->m[j->n++];
		cm->src_uid = msg.uid;
		cm->flags = msg.flags & IDX_F_ALL;
		cm->internaldate = msg.internaldate;
		cm->size = msg.size;
		cm->vsize = msg.vsize;
		need += msg.size;
		for (k = 0; k < IDX_KEYWORDS_MAX; k++)
			if ((msg.keywords & ((uint64_t)1 << k)) &&
			    names[k] != NULL)
				cm->kw[cm->nkw++] = xstrdup(names[k]);
		if (idx_read_cache(rd, src.id, msg.uid, &env, &env_len, &bs,
		    &bs_len, &e) == 1) {
			cm->env = store_copy_memdup(env, env_len);
			cm->env_len = cm->env != NULL ? env_len : 0;
			cm->bs = store_copy_memdup(bs, bs_len);
			cm->bs_len = cm->bs != NULL ? bs_len : 0;
		}
	}
	/* RFC 9208 5.1: COPY must not take the account over its limit. */
	quota = store_copy_quota(s->conf, j->user);
	if (!j->move && quota != 0 && idx_read_usage(rd, j->user, &u,
	    &e) == 1 && (u.bytes > quota || need > quota - u.bytes)) {
		log_info("store copy over-quota user=%s used=%llu size=%llu "
		    "quota=%llu", j->user, (unsigned long long)u.bytes,
		    (unsigned long long)need, (unsigned long long)quota);
		j->res.overquota = true;
		store_cjob_fail(j, -2, "Quota exceeded");
	}
out:
	idx_read_end(&rd);
}

/* ---- [worker] the Maildir step ---- */

static int
store_copy_fsync_dir(const char *dir)
{
	int	 fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* [worker] Byte copy src -> tmp/<fname>, fsync, rename to dst. */
static int
store_copy_bytes(const char *src, const char *tmp, const char *dst)
{
	char	*buf;
	ssize_t	 r, w, off;
	int	 in, out, rc = -1;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		close(in);
		return -1;
	}
	buf = xmalloc(STORE_COPY_BUF);
	for (;;) {
		r = read(in, buf, STORE_COPY_BUF);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (off = 0; off < r; off += w)
			if ((w = write(out, buf + off, (size_t)(r - off))) <= 0)
				goto fail;
	}
	if (r == 0 && fsync(out) == 0 && rename(tmp, dst) == 0)
		rc = 0;
fail:
	free(buf);
	close(in);
	if (close(out) == -1)
		rc = -1;
	if (rc == -1)
		unlink(tmp);
	return rc;
}

/*
 * [worker] The target's keyword letters: all[0..nall) are the distinct
 * keyword names of the job, kl[i] the letter of all[i] or '\0'.
 */
struct store_copy_kw {
	const char	**all;
	char		 *kl;
	size_t		  nall;
};

static void
store_copy_kw_letters(const struct store_copy_kw *ck,
    const struct store_cmsg *cm, char *letters, size_t size)
{
	char	*p = letters + strlen(letters);
	size_t	 i, k;

	for (i = 0; i < cm->nkw; i++)
		for (k = 0; k < ck->nall; k++)
			if (ck->kl[k] != '\0' &&
			    strcasecmp(ck->all[k], cm->kw[i]) == 0 &&
			    strchr(letters, ck->kl[k]) == NULL &&
			    p < letters + size - 1) {
				*p++ = ck->kl[k];
				*p = '\0';
			}
}

/* [worker] Look up (or define) the target's keyword letters. */
static void
store_copy_kw_init(struct store_cjob *j, const char *dfolder,
    struct store_copy_kw *ck)
{
	const char	*e;
	size_t		 i, k, cap = 0;

	memset(ck, 0, sizeof(*ck));
	for (i = 0; i < j->n; i++)
		cap += j->m[i].nkw;
	if (cap == 0)
		return;
	ck->all = xcalloc(cap, sizeof(*ck->all));
	for (i = 0; i < j->n; i++)
		for (k = 0; k < j->m[i].nkw; k++) {
			size_t	 x;

			for (x = 0; x < ck->nall; x++)
				if (strcasecmp(ck->all[x], j->m[i].kw[k]) == 0)
					break;
			if (x == ck->nall)
				ck->all[ck->nall++] = j->m[i].kw[k];
		}
	ck->kl = xcalloc(ck->nall + 1, 1);
	if (store_deliver_keyword_letters_blocking(dfolder, ck->all, ck->nall,
	    ck->kl, &e) == -1)
		log_warn("store copy keywords folder=%s error=\"%s\"",
		    dfolder, e);
}

/* [worker] Place one message; 0 or -1 (errno kept for the log). */
static int
store_copy_one(struct store_cjob *j, struct store_cmsg *cm,
    const struct store_copy_kw *ck, const char *src, const char *dfolder,
    bool *dirty_new, bool *dirty_cur, char **src_dir_r)
{
	struct stat	 st;
	char		 letters[MDIR_FLAGS_MAX];
	char		*base, *fname, *dst, *tmp, *slash;
	int		 rc;

	if (stat(src, &st) == -1)
		return -1;
	store_flags_to_letters(cm->flags, letters);
	store_copy_kw_letters(ck, cm, letters, sizeof(letters));
	base = mdir_name_unique();
	cm->dst_base = xasprintf("%s,S=%llu,W=%llu", base,
	    (unsigned long long)st.st_size, (unsigned long long)cm->size);
	free(base);
	/* No flags: new/ (\Recent in the target), else cur/ with ":2,". */
	fname = letters[0] != '\0' ? xasprintf("%s:2,%s", cm->dst_base,
	    letters) : xstrdup(cm->dst_base);
	dst = xasprintf("%s/%s/%s", dfolder, letters[0] != '\0' ? "cur" :
	    "new", fname);
	tmp = xasprintf("%s/tmp/%s", dfolder, fname);
	if (j->move) {
		rc = rename(src, dst);
		if (rc == -1 && errno == EXDEV &&
		    (rc = store_copy_bytes(src, tmp, dst)) == 0)
			rc = unlink(src) == -1 && errno != ENOENT ? -1 : 0;
		if (rc == 0 && (slash = strrchr(src, '/')) != NULL)
			*src_dir_r = xstrndup(src, (size_t)(slash - src));
	} else {
		rc = link(src, dst);
		if (rc == -1 && errno != EEXIST)
			rc = store_copy_bytes(src, tmp, dst);
	}
	if (rc == 0) {
		cm->placed = true;
		cm->dst_path = dst;
		dst = NULL;
		if (letters[0] != '\0')
			*dirty_cur = true;
		else
			*dirty_new = true;
	}
	free(dst);
	free(tmp);
	free(fname);
	return rc;
}

/* [worker] Is this copy a spam (1) or ham (0) lesson, or neither (-1)? */
static int
store_copy_lesson(const struct store_cjob *j)
{
	bool	 from_junk = (j->src_su & IDX_SU_JUNK) != 0;
	bool	 to_junk = (j->dst_su & IDX_SU_JUNK) != 0;

	if (to_junk && !from_junk)
		return 1;
	if (from_junk && !to_junk && !(j->dst_su & IDX_SU_TRASH))
		return 0;
	return -1;
}

static void
store_copy_files_run(void *arg)
{
	struct store_cjob	*j = arg;
	struct store		*s = j->store;
	struct store_copy_kw	 ck;
	char			*root = NULL, *dfolder = NULL, *src, *sdir;
	char			*sdirs[2] = { NULL, NULL }, *d;
	const char		*e;
	bool			 dn = false, dc = false, failed = false;
	size_t			 i, k;
	int			 lesson;

	memset(&ck, 0, sizeof(ck));
	if (mdir_user_root(s->storage_path, j->user, &root, &e) == -1 ||
	    mdir_folder_path(root, s->layout, s->sep, s->utf8, j->to,
	    &dfolder, &e) == -1) {
		store_cjob_fail(j, -1, e);
		goto out;
	}
	store_copy_kw_init(j, dfolder, &ck);
	for (i = 0; i < j->n && !failed; i++) {
		src = NULL;
		sdir = NULL;
		if (store_msg_open_path_blocking(s, j->account, j->from,
		    j->m[i].src_uid, &src, &e) != 1)
			continue;	/* gone: expunged meanwhile */
		if (store_copy_one(j, &j->m[i], &ck, src, dfolder, &dn, &dc,
		    &sdir) == -1) {
			log_err("store copy user=%s from=%s to=%s uid=%u "
			    "error=\"%s\"", j->user, j->from, j->to,
			    j->m[i].src_uid, strerror(errno));
			failed = true;
		}
		/* The source's new/ and cur/ (a MOVE removed names there). */
		for (k = 0; sdir != NULL && k < 2; k++) {
			if (sdirs[k] == NULL) {
				sdirs[k] = sdir;
				sdir = NULL;
			} else if (strcmp(sdirs[k], sdir) == 0)
				break;
		}
		free(sdir);
		free(src);
	}
	if (failed && !j->move) {
		/* All or nothing: take back what this COPY made. */
		for (i = 0; i < j->n; i++)
			if (j->m[i].placed && unlink(j->m[i].dst_path) == 0)
				j->m[i].placed = false;
	}
	/* The names are durable once their directories are (STYLE 2.3.9). */
	for (k = 0; k < 4; k++) {
		d = NULL;
		if ((k == 0 && dn) || (k == 1 && dc))
			d = xasprintf("%s/%s", dfolder, k == 0 ? "new" : "cur");
		else if (k >= 2 && sdirs[k - 2] != NULL)
			d = xstrdup(sdirs[k - 2]);
		if (d != NULL && store_copy_fsync_dir(d) == -1) {
			log_err("store copy fsync dir=%s error=\"%s\"", d,
			    strerror(errno));
			failed = true;
		}
		free(d);
	}
	for (i = 0, k = 0; i < j->n; i++)
		k += j->m[i].placed;
	if (failed && (!j->move || k == 0))
		store_cjob_fail(j, -1, "Cannot copy the messages");
	lesson = store_copy_lesson(j);
	for (i = 0; j->learn != NULL && lesson != -1 && i < j->n; i++)
		if (j->m[i].placed)
			j->learn(j->account, j->m[i].dst_path, lesson == 1);
out:
	free(ck.all);
	free(ck.kl);
	free(sdirs[0]);
	free(sdirs[1]);
	free(root);
	free(dfolder);
}

/* ---- [serial] the index step ---- */

static void
store_copy_index_run(void *arg)
{
	struct store_cjob	*j = arg;
	struct store		*s = j->store;
	struct idx_batch	*b;
	struct idx_msg_new	 nm;
	const struct idx_result	*res;
	struct store_cmsg	*cm;
	const char		*e;
	size_t			 i;

	b = idx_batch_new();
	for (i = 0; i < j->n; i++) {
		cm = &j->m[i];
		if (!cm->placed)
			continue;
		memset(&nm, 0, sizeof(nm));
		nm.basename = cm->dst_base;
		nm.flags = cm->flags;
		nm.keywords = (const char *const *)cm->kw;
		nm.nkeywords = cm->nkw;
		nm.internaldate = cm->internaldate;
		nm.size = cm->size;
		nm.vsize = cm->vsize;
		nm.envelope = cm->env;
		nm.envelope_len = cm->env_len;
		nm.bodystructure = cm->bs;
		nm.bodystructure_len = cm->bs_len;
		cm->op = idx_batch_msg_add(b, j->dst_id, &nm);
		if (j->move)
			idx_batch_msg_expunge(b, j->src_id, cm->src_uid);
	}
	if (idx_batch_count(b) == 0) {
		idx_batch_free(&b);
		return;
	}
	j->changed = true;
	if (idx_batch_commit_blocking(s->idx, b, &e) == -1) {
		log_err("store copy-index user=%s to=%s error=\"%s\"", j->user,
		    j->to, e);
		j->index_failed = true;
		idx_batch_free(&b);
		return;
	}
	for (i = 0; i < j->n; i++) {
		cm = &j->m[i];
		if (!cm->placed)
			continue;
		res = idx_batch_result(b, cm->op);
		if (res->status == IDX_OK)
			cm->dst_uid = res->uid;
		else
			j->index_failed = true;
	}
	idx_batch_free(&b);
}

/* ---- [loop] completion ---- */

static void
store_copy_finish(struct store_cjob *j)
{
	struct store	*s = j->store;
	size_t		 i;

	if (j->index_failed) {
		store_rescan_mark(s, j->user, j->to);
		if (j->move)
			store_rescan_mark(s, j->user, j->from);
	}
	if (j->changed) {
		store_watch_fire(s, j->user, j->to);
		if (j->move)
			store_watch_fire(s, j->user, j->from);
	}
	j->ru_src = xcalloc(j->n + 1, sizeof(*j->ru_src));
	j->ru_dst = xcalloc(j->n + 1, sizeof(*j->ru_dst));
	for (i = 0; i < j->n && !j->index_failed; i++) {
		if (j->m[i].dst_uid == 0)
			continue;
		j->ru_src[j->res.n] = j->m[i].src_uid;
		j->ru_dst[j->res.n] = j->m[i].dst_uid;
		j->res.n++;
	}
	j->res.src_uids = j->ru_src;
	j->res.dst_uids = j->ru_dst;
	j->res.uidvalidity = j->uidvalidity;
	if (j->res.result != 0 && j->res.error == NULL)
		j->res.error = "Failed";
	j->done(j->arg, &j->res);
	store_cjob_free(&j);
}

static void
store_copy_index_done(void *arg)
{
	struct store_cjob	*j = arg;

	j->store->stats.index_commits++;
	store_copy_finish(j);
}

static void
store_copy_files_done(void *arg)
{
	struct store_cjob	*j = arg;
	size_t			 i;
	bool			 any = false;

	for (i = 0; i < j->n; i++)
		any |= j->m[i].placed;
	if (!any || (j->res.result != 0 && !j->move)) {
		store_copy_finish(j);
		return;
	}
	work_submit_serial(store_copy_index_run, store_copy_index_done, j);
}

void
store_copy(struct store *s, const char *account, const char *from,
    const char *to, const uint32_t *uids, size_t n, bool move,
    store_learn_fn *learn, store_copy_done_fn *done, void *arg)
{
	struct store_cjob	*j;

	j = xcalloc(1, sizeof(*j));
	j->store = s;
	j->user = store_user(account);
	j->account = xstrdup(account);
	j->from = xstrdup(store_mailbox_name(from));
	j->to = xstrdup(store_mailbox_name(to));
	j->move = move;
	j->learn = learn;
	j->done = done;
	j->arg = arg;
	store_copy_snapshot(j, uids, n);
	if (j->res.result != 0 || j->n == 0) {
		store_copy_finish(j);
		return;
	}
	work_submit(store_copy_files_run, store_copy_files_done, j);
}
