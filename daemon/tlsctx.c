/*
 * tlsctx.c - OpenSSL server contexts and the self-signed fallback.
 *
 * Policy: TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with
 * AES-GCM or ChaCha20-Poly1305 (AEAD); TLS 1.3 suites are all AEAD.  No
 * renegotiation, no compression.  SSL_MODE_RELEASE_BUFFERS keeps idle
 * connections small (IMAP IDLE sessions sit for hours).
 *
 * Threads: any.  A reload builds its context on a worker (loop.c), so
 * nothing here keeps state between calls; OpenSSL 3 creates contexts and
 * keys on any thread and keeps its error queue per thread, which
 * tlsctx_err() reads and clears.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "log.h"
#include "tlsctx.h"
#include "xmalloc.h"

#define TLS12_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20"

static void
tlsctx_err(char *buf, size_t len, const char *what, const char *path)
{
	unsigned long	 e = ERR_get_error();
	char		 ossl[256] = "";

	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	snprintf(buf, len, "%s%s%s%s%s", what, path ? " " : "", path ? path : "",
	    e ? ": " : "", ossl);
	ERR_clear_error();
}

static int
tlsctx_add_ext(X509 *crt, int nid, const char *value)
{
	X509V3_CTX	 v3;
	X509_EXTENSION	*ext;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, crt, crt, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	X509_add_ext(crt, ext, -1);
	X509_EXTENSION_free(ext);
	return 0;
}

static int
tlsctx_write_pem(const char *path, int mode, EVP_PKEY *key, X509 *crt)
{
	char	 tmp[4096];
	FILE	*fp;
	int	 fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) == -1)
		return -1;
	if ((fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	ok = key ? PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL)
	    : PEM_write_X509(fp, crt);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
		ok = 0;
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
tlsctx_selfsigned_ensure(const char *state_dir, const char *fqdn,
    char **cert_r, char **key_r, char *err, size_t errlen)
{
	char		*dir, *cert, *key, *san;
	EVP_PKEY	*pkey = NULL;
	X509		*crt = NULL;
	X509_NAME	*name;
	int		 rc = -1;

	dir = xasprintf("%s/tls", state_dir);
	cert = xasprintf("%s/cert.pem", dir);
	key = xasprintf("%s/key.pem", dir);
	if (access(cert, R_OK) == 0 && access(key, R_OK) == 0) {
		rc = 0;
		goto done;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		goto done;
	}
	if ((pkey = EVP_EC_gen("P-256")) == NULL) {
		tlsctx_err(err, errlen, "cannot generate key", NULL);
		goto done;
	}
	crt = X509_new();
	X509_set_version(crt, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(crt), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(crt), -3600);
	X509_gmtime_adj(X509_getm_notAfter(crt), 10L * 365 * 86400);
	X509_set_pubkey(crt, pkey);
	name = X509_get_subject_name(crt);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)fqdn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"postern self-signed", -1, -1, 0);
	X509_set_issuer_name(crt, name);
	/* Clients check names; cover the fqdn and loopback for dev use. */
	san = strcmp(fqdn, "localhost") == 0 ?
	    xstrdup("DNS:localhost,IP:127.0.0.1,IP:::1") :
	    xasprintf("DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", fqdn);
	if (tlsctx_add_ext(crt, NID_subject_alt_name, san) == -1 ||
	    tlsctx_add_ext(crt, NID_basic_constraints, "critical,CA:TRUE") == -1 ||
	    tlsctx_add_ext(crt, NID_key_usage,
	    "critical,digitalSignature,keyCertSign") == -1 ||
	    tlsctx_add_ext(crt, NID_ext_key_usage, "serverAuth") == -1 ||
	    tlsctx_add_ext(crt, NID_subject_key_identifier, "hash") == -1 ||
	    X509_sign(crt, pkey, EVP_sha256()) == 0) {
		free(san);
		tlsctx_err(err, errlen, "cannot build certificate", NULL);
		goto done;
	}
	free(san);
	if (tlsctx_write_pem(key, 0600, pkey, NULL) == -1 ||
	    tlsctx_write_pem(cert, 0644, NULL, crt) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", dir, strerror(errno));
		goto done;
	}
	log_info("tls self-signed certificate created path=%s cn=%s", cert, fqdn);
	rc = 0;
done:
	X509_free(crt);
	EVP_PKEY_free(pkey);
	free(dir);
	if (rc == 0) {
		*cert_r = cert;
		*key_r = key;
	} else {
		free(cert);
		free(key);
	}
	return rc;
}

SSL_CTX *
tlsctx_new(const struct conf *conf, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	char		*cert = NULL, *key = NULL;
	const char	*certp, *keyp;

	if (conf->tls.certificate_file != NULL) {
		certp = conf->tls.certificate_file;
		keyp = conf->tls.private_key_file;
	} else {
		if (tlsctx_selfsigned_ensure(conf->state_dir, conf->fqdn, &cert,
		    &key, err, errlen) == -1)
			return NULL;
		certp = cert;
		keyp = key;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tlsctx_err(err, errlen, "cannot create TLS context", NULL);
		goto fail;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_SSLv3);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		tlsctx_err(err, errlen, "cannot set ciphers", NULL);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, certp) != 1) {
		tlsctx_err(err, errlen, "cannot load certificate", certp);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, keyp, SSL_FILETYPE_PEM) != 1) {
		tlsctx_err(err, errlen, "cannot load private key", keyp);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tlsctx_err(err, errlen, "private key does not match certificate",
		    keyp);
		goto fail;
	}
	free(cert);
	free(key);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	free(cert);
	free(key);
	return NULL;
}
