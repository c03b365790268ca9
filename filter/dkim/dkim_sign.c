/*
 * dkim_sign.c - make one DKIM-Signature field (RFC 6376 5) with
 * rsa-sha256 or ed25519-sha256 (RFC 8463 3: PureEdDSA over the SHA-256
 * of the canonical header data).  Several selectors: call once each.
 * Owns nothing past the call; the key is only read.  Pure CPU work:
 * RSA-4096 over many messages belongs on a worker.  [any]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dkim.h"
#include "dkim_private.h"
#include "xmalloc.h"

/*
 * Fields signed when present (RFC 6376 5.4.1 recommends these), in
 * h= order; List-* fields are added as found.  From is listed once more
 * than it occurs, so a From added later breaks the signature (8.15).
 */
static const char *const sign_fields[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To",
	"In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding"
};

#define SIGN_LINE	76	/* fold the field before this column */

static void
sign_body_cb(void *arg, const char *p, size_t n)
{
	dkim_body_feed(arg, p, n);
}

static bool
sign_name_ok(const char *s)
{
	const char	*p;

	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			return false;
	return true;
}

static void
sign_add_name(char ***names, size_t *n, const char *name, size_t len)
{
	if (*n >= DKIM_H_MAX)
		return;
	*names = xreallocarray(*names, *n + 1, sizeof(**names));
	(*names)[(*n)++] = xstrndup(name, len);
}

/* The h= list: known fields and List-* present, From once extra. */
static size_t
sign_pick(const struct dkim_split *sp, char ***names_r)
{
	char		**names = NULL;
	size_t		 n = 0, i, j, k, cnt;
	const struct dkim_field *f;
	bool		 seen;

	for (i = 0; i < sizeof(sign_fields) / sizeof(sign_fields[0]); i++) {
		cnt = 0;
		for (j = 0; j < sp->nfields; j++)
			if (dkim_field_is(&sp->fields[j], sign_fields[i],
			    strlen(sign_fields[i])))
				cnt++;
		if (i == 0)
			cnt++;		/* oversign From */
		while (cnt-- > 0)
			sign_add_name(&names, &n, sign_fields[i],
			    strlen(sign_fields[i]));
	}
	for (j = 0; j < sp->nfields; j++) {
		f = &sp->fields[j];
		if (f->namelen <= 5 || strncasecmp(f->raw, "List-", 5) != 0)
			continue;
		/* One entry per instance, in order of appearance. */
		seen = false;
		for (k = 0; k < n; k++)
			if (strlen(names[k]) == f->namelen &&
			    strncasecmp(names[k], f->raw, f->namelen) == 0)
				seen = true;
		if (seen)
			continue;
		for (k = j; k < sp->nfields; k++)
			if (dkim_field_is(&sp->fields[k], f->raw, f->namelen))
				sign_add_name(&names, &n, f->raw, f->namelen);
	}
	*names_r = names;
	return n;
}

static const char *
canon_name(enum dkim_canon c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

/* Sign data; RFC 8463 3: Ed25519 signs SHA-256(data), RSA data itself. */
static int
sign_data(EVP_PKEY *key, const struct buf *data, unsigned char **sig_r,
    size_t *siglen_r)
{
	EVP_MD_CTX	*ctx;
	unsigned char	 hash[32], *sig;
	const unsigned char *in = (const unsigned char *)data->data;
	size_t		 inlen = data->len, siglen = 0;
	unsigned int	 hlen = sizeof(hash);
	bool		 ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
	int		 ok;

	if (ed) {
		if (EVP_Digest(in, inlen, hash, &hlen, EVP_sha256(), NULL) != 1)
			return -1;
		in = hash;
		inlen = sizeof(hash);
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestSignInit(ctx, NULL, ed ? NULL : EVP_sha256(), NULL,
	    key) == 1 && EVP_DigestSign(ctx, NULL, &siglen, in, inlen) == 1;
	if (!ok) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	sig = xmalloc(siglen);
	if (EVP_DigestSign(ctx, sig, &siglen, in, inlen) != 1) {
		free(sig);
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	EVP_MD_CTX_free(ctx);
	*sig_r = sig;
	*siglen_r = siglen;
	return 0;
}

/* Append s, folding first if the current line would pass SIGN_LINE. */
static void
sign_put(struct buf *b, size_t *col, const char *s, size_t n)
{
	if (*col + n > SIGN_LINE && *col > 10) {
		buf_puts(b, "\r\n\t");
		*col = 8;
		if (n > 0 && *s == ' ') {
			s++;
			n--;
		}
	}
	buf_append(b, s, n);
	*col += n;
}

int
dkim_sign_at(EVP_PKEY *key, const char *domain, const char *selector,
    enum dkim_canon hc, enum dkim_canon bc, const char *msg, size_t len,
    time_t now, char **header_r, const char **error_r)
{
	struct dkim_split	 sp;
	struct dkim_body	*body;
	struct buf		 hdr, data, bh, bsig;
	unsigned char		 hash[32], *sig = NULL;
	char			**names = NULL, tmp[256];
	size_t			 nnames = 0, i, col, siglen, off, k;
	int			 rc = -1, id = EVP_PKEY_get_base_id(key);

	*header_r = NULL;
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		*error_r = "DKIM key is neither RSA nor Ed25519";
		return -1;
	}
	if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) < DKIM_RSA_MIN_BITS) {
		*error_r = "RSA key shorter than 1024 bits";
		return -1;
	}
	if (!sign_name_ok(domain) || !sign_name_ok(selector)) {
		*error_r = "bad DKIM domain or selector";
		return -1;
	}
	body = dkim_body_new(bc, -1);
	dkim_split_init(&sp, sign_body_cb, body);
	dkim_split_feed(&sp, msg, len);
	dkim_split_finish(&sp);
	dkim_body_finish(&body, hash, NULL);
	buf_init(&hdr, 0);
	buf_init(&data, 0);
	buf_init(&bh, 0);
	buf_init(&bsig, 0);
	if (sp.overflow) {
		*error_r = "header block too large to sign";
		goto out;
	}
	for (i = 0; i < sp.nfields; i++)
		if (dkim_field_is(&sp.fields[i], "From", 4))
			break;
	if (i == sp.nfields) {
		*error_r = "message has no From field";	/* 5.4 */
		goto out;
	}
	nnames = sign_pick(&sp, &names);
	dkim_b64_encode(hash, sizeof(hash), &bh);

	buf_printf(&hdr, "DKIM-Signature: v=1; a=%s; c=%s/%s;",
	    id == EVP_PKEY_ED25519 ? "ed25519-sha256" : "rsa-sha256",
	    canon_name(hc), canon_name(bc));
	col = hdr.len;
	snprintf(tmp, sizeof(tmp), " d=%s;", domain);
	sign_put(&hdr, &col, tmp, strlen(tmp));
	snprintf(tmp, sizeof(tmp), " s=%s;", selector);
	sign_put(&hdr, &col, tmp, strlen(tmp));
	snprintf(tmp, sizeof(tmp), " t=%lld;", (long long)now);
	sign_put(&hdr, &col, tmp, strlen(tmp));
	buf_puts(&hdr, "\r\n\th=");
	col = 10;
	for (i = 0; i < nnames; i++) {
		snprintf(tmp, sizeof(tmp), "%s%s", names[i],
		    i + 1 < nnames ? ":" : ";");
		sign_put(&hdr, &col, tmp, strlen(tmp));
	}
	buf_printf(&hdr, "\r\n\tbh=%s;\r\n\tb=", bh.data);

	/* 3.7: selected fields, then this field with b= empty, no CRLF. */
	dkim_select_headers(sp.fields, sp.nfields, names, nnames, hc,
	    (size_t)-1, &data);
	dkim_canon_header(hc, hdr.data, hdr.len, false, &data);
	if (sign_data(key, &data, &sig, &siglen) == -1) {
		*error_r = "signing failed";
		goto out;
	}
	dkim_b64_encode(sig, siglen, &bsig);
	col = 10;
	for (off = 0; off < bsig.len; off += k) {
		k = bsig.len - off;
		if (k > SIGN_LINE - col)
			k = SIGN_LINE - col;
		if (off > 0)
			buf_puts(&hdr, "\r\n\t ");
		buf_append(&hdr, bsig.data + off, k);
		col = 9;
	}
	buf_puts(&hdr, "\r\n");
	*header_r = buf_steal(&hdr, NULL);
	rc = 0;
out:
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(sig);
	dkim_split_free(&sp);
	buf_free(&hdr);
	buf_free(&data);
	buf_free(&bh);
	buf_free(&bsig);
	return rc;
}

int
dkim_sign(EVP_PKEY *key, const char *domain, const char *selector,
    enum dkim_canon hc, enum dkim_canon bc, const char *msg, size_t len,
    char **header_r, const char **error_r)
{
	return dkim_sign_at(key, domain, selector, hc, bc, msg, len,
	    time(NULL), header_r, error_r);
}
