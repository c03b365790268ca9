/*
 * fuzz_sieve.c - libFuzzer target for filter/sieve: compile the input as
 * a Sieve script and, when it compiles, run it against a fixed small
 * MIME message with an envelope and a spam score.  Checks that a result
 * always has at least one action and that errors carry a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sieve.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char fuzz_msg[] =
    "From: \"A\" <a+x@example.com>\r\n"
    "To: b@example.org, c@example.net\r\n"
    "Subject: [list] hello =?UTF-8?Q?w=C3=B6rld?=\r\n"
    "X-Spam-Score: 3\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "caf=E9 secret\r\n"
    "--b\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<b>x</b>\r\n"
    "--b--\r\n";

static bool
fuzz_mailbox_exists(void *arg, const char *name)
{
	return strcmp(name, "INBOX") == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct sieve_script	*s;
	struct sieve_result	*r;
	struct sieve_error	 err;
	struct sieve_msg_ctx	 ctx;
	int			 rc;

	if ((s = sieve_compile((const char *)data, len, &err)) == NULL) {
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = fuzz_msg;
	ctx.msg_len = sizeof(fuzz_msg) - 1;
	ctx.env_from = "<a+x@example.com>";
	ctx.env_to = "b@example.org";
	ctx.spam_tested = true;
	ctx.spam_score = 3;
	ctx.spam_max = 10;
	ctx.mailbox_exists = fuzz_mailbox_exists;
	rc = sieve_run(s, &ctx, &r);
	if (sieve_result_count(r) == 0 ||
	    (rc == -1) != (sieve_result_error(r) != NULL))
		abort();
	sieve_result_free(&r);
	sieve_script_free(&s);
	return 0;
}
