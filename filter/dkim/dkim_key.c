/*
 * dkim_key.c - DKIM key material: load and generate private keys (RSA,
 * Ed25519 per RFC 8463 3), the DNS key record (RFC 6376 3.6.1) both ways,
 * and the <domain>.<selector>.key/.txt files that Simple NixOS
 * Mailserver keeps (opendkim-genkey layout).  Owns nothing long-lived;
 * the EVP_PKEYs it returns belong to the caller.  Blocking file I/O in
 * load/write: call them at startup or on a worker.  [any]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "buf.h"
#include "dkim.h"
#include "dkim_private.h"
#include "xmalloc.h"

static int
key_check(EVP_PKEY *key, const char **error_r)
{
	int	 bits;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(key);
		if (bits < DKIM_RSA_MIN_BITS) {
			*error_r = "RSA key shorter than 1024 bits";
			return -1;
		}
		if (bits > DKIM_RSA_MAX_BITS) {
			*error_r = "RSA key longer than 8192 bits";
			return -1;
		}
		return 0;
	case EVP_PKEY_ED25519:
		return 0;
	default:
		*error_r = "key is neither RSA nor Ed25519";
		return -1;
	}
}

int
dkim_key_load(const char *path, EVP_PKEY **key_r, const char **error_r)
{
	FILE		*fp;
	EVP_PKEY	*key;

	*key_r = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		*error_r = "cannot open DKIM key file";
		return -1;
	}
	key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (key == NULL) {
		*error_r = "DKIM key file holds no PEM private key";
		return -1;
	}
	if (key_check(key, error_r) == -1) {
		EVP_PKEY_free(key);
		return -1;
	}
	*key_r = key;
	return 0;
}

int
dkim_key_generate(enum dkim_key_type type, int bits, EVP_PKEY **key_r,
    const char **error_r)
{
	EVP_PKEY	*key;

	*key_r = NULL;
	if (type == DKIM_KEY_ED25519)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else {
		if (bits == 0)
			bits = 2048;
		if (bits < DKIM_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS) {
			*error_r = "RSA key length must be 1024..8192 bits";
			return -1;
		}
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	}
	if (key == NULL) {
		*error_r = "key generation failed";
		return -1;
	}
	*key_r = key;
	return 0;
}

/* The base64 p= value: SPKI DER for RSA, the raw 32 bytes for Ed25519. */
static int
key_public_b64(EVP_PKEY *key, struct buf *out, const char **error_r)
{
	unsigned char	*der = NULL, raw[32];
	size_t		 rawlen = sizeof(raw);
	int		 n;

	if (key_check(key, error_r) == -1)
		return -1;
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		/* RFC 8463 4.2: no ASN.1 wrapping. */
		if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1 ||
		    rawlen != 32) {
			*error_r = "cannot export Ed25519 public key";
			return -1;
		}
		dkim_b64_encode(raw, rawlen, out);
		return 0;
	}
	if ((n = i2d_PUBKEY(key, &der)) <= 0) {
		*error_r = "cannot export RSA public key";
		return -1;
	}
	dkim_b64_encode(der, (size_t)n, out);
	OPENSSL_free(der);
	return 0;
}

static const char *
key_type_name(EVP_PKEY *key)
{
	return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? "ed25519" :
	    "rsa";
}

int
dkim_key_dns_record(EVP_PKEY *key, char **txt_r, const char **error_r)
{
	struct buf	 b;

	*txt_r = NULL;
	buf_init(&b, 0);
	buf_printf(&b, "v=DKIM1; k=%s; p=", key_type_name(key));
	if (key_public_b64(key, &b, error_r) == -1) {
		buf_free(&b);
		return -1;
	}
	*txt_r = buf_steal(&b, NULL);
	return 0;
}

/* A domain or selector safe as a file name part and a DNS label list. */
static bool
key_name_ok(const char *s)
{
	const char	*p;

	if (*s == '\0' || *s == '.' || *s == '-' || strlen(s) > 253)
		return false;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			return false;
	return strstr(s, "..") == NULL;
}

/* Write data to path via path.tmp + fsync + rename; mode for the file. */
static int
key_write_file(const char *path, const char *data, size_t len, mode_t mode,
    const char **error_r)
{
	char	*tmp = xasprintf("%s.tmp", path);
	ssize_t	 w;
	size_t	 off = 0;
	int	 fd;

	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1) {
		*error_r = "cannot create DKIM key file";
		free(tmp);
		return -1;
	}
	while (off < len) {
		if ((w = write(fd, data + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	if (off < len || fsync(fd) == -1 || close(fd) == -1) {
		if (off < len)
			close(fd);
		(void)unlink(tmp);
		free(tmp);
		*error_r = "cannot write DKIM key file";
		return -1;
	}
	if (rename(tmp, path) == -1) {
		(void)unlink(tmp);
		free(tmp);
		*error_r = "cannot rename DKIM key file";
		return -1;
	}
	free(tmp);
	return 0;
}

int
dkim_key_write_files(EVP_PKEY *key, const char *dir, const char *domain,
    const char *selector, const char **error_r)
{
	struct buf	 pub, txt;
	BIO		*bio = NULL;
	char		*keypath = NULL, *txtpath = NULL, *pem;
	long		 pemlen;
	size_t		 off, k;
	int		 rc = -1;

	if (!key_name_ok(domain) || !key_name_ok(selector)) {
		*error_r = "bad DKIM domain or selector name";
		return -1;
	}
	buf_init(&pub, 0);
	buf_init(&txt, 0);
	if (key_public_b64(key, &pub, error_r) == -1)
		goto out;
	keypath = xasprintf("%s/%s.%s.key", dir, domain, selector);
	txtpath = xasprintf("%s/%s.%s.txt", dir, domain, selector);
	if (access(keypath, F_OK) == 0) {
		*error_r = "DKIM key file already exists";
		goto out;
	}
	/* opendkim-genkey: strings of at most 250 characters. */
	buf_printf(&txt, "%s._domainkey\tIN\tTXT\t( \"v=DKIM1; k=%s; \"\n",
	    selector, key_type_name(key));
	for (off = 0; off == 0 || off < pub.len; off += k) {
		k = pub.len - off > 248 ? 248 : pub.len - off;
		buf_printf(&txt, "\t  \"%s%.*s\"", off == 0 ? "p=" : "",
		    (int)k, pub.data + off);
		if (off + k < pub.len)
			buf_puts(&txt, "\n");
		if (k == 0)
			break;
	}
	buf_printf(&txt, " )  ; ----- DKIM key %s for %s\n", selector, domain);

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
		*error_r = "cannot encode DKIM private key";
		goto out;
	}
	pemlen = BIO_get_mem_data(bio, &pem);
	if (key_write_file(keypath, pem, (size_t)pemlen, 0600, error_r) == -1)
		goto out;
	if (key_write_file(txtpath, txt.data, txt.len, 0644, error_r) == -1) {
		(void)unlink(keypath);
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	free(keypath);
	free(txtpath);
	buf_free(&pub);
	buf_free(&txt);
	return rc;
}

/* Does the colon-separated list hold word (case-insensitive)? */
static bool
key_list_has(const char *list, const char *word)
{
	const char	*p = list, *e, *s;
	size_t		 n = strlen(word);

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		s = p;
		while (*p != '\0' && *p != ':')
			p++;
		e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r' || e[-1] == '\n'))
			e--;
		if ((size_t)(e - s) == n && strncasecmp(s, word, n) == 0)
			return true;
		if (*p == ':')
			p++;
	}
	return false;
}

int
dkim_key_parse_record_flags(const char *txt, enum dkim_key_type *type_r,
    EVP_PKEY **key_r, unsigned *flags_r, const char **error_r)
{
	struct dkim_tags	*t;
	const char		*v, *k, *p, *h, *s, *fl;
	unsigned char		*der = NULL;
	const unsigned char	*dp;
	size_t			 derlen;
	EVP_PKEY		*key = NULL;
	int			 bits;

	*key_r = NULL;
	*flags_r = 0;
	if (dkim_tags_parse(txt, strlen(txt), &t, error_r) == -1)
		return -1;
	v = dkim_tags_get(t, "v");
	k = dkim_tags_get(t, "k");
	p = dkim_tags_get(t, "p");
	h = dkim_tags_get(t, "h");
	s = dkim_tags_get(t, "s");
	fl = dkim_tags_get(t, "t");
	/* 3.6.1: v= optional, but if present "DKIM1" and first. */
	if (v != NULL && (strcmp(v, "DKIM1") != 0 ||
	    strcmp(dkim_tags_name(t, 0), "v") != 0)) {
		*error_r = "key record: bad v= tag";
		goto fail;
	}
	if (h != NULL && !key_list_has(h, "sha256")) {
		*error_r = "key record: h= excludes sha256";
		goto fail;
	}
	if (s != NULL && !key_list_has(s, "email") && !key_list_has(s, "*")) {
		*error_r = "key record: not for email (s=)";
		goto fail;
	}
	if (k == NULL || strcmp(k, "rsa") == 0)
		*type_r = DKIM_KEY_RSA;
	else if (strcmp(k, "ed25519") == 0)
		*type_r = DKIM_KEY_ED25519;
	else {
		*error_r = "key record: unknown key type (k=)";
		goto fail;
	}
	if (p == NULL) {
		*error_r = "key record: no p= tag";
		goto fail;
	}
	if (*p == '\0') {
		*error_r = "key revoked (empty p=)";
		goto fail;
	}
	if (fl != NULL) {
		if (key_list_has(fl, "y"))
			*flags_r |= DKIM_KEYF_TESTING;
		if (key_list_has(fl, "s"))
			*flags_r |= DKIM_KEYF_STRICT;
	}
	if (dkim_b64_decode(p, &der, &derlen) == -1) {
		*error_r = "key record: bad base64 in p=";
		goto fail;
	}
	if (*type_r == DKIM_KEY_ED25519) {
		if (derlen != 32 || (key = EVP_PKEY_new_raw_public_key(
		    EVP_PKEY_ED25519, NULL, der, derlen)) == NULL) {
			*error_r = "key record: bad Ed25519 key";
			goto fail;
		}
	} else {
		dp = der;
		key = d2i_PUBKEY(NULL, &dp, (long)derlen);
		if (key == NULL || dp != der + derlen) {
			/* Some publish a bare RSAPublicKey (PKCS#1). */
			EVP_PKEY_free(key);
			dp = der;
			key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &dp,
			    (long)derlen);
			if (key != NULL && dp != der + derlen) {
				EVP_PKEY_free(key);
				key = NULL;
			}
		}
		if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
			*error_r = "key record: bad RSA key";
			goto fail;
		}
		bits = EVP_PKEY_get_bits(key);
		if (bits < DKIM_RSA_MIN_BITS) {
			*error_r = "key too short (RSA < 1024 bits)";
			goto fail;
		}
		if (bits > DKIM_RSA_MAX_BITS) {
			*error_r = "key too long (RSA > 8192 bits)";
			goto fail;
		}
	}
	free(der);
	dkim_tags_free(&t);
	*key_r = key;
	return 0;
fail:
	EVP_PKEY_free(key);
	free(der);
	dkim_tags_free(&t);
	return -1;
}

int
dkim_key_parse_record(const char *txt, enum dkim_key_type *type_r,
    EVP_PKEY **key_r, const char **error_r)
{
	unsigned	 flags;

	return dkim_key_parse_record_flags(txt, type_r, key_r, &flags,
	    error_r);
}
