/*
 * dmarc_psl.c - the Public Suffix List (publicsuffix.org, format of
 * https://github.com/publicsuffix/list/wiki/Format) and the
 * organizational domain of RFC 7489 3.2.  Rules live in one hash map,
 * keyed by the rule without its "*." or "!" prefix, valued by a bit set
 * of rule kinds.  Owns the struct dmarc_psl; immutable after load, so
 * lookups may run on any thread.  [any]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "str.h"
#include "xmalloc.h"
#include "dmarc.h"

#define PSL_NORMAL	0x1
#define PSL_WILDCARD	0x2	/* "*.key" */
#define PSL_EXCEPTION	0x4	/* "!key" */
#define PSL_LINE_MAX	512

struct dmarc_psl {
	struct hmap	*rules;
};

static void
dmarc_psl_add(struct dmarc_psl *psl, const char *key, uintptr_t kind)
{
	uintptr_t	 old;

	old = (uintptr_t)hmap_get(psl->rules, key, strlen(key));
	hmap_put(psl->rules, key, strlen(key), (void *)(old | kind));
}

int
dmarc_psl_load(const char *path, struct dmarc_psl **psl_r,
    const char **error_r)
{
	struct dmarc_psl	*psl;
	FILE			*fp;
	char			 line[PSL_LINE_MAX], *s;
	size_t			 len;

	*psl_r = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		*error_r = strerror(errno);
		return -1;
	}
	psl = xcalloc(1, sizeof(*psl));
	psl->rules = hmap_new();
	while (fgets(line, sizeof(line), fp) != NULL) {
		/* A rule is the first whitespace-free run of the line. */
		s = line + strspn(line, " \t");
		len = strcspn(s, " \t\r\n");
		s[len] = '\0';
		if (len == 0 || (s[0] == '/' && s[1] == '/'))
			continue;
		str_lower(s);
		while (len > 0 && s[len - 1] == '.')
			s[--len] = '\0';
		if (s[0] == '!' && s[1] != '\0')
			dmarc_psl_add(psl, s + 1, PSL_EXCEPTION);
		else if (s[0] == '*' && s[1] == '.' && s[2] != '\0')
			dmarc_psl_add(psl, s + 2, PSL_WILDCARD);
		else if (s[0] == '*' && s[1] == '\0')
			continue;	/* the implicit default rule */
		else
			dmarc_psl_add(psl, s, PSL_NORMAL);
	}
	if (ferror(fp)) {
		*error_r = "read error";
		fclose(fp);
		dmarc_psl_free(&psl);
		return -1;
	}
	fclose(fp);
	if (hmap_count(psl->rules) == 0) {
		*error_r = "no rules in file";
		dmarc_psl_free(&psl);
		return -1;
	}
	*psl_r = psl;
	return 0;
}

size_t
dmarc_psl_nrules(const struct dmarc_psl *psl)
{
	return hmap_count(psl->rules);
}

void
dmarc_psl_free(struct dmarc_psl **pslp)
{
	struct dmarc_psl	*psl = *pslp;

	if (psl == NULL)
		return;
	hmap_free(&psl->rules, NULL);
	free(psl);
	*pslp = NULL;
}

static uintptr_t
dmarc_psl_kind(const struct dmarc_psl *psl, const char *key)
{
	return (uintptr_t)hmap_get(psl->rules, key, strlen(key));
}

char *
dmarc_psl_org_domain(const struct dmarc_psl *psl, const char *domain)
{
	char		*d, *p;
	const char	*lab[128];
	size_t		 n = 0, len, i, suffix = 1;
	uintptr_t	 k;

	d = xstrdup(domain);
	str_lower(d);
	len = strlen(d);
	while (len > 0 && d[len - 1] == '.')
		d[--len] = '\0';
	/* lab[i] points at the start of the i-th label from the left. */
	for (p = d; *p != '\0' && n < sizeof(lab) / sizeof(lab[0]);) {
		lab[n++] = p;
		if ((p = strchr(p, '.')) == NULL)
			break;
		p++;
	}
	if (n == 0 || n == sizeof(lab) / sizeof(lab[0]))
		return d;
	/*
	 * The longest matching rule wins; an exception rule beats all and
	 * makes its parent the suffix.  No match: "*", one label.
	 */
	if (psl != NULL) {
		for (i = n; i-- > 0;) {
			size_t	 labels = n - i;	/* lab[i].. */

			k = dmarc_psl_kind(psl, lab[i]);
			if (k & PSL_EXCEPTION) {
				suffix = labels - 1;
				break;
			}
			if (k & PSL_NORMAL)
				suffix = labels > suffix ? labels : suffix;
			if (i + 1 < n && (dmarc_psl_kind(psl, lab[i + 1]) &
			    PSL_WILDCARD))
				suffix = labels > suffix ? labels : suffix;
		}
	}
	if (suffix >= n) {
		/* The domain is itself a public suffix. */
		return d;
	}
	p = xstrdup(lab[n - suffix - 1]);
	free(d);
	return p;
}
