/*
 * dmarc.h - DMARC (RFC 7489): record parsing, organizational domains from
 * the Public Suffix List, policy discovery as a resumable state machine
 * with no I/O (the caller does the DNS, as for spf.h), identifier
 * alignment, pct sampling and the Authentication-Results fragment.
 * A struct dmarc_psl is read-only after dmarc_psl_load() and may be shared
 * by every thread; a struct dmarc_eval belongs to one thread.  [any]
 */
#ifndef DMARC_H
#define DMARC_H
#include <stdbool.h>
#include <stddef.h>

struct dmarc_psl;		/* the Public Suffix List (opaque) */
struct dmarc_record;		/* one parsed "v=DMARC1" record (opaque) */
struct dmarc_eval;		/* one message's evaluation (opaque) */

enum dmarc_policy {
	DMARC_P_UNSET,		/* tag absent (sp, np) */
	DMARC_P_NONE,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT
};

enum dmarc_result {
	DMARC_R_NONE,		/* no usable policy record */
	DMARC_R_PASS,
	DMARC_R_FAIL,
	DMARC_R_TEMPERROR,
	DMARC_R_PERMERROR	/* no usable RFC5322.From domain */
};

enum dmarc_rcode {
	DMARC_RC_OK,
	DMARC_RC_NXDOMAIN,
	DMARC_RC_SERVFAIL	/* or timeout, refused */
};

#define DMARC_DONE	0
#define DMARC_NEED_DNS	1

/* A TXT query; name valid until the next answer or free. */
struct dmarc_dns_query {
	const char	*name;
};

/*
 * [any] Load a public_suffix_list.dat (Debian: /usr/share/publicsuffix/).
 * Both the ICANN and the private sections are used.  Rules are matched
 * on the octets as written: IDN rules (U-labels) match only U-label
 * input, so A-label (xn--) mail domains fall back to the "*" rule.
 */
int		 dmarc_psl_load(const char *path, struct dmarc_psl **psl_r,
		    const char **error_r);
void		 dmarc_psl_free(struct dmarc_psl **);
size_t		 dmarc_psl_nrules(const struct dmarc_psl *);
/*
 * [any] RFC 7489 3.2: the public suffix plus one label, lower case,
 * malloc'd; the domain itself when it is a public suffix.  psl NULL: the
 * last two labels.
 */
char		*dmarc_psl_org_domain(const struct dmarc_psl *, const char *domain);

/*
 * [any] RFC 7489 6.3, 6.6.3: 0 with *rec_r for a usable record, -1 with a
 * static reason otherwise (the caller then acts as if no record exists).
 * v=DMARC1 must come first; a missing or bad p= (or a bad sp=) is
 * accepted as p=none when a syntactically valid rua= exists; other tags
 * with bad values fall back to their defaults; unknown tags are ignored.
 */
int		 dmarc_record_parse(const char *txt, struct dmarc_record **rec_r,
		    const char **error_r);
bool		 dmarc_record_is_dmarc(const char *txt);
enum dmarc_policy dmarc_record_p(const struct dmarc_record *);
enum dmarc_policy dmarc_record_sp(const struct dmarc_record *);
enum dmarc_policy dmarc_record_np(const struct dmarc_record *);
unsigned	 dmarc_record_pct(const struct dmarc_record *);
bool		 dmarc_record_adkim_strict(const struct dmarc_record *);
bool		 dmarc_record_aspf_strict(const struct dmarc_record *);
const char	*dmarc_record_rua(const struct dmarc_record *);	/* or NULL */
const char	*dmarc_record_ruf(const struct dmarc_record *);
const char	*dmarc_record_fo(const struct dmarc_record *);	/* "0" */
const char	*dmarc_record_rf(const struct dmarc_record *);	/* "afrf" */
unsigned long	 dmarc_record_ri(const struct dmarc_record *);	/* 86400 */
void		 dmarc_record_free(struct dmarc_record **);

const char	*dmarc_policy_name(enum dmarc_policy);	/* "reject", ... */
const char	*dmarc_result_name(enum dmarc_result);

/*
 * [any] Evaluate one message whose RFC5322.From domain is from_domain.
 * psl may be NULL (see dmarc_psl_org_domain); it must outlive the eval.
 */
struct dmarc_eval *dmarc_eval_new(const struct dmarc_psl *psl,
		    const char *from_domain);
/* The SPF verdict and the domain it was for (MAIL FROM, else HELO). */
void		 dmarc_eval_set_spf(struct dmarc_eval *, bool pass,
		    const char *domain);
/* The d= of one DKIM signature that verified; call once per signature. */
void		 dmarc_eval_add_dkim(struct dmarc_eval *, const char *d);
/* For tests: the pct draw, 0..99 (default arc4random_uniform(100)). */
void		 dmarc_eval_set_sample(struct dmarc_eval *, unsigned);
int		 dmarc_eval_step(struct dmarc_eval *, struct dmarc_dns_query *);
/* TXT rdata: character-strings joined without separators. */
void		 dmarc_eval_answer(struct dmarc_eval *, enum dmarc_rcode,
		    const char *const *rrs, size_t n);
enum dmarc_result dmarc_eval_result(const struct dmarc_eval *);
/* The policy that applied (p= or sp=); DMARC_P_UNSET without record. */
enum dmarc_policy dmarc_eval_policy(const struct dmarc_eval *);
/* What to do: none unless fail; pct may lower reject -> quarantine ->
 * none (RFC 7489 6.6.4). */
enum dmarc_policy dmarc_eval_disposition(const struct dmarc_eval *);
bool		 dmarc_eval_spf_aligned(const struct dmarc_eval *);
bool		 dmarc_eval_dkim_aligned(const struct dmarc_eval *);
const char	*dmarc_eval_org_domain(const struct dmarc_eval *);
/* The record in use, or NULL; valid until free. */
const struct dmarc_record *dmarc_eval_record(const struct dmarc_eval *);
const char	*dmarc_eval_problem(const struct dmarc_eval *);
/* "dmarc=pass (p=reject dis=none) header.from=example.com", malloc'd. */
char		*dmarc_eval_authres(const struct dmarc_eval *);
void		 dmarc_eval_free(struct dmarc_eval **);
#endif
