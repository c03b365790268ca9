/*
 * tlsctx.h - server TLS contexts: TLS 1.2+ with AEAD ciphers only, from the
 * configured certificate or a self-signed one generated into
 * <state_dir>/tls/ on first start.  [any, blocking] (reads files, may
 * generate a key: called at start on the loop thread before it runs, and
 * for a reload on a worker thread, one build at a time; see loop.c)
 */
#ifndef TLSCTX_H
#define TLSCTX_H
#include <openssl/ssl.h>

struct conf;

/* Build a context for conf; NULL with *error_r (static or malloc'd into err_buf). */
SSL_CTX	*tlsctx_new(const struct conf *, char *err_buf, size_t err_len);
/*
 * Make sure <state_dir>/tls/cert.pem and key.pem exist for conf->fqdn,
 * generating an ECDSA P-256 self-signed certificate if not.  Returns the
 * paths (malloc'd).
 */
int	 tlsctx_selfsigned_ensure(const char *state_dir, const char *fqdn,
	    char **cert_r, char **key_r, char *err_buf, size_t err_len);
#endif
