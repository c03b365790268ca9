/*
 * test_imap_parse.c - the pure IMAP parsing layer: command framing and
 * argument trees (imap_parse), sequence sets (imap_seqset), SEARCH
 * programs (imap_search) and FETCH attributes (imap_fetchatt).
 * Framing cases run three ways (whole, byte at a time, odd chunks) and
 * must give the same transcript.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "buf.h"
#include "imap_fetchatt.h"
#include "imap_parse.h"
#include "imap_search.h"
#include "imap_seqset.h"
#include "xmalloc.h"

/* ---- helpers ---- */

static void
ser_args(struct buf *b, const struct imap_arg *a, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(b, ' ');
		switch (a[i].type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			buf_puts(b, a[i].str);
			break;
		case IMAP_ARG_NUMBER:
			buf_printf(b, "#%s", a[i].str);
			break;
		case IMAP_ARG_STRING:
			buf_printf(b, "\"%s\"", a[i].str);
			break;
		case IMAP_ARG_LITERAL:
			buf_printf(b, "%s{%zu:", a[i].literal8 ? "~" : "",
			    a[i].len);
			buf_append(b, a[i].str, a[i].len);
			buf_putc(b, '}');
			break;
		case IMAP_ARG_LIST:
			buf_putc(b, '(');
			ser_args(b, a[i].list, a[i].count);
			buf_putc(b, ')');
			break;
		}
	}
}

/* Drain events into the transcript; false once a fatal error was seen. */
static bool
drain(struct imap_parser *p, struct buf *t)
{
	struct imap_cmd		*cmd;
	const char		*err;
	enum imap_parse_result	 r;
	bool			 fatal;

	for (;;) {
		r = imap_parser_next(p, &cmd, &err);
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			return true;
		case IMAP_PARSE_CONTINUE:
			buf_puts(t, "CONT\n");
			break;
		case IMAP_PARSE_CMD:
			buf_printf(t, "%s %s", cmd->tag, cmd->name);
			if (cmd->nargs > 0)
				buf_putc(t, ' ');
			ser_args(t, cmd->args, cmd->nargs);
			buf_putc(t, '\n');
			imap_cmd_free(&cmd);
			break;
		case IMAP_PARSE_ERROR:
			fatal = cmd->fatal;
			buf_printf(t, "ERR %s %s%s%s\n", cmd->tag, err,
			    cmd->toobig ? " TOOBIG" : "",
			    fatal ? " FATAL" : "");
			imap_cmd_free(&cmd);
			if (fatal)
				return false;
			break;
		default:
			fail();
		}
	}
}

enum lim { L_AUTH, L_PRE, L_UTF8, L_SMALL };

static void
limits(enum lim which, struct imap_parse_limits *l)
{
	imap_parse_limits_default(l, which != L_PRE);
	if (which == L_UTF8)
		l->utf8 = true;
	if (which == L_SMALL) {
		l->max_line = 64;
		l->max_depth = 3;
		l->max_args = 10;
		l->max_literal = 16;
		l->max_skip = 32;
	}
}

/* Feed in in chunks of chunk bytes (0: varying 1..7); return transcript. */
static char *
run(const char *in, size_t len, enum lim which, size_t chunk)
{
	struct imap_parse_limits l;
	struct imap_parser	*p;
	struct buf		 t;
	size_t			 pos = 0, k, step = 0;

	limits(which, &l);
	p = imap_parser_new(&l);
	buf_init(&t, 0);
	buf_puts(&t, "");
	while (pos < len) {
		k = chunk ? chunk : 1 + (step++ * 5) % 7;
		if (k > len - pos)
			k = len - pos;
		imap_parser_feed(p, in + pos, k);
		pos += k;
		if (!drain(p, &t))
			break;
	}
	imap_parser_free(&p);
	assert_null(p);
	return buf_steal(&t, NULL);
}

#define C(s)	s, sizeof(s) - 1

static const struct {
	const char	*in;
	size_t		 len;
	enum lim	 lim;
	const char	*out;
} parse_cases[] = {
	{ C("a NOOP\r\n"), L_AUTH, "a NOOP\n" },
	{ C("A1 NoOp\r\n"), L_AUTH, "A1 NOOP\n" },
	{ C("a1 login user pass\r\n"), L_PRE, "a1 LOGIN user pass\n" },
	{ C("a select \"INBOX\"\r\n"), L_AUTH, "a SELECT \"INBOX\"\n" },
	{ C("a login \"us\\\"er\" \"p\\\\w\"\r\n"), L_PRE,
	    "a LOGIN \"us\"er\" \"p\\w\"\n" },
	{ C("a login \"a\\b\" x\r\n"), L_PRE,
	    "ERR a Invalid escape in quoted string\n" },
	{ C("a login \"\" \"\"\r\n"), L_PRE, "a LOGIN \"\" \"\"\n" },
	{ C("a login {4}\r\nuser {4}\r\npass\r\n"), L_PRE,
	    "CONT\nCONT\na LOGIN {4:user} {4:pass}\n" },
	{ C("a login {4+}\r\nuser pass\r\n"), L_PRE,
	    "a LOGIN {4:user} pass\n" },
	{ C("a login {4+}\r\nuser {4+}\r\npass\r\nb NOOP\r\n"), L_PRE,
	    "a LOGIN {4:user} {4:pass}\nb NOOP\n" },
	{ C("a append INBOX ~{3}\r\na\0b\r\n"), L_AUTH,
	    "CONT\na APPEND INBOX ~{3:a\0b}\n" },
	{ C("a append INBOX {3}\r\na\0b\r\nb NOOP\r\n"), L_AUTH,
	    "CONT\nERR a NUL in literal (use literal8)\nb NOOP\n" },
	{ C("a login {99999}\r\nb NOOP\r\n"), L_PRE,
	    "ERR a Literal too large TOOBIG\nb NOOP\n" },
	{ C("a login {18446744073709551615}\r\nb NOOP\r\n"), L_PRE,
	    "ERR a Literal too large TOOBIG\nb NOOP\n" },
	{ C("a login {99999999999999999999999}\r\nb NOOP\r\n"), L_PRE,
	    "ERR a Literal too large TOOBIG\nb NOOP\n" },
	{ C("a login {100000+}\r\nxxxx\r\n"), L_PRE,
	    "ERR a Literal too large TOOBIG FATAL\n" },
	{ C("a append INBOX {100000}\r\n"), L_AUTH, "CONT\n" },
	{ C("a uid replace 1 INBOX {100000}\r\n"), L_AUTH, "CONT\n" },
	{ C("a search TEXT {100000}\r\nb NOOP\r\n"), L_AUTH,
	    "ERR a Literal too large TOOBIG\nb NOOP\n" },
	{ C("a x {20+}\r\n0123456789012345678901 y\r\nb NOOP\r\n"), L_SMALL,
	    "ERR a Literal too large TOOBIG\nb NOOP\n" },
	{ C("a x {0}\r\n\r\n"), L_AUTH, "CONT\na X {0:}\n" },
	{ C("a x ({1}\r\nz)\r\n"), L_AUTH, "CONT\na X ({1:z})\n" },
	{ C("a x ({1+}\r\nz {2+}\r\n\r\n)\r\n"), L_AUTH,
	    "a X ({1:z} {2:\r\n})\n" },
	{ C("a uid fetch 1:* (FLAGS)\r\n"), L_AUTH,
	    "a UID FETCH 1:* (FLAGS)\n" },
	{ C("a UID\r\n"), L_AUTH, "ERR a Missing command after UID\n" },
	{ C("a fetch 1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> FLAGS)\r\n"),
	    L_AUTH,
	    "a FETCH #1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100> FLAGS)\n" },
	{ C("a fetch 1 body[header.fields (\"A)\" B)]\r\n"), L_AUTH,
	    "a FETCH #1 body[header.fields (\"A)\" B)]\n" },
	{ C("a fetch 1 (BODY[]<0.10>)\r\n"), L_AUTH,
	    "a FETCH #1 (BODY[]<0.10>)\n" },
	{ C("a fetch 1 BODY[HEADER.FIELDS (From\r\n"), L_AUTH,
	    "ERR a Missing ']' in section\n" },
	{ C("a fetch 1 BODY[HEADER.FIELDS ({4}\r\nFrom)]\r\n"), L_AUTH,
	    "CONT\nERR a Literal inside a section is not supported\n" },
	{ C("a store 1 +FLAGS (\\Seen \\Deleted)\r\n"), L_AUTH,
	    "a STORE #1 +FLAGS (\\Seen \\Deleted)\n" },
	{ C("a x NIL nil \"NIL\"\r\n"), L_AUTH, "a X NIL nil \"NIL\"\n" },
	{ C("a x 18446744073709551615 18446744073709551616 007\r\n"), L_AUTH,
	    "a X #18446744073709551615 18446744073709551616 #007\n" },
	{ C("\r\n"), L_AUTH, "ERR * Empty command line\n" },
	{ C("\n"), L_AUTH, "ERR * Empty command line\n" },
	{ C(" NOOP\r\n"), L_AUTH, "ERR * Invalid tag\n" },
	{ C("a+b NOOP\r\n"), L_AUTH, "ERR * Invalid tag\n" },
	{ C("a{ NOOP\r\n"), L_AUTH, "ERR * Invalid tag\n" },
	{ C("a\"b NOOP\r\n"), L_AUTH, "ERR * Invalid tag\n" },
	{ C("a] NOOP\r\n"), L_AUTH, "a] NOOP\n" },
	{ C("abc\r\n"), L_AUTH, "ERR abc Missing or invalid command name\n" },
	{ C("abc \r\n"), L_AUTH, "ERR abc Missing or invalid command name\n" },
	{ C("a NO(OP\r\n"), L_AUTH, "ERR a Missing or invalid command name\n" },
	{ C("a NOOP\nb NOOP\n"), L_AUTH, "a NOOP\nb NOOP\n" },
	{ C("a NOOP\rx\r\n"), L_AUTH,
	    "ERR a Missing or invalid command name\n" },
	{ C("a x a\rb\r\n"), L_AUTH, "ERR a Missing space between arguments\n" },
	{ C("a NOOP\r\nb CAPABILITY\r\nc LOGOUT\r\n"), L_AUTH,
	    "a NOOP\nb CAPABILITY\nc LOGOUT\n" },
	{ C("a x (((a)) () b)\r\n"), L_AUTH, "a X (((a)) () b)\n" },
	{ C("a x (((a)))\r\n"), L_SMALL, "a X (((a)))\n" },
	{ C("a x ((((a))))\r\n"), L_SMALL, "ERR a Lists nested too deeply\n" },
	{ C("a x (a\r\n"), L_AUTH, "ERR a Missing ')'\n" },
	{ C("a x a)\r\n"), L_AUTH, "ERR a Unexpected ')'\n" },
	{ C("a x  a   b \r\n"), L_AUTH, "a X a b\n" },
	{ C("a x 1 2 3 4 5 6 7 8 9 10\r\n"), L_SMALL, "a X #1 #2 #3 #4 #5 #6 #7 #8 #9 #10\n" },
	{ C("a x 1 2 3 4 5 6 7 8 9 10 11\r\n"), L_SMALL,
	    "ERR a Too many arguments\n" },
	{ C("a x (1 2 3 4 5 6 7 8 9 10)\r\n"), L_SMALL,
	    "ERR a Too many arguments\n" },
	{ C("a select \"\xc3\xa9\"\r\n"), L_AUTH,
	    "ERR a 8-bit character in quoted string\n" },
	{ C("a select \"\xc3\xa9\"\r\n"), L_UTF8, "a SELECT \"\xc3\xa9\"\n" },
	{ C("a select \"\xc3\x28\"\r\n"), L_UTF8,
	    "ERR a Invalid UTF-8 in quoted string\n" },
	{ C("a select \xc3\xa9\r\n"), L_UTF8,
	    "ERR a 8-bit character outside a quoted string\n" },
	{ C("a x \"abc\r\n"), L_AUTH, "ERR a Unterminated quoted string\n" },
	{ C("a x \"a {3}\r\nb NOOP\r\n"), L_AUTH,
	    "ERR a Unterminated quoted string\nb NOOP\n" },
	{ C("a x \"{3}\"\r\n"), L_AUTH, "a X \"{3}\"\n" },
	{ C("a x \"a\"\"b\"\r\n"), L_AUTH,
	    "ERR a Missing space between arguments\n" },
	{ C("a x a{3}\r\n"), L_AUTH, "ERR a Missing space between arguments\n" },
	{ C("a x {abc}\r\n"), L_AUTH, "ERR a Invalid character\n" },
	{ C("a select foo[bar\r\n"), L_AUTH, "a SELECT foo[bar\n" },
	{ C("a list \"\" %/*\r\n"), L_AUTH, "a LIST \"\" %/*\n" },
	{ C("{3}\r\nabc\r\n"), L_AUTH,
	    "ERR * Invalid tag\nERR abc Missing or invalid command name\n" },
	{ C("a no\0op\r\nb NOOP\r\n"), L_AUTH,
	    "ERR a NUL character in command\nb NOOP\n" },
	{ C("a x 0123456789012345678901234567890123456789012345678901234567890\r\nb NOOP\r\n"),
	    L_SMALL, "ERR a Command line too long TOOBIG\nb NOOP\n" },
	{ C("a x 0123456789012345678901234567890123456789012345678901234567890 {5+}\r\n"
	    "b NOO\r\nc NOOP\r\n"),
	    L_SMALL, "ERR a Command line too long TOOBIG\nc NOOP\n" },
	{ C("a x 0123456789012345678901234567890123456789012345678901234567890 {5}\r\n"
	    "c NOOP\r\n"),
	    L_SMALL, "ERR a Command line too long TOOBIG\nc NOOP\n" },
	{ C("a x {1}\r\n\0 {2+}\r\nab\r\nb NOOP\r\n"), L_AUTH,
	    "CONT\nERR a NUL in literal (use literal8)\nb NOOP\n" },
};

static void
test_parse_table(void **state)
{
	size_t	 i, c;
	char	*out;
	bool	 bad;
	static const size_t chunks[] = { 0, 1, 1000000, 3 };

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			out = run(parse_cases[i].in, parse_cases[i].len,
			    parse_cases[i].lim, chunks[c]);
			bad = strcmp(out, parse_cases[i].out) != 0;
			if (bad)
				print_error("case %zu chunk %zu: got\n%s"
				    "want\n%s", i, chunks[c], out,
				    parse_cases[i].out);
			free(out);	/* once: cmocka's fail() may return */
			if (bad)
				fail();
		}
	}
}

static void
test_depth_limit(void **state)
{
	struct buf	 in;
	char		*out;
	int		 i;

	(void)state;
	for (int depth = 32; depth <= 33; depth++) {
		buf_init(&in, 0);
		buf_puts(&in, "a x ");
		for (i = 0; i < depth; i++)
			buf_putc(&in, '(');
		buf_putc(&in, 'z');
		for (i = 0; i < depth; i++)
			buf_putc(&in, ')');
		buf_puts(&in, "\r\n");
		out = run(in.data, in.len, L_AUTH, 0);
		if (depth == 32)
			assert_int_equal(strncmp(out, "a X ((((", 8), 0);
		else
			assert_string_equal(out,
			    "ERR a Lists nested too deeply\n");
		free(out);
		buf_free(&in);
	}
}

/* LITERAL- (RFC 7888): a {n+} above 4096 is refused and skipped. */
static void
test_nonsync_skip(void **state)
{
	struct buf	 in;
	char		*out;
	int		 i;

	(void)state;
	buf_init(&in, 0);
	buf_puts(&in, "a login {5000+}\r\n");
	for (i = 0; i < 5000; i++)
		buf_putc(&in, i % 100 == 0 ? '\n' : 'x');
	buf_puts(&in, " rest\r\nb NOOP\r\n");
	out = run(in.data, in.len, L_PRE, 0);
	assert_string_equal(out, "ERR a Literal too large TOOBIG\nb NOOP\n");
	free(out);
	out = run(in.data, in.len, L_PRE, 1);
	assert_string_equal(out, "ERR a Literal too large TOOBIG\nb NOOP\n");
	free(out);
	buf_free(&in);
}

static void
test_line_too_long_nolf(void **state)
{
	struct imap_parse_limits l;
	struct imap_parser	*p;
	struct imap_cmd		*cmd;
	const char		*err;
	char			 big[1000];

	(void)state;
	limits(L_PRE, &l);
	p = imap_parser_new(&l);
	memset(big, 'x', sizeof(big));
	imap_parser_feed(p, "t1 LOGIN ", 9);
	for (int i = 0; i < 9; i++) {
		imap_parser_feed(p, big, sizeof(big));
		if (i < 8)
			assert_int_equal(imap_parser_next(p, &cmd, &err),
			    IMAP_PARSE_NEED_MORE);
	}
	/* Reported before any line end arrives. */
	assert_int_equal(imap_parser_next(p, &cmd, &err), IMAP_PARSE_ERROR);
	assert_string_equal(cmd->tag, "t1");
	assert_true(cmd->toobig);
	imap_cmd_free(&cmd);
	assert_int_equal(imap_parser_next(p, &cmd, &err),
	    IMAP_PARSE_NEED_MORE);
	imap_parser_feed(p, "yy\r\nt2 NOOP\r\n", 13);
	assert_int_equal(imap_parser_next(p, &cmd, &err), IMAP_PARSE_CMD);
	assert_string_equal(cmd->tag, "t2");
	imap_cmd_free(&cmd);
	assert_int_equal(imap_parser_pending(p), 0);
	imap_parser_free(&p);
}

static void
test_fatal_sticky(void **state)
{
	struct imap_parse_limits l;
	struct imap_parser	*p;
	struct imap_cmd		*cmd;
	const char		*err;

	(void)state;
	limits(L_PRE, &l);
	p = imap_parser_new(&l);
	imap_parser_feed(p, C("a login {999999999+}\r\n"));
	assert_int_equal(imap_parser_next(p, &cmd, &err), IMAP_PARSE_ERROR);
	assert_true(cmd->fatal);
	imap_cmd_free(&cmd);
	imap_parser_feed(p, C("b NOOP\r\n"));
	assert_int_equal(imap_parser_next(p, &cmd, &err), IMAP_PARSE_ERROR);
	assert_true(cmd->fatal);
	imap_cmd_free(&cmd);
	imap_parser_free(&p);
}

static void
test_set_limits_and_lines(void **state)
{
	struct imap_parse_limits l;
	struct imap_parser	*p;
	struct imap_cmd		*cmd;
	const char		*err;
	char			*line;
	size_t			 len;

	(void)state;
	limits(L_PRE, &l);
	p = imap_parser_new(&l);
	imap_parser_feed(p, C("a search text {10000}\r\n"));
	assert_int_equal(imap_parser_next(p, &cmd, &err), IMAP_PARSE_ERROR);
	imap_cmd_free(&cmd);
	limits(L_AUTH, &l);
	imap_parser_set_limits(p, &l);
	imap_parser_feed(p, C("a search text {10000}\r\n"));
	assert_int_equal(imap_parser_next(p, &cmd, &err),
	    IMAP_PARSE_CONTINUE);
	assert_int_equal(imap_parser_next(p, &cmd, &err),
	    IMAP_PARSE_NEED_MORE);
	/* Raw lines are refused inside a command. */
	assert_int_equal(imap_parser_next_line(p, &line, &len, &err),
	    IMAP_PARSE_ERROR);
	imap_parser_free(&p);

	p = imap_parser_new(&l);
	imap_parser_feed(p, C("dXNlcg=="));
	assert_int_equal(imap_parser_next_line(p, &line, &len, &err),
	    IMAP_PARSE_NEED_MORE);
	imap_parser_feed(p, C("\r\nDONE\nc NOOP\r\n"));
	assert_int_equal(imap_parser_next_line(p, &line, &len, &err),
	    IMAP_PARSE_LINE);
	assert_string_equal(line, "dXNlcg==");
	assert_int_equal(len, 8);
	free(line);
	assert_int_equal(imap_parser_next_line(p, &line, &len, &err),
	    IMAP_PARSE_LINE);
	assert_string_equal(line, "DONE");
	free(line);
	assert_int_equal(imap_parser_next(p, &cmd, &err), IMAP_PARSE_CMD);
	assert_string_equal(cmd->name, "NOOP");
	imap_cmd_free(&cmd);
	imap_parser_free(&p);
}

static void
test_arg_helpers(void **state)
{
	struct imap_parse_limits l;
	struct imap_parser	*p;
	struct imap_cmd		*cmd;
	const char		*err, *s;
	size_t			 len;

	(void)state;
	limits(L_AUTH, &l);
	p = imap_parser_new(&l);
	imap_parser_feed(p, C("a x atom \"str\" {3+}\r\nlit NIL (l) ~{1+}\r\nz\r\n"));
	assert_int_equal(imap_parser_next(p, &cmd, &err), IMAP_PARSE_CMD);
	assert_int_equal(cmd->nargs, 6);
	assert_true(imap_arg_astring(&cmd->args[0], &s, &len));
	assert_false(imap_arg_string(&cmd->args[0], &s, &len));
	assert_true(imap_arg_string(&cmd->args[1], &s, &len));
	assert_true(imap_arg_string(&cmd->args[2], &s, &len));
	assert_string_equal(s, "lit");
	assert_true(imap_arg_astring(&cmd->args[3], &s, &len));
	assert_string_equal(s, "NIL");
	assert_false(imap_arg_astring(&cmd->args[4], &s, &len));
	assert_false(imap_arg_astring(&cmd->args[5], &s, &len));
	assert_true(imap_arg_atom_is(&cmd->args[0], "ATOM"));
	imap_cmd_free(&cmd);
	assert_null(cmd);
	imap_parser_free(&p);
}

/* ---- sequence sets ---- */

static const struct {
	const char	*in;
	uint32_t	 star;
	const char	*out;		/* NULL: invalid */
} seq_cases[] = {
	{ "1", 10, "1" },
	{ "1,3:5,7:*", 10, "1,3:5,7:10" },
	{ "5:*", 3, "3:5" },
	{ "*:4", 10, "4:10" },
	{ "*", 10, "10" },
	{ "3,1,2", 10, "1:3" },
	{ "1:3,2:6,10,8:9", 100, "1:6,8:10" },
	{ "4294967295", 10, "4294967295" },
	{ "1:4294967295", 10, "1:4294967295" },
	{ "1:*", 0, "" },
	{ "2,1:*", 0, "2" },
	{ "0", 10, NULL },
	{ "1:", 10, NULL },
	{ "a", 10, NULL },
	{ "", 10, NULL },
	{ ",", 10, NULL },
	{ "1,", 10, NULL },
	{ ",1", 10, NULL },
	{ "1:0", 10, NULL },
	{ "01", 10, NULL },
	{ "4294967296", 10, NULL },
	{ "99999999999999999999999", 10, NULL },
	{ "1::2", 10, NULL },
	{ "1:2:3", 10, NULL },
	{ "$,1", 10, NULL },
	{ "1,$", 10, NULL },
	{ "1 2", 10, NULL },
	{ "*:", 10, NULL },
	{ "-1", 10, NULL },
	{ "**", 10, NULL },
};

static void
test_seqset_table(void **state)
{
	struct imap_seqset	*set;
	const char		*err;
	struct buf		 b;
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(seq_cases) / sizeof(seq_cases[0]); i++) {
		rc = imap_seqset_parse(seq_cases[i].in,
		    strlen(seq_cases[i].in), seq_cases[i].star,
		    IMAP_SEQSET_MAX_ELEMENTS, &set, &err);
		assert_int_equal(imap_seqset_valid(seq_cases[i].in,
		    strlen(seq_cases[i].in)), seq_cases[i].out != NULL);
		if (seq_cases[i].out == NULL) {
			if (rc != -1)
				print_error("case %s\n", seq_cases[i].in);
			assert_int_equal(rc, -1);
			assert_null(set);
			continue;
		}
		assert_int_equal(rc, 0);
		buf_init(&b, 0);
		buf_puts(&b, "");
		assert_int_equal(imap_seqset_format(set, &b), 0);
		assert_string_equal(b.data, seq_cases[i].out);
		buf_free(&b);
		imap_seqset_free(&set);
		assert_null(set);
	}
}

static void
test_seqset_queries(void **state)
{
	struct imap_seqset	*set;
	const char		*err;
	uint32_t		 lo, hi;
	size_t			 idx = 0;
	struct buf		 b;

	(void)state;
	assert_int_equal(imap_seqset_parse(C("$"), 5, 10, &set, &err), 0);
	assert_true(imap_seqset_is_saved(set));
	assert_true(imap_seqset_empty(set));
	imap_seqset_free(&set);

	assert_int_equal(imap_seqset_parse(C("7:*,1,3:5"), 9, 10, &set, &err),
	    0);
	assert_true(imap_seqset_has_star(set));
	assert_false(imap_seqset_contains(set, 0));
	assert_true(imap_seqset_contains(set, 1));
	assert_false(imap_seqset_contains(set, 2));
	assert_true(imap_seqset_contains(set, 4));
	assert_false(imap_seqset_contains(set, 6));
	assert_true(imap_seqset_contains(set, 9));
	assert_false(imap_seqset_contains(set, 10));
	assert_int_equal(imap_seqset_count(set), 7);
	assert_int_equal(imap_seqset_min(set), 1);
	assert_int_equal(imap_seqset_max(set), 9);
	assert_int_equal(imap_seqset_nranges(set), 3);
	assert_true(imap_seqset_iter(set, &idx, &lo, &hi));
	assert_int_equal(lo, 1);
	assert_true(imap_seqset_iter(set, &idx, &lo, &hi));
	assert_int_equal(lo, 3);
	assert_int_equal(hi, 5);
	assert_true(imap_seqset_iter(set, &idx, &lo, &hi));
	assert_false(imap_seqset_iter(set, &idx, &lo, &hi));
	imap_seqset_free(&set);

	/* Building for COPYUID / APPENDUID. */
	set = imap_seqset_new();
	imap_seqset_add(set, 5, 5);
	imap_seqset_add(set, 6, 6);
	imap_seqset_add(set, 9, 8);
	imap_seqset_add(set, 1, 2);
	imap_seqset_add(set, 3, 3);
	imap_seqset_add(set, 20, 20);
	imap_seqset_add(set, 15, 30);
	imap_seqset_add(set, UINT32_MAX, UINT32_MAX);
	buf_init(&b, 0);
	assert_int_equal(imap_seqset_format(set, &b), 0);
	assert_string_equal(b.data, "1:3,5:6,8:9,15:30,4294967295");
	buf_free(&b);
	buf_init(&b, 10);
	assert_int_equal(imap_seqset_format(set, &b), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	imap_seqset_free(&set);
	imap_seqset_free(&set);		/* NULL is fine */
}

static void
test_seqset_perf(void **state)
{
	struct imap_seqset	*set;
	const char		*err;
	struct buf		 b, f;
	struct timespec		 t0, t1;
	double			 ms;
	int			 i;

	(void)state;
	/* Ascending and then descending (the sort path). */
	for (int order = 0; order < 2; order++) {
		buf_init(&b, 0);
		for (i = 0; i < IMAP_SEQSET_MAX_ELEMENTS; i++) {
			int v = order ? IMAP_SEQSET_MAX_ELEMENTS - i : i + 1;

			buf_printf(&b, "%s%d", i ? "," : "", v * 2);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(imap_seqset_parse(b.data, b.len, 1000000,
		    IMAP_SEQSET_MAX_ELEMENTS, &set, &err), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		assert_true(ms < 1000.0);
		assert_int_equal(imap_seqset_nranges(set), 100000);
		assert_true(imap_seqset_contains(set, 200000));
		assert_false(imap_seqset_contains(set, 199999));
		buf_init(&f, 0);
		assert_int_equal(imap_seqset_format(set, &f), 0);
		if (order == 0)
			assert_string_equal(f.data, b.data);
		buf_free(&f);
		imap_seqset_free(&set);
		/* One more element is too many. */
		buf_puts(&b, ",1");
		assert_int_equal(imap_seqset_parse(b.data, b.len, 10,
		    IMAP_SEQSET_MAX_ELEMENTS, &set, &err), -1);
		buf_free(&b);
	}
}

/* ---- SEARCH ---- */

static struct imap_cmd *
parse_one(const char *line, enum lim which)
{
	struct imap_parse_limits l;
	struct imap_parser	*p;
	struct imap_cmd		*cmd;
	const char		*err;

	limits(which, &l);
	p = imap_parser_new(&l);
	imap_parser_feed(p, line, strlen(line));
	imap_parser_feed(p, "\r\n", 2);
	if (imap_parser_next(p, &cmd, &err) != IMAP_PARSE_CMD)
		imap_cmd_free(&cmd);
	imap_parser_free(&p);
	return cmd;
}

static void
ser_key(struct buf *b, const struct imap_search_key *k)
{
	static const char *const names[] = { "ALL", "AND", "OR", "NOT", "SEQ",
	    "UID", "FLAG", "KW", "BEFORE", "ON", "SINCE", "SENTBEFORE",
	    "SENTON", "SENTSINCE", "LARGER", "SMALLER", "HDR", "BODY", "TEXT",
	    "MODSEQ", "OLDER", "YOUNGER" };
	size_t	 i;

	buf_puts(b, names[k->type]);
	switch (k->type) {
	case IMAP_SK_ALL:
		return;
	case IMAP_SK_AND:
	case IMAP_SK_OR:
	case IMAP_SK_NOT:
		buf_putc(b, '(');
		for (i = 0; i < k->nchild; i++) {
			if (i > 0)
				buf_putc(b, ' ');
			ser_key(b, &k->child[i]);
		}
		buf_putc(b, ')');
		return;
	case IMAP_SK_BEFORE:
	case IMAP_SK_ON:
	case IMAP_SK_SINCE:
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		buf_printf(b, "(%lld)", (long long)k->date);
		return;
	case IMAP_SK_LARGER:
	case IMAP_SK_SMALLER:
	case IMAP_SK_OLDER:
	case IMAP_SK_YOUNGER:
		buf_printf(b, "(%llu)", (unsigned long long)k->num);
		return;
	case IMAP_SK_MODSEQ:
		buf_printf(b, "(%s,%d,%llu)", k->entry ? k->entry : "-",
		    (int)k->entry_type, (unsigned long long)k->num);
		return;
	case IMAP_SK_HEADER:
		buf_printf(b, "(%s:%s)", k->field, k->str);
		return;
	default:
		buf_printf(b, "(%s%s)", k->saved ? "saved:" : "", k->str);
		return;
	}
}

static const struct {
	const char	*in;
	const char	*out;		/* NULL: invalid */
} search_cases[] = {
	{ "ALL", "ret=0 AND(ALL)" },
	{ "all seen", "ret=0 AND(ALL FLAG(\\Seen))" },
	{ "ANSWERED DELETED DRAFT FLAGGED RECENT",
	    "ret=0 AND(FLAG(\\Answered) FLAG(\\Deleted) FLAG(\\Draft) "
	    "FLAG(\\Flagged) FLAG(\\Recent))" },
	{ "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
	    "ret=0 AND(NOT(FLAG(\\Answered)) NOT(FLAG(\\Deleted)) "
	    "NOT(FLAG(\\Draft)) NOT(FLAG(\\Flagged)) NOT(FLAG(\\Seen)))" },
	{ "NEW OLD", "ret=0 AND(AND(FLAG(\\Recent) NOT(FLAG(\\Seen))) "
	    "NOT(FLAG(\\Recent)))" },
	{ "KEYWORD $Forwarded UNKEYWORD Junk",
	    "ret=0 AND(KW($Forwarded) NOT(KW(Junk)))" },
	{ "KEYWORD \\Seen", NULL },
	{ "BCC a CC b FROM \"c d\" SUBJECT {1+}\r\ne TO f",
	    "ret=0 AND(HDR(Bcc:a) HDR(Cc:b) HDR(From:c d) HDR(Subject:e) "
	    "HDR(To:f))" },
	{ "HEADER X-Spam yes", "ret=0 AND(HDR(X-Spam:yes))" },
	{ "HEADER \"\" yes", NULL },
	{ "HEADER \"a:b\" yes", NULL },
	{ "HEADER X-Spam", NULL },
	{ "BODY hello TEXT 123", "ret=0 AND(BODY(hello) TEXT(123))" },
	{ "BEFORE 1-Feb-1994", "ret=0 AND(BEFORE(760060800))" },
	{ "ON \"01-jan-1970\" SINCE 29-Feb-2000",
	    "ret=0 AND(ON(0) SINCE(951782400))" },
	{ "SENTBEFORE 1-Jan-2024 SENTON 2-Jan-2024 SENTSINCE 3-Jan-2024",
	    "ret=0 AND(SENTBEFORE(1704067200) SENTON(1704153600) "
	    "SENTSINCE(1704240000))" },
	{ "SINCE 29-Feb-1900", NULL },
	{ "SINCE 31-Apr-2020", NULL },
	{ "SINCE 1-Foo-2020", NULL },
	{ "SINCE 1-Feb-94", NULL },
	{ "SINCE 123-Feb-1994", NULL },
	{ "SINCE 0-Feb-1994", NULL },
	{ "SINCE", NULL },
	{ "LARGER 100 SMALLER 2000",
	    "ret=0 AND(LARGER(100) SMALLER(2000))" },
	{ "LARGER abc", NULL },
	{ "NOT SEEN", "ret=0 AND(NOT(FLAG(\\Seen)))" },
	{ "OR SEEN FLAGGED", "ret=0 AND(OR(FLAG(\\Seen) FLAG(\\Flagged)))" },
	{ "OR SEEN", NULL },
	{ "NOT", NULL },
	{ "(SEEN FLAGGED) NOT (DELETED)",
	    "ret=0 AND(AND(FLAG(\\Seen) FLAG(\\Flagged)) "
	    "NOT(AND(FLAG(\\Deleted))))" },
	{ "()", NULL },
	{ "1:*,5", "ret=0 AND(SEQ(1:*,5))" },
	{ "UID 1:100", "ret=0 AND(UID(1:100))" },
	{ "UID $", "ret=0 AND(UID(saved:$))" },
	{ "$", "ret=0 AND(SEQ(saved:$))" },
	{ "UID 0", NULL },
	{ "1:", NULL },
	{ "MODSEQ 5", "ret=0 AND(MODSEQ(-,0,5))" },
	{ "MODSEQ \"/flags/\\\\draft\" all 620162338",
	    "ret=0 AND(MODSEQ(/flags/\\draft,0,620162338))" },
	{ "MODSEQ \"/flags/$Junk\" priv 7",
	    "ret=0 AND(MODSEQ(/flags/$Junk,1,7))" },
	{ "MODSEQ \"/flags/x\" shared 0", "ret=0 AND(MODSEQ(/flags/x,2,0))" },
	{ "MODSEQ \"/foo\" all 1", NULL },
	{ "MODSEQ \"/flags/x\" bogus 1", NULL },
	{ "MODSEQ 9223372036854775808", NULL },
	{ "OLDER 3600 YOUNGER 60", "ret=0 AND(OLDER(3600) YOUNGER(60))" },
	{ "OLDER 0", NULL },
	{ "CHARSET UTF-8 SUBJECT x", "ret=0 charset=UTF-8 AND(HDR(Subject:x))" },
	{ "CHARSET", NULL },
	{ "RETURN (MIN MAX) ALL", "ret=3 esearch AND(ALL)" },
	{ "RETURN (COUNT ALL SAVE) CHARSET US-ASCII 1",
	    "ret=1c esearch charset=US-ASCII AND(SEQ(1))" },
	{ "RETURN () ALL", "ret=4 esearch AND(ALL)" },
	{ "RETURN (BOGUS) ALL", NULL },
	{ "RETURN ALL", NULL },
	{ "RETURN (MIN)", NULL },
	{ "", NULL },
	{ "BOGUS", NULL },
	{ "SUBJECT (a)", NULL },
	{ "\"ALL\"", NULL },
};

static void
test_search_table(void **state)
{
	struct imap_cmd		*cmd;
	struct imap_search	*s;
	const char		*err;
	struct buf		 b;
	size_t			 i;
	char			 line[256];
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(search_cases) / sizeof(search_cases[0]); i++) {
		snprintf(line, sizeof(line), "t SEARCH %s", search_cases[i].in);
		cmd = parse_one(line, L_AUTH);
		assert_non_null(cmd);
		rc = imap_search_parse(cmd->args, cmd->nargs, 32, &s, &err);
		if (search_cases[i].out == NULL) {
			if (rc != -1)
				print_error("case %s\n", search_cases[i].in);
			assert_int_equal(rc, -1);
			assert_non_null(err);
			imap_cmd_free(&cmd);
			continue;
		}
		if (rc != 0)
			print_error("case %s: %s\n", search_cases[i].in, err);
		assert_int_equal(rc, 0);
		buf_init(&b, 0);
		buf_printf(&b, "ret=%x%s", s->ret, s->esearch ? " esearch" : "");
		if (s->charset != NULL)
			buf_printf(&b, " charset=%s", s->charset);
		buf_putc(&b, ' ');
		ser_key(&b, &s->root);
		if (strcmp(b.data, search_cases[i].out) != 0)
			print_error("case %s: got %s\n", search_cases[i].in,
			    b.data);
		assert_string_equal(b.data, search_cases[i].out);
		buf_free(&b);
		imap_search_free(&s);
		assert_null(s);
		imap_cmd_free(&cmd);
	}
}

static void
test_search_misc(void **state)
{
	struct imap_cmd		*cmd;
	struct imap_search	*s;
	const char		*err;
	struct buf		 b;
	int64_t			 d;
	int			 i;

	(void)state;
	cmd = parse_one("t SEARCH CHARSET KOI8-R ALL", L_AUTH);
	assert_int_equal(imap_search_parse(cmd->args, cmd->nargs, 32, &s,
	    &err), 0);
	assert_false(imap_search_charset_ok(s));
	imap_search_free(&s);
	imap_cmd_free(&cmd);
	cmd = parse_one("t SEARCH UID $ MODSEQ 1", L_AUTH);
	assert_int_equal(imap_search_parse(cmd->args, cmd->nargs, 32, &s,
	    &err), 0);
	assert_true(imap_search_charset_ok(s));
	assert_true(s->uses_saved);
	assert_true(s->uses_modseq);
	imap_search_free(&s);
	imap_cmd_free(&cmd);

	/* NOT chains are bounded by max_depth, not by list depth. */
	for (int n = 32; n <= 33; n++) {
		buf_init(&b, 0);
		buf_puts(&b, "t SEARCH");
		for (i = 0; i < n; i++)
			buf_puts(&b, " NOT");
		buf_puts(&b, " ALL");
		cmd = parse_one(b.data, L_AUTH);
		assert_int_equal(imap_search_parse(cmd->args, cmd->nargs, 32,
		    &s, &err), n == 32 ? 0 : -1);
		imap_search_free(&s);
		imap_cmd_free(&cmd);
		buf_free(&b);
	}
	assert_int_equal(imap_search_date(C("1-Feb-1994"), &d), 0);
	assert_int_equal(d, 760060800);
	assert_int_equal(imap_search_date(C("31-Dec-9999"), &d), 0);
	assert_int_equal(imap_search_date(C("1-Feb-1994x"), &d), -1);
}

/* ---- FETCH ---- */

static const struct {
	const char	*in;
	bool		 uid;
	const char	*out;		/* NULL: invalid */
} fetch_cases[] = {
	{ "ALL", false, "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE" },
	{ "FAST", false, "FLAGS INTERNALDATE RFC822.SIZE" },
	{ "full", false, "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY" },
	{ "(ALL)", false, NULL },
	{ "FLAGS", true, "FLAGS UID" },
	{ "(UID FLAGS)", true, "UID FLAGS" },
	{ "(ENVELOPE FLAGS INTERNALDATE RFC822.HEADER RFC822.SIZE BODY "
	    "BODYSTRUCTURE UID MODSEQ)", false,
	    "ENVELOPE FLAGS INTERNALDATE RFC822.HEADER RFC822.SIZE BODY "
	    "BODYSTRUCTURE UID MODSEQ" },
	{ "RFC822", false, "RFC822 seen" },
	{ "RFC822.TEXT", false, "RFC822.TEXT seen" },
	{ "BODY[]", false, "BODY[] seen" },
	{ "BODY.PEEK[]", false, "BODY[]/peek" },
	{ "body.peek[header]", false, "BODY[HEADER]/peek" },
	{ "BODY[TEXT]<0.2048>", false, "BODY[TEXT]<0>{0,2048} seen" },
	{ "BODY.PEEK[]<100.10>", false, "BODY[]<100>{100,10}/peek" },
	{ "BODY[1.2.3]", false, "BODY[1.2.3]{1.2.3} seen" },
	{ "BODY[1.2.MIME]", false, "BODY[1.2.MIME]{1.2} seen" },
	{ "BODY[1.HEADER]", false, "BODY[1.HEADER]{1} seen" },
	{ "BODY[2.TEXT]", false, "BODY[2.TEXT]{2} seen" },
	{ "BODY.PEEK[HEADER.FIELDS (From To)]", false,
	    "BODY[HEADER.FIELDS (From To)]/peek" },
	{ "BODY.PEEK[header.fields.not (\"X-A\" Received)]<0.100>", false,
	    "BODY[HEADER.FIELDS.NOT (X-A Received)]<0>{0,100}/peek" },
	{ "BODY[1.HEADER.FIELDS (\"Sub\\\\ject\")]", false,
	    "BODY[1.HEADER.FIELDS (\"Sub\\\\ject\")]{1} seen" },
	{ "BINARY[1]", false, "BINARY[1]{1} seen" },
	{ "BINARY.PEEK[1.2]<0.5>", false, "BINARY[1.2]<0>{1.2}{0,5}/peek" },
	{ "BINARY.SIZE[1]", false, "BINARY.SIZE[1]{1}/peek" },
	{ "BINARY[]", false, "BINARY[] seen" },
	{ "(FLAGS) (CHANGEDSINCE 12345)", true,
	    "FLAGS UID MODSEQ changedsince=12345" },
	{ "(FLAGS) (CHANGEDSINCE 12345 VANISHED)", true,
	    "FLAGS UID MODSEQ changedsince=12345 vanished" },
	{ "(FLAGS MODSEQ) (CHANGEDSINCE 1)", false,
	    "FLAGS MODSEQ changedsince=1" },
	{ "(FLAGS) (VANISHED)", true, NULL },
	{ "(FLAGS) (CHANGEDSINCE 1 VANISHED)", false, NULL },
	{ "(FLAGS) (CHANGEDSINCE 0)", false, NULL },
	{ "(FLAGS) (CHANGEDSINCE)", false, NULL },
	{ "(FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)", false, NULL },
	{ "(FLAGS) (FOO)", false, NULL },
	{ "(FLAGS) FOO", false, NULL },
	{ "(FLAGS) () x", false, NULL },
	{ "()", false, NULL },
	{ "BOGUS", false, NULL },
	{ "\"FLAGS\"", false, NULL },
	{ "BODY[MIME]", false, NULL },
	{ "BODY[0]", false, NULL },
	{ "BODY[01]", false, NULL },
	{ "BODY[1.]", false, NULL },
	{ "BODY[.1]", false, NULL },
	{ "BODY[1.2.3.FOO]", false, NULL },
	{ "BODY[HEADER.FIELDS]", false, NULL },
	{ "BODY[HEADER.FIELDS ()]", false, NULL },
	{ "BODY[HEADER.FIELDS (a:b)]", false, NULL },
	{ "BODY[HEADER.FIELDS (From)", false, NULL },
	{ "BODY[HEADERX]", false, NULL },
	{ "BODY[TEXT]<0>", false, NULL },
	{ "BODY[TEXT]<0.0>", false, NULL },
	{ "BODY[TEXT]<1.2", false, NULL },
	{ "BODY[TEXT]<4294967296.1>", false, NULL },
	{ "BODY[TEXT]x", false, NULL },
	{ "BINARY[HEADER]", false, NULL },
	{ "BINARY.SIZE[1]<0.1>", false, NULL },
	{ "FOO[1]", false, NULL },
};

static void
test_fetch_table(void **state)
{
	static const char *const names[] = { "ENVELOPE", "FLAGS",
	    "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
	    "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID", "MODSEQ" };
	struct imap_cmd		*cmd;
	struct imap_fetchatt	*fa;
	struct imap_fetch_item	*it;
	const char		*err;
	struct buf		 b;
	size_t			 i, j, k;
	char			 line[256];
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(fetch_cases) / sizeof(fetch_cases[0]); i++) {
		snprintf(line, sizeof(line), "t FETCH 1 %s", fetch_cases[i].in);
		cmd = parse_one(line, L_AUTH);
		if (cmd == NULL) {
			/* Refused by the command parser already. */
			assert_null(fetch_cases[i].out);
			continue;
		}
		rc = imap_fetchatt_parse(cmd->args + 1, cmd->nargs - 1,
		    fetch_cases[i].uid, &fa, &err);
		if (fetch_cases[i].out == NULL) {
			if (rc != -1)
				print_error("case %s\n", fetch_cases[i].in);
			assert_int_equal(rc, -1);
			assert_null(fa);
			imap_cmd_free(&cmd);
			continue;
		}
		if (rc != 0)
			print_error("case %s: %s\n", fetch_cases[i].in, err);
		assert_int_equal(rc, 0);
		buf_init(&b, 0);
		buf_puts(&b, "");
		for (j = 0; j < fa->nitems; j++) {
			it = &fa->items[j];
			if (j > 0)
				buf_putc(&b, ' ');
			if (it->resp_name == NULL) {
				buf_puts(&b, names[it->type]);
				continue;
			}
			buf_puts(&b, it->resp_name);
			if (it->nparts > 0) {
				buf_putc(&b, '{');
				for (k = 0; k < it->nparts; k++)
					buf_printf(&b, "%s%u", k ? "." : "",
					    it->parts[k]);
				buf_putc(&b, '}');
			}
			if (it->partial)
				buf_printf(&b, "{%u,%u}", it->offset,
				    it->length);
			if (it->peek)
				buf_puts(&b, "/peek");
		}
		if (fa->sets_seen)
			buf_puts(&b, " seen");
		if (fa->changedsince_set)
			buf_printf(&b, " changedsince=%llu",
			    (unsigned long long)fa->changedsince);
		if (fa->vanished)
			buf_puts(&b, " vanished");
		if (strcmp(b.data, fetch_cases[i].out) != 0)
			print_error("case %s: got %s\n", fetch_cases[i].in,
			    b.data);
		assert_string_equal(b.data, fetch_cases[i].out);
		buf_free(&b);
		imap_fetchatt_free(&fa);
		assert_null(fa);
		imap_cmd_free(&cmd);
	}
}

static void
test_fetch_fields(void **state)
{
	struct imap_cmd		*cmd;
	struct imap_fetchatt	*fa;
	const char		*err;

	(void)state;
	cmd = parse_one("t FETCH 1 BODY.PEEK[HEADER.FIELDS (From \"X A\")]",
	    L_AUTH);
	/* "X A" has a space: not a field name. */
	assert_int_equal(imap_fetchatt_parse(cmd->args + 1, cmd->nargs - 1,
	    false, &fa, &err), -1);
	imap_cmd_free(&cmd);
	cmd = parse_one("t FETCH 1 BODY.PEEK[HEADER.FIELDS (From Message-ID)]",
	    L_AUTH);
	assert_int_equal(imap_fetchatt_parse(cmd->args + 1, cmd->nargs - 1,
	    false, &fa, &err), 0);
	assert_int_equal(fa->items[0].text, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(fa->items[0].nfields, 2);
	assert_string_equal(fa->items[0].fields[1], "Message-ID");
	assert_false(fa->sets_seen);
	imap_fetchatt_free(&fa);
	imap_cmd_free(&cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_nonsync_skip),
		cmocka_unit_test(test_line_too_long_nolf),
		cmocka_unit_test(test_fatal_sticky),
		cmocka_unit_test(test_set_limits_and_lines),
		cmocka_unit_test(test_arg_helpers),
		cmocka_unit_test(test_seqset_table),
		cmocka_unit_test(test_seqset_queries),
		cmocka_unit_test(test_seqset_perf),
		cmocka_unit_test(test_search_table),
		cmocka_unit_test(test_search_misc),
		cmocka_unit_test(test_fetch_table),
		cmocka_unit_test(test_fetch_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
