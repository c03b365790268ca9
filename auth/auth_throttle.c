/*
 * auth_throttle.c - counts failed logins per client network and says how
 * long to wait before answering the next attempt, or to refuse it.
 *
 * Clients are grouped the way addresses are handed out: one IPv4 address,
 * or one IPv6 /64 (a single host usually owns a whole /64, so counting
 * per /128 would let it rotate addresses for free).  IPv4-mapped IPv6 is
 * IPv4.  Counts decay: one failure is forgiven every decay_s seconds.
 *
 * Memory is fixed: a table of 4-way buckets, picked by a hash with a
 * per-process random seed so a client cannot aim at another's bucket.
 * A new client takes a free way or the least recently touched one.
 * Owns the table.  [loop] only: no locking.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "auth.h"
#include "log.h"
#include "xmalloc.h"

#define AUTH_THROTTLE_WAYS		4
#define AUTH_THROTTLE_SLOTS_DEFAULT	4096
#define AUTH_THROTTLE_DECAY_DEFAULT	60
#define AUTH_THROTTLE_REFUSE_DEFAULT	30
#define AUTH_THROTTLE_FREE_FAILS	2	/* answered without delay */
#define AUTH_THROTTLE_FIRST_MS		1000
#define AUTH_THROTTLE_MAX_MS		15000
#define AUTH_THROTTLE_COUNT_MAX		10000	/* saturate, never wrap */

struct auth_throttle_key {
	unsigned char	 family;	/* 4, 6, or 0 for anything else */
	unsigned char	 addr[8];	/* IPv4: 4 bytes; IPv6: the /64 */
};

struct auth_throttle_entry {
	struct auth_throttle_key key;
	bool		 used;
	unsigned int	 failures;
	time_t		 since;		/* decay is counted from here */
	time_t		 touched;	/* for eviction */
};

struct auth_throttle {
	struct auth_throttle_entry *v;
	size_t		 nbuckets;	/* power of two */
	unsigned int	 decay_s;
	unsigned int	 refuse_at;
	uint64_t	 seed;
};

struct auth_throttle *
auth_throttle_new(size_t slots, unsigned int decay_s, unsigned int refuse_at)
{
	struct auth_throttle	*t;

	if (slots == 0)
		slots = AUTH_THROTTLE_SLOTS_DEFAULT;
	if (slots > (1U << 22))
		slots = 1U << 22;
	t = xcalloc(1, sizeof(*t));
	t->decay_s = decay_s != 0 ? decay_s : AUTH_THROTTLE_DECAY_DEFAULT;
	t->refuse_at = refuse_at != 0 ? refuse_at :
	    AUTH_THROTTLE_REFUSE_DEFAULT;
	t->nbuckets = 1;
	while (t->nbuckets * AUTH_THROTTLE_WAYS < slots)
		t->nbuckets <<= 1;
	t->v = xcalloc(t->nbuckets * AUTH_THROTTLE_WAYS, sizeof(*t->v));
	if (RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1)
		log_fatal("auth throttle: no random bytes for the seed");
	return t;
}

void
auth_throttle_free(struct auth_throttle **tp)
{
	struct auth_throttle	*t = *tp;

	if (t == NULL)
		return;
	free(t->v);
	free(t);
	*tp = NULL;
}

static bool
auth_throttle_key(const struct sockaddr *sa, struct auth_throttle_key *k)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(k, 0, sizeof(*k));
	if (sa == NULL)
		return false;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		k->family = 4;
		memcpy(k->addr, &sin->sin_addr, 4);
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			k->family = 4;
			memcpy(k->addr, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			k->family = 6;
			memcpy(k->addr, &sin6->sin6_addr.s6_addr[0], 8);
		}
		break;
	default:
		/* Local sockets and the like share one counter. */
		k->family = 0;
		break;
	}
	return true;
}

static size_t
auth_throttle_bucket(const struct auth_throttle *t,
    const struct auth_throttle_key *k)
{
	uint64_t	 h = t->seed ^ 0xcbf29ce484222325ULL;
	size_t		 i;

	/* FNV-1a over the key, then a 64-bit finaliser to spread bits. */
	h ^= k->family;
	h *= 0x100000001b3ULL;
	for (i = 0; i < sizeof(k->addr); i++) {
		h ^= k->addr[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)(h & (t->nbuckets - 1));
}

/* Forgive the failures whose time has passed; free the slot at zero. */
static void
auth_throttle_decay(const struct auth_throttle *t,
    struct auth_throttle_entry *e, time_t now)
{
	time_t	 steps;

	if (now < e->since) {
		e->since = now;		/* clock went backwards */
		return;
	}
	steps = (now - e->since) / (time_t)t->decay_s;
	if (steps <= 0)
		return;
	if ((time_t)e->failures <= steps) {
		memset(e, 0, sizeof(*e));
		return;
	}
	e->failures -= (unsigned int)steps;
	e->since += steps * (time_t)t->decay_s;
}

static struct auth_throttle_entry *
auth_throttle_find(struct auth_throttle *t, const struct sockaddr *sa,
    time_t now, bool create)
{
	struct auth_throttle_key	 k;
	struct auth_throttle_entry	*set, *e, *victim = NULL;
	size_t				 i;

	if (!auth_throttle_key(sa, &k))
		return NULL;
	set = &t->v[auth_throttle_bucket(t, &k) * AUTH_THROTTLE_WAYS];
	for (i = 0; i < AUTH_THROTTLE_WAYS; i++) {
		e = &set[i];
		if (e->used && memcmp(&e->key, &k, sizeof(k)) == 0) {
			auth_throttle_decay(t, e, now);
			if (e->used)
				return e;
			victim = e;	/* decayed to nothing: reuse it */
			break;
		}
	}
	if (!create)
		return NULL;
	for (i = 0; victim == NULL && i < AUTH_THROTTLE_WAYS; i++)
		if (!set[i].used)
			victim = &set[i];
	for (i = 0; victim == NULL && i < AUTH_THROTTLE_WAYS; i++) {
		e = &set[i];
		if (i == 0 || e->touched < victim->touched)
			victim = e;
	}
	if (victim == NULL)
		victim = &set[0];
	memset(victim, 0, sizeof(*victim));
	victim->key = k;
	victim->used = true;
	victim->since = now;
	victim->touched = now;
	return victim;
}

void
auth_throttle_fail(struct auth_throttle *t, const struct sockaddr *sa,
    time_t now)
{
	struct auth_throttle_entry	*e;

	if ((e = auth_throttle_find(t, sa, now, true)) == NULL)
		return;
	if (e->failures == 0)
		e->since = now;
	if (e->failures < AUTH_THROTTLE_COUNT_MAX)
		e->failures++;
	e->touched = now;
}

unsigned int
auth_throttle_failures(struct auth_throttle *t, const struct sockaddr *sa,
    time_t now)
{
	struct auth_throttle_entry	*e;

	if ((e = auth_throttle_find(t, sa, now, false)) == NULL)
		return 0;
	return e->failures;
}

int
auth_throttle_delay_ms(struct auth_throttle *t, const struct sockaddr *sa,
    time_t now)
{
	unsigned int	 f, shift;

	f = auth_throttle_failures(t, sa, now);
	if (f >= t->refuse_at)
		return AUTH_THROTTLE_REFUSE;
	if (f <= AUTH_THROTTLE_FREE_FAILS)
		return 0;
	/* 1 s after the third failure, doubling; check before shifting. */
	shift = f - AUTH_THROTTLE_FREE_FAILS - 1;
	if (shift >= 4)
		return AUTH_THROTTLE_MAX_MS;
	return (AUTH_THROTTLE_FIRST_MS << shift) > AUTH_THROTTLE_MAX_MS ?
	    AUTH_THROTTLE_MAX_MS : (AUTH_THROTTLE_FIRST_MS << shift);
}

void
auth_throttle_success(struct auth_throttle *t, const struct sockaddr *sa)
{
	struct auth_throttle_entry	*e;

	/* Any time will do: a success forgets the address altogether. */
	if ((e = auth_throttle_find(t, sa, 0, false)) != NULL)
		memset(e, 0, sizeof(*e));
}
