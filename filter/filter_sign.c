/*
 * filter_sign.c - DKIM signatures (RFC 6376) for the mail postern makes
 * or passes on by itself, outside a submission session: delivery status
 * notifications (storage/queue), Sieve vacation replies and rejection
 * reports (filter/lda), and forwarded copies whose From is ours.
 *
 * Which key signs: the RFC5322.From domain decides, as on submission.
 * When the generation's keyring holds selectors for that domain, every
 * one of them signs.  Otherwise, when the From domain is one of our own
 * host names (fqdn, sending_fqdn, srs.domain: MAILER-DAEMON@ of a DSN),
 * the keys of the nearest parent domain in the ring sign, which DMARC's
 * relaxed alignment accepts (RFC 7489 3.1.1).  Any other From is not
 * ours and is left unsigned: we never vouch for someone else's domain.
 * With srs.enable the keyring also holds a key for srs.domain
 * (dkim_keyring.c), so a DSN sent as MAILER-DAEMON@srs.domain is signed
 * by it.
 *
 * Owns nothing.  Threads: [worker] (RSA signing takes milliseconds); the
 * keys are shared read-only (dkim.h), the generation is held by the
 * caller.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conf.h"
#include "dkim.h"
#include "filter.h"
#include "loop.h"
#include "xmalloc.h"

static enum dkim_canon
filter_sign_canon(enum conf_canon c)
{
	/* The enums differ: CONF_CANON_RELAXED == 0 == DKIM_CANON_SIMPLE. */
	return c == CONF_CANON_SIMPLE ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED;
}

static bool
filter_sign_is_host(const struct conf *conf, const char *domain)
{
	if (conf->fqdn != NULL && strcasecmp(conf->fqdn, domain) == 0)
		return true;
	if (conf->sending_fqdn != NULL &&
	    strcasecmp(conf->sending_fqdn, domain) == 0)
		return true;
	return conf->srs.enable && conf->srs.domain != NULL &&
	    strcasecmp(conf->srs.domain, domain) == 0;
}

const char *
filter_sign_domain(struct gen *g, const char *from_domain)
{
	const struct dkim_keyring	*kr = g->ext[FILTER_GEN_DKIM];
	const char			*p;

	if (from_domain == NULL || !g->conf->dkim.enable)
		return NULL;
	if (dkim_keyring_count(kr, from_domain) > 0)
		return from_domain;
	if (!filter_sign_is_host(g->conf, from_domain))
		return NULL;
	/* One of our host names: the closest parent we hold keys for. */
	for (p = strchr(from_domain, '.'); p != NULL; p = strchr(p + 1, '.'))
		if (strchr(p + 1, '.') != NULL &&
		    dkim_keyring_count(kr, p + 1) > 0)
			return p + 1;
	return NULL;
}

int
filter_sign_blocking(struct gen *g, const char *msg, size_t len,
    char **hdrs_r, const char **error_r)
{
	const struct conf	*conf = g->conf;
	struct dkim_keyring	*kr = g->ext[FILTER_GEN_DKIM];
	struct buf		 b = BUF_INIT;
	const char		*d, *sel, *e;
	EVP_PKEY		*key;
	char			*from, *h;
	size_t			 i, n;
	int			 rc = 0;

	*hdrs_r = NULL;
	*error_r = NULL;
	if (!conf->dkim.enable || dkim_keyring_size(kr) == 0)
		return 0;
	from = filter_hdr_from_domain(msg, filter_hdr_len(msg, len));
	if ((d = filter_sign_domain(g, from)) == NULL) {
		free(from);
		return 0;
	}
	n = dkim_keyring_count(kr, d);
	for (i = 0; i < n; i++) {
		if (dkim_keyring_get(kr, d, i, &sel, &key) == -1)
			break;
		e = NULL;
		if (dkim_sign(key, d, sel,
		    filter_sign_canon(conf->dkim.header_canonicalization),
		    filter_sign_canon(conf->dkim.body_canonicalization), msg,
		    len, &h, &e) == -1) {
			*error_r = e != NULL ? e : "dkim sign failed";
			rc = -1;
			continue;
		}
		buf_puts(&b, h);
		free(h);
	}
	free(from);
	if (b.data != NULL)
		*hdrs_r = buf_steal(&b, NULL);
	buf_free(&b);
	return rc;
}

int
filter_sign_prepend_blocking(struct gen *g, char **msg, size_t *len,
    const char **error_r)
{
	char	*h, *m;
	size_t	 hlen;
	int	 rc;

	rc = filter_sign_blocking(g, *msg, *len, &h, error_r);
	if (h == NULL)
		return rc;
	hlen = strlen(h);
	m = xmalloc(hlen + *len + 1);
	memcpy(m, h, hlen);
	memcpy(m + hlen, *msg, *len);
	m[hlen + *len] = '\0';
	free(h);
	free(*msg);
	*msg = m;
	*len += hlen;
	return rc;
}
