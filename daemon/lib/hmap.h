/*
 * hmap.h - a small chained hash map with byte-string keys.
 * Used for the connection registry (8-byte ids) and per-IP counters.
 * Not thread-safe: owned by whoever created it.  [any]
 */
#ifndef HMAP_H
#define HMAP_H
#include <stddef.h>
#include <stdint.h>

struct hmap;

struct hmap	*hmap_new(void);
/* Frees the map; calls free_value on each value if non-NULL. */
void		 hmap_free(struct hmap **, void (*free_value)(void *));
void		*hmap_get(const struct hmap *, const void *key, size_t keylen);
/* Insert or replace; returns the previous value or NULL. Key is copied. */
void		*hmap_put(struct hmap *, const void *key, size_t keylen, void *value);
/* Remove; returns the value or NULL. */
void		*hmap_del(struct hmap *, const void *key, size_t keylen);
size_t		 hmap_count(const struct hmap *);
/* Visit every entry; the callback must not modify the map. */
void		 hmap_foreach(const struct hmap *,
		    void (*fn)(const void *key, size_t keylen, void *value, void *arg),
		    void *arg);
uint64_t	 hmap_hash(const void *, size_t);	/* FNV-1a with a seed */
#endif
