/*
 * auth_pw.c - crypt(3) password hashes through libxcrypt: verify a
 * password against a stored hash, make a new hash, tell a usable hash
 * from a locked or unknown one.
 *
 * Owns nothing beyond each call: struct crypt_data (about 32 KiB) lives on
 * the heap for one call and is wiped, since it holds password-derived
 * state.  Verify and hash are deliberately slow (yescrypt, bcrypt) and run
 * only on worker threads [worker]; auth_pw_scheme_known is cheap [any].
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "str.h"
#include "xmalloc.h"

/*
 * Default costs, chosen so that one check costs roughly 20-50 ms on a
 * small VPS core: yescrypt's own default (j9T), sha512-crypt at 100000
 * rounds (libxcrypt's 5000 is far too cheap), bcrypt at 2^10.
 */
#define AUTH_PW_SHA512_ROUNDS	100000
#define AUTH_PW_BCRYPT_COST	10

static bool
auth_pw_locked(const char *hash)
{
	/* "!" and "*" prefixes are the shadow(5) ways to lock an account. */
	return hash == NULL || hash[0] == '\0' || hash[0] == '!' ||
	    hash[0] == '*';
}

bool
auth_pw_scheme_known(const char *hash)
{
	int	 rc;

	/*
	 * Only "$id$" schemes: anything else would be read as traditional
	 * DES, which takes 8 characters of password and a 12-bit salt, so
	 * a cleartext password pasted by mistake is refused, not "hashed".
	 */
	if (auth_pw_locked(hash) || hash[0] != '$')
		return false;
	rc = crypt_checksalt(hash);
	/* Legacy "$1$" (MD5) still verifies so old accounts can migrate. */
	return rc == CRYPT_SALT_OK || rc == CRYPT_SALT_METHOD_LEGACY ||
	    rc == CRYPT_SALT_TOO_CHEAP;
}

bool
auth_pw_verify_blocking(const char *password, const char *hash)
{
	struct crypt_data	*cd;
	const char		*out;
	size_t			 hlen;
	bool			 ok = false;

	if (password == NULL || !auth_pw_scheme_known(hash))
		return false;
	if (strlen(password) > AUTH_PASSWORD_MAX)
		return false;
	cd = xcalloc(1, sizeof(*cd));
	out = crypt_r(password, hash, cd);
	/*
	 * On error libxcrypt returns NULL or a "*" failure token, which
	 * can never equal a hash we accepted above.  The hash length is
	 * not secret; the bytes are compared in constant time.
	 */
	hlen = strlen(hash);
	if (out != NULL && out[0] != '*' && strlen(out) == hlen)
		ok = str_ct_equal(out, hash, hlen);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int
auth_pw_hash_blocking(const char *password, const char *scheme,
    char **hash_r, const char **error_r)
{
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	*cd;
	const char		*prefix, *out;
	unsigned long		 count;

	*hash_r = NULL;
	if (password == NULL || strlen(password) > AUTH_PASSWORD_MAX) {
		*error_r = "password missing or too long";
		return -1;
	}
	if (scheme == NULL || *scheme == '\0' ||
	    strcasecmp(scheme, "yescrypt") == 0) {
		prefix = "$y$";
		count = 0;		/* libxcrypt's default cost */
	} else if (strcasecmp(scheme, "sha512") == 0 ||
	    strcasecmp(scheme, "sha512-crypt") == 0) {
		prefix = "$6$";
		count = AUTH_PW_SHA512_ROUNDS;
	} else if (strcasecmp(scheme, "bcrypt") == 0) {
		prefix = "$2b$";
		count = AUTH_PW_BCRYPT_COST;
	} else {
		*error_r = "unknown hash scheme (expected yescrypt, sha512 "
		    "or bcrypt)";
		return -1;
	}
	/* NULL rbytes: libxcrypt reads the salt from the kernel itself. */
	if (crypt_gensalt_rn(prefix, count, NULL, 0, setting,
	    sizeof(setting)) == NULL) {
		*error_r = "crypt_gensalt failed (scheme disabled?)";
		return -1;
	}
	cd = xcalloc(1, sizeof(*cd));
	out = crypt_r(password, setting, cd);
	if (out == NULL || out[0] == '*') {
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
		*error_r = "crypt_r failed";
		return -1;
	}
	*hash_r = xstrdup(out);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return 0;
}
