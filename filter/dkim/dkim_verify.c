/*
 * dkim_verify.c - check every DKIM-Signature of a message (RFC 6376 6)
 * with rsa-sha256 or ed25519-sha256 (RFC 8463), one result each, and
 * the Authentication-Results text for it (RFC 8601 2.7.1, RFC 6008).
 * The caller streams the message in, resolves the key names and passes
 * the TXT text back through a callback.  Owns struct dkim_verify and
 * the results it returns; one thread per object.  [any]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dkim.h"
#include "dkim_private.h"
#include "str.h"
#include "xmalloc.h"

struct vsig {
	size_t		 field;		/* index in sp.fields */
	enum dkim_status status;	/* valid once reason != NULL */
	const char	*reason;	/* static; NULL: still in the race */
	struct dkim_tags *tags;
	char		*domain;
	char		*selector;
	char		*keyname;	/* "<s>._domainkey.<d>" */
	char		 bpre[9];	/* first 8 characters of b= */
	enum dkim_key_type alg;
	enum dkim_canon	 hc, bc;
	char		**h;
	size_t		 nh;
	unsigned char	*b;
	size_t		 blen;
	unsigned char	 bh[32];
	int64_t		 l;		/* -1: no l= */
	struct dkim_body *body;
};

struct dkim_verify {
	time_t		 now;
	struct dkim_split sp;
	bool		 ready;		/* signatures parsed */
	struct vsig	*sigs;
	size_t		 nsigs;
};

static void	verify_prepare(struct dkim_verify *);

static void
verify_body_cb(void *arg, const char *p, size_t n)
{
	struct dkim_verify	*v = arg;
	size_t			 i;

	if (!v->ready)
		verify_prepare(v);
	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].body != NULL)
			dkim_body_feed(v->sigs[i].body, p, n);
}

struct dkim_verify *
dkim_verify_new(time_t now)
{
	struct dkim_verify	*v = xcalloc(1, sizeof(*v));

	v->now = now;
	dkim_split_init(&v->sp, verify_body_cb, v);
	return v;
}

void
dkim_verify_feed(struct dkim_verify *v, const void *p, size_t n)
{
	dkim_split_feed(&v->sp, p, n);
}

static bool
verify_dns_name_ok(const char *s)
{
	const char	*p;

	if (*s == '\0' || *s == '.' || strlen(s) > 253 ||
	    strstr(s, "..") != NULL)
		return false;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			return false;
	return true;
}

/* Split a colon list (h=) into trimmed names; -1 on an empty name. */
static int
verify_split_h(const char *list, char ***names_r, size_t *n_r)
{
	const char	*p = list, *s, *e;
	char		**names = NULL;
	size_t		 n = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		s = p;
		while (*p != '\0' && *p != ':')
			p++;
		e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r' || e[-1] == '\n'))
			e--;
		if (e == s || n == DKIM_H_MAX)
			goto bad;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrndup(s, (size_t)(e - s));
		if (*p == '\0')
			break;
		p++;
	}
	*names_r = names;
	*n_r = n;
	return 0;
bad:
	while (n > 0)
		free(names[--n]);
	free(names);
	return -1;
}

static bool
verify_list_has(const char *list, const char *word)
{
	char	**names;
	size_t	 n, i;
	bool	 found = false;

	if (verify_split_h(list, &names, &n) == -1)
		return false;
	for (i = 0; i < n; i++) {
		if (strcasecmp(names[i], word) == 0)
			found = true;
		free(names[i]);
	}
	free(names);
	return found;
}

/* i= must be in d= or a subdomain of it (RFC 6376 3.5 i=). */
static bool
verify_identity_ok(const char *i, const char *d, bool strict)
{
	const char	*at = strrchr(i, '@');
	size_t		 il, dl = strlen(d);

	if (at == NULL)
		return false;
	at++;
	il = strlen(at);
	if (strcasecmp(at, d) == 0)
		return true;
	if (strict)
		return false;		/* key t=s */
	return il > dl + 1 && at[il - dl - 1] == '.' &&
	    strcasecmp(at + il - dl, d) == 0;
}

static int
verify_number(const char *s, uint64_t max, uint64_t *v_r)
{
	if (strlen(s) > 76)		/* 3.5: at most 76 digits */
		return -1;
	return str_to_u64(s, max, v_r);
}

/* Parse one signature field (6.1.1); sets reason on a permerror. */
static void
verify_parse(struct dkim_verify *v, struct vsig *s)
{
	const struct dkim_field	*f = &v->sp.fields[s->field];
	const char		*val = f->raw + f->namelen, *err, *tv;
	const char		*a, *c, *slash;
	size_t			 vlen, blen, k;
	unsigned char		*bh;
	uint64_t		 n, t = 0, x;

	s->l = -1;
	s->status = DKIM_PERMERROR;
	if ((val = memchr(f->raw, ':', f->len)) == NULL) {
		s->reason = "malformed header field";
		return;
	}
	val++;
	vlen = (size_t)(f->raw + f->len - val);
	while (vlen > 0 && (val[vlen - 1] == '\n' || val[vlen - 1] == '\r'))
		vlen--;
	if (dkim_tags_parse(val, vlen, &s->tags, &err) == -1) {
		s->reason = err;
		return;
	}
	if ((tv = dkim_tags_get(s->tags, "d")) != NULL &&
	    verify_dns_name_ok(tv))
		s->domain = xstrdup(tv);
	if ((tv = dkim_tags_get(s->tags, "s")) != NULL &&
	    verify_dns_name_ok(tv))
		s->selector = xstrdup(tv);
	if ((tv = dkim_tags_get(s->tags, "b")) != NULL) {
		for (k = 0; *tv != '\0' && k < 8; tv++)
			if (*tv != ' ' && *tv != '\t' && *tv != '\r' &&
			    *tv != '\n')
				s->bpre[k++] = *tv;
	}
	if ((tv = dkim_tags_get(s->tags, "v")) == NULL || strcmp(tv, "1") != 0) {
		s->reason = "missing or unknown v= version";
		return;
	}
	if ((a = dkim_tags_get(s->tags, "a")) == NULL) {
		s->reason = "missing a= tag";
		return;
	}
	if (strcmp(a, "rsa-sha256") == 0)
		s->alg = DKIM_KEY_RSA;
	else if (strcmp(a, "ed25519-sha256") == 0)
		s->alg = DKIM_KEY_ED25519;
	else if (strcmp(a, "rsa-sha1") == 0) {
		s->reason = "rsa-sha1 is not accepted (RFC 8301)";
		return;
	} else {
		s->reason = "unknown algorithm";
		return;
	}
	if (dkim_tags_get(s->tags, "d") == NULL ||
	    dkim_tags_get(s->tags, "s") == NULL ||
	    dkim_tags_get(s->tags, "h") == NULL ||
	    dkim_tags_get(s->tags, "b") == NULL ||
	    dkim_tags_get(s->tags, "bh") == NULL) {
		s->reason = "missing required tag (b, bh, d, h or s)";
		return;
	}
	if (s->domain == NULL || s->selector == NULL) {
		s->reason = "bad d= or s= value";
		return;
	}
	if (dkim_b64_decode(dkim_tags_get(s->tags, "b"), &s->b, &s->blen) ==
	    -1 || s->blen == 0) {
		s->reason = "bad b= value";
		return;
	}
	if (dkim_b64_decode(dkim_tags_get(s->tags, "bh"), &bh, &blen) == -1) {
		s->reason = "bad bh= value";
		return;
	}
	if (blen != sizeof(s->bh)) {
		free(bh);
		s->reason = "bad bh= value";
		return;
	}
	memcpy(s->bh, bh, sizeof(s->bh));
	free(bh);
	s->hc = s->bc = DKIM_CANON_SIMPLE;
	if ((c = dkim_tags_get(s->tags, "c")) != NULL) {
		slash = strchr(c, '/');
		k = slash != NULL ? (size_t)(slash - c) : strlen(c);
		if (k == 6 && strncmp(c, "simple", 6) == 0)
			s->hc = DKIM_CANON_SIMPLE;
		else if (k == 7 && strncmp(c, "relaxed", 7) == 0)
			s->hc = DKIM_CANON_RELAXED;
		else {
			s->reason = "unknown c= canonicalization";
			return;
		}
		if (slash == NULL || strcmp(slash + 1, "simple") == 0)
			s->bc = DKIM_CANON_SIMPLE;
		else if (strcmp(slash + 1, "relaxed") == 0)
			s->bc = DKIM_CANON_RELAXED;
		else {
			s->reason = "unknown c= canonicalization";
			return;
		}
	}
	if (verify_split_h(dkim_tags_get(s->tags, "h"), &s->h, &s->nh) == -1) {
		s->reason = "bad h= list";
		return;
	}
	for (k = 0; k < s->nh; k++)
		if (strcasecmp(s->h[k], "from") == 0)
			break;
	if (k == s->nh) {
		s->reason = "h= does not include From";
		return;
	}
	if ((tv = dkim_tags_get(s->tags, "i")) != NULL &&
	    !verify_identity_ok(tv, s->domain, false)) {
		s->reason = "i= is not within d=";
		return;
	}
	if ((tv = dkim_tags_get(s->tags, "q")) != NULL &&
	    !verify_list_has(tv, "dns/txt")) {
		s->reason = "unknown q= query method";
		return;
	}
	if ((tv = dkim_tags_get(s->tags, "l")) != NULL) {
		if (verify_number(tv, INT64_MAX, &n) == -1) {
			s->reason = "bad l= value";
			return;
		}
		s->l = (int64_t)n;
	}
	if ((tv = dkim_tags_get(s->tags, "t")) != NULL &&
	    verify_number(tv, UINT64_MAX, &t) == -1) {
		s->reason = "bad t= value";
		return;
	}
	if ((tv = dkim_tags_get(s->tags, "x")) != NULL) {
		if (verify_number(tv, UINT64_MAX, &x) == -1) {
			s->reason = "bad x= value";
			return;
		}
		if (dkim_tags_get(s->tags, "t") != NULL && x < t) {
			s->reason = "x= is before t=";
			return;
		}
		if (v->now >= 0 && x < (uint64_t)v->now) {
			s->reason = "signature expired (x=)";
			return;
		}
	}
	s->keyname = xasprintf("%s._domainkey.%s", s->selector, s->domain);
	s->body = dkim_body_new(s->bc, s->l);
}

static void
verify_prepare(struct dkim_verify *v)
{
	size_t		 i;
	struct vsig	*s;

	v->ready = true;
	for (i = 0; i < v->sp.nfields; i++) {
		if (!dkim_field_is(&v->sp.fields[i], "DKIM-Signature", 14))
			continue;
		v->sigs = xreallocarray(v->sigs, v->nsigs + 1,
		    sizeof(*v->sigs));
		s = &v->sigs[v->nsigs++];
		memset(s, 0, sizeof(*s));
		s->field = i;
		if (v->sp.overflow) {
			s->status = DKIM_PERMERROR;
			s->reason = "header block too large";
		} else if (v->nsigs > DKIM_SIGS_MAX) {
			s->status = DKIM_NEUTRAL;
			s->reason = "too many signatures, not checked";
		} else
			verify_parse(v, s);
	}
}

static void
verify_ready(struct dkim_verify *v)
{
	if (v->ready)
		return;
	dkim_split_finish(&v->sp);
	verify_prepare(v);
}

size_t
dkim_verify_count(struct dkim_verify *v)
{
	verify_ready(v);
	return v->nsigs;
}

const char *
dkim_verify_key_name(struct dkim_verify *v, size_t i)
{
	verify_ready(v);
	return i < v->nsigs && v->sigs[i].reason == NULL ?
	    v->sigs[i].keyname : NULL;
}

/*
 * The signature field as hashed (3.7): its b= value removed, including
 * the whitespace around it, then canonicalized without a final CRLF.
 */
static void
verify_sig_field(const struct dkim_field *f, enum dkim_canon hc,
    struct buf *out)
{
	struct buf	 tmp;
	const char	*raw = f->raw, *end = f->raw + f->len, *p, *st, *ns;
	const char	*ne, *q, *semi;

	while (end > raw && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	buf_init(&tmp, 0);
	p = memchr(raw, ':', (size_t)(end - raw));
	p = p != NULL ? p + 1 : end;
	buf_append(&tmp, raw, (size_t)(p - raw));
	while (p < end) {
		st = p;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'))
			p++;
		ns = p;
		while (p < end && *p != '=' && *p != ';' && *p != ' ' &&
		    *p != '\t' && *p != '\r' && *p != '\n')
			p++;
		ne = p;
		q = p;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' ||
		    *q == '\n'))
			q++;
		semi = memchr(p, ';', (size_t)(end - p));
		if (semi == NULL)
			semi = end;
		if (ne - ns == 1 && *ns == 'b' && q < end && *q == '=')
			buf_append(&tmp, st, (size_t)(q + 1 - st));
		else
			buf_append(&tmp, st, (size_t)(semi - st));
		p = semi;
		if (p < end) {
			buf_putc(&tmp, ';');
			p++;
		}
	}
	dkim_canon_header(hc, tmp.data, tmp.len, false, out);
	buf_free(&tmp);
}

/* RFC 8463 3: Ed25519 verifies SHA-256(data); RSA hashes data itself. */
static int
verify_data(EVP_PKEY *key, enum dkim_key_type alg, const struct buf *data,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX		*ctx;
	unsigned char		 hash[32];
	const unsigned char	*in = (const unsigned char *)data->data;
	size_t			 inlen = data->len;
	unsigned int		 hlen = sizeof(hash);
	int			 rc;

	if (alg == DKIM_KEY_ED25519) {
		if (EVP_Digest(in, inlen, hash, &hlen, EVP_sha256(), NULL) != 1)
			return -1;
		in = hash;
		inlen = sizeof(hash);
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	rc = EVP_DigestVerifyInit(ctx, NULL, alg == DKIM_KEY_ED25519 ? NULL :
	    EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, in, inlen) == 1 ? 0 : -1;
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* 6.1.2 key, 6.1.3 body hash, then the header signature. */
static void
verify_one(struct dkim_verify *v, struct vsig *s, dkim_lookup_fn *lookup,
    void *arg)
{
	unsigned char		 hash[32];
	uint64_t		 blen;
	char			*txt = NULL;
	const char		*err, *i;
	enum dkim_dns		 dns;
	enum dkim_key_type	 ktype;
	EVP_PKEY		*key = NULL;
	unsigned		 flags;
	struct buf		 data;

	dkim_body_finish(&s->body, hash, &blen);
	if (lookup == NULL) {
		s->status = DKIM_TEMPERROR;
		s->reason = "no key lookup available";
		return;
	}
	dns = lookup(s->keyname, arg, &txt);
	if (dns == DKIM_DNS_TEMPFAIL) {
		free(txt);
		s->status = DKIM_TEMPERROR;
		s->reason = "key lookup failed temporarily";
		return;
	}
	if (dns != DKIM_DNS_OK || txt == NULL) {
		free(txt);
		s->status = DKIM_PERMERROR;
		s->reason = "no key for signature";
		return;
	}
	s->status = DKIM_PERMERROR;
	if (dkim_key_parse_record_flags(txt, &ktype, &key, &flags, &err) ==
	    -1) {
		free(txt);
		s->reason = err;
		return;
	}
	free(txt);
	if (ktype != s->alg) {
		s->reason = "key type does not match a=";
		goto out;
	}
	if ((flags & DKIM_KEYF_STRICT) &&
	    (i = dkim_tags_get(s->tags, "i")) != NULL &&
	    !verify_identity_ok(i, s->domain, true)) {
		s->reason = "i= is a subdomain but key has t=s";
		goto out;
	}
	s->status = DKIM_FAIL;
	if (s->l >= 0 && blen < (uint64_t)s->l) {
		s->reason = "body shorter than l=";
		goto out;
	}
	if (memcmp(hash, s->bh, sizeof(hash)) != 0) {
		s->reason = "body hash did not verify";
		goto out;
	}
	buf_init(&data, 0);
	dkim_select_headers(v->sp.fields, v->sp.nfields, s->h, s->nh, s->hc,
	    s->field, &data);
	verify_sig_field(&v->sp.fields[s->field], s->hc, &data);
	if (verify_data(key, s->alg, &data, s->b, s->blen) == -1)
		s->reason = "signature did not verify";
	else {
		s->status = DKIM_PASS;
		s->reason = (flags & DKIM_KEYF_TESTING) ?
		    "signature verified (key in test mode)" :
		    "signature verified";
	}
	buf_free(&data);
out:
	EVP_PKEY_free(key);
}

const char *
dkim_status_name(enum dkim_status st)
{
	switch (st) {
	case DKIM_PASS:
		return "pass";
	case DKIM_FAIL:
		return "fail";
	case DKIM_NEUTRAL:
		return "neutral";
	case DKIM_PERMERROR:
		return "permerror";
	case DKIM_TEMPERROR:
		return "temperror";
	}
	return "permerror";
}

/* RFC 8601 2.7.1 resinfo for one signature. */
static char *
verify_ar(const struct vsig *s)
{
	struct buf	 b;

	buf_init(&b, 0);
	buf_printf(&b, "dkim=%s", dkim_status_name(s->status));
	if (s->status != DKIM_PASS)
		buf_printf(&b, " reason=\"%s\"", s->reason);
	if (s->domain != NULL)
		buf_printf(&b, " header.d=%s", s->domain);
	if (s->selector != NULL)
		buf_printf(&b, " header.s=%s", s->selector);
	if (s->bpre[0] != '\0') {
		/* RFC 6008: "/" and "=" are tspecials, so quote then. */
		if (strpbrk(s->bpre, "/=") != NULL)
			buf_printf(&b, " header.b=\"%s\"", s->bpre);
		else
			buf_printf(&b, " header.b=%s", s->bpre);
	}
	return buf_steal(&b, NULL);
}

static void
verify_sig_free(struct vsig *s)
{
	size_t	 i;

	dkim_tags_free(&s->tags);
	dkim_body_free(&s->body);
	free(s->domain);
	free(s->selector);
	free(s->keyname);
	for (i = 0; i < s->nh; i++)
		free(s->h[i]);
	free(s->h);
	free(s->b);
}

void
dkim_verify_finish(struct dkim_verify **vp, dkim_lookup_fn *lookup,
    void *arg, struct dkim_result **results_r, size_t *nresults_r)
{
	struct dkim_verify	*v = *vp;
	struct dkim_result	*res;
	struct vsig		*s;
	size_t			 i;

	verify_ready(v);
	res = v->nsigs > 0 ? xcalloc(v->nsigs, sizeof(*res)) : NULL;
	for (i = 0; i < v->nsigs; i++) {
		s = &v->sigs[i];
		if (s->reason == NULL)
			verify_one(v, s, lookup, arg);
		res[i].status = s->status;
		res[i].domain = s->domain != NULL ? xstrdup(s->domain) : NULL;
		res[i].selector = s->selector != NULL ?
		    xstrdup(s->selector) : NULL;
		res[i].reason = xstrdup(s->reason);
		res[i].ar = verify_ar(s);
		verify_sig_free(s);
	}
	*results_r = res;
	*nresults_r = v->nsigs;
	free(v->sigs);
	dkim_split_free(&v->sp);
	free(v);
	*vp = NULL;
}

void
dkim_verify_message(const char *msg, size_t len, time_t now,
    dkim_lookup_fn *lookup, void *arg, struct dkim_result **results_r,
    size_t *nresults_r)
{
	struct dkim_verify	*v = dkim_verify_new(now);

	dkim_verify_feed(v, msg, len);
	dkim_verify_finish(&v, lookup, arg, results_r, nresults_r);
}

void
dkim_results_free(struct dkim_result **rp, size_t n)
{
	struct dkim_result	*r = *rp;
	size_t			 i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(r[i].domain);
		free(r[i].selector);
		free(r[i].reason);
		free(r[i].ar);
	}
	free(r);
	*rp = NULL;
}
