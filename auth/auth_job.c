/*
 * auth_job.c - the worker side of a login, shared by the SMTP submission,
 * IMAP, POP3 and ManageSieve sessions: a SASL exchange through libsasl2
 * or a plain login+password check, each step on the worker pool (crypt_r
 * takes tens of milliseconds), with the result handed to the session's
 * completion on the loop thread.
 *
 * Owns struct auth_job: the SASL object, the client's decoded response
 * (wiped once used), the last challenge, the canonical login of a plain
 * check, and a reference to the config generation whose account table
 * the checks read.  While a step runs the worker owns the job's fields
 * and the job is marked running; auth_job_free() then only marks it
 * orphaned and auth_job_done() frees it without calling the completion.
 *
 * Threads: auth_job_run() and auth_job_check() [worker], one step at a
 * time per job; everything else [loop].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "auth_job.h"
#include "conf.h"
#include "loop.h"
#include "work.h"
#include "xmalloc.h"

struct auth_job {
	uint64_t		 sid;
	struct gen		*gen;		/* reference: auth db, conf */
	struct auth_cache	*cache;
	auth_job_done_fn	*done;
	char			*service;
	char			*local;		/* "ip:port", "[ip6]:port" */
	char			*remote;
	struct auth_sasl	*sasl;		/* NULL for a plain check */
	char			*mech;
	bool			 running;	/* a worker holds the job */
	bool			 orphan;	/* freed while running */
	bool			 start;		/* first SASL step */
	bool			 has_resp;
	char			*resp;		/* SASL response or password */
	size_t			 resp_len;
	char			*login;		/* plain check */
	time_t			 now;
	/* results of the step */
	enum auth_sasl_result	 res;
	char			*challenge;
	size_t			 challenge_len;
	char			*user;		/* plain check: canonical login */
};

static time_t
auth_job_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static char *
auth_job_ipport(const char *ip, int port)
{
	if (ip == NULL || *ip == '\0')
		return NULL;
	if (strchr(ip, ':') != NULL)
		return xasprintf("[%s]:%d", ip, port);
	return xasprintf("%s:%d", ip, port);
}

static void
auth_job_wipe(struct auth_job *j)
{
	if (j->resp != NULL) {
		explicit_bzero(j->resp, j->resp_len);
		xfree(j->resp);
	}
	j->resp_len = 0;
}

static void
auth_job_destroy(struct auth_job *j)
{
	auth_sasl_free(&j->sasl);
	auth_job_wipe(j);
	free(j->service);
	free(j->local);
	free(j->remote);
	free(j->mech);
	free(j->login);
	free(j->challenge);
	free(j->user);
	gen_unref(&j->gen);
	free(j);
}

struct auth_job *
auth_job_new(uint64_t sid, struct gen *gen, const char *service,
    const char *local_ip, int local_port, const char *remote_ip,
    int remote_port, auth_job_done_fn *done)
{
	struct auth_job	*j = xcalloc(1, sizeof(*j));

	j->sid = sid;
	j->gen = gen_ref(gen);
	j->cache = loop_shared()->auth_cache;
	j->done = done;
	j->service = xstrdup(service);
	j->local = auth_job_ipport(local_ip, local_port);
	j->remote = auth_job_ipport(remote_ip, remote_port);
	return j;
}

void
auth_job_free(struct auth_job **jp)
{
	struct auth_job	*j = *jp;

	*jp = NULL;
	if (j == NULL)
		return;
	if (j->running) {
		/* The worker still uses it: auth_job_done() frees it. */
		j->orphan = true;
		return;
	}
	auth_job_destroy(j);
}

/* [worker] The password check, for libsasl2 and for plain checks. */
static bool
auth_job_check(void *arg, const char *login, const char *password,
    const char **canonical_r)
{
	struct auth_job	*j = arg;

	if (j->gen->auth == NULL)
		return false;
	return auth_db_check_cached_blocking(j->gen->auth, j->cache, login,
	    password, j->now, canonical_r);
}

/* [worker] One step; may take tens of milliseconds (crypt_r). */
static void
auth_job_run(void *arg)
{
	struct auth_job	*j = arg;
	const char	*ch = NULL, *canon = NULL;
	size_t		 chlen = 0;

	if (j->sasl == NULL) {
		j->res = AUTH_SASL_FAIL;
		if (strlen(j->login) <= AUTH_LOGIN_MAX &&
		    j->resp_len <= AUTH_PASSWORD_MAX &&
		    memchr(j->resp, '\0', j->resp_len) == NULL &&
		    auth_job_check(j, j->login, j->resp, &canon)) {
			j->res = AUTH_SASL_OK;
			j->user = xstrdup(canon != NULL ? canon : j->login);
		}
	} else if (j->start)
		j->res = auth_sasl_start_blocking(j->sasl, j->mech,
		    j->has_resp ? (j->resp != NULL ? j->resp : "") : NULL,
		    j->resp_len, &ch, &chlen);
	else
		j->res = auth_sasl_step_blocking(j->sasl, j->resp, j->resp_len,
		    &ch, &chlen);
	auth_job_wipe(j);
	if (j->res == AUTH_SASL_CONTINUE) {
		/* libsasl2's buffer lives only until the next step. */
		j->challenge = xmalloc(chlen + 1);
		memcpy(j->challenge, ch != NULL ? ch : "", chlen);
		j->challenge[chlen] = '\0';
		j->challenge_len = chlen;
	}
}

/* [loop] */
static void
auth_job_done(void *arg)
{
	struct auth_job	*j = arg;

	j->running = false;
	if (j->orphan) {
		auth_job_destroy(j);
		return;
	}
	j->done(j->sid, j, j->res);
}

static void
auth_job_submit(struct auth_job *j)
{
	xfree(j->challenge);
	j->challenge_len = 0;
	j->now = auth_job_now();
	j->running = true;
	work_submit(auth_job_run, auth_job_done, j);
}

int
auth_job_start(struct auth_job *j, const char *mech, bool has_resp,
    char *resp, size_t len, const char **error_r)
{
	auth_job_wipe(j);
	j->resp = resp;
	j->resp_len = len;
	j->has_resp = has_resp;
	free(j->mech);
	j->mech = xstrdup(mech);
	auth_sasl_free(&j->sasl);
	if (auth_sasl_new(j->service, j->gen->conf->fqdn, j->local,
	    j->remote, auth_job_check, j, &j->sasl, error_r) == -1)
		return -1;
	j->start = true;
	auth_job_submit(j);
	return 0;
}

void
auth_job_step(struct auth_job *j, char *resp, size_t len)
{
	auth_job_wipe(j);
	j->resp = resp;
	j->resp_len = len;
	j->start = false;
	auth_job_submit(j);
}

void
auth_job_plain(struct auth_job *j, const char *login, size_t login_len,
    const char *password, size_t len)
{
	auth_sasl_free(&j->sasl);
	xfree(j->mech);
	xfree(j->user);
	free(j->login);
	j->login = xstrndup(login, login_len);
	auth_job_wipe(j);
	j->resp = xmalloc(len + 1);
	memcpy(j->resp, password, len);
	j->resp[len] = '\0';
	j->resp_len = len;
	auth_job_submit(j);
}

char *
auth_job_challenge_b64(const struct auth_job *j)
{
	return auth_b64_encode(j->challenge != NULL ? j->challenge : "",
	    j->challenge_len);
}

const char *
auth_job_user(const struct auth_job *j)
{
	if (j->sasl != NULL)
		return auth_sasl_user(j->sasl);
	return j->user;
}

const char *
auth_job_error(const struct auth_job *j)
{
	if (j->sasl != NULL)
		return auth_sasl_error(j->sasl);
	return j->res == AUTH_SASL_FAIL ? "bad credentials" : "internal";
}

const char *
auth_job_mech(const struct auth_job *j)
{
	return j->sasl != NULL ? j->mech : NULL;
}

bool
auth_job_refused(const struct sockaddr *addr)
{
	struct auth_throttle	*th = loop_shared()->auth_throttle;

	return th != NULL && auth_throttle_delay_ms(th, addr,
	    auth_job_now()) == AUTH_THROTTLE_REFUSE;
}

int
auth_job_failed(const struct sockaddr *addr)
{
	struct auth_throttle	*th = loop_shared()->auth_throttle;

	if (th == NULL)
		return 0;
	auth_throttle_fail(th, addr, auth_job_now());
	return auth_throttle_delay_ms(th, addr, auth_job_now());
}

void
auth_job_succeeded(const struct sockaddr *addr)
{
	struct auth_throttle	*th = loop_shared()->auth_throttle;

	if (th != NULL)
		auth_throttle_success(th, addr);
}
