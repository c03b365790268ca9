/*
 * spf.h - Sender Policy Framework (RFC 7208) evaluation without I/O.
 *
 * The evaluator is a resumable state machine: the caller (the filter
 * pipeline, on the loop thread, with evdns) asks spf_eval_step() what to
 * do next, performs the DNS query it names, and hands the answer back with
 * spf_eval_answer(); it repeats until SPF_DONE.  Nothing here blocks,
 * reads a socket or looks at a clock other than time(3) for %{t}.
 * One struct spf_eval belongs to one thread at a time.  [any]
 */
#ifndef SPF_H
#define SPF_H
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>

struct spf_eval;		/* one check_host() evaluation (opaque) */
struct spf_record;		/* one parsed "v=spf1" record (opaque) */

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR
};

enum spf_qtype {
	SPF_Q_TXT,
	SPF_Q_A,
	SPF_Q_AAAA,
	SPF_Q_MX,
	SPF_Q_PTR
};

/* What the resolver said: a NOERROR answer (maybe empty), NXDOMAIN, or
 * anything else (SERVFAIL, REFUSED, timeout), which RFC 7208 2.6.6 maps to
 * temperror where it matters. */
enum spf_rcode {
	SPF_RC_OK,
	SPF_RC_NXDOMAIN,
	SPF_RC_SERVFAIL
};

struct spf_dns_query {
	enum spf_qtype	 type;
	const char	*name;		/* no trailing dot; valid until the next
					   spf_eval_answer() or spf_eval_free() */
};

#define SPF_DONE	0
#define SPF_NEED_DNS	1

/*
 * [any] Start the MAIL FROM check (RFC 7208 2.4).  ip is AF_INET or
 * AF_INET6 (an IPv4-mapped IPv6 address is evaluated as IPv4); mail_from
 * is the reverse-path without brackets, "" for the null sender (then the
 * identity is postmaster@helo, 2.4); receiver_fqdn feeds %{r} (NULL:
 * "unknown").  Returns NULL only for an address family other than these.
 */
struct spf_eval	*spf_eval_new(const struct sockaddr *ip, const char *mail_from,
		    const char *helo, const char *receiver_fqdn);
/* [any] Start the HELO identity check (RFC 7208 2.3). */
struct spf_eval	*spf_eval_new_helo(const struct sockaddr *ip, const char *helo,
		    const char *receiver_fqdn);
/* [any] Advance: SPF_NEED_DNS with *q_r filled in, or SPF_DONE. */
int		 spf_eval_step(struct spf_eval *, struct spf_dns_query *q_r);
/*
 * [any] Answer the query last returned by spf_eval_step().  rrs are
 * presentation-form rdata strings: TXT as the record's character-strings
 * joined without separators (RFC 7208 3.3), A/AAAA as addresses, MX as
 * "pref name" (or just "name"), PTR as a name.  Unparseable rdata is
 * ignored.  A TXT string cannot carry a NUL octet: the DNS glue must
 * replace one with 0x01 (any control octet), which makes an SPF record a
 * permerror as RFC 7208 3.1 wants.
 */
void		 spf_eval_answer(struct spf_eval *, enum spf_rcode,
		    const char *const *rrs, size_t n);
/* [any] Results, valid after SPF_DONE until spf_eval_free(). */
enum spf_result	 spf_eval_result(const struct spf_eval *);
/* The expanded exp= text (RFC 7208 6.2) for "fail", else NULL. */
const char	*spf_eval_explanation(const struct spf_eval *);
/* The term that decided ("-all", "include:x"), "default" or NULL. */
const char	*spf_eval_mechanism(const struct spf_eval *);
/* Why permerror/temperror/none happened, for logs; else NULL. */
const char	*spf_eval_problem(const struct spf_eval *);
/* The identity's domain, as used for smtp.mailfrom / smtp.helo. */
const char	*spf_eval_domain(const struct spf_eval *);
/* Number of DNS queries answered so far (diagnostics, tests). */
size_t		 spf_eval_queries(const struct spf_eval *);
void		 spf_eval_free(struct spf_eval **);

const char	*spf_result_name(enum spf_result);	/* "pass", ... */
/* [any] "spf=pass smtp.mailfrom=example.com" (RFC 8601 2.7.2), malloc'd. */
char		*spf_eval_authres(const struct spf_eval *);
/* [any] Received-SPF field body (RFC 7208 9.1) without the name, malloc'd. */
char		*spf_eval_received(const struct spf_eval *);

/*
 * [any] Record syntax (RFC 7208 4.5, 4.6, 12): true when txt starts with
 * "v=spf1" followed by a space or its end.  spf_record_parse() returns -1
 * with a static reason on any syntax error (permerror, 4.6).
 */
bool		 spf_record_is_spf(const char *txt);
int		 spf_record_parse(const char *txt, struct spf_record **rec_r,
		    const char **error_r);
size_t		 spf_record_nterms(const struct spf_record *);
void		 spf_record_free(struct spf_record **);
#endif
