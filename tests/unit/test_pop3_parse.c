/*
 * test_pop3_parse.c - table-driven tests for the pure POP3 layer: every
 * command with good and bad arguments, case, line limits (RFC 2449 4),
 * and the RETR/TOP transform (dot-stuffing, bare LF, TOP line counts),
 * also fed one octet at a time.
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
#include "pop3_parse.h"

struct cmd_case {
	const char	*in;
	int		 rc;
	enum pop3_verb	 verb;
	bool		 has_msg;
	uint32_t	 msg;
	uint64_t	 lines;
	const char	*arg;		/* NULL: none expected */
	const char	*ir;
	const char	*error;		/* substring, for rc -1 */
};

#define OK(in, v, hm, m, l, a, ir) { in, 0, v, hm, m, l, a, ir, NULL }
#define BAD(in, v, e) { in, -1, v, false, 0, 0, NULL, NULL, e }

static const struct cmd_case cmd_cases[] = {
	OK("CAPA", POP3_CMD_CAPA, false, 0, 0, NULL, NULL),
	OK("capa", POP3_CMD_CAPA, false, 0, 0, NULL, NULL),
	OK("StLs", POP3_CMD_STLS, false, 0, 0, NULL, NULL),
	OK("QUIT", POP3_CMD_QUIT, false, 0, 0, NULL, NULL),
	OK("STAT", POP3_CMD_STAT, false, 0, 0, NULL, NULL),
	OK("NOOP", POP3_CMD_NOOP, false, 0, 0, NULL, NULL),
	OK("RSET", POP3_CMD_RSET, false, 0, 0, NULL, NULL),
	OK("LIST", POP3_CMD_LIST, false, 0, 0, NULL, NULL),
	OK("LIST 3", POP3_CMD_LIST, true, 3, 0, NULL, NULL),
	OK("UIDL", POP3_CMD_UIDL, false, 0, 0, NULL, NULL),
	OK("uidl 4294967295", POP3_CMD_UIDL, true, 4294967295u, 0, NULL,
	    NULL),
	OK("RETR 1", POP3_CMD_RETR, true, 1, 0, NULL, NULL),
	OK("DELE 12", POP3_CMD_DELE, true, 12, 0, NULL, NULL),
	OK("TOP 1 0", POP3_CMD_TOP, true, 1, 0, NULL, NULL),
	OK("TOP 2 100", POP3_CMD_TOP, true, 2, 100, NULL, NULL),
	OK("USER alice@example.org", POP3_CMD_USER, false, 0, 0,
	    "alice@example.org", NULL),
	OK("USER bob ", POP3_CMD_USER, false, 0, 0, "bob", NULL),
	OK("PASS secret", POP3_CMD_PASS, false, 0, 0, "secret", NULL),
	OK("PASS with spaces  in it ", POP3_CMD_PASS, false, 0, 0,
	    "with spaces  in it ", NULL),
	OK("AUTH", POP3_CMD_AUTH, false, 0, 0, NULL, NULL),
	OK("AUTH PLAIN", POP3_CMD_AUTH, false, 0, 0, "PLAIN", NULL),
	OK("AUTH PLAIN AGFsaWNlAHNlY3JldA==", POP3_CMD_AUTH, false, 0, 0,
	    "PLAIN", "AGFsaWNlAHNlY3JldA=="),
	OK("AUTH PLAIN =", POP3_CMD_AUTH, false, 0, 0, "PLAIN", "="),
	OK("APOP a b", POP3_CMD_APOP, false, 0, 0, NULL, NULL),

	BAD("", POP3_CMD_UNKNOWN, "Empty"),
	BAD(" STAT", POP3_CMD_UNKNOWN, "syntax"),
	BAD("FOO", POP3_CMD_UNKNOWN, "Unknown"),
	BAD("STATS", POP3_CMD_UNKNOWN, "Unknown"),
	BAD("STAT 1", POP3_CMD_STAT, "Too many"),
	BAD("QUIT now", POP3_CMD_QUIT, "Too many"),
	BAD("RETR", POP3_CMD_RETR, "Missing"),
	BAD("RETR 0", POP3_CMD_RETR, "no message 0"),
	BAD("RETR -1", POP3_CMD_RETR, "Invalid message"),
	BAD("RETR +1", POP3_CMD_RETR, "Invalid message"),
	BAD("RETR 1x", POP3_CMD_RETR, "Invalid message"),
	BAD("RETR 4294967296", POP3_CMD_RETR, "Invalid message"),
	BAD("RETR 1 2", POP3_CMD_RETR, "Too many"),
	BAD("DELE a", POP3_CMD_DELE, "Invalid message"),
	BAD("LIST 0", POP3_CMD_LIST, "no message 0"),
	BAD("LIST 1 2", POP3_CMD_LIST, "Too many"),
	BAD("TOP 1", POP3_CMD_TOP, "line count"),
	BAD("TOP 1 -1", POP3_CMD_TOP, "line count"),
	BAD("TOP 1 99999999999999999999", POP3_CMD_TOP, "line count"),
	BAD("TOP 1 2 3", POP3_CMD_TOP, "Too many"),
	BAD("USER", POP3_CMD_USER, "Missing"),
	BAD("USER a b", POP3_CMD_USER, "Too many"),
	BAD("PASS", POP3_CMD_PASS, "Missing"),
	BAD("PASS ", POP3_CMD_PASS, "Missing"),
	BAD("AUTH PL@IN", POP3_CMD_AUTH, "mechanism"),
	BAD("AUTH ABCDEFGHIJKLMNOPQRSTU", POP3_CMD_AUTH, "mechanism"),
	BAD("AUTH PLAIN a b", POP3_CMD_AUTH, "Too many"),
};

static void
test_cmds(void **state)
{
	const struct cmd_case	*c;
	struct pop3_cmd		 cmd;
	size_t			 i;
	int			 rc;

	(void)state;
	for (i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		c = &cmd_cases[i];
		rc = pop3_parse_cmd(c->in, strlen(c->in), &cmd);
		if (rc != c->rc || cmd.verb != c->verb)
			fail_msg("case %zu \"%s\": rc %d verb %d", i, c->in, rc,
			    (int)cmd.verb);
		if (rc == -1) {
			assert_non_null(cmd.error);
			if (strstr(cmd.error, c->error) == NULL)
				fail_msg("case \"%s\": error \"%s\"", c->in,
				    cmd.error);
			continue;
		}
		assert_int_equal(cmd.has_msg, c->has_msg);
		assert_int_equal(cmd.msg, c->msg);
		assert_int_equal(cmd.lines, c->lines);
		if (c->arg == NULL)
			assert_null(cmd.arg);
		else {
			assert_int_equal(cmd.arg_len, strlen(c->arg));
			assert_memory_equal(cmd.arg, c->arg, cmd.arg_len);
		}
		if (c->ir == NULL)
			assert_null(cmd.ir);
		else {
			assert_int_equal(cmd.ir_len, strlen(c->ir));
			assert_memory_equal(cmd.ir, c->ir, cmd.ir_len);
		}
	}
}

static void
test_bytes(void **state)
{
	struct pop3_cmd	 cmd;

	(void)state;
	assert_int_equal(pop3_parse_cmd("STAT\0", 5, &cmd), -1);
	assert_int_equal(pop3_parse_cmd("STAT\r", 5, &cmd), -1);
	assert_int_equal(pop3_parse_cmd("STAT\nNOOP", 9, &cmd), -1);
	assert_int_equal(pop3_parse_cmd("PASS a\0b", 8, &cmd), -1);
	assert_non_null(strstr(cmd.error, "character"));
}

static void
test_line_limits(void **state)
{
	struct pop3_cmd	 cmd;
	char		 line[POP3_SASL_LINE_MAX + 16];

	(void)state;
	/* 253 octets + CRLF = 255: the most RFC 2449 4 allows. */
	memset(line, 'a', sizeof(line));
	memcpy(line, "USER ", 5);
	assert_int_equal(pop3_parse_cmd(line, POP3_LINE_MAX - 2, &cmd), 0);
	assert_int_equal(cmd.arg_len, POP3_LINE_MAX - 2 - 5);
	assert_int_equal(pop3_parse_cmd(line, POP3_LINE_MAX - 1, &cmd), -1);
	assert_non_null(strstr(cmd.error, "too long"));
	memcpy(line, "XXXX ", 5);
	assert_int_equal(pop3_parse_cmd(line, POP3_LINE_MAX, &cmd), -1);
	assert_non_null(strstr(cmd.error, "too long"));
	/* AUTH with an initial response may run longer. */
	memcpy(line, "AUTH PLAIN ", 11);
	assert_int_equal(pop3_parse_cmd(line, 1000, &cmd), 0);
	assert_int_equal(cmd.ir_len, 1000 - 11);
	assert_int_equal(pop3_parse_cmd(line, POP3_SASL_LINE_MAX, &cmd), -1);
}

static void
test_verb_names(void **state)
{
	(void)state;
	assert_string_equal(pop3_verb_name(POP3_CMD_TOP), "TOP");
	assert_string_equal(pop3_verb_name(POP3_CMD_UIDL), "UIDL");
	assert_string_equal(pop3_verb_name(POP3_CMD_UNKNOWN), "UNKNOWN");
}

/* ---- transform ---- */

struct xf_case {
	const char	*in;
	int64_t		 lines;
	const char	*out;
};

static const struct xf_case xf_cases[] = {
	{ "A: b\r\n\r\nbody\r\n", -1, "A: b\r\n\r\nbody\r\n.\r\n" },
	{ "A: b\n\nbody\n", -1, "A: b\r\n\r\nbody\r\n.\r\n" },
	{ "A: b\r\n\r\n.x\r\n..\r\n.\r\n", -1,
	    "A: b\r\n\r\n..x\r\n...\r\n..\r\n.\r\n" },
	{ ".starts\n", -1, "..starts\r\n.\r\n" },
	{ "no newline", -1, "no newline\r\n.\r\n" },
	{ "ends in cr\r", -1, "ends in cr\r\n.\r\n" },
	{ "a\rb\r\n", -1, "a\rb\r\n.\r\n" },
	{ "", -1, ".\r\n" },
	{ "H: 1\r\n\r\nl1\r\nl2\r\nl3\r\n", 0, "H: 1\r\n\r\n.\r\n" },
	{ "H: 1\r\n\r\nl1\r\nl2\r\nl3\r\n", 2,
	    "H: 1\r\n\r\nl1\r\nl2\r\n.\r\n" },
	{ "H: 1\r\n\r\nl1\r\n", 5, "H: 1\r\n\r\nl1\r\n.\r\n" },
	{ "H: 1\n\n.l1\nl2\n", 1, "H: 1\r\n\r\n..l1\r\n.\r\n" },
	{ "H: 1\r\nH: 2\r\n", 0, "H: 1\r\nH: 2\r\n.\r\n" },
	/* "\r\r\n" is not a blank line: the header goes on. */
	{ "H: 1\r\n\r\r\nx\r\n\r\nb\r\n", 0, "H: 1\r\n\r\r\nx\r\n\r\n.\r\n" },
};

static void
run_xf(const char *in, int64_t lines, size_t step, struct buf *out)
{
	struct pop3_xform	*x = pop3_xform_new(lines);
	size_t			 off = 0, n, len = strlen(in);

	buf_init(out, 0);
	while (off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		if (pop3_xform_feed(x, in + off, n, out))
			break;
		off += n;
	}
	pop3_xform_finish(x, out);
	pop3_xform_free(&x);
	assert_null(x);
}

static void
test_xform(void **state)
{
	const struct xf_case	*c;
	struct buf		 out;
	size_t			 i, step;

	(void)state;
	for (i = 0; i < sizeof(xf_cases) / sizeof(xf_cases[0]); i++) {
		c = &xf_cases[i];
		for (step = 0; step < 4; step++) {
			run_xf(c->in, c->lines, step, &out);
			if (out.len != strlen(c->out) ||
			    memcmp(out.data, c->out, out.len) != 0)
				fail_msg("xform case %zu step %zu: got \"%.*s\"",
				    i, step, (int)out.len, out.data);
			buf_free(&out);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmds),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_verb_names),
		cmocka_unit_test(test_xform),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
