/*
 * sieve_match.c - Sieve comparators and match types: i;octet,
 * i;ascii-casemap and i;ascii-numeric (RFC 4790 9.3, 9.2, 9.1), :is,
 * :contains and :matches (RFC 5228 2.7.1), :regex (draft-ietf-sieve-regex,
 * through PCRE2) and the relational operators of :value (RFC 5231 4).
 *
 * Owns no state; capture strings handed out in struct sieve_caps belong
 * to the caller.  Pure code [any].
 */
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "sieve_private.h"
#include "xmalloc.h"

#define SIEVE_REGEX_MATCH_LIMIT	100000
#define SIEVE_REGEX_DEPTH_LIMIT	1000

static int
sieve_fold(enum sieve_cmp cmp, int c)
{
	c = (unsigned char)c;
	if (cmp == SIEVE_CMP_CASEMAP && c >= 'a' && c <= 'z')
		return c - 'a' + 'A';
	return c;
}

void
sieve_match_caps_clear(struct sieve_caps *caps)
{
	size_t	 i;

	for (i = 0; i < SIEVE_MAX_MATCH_VARS; i++)
		xfree(caps->v[i]);
}

/*
 * i;ascii-numeric (RFC 4790 9.1.1): the value is the leading decimal
 * digits; a string that does not start with a digit is "positive
 * infinity" and equal to every other such string.  Compare without
 * converting so that long digit runs cannot overflow.
 */
static int
sieve_numeric_cmp(const char *a, const char *b)
{
	size_t	 la, lb;
	int	 ia, ib, r;

	ia = *a >= '0' && *a <= '9';
	ib = *b >= '0' && *b <= '9';
	if (!ia || !ib)
		return ia == ib ? 0 : (ia ? -1 : 1);
	while (*a == '0' && a[1] >= '0' && a[1] <= '9')
		a++;
	while (*b == '0' && b[1] >= '0' && b[1] <= '9')
		b++;
	for (la = 0; a[la] >= '0' && a[la] <= '9'; la++)
		;
	for (lb = 0; b[lb] >= '0' && b[lb] <= '9'; lb++)
		;
	if (la != lb)
		return la < lb ? -1 : 1;
	r = memcmp(a, b, la);
	return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

int
sieve_match_cmp_order(enum sieve_cmp cmp, const char *a, const char *b)
{
	int	 ca, cb;

	if (cmp == SIEVE_CMP_NUMERIC)
		return sieve_numeric_cmp(a, b);
	for (;; a++, b++) {
		ca = sieve_fold(cmp, *a);
		cb = sieve_fold(cmp, *b);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == 0)
			return 0;
	}
}

bool
sieve_match_is(enum sieve_cmp cmp, const char *a, const char *b)
{
	return sieve_match_cmp_order(cmp, a, b) == 0;
}

bool
sieve_match_contains(enum sieve_cmp cmp, const char *hay, const char *needle)
{
	size_t	 i;

	for (; ; hay++) {
		for (i = 0; needle[i] != '\0'; i++)
			if (sieve_fold(cmp, hay[i]) != sieve_fold(cmp, needle[i]))
				break;
		if (needle[i] == '\0')
			return true;
		if (*hay == '\0')
			return false;
	}
}

/* Length of the UTF-8 character at s (1 for stray bytes). */
static size_t
sieve_utf8_len(const char *s)
{
	size_t	 n = 1;

	while (((unsigned char)s[n] & 0xc0) == 0x80 && n < 4)
		n++;
	return n;
}

static void
sieve_cap_set(struct sieve_caps *caps, size_t i, const char *s, size_t len)
{
	if (caps == NULL || i >= SIEVE_MAX_MATCH_VARS)
		return;
	free(caps->v[i]);
	caps->v[i] = xstrndup(s, len);
}

/*
 * :matches (RFC 5228 2.7.1): '*' is zero or more characters, '?' one
 * character, '\' quotes the next one.  This is the linear two-cursor
 * algorithm with one backtrack point (the last '*'), so the run time is
 * O(len(pattern) * len(s)) at worst.  Earlier stars take the shortest
 * match, which gives the RFC 5229 3.2 example ("[*] *" on "[acme-users]
 * [fwd] ..." puts "acme-users" in ${1}).
 */
bool
sieve_match_glob(enum sieve_cmp cmp, const char *pat, const char *s,
    struct sieve_caps *caps_r)
{
	struct { size_t start, end; } cap[SIEVE_MAX_MATCH_VARS + 64];
	const size_t	 maxcap = sizeof(cap) / sizeof(cap[0]);
	size_t		 pi = 0, si = 0, k = 0, n;
	size_t		 star_pi = 0, star_si = 0, star_k = 0;
	bool		 have_star = false;

	while (s[si] != '\0' || pat[pi] != '\0') {
		if (pat[pi] == '*') {
			if (k < maxcap) {
				cap[k].start = si;
				cap[k].end = si;
			}
			have_star = true;
			star_pi = ++pi;
			star_si = si;
			star_k = k++;
			continue;
		}
		if (s[si] != '\0' && pat[pi] == '?') {
			n = sieve_utf8_len(s + si);
			if (k < maxcap) {
				cap[k].start = si;
				cap[k].end = si + n;
			}
			k++;
			pi++;
			si += n;
			continue;
		}
		if (s[si] != '\0' && pat[pi] != '\0' && pat[pi] != '?') {
			n = pat[pi] == '\\' && pat[pi + 1] != '\0' ? 1 : 0;
			if (sieve_fold(cmp, pat[pi + n]) ==
			    sieve_fold(cmp, s[si])) {
				pi += n + 1;
				si++;
				continue;
			}
		}
		if (!have_star || s[star_si] == '\0')
			return false;
		star_si += sieve_utf8_len(s + star_si);
		pi = star_pi;
		si = star_si;
		k = star_k + 1;
		if (star_k < maxcap)
			cap[star_k].end = star_si;
	}
	if (caps_r != NULL) {
		sieve_match_caps_clear(caps_r);
		sieve_cap_set(caps_r, 0, s, si);
		for (n = 0; n < k && n + 1 < SIEVE_MAX_MATCH_VARS; n++)
			sieve_cap_set(caps_r, n + 1, s + cap[n].start,
			    cap[n].end - cap[n].start);
	}
	return true;
}

int
sieve_match_regex(enum sieve_cmp cmp, const char *pat, const char *s,
    struct sieve_caps *caps_r, const char **error_r)
{
	pcre2_code		*re;
	pcre2_match_data	*md;
	pcre2_match_context	*mc;
	PCRE2_SIZE		 eoff, *ov;
	uint32_t		 opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	int			 ecode, rc, i;

	if (cmp == SIEVE_CMP_CASEMAP)
		opts |= PCRE2_CASELESS;
	re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts,
	    &ecode, &eoff, NULL);
	if (re == NULL) {
		*error_r = "invalid regular expression";
		return -1;
	}
	if (s == NULL) {		/* syntax check only */
		pcre2_code_free(re);
		return 0;
	}
	md = pcre2_match_data_create_from_pattern(re, NULL);
	mc = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(mc, SIEVE_REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(mc, SIEVE_REGEX_DEPTH_LIMIT);
	rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, mc);
	if (rc > 0 && caps_r != NULL) {
		sieve_match_caps_clear(caps_r);
		ov = pcre2_get_ovector_pointer(md);
		for (i = 0; i < rc && i < SIEVE_MAX_MATCH_VARS; i++) {
			if (ov[2 * i] == PCRE2_UNSET)
				continue;
			sieve_cap_set(caps_r, (size_t)i, s + ov[2 * i],
			    ov[2 * i + 1] - ov[2 * i]);
		}
	}
	pcre2_match_context_free(mc);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) {
		*error_r = "regular expression too complex";
		return -1;
	}
	return rc > 0 ? 1 : 0;
}

bool
sieve_match_rel(enum sieve_cmp cmp, enum sieve_rel rel, const char *value,
    const char *key)
{
	int	 r = sieve_match_cmp_order(cmp, value, key);

	switch (rel) {
	case SIEVE_REL_GT:
		return r > 0;
	case SIEVE_REL_GE:
		return r >= 0;
	case SIEVE_REL_LT:
		return r < 0;
	case SIEVE_REL_LE:
		return r <= 0;
	case SIEVE_REL_EQ:
		return r == 0;
	case SIEVE_REL_NE:
		return r != 0;
	}
	return false;
}
