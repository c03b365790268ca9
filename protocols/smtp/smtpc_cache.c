/*
 * smtpc_cache.c - the cache of idle outbound SMTP sessions
 * (smtpc_cache.h).  One list, most recently parked first: a take scans
 * from the front (the freshest session is the least likely to have been
 * timed out by the server; surplus ones at the back expire), eviction
 * takes from the back.  At most SMTPC_CACHE_MAX entries, so a scan is
 * short.  Owns the parked sessions, their bufferevents and idle timers.
 * Loop thread only, except smtpc_cache_key() and smtpc_cache_ok().
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "log.h"
#include "smtpc_cache.h"
#include "smtpc_sts.h"
#include "str.h"
#include "xmalloc.h"

TAILQ_HEAD(smtpc_conn_list, smtpc_conn);

static struct smtpc_conn_list	 smtpc_cache =
    TAILQ_HEAD_INITIALIZER(smtpc_cache);
static size_t			 smtpc_cache_n;

char *
smtpc_cache_key(bool relay, const char *dest, int port, const char *user,
    const char *helo)
{
	char	*k;

	k = xasprintf("%s %s %d %s %s", relay ? "relay" : "mx", dest, port,
	    user != NULL && user[0] != '\0' ? user : "-", helo);
	str_lower(k);
	return k;
}

bool
smtpc_cache_ok(const struct smtpc_conn *k, const char *key,
    const struct smtpc_sts_policy *enforce)
{
	if (strcmp(k->key, key) != 0)
		return false;
	/* RFC 8461 4.1, 4.2: a policy MX host, and a verified certificate. */
	if (enforce != NULL)
		return k->tls && k->verified &&
		    smtpc_sts_mx_ok(enforce, k->host);
	return true;
}

void
smtpc_conn_free(struct smtpc_conn **kp)
{
	struct smtpc_conn	*k = *kp;

	if (k == NULL)
		return;
	*kp = NULL;
	if (k->timer != NULL)
		event_free(k->timer);
	if (k->bev != NULL)
		bufferevent_free(k->bev);
	free(k->key);
	free(k->host);
	free(k->mx);
	free(k);
}

void
smtpc_cache_quit_bev(struct bufferevent **bevp)
{
	struct bufferevent	*bev = *bevp, *sock;
	struct evbuffer		*out;
	SSL			*ssl;
	char			 tmp[4096];
	size_t			 n;
	evutil_socket_t		 fd;

	if (bev == NULL)
		return;
	*bevp = NULL;
	/*
	 * Under TLS the filter's SSL writes its records into the output
	 * buffer of the socket bufferevent below it: QUIT, then the
	 * close_notify alert (RFC 8446 6.1).
	 */
	if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL) {
		(void)SSL_write(ssl, "QUIT\r\n", 6);
		(void)SSL_shutdown(ssl);
		sock = bufferevent_get_underlying(bev);	/* NULL: written */
	} else {
		sock = bev;
		evbuffer_add(bufferevent_get_output(bev), "QUIT\r\n", 6);
	}
	/*
	 * Send once: the session is idle, so its socket buffer is empty and
	 * the few bytes go at once; if not, we close regardless.  (The
	 * bufferevent keeps its output's front frozen; it is freed next.)
	 */
	if (sock != NULL) {
		out = bufferevent_get_output(sock);
		fd = bufferevent_getfd(sock);
		n = evbuffer_get_length(out);
		evbuffer_unfreeze(out, 1);
		if (fd >= 0 && n > 0 && n <= sizeof(tmp) &&
		    evbuffer_copyout(out, tmp, n) == (ev_ssize_t)n)
			(void)send(fd, tmp, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	bufferevent_free(bev);
}

static void
smtpc_cache_unlink(struct smtpc_conn *k)
{
	TAILQ_REMOVE(&smtpc_cache, k, entry);
	smtpc_cache_n--;
}

/* Close a parked session: with QUIT, or (quit false) without a word. */
static void
smtpc_cache_close(struct smtpc_conn *k, bool quit, const char *why)
{
	smtpc_cache_unlink(k);
	log_info("smtpc cache host=%s closed reason=%s messages=%u quit=%s",
	    k->host, why, k->nmsgs, quit ? "yes" : "no");
	if (quit)
		smtpc_cache_quit_bev(&k->bev);
	smtpc_conn_free(&k);
}

/* Anything from the server while parked: a 421 or garbage.  Either way
 * the session is over (RFC 5321 3.8). */
static void
smtpc_cache_read(struct bufferevent *bev, void *arg)
{
	smtpc_cache_close(arg, false, "input");
}

static void
smtpc_cache_event(struct bufferevent *bev, short what, void *arg)
{
	smtpc_cache_close(arg, false, what & BEV_EVENT_EOF ? "eof" : "error");
}

static void
smtpc_cache_idle(evutil_socket_t fd, short what, void *arg)
{
	smtpc_cache_close(arg, true, "idle");
}

/* SMTPC_CACHE_IDLE_MS, or POSTERN_SMTPC_TEST_IDLE_MS (tests on a slow
 * machine: a parked session must outlive the next submission). */
static unsigned long
smtpc_cache_idle_ms(void)
{
	static unsigned long	 ms;
	const char		*s;
	uint64_t		 v;

	if (ms == 0) {
		ms = SMTPC_CACHE_IDLE_MS;
		if ((s = getenv("POSTERN_SMTPC_TEST_IDLE_MS")) != NULL &&
		    str_to_u64(s, 600000, &v) == 0 && v > 0)
			ms = (unsigned long)v;
	}
	return ms;
}

void
smtpc_cache_put(struct smtpc_conn *k)
{
	unsigned long	 ms = smtpc_cache_idle_ms();
	struct timeval	 tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	while (smtpc_cache_n >= SMTPC_CACHE_MAX)
		(void)smtpc_cache_close_oldest();
	k->timer = evtimer_new(bufferevent_get_base(k->bev), smtpc_cache_idle,
	    k);
	evtimer_add(k->timer, &tv);
	TAILQ_INSERT_HEAD(&smtpc_cache, k, entry);
	smtpc_cache_n++;
	/* Bytes that came with the last reply: not an idle session. */
	if (evbuffer_get_length(bufferevent_get_input(k->bev)) > 0) {
		smtpc_cache_close(k, false, "input");
		return;
	}
	bufferevent_setcb(k->bev, smtpc_cache_read, NULL, smtpc_cache_event,
	    k);
	bufferevent_set_timeouts(k->bev, NULL, NULL);
	/* Last: listed already, a callback from here may close k. */
	bufferevent_enable(k->bev, EV_READ);
}

struct smtpc_conn *
smtpc_cache_take(const char *key, const struct smtpc_sts_policy *enforce)
{
	struct smtpc_conn	*k;

	TAILQ_FOREACH(k, &smtpc_cache, entry)
		if (smtpc_cache_ok(k, key, enforce))
			break;
	if (k == NULL)
		return NULL;
	smtpc_cache_unlink(k);
	event_free(k->timer);
	k->timer = NULL;
	bufferevent_setcb(k->bev, NULL, NULL, NULL, NULL);
	return k;
}

void
smtpc_cache_drop(const char *key)
{
	struct smtpc_conn	*k, *next;

	for (k = TAILQ_FIRST(&smtpc_cache); k != NULL; k = next) {
		next = TAILQ_NEXT(k, entry);
		if (strcmp(k->key, key) == 0)
			smtpc_cache_close(k, true, "unusable");
	}
}

bool
smtpc_cache_close_oldest(void)
{
	struct smtpc_conn	*k = TAILQ_LAST(&smtpc_cache, smtpc_conn_list);

	if (k == NULL)
		return false;
	smtpc_cache_close(k, true, "room");
	return true;
}

size_t
smtpc_cache_count(void)
{
	return smtpc_cache_n;
}

void
smtpc_cache_close_all(void)
{
	struct smtpc_conn	*k;

	while ((k = TAILQ_FIRST(&smtpc_cache)) != NULL)
		smtpc_cache_close(k, true, "shutdown");
}
