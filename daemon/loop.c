/*
 * loop.c - event base, generations, signals, reload and shutdown.
 *
 * SIGHUP, the control socket's RELOAD (`postern reload`, `postern
 * account ...`) load the config file again into a new generation.  A file
 * that does not load (syntax, validation, unreadable key) is refused:
 * every error is logged, the requester gets them on one line, and the
 * running generation stays.  SIGTERM stops the listeners, tells every
 * session to finish, and exits when the last one has gone or
 * limits.shutdown_timeout has passed, whichever is first.
 *
 * Reloads never block the loop.  Building a generation reads and parses
 * the config and accounts files, loads certificates (or generates the
 * self-signed one), loads the DKIM keys and generates missing ones (a
 * new RSA key costs a tenth of a second to seconds of CPU), and compiles
 * the router.  All of that runs as one worker job (work.h):
 *
 *   loop_reload() [loop]     -> work_submit(loop_build_run, loop_build_done)
 *   loop_build_run() [worker] conf_load, tlsctx_new, the build hook; it
 *                             sees only its struct loop_build and the new
 *                             conf, never lp_gen, loop_shared() or libevent
 *   loop_build_done() [loop]  logs, swaps lp_gen, runs the activate hook
 *                             (store, queue, login cache), answers the
 *                             requesters
 *
 * What the worker builds is private to the job until done() hands it to
 * the loop thread (the work queue's mutex orders the two), and every
 * piece is safe to build on another thread: libconfig parses with a
 * thread-local locale (uselocale), OpenSSL 3 creates SSL_CTX and keys on
 * any thread, the router and account table are plain memory, log_*()
 * writes one line per write(2).  The generation's serial is given at the
 * swap, so serials count generations made current.
 *
 * One build at a time: two builds could generate the same missing DKIM
 * key or self-signed certificate at once.  A request that arrives while
 * a build is in flight is coalesced: lp_rl.again is set and its requester
 * waits on lp_rl.next; when the build finishes, one more build starts
 * and answers all of them.  It reads the file again, so the last request
 * wins, and a client whose edit (`postern account add`) came after the
 * first build read the file still sees its edit in effect when answered.
 *
 * Shutdown with a build in flight: the loop exits as usual, and
 * work_shutdown() waits for the job and runs loop_build_done(), which
 * sees lp_stopping, discards the new generation (freeing everything) and
 * answers its requesters, and those of a coalesced rebuild, with an
 * error instead of starting another build.
 *
 * Startup builds the first generation synchronously on the loop thread,
 * before the loop runs and before the workers exist.
 */
#include <sys/queue.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "tlsctx.h"
#include "work.h"
#include "xmalloc.h"

/* The one-line error a requester gets is cut at this length. */
#define LOOP_ERR_MAX	900

/* One requester waiting for a reload's answer.  [loop] */
struct loop_waiter {
	STAILQ_ENTRY(loop_waiter) entry;
	loop_reload_done_fn	*done;
	void			*arg;
};
STAILQ_HEAD(loop_waiters, loop_waiter);

/*
 * One reload job.  The loop fills file, the worker everything else; the
 * loop reads the results in done() only.
 */
struct loop_build {
	char		*file;		/* NULL: embedded default */
	struct gen	*gen;		/* the new generation; NULL: refused */
	char		**errv;		/* every reason, for the log */
	size_t		 nerr;
	struct timespec	 t0;
	double		 ms;		/* build time on the worker */
};

static struct event_base	*lp_base;
static struct gen		*lp_gen;
static unsigned			 lp_serial;
static loop_gen_build_fn	*lp_build;
static loop_gen_activate_fn	*lp_activate;
static loop_gen_free_fn		*lp_free;
static char			*lp_file;	/* NULL: embedded default */
static struct event		*lp_sighup, *lp_sigterm, *lp_sigint, *lp_drain;
static bool			 lp_stopping;
static bool			 lp_exited;	/* loop_run returned */
static void			(*lp_on_shutdown[4])(void);
static struct loop_shared	 lp_shared;
static pid_t			 lp_tid;	/* the loop thread, for logs */

/* Reload state.  [loop] */
static struct {
	bool			 building;	/* a job is in flight */
	bool			 again;		/* asked meanwhile: build again */
	struct loop_waiters	 cur;		/* answered by the job in flight */
	struct loop_waiters	 next;		/* answered by the next build */
} lp_rl = {
	false, false,
	STAILQ_HEAD_INITIALIZER(lp_rl.cur),
	STAILQ_HEAD_INITIALIZER(lp_rl.next)
};

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

/*
 * Build a generation around conf (taken over on success only).  [any]:
 * at start on the loop thread, for a reload on a worker; it touches no
 * loop state (lp_build and lp_free are set once, before any job).
 */
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
	return g;
}

/* [loop] g becomes the current generation. */
static void
gen_make_current(struct gen *g)
{
	g->serial = ++lp_serial;
	if (lp_activate != NULL)
		lp_activate(g);
	gen_unref(&lp_gen);
	lp_gen = g;
}

/* ---- reload ---- */

static void
loop_build_err(struct loop_build *b, char *msg)
{
	b->errv = xreallocarray(b->errv, b->nerr + 1, sizeof(*b->errv));
	b->errv[b->nerr++] = msg;
}

static void
loop_build_free(struct loop_build *b)
{
	size_t	 i;

	for (i = 0; i < b->nerr; i++)
		free(b->errv[i]);
	free(b->errv);
	free(b->file);
	free(b);
}

/* [worker] Read the file and build every part of the new generation. */
static void
loop_build_run(void *arg)
{
	struct loop_build	*b = arg;
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*conf;
	struct timespec		 t1;
	char			 err[512] = "";
	size_t			 i;

	conf = b->file != NULL ? conf_load(b->file, &errs) : conf_default_dev();
	if (conf == NULL) {
		for (i = 0; i < errs.n; i++)
			loop_build_err(b, conf_error_format(&errs.v[i]));
		if (errs.n == 0)
			loop_build_err(b, xasprintf("%s: cannot load "
			    "configuration", b->file != NULL ? b->file :
			    "(embedded default)"));
		conf_errors_free(&errs);
		return;
	}
	log_info("reload building on worker tid=%ld loop_tid=%ld config=%s",
	    (long)gettid(), (long)lp_tid, b->file != NULL ? b->file :
	    "(embedded default)");
	if ((b->gen = gen_build(conf, err, sizeof(err))) == NULL) {
		loop_build_err(b, xstrdup(err[0] != '\0' ? err :
		    "cannot build the generation"));
		conf_free(&conf);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	b->ms = (double)(t1.tv_sec - b->t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - b->t0.tv_nsec) / 1e6;
}

static void	loop_build_done(void *);

/* [loop] Submit a build; the waiters are already on lp_rl.cur. */
static void
loop_build_start(void)
{
	struct loop_build	*b = xcalloc(1, sizeof(*b));

	b->file = lp_file != NULL ? xstrdup(lp_file) : NULL;
	clock_gettime(CLOCK_MONOTONIC, &b->t0);
	lp_rl.building = true;
	work_submit(loop_build_run, loop_build_done, b);
}

/* [loop] Answer and free every waiter of list. */
static void
loop_answer(struct loop_waiters *list, int rc, unsigned serial,
    const char *error)
{
	struct loop_waiter	*w;

	while ((w = STAILQ_FIRST(list)) != NULL) {
		STAILQ_REMOVE_HEAD(list, entry);
		if (w->done != NULL)
			w->done(w->arg, rc, serial, error);
		free(w);
	}
}

/* [loop] The build finished: swap it in (or refuse it), answer, go on. */
static void
loop_build_done(void *arg)
{
	struct loop_build	*b = arg;
	struct loop_waiters	 answer = STAILQ_HEAD_INITIALIZER(answer);
	struct buf		 line = BUF_INIT;
	const char		*error = NULL;
	char			*msg = NULL;
	size_t			 i;
	int			 rc = -1;

	lp_rl.building = false;
	STAILQ_CONCAT(&answer, &lp_rl.cur);
	if (b->gen == NULL) {
		for (i = 0; i < b->nerr; i++) {
			log_err("reload refused: %s", b->errv[i]);
			if (line.len < LOOP_ERR_MAX)
				buf_printf(&line, "%s%s", i > 0 ? "; " : "",
				    b->errv[i]);
		}
		log_err("reload failed, keeping generation=%u", lp_gen->serial);
		msg = buf_steal(&line, NULL);
		if (msg != NULL && strlen(msg) > LOOP_ERR_MAX)
			strcpy(msg + LOOP_ERR_MAX - 3, "...");
		error = msg != NULL ? msg : "reload failed";
	} else if (lp_stopping || lp_exited) {
		log_info("reload discarded: the daemon is stopping");
		gen_unref(&b->gen);
		error = "the daemon is shutting down";
	} else {
		gen_make_current(b->gen);
		b->gen = NULL;
		log_set_level(lp_gen->conf->debug ? LOG_L_DEBUG : LOG_L_INFO);
		log_info("reload ok generation=%u build_ms=%.1f",
		    lp_gen->serial, b->ms);
		rc = 0;
	}
	/*
	 * Requests made during this build: one more build, started before
	 * the answers go out (a requester may ask again from its callback).
	 */
	if (lp_rl.again) {
		lp_rl.again = false;
		STAILQ_CONCAT(&lp_rl.cur, &lp_rl.next);
		if (lp_stopping || lp_exited)
			loop_answer(&lp_rl.cur, -1, lp_gen->serial,
			    "the daemon is shutting down");
		else
			loop_build_start();
	}
	loop_answer(&answer, rc, lp_gen->serial, error);
	free(msg);
	loop_build_free(b);
}

void
loop_reload(loop_reload_done_fn *done, void *arg)
{
	struct loop_waiter	*w;

	if (lp_stopping || lp_exited) {
		log_info("reload refused: the daemon is stopping");
		if (done != NULL)
			done(arg, -1, lp_gen->serial,
			    "the daemon is shutting down");
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->done = done;
	w->arg = arg;
	if (lp_rl.building) {
		/* Coalesced: one more build runs after the one in flight. */
		STAILQ_INSERT_TAIL(&lp_rl.next, w, entry);
		if (!lp_rl.again)
			log_info("reload queued: a build is in flight, "
			    "building again after it");
		lp_rl.again = true;
		return;
	}
	STAILQ_INSERT_TAIL(&lp_rl.cur, w, entry);
	log_info("reload started current=%u", lp_gen->serial);
	loop_build_start();
}

bool
loop_reloading(void)
{
	return lp_rl.building;
}

/* ---- signals, init ---- */

static void
loop_sig(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		log_info("signal=HUP action=reload");
		loop_reload(NULL, NULL);
	} else {
		log_info("signal=%s action=shutdown",
		    sig == SIGTERM ? "TERM" : "INT");
		loop_shutdown();
	}
}

int
loop_init(struct conf *conf, loop_gen_build_fn *build,
    loop_gen_activate_fn *activate, loop_gen_free_fn *freefn, char *err,
    size_t errlen)
{
	struct event_config	*cfg;
	struct gen		*g;

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
	lp_tid = gettid();
	lp_build = build;
	lp_activate = activate;
	lp_free = freefn;
	if ((g = gen_build(conf, err, errlen)) == NULL)
		return -1;
	gen_make_current(g);
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

/* ---- shutdown ---- */

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
	if (lp_rl.building)
		log_info("shutdown with a reload in flight: its result is "
		    "discarded");
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
	int	 rc;

	rc = event_base_dispatch(lp_base) == -1 ? 1 : 0;
	/* A reload finishing in work_shutdown() must not swap any more. */
	lp_exited = true;
	return rc;
}

void
loop_free(void)
{
	size_t	 i;

	/*
	 * work_shutdown() has run every build's done(); one still in flight
	 * (its deadline passed) keeps its job and is leaked on purpose.
	 */
	if (lp_rl.building)
		log_warn("loop free with a reload build still running");
	if (lp_drain != NULL)
		event_free(lp_drain);
	lp_drain = NULL;
	if (lp_sighup != NULL) {
		event_free(lp_sighup);
		event_free(lp_sigterm);
		event_free(lp_sigint);
	}
	lp_sighup = lp_sigterm = lp_sigint = NULL;
	gen_unref(&lp_gen);
	free(lp_file);
	lp_file = NULL;
	if (lp_base != NULL)
		event_base_free(lp_base);
	lp_base = NULL;
	/* Back to the initial state (unit tests run several loops). */
	lp_serial = 0;
	lp_stopping = lp_exited = false;
	lp_build = NULL;
	lp_activate = NULL;
	lp_free = NULL;
	for (i = 0; i < sizeof(lp_on_shutdown) / sizeof(lp_on_shutdown[0]); i++)
		lp_on_shutdown[i] = NULL;
}
