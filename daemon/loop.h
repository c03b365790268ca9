/*
 * loop.h - the event base, the current configuration generation, signals
 * (SIGHUP reload, SIGTERM/SIGINT drain and stop) and shutdown.
 *
 * A generation is everything derived from one config load: the parsed
 * conf, the TLS context and the module objects main.c builds from it
 * (router, accounts, ...).  Connections hold a reference to the generation
 * they started with, so a reload never changes state under a live session;
 * the old generation is freed when its last connection ends.  [loop]
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
	int		 refs;
	unsigned	 serial;	/* 1, 2, ... per successful load */
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

/* Fill a new generation's derived objects; -1 and a message on failure. */
typedef int loop_gen_build_fn(struct gen *, char *err, size_t errlen);
typedef void loop_gen_free_fn(struct gen *);

int			 loop_init(struct conf *, loop_gen_build_fn *,
			    loop_gen_free_fn *, char *err, size_t errlen);
struct event_base	*loop_base(void);
struct gen		*loop_gen(void);		/* current, no reference */
struct gen		*gen_ref(struct gen *);
void			 gen_unref(struct gen **);
/*
 * Reload from file (NULL: the embedded default).  On any error the old
 * generation stays and every error is logged; returns 0 or -1.
 */
int			 loop_reload(void);
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
void			 loop_free(void);
#endif
