/*
 * loop.c - event base, generations, signals, reload and shutdown.
 *
 * SIGHUP loads the config file again into a new generation.  A file that
 * does not load (syntax, validation, unreadable key) is refused: every
 * error is logged and the running generation stays.  SIGTERM stops the
 * listeners, tells every session to finish, and exits when the last one
 * has gone or limits.shutdown_timeout has passed, whichever is first.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "conf.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "tlsctx.h"
#include "xmalloc.h"

static struct event_base	*lp_base;
static struct gen		*lp_gen;
static unsigned			 lp_serial;
static loop_gen_build_fn	*lp_build;
static loop_gen_free_fn		*lp_free;
static char			*lp_file;	/* NULL: embedded default */
static struct event		*lp_sighup, *lp_sigterm, *lp_sigint, *lp_drain;
static bool			 lp_stopping;
static void			(*lp_on_shutdown[4])(void);
static struct loop_shared	 lp_shared;

struct loop_shared *
loop_shared(void)
{
	return &lp_shared;
}

struct event_base *
loop_base(void)
{
	return lp_base;
}

struct gen *
loop_gen(void)
{
	return lp_gen;
}

struct gen *
gen_ref(struct gen *g)
{
	g->refs++;
	return g;
}

static void
gen_destroy(struct gen *g)
{
	if (lp_free != NULL)
		lp_free(g);
	SSL_CTX_free(g->ssl);
	conf_free(&g->conf);
	free(g);
}

void
gen_unref(struct gen **gp)
{
	struct gen	*g = *gp;

	*gp = NULL;
	if (g != NULL && --g->refs == 0)
		gen_destroy(g);
}

static struct gen *
gen_build(struct conf *conf, char *err, size_t errlen)
{
	struct gen	*g = xcalloc(1, sizeof(*g));

	g->refs = 1;
	g->conf = conf;
	if ((g->ssl = tlsctx_new(conf, err, errlen)) == NULL ||
	    (lp_build != NULL && lp_build(g, err, errlen) == -1)) {
		g->conf = NULL;		/* the caller still owns conf */
		if (lp_free != NULL)
			lp_free(g);
		SSL_CTX_free(g->ssl);
		free(g);
		return NULL;
	}
	g->serial = ++lp_serial;
	return g;
}

static void
loop_sig(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		log_info("signal=HUP action=reload");
		(void)loop_reload();
	} else {
		log_info("signal=%s action=shutdown",
		    sig == SIGTERM ? "TERM" : "INT");
		loop_shutdown();
	}
}

int
loop_init(struct conf *conf, loop_gen_build_fn *build, loop_gen_free_fn *freefn,
    char *err, size_t errlen)
{
	struct event_config	*cfg;

	if (evthread_use_pthreads() == -1) {
		snprintf(err, errlen, "libevent has no pthreads support");
		return -1;
	}
	cfg = event_config_new();
	/* One thread owns the base; other threads only event_active(). */
	lp_base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (lp_base == NULL) {
		snprintf(err, errlen, "cannot create event base");
		return -1;
	}
	lp_build = build;
	lp_free = freefn;
	if ((lp_gen = gen_build(conf, err, errlen)) == NULL)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	lp_sighup = evsignal_new(lp_base, SIGHUP, loop_sig, NULL);
	lp_sigterm = evsignal_new(lp_base, SIGTERM, loop_sig, NULL);
	lp_sigint = evsignal_new(lp_base, SIGINT, loop_sig, NULL);
	evsignal_add(lp_sighup, NULL);
	evsignal_add(lp_sigterm, NULL);
	evsignal_add(lp_sigint, NULL);
	return 0;
}

void
loop_set_conf_file(const char *file)
{
	free(lp_file);
	lp_file = file ? xstrdup(file) : NULL;
}

int
loop_reload(void)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*conf;
	struct gen		*g;
	char			 err[512] = "";
	size_t			 i;

	conf = lp_file ? conf_load(lp_file, &errs) : conf_default_dev();
	if (conf == NULL) {
		for (i = 0; i < errs.n; i++) {
			char *m = conf_error_format(&errs.v[i]);
			log_err("reload refused: %s", m);
			free(m);
		}
		conf_errors_free(&errs);
		log_err("reload failed, keeping generation=%u", lp_gen->serial);
		return -1;
	}
	if ((g = gen_build(conf, err, sizeof(err))) == NULL) {
		log_err("reload refused: %s", err);
		log_err("reload failed, keeping generation=%u", lp_gen->serial);
		conf_free(&conf);
		return -1;
	}
	log_set_level(conf->debug ? LOG_L_DEBUG : LOG_L_INFO);
	log_info("reload ok generation=%u", g->serial);
	gen_unref(&lp_gen);
	lp_gen = g;
	return 0;
}

void
loop_on_shutdown(void (*fn)(void))
{
	size_t	 i;

	for (i = 0; i < sizeof(lp_on_shutdown) / sizeof(lp_on_shutdown[0]); i++)
		if (lp_on_shutdown[i] == NULL) {
			lp_on_shutdown[i] = fn;
			return;
		}
	log_panic("too many shutdown hooks");
}

static void
loop_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	log_warn("shutdown drain timeout, closing connections=%zu",
	    conn_count());
	conn_close_all();
	event_base_loopexit(lp_base, NULL);
}

void
loop_shutdown(void)
{
	struct timeval	 tv = { 0, 0 };
	size_t		 i;

	if (lp_stopping)
		return;
	lp_stopping = true;
	for (i = 0; i < sizeof(lp_on_shutdown) / sizeof(lp_on_shutdown[0]); i++)
		if (lp_on_shutdown[i] != NULL)
			lp_on_shutdown[i]();
	conn_shutdown_all();
	if (conn_count() == 0) {
		event_base_loopexit(lp_base, NULL);
		return;
	}
	tv.tv_sec = lp_gen->conf->limits.shutdown_timeout;
	lp_drain = evtimer_new(lp_base, loop_drain_timeout, NULL);
	evtimer_add(lp_drain, &tv);
}

bool
loop_stopping(void)
{
	return lp_stopping;
}

void
loop_conn_gone(void)
{
	if (lp_stopping && conn_count() == 0)
		event_base_loopexit(lp_base, NULL);
}

int
loop_run(void)
{
	if (event_base_dispatch(lp_base) == -1)
		return 1;
	return 0;
}

void
loop_free(void)
{
	if (lp_drain != NULL)
		event_free(lp_drain);
	if (lp_sighup != NULL) {
		event_free(lp_sighup);
		event_free(lp_sigterm);
		event_free(lp_sigint);
	}
	gen_unref(&lp_gen);
	free(lp_file);
	lp_file = NULL;
	if (lp_base != NULL)
		event_base_free(lp_base);
	lp_base = NULL;
}
