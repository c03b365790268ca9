/*
 * test_smtp_parse.c - table-driven tests for the pure SMTP parsing layer:
 * smtp_addr (paths), smtp_parse (command lines) and smtp_data (DATA
 * decoding, smuggling, BDAT checks).
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
#include "smtp_addr.h"
#include "smtp_data.h"
#include "smtp_parse.h"

#define ANY	0xffffffffu

/* ---- addresses ---------------------------------------------------- */

struct addr_case {
	const char		*in;
	unsigned		 flags;
	int			 rc;
	enum smtp_addr_err	 err;
	const char		*local;		/* canonical */
	const char		*domain;
	unsigned		 aflags;	/* ANY: don't check */
	const char		*fmt;		/* NULL: don't check */
};

#define U	SMTP_ADDR_UTF8
#define N	SMTP_ADDR_ALLOW_NULL
#define P	SMTP_ADDR_ALLOW_POSTMASTER
#define B	SMTP_ADDR_NEED_BRACKETS
#define OK(in, fl, l, d, af, fmt) { in, fl, 0, SMTP_ADDR_E_NONE, l, d, af, fmt }
#define BAD(in, fl, e) { in, fl, -1, e, NULL, NULL, ANY, NULL }
#define SYN	SMTP_ADDR_E_SYNTAX
#define LONG	SMTP_ADDR_E_TOO_LONG

static const char local64[] =
    "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.org>";
static const char local65[] =
    "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.org>";

static const struct addr_case addr_cases[] = {
	OK("<user@example.org>", 0, "user", "example.org", 0,
	    "user@example.org"),
	OK("user@Example.ORG", 0, "user", "example.org", 0,
	    "user@example.org"),
	OK("<User.Name+tag@EXAMPLE.org>", B, "User.Name+tag", "example.org",
	    0, "User.Name+tag@example.org"),
	OK("<>", N, "", "", SMTP_ADDR_IS_NULL, ""),
	BAD("<>", 0, SMTP_ADDR_E_NULL),
	BAD("", N, SYN),
	OK("<\"john doe\"@example.org>", 0, "john doe", "example.org",
	    SMTP_ADDR_IS_QUOTED, "\"john doe\"@example.org"),
	OK("<\"john\"@example.org>", 0, "john", "example.org",
	    SMTP_ADDR_IS_QUOTED, "john@example.org"),
	OK("<\"a\\\"b\\\\c\"@x.org>", 0, "a\"b\\c", "x.org",
	    SMTP_ADDR_IS_QUOTED, "\"a\\\"b\\\\c\"@x.org"),
	OK("<\"a>b\"@x.org>", 0, "a>b", "x.org", SMTP_ADDR_IS_QUOTED,
	    "\"a>b\"@x.org"),
	OK("<\"a@b\"@x.org>", 0, "a@b", "x.org",
	    SMTP_ADDR_IS_QUOTED | SMTP_ADDR_HAS_PERCENT, "\"a@b\"@x.org"),
	OK("<\".\"@x.org>", 0, ".", "x.org", SMTP_ADDR_IS_QUOTED,
	    "\".\"@x.org"),
	BAD("<\"\"@x.org>", 0, SYN),
	BAD("<\"abc@x.org>", 0, SYN),
	BAD("<abc\"@x.org>", 0, SYN),
	BAD("<\"a\"b@x.org>", 0, SYN),
	OK("<@relay.net:user@example.org>", 0, "user", "example.org",
	    SMTP_ADDR_HAD_ROUTE, "user@example.org"),
	OK("<@a.net,@b.net:user@example.org>", 0, "user", "example.org",
	    SMTP_ADDR_HAD_ROUTE, "user@example.org"),
	BAD("<@a.net,b.net:user@example.org>", 0, SYN),
	BAD("<@a.net:>", 0, SYN),
	BAD("<@:u@x.org>", 0, SYN),
	BAD("@a.net:user@example.org", 0, SYN),
	OK("<user@[192.0.2.1]>", 0, "user", "[192.0.2.1]",
	    SMTP_ADDR_IS_LITERAL, "user@[192.0.2.1]"),
	OK("<user@[IPv6:2001:db8::1]>", 0, "user", "[IPv6:2001:db8::1]",
	    SMTP_ADDR_IS_LITERAL | SMTP_ADDR_IS_IPV6,
	    "user@[IPv6:2001:db8::1]"),
	OK("<u@[ipv6:::ffff:192.0.2.1]>", 0, "u", "[ipv6:::ffff:192.0.2.1]",
	    SMTP_ADDR_IS_LITERAL | SMTP_ADDR_IS_IPV6, NULL),
	BAD("<user@[256.0.0.1]>", 0, SYN),
	BAD("<user@[1.2.3]>", 0, SYN),
	BAD("<user@[1.2.3.4.5]>", 0, SYN),
	BAD("<user@[IPv6:2001:db8::g]>", 0, SYN),
	BAD("<user@[x400:foo]>", 0, SYN),
	BAD("<user@[192.0.2.1>", 0, SYN),
	BAD("<user@192.0.2.1]>", 0, SYN),
	OK("<a%b@x.org>", 0, "a%b", "x.org", SMTP_ADDR_HAS_PERCENT, NULL),
	OK("<host!user@x.org>", 0, "host!user", "x.org",
	    SMTP_ADDR_HAS_PERCENT, NULL),
	OK(local64, 0, NULL, "x.org", 0, NULL),
	BAD(local65, 0, LONG),
	OK("<postmaster>", P, "postmaster", "", SMTP_ADDR_POSTMASTER_BARE,
	    "postmaster"),
	OK("<PostMaster>", P, "postmaster", "", SMTP_ADDR_POSTMASTER_BARE,
	    "postmaster"),
	BAD("<postmaster>", 0, SYN),
	BAD("<postmasters>", P, SYN),
	OK("<j\xc3\xb6rg@b\xc3\xbc" "cher.de>", U, "j\xc3\xb6rg",
	    "b\xc3\xbc" "cher.de", SMTP_ADDR_HAS_UTF8, NULL),
	BAD("<j\xc3\xb6rg@x.de>", 0, SMTP_ADDR_E_UTF8),
	BAD("<jorg@b\xc3\xbc" "cher.de>", 0, SMTP_ADDR_E_UTF8),
	BAD("<j\xc3rg@x.de>", U, SYN),
	BAD("<j\xc0\xafrg@x.de>", U, SYN),		/* overlong */
	BAD("<j\xed\xa0\x80@x.de>", U, SYN),		/* surrogate */
	BAD("user@x.org", B, SYN),
	BAD("<user@x.org", 0, SYN),
	BAD("user@x.org>", 0, SYN),
	BAD("<user@x.org>junk", 0, SYN),
	BAD("<<user@x.org>>", 0, SYN),
	BAD("<user>", 0, SYN),
	BAD("<user@>", 0, SYN),
	BAD("<@x.org>", 0, SYN),
	BAD("<user@x.org@y.org>", 0, SYN),
	BAD("<us er@x.org>", 0, SYN),
	BAD("<user@x.org >", 0, SYN),
	BAD("<user\t@x.org>", 0, SYN),
	BAD("<.user@x.org>", 0, SYN),
	BAD("<user.@x.org>", 0, SYN),
	BAD("<us..er@x.org>", 0, SYN),
	BAD("<user@-x.org>", 0, SYN),
	BAD("<user@x-.org>", 0, SYN),
	BAD("<user@x..org>", 0, SYN),
	BAD("<user@x.org.>", 0, SYN),
	BAD("<user@x_y.org>", 0, SYN),
	BAD("<\"a\x01\"@x.org>", 0, SYN),
	BAD("<(comment)user@x.org>", 0, SYN),
	OK("<a-b.c-d@a-b.c0>", 0, "a-b.c-d", "a-b.c0", 0, NULL),
};

static void
test_addr_table(void **state)
{
	const struct addr_case	*c;
	struct smtp_addr	 a;
	const char		*err;
	char			 fmt[SMTP_ADDR_FMT_SIZE];
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		c = &addr_cases[i];
		rc = smtp_addr_parse(c->in, strlen(c->in), c->flags, &a, &err);
		if (rc != c->rc)
			fail_msg("case %zu '%s': rc %d want %d (%s)", i,
			    c->in, rc, c->rc, err ? err : "");
		if (rc == -1) {
			assert_non_null(err);
			if (a.err != c->err)
				fail_msg("case %zu '%s': err %d want %d (%s)",
				    i, c->in, a.err, c->err, err);
			continue;
		}
		if (c->local != NULL)
			assert_string_equal(a.local, c->local);
		assert_string_equal(a.domain, c->domain);
		if (c->aflags != ANY && a.flags != c->aflags)
			fail_msg("case %zu '%s': flags %#x want %#x", i,
			    c->in, a.flags, c->aflags);
		assert_true(smtp_addr_format(&a, fmt, sizeof(fmt)) >= 0);
		if (c->fmt != NULL)
			assert_string_equal(fmt, c->fmt);
	}
}

static void
test_addr_limits(void **state)
{
	char			 s[600], fmt[SMTP_ADDR_FMT_SIZE];
	struct smtp_addr	 a;
	const char		*err;
	size_t			 n;

	(void)state;
	/* Path of exactly 256 octets: 4 labels of 60 = 243 + "<u@" ">". */
	n = (size_t)snprintf(s, sizeof(s), "<uuuuuuuuuuu@%.60s.%.60s.%.60s.%.59s>",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
	    "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
	assert_int_equal(n, 256);
	assert_int_equal(smtp_addr_parse(s, n, 0, &a, &err), 0);
	assert_int_equal(smtp_addr_format(&a, fmt, sizeof(fmt)), 254);
	/* Too small an output buffer. */
	assert_int_equal(smtp_addr_format(&a, fmt, 20), -1);
	assert_string_equal(fmt, "");
	/* 257 octets. */
	memmove(s + 2, s + 1, n);
	s[1] = 'u';
	assert_int_equal(smtp_addr_parse(s, n + 1, 0, &a, &err), -1);
	assert_int_equal(a.err, SMTP_ADDR_E_TOO_LONG);
	/* A 64-octet label. */
	memset(s, 'a', 64);
	assert_false(smtp_addr_is_valid_domain(s, 64, false));
	assert_true(smtp_addr_is_valid_domain(s, 63, false));
	assert_true(smtp_addr_is_valid_domain("localhost", 9, false));
	assert_false(smtp_addr_is_valid_domain("", 0, false));
	/* NUL inside the input. */
	assert_int_equal(smtp_addr_parse("<a\0b@x.org>", 11, 0, &a, &err),
	    -1);
}

/* ---- command lines ------------------------------------------------ */

struct cmd_case {
	const char	*line;
	int		 rc;
	enum smtp_verb	 verb;
	int		 code;		/* when rc == -1 */
	const char	*status;
};

#define C_OK(l, v)		{ l, 0, v, 0, NULL }
#define C_ERR(l, v, c, s)	{ l, -1, v, c, s }

static const struct cmd_case cmd_cases[] = {
	C_OK("HELO mail.example.org", SMTP_CMD_HELO),
	C_OK("helo mail.example.org", SMTP_CMD_HELO),
	C_OK("EHLO [192.0.2.1]", SMTP_CMD_EHLO),
	C_OK("EhLo [IPv6:2001:db8::1]", SMTP_CMD_EHLO),
	C_ERR("EHLO", SMTP_CMD_EHLO, 501, "5.5.4"),
	C_ERR("EHLO ", SMTP_CMD_EHLO, 501, "5.5.4"),
	C_ERR("EHLO a b", SMTP_CMD_EHLO, 501, "5.5.4"),
	C_ERR("EHLO my_host", SMTP_CMD_EHLO, 501, "5.5.4"),
	C_ERR("HELO [1.2.3]", SMTP_CMD_HELO, 501, "5.5.4"),
	C_OK("MAIL FROM:<a@b.org>", SMTP_CMD_MAIL),
	C_OK("mail from:<a@b.org>", SMTP_CMD_MAIL),
	C_OK("MAIL FROM: <a@b.org>", SMTP_CMD_MAIL),
	C_OK("MAIL FROM:<>", SMTP_CMD_MAIL),
	C_ERR("MAIL FROM:  <a@b.org>", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:a@b.org", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM <a@b.org>", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL TO:<a@b.org>", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org", SMTP_CMD_MAIL, 501, "5.1.7"),
	C_ERR("MAIL FROM:<a@b.org>x", SMTP_CMD_MAIL, 501, "5.1.7"),
	C_ERR("MAIL FROM:<a@b.org> ", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@@b.org>", SMTP_CMD_MAIL, 501, "5.1.7"),
	C_ERR("MAIL FROM:<j\xc3\xb6@b.org>", SMTP_CMD_MAIL, 553, "5.6.7"),
	C_OK("MAIL FROM:<j\xc3\xb6@b.org> SMTPUTF8", SMTP_CMD_MAIL),
	C_OK("MAIL FROM:<a@b.org> SIZE=1000 BODY=8BITMIME",
	    SMTP_CMD_MAIL),
	C_OK("MAIL FROM:<a@b.org> size=0 body=binarymime", SMTP_CMD_MAIL),
	C_OK("MAIL FROM:<a@b.org> SIZE=18446744073709551615",
	    SMTP_CMD_MAIL),
	C_ERR("MAIL FROM:<a@b.org> SIZE=18446744073709551616",
	    SMTP_CMD_MAIL, 552, "5.3.4"),
	C_ERR("MAIL FROM:<a@b.org> SIZE=000000000000000000001",
	    SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> SIZE=12a", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> SIZE=", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> SIZE", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> SIZE=-1", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> SIZE=1 SIZE=2", SMTP_CMD_MAIL, 501,
	    "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> BODY=9BIT", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_OK("MAIL FROM:<a@b.org> BODY=7BIT", SMTP_CMD_MAIL),
	C_ERR("MAIL FROM:<a@b.org> SMTPUTF8=yes", SMTP_CMD_MAIL, 501,
	    "5.5.4"),
	C_OK("MAIL FROM:<a@b.org> RET=HDRS ENVID=QQ+2BA", SMTP_CMD_MAIL),
	C_ERR("MAIL FROM:<a@b.org> RET=BODY", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> ENVID=a+2", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> ENVID=a+2b", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> ENVID=a+00", SMTP_CMD_MAIL, 501,
	    "5.5.4"),
	C_OK("MAIL FROM:<a@b.org> AUTH=<>", SMTP_CMD_MAIL),
	C_OK("MAIL FROM:<a@b.org> AUTH=e+3Dmc2@example.com", SMTP_CMD_MAIL),
	C_ERR("MAIL FROM:<a@b.org> FOO=bar", SMTP_CMD_MAIL, 555, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> NOTIFY=NEVER", SMTP_CMD_MAIL, 555,
	    "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org>  SIZE=1", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> SI_ZE=1", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_ERR("MAIL FROM:<a@b.org> SIZE==1", SMTP_CMD_MAIL, 501, "5.5.4"),
	C_OK("RCPT TO:<a@b.org>", SMTP_CMD_RCPT),
	C_OK("RCPT TO: <a@b.org>", SMTP_CMD_RCPT),
	C_OK("RCPT TO:<Postmaster>", SMTP_CMD_RCPT),
	C_OK("RCPT TO:<@r.net:a@b.org>", SMTP_CMD_RCPT),
	C_ERR("RCPT TO:<>", SMTP_CMD_RCPT, 501, "5.1.3"),
	C_ERR("RCPT TO:<a>", SMTP_CMD_RCPT, 501, "5.1.3"),
	C_ERR("RCPT FROM:<a@b.org>", SMTP_CMD_RCPT, 501, "5.5.4"),
	C_OK("RCPT TO:<a@b.org> NOTIFY=SUCCESS,FAILURE,DELAY",
	    SMTP_CMD_RCPT),
	C_OK("RCPT TO:<a@b.org> NOTIFY=never", SMTP_CMD_RCPT),
	C_ERR("RCPT TO:<a@b.org> NOTIFY=NEVER,DELAY", SMTP_CMD_RCPT, 501,
	    "5.5.4"),
	C_ERR("RCPT TO:<a@b.org> NOTIFY=DELAY,DELAY", SMTP_CMD_RCPT, 501,
	    "5.5.4"),
	C_ERR("RCPT TO:<a@b.org> NOTIFY=", SMTP_CMD_RCPT, 501, "5.5.4"),
	C_ERR("RCPT TO:<a@b.org> NOTIFY=SUCCESS,", SMTP_CMD_RCPT, 501,
	    "5.5.4"),
	C_ERR("RCPT TO:<a@b.org> NOTIFY=SOMETIMES", SMTP_CMD_RCPT, 501,
	    "5.5.4"),
	C_OK("RCPT TO:<a@b.org> ORCPT=rfc822;a+40b.org", SMTP_CMD_RCPT),
	C_ERR("RCPT TO:<a@b.org> ORCPT=rfc822", SMTP_CMD_RCPT, 501, "5.5.4"),
	C_ERR("RCPT TO:<a@b.org> ORCPT=;a@b.org", SMTP_CMD_RCPT, 501,
	    "5.5.4"),
	C_ERR("RCPT TO:<a@b.org> ORCPT=rfc822;", SMTP_CMD_RCPT, 501,
	    "5.5.4"),
	C_ERR("RCPT TO:<a@b.org> ORCPT=rfc822;a+4", SMTP_CMD_RCPT, 501,
	    "5.5.4"),
	C_ERR("RCPT TO:<a@b.org> SIZE=1", SMTP_CMD_RCPT, 555, "5.5.4"),
	C_ERR("RCPT TO:<a@b.org> NOTIFY=NEVER NOTIFY=NEVER", SMTP_CMD_RCPT,
	    501, "5.5.4"),
	C_OK("DATA", SMTP_CMD_DATA),
	C_ERR("DATA now", SMTP_CMD_DATA, 501, "5.5.4"),
	C_ERR("DATA ", SMTP_CMD_DATA, 501, "5.5.4"),
	C_OK("RSET", SMTP_CMD_RSET),
	C_ERR("RSET x", SMTP_CMD_RSET, 501, "5.5.4"),
	C_OK("QUIT", SMTP_CMD_QUIT),
	C_ERR("QUIT now", SMTP_CMD_QUIT, 501, "5.5.4"),
	C_OK("STARTTLS", SMTP_CMD_STARTTLS),
	C_ERR("STARTTLS x", SMTP_CMD_STARTTLS, 501, "5.5.4"),
	C_OK("NOOP", SMTP_CMD_NOOP),
	C_OK("NOOP anything at all", SMTP_CMD_NOOP),
	C_ERR("NOOP a\x01", SMTP_CMD_NOOP, 501, "5.5.4"),
	C_OK("HELP", SMTP_CMD_HELP),
	C_OK("HELP MAIL", SMTP_CMD_HELP),
	C_OK("VRFY postmaster", SMTP_CMD_VRFY),
	C_OK("VRFY", SMTP_CMD_VRFY),
	C_OK("EXPN staff", SMTP_CMD_EXPN),
	C_OK("BDAT 0 LAST", SMTP_CMD_BDAT),
	C_OK("BDAT 1000", SMTP_CMD_BDAT),
	C_OK("bdat 9223372036854775807 last", SMTP_CMD_BDAT),
	C_ERR("BDAT 9223372036854775808", SMTP_CMD_BDAT, 552, "5.3.4"),
	C_ERR("BDAT", SMTP_CMD_BDAT, 501, "5.5.4"),
	C_ERR("BDAT x", SMTP_CMD_BDAT, 501, "5.5.4"),
	C_ERR("BDAT -1", SMTP_CMD_BDAT, 501, "5.5.4"),
	C_ERR("BDAT 10 FIRST", SMTP_CMD_BDAT, 501, "5.5.4"),
	C_ERR("BDAT 10 LAST x", SMTP_CMD_BDAT, 501, "5.5.4"),
	C_ERR("BDAT  10", SMTP_CMD_BDAT, 501, "5.5.4"),
	C_OK("AUTH PLAIN", SMTP_CMD_AUTH),
	C_OK("AUTH plain AGFsaWNlAHNlY3JldA==", SMTP_CMD_AUTH),
	C_OK("AUTH PLAIN =", SMTP_CMD_AUTH),
	C_OK("AUTH SCRAM-SHA-256", SMTP_CMD_AUTH),
	C_ERR("AUTH", SMTP_CMD_AUTH, 501, "5.5.4"),
	C_ERR("AUTH PLAIN AGF$", SMTP_CMD_AUTH, 501, "5.5.4"),
	C_ERR("AUTH PLAIN abc", SMTP_CMD_AUTH, 501, "5.5.4"),
	C_ERR("AUTH PLAIN ab=c", SMTP_CMD_AUTH, 501, "5.5.4"),
	C_ERR("AUTH PLAIN abcd efgh", SMTP_CMD_AUTH, 501, "5.5.4"),
	C_ERR("AUTH ABCDEFGHIJKLMNOPQRSTU", SMTP_CMD_AUTH, 501, "5.5.4"),
	C_ERR("AUTH PL.AIN", SMTP_CMD_AUTH, 501, "5.5.4"),
	C_ERR("", SMTP_CMD_UNKNOWN, 500, "5.5.2"),
	C_ERR("FOO", SMTP_CMD_UNKNOWN, 500, "5.5.2"),
	C_ERR("GET / HTTP/1.1", SMTP_CMD_UNKNOWN, 500, "5.5.2"),
	C_ERR("MAILFROM:<a@b.org>", SMTP_CMD_UNKNOWN, 500, "5.5.2"),
	C_ERR(" QUIT", SMTP_CMD_UNKNOWN, 500, "5.5.2"),
	C_ERR("NOOP\r", SMTP_CMD_UNKNOWN, 500, "5.5.2"),
	C_ERR("NOOP a\nQUIT", SMTP_CMD_UNKNOWN, 500, "5.5.2"),
};

static void
test_cmd_table(void **state)
{
	const struct cmd_case	*c;
	struct smtp_cmd		 cmd;
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		c = &cmd_cases[i];
		rc = smtp_parse_cmd(c->line, strlen(c->line), &cmd);
		if (rc != c->rc || cmd.verb != c->verb)
			fail_msg("case %zu '%s': rc %d verb %d, want %d %d "
			    "(%d %s %s)", i, c->line, rc, cmd.verb, c->rc,
			    c->verb, cmd.reply.code,
			    cmd.reply.status ? cmd.reply.status : "",
			    cmd.reply.text ? cmd.reply.text : "");
		if (rc == 0)
			continue;
		if (cmd.reply.code != c->code ||
		    strcmp(cmd.reply.status, c->status) != 0)
			fail_msg("case %zu '%s': reply %d %s (%s), want %d %s",
			    i, c->line, cmd.reply.code, cmd.reply.status,
			    cmd.reply.text, c->code, c->status);
		assert_non_null(cmd.reply.text);
	}
}

static void
test_cmd_values(void **state)
{
	struct smtp_cmd	 cmd;
	const char	*l;

	(void)state;
	l = "MAIL FROM:<User@Example.ORG> SIZE=12345 BODY=8BITMIME "
	    "RET=FULL ENVID=QQ+2B314 AUTH=a+2Bb@c.org SMTPUTF8";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_string_equal(cmd.addr.local, "User");
	assert_string_equal(cmd.addr.domain, "example.org");
	assert_int_equal(cmd.size, 12345);
	assert_int_equal(cmd.body, SMTP_BODY_8BITMIME);
	assert_int_equal(cmd.ret, SMTP_RET_FULL);
	assert_string_equal(cmd.envid, "QQ+314");
	assert_string_equal(cmd.auth, "a+b@c.org");
	assert_true(cmd.smtputf8);
	assert_int_equal(cmd.params, SMTP_PARAM_SIZE | SMTP_PARAM_BODY |
	    SMTP_PARAM_RET | SMTP_PARAM_ENVID | SMTP_PARAM_AUTH |
	    SMTP_PARAM_SMTPUTF8);

	l = "MAIL FROM:<>";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_true(cmd.addr.flags & SMTP_ADDR_IS_NULL);
	assert_int_equal(cmd.params, 0);

	l = "RCPT TO:<x@y.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;x+40y.org";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_int_equal(cmd.notify, SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY);
	assert_string_equal(cmd.orcpt_type, "rfc822");
	assert_string_equal(cmd.orcpt, "x@y.org");

	l = "RCPT TO:<postmaster>";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_true(cmd.addr.flags & SMTP_ADDR_POSTMASTER_BARE);

	/* UTF-8 recipient: parsed, flagged; the session decides. */
	l = "RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7@example.org>";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_true(cmd.addr.flags & SMTP_ADDR_HAS_UTF8);
	assert_int_equal(smtp_reply_utf8_rcpt.code, 553);

	l = "EHLO Mail.Example.ORG";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_string_equal(cmd.helo, "Mail.Example.ORG");
	assert_false(cmd.helo_literal);
	l = "HELO [192.0.2.1]";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_true(cmd.helo_literal);

	l = "BDAT 42 LAST";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_int_equal(cmd.bdat_size, 42);
	assert_true(cmd.bdat_last);
	l = "BDAT 0042";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_int_equal(cmd.bdat_size, 42);
	assert_false(cmd.bdat_last);

	l = "auth plain dGVzdA==";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_string_equal(cmd.mech, "PLAIN");
	assert_true(cmd.ir_present);
	assert_string_equal(cmd.arg, "dGVzdA==");
	l = "AUTH login =";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_string_equal(cmd.mech, "LOGIN");
	assert_true(cmd.ir_present);
	assert_string_equal(cmd.arg, "");
	l = "AUTH CRAM-MD5";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_false(cmd.ir_present);

	l = "VRFY John Smith";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_true(cmd.has_arg);
	assert_string_equal(cmd.arg, "John Smith");
	l = "HELP";
	assert_int_equal(smtp_parse_cmd(l, strlen(l), &cmd), 0);
	assert_false(cmd.has_arg);

	assert_string_equal(smtp_parse_verb_name(SMTP_CMD_STARTTLS),
	    "STARTTLS");
	assert_string_equal(smtp_parse_verb_name(SMTP_CMD_UNKNOWN),
	    "UNKNOWN");
}

static void
test_cmd_limits(void **state)
{
	char		 l[2048];
	struct smtp_cmd	 cmd;
	size_t		 n;

	(void)state;
	/* 510 octets (+CRLF = 512) is fine, 511 is not. */
	memcpy(l, "NOOP ", 5);
	memset(l + 5, 'x', sizeof(l) - 5);
	assert_int_equal(smtp_parse_cmd(l, 510, &cmd), 0);
	assert_int_equal(smtp_parse_cmd(l, 511, &cmd), -1);
	assert_int_equal(cmd.reply.code, 500);
	assert_string_equal(cmd.reply.status, "5.5.2");
	/* MAIL may be longer (extensions), but not without bound. */
	n = (size_t)snprintf(l, sizeof(l), "MAIL FROM:<a@b.org> AUTH=");
	memset(l + n, 'x', 500);
	assert_int_equal(smtp_parse_cmd(l, n + 500, &cmd), 0);
	memset(l + n, 'x', sizeof(l) - n);
	assert_int_equal(smtp_parse_cmd(l, SMTP_LINE_MAX_MAIL - 1, &cmd),
	    -1);
	assert_int_equal(cmd.reply.code, 500);
	/* AUTH= over 500 decoded octets. */
	assert_int_equal(smtp_parse_cmd(l, n + 501, &cmd), -1);
	assert_int_equal(cmd.reply.code, 501);
	/* ENVID over 100. */
	n = (size_t)snprintf(l, sizeof(l), "MAIL FROM:<a@b.org> ENVID=");
	memset(l + n, 'e', 101);
	assert_int_equal(smtp_parse_cmd(l, n + 100, &cmd), 0);
	assert_int_equal(smtp_parse_cmd(l, n + 101, &cmd), -1);
	/* NUL inside a command. */
	assert_int_equal(smtp_parse_cmd("NOOP\0x", 6, &cmd), -1);
	assert_int_equal(cmd.reply.code, 500);
}

static void
test_xtext(void **state)
{
	char	 out[8];

	(void)state;
	assert_int_equal(smtp_parse_xtext("a+2Bb", 5, out, sizeof(out)), 3);
	assert_string_equal(out, "a+b");
	assert_int_equal(smtp_parse_xtext("a+2bb", 5, out, sizeof(out)), -1);
	assert_int_equal(smtp_parse_xtext("a=b", 3, out, sizeof(out)), -1);
	assert_int_equal(smtp_parse_xtext("a+0A", 4, out, sizeof(out)), -1);
	assert_int_equal(smtp_parse_xtext("12345678", 8, out, sizeof(out)),
	    -1);
	assert_int_equal(smtp_parse_xtext("1234567", 7, out, sizeof(out)), 7);
	assert_int_equal(smtp_parse_xtext("", 0, out, sizeof(out)), 0);
}

/* ---- DATA decoding ------------------------------------------------ */

struct data_case {
	const char	*in;
	size_t		 inlen;		/* 0: strlen */
	int		 rc;
	const char	*out;		/* NULL: don't check */
	size_t		 consumed;	/* 0: whole input */
	int		 code;		/* 0: no error */
	uint64_t	 lines;
};

#define D(in, rc, out, cons, code, lines) \
	{ in, sizeof(in) - 1, rc, out, cons, code, lines }
#define MORE	SMTP_DATA_MORE
#define DONE	SMTP_DATA_DONE

static const struct data_case data_cases[] = {
	D(".\r\n", DONE, "", 3, 0, 0),
	D("a\r\n.\r\n", DONE, "a\r\n", 6, 0, 1),
	D("Subject: x\r\n\r\nbody\r\n.\r\n", DONE,
	    "Subject: x\r\n\r\nbody\r\n", 0, 0, 3),
	D("..\r\n.\r\n", DONE, ".\r\n", 0, 0, 1),
	D("...x\r\n.\r\n", DONE, "..x\r\n", 0, 0, 1),
	D("a\r\n..\r\n.\r\n", DONE, "a\r\n.\r\n", 0, 0, 2),
	D(".x\r\n.\r\n", DONE, "x\r\n", 0, 0, 1),
	D("a\r\n.\r\nMAIL FROM:<>\r\n", DONE, "a\r\n", 6, 0, 1),
	D("a\r\n.\r\n.\r\n", DONE, "a\r\n", 6, 0, 1),
	D("a\r\n", MORE, "a\r\n", 0, 0, 1),
	D("a\r\n.", MORE, "a\r\n", 0, 0, 1),
	D("a\r\n.\r", MORE, "a\r\n", 0, 0, 1),
	D("a.\r\n.\r\n", DONE, "a.\r\n", 0, 0, 1),
	D(" .\r\n.\r\n", DONE, " .\r\n", 0, 0, 1),
	/* Smuggling: none of these end the data; each is a bare CR/LF. */
	D("a\n.\n", MORE, NULL, 0, 550, 0),
	D("a\n.\nb\r\n.\r\n", DONE, NULL, 0, 550, 1),
	D("a\n.\r\nMAIL FROM:<x@y.org>\r\n", MORE, NULL, 0, 550, 2),
	D("a\n.\r\nMAIL FROM:<x@y.org>\r\n.\r\n", DONE, NULL, 0, 550, 2),
	D("a\r\n.\nMAIL FROM:<x@y.org>\r\n.\r\n", DONE, NULL, 0, 550, 2),
	D("a\r\n.\rMAIL FROM:<x@y.org>\r\n.\r\n", DONE, NULL, 0, 550, 2),
	D("a\r.\rMAIL\r\n.\r\n", DONE, NULL, 0, 550, 1),
	D("a\r.\r\nMAIL\r\n.\r\n", DONE, NULL, 0, 550, 2),
	D("a\r\n.\r\r\nMAIL\r\n.\r\n", DONE, NULL, 0, 550, 3),
	D("a\r\r\n.\r\n", DONE, NULL, 7, 550, 1),
	D("a\n\r\n.\r\n", DONE, NULL, 7, 550, 1),
	D("\n.\r\n", MORE, NULL, 0, 550, 1),
	D(".\n", MORE, NULL, 0, 550, 0),
	D(".\r.\r\n", MORE, NULL, 0, 550, 1),
	D("a\rb\r\n.\r\n", DONE, NULL, 0, 550, 1),
	D("a\nb\r\n.\r\n", DONE, NULL, 0, 550, 1),
	D("a\0b\r\n.\r\n", DONE, NULL, 0, 550, 1),
	D("8bit \xc3\xa9\r\n.\r\n", DONE, "8bit \xc3\xa9\r\n", 0, 0, 1),
};

/* Feed in chunks of `step` octets (0: at once); collect the result. */
static int
data_run(const struct data_case *c, size_t step, size_t max_size,
    size_t max_line, struct buf *out, size_t *consumed_r,
    const struct smtp_reply **err_r, uint64_t *lines_r)
{
	struct smtp_data	*d = smtp_data_new(max_size, max_line);
	size_t			 off = 0, n, used;
	int			 rc = SMTP_DATA_MORE;

	while (off < c->inlen) {
		n = step == 0 || c->inlen - off < step ? c->inlen - off : step;
		rc = smtp_data_feed(d, c->in + off, n, &used, out);
		off += used;
		if (rc == SMTP_DATA_DONE)
			break;
		assert_int_equal(used, n);
	}
	*consumed_r = off;
	*err_r = smtp_data_error(d);
	*lines_r = smtp_data_lines(d);
	assert_int_equal(smtp_data_bytes_in(d), off);
	smtp_data_free(&d);
	assert_null(d);
	return rc;
}

static void
test_data_table(void **state)
{
	static const size_t	 steps[] = { 0, 1, 2, 3, 7 };
	const struct data_case	*c;
	const struct smtp_reply	*err;
	struct buf		 out;
	size_t			 i, s, used;
	uint64_t		 lines;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
		c = &data_cases[i];
		for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			buf_init(&out, 0);
			rc = data_run(c, steps[s], 0, SMTP_DATA_LINE_MAX, &out,
			    &used, &err, &lines);
			if (rc != c->rc)
				fail_msg("case %zu step %zu: rc %d want %d", i,
				    steps[s], rc, c->rc);
			assert_int_equal(used, c->consumed ? c->consumed :
			    c->inlen);
			if (c->code == 0) {
				if (err != NULL)
					fail_msg("case %zu step %zu: error %d",
					    i, steps[s], err->code);
			} else {
				if (err == NULL || err->code != c->code)
					fail_msg("case %zu step %zu: want %d",
					    i, steps[s], c->code);
			}
			if (c->out != NULL) {
				assert_int_equal(out.len, strlen(c->out));
				assert_memory_equal(out.data ? out.data : "",
				    c->out, out.len);
			}
			if (lines != c->lines)
				fail_msg("case %zu step %zu: lines %lu want %lu",
				    i, steps[s], (unsigned long)lines,
				    (unsigned long)c->lines);
			buf_free(&out);
		}
	}
}

static void
test_data_errors(void **state)
{
	struct smtp_data	*d;
	struct buf		 out;
	char			 line[1100];
	size_t			 used;
	const struct smtp_reply	*e;

	(void)state;
	/* NUL: 550 5.6.0. */
	d = smtp_data_new(0, 0);
	buf_init(&out, 0);
	assert_int_equal(smtp_data_feed(d, "a\0\r\n.\r\n", 7, &used, &out),
	    SMTP_DATA_DONE);
	e = smtp_data_error(d);
	assert_non_null(e);
	assert_int_equal(e->code, 550);
	assert_string_equal(e->status, "5.6.0");

	/* Bare LF: 550 5.5.2; first error wins over a later NUL. */
	smtp_data_reset(d);
	buf_reset(&out);
	assert_int_equal(smtp_data_feed(d, "a\nb\0\r\n.\r\n", 9, &used, &out),
	    SMTP_DATA_DONE);
	e = smtp_data_error(d);
	assert_int_equal(e->code, 550);
	assert_string_equal(e->status, "5.5.2");
	smtp_data_free(&d);

	/* Size limit: exactly at the limit is fine, one more is 552. */
	d = smtp_data_new(5, 0);
	buf_reset(&out);
	assert_int_equal(smtp_data_feed(d, "abc\r\n.\r\n", 8, &used, &out),
	    SMTP_DATA_DONE);
	assert_null(smtp_data_error(d));
	assert_int_equal(smtp_data_size(d), 5);
	smtp_data_reset(d);
	buf_reset(&out);
	assert_int_equal(smtp_data_feed(d, "abcd\r\nefgh\r\n.\r\n", 15, &used,
	    &out), SMTP_DATA_DONE);
	e = smtp_data_error(d);
	assert_non_null(e);
	assert_int_equal(e->code, 552);
	assert_string_equal(e->status, "5.3.4");
	assert_true(out.len <= 5);	/* output bounded after the error */
	assert_int_equal(smtp_data_size(d), 12);
	smtp_data_free(&d);

	/* A full output buffer counts as too big. */
	d = smtp_data_new(0, 0);
	buf_free(&out);
	buf_init(&out, 4);
	assert_int_equal(smtp_data_feed(d, "abcdef\r\n.\r\n", 11, &used,
	    &out), SMTP_DATA_DONE);
	assert_int_equal(smtp_data_error(d)->code, 552);
	smtp_data_free(&d);
	buf_free(&out);

	/* Line limit: 998 + CRLF ok; 999 + CRLF is too long. */
	d = smtp_data_new(0, SMTP_DATA_LINE_MAX);
	buf_init(&out, 0);
	memset(line, 'x', sizeof(line));
	memcpy(line + 998, "\r\n.\r\n", 5);
	assert_int_equal(smtp_data_feed(d, line, 1003, &used, &out),
	    SMTP_DATA_DONE);
	assert_null(smtp_data_error(d));
	/* A stuffed dot does not count (RFC 5321 4.5.3.1.6). */
	smtp_data_reset(d);
	buf_reset(&out);
	memset(line, 'x', sizeof(line));
	line[0] = '.';
	line[1] = '.';
	memcpy(line + 999, "\r\n.\r\n", 5);
	assert_int_equal(smtp_data_feed(d, line, 1004, &used, &out),
	    SMTP_DATA_DONE);
	assert_null(smtp_data_error(d));
	assert_int_equal(out.len, 1000);
	smtp_data_reset(d);
	buf_reset(&out);
	memset(line, 'x', sizeof(line));
	memcpy(line + 999, "\r\n.\r\n", 5);
	assert_int_equal(smtp_data_feed(d, line, 1004, &used, &out),
	    SMTP_DATA_DONE);
	e = smtp_data_error(d);
	assert_non_null(e);
	assert_int_equal(e->code, 500);
	/* A long "line" of bare LFs is still too long: LF is no line end. */
	smtp_data_free(&d);
	buf_free(&out);

	/* After DONE nothing more is consumed. */
	d = smtp_data_new(0, 0);
	buf_init(&out, 0);
	assert_int_equal(smtp_data_feed(d, ".\r\n", 3, &used, &out),
	    SMTP_DATA_DONE);
	assert_int_equal(smtp_data_feed(d, "QUIT\r\n", 6, &used, &out),
	    SMTP_DATA_DONE);
	assert_int_equal(used, 0);
	smtp_data_free(&d);
	buf_free(&out);
}

/* Random chunking gives the same result as one feed. */
static void
test_data_chunking(void **state)
{
	static const char	 msg[] = "From: a\r\n\r\n..dot\r\nx\ny\r.\r\n"
	    "line\r\n.\r\n\r\n.\r\nRSET\r\n";
	struct smtp_data	*d1, *d2;
	struct buf		 o1, o2;
	size_t			 used1, used2, off, n, used;
	unsigned		 seed, iter;
	int			 rc1, rc2;

	(void)state;
	d1 = smtp_data_new(0, 80);
	buf_init(&o1, 0);
	rc1 = smtp_data_feed(d1, msg, sizeof(msg) - 1, &used1, &o1);
	assert_int_equal(rc1, SMTP_DATA_DONE);
	/* The first end marker wins; the rest is pipelined input. */
	assert_int_equal(sizeof(msg) - 1 - used1, 11);
	for (iter = 0, seed = 12345; iter < 200; iter++) {
		d2 = smtp_data_new(0, 80);
		buf_init(&o2, 0);
		rc2 = SMTP_DATA_MORE;
		for (off = 0, used2 = 0; off < sizeof(msg) - 1 &&
		    rc2 == SMTP_DATA_MORE; off += used) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 9;
			if (n > sizeof(msg) - 1 - off)
				n = sizeof(msg) - 1 - off;
			rc2 = smtp_data_feed(d2, msg + off, n, &used, &o2);
		}
		used2 = off;
		assert_int_equal(rc2, rc1);
		assert_int_equal(used2, used1);
		assert_int_equal(o2.len, o1.len);
		assert_memory_equal(o2.data, o1.data, o1.len);
		assert_ptr_equal(smtp_data_error(d2), smtp_data_error(d1));
		assert_int_equal(smtp_data_lines(d2), smtp_data_lines(d1));
		smtp_data_free(&d2);
		buf_free(&o2);
	}
	smtp_data_free(&d1);
	buf_free(&o1);
}

static void
test_bdat(void **state)
{
	struct smtp_data	*d;
	struct buf		 out;
	size_t			 used;

	(void)state;
	/* Dots and end markers are plain data in BDAT. */
	d = smtp_data_new_bdat(0, SMTP_DATA_LINE_MAX, false);
	buf_init(&out, 0);
	assert_int_equal(smtp_data_feed(d, "a\r\n.\r", 5, &used, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(used, 5);
	assert_int_equal(smtp_data_feed(d, "\n..\r\n", 5, &used, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(smtp_data_bdat_last(d), SMTP_DATA_DONE);
	assert_null(smtp_data_error(d));
	assert_int_equal(out.len, 10);
	assert_memory_equal(out.data, "a\r\n.\r\n..\r\n", 10);
	assert_int_equal(smtp_data_lines(d), 3);
	smtp_data_free(&d);

	/* A CR at the end of the last chunk is bare. */
	d = smtp_data_new_bdat(0, 0, false);
	buf_reset(&out);
	smtp_data_feed(d, "abc\r", 4, &used, &out);
	smtp_data_bdat_last(d);
	assert_int_equal(smtp_data_error(d)->code, 550);
	smtp_data_free(&d);

	/* Bare LF in a non-binary chunk. */
	d = smtp_data_new_bdat(0, 0, false);
	buf_reset(&out);
	smtp_data_feed(d, "a\nb", 3, &used, &out);
	smtp_data_bdat_last(d);
	assert_int_equal(smtp_data_error(d)->code, 550);
	smtp_data_free(&d);

	/* BINARYMIME: anything goes, only the size counts. */
	d = smtp_data_new_bdat(6, SMTP_DATA_LINE_MAX, true);
	buf_reset(&out);
	smtp_data_feed(d, "a\nb\0\r", 5, &used, &out);
	smtp_data_bdat_last(d);
	assert_null(smtp_data_error(d));
	assert_int_equal(out.len, 5);
	smtp_data_reset(d);
	smtp_data_feed(d, "1234", 4, &used, &out);
	smtp_data_feed(d, "567", 3, &used, &out);
	assert_int_equal(smtp_data_error(d)->code, 552);
	smtp_data_free(&d);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_table),
		cmocka_unit_test(test_addr_limits),
		cmocka_unit_test(test_cmd_table),
		cmocka_unit_test(test_cmd_values),
		cmocka_unit_test(test_cmd_limits),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_data_table),
		cmocka_unit_test(test_data_errors),
		cmocka_unit_test(test_data_chunking),
		cmocka_unit_test(test_bdat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
