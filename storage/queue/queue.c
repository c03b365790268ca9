/*
 * queue.c - the outbound queue of queue.h: submission (file, fsync,
 * record), the load at start, the runner (due messages -> attempts per
 * domain through the deliverer), retry and bounce decisions, and the
 * control requests.  Owns every struct queue_msg, the queue timer and
 * the attempts in flight.  Loop thread only; file copies run on the
 * worker pool and record writes on the serial lane (work.h), each job
 * holding its message with ->writing so nothing frees it meanwhile.
 * Record writes are group-committed: while one LMDB transaction runs,
 * the next ones gather, and go together in the next transaction (one
 * fsync), so that "sent" reaches the disk right behind the remote's 250
 * even when thousands of messages move at once.  Connection reuse is the
 * deliverer's business (smtpc.c parks sessions between attempts): the
 * runner still hands out one message per attempt, and tells the
 * deliverer when it stops so that parked sessions get their QUIT.  A run
 * skips a waiting message cheaply (its recipients' groups are computed
 * once per configuration, a group found at its limit is remembered for
 * the run, and an unchanged record is not rewritten), because a long
 * backlog for one destination is scanned on every run.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <lmdb.h>

#include "conf.h"
#include "idx.h"
#include "log.h"
#include "loop.h"
#include "queue_private.h"
#include "store.h"
#include "store_private.h"
#include "str.h"
#include "work.h"
#include "xmalloc.h"

#define QUEUE_DB		"queue"
/*
 * Attempts in flight per destination domain (or relay host) and in total.
 * Postfix defaults to 20 per destination; 10 keeps a small server polite
 * to receivers while a relay host (one "domain" for everything) is not
 * starved.
 */
#define QUEUE_DOMAIN_MAX	10
#define QUEUE_ACTIVE_MAX	50
#define QUEUE_BACKOFF_MIN	(5 * 60 * 1000LL)	/* ms */
#define QUEUE_BACKOFF_MAX	(4 * 60 * 60 * 1000LL)
#define QUEUE_IDLE_MS		(60 * 1000LL)	/* rescan at least this often */

struct queue_att {
	TAILQ_ENTRY(queue_att)	 entry;
	struct queue		*q;
	struct queue_msg	*m;
	size_t			*map;		/* attempt rcpt -> m->r index */
	char			*domain;
	struct queue_attempt	 a;
};
TAILQ_HEAD(queue_att_list, queue_att);

struct queue_wjob;
TAILQ_HEAD(queue_wjob_list, queue_wjob);

struct queue {
	const struct conf	*conf;
	struct queue_wjob_list	 gather;	/* record writes waiting */
	bool			 committing;	/* a batch on the serial lane */
	char			*dir;
	struct idx		*idx;
	MDB_dbi			 dbi;
	const struct queue_deliverer *d;
	struct queue_msg_list	 msgs;
	struct queue_att_list	 atts;
	size_t			 natts;
	struct event		*timer;
	bool			 running;
	uint64_t		 seq;
	unsigned		 scale;		/* POSTERN_QUEUE_TEST_SCALE */
	uint64_t		 rnd;
	queue_sign_fn		*sign;		/* DSN DKIM signer or NULL */
	unsigned		 conf_gen;	/* bumped by queue_set_conf() */
};

static void	queue_kick(struct queue *, int64_t delay_ms);
static void	queue_finish(struct queue *, struct queue_msg *);

static int64_t
queue_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
queue_rand(struct queue *q)
{
	/* xorshift64: jitter only, no secrecy needed. */
	q->rnd ^= q->rnd << 13;
	q->rnd ^= q->rnd >> 7;
	q->rnd ^= q->rnd << 17;
	return q->rnd;
}

/* Delay before attempt n+1: 5 min doubling to 4 h, +-25% jitter. */
static int64_t
queue_backoff(struct queue *q, unsigned attempts)
{
	int64_t	 d = QUEUE_BACKOFF_MIN;
	unsigned i;

	for (i = 1; i < attempts && d < QUEUE_BACKOFF_MAX; i++)
		d *= 2;
	if (d > QUEUE_BACKOFF_MAX)
		d = QUEUE_BACKOFF_MAX;
	d = d - d / 4 + (int64_t)(queue_rand(q) % (uint64_t)(d / 2 + 1));
	return d / q->scale;
}

static void
queue_new_id(struct queue *q, char id[17])
{
	snprintf(id, 17, "%011" PRIX64 "%05" PRIX64,
	    (uint64_t)queue_now() & UINT64_C(0xfffffffffff),
	    ++q->seq & UINT64_C(0xfffff));
}

static const char *
queue_domain(const char *addr)
{
	const char	*at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* ---- record jobs (serial lane) ---------------------------------------- */

struct queue_op {
	char	 id[17];
	char	*val;		/* NULL: delete */
	size_t	 len;
};

struct queue_wjob {
	TAILQ_ENTRY(queue_wjob)	 bentry;	/* on queue.gather, a batch */
	struct queue		*q;
	struct queue_msg	*m;		/* held with ->writing */
	struct queue_op		 ops[2];
	size_t			 nops;
	char			*unlink_path;	/* after a delete committed */
	int			 rc;
	const char		*error;
	void			(*done)(struct queue_wjob *);
	/* submission and bounce */
	struct store_msg	*msg;
	char			*src;
	char			*prepend;
	char			*data;
	size_t			 dlen;
	struct queue_msg	*nm;		/* the new message */
	queue_done_fn		*cb;
	void			*cbarg;
	struct queue_dsn_rcpt	*dr;
	size_t			 ndr;
	char			*fqdn;
	char			*from_domain;	/* of the DSN */
	struct gen		*gen;		/* its keys sign the DSN */
};

static int
queue_wjob_txn(MDB_txn *txn, void *arg, const char **error_r)
{
	struct queue_wjob	*w = arg;
	MDB_val			 k, v;
	size_t			 i;
	int			 rc;

	for (i = 0; i < w->nops; i++) {
		k.mv_data = w->ops[i].id;
		k.mv_size = strlen(w->ops[i].id);
		if (w->ops[i].val == NULL) {
			rc = mdb_del(txn, w->q->dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			v.mv_data = w->ops[i].val;
			v.mv_size = w->ops[i].len;
			rc = mdb_put(txn, w->q->dbi, &k, &v, 0);
		}
		if (rc == MDB_MAP_FULL)
			return rc;
		if (rc != 0) {
			*error_r = "queue: record write failed";
			return -1;
		}
	}
	return 0;
}

static void
queue_wjob_run(void *arg)
{
	struct queue_wjob	*w = arg;

	w->rc = idx_env_write_blocking(w->q->idx, queue_wjob_txn, w,
	    &w->error);
	if (w->rc == 0 && w->unlink_path != NULL)
		unlink(w->unlink_path);
}

static void
queue_wjob_free(struct queue_wjob *w)
{
	size_t	 i;

	for (i = 0; i < w->nops; i++)
		free(w->ops[i].val);
	for (i = 0; i < w->ndr; i++) {
		free(w->dr[i].addr);
		free(w->dr[i].orcpt);
		free(w->dr[i].reply);
	}
	free(w->dr);
	free(w->unlink_path);
	free(w->src);
	free(w->prepend);
	free(w->data);
	free(w->fqdn);
	free(w->from_domain);
	gen_unref(&w->gen);
	queue_msg_free(w->nm);
	free(w);
}

static void
queue_wjob_done(void *arg)
{
	struct queue_wjob	*w = arg;

	w->done(w);
	queue_wjob_free(w);
}

/* ---- group commit -------------------------------------------------------- */

struct queue_batch {
	struct queue		*q;
	struct queue_wjob_list	 jobs;
	int			 rc;
	const char		*error;
};

static int
queue_batch_txn(MDB_txn *txn, void *arg, const char **error_r)
{
	struct queue_batch	*b = arg;
	struct queue_wjob	*w;
	int			 rc;

	TAILQ_FOREACH(w, &b->jobs, bentry)
		if ((rc = queue_wjob_txn(txn, w, error_r)) != 0)
			return rc;
	return 0;
}

static void
queue_batch_run(void *arg)				/* [worker] */
{
	struct queue_batch	*b = arg;
	struct queue_wjob	*w;

	b->rc = idx_env_write_blocking(b->q->idx, queue_batch_txn, b,
	    &b->error);
	TAILQ_FOREACH(w, &b->jobs, bentry) {
		w->rc = b->rc;
		w->error = b->error;
		if (b->rc == 0 && w->unlink_path != NULL)
			unlink(w->unlink_path);
	}
}

static void	queue_batch_kick(struct queue *);

static void
queue_batch_done(void *arg)
{
	struct queue_batch	*b = arg;
	struct queue		*q = b->q;
	struct queue_wjob	*w;

	q->committing = false;
	while ((w = TAILQ_FIRST(&b->jobs)) != NULL) {
		TAILQ_REMOVE(&b->jobs, w, bentry);
		w->done(w);
		queue_wjob_free(w);
	}
	free(b);
	queue_batch_kick(q);
}

static void
queue_batch_kick(struct queue *q)
{
	struct queue_batch	*b;

	if (q->committing || TAILQ_EMPTY(&q->gather))
		return;
	b = xcalloc(1, sizeof(*b));
	b->q = q;
	TAILQ_INIT(&b->jobs);
	TAILQ_CONCAT(&b->jobs, &q->gather, bentry);
	q->committing = true;
	work_submit_serial(queue_batch_run, queue_batch_done, b);
}

/* Commit w's record operations with the next batch; then w->done(w). */
static void
queue_commit(struct queue_wjob *w)
{
	TAILQ_INSERT_TAIL(&w->q->gather, w, bentry);
	queue_batch_kick(w->q);
}

static void
queue_op_put(struct queue_wjob *w, const struct queue_msg *m)
{
	struct buf	 b = BUF_INIT;
	struct queue_op	*op = &w->ops[w->nops++];

	queue_rec_encode(m, &b);
	snprintf(op->id, sizeof(op->id), "%s", m->id);
	op->val = buf_steal(&b, &op->len);
}

static void
queue_op_del(struct queue_wjob *w, const struct queue_msg *m)
{
	struct queue_op	*op = &w->ops[w->nops++];

	snprintf(op->id, sizeof(op->id), "%s", m->id);
	op->val = NULL;
	w->unlink_path = xstrdup(m->path);
}

static void
queue_unlist(struct queue *q, struct queue_msg *m)
{
	if (m->listed) {
		TAILQ_REMOVE(&q->msgs, m, entry);
		m->listed = false;
	}
	queue_msg_free(m);
}

/* ---- submission ---------------------------------------------------------- */

static void
queue_submit_recorded(struct queue_wjob *w)
{
	struct queue	*q = w->q;

	if (w->rc == -1) {
		log_err("queue id=%s record failed error=\"%s\"", w->nm->id,
		    w->error);
		unlink(w->nm->path);	/* one small unlink; never fsynced */
		w->cb(w->cbarg, -1, "queue record failed");
		return;
	}
	log_info("queue id=%s queued from=<%s> nrcpt=%zu size=%" PRIu64,
	    w->nm->id, w->nm->sender, w->nm->nr, w->nm->size);
	w->nm->listed = true;
	TAILQ_INSERT_TAIL(&q->msgs, w->nm, entry);
	w->nm = NULL;
	w->cb(w->cbarg, 0, NULL);
	queue_kick(q, 0);
}

static void
queue_submit_copy_run(void *arg)
{
	struct queue_wjob	*w = arg;

	if (w->data != NULL)
		w->rc = queue_rec_write_blocking(w->nm->path, w->q->dir,
		    w->data, w->dlen, &w->error);
	else
		w->rc = queue_rec_copy_blocking(w->src, w->prepend,
		    w->nm->path, w->q->dir, &w->nm->size, &w->error);
}

static void
queue_submit_copied(void *arg)
{
	struct queue_wjob	*w = arg;

	if (w->rc == -1) {
		log_err("queue id=%s spool failed error=\"%s\"", w->nm->id,
		    w->error);
		w->cb(w->cbarg, -1, w->error);
		queue_wjob_free(w);
		return;
	}
	queue_op_put(w, w->nm);
	w->done = queue_submit_recorded;
	queue_commit(w);
}

static struct queue_msg *
queue_msg_new(struct queue *q, const char *sender, unsigned flags)
{
	struct queue_msg	*m = xcalloc(1, sizeof(*m));

	queue_new_id(q, m->id);
	m->path = xasprintf("%s/%s", q->dir, m->id);
	m->sender = xstrdup(sender);
	m->flags = flags;
	m->created = queue_now();
	return m;
}

void
queue_submit(struct queue *q, struct store_msg *msg, const char *prepend,
    const char *sender, const struct queue_rcpt *rcpts, size_t nrcpts,
    unsigned flags, queue_done_fn *done, void *arg)
{
	struct queue_env	 env = { sender, flags, NULL, QUEUE_RET_NONE };

	queue_submit_env(q, msg, prepend, &env, rcpts, nrcpts, done, arg);
}

void
queue_submit_env(struct queue *q, struct store_msg *msg, const char *prepend,
    const struct queue_env *env, const struct queue_rcpt *rcpts,
    size_t nrcpts, queue_done_fn *done, void *arg)
{
	struct queue_wjob	*w = xcalloc(1, sizeof(*w));
	struct queue_msg	*m = queue_msg_new(q, env->sender, env->flags);
	size_t			 i;

	if (env->envid != NULL && env->envid[0] != '\0')
		m->envid = xstrdup(env->envid);
	if (env->ret == QUEUE_RET_FULL || env->ret == QUEUE_RET_HDRS)
		m->ret = env->ret;

	m->r = xcalloc(nrcpts ? nrcpts : 1, sizeof(*m->r));
	for (i = 0; i < nrcpts; i++) {
		m->r[i].addr = xstrdup(rcpts[i].addr);
		m->r[i].notify = rcpts[i].notify;
		if (rcpts[i].orcpt != NULL)
			m->r[i].orcpt = xstrdup(rcpts[i].orcpt);
	}
	m->nr = nrcpts;
	w->q = q;
	w->nm = m;
	w->cb = done;
	w->cbarg = arg;
	w->src = xstrdup(store_msg_path(msg));
	if (prepend != NULL)
		w->prepend = xstrdup(prepend);
	work_submit(queue_submit_copy_run, queue_submit_copied, w);
}

/* ---- finishing: records, bounces -------------------------------------- */

static void
queue_finished(struct queue_wjob *w)
{
	struct queue		*q = w->q;
	struct queue_msg	*m = w->m;
	size_t			 i;

	m->writing = false;
	if (w->rc == -1) {
		log_err("queue id=%s update failed error=\"%s\"", m->id,
		    w->error);
		/* Undo what the report would have settled; try again later. */
		for (i = 0; i < m->nr; i++)
			if (m->r[i].state == QUEUE_R_DONE && w->ndr > 0)
				m->r[i].state = QUEUE_R_FAILED;
		if (w->nm != NULL)
			unlink(w->nm->path);
		m->next = queue_now() + 60000 / q->scale;
		queue_kick(q, 0);
		return;
	}
	if (w->nm != NULL) {
		log_info("queue id=%s bounce id=%s to=<%s>", m->id, w->nm->id,
		    w->nm->r[0].addr);
		w->nm->listed = true;
		TAILQ_INSERT_TAIL(&q->msgs, w->nm, entry);
		w->nm = NULL;
	}
	if (w->unlink_path != NULL) {
		log_info("queue id=%s removed", m->id);
		queue_unlist(q, m);
	} else if (m->removed || m->bounce_req)
		queue_finish(q, m);
	queue_kick(q, 0);
}

static void
queue_bounce_run(void *arg)
{
	struct queue_wjob	*w = arg;

	w->data = queue_dsn_build_blocking(w->fqdn, w->from_domain, w->m->id,
	    w->m->path, w->m->sender, w->m->envid, w->m->ret, w->m->created,
	    w->dr, w->ndr, &w->dlen);
	queue_dsn_sign_blocking(w->q->sign, w->gen, w->nm->id, &w->data,
	    &w->dlen);
	if (queue_rec_write_blocking(w->nm->path, w->q->dir, w->data,
	    w->dlen, &w->error) == -1) {
		w->rc = -1;
		return;
	}
	w->nm->size = w->dlen;
	queue_op_put(w, w->nm);
	queue_wjob_run(w);
}

/*
 * The message is idle (no attempt, no job): settle what its recipients'
 * states call for.  Failed recipients are reported in one DSN, written in
 * the same LMDB transaction that marks them reported; a message with
 * nothing pending is then removed, record first, file after.
 */
static void
queue_finish(struct queue *q, struct queue_msg *m)
{
	struct queue_wjob	*w;
	struct queue_dsn_rcpt	*d;
	size_t			 i, pending = 0;
	bool			 report;

	if (m->busy > 0 || m->writing)
		return;
	if (m->bounce_req) {
		m->bounce_req = false;
		for (i = 0; i < m->nr; i++)
			if (m->r[i].state == QUEUE_R_PENDING) {
				m->r[i].state = QUEUE_R_FAILED;
				m->r[i].code = 550;
				free(m->r[i].reply);
				m->r[i].reply = xstrdup("5.0.0 bounced by the "
				    "postmaster (postern queue bounce)");
			}
	}
	w = xcalloc(1, sizeof(*w));
	w->q = q;
	w->m = m;
	for (i = 0; i < m->nr; i++) {
		if (m->removed && m->r[i].state == QUEUE_R_PENDING)
			m->r[i].state = QUEUE_R_DONE;
		if (m->r[i].state == QUEUE_R_PENDING)
			pending++;
		if (m->r[i].state != QUEUE_R_FAILED)
			continue;
		/*
		 * RFC 3461 5.2.2 / 6.2: no report to <> (a bounce never
		 * bounces), none for NOTIFY=NEVER or a NOTIFY without FAILURE.
		 */
		report = m->sender[0] != '\0' && !(m->flags & QUEUE_F_BOUNCE) &&
		    (m->r[i].notify == 0 ||
		    (m->r[i].notify & QUEUE_NOTIFY_FAILURE));
		m->r[i].state = QUEUE_R_DONE;
		log_info("queue id=%s rcpt=<%s> failed report=%s reply=\"%s\"",
		    m->id, m->r[i].addr, report ? "yes" : "no",
		    m->r[i].reply != NULL ? m->r[i].reply : "");
		if (!report)
			continue;
		w->dr = xreallocarray(w->dr, w->ndr + 1, sizeof(*w->dr));
		d = &w->dr[w->ndr++];
		d->addr = xstrdup(m->r[i].addr);
		d->orcpt = m->r[i].orcpt ? xstrdup(m->r[i].orcpt) : NULL;
		d->code = m->r[i].code;
		d->reply = m->r[i].reply ? xstrdup(m->r[i].reply) : NULL;
	}
	if (pending == 0)
		queue_op_del(w, m);
	else
		queue_op_put(w, m);
	m->writing = true;
	w->done = queue_finished;
	if (w->ndr > 0) {
		w->nm = queue_msg_new(q, "", QUEUE_F_BOUNCE);
		w->nm->r = xcalloc(1, sizeof(*w->nm->r));
		w->nm->r[0].addr = xstrdup(m->sender);
		w->nm->nr = 1;
		w->fqdn = xstrdup(q->conf->sending_fqdn != NULL &&
		    q->conf->sending_fqdn[0] != '\0' ? q->conf->sending_fqdn :
		    q->conf->fqdn);
		w->from_domain = queue_dsn_from_domain(q->conf);
		if (q->sign != NULL && loop_gen() != NULL)
			w->gen = gen_ref(loop_gen());
		/* The report quotes the file: delete only after it is written. */
		work_submit_serial(queue_bounce_run, queue_wjob_done, w);
	} else
		queue_commit(w);
}

/* ---- attempts ------------------------------------------------------------ */

static void
queue_att_free(struct queue_att *t)
{
	size_t	 i;

	for (i = 0; i < t->a.nrcpts; i++)
		free(t->a.reply[i]);
	free(t->a.reply);
	free(t->a.code);
	free(t->a.rcpts);
	free(t->domain);
	free(t->a.mx);
	free(t->map);
	free(t);
}

static void
queue_att_done(struct queue_attempt *a)
{
	struct queue_att	*t = a->priv;
	struct queue		*q = t->q;
	struct queue_msg	*m = t->m;
	struct queue_r		*r;
	size_t			 i, pending = 0;
	int64_t			 now = queue_now();

	TAILQ_REMOVE(&q->atts, t, entry);
	q->natts--;
	for (i = 0; i < a->nrcpts; i++) {
		r = &m->r[t->map[i]];
		r->busy = false;
		r->code = a->code[i];
		free(r->reply);
		r->reply = a->reply[i];
		a->reply[i] = NULL;
		if (r->code >= 200 && r->code < 300)
			r->state = QUEUE_R_SENT;
		else if (r->code >= 500)
			r->state = QUEUE_R_FAILED;
		log_info("queue id=%s rcpt=<%s> mx=%s code=%d state=%s "
		    "reply=\"%s\"", m->id, r->addr, a->mx ? a->mx : "-",
		    r->code, r->state == QUEUE_R_SENT ? "sent" :
		    r->state == QUEUE_R_FAILED ? "failed" : "deferred",
		    r->reply ? r->reply : "");
	}
	queue_att_free(t);
	m->last = now;
	if (--m->busy > 0)
		return;
	m->attempts++;
	for (i = 0; i < m->nr; i++)
		if (m->r[i].state == QUEUE_R_PENDING)
			pending++;
	if (pending > 0) {
		/* RFC 5321 4.5.4.1: give up after queue.lifetime. */
		if (now - m->created >= q->conf->queue.lifetime * 1000LL) {
			for (i = 0; i < m->nr; i++) {
				r = &m->r[i];
				if (r->state != QUEUE_R_PENDING)
					continue;
				r->state = QUEUE_R_FAILED;
				free(r->reply);
				r->reply = xasprintf("4.4.7 delivery time "
				    "expired; last reply: %d", r->code);
			}
		} else
			m->next = now + queue_backoff(q, m->attempts);
	}
	/* Record sent recipients durably before anything else (never twice). */
	queue_finish(q, m);
}

static const char	*queue_rgroup(const struct queue *, struct queue_msg *,
			    size_t);

static void
queue_att_start(struct queue *q, struct queue_msg *m, const char *domain)
{
	struct queue_att	*t = xcalloc(1, sizeof(*t));
	struct queue_attempt	*a = &t->a;
	size_t			 i;

	t->q = q;
	t->m = m;
	t->map = xcalloc(m->nr, sizeof(*t->map));
	a->rcpts = xcalloc(m->nr, sizeof(*a->rcpts));
	for (i = 0; i < m->nr; i++) {
		if (m->r[i].state != QUEUE_R_PENDING || m->r[i].busy)
			continue;
		if (strcasecmp(queue_rgroup(q, m, i), domain) != 0)
			continue;
		m->r[i].busy = true;
		t->map[a->nrcpts] = i;
		a->rcpts[a->nrcpts++] = m->r[i].addr;
	}
	a->code = xcalloc(a->nrcpts, sizeof(*a->code));
	a->reply = xcalloc(a->nrcpts, sizeof(*a->reply));
	a->conf = q->conf;
	memcpy(a->id, m->id, sizeof(a->id));
	a->path = m->path;
	a->sender = m->sender;
	t->domain = xstrdup(domain);
	str_lower(t->domain);
	a->domain = t->domain;
	a->flags = m->flags;
	a->envid = m->envid;
	a->ret = m->ret;
	a->size = m->size;
	a->done = queue_att_done;
	a->priv = t;
	m->busy++;
	TAILQ_INSERT_TAIL(&q->atts, t, entry);
	q->natts++;
	q->d->start(a);
}

/* ---- the runner ------------------------------------------------------------ */

static size_t
queue_domain_active(struct queue *q, const char *domain)
{
	struct queue_att	*t;
	size_t			 n = 0;

	TAILQ_FOREACH(t, &q->atts, entry)
		if (strcasecmp(t->a.domain, domain) == 0)
			n++;
	return n;
}

static bool
queue_relay(const struct queue *q)
{
	return q->conf->relay.host != NULL && q->conf->relay.host[0] != '\0';
}

/*
 * Which attempt a recipient belongs to: its domain, or "relay" for every
 * remote domain when relay.host is set.  Local domains (bounces to our
 * own users) are never relayed: the deliverer stores them.
 */
static const char *
queue_group(const struct queue *q, const char *addr)
{
	const char	*dom = queue_domain(addr);

	if (queue_relay(q) && !conf_is_local_domain(q->conf, dom))
		return "relay";
	return dom;
}

/* queue_group() of m's recipient i, computed once per configuration. */
static const char *
queue_rgroup(const struct queue *q, struct queue_msg *m, size_t i)
{
	size_t	 k;

	if (m->grp_gen != q->conf_gen) {
		for (k = 0; k < m->nr; k++)
			m->r[k].grp = queue_group(q, m->r[k].addr);
		m->grp_gen = q->conf_gen;
	}
	return m->r[i].grp;
}

/*
 * Does an idle message need queue_finish()?  Only with a failure not yet
 * reported, or nothing pending any more.  A message that merely waits
 * for a free slot does not: its record is as it was (rewriting it on
 * every run cost one LMDB write per waiting message per run).
 */
static bool
queue_unsettled(const struct queue_msg *m)
{
	size_t	 i, pending = 0;

	for (i = 0; i < m->nr; i++) {
		if (m->r[i].state == QUEUE_R_FAILED)
			return true;
		if (m->r[i].state == QUEUE_R_PENDING)
			pending++;
	}
	return pending == 0;
}

/*
 * Start attempts for every due message, one per domain of its pending
 * recipients (one in all through a relay host), within the per-domain
 * and total limits.  Returns the delay until the next due message.
 * A long backlog for one destination is scanned cheaply: a group found
 * at its limit is remembered for the rest of the run (the counts only
 * grow within a run), so a waiting message costs one comparison.
 */
static int64_t
queue_run(struct queue *q)
{
	struct queue_msg	*m, *next;
	int64_t			 now = queue_now(), wait = QUEUE_IDLE_MS;
	const char		*dom;
	const char		*full = "";	/* a group at its limit */
	size_t			 i, j;
	bool			 seen;

	for (m = TAILQ_FIRST(&q->msgs); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->busy > 0 || m->writing)
			continue;
		if (m->removed || m->bounce_req) {
			queue_finish(q, m);
			continue;
		}
		if (m->next > now) {
			if (m->next - now < wait)
				wait = m->next - now;
			continue;
		}
		for (i = 0; i < m->nr; i++) {
			if (m->r[i].state != QUEUE_R_PENDING || m->r[i].busy)
				continue;
			dom = queue_rgroup(q, m, i);
			for (seen = false, j = 0; j < i && !seen; j++)
				seen = m->r[j].busy && strcasecmp(
				    queue_rgroup(q, m, j), dom) == 0;
			if (seen)
				continue;
			if (q->natts >= QUEUE_ACTIVE_MAX || dom == full ||
			    strcasecmp(dom, full) == 0 ||
			    queue_domain_active(q, dom) >= QUEUE_DOMAIN_MAX) {
				if (q->natts < QUEUE_ACTIVE_MAX)
					full = dom;	/* valid: m lives on */
				if (wait > 1000 / q->scale + 1)
					wait = 1000 / q->scale + 1;
				continue;
			}
			queue_att_start(q, m, dom);
		}
		/* Failed ones not yet reported, or nothing left to send. */
		if (m->busy == 0 && !m->writing && queue_unsettled(m))
			queue_finish(q, m);
	}
	return wait;
}

static void
queue_timer(evutil_socket_t fd, short what, void *arg)
{
	struct queue	*q = arg;
	int64_t		 wait;

	if (!q->running)
		return;
	wait = queue_run(q);
	if (q->running)
		queue_kick(q, wait);
}

static void
queue_kick(struct queue *q, int64_t delay_ms)
{
	struct timeval	 tv;

	if (!q->running || q->timer == NULL)
		return;
	if (delay_ms < 0)
		delay_ms = 0;
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	/* Never push an earlier wake-up later. */
	if (delay_ms > 0 && evtimer_pending(q->timer, NULL))
		return;
	evtimer_del(q->timer);
	evtimer_add(q->timer, &tv);
}

/* ---- life cycle ------------------------------------------------------------ */

static int
queue_load_blocking(struct queue *q, const char **error_r)
{
	struct idx_read		*rd;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	struct queue_msg	*m;
	DIR			*dir;
	struct dirent		*de;
	char			 id[64], *path;
	int			 rc;
	size_t			 n = 0, i;
	bool			 known;

	if (idx_read_begin(q->idx, &rd, error_r) == -1)
		return -1;
	if (mdb_cursor_open(idx_read_txn(rd), q->dbi, &cur) != 0) {
		idx_read_end(&rd);
		*error_r = "queue: cannot open a cursor";
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size >= sizeof(id))
			continue;
		memcpy(id, k.mv_data, k.mv_size);
		id[k.mv_size] = '\0';
		if ((m = queue_rec_decode(id, v.mv_data, v.mv_size,
		    q->dir)) == NULL) {
			log_warn("queue id=%s bad record, kept", id);
			continue;
		}
		for (i = 0; i < m->nr; i++)
			if (m->r[i].state == QUEUE_R_PENDING)
				break;
		m->listed = true;
		TAILQ_INSERT_TAIL(&q->msgs, m, entry);
		n++;
	}
	mdb_cursor_close(cur);
	idx_read_end(&rd);
	/*
	 * Files without a record were being queued when the process died:
	 * the client got no 250 for them, so they go.
	 */
	if ((dir = opendir(q->dir)) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			known = false;
			TAILQ_FOREACH(m, &q->msgs, entry)
				if (strcmp(m->id, de->d_name) == 0) {
					known = true;
					break;
				}
			if (known)
				continue;
			path = xasprintf("%s/%s", q->dir, de->d_name);
			log_info("queue orphan file removed name=%s",
			    de->d_name);
			unlink(path);
			free(path);
		}
		closedir(dir);
	}
	log_info("queue loaded messages=%zu", n);
	return 0;
}

int
queue_open(const struct conf *conf, struct queue **q_r, const char **error_r)
{
	struct queue	*q = xcalloc(1, sizeof(*q));
	struct store	*st = loop_shared()->store;
	const char	*s;
	uint64_t	 v;

	*q_r = NULL;
	q->conf = conf;
	q->conf_gen = 1;	/* a new message's grp_gen is 0: computed */
	q->scale = 1;
	if ((s = getenv("POSTERN_QUEUE_TEST_SCALE")) != NULL &&
	    str_to_u64(s, 100000, &v) == 0 && v >= 1)
		q->scale = (unsigned)v;
	q->rnd = (uint64_t)queue_now() ^ ((uint64_t)getpid() << 32) ^
	    0x9e3779b97f4a7c15ULL;
	TAILQ_INIT(&q->msgs);
	TAILQ_INIT(&q->atts);
	TAILQ_INIT(&q->gather);
	q->dir = xasprintf("%s/queue", conf->state_dir);
	if (mkdir(q->dir, 0700) == -1 && errno != EEXIST) {
		*error_r = "queue: cannot create <state_dir>/queue";
		goto fail;
	}
	if (st == NULL || st->idx == NULL) {
		*error_r = "queue: the store must be open first";
		goto fail;
	}
	q->idx = st->idx;
	if (idx_env_dbi_open_blocking(q->idx, QUEUE_DB, MDB_CREATE, &q->dbi,
	    error_r) == -1 || queue_load_blocking(q, error_r) == -1)
		goto fail;
	*q_r = q;
	return 0;
fail:
	queue_close(&q);
	return -1;
}

void
queue_start(struct queue *q, const struct queue_deliverer *d)
{
	if (q == NULL || d == NULL)
		return;
	q->d = d;
	q->timer = evtimer_new(loop_base(), queue_timer, q);
	q->running = true;
	queue_kick(q, 0);
}

void
queue_stop(struct queue *q)
{
	struct queue_att	*t;
	size_t			 i;

	if (q == NULL || !q->running)
		return;
	q->running = false;
	if (q->timer != NULL)
		event_free(q->timer);
	q->timer = NULL;
	/* Attempts in flight are dropped; their recipients stay pending. */
	while ((t = TAILQ_FIRST(&q->atts)) != NULL) {
		TAILQ_REMOVE(&q->atts, t, entry);
		q->natts--;
		q->d->cancel(&t->a);
		for (i = 0; i < t->a.nrcpts; i++)
			t->m->r[t->map[i]].busy = false;
		t->m->busy--;
		queue_att_free(t);
	}
	if (q->d->stop != NULL)
		q->d->stop();
}

void
queue_close(struct queue **qp)
{
	struct queue		*q = *qp;
	struct queue_msg	*m;
	struct queue_wjob	*w;

	if (q == NULL)
		return;
	queue_stop(q);
	/* Writes not started: their messages stay as the last record says. */
	while ((w = TAILQ_FIRST(&q->gather)) != NULL) {
		TAILQ_REMOVE(&q->gather, w, bentry);
		if (w->m != NULL)
			w->m->writing = false;
		queue_wjob_free(w);
	}
	while ((m = TAILQ_FIRST(&q->msgs)) != NULL)
		queue_unlist(q, m);
	free(q->dir);
	free(q);
	*qp = NULL;
}

void
queue_set_signer(struct queue *q, queue_sign_fn *sign)
{
	q->sign = sign;
}

void
queue_set_conf(struct queue *q, const struct conf *conf)
{
	q->conf = conf;
	q->conf_gen++;		/* relay.host or domains may have changed */
}

/* ---- control ----------------------------------------------------------------- */

static struct queue_msg *
queue_find(struct queue *q, const char *id)
{
	struct queue_msg	*m;

	TAILQ_FOREACH(m, &q->msgs, entry)
		if (strcasecmp(m->id, id) == 0)
			return m;
	return NULL;
}

static const char *
queue_rstate_name(enum queue_rstate s)
{
	switch (s) {
	case QUEUE_R_PENDING:
		return "pending";
	case QUEUE_R_SENT:
		return "sent";
	case QUEUE_R_FAILED:
		return "failed";
	case QUEUE_R_DONE:
		return "done";
	}
	return "?";
}

int
queue_ctl_list(struct queue *q, char **out, const char **error_r)
{
	struct buf		 b = BUF_INIT;
	struct queue_msg	*m;
	size_t			 i, pending, len;
	int64_t			 now = queue_now();

	TAILQ_FOREACH(m, &q->msgs, entry) {
		for (pending = 0, i = 0; i < m->nr; i++)
			pending += m->r[i].state == QUEUE_R_PENDING;
		buf_printf(&b, "%s size=%" PRIu64 " from=<%s> rcpts=%zu "
		    "pending=%zu attempts=%u next_in=%" PRId64 "s%s\n", m->id,
		    m->size, m->sender, m->nr, pending, m->attempts,
		    m->next > now ? (m->next - now) / 1000 : 0,
		    m->busy ? " active" : "");
	}
	*out = b.data != NULL ? buf_steal(&b, &len) : xstrdup("");
	return 0;
}

int
queue_ctl_show(struct queue *q, const char *id, char **out,
    const char **error_r)
{
	struct buf		 b = BUF_INIT;
	struct queue_msg	*m;
	size_t			 i, len;

	if ((m = queue_find(q, id)) == NULL) {
		*error_r = "no such queue id";
		return -1;
	}
	buf_printf(&b, "id: %s\nfrom: <%s>\nsize: %" PRIu64 "\nattempts: %u\n"
	    "created_ms: %" PRId64 "\nnext_ms: %" PRId64 "\n", m->id,
	    m->sender, m->size, m->attempts, m->created, m->next);
	if (m->envid != NULL)
		buf_printf(&b, "envid: %s\n", m->envid);
	if (m->ret != QUEUE_RET_NONE)
		buf_printf(&b, "ret: %s\n", m->ret == QUEUE_RET_FULL ? "FULL" :
		    "HDRS");
	for (i = 0; i < m->nr; i++)
		buf_printf(&b, "rcpt: <%s> %s code=%d reply=\"%s\"\n",
		    m->r[i].addr, queue_rstate_name(m->r[i].state),
		    m->r[i].code, m->r[i].reply ? m->r[i].reply : "");
	*out = buf_steal(&b, &len);
	return 0;
}

int
queue_ctl_flush(struct queue *q, const char **error_r)
{
	struct queue_msg	*m;

	TAILQ_FOREACH(m, &q->msgs, entry)
		m->next = 0;
	queue_kick(q, 0);
	return 0;
}

int
queue_ctl_delete(struct queue *q, const char *id, const char **error_r)
{
	struct queue_msg	*m;

	if ((m = queue_find(q, id)) == NULL) {
		*error_r = "no such queue id";
		return -1;
	}
	m->removed = true;
	queue_finish(q, m);
	return 0;
}

int
queue_ctl_bounce(struct queue *q, const char *id, const char **error_r)
{
	struct queue_msg	*m;

	if ((m = queue_find(q, id)) == NULL) {
		*error_r = "no such queue id";
		return -1;
	}
	m->bounce_req = true;
	queue_finish(q, m);
	return 0;
}
