/*
 * auth.h - who may log in: password hashes, the account table, the login
 * cache, per-client failure throttling, SASL PLAIN/LOGIN and the base64
 * helpers the protocols share.
 *
 * Threads: functions named *_blocking may take tens of milliseconds
 * (crypt_r, file reads) and run only inside a work_ job [worker].  The
 * cache is locked internally so a worker's password check can consult it
 * [any]; the throttle is loop-only [loop].  Nothing here logs a password.
 */
#ifndef AUTH_H
#define AUTH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct conf;
struct sockaddr;

/* Longest login and password we accept; longer ones fail without work. */
#define AUTH_LOGIN_MAX		255
#define AUTH_PASSWORD_MAX	1024

/* ---- auth_pw.c: crypt(3) hashes (libxcrypt) -------------------------- */

/*
 * [worker] True if password matches the crypt(3) string hash.  Locked
 * ("!...", "*..."), empty and unknown hashes never match.
 */
bool	 auth_pw_verify_blocking(const char *password, const char *hash);
/*
 * [worker] Hash password with scheme "yescrypt" (NULL or "" means this),
 * "sha512" or "bcrypt" at our default cost.  *hash_r is malloced.
 * Returns 0, or -1 with *error_r set.
 */
int	 auth_pw_hash_blocking(const char *password, const char *scheme,
	    char **hash_r, const char **error_r);
/* [any] True if hash is a crypt string libxcrypt can verify (not locked). */
bool	 auth_pw_scheme_known(const char *hash);

/* ---- auth_db.c: the accounts that may log in ------------------------- */

struct auth_db;
struct auth_cache;

/*
 * [any] Copy the login data of conf->accounts.  Does not read files and
 * does not keep a pointer into conf.  Never fails.
 */
struct auth_db	*auth_db_new(const struct conf *);
void		 auth_db_free(struct auth_db **);
/* [any] Number of accounts. */
size_t		 auth_db_count(const struct auth_db *);
/*
 * [any] The canonical (lower-case) login for login, or NULL if there is
 * no such account.  Valid while db lives.  Does not check a password.
 */
const char	*auth_db_canonical(const struct auth_db *, const char *login);
/*
 * [worker] Check login and password.  Login is case-insensitive.  Unknown
 * logins cost as much as known ones.  On success *canonical_login_r (may
 * be NULL) points to the account name, valid while db lives.
 */
bool		 auth_db_check_blocking(const struct auth_db *,
		    const char *login, const char *password,
		    const char **canonical_login_r);
/*
 * [worker] auth_db_check_blocking behind the cache: a hit skips crypt_r,
 * a success is added.  cache may be NULL.  now: seconds, any monotonic
 * clock shared with the other cache calls.
 */
bool		 auth_db_check_cached_blocking(const struct auth_db *,
		    struct auth_cache *, const char *login,
		    const char *password, time_t now,
		    const char **canonical_login_r);

/* ---- auth_cache.c: recent successful logins --------------------------- */

#define AUTH_CACHE_TTL_DEFAULT		300	/* seconds */
#define AUTH_CACHE_ENTRIES_DEFAULT	10000
#define AUTH_CACHE_KEY_LEN		32	/* HMAC-SHA256 */

/*
 * [loop] A cache of successful (login, password) checks.  Entries are
 * HMAC-SHA256(per-process random key, lower(login) NUL password); the
 * password is never stored.  At most max_entries, oldest evicted first.
 * ttl 0 or max_entries 0 means the defaults.
 */
struct auth_cache *auth_cache_new(unsigned int ttl, size_t max_entries);
void	 auth_cache_free(struct auth_cache **);
/* [any] True if this pair succeeded less than ttl seconds before now. */
bool	 auth_cache_lookup(struct auth_cache *, const char *login,
	    const char *password, time_t now);
/* [any] Remember a successful check.  Call only after a real success. */
void	 auth_cache_add(struct auth_cache *, const char *login,
	    const char *password, time_t now);
/* [any] Forget everything (reload, password change). */
void	 auth_cache_clear(struct auth_cache *);
/* [any] Entries currently held (expired ones included until reused). */
size_t	 auth_cache_count(struct auth_cache *);
/* [any] The key an entry would have; for tests and debugging. */
void	 auth_cache_key(struct auth_cache *, const char *login,
	    const char *password, unsigned char key_r[AUTH_CACHE_KEY_LEN]);

/* ---- auth_throttle.c: failed logins per client address --------------- */

struct auth_throttle;

#define AUTH_THROTTLE_REFUSE	(-1)	/* from auth_throttle_delay_ms */

/*
 * [loop] Failure counts per client: IPv4 per address, IPv6 per /64
 * (IPv4-mapped IPv6 counts as IPv4).  One failure is forgiven every
 * decay_s seconds.  Fixed table of slots entries; when full, the least
 * recently touched entry of a bucket is reused.  0 means the default for
 * each parameter (4096 slots, 60 s decay, refuse at 30 failures).
 */
struct auth_throttle *auth_throttle_new(size_t slots, unsigned int decay_s,
	    unsigned int refuse_at);
void	 auth_throttle_free(struct auth_throttle **);
/* [loop] Count one failed login from addr. */
void	 auth_throttle_fail(struct auth_throttle *, const struct sockaddr *,
	    time_t now);
/*
 * [loop] Delay before answering the next attempt from addr: 0 for the
 * first 2 failures, then 1 s doubling up to 15 s, or AUTH_THROTTLE_REFUSE
 * when addr has failed refuse_at times (answer with a temporary error).
 */
int	 auth_throttle_delay_ms(struct auth_throttle *,
	    const struct sockaddr *, time_t now);
/* [loop] A successful login from addr clears its count. */
void	 auth_throttle_success(struct auth_throttle *, const struct sockaddr *);
/* [loop] Current (decayed) failure count for addr; for tests and logs. */
unsigned int auth_throttle_failures(struct auth_throttle *,
	    const struct sockaddr *, time_t now);

/* ---- auth_b64.c: base64 of the SASL wire form (RFC 4648 section 4) --- */

/* [any] Encode; returns a malloced NUL-terminated string. */
char	*auth_b64_encode(const void *data, size_t len);
/*
 * [any] Strict decode: no whitespace, padding required, no bits after
 * the data.  *out_r is malloced and NUL-terminated (the NUL is not in
 * *out_len_r).  Returns 0, or -1 with *error_r set.  The RFC 4954 / 3501
 * "=" (empty response) and "*" (cancel) are the protocol's to handle.
 */
int	 auth_b64_decode(const char *in, size_t in_len, char **out_r,
	    size_t *out_len_r, const char **error_r);

/* ---- auth_sasl.c: SASL PLAIN and LOGIN through libsasl2 -------------- */

struct auth_sasl;

enum auth_sasl_result {
	AUTH_SASL_CONTINUE = 0,	/* send *challenge_r, wait for a response */
	AUTH_SASL_OK,		/* authenticated; see auth_sasl_user() */
	AUTH_SASL_FAIL,		/* bad credentials or bad client input */
	AUTH_SASL_ERROR		/* our fault: libsasl2 or memory */
};

/*
 * The caller's password check, run [worker] inside the SASL steps.
 * Returns true if login/password are good, with *canonical_login_r set
 * (copied at once, may be left NULL to keep login).
 */
typedef bool auth_sasl_checker(void *arg, const char *login,
	    const char *password, const char **canonical_login_r);

/*
 * [loop, once, at start] Initialise libsasl2 for PLAIN and LOGIN only,
 * with no sasldb, saslauthd or config file.  appname names us in
 * libsasl2's own messages.  Fails if the PLAIN or LOGIN plugin is
 * missing (package libsasl2-modules).
 */
int	 auth_sasl_global_init_blocking(const char *appname,
	    const char **error_r);
/* [loop, at exit] Release libsasl2; no session may remain. */
void	 auth_sasl_global_done(void);
/* [any] "PLAIN LOGIN", for EHLO/CAPABILITY lines. */
const char *auth_sasl_mech_list(void);
/* [any] True if mech (case-insensitive) is one we offer. */
bool	 auth_sasl_mech_supported(const char *mech);

/*
 * [loop] One authentication exchange.  service: "smtp", "imap", "pop";
 * ip:port strings may be NULL.  checker(arg, ...) runs on the worker
 * that runs the step.
 */
int	 auth_sasl_new(const char *service, const char *server_fqdn,
	    const char *local_ip_port, const char *remote_ip_port,
	    auth_sasl_checker *checker, void *arg, struct auth_sasl **s_r,
	    const char **error_r);
void	 auth_sasl_free(struct auth_sasl **);
/*
 * [worker] Start mech.  initial_response NULL: none was sent; non-NULL
 * with len 0: an empty one.  The challenge (raw bytes, to be base64'd
 * by the protocol) stays valid until the next call on s.
 */
enum auth_sasl_result auth_sasl_start_blocking(struct auth_sasl *,
	    const char *mech, const char *initial_response, size_t len,
	    const char **challenge_r, size_t *challenge_len_r);
/* [worker] Feed the client's (decoded) response. */
enum auth_sasl_result auth_sasl_step_blocking(struct auth_sasl *,
	    const char *response, size_t len, const char **challenge_r,
	    size_t *challenge_len_r);
/* [loop] The authenticated (canonical) login after AUTH_SASL_OK, else NULL. */
const char *auth_sasl_user(const struct auth_sasl *);
/* [loop] Why the last step failed, for logs (never has the password). */
const char *auth_sasl_error(const struct auth_sasl *);
#endif
