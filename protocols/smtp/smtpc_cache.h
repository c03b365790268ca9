/*
 * smtpc_cache.h - outbound SMTP sessions kept open between messages
 * (issue "Outbound connection reuse"), like Postfix's connection cache
 * (scache, smtp_connection_cache_time_limit).  After a transaction that
 * ended with the final reply to DATA, smtpc.c parks the established
 * session here (TCP, TLS, EHLO, AUTH done) under the key of its next hop;
 * the next attempt for the same next hop takes it and starts with MAIL
 * FROM (RFC 5321 4.1.4: a new transaction may follow a completed one).
 *
 * A parked session is closed with QUIT when it has been idle for
 * SMTPC_CACHE_IDLE_MS, when the cache needs room, and at shutdown; it is
 * dropped without a word when the server closes it or sends anything
 * (a 421, RFC 5321 3.8) while parked.  QUIT is sent without waiting for
 * its reply, as Postfix does by default (smtp_skip_quit_response).
 *
 * The cache owns every parked session: its bufferevent (socket, or a TLS
 * filter over one) and an idle timer on the bufferevent's event base.
 * Loop thread only, except the pure functions marked [any].
 */
#ifndef SMTPC_CACHE_H
#define SMTPC_CACHE_H
#include <sys/queue.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct event;
struct smtpc_sts_policy;

#define SMTPC_CACHE_IDLE_MS	2000	/* Postfix: 2 s */
#define SMTPC_CONN_MSGS_MAX	100	/* transactions per connection */
/* Parked sessions in all; the queue runs at most 50 attempts at once. */
#define SMTPC_CACHE_MAX		50

/* One parked session; the fields are what the next transaction needs. */
struct smtpc_conn {
	TAILQ_ENTRY(smtpc_conn)	 entry;
	char			*key;		/* smtpc_cache_key() */
	char			*host;		/* the host name connected to */
	char			*mx;		/* "host[ip]", for the queue's log */
	struct bufferevent	*bev;
	struct event		*timer;		/* idle limit */
	unsigned		 nmsgs;		/* transactions done on it */
	bool			 tls;
	bool			 verified;	/* MTA-STS: cert valid for host */
	/* the EHLO keywords (RFC 5321 4.1.1.1) */
	bool			 pipelining, eightbit, utf8, dsn;
	uint64_t		 sizemax;
};

/*
 * [any] The key of a next hop: the relay host and port (with the login
 * used on it), or the recipient domain and port; with the EHLO name, so
 * that a reload that changes either never reuses an older session.
 * Malloc'd.
 */
char	*smtpc_cache_key(bool relay, const char *dest, int port,
	    const char *user, const char *helo);
/*
 * [any] May a message with this key, under this MTA-STS enforce policy
 * (NULL: none), use the session?  Under enforce only a session whose
 * certificate was verified for a host the policy names (RFC 8461 4).
 */
bool	 smtpc_cache_ok(const struct smtpc_conn *, const char *key,
	    const struct smtpc_sts_policy *enforce);

/* Park k (the cache owns it now); may close the oldest to make room. */
void	 smtpc_cache_put(struct smtpc_conn *k);
/* The most recently parked session smtpc_cache_ok() allows, or NULL.
 * It is the caller's then, with no callbacks and no timeouts set. */
struct smtpc_conn *smtpc_cache_take(const char *key,
	    const struct smtpc_sts_policy *enforce);
/* Close (QUIT) every parked session of key. */
void	 smtpc_cache_drop(const char *key);
/* Close (QUIT) the session parked longest; false if none. */
bool	 smtpc_cache_close_oldest(void);
size_t	 smtpc_cache_count(void);
/* Shutdown: close (QUIT) every parked session. */
void	 smtpc_cache_close_all(void);

/* Free a session taken out of the cache, and its bufferevent (no QUIT). */
void	 smtpc_conn_free(struct smtpc_conn **);
/*
 * Send QUIT on an idle session (through TLS if it is a TLS filter),
 * without waiting for the reply, and free the bufferevent.  One
 * non-blocking send(2): best effort.
 */
void	 smtpc_cache_quit_bev(struct bufferevent **);
#endif
