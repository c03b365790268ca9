/*
 * filter_auth.c - the mail authentication pipeline of one transaction
 * (filter.h): the glue between the pure SPF, DKIM and DMARC state
 * machines, the asynchronous resolver (dnsq) and the worker pool.
 *
 * Inbound, in order of time:
 *   MAIL      two SPF evaluations start (MAIL FROM, HELO); each asks for
 *             one DNS answer at a time (spf_eval_step/answer).
 *   end       a worker reads the spool once: DKIM body and header hashes,
 *             the RFC5322.From domain, and a rewrite of the spool when a
 *             forged Authentication-Results names our authserv-id or
 *             (spam.enable) the sender wrote X-Spam fields.
 *   loop      TXT lookups of every "<s>._domainkey.<d>" key, in parallel.
 *   worker    dkim_verify_finish (the RSA/Ed25519 verifications).
 *   loop      once SPF is done too: DMARC policy discovery, then one
 *             Authentication-Results field, handed to the session.
 *   worker    spam scoring (filter/spam: heuristics, rules, Bayes), given
 *             the results above; X-Spam-* lines follow the A-R field.
 *             A conclusive score teaches Bayes (autolearn) in the same
 *             job, for the global set and the one local account.
 * Submission: one worker job reads the spool (after the session's own
 * header lines), finds the From domain and signs with every selector the
 * keyring holds for it.
 *
 * Why a sender's X-Spam fields are cut from the spool rather than
 * skipped at delivery: the Maildir copies, Sieve (lda), vacation and
 * reject reports, redirects and the outbound queue all read the spool
 * by path, so one rewrite keeps every reader, and the spam rules,
 * agreeing on what the message is; DKIM has already hashed the bytes as
 * received in the same read, so verification is untouched.  Forwarded
 * copies lose the fields too: the next hop scores on its own, and
 * signers do not cover X-Spam fields (RFC 6376 5.4.1's list, which the
 * usual signers' defaults follow, has none).  The spool is scratch:
 * every copy is still made durable (fsync) from it before any 250.
 *
 * A timer started at the end of the message bounds every DNS wait
 * (FILTER_WAIT_MS); whatever is still open then is cancelled and counts
 * as temperror.  While a worker job runs, the loop touches none of the
 * fields the job uses; filter_free then only marks the filter orphaned
 * and the job's completion frees it.  The filter holds a reference to
 * its generation, so the keys it signs with outlive the session.
 *
 * Threads: *_run functions run on workers, everything else on the loop.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "clamd.h"
#include "conf.h"
#include "dkim.h"
#include "dmarc.h"
#include "dnsq.h"
#include "filter.h"
#include "log.h"
#include "loop.h"
#include "spam.h"
#include "spf.h"
#include "work.h"
#include "xmalloc.h"

#define FILTER_PSL_PATH		"/usr/share/publicsuffix/public_suffix_list.dat"
#define FILTER_CHUNK		65536
#define FILTER_SPF_MAIL		0
#define FILTER_SPF_HELO		1

struct filter;

/* One SPF identity being checked. */
struct filter_spf {
	struct filter		*f;
	struct spf_eval		*eval;		/* NULL: not checked */
	struct dnsq_req		*req;
	bool			 done;
	bool			 timeout;	/* gave up: temperror */
};

/* One spam.dnsbl zone asked for the client's address (at MAIL). */
struct filter_bl {
	struct filter		*f;
	const char		*entry;		/* gen->conf string */
	struct dnsq_req		*req;
	char			*answer;	/* listing address, or NULL */
};

/* One DKIM key record to look up. */
struct filter_key {
	struct filter		*f;
	char			*name;
	struct dnsq_req		*req;
	enum dkim_dns		 status;
	char			*txt;
	bool			 done;
};

struct filter {
	uint64_t		 sid;
	struct gen		*gen;
	enum filter_mode	 mode;
	char			*authserv;	/* fqdn */
	struct filter_spf	 spf[2];

	/* End of message. */
	bool			 ended;
	char			*spool;
	struct buf		 add;		/* session's lines (signed) */
	filter_done_fn		*done;
	void			*arg;
	struct event		*timer;
	bool			 timed_out;
	bool			 job;		/* a worker job holds us */
	bool			 orphan;	/* freed while job ran */

	/* Worker outputs. */
	char			*from_domain;
	char			*error;		/* job failure, for the log */
	struct buf		 sig;		/* DKIM-Signature fields */
	bool			 stripped;	/* forged A-R removed */
	uint64_t		 xspam;		/* bytes of X-Spam fields removed */

	/* DKIM verification. */
	struct dkim_verify	*dv;
	struct filter_key	*keys;
	size_t			 nkeys;
	size_t			 keys_left;
	bool			 finishing;	/* finish job submitted */
	bool			 dkim_done;
	struct dkim_result	*res;
	size_t			 nres;

	/* DMARC. */
	struct dmarc_eval	*dm;
	struct dnsq_req		*dm_req;
	bool			 dm_started;
	bool			 dm_done;
	bool			 dm_timeout;

	/* Spam scoring (inbound, spam.enable). */
	char			*helo;
	char			*peer_ip;
	struct idx		*spam_idx;	/* Bayes; NULL: none */
	char			*user;		/* the one local account, or NULL */
	struct spam_result	*spam;
	bool			 spam_done;

	/* DNSBL/DNSWL (spam.dnsbl), started at MAIL. */
	struct filter_bl	*bl;
	size_t			 nbl;
	size_t			 bl_left;

	/* Greylisting (filter_greylist). */
	char			*mail_from;
	char			**grey_rcpts;
	size_t			 grey_n;
	struct buf		 grey_hdrs;
	filter_grey_fn		*grey_done;
	void			*grey_arg;
	int			 grey_rc;
	const char		*grey_error;

	/* Virus scanning (inbound, virus_scanning.enable), before spam. */
	bool			 virus_done;
	int			 virus;		/* FILTER_VIRUS_* */
	char			*virus_text;	/* signature or reason */
};

static pthread_once_t	 filter_psl_once = PTHREAD_ONCE_INIT;
static struct dmarc_psl	*filter_psl;	/* read-only once loaded */

static void	filter_advance(struct filter *);
static void	filter_spf_step(struct filter_spf *);
static void	filter_dmarc_step(struct filter *);
static char	*filter_peer_ip(const struct sockaddr *);
static void	filter_bl_start(struct filter *, const struct sockaddr *);

/* [worker] Load the Public Suffix List once per process. */
static void
filter_psl_load(void)
{
	const char	*e = NULL;

	if (access(FILTER_PSL_PATH, R_OK) == -1) {
		log_info("filter psl=none path=%s (org domain = last two "
		    "labels)", FILTER_PSL_PATH);
		return;
	}
	if (dmarc_psl_load(FILTER_PSL_PATH, &filter_psl, &e) == -1)
		log_warn("filter psl-load path=%s error=\"%s\"",
		    FILTER_PSL_PATH, e != NULL ? e : "failed");
}

static enum dkim_canon
filter_canon(enum conf_canon c)
{
	/* The enums differ: CONF_CANON_RELAXED == 0 == DKIM_CANON_SIMPLE. */
	return c == CONF_CANON_SIMPLE ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED;
}

/* ---- lifecycle -------------------------------------------------------- */

static enum dkim_dns
filter_key_none(const char *name, void *arg, char **txt_r)
{
	(void)name;
	(void)arg;
	*txt_r = NULL;
	return DKIM_DNS_TEMPFAIL;
}

static void
filter_destroy(struct filter *f)
{
	struct dkim_result	*res = NULL;
	size_t			 i, nres = 0;

	for (i = 0; i < 2; i++) {
		dnsq_cancel(&f->spf[i].req);
		spf_eval_free(&f->spf[i].eval);
	}
	for (i = 0; i < f->nkeys; i++) {
		dnsq_cancel(&f->keys[i].req);
		free(f->keys[i].name);
		free(f->keys[i].txt);
	}
	free(f->keys);
	if (f->dv != NULL) {
		/* Never finished: finishing frees it; no key, no crypto. */
		dkim_verify_finish(&f->dv, filter_key_none, NULL, &res, &nres);
		dkim_results_free(&res, nres);
	}
	dkim_results_free(&f->res, f->nres);
	dnsq_cancel(&f->dm_req);
	dmarc_eval_free(&f->dm);
	for (i = 0; i < f->nbl; i++) {
		dnsq_cancel(&f->bl[i].req);
		free(f->bl[i].answer);
	}
	free(f->bl);
	for (i = 0; i < f->grey_n; i++)
		free(f->grey_rcpts[i]);
	free(f->grey_rcpts);
	buf_free(&f->grey_hdrs);
	free(f->mail_from);
	spam_result_free(&f->spam);
	free(f->virus_text);
	free(f->helo);
	free(f->peer_ip);
	free(f->user);
	if (f->timer != NULL)
		event_free(f->timer);
	buf_free(&f->add);
	buf_free(&f->sig);
	free(f->from_domain);
	free(f->error);
	free(f->spool);
	free(f->authserv);
	gen_unref(&f->gen);
	free(f);
}

struct filter *
filter_new(struct gen *g, enum filter_mode mode, uint64_t sid,
    const struct sockaddr *peer, const char *helo, const char *mail_from)
{
	struct filter		*f;
	struct dkim_keyring	*kr = g->ext[FILTER_GEN_DKIM];
	size_t			 i;

	if (mode == FILTER_SUBMISSION &&
	    (!g->conf->dkim.enable || dkim_keyring_size(kr) == 0))
		return NULL;
	f = xcalloc(1, sizeof(*f));
	f->sid = sid;
	f->gen = gen_ref(g);
	f->mode = mode;
	f->authserv = xstrdup(g->conf->fqdn);
	buf_init(&f->add, 0);
	buf_init(&f->sig, 0);
	buf_init(&f->grey_hdrs, 0);
	for (i = 0; i < 2; i++) {
		f->spf[i].f = f;
		f->spf[i].done = true;
	}
	f->spam_done = mode != FILTER_INBOUND || !g->conf->spam.enable;
	f->virus_done = mode != FILTER_INBOUND ||
	    !g->conf->virus_scanning.enable;
	if (mode == FILTER_INBOUND && helo != NULL)
		f->helo = xstrdup(helo);
	if (mode != FILTER_INBOUND || peer == NULL)
		return f;
	f->peer_ip = filter_peer_ip(peer);
	f->mail_from = xstrdup(mail_from != NULL ? mail_from : "");
	if (!f->spam_done)
		filter_bl_start(f, peer);
	f->spf[FILTER_SPF_MAIL].eval = spf_eval_new(peer, mail_from, helo,
	    g->conf->fqdn);
	if (helo != NULL && helo[0] != '\0' && helo[0] != '[')
		f->spf[FILTER_SPF_HELO].eval = spf_eval_new_helo(peer, helo,
		    g->conf->fqdn);
	for (i = 0; i < 2; i++) {
		if (f->spf[i].eval == NULL)
			continue;
		f->spf[i].done = false;
		filter_spf_step(&f->spf[i]);
	}
	return f;
}

void
filter_set_user(struct filter *f, const char *account)
{
	free(f->user);
	f->user = account != NULL ? xstrdup(account) : NULL;
}

void
filter_free(struct filter **fp)
{
	struct filter	*f = *fp;
	size_t		 i;

	if (f == NULL)
		return;
	*fp = NULL;
	f->done = NULL;
	if (!f->job) {
		filter_destroy(f);
		return;
	}
	/* The job owns us until its completion; stop everything else. */
	f->orphan = true;
	for (i = 0; i < 2; i++)
		dnsq_cancel(&f->spf[i].req);
	for (i = 0; i < f->nkeys; i++)
		dnsq_cancel(&f->keys[i].req);
	dnsq_cancel(&f->dm_req);
	for (i = 0; i < f->nbl; i++)
		dnsq_cancel(&f->bl[i].req);
	if (f->timer != NULL)
		event_del(f->timer);
}

/* ---- SPF -------------------------------------------------------------- */

/* The numeric text of peer (malloc'd), or NULL. */
static char *
filter_peer_ip(const struct sockaddr *peer)
{
	char	 a[INET6_ADDRSTRLEN];

	if (peer->sa_family == AF_INET && inet_ntop(AF_INET,
	    &((const struct sockaddr_in *)(const void *)peer)->sin_addr, a,
	    sizeof(a)) != NULL)
		return xstrdup(a);
	if (peer->sa_family == AF_INET6 && inet_ntop(AF_INET6,
	    &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr, a,
	    sizeof(a)) != NULL)
		return xstrdup(a);
	return NULL;
}

static int
filter_spf_qtype(enum spf_qtype t)
{
	switch (t) {
	case SPF_Q_A:
		return DNSQ_T_A;
	case SPF_Q_AAAA:
		return DNSQ_T_AAAA;
	case SPF_Q_MX:
		return DNSQ_T_MX;
	case SPF_Q_PTR:
		return DNSQ_T_PTR;
	default:
		return DNSQ_T_TXT;
	}
}

/* Presentation-form rdata of a dnsq answer, as spf.h wants it. */
static char **
filter_rrs(const struct dnsq_result *r, size_t *n_r)
{
	char	**v, abuf[INET6_ADDRSTRLEN];
	size_t	  i, n = 0;

	v = xcalloc(r->n + 1, sizeof(*v));
	for (i = 0; i < r->n; i++) {
		const struct dnsmsg_rr *rr = &r->rr[i];

		switch (r->type) {
		case DNSQ_T_TXT:
			if (rr->txt != NULL)
				v[n++] = xstrndup(rr->txt, rr->txtlen);
			break;
		case DNSQ_T_A:
			if (inet_ntop(AF_INET, &rr->a, abuf, sizeof(abuf)))
				v[n++] = xstrdup(abuf);
			break;
		case DNSQ_T_AAAA:
			if (inet_ntop(AF_INET6, &rr->aaaa, abuf, sizeof(abuf)))
				v[n++] = xstrdup(abuf);
			break;
		case DNSQ_T_MX:
			if (rr->host != NULL)
				v[n++] = xasprintf("%u %s", rr->pref, rr->host);
			break;
		default:
			if (rr->host != NULL)
				v[n++] = xstrdup(rr->host);
			break;
		}
	}
	*n_r = n;
	return v;
}

static void
filter_rrs_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
filter_spf_cb(void *arg, const struct dnsq_result *r)
{
	struct filter_spf	*sp = arg;
	char			**v;
	size_t			 n;

	sp->req = NULL;
	v = filter_rrs(r, &n);
	spf_eval_answer(sp->eval, r->rcode == DNSQ_OK ? SPF_RC_OK :
	    r->rcode == DNSQ_NXDOMAIN ? SPF_RC_NXDOMAIN : SPF_RC_SERVFAIL,
	    (const char *const *)v, n);
	filter_rrs_free(v, n);
	filter_spf_step(sp);
}

static void
filter_spf_step(struct filter_spf *sp)
{
	struct spf_dns_query	 q;
	struct dnsq		*dns = loop_shared()->dns;

	if (sp->f->timed_out || dns == NULL) {
		sp->timeout = true;
		sp->done = true;
	} else if (spf_eval_step(sp->eval, &q) == SPF_NEED_DNS) {
		sp->req = dnsq_query(dns, q.name, filter_spf_qtype(q.type),
		    filter_spf_cb, sp);
		return;
	} else
		sp->done = true;
	filter_advance(sp->f);
}

/* ---- DNSBL / DNSWL ---------------------------------------------------- */

static void
filter_bl_cb(void *arg, const struct dnsq_result *r)
{
	struct filter_bl	*b = arg;
	char			 a[INET_ADDRSTRLEN];
	size_t			 i;

	b->req = NULL;
	/* Only a 127.0.0.x answer lists; NXDOMAIN, errors, timeouts: no. */
	for (i = 0; r->rcode == DNSQ_OK && i < r->n && b->answer == NULL;
	    i++)
		if (spam_dnsbl_listed(b->entry, r->rr[i].a.s_addr) &&
		    inet_ntop(AF_INET, &r->rr[i].a, a, sizeof(a)) != NULL)
			b->answer = xstrdup(a);
	b->f->bl_left--;
	filter_advance(b->f);
}

/* [loop] At MAIL: ask every spam.dnsbl zone for the client's address. */
static void
filter_bl_start(struct filter *f, const struct sockaddr *peer)
{
	const struct conf_strlist *zl = &f->gen->conf->spam.dnsbl;
	struct dnsq		*dns = loop_shared()->dns;
	char			 zone[256], sym[260], name[512];
	size_t			 i;

	if (zl->n == 0 || dns == NULL)
		return;
	f->bl = xcalloc(zl->n, sizeof(*f->bl));
	for (i = 0; i < zl->n; i++) {
		if (spam_dnsbl_zone(zl->v[i], zone, sizeof(zone), sym,
		    sizeof(sym), NULL) == -1 ||
		    dnsmsg_rev_name(peer, zone, name, sizeof(name)) == -1)
			continue;
		f->bl[f->nbl].f = f;
		f->bl[f->nbl].entry = zl->v[i];
		f->nbl++;
	}
	/* Callbacks never run from inside dnsq_query: count first. */
	f->bl_left = f->nbl;
	for (i = 0; i < f->nbl; i++) {
		(void)spam_dnsbl_zone(f->bl[i].entry, zone, sizeof(zone), sym,
		    sizeof(sym), NULL);
		(void)dnsmsg_rev_name(peer, zone, name, sizeof(name));
		f->bl[i].req = dnsq_query(dns, name, DNSQ_T_A, filter_bl_cb,
		    &f->bl[i]);
	}
}

bool
filter_allowlisted(const struct filter *f)
{
	size_t	 i;

	for (i = 0; f != NULL && i < f->nbl; i++)
		if (f->bl[i].answer != NULL &&
		    spam_dnsbl_allowlist(f->bl[i].entry))
			return true;
	return false;
}

/* [worker] The listings found, as symbols of f->spam. */
static void
filter_bl_apply(struct filter *f)
{
	const char	**e, **a;
	size_t		  i;

	if (f->nbl == 0 || f->spam == NULL)
		return;
	e = xcalloc(f->nbl, sizeof(*e));
	a = xcalloc(f->nbl, sizeof(*a));
	for (i = 0; i < f->nbl; i++) {
		e[i] = f->bl[i].entry;
		a[i] = f->bl[i].answer;
	}
	spam_dnsbl_add(f->spam, e, a, f->nbl);
	free(e);
	free(a);
}

/* ---- DKIM ------------------------------------------------------------- */

/* [worker] The key lookups were all answered before finish. */
static enum dkim_dns
filter_key_lookup(const char *name, void *arg, char **txt_r)
{
	struct filter	*f = arg;
	size_t		 i;

	for (i = 0; i < f->nkeys; i++) {
		if (strcasecmp(f->keys[i].name, name) != 0)
			continue;
		if (f->keys[i].status == DKIM_DNS_OK)
			*txt_r = xstrdup(f->keys[i].txt);
		return f->keys[i].status;
	}
	return DKIM_DNS_TEMPFAIL;
}

static void
filter_finish_run(void *arg)
{
	struct filter	*f = arg;

	dkim_verify_finish(&f->dv, filter_key_lookup, f, &f->res, &f->nres);
}

static void
filter_finish_done(void *arg)
{
	struct filter	*f = arg;

	f->job = false;
	if (f->orphan) {
		filter_destroy(f);
		return;
	}
	f->dkim_done = true;
	filter_advance(f);
}

static void
filter_keys_maybe_finish(struct filter *f)
{
	if (f->keys_left > 0 || f->finishing)
		return;
	f->finishing = true;
	f->job = true;
	work_submit(filter_finish_run, filter_finish_done, f);
}

static void
filter_key_cb(void *arg, const struct dnsq_result *r)
{
	struct filter_key	*k = arg;
	struct filter		*f = k->f;
	struct buf		 b = BUF_INIT;
	size_t			 i;

	k->req = NULL;
	k->done = true;
	if (r->rcode == DNSQ_OK && r->n > 0) {
		/* RFC 6376 3.6.2.2: several strings form one record. */
		for (i = 0; i < r->n && b.len == 0; i++)
			if (r->rr[i].txt != NULL)
				buf_append(&b, r->rr[i].txt, r->rr[i].txtlen);
		k->status = b.data != NULL ? DKIM_DNS_OK : DKIM_DNS_NONE;
		k->txt = b.data != NULL ? buf_steal(&b, NULL) : NULL;
	} else if (r->rcode == DNSQ_OK || r->rcode == DNSQ_NXDOMAIN)
		k->status = DKIM_DNS_NONE;
	else
		k->status = DKIM_DNS_TEMPFAIL;
	buf_free(&b);
	f->keys_left--;
	filter_keys_maybe_finish(f);
}

/* [worker] Write all of p to fd; through xs (X-Spam fields) when set. */
static int
filter_write(int fd, const char *p, size_t len, struct filter_xspam *xs,
    struct buf *tmp)
{
	ssize_t	 w;
	size_t	 i;

	if (xs != NULL) {
		buf_reset(tmp);
		filter_xspam_feed(xs, p, len, tmp);
		p = tmp->data;
		len = tmp->len;
	}
	for (i = 0; i < len; i += (size_t)w) {
		w = write(fd, p + i, len - i);
		if (w == -1 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			return -1;
	}
	return 0;
}

/*
 * [worker] Write hdr, then the rest of fd from off, through xs when not
 * NULL, into a new file that replaces path.  -1 leaves path as it was.
 */
static int
filter_spool_rewrite(int fd, const char *path, const char *hdr, size_t hlen,
    off_t off, struct filter_xspam *xs, char *chunk)
{
	struct buf	 tmpb = BUF_INIT;
	char		*tmp = xasprintf("%s.ar", path);
	ssize_t		 r = 0;
	int		 out, rc = -1;

	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		goto fail;
	if (filter_write(out, hdr, hlen, xs, &tmpb) == -1 ||
	    lseek(fd, off, SEEK_SET) != off)
		goto fail;
	for (;;) {
		r = read(fd, chunk, FILTER_CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (filter_write(out, chunk, (size_t)r, xs, &tmpb) == -1)
			goto fail;
	}
	if (r == -1)
		goto fail;
	if (xs != NULL) {
		buf_reset(&tmpb);
		filter_xspam_end(xs, &tmpb);
		if (filter_write(out, tmpb.data, tmpb.len, NULL, NULL) == -1)
			goto fail;
	}
	rc = close(out);
	out = -1;
	if (rc == 0 && (rc = rename(tmp, path)) == 0) {
		buf_free(&tmpb);
		free(tmp);
		return 0;
	}
 fail:
	if (out != -1)
		close(out);
	(void)unlink(tmp);
	buf_free(&tmpb);
	free(tmp);
	return -1;
}

/*
 * [worker] Read the spool once: feed the DKIM verifier, keep the header
 * section, and rewrite the file without forged Authentication-Results
 * and (spam.enable) without the sender's X-Spam fields.
 */
static void
filter_scan_run(void *arg)
{
	struct filter		*f = arg;
	struct filter_xspam	 count, xs;
	struct buf		 hdr = BUF_INIT;
	const char		*name;
	char			*chunk;
	size_t			 hlen = 0, newlen, i, j, n;
	ssize_t			 r;
	int			 fd, rc;
	bool			 found = false, xspam = f->gen->conf->spam.enable;

	pthread_once(&filter_psl_once, filter_psl_load);
	f->dv = dkim_verify_new(time(NULL));
	if ((fd = open(f->spool, O_RDONLY | O_CLOEXEC)) == -1) {
		f->error = xasprintf("open %s: %s", f->spool, strerror(errno));
		return;
	}
	filter_xspam_init(&count);
	chunk = xmalloc(FILTER_CHUNK);
	for (;;) {
		r = read(fd, chunk, FILTER_CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		dkim_verify_feed(f->dv, chunk, (size_t)r);
		/* Counts only; a header of any length (no buffering). */
		if (xspam)
			filter_xspam_feed(&count, chunk, (size_t)r, NULL);
		if (found || hdr.len >= DKIM_HEADER_MAX)
			continue;
		buf_append(&hdr, chunk, (size_t)r);
		hlen = filter_hdr_len(hdr.data, hdr.len);
		found = hlen < hdr.len || (hdr.len >= 2 &&
		    memcmp(hdr.data + hlen - 2, "\r\n", 2) == 0 &&
		    (hlen == 2 || (hlen >= 4 &&
		    memcmp(hdr.data + hlen - 4, "\r\n\r\n", 4) == 0)));
	}
	if (r == -1)
		f->error = xasprintf("read %s: %s", f->spool, strerror(errno));
	if (hdr.data != NULL) {
		if (!found)
			hlen = hdr.len;
		f->from_domain = filter_hdr_from_domain(hdr.data, hlen);
		/* RFC 8601 5: delete what claims to be ours. */
		newlen = found ? filter_hdr_strip_ar(hdr.data, hlen,
		    f->authserv) : hlen;
		filter_xspam_init(&xs);
		if (r == 0 && (newlen < hlen || count.dropped > 0)) {
			/* The header we hold, then the rest; a header too
			 * long to hold is streamed from the start. */
			if (found)
				rc = filter_spool_rewrite(fd, f->spool,
				    hdr.data, newlen, (off_t)hlen,
				    count.dropped > 0 ? &xs : NULL, chunk);
			else
				rc = filter_spool_rewrite(fd, f->spool, NULL,
				    0, 0, &xs, chunk);
			if (rc == 0) {
				f->stripped = newlen < hlen;
				f->xspam = xs.dropped;
			} else
				f->error = xasprintf("cannot remove forged "
				    "Authentication-Results or X-Spam fields "
				    "from %s: %s", f->spool, strerror(errno));
		}
	}
	close(fd);
	free(chunk);
	buf_free(&hdr);
	/* Copy the key names (valid only until finish), without repeats. */
	n = dkim_verify_count(f->dv);
	f->keys = xcalloc(n + 1, sizeof(*f->keys));
	for (i = 0; i < n; i++) {
		if ((name = dkim_verify_key_name(f->dv, i)) == NULL)
			continue;
		for (j = 0; j < f->nkeys; j++)
			if (strcasecmp(f->keys[j].name, name) == 0)
				break;
		if (j < f->nkeys)
			continue;
		f->keys[f->nkeys].f = f;
		f->keys[f->nkeys].name = xstrdup(name);
		f->keys[f->nkeys].status = DKIM_DNS_TEMPFAIL;
		f->nkeys++;
	}
}

static void
filter_scan_done(void *arg)
{
	struct filter	*f = arg;
	struct dnsq	*dns = loop_shared()->dns;
	size_t		 i;

	f->job = false;
	if (f->orphan) {
		filter_destroy(f);
		return;
	}
	if (f->error != NULL)
		log_warn("%016" PRIx64 " filter error=\"%s\"", f->sid,
		    f->error);
	if (f->stripped)
		log_info("%016" PRIx64 " filter removed forged "
		    "Authentication-Results authserv-id=%s", f->sid,
		    f->authserv);
	if (f->xspam > 0)
		log_info("%016" PRIx64 " filter removed sender X-Spam fields "
		    "bytes=%" PRIu64, f->sid, f->xspam);
	f->keys_left = f->nkeys;
	for (i = 0; i < f->nkeys; i++) {
		if (f->timed_out || dns == NULL) {
			f->keys[i].done = true;
			f->keys_left--;
			continue;
		}
		f->keys[i].req = dnsq_query(dns, f->keys[i].name, DNSQ_T_TXT,
		    filter_key_cb, &f->keys[i]);
	}
	filter_keys_maybe_finish(f);
}

/* ---- DMARC ------------------------------------------------------------ */

static void
filter_dmarc_cb(void *arg, const struct dnsq_result *r)
{
	struct filter	*f = arg;
	char		**v;
	size_t		 n;

	f->dm_req = NULL;
	v = filter_rrs(r, &n);
	dmarc_eval_answer(f->dm, r->rcode == DNSQ_OK ? DMARC_RC_OK :
	    r->rcode == DNSQ_NXDOMAIN ? DMARC_RC_NXDOMAIN : DMARC_RC_SERVFAIL,
	    (const char *const *)v, n);
	filter_rrs_free(v, n);
	filter_dmarc_step(f);
}

static void
filter_dmarc_step(struct filter *f)
{
	struct dmarc_dns_query	 q;
	struct dnsq		*dns = loop_shared()->dns;

	if (f->timed_out || dns == NULL) {
		f->dm_timeout = true;
		f->dm_done = true;
	} else if (dmarc_eval_step(f->dm, &q) == DMARC_NEED_DNS) {
		f->dm_req = dnsq_query(dns, q.name, DNSQ_T_TXT,
		    filter_dmarc_cb, f);
		return;
	} else
		f->dm_done = true;
	filter_advance(f);
}

static void
filter_dmarc_start(struct filter *f)
{
	const struct filter_spf	*sp;
	size_t			 i;

	f->dm_started = true;
	if (f->from_domain == NULL) {
		f->dm_done = true;
		return;
	}
	f->dm = dmarc_eval_new(filter_psl, f->from_domain);
	/* RFC 7489 4.1: SPF of MAIL FROM, of HELO for the null sender. */
	sp = &f->spf[FILTER_SPF_MAIL];
	if (sp->eval != NULL && !sp->timeout && spf_eval_domain(sp->eval))
		dmarc_eval_set_spf(f->dm,
		    spf_eval_result(sp->eval) == SPF_PASS,
		    spf_eval_domain(sp->eval));
	for (i = 0; i < f->nres; i++)
		if (f->res[i].status == DKIM_PASS && f->res[i].domain != NULL)
			dmarc_eval_add_dkim(f->dm, f->res[i].domain);
	filter_dmarc_step(f);
}

/* ---- spam ------------------------------------------------------------- */

/* [worker] What SPF/DKIM/DMARC found, for the spam symbols. */
static void
filter_spam_env(const struct filter *f, struct spam_env *env)
{
	const struct filter_spf	*sp = &f->spf[FILTER_SPF_MAIL];
	size_t			 i;

	memset(env, 0, sizeof(*env));
	env->helo = f->helo;
	env->peer_ip = f->peer_ip;
	env->our_fqdn = f->authserv;
	/* One score per message (as Rspamd): per-user counts only when
	 * the message has one owner. */
	env->user = f->user;
	if (sp->eval != NULL && sp->timeout)
		env->spf = SPAM_SPF_TEMPERROR;
	else if (sp->eval != NULL)
		switch (spf_eval_result(sp->eval)) {
		case SPF_PASS:
			env->spf = SPAM_SPF_PASS;
			break;
		case SPF_FAIL:
			env->spf = SPAM_SPF_FAIL;
			break;
		case SPF_SOFTFAIL:
			env->spf = SPAM_SPF_SOFTFAIL;
			break;
		case SPF_NEUTRAL:
			env->spf = SPAM_SPF_NEUTRAL;
			break;
		case SPF_TEMPERROR:
			env->spf = SPAM_SPF_TEMPERROR;
			break;
		case SPF_PERMERROR:
			env->spf = SPAM_SPF_PERMERROR;
			break;
		default:
			break;
		}
	for (i = 0; i < f->nres; i++) {
		if (f->res[i].status == DKIM_PASS)
			env->dkim = SPAM_DKIM_ALLOW;
		else if (env->dkim == SPAM_DKIM_ALLOW)
			continue;
		else if (f->res[i].status == DKIM_FAIL)
			env->dkim = SPAM_DKIM_REJECT;
		else if (env->dkim == SPAM_DKIM_REJECT)
			continue;
		else if (f->res[i].status == DKIM_TEMPERROR)
			env->dkim = SPAM_DKIM_TEMPFAIL;
		else if (f->res[i].status == DKIM_PERMERROR)
			env->dkim = SPAM_DKIM_PERMFAIL;
	}
	if (f->dm_timeout)
		env->dmarc = SPAM_DMARC_DNSFAIL;
	else if (f->dm != NULL)
		switch (dmarc_eval_result(f->dm)) {
		case DMARC_R_PASS:
			env->dmarc = SPAM_DMARC_ALLOW;
			break;
		case DMARC_R_FAIL:
			env->dmarc = dmarc_eval_policy(f->dm) ==
			    DMARC_P_REJECT ? SPAM_DMARC_REJECT :
			    dmarc_eval_policy(f->dm) == DMARC_P_QUARANTINE ?
			    SPAM_DMARC_QUARANTINE : SPAM_DMARC_SOFTFAIL;
			break;
		case DMARC_R_TEMPERROR:
			env->dmarc = SPAM_DMARC_DNSFAIL;
			break;
		default:
			break;
		}
}

/*
 * [worker] spam.bayes.autolearn: teach Bayes what the score says without
 * Bayes' help (spam_autolearn), for the global set and the one local
 * account.  Best effort, as the IMAP learning hook: failures are logged.
 */
static void
filter_autolearn(struct filter *f, const char *msg, size_t len)
{
	const char	*e = NULL;
	double		 s;
	int		 cls, rc;

	cls = spam_autolearn(f->gen->conf, f->spam, &s);
	if (cls == 0 || f->spam_idx == NULL)
		return;
	rc = spam_bayes_learn_blocking(f->spam_idx, f->user, msg, len,
	    cls > 0, &e);
	if (rc == -1)
		log_warn("%016" PRIx64 " filter autolearn-%s account=%s "
		    "error=\"%s\"", f->sid, cls > 0 ? "spam" : "ham",
		    f->user != NULL ? f->user : "-", e != NULL ? e : "failed");
	else
		log_info("%016" PRIx64 " filter autolearn-%s account=%s "
		    "score=%.2f result=%s", f->sid, cls > 0 ? "spam" : "ham",
		    f->user != NULL ? f->user : "-", s,
		    rc == 1 ? "learned" : "known");
}

/* [worker] Read the spool, score it, maybe learn it. */
static void
filter_spam_run(void *arg)
{
	struct filter	*f = arg;
	struct spam_env	 env;
	struct buf	 msg = BUF_INIT;
	char		*chunk;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(f->spool, O_RDONLY | O_CLOEXEC)) == -1) {
		free(f->error);
		f->error = xasprintf("spam: open %s: %s", f->spool,
		    strerror(errno));
		return;
	}
	chunk = xmalloc(FILTER_CHUNK);
	for (;;) {
		r = read(fd, chunk, FILTER_CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		buf_append(&msg, chunk, (size_t)r);
	}
	free(chunk);
	close(fd);
	filter_spam_env(f, &env);
	f->spam = spam_check_blocking(f->gen->conf, f->spam_idx, &env,
	    msg.data != NULL ? msg.data : "", msg.len);
	filter_bl_apply(f);
	/* Only a message read whole may teach anything. */
	if (r == 0 && msg.data != NULL)
		filter_autolearn(f, msg.data, msg.len);
	buf_free(&msg);
}

static void
filter_spam_done(void *arg)
{
	struct filter	*f = arg;

	f->job = false;
	if (f->orphan) {
		filter_destroy(f);
		return;
	}
	f->spam_done = true;
	filter_advance(f);
}

int
filter_spam_verdict(const struct filter *f, double *score_r,
    const char **reason_r)
{
	if (f == NULL || f->spam == NULL)
		return -1;
	if (score_r != NULL)
		*score_r = spam_result_score(f->spam);
	if (reason_r != NULL)
		*reason_r = spam_result_reason(f->spam);
	return (int)spam_result_action(f->spam);
}

int
filter_dmarc_verdict(const struct filter *f, const char **domain_r)
{
	if (domain_r != NULL)
		*domain_r = f != NULL ? f->from_domain : NULL;
	if (f == NULL || f->dm == NULL ||
	    dmarc_eval_result(f->dm) != DMARC_R_FAIL)
		return FILTER_DMARC_NONE;
	switch (dmarc_eval_disposition(f->dm)) {
	case DMARC_P_REJECT:
		return FILTER_DMARC_REJECT;
	case DMARC_P_QUARANTINE:
		return FILTER_DMARC_QUARANTINE;
	default:
		return FILTER_DMARC_NONE;
	}
}

/* ---- virus ------------------------------------------------------------ */

/* [worker] Stream the spool to clamd. */
static void
filter_virus_run(void *arg)
{
	struct filter	*f = arg;
	char		*name = NULL, *err = NULL;

	switch (clamd_scan_file(f->gen->conf->virus_scanning.clamd_socket,
	    f->spool, CLAMD_TIMEOUT_MS, &name, &err)) {
	case CLAMD_CLEAN:
		f->virus = FILTER_VIRUS_NONE;
		break;
	case CLAMD_FOUND:
		f->virus = FILTER_VIRUS_FOUND;
		f->virus_text = name;
		name = NULL;
		break;
	default:
		f->virus = FILTER_VIRUS_ERROR;
		f->virus_text = err != NULL ? err : xstrdup("clamd failed");
		err = NULL;
		break;
	}
	free(name);
	free(err);
}

static void
filter_virus_done(void *arg)
{
	struct filter	*f = arg;

	f->job = false;
	if (f->orphan) {
		filter_destroy(f);
		return;
	}
	f->virus_done = true;
	if (f->virus == FILTER_VIRUS_FOUND)
		log_info("%016" PRIx64 " filter virus found=\"%s\"", f->sid,
		    f->virus_text);
	else if (f->virus == FILTER_VIRUS_ERROR)
		log_warn("%016" PRIx64 " filter virus error=\"%s\"", f->sid,
		    f->virus_text);
	else
		log_info("%016" PRIx64 " filter virus clean", f->sid);
	/* Refused anyway: no need to score it. */
	if (f->virus != FILTER_VIRUS_NONE)
		f->spam_done = true;
	filter_advance(f);
}

int
filter_virus_verdict(const struct filter *f, const char **text_r)
{
	if (text_r != NULL)
		*text_r = f != NULL ? f->virus_text : NULL;
	return f != NULL ? f->virus : FILTER_VIRUS_NONE;
}

/* ---- the result ------------------------------------------------------- */

static void
filter_ar_spf(struct buf *b, const struct filter_spf *sp, const char *ptype)
{
	char	*s;

	if (sp->eval == NULL)
		return;
	if (sp->timeout)
		buf_printf(b, ";\r\n\tspf=temperror (DNS timeout) %s=%s", ptype,
		    spf_eval_domain(sp->eval) != NULL ?
		    spf_eval_domain(sp->eval) : "unknown");
	else if ((s = spf_eval_authres(sp->eval)) != NULL) {
		buf_printf(b, ";\r\n\t%s", s);
		free(s);
	}
}

/* RFC 8601 2.2: Authentication-Results: authserv-id; resinfo; ... */
static void
filter_ar(struct filter *f, struct buf *b)
{
	char	*s;
	size_t	 i;

	buf_printf(b, "Authentication-Results: %s", f->authserv);
	filter_ar_spf(b, &f->spf[FILTER_SPF_MAIL], "smtp.mailfrom");
	filter_ar_spf(b, &f->spf[FILTER_SPF_HELO], "smtp.helo");
	if (f->nres == 0)
		buf_puts(b, ";\r\n\tdkim=none");
	for (i = 0; i < f->nres; i++) {
		if (f->res[i].ar != NULL)
			buf_printf(b, ";\r\n\t%s", f->res[i].ar);
		else
			buf_printf(b, ";\r\n\tdkim=%s",
			    dkim_status_name(f->res[i].status));
	}
	if (f->dm_timeout)
		buf_printf(b, ";\r\n\tdmarc=temperror (DNS timeout) "
		    "header.from=%s", f->from_domain);
	else if (f->dm != NULL && (s = dmarc_eval_authres(f->dm)) != NULL) {
		buf_printf(b, ";\r\n\t%s", s);
		free(s);
	} else if (f->from_domain == NULL)
		buf_puts(b, ";\r\n\tdmarc=permerror (no single From domain)");
	buf_puts(b, "\r\n");
}

static void
filter_finish(struct filter *f, struct buf *hdrs)
{
	filter_done_fn	*done = f->done;
	void		*arg = f->arg;
	char		*data;
	size_t		 len = 0;

	if (f->add.len > 0)
		buf_append(hdrs, f->add.data, f->add.len);
	data = buf_steal(hdrs, &len);
	if (f->timer != NULL)
		event_del(f->timer);
	f->done = NULL;
	/* done may free f (the session ends the transaction): last. */
	if (done != NULL)
		done(arg, data != NULL ? data : "", data != NULL ? len : 0);
	free(data);
}

static void
filter_advance(struct filter *f)
{
	struct buf	 b = BUF_INIT;
	size_t		 i;

	if (!f->ended || f->orphan || f->done == NULL || f->job)
		return;
	for (i = 0; i < 2; i++)
		if (!f->spf[i].done)
			return;
	if (!f->dkim_done || f->bl_left > 0)
		return;
	if (!f->dm_started)
		filter_dmarc_start(f);
	if (!f->dm_done || f->done == NULL)
		return;
	if (!f->virus_done) {
		/* clamd INSTREAM, bounded by CLAMD_TIMEOUT_MS: a worker. */
		f->job = true;
		work_submit(filter_virus_run, filter_virus_done, f);
		return;
	}
	if (!f->spam_done) {
		/* Scoring reads the spool and LMDB: a worker. */
		f->spam_idx = spam_store_idx(loop_shared()->store);
		f->job = true;
		work_submit(filter_spam_run, filter_spam_done, f);
		return;
	}
	filter_ar(f, &b);
	if (f->spam != NULL) {
		spam_result_headers(f->spam, &b);
		log_info("%016" PRIx64 " filter spam score=%.2f action=%s "
		    "symbols=%zu", f->sid, spam_result_score(f->spam),
		    spam_action_name(spam_result_action(f->spam)),
		    spam_result_count(f->spam));
	}
	log_info("%016" PRIx64 " filter authres spf=%s dkim=%zu dmarc=%s "
	    "from_domain=%s", f->sid,
	    f->spf[0].eval != NULL && !f->spf[0].timeout ?
	    spf_result_name(spf_eval_result(f->spf[0].eval)) : "none",
	    f->nres, f->dm != NULL ? dmarc_result_name(dmarc_eval_result(f->dm))
	    : "none", f->from_domain != NULL ? f->from_domain : "-");
	filter_finish(f, &b);
}

/* The DNS bound: stop waiting, what is open becomes temperror. */
static void
filter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct filter	*f = arg;
	size_t		 i;

	(void)fd;
	(void)what;
	log_info("%016" PRIx64 " filter dns-timeout ms=%d", f->sid,
	    FILTER_WAIT_MS);
	f->timed_out = true;
	for (i = 0; i < 2; i++) {
		if (f->spf[i].req != NULL) {
			dnsq_cancel(&f->spf[i].req);
			f->spf[i].timeout = true;
			f->spf[i].done = true;
		}
	}
	for (i = 0; i < f->nkeys; i++) {
		if (f->keys[i].req != NULL) {
			dnsq_cancel(&f->keys[i].req);
			f->keys[i].done = true;
			f->keys_left--;
		}
	}
	if (f->dm_req != NULL) {
		dnsq_cancel(&f->dm_req);
		f->dm_timeout = true;
		f->dm_done = true;
	}
	for (i = 0; i < f->nbl; i++) {
		if (f->bl[i].req != NULL) {
			/* A DNSBL timeout is no listing. */
			dnsq_cancel(&f->bl[i].req);
			f->bl_left--;
		}
	}
	if (!f->job && f->nkeys > 0)
		filter_keys_maybe_finish(f);
	filter_advance(f);
}

/* ---- greylisting ----------------------------------------------------- */

/* [worker] Look up and record the triplets. */
static void
filter_grey_run(void *arg)
{
	struct filter	*f = arg;

	f->grey_error = NULL;
	f->grey_rc = f->spam_idx == NULL ? -1 :
	    spam_greylist_blocking(f->spam_idx, f->peer_ip, f->mail_from,
	    (const char *const *)f->grey_rcpts, f->grey_n,
	    (int64_t)time(NULL), f->gen->conf->spam.greylist_delay,
	    &f->grey_error);
}

static void
filter_grey_done(void *arg)
{
	struct filter	*f = arg;
	filter_grey_fn	*done = f->grey_done;
	char		*hdrs;
	size_t		 len = 0;

	f->job = false;
	if (f->orphan) {
		filter_destroy(f);
		return;
	}
	f->grey_done = NULL;
	if (f->grey_rc == -1)
		log_warn("%016" PRIx64 " filter greylist error=\"%s\" "
		    "(accepted)", f->sid, f->grey_error != NULL ?
		    f->grey_error : "no index");
	else
		log_info("%016" PRIx64 " filter greylist client=%s %s",
		    f->sid, f->peer_ip != NULL ? f->peer_ip : "-",
		    f->grey_rc == 1 ? "deferred" : "passed");
	hdrs = buf_steal(&f->grey_hdrs, &len);
	/* done may free f: last. */
	if (done != NULL)
		done(f->grey_arg, f->grey_rc == 1, hdrs != NULL ? hdrs : "",
		    hdrs != NULL ? len : 0);
	free(hdrs);
}

void
filter_greylist(struct filter *f, const char *const *rcpts, size_t n,
    const char *hdrs, size_t len, filter_grey_fn *done, void *arg)
{
	size_t	 i;

	for (i = 0; i < f->grey_n; i++)
		free(f->grey_rcpts[i]);
	free(f->grey_rcpts);
	f->grey_rcpts = xcalloc(n + 1, sizeof(*f->grey_rcpts));
	for (i = 0; i < n; i++)
		f->grey_rcpts[i] = xstrdup(rcpts[i]);
	f->grey_n = n;
	buf_free(&f->grey_hdrs);
	if (len > 0)
		buf_append(&f->grey_hdrs, hdrs, len);
	f->grey_done = done;
	f->grey_arg = arg;
	f->grey_rc = 0;
	if (f->spam_idx == NULL)
		f->spam_idx = spam_store_idx(loop_shared()->store);
	f->job = true;
	work_submit(filter_grey_run, filter_grey_done, f);
}

/* ---- submission ------------------------------------------------------- */

/* [worker] Sign with every selector of the From domain. */
static void
filter_sign_run(void *arg)
{
	struct filter		*f = arg;
	struct dkim_keyring	*kr = f->gen->ext[FILTER_GEN_DKIM];
	const struct conf	*conf = f->gen->conf;
	struct buf		 msg = BUF_INIT;
	const char		*sel, *e;
	EVP_PKEY		*key;
	char			*chunk, *h;
	size_t			 i, n;
	ssize_t			 r;
	int			 fd;

	if ((fd = open(f->spool, O_RDONLY | O_CLOEXEC)) == -1) {
		f->error = xasprintf("open %s: %s", f->spool, strerror(errno));
		return;
	}
	if (f->add.len > 0)
		buf_append(&msg, f->add.data, f->add.len);
	chunk = xmalloc(FILTER_CHUNK);
	for (;;) {
		r = read(fd, chunk, FILTER_CHUNK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		buf_append(&msg, chunk, (size_t)r);
	}
	free(chunk);
	close(fd);
	if (r == -1 || msg.data == NULL) {
		f->error = xasprintf("read %s: %s", f->spool,
		    r == -1 ? strerror(errno) : "empty message");
		buf_free(&msg);
		return;
	}
	f->from_domain = filter_hdr_from_domain(msg.data,
	    filter_hdr_len(msg.data, msg.len));
	n = f->from_domain != NULL ?
	    dkim_keyring_count(kr, f->from_domain) : 0;
	for (i = 0; i < n; i++) {
		if (dkim_keyring_get(kr, f->from_domain, i, &sel, &key) == -1)
			break;
		e = NULL;
		if (dkim_sign(key, f->from_domain, sel,
		    filter_canon(conf->dkim.header_canonicalization),
		    filter_canon(conf->dkim.body_canonicalization), msg.data,
		    msg.len, &h, &e) == -1) {
			free(f->error);
			f->error = xasprintf("dkim sign d=%s s=%s: %s",
			    f->from_domain, sel, e != NULL ? e : "failed");
			continue;
		}
		buf_puts(&f->sig, h);
		free(h);
	}
	buf_free(&msg);
}

static void
filter_sign_done(void *arg)
{
	struct filter	*f = arg;
	struct buf	 b = BUF_INIT;

	f->job = false;
	if (f->orphan) {
		filter_destroy(f);
		return;
	}
	if (f->error != NULL)
		log_warn("%016" PRIx64 " filter error=\"%s\"", f->sid,
		    f->error);
	log_info("%016" PRIx64 " filter dkim-sign from_domain=%s signed=%s",
	    f->sid, f->from_domain != NULL ? f->from_domain : "-",
	    f->sig.len > 0 ? "yes" : "no");
	if (f->sig.len > 0)
		buf_append(&b, f->sig.data, f->sig.len);
	filter_finish(f, &b);
	buf_free(&b);
}

/* ---- end of message --------------------------------------------------- */

void
filter_end(struct filter *f, const char *spool_path, const char *add,
    size_t addlen, filter_done_fn *done, void *arg)
{
	struct timeval	 tv;

	f->ended = true;
	f->spool = xstrdup(spool_path);
	if (addlen > 0)
		buf_append(&f->add, add, addlen);
	f->done = done;
	f->arg = arg;
	f->job = true;
	if (f->mode == FILTER_SUBMISSION) {
		work_submit(filter_sign_run, filter_sign_done, f);
		return;
	}
	tv.tv_sec = FILTER_WAIT_MS / 1000;
	tv.tv_usec = (FILTER_WAIT_MS % 1000) * 1000;
	f->timer = event_new(loop_base(), -1, 0, filter_timeout, f);
	event_add(f->timer, &tv);
	work_submit(filter_scan_run, filter_scan_done, f);
}
