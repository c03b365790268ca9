/*
 * conf_default.c - default values: the production defaults applied before
 * a file is parsed (conf_default_set), the ones derived from other options
 * after it (conf_default_derive), and the embedded development default
 * (conf_default_dev), which is a config text run through the normal loader
 * so that it gets exactly the same checks as a user's file.  [any]
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmalloc.h"
#include "buf.h"
#include "log.h"
#include "conf.h"
#include "conf_private.h"

/* yescrypt of "demo", made once with crypt_gensalt_ra("$y$") + crypt(). */
#define CONF_DEV_DEMO_HASH \
	"$y$j9T$Yi1ao4h5TFarjMu8yluM20$0caknPhZhN3iNcJXHc1xl42uwniwip7VYguNubsk0x7"

static void
conf_default_mailbox(struct conf *c, const char *name, enum conf_mbox_auto a,
    const char *special_use)
{
	struct conf_mailbox	*m;

	c->mailboxes = xreallocarray(c->mailboxes, c->nmailboxes + 1,
	    sizeof(*c->mailboxes));
	m = &c->mailboxes[c->nmailboxes++];
	m->name = xstrdup(name);
	m->autocreate = a;
	m->special_use = xstrdup(special_use);
}

void
conf_default_set(struct conf *c)
{
	c->state_dir = xstrdup("/var/lib/postern");
	c->storage.path = xstrdup("/var/vmail");
	c->storage.layout = CONF_LAYOUT_MAILDIRPP;
	c->storage.hierarchy_separator = '.';
	conf_strlist_add(&c->listen.smtp, "0.0.0.0:25");
	conf_strlist_add(&c->listen.smtp, "[::]:25");
	conf_strlist_add(&c->listen.submissions, "0.0.0.0:465");
	conf_strlist_add(&c->listen.submissions, "[::]:465");
	conf_strlist_add(&c->listen.imaps, "0.0.0.0:993");
	conf_strlist_add(&c->listen.imaps, "[::]:993");
	c->listen.control = xstrdup("/run/postern/control.sock");
	c->message_size_limit = 20971520;
	c->max_connections_per_user = 100;
	c->recipient_delimiter = xstrdup("+");
	c->save_to_detail_mailbox = true;
	c->reject_sender_message = xstrdup("");
	conf_default_mailbox(c, "Drafts", CONF_AUTO_SUBSCRIBE, "\\Drafts");
	conf_default_mailbox(c, "Junk", CONF_AUTO_SUBSCRIBE, "\\Junk");
	conf_default_mailbox(c, "Sent", CONF_AUTO_SUBSCRIBE, "\\Sent");
	conf_default_mailbox(c, "Trash", CONF_AUTO_NO, "\\Trash");
	c->quota.enable = true;
	c->quota.default_per_user = 0;
	c->dkim.enable = true;
	c->dkim.header_canonicalization = CONF_CANON_RELAXED;
	c->dkim.body_canonicalization = CONF_CANON_RELAXED;
	c->dkim.defaults.name = xstrdup("mail");
	c->dkim.defaults.key_type = CONF_KEY_RSA;
	c->dkim.defaults.key_length = 2048;
	c->srs.enable = false;
	c->dmarc.enforce = false;
	c->spam.enable = true;
	c->spam.reject = 15.0;
	c->spam.add_header = 6.0;
	c->spam.greylist = 4.0;
	c->spam.bayes_enable = true;
	c->spam.bayes_autolearn = true;
	c->spam.greylist_enable = false;
	c->spam.greylist_delay = 300;
	c->virus_scanning.enable = false;
	c->virus_scanning.clamd_socket = xstrdup("/run/clamav/clamd.ctl");
	c->relay.host = xstrdup("");
	c->relay.port = 587;
	c->relay.username = xstrdup("");
	c->relay.password_file = xstrdup("");
	c->outbound.tls_session_tickets = true;
	c->queue.lifetime = 432000;
	c->limits.max_connections = 10000;
	c->limits.max_connections_per_ip = 500;
	c->limits.smtp_timeout = 300;
	c->limits.imap_timeout = 1800;
	c->limits.pop3_timeout = 600;
	c->limits.shutdown_timeout = 10;
	c->mta_sts.mode = CONF_STS_TESTING;
	c->mta_sts.max_age = 86400;
}

/*
 * Options whose default is another option's value.  Runs after the whole
 * file is read, so the order of options in the file does not matter.
 */
void
conf_default_derive(struct conf *c)
{
	struct conf_dkim_domain	*d;
	size_t			 i;

	if (c->sending_fqdn == NULL && c->fqdn != NULL)
		c->sending_fqdn = xstrdup(c->fqdn);
	if (c->system_domain == NULL && c->domains.n > 0)
		c->system_domain = xstrdup(c->domains.v[0]);
	if (c->system_contact == NULL && c->system_domain != NULL)
		c->system_contact = xasprintf("postmaster@%s",
		    c->system_domain);
	if (c->system_name == NULL && c->system_domain != NULL)
		c->system_name = xasprintf("%s mail system", c->system_domain);
	if (c->dkim.key_directory == NULL)
		c->dkim.key_directory = xasprintf("%s/dkim", c->state_dir);
	if (c->srs.domain == NULL && c->fqdn != NULL)
		c->srs.domain = xstrdup(c->fqdn);
	if (c->srs.secret_file == NULL)
		c->srs.secret_file = xasprintf("%s/srs.secret", c->state_dir);
	/* The policy names the one MX we know: ourselves. */
	if (!c->mta_sts.mx_set && c->mta_sts.nmx == 0 && c->fqdn != NULL &&
	    strlen(c->fqdn) < sizeof(c->mta_sts.mx[0])) {
		memcpy(c->mta_sts.mx[0], c->fqdn, strlen(c->fqdn) + 1);
		c->mta_sts.nmx = 1;
	}
	/* No dkim.domains: sign for every domain with the default selector. */
	if (c->dkim.ndomains == 0 && c->domains.n > 0) {
		c->dkim.domains = xcalloc(c->domains.n, sizeof(*c->dkim.domains));
		for (i = 0; i < c->domains.n; i++) {
			d = &c->dkim.domains[i];
			d->domain = xstrdup(c->domains.v[i]);
			d->selectors = xcalloc(1, sizeof(*d->selectors));
			d->nselectors = 1;
			d->selectors[0].name = xstrdup(c->dkim.defaults.name);
			d->selectors[0].key_type = c->dkim.defaults.key_type;
			d->selectors[0].key_length = c->dkim.defaults.key_length;
		}
		c->dkim.ndomains = c->domains.n;
	}
}

/* Quote a path for a libconfig string literal. */
static void
conf_default_quote(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *s);
	}
	buf_putc(b, '"');
}

struct conf *
conf_default_dev(void)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*c;
	struct buf		 b;
	char			 cwd[PATH_MAX], *base, *text, *line;
	size_t			 i;

	/* A relative or unusable cwd cannot hold the state: fall back. */
	if (getcwd(cwd, sizeof(cwd)) == NULL || cwd[0] != '/')
		strcpy(cwd, "/tmp");
	base = xasprintf("%s/postern-dev", strcmp(cwd, "/") == 0 ? "" : cwd);

	buf_init(&b, 0);
	buf_puts(&b,
	    "fqdn = \"localhost\";\n"
	    "domains = [ \"example.test\" ];\n"
	    "state_dir = ");
	text = xasprintf("%s/state", base);
	conf_default_quote(&b, text);
	free(text);
	buf_puts(&b, ";\nstorage = { path = ");
	text = xasprintf("%s/mail", base);
	conf_default_quote(&b, text);
	free(text);
	buf_puts(&b, "; };\n"
	    "listen = {\n"
	    "  smtp = [ \"127.0.0.1:2525\" ];\n"
	    "  submission = [ \"127.0.0.1:2587\" ];\n"
	    "  submissions = [ \"127.0.0.1:2465\" ];\n"
	    "  imap = [ \"127.0.0.1:2143\" ];\n"
	    "  imaps = [ \"127.0.0.1:2993\" ];\n"
	    "  pop3 = [ \"127.0.0.1:2110\" ];\n"
	    "  pop3s = [ \"127.0.0.1:2995\" ];\n"
	    "  managesieve = [ \"127.0.0.1:2190\" ];\n"
	    "  http = [ \"127.0.0.1:2080\" ];\n"
	    "  control = ");
	text = xasprintf("%s/control.sock", base);
	conf_default_quote(&b, text);
	free(text);
	buf_puts(&b, ";\n};\n"
	    "accounts = ( { name = \"demo@example.test\";\n"
	    "  hashed_password = \"" CONF_DEV_DEMO_HASH "\"; } );\n"
	    "dns = { resolvers = [ ]; };\n");
	free(base);
	text = buf_steal(&b, NULL);

	c = conf_load_string(text, "(embedded default)", &errs);
	free(text);
	if (c == NULL) {
		/* Only a bug in the text above gets here. */
		for (i = 0; i < errs.n; i++) {
			line = conf_error_format(&errs.v[i]);
			log_err("%s", line);
			free(line);
		}
		log_panic("embedded development config does not load");
	}
	conf_errors_free(&errs);
	c->dev = true;
	return c;
}
