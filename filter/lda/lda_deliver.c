/*
 * lda_deliver.c - store_deliver() with Sieve in front (lda.h): the
 * integration point for every local delivery (SMTP, and later `postern
 * deliver`).
 *
 *   [worker] lda_apply_blocking() per recipient: the spool file is read,
 *            the account's script runs;
 *   [loop]   redirects go to the outbound queue (queue_submit, durable
 *            before its completion); a redirect the queue refuses, and a
 *            reject or vacation we cannot send yet, fall back to a keep,
 *            so nothing is lost;
 *   [loop]   each original store_rcpt becomes 0..n store_rcpts (keep and
 *            fileinto copies with their flags) for one store_deliver();
 *   [loop]   results are folded back into the caller's rcpts and the
 *            caller's done runs.
 *
 * Owns struct lda_job and everything it points to, except msg and the
 * caller's rcpts (borrowed until done).  Holds a reference to the
 * generation whose conf the scripts are read with.  Threads: lda_run on
 * a worker [worker], the rest on the loop thread [loop].
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "lda.h"
#include "log.h"
#include "loop.h"
#include "queue.h"
#include "store.h"
#include "work.h"
#include "xmalloc.h"

struct lda_job;

struct lda_redirect {
	struct lda_job	*job;
	size_t		 i;		/* original recipient */
	struct queue_rcpt *qr;		/* what queue_submit was given */
};

struct lda_job {
	struct gen		*gen;
	struct store		*store;
	struct store_msg	*msg;
	char			*env_from;
	char			*path;
	struct store_rcpt	*orig;
	size_t			 norig;
	struct lda_result	*res;		/* norig */
	struct lda_redirect	*rd;		/* norig */
	int			 pending;	/* queue submissions */
	struct store_rcpt	*out;
	size_t			*owner;		/* out[k] belongs to orig[owner[k]] */
	size_t			 nout;
	store_done_fn		*done;
	void			*arg;
};

static void
lda_job_free(struct lda_job *j)
{
	size_t	 i;

	for (i = 0; i < j->norig; i++) {
		lda_result_clear(&j->res[i]);
		free(j->rd[i].qr);
	}
	free(j->res);
	free(j->rd);
	free(j->out);
	free(j->owner);
	free(j->env_from);
	free(j->path);
	gen_unref(&j->gen);
	free(j);
}

/* [worker] */
static void
lda_run(void *arg)
{
	struct lda_job	*j = arg;
	size_t		 i;

	for (i = 0; i < j->norig; i++)
		lda_apply_blocking(j->gen->conf, j->orig[i].account, j->path,
		    j->env_from, j->orig[i].account, -1, &j->res[i]);
}

/* [loop] Fold the copies' results into the caller's recipients. */
static void
lda_store_done(void *arg)
{
	struct lda_job		*j = arg;
	struct store_rcpt	*o, *r;
	bool			*got;
	size_t			 k;

	got = xcalloc(j->norig + 1, sizeof(*got));
	for (k = 0; k < j->nout; k++) {
		r = &j->out[k];
		o = &j->orig[j->owner[k]];
		if (!got[j->owner[k]]) {
			got[j->owner[k]] = true;
			o->result = r->result;
			o->error = r->error;
			o->uid = r->uid;
			o->uidvalidity = r->uidvalidity;
		} else if (r->result != 0 && (o->result == 0 ||
		    (o->result == -2 && r->result == -1))) {
			o->result = r->result;
			o->error = r->error;
		}
	}
	free(got);
	j->done(j->arg);
	lda_job_free(j);
}

static void
lda_add_keep(struct lda_result *r)
{
	r->dlv = xreallocarray(r->dlv, r->ndlv + 1, sizeof(*r->dlv));
	r->dlv[r->ndlv].folder = NULL;
	r->dlv[r->ndlv].flags = NULL;
	r->ndlv++;
}

/* [loop] Every side action is settled: deliver the local copies. */
static void
lda_store(struct lda_job *j)
{
	struct lda_result	*res;
	struct store_rcpt	*o, *r;
	size_t			 i, k, n = 0;

	for (i = 0; i < j->norig; i++) {
		o = &j->orig[i];
		o->result = 0;
		o->error = NULL;
		res = &j->res[i];
		if (res->reject != NULL) {
			/* No bounce path yet: keep rather than lose it. */
			log_info("lda sieve user=%s reject=unsupported "
			    "action=keep", o->account);
			lda_add_keep(res);
		}
		if (res->vacation)
			log_info("lda sieve user=%s vacation=unsupported",
			    o->account);
		n += res->ndlv;
	}
	j->out = xcalloc(n + 1, sizeof(*j->out));
	j->owner = xcalloc(n + 1, sizeof(*j->owner));
	for (i = 0; i < j->norig; i++) {
		o = &j->orig[i];
		res = &j->res[i];
		if (res->scripted)
			log_info("lda sieve user=%s copies=%zu redirects=%zu%s",
			    o->account, res->ndlv, res->nredirect,
			    res->ndlv == 0 && res->nredirect == 0 ?
			    " action=discard" : "");
		for (k = 0; k < res->ndlv; k++) {
			r = &j->out[j->nout];
			j->owner[j->nout++] = i;
			r->account = o->account;
			r->folder = res->dlv[k].folder != NULL ?
			    res->dlv[k].folder : o->folder;
			r->folder_fallback = true;
			r->prepend = o->prepend;
			r->flags = res->dlv[k].flags != NULL ?
			    res->dlv[k].flags : o->flags;
		}
	}
	if (j->nout == 0) {
		lda_store_done(j);
		return;
	}
	store_deliver(j->store, j->msg, j->out, j->nout, lda_store_done, j);
}

/* [loop] One recipient's redirects are queued (or not). */
static void
lda_redirect_done(void *arg, int rc, const char *error)
{
	struct lda_redirect	*rd = arg;
	struct lda_job		*j = rd->job;
	struct lda_result	*res = &j->res[rd->i];

	if (rc != 0) {
		log_warn("lda sieve user=%s redirect failed action=keep "
		    "error=\"%s\"", j->orig[rd->i].account,
		    error != NULL ? error : "unknown");
		lda_add_keep(res);
	}
	if (--j->pending == 0)
		lda_store(j);
}

/* [loop] The scripts ran. */
static void
lda_ran(void *arg)
{
	struct lda_job		*j = arg;
	struct queue		*q = loop_shared()->queue;
	struct lda_result	*res;
	size_t			 i;

	j->pending = 1;		/* guards against synchronous completions */
	for (i = 0; i < j->norig; i++) {
		res = &j->res[i];
		if (res->nredirect == 0)
			continue;
		j->rd[i].job = j;
		j->rd[i].i = i;
		j->pending++;
		if (q == NULL) {
			lda_redirect_done(&j->rd[i], -1, "no outbound queue");
			continue;
		}
#ifdef QUEUE_F_BOUNCE
		{
			struct queue_rcpt	*qr;
			size_t			 k;

			qr = xcalloc(res->nredirect, sizeof(*qr));
			for (k = 0; k < res->nredirect; k++)
				qr[k].addr = res->redirect[k];
			j->rd[i].qr = qr;	/* valid until the job ends */
			queue_submit(q, j->msg, j->orig[i].prepend, j->env_from,
			    qr, res->nredirect, 0, lda_redirect_done, &j->rd[i]);
		}
#else
		/* The durable outbound queue has not landed: keep instead. */
		lda_redirect_done(&j->rd[i], -1, "no outbound queue");
#endif
	}
	if (--j->pending == 0)
		lda_store(j);
}

void
lda_deliver(struct store *store, struct store_msg *msg, const char *env_from,
    struct store_rcpt *rcpts, size_t nrcpts, store_done_fn *done, void *arg)
{
	struct lda_job	*j = xcalloc(1, sizeof(*j));

	j->gen = gen_ref(loop_gen());
	j->store = store;
	j->msg = msg;
	j->env_from = xstrdup(env_from != NULL ? env_from : "");
	j->path = xstrdup(store_msg_path(msg));
	j->orig = rcpts;
	j->norig = nrcpts;
	j->res = xcalloc(nrcpts + 1, sizeof(*j->res));
	j->rd = xcalloc(nrcpts + 1, sizeof(*j->rd));
	j->done = done;
	j->arg = arg;
	work_submit(lda_run, lda_ran, j);
}
