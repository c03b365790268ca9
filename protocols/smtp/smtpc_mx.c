/*
 * smtpc_mx.c - MX answer to ordered target hosts (smtpc_mx.h).  Owns the
 * host strings of a struct smtpc_mx.  [any], no I/O.
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "dnsq.h"
#include "smtpc_mx.h"
#include "xmalloc.h"

void
smtpc_mx_clear(struct smtpc_mx *mx)
{
	size_t	 i;

	for (i = 0; i < mx->n; i++)
		free(mx->host[i]);
	mx->n = 0;
}

void
smtpc_mx_set_one(struct smtpc_mx *mx, const char *host)
{
	smtpc_mx_clear(mx);
	mx->host[0] = xstrdup(host);
	mx->n = 1;
}

bool
smtpc_mx_is_ip(const char *s)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	return inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1;
}

static bool
smtpc_mx_null(const char *host)
{
	return host == NULL || host[0] == '\0' || strcmp(host, ".") == 0;
}

int
smtpc_mx_from_answer(struct smtpc_mx *mx, const char *domain,
    const struct dnsq_result *r, const char **why_r)
{
	const struct dnsmsg_rr	*rr[SMTPC_MX_MAX], *t;
	size_t			 i, j, n = 0, len;

	smtpc_mx_clear(mx);
	switch (r->rcode) {
	case DNSQ_OK:
		break;
	case DNSQ_NXDOMAIN:
		*why_r = "5.1.2 recipient domain does not exist (NXDOMAIN)";
		return 550;
	default:
		*why_r = "4.4.3 DNS lookup of the MX records failed";
		return 451;
	}
	/* RFC 5321 5.1: no MX at all: the domain itself, preference 0. */
	if (r->n == 0) {
		smtpc_mx_set_one(mx, domain);
		return 0;
	}
	/* RFC 7505 3: a lone MX "." at preference 0 refuses all mail. */
	for (i = 0; i < r->n; i++)
		if (smtpc_mx_null(r->rr[i].host)) {
			*why_r = "5.1.10 recipient domain accepts no mail "
			    "(null MX, RFC 7505)";
			return 556;
		}
	for (i = 0; i < r->n && n < SMTPC_MX_MAX; i++)
		rr[n++] = &r->rr[i];
	/* Stable insertion sort: lowest preference first (RFC 5321 5.1). */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && rr[j - 1]->pref > rr[j]->pref; j--) {
			t = rr[j];
			rr[j] = rr[j - 1];
			rr[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		mx->host[mx->n] = xstrdup(rr[i]->host);
		len = strlen(mx->host[mx->n]);
		if (len > 1 && mx->host[mx->n][len - 1] == '.')
			mx->host[mx->n][len - 1] = '\0';
		mx->n++;
	}
	return 0;
}
