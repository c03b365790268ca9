/*
 * test_route.c - table-driven tests of the recipient router (route.h):
 * resolve, may_send_as, sender_rejected, is_local_domain, and route_new
 * errors, over struct conf values built by hand (no conf_load).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "route.h"
#include "xmalloc.h"

/* ---- building a struct conf by hand ------------------------------------ */

static struct conf_strlist
sl(const char *first, ...)
{
	struct conf_strlist	 l = { NULL, 0 };
	va_list			 ap;
	const char		*s;

	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *)) {
		l.v = xreallocarray(l.v, l.n + 1, sizeof(*l.v));
		l.v[l.n++] = xstrdup(s);
	}
	va_end(ap);
	return l;
}

static void
sl_add(struct conf_strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

static void
sl_free(struct conf_strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static struct conf_account *
add_account(struct conf *c, const char *name)
{
	struct conf_account	*a;

	c->accounts = xreallocarray(c->accounts, c->naccounts + 1,
	    sizeof(*c->accounts));
	a = &c->accounts[c->naccounts++];
	memset(a, 0, sizeof(*a));
	a->name = xstrdup(name);
	return a;
}

static struct conf_alias *
add_alias(struct conf_alias **v, size_t *n, const char *address)
{
	struct conf_alias	*al;

	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	al = &(*v)[(*n)++];
	memset(al, 0, sizeof(*al));
	al->address = xstrdup(address);
	return al;
}

#define ALIAS(c, addr, ...) (add_alias(&(c)->aliases, &(c)->naliases, \
	addr)->to = sl(__VA_ARGS__, NULL))
#define FORWARD(c, addr, ...) (add_alias(&(c)->forwards, &(c)->nforwards, \
	addr)->to = sl(__VA_ARGS__, NULL))

/*
 * The fixture: example.com, example.org, alias.example, empty.example are
 * ours; example.net and gmail.test are not.
 */
static struct conf *
fixture(void)
{
	struct conf		*c = xcalloc(1, sizeof(*c));
	struct conf_account	*a;
	struct conf_alias	*al;
	char			 buf[64];
	int			 i;

	c->domains = sl("example.com", "example.org", "alias.example",
	    "empty.example", NULL);
	c->system_domain = xstrdup("example.com");
	c->system_contact = xstrdup("hostmaster@example.com");
	c->recipient_delimiter = xstrdup("+");
	c->save_to_detail_mailbox = true;
	c->reject_recipients = sl("sales@example.com", "closed@example.org",
	    "@blocked.test", NULL);
	c->reject_sender = sl("spam.test", "@badco.test",
	    "spammer@example.org", ".evil.test", "mailer-daemon@", NULL);
	c->reject_sender_message = xstrdup("");

	a = add_account(c, "user1@example.com");
	a->aliases = sl("info@example.com", "@alias.example",
	    "Mixed@Example.COM", NULL);
	a->aliases_regexp = sl("/^tom\\..*@example\\.com$/", NULL);
	a->quota = 2ULL << 30;
	a = add_account(c, "user2@example.com");
	a->aliases = sl("user2@example.org", NULL);
	a->catch_all = sl("example.org", NULL);
	a = add_account(c, "bob@example.com");
	a->aliases_regexp = sl("/^BOB-[0-9]+@EXAMPLE\\.COM$/i", NULL);
	a->aliases = sl("tom.exact@example.com", NULL);
	a = add_account(c, "noreply@example.com");
	a->send_only = true;
	a->send_only_reject_message = xstrdup("No replies here.");
	a->aliases = sl("no-reply@example.com", NULL);
	a = add_account(c, "nosendmsg@example.com");
	a->send_only = true;
	a = add_account(c, "carol@example.org");
	a->aliases_regexp = sl("/^tom\\..*@example\\.(com|org)$/", NULL);
	(void)add_account(c, "eve@example.com");
	(void)add_account(c, "dave@alias.example");

	ALIAS(c, "abuse@example.com", "user1@example.com");
	ALIAS(c, "team@example.com", "user1@example.com",
	    "User2@Example.com", "friend@example.net");
	ALIAS(c, "chain1@example.com", "chain2@example.com");
	ALIAS(c, "chain2@example.com", "chain3@example.com");
	ALIAS(c, "chain3@example.com", "bob@example.com");
	ALIAS(c, "loopa@example.com", "loopb@example.com");
	ALIAS(c, "loopb@example.com", "loopa@example.com");
	ALIAS(c, "loopc@example.com", "loopd@example.com",
	    "carol@example.org");
	ALIAS(c, "loopd@example.com", "loopc@example.com");
	ALIAS(c, "dangling@example.com", "ghost@example.com");
	ALIAS(c, "half@example.com", "ghost@example.com",
	    "carol@example.org");
	ALIAS(c, "hostmaster@example.com", "user2@example.com");
	ALIAS(c, "sendonly-alias@example.com", "noreply@example.com");
	ALIAS(c, "mixso@example.com", "noreply@example.com",
	    "bob@example.com");
	ALIAS(c, "me@example.com", "me@example.com", "user1@example.com");
	ALIAS(c, "viacatch@example.com", "whoever@example.org");
	ALIAS(c, "lists@example.com", "user1+lists@example.com");
	ALIAS(c, "alias-to-dave@example.com", "dave@alias.example");
	for (i = 1; i <= 12; i++) {
		snprintf(buf, sizeof(buf), "deep%d@example.com", i + 1);
		al = add_alias(&c->aliases, &c->naliases, "");
		free(al->address);
		al->address = xasprintf("deep%d@example.com", i);
		al->to = sl(i == 12 ? "bob@example.com" : buf, NULL);
	}
	al = add_alias(&c->aliases, &c->naliases, "big@example.com");
	for (i = 0; i < ROUTE_MAX_TARGETS + 1; i++) {
		snprintf(buf, sizeof(buf), "r%d@example.net", i);
		sl_add(&al->to, buf);
	}

	FORWARD(c, "gamenight@example.com", "bob@example.com",
	    "frank@example.net", "Frank@Example.NET");
	FORWARD(c, "dave@alias.example", "dave@gmail.test");
	FORWARD(c, "eve@example.com", "eve@example.com", "eve@example.net");
	FORWARD(c, "remoteonly@example.com", "x@example.net",
	    "y@example.net");
	return c;
}

static void
aliases_free(struct conf_alias *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(v[i].address);
		sl_free(&v[i].to);
	}
	free(v);
}

static void
fixture_free(struct conf **cp)
{
	struct conf	*c = *cp;
	size_t		 i;

	sl_free(&c->domains);
	free(c->system_domain);
	free(c->system_contact);
	free(c->recipient_delimiter);
	sl_free(&c->reject_recipients);
	sl_free(&c->reject_sender);
	free(c->reject_sender_message);
	for (i = 0; i < c->naccounts; i++) {
		free(c->accounts[i].name);
		sl_free(&c->accounts[i].aliases);
		sl_free(&c->accounts[i].aliases_regexp);
		sl_free(&c->accounts[i].catch_all);
		free(c->accounts[i].send_only_reject_message);
	}
	free(c->accounts);
	aliases_free(c->aliases, c->naliases);
	aliases_free(c->forwards, c->nforwards);
	free(c);
	*cp = NULL;
}

/* ---- resolve ------------------------------------------------------------ */

struct rcase {
	const char	*rcpt;
	enum route_kind	 kind;
	const char	*local;		/* "name[:folder],..." */
	const char	*remote;	/* "addr,..." */
	int		 code;
	const char	*enhanced;
	const char	*text;		/* substring of the reply text */
};

#define OK(r, l)		{ r, ROUTE_LOCAL, l, "", 0, NULL, NULL }
#define OKR(r, l, rm)		{ r, ROUTE_LOCAL, l, rm, 0, NULL, NULL }
#define REMOTE(r, rm)		{ r, ROUTE_REMOTE, "", rm, 0, NULL, NULL }
#define REJ(r, c, e, t)		{ r, ROUTE_REJECT, "", "", c, e, t }
#define FOREIGN(r)		{ r, ROUTE_NOT_LOCAL, "", "", 554, "5.7.1", \
				    "Relay access denied" }
#define UNKNOWN(r)		REJ(r, 550, "5.1.1", "User unknown")

static const struct rcase cases_main[] = {
	/* accounts, case, subaddress */
	OK("user1@example.com", "user1@example.com"),
	OK("USER1@EXAMPLE.COM", "user1@example.com"),
	OK("user1+lists@example.com", "user1@example.com:lists"),
	OK("User1+Lists@example.com", "user1@example.com:Lists"),
	OK("user1+@example.com", "user1@example.com"),
	OK("user1+a+b@example.com", "user1@example.com:a+b"),
	UNKNOWN("+tag@example.com"),
	OK("user1+.hidden@example.com", "user1@example.com"),
	OK("user1+a/b@example.com", "user1@example.com"),
	OK("user1+a..b@example.com", "user1@example.com"),
	OK("user1+Sent.Old@example.com", "user1@example.com:Sent.Old"),
	/* account aliases, "@domain" aliases, regexp aliases */
	OK("info@example.com", "user1@example.com"),
	OK("info+tag@example.com", "user1@example.com:tag"),
	OK("mixed@example.com", "user1@example.com"),
	OK("tom.smith@example.com", "user1@example.com"),
	OK("Tom.Smith@Example.com", "user1@example.com"),
	OK("tom.smith+x@example.com", "user1@example.com"),
	OK("tom.exact@example.com", "bob@example.com"),
	OK("tom.jones@example.org", "carol@example.org"),
	OK("bob-42@example.com", "bob@example.com"),
	OK("bob-42+news@example.com", "bob@example.com:news"),
	UNKNOWN("bob-x@example.com"),
	OK("anything@alias.example", "user1@example.com"),
	OKR("dave@alias.example", "dave@alias.example", "dave@gmail.test"),
	OKR("dave+x@alias.example", "dave@alias.example:x",
	    "dave@gmail.test"),
	/* catch_all */
	OK("random@example.org", "user2@example.com"),
	OK("random+tag@example.org", "user2@example.com:tag"),
	OK("carol@example.org", "carol@example.org"),
	OK("carol+x@example.org", "carol@example.org:x"),
	OK("user2@example.org", "user2@example.com"),
	OK("viacatch@example.com", "user2@example.com"),
	/* top-level aliases: one, many, chains, loops, dangling */
	OK("abuse@example.com", "user1@example.com"),
	OKR("team@example.com", "user1@example.com,user2@example.com",
	    "friend@example.net"),
	OKR("team+x@example.com", "user1@example.com:x,user2@example.com:x",
	    "friend@example.net"),
	OK("chain1@example.com", "bob@example.com"),
	OK("chain3@example.com", "bob@example.com"),
	REJ("loopa@example.com", 550, "5.4.6", "loop"),
	OK("loopc@example.com", "carol@example.org"),
	UNKNOWN("dangling@example.com"),
	OK("half@example.com", "carol@example.org"),
	OK("me@example.com", "user1@example.com"),
	OK("lists@example.com", "user1@example.com:lists"),
	OK("lists+x@example.com", "user1@example.com:lists"),
	OK("deep3@example.com", "bob@example.com"),
	REJ("deep2@example.com", 451, "4.3.0", "too deep"),
	REJ("deep1@example.com", 451, "4.3.0", "too deep"),
	REJ("big@example.com", 451, "4.3.0", "too large"),
	/* forwards */
	OKR("gamenight@example.com", "bob@example.com", "frank@example.net"),
	OKR("dave@alias.example", "dave@alias.example", "dave@gmail.test"),
	OKR("Dave+X@alias.example", "dave@alias.example:X",
	    "dave@gmail.test"),
	OKR("alias-to-dave@example.com", "dave@alias.example",
	    "dave@gmail.test"),
	OKR("eve@example.com", "eve@example.com", "eve@example.net"),
	REMOTE("remoteonly@example.com", "x@example.net,y@example.net"),
	/* send_only */
	REJ("noreply@example.com", 550, "5.1.1", "No replies here."),
	REJ("NoReply+x@example.com", 550, "5.1.1", "No replies here."),
	REJ("no-reply@example.com", 550, "5.1.1", "No replies here."),
	REJ("sendonly-alias@example.com", 550, "5.1.1", "No replies here."),
	REJ("nosendmsg@example.com", 550, "5.1.1",
	    "This account cannot receive emails."),
	OK("mixso@example.com", "bob@example.com"),
	/* reject_recipients */
	REJ("sales@example.com", 550, "5.7.1",
	    "<sales@example.com>: Recipient address rejected: Access denied"),
	REJ("Sales+x@example.com", 550, "5.7.1", "Access denied"),
	REJ("closed@example.org", 550, "5.7.1", "Access denied"),
	/* unknown users, foreign domains, syntax */
	REJ("nobody@example.com", 550, "5.1.1",
	    "<nobody@example.com>: Recipient address rejected: User unknown"),
	UNKNOWN("nobody+x@example.com"),
	UNKNOWN("nobody@empty.example"),
	FOREIGN("someone@example.net"),
	REJ("x@blocked.test", 550, "5.7.1", "Access denied"),
	FOREIGN("someone@EXAMPLE.NET"),
	FOREIGN("user1@sub.example.com"),
	REJ("nodomain", 501, "5.1.3", "syntax"),
	REJ("@example.com", 501, "5.1.3", "syntax"),
	/* postmaster (RFC 5321 4.5.1) */
	OK("postmaster@example.com", "user2@example.com"),
	OK("postmaster", "user2@example.com"),
	OK("PostMaster@Example.COM", "user2@example.com"),
	OK("postmaster@example.org", "user2@example.com"),
	OK("postmaster@alias.example", "user1@example.com"),
	OK("postmaster@empty.example", "user2@example.com"),
	OK("hostmaster@example.com", "user2@example.com"),
};

/* Variant: delimiter "+-", no detail folders, remote system_contact. */
static const struct rcase cases_variant[] = {
	OK("user1+lists@example.com", "user1@example.com"),
	OK("user1-lists@example.com", "user1@example.com"),
	OK("user1-a+b@example.com", "user1@example.com"),
	OK("info-x@example.com", "user1@example.com"),
	OK("random-x@example.org", "user2@example.com"),
	OK("bob-request@example.org", "user2@example.com"),
	UNKNOWN("bob-request@example.com"),
	UNKNOWN("owner-bob@example.com"),
	OK("bob+request@example.com", "bob@example.com"),
	OK("bob-12@example.com", "bob@example.com"),
	OK("postmaster@empty.example", "user1@example.com"),
	OK("postmaster", "user1@example.com"),
	OK("lists@example.com", "user1@example.com"),
	REJ("no-reply@example.com", 550, "5.1.1", "No replies here."),
};

/* Variant: no delimiter at all, no accounts for postmaster. */
static const struct rcase cases_nodelim[] = {
	UNKNOWN("user1+lists@example.com"),
	OK("user1@example.com", "user1@example.com"),
	OK("random+x@example.org", "user2@example.com"),
	UNKNOWN("sales+x@example.com"),
};

static void
join_result(const struct route_result *res, char *lbuf, size_t lsz,
    char *rbuf, size_t rsz)
{
	size_t	 i;
	int	 n;

	lbuf[0] = rbuf[0] = '\0';
	for (i = 0; i < res->nlocal; i++) {
		assert_ptr_equal(res->local[i].original, res->original);
		assert_string_equal(res->local[i].name,
		    res->local[i].account->name);
		n = (int)strlen(lbuf);
		snprintf(lbuf + n, lsz - (size_t)n, "%s%s%s%s",
		    i > 0 ? "," : "", res->local[i].name,
		    res->local[i].folder != NULL ? ":" : "",
		    res->local[i].folder != NULL ? res->local[i].folder : "");
	}
	for (i = 0; i < res->nremote; i++) {
		n = (int)strlen(rbuf);
		snprintf(rbuf + n, rsz - (size_t)n, "%s%s", i > 0 ? "," : "",
		    res->remote[i]);
	}
}

static void
run_cases(const struct route *r, const struct rcase *cases, size_t n)
{
	struct route_result	 res;
	char			 lbuf[512], rbuf[512];
	size_t			 i;

	for (i = 0; i < n; i++) {
		const struct rcase *t = &cases[i];

		route_resolve(r, t->rcpt, &res);
		join_result(&res, lbuf, sizeof(lbuf), rbuf, sizeof(rbuf));
		if (res.kind != t->kind || strcmp(lbuf, t->local) != 0 ||
		    strcmp(rbuf, t->remote) != 0 ||
		    (t->code != 0 && res.code != t->code) ||
		    (t->enhanced != NULL && (res.enhanced == NULL ||
		    strcmp(res.enhanced, t->enhanced) != 0)) ||
		    (t->text != NULL && (res.text == NULL ||
		    strstr(res.text, t->text) == NULL))) {
			print_error("case %zu <%s>: kind %d (want %d) "
			    "local \"%s\" (want \"%s\") remote \"%s\" "
			    "(want \"%s\") reply %d %s %s\n", i, t->rcpt,
			    res.kind, t->kind, lbuf, t->local, rbuf,
			    t->remote, res.code,
			    res.enhanced ? res.enhanced : "-",
			    res.text ? res.text : "-");
			route_result_clear(&res);
			fail();
		}
		assert_string_equal(res.original, t->rcpt);
		route_result_clear(&res);
		assert_null(res.local);
		assert_null(res.text);
	}
}

static void
test_resolve_main(void **state)
{
	struct conf	*c = fixture();
	struct route	*r;
	const char	*err = NULL;

	(void)state;
	r = route_new(c, &err);
	assert_non_null(r);
	run_cases(r, cases_main, sizeof(cases_main) / sizeof(cases_main[0]));
	route_free(&r);
	assert_null(r);
	fixture_free(&c);
}

static void
test_resolve_variant(void **state)
{
	struct conf	*c = fixture();
	struct route	*r;
	const char	*err = NULL;
	char		*saved_delim = c->recipient_delimiter;
	char		*saved_contact = c->system_contact;

	(void)state;
	c->recipient_delimiter = xstrdup("+-");
	c->save_to_detail_mailbox = false;
	c->system_contact = xstrdup("root@example.net");
	r = route_new(c, &err);
	assert_non_null(r);
	run_cases(r, cases_variant,
	    sizeof(cases_variant) / sizeof(cases_variant[0]));
	route_free(&r);
	free(c->recipient_delimiter);
	free(c->system_contact);
	c->recipient_delimiter = saved_delim;
	c->system_contact = saved_contact;

	/* No delimiter. */
	free(c->recipient_delimiter);
	c->recipient_delimiter = xstrdup("");
	r = route_new(c, &err);
	assert_non_null(r);
	run_cases(r, cases_nodelim,
	    sizeof(cases_nodelim) / sizeof(cases_nodelim[0]));
	route_free(&r);
	fixture_free(&c);
}

/* postmaster with no account able to receive: the remote system_contact. */
static void
test_postmaster_fallbacks(void **state)
{
	struct conf		*c = xcalloc(1, sizeof(*c));
	struct conf_account	*a;
	struct route		*r;
	struct route_result	 res;
	const char		*err;

	(void)state;
	c->domains = sl("example.com", NULL);
	c->system_contact = xstrdup("admin@example.net");
	c->recipient_delimiter = xstrdup("+");
	a = add_account(c, "noreply@example.com");
	a->send_only = true;
	r = route_new(c, &err);
	assert_non_null(r);
	route_resolve(r, "postmaster", &res);
	assert_int_equal(res.kind, ROUTE_REMOTE);
	assert_int_equal(res.nremote, 1);
	assert_string_equal(res.remote[0], "admin@example.net");
	route_result_clear(&res);
	route_resolve(r, "someone@example.com", &res);
	assert_int_equal(res.kind, ROUTE_REJECT);
	assert_int_equal(res.code, 550);
	route_result_clear(&res);
	route_free(&r);

	/* No contact at all: nothing to deliver to, so 550. */
	free(c->system_contact);
	c->system_contact = NULL;
	r = route_new(c, &err);
	route_resolve(r, "postmaster@example.com", &res);
	assert_int_equal(res.kind, ROUTE_REJECT);
	assert_string_equal(res.enhanced, "5.1.1");
	route_result_clear(&res);
	/* Accounts in another domain than system_domain (first of domains). */
	route_free(&r);
	sl_add(&c->domains, "example.org");
	(void)add_account(c, "x@example.org");
	r = route_new(c, &err);
	route_resolve(r, "postmaster@example.com", &res);
	assert_int_equal(res.kind, ROUTE_LOCAL);
	assert_string_equal(res.local[0].name, "x@example.org");
	route_result_clear(&res);
	route_free(&r);
	fixture_free(&c);
}

/* ---- may_send_as ---------------------------------------------------------- */

struct scase {
	const char	*login;
	const char	*address;
	bool		 ok;
};

static const struct scase send_cases[] = {
	{ "user1@example.com", "user1@example.com", true },
	{ "user1@example.com", "USER1@Example.com", true },
	{ "USER1@EXAMPLE.COM", "user1@example.com", true },
	{ "user1@example.com", "user1+tag@example.com", true },
	{ "user1@example.com", "info@example.com", true },
	{ "user1@example.com", "info+x@example.com", true },
	{ "user1@example.com", "mixed@example.com", true },
	{ "user1@example.com", "anything@alias.example", true },
	{ "user1@example.com", "tom.jones@example.com", true },
	{ "user1@example.com", "tom.jones+x@example.com", true },
	{ "user1@example.com", "abuse@example.com", true },
	{ "user1@example.com", "team@example.com", true },
	{ "user1@example.com", "", true },
	{ "user2@example.com", "team@example.com", true },
	{ "user2@example.com", "user2@example.org", true },
	{ "user2@example.com", "user2+x@example.com", true },
	{ "user2@example.com", "hostmaster@example.com", true },
	{ "bob@example.com", "bob-7@example.com", true },
	{ "bob@example.com", "chain3@example.com", true },
	{ "noreply@example.com", "noreply@example.com", true },
	{ "noreply@example.com", "no-reply@example.com", true },
	/* refused */
	{ "user2@example.com", "random@example.org", false },
	{ "user2@example.com", "postmaster@example.org", false },
	{ "user1@example.com", "user2@example.com", false },
	{ "user2@example.com", "user1@example.com", false },
	{ "user2@example.com", "info@example.com", false },
	{ "user1@example.com", "bob-7@example.com", false },
	{ "user1@example.com", "someone@example.net", false },
	{ "user1@example.com", "dave@example.com", false },
	{ "bob@example.com", "gamenight@example.com", false },
	{ "bob@example.com", "chain1@example.com", false },
	{ "user1@example.com", "friend@example.net", false },
	{ "user1@example.com", "tom.jones@example.org", false },
	{ "carol@example.org", "tom.jones@example.org", true },
	{ "bob@example.com", "tom.exact@example.com", true },
	{ "eve@example.com", "eve@example.net", false },
	{ "ghost@example.com", "ghost@example.com", false },
	{ "info@example.com", "info@example.com", false },
	{ "user1@example.com", "user1", false },
};

static void
test_may_send_as(void **state)
{
	struct conf	*c = fixture();
	struct route	*r;
	const char	*err;
	size_t		 i;

	(void)state;
	r = route_new(c, &err);
	assert_non_null(r);
	for (i = 0; i < sizeof(send_cases) / sizeof(send_cases[0]); i++) {
		if (route_may_send_as(r, send_cases[i].login,
		    send_cases[i].address) != send_cases[i].ok) {
			print_error("case %zu: %s as <%s>: want %d\n", i,
			    send_cases[i].login, send_cases[i].address,
			    send_cases[i].ok);
			fail();
		}
	}
	assert_false(route_may_send_as(r, NULL, "user1@example.com"));
	route_free(&r);
	fixture_free(&c);
}

/* ---- reject_sender, local domains, route_new errors -------------------- */

struct jcase {
	const char	*sender;
	bool		 rejected;
};

static const struct jcase sender_cases[] = {
	{ "x@spam.test", true },
	{ "X@SPAM.TEST", true },
	{ "x@sub.spam.test", true },
	{ "x@notspam.test", false },
	{ "x@badco.test", true },
	{ "x@sub.badco.test", false },
	{ "spammer@example.org", true },
	{ "Spammer+x@Example.org", true },
	{ "other@example.org", false },
	{ "a@evil.test", false },
	{ "a@x.evil.test", true },
	{ "mailer-daemon@anything.test", true },
	{ "", false },
	{ "user1@example.com", false },
};

static void
test_sender_rejected(void **state)
{
	struct conf	*c = fixture();
	struct route	*r;
	const char	*err, *text;
	size_t		 i;

	(void)state;
	r = route_new(c, &err);
	for (i = 0; i < sizeof(sender_cases) / sizeof(sender_cases[0]); i++) {
		text = NULL;
		if (route_sender_rejected(r, sender_cases[i].sender, &text) !=
		    sender_cases[i].rejected) {
			print_error("case %zu <%s>: want %d\n", i,
			    sender_cases[i].sender, sender_cases[i].rejected);
			fail();
		}
		if (sender_cases[i].rejected)
			assert_string_equal(text,
			    "Sender address rejected: Access denied");
		else
			assert_null(text);
	}
	route_free(&r);

	/* A custom message, and "<>" for the null sender. */
	free(c->reject_sender_message);
	c->reject_sender_message = xstrdup("Go away.");
	sl_add(&c->reject_sender, "<>");
	r = route_new(c, &err);
	assert_true(route_sender_rejected(r, "", &text));
	assert_string_equal(text, "Go away.");
	assert_true(route_sender_rejected(r, "x@spam.test", NULL));
	assert_false(route_sender_rejected(r, "x@example.com", &text));
	route_free(&r);
	fixture_free(&c);
}

static void
test_local_domain(void **state)
{
	struct conf	*c = fixture();
	struct route	*r;
	const char	*err;

	(void)state;
	r = route_new(c, &err);
	assert_true(route_is_local_domain(r, "example.com"));
	assert_true(route_is_local_domain(r, "EXAMPLE.ORG"));
	assert_true(route_is_local_domain(r, "empty.example"));
	assert_false(route_is_local_domain(r, "example.net"));
	assert_false(route_is_local_domain(r, "sub.example.com"));
	assert_false(route_is_local_domain(r, ""));
	assert_false(route_is_local_domain(r, NULL));
	route_free(&r);
	route_free(&r);			/* NULL is fine */
	fixture_free(&c);
}

static void
test_new_errors(void **state)
{
	static const char *bad[] = {
		"/[a-/", "^nodelim$", "/unterminated", "/ok/z", "/(/",
	};
	struct conf	*c;
	struct route	*r;
	const char	*err;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = fixture();
		sl_add(&c->accounts[1].aliases_regexp, bad[i]);
		err = NULL;
		r = route_new(c, &err);
		assert_null(r);
		assert_non_null(err);
		assert_non_null(strstr(err, "aliases_regexp"));
		assert_non_null(strstr(err, bad[i]));
		fixture_free(&c);
	}
	/* Flags that are fine. */
	c = fixture();
	sl_add(&c->accounts[1].aliases_regexp, "/^x  y@example\\.com$/ix");
	r = route_new(c, &err);
	assert_non_null(r);
	assert_true(route_may_send_as(r, "user2@example.com",
	    "XY@example.com"));
	route_free(&r);
	fixture_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_main),
		cmocka_unit_test(test_resolve_variant),
		cmocka_unit_test(test_postmaster_fallbacks),
		cmocka_unit_test(test_may_send_as),
		cmocka_unit_test(test_sender_rejected),
		cmocka_unit_test(test_local_domain),
		cmocka_unit_test(test_new_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
