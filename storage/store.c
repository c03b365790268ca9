/*
 * store.c - the store facade: open and close, the spool of incoming
 * messages, change watchers, counters, and the small read API (mailbox
 * list, UID -> file path).  Deliveries live in store_deliver.c, account
 * set-up in store_account.c.
 *
 * Owns struct store (one per process), the spool files under
 * <state_dir>/spool/ and the watcher lists.  Threads: everything here
 * runs on the loop thread except store_open (at start, blocking) and
 * store_msg_open_path_blocking (worker).  An incoming message is written
 * to the page cache on the loop thread, the way Redis writes its AOF;
 * only the delivery job fsyncs, and it fsyncs the Maildir copies, never
 * the spool file, which is scratch and unlinked by store_msg_free.
 */
#include <sys/stat.h>
#include <sys/queue.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "hmap.h"
#include "idx.h"
#include "log.h"
#include "mdir.h"
#include "store.h"
#include "store_private.h"
#include "str.h"
#include "xmalloc.h"

#define STORE_SPOOL_TRIES	8

struct store_msg {
	struct store	*store;
	char		*path;
	int		 fd;
	uint64_t	 size;
	bool		 failed;	/* a write failed: never deliver it */
};

TAILQ_HEAD(store_watch_head, store_watch);

struct store_watch_list {
	struct store_watch_head	 head;
	char			*key;
	size_t			 keylen;
};

struct store_watch {
	TAILQ_ENTRY(store_watch) entry;
	struct store		*store;
	struct store_watch_list	*list;
	void			(*cb)(void *);
	void			*arg;
	bool			 dead;	/* deleted while callbacks ran */
};

/* ---- helpers shared by the store*.c files ---- */

char *
store_user(const char *account)
{
	char	*u = xstrdup(account);

	str_lower(u);
	return u;
}

const char *
store_mailbox_name(const char *mailbox)
{
	if (mailbox == NULL || strcasecmp(mailbox, "INBOX") == 0)
		return "INBOX";
	return mailbox;
}

char *
store_key(const char *account, const char *mailbox, size_t *len_r)
{
	const char	*m = store_mailbox_name(mailbox);
	size_t		 alen = strlen(account), mlen = strlen(m);
	char		*k = xmalloc(alen + 1 + mlen + 1);

	memcpy(k, account, alen + 1);
	str_lower(k);
	memcpy(k + alen + 1, m, mlen + 1);
	*len_r = alen + 1 + mlen;
	return k;
}

uint32_t
store_special_use_bits(const char *su)
{
	static const struct {
		const char	*name;
		uint32_t	 bit;
	} map[] = {
		{ "\\All", IDX_SU_ALL }, { "\\Archive", IDX_SU_ARCHIVE },
		{ "\\Drafts", IDX_SU_DRAFTS }, { "\\Flagged", IDX_SU_FLAGGED },
		{ "\\Junk", IDX_SU_JUNK }, { "\\Sent", IDX_SU_SENT },
		{ "\\Trash", IDX_SU_TRASH },
	};
	size_t	 i;

	if (su == NULL)
		return 0;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(su, map[i].name) == 0)
			return map[i].bit;
	return 0;
}

/* ---- open and close ---- */

static int
store_mkdir(const char *path, const char **error_r)
{
	static char	 ebuf[512];

	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(ebuf, sizeof(ebuf), "mkdir %s: %s", path,
		    strerror(errno));
		*error_r = ebuf;
		return -1;
	}
	return 0;
}

/*
 * Remove spool files left by a previous run that died mid-transaction (a
 * crash between store_msg_begin and store_msg_free).  Only files whose
 * "P<pid>" names a process that no longer exists are removed, so a second
 * postern sharing the state dir keeps its files.  Called once at start,
 * before clients are served.
 */
static void
store_spool_cleanup(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	const char	*p;
	char		*path;
	long		 pid;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (p = strstr(de->d_name, ".M")) == NULL ||
		    (p = strchr(p, 'P')) == NULL)
			continue;
		pid = strtol(p + 1, NULL, 10);
		if (pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			n++;
		free(path);
	}
	closedir(d);
	if (n > 0)
		log_info("store spool-cleanup removed=%d dir=%s", n, dir);
}

int
store_open(const struct conf *conf, struct store **store_r,
    const char **error_r)
{
	struct store	*s;
	char		*ipath;
	const char	*e;
	static char	 ebuf[512];

	*store_r = NULL;
	if (conf->state_dir == NULL || conf->storage.path == NULL) {
		*error_r = "store: state_dir and storage.path must be set";
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->conf = conf;
	s->state_dir = xstrdup(conf->state_dir);
	s->spool_dir = xasprintf("%s/spool", conf->state_dir);
	s->storage_path = xstrdup(conf->storage.path);
	s->layout = conf->storage.layout == CONF_LAYOUT_FS ?
	    MDIR_LAYOUT_FS : MDIR_LAYOUT_MAILDIRPP;
	s->sep = conf->storage.hierarchy_separator != '\0' ?
	    conf->storage.hierarchy_separator : '.';
	s->utf8 = conf->storage.use_utf8_folder_names;
	TAILQ_INIT(&s->pending);
	TAILQ_INIT(&s->inflight);
	s->watches = hmap_new();
	s->rescan = hmap_new();
	if (store_mkdir(s->state_dir, error_r) == -1 ||
	    store_mkdir(s->spool_dir, error_r) == -1) {
		store_close(&s);
		return -1;
	}
	store_spool_cleanup(s->spool_dir);
	ipath = xasprintf("%s/index.lmdb", s->state_dir);
	if (idx_open_blocking(ipath, &s->idx, &e) == -1) {
		snprintf(ebuf, sizeof(ebuf), "store: %s", e);
		*error_r = ebuf;
		free(ipath);
		store_close(&s);
		return -1;
	}
	log_info("store open index=%s spool=%s mail=%s", ipath, s->spool_dir,
	    s->storage_path);
	free(ipath);
	*store_r = s;
	return 0;
}

static void
store_watch_list_free(void *p)
{
	struct store_watch_list	*l = p;
	struct store_watch	*w;

	/* Sessions should have dropped their watches; do not leak them. */
	while ((w = TAILQ_FIRST(&l->head)) != NULL) {
		TAILQ_REMOVE(&l->head, w, entry);
		free(w);
	}
	free(l->key);
	free(l);
}

void
store_close(struct store **sp)
{
	struct store	*s = *sp;

	if (s == NULL)
		return;
	store_deliver_abandon(s);
	if (s->idx != NULL)
		idx_close(&s->idx);
	hmap_free(&s->watches, store_watch_list_free);
	hmap_free(&s->rescan, NULL);
	free(s->state_dir);
	free(s->spool_dir);
	free(s->storage_path);
	xfree(*sp);
}

void
store_set_conf(struct store *s, const struct conf *conf)
{
	s->conf = conf;
}

void
store_stats(const struct store *s, struct store_stats *stats_r)
{
	*stats_r = s->stats;
}

/* ---- the spool ---- */

int
store_msg_begin(struct store *s, struct store_msg **msg_r,
    const char **error_r)
{
	struct store_msg	*m;
	char			*uniq;
	int			 i;
	static char		 ebuf[512];

	*msg_r = NULL;
	m = xcalloc(1, sizeof(*m));
	m->store = s;
	m->fd = -1;
	for (i = 0; i < STORE_SPOOL_TRIES; i++) {
		uniq = mdir_name_unique();
		m->path = xasprintf("%s/%s", s->spool_dir, uniq);
		free(uniq);
		m->fd = open(m->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (m->fd != -1 || errno != EEXIST)
			break;
		xfree(m->path);
	}
	if (m->fd == -1) {
		snprintf(ebuf, sizeof(ebuf), "spool %s: %s", s->spool_dir,
		    strerror(errno));
		*error_r = ebuf;
		free(m->path);
		free(m);
		return -1;
	}
	*msg_r = m;
	return 0;
}

int
store_msg_write(struct store_msg *m, const void *data, size_t len,
    const char **error_r)
{
	const char	*p = data;
	size_t		 off;
	ssize_t		 n;
	static char	 ebuf[512];

	if (m->fd == -1 || m->failed) {
		*error_r = "spool file is not open for writing";
		return -1;
	}
	for (off = 0; off < len; off += (size_t)n) {
		n = write(m->fd, p + off, len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n == -1) {
			m->failed = true;
			snprintf(ebuf, sizeof(ebuf), "write %s: %s", m->path,
			    strerror(errno));
			*error_r = ebuf;
			return -1;
		}
	}
	m->size += len;
	return 0;
}

uint64_t
store_msg_size(const struct store_msg *m)
{
	return m->size;
}

const char *
store_msg_path(const struct store_msg *m)
{
	return m->path;
}

void
store_msg_free(struct store_msg **mp)
{
	struct store_msg	*m = *mp;

	if (m == NULL)
		return;
	if (m->fd != -1)
		close(m->fd);
	if (unlink(m->path) == -1 && errno != ENOENT)
		log_warn("store spool-unlink path=%s error=\"%s\"", m->path,
		    strerror(errno));
	free(m->path);
	xfree(*mp);
}

/* ---- watchers ---- */

struct store_watch *
store_watch_add(struct store *s, const char *account, const char *mailbox,
    void (*cb)(void *), void *arg)
{
	struct store_watch_list	*l;
	struct store_watch	*w;
	size_t			 klen;
	char			*key;

	key = store_key(account, mailbox, &klen);
	if ((l = hmap_get(s->watches, key, klen)) == NULL) {
		l = xcalloc(1, sizeof(*l));
		TAILQ_INIT(&l->head);
		l->key = key;
		l->keylen = klen;
		hmap_put(s->watches, key, klen, l);
	} else
		free(key);
	w = xcalloc(1, sizeof(*w));
	w->store = s;
	w->list = l;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&l->head, w, entry);
	return w;
}

static void
store_watch_unlink(struct store_watch *w)
{
	struct store_watch_list	*l = w->list;

	TAILQ_REMOVE(&l->head, w, entry);
	if (TAILQ_EMPTY(&l->head)) {
		hmap_del(w->store->watches, l->key, l->keylen);
		free(l->key);
		free(l);
	}
	free(w);
}

void
store_watch_del(struct store_watch **wp)
{
	struct store_watch	*w = *wp;

	if (w == NULL)
		return;
	*wp = NULL;
	if (w->store->firing > 0) {
		/* A callback may delete itself or a neighbour: defer. */
		w->dead = true;
		w->store->swept = true;
		return;
	}
	store_watch_unlink(w);
}

struct store_sweep {
	struct store_watch	**dead;
	size_t			  n, cap;
};

static void
store_watch_collect(const void *key, size_t keylen, void *value, void *arg)
{
	struct store_watch_list	*l = value;
	struct store_sweep	*sw = arg;
	struct store_watch	*w;

	TAILQ_FOREACH(w, &l->head, entry) {
		if (!w->dead)
			continue;
		if (sw->n == sw->cap) {
			sw->cap = sw->cap == 0 ? 8 : sw->cap * 2;
			sw->dead = xreallocarray(sw->dead, sw->cap,
			    sizeof(*sw->dead));
		}
		sw->dead[sw->n++] = w;
	}
}

void
store_watch_fire(struct store *s, const char *account, const char *mailbox)
{
	struct store_watch_list	*l;
	struct store_watch	*w;
	struct store_sweep	 sw = { NULL, 0, 0 };
	size_t			 klen, i;
	char			*key;

	key = store_key(account, mailbox, &klen);
	l = hmap_get(s->watches, key, klen);
	free(key);
	if (l == NULL)
		return;
	/*
	 * Watches added by a callback go to the tail and are called too,
	 * which is harmless: the change did happen before they looked.
	 */
	s->firing++;
	TAILQ_FOREACH(w, &l->head, entry)
		if (!w->dead)
			w->cb(w->arg);
	s->firing--;
	if (s->firing > 0 || !s->swept)
		return;
	s->swept = false;
	hmap_foreach(s->watches, store_watch_collect, &sw);
	for (i = 0; i < sw.n; i++)
		store_watch_unlink(sw.dead[i]);
	free(sw.dead);
}

/* ---- rescan marks ---- */

void
store_rescan_mark(struct store *s, const char *account, const char *mailbox)
{
	size_t	 klen;
	char	*key = store_key(account, mailbox, &klen);

	hmap_put(s->rescan, key, klen, s);	/* any non-NULL value */
	free(key);
}

bool
store_mailbox_needs_rescan(struct store *s, const char *account,
    const char *mailbox, bool clear)
{
	size_t	 klen;
	char	*key = store_key(account, mailbox, &klen);
	bool	 marked;

	marked = (clear ? hmap_del(s->rescan, key, klen) :
	    hmap_get(s->rescan, key, klen)) != NULL;
	free(key);
	return marked;
}

/* ---- reading ---- */

int
store_mailbox_list(struct store *s, const char *account,
    struct store_mailbox **list_r, size_t *count_r, const char **error_r)
{
	struct idx_read		*rd;
	struct idx_iter		*it = NULL;
	struct idx_mbox		 mb;
	struct store_mailbox	*v = NULL, *e;
	const char		*name;
	size_t			 n = 0, cap = 0;
	char			*user;
	int			 r;

	*list_r = NULL;
	*count_r = 0;
	if (idx_read_begin(s->idx, &rd, error_r) == -1)
		return -1;
	user = store_user(account);
	r = idx_iter_mailboxes(rd, user, &it, error_r);
	while (r == 0 && (r = idx_iter_next_mailbox(it, &name, &mb,
	    error_r)) == 1) {
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		e = &v[n++];
		memset(e, 0, sizeof(*e));
		e->name = xstrdup(name);
		e->uidvalidity = mb.uidvalidity;
		e->uidnext = mb.uidnext;
		e->messages = mb.messages;
		e->unseen = mb.unseen;
		e->size = mb.size_total;
		e->highestmodseq = mb.highestmodseq;
		e->subscribed = mb.subscribed;
		e->special_use = mb.special_use;
		r = 0;
	}
	idx_iter_free(&it);
	idx_read_end(&rd);
	free(user);
	if (r == -1) {
		store_mailbox_list_free(&v, n);
		return -1;
	}
	*list_r = v;
	*count_r = n;
	return 0;
}

void
store_mailbox_list_free(struct store_mailbox **list, size_t count)
{
	size_t	 i;

	if (*list == NULL)
		return;
	for (i = 0; i < count; i++)
		free((*list)[i].name);
	xfree(*list);
}

void
store_flags_to_letters(uint32_t flags, char *out)
{
	/* Maildir letters in ASCII order, as Dovecot writes them. */
	if (flags & IDX_F_DRAFT)
		*out++ = 'D';
	if (flags & IDX_F_FLAGGED)
		*out++ = 'F';
	if (flags & IDX_F_ANSWERED)
		*out++ = 'R';
	if (flags & IDX_F_SEEN)
		*out++ = 'S';
	if (flags & IDX_F_DELETED)
		*out++ = 'T';
	*out = '\0';
}

uint32_t
store_letters_to_flags(const char *letters)
{
	uint32_t	 f = 0;

	for (; *letters != '\0'; letters++) {
		switch (*letters) {
		case 'D': f |= IDX_F_DRAFT; break;
		case 'F': f |= IDX_F_FLAGGED; break;
		case 'R': f |= IDX_F_ANSWERED; break;
		case 'S': f |= IDX_F_SEEN; break;
		case 'T': f |= IDX_F_DELETED; break;
		default: break;		/* keyword letters a-z: not flags */
		}
	}
	return f;
}

static char *
store_find_by_base(const char *folder, const char *base, size_t blen,
    const char **error_r)
{
	struct mdir_entry	*list;
	size_t			 n, i;
	char			*path = NULL;

	if (mdir_scan_blocking(folder, &list, &n, error_r) == -1)
		return NULL;
	for (i = 0; i < n && path == NULL; i++)
		if (list[i].base_len == blen &&
		    memcmp(list[i].fname, base, blen) == 0)
			path = xasprintf("%s/%s/%s", folder,
			    list[i].in_new ? "new" : "cur", list[i].fname);
	mdir_entries_free(&list, n);
	return path;
}

int
store_msg_open_path_blocking(struct store *s, const char *account,
    const char *mailbox, uint32_t uid, char **path_r, const char **error_r)
{
	struct idx_read	*rd;
	struct idx_mbox	 mb;
	struct idx_msg	 msg;
	struct stat	 st;
	char		*user, *root = NULL, *folder = NULL, *base = NULL, *p;
	char		 letters[8];
	const char	*mname = store_mailbox_name(mailbox), *e;
	int		 r;

	*path_r = NULL;
	user = store_user(account);
	if (idx_read_begin(s->idx, &rd, error_r) == -1) {
		free(user);
		return -1;
	}
	r = idx_read_mailbox(rd, user, mname, &mb, error_r);
	if (r == 1)
		r = idx_read_message(rd, mb.id, uid, &msg, error_r);
	if (r == 1) {
		base = xstrndup(msg.basename, msg.basename_len);
		store_flags_to_letters(msg.flags, letters);
	}
	idx_read_end(&rd);
	if (r != 1)
		goto out;
	r = -1;
	if (mdir_user_root(s->storage_path, user, &root, &e) == -1 ||
	    mdir_folder_path(root, s->layout, s->sep, s->utf8, mname, &folder,
	    &e) == -1) {
		*error_r = e;
		goto out;
	}
	/* The likely names first: two stats instead of a directory scan. */
	p = xasprintf("%s/new/%s", folder, base);
	if (stat(p, &st) == 0) {
		*path_r = p;
		r = 1;
		goto out;
	}
	free(p);
	p = xasprintf("%s/cur/%s:2,%s", folder, base, letters);
	if (stat(p, &st) == 0) {
		*path_r = p;
		r = 1;
		goto out;
	}
	free(p);
	/* Keywords or another program changed the suffix: scan. */
	e = NULL;
	*path_r = store_find_by_base(folder, base, strlen(base), &e);
	if (*path_r != NULL)
		r = 1;
	else if (e != NULL)
		*error_r = e;
	else
		r = 0;
out:
	free(base);
	free(folder);
	free(root);
	free(user);
	return r;
}
