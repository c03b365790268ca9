/*
 * route_map.c - the small string hash map behind the router's tables:
 * lower-cased keys, each with an optional account and a deduplicated list
 * of lower-cased values.  Filled once by route_new(), read-only after, so
 * lookups are safe from any thread.  Owns its keys and values.  [any]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route_private.h"
#include "str.h"
#include "xmalloc.h"

static uint64_t
route_map_hash(const char *s)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static size_t
route_map_find(const struct route_map *m, const char *key)
{
	size_t	 i = (size_t)route_map_hash(key) & (m->cap - 1);

	while (m->slot[i] != NULL && strcmp(m->slot[i]->key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void
route_map_grow(struct route_map *m)
{
	struct route_map	 n;
	size_t			 i;

	n.cap = m->cap == 0 ? 16 : m->cap * 2;
	n.n = m->n;
	n.slot = xcalloc(n.cap, sizeof(*n.slot));
	for (i = 0; i < m->cap; i++)
		if (m->slot[i] != NULL)
			n.slot[route_map_find(&n, m->slot[i]->key)] =
			    m->slot[i];
	free(m->slot);
	*m = n;
}

struct route_ent *
route_map_get(const struct route_map *m, const char *key)
{
	if (m->cap == 0)
		return NULL;
	return m->slot[route_map_find(m, key)];
}

struct route_ent *
route_map_add(struct route_map *m, const char *key)
{
	struct route_ent	*e;
	char			*k = xstrdup(key);
	size_t			 i;

	str_lower(k);
	/* Keep the load at or under one half. */
	if (m->cap == 0 || (m->n + 1) * 2 > m->cap)
		route_map_grow(m);
	i = route_map_find(m, k);
	if ((e = m->slot[i]) != NULL) {
		free(k);
		return e;
	}
	e = xcalloc(1, sizeof(*e));
	e->key = k;
	m->slot[i] = e;
	m->n++;
	return e;
}

bool
route_map_hasval(const struct route_ent *e, const char *val)
{
	size_t	 i;

	for (i = 0; i < e->nvals; i++)
		if (strcasecmp(e->vals[i], val) == 0)
			return true;
	return false;
}

void
route_map_addval(struct route_ent *e, const char *val)
{
	if (route_map_hasval(e, val))
		return;
	e->vals = xreallocarray(e->vals, e->nvals + 1, sizeof(*e->vals));
	e->vals[e->nvals] = xstrdup(val);
	str_lower(e->vals[e->nvals]);
	e->nvals++;
}

void
route_map_free(struct route_map *m)
{
	struct route_ent	*e;
	size_t			 i, j;

	for (i = 0; i < m->cap; i++) {
		if ((e = m->slot[i]) == NULL)
			continue;
		for (j = 0; j < e->nvals; j++)
			free(e->vals[j]);
		free(e->vals);
		free(e->key);
		free(e);
	}
	free(m->slot);
	m->slot = NULL;
	m->cap = m->n = 0;
}
