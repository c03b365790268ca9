/*
 * auth_cache.c - remembers recent successful logins for a short time, so
 * clients that reconnect all day do not pay a yescrypt/bcrypt check each
 * time (DESIGN.md, "Process and threads").
 *
 * An entry is only HMAC-SHA256(per-process random key, login NUL password)
 * and the time it was added: the password is never stored, and without
 * the key (which never leaves this process) the entries cannot be tested
 * against guesses offline.  Entries live in a fixed array used as a ring
 * in insertion order, so when it is full the cursor slot is the oldest
 * entry and is reused; a chained hash index (by the HMAC's first bytes)
 * makes lookups O(1).  Memory is fixed at creation.
 *
 * Owns its arrays and key.  A mutex guards everything, so the password
 * check running on a worker may look up and add [any]; new/free [loop].
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth.h"
#include "auth_private.h"
#include "log.h"
#include "xmalloc.h"

#define AUTH_CACHE_NONE	UINT32_MAX

struct auth_cache_entry {
	unsigned char	 key[AUTH_CACHE_KEY_LEN];
	time_t		 added;
	uint32_t	 next;		/* hash chain; AUTH_CACHE_NONE ends */
	bool		 used;
};

struct auth_cache {
	pthread_mutex_t		 lock;
	unsigned char		 hmac_key[32];
	unsigned int		 ttl;
	size_t			 max;		/* entries in v */
	size_t			 nbuckets;	/* power of two */
	size_t			 cursor;	/* next slot to fill: the oldest */
	size_t			 count;
	uint32_t		*buckets;
	struct auth_cache_entry	*v;
};

static void
auth_cache_rekey(struct auth_cache *c)
{
	if (RAND_bytes(c->hmac_key, sizeof(c->hmac_key)) != 1)
		log_fatal("auth cache: no random bytes for the HMAC key");
}

struct auth_cache *
auth_cache_new(unsigned int ttl, size_t max_entries)
{
	struct auth_cache	*c;

	if (ttl == 0)
		ttl = AUTH_CACHE_TTL_DEFAULT;
	if (max_entries == 0)
		max_entries = AUTH_CACHE_ENTRIES_DEFAULT;
	/* Indexes are 32-bit; a million logins is far past our target. */
	if (max_entries > (1U << 20))
		max_entries = 1U << 20;
	c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->ttl = ttl;
	c->max = max_entries;
	c->nbuckets = 1;
	while (c->nbuckets < max_entries)
		c->nbuckets <<= 1;
	c->buckets = xreallocarray(NULL, c->nbuckets, sizeof(*c->buckets));
	memset(c->buckets, 0xff, c->nbuckets * sizeof(*c->buckets));
	c->v = xcalloc(c->max, sizeof(*c->v));
	auth_cache_rekey(c);
	return c;
}

void
auth_cache_free(struct auth_cache **cp)
{
	struct auth_cache	*c = *cp;

	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	explicit_bzero(c->hmac_key, sizeof(c->hmac_key));
	free(c->buckets);
	free(c->v);
	free(c);
	*cp = NULL;
}

/* Returns false if the pair is too long to be a real login. */
static bool
auth_cache_mac(const struct auth_cache *c, const char *login,
    const char *password, unsigned char key_r[AUTH_CACHE_KEY_LEN])
{
	unsigned char	 msg[AUTH_LOGIN_MAX + 1 + AUTH_PASSWORD_MAX];
	unsigned int	 mlen = 0;
	size_t		 llen, plen, i;
	bool		 ok;

	llen = strlen(login);
	plen = strlen(password);
	if (llen > AUTH_LOGIN_MAX || plen > AUTH_PASSWORD_MAX)
		return false;
	/* Lower-case the login so the key matches what auth_db accepts. */
	for (i = 0; i < llen; i++)
		msg[i] = (login[i] >= 'A' && login[i] <= 'Z') ?
		    (unsigned char)(login[i] - 'A' + 'a') :
		    (unsigned char)login[i];
	msg[llen] = '\0';
	memcpy(msg + llen + 1, password, plen);
	ok = HMAC(EVP_sha256(), c->hmac_key, sizeof(c->hmac_key), msg,
	    llen + 1 + plen, key_r, &mlen) != NULL && mlen ==
	    AUTH_CACHE_KEY_LEN;
	explicit_bzero(msg, sizeof(msg));
	return ok;
}

void
auth_cache_key(struct auth_cache *c, const char *login,
    const char *password, unsigned char key_r[AUTH_CACHE_KEY_LEN])
{
	pthread_mutex_lock(&c->lock);
	if (!auth_cache_mac(c, login, password, key_r))
		memset(key_r, 0, AUTH_CACHE_KEY_LEN);
	pthread_mutex_unlock(&c->lock);
}

static size_t
auth_cache_bucket(const struct auth_cache *c, const unsigned char *key)
{
	uint64_t	 h;

	/* The key is already a keyed MAC: its bytes are uniform. */
	memcpy(&h, key, sizeof(h));
	return (size_t)(h & (c->nbuckets - 1));
}

/* Find key; *prev_r is the predecessor in the chain (NONE if head). */
static uint32_t
auth_cache_find(const struct auth_cache *c, const unsigned char *key,
    uint32_t *prev_r)
{
	uint32_t	 i, prev = AUTH_CACHE_NONE;

	for (i = c->buckets[auth_cache_bucket(c, key)]; i != AUTH_CACHE_NONE;
	    i = c->v[i].next) {
		if (memcmp(c->v[i].key, key, AUTH_CACHE_KEY_LEN) == 0)
			break;
		prev = i;
	}
	if (prev_r != NULL)
		*prev_r = prev;
	return i;
}

static void
auth_cache_unlink(struct auth_cache *c, uint32_t i)
{
	uint32_t	 prev, j;

	j = auth_cache_find(c, c->v[i].key, &prev);
	if (j == i) {
		if (prev == AUTH_CACHE_NONE)
			c->buckets[auth_cache_bucket(c, c->v[i].key)] =
			    c->v[i].next;
		else
			c->v[prev].next = c->v[i].next;
	}
	memset(&c->v[i], 0, sizeof(c->v[i]));
	c->v[i].next = AUTH_CACHE_NONE;
	c->count--;
}

bool
auth_cache_lookup(struct auth_cache *c, const char *login,
    const char *password, time_t now)
{
	unsigned char	 key[AUTH_CACHE_KEY_LEN];
	uint32_t	 i;
	bool		 hit = false;

	if (c == NULL || login == NULL || password == NULL)
		return false;
	/* The MAC is taken under the lock: clear() may change the key. */
	pthread_mutex_lock(&c->lock);
	if (!auth_cache_mac(c, login, password, key)) {
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	if ((i = auth_cache_find(c, key, NULL)) != AUTH_CACHE_NONE) {
		/* A clock that went backwards also ends the entry. */
		if (now >= c->v[i].added && now - c->v[i].added <
		    (time_t)c->ttl)
			hit = true;
		else
			auth_cache_unlink(c, i);
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

void
auth_cache_add(struct auth_cache *c, const char *login, const char *password,
    time_t now)
{
	unsigned char	 key[AUTH_CACHE_KEY_LEN];
	size_t		 b;
	uint32_t	 i;

	if (c == NULL || login == NULL || password == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if (!auth_cache_mac(c, login, password, key)) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	/* Re-adding moves the entry to the young end of the ring. */
	if ((i = auth_cache_find(c, key, NULL)) != AUTH_CACHE_NONE)
		auth_cache_unlink(c, i);
	i = (uint32_t)c->cursor;
	if (c->v[i].used)
		auth_cache_unlink(c, i);	/* the oldest entry */
	c->cursor = (c->cursor + 1) % c->max;
	memcpy(c->v[i].key, key, sizeof(key));
	c->v[i].added = now;
	c->v[i].used = true;
	b = auth_cache_bucket(c, key);
	c->v[i].next = c->buckets[b];
	c->buckets[b] = i;
	c->count++;
	pthread_mutex_unlock(&c->lock);
}

void
auth_cache_clear(struct auth_cache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	memset(c->buckets, 0xff, c->nbuckets * sizeof(*c->buckets));
	memset(c->v, 0, c->max * sizeof(*c->v));
	c->cursor = 0;
	c->count = 0;
	/* A fresh key also makes any stale copy of an entry worthless. */
	auth_cache_rekey(c);
	pthread_mutex_unlock(&c->lock);
}

size_t
auth_cache_count(struct auth_cache *c)
{
	size_t	 n;

	pthread_mutex_lock(&c->lock);
	n = c->count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

const void *
auth_cache_raw(const struct auth_cache *c, size_t *len_r)
{
	*len_r = c->max * sizeof(*c->v);
	return c->v;
}
