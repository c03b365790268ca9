/*
 * dkim.h - DKIM signatures (RFC 6376) with rsa-sha256 and ed25519-sha256
 * (RFC 8463): tag lists, canonicalization, signing, verification, and
 * the key files Simple NixOS Mailserver (opendkim-genkey) writes.
 *
 * Pure code: no DNS and no sockets.  The caller resolves
 * "<selector>._domainkey.<domain>" TXT records and hands in their text.
 * Every object belongs to one thread at a time; keys (EVP_PKEY) may be
 * shared read-only between threads.  [any]
 */
#ifndef DKIM_H
#define DKIM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

struct buf;

/* Limits (RFC 6376 3.2, 6.1: verifiers may bound their work). */
#define DKIM_TAGS_MAX		64	/* tags in one tag-list */
#define DKIM_TAGLIST_MAX	16384	/* bytes in one tag-list */
#define DKIM_H_MAX		128	/* names in h= */
#define DKIM_SIGS_MAX		16	/* signatures checked per message */
#define DKIM_HEADER_MAX		(256 * 1024)	/* header block buffered */
#define DKIM_RSA_MIN_BITS	1024	/* RFC 8301 3.2 */
#define DKIM_RSA_MAX_BITS	8192

enum dkim_canon { DKIM_CANON_SIMPLE = 0, DKIM_CANON_RELAXED };
enum dkim_key_type { DKIM_KEY_RSA = 0, DKIM_KEY_ED25519 };

/* ---- tag lists (RFC 6376 3.2) --------------------------------------- */

struct dkim_tags;		/* parsed tag=value list (opaque) */

/*
 * Parse a tag-list.  Strict: a duplicate tag name, an empty tag-spec,
 * a bad tag name, a character outside VALCHAR or bare CR/LF fails.
 * Values keep inner folding whitespace; surrounding FWS is dropped.
 */
int	 dkim_tags_parse(const char *, size_t, struct dkim_tags **tags_r,
	    const char **error_r);
/* NUL-terminated value of tag name (case-sensitive), or NULL. */
const char *dkim_tags_get(const struct dkim_tags *, const char *name);
size_t	 dkim_tags_count(const struct dkim_tags *);
/* i-th tag in input order; NULL past the end. */
const char *dkim_tags_name(const struct dkim_tags *, size_t i);
void	 dkim_tags_free(struct dkim_tags **);

/* ---- canonicalization (RFC 6376 3.4) -------------------------------- */

struct dkim_body;		/* streaming body canonicalizer + SHA-256 */

/* limit: hash at most this many canonical bytes (l=); -1: no limit. */
struct dkim_body *dkim_body_new(enum dkim_canon, int64_t limit);
/* Feed body bytes in any chunking; CRLF or bare LF ends a line. */
void	 dkim_body_feed(struct dkim_body *, const void *, size_t);
/*
 * Finish: the SHA-256 of the canonical body (up to limit) and the full
 * canonical length (not limited).  The object is freed.
 */
void	 dkim_body_finish(struct dkim_body **, unsigned char hash_r[32],
	    uint64_t *canon_len_r);
void	 dkim_body_free(struct dkim_body **);
/* Append the canonical form of one header field (raw, with or without
 * its final CRLF) to out, followed by CRLF if crlf. */
void	 dkim_canon_header(enum dkim_canon, const char *, size_t,
	    bool crlf, struct buf *out);

/* ---- keys ------------------------------------------------------------ */

/* PEM private key (PKCS#1 or PKCS#8), RSA >= 1024 bits or Ed25519. */
int	 dkim_key_load(const char *path, EVP_PKEY **key_r, const char **error_r);
/* bits: RSA modulus (1024..8192; 0 = 2048); ignored for Ed25519. */
int	 dkim_key_generate(enum dkim_key_type, int bits, EVP_PKEY **key_r,
	    const char **error_r);
/* "v=DKIM1; k=rsa; p=<base64 SPKI>" or "v=DKIM1; k=ed25519; p=<raw>". */
int	 dkim_key_dns_record(EVP_PKEY *, char **txt_r, const char **error_r);
/*
 * Write <dir>/<domain>.<selector>.key (PEM, mode 0600) and .txt (the
 * zone-file record in opendkim-genkey's layout), as SNM keeps them.
 * Refuses to overwrite an existing .key.
 */
int	 dkim_key_write_files(EVP_PKEY *, const char *dir, const char *domain,
	    const char *selector, const char **error_r);
/* Parse a DNS key record (RFC 6376 3.6.1) into a public key. */
int	 dkim_key_parse_record(const char *txt, enum dkim_key_type *type_r,
	    EVP_PKEY **key_r, const char **error_r);

/* ---- signing (RFC 6376 5, RFC 8463 3) -------------------------------- */

/*
 * Sign a CRLF message.  *header_r is a malloc'd folded field
 * "DKIM-Signature: ...\r\n" (ends in CRLF) for the caller to prepend.
 * rsa-sha256 or ed25519-sha256 follows the key; t= is now.  h= lists
 * From one extra time (oversigning) plus the usual headers present.
 */
int	 dkim_sign(EVP_PKEY *, const char *domain, const char *selector,
	    enum dkim_canon hcanon, enum dkim_canon bcanon, const char *msg,
	    size_t len, char **header_r, const char **error_r);
/* As dkim_sign with an explicit t= (tests, reproducible output). */
int	 dkim_sign_at(EVP_PKEY *, const char *domain, const char *selector,
	    enum dkim_canon hcanon, enum dkim_canon bcanon, const char *msg,
	    size_t len, time_t now, char **header_r, const char **error_r);

/* ---- verification (RFC 6376 6) ---------------------------------------- */

enum dkim_status {
	DKIM_PASS = 0,
	DKIM_FAIL,		/* bad signature or body hash mismatch */
	DKIM_NEUTRAL,		/* not evaluated (limit) */
	DKIM_PERMERROR,		/* syntax, key, algorithm, expiry */
	DKIM_TEMPERROR		/* the key lookup failed temporarily */
};

enum dkim_dns {
	DKIM_DNS_OK = 0,	/* *txt_r set (malloc'd; dkim frees it) */
	DKIM_DNS_NONE,		/* NXDOMAIN / no TXT record */
	DKIM_DNS_TEMPFAIL	/* SERVFAIL, timeout */
};

/* Return the TXT record text of name ("<s>._domainkey.<d>"). */
typedef enum dkim_dns dkim_lookup_fn(const char *name, void *arg,
    char **txt_r);

struct dkim_result {
	enum dkim_status status;
	char		*domain;	/* d=, NULL if unusable */
	char		*selector;	/* s=, NULL if unusable */
	char		*reason;	/* human readable, no quotes */
	char		*ar;		/* "dkim=pass header.d=... header.s=... header.b=..." */
};

struct dkim_verify;		/* one message being verified (opaque) */

struct dkim_verify *dkim_verify_new(time_t now);
/* Feed the whole message (headers, blank line, body) in any chunking. */
void	 dkim_verify_feed(struct dkim_verify *, const void *, size_t);
/*
 * After feeding: the key names to resolve (so a caller with async DNS
 * can resolve them all before dkim_verify_finish).  NULL entries are
 * signatures that need no lookup.  Valid until finish.
 */
size_t	 dkim_verify_count(struct dkim_verify *);
const char *dkim_verify_key_name(struct dkim_verify *, size_t i);
/*
 * Check every DKIM-Signature, top to bottom; one result each (none if
 * the message is unsigned).  Frees the verifier.
 */
void	 dkim_verify_finish(struct dkim_verify **, dkim_lookup_fn *, void *arg,
	    struct dkim_result **results_r, size_t *nresults_r);
/* All in one for a message in memory. */
void	 dkim_verify_message(const char *msg, size_t len, time_t now,
	    dkim_lookup_fn *, void *arg, struct dkim_result **results_r,
	    size_t *nresults_r);
void	 dkim_results_free(struct dkim_result **, size_t n);
const char *dkim_status_name(enum dkim_status);

/* ---- keyring (dkim_keyring.c) ----------------------------------------- */

struct conf;
struct dkim_keyring;		/* the signing keys of one generation (opaque) */

/*
 * [any, blocking: generation build, on a worker for a reload; one call
 * at a time per key_directory] For every dkim.domains selector load
 * key_file or <key_directory>/<domain>.<selector>.key; a missing key is
 * generated (rsa key_length bits or ed25519) and written with
 * dkim_key_write_files (.key mode 0600 and .txt).  The files belong to
 * the user the daemon runs as when this is called: at start that is
 * root, so main.c must chown key_directory and its files to run_as (or
 * a reload after the privilege drop cannot read or create them).
 * Returns -1 with a message in err.  dkim.enable false: an empty ring.
 */
int	 dkim_keyring_load(const struct conf *, struct dkim_keyring **kr_r,
	    char *err, size_t errlen);
void	 dkim_keyring_free(struct dkim_keyring **);
/* [any, read-only] Number of selectors for domain (case-insensitive). */
size_t	 dkim_keyring_count(const struct dkim_keyring *, const char *domain);
/* [any] The i-th selector of domain and its key (shared, do not free). */
int	 dkim_keyring_get(const struct dkim_keyring *, const char *domain,
	    size_t i, const char **selector_r, EVP_PKEY **key_r);
/* [any] Total keys held (tests, logs). */
size_t	 dkim_keyring_size(const struct dkim_keyring *);
#endif
