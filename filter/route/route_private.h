/*
 * route_private.h - the compiled tables behind struct route, shared by
 * route.c, route_map.c and route_sender.c only.
 */
#ifndef ROUTE_PRIVATE_H
#define ROUTE_PRIVATE_H
#include <stdbool.h>
#include <stddef.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf.h"

/* One key of a map: a lower-cased address, "@domain" or a domain. */
struct route_ent {
	char			*key;
	const struct conf_account *acct;	/* key is this account's name */
	char			**vals;		/* lower-cased, unique */
	size_t			 nvals;
};

/* Open addressing, linear probing; built once, then read-only. */
struct route_map {
	struct route_ent	**slot;
	size_t			 cap;		/* power of two, or 0 */
	size_t			 n;
};

struct route_re {
	pcre2_code		*code;
	const struct conf_account *acct;
	const struct route_ent	*ent;		/* acct's entry in rcv */
};

struct route {
	const struct conf	*conf;
	struct route_map	 domains;	/* conf->domains */
	/*
	 * Receiving (SNM's "virtual" table): account names (acct set),
	 * account aliases -> name, top-level aliases and forwards -> their
	 * targets, and "@domain" keys from "@domain" aliases and catch_all.
	 */
	struct route_map	 rcv;
	/*
	 * Sending (SNM's "vaccounts", smtpd_sender_login_maps): address or
	 * "@domain" -> logins that own it: the account itself, its aliases,
	 * and the direct targets of top-level aliases.  No catch_all, no
	 * forwards.
	 */
	struct route_map	 snd;
	struct route_re		*re;		/* aliases_regexp in order */
	size_t			 nre;
	struct route_map	 rej_rcpt;	/* reject_recipients */
	struct route_map	 rej_sender;	/* reject_sender */
	char			*delim;		/* "": no subaddresses */
};

void	 route_map_free(struct route_map *);
/* Find key (already lower-cased); NULL if absent. */
struct route_ent *route_map_get(const struct route_map *, const char *key);
/* Find or insert key (copied, lower-cased). */
struct route_ent *route_map_add(struct route_map *, const char *key);
/* Append a copy of val, lower-cased, unless already there. */
void	 route_map_addval(struct route_ent *, const char *val);
bool	 route_map_hasval(const struct route_ent *, const char *val);

/*
 * Access-map style match (Postfix access(5)) of a lower-cased address
 * against entries: "a@d", "a+ext@d" by its stripped "a@d", "a@", "@d",
 * "d" (d and its subdomains), ".d" (subdomains only); "<>" matches "".
 */
bool	 route_access_match(const struct route *, const struct route_map *,
	    const char *addr);
/*
 * Split at the first delimiter character (Postfix split_addr): *base_r is
 * "local@domain" without the extension (caller frees), *detail_r its
 * offset into addr and *detail_len_r its length.  false: nothing to split.
 */
bool	 route_split(const struct route *, const char *addr, char **base_r,
	    size_t *detail_r, size_t *detail_len_r);
#endif
