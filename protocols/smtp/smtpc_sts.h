/*
 * smtpc_sts.h - MTA-STS (RFC 8461) for outbound delivery: the policy
 * codec and MX matching (pure, [any]), and the lookup of a domain's
 * policy ([loop]): the TXT record _mta-sts.<domain> gives the policy id
 * (RFC 8461 3.1), the policy itself comes from
 * https://mta-sts.<domain>/.well-known/mta-sts.txt over HTTPS with the
 * certificate verified against the system CA store (3.3), and is cached
 * by domain until max_age, refetched when the TXT id changes (5.1).
 *
 * Test knobs (unset in production): POSTERN_MTASTS_TEST_PORT replaces
 * port 443 of the policy host; POSTERN_TLS_TEST_CA names a PEM file of
 * extra trust anchors, added to the system store for the policy fetch
 * and for MX certificates under an enforce policy.
 */
#ifndef SMTPC_STS_H
#define SMTPC_STS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define SMTPC_STS_MX_MAX	16
#define SMTPC_STS_BODY_MAX	(64 * 1024)	/* RFC 8461 3.3 */
#define SMTPC_STS_MAX_AGE	31557600	/* RFC 8461 3.2 */

enum smtpc_sts_mode {
	SMTPC_STS_NONE = 0,
	SMTPC_STS_TESTING,
	SMTPC_STS_ENFORCE
};

struct smtpc_sts_policy {
	enum smtpc_sts_mode	 mode;
	char			*mx[SMTPC_STS_MX_MAX];
	size_t			 nmx;
	uint64_t		 max_age;	/* seconds */
};

/* [any] RFC 8461 3.2 policy text; 0, or -1 with *why_r (static). */
int	 smtpc_sts_parse(const char *body, size_t len,
	    struct smtpc_sts_policy *, const char **why_r);
void	 smtpc_sts_clear(struct smtpc_sts_policy *);
void	 smtpc_sts_copy(struct smtpc_sts_policy *dst,
	    const struct smtpc_sts_policy *src);
/* [any] RFC 8461 4.1: does MX host match a policy "mx" pattern? */
bool	 smtpc_sts_mx_ok(const struct smtpc_sts_policy *, const char *host);
/* [any] RFC 8461 3.1 TXT "v=STSv1; id=..."; 0 and the id, or -1. */
int	 smtpc_sts_txt_id(const char *txt, size_t len, char *id,
	    size_t size);

/* [loop] The policy of domain, or NULL (none, or none to be had). */
struct smtpc_sts_req;
typedef void smtpc_sts_cb(void *arg, const struct smtpc_sts_policy *);
struct smtpc_sts_req *smtpc_sts_lookup(const char *domain, smtpc_sts_cb *,
	    void *arg);
void	 smtpc_sts_cancel(struct smtpc_sts_req **);
/* [loop] A verifying client context (system CAs + the test CA). */
SSL_CTX	*smtpc_sts_verify_ctx(void);
#endif
