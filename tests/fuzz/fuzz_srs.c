/*
 * fuzz_srs.c - libFuzzer target for filter/srs/ (srs_reverse on arbitrary
 * input, plus srs_forward).
 * Input: the first byte picks a clock offset (days), the rest is the
 * address.  Properties: srs_reverse() never crashes and either returns a
 * string or an error, never both; srs_is_srs() is false exactly when it
 * says "Not an SRS address."; srs_forward() always returns an address
 * no longer than SRS_ADDR_MAX (or the input itself), and a rewritten
 * input with exactly one '@' and no '=' in its domain reverses to the
 * input (to the inner SRS0 for an SRS1 input).  libsrs2 splits at the
 * first '@' and at every '=', and hashes the fields without separators,
 * so "a@b@c" and "a@b=c" give addresses nobody can reverse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srs.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define T0	((time_t)1704110400)

static struct srs	*fz_srs;

static void
fz_init(void)
{
	const char	*sec[2] = { "topsecret", "older-secret" };
	const char	*err;

	if (fz_srs == NULL && srs_new("fwd.example", sec, 2, 0, &fz_srs,
	    &err) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*s, *out = NULL, *back = NULL, *at;
	const char	*err = NULL;
	time_t		 now;
	int		 r;

	if (size < 1 || size > 2100)
		return 0;
	fz_init();
	now = T0 + (time_t)data[0] * 86400 - 30 * 86400;
	s = xstrndup((const char *)data + 1, size - 1);

	r = srs_reverse(fz_srs, s, now, &out, &err);
	if (r == 0) {
		if (out == NULL)
			abort();
		free(out);
	} else if (r != -1 || out != NULL || err == NULL ||
	    (strcmp(err, "Not an SRS address.") == 0) != !srs_is_srs(s))
		abort();

	r = srs_forward(fz_srs, s, now, &out);
	if (out == NULL || (r != 0 && r != 1))
		abort();
	if (r == 0 && strcmp(out, s) != 0)
		abort();
	if (r == 1) {
		if (strlen(out) > SRS_ADDR_MAX || !srs_is_srs(out))
			abort();
		at = strchr(s, '@');
		if (at != NULL && strcspn(at + 1, "@=") == strlen(at + 1)) {
			if (srs_reverse(fz_srs, out, now, &back, &err) != 0)
				abort();
			if (strncmp(out, "SRS0", 4) == 0 ?
			    strcmp(back, s) != 0 :
			    strncmp(back, "SRS0", 4) != 0)
				abort();
			free(back);
		}
	}
	free(out);
	free(s);
	return 0;
}
