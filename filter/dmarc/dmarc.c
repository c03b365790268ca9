/*
 * dmarc.c - DMARC evaluation of one message (RFC 7489 3.1, 6.6): policy
 * discovery as a small resumable state machine (TXT _dmarc.<From domain>,
 * then _dmarc.<organizational domain>, 6.6.3), identifier alignment of
 * the SPF-authenticated domain and of verified DKIM d= domains (3.1.1,
 * 3.1.2), the sp= subdomain policy, pct sampling (6.6.4) and the
 * Authentication-Results fragment (RFC 7489 11.2, RFC 8601).
 *
 * np= (RFC 9091) is parsed but not applied: deciding that the From
 * domain does not exist needs extra A/AAAA/MX queries; sp/p apply.
 * Owns the struct dmarc_eval; borrows the PSL.  One thread.  [any]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "str.h"
#include "xmalloc.h"
#include "dmarc.h"

#define DMARC_DKIM_MAX	16	/* verified signatures we look at */

enum dmarc_state {
	DMARC_S_START,
	DMARC_S_FROM,		/* waiting for _dmarc.<from> */
	DMARC_S_ORG,		/* waiting for _dmarc.<org> */
	DMARC_S_DONE
};

struct dmarc_eval {
	const struct dmarc_psl	*psl;
	enum dmarc_state	 state;
	char			*from;		/* lower case, no trailing dot */
	char			*org;
	char			*qname;
	bool			 spf_pass;
	char			*spf_domain;
	char			*dkim[DMARC_DKIM_MAX];
	size_t			 ndkim;
	int			 sample;	/* -1: draw */

	struct dmarc_record	*rec;
	bool			 rec_at_org;
	enum dmarc_result	 result;
	enum dmarc_policy	 policy;
	enum dmarc_policy	 disposition;
	bool			 spf_aligned, dkim_aligned;
	const char		*problem;
};

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_UNSET:		return "unset";
	case DMARC_P_NONE:		return "none";
	case DMARC_P_QUARANTINE:	return "quarantine";
	case DMARC_P_REJECT:		return "reject";
	}
	return "unknown";
}

const char *
dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_R_NONE:	return "none";
	case DMARC_R_PASS:	return "pass";
	case DMARC_R_FAIL:	return "fail";
	case DMARC_R_TEMPERROR:	return "temperror";
	case DMARC_R_PERMERROR:	return "permerror";
	}
	return "unknown";
}

static char *
dmarc_norm(const char *d)
{
	char	*s = xstrdup(d != NULL ? d : "");
	size_t	 len = strlen(s);

	while (len > 0 && s[len - 1] == '.')
		s[--len] = '\0';
	str_lower(s);
	return s;
}

struct dmarc_eval *
dmarc_eval_new(const struct dmarc_psl *psl, const char *from_domain)
{
	struct dmarc_eval	*ev = xcalloc(1, sizeof(*ev));

	ev->psl = psl;
	ev->from = dmarc_norm(from_domain);
	ev->org = dmarc_psl_org_domain(psl, ev->from);
	ev->sample = -1;
	ev->policy = ev->disposition = DMARC_P_UNSET;
	return ev;
}

void
dmarc_eval_set_spf(struct dmarc_eval *ev, bool pass, const char *domain)
{
	ev->spf_pass = pass;
	free(ev->spf_domain);
	ev->spf_domain = dmarc_norm(domain);
}

void
dmarc_eval_add_dkim(struct dmarc_eval *ev, const char *d)
{
	if (ev->ndkim < DMARC_DKIM_MAX)
		ev->dkim[ev->ndkim++] = dmarc_norm(d);
}

void
dmarc_eval_set_sample(struct dmarc_eval *ev, unsigned v)
{
	ev->sample = (int)(v % 100);
}

/* 3.1.1, 3.1.2: strict is equality, relaxed is the same org domain. */
static bool
dmarc_aligned(const struct dmarc_eval *ev, const char *d, bool strict)
{
	char	*org;
	bool	 ok;

	if (d == NULL || *d == '\0')
		return false;
	if (strcmp(d, ev->from) == 0)
		return true;
	if (strict)
		return false;
	org = dmarc_psl_org_domain(ev->psl, d);
	ok = strcmp(org, ev->org) == 0;
	free(org);
	return ok;
}

static enum dmarc_policy
dmarc_lower(enum dmarc_policy p)
{
	if (p == DMARC_P_REJECT)
		return DMARC_P_QUARANTINE;
	return DMARC_P_NONE;
}

static void
dmarc_finish(struct dmarc_eval *ev)
{
	const struct dmarc_record	*r = ev->rec;
	size_t				 i;
	unsigned			 draw;

	ev->state = DMARC_S_DONE;
	if (r == NULL)
		return;
	ev->policy = dmarc_record_p(r);
	if (ev->rec_at_org && strcmp(ev->from, ev->org) != 0 &&
	    dmarc_record_sp(r) != DMARC_P_UNSET)
		ev->policy = dmarc_record_sp(r);		/* 6.3 sp */
	ev->spf_aligned = ev->spf_pass && dmarc_aligned(ev, ev->spf_domain,
	    dmarc_record_aspf_strict(r));
	for (i = 0; i < ev->ndkim && !ev->dkim_aligned; i++)
		ev->dkim_aligned = dmarc_aligned(ev, ev->dkim[i],
		    dmarc_record_adkim_strict(r));
	if (ev->spf_aligned || ev->dkim_aligned) {
		ev->result = DMARC_R_PASS;
		ev->disposition = DMARC_P_NONE;
		return;
	}
	ev->result = DMARC_R_FAIL;
	ev->disposition = ev->policy;
	if (dmarc_record_pct(r) < 100 && ev->policy != DMARC_P_NONE) {
		draw = ev->sample >= 0 ? (unsigned)ev->sample :
		    arc4random_uniform(100);
		if (draw >= dmarc_record_pct(r))
			ev->disposition = dmarc_lower(ev->policy);
	}
}

/* Valid enough to look up: at least two non-empty labels, <= 253. */
static bool
dmarc_domain_ok(const char *d)
{
	size_t	 len = strlen(d);

	return len > 0 && len <= 253 && strchr(d, '.') != NULL &&
	    strstr(d, "..") == NULL && d[0] != '.' &&
	    strspn(d, "abcdefghijklmnopqrstuvwxyz0123456789-._") == len;
}

int
dmarc_eval_step(struct dmarc_eval *ev, struct dmarc_dns_query *q_r)
{
	switch (ev->state) {
	case DMARC_S_START:
		if (!dmarc_domain_ok(ev->from)) {
			ev->problem = "no usable RFC5322.From domain";
			ev->result = DMARC_R_PERMERROR;
			ev->state = DMARC_S_DONE;
			return DMARC_DONE;
		}
		free(ev->qname);
		ev->qname = xasprintf("_dmarc.%s", ev->from);
		ev->state = DMARC_S_FROM;
		break;
	case DMARC_S_FROM:
	case DMARC_S_ORG:
		break;
	case DMARC_S_DONE:
		return DMARC_DONE;
	}
	q_r->name = ev->qname;
	return DMARC_NEED_DNS;
}

void
dmarc_eval_answer(struct dmarc_eval *ev, enum dmarc_rcode rcode,
    const char *const *rrs, size_t n)
{
	struct dmarc_record	*rec = NULL;
	const char		*txt = NULL, *err = NULL;
	size_t			 i, ndmarc = 0;

	if (ev->state != DMARC_S_FROM && ev->state != DMARC_S_ORG)
		return;
	if (rcode == DMARC_RC_SERVFAIL) {
		/* 6.6.3 gives no rule; we do not guess: temperror. */
		ev->problem = "DNS error looking up the DMARC record";
		ev->result = DMARC_R_TEMPERROR;
		ev->state = DMARC_S_DONE;
		return;
	}
	if (rcode == DMARC_RC_OK)
		for (i = 0; i < n; i++)
			if (rrs[i] != NULL && dmarc_record_is_dmarc(rrs[i])) {
				txt = rrs[i];
				ndmarc++;
			}
	if (ndmarc > 1) {
		/* 6.6.3 step 5: multiple records, no DMARC processing. */
		ev->problem = "more than one DMARC record";
		dmarc_finish(ev);
		return;
	}
	if (ndmarc == 1) {
		if (dmarc_record_parse(txt, &rec, &err) == -1) {
			/* 6.6.3 step 6: apply no DMARC processing. */
			ev->problem = err;
			dmarc_finish(ev);
			return;
		}
		ev->rec = rec;
		ev->rec_at_org = ev->state == DMARC_S_ORG;
		dmarc_finish(ev);
		return;
	}
	/* 6.6.3 step 3: nothing at the From domain: try the org domain. */
	if (ev->state == DMARC_S_FROM && strcmp(ev->from, ev->org) != 0) {
		free(ev->qname);
		ev->qname = xasprintf("_dmarc.%s", ev->org);
		ev->state = DMARC_S_ORG;
		return;
	}
	ev->problem = "no DMARC record";
	dmarc_finish(ev);
}

enum dmarc_result
dmarc_eval_result(const struct dmarc_eval *ev)
{
	return ev->result;
}

enum dmarc_policy
dmarc_eval_policy(const struct dmarc_eval *ev)
{
	return ev->policy;
}

enum dmarc_policy
dmarc_eval_disposition(const struct dmarc_eval *ev)
{
	return ev->disposition;
}

bool
dmarc_eval_spf_aligned(const struct dmarc_eval *ev)
{
	return ev->spf_aligned;
}

bool
dmarc_eval_dkim_aligned(const struct dmarc_eval *ev)
{
	return ev->dkim_aligned;
}

const char *
dmarc_eval_org_domain(const struct dmarc_eval *ev)
{
	return ev->org;
}

const struct dmarc_record *
dmarc_eval_record(const struct dmarc_eval *ev)
{
	return ev->rec;
}

const char *
dmarc_eval_problem(const struct dmarc_eval *ev)
{
	return ev->problem;
}

char *
dmarc_eval_authres(const struct dmarc_eval *ev)
{
	struct buf	 b;
	const char	*s;

	buf_init(&b, 0);
	buf_printf(&b, "dmarc=%s", dmarc_result_name(ev->result));
	if (ev->rec != NULL)
		buf_printf(&b, " (p=%s dis=%s)", dmarc_policy_name(ev->policy),
		    dmarc_policy_name(ev->disposition));
	buf_puts(&b, " header.from=");
	/* Only a checked domain reaches here, but stay header-safe. */
	for (s = ev->from; *s != '\0'; s++)
		buf_putc(&b, (*s > ' ' && *s < 0x7f && *s != ';' && *s != '(' &&
		    *s != ')') ? *s : '_');
	return buf_steal(&b, NULL);
}

void
dmarc_eval_free(struct dmarc_eval **evp)
{
	struct dmarc_eval	*ev = *evp;
	size_t			 i;

	if (ev == NULL)
		return;
	for (i = 0; i < ev->ndkim; i++)
		free(ev->dkim[i]);
	dmarc_record_free(&ev->rec);
	free(ev->from);
	free(ev->org);
	free(ev->qname);
	free(ev->spf_domain);
	free(ev);
	*evp = NULL;
}
