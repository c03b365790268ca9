/*
 * auth_sasl.c - server-side SASL PLAIN (RFC 4616) and LOGIN through Cyrus
 * libsasl2, with the password checked by our own code.
 *
 * libsasl2 is boxed in so that nothing outside postern's config decides
 * who logs in: only the PLAIN and LOGIN plugin files are loaded (no
 * sasldb or other auxprop plugin), no /etc/sasl2 config file is read,
 * mech_list is "PLAIN LOGIN", and the password goes to our
 * SASL_CB_SERVER_USERDB_CHECKPASS callback, which calls the caller's
 * checker.  When the checker says no, libsasl2 still tries its own
 * pwcheck_method ("auxprop"); with no auxprop plugin loaded that finds no
 * user and fails too.  The authorization identity must equal the
 * authentication identity (no proxy authentication).
 *
 * Owns the libsasl2 global state (once per process) and one sasl_conn_t
 * per struct auth_sasl.  Threads: init/done and new/free [loop]; start and
 * step run the password check and so run on a worker [worker], one at a
 * time per session.  libsasl2's own globals are guarded by the pthread
 * mutex callbacks set here.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "auth.h"
#include "log.h"
#include "str.h"
#include "xmalloc.h"

#define AUTH_SASL_MECHS		"PLAIN LOGIN"
/* A PLAIN response carries two identities and a password. */
#define AUTH_SASL_INPUT_MAX	(2 * AUTH_LOGIN_MAX + AUTH_PASSWORD_MAX + 2)

/* sasl_callback_t.proc is int (*)(void); void (*)(void) converts quietly. */
typedef int (*auth_sasl_proc)(void);
#define AUTH_SASL_CB(fn)	((auth_sasl_proc)(void (*)(void))(fn))

struct auth_sasl {
	sasl_conn_t		*conn;
	sasl_callback_t		 cbs[3];
	auth_sasl_checker	*checker;
	void			*arg;
	char			*pending;	/* checker's login, this step */
	char			*user;		/* set once AUTH_SASL_OK */
	const char		*error;		/* ours; else sasl_errdetail */
};

static bool	 auth_sasl_ready;

/* ---- global callbacks ----------------------------------------------- */

static void *
auth_sasl_mutex_alloc(void)
{
	pthread_mutex_t	*m = xmalloc(sizeof(*m));

	pthread_mutex_init(m, NULL);
	return m;
}

static int
auth_sasl_mutex_lock(void *m)
{
	return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static int
auth_sasl_mutex_unlock(void *m)
{
	return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static void
auth_sasl_mutex_free(void *m)
{
	if (m != NULL) {
		pthread_mutex_destroy(m);
		free(m);
	}
}

static int
auth_sasl_getopt(void *context, const char *plugin_name, const char *option,
    const char **result, unsigned *len)
{
	const char	*v = NULL;

	if (plugin_name == NULL && option != NULL) {
		if (strcmp(option, "mech_list") == 0)
			v = AUTH_SASL_MECHS;
		else if (strcmp(option, "pwcheck_method") == 0)
			v = "auxprop";
		else if (strcmp(option, "auxprop_plugin") == 0)
			v = "postern";		/* ours, see below */
		else if (strcmp(option, "log_level") == 0)
			/* Never SASL_LOG_PASS: that level prints passwords. */
			v = log_debug_enabled() ? "5" : "1";
		else if (strcmp(option, "auto_transition") == 0)
			v = "no";
	}
	if (v == NULL)
		return SASL_FAIL;	/* "not set": libsasl2's default */
	*result = v;
	if (len != NULL)
		*len = (unsigned)strlen(v);
	return SASL_OK;
}

static int
auth_sasl_log(void *context, int level, const char *message)
{
	if (message == NULL)
		return SASL_OK;
	switch (level) {
	case SASL_LOG_ERR:
		log_err("auth sasl error=\"%s\"", message);
		break;
	case SASL_LOG_WARN:
		log_warn("auth sasl warning=\"%s\"", message);
		break;
	case SASL_LOG_FAIL:
	case SASL_LOG_NOTE:
		log_info("auth sasl note=\"%s\"", message);
		break;
	case SASL_LOG_DEBUG:
		log_debug("auth sasl debug=\"%s\"", message);
		break;
	default:
		/* TRACE and PASS may carry secrets: drop them. */
		break;
	}
	return SASL_OK;
}

/*
 * Load only the PLAIN and LOGIN plugins, and no config file at all.
 * SASL_CONTINUE means "skip this file" to libsasl2.
 */
static int
auth_sasl_verifyfile(void *context, const char *file, sasl_verify_type_t type)
{
	const char	*base;

	if (type != SASL_VRFY_PLUGIN || file == NULL)
		return SASL_CONTINUE;
	base = strrchr(file, '/');
	base = base != NULL ? base + 1 : file;
	if (strncmp(base, "libplain.", 9) == 0 ||
	    strncmp(base, "liblogin.", 9) == 0)
		return SASL_OK;
	return SASL_CONTINUE;
}

/*
 * An auxprop plugin of our own that knows no properties.  libsasl2 runs
 * its pwcheck_method after our checkpass callback says no, and with no
 * auxprop plugin at all that logs "unknown password verifier" as an error
 * on every failed login.  With this one the lookup succeeds, finds no
 * userPassword, and the fallback fails quietly.  It also means no
 * installed auxprop plugin (sasldb, sql, ldapdb) is ever consulted.
 */
static char	 auth_sasl_auxprop_name[] = "postern";

static int
auth_sasl_auxprop_lookup(void *glob_context, sasl_server_params_t *sparams,
    unsigned flags, const char *user, unsigned ulen)
{
	return SASL_OK;
}

static sasl_auxprop_plug_t auth_sasl_auxprop = {
	.auxprop_lookup = auth_sasl_auxprop_lookup,
	.name = auth_sasl_auxprop_name,
};

static int
auth_sasl_auxprop_init(const sasl_utils_t *utils, int max_version,
    int *out_version, sasl_auxprop_plug_t **plug, const char *plugname)
{
	if (max_version < SASL_AUXPROP_PLUG_VERSION)
		return SASL_BADVERS;
	*out_version = SASL_AUXPROP_PLUG_VERSION;
	*plug = &auth_sasl_auxprop;
	return SASL_OK;
}

static const sasl_callback_t auth_sasl_global_cbs[] = {
	{ SASL_CB_GETOPT, AUTH_SASL_CB(auth_sasl_getopt), NULL },
	{ SASL_CB_LOG, AUTH_SASL_CB(auth_sasl_log), NULL },
	{ SASL_CB_VERIFYFILE, AUTH_SASL_CB(auth_sasl_verifyfile), NULL },
	{ SASL_CB_LIST_END, NULL, NULL }
};

int
auth_sasl_global_init_blocking(const char *appname, const char **error_r)
{
	const char	**mechs;
	bool		  plain = false, login = false;
	int		  rc;
	size_t		  i;

	if (auth_sasl_ready)
		return 0;
	sasl_set_mutex(auth_sasl_mutex_alloc, auth_sasl_mutex_lock,
	    auth_sasl_mutex_unlock, auth_sasl_mutex_free);
	rc = sasl_server_init(auth_sasl_global_cbs,
	    appname != NULL ? appname : "postern");
	if (rc != SASL_OK) {
		log_err("auth sasl init failed error=\"%s\"",
		    sasl_errstring(rc, NULL, NULL));
		*error_r = "libsasl2 initialisation failed";
		return -1;
	}
	if ((rc = sasl_auxprop_add_plugin(auth_sasl_auxprop_name,
	    auth_sasl_auxprop_init)) != SASL_OK) {
		sasl_server_done();
		log_err("auth sasl auxprop failed error=\"%s\"",
		    sasl_errstring(rc, NULL, NULL));
		*error_r = "libsasl2 initialisation failed";
		return -1;
	}
	mechs = sasl_global_listmech();
	for (i = 0; mechs != NULL && mechs[i] != NULL; i++) {
		if (strcasecmp(mechs[i], "PLAIN") == 0)
			plain = true;
		else if (strcasecmp(mechs[i], "LOGIN") == 0)
			login = true;
	}
	if (!plain || !login) {
		sasl_server_done();
		*error_r = "libsasl2 found no PLAIN and LOGIN plugins "
		    "(liblogin.so, libplain.so): install the "
		    "libsasl2-modules package";
		return -1;
	}
	auth_sasl_ready = true;
	return 0;
}

void
auth_sasl_global_done(void)
{
	if (!auth_sasl_ready)
		return;
	sasl_server_done();
	auth_sasl_ready = false;
}

const char *
auth_sasl_mech_list(void)
{
	return AUTH_SASL_MECHS;
}

bool
auth_sasl_mech_supported(const char *mech)
{
	return mech != NULL && (strcasecmp(mech, "PLAIN") == 0 ||
	    strcasecmp(mech, "LOGIN") == 0);
}

/* ---- per-session callbacks ------------------------------------------ */

static int
auth_sasl_checkpass(sasl_conn_t *conn, void *context, const char *user,
    const char *pass, unsigned passlen, struct propctx *propctx)
{
	struct auth_sasl	*s = context;
	char			 pw[AUTH_PASSWORD_MAX + 1];
	const char		*canon = NULL;
	bool			 ok;

	if (user == NULL || pass == NULL || passlen > AUTH_PASSWORD_MAX ||
	    strlen(user) > AUTH_LOGIN_MAX)
		return SASL_BADAUTH;
	/* pass need not be NUL-terminated; a NUL inside is never valid. */
	memcpy(pw, pass, passlen);
	pw[passlen] = '\0';
	if (strlen(pw) != passlen) {
		explicit_bzero(pw, sizeof(pw));
		return SASL_BADAUTH;
	}
	ok = s->checker(s->arg, user, pw, &canon);
	explicit_bzero(pw, sizeof(pw));
	if (!ok)
		return SASL_BADAUTH;
	free(s->pending);
	s->pending = xstrdup(canon != NULL ? canon : user);
	return SASL_OK;
}

/* No proxy authentication: authzid, if sent, must name the same login. */
static int
auth_sasl_authorize(sasl_conn_t *conn, void *context,
    const char *requested_user, unsigned rlen, const char *auth_identity,
    unsigned alen, const char *def_realm, unsigned urlen,
    struct propctx *propctx)
{
	struct auth_sasl	*s = context;

	if (requested_user == NULL || auth_identity == NULL || rlen != alen ||
	    strncasecmp(requested_user, auth_identity, alen) != 0) {
		s->error = "authorization identity differs from "
		    "authentication identity";
		sasl_seterror(conn, SASL_NOLOG, "%s", s->error);
		return SASL_NOAUTHZ;
	}
	return SASL_OK;
}

/*
 * libsasl2 wants "addr;port"; we get "addr:port" or "[v6]:port".
 * Returns a malloced string or NULL (then libsasl2 gets no address,
 * which PLAIN and LOGIN do not need).
 */
static char *
auth_sasl_ipport(const char *in)
{
	const char	*colon, *end;

	if (in == NULL || *in == '\0')
		return NULL;
	if (strchr(in, ';') != NULL)
		return xstrdup(in);
	if ((colon = strrchr(in, ':')) == NULL)
		return NULL;
	if (in[0] == '[') {
		if ((end = strchr(in, ']')) == NULL || end + 1 != colon)
			return NULL;
		return xasprintf("%.*s;%s", (int)(end - in - 1), in + 1,
		    colon + 1);
	}
	if (strchr(in, ':') != colon)
		return NULL;		/* bare IPv6 without brackets */
	return xasprintf("%.*s;%s", (int)(colon - in), in, colon + 1);
}

int
auth_sasl_new(const char *service, const char *server_fqdn,
    const char *local_ip_port, const char *remote_ip_port,
    auth_sasl_checker *checker, void *arg, struct auth_sasl **s_r,
    const char **error_r)
{
	struct auth_sasl	*s;
	char			*lip, *rip;
	int			 rc;

	*s_r = NULL;
	if (!auth_sasl_ready) {
		*error_r = "SASL is not initialised";
		return -1;
	}
	if (service == NULL || checker == NULL) {
		*error_r = "SASL session needs a service and a checker";
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->checker = checker;
	s->arg = arg;
	s->cbs[0].id = SASL_CB_SERVER_USERDB_CHECKPASS;
	s->cbs[0].proc = AUTH_SASL_CB(auth_sasl_checkpass);
	s->cbs[0].context = s;
	s->cbs[1].id = SASL_CB_PROXY_POLICY;
	s->cbs[1].proc = AUTH_SASL_CB(auth_sasl_authorize);
	s->cbs[1].context = s;
	s->cbs[2].id = SASL_CB_LIST_END;
	lip = auth_sasl_ipport(local_ip_port);
	rip = auth_sasl_ipport(remote_ip_port);
	rc = sasl_server_new(service, server_fqdn, NULL, lip, rip, s->cbs, 0,
	    &s->conn);
	if (rc == SASL_BADPARAM && (lip != NULL || rip != NULL)) {
		/* An address libsasl2 cannot parse: PLAIN/LOGIN need none. */
		rc = sasl_server_new(service, server_fqdn, NULL, NULL, NULL,
		    s->cbs, 0, &s->conn);
	}
	free(lip);
	free(rip);
	if (rc != SASL_OK) {
		log_err("auth sasl session failed error=\"%s\"",
		    sasl_errstring(rc, NULL, NULL));
		free(s);
		*error_r = "libsasl2 could not create a session";
		return -1;
	}
	*s_r = s;
	return 0;
}

void
auth_sasl_free(struct auth_sasl **sp)
{
	struct auth_sasl	*s = *sp;

	if (s == NULL)
		return;
	sasl_dispose(&s->conn);
	free(s->pending);
	free(s->user);
	free(s);
	*sp = NULL;
}

static enum auth_sasl_result
auth_sasl_result(struct auth_sasl *s, int rc, const char *out,
    unsigned outlen, const char **challenge_r, size_t *challenge_len_r)
{
	switch (rc) {
	case SASL_CONTINUE:
		*challenge_r = out != NULL ? out : "";
		*challenge_len_r = out != NULL ? outlen : 0;
		return AUTH_SASL_CONTINUE;
	case SASL_OK:
		if (s->pending == NULL) {
			/* Success without our checker: must not happen. */
			s->error = "libsasl2 succeeded without our check";
			log_err("auth sasl %s", s->error);
			return AUTH_SASL_ERROR;
		}
		free(s->user);
		s->user = s->pending;
		s->pending = NULL;
		return AUTH_SASL_OK;
	case SASL_NOMEM:
	case SASL_NOTINIT:
	case SASL_BADVERS:
	case SASL_BADPARAM:
	case SASL_UNAVAIL:
	case SASL_FAIL:
		xfree(s->pending);
		return AUTH_SASL_ERROR;
	default:
		xfree(s->pending);
		return AUTH_SASL_FAIL;
	}
}

enum auth_sasl_result
auth_sasl_start_blocking(struct auth_sasl *s, const char *mech,
    const char *initial_response, size_t len, const char **challenge_r,
    size_t *challenge_len_r)
{
	const char	*out = NULL;
	unsigned	 outlen = 0;
	int		 rc;

	*challenge_r = NULL;
	*challenge_len_r = 0;
	s->error = NULL;
	xfree(s->pending);
	xfree(s->user);
	if (!auth_sasl_mech_supported(mech)) {
		s->error = "unsupported mechanism";
		return AUTH_SASL_FAIL;
	}
	if (len > AUTH_SASL_INPUT_MAX) {
		s->error = "initial response too long";
		return AUTH_SASL_FAIL;
	}
	if (initial_response == NULL)
		len = 0;
	rc = sasl_server_start(s->conn, mech, initial_response,
	    (unsigned)len, &out, &outlen);
	return auth_sasl_result(s, rc, out, outlen, challenge_r,
	    challenge_len_r);
}

enum auth_sasl_result
auth_sasl_step_blocking(struct auth_sasl *s, const char *response,
    size_t len, const char **challenge_r, size_t *challenge_len_r)
{
	const char	*out = NULL;
	unsigned	 outlen = 0;
	int		 rc;

	*challenge_r = NULL;
	*challenge_len_r = 0;
	s->error = NULL;
	if (s->user != NULL) {
		s->error = "exchange already complete";
		return AUTH_SASL_FAIL;
	}
	if (len > AUTH_SASL_INPUT_MAX) {
		s->error = "response too long";
		return AUTH_SASL_FAIL;
	}
	if (response == NULL) {
		response = "";
		len = 0;
	}
	rc = sasl_server_step(s->conn, response, (unsigned)len, &out,
	    &outlen);
	return auth_sasl_result(s, rc, out, outlen, challenge_r,
	    challenge_len_r);
}

const char *
auth_sasl_user(const struct auth_sasl *s)
{
	return s->user;
}

const char *
auth_sasl_error(const struct auth_sasl *s)
{
	if (s->error != NULL)
		return s->error;
	return s->conn != NULL ? sasl_errdetail(s->conn) : "no session";
}
