/*
 * store_account.c - make an account's mail store exist: the Maildir root
 * (INBOX), the folders of the conf's `mailboxes` with auto = create or
 * subscribe, Dovecot's subscriptions file for auto = subscribe, and the
 * index mailbox records with their special-use attributes.
 *
 * Idempotent: what exists is left alone, so it is safe to run at every
 * login.  Steps: [loop] copy what is needed from the conf; [worker]
 * directories and the subscriptions file; [serial lane] the index
 * records (one commit to create, one to set attributes, each only when
 * something is missing); [loop] done(arg).  Errors are logged: the
 * account still works without a Junk folder.
 *
 * Owns struct store_ens, one per call.
 */
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "idx.h"
#include "log.h"
#include "mdir.h"
#include "store.h"
#include "store_private.h"
#include "work.h"
#include "xmalloc.h"

struct store_ens_box {
	char			*name;
	bool			 subscribe;
	uint32_t		 special_use;
	bool			 ok;		/* the folder exists on disk */
};

struct store_ens {
	struct store		*store;
	char			*user;
	struct store_ens_box	*boxes;		/* [0] is INBOX */
	size_t			 n;
	store_done_fn		*done;
	void			*arg;
	size_t			 commits;
};

static void
store_ens_free(struct store_ens **ep)
{
	struct store_ens	*en = *ep;
	size_t			 i;

	for (i = 0; i < en->n; i++)
		free(en->boxes[i].name);
	free(en->boxes);
	free(en->user);
	xfree(*ep);
}

static bool
store_ens_has(char **names, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static void
store_ens_subscribe(struct store_ens *en, const char *root)
{
	struct store		*s = en->store;
	char			*path, **names = NULL;
	const char		*e;
	size_t			 n = 0, i, added = 0;

	path = xasprintf("%s/subscriptions", root);
	if (mdir_subs_read_blocking(path, s->sep, &names, &n, &e) == -1) {
		/* Do not overwrite a file we cannot parse. */
		log_warn("store subscriptions user=%s error=\"%s\"", en->user,
		    e);
		free(path);
		return;
	}
	for (i = 0; i < en->n; i++) {
		if (!en->boxes[i].subscribe || !en->boxes[i].ok ||
		    store_ens_has(names, n, en->boxes[i].name))
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(en->boxes[i].name);
		added++;
	}
	if (added > 0 && mdir_subs_write_blocking(path, s->sep,
	    (const char *const *)names, n, &e) == -1)
		log_warn("store subscriptions user=%s error=\"%s\"", en->user,
		    e);
	mdir_subs_free(&names, n);
	free(path);
}

static void
store_ens_files_run(void *arg)
{
	struct store_ens	*en = arg;
	struct store		*s = en->store;
	struct store_ens_box	*bx;
	struct stat		 st;
	struct mdir		*m;
	char			*root, *path, *cur;
	const char		*e;
	size_t			 i;

	if (mdir_user_root(s->storage_path, en->user, &root, &e) == -1) {
		log_warn("store ensure user=%s error=\"%s\"", en->user, e);
		return;
	}
	if (mdir_open(root, true, &m, &e) == -1) {
		log_err("store ensure user=%s error=\"%s\"", en->user, e);
		free(root);
		return;
	}
	mdir_close(&m);
	en->boxes[0].ok = true;
	for (i = 1; i < en->n; i++) {
		bx = &en->boxes[i];
		if (mdir_folder_path(root, s->layout, s->sep, s->utf8,
		    bx->name, &path, &e) == -1) {
			log_warn("store ensure user=%s mailbox=%s error=\"%s\"",
			    en->user, bx->name, e);
			continue;
		}
		cur = xasprintf("%s/cur", path);
		bx->ok = stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
		if (!bx->ok) {
			if (mdir_folder_create_blocking(root, s->layout, s->sep,
			    s->utf8, bx->name, &e) == 0)
				bx->ok = true;
			else
				log_warn("store ensure user=%s mailbox=%s "
				    "error=\"%s\"", en->user, bx->name, e);
		}
		free(cur);
		free(path);
	}
	store_ens_subscribe(en, root);
	free(root);
}

/* [serial] Mailbox records: create the missing, then fix attributes. */
static void
store_ens_index_run(void *arg)
{
	struct store_ens	*en = arg;
	struct store		*s = en->store;
	struct store_ens_box	*bx;
	struct idx_read		*rd;
	struct idx_batch	*b;
	struct idx_mbox		 mb;
	const char		*e;
	size_t			 i;
	int			 pass, r;
	bool			 sub;

	for (pass = 0; pass < 2; pass++) {
		if (idx_read_begin(s->idx, &rd, &e) == -1)
			goto fail;
		b = idx_batch_new();
		for (i = 0; i < en->n; i++) {
			bx = &en->boxes[i];
			if (!bx->ok)
				continue;
			r = idx_read_mailbox(rd, en->user, bx->name, &mb, &e);
			if (r == -1)
				break;
			if (r == 0 && pass == 0) {
				idx_batch_mailbox_create(b, en->user, bx->name,
				    0, bx->special_use);
				continue;
			}
			if (r == 0 || pass == 0)
				continue;
			sub = mb.subscribed || bx->subscribe;
			if (sub != mb.subscribed || (bx->special_use != 0 &&
			    mb.special_use != bx->special_use))
				idx_batch_mailbox_attrs(b, mb.id, sub,
				    bx->special_use != 0 ? bx->special_use :
				    mb.special_use);
		}
		idx_read_end(&rd);
		if (i < en->n) {
			idx_batch_free(&b);
			goto fail;
		}
		r = 0;
		if (idx_batch_count(b) > 0) {
			en->commits++;
			r = idx_batch_commit_blocking(s->idx, b, &e);
		}
		idx_batch_free(&b);
		if (r == -1)
			goto fail;
	}
	return;
fail:
	log_err("store ensure-index user=%s error=\"%s\"", en->user, e);
}

static void
store_ens_index_done(void *arg)
{
	struct store_ens	*en = arg;

	en->store->stats.index_commits += en->commits;
	if (en->done != NULL)
		en->done(en->arg);
	store_ens_free(&en);
}

static void
store_ens_files_done(void *arg)
{
	work_submit_serial(store_ens_index_run, store_ens_index_done, arg);
}

void
store_account_ensure(struct store *s, const char *account,
    store_done_fn *done, void *arg)
{
	const struct conf	*conf = s->conf;
	const struct conf_mailbox *cm;
	struct store_ens	*en;
	size_t			 i;

	en = xcalloc(1, sizeof(*en));
	en->store = s;
	en->user = store_user(account);
	en->done = done;
	en->arg = arg;
	en->boxes = xcalloc(1 + (conf != NULL ? conf->nmailboxes : 0),
	    sizeof(*en->boxes));
	en->boxes[0].name = xstrdup("INBOX");
	en->n = 1;
	for (i = 0; conf != NULL && i < conf->nmailboxes; i++) {
		cm = &conf->mailboxes[i];
		if (cm->autocreate == CONF_AUTO_NO ||
		    strcmp(store_mailbox_name(cm->name), "INBOX") == 0)
			continue;
		en->boxes[en->n].name = xstrdup(cm->name);
		en->boxes[en->n].subscribe =
		    cm->autocreate == CONF_AUTO_SUBSCRIBE;
		en->boxes[en->n].special_use =
		    store_special_use_bits(cm->special_use);
		en->n++;
	}
	work_submit(store_ens_files_run, store_ens_files_done, en);
}
