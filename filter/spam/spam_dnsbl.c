/*
 * spam_dnsbl.c - DNS block- and allowlists (spam.dnsbl): the symbol of a
 * zone, what counts as a listing, and adding the listings found by the
 * filter (filter_auth.c asks "<reversed ip>.<zone>" A via dnsq at MAIL)
 * to a result.
 *
 * Owns nothing.  Threads: [any].
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spam.h"
#include "spam_private.h"

#define SPAM_DNSBL_WL_SUFFIX	":wl"

static bool
spam_dnsbl_is_wl(const char *entry, size_t *zlen_r)
{
	size_t	 len = strlen(entry), sl = strlen(SPAM_DNSBL_WL_SUFFIX);
	bool	 wl = false;

	if (len >= sl && strcasecmp(entry + len - sl,
	    SPAM_DNSBL_WL_SUFFIX) == 0) {
		len -= sl;
		wl = true;
	}
	if (zlen_r != NULL)
		*zlen_r = len;
	if (!wl) {
		const char	*p;

		for (p = entry; *p != '\0'; p++)
			if (strncasecmp(p, "dnswl", 5) == 0)
				return true;
	}
	return wl;
}

bool
spam_dnsbl_allowlist(const char *entry)
{
	return spam_dnsbl_is_wl(entry, NULL);
}

int
spam_dnsbl_zone(const char *entry, char *zone, size_t zsize, char *sym,
    size_t symsize, double *weight_r)
{
	size_t	 zlen, i, o;
	bool	 wl = spam_dnsbl_is_wl(entry, &zlen);
	char	 c;

	if (zlen == 0 || zlen >= zsize || symsize < 5 + zlen)
		return -1;
	memcpy(zone, entry, zlen);
	zone[zlen] = '\0';
	memcpy(sym, "RBL_", 4);
	o = 4;
	for (i = 0; i < zlen; i++) {
		c = entry[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9'))
			c = '_';
		sym[o++] = c;
	}
	sym[o] = '\0';
	if (weight_r != NULL)
		*weight_r = wl ? SPAM_DNSWL_WEIGHT : SPAM_DNSBL_WEIGHT;
	return 0;
}

bool
spam_dnsbl_listed(const char *entry, uint32_t a)
{
	uint32_t	 h = ntohl(a);

	/* dnswl.org answers 127.0.0.255 to blocked or over-limit
	 * resolvers: that lists nobody. */
	if (spam_dnsbl_is_wl(entry, NULL))
		return (h & 0xffff0000u) == 0x7f000000u && h != 0x7f0000ffu;
	return (h & 0xffffff00u) == 0x7f000000u;
}

void
spam_dnsbl_add(struct spam_result *r, const char *const *entries,
    const char *const *answers, size_t n)
{
	char	 zone[256], sym[260];
	double	 w;
	size_t	 i;
	bool	 added = false;

	for (i = 0; i < n; i++) {
		if (answers[i] == NULL || spam_dnsbl_zone(entries[i], zone,
		    sizeof(zone), sym, sizeof(sym), &w) == -1)
			continue;
		spam_result_add(r, sym, 1.0, w, answers[i]);
		added = true;
	}
	if (added)
		spam_result_finish(r);
}
