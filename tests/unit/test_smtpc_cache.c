/*
 * test_smtpc_cache.c - the cache of idle outbound SMTP sessions
 * (protocols/smtp/smtpc_cache.c): next-hop keys, the MTA-STS rule for
 * reuse, and the cache itself over socketpairs on a private event base
 * (most recent first, the size limit, QUIT on idle, drop and shutdown,
 * nothing sent when the peer closes or speaks first).  No daemon.
 */
#include <sys/socket.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "smtpc_cache.h"
#include "smtpc_sts.h"
#include "xmalloc.h"

static struct event_base	*base;

static struct smtpc_conn *
conn_new(const char *key, const char *host, int *peer_r)
{
	struct smtpc_conn	*k = xcalloc(1, sizeof(*k));
	int			 sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	evutil_make_socket_nonblocking(sv[0]);
	k->bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(k->bev);
	k->key = xstrdup(key);
	k->host = xstrdup(host);
	k->mx = xstrdup(host);
	k->nmsgs = 1;
	*peer_r = sv[1];
	return k;
}

/* Run the loop for ms milliseconds. */
static void
run_for(int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/*
 * What the peer got, then whether it sees the close (EOF).  A freed
 * bufferevent closes its socket from the loop (libevent finalizers), so
 * the loop runs a moment first.
 */
static void
peer_expect(int fd, const char *want, bool closed)
{
	char	 buf[256];
	ssize_t	 n;
	size_t	 len = strlen(want);

	run_for(10);
	if (len > 0) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		assert_int_equal(n, (ssize_t)len);
		assert_memory_equal(buf, want, len);
	}
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (closed)
		assert_int_equal(n, 0);
	else
		assert_int_equal(n, -1);	/* open, nothing more */
}

static int
setup(void **state)
{
	base = event_base_new();
	return base == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	smtpc_cache_close_all();
	event_base_free(base);
	base = NULL;
	return 0;
}

static void
test_key(void **state)
{
	char	*a, *b;

	a = smtpc_cache_key(true, "Relay.Example", 587, "u", "mx.example");
	b = smtpc_cache_key(true, "relay.example", 587, "u", "MX.example");
	assert_string_equal(a, b);
	free(b);
	/* Another port, login, EHLO name or kind: another next hop. */
	b = smtpc_cache_key(true, "relay.example", 25, "u", "mx.example");
	assert_string_not_equal(a, b);
	free(b);
	b = smtpc_cache_key(true, "relay.example", 587, NULL, "mx.example");
	assert_string_not_equal(a, b);
	free(b);
	b = smtpc_cache_key(true, "relay.example", 587, "u", "other.example");
	assert_string_not_equal(a, b);
	free(b);
	b = smtpc_cache_key(false, "relay.example", 587, "u", "mx.example");
	assert_string_not_equal(a, b);
	free(b);
	free(a);
	a = smtpc_cache_key(false, "example.org", 25, NULL, "mx.example");
	b = smtpc_cache_key(false, "example.org", 25, "", "mx.example");
	assert_string_equal(a, b);
	free(a);
	free(b);
}

static void
test_ok_policy(void **state)
{
	struct smtpc_conn	 k;
	struct smtpc_sts_policy	 p;

	memset(&k, 0, sizeof(k));
	memset(&p, 0, sizeof(p));
	p.mode = SMTPC_STS_ENFORCE;
	p.mx[0] = (char *)(uintptr_t)"*.example.org";
	p.nmx = 1;
	k.key = (char *)(uintptr_t)"mx example.org 25 - h";
	k.host = (char *)(uintptr_t)"mx1.example.org";
	/* No policy: any session of the next hop. */
	assert_true(smtpc_cache_ok(&k, "mx example.org 25 - h", NULL));
	assert_false(smtpc_cache_ok(&k, "mx example.net 25 - h", NULL));
	/* Enforce: TLS verified for a host the policy names, nothing less. */
	assert_false(smtpc_cache_ok(&k, "mx example.org 25 - h", &p));
	k.tls = true;
	assert_false(smtpc_cache_ok(&k, "mx example.org 25 - h", &p));
	k.verified = true;
	assert_true(smtpc_cache_ok(&k, "mx example.org 25 - h", &p));
	k.host = (char *)(uintptr_t)"mx.elsewhere.test";
	assert_false(smtpc_cache_ok(&k, "mx example.org 25 - h", &p));
}

static void
test_put_take(void **state)
{
	struct smtpc_conn	*k1, *k2, *k;
	struct bufferevent	*b1, *b2;
	int			 p1, p2;

	k1 = conn_new("relay a 25 - h", "a", &p1);
	k2 = conn_new("relay a 25 - h", "a", &p2);
	b1 = k1->bev;
	b2 = k2->bev;
	smtpc_cache_put(k1);
	smtpc_cache_put(k2);
	assert_int_equal(smtpc_cache_count(), 2);
	assert_null(smtpc_cache_take("relay b 25 - h", NULL));
	/* Most recently parked first. */
	k = smtpc_cache_take("relay a 25 - h", NULL);
	assert_non_null(k);
	assert_ptr_equal(k->bev, b2);
	assert_null(k->timer);
	smtpc_conn_free(&k);
	assert_null(k);
	k = smtpc_cache_take("relay a 25 - h", NULL);
	assert_non_null(k);
	assert_ptr_equal(k->bev, b1);
	assert_int_equal(smtpc_cache_count(), 0);
	assert_null(smtpc_cache_take("relay a 25 - h", NULL));
	/* A taken session is idle: nothing was sent on it. */
	peer_expect(p1, "", false);
	smtpc_conn_free(&k);
	peer_expect(p1, "", true);
	peer_expect(p2, "", true);
	close(p1);
	close(p2);
}

static void
test_idle_quit(void **state)
{
	int	 p;

	smtpc_cache_put(conn_new("relay a 25 - h", "a", &p));
	run_for(SMTPC_CACHE_IDLE_MS / 2);
	assert_int_equal(smtpc_cache_count(), 1);
	peer_expect(p, "", false);
	run_for(SMTPC_CACHE_IDLE_MS / 2 + 300);
	assert_int_equal(smtpc_cache_count(), 0);
	peer_expect(p, "QUIT\r\n", true);
	close(p);
}

static void
test_peer_closes_or_speaks(void **state)
{
	struct smtpc_conn	*k;
	int			 p1, p2;

	smtpc_cache_put(conn_new("relay a 25 - h", "a", &p1));
	smtpc_cache_put(conn_new("relay a 25 - h", "a", &p2));
	close(p1);
	assert_int_equal(write(p2, "421 4.4.2 bye\r\n", 15), 15);
	run_for(100);
	assert_int_equal(smtpc_cache_count(), 0);
	/* Dropped without a word: no QUIT after the server's 421. */
	peer_expect(p2, "", true);
	close(p2);
	/* Input already buffered when parked: not idle, not kept. */
	k = conn_new("relay a 25 - h", "a", &p1);
	assert_int_equal(write(p1, "250 late\r\n", 10), 10);
	bufferevent_enable(k->bev, EV_READ);
	run_for(50);
	smtpc_cache_put(k);
	assert_int_equal(smtpc_cache_count(), 0);
	close(p1);
}

static void
test_drop_room_shutdown(void **state)
{
	int	 peers[SMTPC_CACHE_MAX + 1], pb;
	size_t	 i;

	smtpc_cache_put(conn_new("relay b 25 - h", "b", &pb));
	for (i = 0; i < SMTPC_CACHE_MAX; i++)
		smtpc_cache_put(conn_new("relay a 25 - h", "a", &peers[i]));
	/* Full: the one parked longest made room, with QUIT. */
	assert_int_equal(smtpc_cache_count(), SMTPC_CACHE_MAX);
	peer_expect(pb, "QUIT\r\n", true);
	close(pb);
	smtpc_cache_put(conn_new("relay b 25 - h", "b", &pb));
	assert_int_equal(smtpc_cache_count(), SMTPC_CACHE_MAX);
	peer_expect(peers[0], "QUIT\r\n", true);
	/* Dropping a next hop closes its sessions only. */
	smtpc_cache_drop("relay b 25 - h");
	assert_int_equal(smtpc_cache_count(), SMTPC_CACHE_MAX - 1);
	peer_expect(pb, "QUIT\r\n", true);
	peer_expect(peers[1], "", false);
	close(pb);
	/* Shutdown: QUIT on every one. */
	smtpc_cache_close_all();
	assert_int_equal(smtpc_cache_count(), 0);
	for (i = 1; i < SMTPC_CACHE_MAX; i++)
		peer_expect(peers[i], "QUIT\r\n", true);
	for (i = 0; i < SMTPC_CACHE_MAX; i++)
		close(peers[i]);
	assert_false(smtpc_cache_close_oldest());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_ok_policy),
		cmocka_unit_test_setup_teardown(test_put_take, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_quit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes_or_speaks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_room_shutdown, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
