/*
 * str.c - small string helpers.  [any]
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "str.h"

size_t
str_lcpy(char *dst, const char *src, size_t size)
{
	size_t	 len = strlen(src);

	if (size > 0) {
		size_t n = len >= size ? size - 1 : len;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t
str_lcat(char *dst, const char *src, size_t size)
{
	size_t	 dlen = strnlen(dst, size);

	if (dlen == size)
		return size + strlen(src);
	return dlen + str_lcpy(dst + dlen, src, size - dlen);
}

void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

bool
str_has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int
str_to_u64(const char *s, uint64_t max, uint64_t *v_r)
{
	uint64_t	 v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*v_r = v;
	return 0;
}

int
str_to_size(const char *s, uint64_t *v_r)
{
	char		 num[32];
	size_t		 len = strlen(s), n;
	uint64_t	 v, mul = 1;

	if (len == 0 || len >= sizeof(num))
		return -1;
	n = len;
	switch (s[len - 1]) {
	case 'k': case 'K': mul = 1ULL << 10; n--; break;
	case 'm': case 'M': mul = 1ULL << 20; n--; break;
	case 'g': case 'G': mul = 1ULL << 30; n--; break;
	case 't': case 'T': mul = 1ULL << 40; n--; break;
	default: break;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	if (str_to_u64(num, UINT64_MAX, &v) == -1)
		return -1;
	if (v > UINT64_MAX / mul)
		return -1;
	*v_r = v * mul;
	return 0;
}

bool
str_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char	*x = a, *y = b;
	unsigned char			 d = 0;
	size_t				 i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

char *
str_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		memmove(s, s + 1, strlen(s));
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}
