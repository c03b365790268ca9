/*
 * fuzz_conf.c - libFuzzer target for the config loader: the input bytes,
 * as a NUL-terminated string, go to conf_load_string(); the result and
 * the errors (formatted, to exercise that path too) are freed.  Inputs
 * with @include are skipped: libconfig would open whatever path they
 * name, which tests the file system rather than our code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "conf.h"

int		 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
const char	*__lsan_default_suppressions(void);

/*
 * libconfig 1.5 (Debian 12) leaks the string being scanned when a syntax
 * error interrupts it (hyperrealm/libconfig#142, fixed upstream by #155
 * in 1.7).  Not ours to fix; do not let it hide our own leaks' reports.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*c;
	char			*text, *line;
	size_t			 i;

	text = xmalloc(len + 1);
	memcpy(text, data, len);
	text[len] = '\0';
	if (strstr(text, "@include") != NULL) {
		free(text);
		return 0;
	}
	c = conf_load_string(text, "fuzz.conf", &errs);
	for (i = 0; i < errs.n; i++) {
		line = conf_error_format(&errs.v[i]);
		free(line);
	}
	if (c != NULL) {
		(void)conf_is_local_domain(c, "example.com");
		(void)conf_find_account(c, "user1@example.com");
	}
	conf_free(&c);
	conf_errors_free(&errs);
	free(text);
	return 0;
}
