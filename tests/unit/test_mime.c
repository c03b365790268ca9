/*
 * test_mime.c - unit tests for protocols/mime: structure, offsets, limits,
 * ENVELOPE, BODYSTRUCTURE (Dovecot's output as reference), sections,
 * header helpers and decoders.  Every parse is also done byte by byte
 * and must give the same result.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mime.h"

/* Parse in chunks of chunk bytes (0: all at once). */
static struct mime_msg *
parse_chunked(const char *data, size_t len, size_t chunk,
    const struct mime_limits *lim)
{
	struct mime_parser	*p = mime_parser_new(lim);
	struct mime_msg		*msg;
	const char		*error;
	size_t			 off, n;

	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		mime_parser_feed(p, data + off, n);
	}
	assert_int_equal(mime_parser_finish(&p, &msg, &error), 0);
	assert_null(p);
	return msg;
}

static char *
describe(const struct mime_msg *msg, bool ext)
{
	struct buf	 b;

	buf_init(&b, 0);
	mime_bodystructure(msg, ext, &b);
	return buf_steal(&b, NULL);
}

/* Parse whole, then 1 and 3 bytes at a time: same BODYSTRUCTURE. */
static struct mime_msg *
parse_all_ways(const char *data, size_t len, const struct mime_limits *lim)
{
	static const size_t chunks[] = { 1, 3, 64 };
	struct mime_msg	*msg, *other;
	struct buf	 a, b;
	size_t		 i;

	msg = parse_chunked(data, len, 0, lim);
	buf_init(&a, 0);
	mime_bodystructure(msg, true, &a);
	mime_envelope(msg, &a);
	for (i = 0; i < 3; i++) {
		other = parse_chunked(data, len, chunks[i], lim);
		buf_init(&b, 0);
		mime_bodystructure(other, true, &b);
		mime_envelope(other, &b);
		assert_string_equal(a.data, b.data);
		assert_int_equal(mime_msg_flags(msg), mime_msg_flags(other));
		assert_int_equal(mime_msg_part_count(msg),
		    mime_msg_part_count(other));
		buf_free(&b);
		mime_msg_free(&other);
		assert_null(other);
	}
	buf_free(&a);
	return msg;
}

static char *
to_crlf(const char *s)
{
	struct buf	 b;

	buf_init(&b, 0);
	for (; *s != '\0'; s++) {
		if (*s == '\n')
			buf_putc(&b, '\r');
		buf_putc(&b, *s);
	}
	return buf_steal(&b, NULL);
}

/* ---- BODYSTRUCTURE against Dovecot's published test vectors ---- */

struct bs_case {
	const char	*msg;		/* LF line ends */
	const char	*body;		/* without the outer parentheses */
	const char	*bodystructure;
};

static const struct bs_case bs_cases[] = {
	{
		"From: user@example.org\n"
		"Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
		"Mime-Version: 1.0\n"
		"Content-Type: text/plain; charset=us-ascii\n"
		"\n"
		"body\n",
		"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1",
		"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1"
		" NIL NIL NIL NIL"
	}, {
		"From: user@example.org\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"Content-Transfer-Encoding: 8bit\n"
		"\n"
		"body\n"
		"\n",
		"\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2",
		"\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 8 2"
		" NIL NIL NIL NIL"
	}, {
		/* No Content-Type at all: RFC 2045 5.2 default. */
		"Subject: x\n\nhi\n",
		"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1",
		"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1"
		" NIL NIL NIL NIL"
	}, {
		/* Boundary folded inside the quoted string. */
		"From: user@example.org\n"
		"Content-Type: multipart/mixed; boundary=\"foo\n"
		" bar\"\n"
		"\n"
		"--foo bar\n"
		"Content-Type: text/x-myown; charset=us-ascii\n"
		"\n"
		"hello\n"
		"\n"
		"--foo bar--\n"
		"\n",
		"(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)"
		" \"mixed\"",
		"(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1"
		" NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL"
	}, {
		"From: user@domain.org\n"
		"Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
		"Mime-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"foo bar\"\n"
		"\n"
		"--foo bar\n"
		"Content-Type: text/plain; charset=us-ascii\n"
		"Content-ID: <A.frop.example.com>\n"
		"Content-Description: Container message\n"
		"\n"
		"See attached...\n"
		"\n"
		"--foo bar\n"
		"Content-Type: message/rfc822\n"
		"Content-ID: <B.frop.example.com>\n"
		"Content-Description: Forwarded\n"
		"\n"
		"From: user@domain.org\n"
		"Date: Sat, 24 Mar 2017 23:00:00 +0200\n"
		"Mime-Version: 1.0\n"
		"Content-Type: text/plain; charset=us-ascii\n"
		"\n"
		"body\n"
		"\n"
		"--foo bar--\n",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<A.frop.example.com>\""
		" \"Container message\" \"7bit\" 17 1)(\"message\" \"rfc822\" NIL"
		" \"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133"
		" (\"Sat, 24 Mar 2017 23:00:00 +0200\" NIL ((NIL NIL \"user\""
		" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL"
		" \"user\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\""
		" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1) 6) \"mixed\"",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<A.frop.example.com>\""
		" \"Container message\" \"7bit\" 17 1 NIL NIL NIL NIL)(\"message\""
		" \"rfc822\" NIL \"<B.frop.example.com>\" \"Forwarded\" \"7bit\" 133"
		" (\"Sat, 24 Mar 2017 23:00:00 +0200\" NIL ((NIL NIL \"user\""
		" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL"
		" \"user\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\""
		" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL) 6"
		" NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL"
	}, {
		"From: user@domain.org\n"
		"Mime-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"foo\n"
		" bar\"\n"
		"\n"
		"Root MIME prologue\n"
		"\n"
		"--foo bar\n"
		"Content-Type: text/x-myown; charset=us-ascii; foo=\"quoted\\\"string\"\n"
		"Content-ID: <foo@example.com>\n"
		"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
		"Content-Disposition: inline; foo=bar\n"
		"Content-Description: hellodescription\n"
		"Content-Language: en, fi, se\n"
		"Content-Location: http://example.com/test.txt\n"
		"\n"
		"hello\n"
		"\n"
		"--foo bar\n"
		"Content-Type: message/rfc822\n"
		"\n"
		"From: sub@domain.org\n"
		"To: sub-to1@domain.org, sub-to2@domain.org\n"
		"Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
		"Subject: submsg\n"
		"Content-Type: multipart/alternative; boundary=\"sub1\"\n"
		"\n"
		"Sub MIME prologue\n"
		"--sub1\n"
		"Content-Type: text/html\n"
		"Content-Transfer-Encoding: 8bit\n"
		"\n"
		"<p>Hello world</p>\n"
		"\n"
		"--sub1\n"
		"Content-Type: text/plain\n"
		"Content-Transfer-Encoding: ?invalid\n"
		"\n"
		"Hello another world\n"
		"\n"
		"--sub1--\n"
		"Sub MIME epilogue\n"
		"\n"
		"--foo bar--\n"
		"Root MIME epilogue\n",
		"(\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\""
		" \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\""
		" \"7bit\" 7 1)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412"
		" (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\""
		" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL"
		" \"sub\" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")(NIL"
		" NIL \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL) ((\"text\""
		" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 20 1)(\"text\""
		" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1)"
		" \"alternative\") 21) \"mixed\"",
		"(\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\""
		" \"quoted\\\"string\") \"<foo@example.com>\" \"hellodescription\""
		" \"7bit\" 7 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"inline\" (\"foo\""
		" \"bar\")) (\"en\" \"fi\" \"se\") \"http://example.com/test.txt\")"
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 412 (\"Sun, 12 Aug 2012"
		" 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\"))"
		" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\""
		" \"domain.org\")) ((NIL NIL \"sub-to1\" \"domain.org\")(NIL NIL"
		" \"sub-to2\" \"domain.org\")) NIL NIL NIL NIL) ((\"text\" \"html\""
		" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 20 1 NIL NIL NIL"
		" NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
		" 21 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"sub1\") NIL"
		" NIL NIL) 21 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\")"
		" NIL NIL NIL"
	}, {
		/* A multipart with no parts at all. */
		"Content-Type: multipart/mixed; boundary=\"foo\"\n\n",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
		" \"mixed\"",
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
		" NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo\") NIL NIL NIL"
	},
};

static void
check_bs(const char *msgtext, const struct bs_case *c)
{
	struct mime_msg	*msg;
	char		*s, *want;

	msg = parse_all_ways(msgtext, strlen(msgtext), NULL);
	s = describe(msg, false);
	want = NULL;
	assert_true(asprintf(&want, "(%s)", c->body) > 0);
	assert_string_equal(s, want);
	free(s);
	free(want);
	s = describe(msg, true);
	assert_true(asprintf(&want, "(%s)", c->bodystructure) > 0);
	assert_string_equal(s, want);
	free(s);
	free(want);
	mime_msg_free(&msg);
}

static void
test_bodystructure(void **state)
{
	size_t	 i;
	char	*crlf;

	(void)state;
	for (i = 0; i < sizeof(bs_cases) / sizeof(bs_cases[0]); i++) {
		check_bs(bs_cases[i].msg, &bs_cases[i]);
		/* IMAP sizes count CRLF, so LF and CRLF files agree. */
		crlf = to_crlf(bs_cases[i].msg);
		check_bs(crlf, &bs_cases[i]);
		free(crlf);
	}
}

/* ---- Structure and sections ---- */

static const char nested_msg[] =
	"From: a@example.com\r\n"
	"Subject: nested\r\n"
	"Content-Type: multipart/mixed; boundary=outer\r\n"
	"\r\n"
	"preamble\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
	"\r\n"
	"--alt\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"plain text\r\n"
	"--alt\r\n"
	"Content-Type: multipart/related; boundary=rel\r\n"
	"\r\n"
	"--rel\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<b>html</b>\r\n"
	"--rel\r\n"
	"Content-Type: image/png\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"iVBORw0K\r\n"
	"--rel--\r\n"
	"--alt--\r\n"
	"--outer\r\n"
	"Content-Type: application/pdf; name=x.pdf\r\n"
	"Content-Disposition: attachment; filename=x.pdf\r\n"
	"\r\n"
	"PDF\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

struct sect_case {
	const char	*spec;
	int		 ret;
	const char	*want;
};

static void
check_sections(const char *text, const struct mime_msg *msg,
    const struct sect_case *cases, size_t n)
{
	struct mime_section	 sect;
	const char		*error;
	size_t			 i;

	for (i = 0; i < n; i++) {
		int ret = mime_section_find(msg, cases[i].spec, &sect, &error);
		if (ret != cases[i].ret)
			fail_msg("section %s: ret %d", cases[i].spec, ret);
		if (ret != 0)
			continue;
		if (strlen(cases[i].want) != sect.range.len ||
		    memcmp(text + sect.range.off, cases[i].want,
		    sect.range.len) != 0)
			fail_msg("section %s: got '%.*s'", cases[i].spec,
			    (int)sect.range.len, text + sect.range.off);
	}
}

static void
test_nested(void **state)
{
	static const struct sect_case cases[] = {
		{ "1.1", 0, "plain text" },
		{ "1.2.1", 0, "<b>html</b>" },
		{ "1.2.2", 0, "iVBORw0K" },
		{ "1.2.2.MIME", 0, "Content-Type: image/png\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n" },
		{ "2", 0, "PDF" },
		{ "3", -1, NULL },
		{ "1.3", -1, NULL },
		{ "0", -1, NULL },
		{ "1.", -1, NULL },
		{ "1.HEADER", -1, NULL },
		{ "TEXT", 0, "preamble\r\n--outer\r\n"
		    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
		    "\r\n--alt\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
		    "--alt\r\nContent-Type: multipart/related; boundary=rel\r\n"
		    "\r\n--rel\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n"
		    "--rel\r\nContent-Type: image/png\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n"
		    "--rel--\r\n--alt--\r\n--outer\r\n"
		    "Content-Type: application/pdf; name=x.pdf\r\n"
		    "Content-Disposition: attachment; filename=x.pdf\r\n\r\n"
		    "PDF\r\n--outer--\r\nepilogue\r\n" },
		{ "header", 0, "From: a@example.com\r\nSubject: nested\r\n"
		    "Content-Type: multipart/mixed; boundary=outer\r\n\r\n" },
	};
	struct mime_msg		*msg;
	const struct mime_part	*root, *p;
	char			*s;

	(void)state;
	msg = parse_all_ways(nested_msg, sizeof(nested_msg) - 1, NULL);
	assert_int_equal(mime_msg_flags(msg), 0);
	assert_int_equal(mime_msg_part_count(msg), 7);
	root = mime_msg_root(msg);
	assert_true(mime_part_is_multipart(root));
	assert_int_equal(mime_part_child_count(root), 2);
	p = mime_part_child(root);
	assert_string_equal(mime_part_subtype(p), "alternative");
	p = mime_part_next(mime_part_child(p));
	assert_string_equal(mime_part_subtype(p), "related");
	assert_int_equal(mime_part_child_count(p), 2);
	p = mime_part_next(mime_part_child(root));
	assert_string_equal(mime_part_param(p, "name"), "x.pdf");
	assert_string_equal(mime_part_disposition(p), "attachment");
	check_sections(nested_msg, msg, cases, sizeof(cases) / sizeof(cases[0]));
	s = describe(msg, false);
	assert_string_equal(s, "(((\"text\" \"plain\" (\"charset\" \"us-ascii\")"
	    " NIL NIL \"7bit\" 10 0)((\"text\" \"html\" (\"charset\" \"us-ascii\")"
	    " NIL NIL \"7bit\" 11 0)(\"image\" \"png\" NIL NIL NIL \"base64\" 8)"
	    " \"related\") \"alternative\")(\"application\" \"pdf\" (\"name\""
	    " \"x.pdf\") NIL NIL \"7bit\" 3) \"mixed\")");
	free(s);
	mime_msg_free(&msg);
}

static void
test_rfc822_sections(void **state)
{
	static const char text[] =
	    "Subject: outer\n"
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "\n"
	    "first\n"
	    "--b\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "Subject: inner\n"
	    "From: Inner <in@example.net>\n"
	    "\n"
	    "inner body\n"
	    "--b--\n";
	static const struct sect_case cases[] = {
		{ "1", 0, "first" },
		{ "1.MIME", 0, "\n" },
		{ "2.MIME", 0, "Content-Type: message/rfc822\n\n" },
		{ "2", 0, "Subject: inner\nFrom: Inner <in@example.net>\n\n"
		    "inner body" },
		{ "2.HEADER", 0, "Subject: inner\nFrom: Inner <in@example.net>\n"
		    "\n" },
		{ "2.HEADER.FIELDS", 0, "Subject: inner\n"
		    "From: Inner <in@example.net>\n\n" },
		{ "2.header.fields.not", 0, "Subject: inner\n"
		    "From: Inner <in@example.net>\n\n" },
		{ "2.TEXT", 0, "inner body" },
		{ "2.1", 0, "inner body" },
		{ "2.2", -1, NULL },
		{ "1.TEXT", -1, NULL },
		{ "2.FOO", -1, NULL },
	};
	struct mime_msg		*msg;
	struct buf		 b;

	(void)state;
	msg = parse_all_ways(text, sizeof(text) - 1, NULL);
	check_sections(text, msg, cases, sizeof(cases) / sizeof(cases[0]));
	buf_init(&b, 0);
	mime_bodystructure(msg, false, &b);
	assert_string_equal(b.data, "((\"text\" \"plain\" (\"charset\""
	    " \"us-ascii\") NIL NIL \"7bit\" 5 0)(\"message\" \"rfc822\" NIL NIL"
	    " NIL \"7bit\" 58 (NIL \"inner\" ((\"Inner\" NIL \"in\""
	    " \"example.net\")) ((\"Inner\" NIL \"in\" \"example.net\"))"
	    " ((\"Inner\" NIL \"in\" \"example.net\")) NIL NIL NIL NIL NIL)"
	    " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10"
	    " 0) 3) \"mixed\")");
	buf_free(&b);
	mime_msg_free(&msg);
}

static void
test_broken(void **state)
{
	/* "--bx" is not the boundary "b"; the close boundary is missing. */
	static const char text[] =
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "\n"
	    "one\n"
	    "--bx\n"
	    "still one\n"
	    "--b \t\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "two, never closed\n";
	static const struct sect_case cases[] = {
		{ "1", 0, "one\n--bx\nstill one" },
		{ "2", 0, "two, never closed\n" },
	};
	struct mime_msg	*msg;

	(void)state;
	msg = parse_all_ways(text, sizeof(text) - 1, NULL);
	assert_int_equal(mime_msg_flags(msg), MIME_MSG_BROKEN);
	assert_int_equal(mime_part_child_count(mime_msg_root(msg)), 2);
	check_sections(text, msg, cases, 2);
	mime_msg_free(&msg);

	/* Header without any body, no final line end. */
	msg = parse_all_ways("Subject: x", 10, NULL);
	assert_string_equal(mime_msg_env(msg, MIME_ENV_SUBJECT), "x");
	assert_int_equal(mime_part_body_off(mime_msg_root(msg)), 10);
	mime_msg_free(&msg);

	/* Empty input. */
	msg = parse_all_ways("", 0, NULL);
	assert_int_equal(mime_msg_part_count(msg), 1);
	mime_msg_free(&msg);
}

static void
test_digest_default(void **state)
{
	static const char text[] =
	    "Content-Type: multipart/digest; boundary=d\n"
	    "\n"
	    "--d\n"
	    "\n"
	    "Subject: one\n"
	    "\n"
	    "body one\n"
	    "--d--\n";
	struct mime_msg		*msg;
	const struct mime_part	*p;

	(void)state;
	msg = parse_all_ways(text, sizeof(text) - 1, NULL);
	p = mime_part_child(mime_msg_root(msg));
	assert_true(mime_part_is_message(p));
	assert_string_equal(mime_part_env(mime_part_child(p), MIME_ENV_SUBJECT),
	    "one");
	mime_msg_free(&msg);
}

/* ---- Limits ---- */

static void
test_huge_header(void **state)
{
	struct buf		 b;
	struct mime_msg		*msg;
	struct mime_section	 sect;
	const char		*error;
	size_t			 i;

	(void)state;
	buf_init(&b, 0);
	buf_puts(&b, "Subject: big\r\n");
	for (i = 0; i < 5000; i++)
		buf_printf(&b, "X-Filler-%zu: %0100d\r\n", i, 0);
	/* One field of 100 KiB, folded. */
	buf_puts(&b, "X-Long: a");
	for (i = 0; i < 2000; i++)
		buf_printf(&b, "\r\n %050d", 1);
	buf_puts(&b, "\r\nContent-Type: text/html\r\n\r\nbody\r\n");
	msg = parse_chunked(b.data, b.len, 0, NULL);
	assert_true(mime_msg_flags(msg) & MIME_MSG_TRUNCATED);
	assert_string_equal(mime_msg_env(msg, MIME_ENV_SUBJECT), "big");
	assert_int_equal(mime_section_find(msg, "TEXT", &sect, &error), 0);
	assert_int_equal(sect.range.len, 6);
	assert_memory_equal(b.data + sect.range.off, "body\r\n", 6);
	mime_msg_free(&msg);
	/* Byte by byte gives the same. */
	msg = parse_chunked(b.data, b.len, 1, NULL);
	assert_true(mime_msg_flags(msg) & MIME_MSG_TRUNCATED);
	mime_msg_free(&msg);
	buf_free(&b);
}

static void
test_deep_nesting(void **state)
{
	struct buf		 b;
	struct mime_msg		*msg;
	const struct mime_part	*p;
	unsigned int		 depth;
	int			 i;

	(void)state;
	buf_init(&b, 0);
	for (i = 0; i < 100; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n"
		    "\n--b%d\n", i, i);
	buf_puts(&b, "\ninnermost\n");
	for (i = 99; i >= 0; i--)
		buf_printf(&b, "--b%d--\n", i);
	msg = parse_all_ways(b.data, b.len, NULL);
	assert_true(mime_msg_flags(msg) & MIME_MSG_TRUNCATED);
	for (depth = 0, p = mime_msg_root(msg); mime_part_child(p) != NULL;
	    p = mime_part_child(p))
		depth++;
	assert_true(depth <= 32);
	assert_int_equal(mime_part_end_off(mime_msg_root(msg)), b.len);
	mime_msg_free(&msg);

	/* message/rfc822 nesting too. */
	buf_reset(&b);
	for (i = 0; i < 100; i++)
		buf_puts(&b, "Content-Type: message/rfc822\n\n");
	buf_puts(&b, "Subject: deep\n\nx\n");
	msg = parse_all_ways(b.data, b.len, NULL);
	assert_true(mime_msg_flags(msg) & MIME_MSG_TRUNCATED);
	mime_msg_free(&msg);
	buf_free(&b);
}

static void
test_many_parts(void **state)
{
	struct buf		 b;
	struct mime_msg		*msg;
	struct mime_limits	 lim;
	int			 i;

	(void)state;
	buf_init(&b, 0);
	buf_puts(&b, "Content-Type: multipart/mixed; boundary=p\n\n");
	for (i = 0; i < 3000; i++)
		buf_printf(&b, "--p\nContent-Type: text/plain\n\npart %d\n", i);
	buf_puts(&b, "--p--\n");
	msg = parse_chunked(b.data, b.len, 0, NULL);
	assert_true(mime_msg_flags(msg) & MIME_MSG_TRUNCATED);
	assert_int_equal(mime_msg_part_count(msg), 2000);
	assert_int_equal(mime_part_end_off(mime_msg_root(msg)), b.len);
	mime_msg_free(&msg);

	mime_limits_default(&lim);
	lim.max_parts = 10;
	msg = parse_all_ways(b.data, b.len, &lim);
	assert_int_equal(mime_msg_part_count(msg), 10);
	mime_msg_free(&msg);
	buf_free(&b);
}

/* ---- ENVELOPE and addresses ---- */

struct env_case {
	const char	*hdr;
	const char	*want;
};

static const struct env_case env_cases[] = {
	{
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
		"From: \"Alice Q. Smith\" <alice@example.com>\r\n"
		"To: bob@example.org, Carol <carol@example.net>\r\n"
		"Cc: undisclosed-recipients:;\r\n"
		"Subject: Hello\r\n"
		"Message-ID: <123@example.com>\r\n"
		"In-Reply-To: <0@example.com>\r\n"
		"\r\n",
		"(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hello\""
		" ((\"Alice Q. Smith\" NIL \"alice\" \"example.com\"))"
		" ((\"Alice Q. Smith\" NIL \"alice\" \"example.com\"))"
		" ((\"Alice Q. Smith\" NIL \"alice\" \"example.com\"))"
		" ((NIL NIL \"bob\" \"example.org\")(\"Carol\" NIL \"carol\""
		" \"example.net\")) ((NIL NIL \"undisclosed-recipients\" NIL)"
		"(NIL NIL NIL NIL)) NIL \"<0@example.com>\" \"<123@example.com>\")"
	}, {
		/* Groups, comments as names, routes, quoted local parts. */
		"From: joe@example.com (Joe Q. Public)\n"
		"Sender: <@relay1.org,@relay2.org:sender@example.com>\n"
		"Reply-To: \"john doe\"@example.com\n"
		"To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\n"
		"Bcc: nodomain, Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n"
		"Subject: =?utf-8?q?caf=C3=A9?= \"quoted\" \\ back\n"
		"\n",
		"(NIL \"=?utf-8?q?caf=C3=A9?= \\\"quoted\\\" \\\\ back\""
		" ((\"Joe Q. Public\" NIL \"joe\" \"example.com\"))"
		" ((NIL \"@relay1.org,@relay2.org\" \"sender\" \"example.com\"))"
		" ((NIL NIL \"john doe\" \"example.com\"))"
		" ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
		"(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")"
		"(NIL NIL NIL NIL)) NIL"
		" ((NIL NIL \"nodomain\" \"\")(\"Pete\" NIL \"pete\" \"silly.test\"))"
		" NIL NIL)"
	}, {
		/* 8-bit and folded subject: literal; folding removed. */
		"Subject: caf\xc3\xa9\r\n\tau lait\r\n"
		"From: \r\n"
		"\r\n",
		"(NIL {13}\r\ncaf\xc3\xa9\tau lait NIL NIL NIL NIL NIL NIL NIL NIL)"
	}, {
		"\r\n",
		"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
	},
};

static void
test_envelope(void **state)
{
	struct mime_msg	*msg;
	struct buf	 b;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(env_cases) / sizeof(env_cases[0]); i++) {
		msg = parse_all_ways(env_cases[i].hdr, strlen(env_cases[i].hdr),
		    NULL);
		buf_init(&b, 0);
		mime_envelope(msg, &b);
		assert_string_equal(b.data, env_cases[i].want);
		buf_free(&b);
		mime_msg_free(&msg);
	}
}

static void
test_addr_list(void **state)
{
	struct mime_addr	*list;
	size_t			 n;
	static const char	 in[] =
	    "\"Doe, John\" <john.doe@example.com>, =?utf-8?b?w6k=?= <e@x.y>,"
	    " g: ; broken@, <>";

	(void)state;
	mime_addr_parse_list(in, sizeof(in) - 1, &list, &n);
	assert_int_equal(n, 6);
	assert_string_equal(list[0].name, "Doe, John");
	assert_string_equal(list[0].mailbox, "john.doe");
	assert_string_equal(list[0].domain, "example.com");
	assert_string_equal(list[1].name, "=?utf-8?b?w6k=?=");
	assert_int_equal(list[2].kind, MIME_ADDR_GROUP_START);
	assert_string_equal(list[2].mailbox, "g");
	assert_int_equal(list[3].kind, MIME_ADDR_GROUP_END);
	assert_string_equal(list[4].mailbox, "broken");
	assert_string_equal(list[4].domain, "");
	assert_string_equal(list[5].mailbox, "");
	mime_addr_free_list(&list, n);
	assert_null(list);
	mime_addr_parse_list("", 0, &list, &n);
	assert_int_equal(n, 0);
	mime_addr_free_list(&list, n);
}

/* ---- Header helpers ---- */

static void
test_header_fields(void **state)
{
	static const char hdr[] =
	    "From: a@b.c\r\n"
	    "Subject: one\r\n"
	    " two\r\n"
	    "X-Spam : yes\r\n"
	    "To: d@e.f\r\n"
	    "\r\n"
	    "Body: not a header\r\n";
	static const char *const names[] = { "subject", "x-spam" };
	struct buf	 b;

	(void)state;
	buf_init(&b, 0);
	mime_header_fields(hdr, sizeof(hdr) - 1, names, 2, false, &b);
	assert_string_equal(b.data,
	    "Subject: one\r\n two\r\nX-Spam : yes\r\n\r\n");
	buf_reset(&b);
	mime_header_fields(hdr, sizeof(hdr) - 1, names, 2, true, &b);
	assert_string_equal(b.data, "From: a@b.c\r\nTo: d@e.f\r\n\r\n");
	buf_reset(&b);
	mime_header_fields(hdr, sizeof(hdr) - 1, names, 0, false, &b);
	assert_string_equal(b.data, "\r\n");
	buf_reset(&b);
	assert_true(mime_header_get(hdr, sizeof(hdr) - 1, "SUBJECT", &b));
	assert_string_equal(b.data, "one two");
	buf_reset(&b);
	assert_true(mime_header_get(hdr, sizeof(hdr) - 1, "x-spam", &b));
	assert_string_equal(b.data, "yes");
	assert_false(mime_header_get(hdr, sizeof(hdr) - 1, "body", &b));
	buf_free(&b);
}

/* ---- Decoders ---- */

struct dec_case {
	const char	*in;
	const char	*want;
};

static void
test_decode_2047(void **state)
{
	static const struct dec_case cases[] = {
		{ "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard" },
		{ "=?utf-8?B?w6lsw6h2ZQ==?=", "\xc3\xa9l\xc3\xa8ve" },
		/* RFC 2047 8: white space between words goes. */
		{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)" },
		{ "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
		{ "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
		/* A character split over two words. */
		{ "=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=", "\xc3\xa9\xc3\xa9" },
		{ "=?utf-8?Q?=C3?= =?utf-8?Q?=A9?=", "\xc3\xa9" },
		{ "=?x-unknown-cs?Q?abc?= d", "=?x-unknown-cs?Q?abc?= d" },
		{ "=?utf-8?X?abc?=", "=?utf-8?X?abc?=" },
		{ "=?utf-8?B?#!?=", "=?utf-8?B?#!?=" },
		{ "a =?utf-8?q?b?= =?iso-8859-2?q?=B1?= c", "a b\xc4\x85 c" },
		{ "plain = text ?=", "plain = text ?=" },
		{ "=?utf-8*en?Q?hi?=", "hi" },
		{ "", "" },
	};
	struct buf	 b;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, 0);
		mime_decode_2047(cases[i].in, strlen(cases[i].in), &b);
		assert_string_equal(b.data, cases[i].want);
		buf_free(&b);
	}
}

static void
test_decode_cte(void **state)
{
	static const struct {
		enum mime_cte	 cte;
		const char	*in, *want;
	} cases[] = {
		{ MIME_CTE_BASE64, "aGVsbG8gd29y\r\nbGQ=\r\n", "hello world" },
		{ MIME_CTE_BASE64, "aGV!!sbG8\n", "hello" },
		{ MIME_CTE_BASE64, "YQ==YWI=", "aab" },
		{ MIME_CTE_QP, "caf=C3=A9 =\r\nsoft\r\nend  \r\n", "caf\xc3\xa9 soft\r\nend\r\n" },
		{ MIME_CTE_QP, "a=3db=\nc =ZZ =4", "a=bc =ZZ =4" },
		{ MIME_CTE_QP, "x=  \ny", "xy" },
		{ MIME_CTE_7BIT, "as is=41", "as is=41" },
	};
	struct buf	 b;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, 0);
		mime_decode_cte(cases[i].cte, cases[i].in, strlen(cases[i].in),
		    &b);
		assert_string_equal(b.data, cases[i].want);
		buf_free(&b);
	}
	buf_init(&b, 0);
	assert_int_equal(mime_charset_to_utf8("koi8-r", "\xf0\xd2", 2, &b), 0);
	assert_string_equal(b.data, "\xd0\x9f\xd1\x80");
	buf_reset(&b);
	assert_int_equal(mime_charset_to_utf8("no-such", "a\xff", 2, &b), -1);
	assert_string_equal(b.data, "a\xef\xbf\xbd");
	buf_reset(&b);
	assert_int_equal(mime_charset_to_utf8("../../x", "a", 1, &b), -1);
	buf_reset(&b);
	assert_int_equal(mime_charset_to_utf8("utf-8", "\xc3\xa9\xc3", 3, &b),
	    0);
	assert_string_equal(b.data, "\xc3\xa9\xef\xbf\xbd");
	buf_free(&b);
}

static void
test_rfc2231(void **state)
{
	static const char text[] =
	    "Content-Type: application/x-stuff;\n"
	    "\ttitle*0*=us-ascii'en'This%20is%20even%20more%20;\n"
	    "\ttitle*1*=%2A%2A%2Afun%2A%2A%2A%20;\n"
	    "\ttitle*2=\"isn't it!\"; (comment) plain=\"a;b\";\n"
	    "\tname*=iso-8859-1''caf%E9.txt; enc=\"=?utf-8?q?x=C3=A9?=\";\n"
	    "\tgap*0=a; gap*2=c; dup=1; DUP*=utf-8''%C3%A9\n"
	    "Content-Disposition: attachment; filename*0=\"long\"; filename*1=\".pdf\"\n"
	    "\n";
	struct mime_msg		*msg;
	const struct mime_part	*p;
	char			*s;

	(void)state;
	msg = parse_all_ways(text, sizeof(text) - 1, NULL);
	p = mime_msg_root(msg);
	assert_string_equal(mime_part_param(p, "title"),
	    "This is even more ***fun*** isn't it!");
	assert_string_equal(mime_part_param(p, "plain"), "a;b");
	assert_string_equal(mime_part_param(p, "NAME"), "caf\xc3\xa9.txt");
	assert_string_equal(mime_part_param(p, "enc"), "x\xc3\xa9");
	assert_string_equal(mime_part_param(p, "gap"), "a");
	assert_string_equal(mime_part_param(p, "dup"), "\xc3\xa9");
	assert_null(mime_part_param(p, "missing"));
	s = describe(msg, true);
	assert_string_equal(s, "(\"application\" \"x-stuff\" (\"title*\""
	    " \"us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20"
	    "isn%27t%20it!\" \"plain\" \"a;b\" \"name*\" \"iso-8859-1''caf%E9.txt\""
	    " \"enc\" \"=?utf-8?q?x=C3=A9?=\" \"gap\" \"a\" \"dup\" \"1\" \"DUP*\""
	    " \"utf-8''%C3%A9\") NIL NIL \"7bit\" 0 NIL (\"attachment\""
	    " (\"filename\" \"long.pdf\")) NIL NIL)");
	free(s);
	mime_msg_free(&msg);
}

/* ---- CPython's email test messages, parsed under ASan ---- */

static int
parse_dir(const char *dir, const char *prefix)
{
	struct dirent	*de;
	DIR		*d;
	FILE		*fp;
	char		 path[512], *data;
	long		 len;
	int		 n = 0;
	struct mime_msg	*msg;
	struct buf	 b;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_non_null(fp = fopen(path, "rb"));
		fseek(fp, 0, SEEK_END);
		len = ftell(fp);
		fseek(fp, 0, SEEK_SET);
		data = malloc((size_t)len + 1);
		assert_int_equal(fread(data, 1, (size_t)len, fp), (size_t)len);
		fclose(fp);
		msg = parse_all_ways(data, (size_t)len, NULL);
		buf_init(&b, 0);
		mime_envelope(msg, &b);
		assert_true(b.len > 10);
		buf_free(&b);
		mime_msg_free(&msg);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

static void
test_data_dir(void **state)
{
	(void)state;
	assert_true(parse_dir(TEST_DATA_DIR "/mime", "") >= 10);
}

static void
test_python_corpus(void **state)
{
	int	 n;

	(void)state;
	/* Debian package libpython3.11-testsuite. */
	if ((n = parse_dir("/usr/lib/python3.11/test/test_email/data",
	    "msg_")) < 0)
		skip();
	assert_true(n > 40);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodystructure),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_rfc822_sections),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_digest_default),
		cmocka_unit_test(test_huge_header),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_addr_list),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_decode_2047),
		cmocka_unit_test(test_decode_cte),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_data_dir),
		cmocka_unit_test(test_python_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
