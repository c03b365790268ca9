/*
 * route.c - the recipient router: compiles the address tables of a
 * struct conf once (route_new) and answers, for one RCPT TO, which local
 * mailboxes and which remote addresses receive it (route_resolve), and,
 * for submission, whether a login may send as an address
 * (route_may_send_as).  Owns the compiled tables (route_map.c) and the
 * PCRE2 codes of aliases_regexp; borrows the conf, which must outlive it.
 * Everything after route_new() is a read-only in-memory lookup, callable
 * from any thread.  [any]
 *
 * Semantics are those of Simple NixOS Mailserver, which feeds Postfix one
 * merged virtual_alias_maps table ("virtual") of account names (mapped to
 * themselves), account aliases, extraVirtualAliases, catchAll ("@domain")
 * and forwards, plus a PCRE table of aliasesRegexp, and checks
 * denied_recipients (sendOnly) and rejectRecipients with
 * check_recipient_access before any of that.  For one address we look up,
 * as Postfix virtual(5) and mail_addr_find() do:
 *
 *   1. reject_recipients (access(5) style, see route_access_match());
 *   2. the domain: not one of `domains' -> ROUTE_NOT_LOCAL;
 *   3. a send_only account (its address or a subaddress of it) -> 550;
 *   4. the exact address in the merged table: every source is unioned,
 *      so an address that is an account and also has forwards gets the
 *      local copy and the forwards (SNM merges both into one entry); a
 *      forward of an address that is not an account keeps a local copy
 *      only if a local account is among its targets;
 *   5. aliases_regexp, first match in config order (a PCRE table stops
 *      at its first match too);
 *   6. "user+tag@d" -> "user@d" (the first character of any of
 *      recipient_delimiter splits, as Postfix allows), steps 4 and 5 again
 *      (Postfix queries regexp tables with the full address only: we also
 *      try the stripped one, which is what users expect); the tag becomes
 *      the delivery folder when save_to_detail_mailbox is set, which
 *      Postfix does by propagating the extension to the LMTP recipient
 *      and Dovecot by lmtp_save_to_detail_mailbox;
 *   7. "@domain" keys: "@domain" account aliases, top-level aliases and
 *      catch_all domains, last.
 *
 * Targets are expanded again the same way (alias -> alias chains), to at
 * most ROUTE_MAX_DEPTH levels, with loop detection on the current path; a
 * target outside our domains is a remote target (forward, to the queue).
 * Each account receives one copy (the first folder found wins), each
 * remote address is listed once.  A target account that is send_only is
 * dropped (it cannot receive); a target in our domains that resolves to
 * nothing is dropped with a warning.  If nothing at all is left the
 * recipient is refused.  Expansions past ROUTE_MAX_DEPTH or
 * ROUTE_MAX_TARGETS are refused with a temporary 451 4.3.0, so that a
 * config mistake defers mail instead of bouncing it (Postfix defers too).
 *
 * postmaster (RFC 5321 4.5.1): "postmaster@<our domain>" and the bare
 * "postmaster" (4.1.1.3) are always accepted.  The bare form is looked up
 * as postmaster@<system_domain>.  If nothing maps them, the mail goes to
 * system_contact when that resolves locally, else to the first account
 * (config order) of system_domain that may receive, else to the first
 * such account of any domain, else to system_contact as a remote target.
 * reject_recipients still wins over this: an explicit admin choice.
 *
 * Sending (route_may_send_as) follows SNM's smtpd_sender_login_maps
 * ("vaccounts": account names, account aliases and extraVirtualAliases;
 * recent SNM adds aliasesRegexp) with reject_sender_login_mismatch: a
 * login may use its own address, its aliases ("@domain" ones cover the
 * whole domain), addresses its own aliases_regexp match, and top-level
 * aliases that list it as a direct target (a Postfix lookup table is not
 * recursive, so alias -> alias -> login does not authorize).  Forwards and
 * catch_all never authorize sending.  Like Postfix's lookup, "a+tag@d" is
 * also tried as "a@d".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "route.h"
#include "route_private.h"
#include "str.h"
#include "xmalloc.h"

/* Lookups per recipient: bounds diamond-shaped alias graphs. */
#define ROUTE_MAX_WORK		(4 * ROUTE_MAX_TARGETS)

static __thread char	 route_errbuf[512];

/* State of one route_resolve() call. */
struct route_ctx {
	const struct route	*r;
	struct route_result	*res;
	pcre2_match_data	*md;
	const char		*stack[ROUTE_MAX_DEPTH + 1]; /* path */
	size_t			 depth;
	size_t			 work;
	size_t			 unknown;	/* dead-end targets */
	bool			 too_big, too_deep, loop;
	const struct conf_account *send_only;	/* first one reached */
};

static const char *
route_default_domain(const struct conf *conf)
{
	if (conf->system_domain != NULL && *conf->system_domain != '\0')
		return conf->system_domain;
	if (conf->domains.n > 0)
		return conf->domains.v[0];
	return NULL;
}

static char *
route_lower_dup(const char *s)
{
	char	*d = xstrdup(s);

	str_lower(d);
	return d;
}

/*
 * Parse "/re/flags" (Postfix pcre_table(5) syntax) and compile it.
 * Matching is always caseless on a lower-cased subject, so "i" is
 * accepted and changes nothing.
 */
static int
route_re_compile(const char *spec, pcre2_code **code_r, const char **error_r)
{
	const char	*end, *f;
	uint32_t	 opts = PCRE2_CASELESS;
	int		 errcode;
	PCRE2_SIZE	 erroff;
	char		 msg[256];

	if (spec[0] != '/' || (end = strrchr(spec + 1, '/')) == NULL) {
		snprintf(route_errbuf, sizeof(route_errbuf),
		    "aliases_regexp \"%s\": expected /regex/ with optional "
		    "flags", spec);
		*error_r = route_errbuf;
		return -1;
	}
	for (f = end + 1; *f != '\0'; f++) {
		switch (*f) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		case 'A': opts |= PCRE2_ANCHORED; break;
		case 'U': opts |= PCRE2_UNGREEDY; break;
		default:
			snprintf(route_errbuf, sizeof(route_errbuf),
			    "aliases_regexp \"%s\": unknown flag '%c' "
			    "(expected some of \"imsxAU\")", spec, *f);
			*error_r = route_errbuf;
			return -1;
		}
	}
	*code_r = pcre2_compile((PCRE2_SPTR)(spec + 1),
	    (PCRE2_SIZE)(end - spec - 1), opts, &errcode, &erroff, NULL);
	if (*code_r == NULL) {
		pcre2_get_error_message(errcode, (PCRE2_UCHAR *)msg,
		    sizeof(msg));
		snprintf(route_errbuf, sizeof(route_errbuf),
		    "aliases_regexp \"%s\": %s at offset %zu", spec, msg,
		    (size_t)erroff);
		*error_r = route_errbuf;
		return -1;
	}
	return 0;
}

/* "d" or "@d" as written in catch_all -> "@d". */
static char *
route_at_domain(const char *d)
{
	return xasprintf("@%s", d[0] == '@' ? d + 1 : d);
}

static void
route_map_fill(struct route_map *m, const struct conf_strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		(void)route_map_add(m, l->v[i]);
}

struct route *
route_new(const struct conf *conf, const char **error_r)
{
	struct route			*r;
	const struct conf_account	*a;
	const struct conf_alias		*al;
	struct route_ent		*e;
	char				*k;
	size_t				 i, j;

	r = xcalloc(1, sizeof(*r));
	r->conf = conf;
	r->delim = xstrdup(conf->recipient_delimiter != NULL ?
	    conf->recipient_delimiter : "");
	route_map_fill(&r->domains, &conf->domains);
	route_map_fill(&r->rej_rcpt, &conf->reject_recipients);
	route_map_fill(&r->rej_sender, &conf->reject_sender);

	for (i = 0; i < conf->naccounts; i++) {
		a = &conf->accounts[i];
		e = route_map_add(&r->rcv, a->name);
		if (e->acct == NULL)
			e->acct = a;
		route_map_addval(route_map_add(&r->snd, a->name), a->name);
		for (j = 0; j < a->aliases.n; j++) {
			route_map_addval(route_map_add(&r->rcv,
			    a->aliases.v[j]), a->name);
			route_map_addval(route_map_add(&r->snd,
			    a->aliases.v[j]), a->name);
		}
		for (j = 0; j < a->catch_all.n; j++) {
			k = route_at_domain(a->catch_all.v[j]);
			route_map_addval(route_map_add(&r->rcv, k), a->name);
			free(k);
		}
		for (j = 0; j < a->aliases_regexp.n; j++) {
			r->re = xreallocarray(r->re, r->nre + 1,
			    sizeof(*r->re));
			if (route_re_compile(a->aliases_regexp.v[j],
			    &r->re[r->nre].code, error_r) == -1) {
				route_free(&r);
				return NULL;
			}
			r->re[r->nre].acct = a;
			r->re[r->nre++].ent = e;
		}
	}
	/* Top-level aliases receive and, as SNM's vaccounts, authorize. */
	for (i = 0; i < conf->naliases; i++) {
		al = &conf->aliases[i];
		for (j = 0; j < al->to.n; j++) {
			route_map_addval(route_map_add(&r->rcv, al->address),
			    al->to.v[j]);
			route_map_addval(route_map_add(&r->snd, al->address),
			    al->to.v[j]);
		}
	}
	for (i = 0; i < conf->nforwards; i++) {
		al = &conf->forwards[i];
		for (j = 0; j < al->to.n; j++)
			route_map_addval(route_map_add(&r->rcv, al->address),
			    al->to.v[j]);
	}
	return r;
}

void
route_free(struct route **rp)
{
	struct route	*r = *rp;
	size_t		 i;

	if (r == NULL)
		return;
	route_map_free(&r->domains);
	route_map_free(&r->rcv);
	route_map_free(&r->snd);
	route_map_free(&r->rej_rcpt);
	route_map_free(&r->rej_sender);
	for (i = 0; i < r->nre; i++)
		pcre2_code_free(r->re[i].code);
	free(r->re);
	free(r->delim);
	free(r);
	*rp = NULL;
}

bool
route_is_local_domain(const struct route *r, const char *domain)
{
	char	*d;
	bool	 found;

	if (domain == NULL || r->domains.n == 0)
		return false;
	d = route_lower_dup(domain);
	found = route_map_get(&r->domains, d) != NULL;
	free(d);
	return found;
}

bool
route_split(const struct route *r, const char *addr, char **base_r,
    size_t *detail_r, size_t *detail_len_r)
{
	const char	*at = strrchr(addr, '@');
	size_t		 llen, i;

	llen = at != NULL ? (size_t)(at - addr) : strlen(addr);

	if (r->delim[0] == '\0')
		return false;
	for (i = 0; i < llen; i++)
		if (strchr(r->delim, addr[i]) != NULL)
			break;
	/* No delimiter, or nothing before it ("+tag@d" is not split). */
	if (i == llen || i == 0)
		return false;
	/* Postfix split_addr(): "owner-list" and "list-request" stay whole. */
	if (addr[i] == '-' && (strncmp(addr, "owner-", 6) == 0 ||
	    (llen >= 8 && strncmp(addr + llen - 8, "-request", 8) == 0)))
		return false;
	*base_r = xasprintf("%.*s%s", (int)i, addr, at != NULL ? at : "");
	*detail_r = i + 1;
	*detail_len_r = llen - i - 1;
	return true;
}

bool
route_access_match(const struct route *r, const struct route_map *m,
    const char *addr)
{
	const char	*at, *p;
	char		*base;
	size_t		 off, len;
	bool		 hit;

	if (m->n == 0)
		return false;
	if (*addr == '\0')
		return route_map_get(m, "<>") != NULL;
	if (route_map_get(m, addr) != NULL)
		return true;
	if (route_split(r, addr, &base, &off, &len)) {
		hit = route_map_get(m, base) != NULL;
		free(base);
		if (hit)
			return true;
	}
	if ((at = strrchr(addr, '@')) == NULL)
		return false;
	/* "user@": that local part in any domain. */
	base = xstrndup(addr, (size_t)(at - addr) + 1);
	hit = route_map_get(m, base) != NULL;
	free(base);
	if (hit || route_map_get(m, at) != NULL ||
	    route_map_get(m, at + 1) != NULL)
		return true;
	/* Parent domains: "d" covers its subdomains, ".d" only them. */
	for (p = strchr(at + 1, '.'); p != NULL; p = strchr(p + 1, '.'))
		if (route_map_get(m, p) != NULL ||
		    (p[1] != '\0' && route_map_get(m, p + 1) != NULL))
			return true;
	return false;
}

/* First aliases_regexp (of acct, or of anyone if NULL) matching addr. */
static const struct route_re *
route_re_match(const struct route *r, pcre2_match_data *md,
    const struct conf_account *acct, const char *addr)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < r->nre; i++) {
		if (acct != NULL && r->re[i].acct != acct)
			continue;
		rc = pcre2_match(r->re[i].code, (PCRE2_SPTR)addr,
		    PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
		if (rc >= 0)
			return &r->re[i];
		if (rc != PCRE2_ERROR_NOMATCH)
			log_warn("route regexp-error rc=%d addr=%s", rc, addr);
	}
	return NULL;
}

static bool
route_ctx_full(struct route_ctx *c)
{
	if (c->res->nlocal + c->res->nremote >= ROUTE_MAX_TARGETS) {
		c->too_big = true;
		return true;
	}
	return false;
}

static void
route_add_local(struct route_ctx *c, const struct conf_account *a,
    const char *folder)
{
	struct route_result	*res = c->res;
	struct route_local	*l;
	size_t			 i;

	if (a->send_only) {
		if (c->send_only == NULL)
			c->send_only = a;
		return;
	}
	for (i = 0; i < res->nlocal; i++)
		if (res->local[i].account == a)
			return;
	if (route_ctx_full(c))
		return;
	res->local = xreallocarray(res->local, res->nlocal + 1,
	    sizeof(*res->local));
	l = &res->local[res->nlocal++];
	l->account = a;
	l->name = a->name;
	l->folder = folder != NULL ? xstrdup(folder) : NULL;
	l->original = res->original;
}

static void
route_add_remote(struct route_ctx *c, const char *addr)
{
	struct route_result	*res = c->res;
	size_t			 i;

	for (i = 0; i < res->nremote; i++)
		if (strcmp(res->remote[i], addr) == 0)
			return;
	if (route_ctx_full(c))
		return;
	res->remote = xreallocarray(res->remote, res->nremote + 1,
	    sizeof(*res->remote));
	res->remote[res->nremote++] = xstrdup(addr);
}

static void	route_expand(struct route_ctx *, const char *, const char *,
		    const char *);

/* Deliver to e's account, if any, and expand its targets. */
static void
route_enter(struct route_ctx *c, const struct route_ent *e,
    const char *folder)
{
	size_t	 i;

	for (i = 0; i < c->depth; i++) {
		if (strcmp(c->stack[i], e->key) == 0) {
			/* An account reached again was already delivered. */
			if (e->acct == NULL)
				c->loop = true;
			return;
		}
	}
	/* The recipient itself plus ROUTE_MAX_DEPTH levels of aliases. */
	if (c->depth == ROUTE_MAX_DEPTH + 1) {
		c->too_deep = true;
		return;
	}
	c->stack[c->depth++] = e->key;
	if (e->acct != NULL)
		route_add_local(c, e->acct, folder);
	for (i = 0; i < e->nvals && !c->too_big && !c->too_deep; i++)
		route_expand(c, e->vals[i], e->vals[i], folder);
	c->depth--;
}

/* Steps 4 and 5 of the header comment for one key. */
static bool
route_lookup(struct route_ctx *c, const char *key, const char *folder)
{
	const struct route_ent	*e;
	const struct route_re	*re;

	if ((e = route_map_get(&c->r->rcv, key)) != NULL) {
		route_enter(c, e, folder);
		return true;
	}
	if ((re = route_re_match(c->r, c->md, NULL, key)) != NULL) {
		route_enter(c, re->ent, folder);
		return true;
	}
	return false;
}

/*
 * A subaddress names a folder only if it cannot be mistaken for a path
 * or a hidden name whatever the store's layout: no '/', no leading '.',
 * no "..", no control characters.  Otherwise the mail goes to INBOX, as
 * it does when the folder does not exist.
 */
static bool
route_folder_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || s[0] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
			return false;
		if (s[i] == '.' && i + 1 < len && s[i + 1] == '.')
			return false;
	}
	return true;
}

/*
 * Resolve addr (lower-cased; orig is the same address in its original
 * case, for the folder name) and add what it yields to c->res.
 */
static void
route_expand(struct route_ctx *c, const char *addr, const char *orig,
    const char *folder)
{
	const struct route_ent	*e;
	const char		*at = strrchr(addr, '@');
	char			*base = NULL, *detail = NULL;
	size_t			 off, len;
	bool			 found;

	if (++c->work > ROUTE_MAX_WORK) {
		c->too_big = true;
		return;
	}
	if (at == NULL || at == addr || at[1] == '\0') {
		c->unknown++;
		log_warn("route bad-target addr=%s", addr);
		return;
	}
	if (route_map_get(&c->r->domains, at + 1) == NULL) {
		route_add_remote(c, addr);
		return;
	}
	if (route_lookup(c, addr, folder))
		return;
	if (route_split(c->r, addr, &base, &off, &len)) {
		if (c->r->conf->save_to_detail_mailbox &&
		    route_folder_ok(orig + off, len)) {
			detail = xstrndup(orig + off, len);
			folder = detail;
		}
		found = route_lookup(c, base, folder);
		free(base);
		if (found) {
			free(detail);
			return;
		}
	}
	if ((e = route_map_get(&c->r->rcv, at)) != NULL)
		route_enter(c, e, folder);
	else {
		c->unknown++;
		if (c->depth > 0)
			log_warn("route dangling-target addr=%s", addr);
	}
	free(detail);
}

static void
route_result_lists_free(struct route_result *res)
{
	size_t	 i;

	for (i = 0; i < res->nlocal; i++)
		free(res->local[i].folder);
	free(res->local);
	res->local = NULL;
	res->nlocal = 0;
	for (i = 0; i < res->nremote; i++)
		free(res->remote[i]);
	free(res->remote);
	res->remote = NULL;
	res->nremote = 0;
}

static void __attribute__((format(printf, 4, 5)))
route_reject(struct route_result *res, int code, const char *enhanced,
    const char *fmt, ...)
{
	va_list	 ap;

	route_result_lists_free(res);
	res->kind = ROUTE_REJECT;
	res->code = code;
	res->enhanced = enhanced;
	free(res->text);
	va_start(ap, fmt);
	res->text = xvasprintf(fmt, ap);
	va_end(ap);
}

static const char *
route_send_only_text(const struct conf_account *a)
{
	if (a->send_only_reject_message != NULL &&
	    *a->send_only_reject_message != '\0')
		return a->send_only_reject_message;
	return "This account cannot receive emails.";
}

/* The account named addr or, for "user+tag@d", "user@d"; if send_only. */
static const struct conf_account *
route_send_only(const struct route *r, const char *addr)
{
	const struct route_ent	*e;
	char			*base;
	size_t			 off, len;

	if ((e = route_map_get(&r->rcv, addr)) != NULL && e->acct != NULL)
		return e->acct->send_only ? e->acct : NULL;
	if (!route_split(r, addr, &base, &off, &len))
		return NULL;
	e = route_map_get(&r->rcv, base);
	free(base);
	if (e != NULL && e->acct != NULL && e->acct->send_only)
		return e->acct;
	return NULL;
}

static bool
route_domain_is(const char *addr, const char *domain)
{
	const char	*at = strrchr(addr, '@');

	return at != NULL && domain != NULL && strcasecmp(at + 1, domain) == 0;
}

/* Nothing maps postmaster: see the header comment. */
static void
route_postmaster(struct route_ctx *c)
{
	const struct conf	*conf = c->r->conf;
	const char		*sysdom = route_default_domain(conf);
	const char		*contact = conf->system_contact;
	char			*k;
	size_t			 i, pass;

	c->loop = c->too_deep = c->too_big = false;
	c->send_only = NULL;
	if (contact != NULL && *contact != '\0') {
		k = route_lower_dup(contact);
		if (strrchr(k, '@') != NULL &&
		    route_map_get(&c->r->domains, strrchr(k, '@') + 1) != NULL)
			route_expand(c, k, k, NULL);
		free(k);
		if (c->res->nlocal > 0 && !c->too_big && !c->too_deep)
			return;
		route_result_lists_free(c->res);
		c->too_big = c->too_deep = false;
	}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < conf->naccounts; i++) {
			if (conf->accounts[i].send_only)
				continue;
			if (pass == 0 &&
			    !route_domain_is(conf->accounts[i].name, sysdom))
				continue;
			route_add_local(c, &conf->accounts[i], NULL);
			return;
		}
	}
	if (contact != NULL && strchr(contact, '@') != NULL) {
		k = route_lower_dup(contact);
		route_add_remote(c, k);
		free(k);
	}
}

void
route_resolve(const struct route *r, const char *rcpt,
    struct route_result *res)
{
	struct route_ctx		 c;
	const struct conf_account	*so;
	const char			*at, *sysdom;
	char				*addr, *orig;
	bool				 postmaster;

	memset(res, 0, sizeof(*res));
	res->original = xstrdup(rcpt);
	addr = route_lower_dup(rcpt);
	orig = xstrdup(rcpt);
	at = strrchr(addr, '@');

	/* The bare "postmaster" is postmaster@<system_domain>. */
	if (at == NULL && strcmp(addr, "postmaster") == 0 &&
	    (sysdom = route_default_domain(r->conf)) != NULL) {
		free(addr);
		free(orig);
		addr = xasprintf("postmaster@%s", sysdom);
		str_lower(addr);
		orig = xstrdup(addr);
		at = strrchr(addr, '@');
	}
	if (at == NULL || at == addr || at[1] == '\0') {
		route_reject(res, 501, "5.1.3", "<%s>: Recipient address "
		    "rejected: Bad address syntax", rcpt);
		goto out;
	}
	if (route_access_match(r, &r->rej_rcpt, addr)) {
		route_reject(res, 550, "5.7.1", "<%s>: Recipient address "
		    "rejected: Access denied", rcpt);
		goto out;
	}
	if (route_map_get(&r->domains, at + 1) == NULL) {
		route_reject(res, 554, "5.7.1", "<%s>: Relay access denied",
		    rcpt);
		res->kind = ROUTE_NOT_LOCAL;
		goto out;
	}
	if ((so = route_send_only(r, addr)) != NULL) {
		route_reject(res, 550, "5.1.1", "<%s>: Recipient address "
		    "rejected: %s", rcpt, route_send_only_text(so));
		goto out;
	}
	postmaster = (size_t)(at - addr) == 10 &&
	    strncmp(addr, "postmaster", 10) == 0;

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.res = res;
	c.md = pcre2_match_data_create(1, NULL);
	if (c.md == NULL)
		log_fatal("route: out of memory");
	route_expand(&c, addr, orig, NULL);
	if (res->nlocal == 0 && res->nremote == 0 && postmaster &&
	    !c.too_big && !c.too_deep)
		route_postmaster(&c);
	pcre2_match_data_free(c.md);

	if (c.too_big || c.too_deep) {
		log_warn("route expansion-limit rcpt=%s deep=%d", addr,
		    c.too_deep);
		route_reject(res, 451, "4.3.0", "<%s>: Recipient address "
		    "rejected: Alias expansion too %s", rcpt,
		    c.too_deep ? "deep" : "large");
	} else if (res->nlocal > 0)
		res->kind = ROUTE_LOCAL;
	else if (res->nremote > 0)
		res->kind = ROUTE_REMOTE;
	else if (c.send_only != NULL)
		route_reject(res, 550, "5.1.1", "<%s>: Recipient address "
		    "rejected: %s", rcpt, route_send_only_text(c.send_only));
	else if (c.loop) {
		log_warn("route alias-loop rcpt=%s", addr);
		route_reject(res, 550, "5.4.6", "<%s>: Recipient address "
		    "rejected: Mail forwarding loop", rcpt);
	} else
		route_reject(res, 550, "5.1.1", "<%s>: Recipient address "
		    "rejected: User unknown", rcpt);
out:
	free(addr);
	free(orig);
}

void
route_result_clear(struct route_result *res)
{
	route_result_lists_free(res);
	free(res->original);
	free(res->text);
	memset(res, 0, sizeof(*res));
}

/* May acct send as addr (lower-cased), without subaddress handling? */
static bool
route_owns(const struct route *r, pcre2_match_data *md,
    const struct conf_account *acct, const char *addr)
{
	const struct route_ent	*e;
	const char		*at;

	if (strcasecmp(addr, acct->name) == 0)
		return true;
	if ((e = route_map_get(&r->snd, addr)) != NULL &&
	    route_map_hasval(e, acct->name))
		return true;
	if (route_re_match(r, md, acct, addr) != NULL)
		return true;
	/* "@domain" aliases: any address of that domain. */
	if ((at = strrchr(addr, '@')) != NULL &&
	    (e = route_map_get(&r->snd, at)) != NULL &&
	    route_map_hasval(e, acct->name))
		return true;
	return false;
}

bool
route_may_send_as(const struct route *r, const char *login,
    const char *address)
{
	const struct route_ent	*e;
	pcre2_match_data	*md;
	char			*l, *a, *base;
	size_t			 off, len;
	bool			 ok = false;

	if (address != NULL && *address == '\0')
		return true;
	if (login == NULL || address == NULL)
		return false;
	l = route_lower_dup(login);
	a = route_lower_dup(address);
	e = route_map_get(&r->rcv, l);
	if (e != NULL && e->acct != NULL) {
		if ((md = pcre2_match_data_create(1, NULL)) == NULL)
			log_fatal("route: out of memory");
		ok = route_owns(r, md, e->acct, a);
		if (!ok && route_split(r, a, &base, &off, &len)) {
			ok = route_owns(r, md, e->acct, base);
			free(base);
		}
		pcre2_match_data_free(md);
	}
	free(l);
	free(a);
	return ok;
}
