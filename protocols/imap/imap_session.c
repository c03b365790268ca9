/*
 * imap_session.c - the IMAP server session (RFC 9051, RFC 3501) on 143
 * (STARTTLS) and 993 (implicit TLS): the conn vtable, the input loop over
 * the incremental parser (imap_parse.h), the command table with the state
 * each verb needs (RFC 9051 6), reply helpers, autologout (5.4) and
 * shutdown.  The verbs live in imap_cmd_<verb>.c.
 *
 * Sessions per user and client address are counted (imap_userip) and
 * capped by max_connections_per_user at login, as POP3 does and like
 * Dovecot's mail_max_userip_connections.
 *
 * Owns struct imap_session.  A command that waits for a worker job or
 * for output to drain puts the session in IMAP_M_BUSY with reading off;
 * its completion finds the session by conn id (imap_session_lookup) and
 * calls imap_cmd_finish(), which re-drains pipelined input (STYLE 2.3.7).
 *
 * Threads: the loop thread only.  [loop]
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "buf.h"
#include "conf.h"
#include "conn.h"
#include "hmap.h"
#include "imap.h"
#include "imap_private.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "utf7.h"
#include "xmalloc.h"

static void	imap_trace_cmd(struct imap_session *, const struct imap_cmd *);

struct imap_verb {
	const char	*name;
	enum imap_state	 min;		/* lowest state it is valid in */
	bool		 notauth_only;
	imap_cmd_fn	*fn;
};

/* RFC 9051 6.1 (any state), 6.2 (not authenticated), 6.3, 6.4. */
static const struct imap_verb imap_verbs[] = {
	{ "CAPABILITY", IMAP_S_NOTAUTH, false, imap_cmd_capability },
	{ "NOOP", IMAP_S_NOTAUTH, false, imap_cmd_noop },
	{ "LOGOUT", IMAP_S_NOTAUTH, false, imap_cmd_logout },
	{ "ID", IMAP_S_NOTAUTH, false, imap_cmd_id },
	{ "STARTTLS", IMAP_S_NOTAUTH, true, imap_cmd_starttls },
	{ "LOGIN", IMAP_S_NOTAUTH, true, imap_cmd_login },
	{ "AUTHENTICATE", IMAP_S_NOTAUTH, true, imap_cmd_authenticate },
	{ "ENABLE", IMAP_S_AUTH, false, imap_cmd_enable_ext },
	{ "COMPRESS", IMAP_S_AUTH, false, imap_cmd_compress },
	{ "GETQUOTAROOT", IMAP_S_AUTH, false, imap_cmd_getquota },
	{ "GETQUOTA", IMAP_S_AUTH, false, imap_cmd_getquota },
	{ "SETQUOTA", IMAP_S_AUTH, false, imap_cmd_getquota },
	{ "NAMESPACE", IMAP_S_AUTH, false, imap_cmd_namespace },
	{ "LIST", IMAP_S_AUTH, false, imap_cmd_list },
	{ "LSUB", IMAP_S_AUTH, false, imap_cmd_list },
	{ "CREATE", IMAP_S_AUTH, false, imap_cmd_create },
	{ "DELETE", IMAP_S_AUTH, false, imap_cmd_delete },
	{ "RENAME", IMAP_S_AUTH, false, imap_cmd_rename },
	{ "SUBSCRIBE", IMAP_S_AUTH, false, imap_cmd_subscribe },
	{ "UNSUBSCRIBE", IMAP_S_AUTH, false, imap_cmd_subscribe },
	{ "STATUS", IMAP_S_AUTH, false, imap_cmd_status },
	{ "SELECT", IMAP_S_AUTH, false, imap_cmd_select },
	{ "EXAMINE", IMAP_S_AUTH, false, imap_cmd_select },
	{ "APPEND", IMAP_S_AUTH, false, imap_cmd_append },
	{ "IDLE", IMAP_S_AUTH, false, imap_cmd_idle },
	{ "CHECK", IMAP_S_SELECTED, false, imap_cmd_check },
	{ "CLOSE", IMAP_S_SELECTED, false, imap_cmd_close },
	{ "UNSELECT", IMAP_S_SELECTED, false, imap_cmd_close },
	{ "FETCH", IMAP_S_SELECTED, false, imap_cmd_fetch },
	{ "UID FETCH", IMAP_S_SELECTED, false, imap_cmd_fetch },
	{ "STORE", IMAP_S_SELECTED, false, imap_cmd_store },
	{ "UID STORE", IMAP_S_SELECTED, false, imap_cmd_store },
	{ "EXPUNGE", IMAP_S_SELECTED, false, imap_cmd_expunge },
	{ "UID EXPUNGE", IMAP_S_SELECTED, false, imap_cmd_expunge },
	{ "COPY", IMAP_S_SELECTED, false, imap_cmd_copy_move },
	{ "UID COPY", IMAP_S_SELECTED, false, imap_cmd_copy_move },
	{ "MOVE", IMAP_S_SELECTED, false, imap_cmd_copy_move },
	{ "UID MOVE", IMAP_S_SELECTED, false, imap_cmd_copy_move },
	{ "SEARCH", IMAP_S_SELECTED, false, imap_cmd_search },
	{ "UID SEARCH", IMAP_S_SELECTED, false, imap_cmd_search },
	{ "SORT", IMAP_S_SELECTED, false, imap_cmd_sort },
	{ "UID SORT", IMAP_S_SELECTED, false, imap_cmd_sort },
	{ "THREAD", IMAP_S_SELECTED, false, imap_cmd_sort_thread },
	{ "UID THREAD", IMAP_S_SELECTED, false, imap_cmd_sort_thread },
};

static struct hmap	*imap_sessions;		/* id -> session */
static struct hmap	*imap_userip;		/* "user\0ip" -> count */

static void	imap_input(void *);

struct imap_session *
imap_session_lookup(uint64_t id)
{
	struct imap_session	*s;

	if (imap_sessions == NULL || conn_lookup(id) == NULL)
		return NULL;
	s = hmap_get(imap_sessions, &id, sizeof(id));
	if (s == NULL || conn_closing(s->c))
		return NULL;
	return s;
}

void
imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
{
	va_list		 ap;

	conn_printf(s->c, "%s %s ", s->cmd != NULL ? s->cmd->tag : "*",
	    status);
	va_start(ap, fmt);
	conn_vprintf(s->c, fmt, ap);
	va_end(ap);
	conn_puts(s->c, "\r\n");
}

void
imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list		 ap;

	conn_puts(s->c, "* ");
	va_start(ap, fmt);
	conn_vprintf(s->c, fmt, ap);
	va_end(ap);
	conn_puts(s->c, "\r\n");
}

/*
 * True for a loopback peer: 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
 * Like Dovecot, which counts such connections as secured so that
 * disable_plaintext_auth does not apply (local webmail, tests); nobody
 * outside the host can read loopback traffic.  [any]
 */
bool
imap_addr_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*a;
	static const uint8_t		 mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (sa == NULL)
		return false;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		a = sin6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		return memcmp(a, mapped, sizeof(mapped)) == 0 && a[12] == 127;
	default:
		return false;
	}
}

/*
 * Plain-text credentials may be sent: under TLS, or from a loopback
 * peer (RFC 9051 11.1 asks for TLS against eavesdroppers, which a
 * loopback connection does not have).
 */
bool
imap_secured(const struct imap_session *s)
{
	return conn_tls(s->c) || s->loopback;
}

void
imap_capability_line(struct imap_session *s, struct buf *out)
{
	bool	 tls = conn_tls(s->c);

	buf_puts(out, "IMAP4rev1 IMAP4rev2");
	if (s->state == IMAP_S_NOTAUTH) {
		buf_puts(out, " SASL-IR");
		if (!tls)
			buf_puts(out, " STARTTLS");
		if (imap_secured(s))
			buf_puts(out, " AUTH=PLAIN AUTH=LOGIN");
		else
			buf_puts(out, " LOGINDISABLED");
	}
	buf_puts(out, " LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MOVE MULTIAPPEND "
	    "UNSELECT CHILDREN SPECIAL-USE");
	/* RFC 7162, 9208, 8438, 5258, 5819, 6154, 3516, 4978 (slice B). */
	buf_puts(out, " CONDSTORE QRESYNC QUOTA QUOTA=RES-STORAGE "
	    "STATUS=SIZE LIST-EXTENDED LIST-STATUS CREATE-SPECIAL-USE BINARY");
	/* RFC 4731, 5182, 5256, 5957, 7889 (slice A). */
	buf_puts(out, " ESEARCH SEARCHRES SORT SORT=DISPLAY "
	    "THREAD=ORDEREDSUBJECT THREAD=REFERENCES");
	/* RFC 6855 3 (RFC 9051 servers accept UTF-8 once enabled). */
	buf_puts(out, " UTF8=ACCEPT");
	if (s->conf != NULL && s->conf->message_size_limit > 0)
		buf_printf(out, " APPENDLIMIT=%llu",
		    (unsigned long long)s->conf->message_size_limit);
	if (s->z == NULL && s->state != IMAP_S_NOTAUTH)
		buf_puts(out, " COMPRESS=DEFLATE");
}

void
imap_busy(struct imap_session *s)
{
	s->mode = IMAP_M_BUSY;
	conn_read_enable(s->c, false);
}

void
imap_cmd_finish(struct imap_session *s)
{
	imap_cmd_free(&s->cmd);
	if (s->op_free != NULL && s->op != NULL)
		s->op_free(s->op);
	s->op = NULL;
	s->op_free = NULL;
	if (s->mode == IMAP_M_BUSY)
		s->mode = IMAP_M_CMD;
	if (conn_closing(s->c))
		return;
	conn_read_enable(s->c, true);
	/* Inside imap_input the loop goes on by itself: no recursion. */
	if (!s->in_input)
		imap_input(s);
}

void *
imap_job_arg(struct imap_session *s)
{
	uint64_t	*id = xmalloc(sizeof(*id));

	*id = s->id;
	return id;
}

struct imap_session *
imap_job_session(void *arg)
{
	uint64_t	 id = *(uint64_t *)arg;

	free(arg);
	return imap_session_lookup(id);
}

void
imap_job_done_ok(void *arg, int result, const char *error)
{
	struct imap_session	*s = imap_job_session(arg);

	if (s == NULL)
		return;
	if (result == 0)
		imap_tagged(s, "OK", "%s completed", s->cmd->name);
	else
		imap_tagged(s, "NO", "%s%s", result == -1 ?
		    "[SERVERBUG] " : "", error != NULL ? error : "Failed");
	imap_cmd_finish(s);
}

void
imap_resume(struct imap_session *s)
{
	if (conn_closing(s->c))
		return;
	conn_read_enable(s->c, true);
	imap_input(s);
}

void
imap_close(struct imap_session *s)
{
	s->state = IMAP_S_LOGOUT;
	conn_close(s->c);
}

static void
imap_login_ready(void *arg)
{
	struct imap_session	*s = imap_job_session(arg);
	struct buf		 cap = BUF_INIT;

	if (s == NULL)
		return;
	imap_capability_line(s, &cap);
	imap_tagged(s, "OK", "[CAPABILITY %s] Logged in", cap.data);
	buf_free(&cap);
	imap_cmd_finish(s);
}

void
imap_limits_update(struct imap_session *s)
{
	struct imap_parse_limits	 lim;

	imap_parse_limits_default(&lim, s->state != IMAP_S_NOTAUTH);
	if (s->state != IMAP_S_NOTAUTH && s->conf->message_size_limit > 0)
		lim.max_append_literal = s->conf->message_size_limit;
	/* RFC 6855 3: 8-bit UTF-8 in quoted strings once enabled. */
	lim.utf8 = s->enabled_utf8;
	imap_parser_set_limits(s->parser, &lim);
}

/* Drop the session's user+IP count. */
static void
imap_userip_release(struct imap_session *s)
{
	uintptr_t	 n;

	if (s->userip == NULL)
		return;
	n = (uintptr_t)hmap_get(imap_userip, s->userip, s->userip_len);
	if (n <= 1)
		hmap_del(imap_userip, s->userip, s->userip_len);
	else
		hmap_put(imap_userip, s->userip, s->userip_len,
		    (void *)(n - 1));
	xfree(s->userip);
	if (hmap_count(imap_userip) == 0)
		hmap_free(&imap_userip, NULL);
}

int
imap_logged_in(struct imap_session *s, const char *user)
{
	const char	*ip = conn_peer_ip(s->c);
	size_t		 ulen = strlen(user), iplen;
	uintptr_t	 n;
	char		*key;

	/* The same key and rule as pop3_lock() (pop3_session.c). */
	if (ip == NULL)
		ip = "";
	iplen = strlen(ip);
	key = xmalloc(ulen + 1 + iplen + 1);
	memcpy(key, user, ulen + 1);
	memcpy(key + ulen + 1, ip, iplen + 1);
	if (imap_userip == NULL)
		imap_userip = hmap_new();
	n = (uintptr_t)hmap_get(imap_userip, key, ulen + 1 + iplen);
	if (s->conf->max_connections_per_user > 0 &&
	    n >= (uintptr_t)s->conf->max_connections_per_user) {
		free(key);
		if (hmap_count(imap_userip) == 0)
			hmap_free(&imap_userip, NULL);
		log_info("%016" PRIx64 " imap refused user=%s "
		    "reason=max_connections_per_user", s->id, user);
		/* RFC 5530 3: LIMIT; the client may log in elsewhere. */
		imap_tagged(s, "NO", "[LIMIT] Maximum number of connections "
		    "from user+IP exceeded (max_connections_per_user=%d)",
		    s->conf->max_connections_per_user);
		s->mode = IMAP_M_BUSY;
		imap_cmd_finish(s);
		return -1;
	}
	hmap_put(imap_userip, key, ulen + 1 + iplen, (void *)(n + 1));
	s->userip = key;
	s->userip_len = ulen + 1 + iplen;
	s->user = xstrdup(user);
	s->state = IMAP_S_AUTH;
	imap_limits_update(s);
	/*
	 * INBOX and the special-use folders (idempotent, store_account.c);
	 * the tagged OK waits for them so a LIST right after sees them.
	 */
	s->mode = IMAP_M_BUSY;
	conn_read_enable(s->c, false);
	store_account_ensure(s->store, user, imap_login_ready,
	    imap_job_arg(s));
	return 0;
}

bool
imap_args_n(struct imap_cmd *cmd, size_t n)
{
	return cmd->nargs == n;
}

char *
imap_mailbox_arg(struct imap_session *s, const struct imap_arg *a)
{
	struct buf	 out;
	const char	*str, *p;
	size_t		 len;

	if (!imap_arg_astring(a, &str, &len)) {
		imap_tagged(s, "BAD", "Mailbox name expected");
		return NULL;
	}
	buf_init(&out, 1024);
	if (s->enabled_utf8 ? buf_append(&out, str, len) == -1 :
	    utf7_decode(str, len, &out) == -1) {
		buf_free(&out);
		imap_tagged(s, "NO", "Invalid mailbox name encoding");
		return NULL;
	}
	if (out.data == NULL)
		buf_puts(&out, "");
	/*
	 * Never a path: no '/', no empty hierarchy level ("a..b", ".a",
	 * "a."), no ".." or "~" (the store refuses them as well).
	 */
	p = out.data;
	if (out.len == 0 || strchr(p, '/') != NULL || strstr(p, "..") ||
	    p[0] == '.' || p[0] == '~' || p[out.len - 1] == '.' ||
	    strlen(p) != out.len) {
		buf_free(&out);
		imap_tagged(s, "NO", "[CANNOT] Invalid mailbox name");
		return NULL;
	}
	if (strcasecmp(out.data, "INBOX") == 0)
		memcpy(out.data, "INBOX", 5);
	return buf_steal(&out, NULL);
}

void
imap_mailbox_out(struct imap_session *s, const char *name, struct buf *out)
{
	struct buf	 enc = BUF_INIT;
	const char	*p;

	if (s->enabled_utf8 || utf7_encode(name, strlen(name), &enc) == -1) {
		buf_free(&enc);
		buf_puts(&enc, name);
	}
	buf_putc(out, '"');
	for (p = enc.data != NULL ? enc.data : ""; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(out, '\\');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
	buf_free(&enc);
}

/*
 * A keyword name that can go out as an atom (RFC 9051 9 flag-keyword).
 * Names imported from a dovecot-keywords file may hold anything but
 * spaces and controls; such a one is not shown rather than break the
 * response.
 */
static bool
imap_keyword_atom(const char *k)
{
	if (*k == '\0')
		return false;
	for (; *k != '\0'; k++)
		if ((unsigned char)*k <= 0x20 || (unsigned char)*k >= 0x7f ||
		    strchr("(){%*\"\\]", *k) != NULL)
			return false;
	return true;
}

void
imap_flags_out(uint32_t flags, uint64_t keywords, const char *const *kwnames,
    struct buf *out)
{
	static const struct {
		uint32_t	 bit;
		const char	*name;
	} sysnames[] = {
		{ STORE_F_ANSWERED, "\\Answered" },
		{ STORE_F_FLAGGED, "\\Flagged" },
		{ STORE_F_DELETED, "\\Deleted" },
		{ STORE_F_SEEN, "\\Seen" },
		{ STORE_F_DRAFT, "\\Draft" },
	};
	size_t	 i;
	bool	 first = true;

	buf_putc(out, '(');
	for (i = 0; i < sizeof(sysnames) / sizeof(sysnames[0]); i++) {
		if (!(flags & sysnames[i].bit))
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, sysnames[i].name);
		first = false;
	}
	for (i = 0; kwnames != NULL && i < STORE_MBOX_KEYWORDS_MAX; i++) {
		if (!(keywords & ((uint64_t)1 << i)) || kwnames[i] == NULL ||
		    !imap_keyword_atom(kwnames[i]))
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, kwnames[i]);
		first = false;
	}
	buf_putc(out, ')');
}

void
imap_flags_announce(struct imap_session *s, const char *const *kwnames)
{
	struct buf	 kw = BUF_INIT;
	size_t		 i, n = 0;

	s->kwdefined = 0;
	for (i = 0; kwnames != NULL && i < STORE_MBOX_KEYWORDS_MAX; i++) {
		if (kwnames[i] == NULL)
			continue;
		s->kwdefined |= (uint64_t)1 << i;
		n++;
		if (imap_keyword_atom(kwnames[i]))
			buf_printf(&kw, " %s", kwnames[i]);
	}
	imap_untagged(s, "FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft%s)", kw.data != NULL ? kw.data : "");
	/*
	 * RFC 9051 7.1: "\*" says new keywords may be created; not once
	 * the mailbox holds as many as the index can.
	 */
	if (s->readonly)
		imap_untagged(s, "OK [PERMANENTFLAGS ()] Read-only mailbox");
	else
		imap_untagged(s, "OK [PERMANENTFLAGS (\\Answered \\Flagged "
		    "\\Deleted \\Seen \\Draft%s%s)] Flags permitted",
		    kw.data != NULL ? kw.data : "",
		    n < STORE_MBOX_KEYWORDS_MAX ? " \\*" : "");
	buf_free(&kw);
}

/* System flag name -> STORE_F_*; 0 for keywords and \Recent. */
uint32_t
imap_flag_bit(const char *name)
{
	static const struct {
		const char	*name;
		uint32_t	 bit;
	} map[] = {
		{ "\\Seen", STORE_F_SEEN }, { "\\Answered", STORE_F_ANSWERED },
		{ "\\Flagged", STORE_F_FLAGGED },
		{ "\\Deleted", STORE_F_DELETED }, { "\\Draft", STORE_F_DRAFT },
	};
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(name, map[i].name) == 0)
			return map[i].bit;
	return 0;
}

static void
imap_dispatch(struct imap_session *s, struct imap_cmd *cmd)
{
	const struct imap_verb	*v = NULL;
	size_t			 i;

	s->cmd = cmd;
	for (i = 0; i < sizeof(imap_verbs) / sizeof(imap_verbs[0]); i++)
		if (strcmp(imap_verbs[i].name, cmd->name) == 0) {
			v = &imap_verbs[i];
			break;
		}
	if (v == NULL)
		imap_tagged(s, "BAD", "Unknown command");
	else if (s->state < v->min)
		imap_tagged(s, "BAD", "%s", s->state == IMAP_S_NOTAUTH ?
		    "Log in first" : "Select a mailbox first");
	else if (v->notauth_only && s->state != IMAP_S_NOTAUTH)
		imap_tagged(s, "BAD", "Already authenticated");
	else {
		log_debug("%016" PRIx64 " imap cmd=%s", s->id, cmd->name);
		v->fn(s, cmd);
	}
	if (s->mode == IMAP_M_CMD || s->mode == IMAP_M_IDLE ||
	    s->mode == IMAP_M_SASL) {
		if (s->mode == IMAP_M_CMD)
			imap_cmd_free(&s->cmd);
	}
}

/* Feed the parser from the connection; false if nothing was buffered. */
static bool
imap_feed(struct imap_session *s)
{
	struct evbuffer	*in = conn_input(s->c);
	char		 chunk[IMAP_READ_CHUNK];
	int		 n;

	if (s->z != NULL) {
		/* COMPRESS=DEFLATE: inflate in front of the parser. */
		if ((n = imap_compress_read(s, chunk, sizeof(chunk))) == -1) {
			conn_puts(s->c, "* BYE Corrupt compressed data\r\n");
			imap_close(s);
			return false;
		}
		if (n > 0)
			imap_parser_feed(s->parser, chunk, (size_t)n);
		return n > 0;
	}
	if (evbuffer_get_length(in) == 0)
		return false;
	n = evbuffer_remove(in, chunk, sizeof(chunk));
	if (n <= 0)
		return false;
	imap_parser_feed(s->parser, chunk, (size_t)n);
	return true;
}

/*
 * Consume everything already buffered until we must wait.  Called by
 * conn on input and by imap_cmd_finish() after a job.
 */
static void
imap_input_loop(struct imap_session *s)
{
	struct imap_cmd		*cmd;
	enum imap_parse_result	 r;
	const char		*err;
	char			*line;
	size_t			 len;

	while (!conn_closing(s->c)) {
		if (s->mode == IMAP_M_BUSY)
			return;
		if (s->mode == IMAP_M_SASL || s->mode == IMAP_M_IDLE) {
			r = imap_parser_next_line(s->parser, &line, &len, &err);
			if (r == IMAP_PARSE_NEED_MORE) {
				if (!imap_feed(s))
					return;
				continue;
			}
			if (r == IMAP_PARSE_ERROR) {
				conn_puts(s->c, "* BYE Line too long\r\n");
				imap_close(s);
				return;
			}
			conn_trace_in(s->c, line, len, s->mode == IMAP_M_SASL);
			if (s->mode == IMAP_M_SASL)
				imap_auth_line(s, line, len);
			else
				imap_idle_line(s, line, len);
			free(line);
			continue;
		}
		if (s->shutdown) {
			conn_puts(s->c, "* BYE Server shutting down\r\n");
			imap_close(s);
			return;
		}
		cmd = NULL;
		r = imap_parser_next(s->parser, &cmd, &err);
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			if (!imap_feed(s))
				return;
			break;
		case IMAP_PARSE_CONTINUE:
			conn_puts(s->c, "+ Ready for literal data\r\n");
			break;
		case IMAP_PARSE_ERROR:
			if (cmd != NULL && cmd->fatal) {
				conn_printf(s->c, "* BYE %s\r\n", err);
				imap_cmd_free(&cmd);
				imap_close(s);
				return;
			}
			conn_printf(s->c, "%s BAD %s%s\r\n", cmd != NULL ?
			    cmd->tag : "*", cmd != NULL && cmd->toobig ?
			    "[TOOBIG] " : "", err);
			imap_cmd_free(&cmd);
			break;
		case IMAP_PARSE_CMD:
			imap_trace_cmd(s, cmd);
			imap_dispatch(s, cmd);
			break;
		default:
			imap_cmd_free(&cmd);
			return;
		}
	}
}


/*
 * Debug trace of a parsed command: tag and name only (arguments are not
 * re-serialized); LOGIN and AUTHENTICATE carry credentials, so their
 * arguments show as redacted.
 */
static void
imap_trace_cmd(struct imap_session *s, const struct imap_cmd *cmd)
{
	char	 line[256];
	int	 n;
	bool	 secret = strcasecmp(cmd->name, "LOGIN") == 0 ||
		    strcasecmp(cmd->name, "AUTHENTICATE") == 0;

	if (!log_debug_enabled())
		return;
	n = snprintf(line, sizeof(line), "%s %s%s", cmd->tag, cmd->name,
	    secret ? " *" : "");
	if (n > 0)
		conn_trace_in(s->c, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1, false);
}

static void
imap_input(void *arg)
{
	struct imap_session	*s = arg;

	if (s->in_input)
		return;
	s->in_input = true;
	imap_input_loop(s);
	s->in_input = false;
}

/* ---- the conn vtable ---- */

static void *
imap_start(struct conn *c)
{
	struct imap_session		*s = xcalloc(1, sizeof(*s));
	struct imap_parse_limits	 lim;
	struct buf			 cap = BUF_INIT;

	s->c = c;
	s->id = conn_id(c);
	s->svc = conn_service(c);
	s->conf = conn_gen(c)->conf;
	s->store = loop_shared()->store;
	s->loopback = imap_addr_loopback(conn_peer_sa(c));
	imap_parse_limits_default(&lim, false);
	s->parser = imap_parser_new(&lim);
	if (imap_sessions == NULL)
		imap_sessions = hmap_new();
	hmap_put(imap_sessions, &s->id, sizeof(s->id), s);
	conn_set_timeout(c, IMAP_AUTOLOGOUT);
	imap_capability_line(s, &cap);
	conn_printf(c, "* OK [CAPABILITY %s] postern ready\r\n", cap.data);
	buf_free(&cap);
	return s;
}

static void
imap_drained(void *arg)
{
	struct imap_session	*s = arg;

	if (s->fetch != NULL)
		imap_fetch_drained(s);
}

static void
imap_timeout(void *arg)
{
	struct imap_session	*s = arg;

	/* RFC 9051 5.4: the autologout timer. */
	conn_puts(s->c, "* BYE Autologout; idle for too long\r\n");
	imap_compress_flush(s);
	s->state = IMAP_S_LOGOUT;
}

static void
imap_shutdown(void *arg)
{
	struct imap_session	*s = arg;

	s->shutdown = true;
	if (s->mode == IMAP_M_CMD || s->mode == IMAP_M_IDLE) {
		conn_puts(s->c, "* BYE Server shutting down\r\n");
		imap_close(s);
	}
}

static void
imap_tls_ready(void *arg)
{
	struct imap_session	*s = arg;

	log_debug("%016" PRIx64 " imap tls ready", s->id);
}

static void
imap_free(void *arg)
{
	struct imap_session	*s = arg;

	hmap_del(imap_sessions, &s->id, sizeof(s->id));
	if (hmap_count(imap_sessions) == 0)
		hmap_free(&imap_sessions, NULL);
	imap_auth_free(s);
	imap_compress_free(s);
	imap_fetch_free(s);
	imap_unselect(s);
	if (s->op_free != NULL && s->op != NULL)
		s->op_free(s->op);
	imap_cmd_free(&s->cmd);
	imap_parser_free(&s->parser);
	imap_userip_release(s);
	free(s->user);
	free(s);
}

#define IMAP_PROTO(n, busy) { n, imap_start, imap_input, imap_drained, \
	imap_timeout, imap_shutdown, imap_tls_ready, imap_free, busy }

static const struct proto imap_protos[] = {
	IMAP_PROTO("imap", "* BYE Too many connections"),
	IMAP_PROTO("imaps", NULL),
};

const struct proto *
imap_proto(enum conn_svc svc)
{
	return svc == SVC_IMAPS ? &imap_protos[1] : &imap_protos[0];
}
