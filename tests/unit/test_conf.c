/*
 * test_conf.c - unit tests for the config loader (conf/).
 *
 * A table of bad configs, each written to a temporary file and loaded,
 * with the exact "FILE:LINE: option: message" strings expected; then good
 * configs: a full example with every option, the production defaults,
 * the embedded development default, accounts_file merging, and the small
 * helpers (conf_parse_hostport, lookups).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "xmalloc.h"
#include "conf.h"

#define D		TEST_DATA_DIR "/conf"
#define BASE		"fqdn = \"mail.example.com\";\n" \
			"domains = [ \"example.com\", \"example.org\" ];\n"
#define HASH6		"$6$saltsalt$abcdefghijklmnopqrstuvwxyz0123456789"
#define HASHY		"$y$j9T$Yi1ao4h5TFarjMu8yluM20$" \
			"0caknPhZhN3iNcJXHc1xl42uwniwip7VYguNubsk0x7"

static char	 tmpdir[] = "/tmp/test_conf.XXXXXX";

static char *
write_file(const char *name, const char *text)
{
	char	*path = xasprintf("%s/%s", tmpdir, name);
	FILE	*fp;

	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/*
 * Each expected string is either ":LINE: option: message" (appended to
 * the path of the temporary config) or, for errors in other files, the
 * whole string.
 */
struct bad_case {
	const char	*name;
	const char	*text;
	const char	*want[6];
};

static const struct bad_case bad_cases[] = {
	{ "syntax error",
	    "fqdn = \"mail.example.com\";\ndomains = [ \"example.com\" ;\n",
	    { ":2: syntax: syntax error" } },
	{ "unknown top-level option with a suggestion",
	    BASE "mesage_size_limit = 1024;\n",
	    { ":3: mesage_size_limit: unknown option (did you mean "
	      "'message_size_limit'?)" } },
	{ "unknown top-level option without a suggestion",
	    BASE "frobnicate = true;\n",
	    { ":3: frobnicate: unknown option" } },
	{ "unknown nested option",
	    BASE "listen = {\n  imaqs = [ ];\n};\n",
	    { ":4: listen.imaqs: unknown option (did you mean 'imaps'?)" } },
	{ "unknown option inside an account",
	    BASE "accounts = (\n { name = \"a@example.com\";\n"
	    "   hashed_password = \"" HASH6 "\";\n   qouta = \"1G\"; }\n);\n",
	    { ":6: accounts[0].qouta: unknown option (did you mean "
	      "'quota'?)" } },
	{ "string expected",
	    "fqdn = 5;\ndomains = [ \"example.com\" ];\n",
	    { ":1: fqdn: expected a string" } },
	{ "boolean expected",
	    BASE "debug = \"yes\";\nquota = { enable = 1; };\n",
	    { ":3: debug: expected a boolean",
	      ":4: quota.enable: expected a boolean" } },
	{ "list of strings expected",
	    "fqdn = \"mail.example.com\";\ndomains = \"example.com\";\n",
	    { ":2: domains: expected a list of strings" } },
	{ "group expected",
	    BASE "storage = \"/var/vmail\";\n",
	    { ":3: storage: expected a group" } },
	{ "port out of range",
	    BASE "listen = {\n  smtp = [ \"0.0.0.0:70000\", \"[::]:0\" ];\n};\n",
	    { ":4: listen.smtp[0]: invalid listen address \"0.0.0.0:70000\": "
	      "port out of range (1-65535)",
	      ":4: listen.smtp[1]: invalid listen address \"[::]:0\": "
	      "port out of range (1-65535)" } },
	{ "bad listen addresses",
	    BASE "listen = {\n  imaps = [ \"localhost:993\", \"::1:993\",\n"
	    "    \"[::1]\" ];\n};\n",
	    { ":4: listen.imaps[0]: invalid listen address \"localhost:993\": "
	      "invalid IPv4 address",
	      ":4: listen.imaps[1]: invalid listen address \"::1:993\": "
	      "expected \"addr:port\" or \"[v6addr]:port\"",
	      ":5: listen.imaps[2]: invalid listen address \"[::1]\": "
	      "expected \"addr:port\" or \"[v6addr]:port\"" } },
	{ "duplicate listen address",
	    BASE "listen = {\n  smtp = [ \"0.0.0.0:25\" ];\n"
	    "  submission = [ \"[::1]:587\", \"0.0.0.0:25\" ];\n"
	    "  imap = [ \"[0:0::1]:587\" ];\n};\n",
	    { ":5: listen.submission[1]: duplicate listen address "
	      "\"0.0.0.0:25\" (also in listen.smtp[0])",
	      ":6: listen.imap[0]: duplicate listen address \"[0:0::1]:587\" "
	      "(also in listen.submission[0])" } },
	{ "bad address",
	    BASE "reject_recipients = [ \"sales.example.com\", \"a..b@x.com\" ];\n"
	    "system_contact = \"postmaster@\";\n",
	    { ":3: reject_recipients[0]: invalid address \"sales.example.com\": "
	      "missing '@'",
	      ":3: reject_recipients[1]: invalid address \"a..b@x.com\": "
	      "misplaced '.' in local part",
	      ":4: system_contact: invalid address \"postmaster@\": "
	      "empty domain" } },
	{ "bad domain syntax",
	    "fqdn = \"-mail.example.com\";\n"
	    "domains = [ \"exa_mple.com\", \"example..org\", \"Example.COM\", "
	    "\"example.com\" ];\n",
	    { ":1: fqdn: invalid domain \"-mail.example.com\": label starts "
	      "with '-'",
	      ":2: domains[0]: invalid domain \"exa_mple.com\": invalid "
	      "character in domain",
	      ":2: domains[1]: invalid domain \"example..org\": empty label "
	      "in domain",
	      ":2: domains[3]: duplicate domain \"example.com\"" } },
	{ "empty domains",
	    "fqdn = \"mail.example.com\";\ndomains = [ ];\n",
	    { ":2: domains: must not be empty" } },
	{ "missing required options",
	    "debug = true;\n",
	    { ": fqdn: missing required option",
	      ": domains: missing required option" } },
	{ "account domain not in domains",
	    BASE "accounts = (\n { name = \"bob@other.net\";\n"
	    "   hashed_password = \"" HASH6 "\";\n"
	    "   aliases = [ \"@example.org\", \"x@elsewhere.net\" ];\n"
	    "   catch_all = [ \"example.net\" ]; }\n);\n",
	    { ":4: accounts[0].name: domain \"other.net\" is not in domains",
	      ":6: accounts[0].aliases[1]: domain \"elsewhere.net\" is not "
	      "in domains",
	      ":7: accounts[0].catch_all[0]: domain \"example.net\" is not "
	      "in domains" } },
	{ "two password sources",
	    BASE "accounts = (\n { name = \"a@example.com\";\n"
	    "   hashed_password = \"" HASH6 "\";\n"
	    "   password_file = \"" D "/user1.password\"; }\n);\n",
	    { ":6: accounts[0].password_file: conflicts with hashed_password: "
	      "set only one password source" } },
	{ "no password source",
	    BASE "accounts = (\n { name = \"a@example.com\"; }\n);\n",
	    { ":4: accounts[0]: no password: set one of hashed_password, "
	      "hashed_password_file or password_file" } },
	{ "not a crypt hash",
	    BASE "accounts = (\n { name = \"a@example.com\";\n"
	    "   hashed_password = \"secret\"; },\n"
	    " { name = \"b@example.com\";\n"
	    "   hashed_password_file = \"" D "/bad.hash\"; }\n);\n",
	    { ":5: accounts[0].hashed_password: not a password hash: expected "
	      "a crypt(3) string starting with $y$, $gy$, $7$, $6$, $5$ or $2b$",
	      ":7: accounts[1].hashed_password_file: " D "/bad.hash: not a "
	      "password hash: expected a crypt(3) string starting with $y$, "
	      "$gy$, $7$, $6$, $5$ or $2b$" } },
	{ "unreadable password files",
	    BASE "accounts = (\n { name = \"a@example.com\";\n"
	    "   password_file = \"/nonexistent/pw\"; },\n"
	    " { name = \"b@example.com\";\n"
	    "   hashed_password_file = \"/nonexistent/hash\"; }\n);\n",
	    { ":5: accounts[0].password_file: cannot read /nonexistent/pw: "
	      "No such file or directory",
	      ":7: accounts[1].hashed_password_file: cannot read "
	      "/nonexistent/hash: No such file or directory" } },
	{ "unreadable certificate",
	    BASE "tls = {\n  certificate_file = \"/nonexistent/cert.pem\";\n"
	    "  private_key_file = \"" D "/key.pem\";\n};\n",
	    { ":4: tls.certificate_file: cannot read /nonexistent/cert.pem: "
	      "No such file or directory" } },
	{ "certificate without key",
	    BASE "tls = { certificate_file = \"" D "/cert.pem\"; };\n",
	    { ":3: tls.certificate_file: set without tls.private_key_file "
	      "(set both or neither)" } },
	{ "bad sizes",
	    BASE "message_size_limit = \"20X\";\nquota = { default_per_user = "
	    "-1; };\n",
	    { ":3: message_size_limit: expected a size (an integer or a "
	      "string like \"2G\")",
	      ":4: quota.default_per_user: expected a size (an integer or a "
	      "string like \"2G\")" } },
	{ "size too small",
	    BASE "message_size_limit = 1000;\n",
	    { ":3: message_size_limit: must be at least 1024" } },
	{ "integer beyond 32 bits",
	    BASE "message_size_limit = 5000000000;\n",
	    { ":3: syntax: integer 5000000000 does not fit in 32 bits (add an "
	      "L suffix, or write a size like \"5G\")" } },
	{ "bad layout and separator",
	    BASE "storage = {\n  layout = \"mbox\";\n"
	    "  hierarchy_separator = \"::\";\n  path = \"vmail\";\n};\n",
	    { ":4: storage.layout: expected one of \"maildir++\" or \"fs\"",
	      ":5: storage.hierarchy_separator: expected \".\" or \"/\"",
	      ":6: storage.path: expected an absolute path" } },
	{ "bad mailboxes",
	    BASE "mailboxes = (\n { name = \"Junk\"; special_use = "
	    "\"\\\\Spam\"; },\n { name = \"Sent\"; auto = \"always\"; },\n"
	    " { auto = \"no\"; }\n);\n",
	    { ":4: mailboxes[0].special_use: expected one of \\All, "
	      "\\Archive, \\Drafts, \\Flagged, \\Junk, \\Sent, \\Trash",
	      ":5: mailboxes[1].auto: expected one of \"no\", \"create\" or "
	      "\"subscribe\"",
	      ":6: mailboxes[2].name: missing required option" } },
	{ "bad regexp",
	    BASE "accounts = (\n { name = \"a@example.com\";\n"
	    "   hashed_password = \"" HASH6 "\";\n"
	    "   aliases_regexp = [ \"/^tom(.*@example\\\\.com$/\", "
	    "\"^tom$\" ]; }\n);\n",
	    { ":6: accounts[0].aliases_regexp[0]: invalid regular expression "
	      "at offset 21: missing closing parenthesis",
	      ":6: accounts[0].aliases_regexp[1]: expected a regular "
	      "expression between slashes, like "
	      "\"/^tom\\..*@example\\.com$/\"" } },
	{ "duplicate account",
	    BASE "accounts = (\n { name = \"a@example.com\";\n"
	    "   hashed_password = \"" HASH6 "\"; },\n"
	    " { name = \"A@Example.com\";\n"
	    "   hashed_password = \"" HASH6 "\"; }\n);\n",
	    { ":6: accounts[1]: duplicate account \"a@example.com\" (first "
	      "declared at @@:4)" } },
	{ "alias to unknown account",
	    BASE "accounts = (\n { name = \"a@example.com\";\n"
	    "   hashed_password = \"" HASH6 "\"; }\n);\n"
	    "aliases = (\n { address = \"abuse@example.com\";\n"
	    "   to = [ \"a@example.com\", \"nobody@example.org\", "
	    "\"ext@gmail.com\" ]; },\n { address = \"x@example.com\"; }\n);\n"
	    "forwards = (\n { address = \"f@example.net\"; to = [ "
	    "\"bob\" ]; }\n);\n",
	    { ":9: aliases[0].to[1]: \"nobody@example.org\" is not an account",
	      ":10: aliases[1].to: missing required option",
	      ":13: forwards[0].to[0]: invalid address \"bob\": missing "
	      "'@'",
	      ":13: forwards[0].address: domain \"example.net\" is not in "
	      "domains" } },
	{ "dkim",
	    BASE "dkim = {\n  header_canonicalization = \"loose\";\n"
	    "  defaults = { key_length = 1000; key_type = \"dsa\"; };\n"
	    "  domains = ( { domain = \"example.com\";\n"
	    "    selectors = ( { name = \"s1\"; key_lenght = 2048; } ); } );\n"
	    "};\n",
	    { ":4: dkim.header_canonicalization: expected one of \"relaxed\" "
	      "or \"simple\"",
	      ":5: dkim.defaults.key_length: expected 1024, 2048, 3072 or 4096",
	      ":5: dkim.defaults.key_type: expected one of \"rsa\" or "
	      "\"ed25519\"",
	      ":7: dkim.domains[0].selectors[0].key_lenght: unknown option "
	      "(did you mean 'key_length'?)" } },
	{ "mta_sts",
	    BASE "mta_sts = {\n  mode = \"strict\";\n  max_age = -1;\n"
	    "  mx = ( \"mx1.example.com\", \"*.bad..example\", 25 );\n"
	    "  maxage = 60;\n};\n",
	    { ":4: mta_sts.mode: expected one of \"testing\", \"enforce\" or "
	      "\"none\"",
	      ":5: mta_sts.max_age: must be between 0 and 31557600",
	      ":6: mta_sts.mx[1]: invalid MX pattern \"*.bad..example\": "
	      "empty label in domain (expected a host name or *.domain)",
	      ":6: mta_sts.mx[2]: expected a string",
	      ":7: mta_sts.maxage: unknown option (did you mean 'max_age'?)" } },
	{ "mta_sts enforce without mx",
	    BASE "mta_sts = { mode = \"enforce\";\n  mx = [ ]; };\n",
	    { ":4: mta_sts.mx: must not be empty unless mode is \"none\" "
	      "(RFC 8461 3.2)" } },
	{ "spam, relay, queue, limits",
	    BASE "spam = { actions = { reject = \"high\"; }; greylist = { "
	    "delay = -5; }; };\nrelay = { port = 0; };\nqueue = { lifetime = "
	    "0; };\nlimits = { imap_timeout = \"30m\"; };\n",
	    { ":3: spam.actions.reject: expected a number",
	      ":3: spam.greylist.delay: must be between 0 and 86400",
	      ":4: relay.port: must be between 1 and 65535",
	      ":5: queue.lifetime: must be at least 1",
	      ":6: limits.imap_timeout: expected an integer" } },
	{ "dnsbl zones",
	    BASE "spam = { dnsbl = [ \"ok.example:wl\", \"bad_zone:wl\", "
	    "\"x..y\" ]; };\n",
	    { ":3: spam.dnsbl[1]: invalid domain \"bad_zone\": invalid "
	      "character in domain",
	      ":3: spam.dnsbl[2]: invalid domain \"x..y\": empty label in "
	      "domain" } },
	{ "outbound",
	    BASE "outbound = { tls_session_tickets = \"no\"; "
	    "tls_session_ticket = false; };\n",
	    { ":3: outbound.tls_session_tickets: expected a boolean",
	      ":3: outbound.tls_session_ticket: unknown option (did you mean "
	      "'tls_session_tickets'?)" } },
	{ "dmarc",
	    BASE "dmarc = { enforce = \"yes\";\n  enforced = true; };\n",
	    { ":3: dmarc.enforce: expected a boolean",
	      ":4: dmarc.enforced: unknown option (did you mean "
	      "'enforce'?)" } },
	{ "syntax error in the accounts file",
	    BASE "accounts_file = \"" D "/bad_accounts.conf\";\n",
	    { D "/bad_accounts.conf:3: syntax: syntax error" } },
	{ "@include of a directory or a missing file",
	    BASE "@include \"/\"\n@include \"missing.conf\"\n",
	    { ":3: syntax: @include \"/\": not a regular file",
	      ":4: syntax: @include \"missing.conf\": No such file or "
	      "directory" } },
	{ "many errors in one file, all reported in line order",
	    "fqdn = \"mail.example.com\";\n"
	    "domains = [ \"example.com\" ];\n"
	    "listen = { smtp = [ \"1.2.3.4:99999\" ]; };\n"
	    "debug = 1;\n"
	    "accounts = ( { name = \"u@example.org\"; } );\n"
	    "storage = { layuot = \"fs\"; };\n",
	    { ":3: listen.smtp[0]: invalid listen address \"1.2.3.4:99999\": "
	      "port out of range (1-65535)",
	      ":4: debug: expected a boolean",
	      ":5: accounts[0]: no password: set one of hashed_password, "
	      "hashed_password_file or password_file",
	      ":5: accounts[0].name: domain \"example.org\" is not in domains",
	      ":6: storage.layuot: unknown option (did you mean "
	      "'layout'?)" } },
};

static void
test_bad_configs(void **state)
{
	const struct bad_case	*bc;
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*c;
	char			*path, *got, *want, *at;
	size_t			 i, j, n;
	int			 failed = 0;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		bc = &bad_cases[i];
		path = write_file("t.conf", bc->text);
		c = conf_load(path, &errs);
		for (n = 0; bc->want[n] != NULL; n++)
			;
		if (c != NULL || errs.n != n) {
			printf("case \"%s\": got %zu errors, want %zu\n",
			    bc->name, errs.n, n);
			failed++;
		}
		for (j = 0; j < errs.n; j++) {
			got = conf_error_format(&errs.v[j]);
			want = NULL;
			if (j < n) {
				want = bc->want[j][0] == ':' ?
				    xasprintf("%s%s", path, bc->want[j]) :
				    xstrdup(bc->want[j]);
				/* "@@" stands for the config's own path. */
				if ((at = strstr(want, "@@")) != NULL) {
					*at = '\0';
					at = xasprintf("%s%s%s", want, path,
					    at + 2);
					free(want);
					want = at;
				}
			}
			if (want == NULL || strcmp(got, want) != 0) {
				printf("case \"%s\" error %zu:\n  got  %s\n"
				    "  want %s\n", bc->name, j, got,
				    want != NULL ? want : "(none)");
				failed++;
			}
			free(want);
			free(got);
		}
		conf_free(&c);
		conf_errors_free(&errs);
		unlink(path);
		free(path);
	}
	assert_int_equal(failed, 0);
	assert_true(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 25);
}

static void
test_syntax_error_string(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	char			*s;

	(void)state;
	assert_null(conf_load_string("a = ;\n", "inline", &errs));
	assert_int_equal(errs.n, 1);
	s = conf_error_format(&errs.v[0]);
	assert_string_equal(s, "inline:1: syntax: syntax error");
	free(s);
	conf_errors_free(&errs);
	/* errs may be NULL. */
	assert_null(conf_load_string("a = ;\n", "inline", NULL));
}

static void
test_missing_file(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	char			*s;

	(void)state;
	assert_null(conf_load("/nonexistent/postern.conf", &errs));
	assert_int_equal(errs.n, 1);
	s = conf_error_format(&errs.v[0]);
	assert_string_equal(s, "/nonexistent/postern.conf: cannot read: "
	    "No such file or directory");
	free(s);
	conf_errors_free(&errs);
}

static struct conf *
load_ok(const char *text)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*c;
	char			*path, *s;
	size_t			 i;

	path = write_file("good.conf", text);
	c = conf_load(path, &errs);
	for (i = 0; i < errs.n; i++) {
		s = conf_error_format(&errs.v[i]);
		printf("unexpected: %s\n", s);
		free(s);
	}
	assert_int_equal(errs.n, 0);
	assert_non_null(c);
	assert_string_equal(c->file, path);
	conf_errors_free(&errs);
	unlink(path);
	free(path);
	return c;
}

static void
assert_list(const struct conf_strlist *l, const char *const *want)
{
	size_t	 n;

	for (n = 0; want[n] != NULL; n++)
		assert_true(n < l->n && strcmp(l->v[n], want[n]) == 0);
	assert_int_equal(l->n, n);
}

#define LIST(...)	((const char *const[]){ __VA_ARGS__, NULL })
#define EMPTY		((const char *const[]){ NULL })

static const char full_conf[] =
    "# every option of CONFIG.md, none at its default\n"
    "fqdn = \"Mail.Example.com\";\n"
    "sending_fqdn = \"out.example.com\";\n"
    "domains = [ \"example.com\", \"Example.ORG\" ];\n"
    "system_domain = \"example.org\";\n"
    "system_contact = \"hostmaster@example.org\";\n"
    "system_name = \"Example Mail\";\n"
    "state_dir = \"/srv/postern\";\n"
    "run_as = { user = \"vmail\"; group = \"mail\"; };\n"
    "debug = true;\n"
    "storage = {\n"
    "  path = \"/srv/vmail\";\n"
    "  layout = \"fs\";\n"
    "  hierarchy_separator = \"/\";\n"
    "  use_utf8_folder_names = true;\n"
    "};\n"
    "listen = {\n"
    "  smtp = [ \"192.0.2.1:25\" ];\n"
    "  submission = [ \"192.0.2.1:587\" ];\n"
    "  submissions = [ \"[2001:db8::1]:465\" ];\n"
    "  imap = [ \"192.0.2.1:143\" ];\n"
    "  imaps = [ \"192.0.2.1:993\", \"[::]:993\" ];\n"
    "  pop3 = [ \"192.0.2.1:110\" ];\n"
    "  pop3s = [ \"192.0.2.1:995\" ];\n"
    "  managesieve = [ \"192.0.2.1:4190\" ];\n"
    "  http = [ \"127.0.0.1:8080\" ];\n"
    "  control = \"/run/p/control.sock\";\n"
    "};\n"
    "tls = {\n"
    "  certificate_file = \"" D "/cert.pem\";\n"
    "  private_key_file = \"" D "/key.pem\";\n"
    "};\n"
    "message_size_limit = \"50M\";\n"
    "max_connections_per_user = 20;\n"
    "recipient_delimiter = \"+-\";\n"
    "save_to_detail_mailbox = false;\n"
    "reject_recipients = [ \"sales@example.com\" ];\n"
    "reject_sender = [ \"example.net\", \"Spammer@example.org\" ];\n"
    "reject_sender_message = \"go away\";\n"
    "rewrite_message_id = true;\n"
    "accounts = (\n"
    "  { name = \"User1@Example.com\";\n"
    "    hashed_password = \"" HASHY "\";\n"
    "    aliases = [ \"postmaster@example.com\", \"@example.org\" ];\n"
    "    aliases_regexp = [ \"/^tom\\\\..*@example\\\\.com$/\" ];\n"
    "    catch_all = [ \"example.com\" ];\n"
    "    quota = \"2G\";\n"
    "    send_only = false;\n"
    "    sieve_script = \"require [\\\"fileinto\\\"];\";\n"
    "  },\n"
    "  { name = \"bob@example.com\";\n"
    "    hashed_password_file = \"" D "/user1.hash\";\n"
    "    quota = 1048576;\n"
    "    send_only = true;\n"
    "    send_only_reject_message = \"This account cannot receive "
    "emails.\"; },\n"
    "  { name = \"carol@example.org\";\n"
    "    password_file = \"" D "/user1.password\"; }\n"
    ");\n"
    "accounts_file = \"/nonexistent/accounts\";\n"
    "aliases = ( { address = \"abuse@example.com\"; "
    "to = [ \"user1@example.com\", \"ext@example.net\" ]; } );\n"
    "forwards = ( { address = \"gamenight@example.com\"; "
    "to = [ \"bob@example.com\", \"frank@example.net\" ]; } );\n"
    "mailboxes = (\n"
    "  { name = \"Archive\"; auto = \"create\"; special_use = \"\\\\archive\"; },\n"
    "  { name = \"Spam\"; auto = \"subscribe\"; special_use = \"\\\\Junk\"; },\n"
    "  { name = \"Notes\"; }\n"
    ");\n"
    "quota = { enable = false; default_per_user = \"10G\"; };\n"
    "dkim = {\n"
    "  enable = false;\n"
    "  key_directory = \"/var/dkim\";\n"
    "  header_canonicalization = \"simple\";\n"
    "  body_canonicalization = \"simple\";\n"
    "  domains = (\n"
    "    { domain = \"example.com\";\n"
    "      selectors = ( { name = \"mail\"; },\n"
    "                    { name = \"ed-2026\"; key_type = \"ed25519\"; },\n"
    "                    { name = \"rsa-2026-03\"; key_file = "
    "\"/run/keys/ex.key\"; key_length = 4096; } ); },\n"
    "    { domain = \"example.org\"; }\n"
    "  );\n"
    "  defaults = { selector = \"s2026\"; key_type = \"rsa\"; "
    "key_length = 3072; };\n"
    "};\n"
    "srs = { enable = true; domain = \"srs.example.com\"; "
    "secret_file = \"/var/lib/postern/srs.secret\"; };\n"
    "dmarc = { enforce = true; };\n"
    "spam = {\n"
    "  enable = false;\n"
    "  actions = { reject = 20.5; add_header = 5; };\n"
    "  symbols = ( { name = \"FORGED_RECIPIENTS\"; weight = 0.0; },\n"
    "              { name = \"R_SPF_FAIL\"; weight = 2; } );\n"
    "  rules_file = \"/etc/postern/rules.conf\";\n"
    "  dnsbl = [ \"zen.spamhaus.org\", \"List.DNSWL.example:WL\" ];\n"
    "  bayes = { enable = false; autolearn = false; };\n"
    "  greylist = { enable = true; delay = 120; };\n"
    "};\n"
    "virus_scanning = { enable = true; clamd_socket = "
    "\"/run/clamd.sock\"; };\n"
    "dns = { resolvers = [ \"127.0.0.1:5353\", \"::1\", \"9.9.9.9\" ]; };\n"
    "relay = { host = \"smtp.provider.net\"; port = 2525; username = "
    "\"me\"; password_file = \"/etc/postern/relay.pw\"; };\n"
    "outbound = { tls_session_tickets = false; };\n"
    "queue = { lifetime = 86400; };\n"
    "limits = { max_connections = 100; max_connections_per_ip = 10;\n"
    "  smtp_timeout = 60; imap_timeout = 600; pop3_timeout = 120;\n"
    "  shutdown_timeout = 3; };\n";

static void
test_full_config(void **state)
{
	struct conf			*c;
	const struct conf_account	*a;
	const struct conf_dkim_domain	*d;

	(void)state;
	c = load_ok(full_conf);
	assert_false(c->dev);
	assert_string_equal(c->fqdn, "mail.example.com");
	assert_string_equal(c->sending_fqdn, "out.example.com");
	assert_list(&c->domains, LIST("example.com", "example.org"));
	assert_string_equal(c->system_domain, "example.org");
	assert_string_equal(c->system_contact, "hostmaster@example.org");
	assert_string_equal(c->system_name, "Example Mail");
	assert_string_equal(c->state_dir, "/srv/postern");
	assert_string_equal(c->run_as_user, "vmail");
	assert_string_equal(c->run_as_group, "mail");
	assert_true(c->debug);
	assert_string_equal(c->storage.path, "/srv/vmail");
	assert_int_equal(c->storage.layout, CONF_LAYOUT_FS);
	assert_int_equal(c->storage.hierarchy_separator, '/');
	assert_true(c->storage.use_utf8_folder_names);
	assert_list(&c->listen.smtp, LIST("192.0.2.1:25"));
	assert_list(&c->listen.submission, LIST("192.0.2.1:587"));
	assert_list(&c->listen.submissions, LIST("[2001:db8::1]:465"));
	assert_list(&c->listen.imap, LIST("192.0.2.1:143"));
	assert_list(&c->listen.imaps, LIST("192.0.2.1:993", "[::]:993"));
	assert_list(&c->listen.pop3, LIST("192.0.2.1:110"));
	assert_list(&c->listen.pop3s, LIST("192.0.2.1:995"));
	assert_list(&c->listen.managesieve, LIST("192.0.2.1:4190"));
	assert_list(&c->listen.http, LIST("127.0.0.1:8080"));
	assert_string_equal(c->listen.control, "/run/p/control.sock");
	assert_string_equal(c->tls.certificate_file, D "/cert.pem");
	assert_string_equal(c->tls.private_key_file, D "/key.pem");
	assert_int_equal(c->message_size_limit, 50 * 1024 * 1024);
	assert_int_equal(c->max_connections_per_user, 20);
	assert_string_equal(c->recipient_delimiter, "+-");
	assert_false(c->save_to_detail_mailbox);
	assert_list(&c->reject_recipients, LIST("sales@example.com"));
	assert_list(&c->reject_sender, LIST("example.net",
	    "spammer@example.org"));
	assert_string_equal(c->reject_sender_message, "go away");
	assert_true(c->rewrite_message_id);

	assert_int_equal(c->naccounts, 3);
	a = &c->accounts[0];
	assert_string_equal(a->name, "user1@example.com");
	assert_string_equal(a->hashed_password, HASHY);
	assert_null(a->password_file);
	assert_list(&a->aliases, LIST("postmaster@example.com",
	    "@example.org"));
	assert_list(&a->aliases_regexp, LIST("/^tom\\..*@example\\.com$/"));
	assert_list(&a->catch_all, LIST("example.com"));
	assert_int_equal(a->quota, 2ULL << 30);
	assert_false(a->send_only);
	assert_null(a->send_only_reject_message);
	assert_string_equal(a->sieve_script, "require [\"fileinto\"];");
	assert_int_equal(a->line, 42);
	a = &c->accounts[1];
	assert_string_equal(a->name, "bob@example.com");
	assert_string_equal(a->hashed_password, HASHY);	/* trimmed */
	assert_int_equal(a->quota, 1048576);
	assert_true(a->send_only);
	assert_string_equal(a->send_only_reject_message,
	    "This account cannot receive emails.");
	a = &c->accounts[2];
	assert_null(a->hashed_password);
	assert_string_equal(a->password_file, D "/user1.password");
	assert_string_equal(c->accounts_file, "/nonexistent/accounts");

	assert_int_equal(c->naliases, 1);
	assert_string_equal(c->aliases[0].address, "abuse@example.com");
	assert_list(&c->aliases[0].to, LIST("user1@example.com",
	    "ext@example.net"));
	assert_int_equal(c->nforwards, 1);
	assert_string_equal(c->forwards[0].address, "gamenight@example.com");
	assert_list(&c->forwards[0].to, LIST("bob@example.com",
	    "frank@example.net"));

	assert_int_equal(c->nmailboxes, 3);
	assert_string_equal(c->mailboxes[0].name, "Archive");
	assert_int_equal(c->mailboxes[0].autocreate, CONF_AUTO_CREATE);
	assert_string_equal(c->mailboxes[0].special_use, "\\Archive");
	assert_int_equal(c->mailboxes[1].autocreate, CONF_AUTO_SUBSCRIBE);
	assert_string_equal(c->mailboxes[1].special_use, "\\Junk");
	assert_string_equal(c->mailboxes[2].name, "Notes");
	assert_int_equal(c->mailboxes[2].autocreate, CONF_AUTO_NO);
	assert_null(c->mailboxes[2].special_use);

	assert_false(c->quota.enable);
	assert_int_equal(c->quota.default_per_user, 10ULL << 30);

	assert_false(c->dkim.enable);
	assert_string_equal(c->dkim.key_directory, "/var/dkim");
	assert_int_equal(c->dkim.header_canonicalization, CONF_CANON_SIMPLE);
	assert_int_equal(c->dkim.body_canonicalization, CONF_CANON_SIMPLE);
	assert_string_equal(c->dkim.defaults.name, "s2026");
	assert_int_equal(c->dkim.defaults.key_type, CONF_KEY_RSA);
	assert_int_equal(c->dkim.defaults.key_length, 3072);
	assert_int_equal(c->dkim.ndomains, 2);
	d = &c->dkim.domains[0];
	assert_string_equal(d->domain, "example.com");
	assert_int_equal(d->nselectors, 3);
	assert_string_equal(d->selectors[0].name, "mail");
	/* Defaults come after domains in the file and still apply. */
	assert_int_equal(d->selectors[0].key_type, CONF_KEY_RSA);
	assert_int_equal(d->selectors[0].key_length, 3072);
	assert_null(d->selectors[0].key_file);
	assert_string_equal(d->selectors[1].name, "ed-2026");
	assert_int_equal(d->selectors[1].key_type, CONF_KEY_ED25519);
	assert_string_equal(d->selectors[2].name, "rsa-2026-03");
	assert_string_equal(d->selectors[2].key_file, "/run/keys/ex.key");
	assert_int_equal(d->selectors[2].key_length, 4096);
	d = &c->dkim.domains[1];
	assert_string_equal(d->domain, "example.org");
	assert_int_equal(d->nselectors, 1);
	assert_string_equal(d->selectors[0].name, "s2026");
	assert_int_equal(d->selectors[0].key_length, 3072);

	assert_true(c->srs.enable);
	assert_string_equal(c->srs.domain, "srs.example.com");
	assert_string_equal(c->srs.secret_file, "/var/lib/postern/srs.secret");
	assert_true(c->dmarc.enforce);

	assert_false(c->spam.enable);
	assert_true(c->spam.reject == 20.5);
	assert_true(c->spam.add_header == 5.0);
	assert_true(c->spam.greylist == -1);	/* missing: disabled */
	assert_int_equal(c->spam.nsymbols, 2);
	assert_string_equal(c->spam.symbols[0].name, "FORGED_RECIPIENTS");
	assert_true(c->spam.symbols[0].weight == 0.0);
	assert_true(c->spam.symbols[1].weight == 2.0);
	assert_string_equal(c->spam.rules_file, "/etc/postern/rules.conf");
	assert_list(&c->spam.dnsbl, LIST("zen.spamhaus.org",
	    "list.dnswl.example:wl"));
	assert_false(c->spam.bayes_enable);
	assert_false(c->spam.bayes_autolearn);
	assert_true(c->spam.greylist_enable);
	assert_int_equal(c->spam.greylist_delay, 120);

	assert_true(c->virus_scanning.enable);
	assert_string_equal(c->virus_scanning.clamd_socket, "/run/clamd.sock");
	assert_list(&c->dns.resolvers, LIST("127.0.0.1:5353", "::1",
	    "9.9.9.9"));
	assert_string_equal(c->relay.host, "smtp.provider.net");
	assert_int_equal(c->relay.port, 2525);
	assert_string_equal(c->relay.username, "me");
	assert_string_equal(c->relay.password_file, "/etc/postern/relay.pw");
	assert_false(c->outbound.tls_session_tickets);
	assert_int_equal(c->queue.lifetime, 86400);
	assert_int_equal(c->limits.max_connections, 100);
	assert_int_equal(c->limits.max_connections_per_ip, 10);
	assert_int_equal(c->limits.smtp_timeout, 60);
	assert_int_equal(c->limits.imap_timeout, 600);
	assert_int_equal(c->limits.pop3_timeout, 120);
	assert_int_equal(c->limits.shutdown_timeout, 3);

	/* Lookups. */
	assert_true(conf_is_local_domain(c, "EXAMPLE.org"));
	assert_false(conf_is_local_domain(c, "example.net"));
	assert_false(conf_is_local_domain(c, NULL));
	assert_ptr_equal(conf_find_account(c, "USER1@example.COM"),
	    &c->accounts[0]);
	assert_null(conf_find_account(c, "user2@example.com"));
	conf_free(&c);
	assert_null(c);
	conf_free(&c);		/* NULL is fine */
}

/* mta_sts: the defaults (testing, one day, mx = fqdn) and a full group. */
static void
test_mta_sts(void **state)
{
	struct conf	*c;

	(void)state;
	c = load_ok(BASE);
	assert_int_equal(c->mta_sts.mode, CONF_STS_TESTING);
	assert_int_equal(c->mta_sts.max_age, 86400);
	assert_int_equal(c->mta_sts.nmx, 1);
	assert_string_equal(c->mta_sts.mx[0], "mail.example.com");
	conf_free(&c);
	c = load_ok(BASE "mta_sts = { mode = \"Enforce\"; max_age = 604800; "
	    "mx = [ \"MX1.example.com\", \"*.example.net\" ]; };\n");
	assert_int_equal(c->mta_sts.mode, CONF_STS_ENFORCE);
	assert_int_equal(c->mta_sts.max_age, 604800);
	assert_int_equal(c->mta_sts.nmx, 2);
	assert_string_equal(c->mta_sts.mx[0], "mx1.example.com");
	assert_string_equal(c->mta_sts.mx[1], "*.example.net");
	conf_free(&c);
	c = load_ok(BASE "mta_sts = { mode = \"none\"; mx = [ ]; };\n");
	assert_int_equal(c->mta_sts.mode, CONF_STS_NONE);
	assert_int_equal(c->mta_sts.nmx, 0);
	conf_free(&c);
}

static void
test_defaults(void **state)
{
	struct conf	*c;

	(void)state;
	c = load_ok(BASE "spam = { actions = { reject = -1; greylist = 3; }; "
	    "};\n");
	assert_string_equal(c->sending_fqdn, "mail.example.com");
	assert_string_equal(c->system_domain, "example.com");
	assert_string_equal(c->system_contact, "postmaster@example.com");
	assert_string_equal(c->system_name, "example.com mail system");
	assert_string_equal(c->state_dir, "/var/lib/postern");
	assert_null(c->run_as_user);
	assert_null(c->run_as_group);
	assert_false(c->debug);
	assert_string_equal(c->storage.path, "/var/vmail");
	assert_int_equal(c->storage.layout, CONF_LAYOUT_MAILDIRPP);
	assert_int_equal(c->storage.hierarchy_separator, '.');
	assert_false(c->storage.use_utf8_folder_names);
	assert_list(&c->listen.smtp, LIST("0.0.0.0:25", "[::]:25"));
	assert_list(&c->listen.submission, EMPTY);
	assert_list(&c->listen.submissions, LIST("0.0.0.0:465", "[::]:465"));
	assert_list(&c->listen.imap, EMPTY);
	assert_list(&c->listen.imaps, LIST("0.0.0.0:993", "[::]:993"));
	assert_list(&c->listen.pop3, EMPTY);
	assert_list(&c->listen.pop3s, EMPTY);
	assert_list(&c->listen.managesieve, EMPTY);
	assert_list(&c->listen.http, EMPTY);
	assert_string_equal(c->listen.control, "/run/postern/control.sock");
	assert_null(c->tls.certificate_file);
	assert_null(c->tls.private_key_file);
	assert_int_equal(c->message_size_limit, 20971520);
	assert_int_equal(c->max_connections_per_user, 100);
	assert_string_equal(c->recipient_delimiter, "+");
	assert_true(c->save_to_detail_mailbox);
	assert_list(&c->reject_recipients, EMPTY);
	assert_list(&c->reject_sender, EMPTY);
	assert_string_equal(c->reject_sender_message, "");
	assert_false(c->rewrite_message_id);
	assert_int_equal(c->naccounts, 0);
	assert_null(c->accounts_file);
	assert_int_equal(c->naliases, 0);
	assert_int_equal(c->nforwards, 0);
	assert_int_equal(c->nmailboxes, 4);
	assert_string_equal(c->mailboxes[0].name, "Drafts");
	assert_int_equal(c->mailboxes[0].autocreate, CONF_AUTO_SUBSCRIBE);
	assert_string_equal(c->mailboxes[0].special_use, "\\Drafts");
	assert_string_equal(c->mailboxes[1].name, "Junk");
	assert_string_equal(c->mailboxes[1].special_use, "\\Junk");
	assert_string_equal(c->mailboxes[2].name, "Sent");
	assert_int_equal(c->mailboxes[2].autocreate, CONF_AUTO_SUBSCRIBE);
	assert_string_equal(c->mailboxes[3].name, "Trash");
	assert_int_equal(c->mailboxes[3].autocreate, CONF_AUTO_NO);
	assert_string_equal(c->mailboxes[3].special_use, "\\Trash");
	assert_true(c->quota.enable);
	assert_int_equal(c->quota.default_per_user, 0);
	assert_true(c->dkim.enable);
	assert_string_equal(c->dkim.key_directory, "/var/lib/postern/dkim");
	assert_int_equal(c->dkim.header_canonicalization, CONF_CANON_RELAXED);
	assert_int_equal(c->dkim.body_canonicalization, CONF_CANON_RELAXED);
	assert_string_equal(c->dkim.defaults.name, "mail");
	assert_int_equal(c->dkim.defaults.key_type, CONF_KEY_RSA);
	assert_int_equal(c->dkim.defaults.key_length, 2048);
	assert_int_equal(c->dkim.ndomains, 2);	/* one per domain */
	assert_string_equal(c->dkim.domains[1].domain, "example.org");
	assert_int_equal(c->dkim.domains[1].nselectors, 1);
	assert_string_equal(c->dkim.domains[1].selectors[0].name, "mail");
	assert_int_equal(c->dkim.domains[1].selectors[0].key_length, 2048);
	assert_false(c->srs.enable);
	assert_string_equal(c->srs.domain, "mail.example.com");
	assert_string_equal(c->srs.secret_file, "/var/lib/postern/srs.secret");
	assert_false(c->dmarc.enforce);
	assert_true(c->spam.enable);
	assert_true(c->spam.reject == -1);	/* negative: disabled */
	assert_true(c->spam.add_header == -1);	/* missing: disabled */
	assert_true(c->spam.greylist == 3);
	assert_int_equal(c->spam.nsymbols, 0);
	assert_null(c->spam.rules_file);
	assert_true(c->spam.bayes_enable);
	assert_true(c->spam.bayes_autolearn);
	assert_false(c->spam.greylist_enable);
	assert_int_equal(c->spam.greylist_delay, 300);
	assert_false(c->virus_scanning.enable);
	assert_string_equal(c->virus_scanning.clamd_socket,
	    "/run/clamav/clamd.ctl");
	assert_list(&c->dns.resolvers, EMPTY);
	assert_string_equal(c->relay.host, "");
	assert_int_equal(c->relay.port, 587);
	assert_true(c->outbound.tls_session_tickets);
	assert_int_equal(c->queue.lifetime, 432000);
	assert_int_equal(c->limits.max_connections, 10000);
	assert_int_equal(c->limits.max_connections_per_ip, 500);
	assert_int_equal(c->limits.smtp_timeout, 300);
	assert_int_equal(c->limits.imap_timeout, 1800);
	assert_int_equal(c->limits.pop3_timeout, 600);
	assert_int_equal(c->limits.shutdown_timeout, 10);
	conf_free(&c);

	/* No actions group at all: the CONFIG.md thresholds.  IPv4 and
	 * IPv6 wildcards on one port are two sockets, not a duplicate. */
	c = load_ok(BASE "listen = { smtp = [ \"0.0.0.0:25\", \"[::]:25\" ]; "
	    "};\n");
	assert_true(c->spam.reject == 15.0);
	assert_true(c->spam.add_header == 6.0);
	assert_true(c->spam.greylist == 4.0);
	conf_free(&c);
}

static void
test_dev_default(void **state)
{
	struct conf	*c;
	char		 cwd[4096], *want;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	c = conf_default_dev();
	assert_non_null(c);
	assert_true(c->dev);
	assert_string_equal(c->file, "(embedded default)");
	assert_string_equal(c->fqdn, "localhost");
	assert_list(&c->domains, LIST("example.test"));
	assert_list(&c->listen.smtp, LIST("127.0.0.1:2525"));
	assert_list(&c->listen.submission, LIST("127.0.0.1:2587"));
	assert_list(&c->listen.submissions, LIST("127.0.0.1:2465"));
	assert_list(&c->listen.imap, LIST("127.0.0.1:2143"));
	assert_list(&c->listen.imaps, LIST("127.0.0.1:2993"));
	assert_list(&c->listen.pop3, LIST("127.0.0.1:2110"));
	assert_list(&c->listen.pop3s, LIST("127.0.0.1:2995"));
	assert_list(&c->listen.managesieve, LIST("127.0.0.1:2190"));
	assert_list(&c->listen.http, LIST("127.0.0.1:2080"));
	want = xasprintf("%s/postern-dev/state", cwd);
	assert_string_equal(c->state_dir, want);
	free(want);
	want = xasprintf("%s/postern-dev/mail", cwd);
	assert_string_equal(c->storage.path, want);
	free(want);
	want = xasprintf("%s/postern-dev/control.sock", cwd);
	assert_string_equal(c->listen.control, want);
	free(want);
	want = xasprintf("%s/postern-dev/state/dkim", cwd);
	assert_string_equal(c->dkim.key_directory, want);
	free(want);
	assert_null(c->run_as_user);
	assert_null(c->tls.certificate_file);
	assert_list(&c->dns.resolvers, EMPTY);
	assert_int_equal(c->naccounts, 1);
	assert_string_equal(c->accounts[0].name, "demo@example.test");
	assert_string_equal(c->accounts[0].hashed_password, HASHY);
	assert_string_equal(c->system_contact, "postmaster@example.test");
	conf_free(&c);
}

static void
test_accounts_file(void **state)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*c;
	char			*acc, *text, *s;

	(void)state;
	acc = write_file("accounts",
	    "# written by postern account add\n"
	    "accounts = (\n"
	    "  { name = \"carol@example.com\";\n"
	    "    hashed_password = \"" HASH6 "\";\n"
	    "    quota = \"1G\"; },\n"
	    "  { name = \"Dave@Example.org\";\n"
	    "    hashed_password_file = \"" D "/user1.hash\"; }\n"
	    ");\n");
	text = xasprintf(BASE "accounts_file = \"%s\";\n"
	    "accounts = ( { name = \"a@example.com\"; hashed_password = \""
	    HASH6 "\"; } );\n"
	    "aliases = ( { address = \"x@example.org\"; to = "
	    "[ \"dave@example.org\" ]; } );\n", acc);
	c = load_ok(text);
	assert_int_equal(c->naccounts, 3);
	assert_string_equal(c->accounts[0].name, "a@example.com");
	assert_string_equal(c->accounts[1].name, "carol@example.com");
	assert_int_equal(c->accounts[1].quota, 1ULL << 30);
	assert_int_equal(c->accounts[1].line, 3);
	assert_string_equal(c->accounts[2].name, "dave@example.org");
	assert_string_equal(c->accounts[2].hashed_password, HASHY);
	assert_string_equal(c->accounts_file, acc);
	conf_free(&c);
	free(text);

	/* Errors in the accounts file cite it; duplicates across files. */
	free(acc);
	acc = write_file("accounts",
	    "accounts = (\n"
	    "  { name = \"a@example.com\"; hashed_password = \"" HASH6 "\"; },\n"
	    "  { name = \"e@example.com\"; hashed_password = \"" HASH6 "\";\n"
	    "    quota = \"lots\"; color = \"red\"; }\n"
	    ");\nfqdn = \"x\";\n");
	text = xasprintf(BASE "accounts = ( { name = \"a@example.com\"; "
	    "hashed_password = \"" HASH6 "\"; } );\naccounts_file = \"%s\";\n",
	    acc);
	s = write_file("t.conf", text);
	assert_null(conf_load(s, &errs));
	assert_int_equal(errs.n, 4);
	free(text);
	{
		char *want[4], *got;
		size_t i;

		want[0] = xasprintf("%s:2: accounts[0]: duplicate account "
		    "\"a@example.com\" (first declared at %s:3)", acc, s);
		want[1] = xasprintf("%s:4: accounts[1].quota: expected a size "
		    "(an integer or a string like \"2G\")", acc);
		want[2] = xasprintf("%s:4: accounts[1].color: unknown option",
		    acc);
		want[3] = xasprintf("%s:6: fqdn: unknown option", acc);
		for (i = 0; i < 4; i++) {
			got = conf_error_format(&errs.v[i]);
			assert_string_equal(got, want[i]);
			free(got);
			free(want[i]);
		}
	}
	conf_errors_free(&errs);
	unlink(s);
	free(s);
	unlink(acc);
	free(acc);
}

static void
test_include(void **state)
{
	struct conf	*c;
	char		*inc;

	(void)state;
	inc = write_file("inc.conf", "domains = [ \"example.net\" ];\n");
	c = load_ok("fqdn = \"mx.example.net\";\n@include \"inc.conf\"\n");
	assert_list(&c->domains, LIST("example.net"));
	conf_free(&c);
	unlink(inc);
	free(inc);
}

static void
test_parse_hostport(void **state)
{
	char	*host = NULL;
	int	 port = 0;

	(void)state;
	assert_int_equal(conf_parse_hostport("127.0.0.1:25", &host, &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 25);
	free(host);
	assert_int_equal(conf_parse_hostport("[::1]:65535", &host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 65535);
	free(host);
	host = NULL;
	assert_int_equal(conf_parse_hostport("::1:25", &host, &port), -1);
	assert_int_equal(conf_parse_hostport("1.2.3.4:0", &host, &port), -1);
	assert_int_equal(conf_parse_hostport("1.2.3.4:65536", &host, &port),
	    -1);
	assert_int_equal(conf_parse_hostport("1.2.3.4:", &host, &port), -1);
	assert_int_equal(conf_parse_hostport("1.2.3.4:+25", &host, &port), -1);
	assert_int_equal(conf_parse_hostport("1.2.3.4", &host, &port), -1);
	assert_int_equal(conf_parse_hostport("mail.example.com:25", &host,
	    &port), -1);
	assert_int_equal(conf_parse_hostport("[1.2.3.4]:25", &host, &port),
	    -1);
	assert_int_equal(conf_parse_hostport("[::1]25", &host, &port), -1);
	assert_int_equal(conf_parse_hostport("", &host, &port), -1);
	assert_null(host);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_syntax_error_string),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_mta_sts),
		cmocka_unit_test(test_dev_default),
		cmocka_unit_test(test_accounts_file),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_parse_hostport),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
