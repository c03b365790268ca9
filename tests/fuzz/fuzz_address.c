/*
 * fuzz_address.c - smtp_addr_parse() under every flag combination, with a
 * round trip: whatever parses must print (smtp_addr_format) and re-parse
 * to the same local part, domain and flags.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Flags a re-print may legitimately change. */
#define SOFT_FLAGS	(SMTP_ADDR_HAD_ROUTE | SMTP_ADDR_IS_QUOTED)

static void
check(const char *s, size_t len, unsigned flags)
{
	struct smtp_addr	 a, b;
	const char		*err;
	char			 fmt[SMTP_ADDR_FMT_SIZE], path[SMTP_ADDR_FMT_SIZE + 2];
	int			 n;

	if (smtp_addr_parse(s, len, flags, &a, &err) == -1) {
		if (err == NULL || a.err == SMTP_ADDR_E_NONE)
			abort();
		return;
	}
	if (a.err != SMTP_ADDR_E_NONE || strlen(a.local) > SMTP_ADDR_LOCAL_MAX ||
	    strlen(a.local_raw) > SMTP_ADDR_LOCAL_MAX ||
	    strlen(a.domain) > SMTP_ADDR_DOMAIN_MAX)
		abort();
	if ((n = smtp_addr_format(&a, fmt, sizeof(fmt))) < 0 ||
	    (size_t)n != strlen(fmt))
		abort();
	path[0] = '<';
	memcpy(path + 1, fmt, (size_t)n);
	path[n + 1] = '>';
	if (smtp_addr_parse(path, (size_t)n + 2, flags | SMTP_ADDR_NEED_BRACKETS,
	    &b, &err) == -1)
		abort();
	if (strcmp(a.local, b.local) != 0 || strcmp(a.domain, b.domain) != 0 ||
	    (a.flags & ~SOFT_FLAGS) != (b.flags & ~SOFT_FLAGS) ||
	    (b.flags & SMTP_ADDR_HAD_ROUTE) != 0)
		abort();
	/* Printing the re-parsed form is a fixed point. */
	if (smtp_addr_format(&b, path, sizeof(path)) != n ||
	    memcmp(path, fmt, (size_t)n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	unsigned	 flags;
	bool		 v6;

	for (flags = 0; flags < 16; flags++)
		check(s, size, flags);
	(void)smtp_addr_is_valid_domain(s, size, false);
	(void)smtp_addr_is_valid_domain(s, size, true);
	(void)smtp_addr_is_valid_literal(s, size, &v6);
	return 0;
}
