/*
 * smtpc_mx.h - target selection for outbound delivery: the MX answer of
 * a domain turned into an ordered host list (RFC 5321 5.1), with the
 * implicit MX and the null MX of RFC 7505.  Pure: no I/O, so the unit
 * tests feed it fake resolver answers.  [any]
 */
#ifndef SMTPC_MX_H
#define SMTPC_MX_H
#include <stdbool.h>
#include <stddef.h>

struct dnsq_result;

#define SMTPC_MX_MAX	16

struct smtpc_mx {
	char	*host[SMTPC_MX_MAX];
	size_t	 n;
};

/*
 * Fill mx from the answer to "domain MX".  Returns 0, or the reply code
 * every recipient gets (4xx: retry later, 5xx: bounce) with *why_r set
 * (static text with an RFC 3463 status first).
 */
int	 smtpc_mx_from_answer(struct smtpc_mx *, const char *domain,
	    const struct dnsq_result *, const char **why_r);
void	 smtpc_mx_set_one(struct smtpc_mx *, const char *host);
void	 smtpc_mx_clear(struct smtpc_mx *);
bool	 smtpc_mx_is_ip(const char *);
#endif
