/*
 * fuzz_spam_rules.c - the spam rules file parser (spam_rules.c): any
 * bytes either compile or give one "NAME:LINE: ..." error; a compiled
 * set is then run over a fixed message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "spam.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	 msg[] = "From: a@b.test\r\nSubject: Hi\r\n\r\n"
	    "Visit http://192.0.2.1/x now\r\n";
	struct spam_rules	*rs = NULL;
	struct spam_result	*r;
	struct spam_env		 env = { 0 };
	char			*err = NULL;

	if (spam_rules_parse((const char *)data, size, "fuzz", &rs,
	    &err) == 0) {
		r = spam_check_with(NULL, rs, NULL, 0, &env, msg,
		    sizeof(msg) - 1);
		spam_result_free(&r);
		spam_rules_free(&rs);
	}
	free(err);
	return 0;
}
