/*
 * lda_deliver.c - store_deliver() with Sieve in front (lda.h): the
 * integration point for every local delivery (SMTP, and later `postern
 * deliver`).
 *
 *   [worker] lda_apply_blocking() per recipient: the spool file is read,
 *            the account's script runs; a vacation reply (checked against
 *            the RFC 5230/3834 rules and the response tracking) and a
 *            reject report are built (lda_vacation.c);
 *   [loop]   redirects, vacation replies and reject reports go to the
 *            outbound queue (queue_submit, durable before its
 *            completion), the last two with the null sender; a redirect
 *            or reject report the queue refuses falls back to a keep, so
 *            nothing is lost (a refused vacation reply is only logged);
 *   [loop]   each original store_rcpt becomes 0..n store_rcpts (keep and
 *            fileinto copies with their flags); fileinto :create folders
 *            are created first (store_mbox_create), then one
 *            store_deliver();
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
#include <strings.h>

#include "conf.h"
#include "lda.h"
#include "log.h"
#include "loop.h"
#include "queue.h"
#include "spam.h"
#include "store.h"
#include "store_private.h"
#include "work.h"
#include "xmalloc.h"

struct lda_job;

struct lda_redirect {
	struct lda_job	*job;
	size_t		 i;		/* original recipient */
	struct queue_rcpt *qr;		/* what queue_submit was given */
};

/* A message we make (vacation reply, reject report) on its way out. */
enum lda_side_kind {
	LDA_SIDE_VACATION = 0,
	LDA_SIDE_REJECT,
	LDA_SIDE_N
};

struct lda_side {
	struct lda_job		*job;
	size_t			 i;		/* original recipient */
	enum lda_side_kind	 kind;
	char			*data;		/* CRLF message, or NULL */
	size_t			 len;
	struct store_msg	*msg;		/* spooled for queue_submit */
	struct queue_rcpt	 qr;
};

/* What lda_vacation_forget_blocking needs, owned by its work job. */
struct lda_forget {
	struct idx	*idx;
	char		*account;
	char		*handle;
	char		*sender;
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
	struct lda_side		*side;		/* norig * LDA_SIDE_N */
	struct idx		*idx;		/* vacation tracking */
	int			 pending;	/* queue submissions */
	int			 creating;	/* fileinto :create jobs */
	struct store_rcpt	*out;
	size_t			*owner;		/* out[k] belongs to orig[owner[k]] */
	size_t			 nout;
	store_done_fn		*done;
	void			*arg;
};

static void	lda_create(struct lda_job *);

static void
lda_job_free(struct lda_job *j)
{
	size_t	 i;

	for (i = 0; i < j->norig; i++) {
		lda_result_clear(&j->res[i]);
		free(j->rd[i].qr);
	}
	for (i = 0; i < j->norig * LDA_SIDE_N; i++) {
		free(j->side[i].data);
		store_msg_free(&j->side[i].msg);
	}
	free(j->side);
	free(j->res);
	free(j->rd);
	free(j->out);
	free(j->owner);
	free(j->env_from);
	free(j->path);
	gen_unref(&j->gen);
	free(j);
}

/*
 * The envelope recipient of one copy (RFC 5228 5.4 "envelope" to): the
 * RCPT TO address, which the SMTP server records as X-Original-To when it
 * differs from the account (user+detail@, an alias); else the account.
 */
static const char *
lda_env_to(const char *prepend, const char *account, char *buf, size_t len)
{
	const char	*p, *e;
	size_t		 n;

	for (p = prepend; p != NULL && *p != '\0'; p = e + 1) {
		if ((e = strchr(p, '\n')) == NULL)
			break;
		if (strncasecmp(p, "X-Original-To:", 14) != 0)
			continue;
		for (p += 14; *p == ' ' || *p == '\t'; p++)
			;
		n = (size_t)(e - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0 || n >= len)
			break;
		memcpy(buf, p, n);
		buf[n] = '\0';
		return buf;
	}
	return account;
}

/* [worker] */
static void
lda_run(void *arg)
{
	struct lda_job		*j = arg;
	const struct conf	*conf = j->gen->conf;
	struct lda_result	*res;
	struct lda_side		*sd;
	const char		*acct, *why;
	char			 to[512];
	size_t			 i;

	for (i = 0; i < j->norig; i++) {
		acct = j->orig[i].account;
		res = &j->res[i];
		/* Our X-Spam-Score line (if any) feeds Sieve's spamtest. */
		lda_apply_blocking(conf, acct, j->path, j->orig[i].prepend,
		    j->env_from, lda_env_to(j->orig[i].prepend, acct, to,
		    sizeof(to)),
		    j->orig[i].prepend != NULL ? spam_hdr_score(j->orig[i].prepend,
		    strlen(j->orig[i].prepend)) : -1, res);
		if (res->reject != NULL) {
			sd = &j->side[i * LDA_SIDE_N + LDA_SIDE_REJECT];
			/* RFC 5429 2.1.2: never a report to <>. */
			if (j->env_from[0] == '\0')
				log_info("lda sieve user=%s reject=discard "
				    "reason=\"null sender\"", acct);
			else
				sd->data = lda_vacation_reject_blocking(conf,
				    acct, j->path, j->env_from, res->reject,
				    &sd->len);
			lda_vacation_sign_blocking(j->gen, acct, &sd->data,
			    &sd->len);
		}
		if (res->vacation) {
			sd = &j->side[i * LDA_SIDE_N + LDA_SIDE_VACATION];
			sd->data = lda_vacation_reply_blocking(conf, j->idx,
			    acct, j->path, j->env_from, res, &sd->len, &why);
			if (sd->data == NULL)
				log_info("lda sieve user=%s vacation=skip "
				    "reason=\"%s\"", acct, why);
			lda_vacation_sign_blocking(j->gen, acct, &sd->data,
			    &sd->len);
		}
	}
}

/* [worker] */
static void
lda_forget_run(void *arg)
{
	struct lda_forget	*f = arg;

	lda_vacation_forget_blocking(f->idx, f->account, f->handle,
	    f->sender);
}

/* [loop] */
static void
lda_forget_done(void *arg)
{
	struct lda_forget	*f = arg;

	free(f->account);
	free(f->handle);
	free(f->sender);
	free(f);
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

/* [loop] Every fileinto :create folder exists (or could not be made). */
static void
lda_created(void *arg, int result, const char *error)
{
	struct lda_job	*j = arg;

	/* -2 is "exists"; anything else falls back to INBOX on delivery. */
	if (result == -1)
		log_warn("lda sieve fileinto :create failed error=\"%s\"",
		    error != NULL ? error : "unknown");
	if (--j->creating == 0)
		store_deliver(j->store, j->msg, j->out, j->nout,
		    lda_store_done, j);
}

/*
 * [loop] RFC 5490 3.2: fileinto :create makes a missing folder (Maildir
 * cur/new/tmp and the index record) before the message is filed.  Then
 * deliver every copy.
 */
static void
lda_create(struct lda_job *j)
{
	struct lda_result	*res;
	size_t			 i, k;

	j->creating = 1;
	for (i = 0; i < j->norig; i++) {
		res = &j->res[i];
		for (k = 0; k < res->ndlv; k++) {
			if (!res->dlv[k].create || res->dlv[k].folder == NULL)
				continue;
			j->creating++;
			store_mbox_create(j->store, j->orig[i].account,
			    res->dlv[k].folder, lda_created, j);
		}
	}
	lda_created(j, 0, NULL);
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
			    res->reject != NULL ? " action=reject" :
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
	lda_create(j);
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

/* [loop] A vacation reply or reject report is queued (or not). */
static void
lda_side_done(void *arg, int rc, const char *error)
{
	struct lda_side		*sd = arg;
	struct lda_job		*j = sd->job;
	struct lda_result	*res = &j->res[sd->i];
	struct lda_forget	*f;
	const char		*acct = j->orig[sd->i].account;

	store_msg_free(&sd->msg);
	if (rc == 0)
		log_info("lda sieve user=%s %s=sent to=<%s>", acct,
		    sd->kind == LDA_SIDE_REJECT ? "reject" : "vacation",
		    j->env_from);
	else if (sd->kind == LDA_SIDE_REJECT) {
		log_warn("lda sieve user=%s reject report failed action=keep "
		    "error=\"%s\"", acct, error != NULL ? error : "unknown");
		lda_add_keep(res);
	} else {
		log_warn("lda sieve user=%s vacation failed error=\"%s\"",
		    acct, error != NULL ? error : "unknown");
		if (res->vac_seconds > 0 && j->idx != NULL) {
			/* Let a later message try again. */
			f = xcalloc(1, sizeof(*f));
			f->idx = j->idx;
			f->account = xstrdup(acct);
			f->handle = xstrdup(res->vac_handle);
			f->sender = xstrdup(j->env_from);
			work_submit(lda_forget_run, lda_forget_done, f);
		}
	}
	if (--j->pending == 0)
		lda_store(j);
}

/* [loop] Spool a message we made and queue it with the null sender. */
static void
lda_side_submit(struct lda_job *j, struct queue *q, struct lda_side *sd)
{
	const char	*e = "no outbound queue";
	unsigned	 flags = 0;
	size_t		 k;

	j->pending++;
	if (q == NULL || store_msg_begin(j->store, &sd->msg, &e) == -1 ||
	    store_msg_write(sd->msg, sd->data, sd->len, &e) == -1) {
		lda_side_done(sd, -1, e);
		return;
	}
	for (k = 0; k < sd->len; k++)
		if ((unsigned char)sd->data[k] >= 0x80) {
			flags |= QUEUE_F_8BITMIME;
			break;
		}
	/* A report of ours: the queue never reports on it (RFC 3461 6.2). */
	if (sd->kind == LDA_SIDE_REJECT)
		flags |= QUEUE_F_BOUNCE;
	sd->qr.addr = j->env_from;
	/* RFC 3834 3.3, RFC 5230 4.6: the null reverse-path. */
	queue_submit(q, sd->msg, NULL, "", &sd->qr, 1, flags, lda_side_done,
	    sd);
}

/* [loop] The scripts ran. */
static void
lda_ran(void *arg)
{
	struct lda_job		*j = arg;
	struct queue		*q = loop_shared()->queue;
	struct lda_result	*res;
	struct lda_side		*sd;
	size_t			 i;

	j->pending = 1;		/* guards against synchronous completions */
	for (i = 0; i < j->norig * LDA_SIDE_N; i++) {
		sd = &j->side[i];
		sd->job = j;
		sd->i = i / LDA_SIDE_N;
		sd->kind = (enum lda_side_kind)(i % LDA_SIDE_N);
		if (sd->data != NULL)
			lda_side_submit(j, q, sd);
	}
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
	j->side = xcalloc(nrcpts * LDA_SIDE_N + 1, sizeof(*j->side));
	j->idx = store->idx;
	j->done = done;
	j->arg = arg;
	work_submit(lda_run, lda_ran, j);
}
