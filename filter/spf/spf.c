/*
 * spf.c - check_host() of RFC 7208 (4, 5, 6) as a resumable evaluator
 * with no I/O, plus the Received-SPF (9.1) and Authentication-Results
 * (RFC 8601 2.7.2) renderings of its result.
 *
 * Design: evaluation is a deterministic function of the DNS answers.  We
 * run check_host() synchronously against a per-evaluation answer cache;
 * when it needs an answer the cache does not hold, the run unwinds with
 * "pending" and spf_eval_step() reports that query.  spf_eval_answer()
 * stores the answer and the next step replays the run from the start,
 * now one answer further.  The limits of 4.6.4 (10 DNS-querying terms,
 * 2 void lookups, 10 MX and 10 PTR names) bound one run to about 120
 * queries, so replaying costs a few microseconds per answer and buys a
 * state machine that cannot get its include/redirect stack wrong.
 * Counters are per run, so replays count exactly as one run would.
 *
 * exp= (6.2) is evaluated for "fail" of the top-level record or of a
 * redirect= target, never of an include: target.  %{p} (7.3) does the
 * PTR validation of 5.5 but does not count as a lookup term.
 *
 * Owns the struct spf_eval and its cache.  One thread at a time.  [any]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "str.h"
#include "xmalloc.h"
#include "spf_private.h"

#define SPF_LOOKUP_MAX	10	/* 4.6.4: DNS-querying terms */
#define SPF_VOID_MAX	2	/* 4.6.4: void lookups */
#define SPF_MX_MAX	10	/* 4.6.4: names per "mx" */
#define SPF_PTR_MAX	10	/* 4.6.4: names per "ptr" / %{p} */
#define SPF_DEPTH_MAX	12	/* belt and braces; the lookup limit wins */
#define SPF_CACHE_MAX	256	/* distinct queries per evaluation */
#define SPF_PENDING	(-100)	/* internal: an answer is missing */

struct spf_answer {
	enum spf_qtype	 type;
	char		*name;		/* lower case */
	enum spf_rcode	 rcode;
	char		**rrs;
	size_t		 n;
};

struct spf_eval {
	struct spf_ip	 ip;
	char		*sender;	/* local@domain */
	char		*local;
	char		*domain;	/* identity domain */
	char		*helo;
	char		*receiver;
	int		 helo_identity;
	time_t		 now;

	struct spf_answer *cache;
	size_t		 ncache;

	/* The query asked for by the last run. */
	int		 pending;
	enum spf_qtype	 ptype;
	char		*pname;

	/* Per-run counters (4.6.4). */
	int		 lookups;
	int		 voids;

	/* Result. */
	int		 done;
	enum spf_result	 result;
	char		*explanation;
	char		*mechanism;
	const char	*problem;
};

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:		return "none";
	case SPF_NEUTRAL:	return "neutral";
	case SPF_PASS:		return "pass";
	case SPF_FAIL:		return "fail";
	case SPF_SOFTFAIL:	return "softfail";
	case SPF_TEMPERROR:	return "temperror";
	case SPF_PERMERROR:	return "permerror";
	}
	return "unknown";
}

static int
spf_ip_from_sockaddr(const struct sockaddr *sa, struct spf_ip *ip)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };

	memset(ip, 0, sizeof(*ip));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		memcpy(ip->a, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		/* RFC 7208 5: an IPv4-mapped address is an IPv4 client. */
		if (memcmp(sin6->sin6_addr.s6_addr, mapped, 12) == 0) {
			memcpy(ip->a, sin6->sin6_addr.s6_addr + 12, 4);
			return 0;
		}
		ip->v6 = 1;
		memcpy(ip->a, sin6->sin6_addr.s6_addr, 16);
		return 0;
	}
	return -1;
}

static struct spf_eval *
spf_eval_create(const struct sockaddr *sa, const char *mail_from,
    const char *helo, const char *receiver, int helo_identity)
{
	struct spf_eval	*ev;
	const char	*at;

	ev = xcalloc(1, sizeof(*ev));
	if (spf_ip_from_sockaddr(sa, &ev->ip) == -1) {
		free(ev);
		return NULL;
	}
	ev->helo = xstrdup(helo != NULL ? helo : "");
	ev->receiver = receiver != NULL ? xstrdup(receiver) : NULL;
	ev->helo_identity = helo_identity;
	ev->now = time(NULL);
	if (mail_from == NULL || *mail_from == '\0' || helo_identity) {
		/* 2.3, 2.4: postmaster@helo. */
		ev->local = xstrdup("postmaster");
		ev->domain = xstrdup(ev->helo);
	} else if ((at = strrchr(mail_from, '@')) == NULL) {
		/* 4.3: no "@": the whole thing is taken as the domain. */
		ev->local = xstrdup("postmaster");
		ev->domain = xstrdup(mail_from);
	} else {
		/* 4.3: an empty local-part is "postmaster". */
		ev->local = at == mail_from ? xstrdup("postmaster") :
		    xstrndup(mail_from, (size_t)(at - mail_from));
		ev->domain = xstrdup(at + 1);
	}
	ev->sender = xasprintf("%s@%s", ev->local, ev->domain);
	return ev;
}

struct spf_eval *
spf_eval_new(const struct sockaddr *ip, const char *mail_from,
    const char *helo, const char *receiver_fqdn)
{
	return spf_eval_create(ip, mail_from, helo, receiver_fqdn, 0);
}

struct spf_eval *
spf_eval_new_helo(const struct sockaddr *ip, const char *helo,
    const char *receiver_fqdn)
{
	return spf_eval_create(ip, NULL, helo, receiver_fqdn, 1);
}

/*
 * 4.3: a domain we may query: at most 253 octets, labels of 1..63,
 * at least two labels (an FQDN).  strict (the identity of 4.3): no
 * domain literal and no spaces or controls either; names built by macro
 * expansion may hold any octet (%_ makes spaces, 7.3).
 */
static int
spf_domain_check(const char *d, int strict)
{
	size_t	 len = strlen(d), lab = 0, nlab = 0;
	const char *s;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > SPF_DOMAIN_MAX)
		return 0;
	for (s = d; s < d + len; s++) {
		if (*s == '.') {
			if (lab == 0)
				return 0;
			lab = 0;
			nlab++;
		} else if (++lab > SPF_LABEL_MAX)
			return 0;
		else if (strict && (*s == '[' || *s == ']' ||
		    (unsigned char)*s <= ' '))
			return 0;
	}
	return lab > 0 && nlab >= 1;
}

static int
spf_domain_ok(const char *d)
{
	return spf_domain_check(d, 0);
}

/* Look an answer up; SPF_PENDING (and remember the query) if absent. */
static int
spf_dns(struct spf_eval *ev, enum spf_qtype type, const char *name,
    const struct spf_answer **ans_r)
{
	char	*lname;
	size_t	 i, len;

	lname = xstrdup(name);
	str_lower(lname);
	len = strlen(lname);
	while (len > 0 && lname[len - 1] == '.')
		lname[--len] = '\0';
	for (i = 0; i < ev->ncache; i++) {
		if (ev->cache[i].type == type &&
		    strcmp(ev->cache[i].name, lname) == 0) {
			free(lname);
			*ans_r = &ev->cache[i];
			return 0;
		}
	}
	if (ev->ncache >= SPF_CACHE_MAX) {
		/* Cannot happen within 4.6.4; fail closed as a DNS error. */
		static const struct spf_answer	 fail = { SPF_Q_A, NULL,
						    SPF_RC_SERVFAIL, NULL, 0 };

		free(lname);
		*ans_r = &fail;
		return 0;
	}
	free(ev->pname);
	ev->pname = lname;
	ev->ptype = type;
	ev->pending = 1;
	return SPF_PENDING;
}

/* Parse an A/AAAA rdata string into ip; -1 if it is not one. */
static int
spf_parse_addr(const char *s, int v6, struct spf_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->v6 = v6;
	return inet_pton(v6 ? AF_INET6 : AF_INET, s, ip->a) == 1 ? 0 : -1;
}

static int
spf_cidr_match(const struct spf_ip *a, const struct spf_ip *b, int bits)
{
	int	 full = bits / 8, rest = bits % 8;

	if (a->v6 != b->v6)
		return 0;
	if (memcmp(a->a, b->a, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a->a[full] ^ b->a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* The name in an MX or PTR rdata (last token), trailing dot removed. */
static char *
spf_rr_name(const char *rr)
{
	const char	*s = strrchr(rr, ' ');
	char		*n;
	size_t		 len;

	n = xstrdup(s != NULL ? s + 1 : rr);
	len = strlen(n);
	while (len > 0 && n[len - 1] == '.')
		n[--len] = '\0';
	return n;
}

static char *
spf_reverse_name(const struct spf_ip *ip)
{
	static const char	 hex[] = "0123456789abcdef";
	struct buf		 b;
	int			 i;

	buf_init(&b, 0);
	if (!ip->v6) {
		buf_printf(&b, "%u.%u.%u.%u.in-addr.arpa", ip->a[3], ip->a[2],
		    ip->a[1], ip->a[0]);
	} else {
		for (i = 15; i >= 0; i--)
			buf_printf(&b, "%c.%c.", hex[ip->a[i] & 0xf],
			    hex[ip->a[i] >> 4]);
		buf_puts(&b, "ip6.arpa");
	}
	return buf_steal(&b, NULL);
}

/* True when name is target or one of its subdomains (5.5). */
static int
spf_name_within(const char *name, const char *target)
{
	size_t	 n = strlen(name), t = strlen(target);

	while (t > 0 && target[t - 1] == '.')
		t--;
	while (n > 0 && name[n - 1] == '.')
		n--;
	if (t == 0 || n < t)
		return 0;
	if (strncasecmp(name + n - t, target, t) != 0)
		return 0;
	return n == t || name[n - t - 1] == '.';
}

/* Does name have an A/AAAA record equal to the client address? */
static int
spf_addr_of(struct spf_eval *ev, const char *name, int *match_r,
    enum spf_rcode *rc_r)
{
	const struct spf_answer	*ans;
	struct spf_ip		 a;
	size_t			 i;

	*match_r = 0;
	if (spf_dns(ev, ev->ip.v6 ? SPF_Q_AAAA : SPF_Q_A, name, &ans) ==
	    SPF_PENDING)
		return SPF_PENDING;
	*rc_r = ans->rcode;
	for (i = 0; i < ans->n; i++)
		if (spf_parse_addr(ans->rrs[i], ev->ip.v6, &a) == 0 &&
		    memcmp(a.a, ev->ip.a, ev->ip.v6 ? 16 : 4) == 0)
			*match_r = 1;
	return 0;
}

/*
 * PTR validation (5.5): the names of the client address whose forward
 * lookup contains the address.  With target set, stop at the first
 * validated name within target (*found_r = 1); without, return the first
 * validated name (for %{p}), preferring one within d.  *voided_r tells
 * whether the PTR query itself was void.
 */
static int
spf_ptr_validate(struct spf_eval *ev, const char *target, int *found_r,
    char **name_r, int *voided_r, int *error_r)
{
	const struct spf_answer	*ans;
	enum spf_rcode		 rc;
	char			*rev, *name;
	size_t			 i, n;
	int			 match, pass;

	*found_r = 0;
	*voided_r = 0;
	*error_r = 0;
	if (name_r != NULL)
		*name_r = NULL;
	rev = spf_reverse_name(&ev->ip);
	pass = spf_dns(ev, SPF_Q_PTR, rev, &ans);
	free(rev);
	if (pass == SPF_PENDING)
		return SPF_PENDING;
	if (ans->rcode == SPF_RC_SERVFAIL) {
		*error_r = 1;
		return 0;
	}
	if (ans->rcode == SPF_RC_NXDOMAIN || ans->n == 0) {
		*voided_r = 1;
		return 0;
	}
	n = ans->n < SPF_PTR_MAX ? ans->n : SPF_PTR_MAX;
	/* Pass 0: names within target first (5.5 "SHOULD" ordering). */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			name = spf_rr_name(ans->rrs[i]);
			if ((pass == 0) != (target != NULL &&
			    spf_name_within(name, target))) {
				free(name);
				continue;
			}
			if (!spf_domain_ok(name)) {
				free(name);
				continue;
			}
			if (spf_addr_of(ev, name, &match, &rc) ==
			    SPF_PENDING) {
				free(name);
				return SPF_PENDING;
			}
			if (match) {
				if (name_r != NULL) {
					*name_r = name;
					*found_r = 1;
					return 0;
				}
				if (target != NULL &&
				    spf_name_within(name, target)) {
					*found_r = 1;
					free(name);
					return 0;
				}
			}
			free(name);
		}
		if (name_r == NULL && pass == 0)
			break;		/* other names cannot match target */
	}
	return 0;
}

static int	 spf_check_host(struct spf_eval *, const char *, int, int,
		    char **);

/* Build the macro context of the current domain d; may need %{p}. */
static int
spf_expand(struct spf_eval *ev, const char *spec, const char *d, int flags,
    char **out_r)
{
	struct spf_macro_ctx	 ctx;
	char			*p = NULL, *out;
	const char		*err;
	int			 found, voided, error, rc;
	size_t			 len;

	memset(&ctx, 0, sizeof(ctx));
	if (spf_macro_uses_p(spec)) {
		rc = spf_ptr_validate(ev, d, &found, &p, &voided, &error);
		if (rc == SPF_PENDING)
			return SPF_PENDING;
	}
	ctx.s = ev->sender;
	ctx.l = ev->local;
	ctx.o = ev->domain;
	ctx.d = d;
	ctx.h = ev->helo;
	ctx.r = ev->receiver;
	ctx.p = p;
	ctx.ip = &ev->ip;
	ctx.t = ev->now;
	rc = spf_macro_expand(spec, &ctx, flags, &out, &err);
	free(p);
	if (rc == -1) {
		ev->problem = err;
		return -1;
	}
	if (!(flags & SPF_MACRO_EXP)) {
		/* 7.3: drop left-hand labels until it fits in 253. */
		char	*s = out;

		len = strlen(out);
		while (len > 0 && out[len - 1] == '.')
			out[--len] = '\0';
		while (len > SPF_DOMAIN_MAX && (s = strchr(s, '.')) != NULL) {
			s++;
			len = strlen(s);
		}
		if (s != out) {
			if (s == NULL)
				s = out + strlen(out);
			memmove(out, s, strlen(s) + 1);
		}
	}
	*out_r = out;
	return 0;
}

/* Count one DNS-querying term (4.6.4). */
static int
spf_count_lookup(struct spf_eval *ev)
{
	if (++ev->lookups > SPF_LOOKUP_MAX) {
		ev->problem = "more than 10 DNS-querying terms (RFC 7208 "
		    "4.6.4)";
		return -1;
	}
	return 0;
}

static int
spf_count_void(struct spf_eval *ev)
{
	if (++ev->voids > SPF_VOID_MAX) {
		ev->problem = "more than 2 void lookups (RFC 7208 4.6.4)";
		return -1;
	}
	return 0;
}

/* Does an A/AAAA answer hold an address in the term's CIDR? */
static int
spf_match_addrs(struct spf_eval *ev, const struct spf_answer *ans,
    const struct spf_term *t)
{
	struct spf_ip	 a;
	size_t		 i;

	for (i = 0; i < ans->n; i++)
		if (spf_parse_addr(ans->rrs[i], ev->ip.v6, &a) == 0 &&
		    spf_cidr_match(&a, &ev->ip,
		    ev->ip.v6 ? t->cidr6 : t->cidr4))
			return 1;
	return 0;
}

/*
 * One mechanism (5): 1 match, 0 no match, SPF_PENDING, or a negative
 * error: -SPF_TEMPERROR, -SPF_PERMERROR.
 */
static int
spf_mech(struct spf_eval *ev, const struct spf_term *t, const char *d,
    int depth)
{
	const struct spf_answer	*ans, *ans2;
	enum spf_qtype		 qt = ev->ip.v6 ? SPF_Q_AAAA : SPF_Q_A;
	char			*target = NULL, *mx, *dummy = NULL;
	size_t			 i;
	int			 rc = 0, r, found, voided, error;

	switch (t->mech) {
	case SPF_M_ALL:
		return 1;
	case SPF_M_IP4:
	case SPF_M_IP6:
		if ((t->mech == SPF_M_IP6) != (ev->ip.v6 != 0))
			return 0;
		return spf_cidr_match(&t->net, &ev->ip,
		    ev->ip.v6 ? t->cidr6 : t->cidr4);
	default:
		break;
	}
	if (spf_count_lookup(ev) == -1)
		return -SPF_PERMERROR;
	if (t->domain != NULL) {
		r = spf_expand(ev, t->domain, d, 0, &target);
		if (r == SPF_PENDING)
			return SPF_PENDING;
		if (r == -1)
			return -SPF_PERMERROR;
	} else
		target = xstrdup(d);

	switch (t->mech) {
	case SPF_M_INCLUDE:
		r = spf_check_host(ev, target, depth + 1, 0, &dummy);
		free(dummy);
		switch (r) {
		case SPF_PENDING:
			rc = SPF_PENDING;
			break;
		case SPF_PASS:
			rc = 1;
			break;
		case SPF_FAIL:
		case SPF_SOFTFAIL:
		case SPF_NEUTRAL:
			rc = 0;
			break;
		case SPF_TEMPERROR:
			rc = -SPF_TEMPERROR;
			break;
		default:
			/* 5.2: none and permerror are permerror. */
			if (r == SPF_NONE)
				ev->problem = "include: target has no SPF "
				    "record";
			rc = -SPF_PERMERROR;
			break;
		}
		break;
	case SPF_M_A:
	case SPF_M_EXISTS:
		if (t->mech == SPF_M_EXISTS)
			qt = SPF_Q_A;		/* 5.7: always A */
		if (!spf_domain_ok(target)) {
			/* A name no resolver would take: a void lookup. */
			rc = spf_count_void(ev) == -1 ? -SPF_PERMERROR : 0;
			break;
		}
		if (spf_dns(ev, qt, target, &ans) == SPF_PENDING) {
			rc = SPF_PENDING;
			break;
		}
		if (ans->rcode == SPF_RC_SERVFAIL) {
			ev->problem = "DNS error";
			rc = -SPF_TEMPERROR;
		} else if (ans->rcode == SPF_RC_NXDOMAIN || ans->n == 0)
			rc = spf_count_void(ev) == -1 ? -SPF_PERMERROR : 0;
		else if (t->mech == SPF_M_EXISTS)
			rc = 1;
		else
			rc = spf_match_addrs(ev, ans, t);
		break;
	case SPF_M_MX:
		if (!spf_domain_ok(target)) {
			rc = spf_count_void(ev) == -1 ? -SPF_PERMERROR : 0;
			break;
		}
		if (spf_dns(ev, SPF_Q_MX, target, &ans) == SPF_PENDING) {
			rc = SPF_PENDING;
			break;
		}
		if (ans->rcode == SPF_RC_SERVFAIL) {
			ev->problem = "DNS error";
			rc = -SPF_TEMPERROR;
			break;
		}
		if (ans->rcode == SPF_RC_NXDOMAIN || ans->n == 0) {
			rc = spf_count_void(ev) == -1 ? -SPF_PERMERROR : 0;
			break;
		}
		if (ans->n > SPF_MX_MAX) {
			ev->problem = "more than 10 MX names (RFC 7208 4.6.4)";
			rc = -SPF_PERMERROR;
			break;
		}
		for (i = 0; i < ans->n && rc == 0; i++) {
			mx = spf_rr_name(ans->rrs[i]);
			if (!spf_domain_ok(mx)) {
				free(mx);	/* null MX "." (RFC 7505) */
				continue;
			}
			r = spf_dns(ev, qt, mx, &ans2);
			free(mx);
			if (r == SPF_PENDING)
				rc = SPF_PENDING;
			else if (ans2->rcode == SPF_RC_SERVFAIL) {
				ev->problem = "DNS error";
				rc = -SPF_TEMPERROR;
			} else if (spf_match_addrs(ev, ans2, t))
				rc = 1;
		}
		break;
	case SPF_M_PTR:
		r = spf_ptr_validate(ev, target, &found, NULL, &voided,
		    &error);
		if (r == SPF_PENDING)
			rc = SPF_PENDING;
		else if (voided)
			rc = spf_count_void(ev) == -1 ? -SPF_PERMERROR : 0;
		else
			rc = found;	/* 5.5: DNS errors do not match */
		break;
	default:
		rc = 0;
		break;
	}
	free(target);
	return rc;
}

/* 6.2: the explanation string for a "fail" of domain d; NULL if none. */
static int
spf_explain(struct spf_eval *ev, const char *exp, const char *d)
{
	const struct spf_answer	*ans;
	const char		*saved = ev->problem;
	char			*target, *out;
	int			 r;

	r = spf_expand(ev, exp, d, 0, &target);
	ev->problem = saved;
	if (r == SPF_PENDING)
		return SPF_PENDING;
	if (r == -1)
		return 0;
	if (!spf_domain_ok(target)) {
		free(target);
		return 0;
	}
	r = spf_dns(ev, SPF_Q_TXT, target, &ans);
	free(target);
	if (r == SPF_PENDING)
		return SPF_PENDING;
	if (ans->rcode != SPF_RC_OK || ans->n != 1)
		return 0;
	r = spf_expand(ev, ans->rrs[0], d, SPF_MACRO_EXP, &out);
	ev->problem = saved;
	if (r == SPF_PENDING)
		return SPF_PENDING;
	if (r == 0) {
		free(ev->explanation);
		ev->explanation = out;
	}
	return 0;
}

/*
 * check_host() (4): the result for domain, SPF_PENDING, with the deciding
 * term in *mech_r (malloc'd).  want_exp: evaluate exp= on "fail".
 */
static int
spf_check_host(struct spf_eval *ev, const char *domain, int depth,
    int want_exp, char **mech_r)
{
	const struct spf_answer	*ans;
	struct spf_record	*rec = NULL;
	const char		*txt = NULL, *err;
	char			*target = NULL;
	size_t			 i, nspf = 0;
	int			 r, result;

	if (depth > SPF_DEPTH_MAX) {
		ev->problem = "include/redirect nesting too deep";
		return SPF_PERMERROR;
	}
	/* 4.3: malformed domains give "none" without a query. */
	if (!spf_domain_check(domain, depth == 0)) {
		ev->problem = "malformed domain";
		return SPF_NONE;
	}
	if (spf_dns(ev, SPF_Q_TXT, domain, &ans) == SPF_PENDING)
		return SPF_PENDING;
	if (ans->rcode == SPF_RC_SERVFAIL) {
		ev->problem = "DNS error looking up the SPF record";
		return SPF_TEMPERROR;			/* 4.4 */
	}
	for (i = 0; i < ans->n; i++) {
		if (spf_record_is_spf(ans->rrs[i])) {
			txt = ans->rrs[i];
			nspf++;
		}
	}
	if (nspf == 0) {
		ev->problem = "no SPF record";
		return SPF_NONE;			/* 4.5 */
	}
	if (nspf > 1) {
		ev->problem = "more than one SPF record (RFC 7208 4.5)";
		return SPF_PERMERROR;
	}
	if (spf_record_parse(txt, &rec, &err) == -1) {
		ev->problem = err;
		return SPF_PERMERROR;			/* 4.6 */
	}
	result = SPF_NEUTRAL;				/* 4.7 */
	for (i = 0; i < rec->nterms; i++) {
		r = spf_mech(ev, &rec->terms[i], domain, depth);
		if (r == SPF_PENDING) {
			result = SPF_PENDING;
			goto out;
		}
		if (r < 0) {
			result = -r;
			goto out;
		}
		if (r == 1) {
			result = (int)rec->terms[i].qual;
			free(*mech_r);
			*mech_r = xstrdup(rec->terms[i].text);
			break;
		}
	}
	if (i == rec->nterms && rec->redirect != NULL) {
		/* 6.1: redirect= counts, and "none" becomes permerror. */
		if (spf_count_lookup(ev) == -1) {
			result = SPF_PERMERROR;
			goto out;
		}
		r = spf_expand(ev, rec->redirect, domain, 0, &target);
		if (r == SPF_PENDING || r == -1) {
			result = r == -1 ? SPF_PERMERROR : SPF_PENDING;
			goto out;
		}
		result = spf_check_host(ev, target, depth + 1, want_exp,
		    mech_r);
		if (result == SPF_NONE) {
			ev->problem = "redirect= target has no SPF record";
			result = SPF_PERMERROR;
		}
		goto out;		/* the target's exp= applies */
	}
	if (i == rec->nterms) {
		free(*mech_r);
		*mech_r = xstrdup("default");
	}
	if (result == SPF_FAIL && want_exp && rec->exp != NULL)
		if (spf_explain(ev, rec->exp, domain) == SPF_PENDING)
			result = SPF_PENDING;
out:
	free(target);
	spf_record_free(&rec);
	return result;
}

int
spf_eval_step(struct spf_eval *ev, struct spf_dns_query *q_r)
{
	char	*mech = NULL;
	int	 r;

	if (ev->done)
		return SPF_DONE;
	if (ev->pending) {
		/* Asked again without an answer: ask the same again. */
		q_r->type = ev->ptype;
		q_r->name = ev->pname;
		return SPF_NEED_DNS;
	}
	ev->lookups = ev->voids = 0;
	ev->problem = NULL;
	free(ev->explanation);
	ev->explanation = NULL;
	r = spf_check_host(ev, ev->domain, 0, 1, &mech);
	if (r == SPF_PENDING) {
		free(mech);
		q_r->type = ev->ptype;
		q_r->name = ev->pname;
		return SPF_NEED_DNS;
	}
	ev->result = (enum spf_result)r;
	ev->mechanism = mech;
	if (r == SPF_PASS || r == SPF_FAIL || r == SPF_SOFTFAIL ||
	    r == SPF_NEUTRAL)
		ev->problem = NULL;
	if (r != SPF_FAIL) {
		free(ev->explanation);
		ev->explanation = NULL;
	}
	ev->done = 1;
	return SPF_DONE;
}

void
spf_eval_answer(struct spf_eval *ev, enum spf_rcode rcode,
    const char *const *rrs, size_t n)
{
	struct spf_answer	*a;
	size_t			 i;

	if (!ev->pending)
		return;
	ev->cache = xreallocarray(ev->cache, ev->ncache + 1,
	    sizeof(*ev->cache));
	a = &ev->cache[ev->ncache++];
	a->type = ev->ptype;
	a->name = ev->pname;
	ev->pname = NULL;
	ev->pending = 0;
	a->rcode = rcode;
	a->n = rcode == SPF_RC_OK ? n : 0;
	a->rrs = xcalloc(a->n + 1, sizeof(*a->rrs));
	for (i = 0; i < a->n; i++)
		a->rrs[i] = xstrdup(rrs[i] != NULL ? rrs[i] : "");
}

enum spf_result
spf_eval_result(const struct spf_eval *ev)
{
	return ev->result;
}

const char *
spf_eval_explanation(const struct spf_eval *ev)
{
	return ev->explanation;
}

const char *
spf_eval_mechanism(const struct spf_eval *ev)
{
	return ev->mechanism;
}

const char *
spf_eval_problem(const struct spf_eval *ev)
{
	return ev->problem;
}

const char *
spf_eval_domain(const struct spf_eval *ev)
{
	return ev->domain;
}

size_t
spf_eval_queries(const struct spf_eval *ev)
{
	return ev->ncache;
}

/* A value safe inside a header: printable ASCII without ";()\"". */
static void
spf_header_value(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		buf_putc(b, (c > ' ' && c < 0x7f && strchr(";()\"\\", c) ==
		    NULL) ? (char)c : '_');
	}
}

char *
spf_eval_authres(const struct spf_eval *ev)
{
	struct buf	 b;

	buf_init(&b, 0);
	buf_printf(&b, "spf=%s %s=", spf_result_name(ev->result),
	    ev->helo_identity ? "smtp.helo" : "smtp.mailfrom");
	spf_header_value(&b, ev->domain);
	return buf_steal(&b, NULL);
}

char *
spf_eval_received(const struct spf_eval *ev)
{
	struct buf	 b;
	char		 ip[INET6_ADDRSTRLEN];
	const char	*recv = ev->receiver != NULL ? ev->receiver : "unknown";

	inet_ntop(ev->ip.v6 ? AF_INET6 : AF_INET, ev->ip.a, ip, sizeof(ip));
	buf_init(&b, 0);
	buf_printf(&b, "%s (", spf_result_name(ev->result));
	spf_header_value(&b, recv);
	buf_puts(&b, ": ");
	switch (ev->result) {
	case SPF_PASS:
		buf_printf(&b, "domain of %s designates %s as permitted "
		    "sender", ev->domain, ip);
		break;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
		buf_printf(&b, "domain of %s does not designate %s as "
		    "permitted sender", ev->domain, ip);
		break;
	case SPF_NEUTRAL:
	case SPF_NONE:
		buf_printf(&b, "%s is neither permitted nor denied by domain "
		    "of %s", ip, ev->domain);
		break;
	default:
		buf_printf(&b, "error in processing during lookup of %s",
		    ev->domain);
		break;
	}
	buf_printf(&b, ") client-ip=%s; envelope-from=\"", ip);
	spf_header_value(&b, ev->helo_identity ? "" : ev->sender);
	buf_puts(&b, "\"; helo=");
	spf_header_value(&b, ev->helo[0] != '\0' ? ev->helo : "unknown");
	buf_puts(&b, "; receiver=");
	spf_header_value(&b, recv);
	buf_printf(&b, "; identity=%s", ev->helo_identity ? "helo" :
	    "mailfrom");
	if (ev->mechanism != NULL) {
		buf_puts(&b, "; mechanism=\"");
		spf_header_value(&b, ev->mechanism);
		buf_puts(&b, "\"");
	}
	if (ev->problem != NULL) {
		buf_puts(&b, "; problem=\"");
		spf_header_value(&b, ev->problem);
		buf_puts(&b, "\"");
	}
	return buf_steal(&b, NULL);
}

void
spf_eval_free(struct spf_eval **evp)
{
	struct spf_eval	*ev = *evp;
	size_t		 i, j;

	if (ev == NULL)
		return;
	for (i = 0; i < ev->ncache; i++) {
		for (j = 0; j < ev->cache[i].n; j++)
			free(ev->cache[i].rrs[j]);
		free(ev->cache[i].rrs);
		free(ev->cache[i].name);
	}
	free(ev->cache);
	free(ev->pname);
	free(ev->sender);
	free(ev->local);
	free(ev->domain);
	free(ev->helo);
	free(ev->receiver);
	free(ev->explanation);
	free(ev->mechanism);
	free(ev);
	*evp = NULL;
}
