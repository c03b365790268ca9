/*
 * managesieve_session.c - the ManageSieve server session (RFC 5804) on
 * listen.managesieve: the conn vtable, bounded line and literal reading,
 * the capability response, STARTTLS (2.2), AUTHENTICATE PLAIN checked on
 * the worker pool (2.1, PLAIN only after TLS), UNAUTHENTICATE (2.14),
 * LOGOUT, NOOP, HAVESPACE, PUTSCRIPT/CHECKSCRIPT (compiled by the Sieve
 * compiler before anything is stored; errors carry the line number),
 * LISTSCRIPTS, GETSCRIPT, SETACTIVE, DELETESCRIPT and RENAMESCRIPT over
 * the script storage of lda.h, with the response codes of RFC 5804 1.3.
 *
 * Owns struct msv_session, its login job (a struct auth_job, see
 * auth_job.h) and its script job (struct msv_job).  A job names its
 * session by conn id and finds it again with conn_lookup(); a job whose
 * session went away frees itself.  Every file access and every compile runs on a worker.
 *
 * Threads: msv_job_run() runs on workers [worker], and so do the login
 * steps, inside auth_job.c; everything else on the loop thread [loop].
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "auth.h"
#include "auth_job.h"
#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "lda.h"
#include "log.h"
#include "loop.h"
#include "managesieve.h"
#include "managesieve_parse.h"
#include "sieve.h"
#include "work.h"
#include "xmalloc.h"

#define MSV_LINE_MAX		8192	/* one command line */
#define MSV_LITERAL_PREAUTH	12288	/* a SASL response (RFC 4954 4) */
#define MSV_LITERAL_DROP	(4 * LDA_SCRIPT_MAX)	/* then hang up */
#define MSV_MAX_ERRORS		20

#define MSV_SIEVE_EXTENSIONS	"fileinto reject ereject envelope " \
	"encoded-character copy body variables vacation vacation-seconds " \
	"imap4flags relational subaddress regex spamtest spamtestplus " \
	"mailbox comparator-i;ascii-numeric"

enum msv_state {
	MSV_S_CMD = 0,		/* reading commands */
	MSV_S_SASL,		/* waiting for a SASL response string */
	MSV_S_BUSY,		/* a job runs; input waits */
	MSV_S_CLOSING
};

static const char *const msv_state_names[] = {
	"command", "sasl", "busy", "closing"
};

enum msv_op {
	MSV_OP_LIST = 0, MSV_OP_PUT, MSV_OP_CHECK, MSV_OP_GET, MSV_OP_ACTIVATE,
	MSV_OP_DELETE, MSV_OP_RENAME, MSV_OP_HAVESPACE
};

/* One storage command on a worker. */
struct msv_job {
	uint64_t		 sid;
	struct gen		*gen;
	enum msv_op		 op;
	char			*account;
	char			*name;
	char			*name2;
	char			*text;
	size_t			 len;
	uint64_t		 size;
	/* results */
	enum lda_st		 st;
	char			*error;		/* LDA_ERROR detail */
	bool			 bad_script;
	struct sieve_error	 serr;
	struct lda_script_info	*list;
	size_t			 nlist;
};

struct msv_session {
	struct conn		*c;
	uint64_t		 id;
	const struct conf	*conf;
	enum msv_state		 state;
	bool			 shutdown;
	bool			 skip_line;
	unsigned int		 errors;
	char			*user;
	struct auth_job		*auth;		/* AUTHENTICATE exchange */
	struct event		*delay_ev;
	struct msv_job		*job;
	struct msv_cmd		 cmd;
	/* A literal being read. */
	bool			 in_literal;
	uint64_t		 lit_left;
	bool			 lit_drop;
	struct buf		 lit;
	char			 line[MSV_LINE_MAX + 1];
};

static void	msv_input(void *);
static void	msv_resume(struct msv_session *);

/* ---- helpers -------------------------------------------------------- */

static struct msv_session *
msv_lookup(uint64_t id)
{
	struct conn	*c = conn_lookup(id);

	if (c == NULL || conn_closing(c) ||
	    conn_service(c) != SVC_MANAGESIEVE)
		return NULL;
	return conn_session(c);
}

static void
msv_enter(struct msv_session *s, enum msv_state next)
{
	if (s->state == next)
		return;
	log_debug("%016" PRIx64 " managesieve state=%s next=%s", s->id,
	    msv_state_names[s->state], msv_state_names[next]);
	s->state = next;
}

static void
msv_close(struct msv_session *s)
{
	msv_enter(s, MSV_S_CLOSING);
	conn_close(s->c);
}

/* A string in the response: quoted when short and plain, else literal. */
static void
msv_string(struct buf *b, const char *str, size_t len)
{
	size_t	 i;

	if (len > 1024 || memchr(str, '\r', len) || memchr(str, '\n', len) ||
	    memchr(str, '\0', len)) {
		buf_printf(b, "{%zu}\r\n", len);
		buf_append(b, str, len);
		return;
	}
	buf_puts(b, "\"");
	for (i = 0; i < len; i++) {
		if (str[i] == '"' || str[i] == '\\')
			buf_puts(b, "\\");
		buf_append(b, &str[i], 1);
	}
	buf_puts(b, "\"");
}

/* OK/NO/BYE [(code)] "text" */
static void
msv_reply(struct msv_session *s, const char *kind, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void
msv_reply(struct msv_session *s, const char *kind, const char *code,
    const char *fmt, ...)
{
	struct buf	 b = BUF_INIT;
	va_list		 ap;
	char		*text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	buf_puts(&b, kind);
	if (code != NULL)
		buf_printf(&b, " (%s)", code);
	buf_puts(&b, " ");
	msv_string(&b, text, strlen(text));
	buf_puts(&b, "\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
	free(text);
}

/* A protocol error: counted, and too many of them end the session. */
static void
msv_bad(struct msv_session *s, const char *text)
{
	msv_reply(s, "NO", NULL, "%s", text);
	if (++s->errors >= MSV_MAX_ERRORS) {
		log_info("%016" PRIx64 " managesieve too many errors=%u",
		    s->id, s->errors);
		msv_reply(s, "BYE", NULL, "Too many errors");
		msv_close(s);
	}
}

/* RFC 5804 2.1 / RFC 8314: no cleartext password before TLS. */
static bool
msv_auth_allowed(const struct msv_session *s)
{
	return conn_tls(s->c);
}

/* RFC 5804 1.7: the capability response. */
static void
msv_capability(struct msv_session *s)
{
	struct buf	 b = BUF_INIT;

	buf_puts(&b, "\"IMPLEMENTATION\" \"postern\"\r\n");
	buf_printf(&b, "\"SASL\" \"%s\"\r\n",
	    msv_auth_allowed(s) && s->user == NULL ? "PLAIN" : "");
	buf_puts(&b, "\"SIEVE\" \"" MSV_SIEVE_EXTENSIONS "\"\r\n");
	if (!conn_tls(s->c) && s->user == NULL)
		buf_puts(&b, "\"STARTTLS\"\r\n");
	buf_printf(&b, "\"MAXREDIRECTS\" \"%d\"\r\n", SIEVE_MAX_REDIRECTS);
	if (s->user != NULL) {
		buf_puts(&b, "\"OWNER\" ");
		msv_string(&b, s->user, strlen(s->user));
		buf_puts(&b, "\r\n");
	}
	buf_puts(&b, "\"UNAUTHENTICATE\"\r\n\"VERSION\" \"1.0\"\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
}

/* ---- script commands on the worker pool -------------------------------- */

static void
msv_job_free(struct msv_job *j)
{
	if (j == NULL)
		return;
	lda_script_list_free(&j->list, j->nlist);
	free(j->account);
	free(j->name);
	free(j->name2);
	free(j->text);
	free(j->error);
	gen_unref(&j->gen);
	free(j);
}

/* [worker] */
static void
msv_job_run(void *arg)
{
	struct msv_job		*j = arg;
	const struct conf	*conf = j->gen->conf;
	struct sieve_script	*sc;
	const char		*e = NULL;

	switch (j->op) {
	case MSV_OP_PUT:
	case MSV_OP_CHECK:
		memset(&j->serr, 0, sizeof(j->serr));
		if ((sc = sieve_compile(j->text, j->len, &j->serr)) == NULL) {
			j->bad_script = true;
			return;
		}
		sieve_script_free(&sc);
		if (j->op == MSV_OP_PUT)
			j->st = lda_script_put_blocking(conf, j->account,
			    j->name, j->text, j->len, &e);
		else
			j->st = LDA_OK;
		break;
	case MSV_OP_LIST:
		j->st = lda_script_list_blocking(conf, j->account, &j->list,
		    &j->nlist, &e);
		break;
	case MSV_OP_GET:
		j->st = lda_script_get_blocking(conf, j->account, j->name,
		    &j->text, &j->len, &e);
		break;
	case MSV_OP_ACTIVATE:
		j->st = lda_script_activate_blocking(conf, j->account, j->name,
		    &e);
		break;
	case MSV_OP_DELETE:
		j->st = lda_script_delete_blocking(conf, j->account, j->name,
		    &e);
		break;
	case MSV_OP_RENAME:
		j->st = lda_script_rename_blocking(conf, j->account, j->name,
		    j->name2, &e);
		break;
	case MSV_OP_HAVESPACE:
		j->st = lda_script_havespace_blocking(conf, j->account,
		    j->name, j->size, &e);
		break;
	}
	if (j->st == LDA_ERROR)
		j->error = xstrdup(e != NULL ? e : "unknown");
}

/* The reply for a failed storage operation. */
static void
msv_job_error(struct msv_session *s, const struct msv_job *j)
{
	switch (j->st) {
	case LDA_NONEXISTENT:
		msv_reply(s, "NO", "NONEXISTENT", "There is no script by "
		    "that name");
		break;
	case LDA_ACTIVE:
		msv_reply(s, "NO", "ACTIVE", "You may not delete an active "
		    "script");
		break;
	case LDA_ALREADYEXISTS:
		msv_reply(s, "NO", "ALREADYEXISTS", "A script with that name "
		    "already exists");
		break;
	case LDA_QUOTA_SIZE:
		msv_reply(s, "NO", "QUOTA/MAXSIZE", "Script is larger than "
		    "%d bytes", LDA_SCRIPT_MAX);
		break;
	case LDA_QUOTA_COUNT:
		msv_reply(s, "NO", "QUOTA/MAXSCRIPTS", "Too many scripts "
		    "(at most %d)", LDA_SCRIPTS_MAX);
		break;
	case LDA_BADNAME:
		msv_reply(s, "NO", NULL, "Invalid script name");
		break;
	case LDA_ERROR:
	default:
		log_err("%016" PRIx64 " managesieve user=%s error=\"%s\"",
		    s->id, s->user, j->error != NULL ? j->error : "unknown");
		msv_reply(s, "NO", "TRYLATER", "Temporary storage failure");
		break;
	}
}

/* [loop] */
static void
msv_job_done(void *arg)
{
	struct msv_job		*j = arg;
	struct msv_session	*s = msv_lookup(j->sid);
	struct buf		 b = BUF_INIT;
	size_t			 i;

	if (s == NULL || s->job != j) {
		msv_job_free(j);
		return;
	}
	s->job = NULL;
	if (j->bad_script) {
		/* RFC 5804 2.6: a human-readable reason, with the line. */
		log_info("%016" PRIx64 " managesieve user=%s script=%s "
		    "invalid=\"%s\"", s->id, s->user,
		    j->name != NULL ? j->name : "-", j->serr.msg);
		msv_reply(s, "NO", NULL, "%s", j->serr.msg);
	} else if (j->st != LDA_OK)
		msv_job_error(s, j);
	else {
		switch (j->op) {
		case MSV_OP_LIST:
			for (i = 0; i < j->nlist; i++) {
				msv_string(&b, j->list[i].name,
				    strlen(j->list[i].name));
				buf_puts(&b, j->list[i].active ? " ACTIVE\r\n" :
				    "\r\n");
			}
			conn_write(s->c, b.data, b.len);
			buf_free(&b);
			msv_reply(s, "OK", NULL, "Listscripts completed.");
			break;
		case MSV_OP_GET:
			buf_printf(&b, "{%zu}\r\n", j->len);
			buf_append(&b, j->text, j->len);
			buf_puts(&b, "\r\n");
			conn_write(s->c, b.data, b.len);
			buf_free(&b);
			msv_reply(s, "OK", NULL, "Getscript completed.");
			break;
		case MSV_OP_PUT:
			log_info("%016" PRIx64 " managesieve user=%s putscript=%s "
			    "size=%zu", s->id, s->user, j->name, j->len);
			msv_reply(s, "OK", NULL, "Putscript completed.");
			break;
		case MSV_OP_CHECK:
			msv_reply(s, "OK", NULL, "Script is valid.");
			break;
		case MSV_OP_ACTIVATE:
			log_info("%016" PRIx64 " managesieve user=%s active=%s",
			    s->id, s->user, *j->name ? j->name : "(none)");
			msv_reply(s, "OK", NULL, "Setactive completed.");
			break;
		case MSV_OP_DELETE:
			msv_reply(s, "OK", NULL, "Deletescript completed.");
			break;
		case MSV_OP_RENAME:
			msv_reply(s, "OK", NULL, "Renamescript completed.");
			break;
		case MSV_OP_HAVESPACE:
			msv_reply(s, "OK", NULL, "Putscript would succeed.");
			break;
		}
	}
	msv_job_free(j);
	msv_enter(s, MSV_S_CMD);
	msv_resume(s);
}

static struct msv_job *
msv_job_new(struct msv_session *s, enum msv_op op)
{
	struct msv_job	*j = xcalloc(1, sizeof(*j));

	j->sid = s->id;
	j->gen = gen_ref(conn_gen(s->c));
	j->op = op;
	j->account = xstrdup(s->user);
	return j;
}

static void
msv_job_submit(struct msv_session *s, struct msv_job *j)
{
	s->job = j;
	msv_enter(s, MSV_S_BUSY);
	conn_read_enable(s->c, false);
	work_submit(msv_job_run, msv_job_done, j);
}

/* ---- authentication on the worker pool --------------------------------- */

/* [loop] Drop the exchange; a step still running is freed by auth_job. */
static void
msv_auth_drop(struct msv_session *s)
{
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	s->delay_ev = NULL;
	auth_job_free(&s->auth);
}

static void
msv_auth_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct msv_session	*s = arg;

	event_free(s->delay_ev);
	s->delay_ev = NULL;
	msv_reply(s, "NO", NULL, "Authentication failed.");
	msv_enter(s, MSV_S_CMD);
	msv_resume(s);
}

static void
msv_auth_failed(struct msv_session *s)
{
	struct timeval		 tv;
	int			 ms;

	ms = auth_job_failed(conn_peer_sa(s->c));
	if (ms > 0) {
		s->delay_ev = evtimer_new(loop_base(), msv_auth_delayed, s);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(s->delay_ev, &tv);
		msv_enter(s, MSV_S_BUSY);
		conn_read_enable(s->c, false);
		return;
	}
	msv_reply(s, "NO", NULL, "Authentication failed.");
	msv_enter(s, MSV_S_CMD);
	msv_resume(s);
}

/* [loop] A step of s->auth finished. */
static void
msv_auth_done(uint64_t sid, struct auth_job *j, enum auth_sasl_result res)
{
	struct msv_session	*s = msv_lookup(sid);
	struct buf		 b = BUF_INIT;
	char			*b64;

	/* Closing: msv_auth_drop() frees the job with the session. */
	if (s == NULL || s->auth != j)
		return;
	switch (res) {
	case AUTH_SASL_CONTINUE:
		/* RFC 5804 2.1: the challenge is a base64 string. */
		b64 = auth_job_challenge_b64(j);
		msv_string(&b, b64, strlen(b64));
		buf_puts(&b, "\r\n");
		conn_write(s->c, b.data, b.len);
		buf_free(&b);
		free(b64);
		msv_enter(s, MSV_S_SASL);
		s->cmd.no_verb = true;
		msv_resume(s);
		return;
	case AUTH_SASL_OK:
		s->user = xstrdup(auth_job_user(j));
		auth_job_succeeded(conn_peer_sa(s->c));
		log_info("%016" PRIx64 " managesieve auth ok user=%s mech=%s",
		    s->id, s->user, auth_job_mech(j));
		auth_job_free(&s->auth);
		msv_reply(s, "OK", NULL, "Logged in.");
		msv_enter(s, MSV_S_CMD);
		msv_resume(s);
		return;
	case AUTH_SASL_FAIL:
		log_info("%016" PRIx64 " managesieve auth failed mech=%s "
		    "client=%s error=\"%s\"", s->id, auth_job_mech(j),
		    conn_peer_ip(s->c), auth_job_error(j));
		auth_job_free(&s->auth);
		msv_auth_failed(s);
		return;
	case AUTH_SASL_ERROR:
	default:
		log_err("%016" PRIx64 " managesieve auth error mech=%s "
		    "error=\"%s\"", s->id, auth_job_mech(j), auth_job_error(j));
		auth_job_free(&s->auth);
		msv_reply(s, "NO", "TRYLATER", "Temporary authentication "
		    "failure");
		msv_enter(s, MSV_S_CMD);
		msv_resume(s);
		return;
	}
}

/* [loop] A step was handed to a worker: read nothing until it is done. */
static void
msv_auth_busy(struct msv_session *s)
{
	s->cmd.no_verb = false;
	msv_enter(s, MSV_S_BUSY);
	conn_read_enable(s->c, false);
}

static int
msv_b64(const struct msv_arg *a, char **out_r, size_t *len_r)
{
	const char	*err;

	if (a->len == 0) {
		*out_r = NULL;
		*len_r = 0;
		return 0;
	}
	return auth_b64_decode(a->s, a->len, out_r, len_r, &err);
}

static void
msv_cmd_authenticate(struct msv_session *s, const struct msv_cmd *cmd)
{
	struct auth_job		*j;
	const char		*err;
	char			*resp = NULL;
	size_t			 resp_len = 0;

	if (s->user != NULL) {
		msv_bad(s, "Already authenticated");
		return;
	}
	if (cmd->nargs < 1 || cmd->nargs > 2 || !cmd->args[0].string) {
		msv_bad(s, "Usage: AUTHENTICATE \"mechanism\" [\"response\"]");
		return;
	}
	if (!msv_auth_allowed(s)) {
		msv_reply(s, "NO", "ENCRYPT-NEEDED", "Authentication requires "
		    "TLS: use STARTTLS first");
		return;
	}
	if (strcasecmp(cmd->args[0].s, "PLAIN") != 0) {
		msv_bad(s, "Unsupported authentication mechanism");
		return;
	}
	if (auth_job_refused(conn_peer_sa(s->c))) {
		log_info("%016" PRIx64 " managesieve auth refused client=%s "
		    "reason=throttle", s->id, conn_peer_ip(s->c));
		msv_reply(s, "NO", "TRYLATER", "Too many failed logins");
		return;
	}
	if (cmd->nargs == 2 && msv_b64(&cmd->args[1], &resp,
	    &resp_len) == -1) {
		msv_bad(s, "Invalid base64 data in initial response");
		return;
	}
	j = auth_job_new(s->id, conn_gen(s->c), "sieve", conn_local_ip(s->c),
	    conn_local_port(s->c), conn_peer_ip(s->c), conn_peer_port(s->c),
	    msv_auth_done);
	if (auth_job_start(j, "PLAIN", cmd->nargs == 2, resp, resp_len,
	    &err) == -1) {
		log_err("%016" PRIx64 " managesieve auth setup failed "
		    "error=\"%s\"", s->id, err);
		auth_job_free(&j);
		msv_reply(s, "NO", "TRYLATER", "Temporary authentication "
		    "failure");
		return;
	}
	s->auth = j;
	msv_auth_busy(s);
}

/* The client's response to a challenge (MSV_S_SASL). */
static void
msv_sasl_response(struct msv_session *s, const struct msv_cmd *cmd)
{
	char	*resp;
	size_t	 resp_len;

	s->cmd.no_verb = false;
	if (s->auth == NULL) {
		msv_enter(s, MSV_S_CMD);
		return;
	}
	if (cmd->error != NULL || cmd->nargs != 1 || !cmd->args[0].string) {
		msv_auth_drop(s);
		msv_enter(s, MSV_S_CMD);
		msv_bad(s, "Bad SASL response");
		return;
	}
	if (cmd->args[0].len == 1 && cmd->args[0].s[0] == '*') {
		/* RFC 5804 2.1: the client cancels. */
		msv_auth_drop(s);
		msv_enter(s, MSV_S_CMD);
		msv_reply(s, "NO", NULL, "Authentication cancelled.");
		return;
	}
	if (msv_b64(&cmd->args[0], &resp, &resp_len) == -1) {
		msv_auth_drop(s);
		msv_enter(s, MSV_S_CMD);
		msv_bad(s, "Invalid base64 data in response");
		return;
	}
	auth_job_step(s->auth, resp, resp_len);
	msv_auth_busy(s);
}

/* ---- commands --------------------------------------------------------- */

static void
msv_cmd_starttls(struct msv_session *s)
{
	const char	*err;

	if (conn_tls(s->c) || s->user != NULL) {
		msv_bad(s, "TLS is already active or not allowed now");
		return;
	}
	msv_reply(s, "OK", NULL, "Begin TLS negotiation now.");
	if (conn_starttls(s->c, &err) == -1) {
		log_err("%016" PRIx64 " managesieve starttls error=\"%s\"",
		    s->id, err);
		msv_close(s);
	}
}

/* RFC 5804 2.2: after the handshake the server sends its capabilities. */
static void
msv_tls_ready(void *arg)
{
	struct msv_session	*s = arg;

	msv_capability(s);
	msv_reply(s, "OK", NULL, "TLS negotiation successful.");
}

/* Arguments: n strings (name validation for the name ones). */
static bool
msv_args(struct msv_session *s, const struct msv_cmd *cmd, size_t n,
    const char *usage)
{
	size_t	 i;

	if (cmd->nargs != n) {
		msv_bad(s, usage);
		return false;
	}
	for (i = 0; i < n; i++)
		if (!cmd->args[i].string || memchr(cmd->args[i].s, '\0',
		    cmd->args[i].len) != NULL) {
			msv_bad(s, usage);
			return false;
		}
	return true;
}

static bool
msv_name_ok(struct msv_session *s, const struct msv_arg *a, bool allow_empty)
{
	if (allow_empty && a->len == 0)
		return true;
	if (!lda_script_name_valid(a->s, a->len)) {
		msv_reply(s, "NO", NULL, "Invalid script name");
		return false;
	}
	return true;
}

static void
msv_cmd_auth_state(struct msv_session *s, struct msv_cmd *cmd)
{
	const char	*v = cmd->verb;
	struct msv_job	*j;
	char		*end;

	if (strcmp(v, "LISTSCRIPTS") == 0) {
		if (msv_args(s, cmd, 0, "Usage: LISTSCRIPTS"))
			msv_job_submit(s, msv_job_new(s, MSV_OP_LIST));
	} else if (strcmp(v, "PUTSCRIPT") == 0) {
		if (!msv_args(s, cmd, 2, "Usage: PUTSCRIPT name script") ||
		    !msv_name_ok(s, &cmd->args[0], false))
			return;
		if (cmd->oversize || cmd->args[1].len > LDA_SCRIPT_MAX) {
			msv_reply(s, "NO", "QUOTA/MAXSIZE", "Script is larger "
			    "than %d bytes", LDA_SCRIPT_MAX);
			return;
		}
		j = msv_job_new(s, MSV_OP_PUT);
		j->name = xstrdup(cmd->args[0].s);
		j->text = cmd->args[1].s;
		j->len = cmd->args[1].len;
		cmd->args[1].s = NULL;
		msv_job_submit(s, j);
	} else if (strcmp(v, "CHECKSCRIPT") == 0) {
		if (!msv_args(s, cmd, 1, "Usage: CHECKSCRIPT script"))
			return;
		if (cmd->oversize || cmd->args[0].len > LDA_SCRIPT_MAX) {
			msv_reply(s, "NO", "QUOTA/MAXSIZE", "Script is larger "
			    "than %d bytes", LDA_SCRIPT_MAX);
			return;
		}
		j = msv_job_new(s, MSV_OP_CHECK);
		j->text = cmd->args[0].s;
		j->len = cmd->args[0].len;
		cmd->args[0].s = NULL;
		msv_job_submit(s, j);
	} else if (strcmp(v, "GETSCRIPT") == 0 ||
	    strcmp(v, "DELETESCRIPT") == 0 || strcmp(v, "SETACTIVE") == 0) {
		if (!msv_args(s, cmd, 1, "Usage: GETSCRIPT|DELETESCRIPT|"
		    "SETACTIVE name") ||
		    !msv_name_ok(s, &cmd->args[0], v[0] == 'S'))
			return;
		j = msv_job_new(s, v[0] == 'G' ? MSV_OP_GET :
		    v[0] == 'D' ? MSV_OP_DELETE : MSV_OP_ACTIVATE);
		j->name = xstrdup(cmd->args[0].s);
		msv_job_submit(s, j);
	} else if (strcmp(v, "RENAMESCRIPT") == 0) {
		if (!msv_args(s, cmd, 2, "Usage: RENAMESCRIPT old new") ||
		    !msv_name_ok(s, &cmd->args[0], false) ||
		    !msv_name_ok(s, &cmd->args[1], false))
			return;
		j = msv_job_new(s, MSV_OP_RENAME);
		j->name = xstrdup(cmd->args[0].s);
		j->name2 = xstrdup(cmd->args[1].s);
		msv_job_submit(s, j);
	} else if (strcmp(v, "HAVESPACE") == 0) {
		if (cmd->nargs != 2 || !cmd->args[0].string ||
		    cmd->args[1].string || cmd->args[1].len == 0 ||
		    cmd->args[1].len > 19 ||
		    cmd->args[1].s[strspn(cmd->args[1].s, "0123456789")] !=
		    '\0') {
			msv_bad(s, "Usage: HAVESPACE name size");
			return;
		}
		if (!msv_name_ok(s, &cmd->args[0], false))
			return;
		j = msv_job_new(s, MSV_OP_HAVESPACE);
		j->name = xstrdup(cmd->args[0].s);
		j->size = strtoull(cmd->args[1].s, &end, 10);
		msv_job_submit(s, j);
	} else if (strcmp(v, "UNAUTHENTICATE") == 0) {
		log_info("%016" PRIx64 " managesieve unauthenticate user=%s",
		    s->id, s->user);
		xfree(s->user);
		msv_reply(s, "OK", NULL, "Unauthenticated.");
	} else
		msv_bad(s, "Unknown command");
}

static void
msv_cmd(struct msv_session *s, struct msv_cmd *cmd)
{
	const char	*v = cmd->verb;

	if (cmd->error != NULL) {
		msv_bad(s, cmd->error);
		return;
	}
	if (strcmp(v, "CAPABILITY") == 0) {
		msv_capability(s);
		msv_reply(s, "OK", NULL, "Capability completed.");
	} else if (strcmp(v, "LOGOUT") == 0) {
		msv_reply(s, "OK", NULL, "Logout completed.");
		msv_close(s);
	} else if (strcmp(v, "NOOP") == 0) {
		if (cmd->nargs > 1 || (cmd->nargs == 1 &&
		    !cmd->args[0].string))
			msv_bad(s, "Usage: NOOP [tag]");
		else if (cmd->nargs == 1) {
			/* RFC 5804 2.13: echo the tag. */
			struct buf	 b = BUF_INIT;

			buf_puts(&b, "OK (TAG ");
			msv_string(&b, cmd->args[0].s, cmd->args[0].len);
			buf_puts(&b, ") \"Done\"\r\n");
			conn_write(s->c, b.data, b.len);
			buf_free(&b);
		} else
			msv_reply(s, "OK", NULL, "NOOP completed.");
	} else if (strcmp(v, "STARTTLS") == 0)
		msv_cmd_starttls(s);
	else if (strcmp(v, "AUTHENTICATE") == 0)
		msv_cmd_authenticate(s, cmd);
	else if (s->user == NULL)
		msv_bad(s, "Authenticate first");
	else
		msv_cmd_auth_state(s, cmd);
}

/* ---- input ------------------------------------------------------------ */

/* Read the literal's bytes: true when all have arrived. */
static bool
msv_literal_input(struct msv_session *s, struct evbuffer *in)
{
	size_t	 avail = evbuffer_get_length(in), n;
	char	 tmp[4096];

	while (s->lit_left > 0 && avail > 0) {
		n = s->lit_left < sizeof(tmp) ? (size_t)s->lit_left :
		    sizeof(tmp);
		if (n > avail)
			n = avail;
		evbuffer_remove(in, tmp, n);
		if (!s->lit_drop)
			buf_append(&s->lit, tmp, n);
		s->lit_left -= n;
		avail -= n;
	}
	explicit_bzero(tmp, sizeof(tmp));
	if (s->lit_left > 0)
		return false;
	s->in_literal = false;
	if (s->lit_drop)
		msv_cmd_literal(&s->cmd, NULL, 0);
	else
		msv_cmd_literal(&s->cmd, s->lit.data != NULL ? s->lit.data :
		    "", s->lit.len);
	if (s->lit.data != NULL)
		explicit_bzero(s->lit.data, s->lit.len);
	buf_reset(&s->lit);
	return true;
}

static void
msv_dispatch(struct msv_session *s)
{
	if (s->state == MSV_S_SASL)
		msv_sasl_response(s, &s->cmd);
	else
		msv_cmd(s, &s->cmd);
	msv_cmd_clear(&s->cmd);
}

/*
 * One CRLF line: 1 if handled, 0 to wait for more input.  A line longer
 * than MSV_LINE_MAX is dropped as it arrives (STYLE habit 2).
 */
static int
msv_line_input(struct msv_session *s, struct evbuffer *in)
{
	struct evbuffer_ptr	 eol;
	size_t			 eol_len, len, avail;
	uint64_t		 lit = 0, max;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
	if (eol.pos == -1) {
		avail = evbuffer_get_length(in);
		if (avail <= MSV_LINE_MAX)
			return 0;
		evbuffer_drain(in, avail - 1);
		s->skip_line = true;
		return 0;
	}
	len = (size_t)eol.pos;
	if (s->skip_line || len > MSV_LINE_MAX) {
		evbuffer_drain(in, len + eol_len);
		s->skip_line = false;
		log_info("%016" PRIx64 " managesieve line too long", s->id);
		msv_cmd_clear(&s->cmd);
		if (s->state == MSV_S_SASL) {
			msv_auth_drop(s);
			s->cmd.no_verb = false;
			msv_enter(s, MSV_S_CMD);
		}
		msv_bad(s, "Line too long");
		return 1;
	}
	evbuffer_remove(in, s->line, len);
	evbuffer_drain(in, eol_len);
	s->line[len] = '\0';
	conn_trace_in(s->c, s->line, len, s->state == MSV_S_SASL);
	if (memchr(s->line, '\0', len) != NULL && s->cmd.error == NULL)
		s->cmd.error = "NUL in command line";
	if (msv_parse_line(&s->cmd, s->line, len, &lit) == MSV_P_LITERAL) {
		explicit_bzero(s->line, len);
		max = s->user != NULL ? LDA_SCRIPT_MAX : MSV_LITERAL_PREAUTH;
		if (lit > MSV_LITERAL_DROP || (s->user == NULL && lit > max)) {
			log_info("%016" PRIx64 " managesieve literal too large "
			    "size=%" PRIu64, s->id, lit);
			msv_reply(s, "BYE", NULL, "Literal too large");
			msv_close(s);
			return 1;
		}
		s->in_literal = true;
		s->lit_left = lit;
		s->lit_drop = lit > max || s->cmd.error != NULL;
		return 1;
	}
	explicit_bzero(s->line, len);
	msv_dispatch(s);
	return 1;
}

static void
msv_input(void *arg)
{
	struct msv_session	*s = arg;
	struct evbuffer		*in;

	while (!conn_closing(s->c)) {
		if (s->state != MSV_S_CMD && s->state != MSV_S_SASL)
			return;
		if (s->shutdown && !s->in_literal) {
			msv_reply(s, "BYE", "TRYLATER", "Server shutting down");
			msv_close(s);
			return;
		}
		in = conn_input(s->c);
		if (s->in_literal) {
			if (!msv_literal_input(s, in))
				return;
			continue;
		}
		if (msv_line_input(s, in) == 0)
			return;
	}
}

static void
msv_resume(struct msv_session *s)
{
	if (conn_closing(s->c))
		return;
	conn_read_enable(s->c, true);
	msv_input(s);
}

/* ---- the conn vtable -------------------------------------------------- */

static void *
msv_start(struct conn *c)
{
	struct msv_session	*s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->id = conn_id(c);
	s->conf = conn_gen(c)->conf;
	buf_init(&s->lit, 0);
	/* RFC 5804 1.7: the greeting is a capability response. */
	msv_capability(s);
	msv_reply(s, "OK", NULL, "postern ManageSieve ready.");
	return s;
}

static void
msv_timeout(void *arg)
{
	struct msv_session	*s = arg;

	msv_reply(s, "BYE", NULL, "Disconnected for inactivity.");
	msv_enter(s, MSV_S_CLOSING);
}

static void
msv_shutdown(void *arg)
{
	struct msv_session	*s = arg;

	s->shutdown = true;
	if ((s->state == MSV_S_CMD || s->state == MSV_S_SASL) &&
	    !s->in_literal) {
		msv_reply(s, "BYE", "TRYLATER", "Server shutting down");
		msv_close(s);
	}
}

static void
msv_free(void *arg)
{
	struct msv_session	*s = arg;

	msv_auth_drop(s);
	/* A job in flight finds no session and frees itself. */
	s->job = NULL;
	msv_cmd_clear(&s->cmd);
	if (s->lit.data != NULL)
		explicit_bzero(s->lit.data, s->lit.len);
	buf_free(&s->lit);
	free(s->user);
	free(s);
}

static const struct proto msv_proto = {
	"managesieve", msv_start, msv_input, NULL, msv_timeout, msv_shutdown,
	msv_tls_ready, msv_free, "BYE (TRYLATER) \"Too many connections\""
};

const struct proto *
managesieve_proto(enum conn_svc svc)
{
	(void)svc;
	return &msv_proto;
}
