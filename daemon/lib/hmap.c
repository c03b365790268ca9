/*
 * hmap.c - chained hash map with byte-string keys, doubling at load 1.
 * The hash is seeded per process so that clients cannot pick keys that
 * collide (peer addresses are attacker-chosen).  [any]
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "hmap.h"
#include "xmalloc.h"

struct hmap_ent {
	struct hmap_ent	*next;
	uint64_t	 hash;
	void		*value;
	size_t		 keylen;
	unsigned char	 key[];
};

struct hmap {
	struct hmap_ent	**b;
	size_t		  nb;		/* power of two */
	size_t		  n;
};

static uint64_t	 hmap_seed;

uint64_t
hmap_hash(const void *p, size_t len)
{
	const unsigned char	*s = p;
	uint64_t		 h;
	size_t			 i;

	if (hmap_seed == 0) {
		if (RAND_bytes((unsigned char *)&hmap_seed, sizeof(hmap_seed)) != 1)
			hmap_seed = (uint64_t)(uintptr_t)&hmap_seed;
		hmap_seed |= 1;
	}
	h = 0xcbf29ce484222325ULL ^ hmap_seed;
	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

struct hmap *
hmap_new(void)
{
	struct hmap	*m = xcalloc(1, sizeof(*m));

	m->nb = 16;
	m->b = xcalloc(m->nb, sizeof(*m->b));
	return m;
}

void
hmap_free(struct hmap **mp, void (*free_value)(void *))
{
	struct hmap	*m = *mp;
	struct hmap_ent	*e, *next;
	size_t		 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			if (free_value != NULL)
				free_value(e->value);
			free(e);
		}
	free(m->b);
	free(m);
	*mp = NULL;
}

static struct hmap_ent **
hmap_slot(const struct hmap *m, const void *key, size_t keylen, uint64_t h)
{
	struct hmap_ent	**ep = &m->b[h & (m->nb - 1)];

	for (; *ep != NULL; ep = &(*ep)->next)
		if ((*ep)->hash == h && (*ep)->keylen == keylen &&
		    memcmp((*ep)->key, key, keylen) == 0)
			break;
	return ep;
}

void *
hmap_get(const struct hmap *m, const void *key, size_t keylen)
{
	struct hmap_ent	**ep = hmap_slot(m, key, keylen, hmap_hash(key, keylen));

	return *ep ? (*ep)->value : NULL;
}

static void
hmap_grow(struct hmap *m)
{
	struct hmap_ent	**nb, *e, *next;
	size_t		  i, n = m->nb * 2;

	nb = xcalloc(n, sizeof(*nb));
	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	free(m->b);
	m->b = nb;
	m->nb = n;
}

void *
hmap_put(struct hmap *m, const void *key, size_t keylen, void *value)
{
	uint64_t	  h = hmap_hash(key, keylen);
	struct hmap_ent	**ep = hmap_slot(m, key, keylen, h), *e;
	void		 *old;

	if (*ep != NULL) {
		old = (*ep)->value;
		(*ep)->value = value;
		return old;
	}
	e = xmalloc(sizeof(*e) + keylen);
	e->next = NULL;
	e->hash = h;
	e->value = value;
	e->keylen = keylen;
	memcpy(e->key, key, keylen);
	*ep = e;
	if (++m->n > m->nb)
		hmap_grow(m);
	return NULL;
}

void *
hmap_del(struct hmap *m, const void *key, size_t keylen)
{
	struct hmap_ent	**ep = hmap_slot(m, key, keylen, hmap_hash(key, keylen));
	struct hmap_ent	 *e = *ep;
	void		 *v;

	if (e == NULL)
		return NULL;
	*ep = e->next;
	v = e->value;
	free(e);
	m->n--;
	return v;
}

size_t
hmap_count(const struct hmap *m)
{
	return m->n;
}

void
hmap_foreach(const struct hmap *m,
    void (*fn)(const void *, size_t, void *, void *), void *arg)
{
	struct hmap_ent	*e;
	size_t		 i;

	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = e->next)
			fn(e->key, e->keylen, e->value, arg);
}
