/*
 * fuzz_smtp_parse.c - the SMTP command parser on every CRLF-separated
 * line of the input, and the DATA / BDAT decoders on the whole input,
 * fed at once and again in chunks whose sizes come from the input: both
 * runs must agree on result, consumed length, output, error and counts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_addr.h"
#include "smtp_data.h"
#include "smtp_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_cmd(const char *line, size_t len)
{
	struct smtp_cmd		 cmd;
	struct smtp_addr	 a;
	const char		*err;
	char			 fmt[SMTP_ADDR_FMT_SIZE + 2];
	int			 n;

	if (smtp_parse_cmd(line, len, &cmd) == -1) {
		if (cmd.reply.code < 500 || cmd.reply.code > 559 ||
		    cmd.reply.status == NULL || cmd.reply.text == NULL ||
		    cmd.reply.status[0] != '5')
			abort();
		return;
	}
	if (cmd.verb == SMTP_CMD_UNKNOWN)
		abort();
	if (cmd.verb != SMTP_CMD_MAIL && cmd.verb != SMTP_CMD_RCPT)
		return;
	/* The parsed path prints and re-parses. */
	fmt[0] = '<';
	if ((n = smtp_addr_format(&cmd.addr, fmt + 1, sizeof(fmt) - 2)) < 0)
		abort();
	fmt[n + 1] = '>';
	if (smtp_addr_parse(fmt, (size_t)n + 2, SMTP_ADDR_UTF8 |
	    SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_ALLOW_POSTMASTER, &a, &err) == -1)
		abort();
	if (strcmp(a.local, cmd.addr.local) != 0 ||
	    strcmp(a.domain, cmd.addr.domain) != 0)
		abort();
}

struct run {
	int			 rc;
	size_t			 used;
	struct buf		 out;
	const struct smtp_reply	*err;
	uint64_t		 lines, size, bytes;
};

static void
run_data(const char *in, size_t len, int mode, const uint8_t *steps,
    size_t nsteps, struct run *r)
{
	struct smtp_data	*d;
	size_t			 off = 0, n, used, k = 0;

	if (mode == 0)
		d = smtp_data_new(4096, SMTP_DATA_LINE_MAX);
	else
		d = smtp_data_new_bdat(4096, SMTP_DATA_LINE_MAX, mode == 2);
	buf_init(&r->out, 0);
	r->rc = SMTP_DATA_MORE;
	while (off < len) {
		n = len - off;
		if (nsteps > 0) {
			n = 1 + steps[k++ % nsteps] % 16;
			if (n > len - off)
				n = len - off;
		}
		r->rc = smtp_data_feed(d, in + off, n, &used, &r->out);
		if (used > n)
			abort();
		off += used;
		if (r->rc == SMTP_DATA_DONE)
			break;
		if (used != n)
			abort();
	}
	if (mode != 0 && r->rc == SMTP_DATA_MORE)
		r->rc = smtp_data_bdat_last(d);
	r->used = off;
	r->err = smtp_data_error(d);
	r->lines = smtp_data_lines(d);
	r->size = smtp_data_size(d);
	r->bytes = smtp_data_bytes_in(d);
	if (r->bytes != off || (r->err == NULL && r->out.len != r->size) ||
	    r->out.len > 4096)
		abort();
	/* Without an error the output never holds a bare CR/LF or NUL. */
	if (r->err == NULL && mode != 2) {
		for (n = 0; n < r->out.len; n++) {
			if (r->out.data[n] == '\0' ||
			    (r->out.data[n] == '\n' &&
			    (n == 0 || r->out.data[n - 1] != '\r')) ||
			    (r->out.data[n] == '\r' &&
			    (n + 1 == r->out.len || r->out.data[n + 1] != '\n')))
				abort();
		}
	}
	smtp_data_free(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	const char	*p, *e, *nl;
	struct run	 a, b;
	int		 mode;

	/* Every CRLF-terminated line (and the tail) as a command. */
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
	/* First octet: decoder mode and chunking seed. */
	mode = data[0] % 3;
	run_data(s + 1, size - 1, mode, NULL, 0, &a);
	run_data(s + 1, size - 1, mode, data, size < 8 ? size : 8, &b);
	if (a.rc != b.rc || a.used != b.used || a.err != b.err ||
	    a.lines != b.lines || a.size != b.size)
		abort();
	/*
	 * Once in error the output is partial (how much depends on the
	 * chunking) and the caller throws it away; otherwise it must match.
	 */
	if (a.err == NULL && (a.out.len != b.out.len || (a.out.len > 0 &&
	    memcmp(a.out.data, b.out.data, a.out.len) != 0)))
		abort();
	buf_free(&a.out);
	buf_free(&b.out);
	return 0;
}
