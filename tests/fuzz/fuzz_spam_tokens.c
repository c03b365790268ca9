/*
 * fuzz_spam_tokens.c - the spam view of arbitrary messages: MIME
 * decoding, HTML stripping, URI extraction, the heuristics and the
 * Bayes tokenizer (spam_msg.c, spam_bayes.c), without a database.
 */
#include <stddef.h>
#include <stdint.h>

#include "spam.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_tok(void *arg, const char *tok, size_t len)
{
	size_t	*n = arg;

	if (len > 0 && tok[0] != '\0')
		(*n)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spam_result	*r;
	struct spam_env		 env = { 0 };
	size_t			 n = 0;

	spam_tokens((const char *)data, size, fuzz_tok, &n);
	env.helo = "[192.0.2.9]";
	env.peer_ip = "192.0.2.1";
	env.now = 1700000000;
	r = spam_check_with(NULL, NULL, NULL, 0, &env, (const char *)data,
	    size);
	spam_result_free(&r);
	return 0;
}
