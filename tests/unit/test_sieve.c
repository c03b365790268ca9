/*
 * test_sieve.c - table-driven tests of filter/sieve (sieve.h): parse and
 * semantic errors with exact line/column messages, every command, test
 * and extension against one small MIME message, implicit keep rules,
 * duplicate collapsing and limits.  Each case prints the result as a
 * compact string ("keep[\Seen] fileinto:Junk redirect:a@b.c") and
 * compares it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "sieve.h"

static const char test_msg[] =
    "From: \"Alice\" <alice+lists@example.com>\r\n"
    "To: bob@example.org, \"Carol\" <carol@Example.NET>\r\n"
    "Cc: dave+work@example.org\r\n"
    "Subject: [acme-users] [fwd] version 1.0 is out\r\n"
    "X-Enc: =?UTF-8?Q?Caf=C3=A9?=\r\n"
    "X-Spam-Score: 7\r\n"
    "List-ID: <coyote-announce.example.com>\r\n"
    "Received: from a\r\n"
    "Received: from b\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hello =C3=A9t=C3=A9 world, secret code 42.\r\n"
    "--XX\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>Hi html</p>\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "aGlkZGVuIHBheWxvYWQ=\r\n"
    "--XX--\r\n";

static bool
test_mailbox_exists(void *arg, const char *name)
{
	return strcmp(name, "INBOX") == 0 || strcmp(name, "Junk") == 0;
}

static void
test_ctx(struct sieve_msg_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->msg = test_msg;
	c->msg_len = sizeof(test_msg) - 1;
	c->env_from = "<alice+lists@example.com>";
	c->env_to = "bob+tag@example.org";
	c->spam_tested = true;
	c->spam_score = 7;
	c->spam_max = 10;
	c->mailbox_exists = test_mailbox_exists;
}

static void
test_flags(struct buf *b, const struct sieve_action *a)
{
	size_t	 i;

	if (a->n_flags == 0)
		return;
	buf_putc(b, '[');
	for (i = 0; i < a->n_flags; i++)
		buf_printf(b, "%s%s", i ? " " : "", a->flags[i]);
	buf_putc(b, ']');
}

/* Run src and describe the outcome; the caller frees the string. */
static char *
test_describe(const char *src, const struct sieve_msg_ctx *ctx)
{
	struct sieve_script	*s;
	struct sieve_result	*r;
	struct sieve_error	 err;
	const struct sieve_action *a;
	struct buf		 b;
	size_t			 i;

	buf_init(&b, 0);
	if ((s = sieve_compile(src, strlen(src), &err)) == NULL) {
		buf_printf(&b, "ERR %s", err.msg);
		return buf_steal(&b, NULL);
	}
	sieve_run(s, ctx, &r);
	if (sieve_result_error(r) != NULL)
		buf_printf(&b, "error(%s) ", sieve_result_error(r));
	for (i = 0; i < sieve_result_count(r); i++) {
		a = sieve_result_action(r, i);
		if (i > 0)
			buf_putc(&b, ' ');
		switch (a->kind) {
		case SIEVE_ACT_KEEP:
			buf_puts(&b, "keep");
			test_flags(&b, a);
			break;
		case SIEVE_ACT_FILEINTO:
			buf_printf(&b, "fileinto:%s%s%s", a->target,
			    a->copy ? "/copy" : "", a->create ? "/create" : "");
			test_flags(&b, a);
			break;
		case SIEVE_ACT_REDIRECT:
			buf_printf(&b, "redirect:%s%s", a->target,
			    a->copy ? "/copy" : "");
			break;
		case SIEVE_ACT_DISCARD:
			buf_puts(&b, "discard");
			break;
		case SIEVE_ACT_REJECT:
			buf_printf(&b, "reject:%s", a->text);
			break;
		case SIEVE_ACT_EREJECT:
			buf_printf(&b, "ereject:%s", a->text);
			break;
		case SIEVE_ACT_VACATION:
			buf_printf(&b, "vacation:%llu:%s",
			    (unsigned long long)a->seconds, a->text);
			if (a->subject != NULL)
				buf_printf(&b, ":s=%s", a->subject);
			if (a->from != NULL)
				buf_printf(&b, ":f=%s", a->from);
			if (a->n_addresses > 0)
				buf_printf(&b, ":a=%zu", a->n_addresses);
			if (a->mime)
				buf_puts(&b, ":mime");
			if (strncmp(a->handle, "sieve-", 6) != 0)
				buf_printf(&b, ":h=%s", a->handle);
			break;
		}
	}
	sieve_result_free(&r);
	sieve_script_free(&s);
	return b.data != NULL ? buf_steal(&b, NULL) : strdup("");
}

struct sieve_case {
	const char	*name;
	const char	*src;
	const char	*want;
};

#define RQ(x)	"require [" x "];\n"

static const struct sieve_case cases[] = {
	/* ---- syntax errors with positions -------------------------- */
	{ "missing semicolon", "keep", "ERR line 1, column 5: expected ';' "
	    "after command" },
	{ "test after command", "# c\nif true {\n  keep discard;\n}",
	    "ERR line 3, column 8: 'keep' takes no test" },
	{ "brace not semi", "keep\n\n      ]", "ERR line 3, column 7: expected "
	    "';' after command" },
	{ "unterminated string", "fileinto \"abc", "ERR line 1, column 10: "
	    "unterminated string" },
	{ "unterminated comment", "keep; /* x\n", "ERR line 1, column 7: "
	    "unterminated comment" },
	{ "unterminated block", "if true {\n keep;\n", "ERR line 1, column 9: "
	    "unterminated block" },
	{ "bad character", "keep; @", "ERR line 1, column 7: unexpected "
	    "character '@'" },
	{ "bad list", "require [\"a\" \"b\"];", "ERR line 1, column 14: "
	    "expected ',' or ']' in string list" },
	{ "empty list", "require [];", "ERR line 1, column 10: expected string "
	    "in string list" },
	{ "bad test list", "if anyof(true; false) { keep; }", "ERR line 1, "
	    "column 14: expected ',' or ')' in test list" },
	{ "stray brace", "}", "ERR line 1, column 1: unexpected '}'" },
	{ "tag without name", "keep :;", "ERR line 1, column 6: expected tag "
	    "name after ':'" },
	{ "number junk", "if size :over 10x { keep; }", "ERR line 1, column "
	    "17: unexpected character after number" },
	{ "number overflow", "if size :over 99999999999999999999 { keep; }",
	    "ERR line 1, column 15: number too large" },
	{ "multiline unterminated", "reject text:\nabc\n", "ERR line 1, column "
	    "8: unterminated multi-line string" },
	{ "multiline junk", "reject text: x\nabc\n.\n", "ERR line 1, column "
	    "14: expected end of line after 'text:'" },
	/* ---- semantic errors ----------------------------------------- */
	{ "unknown command", "frobnicate;", "ERR line 1, column 1: unknown "
	    "command 'frobnicate'" },
	{ "unknown test", "if frob { keep; }", "ERR line 1, column 4: unknown "
	    "test 'frob'" },
	{ "unknown extension", "require \"x-nope\";", "ERR line 1, column 9: "
	    "unknown extension 'x-nope'" },
	{ "not required", "fileinto \"a\";", "ERR line 1, column 1: 'fileinto' "
	    "used without require \"fileinto\"" },
	{ "tag not required", RQ("\"fileinto\"") "fileinto :copy \"a\";",
	    "ERR line 2, column 10: unknown tag ':copy' for 'fileinto' "
	    "(extension not required)" },
	{ "require late", "keep;\nrequire \"fileinto\";", "ERR line 2, column "
	    "1: require must come before other commands" },
	{ "else without if", "else { keep; }", "ERR line 1, column 1: 'else' "
	    "without 'if'" },
	{ "if without block", "if true;", "ERR line 1, column 1: 'if' needs a "
	    "block" },
	{ "keep with block", "keep { stop; }", "ERR line 1, column 1: 'keep' "
	    "does not take a block" },
	{ "if without test", "if { keep; }", "ERR line 1, column 1: 'if' needs "
	    "exactly one test" },
	{ "size no tag", "if size 10 { keep; }", "ERR line 1, column 4: 'size' "
	    "needs :over or :under" },
	{ "two match types", "if header :is :contains \"a\" \"b\" { keep; }",
	    "ERR line 1, column 15: match type given twice for 'header'" },
	{ "bad comparator", "if header :comparator \"i;x\" \"a\" \"b\" "
	    "{ keep; }", "ERR line 1, column 23: unknown comparator 'i;x'" },
	{ "numeric not required", "if header :comparator \"i;ascii-numeric\" "
	    "\"a\" \"b\" { keep; }", "ERR line 1, column 23: comparator "
	    "'i;ascii-numeric' used without require "
	    "\"comparator-i;ascii-numeric\"" },
	{ "numeric contains", RQ("\"comparator-i;ascii-numeric\"")
	    "if header :contains :comparator \"i;ascii-numeric\" \"a\" \"1\" "
	    "{ keep; }", "ERR line 2, column 4: comparator 'i;ascii-numeric' "
	    "does not support substring matches" },
	{ "bad relational", RQ("\"relational\"") "if header :value \"xx\" "
	    "\"a\" \"1\" { keep; }", "ERR line 2, column 18: unknown relational "
	    "operator 'xx'" },
	{ "bad regex", RQ("\"regex\"") "if header :regex \"a\" \"(\" { keep; }",
	    "ERR line 2, column 4: invalid regular expression '('" },
	{ "too few args", "if header \"a\" { keep; }", "ERR line 1, column 4: "
	    "'header' needs 2 arguments" },
	{ "string for list ok, number bad", "if header 1 \"a\" { keep; }",
	    "ERR line 1, column 11: expected a string list" },
	{ "bad var name", RQ("\"variables\"") "set \"a.b\" \"x\";", "ERR line 2, "
	    "column 5: invalid variable name 'a.b'" },
	{ "conflicting modifiers", RQ("\"variables\"") "set :lower :upper "
	    "\"a\" \"x\";", "ERR line 2, column 12: conflicting modifier "
	    "':upper'" },
	{ "envelope part", RQ("\"envelope\"") "if envelope \"cc\" \"x\" "
	    "{ keep; }", "ERR line 2, column 13: unknown envelope part 'cc'" },
	{ "days and seconds", RQ("\"vacation\", \"vacation-seconds\"")
	    "vacation :days 1 :seconds 5 \"x\";", "ERR line 2, column 18: "
	    ":days and :seconds are exclusive" },
	{ "bad unicode", RQ("\"encoded-character\"") "reject "
	    "\"${unicode:110000}\";", "ERR line 2, column 8: invalid Unicode "
	    "code point in encoded character" },
	{ "percent needs plus", RQ("\"spamtest\"") "if spamtest :percent \"1\" "
	    "{ keep; }", "ERR line 2, column 13: unknown tag ':percent' for "
	    "'spamtest' (extension not required)" },
	{ "nesting", "if not not not not not not not not not not not not not "
	    "not not not not not not not not not not not not not not not not "
	    "not not not not true { keep; }", "ERR line 1, column 132: nesting "
	    "deeper than 32" },
	/* ---- basic actions and implicit keep ------------------------- */
	{ "empty script", "", "keep" },
	{ "comments only", "# hash\n/* bracket\n */\n", "keep" },
	{ "explicit keep", "keep;", "keep" },
	{ "discard", "discard;", "discard" },
	{ "discard then keep", "discard; keep;", "keep" },
	{ "stop", "stop; discard;", "keep" },
	{ "fileinto", RQ("\"fileinto\"") "fileinto \"Junk\";", "fileinto:Junk" },
	{ "fileinto copy", RQ("\"fileinto\", \"copy\"")
	    "fileinto :copy \"Junk\";", "fileinto:Junk/copy keep" },
	{ "fileinto dup", RQ("\"fileinto\"") "fileinto \"A\"; fileinto \"A\";",
	    "fileinto:A" },
	{ "fileinto inbox + keep", RQ("\"fileinto\"")
	    "fileinto \"inbox\"; keep;", "keep" },
	{ "redirect", "redirect \"a@b.example\";", "redirect:a@b.example" },
	{ "redirect copy", RQ("\"copy\"") "redirect :copy \"a@b.example\";",
	    "redirect:a@b.example/copy keep" },
	{ "redirect dup", "redirect \"a@b.c\"; redirect \"A@B.C\";",
	    "redirect:a@b.c" },
	{ "redirect bad", "redirect \"nope\";", "error(redirect to an invalid "
	    "address) keep" },
	{ "redirect limit", "redirect \"a@x\"; redirect \"b@x\"; redirect "
	    "\"c@x\"; redirect \"d@x\"; redirect \"e@x\";",
	    "error(too many redirects) keep" },
	{ "reject", RQ("\"reject\"") "reject \"go away\";", "reject:go away" },
	{ "ereject", RQ("\"ereject\"") "ereject \"no\";", "ereject:no" },
	{ "reject twice", RQ("\"reject\"") "reject \"a\"; reject \"b\";",
	    "error(more than one reject) keep" },
	{ "reject vacation", RQ("\"reject\", \"vacation\"")
	    "vacation \"v\"; reject \"b\";",
	    "error(reject is incompatible with vacation) keep" },
	{ "multiline", RQ("\"reject\"") "reject text:\r\nline1\r\n..dot\r\n."
	    "\r\n;", "reject:line1\n.dot\n" },
	{ "escapes", RQ("\"reject\"") "reject \"a\\\"b\\\\c\\d\";",
	    "reject:a\"b\\cd" },
	{ "case-insensitive ids", "IF TRUE { KEEP; } Else { discard; }",
	    "keep" },
	/* ---- tests ---------------------------------------------------- */
	{ "header is", "if header :is \"List-ID\" "
	    "\"<coyote-announce.example.com>\" { discard; }", "discard" },
	{ "header contains default casemap", "if header :contains \"subject\" "
	    "\"ACME\" { discard; }", "discard" },
	{ "header octet", "if header :contains :comparator \"i;octet\" "
	    "\"subject\" \"ACME\" { discard; }", "keep" },
	{ "header 2047", "if header :is \"x-enc\" \"Caf\xc3\xa9\" { discard; }",
	    "discard" },
	{ "header matches", "if header :matches \"Subject\" \"[*] *\" "
	    "{ discard; }", "discard" },
	{ "header matches ?", "if header :matches \"X-Spam-Score\" \"?\" "
	    "{ discard; }", "discard" },
	{ "header missing", "if header :contains \"X-None\" \"\" "
	    "{ discard; }", "keep" },
	{ "exists", "if exists [\"From\", \"To\"] { discard; }", "discard" },
	{ "exists one missing", "if exists [\"From\", \"X-None\"] "
	    "{ discard; }", "keep" },
	{ "size over", "if size :over 100 { discard; }", "discard" },
	{ "size under", "if size :under 100 { discard; }", "keep" },
	{ "size K", "if size :under 1K { discard; }", "discard" },
	{ "address all", "if address :is \"to\" \"carol@example.net\" "
	    "{ discard; }", "discard" },
	{ "address domain", "if address :domain :is \"from\" \"EXAMPLE.com\" "
	    "{ discard; }", "discard" },
	{ "address localpart", "if address :localpart :is \"from\" "
	    "\"alice+lists\" { discard; }", "discard" },
	{ "address user", RQ("\"subaddress\"") "if address :user :is \"from\" "
	    "\"alice\" { discard; }", "discard" },
	{ "address detail", RQ("\"subaddress\"") "if address :detail :is "
	    "\"cc\" \"work\" { discard; }", "discard" },
	{ "address detail none", RQ("\"subaddress\"") "if address :detail "
	    ":matches \"to\" \"*\" { discard; }", "keep" },
	{ "envelope from", RQ("\"envelope\"") "if envelope :all :is \"from\" "
	    "\"alice+lists@example.com\" { discard; }", "discard" },
	{ "envelope to detail", RQ("\"envelope\", \"subaddress\"")
	    "if envelope :detail \"to\" \"tag\" { discard; }", "discard" },
	{ "allof", "if allof(true, false) { discard; }", "keep" },
	{ "anyof", "if anyof(false, true) { discard; }", "discard" },
	{ "not", "if not false { discard; }", "discard" },
	{ "elsif chain", RQ("\"fileinto\"") "if false { discard; } elsif "
	    "true { fileinto \"B\"; } else { fileinto \"C\"; }", "fileinto:B" },
	{ "else taken", RQ("\"fileinto\"") "if false { discard; } elsif false "
	    "{ fileinto \"B\"; } else { fileinto \"C\"; }", "fileinto:C" },
	{ "body text", RQ("\"body\"") "if body :contains \"secret code\" "
	    "{ discard; }", "discard" },
	{ "body text decoded", RQ("\"body\"") "if body :contains "
	    "\"\xc3\xa9t\xc3\xa9\" { discard; }", "discard" },
	{ "body text no base64", RQ("\"body\"") "if body :contains "
	    "\"hidden\" { discard; }", "keep" },
	{ "body content", RQ("\"body\"") "if body :content "
	    "\"application/octet-stream\" :contains \"hidden payload\" "
	    "{ discard; }", "discard" },
	{ "body raw", RQ("\"body\"") "if body :raw :contains \"=C3=A9t\" "
	    "{ discard; }", "discard" },
	{ "body content html", RQ("\"body\"") "if body :content \"text/html\" "
	    ":contains \"secret\" { discard; }", "keep" },
	/* ---- comparators and relational ------------------------------ */
	{ "numeric is", RQ("\"comparator-i;ascii-numeric\"") "if header :is "
	    ":comparator \"i;ascii-numeric\" \"X-Spam-Score\" \"007\" "
	    "{ discard; }", "discard" },
	{ "value gt", RQ("\"relational\", \"comparator-i;ascii-numeric\"")
	    "if header :value \"gt\" :comparator \"i;ascii-numeric\" "
	    "\"X-Spam-Score\" \"5\" { discard; }", "discard" },
	{ "value lt", RQ("\"relational\", \"comparator-i;ascii-numeric\"")
	    "if header :value \"lt\" :comparator \"i;ascii-numeric\" "
	    "\"X-Spam-Score\" \"5\" { discard; }", "keep" },
	{ "count received", RQ("\"relational\", "
	    "\"comparator-i;ascii-numeric\"") "if header :count \"eq\" "
	    ":comparator \"i;ascii-numeric\" \"Received\" \"2\" { discard; }",
	    "discard" },
	{ "count addresses", RQ("\"relational\", "
	    "\"comparator-i;ascii-numeric\"") "if address :count \"ge\" "
	    ":comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"3\" "
	    "{ discard; }", "discard" },
	{ "regex", RQ("\"regex\", \"variables\", \"reject\"")
	    "if header :regex \"subject\" \"version ([0-9.]+)\" { reject "
	    "\"v=${1}\"; }", "reject:v=1.0" },
	/* ---- variables ------------------------------------------------ */
	{ "match vars", RQ("\"variables\", \"fileinto\"")
	    "if header :matches \"Subject\" \"[*] *\" { fileinto "
	    "\"l/${1}\"; }", "fileinto:l/acme-users" },
	{ "match var 2", RQ("\"variables\", \"reject\"")
	    "if header :matches \"Subject\" \"[*] *\" { reject \"${2}\"; }",
	    "reject:[fwd] version 1.0 is out" },
	{ "set and expand", RQ("\"variables\", \"fileinto\"")
	    "set \"Folder\" \"Work\"; fileinto \"${folder}/x${unknown}\";",
	    "fileinto:Work/x" },
	{ "set modifiers", RQ("\"variables\", \"reject\"")
	    "set :upperfirst :lower \"a\" \"hELLO\"; set :length \"b\" "
	    "\"h\xc3\xa9llo\"; set :quotewildcard \"c\" \"a*b?\"; "
	    "reject \"${a} ${b} ${c}\";", "reject:Hello 5 a\\*b\\?" },
	{ "string test", RQ("\"variables\"") "set \"x\" \"abc\"; if string "
	    ":is \"${x}\" \"abc\" { discard; }", "discard" },
	{ "string count empty", RQ("\"variables\", \"relational\", "
	    "\"comparator-i;ascii-numeric\"") "if string :count \"eq\" "
	    ":comparator \"i;ascii-numeric\" [\"\", \"a\"] \"1\" { discard; }",
	    "discard" },
	{ "no vars literal", RQ("\"fileinto\"") "fileinto \"${x}\";",
	    "fileinto:${x}" },
	{ "namespace literal", RQ("\"variables\", \"fileinto\"")
	    "fileinto \"${env.x}\";", "fileinto:${env.x}" },
	{ "encoded character", RQ("\"encoded-character\", \"reject\"")
	    "reject \"${hex:41 42}${unicode:e9}${hex:zz}\";",
	    "reject:AB\xc3\xa9${hex:zz}" },
	{ "quotewildcard match", RQ("\"variables\"") "set :quotewildcard "
	    "\"p\" \"[*\"; if header :matches \"subject\" \"${p}*\" "
	    "{ discard; }", "keep" },
	/* ---- imap4flags ---------------------------------------------- */
	{ "addflag implicit keep", RQ("\"imap4flags\"")
	    "addflag \"\\\\Seen\"; addflag [\"\\\\Flagged\", \"\\\\seen\"];",
	    "keep[\\Seen \\Flagged]" },
	{ "removeflag", RQ("\"imap4flags\"") "setflag \"a b c\"; "
	    "removeflag \"b\";", "keep[a c]" },
	{ "fileinto flags", RQ("\"imap4flags\", \"fileinto\"")
	    "addflag \"x\"; fileinto :flags \"y z\" \"A\"; fileinto \"B\";",
	    "fileinto:A[y z] fileinto:B[x]" },
	{ "hasflag", RQ("\"imap4flags\"") "addflag \"\\\\Seen\"; if hasflag "
	    ":is \"\\\\seen\" { discard; }", "discard" },
	{ "flag variable", RQ("\"imap4flags\", \"variables\"")
	    "setflag \"f\" \"a\"; addflag \"f\" \"b\"; if hasflag :is \"f\" "
	    "\"b\" { discard; }", "discard" },
	/* ---- vacation ------------------------------------------------- */
	{ "vacation default", RQ("\"vacation\"") "vacation \"away\";",
	    "vacation:604800:away keep" },
	{ "vacation args", RQ("\"vacation\"") "vacation :days 2 :subject "
	    "\"S\" :from \"me@x\" :addresses [\"a@x\", \"b@x\"] :mime "
	    ":handle \"h1\" \"body\";",
	    "vacation:172800:body:s=S:f=me@x:a=2:mime:h=h1 keep" },
	{ "vacation seconds", RQ("\"vacation-seconds\", \"vacation\"")
	    "vacation :seconds 60 \"r\"; discard;", "vacation:60:r discard" },
	{ "vacation twice", RQ("\"vacation\"") "vacation \"a\"; vacation "
	    "\"b\";", "error(more than one vacation) keep" },
	/* ---- spamtest, mailbox ---------------------------------------- */
	{ "spamtest", RQ("\"spamtest\", \"relational\", "
	    "\"comparator-i;ascii-numeric\"") "if spamtest :value \"ge\" "
	    ":comparator \"i;ascii-numeric\" \"7\" { discard; }", "discard" },
	{ "spamtest low", RQ("\"spamtest\", \"relational\", "
	    "\"comparator-i;ascii-numeric\"") "if spamtest :value \"ge\" "
	    ":comparator \"i;ascii-numeric\" \"8\" { discard; }", "keep" },
	{ "spamtest percent", RQ("\"spamtestplus\", \"relational\", "
	    "\"comparator-i;ascii-numeric\"") "if spamtest :percent :value "
	    "\"eq\" :comparator \"i;ascii-numeric\" \"70\" { discard; }",
	    "discard" },
	{ "mailboxexists", RQ("\"mailbox\", \"fileinto\"")
	    "if mailboxexists \"Junk\" { fileinto :create \"Junk\"; }",
	    "fileinto:Junk/create" },
	{ "mailboxexists no", RQ("\"mailbox\"") "if mailboxexists "
	    "[\"Junk\", \"Nope\"] { discard; }", "keep" },
	/* ---- limits ---------------------------------------------------- */
	{ "fileinto limit", RQ("\"fileinto\"") "fileinto \"1\"; fileinto "
	    "\"2\"; fileinto \"3\"; fileinto \"4\"; fileinto \"5\"; fileinto "
	    "\"6\"; fileinto \"7\"; fileinto \"8\"; fileinto \"9\"; fileinto "
	    "\"10\"; fileinto \"11\"; fileinto \"12\"; fileinto \"13\"; "
	    "fileinto \"14\"; fileinto \"15\"; fileinto \"16\"; fileinto "
	    "\"17\"; fileinto \"18\"; fileinto \"19\"; fileinto \"20\"; "
	    "fileinto \"21\"; fileinto \"22\"; fileinto \"23\"; fileinto "
	    "\"24\"; fileinto \"25\"; fileinto \"26\"; fileinto \"27\"; "
	    "fileinto \"28\"; fileinto \"29\"; fileinto \"30\"; fileinto "
	    "\"31\"; fileinto \"32\"; fileinto \"33\";",
	    "error(too many actions) keep" },
};

static void
test_table(void **state)
{
	struct sieve_msg_ctx	 ctx;
	char			*got;
	size_t			 i;
	int			 bad = 0;

	test_ctx(&ctx);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = test_describe(cases[i].src, &ctx);
		if (strcmp(got, cases[i].want) != 0) {
			printf("FAIL %s\n  want: %s\n  got:  %s\n",
			    cases[i].name, cases[i].want, got);
			bad++;
		}
		free(got);
	}
	printf("%zu cases, %d failed\n", i, bad);
	assert_int_equal(bad, 0);
}

static void
test_limits(void **state)
{
	struct sieve_error	 err;
	char			*src;
	size_t			 len = SIEVE_MAX_SCRIPT + 1;

	src = malloc(len);
	memset(src, ' ', len);
	assert_null(sieve_compile(src, len, &err));
	assert_string_equal(err.msg, "script larger than 1048576 bytes");
	free(src);

	/* A string literal over the limit. */
	len = SIEVE_MAX_STRING + 32;
	src = malloc(len + 1);
	memset(src, 'a', len);
	memcpy(src, "keep \"", 6);
	src[len - 1] = '"';
	src[len] = '\0';
	assert_null(sieve_compile(src, len, &err));
	assert_string_equal(err.msg, "line 1, column 6: string longer than "
	    "65536 bytes");
	free(src);
}

static void
test_glob(void **state)
{
	struct sieve_msg_ctx	 ctx;
	char			*got;

	test_ctx(&ctx);
	/* \* in a Sieve string is "\*" for :matches: a literal star. */
	got = test_describe("if header :matches \"subject\" \"\\\\**\" "
	    "{ discard; }", &ctx);
	assert_string_equal(got, "keep");
	free(got);
	got = test_describe("if header :matches \"subject\" \"*1.?*\" "
	    "{ discard; }", &ctx);
	assert_string_equal(got, "discard");
	free(got);
	ctx.spam_tested = false;
	got = test_describe("require \"spamtest\"; if spamtest :is \"0\" "
	    "{ discard; }", &ctx);
	assert_string_equal(got, "discard");
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_glob),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
