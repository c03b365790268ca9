/*
 * smtpc_sts.c - MTA-STS (RFC 8461, smtpc_sts.h): policy codec, MX
 * matching, and the lookup (TXT through dnsq, then the policy over
 * HTTPS/1.0 on a verifying bufferevent_openssl).  Owns the policy cache
 * (by domain: id, policy, expiry) and each request's DNS query and
 * connection.  Codec [any]; the rest loop thread only.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dnsq.h"
#include "log.h"
#include "loop.h"
#include "smtpc_sts.h"
#include "str.h"
#include "xmalloc.h"

#define SMTPC_STS_CACHE_MAX	256
#define SMTPC_STS_ID_MAX	32		/* RFC 8461 3.1: 1*32 */
#define SMTPC_STS_TIMEOUT	30		/* seconds */

/* ---- codec ---------------------------------------------------------------- */

void
smtpc_sts_clear(struct smtpc_sts_policy *p)
{
	size_t	 i;

	for (i = 0; i < p->nmx; i++)
		free(p->mx[i]);
	memset(p, 0, sizeof(*p));
}

void
smtpc_sts_copy(struct smtpc_sts_policy *dst,
    const struct smtpc_sts_policy *src)
{
	size_t	 i;

	memset(dst, 0, sizeof(*dst));
	dst->mode = src->mode;
	dst->max_age = src->max_age;
	for (i = 0; i < src->nmx; i++)
		dst->mx[i] = xstrdup(src->mx[i]);
	dst->nmx = src->nmx;
}

static char *
smtpc_sts_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int
smtpc_sts_parse(const char *body, size_t len, struct smtpc_sts_policy *p,
    const char **why_r)
{
	char		*copy, *cur, *line, *key, *val;
	uint64_t	 v;
	bool		 version = false, mode = false, age = false;

	memset(p, 0, sizeof(*p));
	if (len > SMTPC_STS_BODY_MAX || memchr(body, '\0', len) != NULL) {
		*why_r = "policy too long or has NUL";
		return -1;
	}
	copy = xmalloc(len + 1);
	memcpy(copy, body, len);
	copy[len] = '\0';
	cur = copy;
	/* RFC 8461 3.2: "key: value" lines, CRLF or LF; unknown keys skipped. */
	while ((line = strsep(&cur, "\n")) != NULL) {
		if ((val = strchr(line, ':')) == NULL)
			continue;
		*val++ = '\0';
		key = smtpc_sts_trim(line);
		val = smtpc_sts_trim(val);
		if (strcmp(key, "version") == 0) {
			if (strcmp(val, "STSv1") != 0)
				goto bad;
			version = true;
		} else if (strcmp(key, "mode") == 0) {
			if (strcmp(val, "enforce") == 0)
				p->mode = SMTPC_STS_ENFORCE;
			else if (strcmp(val, "testing") == 0)
				p->mode = SMTPC_STS_TESTING;
			else if (strcmp(val, "none") == 0)
				p->mode = SMTPC_STS_NONE;
			else
				goto bad;
			mode = true;
		} else if (strcmp(key, "max_age") == 0) {
			if (str_to_u64(val, SMTPC_STS_MAX_AGE, &v) == -1)
				goto bad;
			p->max_age = v;
			age = true;
		} else if (strcmp(key, "mx") == 0) {
			if (*val == '\0' || p->nmx >= SMTPC_STS_MX_MAX)
				continue;
			p->mx[p->nmx] = xstrdup(val);
			str_lower(p->mx[p->nmx++]);
		}
	}
	free(copy);
	if (!version || !mode || !age || (p->mode != SMTPC_STS_NONE &&
	    p->nmx == 0)) {
		*why_r = "policy lacks version, mode, max_age or mx";
		smtpc_sts_clear(p);
		return -1;
	}
	return 0;
bad:
	free(copy);
	smtpc_sts_clear(p);
	*why_r = "policy has a bad version, mode or max_age";
	return -1;
}

bool
smtpc_sts_mx_ok(const struct smtpc_sts_policy *p, const char *host)
{
	char		 h[256];
	const char	*pat, *dot;
	size_t		 i, n, plen;

	n = strlen(host);
	if (n == 0 || n >= sizeof(h))
		return false;
	memcpy(h, host, n + 1);
	if (h[n - 1] == '.')
		h[--n] = '\0';
	str_lower(h);
	for (i = 0; i < p->nmx; i++) {
		pat = p->mx[i];
		/* RFC 8461 4.1: "*." matches exactly one leftmost label. */
		if (pat[0] == '*' && pat[1] == '.') {
			plen = strlen(pat + 1);
			if (n <= plen || strcmp(h + n - plen, pat + 1) != 0)
				continue;
			dot = strchr(h, '.');
			if (dot == h + n - plen && dot != h)
				return true;
		} else if (strcmp(h, pat) == 0)
			return true;
	}
	return false;
}

int
smtpc_sts_txt_id(const char *txt, size_t len, char *id, size_t size)
{
	char	*copy = xmalloc(len + 1), *cur, *f, *t;
	int	 rc = -1;
	bool	 first = true;

	memcpy(copy, txt, len);
	copy[len] = '\0';
	cur = copy;
	/* RFC 8461 3.1: "v=STSv1" first, then "id=" 1*32 alnum. */
	while ((f = strsep(&cur, ";")) != NULL) {
		t = smtpc_sts_trim(f);
		if (first) {
			if (strcmp(t, "v=STSv1") != 0)
				break;
			first = false;
			continue;
		}
		if (strncmp(t, "id=", 3) != 0)
			continue;
		t += 3;
		if (*t == '\0' || strlen(t) > SMTPC_STS_ID_MAX ||
		    strlen(t) >= size || strspn(t, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(t))
			break;
		snprintf(id, size, "%s", t);
		rc = 0;
		break;
	}
	free(copy);
	return rc;
}

/* ---- cache ------------------------------------------------------------------ */

struct smtpc_sts_entry {
	char			*domain;
	char			 id[SMTPC_STS_ID_MAX + 1];
	struct smtpc_sts_policy	 p;
	time_t			 expires;
};

static struct smtpc_sts_entry	 smtpc_sts_cache[SMTPC_STS_CACHE_MAX];
static SSL_CTX			*smtpc_sts_ctx;

static struct smtpc_sts_entry *
smtpc_sts_find(const char *domain)
{
	size_t	 i;
	time_t	 now = time(NULL);

	for (i = 0; i < SMTPC_STS_CACHE_MAX; i++)
		if (smtpc_sts_cache[i].domain != NULL &&
		    strcasecmp(smtpc_sts_cache[i].domain, domain) == 0) {
			if (smtpc_sts_cache[i].expires > now)
				return &smtpc_sts_cache[i];
			return NULL;
		}
	return NULL;
}

static struct smtpc_sts_entry *
smtpc_sts_store(const char *domain, const char *id,
    struct smtpc_sts_policy *p)
{
	struct smtpc_sts_entry	*e = NULL;
	size_t			 i;

	for (i = 0; i < SMTPC_STS_CACHE_MAX && e == NULL; i++)
		if (smtpc_sts_cache[i].domain != NULL &&
		    strcasecmp(smtpc_sts_cache[i].domain, domain) == 0)
			e = &smtpc_sts_cache[i];
	/* Else a free slot, else the one that expires first. */
	for (i = 0; i < SMTPC_STS_CACHE_MAX && e == NULL; i++)
		if (smtpc_sts_cache[i].domain == NULL)
			e = &smtpc_sts_cache[i];
	for (i = 0; e == NULL && i < SMTPC_STS_CACHE_MAX; i++)
		if (e == NULL || smtpc_sts_cache[i].expires < e->expires)
			e = &smtpc_sts_cache[i];
	free(e->domain);
	smtpc_sts_clear(&e->p);
	e->domain = xstrdup(domain);
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->p = *p;
	memset(p, 0, sizeof(*p));
	e->expires = time(NULL) + (time_t)e->p.max_age;
	return e;
}

SSL_CTX *
smtpc_sts_verify_ctx(void)
{
	const char	*ca;

	if (smtpc_sts_ctx != NULL)
		return smtpc_sts_ctx;
	if ((smtpc_sts_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(smtpc_sts_ctx, TLS1_2_VERSION);
	SSL_CTX_set_default_verify_paths(smtpc_sts_ctx);
	if ((ca = getenv("POSTERN_TLS_TEST_CA")) != NULL && ca[0] != '\0')
		SSL_CTX_load_verify_locations(smtpc_sts_ctx, ca, NULL);
	SSL_CTX_set_verify(smtpc_sts_ctx, SSL_VERIFY_PEER, NULL);
	return smtpc_sts_ctx;
}

/* ---- lookup ----------------------------------------------------------------- */

struct smtpc_sts_req {
	char			*domain;
	char			*host;		/* mta-sts.<domain> */
	char			 id[SMTPC_STS_ID_MAX + 1];
	smtpc_sts_cb		*cb;
	void			*arg;
	struct dnsq_req		*dq;
	struct bufferevent	*bev;
};

void
smtpc_sts_cancel(struct smtpc_sts_req **rp)
{
	struct smtpc_sts_req	*r = *rp;

	if (r == NULL)
		return;
	dnsq_cancel(&r->dq);
	if (r->bev != NULL)
		bufferevent_free(r->bev);
	free(r->domain);
	free(r->host);
	free(r);
	*rp = NULL;
}

/* Answer p (or NULL) and free the request; r is gone afterwards. */
static void
smtpc_sts_answer(struct smtpc_sts_req *r, const struct smtpc_sts_policy *p)
{
	smtpc_sts_cb		*cb = r->cb;
	void			*arg = r->arg;

	smtpc_sts_cancel(&r);
	cb(arg, p);
}

/* A failed fetch: RFC 8461 5.1, keep using an unexpired cached policy. */
static void
smtpc_sts_fail(struct smtpc_sts_req *r, const char *why)
{
	struct smtpc_sts_entry	*e = smtpc_sts_find(r->domain);

	log_info("mta-sts domain=%s fetch failed error=\"%s\" cached=%s",
	    r->domain, why, e != NULL ? "yes" : "no");
	smtpc_sts_answer(r, e != NULL ? &e->p : NULL);
}

static void
smtpc_sts_http(struct smtpc_sts_req *r, char *resp, size_t len)
{
	struct smtpc_sts_policy	 p;
	struct smtpc_sts_entry	*e;
	char			*hend, *ct;
	const char		*why = NULL;

	/* RFC 8461 3.3: 200 only (no redirects), text/plain. */
	if (len < 12 || strncmp(resp, "HTTP/1.", 7) != 0 ||
	    strncmp(resp + 8, " 200", 4) != 0) {
		smtpc_sts_fail(r, "HTTP status is not 200");
		return;
	}
	if ((hend = strstr(resp, "\r\n\r\n")) == NULL) {
		smtpc_sts_fail(r, "bad HTTP response");
		return;
	}
	*hend = '\0';
	if ((ct = strcasestr(resp, "\r\nContent-Type:")) == NULL ||
	    strncasecmp(smtpc_sts_trim(ct + 15), "text/plain", 10) != 0) {
		smtpc_sts_fail(r, "policy is not text/plain");
		return;
	}
	if (smtpc_sts_parse(hend + 4, len - (size_t)(hend + 4 - resp), &p,
	    &why) == -1) {
		smtpc_sts_fail(r, why);
		return;
	}
	e = smtpc_sts_store(r->domain, r->id, &p);
	log_info("mta-sts domain=%s id=%s mode=%s mx=%zu max_age=%llu",
	    r->domain, r->id, e->p.mode == SMTPC_STS_ENFORCE ? "enforce" :
	    e->p.mode == SMTPC_STS_TESTING ? "testing" : "none", e->p.nmx,
	    (unsigned long long)e->p.max_age);
	smtpc_sts_answer(r, &e->p);
}

static void
smtpc_sts_read(struct bufferevent *bev, void *arg)
{
	struct smtpc_sts_req	*r = arg;

	if (evbuffer_get_length(bufferevent_get_input(bev)) >
	    SMTPC_STS_BODY_MAX + 16384)
		smtpc_sts_fail(r, "policy response too long");
}

static void
smtpc_sts_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpc_sts_req	*r = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*resp;
	size_t			 len;

	if (what & BEV_EVENT_CONNECTED) {
		/* HTTP/1.0: no chunked body, the server closes at the end. */
		evbuffer_add_printf(bufferevent_get_output(bev),
		    "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: %s\r\n"
		    "User-Agent: postern\r\n\r\n", r->host);
		return;
	}
	if (!(what & BEV_EVENT_EOF) && evbuffer_get_length(in) == 0) {
		smtpc_sts_fail(r, what & BEV_EVENT_TIMEOUT ? "timeout" :
		    "connection or TLS verification failed");
		return;
	}
	len = evbuffer_get_length(in);
	resp = xmalloc(len + 1);
	evbuffer_remove(in, resp, len);
	resp[len] = '\0';
	smtpc_sts_http(r, resp, len);
	free(resp);
}

static void
smtpc_sts_addr(void *arg, const struct dnsq_result *res)
{
	struct smtpc_sts_req	*r = arg;
	struct sockaddr_in	 sin;
	SSL			*ssl;
	const char		*s;
	uint64_t		 v;
	int			 port = 443;

	r->dq = NULL;
	if (res->rcode != DNSQ_OK || res->n == 0) {
		smtpc_sts_fail(r, "no address for the policy host");
		return;
	}
	if ((s = getenv("POSTERN_MTASTS_TEST_PORT")) != NULL &&
	    str_to_u64(s, 65535, &v) == 0 && v > 0)
		port = (int)v;
	if (smtpc_sts_verify_ctx() == NULL ||
	    (ssl = SSL_new(smtpc_sts_verify_ctx())) == NULL) {
		smtpc_sts_fail(r, "SSL_new failed");
		return;
	}
	/* RFC 8461 3.3: the certificate must be valid for the policy host. */
	SSL_set_tlsext_host_name(ssl, r->host);
	SSL_set1_host(ssl, r->host);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	r->bev = bufferevent_openssl_socket_new(loop_base(), -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (r->bev == NULL) {
		SSL_free(ssl);
		smtpc_sts_fail(r, "TLS setup failed");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(r->bev, 1);
	bufferevent_setcb(r->bev, smtpc_sts_read, NULL, smtpc_sts_event, r);
	bufferevent_set_timeouts(r->bev,
	    &(struct timeval){ SMTPC_STS_TIMEOUT, 0 },
	    &(struct timeval){ SMTPC_STS_TIMEOUT, 0 });
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr = res->rr[0].a;
	if (bufferevent_socket_connect(r->bev, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1)
		smtpc_sts_fail(r, "cannot connect to the policy host");
}

static void
smtpc_sts_txt(void *arg, const struct dnsq_result *res)
{
	struct smtpc_sts_req	*r = arg;
	struct smtpc_sts_entry	*e = smtpc_sts_find(r->domain);
	size_t			 i;
	int			 found = 0;

	r->dq = NULL;
	/* RFC 8461 3.1: exactly one STSv1 record, else as if none. */
	for (i = 0; res->rcode == DNSQ_OK && i < res->n; i++)
		if (smtpc_sts_txt_id(res->rr[i].txt, res->rr[i].txtlen,
		    r->id, sizeof(r->id)) == 0)
			found++;
	if (found != 1) {
		/* 5.1: no record: a cached policy still holds until max_age. */
		smtpc_sts_answer(r, e != NULL ? &e->p : NULL);
		return;
	}
	if (e != NULL && strcmp(e->id, r->id) == 0) {
		smtpc_sts_answer(r, &e->p);
		return;
	}
	r->dq = dnsq_query(loop_shared()->dns, r->host, DNSQ_T_A,
	    smtpc_sts_addr, r);
}

struct smtpc_sts_req *
smtpc_sts_lookup(const char *domain, smtpc_sts_cb *cb, void *arg)
{
	struct smtpc_sts_req	*r = xcalloc(1, sizeof(*r));
	char			*name;

	r->domain = xstrdup(domain);
	r->host = xasprintf("mta-sts.%s", domain);
	r->cb = cb;
	r->arg = arg;
	name = xasprintf("_mta-sts.%s", domain);
	r->dq = dnsq_query(loop_shared()->dns, name, DNSQ_T_TXT,
	    smtpc_sts_txt, r);
	free(name);
	return r;
}
