/*
 * str.h - small string helpers missing from glibc 2.36.  [any]
 */
#ifndef STR_H
#define STR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

size_t	 str_lcpy(char *dst, const char *src, size_t size);	/* strlcpy */
size_t	 str_lcat(char *dst, const char *src, size_t size);	/* strlcat */
void	 str_lower(char *);			/* ASCII only, in place */
bool	 str_has_prefix_ci(const char *s, const char *prefix);
/* Parse an unsigned decimal with overflow check; whole string must match. */
int	 str_to_u64(const char *s, uint64_t max, uint64_t *v_r);
/* Parse "20M", "2G", "512k", "1024" (binary multiples); -1 on junk/overflow. */
int	 str_to_size(const char *s, uint64_t *v_r);
/* Constant-time comparison of two equal-length byte strings. */
bool	 str_ct_equal(const void *, const void *, size_t);
/* Trim ASCII whitespace at both ends, in place; returns s. */
char	*str_trim(char *s);
#endif
