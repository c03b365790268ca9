/*
 * route.h - the recipient router: who receives mail sent to an address,
 * and which addresses a login may use as envelope sender.
 *
 * It gives Simple NixOS Mailserver's (SNM) semantics, which SNM builds
 * from Postfix virtual_alias_maps, smtpd_sender_login_maps and access
 * maps: accounts (name, aliases incl. "@domain", aliases_regexp,
 * catch_all, send_only), top-level aliases (extraVirtualAliases),
 * forwards, recipient_delimiter, reject_recipients and reject_sender.
 *
 * A struct route is compiled once from a struct conf (which must outlive
 * it) and is immutable afterwards: every call below is a pure in-memory
 * lookup, safe from any thread at once.  [any]
 */
#ifndef ROUTE_H
#define ROUTE_H
#include <stdbool.h>
#include <stddef.h>

struct conf;
struct conf_account;
struct route;				/* opaque, immutable once built */

#define ROUTE_MAX_DEPTH		10	/* alias nesting */
#define ROUTE_MAX_TARGETS	1000	/* local plus remote targets */

/* A result with deliveries is ROUTE_LOCAL even if it forwards too. */
enum route_kind {
	ROUTE_LOCAL = 0,	/* >= 1 local delivery, maybe remote too */
	ROUTE_REMOTE,		/* only remote targets (forwards): queue */
	ROUTE_REJECT,		/* reply with code, enhanced, text */
	ROUTE_NOT_LOCAL		/* not our domain: the SMTP layer decides */
};

struct route_local {
	const struct conf_account *account;	/* in the conf */
	const char	*name;		/* account name (login) */
	char		*folder;	/* from the subaddress; NULL: INBOX */
	const char	*original;	/* = route_result.original */
};

/*
 * Local deliveries (one per account), remote targets (lower-cased, each
 * once), or a reply: code/enhanced/text are set for ROUTE_REJECT, and
 * for ROUTE_NOT_LOCAL as a suggestion (554 5.7.1 relay access denied).
 * original, the recipient as given, is for X-Original-To/Delivered-To.
 */
struct route_result {
	enum route_kind		 kind;
	char			*original;
	struct route_local	*local;
	size_t			 nlocal;
	char			**remote;
	size_t			 nremote;
	int			 code;		/* 550 */
	const char		*enhanced;	/* "5.1.1", static */
	char			*text;		/* "<a@b>: Recipient ..." */
};

/*
 * Compile the tables of conf.  Fails only on a bad aliases_regexp entry
 * ("/re/flags" with flags from "imsxAU"); *error_r then stays valid until
 * the next route_new() call in this thread.
 */
struct route	*route_new(const struct conf *, const char **error_r);
void		 route_free(struct route **);

/*
 * Resolve one RCPT TO address (already syntax-checked: local@domain, or
 * the bare "postmaster" of RFC 5321 4.1.1.3).  Always fills *res_r;
 * release it with route_result_clear().
 */
void		 route_resolve(const struct route *, const char *rcpt,
		    struct route_result *res_r);
void		 route_result_clear(struct route_result *);

/*
 * Submission: may the authenticated account `login' use `address' as
 * envelope sender (and From)?  "" (the null sender) is always allowed.
 */
bool		 route_may_send_as(const struct route *, const char *login,
		    const char *address);

/*
 * Is sender (MAIL FROM, "" for <>) listed in reject_sender?  If so, sets
 * *reply_text_r (may be NULL) to reject_sender_message, or a default, and
 * returns true.  The caller applies it to unauthenticated sessions only
 * and replies "554 5.7.1 <sender>: <text>" as Postfix's access maps do.
 */
bool		 route_sender_rejected(const struct route *,
		    const char *sender, const char **reply_text_r);

/* Is domain (any case) one of conf->domains? */
bool		 route_is_local_domain(const struct route *,
		    const char *domain);
#endif
