/*
 * lda_apply.c - run one account's Sieve script on one message and turn
 * the actions into local deliveries and side actions (lda.h).
 *
 * Owns the process-wide cache of compiled scripts: one entry per account
 * and source (the active file, keyed by device, inode, size and mtime;
 * or the config's sieve_script, keyed by its text).  Entries are
 * reference counted so a worker may keep running a script another worker
 * just replaced.  Any failure (unreadable script, compile error, run-time
 * error, unreadable message) keeps the message in INBOX and logs one
 * line (RFC 5228 2.10.6): a broken filter never loses mail.
 *
 * Threads: lda_apply_blocking runs on workers [worker]; the cache is
 * guarded by one mutex [any].
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "hmap.h"
#include "lda.h"
#include "log.h"
#include "mdir.h"
#include "sieve.h"
#include "xmalloc.h"

#define LDA_MSG_MAX	(256ULL * 1024 * 1024)	/* sanity cap on reads */

struct lda_cached {
	int			 refs;
	struct sieve_script	*script;
	dev_t			 dev;
	ino_t			 ino;
	off_t			 size;
	struct timespec		 mtime;
	char			*src;	/* config scripts: the text */
};

static pthread_mutex_t	 lda_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmap	*lda_cache;	/* "f\0account" / "c\0account" */

static void
lda_cached_unref(struct lda_cached **cp)
{
	struct lda_cached	*c = *cp;
	int			 left;

	*cp = NULL;
	if (c == NULL)
		return;
	pthread_mutex_lock(&lda_lock);
	left = --c->refs;
	pthread_mutex_unlock(&lda_lock);
	if (left > 0)
		return;
	sieve_script_free(&c->script);
	free(c->src);
	free(c);
}

static void
lda_cache_drop(void *v)
{
	struct lda_cached	*c = v;

	if (--c->refs > 0)
		return;
	sieve_script_free(&c->script);
	free(c->src);
	free(c);
}

void
lda_cache_clear(void)
{
	pthread_mutex_lock(&lda_lock);
	if (lda_cache != NULL)
		hmap_free(&lda_cache, lda_cache_drop);
	pthread_mutex_unlock(&lda_lock);
}

/* Look up a matching entry and take a reference; NULL if none. */
static struct lda_cached *
lda_cache_get(const char *key, size_t klen, const struct stat *st,
    const char *src)
{
	struct lda_cached	*c;

	pthread_mutex_lock(&lda_lock);
	c = lda_cache != NULL ? hmap_get(lda_cache, key, klen) : NULL;
	if (c != NULL) {
		if (st != NULL ? (c->src != NULL || c->dev != st->st_dev ||
		    c->ino != st->st_ino || c->size != st->st_size ||
		    c->mtime.tv_sec != st->st_mtim.tv_sec ||
		    c->mtime.tv_nsec != st->st_mtim.tv_nsec) :
		    (c->src == NULL || strcmp(c->src, src) != 0))
			c = NULL;
		else
			c->refs++;
	}
	pthread_mutex_unlock(&lda_lock);
	return c;
}

/* Insert c (one reference is the cache's, one the caller's). */
static void
lda_cache_put(const char *key, size_t klen, struct lda_cached *c)
{
	struct lda_cached	*old;

	c->refs = 2;
	pthread_mutex_lock(&lda_lock);
	if (lda_cache == NULL)
		lda_cache = hmap_new();
	old = hmap_put(lda_cache, key, klen, c);
	if (old != NULL && --old->refs == 0) {
		sieve_script_free(&old->script);
		free(old->src);
		free(old);
	}
	pthread_mutex_unlock(&lda_lock);
}

/* Read a whole file (at most max bytes): 0 or -1 with errno. */
static int
lda_slurp(const char *path, uint64_t max, char **buf_r, size_t *len_r,
    struct stat *st_r)
{
	struct stat	 st;
	char		*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*buf_r = buf;
	*len_r = off;
	if (st_r != NULL)
		*st_r = st;
	return 0;
}

/*
 * The compiled script for account: 1 with *c_r, 0 when the account has
 * none, -1 with *error_r (malloced) when it cannot be used.
 */
static int
lda_script_for(const struct conf *conf, const char *account,
    struct lda_cached **c_r, char **error_r)
{
	const struct conf_account	*a;
	struct lda_cached		*c;
	struct sieve_error		 err;
	struct stat			 st;
	char				*path, *key, *text;
	size_t				 klen, len;

	*c_r = NULL;
	path = lda_script_active_path_blocking(conf, account);
	klen = strlen(account) + 2;
	key = xmalloc(klen);
	key[0] = path != NULL ? 'f' : 'c';
	key[1] = '\0';
	memcpy(key + 2, account, klen - 2);
	if (path != NULL) {
		if (stat(path, &st) == 0 &&
		    (c = lda_cache_get(key, klen, &st, NULL)) != NULL)
			goto found;
		if (lda_slurp(path, LDA_SCRIPT_MAX, &text, &len, &st) == -1) {
			*error_r = xasprintf("read active script: %s",
			    strerror(errno));
			free(path);
			free(key);
			return -1;
		}
		c = xcalloc(1, sizeof(*c));
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->size = st.st_size;
		c->mtime = st.st_mtim;
	} else {
		a = conf_find_account(conf, account);
		if (a == NULL || a->sieve_script == NULL ||
		    *a->sieve_script == '\0') {
			free(key);
			return 0;
		}
		if ((c = lda_cache_get(key, klen, NULL, a->sieve_script)) !=
		    NULL)
			goto found;
		text = xstrdup(a->sieve_script);
		len = strlen(text);
		c = xcalloc(1, sizeof(*c));
		c->src = xstrdup(text);
	}
	c->script = sieve_compile(text, len, &err);
	free(text);
	if (c->script == NULL) {
		*error_r = xasprintf("%s script: %s", path != NULL ?
		    "active" : "configured", err.msg);
		free(c->src);
		free(c);
		free(path);
		free(key);
		return -1;
	}
	lda_cache_put(key, klen, c);
found:
	free(path);
	free(key);
	*c_r = c;
	return 1;
}

struct lda_mbox_arg {
	const struct conf	*conf;
	char			*root;
};

/* [worker] mailboxexists (RFC 5490 3.1): the folder's cur/ exists. */
static bool
lda_mailbox_exists(void *arg, const char *mailbox)
{
	struct lda_mbox_arg	*m = arg;
	const struct conf	*conf = m->conf;
	struct stat		 st;
	char			*folder, *cur;
	const char		*e;
	bool			 ok;

	if (m->root == NULL)
		return false;
	if (mdir_folder_path(m->root, conf->storage.layout == CONF_LAYOUT_FS ?
	    MDIR_LAYOUT_FS : MDIR_LAYOUT_MAILDIRPP,
	    conf->storage.hierarchy_separator != '\0' ?
	    conf->storage.hierarchy_separator : '.',
	    conf->storage.use_utf8_folder_names, mailbox, &folder, &e) == -1)
		return false;
	cur = xasprintf("%s/cur", folder);
	ok = stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
	free(cur);
	free(folder);
	return ok;
}

static void
lda_add_dlv(struct lda_result *r, const char *folder, char **flags,
    size_t nflags, bool create)
{
	struct buf	 b = BUF_INIT;
	size_t		 i, len;
	struct lda_dlv	*d;

	r->dlv = xreallocarray(r->dlv, r->ndlv + 1, sizeof(*r->dlv));
	d = &r->dlv[r->ndlv++];
	d->folder = folder != NULL ? xstrdup(folder) : NULL;
	d->flags = NULL;
	d->create = create && folder != NULL;
	for (i = 0; i < nflags; i++)
		buf_printf(&b, "%s%s", i ? " " : "", flags[i]);
	if (nflags > 0)
		d->flags = buf_steal(&b, &len);
	buf_free(&b);
}

static void
lda_keep(struct lda_result *r)
{
	size_t	 i;

	for (i = 0; i < r->ndlv; i++) {
		free(r->dlv[i].folder);
		free(r->dlv[i].flags);
	}
	r->ndlv = 0;
	lda_add_dlv(r, NULL, NULL, 0, false);
}

/* A failure: forget what the script asked for and keep in INBOX. */
static void
lda_fail(struct lda_result *r, const char *account, char *error)
{
	size_t	 i;

	log_warn("lda sieve user=%s action=keep error=\"%s\"", account, error);
	r->error = error;
	lda_keep(r);
	for (i = 0; i < r->nredirect; i++)
		free(r->redirect[i]);
	xfree(r->redirect);
	r->nredirect = 0;
	xfree(r->reject);
	r->vacation = false;
}

void
lda_apply_blocking(const struct conf *conf, const char *account,
    const char *path, const char *prepend, const char *env_from,
    const char *env_to,
    double spam_score, struct lda_result *r)
{
	struct lda_cached		*c = NULL;
	struct sieve_msg_ctx		 ctx;
	struct sieve_result		*res = NULL;
	const struct sieve_action	*a;
	struct lda_mbox_arg		 mb;
	char				*error = NULL, *msg = NULL;
	const char			*e;
	size_t				 i, k, n, len = 0;
	int				 rc;

	memset(r, 0, sizeof(*r));
	memset(&mb, 0, sizeof(mb));
	if ((rc = lda_script_for(conf, account, &c, &error)) <= 0) {
		if (rc == -1)
			lda_fail(r, account, error);
		else
			lda_keep(r);
		return;
	}
	r->scripted = true;
	if (lda_slurp(path, LDA_MSG_MAX, &msg, &len, NULL) == -1) {
		lda_fail(r, account, xasprintf("read message: %s",
		    strerror(errno)));
		lda_cached_unref(&c);
		return;
	}
	if (prepend != NULL && *prepend != '\0') {
		size_t	 plen = strlen(prepend);
		char	*whole = xmalloc(plen + len + 1);

		memcpy(whole, prepend, plen);
		memcpy(whole + plen, msg, len);
		whole[plen + len] = '\0';
		free(msg);
		msg = whole;
		len += plen;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = msg;
	ctx.msg_len = len;
	ctx.env_from = env_from;
	ctx.env_to = env_to;
	ctx.delimiter = conf->recipient_delimiter != NULL &&
	    conf->recipient_delimiter[0] != '\0' ?
	    conf->recipient_delimiter[0] : '+';
	ctx.spam_tested = spam_score >= 0;
	ctx.spam_score = spam_score >= 0 ? spam_score : 0;
	ctx.spam_max = 10.0;
	mb.conf = conf;
	if (mdir_user_root(conf->storage.path, account, &mb.root, &e) == -1)
		mb.root = NULL;
	ctx.mailbox_exists = lda_mailbox_exists;
	ctx.arg = &mb;
	rc = sieve_run(c->script, &ctx, &res);
	free(mb.root);
	free(msg);
	lda_cached_unref(&c);
	if (rc == -1) {
		lda_fail(r, account, xasprintf("run-time: %s",
		    sieve_result_error(res) != NULL ? sieve_result_error(res) :
		    "unknown"));
		sieve_result_free(&res);
		return;
	}
	n = sieve_result_count(res);
	for (i = 0; i < n; i++) {
		a = sieve_result_action(res, i);
		switch (a->kind) {
		case SIEVE_ACT_KEEP:
			lda_add_dlv(r, NULL, a->flags, a->n_flags, false);
			break;
		case SIEVE_ACT_FILEINTO:
			lda_add_dlv(r, a->target, a->flags, a->n_flags,
			    a->create);
			break;
		case SIEVE_ACT_REDIRECT:
			r->redirect = xreallocarray(r->redirect,
			    r->nredirect + 1, sizeof(*r->redirect));
			r->redirect[r->nredirect++] = xstrdup(a->target);
			break;
		case SIEVE_ACT_REJECT:
		case SIEVE_ACT_EREJECT:
			free(r->reject);
			r->reject = xstrdup(a->text != NULL ? a->text : "");
			break;
		case SIEVE_ACT_VACATION:
			r->vacation = true;
			r->vac_subject = a->subject ? xstrdup(a->subject) : NULL;
			r->vac_from = a->from ? xstrdup(a->from) : NULL;
			r->vac_text = xstrdup(a->text != NULL ? a->text : "");
			r->vac_handle = xstrdup(a->handle != NULL ?
			    a->handle : "");
			r->vac_seconds = a->seconds;
			r->vac_mime = a->mime;
			r->vac_addresses = xcalloc(a->n_addresses + 1,
			    sizeof(*r->vac_addresses));
			for (k = 0; k < a->n_addresses; k++)
				r->vac_addresses[k] = xstrdup(a->addresses[k]);
			r->nvac_addresses = a->n_addresses;
			break;
		case SIEVE_ACT_DISCARD:
		default:
			break;
		}
	}
	sieve_result_free(&res);
}

void
lda_result_clear(struct lda_result *r)
{
	size_t	 i;

	for (i = 0; i < r->ndlv; i++) {
		free(r->dlv[i].folder);
		free(r->dlv[i].flags);
	}
	free(r->dlv);
	for (i = 0; i < r->nredirect; i++)
		free(r->redirect[i]);
	free(r->redirect);
	free(r->error);
	free(r->reject);
	free(r->vac_subject);
	free(r->vac_from);
	free(r->vac_text);
	free(r->vac_handle);
	for (i = 0; i < r->nvac_addresses; i++)
		free(r->vac_addresses[i]);
	free(r->vac_addresses);
	memset(r, 0, sizeof(*r));
}
