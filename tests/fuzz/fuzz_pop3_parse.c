/*
 * fuzz_pop3_parse.c - the POP3 command parser on every CRLF-separated
 * line of the input, and the RETR/TOP transform on the whole input, fed
 * at once and again in chunks whose sizes come from the input: both runs
 * must produce the same octets, every LF must follow a CR, every line
 * starting with '.' must be stuffed, and the output ends in ".\r\n".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pop3_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_cmd(const char *line, size_t len)
{
	struct pop3_cmd	 cmd;

	if (pop3_parse_cmd(line, len, &cmd) == -1) {
		if (cmd.error == NULL)
			abort();
		return;
	}
	if (cmd.verb == POP3_CMD_UNKNOWN || cmd.error != NULL)
		abort();
	if (cmd.arg != NULL && (cmd.arg < line ||
	    cmd.arg + cmd.arg_len > line + len))
		abort();
	if (cmd.ir != NULL && (cmd.ir < line || cmd.ir + cmd.ir_len >
	    line + len || cmd.arg == NULL))
		abort();
	if (cmd.has_msg && cmd.msg == 0)
		abort();
	if (len > POP3_LINE_MAX - 2 && cmd.verb != POP3_CMD_AUTH)
		abort();
}

static void
run_xf(const char *in, size_t len, int64_t lines, const uint8_t *steps,
    size_t nsteps, struct buf *out)
{
	struct pop3_xform	*x = pop3_xform_new(lines);
	size_t			 off = 0, n, k = 0;

	buf_init(out, 0);
	while (off < len) {
		n = len - off;
		if (nsteps > 0) {
			n = 1 + steps[k++ % nsteps] % 16;
			if (n > len - off)
				n = len - off;
		}
		if (pop3_xform_feed(x, in + off, n, out))
			break;
		off += n;
	}
	pop3_xform_finish(x, out);
	pop3_xform_free(&x);
}

static void
check_out(const struct buf *o)
{
	size_t	 i;
	bool	 bol = true;

	if (o->len < 3 || memcmp(o->data + o->len - 3, ".\r\n", 3) != 0)
		abort();
	for (i = 0; i < o->len; i++) {
		if (o->data[i] == '\n' && (i == 0 || o->data[i - 1] != '\r'))
			abort();
		if (bol && o->data[i] == '.' && i != o->len - 3 &&
		    (i + 1 >= o->len || o->data[i + 1] != '.'))
			abort();
		bol = o->data[i] == '\n';
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data, *p, *e, *nl;
	struct buf	 a, b;
	int64_t		 lines;

	for (p = s, e = s + size; p < e; p = nl + 2) {
		nl = memmem(p, (size_t)(e - p), "\r\n", 2);
		if (nl == NULL)
			nl = e;
		check_cmd(p, (size_t)(nl - p));
		if (nl == e)
			break;
	}
	if (size < 1)
		return 0;
	/* First octet: RETR (high bit) or TOP with 0..127 lines. */
	lines = data[0] & 0x80 ? -1 : (int64_t)(data[0] & 0x7f);
	run_xf(s + 1, size - 1, lines, NULL, 0, &a);
	run_xf(s + 1, size - 1, lines, data, size < 8 ? size : 8, &b);
	if (a.len != b.len || (a.len > 0 && memcmp(a.data, b.data,
	    a.len) != 0))
		abort();
	check_out(&a);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
