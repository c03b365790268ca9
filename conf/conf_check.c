/*
 * conf_check.c - pure syntax checks for config values: domain names,
 * mail addresses, crypt(3) hash strings, and the edit distance behind
 * "did you mean".  No allocation that outlives a call, no I/O.  [any]
 */
#include <string.h>

#include "conf_private.h"

static bool
conf_check_ldh(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-';
}

/*
 * RFC 1035 host names as used for mail (RFC 5321 4.1.2 "Domain"): labels
 * of letters, digits and hyphens, 1-63 octets, not starting or ending in
 * a hyphen, 253 octets in all.  A single label ("localhost") is allowed
 * for development setups.  No trailing dot: addresses never carry one.
 */
int
conf_check_domain(const char *s, const char **error_r)
{
	size_t	 len = strlen(s), label = 0, i;

	if (len == 0) {
		*error_r = "empty domain";
		return -1;
	}
	if (len > 253) {
		*error_r = "domain longer than 253 characters";
		return -1;
	}
	for (i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0) {
				*error_r = "empty label in domain";
				return -1;
			}
			if (s[i - 1] == '-') {
				*error_r = "label ends with '-'";
				return -1;
			}
			label = 0;
			continue;
		}
		if (!conf_check_ldh(s[i])) {
			*error_r = "invalid character in domain";
			return -1;
		}
		if (label == 0 && s[i] == '-') {
			*error_r = "label starts with '-'";
			return -1;
		}
		if (++label > 63) {
			*error_r = "label longer than 63 characters";
			return -1;
		}
	}
	return 0;
}

/* RFC 5322 3.2.3 atext. */
static bool
conf_check_atext(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

/*
 * A dot-atom local part (RFC 5322 3.4.1) of at most 64 octets (RFC 5321
 * 4.5.3.1.1) and a domain.  Quoted local parts are not accepted: no
 * account should need one and they complicate every lookup.
 */
int
conf_check_address(const char *s, bool allow_at_domain, const char **error_r)
{
	const char	*at = strrchr(s, '@');
	size_t		 llen, i;

	if (at == NULL) {
		*error_r = "missing '@'";
		return -1;
	}
	llen = (size_t)(at - s);
	if (llen == 0 && !allow_at_domain) {
		*error_r = "empty local part";
		return -1;
	}
	if (llen > 64) {
		*error_r = "local part longer than 64 characters";
		return -1;
	}
	for (i = 0; i < llen; i++) {
		if (s[i] == '.') {
			if (i == 0 || i == llen - 1 || s[i - 1] == '.') {
				*error_r = "misplaced '.' in local part";
				return -1;
			}
			continue;
		}
		if (!conf_check_atext(s[i])) {
			*error_r = "invalid character in local part";
			return -1;
		}
	}
	return conf_check_domain(at + 1, error_r);
}

/*
 * Does it look like a crypt(3) string libxcrypt verifies?  We only
 * accept the strong, salted schemes: yescrypt ($y$, $gy$), scrypt ($7$),
 * sha512/sha256-crypt ($6$, $5$) and bcrypt ($2a$ $2b$ $2y$).  The
 * characters after the prefix come from crypt's alphabet; the real check
 * happens when crypt_r() parses it at login.
 */
int
conf_check_crypt(const char *s, const char **error_r)
{
	static const char *const prefixes[] = {
		"$y$", "$gy$", "$7$", "$6$", "$5$", "$2a$", "$2b$", "$2y$",
	};
	size_t	 i, plen = 0;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0) {
			plen = strlen(prefixes[i]);
			break;
		}
	if (plen == 0) {
		*error_r = "not a password hash: expected a crypt(3) string "
		    "starting with $y$, $gy$, $7$, $6$, $5$ or $2b$";
		return -1;
	}
	for (i = plen; s[i] != '\0'; i++)
		if (!conf_check_ldh(s[i]) && strchr("./$=,", s[i]) == NULL) {
			*error_r = "invalid character in password hash";
			return -1;
		}
	if (i < plen + 20 || strchr(s + plen, '$') == NULL) {
		*error_r = "truncated password hash";
		return -1;
	}
	return 0;
}

size_t
conf_check_distance(const char *a, const char *b, size_t max)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j;
	size_t	 row[64], prev, tmp, best;

	/* b is a known option name: short.  a may be anything. */
	if (lb >= sizeof(row) / sizeof(row[0]))
		return max + 1;
	if ((la > lb ? la - lb : lb - la) > max)
		return max + 1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		best = row[0];
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] == b[j - 1] ? 0 : 1);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
			if (row[j] < best)
				best = row[j];
		}
		if (best > max)
			return max + 1;
	}
	return row[lb];
}
