/*
 * spf_private.h - record layout and macro expansion, shared by the files
 * of filter/spf/ only.  [any]
 */
#ifndef SPF_PRIVATE_H
#define SPF_PRIVATE_H
#include <stdint.h>
#include <time.h>
#include "spf.h"

#define SPF_DOMAIN_MAX	253		/* RFC 7208 4.3, 7.3 */
#define SPF_LABEL_MAX	63

enum spf_mech {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS
};

struct spf_ip {
	int		 v6;		/* 0: IPv4 in a[0..3] */
	uint8_t		 a[16];
};

struct spf_term {
	enum spf_mech	 mech;
	enum spf_result	 qual;		/* PASS FAIL SOFTFAIL NEUTRAL */
	char		*domain;	/* unexpanded domain-spec, or NULL */
	int		 cidr4;		/* prefix length; 32 when absent */
	int		 cidr6;		/* 128 when absent */
	struct spf_ip	 net;		/* ip4:/ip6: */
	char		*text;		/* the term as written */
};

struct spf_record {
	struct spf_term	*terms;
	size_t		 nterms;
	char		*redirect;	/* unexpanded domain-spec or NULL */
	char		*exp;
};

/* Values for the macros of RFC 7208 7.3. */
struct spf_macro_ctx {
	const char	*s;		/* <sender> */
	const char	*l;		/* local-part */
	const char	*o;		/* domain of <sender> */
	const char	*d;		/* current <domain> */
	const char	*h;		/* HELO/EHLO domain */
	const char	*r;		/* receiver, "unknown" */
	const char	*p;		/* validated name, computed by caller */
	const struct spf_ip *ip;
	time_t		 t;
};

#define SPF_MACRO_EXP	0x1	/* explain-string: c r t and SP allowed */
#define SPF_MACRO_OUT_MAX 4096	/* bound on one expansion */

/*
 * Expand macro-string in (RFC 7208 7.1).  ctx NULL only checks the
 * syntax.  Returns -1 with a static reason on a syntax error (permerror).
 */
int	 spf_macro_expand(const char *in, const struct spf_macro_ctx *ctx,
	    int flags, char **out_r, const char **error_r);
/* True when in contains a %{p} macro (which needs PTR lookups). */
bool	 spf_macro_uses_p(const char *in);
/* Dotted nibbles (%{i} for IPv6) or dotted quad into buf (>= 64). */
void	 spf_macro_ip_dotted(const struct spf_ip *, char *buf, size_t size);
#endif
