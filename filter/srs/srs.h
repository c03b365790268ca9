/*
 * srs.h - Sender Rewriting Scheme, byte-compatible with PostSRSd 1.x and
 * libsrs2 / Mail::SRS (the "Guarded" scheme), so addresses minted by a
 * postsrsd installation still reverse after a migration, and ours reverse
 * in postsrsd.
 *
 *   SRS0=HHHH=TT=orig.domain=local@our.domain
 *   SRS1=HHHH=srs0host==HHHH0=TT=dom=local@our.domain
 *
 * HHHH is base64(HMAC-SHA1(secret, lc(fields...)))[0:4], TT the day
 * number mod 1024 in base32 (A-Z2-7).  The first secret signs; every
 * secret verifies, so secrets can be rotated as with postsrsd.
 *
 * A struct srs is immutable once built: srs_forward(), srs_reverse() and
 * srs_is_srs() are pure, take the clock as an argument and may be called
 * from any thread at once.  [any]  srs_load_secrets_blocking() reads a
 * file: [worker] or start-up only.
 */
#ifndef SRS_H
#define SRS_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct srs;				/* opaque, immutable once built */

#define SRS_MAX_AGE_DEFAULT	21	/* days, as libsrs2 and postsrsd */
#define SRS_ADDR_MAX		1023	/* postsrsd's 1024-byte buffers */
#define SRS_SECRET_MAX		1022	/* postsrsd reads 1023-byte lines */

/*
 * [worker] Read a postsrsd secrets file: one secret per line, CR/LF
 * stripped, empty lines skipped (no comments: a '#' line is a secret,
 * as in postsrsd).  *secrets_r is a NULL-terminated array owned by the
 * caller (srs_secrets_free()).  Fails on I/O errors, a line longer than
 * SRS_SECRET_MAX, a NUL byte, or a file without any secret.
 */
int	 srs_load_secrets_blocking(const char *path, char ***secrets_r,
	    size_t *nsecrets_r, const char **error_r);
/* [any] Wipe and free what srs_load_secrets_blocking() returned. */
void	 srs_secrets_free(char ***secrets);

/*
 * [any] Build a rewriter for domain (no '@'; the SRS addresses live
 * there).  secrets[0] signs, all nsecrets verify; they are copied.
 * max_age_days: how many days a timestamp stays valid (0 = the default
 * 21, at most 1000).
 */
int	 srs_new(const char *domain, const char *const *secrets,
	    size_t nsecrets, unsigned int max_age_days, struct srs **srs_r,
	    const char **error_r);
void	 srs_free(struct srs **);	/* [any] wipes secrets, sets NULL */
const char *srs_domain(const struct srs *);

/*
 * [any] Does addr look like an SRS address ("SRS0" or "SRS1", any case,
 * then one of '=', '-', '+')?  It says nothing about the hash.
 */
bool	 srs_is_srs(const char *addr);

/*
 * [any] Rewrite an envelope sender for forwarding at time now.
 * Returns 1 and *out_r = the SRS address when rewritten: SRS0 for a
 * plain address, SRS1 for an SRS0/SRS1 address of another domain.
 * Returns 0 and *out_r = a copy of addr when it is left alone, as
 * postsrsd does: the address is already in our domain, is already a
 * valid SRS address of ours, has no '@' (the null sender), or is longer
 * than SRS_ADDR_MAX.  *out_r is always set and must be freed.
 */
int	 srs_forward(const struct srs *, const char *addr, time_t now,
	    char **out_r);

/*
 * [any] Undo one SRS step at time now (only the local part is looked
 * at; the domain is ignored, as in libsrs2).  SRS0 gives the original
 * sender; SRS1 gives the SRS0 address at the first forwarder's domain.
 * The hash is compared case-insensitively (first 4 characters; shorter
 * is an error); the timestamp must be at most max_age_days old and not
 * in the future.  Returns 0 with *out_r (free it), or -1 with
 * *out_r = NULL and *error_r = libsrs2's message ("Hash invalid in SRS
 * address.", "Time stamp out of date.", "Not an SRS address.", ...).
 */
int	 srs_reverse(const struct srs *, const char *addr, time_t now,
	    char **out_r, const char **error_r);
#endif
