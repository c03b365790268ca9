/*
 * conf.c - the life cycle of a loaded struct conf: freeing it, formatting
 * and freeing errors, and the lookups other modules share
 * (conf_is_local_domain, conf_find_account).  Also the small list helpers
 * the loader and the defaults use.  A struct conf is immutable once
 * loaded, so the lookups may run on any thread.  [any]
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmalloc.h"
#include "conf.h"
#include "conf_private.h"

void
conf_strlist_add(struct conf_strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

void
conf_strlist_clear(struct conf_strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	xfree(l->v);
	l->n = 0;
}

void
conf_strlist_copy(struct conf_strlist *dst, const struct conf_strlist *src)
{
	size_t	 i;

	conf_strlist_clear(dst);
	for (i = 0; i < src->n; i++)
		conf_strlist_add(dst, src->v[i]);
}

void
conf_set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src != NULL ? xstrdup(src) : NULL;
}

void
conf_account_clear(struct conf_account *a)
{
	xfree(a->name);
	xfree(a->hashed_password);
	xfree(a->password_file);
	conf_strlist_clear(&a->aliases);
	conf_strlist_clear(&a->aliases_regexp);
	conf_strlist_clear(&a->catch_all);
	xfree(a->send_only_reject_message);
	xfree(a->sieve_script);
}

void
conf_mailboxes_clear(struct conf *c)
{
	size_t	 i;

	for (i = 0; i < c->nmailboxes; i++) {
		free(c->mailboxes[i].name);
		free(c->mailboxes[i].special_use);
	}
	xfree(c->mailboxes);
	c->nmailboxes = 0;
}

static void
conf_selector_clear(struct conf_dkim_selector *s)
{
	xfree(s->name);
	xfree(s->key_file);
}

void
conf_dkim_domains_clear(struct conf *c)
{
	struct conf_dkim_domain	*d;
	size_t			 i, j;

	for (i = 0; i < c->dkim.ndomains; i++) {
		d = &c->dkim.domains[i];
		for (j = 0; j < d->nselectors; j++)
			conf_selector_clear(&d->selectors[j]);
		free(d->selectors);
		free(d->domain);
	}
	xfree(c->dkim.domains);
	c->dkim.ndomains = 0;
}

static void
conf_aliases_free(struct conf_alias *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(v[i].address);
		conf_strlist_clear(&v[i].to);
	}
	free(v);
}

void
conf_free(struct conf **cp)
{
	struct conf	*c = *cp;
	size_t		 i;

	if (c == NULL)
		return;
	free(c->file);
	free(c->fqdn);
	free(c->sending_fqdn);
	conf_strlist_clear(&c->domains);
	free(c->system_domain);
	free(c->system_contact);
	free(c->system_name);
	free(c->state_dir);
	free(c->run_as_user);
	free(c->run_as_group);
	free(c->storage.path);
	conf_strlist_clear(&c->listen.smtp);
	conf_strlist_clear(&c->listen.submission);
	conf_strlist_clear(&c->listen.submissions);
	conf_strlist_clear(&c->listen.imap);
	conf_strlist_clear(&c->listen.imaps);
	conf_strlist_clear(&c->listen.pop3);
	conf_strlist_clear(&c->listen.pop3s);
	conf_strlist_clear(&c->listen.managesieve);
	conf_strlist_clear(&c->listen.http);
	free(c->listen.control);
	free(c->tls.certificate_file);
	free(c->tls.private_key_file);
	free(c->recipient_delimiter);
	conf_strlist_clear(&c->reject_recipients);
	conf_strlist_clear(&c->reject_sender);
	free(c->reject_sender_message);
	for (i = 0; i < c->naccounts; i++)
		conf_account_clear(&c->accounts[i]);
	free(c->accounts);
	free(c->accounts_file);
	conf_aliases_free(c->aliases, c->naliases);
	conf_aliases_free(c->forwards, c->nforwards);
	conf_mailboxes_clear(c);
	free(c->dkim.key_directory);
	conf_selector_clear(&c->dkim.defaults);
	conf_dkim_domains_clear(c);
	free(c->srs.domain);
	free(c->srs.secret_file);
	for (i = 0; i < c->spam.nsymbols; i++)
		free(c->spam.symbols[i].name);
	free(c->spam.symbols);
	free(c->spam.rules_file);
	conf_strlist_clear(&c->spam.dnsbl);
	free(c->virus_scanning.clamd_socket);
	conf_strlist_clear(&c->dns.resolvers);
	free(c->relay.host);
	free(c->relay.username);
	free(c->relay.password_file);
	free(c);
	*cp = NULL;
}

char *
conf_error_format(const struct conf_error *e)
{
	/*
	 * Line 0: the option is missing altogether, no line to cite.  An
	 * empty option: the error is about the file itself.
	 */
	if (e->line > 0 && e->option[0] != '\0')
		return xasprintf("%s:%d: %s: %s", e->file, e->line, e->option,
		    e->message);
	if (e->line > 0)
		return xasprintf("%s:%d: %s", e->file, e->line, e->message);
	if (e->option[0] != '\0')
		return xasprintf("%s: %s: %s", e->file, e->option, e->message);
	return xasprintf("%s: %s", e->file, e->message);
}

void
conf_errors_free(struct conf_errors *errs)
{
	size_t	 i;

	if (errs == NULL)
		return;
	for (i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].option);
		free(errs->v[i].message);
	}
	xfree(errs->v);
	errs->n = 0;
}

bool
conf_is_local_domain(const struct conf *c, const char *domain)
{
	size_t	 i;

	if (c == NULL || domain == NULL)
		return false;
	for (i = 0; i < c->domains.n; i++)
		if (strcasecmp(c->domains.v[i], domain) == 0)
			return true;
	return false;
}

const struct conf_account *
conf_find_account(const struct conf *c, const char *address)
{
	size_t	 i;

	if (c == NULL || address == NULL)
		return NULL;
	/* A NULL name only exists mid-load, in an account with errors. */
	for (i = 0; i < c->naccounts; i++)
		if (c->accounts[i].name != NULL &&
		    strcasecmp(c->accounts[i].name, address) == 0)
			return &c->accounts[i];
	return NULL;
}
