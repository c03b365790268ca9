/*
 * loop.h - the event base, the current configuration generation, signals
 * (SIGHUP reload, SIGTERM/SIGINT drain and stop) and shutdown.
 *
 * A generation is everything derived from one config load: the parsed
 * conf, the TLS context and the module objects main.c builds from it
 * (router, accounts, DKIM keyring, ...).  Connections hold a reference to
 * the generation they started with, so a reload never changes state under
 * a live session; the old generation is freed when its last connection
 * ends.  A reload builds the new generation on a worker thread and swaps
 * it in on the loop thread (loop.c explains).  [loop] unless marked.
 */
#ifndef LOOP_H
#define LOOP_H
#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

struct conf;
struct event_base;
struct route;
struct auth_db;
struct store;
struct auth_cache;
struct auth_throttle;

struct gen {
	int		 refs;		/* loop thread only */
	unsigned	 serial;	/* 1, 2, ... per generation made current */
	struct conf	*conf;
	SSL_CTX		*ssl;
	/* Built by the hooks main.c installs; NULL until those modules exist. */
	struct route	*route;
	struct auth_db	*auth;
	void		*ext[4];
};

/*
 * Process-wide objects that outlive generations (set up by main.c): the
 * mail store, the login cache and the failed-login throttle.
 */
struct dnsq;
struct queue;

struct loop_shared {
	struct store		*store;
	struct queue		*queue;		/* outbound queue */
	struct dnsq		*dns;		/* resolver of dns.resolvers */
	struct auth_cache	*auth_cache;
	struct auth_throttle	*auth_throttle;
};
struct loop_shared	*loop_shared(void);

/*
 * The hooks main.c installs for what a generation derives from its conf.
 *
 * build [worker]: fill the new generation's derived objects from g->conf
 * only; -1 and a message on failure.  For a reload it runs on a worker
 * thread while the loop serves clients, so it may block (files, key
 * generation) but must not call libevent or touch anything the loop owns
 * (loop_shared(), the current generation, connections).  At start it runs
 * on the loop thread, before the loop does.
 *
 * activate [loop]: g has just become the current generation (at start
 * and at each successful reload): point process-wide objects at it
 * (store, queue, login cache).  Cannot fail.
 *
 * free [loop]: release what build made; also for a generation that
 * failed half-way or was discarded (fields may be NULL).
 */
typedef int loop_gen_build_fn(struct gen *, char *err, size_t errlen);
typedef void loop_gen_activate_fn(struct gen *);
typedef void loop_gen_free_fn(struct gen *);

/* Create the base and build the first generation, synchronously. */
int			 loop_init(struct conf *, loop_gen_build_fn *,
			    loop_gen_activate_fn *, loop_gen_free_fn *,
			    char *err, size_t errlen);
struct event_base	*loop_base(void);
struct gen		*loop_gen(void);		/* current, no reference */
struct gen		*gen_ref(struct gen *);
void			 gen_unref(struct gen **);

/*
 * The answer to one reload request, on the loop thread: rc 0 and the new
 * generation's serial, or -1 with error (every reason on one line, valid
 * during the call only) and the generation that stays current.
 */
typedef void loop_reload_done_fn(void *arg, int rc, unsigned serial,
    const char *error);
/*
 * Reload from file (NULL: the embedded default), as SIGHUP does.  Never
 * blocks: the new generation is built by a worker job.  A request made
 * while a build is in flight is coalesced: one more build runs after it
 * (it reads the file again, so the last request wins) and answers every
 * request made meanwhile.  On any error the old generation stays and
 * every error is logged.  done (may be NULL) is called exactly once,
 * maybe before loop_reload returns (the daemon is stopping), at the
 * latest from work_shutdown().
 */
void			 loop_reload(loop_reload_done_fn *done, void *arg);
/* True while a reload build is in flight (status, tests). */
bool			 loop_reloading(void);
void			 loop_set_conf_file(const char *file);	/* NULL: dev */
/* Run until shutdown completes; returns the exit status. */
int			 loop_run(void);
/* Stop accepting, ask sessions to finish, exit after the drain bound. */
void			 loop_shutdown(void);
bool			 loop_stopping(void);
/* Called by conn when the last connection is gone (for shutdown). */
void			 loop_conn_gone(void);
/* Hooks run at shutdown begin (listen_stop etc.). */
void			 loop_on_shutdown(void (*fn)(void));
/* After work_shutdown(): free the current generation and the base. */
void			 loop_free(void);
#endif
