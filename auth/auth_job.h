/*
 * auth_job.h - one login attempt of one session, run on the worker pool:
 * a SASL exchange (PLAIN, LOGIN) step by step, or a plain login+password
 * check (IMAP LOGIN, POP3 USER/PASS), behind the login cache.
 *
 * A job names its session by id.  Each step runs on a worker and then
 * calls the job's completion on the loop thread; the completion looks the
 * session up by id (conn_lookup() + conn_session()).  Between steps the
 * session holds the job.  auth_job_free() on a job whose step is running
 * only marks it: the module frees it when the step returns, and does not
 * call the completion.  So a session that goes away frees its job at
 * once, whatever the job is doing.  The job keeps a reference to the
 * config generation, so the account table outlives a reload.
 *
 * Threads: everything here [loop]; the steps themselves run [worker].
 */
#ifndef AUTH_JOB_H
#define AUTH_JOB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"

struct auth_job;
struct gen;
struct sockaddr;

/*
 * [loop] A step of job finished with res.  AUTH_SASL_CONTINUE: send
 * auth_job_challenge_b64() and feed the answer to auth_job_step().
 * AUTH_SASL_OK: auth_job_user() is the canonical login.  AUTH_SASL_FAIL,
 * AUTH_SASL_ERROR: auth_job_error() says why, for logs.  The job is the
 * session's again: keep it for the next step or auth_job_free() it.  If
 * the session of sid is closing (lookup fails), just return: the session
 * frees the job when it goes.
 */
typedef void auth_job_done_fn(uint64_t sid, struct auth_job *job,
	    enum auth_sasl_result res);

/*
 * [loop] A job for session sid.  gen: the session's generation (a
 * reference is taken; its auth db checks passwords and its conf names
 * the server).  service: "smtp", "imap", "pop", "sieve" for libsasl2.
 * The addresses are the connection's, for libsasl2 (may be NULL).
 * done runs after every step.
 */
struct auth_job	*auth_job_new(uint64_t sid, struct gen *gen,
		    const char *service, const char *local_ip, int local_port,
		    const char *remote_ip, int remote_port,
		    auth_job_done_fn *done);
/* [loop] Free *job now, or when its running step returns; sets NULL. */
void		 auth_job_free(struct auth_job **job);

/*
 * [loop] Start SASL mechanism mech (one of auth_sasl_mech_supported()) on
 * a worker.  has_resp: the client sent an initial response, resp with
 * len bytes (resp NULL: an empty one).  resp is malloced and taken over:
 * the job wipes and frees it, even on failure.  Returns 0, or -1 with
 * *error_r set if libsasl2 could not set up (nothing was started; free
 * the job).
 */
int		 auth_job_start(struct auth_job *, const char *mech,
		    bool has_resp, char *resp, size_t len,
		    const char **error_r);
/*
 * [loop] Feed the client's decoded answer to the last challenge on a
 * worker.  resp (NULL: empty) is taken over like auth_job_start()'s.
 */
void		 auth_job_step(struct auth_job *, char *resp, size_t len);
/*
 * [loop] Check login (login_len bytes) and password (len bytes) on a
 * worker.  Both are copied; the copy of the password is wiped.  An
 * over-long login or password, or one with a NUL, fails without a check.
 */
void		 auth_job_plain(struct auth_job *, const char *login,
		    size_t login_len, const char *password, size_t len);

/* [loop] After AUTH_SASL_CONTINUE: the challenge in base64 (malloced). */
char		*auth_job_challenge_b64(const struct auth_job *);
/* [loop] After AUTH_SASL_OK: the canonical login, valid until free. */
const char	*auth_job_user(const struct auth_job *);
/* [loop] Why the last step failed, for logs (never has the password). */
const char	*auth_job_error(const struct auth_job *);
/* [loop] The SASL mechanism, or NULL for a plain check. */
const char	*auth_job_mech(const struct auth_job *);

/*
 * [loop] The failed-login throttle of loop_shared(), per client address.
 * auth_job_refused(): true if addr failed so often that the attempt must
 * get a temporary error.  auth_job_failed(): count a failure and return
 * how long to wait before answering it, in ms (<= 0: answer now).
 * auth_job_succeeded(): clear addr's count.  No-ops without a throttle.
 */
bool		 auth_job_refused(const struct sockaddr *addr);
int		 auth_job_failed(const struct sockaddr *addr);
void		 auth_job_succeeded(const struct sockaddr *addr);
#endif
