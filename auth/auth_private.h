/*
 * auth_private.h - internals of the auth module that its unit tests may
 * look at.  Not for other modules.
 */
#ifndef AUTH_PRIVATE_H
#define AUTH_PRIVATE_H
#include <stddef.h>

struct auth_cache;

/* [any] The cache's entry array as raw bytes, to prove no password is kept. */
const void	*auth_cache_raw(const struct auth_cache *, size_t *len_r);
#endif
