/*
 * srs.c - Sender Rewriting Scheme (forward and reverse) with the exact
 * libsrs2 algorithm that PostSRSd 1.x uses, checked against postsrsd and
 * Mail::SRS (tests/data/srs/vectors.tsv).
 *
 * libsrs2 quirks kept on purpose, because they decide which addresses
 * reverse: the local part is split at '=' only (the separator after
 * "SRS0"/"SRS1" may be '=', '-' or '+'); the address is split at its
 * first '@'; SRS1 keeps the inner separator ("==HHHH" or "=+HHHH");
 * fields are lower-cased (ASCII) before hashing, the hash is compared
 * case-insensitively on its first 4 characters (a longer hash passes if
 * its prefix does); the SRS1 reversal checks no timestamp; forward leaves
 * alone any address that already reverses with our secrets, whatever its
 * domain ("Already rewritten").
 *
 * One deviation: libsrs2 takes "SRS0@x" and "SRS1@x" (no separator) for
 * SRS addresses and reads past the string (undefined behaviour); here
 * they are plain local parts.
 *
 * Owns struct srs (domain and copies of the secrets, wiped on free).
 * Immutable after srs_new(): every function is pure and thread-safe.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "xmalloc.h"
#include "srs.h"

#define SRS_HASH_LEN		4	/* base64 characters */
#define SRS_STAMP_LEN		2	/* base32 characters */
#define SRS_PRECISION		86400	/* one timestamp tick: a day */
#define SRS_STAMP_SLOTS		1024	/* 2 base32 characters */
#define SRS_SECRETS_MAX		1000	/* lines in a secrets file */
#define SRS_SEPARATORS		"=-+"

struct srs {
	char		*domain;
	char		**secrets;
	size_t		 nsecrets;
	unsigned int	 max_age;	/* days */
};

static const char srs_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char srs_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* libsrs2's srs_strerror() texts, so logs read the same as postsrsd's. */
#define SRS_E_NOTSRS	"Not an SRS address."
#define SRS_E_TOOLONG	"Buffer too small."
#define SRS_E_S0HOST	"No host in SRS0 address."
#define SRS_E_S0USER	"No user in SRS0 address."
#define SRS_E_S0HASH	"No hash in SRS0 address."
#define SRS_E_S0STAMP	"No timestamp in SRS0 address."
#define SRS_E_S1HOST	"No host in SRS1 address."
#define SRS_E_S1USER	"No user in SRS1 address."
#define SRS_E_S1HASH	"No hash in SRS1 address."
#define SRS_E_STAMPCHAR	"Bad base32 character in timestamp."
#define SRS_E_SHORT	"Hash too short in SRS address."
#define SRS_E_EXPIRED	"Time stamp out of date."
#define SRS_E_HASH	"Hash invalid in SRS address."

static __thread char	 srs_errbuf[512];

/*
 * HMAC-SHA1 over the ASCII-lower-cased concatenation of the n fields
 * with secret number idx, as base64 cut to SRS_HASH_LEN characters.
 * The fields are pieces of one address, so they fit in SRS_ADDR_MAX
 * plus the timestamp.
 */
static void
srs_hash(const struct srs *srs, size_t idx, const char *const *fields,
    size_t n, char out[SRS_HASH_LEN + 1])
{
	unsigned char	 data[SRS_ADDR_MAX + SRS_STAMP_LEN + 1];
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	size_t		 len = 0, i;
	const char	*p;
	const char	*key = srs->secrets[idx];

	for (i = 0; i < n; i++)
		for (p = fields[i]; *p != '\0' && len < sizeof(data); p++)
			data[len++] = (unsigned char)(*p >= 'A' && *p <= 'Z' ?
			    *p - 'A' + 'a' : *p);
	if (HMAC(EVP_sha1(), key, (int)strlen(key), data, len, md,
	    &mdlen) == NULL || mdlen < 3)
		abort();	/* SHA-1 missing from libcrypto: no recovery */
	/* 4 base64 characters cover the first 3 digest bytes exactly. */
	out[0] = srs_b64[md[0] >> 2];
	out[1] = srs_b64[((md[0] & 0x03) << 4) | (md[1] >> 4)];
	out[2] = srs_b64[((md[1] & 0x0f) << 2) | (md[2] >> 6)];
	out[3] = srs_b64[md[2] & 0x3f];
	out[4] = '\0';
	explicit_bzero(data, len);
}

/* Does hash (4+ characters) match under any secret, ignoring case? */
static const char *
srs_hash_check(const struct srs *srs, const char *hash,
    const char *const *fields, size_t n)
{
	char		 want[SRS_HASH_LEN + 1], got[SRS_HASH_LEN];
	size_t		 i, j;
	int		 ok = 0;

	if (strlen(hash) < SRS_HASH_LEN)
		return SRS_E_SHORT;
	for (j = 0; j < SRS_HASH_LEN; j++)
		got[j] = (char)tolower((unsigned char)hash[j]);
	for (i = 0; i < srs->nsecrets; i++) {
		srs_hash(srs, i, fields, n, want);
		for (j = 0; j < SRS_HASH_LEN; j++)
			want[j] = (char)tolower((unsigned char)want[j]);
		ok |= CRYPTO_memcmp(want, got, SRS_HASH_LEN) == 0;
	}
	return ok ? NULL : SRS_E_HASH;
}

static uint64_t
srs_day(time_t now)
{
	return now < 0 ? 0 : (uint64_t)now / SRS_PRECISION;
}

static void
srs_stamp(time_t now, char out[SRS_STAMP_LEN + 1])
{
	uint64_t	 d = srs_day(now);

	out[1] = srs_b32[d & 31];
	out[0] = srs_b32[(d >> 5) & 31];
	out[2] = '\0';
}

/* libsrs2 srs_timestamp_check(): the length is checked first. */
static const char *
srs_stamp_check(const struct srs *srs, const char *stamp, time_t now)
{
	const char	*p, *v;
	uint64_t	 then = 0, today;

	if (strlen(stamp) != SRS_STAMP_LEN)
		return SRS_E_EXPIRED;
	for (p = stamp; *p != '\0'; p++) {
		if ((v = strchr(srs_b32, toupper((unsigned char)*p))) == NULL)
			return SRS_E_STAMPCHAR;
		then = (then << 5) | (uint64_t)(v - srs_b32);
	}
	today = srs_day(now) % SRS_STAMP_SLOTS;
	while (today < then)
		today += SRS_STAMP_SLOTS;
	return today <= then + srs->max_age ? NULL : SRS_E_EXPIRED;
}

bool
srs_is_srs(const char *addr)
{
	return strncasecmp(addr, "SRS", 3) == 0 &&
	    (addr[3] == '0' || addr[3] == '1') &&
	    addr[4] != '\0' && strchr(SRS_SEPARATORS, addr[4]) != NULL;
}

int
srs_reverse(const struct srs *srs, const char *addr, time_t now,
    char **out_r, const char **error_r)
{
	char		 buf[SRS_ADDR_MAX + 1];
	char		*hash, *stamp, *host, *user, *p;
	const char	*err, *fields[3];

	*out_r = NULL;
	if (!srs_is_srs(addr)) {
		*error_r = SRS_E_NOTSRS;
		return -1;
	}
	if (strlen(addr) > SRS_ADDR_MAX) {
		*error_r = SRS_E_TOOLONG;
		return -1;
	}
	memcpy(buf, addr, strlen(addr) + 1);
	/* The domain plays no part in the reversal. */
	if ((p = strchr(buf, '@')) != NULL)
		*p = '\0';
	hash = buf + 5;
	if (buf[3] == '1') {
		if (*hash == '\0') {
			*error_r = SRS_E_S1HASH;
			return -1;
		}
		if ((host = strchr(hash, '=')) == NULL) {
			*error_r = SRS_E_S1HOST;
			return -1;
		}
		*host++ = '\0';
		if ((user = strchr(host, '=')) == NULL) {
			*error_r = SRS_E_S1USER;
			return -1;
		}
		*user++ = '\0';
		fields[0] = host;
		fields[1] = user;
		if ((err = srs_hash_check(srs, hash, fields, 2)) != NULL) {
			*error_r = err;
			return -1;
		}
		*out_r = xasprintf("SRS0%s@%s", user, host);
		return 0;
	}
	if (*hash == '\0') {
		*error_r = SRS_E_S0HASH;
		return -1;
	}
	if ((stamp = strchr(hash, '=')) == NULL) {
		*error_r = SRS_E_S0STAMP;
		return -1;
	}
	*stamp++ = '\0';
	if ((host = strchr(stamp, '=')) == NULL) {
		*error_r = SRS_E_S0HOST;
		return -1;
	}
	*host++ = '\0';
	if ((user = strchr(host, '=')) == NULL) {
		*error_r = SRS_E_S0USER;
		return -1;
	}
	*user++ = '\0';
	if ((err = srs_stamp_check(srs, stamp, now)) != NULL) {
		*error_r = err;
		return -1;
	}
	fields[0] = stamp;
	fields[1] = host;
	fields[2] = user;
	if ((err = srs_hash_check(srs, hash, fields, 3)) != NULL) {
		*error_r = err;
		return -1;
	}
	*out_r = xasprintf("%s@%s", user, host);
	return 0;
}

/* "SRS0" or "SRS1" (any case) and a separator: libsrs2's guarded test. */
static bool
srs_tagged(const char *user, char digit)
{
	return strncasecmp(user, "SRS", 3) == 0 && user[3] == digit &&
	    user[4] != '\0' && strchr(SRS_SEPARATORS, user[4]) != NULL;
}

int
srs_forward(const struct srs *srs, const char *addr, time_t now,
    char **out_r)
{
	char		 user[SRS_ADDR_MAX + 1], hash[SRS_HASH_LEN + 1];
	char		 stamp[SRS_STAMP_LEN + 1];
	char		*out = NULL, *h, *s1host, *s1user;
	const char	*at, *host, *err, *fields[3];
	size_t		 len = strlen(addr);

	*out_r = NULL;
	if (len > SRS_ADDR_MAX || (at = strchr(addr, '@')) == NULL)
		goto unchanged;
	/* postsrsd: "Already rewritten" when it reverses with our secrets. */
	if (srs_is_srs(addr) && srs_reverse(srs, addr, now, &out, &err) == 0) {
		free(out);
		goto unchanged;
	}
	host = at + 1;
	if (strcasecmp(host, srs->domain) == 0)
		goto unchanged;
	memcpy(user, addr, (size_t)(at - addr));
	user[at - addr] = '\0';

	if (srs_tagged(user, '1')) {
		/* Re-sign the SRS1 fields with our secret, drop its hash. */
		h = user + 5;
		if (*h == '\0' || (s1host = strchr(h, '=')) == NULL)
			goto unchanged;
		*s1host++ = '\0';
		if ((s1user = strchr(s1host, '=')) == NULL)
			goto unchanged;
		*s1user++ = '\0';
		fields[0] = s1host;
		fields[1] = s1user;
		srs_hash(srs, 0, fields, 2, hash);
		out = xasprintf("SRS1=%s=%s=%s@%s", hash, s1host, s1user,
		    srs->domain);
	} else if (srs_tagged(user, '0')) {
		/* Wrap: the SRS0 host and the SRS0 user after "SRS0". */
		fields[0] = host;
		fields[1] = user + 4;
		srs_hash(srs, 0, fields, 2, hash);
		out = xasprintf("SRS1=%s=%s=%s@%s", hash, host, user + 4,
		    srs->domain);
	} else {
		srs_stamp(now, stamp);
		fields[0] = stamp;
		fields[1] = host;
		fields[2] = user;
		srs_hash(srs, 0, fields, 3, hash);
		out = xasprintf("SRS0=%s=%s=%s=%s@%s", hash, stamp, host, user,
		    srs->domain);
	}
	if (strlen(out) > SRS_ADDR_MAX) {
		free(out);
		goto unchanged;
	}
	*out_r = out;
	return 1;
unchanged:
	*out_r = xstrdup(addr);
	return 0;
}

static bool
srs_secret_ok(const char *s)
{
	return *s != '\0' && strlen(s) <= SRS_SECRET_MAX &&
	    strpbrk(s, "\r\n") == NULL;
}

int
srs_new(const char *domain, const char *const *secrets, size_t nsecrets,
    unsigned int max_age_days, struct srs **srs_r, const char **error_r)
{
	struct srs	*srs;
	const char	*p;
	size_t		 i;

	*srs_r = NULL;
	if (domain == NULL || *domain == '\0' || strlen(domain) > 255) {
		*error_r = "srs: domain must have 1 to 255 characters";
		return -1;
	}
	for (p = domain; *p != '\0'; p++)
		if (*p == '@' || *p == '=' || (unsigned char)*p <= ' ' ||
		    (unsigned char)*p >= 0x7f) {
			*error_r = "srs: domain must be a plain domain name";
			return -1;
		}
	if (nsecrets == 0 || nsecrets > SRS_SECRETS_MAX) {
		*error_r = "srs: need 1 to 1000 secrets";
		return -1;
	}
	for (i = 0; i < nsecrets; i++)
		if (secrets[i] == NULL || !srs_secret_ok(secrets[i])) {
			*error_r = "srs: a secret must have 1 to 1022 "
			    "characters and no CR or LF";
			return -1;
		}
	if (max_age_days > 1000) {
		*error_r = "srs: max_age_days must be at most 1000";
		return -1;
	}
	srs = xcalloc(1, sizeof(*srs));
	srs->domain = xstrdup(domain);
	srs->secrets = xcalloc(nsecrets, sizeof(*srs->secrets));
	for (i = 0; i < nsecrets; i++)
		srs->secrets[i] = xstrdup(secrets[i]);
	srs->nsecrets = nsecrets;
	srs->max_age = max_age_days == 0 ? SRS_MAX_AGE_DEFAULT : max_age_days;
	*srs_r = srs;
	return 0;
}

void
srs_free(struct srs **srsp)
{
	struct srs	*srs = *srsp;
	size_t		 i;

	if (srs == NULL)
		return;
	for (i = 0; i < srs->nsecrets; i++) {
		explicit_bzero(srs->secrets[i], strlen(srs->secrets[i]));
		free(srs->secrets[i]);
	}
	free(srs->secrets);
	free(srs->domain);
	free(srs);
	*srsp = NULL;
}

const char *
srs_domain(const struct srs *srs)
{
	return srs->domain;
}

void
srs_secrets_free(char ***secretsp)
{
	char		**v = *secretsp;
	size_t		 i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++) {
		explicit_bzero(v[i], strlen(v[i]));
		free(v[i]);
	}
	free(v);
	*secretsp = NULL;
}

static int
srs_load_fail(FILE *fp, char **v, const char *path, unsigned int line,
    const char *what, const char **error_r)
{
	if (line > 0)
		snprintf(srs_errbuf, sizeof(srs_errbuf),
		    "srs secrets file %s line %u: %s", path, line, what);
	else
		snprintf(srs_errbuf, sizeof(srs_errbuf),
		    "srs secrets file %s: %s", path, what);
	*error_r = srs_errbuf;
	srs_secrets_free(&v);
	if (fp != NULL)
		fclose(fp);
	return -1;
}

int
srs_load_secrets_blocking(const char *path, char ***secrets_r,
    size_t *nsecrets_r, const char **error_r)
{
	FILE		*fp;
	char		*line = NULL, *s;
	char		**v;
	size_t		 cap = 0, n = 0, len;
	ssize_t		 got;
	unsigned int	 lineno = 0;
	const char	*err = NULL;

	*secrets_r = NULL;
	*nsecrets_r = 0;
	if ((fp = fopen(path, "re")) == NULL)
		return srs_load_fail(NULL, NULL, path, 0, strerror(errno),
		    error_r);
	v = xcalloc(1, sizeof(*v));
	while (err == NULL && (got = getline(&line, &cap, fp)) != -1) {
		lineno++;
		len = (size_t)got;
		if (strlen(line) != len)
			err = "NUL byte in secret";
		else {
			/* As postsrsd: strtok(line, "\r\n"), the first token. */
			s = line + strspn(line, "\r\n");
			s[strcspn(s, "\r\n")] = '\0';
			if (*s == '\0')
				continue;	/* empty: skipped */
			if (strlen(s) > SRS_SECRET_MAX)
				err = "secret longer than 1022 characters";
			else if (n >= SRS_SECRETS_MAX)
				err = "more than 1000 secrets";
			else {
				v = xreallocarray(v, n + 2, sizeof(*v));
				v[n++] = xstrdup(s);
				v[n] = NULL;
			}
		}
		explicit_bzero(line, len);
	}
	free(line);
	if (err != NULL)
		return srs_load_fail(fp, v, path, lineno, err, error_r);
	if (ferror(fp))
		return srs_load_fail(fp, v, path, 0, "read error", error_r);
	fclose(fp);
	if (n == 0)
		return srs_load_fail(NULL, v, path, 0, "no secret in file",
		    error_r);
	*secrets_r = v;
	*nsecrets_r = n;
	return 0;
}
