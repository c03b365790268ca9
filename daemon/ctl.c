/*
 * ctl.c - the control socket (protocol in ctl.h): local tools such as
 * `postern deliver` hand messages to the running daemon here, so every
 * delivery goes through the one store, its group commit and its
 * watchers (IMAP IDLE sees it at once).
 *
 * A session reads one request line, resolves the address with the
 * current generation's router (aliases, subaddress), then streams the
 * message body into a store spool file as it arrives (never more than
 * one read buffer in memory) and calls store_deliver.  The reply is
 * written from the store's completion, which runs on the loop thread
 * after the files are fsynced and the index committed.
 *
 * RELOAD waits the same way for loop_reload's answer: the new
 * generation is built by a worker job, and the reply carries the new
 * generation or every error on one line.
 *
 * Owns the listener, the socket file and struct ctl_session.  Threads:
 * loop only.  The store's or the reload's completion may run after the
 * loop stopped (work_shutdown drains it); the session then answers with
 * one non-blocking send() and is freed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "buf.h"
#include "queue.h"
#include "conf.h"
#include "conn.h"
#include "ctl.h"
#include "log.h"
#include "listen.h"
#include "loop.h"
#include "str.h"
#include "xmalloc.h"
/*
 * pst_core does not see the storage and router include directories
 * (CMakeLists.txt); until it does, name the headers by path.
 */
#include "route.h"
#include "store.h"

#define CTL_TIMEOUT	120		/* seconds without progress */
#define CTL_CHUNK	(64 * 1024)

enum ctl_state {
	CTL_S_LINE = 0,		/* waiting for the request line */
	CTL_S_BODY,		/* streaming the message into the spool */
	CTL_S_DRAIN,		/* refused: discard the body, then reply */
	CTL_S_BUSY,		/* store_deliver or a reload running */
	CTL_S_CLOSING		/* reply queued; free when written */
};

struct ctl_session {
	TAILQ_ENTRY(ctl_session) entry;
	uint64_t		 id;
	struct bufferevent	*bev;		/* NULL: peer gone or stopped */
	enum ctl_state		 state;
	uint64_t		 want;		/* body bytes still to come */
	char			*address;
	char			*err;		/* reply for CTL_S_DRAIN */
	struct store_msg	*msg;
	struct route_result	 route;
	bool			 routed;
	struct store_rcpt	*rcpts;
	char			**prepend;
	char			*folder;
	size_t			 n;
	bool			 import;	/* IMPORT: flags, no header */
	char			*flags;		/* IMPORT: flag list */
};

TAILQ_HEAD(ctl_list, ctl_session);

static struct evconnlistener	*ctl_lev;
static char			*ctl_path;
static struct ctl_list		 ctl_sessions =
    TAILQ_HEAD_INITIALIZER(ctl_sessions);
static uint64_t			 ctl_next_id = 1;
static bool			 ctl_stopped;

static void	ctl_read(struct bufferevent *, void *);

static void
ctl_free(struct ctl_session *s)
{
	size_t	 i;

	TAILQ_REMOVE(&ctl_sessions, s, entry);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	store_msg_free(&s->msg);
	if (s->routed)
		route_result_clear(&s->route);
	for (i = 0; i < s->n; i++)
		free(s->prepend[i]);
	free(s->prepend);
	free(s->rcpts);
	free(s->folder);
	free(s->flags);
	free(s->address);
	free(s->err);
	free(s);
}

/* Queue the reply and close once it is written. */
static struct timespec	 ctl_started;	/* ctl_start(): the daemon's start */

static void
ctl_reply(struct ctl_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ctl_reply(struct ctl_session *s, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	str_lcat(line, "\n", sizeof(line));
	if (s->bev == NULL || ctl_stopped) {
		/*
		 * No loop to flush it: one non-blocking send, which a fresh
		 * unix socket's buffer always takes for a line this short.
		 */
		if (s->bev != NULL)
			(void)send(bufferevent_getfd(s->bev), line,
			    strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
		ctl_free(s);
		return;
	}
	s->state = CTL_S_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_write(s->bev, line, strlen(line));
}

/*
 * "STATUS": "OK postern <version> generation=N connections=N uptime=S"
 * then "<service>=N" open connections for every service with a
 * listener (the CLI reads key=value fields, cmd_ctl.c).
 */
static void
ctl_status(struct ctl_session *s)
{
	struct timespec	 now;
	char		 line[512];
	size_t		 svc;
	int		 n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	n = snprintf(line, sizeof(line), "OK postern %s generation=%u "
	    "connections=%zu uptime=%lld", POSTERN_VERSION, loop_gen()->serial,
	    conn_count(), (long long)(now.tv_sec - ctl_started.tv_sec));
	for (svc = 0; svc < SVC__N && n > 0 && (size_t)n < sizeof(line);
	    svc++)
		if (listen_count_svc((enum conn_svc)svc) > 0)
			n += snprintf(line + n, sizeof(line) - (size_t)n,
			    " %s=%zu", conn_svc_name((enum conn_svc)svc),
			    conn_count_svc((enum conn_svc)svc));
	ctl_reply(s, "%s", line);
}

static void
ctl_write(struct bufferevent *bev, void *arg)
{
	struct ctl_session	*s = arg;

	if (s->state == CTL_S_CLOSING)
		ctl_free(s);
}

static void
ctl_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_session	*s = arg;

	if (s->state == CTL_S_BUSY) {
		/* The delivery or reload goes on; its completion frees us. */
		log_info("ctl %016" PRIx64 " client-gone state=busy", s->id);
		bufferevent_free(s->bev);
		s->bev = NULL;
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_info("ctl %016" PRIx64 " timeout", s->id);
	ctl_free(s);
}

/* ---- delivery ---- */

static void
ctl_deliver_done(void *arg)
{
	struct ctl_session	*s = arg;
	struct buf		 b = BUF_INIT;
	size_t			 i, ok = 0;
	char			*line;

	for (i = 0; i < s->n; i++) {
		if (s->rcpts[i].result == 0) {
			ok++;
			log_info("ctl %016" PRIx64 " delivered to=%s account=%s "
			    "mailbox=%s uid=%" PRIu32 " size=%" PRIu64, s->id,
			    s->address, s->rcpts[i].account,
			    s->rcpts[i].folder != NULL ? s->rcpts[i].folder :
			    "INBOX", s->rcpts[i].uid, store_msg_size(s->msg));
		} else {
			log_warn("ctl %016" PRIx64 " failed to=%s account=%s "
			    "result=%d error=\"%s\"", s->id, s->address,
			    s->rcpts[i].account, s->rcpts[i].result,
			    s->rcpts[i].error);
		}
	}
	if (ok == s->n) {
		buf_puts(&b, "OK uid=");
		for (i = 0; i < s->n; i++)
			buf_printf(&b, "%s%" PRIu32, i > 0 ? "," : "",
			    s->rcpts[i].uid);
	} else {
		buf_puts(&b, "ERR ");
		for (i = 0; i < s->n; i++) {
			if (i > 0)
				buf_puts(&b, "; ");
			if (s->rcpts[i].result == 0)
				buf_printf(&b, "%s: delivered uid=%" PRIu32,
				    s->rcpts[i].account, s->rcpts[i].uid);
			else
				buf_printf(&b, "%s: %s (%s)",
				    s->rcpts[i].account, s->rcpts[i].error,
				    s->rcpts[i].result == -1 ? "temporary" :
				    "permanent");
		}
	}
	line = buf_steal(&b, NULL);
	ctl_reply(s, "%s", line);
	free(line);
}

static void
ctl_deliver(struct ctl_session *s)
{
	struct store	*st = loop_shared()->store;

	if (st == NULL) {
		ctl_reply(s, "ERR the mail store is not open");
		return;
	}
	s->state = CTL_S_BUSY;
	bufferevent_disable(s->bev, EV_READ);
	store_deliver(st, s->msg, s->rcpts, s->n, ctl_deliver_done, s);
}

/*
 * The answer to RELOAD, from loop_reload (loop thread; at shutdown maybe
 * from work_shutdown, where ctl_reply sends once and frees).  The errors
 * come on the ERR line, so `postern reload` prints them (file:line).
 */
static void
ctl_reload_done(void *arg, int rc, unsigned serial, const char *error)
{
	struct ctl_session	*s = arg;

	if (rc == 0)
		ctl_reply(s, "OK generation=%u", serial);
	else
		ctl_reply(s, "ERR reload failed, generation=%u stays: %s",
		    serial, error != NULL ? error : "see the log");
}

/* Route the address; fills rcpts or returns the ERR text. */
static const char *
ctl_route(struct ctl_session *s, const char *folder)
{
	static char		 ebuf[512];
	struct gen		*g = loop_gen();
	const struct route_local *l;
	struct buf		 b = BUF_INIT;
	size_t			 i;

	if (g == NULL || g->route == NULL)
		return "the router is not ready";
	route_resolve(g->route, s->address, &s->route);
	s->routed = true;
	switch (s->route.kind) {
	case ROUTE_LOCAL:
		break;
	case ROUTE_REMOTE:
		snprintf(ebuf, sizeof(ebuf), "%s only forwards to remote "
		    "addresses; deliver stores locally only", s->address);
		return ebuf;
	case ROUTE_REJECT:
		snprintf(ebuf, sizeof(ebuf), "%s", s->route.text != NULL ?
		    s->route.text : "recipient rejected");
		return ebuf;
	case ROUTE_NOT_LOCAL:
	default:
		snprintf(ebuf, sizeof(ebuf), "%s: not a local domain",
		    s->address);
		return ebuf;
	}
	if (s->route.nlocal == 0)
		return "no local recipient";
	if (folder != NULL)
		s->folder = xstrdup(folder);
	s->rcpts = xcalloc(s->route.nlocal, sizeof(*s->rcpts));
	s->prepend = xcalloc(s->route.nlocal, sizeof(*s->prepend));
	for (i = 0; i < s->route.nlocal; i++) {
		l = &s->route.local[i];
		s->rcpts[i].account = l->name;
		s->rcpts[i].flags = s->flags;
		if (!s->import) {
			buf_printf(&b, "Delivered-To: %s\r\n", l->name);
			if (strcasecmp(s->address, l->name) != 0)
				buf_printf(&b, "X-Original-To: %s\r\n",
				    s->address);
			s->prepend[i] = buf_steal(&b, NULL);
			s->rcpts[i].prepend = s->prepend[i];
		}
		if (s->folder != NULL) {
			/* Asked for by name: a missing folder is an error. */
			s->rcpts[i].folder = s->folder;
			s->rcpts[i].folder_fallback = false;
		} else {
			s->rcpts[i].folder = l->folder;	/* subaddress */
			s->rcpts[i].folder_fallback = true;
		}
		s->n++;
	}
	buf_free(&b);
	return NULL;
}

/*
 * "QUEUE LIST|SHOW id|FLUSH|DELETE id|BOUNCE id" (postern queue): the
 * text lines of queue_ctl_*, then "OK" or "ERR reason".
 */
static void
ctl_queue(struct ctl_session *s, char *req)
{
	struct queue	*q = loop_shared()->queue;
	const char	*err = NULL, *arg;
	char		*out = NULL;
	int		 rc;

	if (q == NULL) {
		ctl_reply(s, "ERR no outbound queue");
		return;
	}
	arg = strchr(req, ' ') != NULL ? strchr(req, ' ') + 1 : "";
	if (strcasecmp(req, "LIST") == 0)
		rc = queue_ctl_list(q, &out, &err);
	else if (strncasecmp(req, "SHOW ", 5) == 0)
		rc = queue_ctl_show(q, arg, &out, &err);
	else if (strcasecmp(req, "FLUSH") == 0)
		rc = queue_ctl_flush(q, &err);
	else if (strncasecmp(req, "DELETE ", 7) == 0)
		rc = queue_ctl_delete(q, arg, &err);
	else if (strncasecmp(req, "BOUNCE ", 7) == 0)
		rc = queue_ctl_bounce(q, arg, &err);
	else {
		rc = -1;
		err = "usage: QUEUE LIST|SHOW id|FLUSH|DELETE id|BOUNCE id";
	}
	if (out != NULL && s->bev != NULL && !ctl_stopped)
		bufferevent_write(s->bev, out, strlen(out));
	free(out);
	if (rc == -1)
		ctl_reply(s, "ERR %s", err);
	else
		ctl_reply(s, "OK");
}

/*
 * "DELIVER <address> [<folder>] <size>": the folder is whatever lies
 * between, so it may contain spaces.  "IMPORT (<flags>) <address>
 * [<folder>] <size>" (postern import) is the same, but stores the
 * message as it comes (no Delivered-To) with the IMAP flags and
 * keywords of the list, which may be empty: "IMPORT () ...".
 */
static void
ctl_request(struct ctl_session *s, char *line)
{
	const struct conf	*conf = loop_gen()->conf;
	const char		*err;
	char			*sp, *last, *folder = NULL;
	uint64_t		 size;

	if (strcmp(line, "PING") == 0) {
		ctl_reply(s, "OK postern %s", POSTERN_VERSION);
		return;
	}
	/*
	 * "RELOAD": what SIGHUP does (postern account runs it after each
	 * change).  The new generation is built on a worker: the session
	 * waits in CTL_S_BUSY and ctl_reload_done answers.
	 */
	if (strcmp(line, "RELOAD") == 0) {
		s->state = CTL_S_BUSY;
		bufferevent_disable(s->bev, EV_READ);
		loop_reload(ctl_reload_done, s);
		return;
	}
	if (strcmp(line, "STATUS") == 0) {
		ctl_status(s);
		return;
	}
	if (strncmp(line, "QUEUE ", 6) == 0) {
		ctl_queue(s, line + 6);
		return;
	}
	if (strncmp(line, "IMPORT (", 8) == 0) {
		if ((sp = strchr(line + 8, ')')) == NULL || sp[1] != ' ') {
			ctl_reply(s, "ERR usage: IMPORT (<flags>) <address> "
			    "[<folder>] <size>");
			return;
		}
		s->import = true;
		s->flags = xstrndup(line + 8, (size_t)(sp - (line + 8)));
		line = sp + 2;
	} else if (strncmp(line, "DELIVER ", 8) == 0)
		line += 8;
	else {
		ctl_reply(s, "ERR unknown request (DELIVER, IMPORT, PING, "
		    "QUEUE, RELOAD or STATUS)");
		return;
	}
	if ((last = strrchr(line, ' ')) == NULL || (sp = strchr(line,
	    ' ')) == NULL || str_to_u64(last + 1, UINT64_MAX, &size) == -1) {
		ctl_reply(s, "ERR usage: DELIVER <address> [<folder>] <size>");
		return;
	}
	*sp = '\0';
	*last = '\0';
	if (sp < last)
		folder = sp + 1;
	if (line[0] == '\0' || strchr(line, '@') == NULL) {
		ctl_reply(s, "ERR bad address '%s'", line);
		return;
	}
	if (folder != NULL && folder[0] == '\0') {
		ctl_reply(s, "ERR empty folder name");
		return;
	}
	s->address = xstrdup(line);
	if (size > conf->message_size_limit) {
		ctl_reply(s, "ERR message size %" PRIu64 " exceeds "
		    "message_size_limit %" PRIu64, size,
		    conf->message_size_limit);
		return;
	}
	s->want = size;
	if ((err = ctl_route(s, folder)) != NULL) {
		/* Read the body anyway, so the client sees the reply. */
		s->err = xstrdup(err);
		s->state = CTL_S_DRAIN;
		return;
	}
	if (store_msg_begin(loop_shared()->store, &s->msg, &err) == -1) {
		log_err("ctl %016" PRIx64 " spool error=\"%s\"", s->id, err);
		s->err = xstrdup("cannot spool the message (see the log)");
		s->state = CTL_S_DRAIN;
		return;
	}
	s->state = CTL_S_BODY;
}

static void
ctl_read(struct bufferevent *bev, void *arg)
{
	struct ctl_session	*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const char		*err;
	char			*line, chunk[8192];
	size_t			 len, n;

	if (s->state == CTL_S_LINE) {
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > CTL_LINE_MAX)
				ctl_reply(s, "ERR request line too long");
			return;
		}
		if (len > CTL_LINE_MAX || strlen(line) != len) {
			free(line);
			ctl_reply(s, "ERR request line too long or has NUL");
			return;
		}
		ctl_request(s, line);
		free(line);
		if (s->state != CTL_S_BODY && s->state != CTL_S_DRAIN)
			return;
	}
	while (s->want > 0 && (len = evbuffer_get_length(in)) > 0) {
		n = len < sizeof(chunk) ? len : sizeof(chunk);
		if (n > s->want)
			n = (size_t)s->want;
		evbuffer_remove(in, chunk, n);
		s->want -= n;
		if (s->state == CTL_S_BODY &&
		    store_msg_write(s->msg, chunk, n, &err) == -1) {
			log_err("ctl %016" PRIx64 " spool error=\"%s\"", s->id,
			    err);
			s->err = xstrdup("cannot spool the message (see the "
			    "log)");
			s->state = CTL_S_DRAIN;
		}
	}
	if (s->want > 0)
		return;
	if (s->state == CTL_S_DRAIN)
		ctl_reply(s, "ERR %s", s->err);
	else if (s->state == CTL_S_BODY)
		ctl_deliver(s);
}

/* ---- listener ---- */

static void
ctl_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ctl_session	*s;
	struct timeval		 tv = { CTL_TIMEOUT, 0 };

	s = xcalloc(1, sizeof(*s));
	s->id = ctl_next_id++;
	s->bev = bufferevent_socket_new(loop_base(), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		close(fd);
		free(s);
		return;
	}
	TAILQ_INSERT_TAIL(&ctl_sessions, s, entry);
	bufferevent_setcb(s->bev, ctl_read, ctl_write, ctl_event, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
ctl_accept_error(struct evconnlistener *lev, void *arg)
{
	log_warn("ctl accept error=\"%s\"", strerror(errno));
}

/* A socket file at path: stale (remove it) or live (refuse). */
static int
ctl_check_stale(const char *path, const struct sockaddr_un *sun, char *err,
    size_t errlen)
{
	struct stat	 st;
	int		 fd, live;

	if (lstat(path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "listen.control: %s exists and is not "
		    "a socket", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	if (live) {
		snprintf(err, errlen, "listen.control: %s answers: another "
		    "postern is running", path);
		return -1;
	}
	if (unlink(path) == -1) {
		snprintf(err, errlen, "listen.control: cannot remove stale "
		    "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void
ctl_owner(const struct conf *conf, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd	*pw;
	struct group	*gr;

	*uid_r = (uid_t)-1;
	*gid_r = (gid_t)-1;
	if (conf->run_as_user == NULL || getuid() != 0)
		return;
	if ((pw = getpwnam(conf->run_as_user)) != NULL) {
		*uid_r = pw->pw_uid;
		*gid_r = pw->pw_gid;
	}
	if (conf->run_as_group != NULL &&
	    (gr = getgrnam(conf->run_as_group)) != NULL)
		*gid_r = gr->gr_gid;
}

int
ctl_start(const struct conf *conf, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	char			*dir, *slash;
	uid_t			 uid;
	gid_t			 gid;
	mode_t			 old;
	int			 fd;

	clock_gettime(CLOCK_MONOTONIC, &ctl_started);
	if (conf->listen.control == NULL || conf->listen.control[0] == '\0')
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_lcpy(sun.sun_path, conf->listen.control,
	    sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "listen.control: path longer than %zu "
		    "bytes: %s", sizeof(sun.sun_path) - 1,
		    conf->listen.control);
		return -1;
	}
	ctl_owner(conf, &uid, &gid);
	/* /run/postern may not exist yet (tmpfs); make the last level. */
	dir = xstrdup(conf->listen.control);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0 && uid != (uid_t)-1 &&
		    chown(dir, uid, gid) == -1)
			log_warn("ctl chown path=%s error=\"%s\"", dir,
			    strerror(errno));
	}
	free(dir);
	if (ctl_check_stale(conf->listen.control, &sun, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		snprintf(err, errlen, "listen.control: socket: %s",
		    strerror(errno));
		return -1;
	}
	/* Never a moment with wider permissions than 0660. */
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "listen.control: bind %s: %s",
		    conf->listen.control, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if ((uid != (uid_t)-1 && chown(conf->listen.control, uid,
	    gid) == -1) || chmod(conf->listen.control, 0660) == -1) {
		snprintf(err, errlen, "listen.control: chown/chmod %s: %s",
		    conf->listen.control, strerror(errno));
		unlink(conf->listen.control);
		close(fd);
		return -1;
	}
	ctl_lev = evconnlistener_new(loop_base(), ctl_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	if (ctl_lev == NULL) {
		snprintf(err, errlen, "listen.control: cannot listen on %s",
		    conf->listen.control);
		unlink(conf->listen.control);
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(ctl_lev, ctl_accept_error);
	ctl_path = xstrdup(conf->listen.control);
	ctl_stopped = false;
	log_info("ctl listening path=%s", ctl_path);
	return 0;
}

void
ctl_stop(void)
{
	struct ctl_session	*s, *next;

	ctl_stopped = true;
	if (ctl_lev != NULL) {
		evconnlistener_free(ctl_lev);
		ctl_lev = NULL;
	}
	if (ctl_path != NULL) {
		/* After the privilege drop this needs a writable directory. */
		if (unlink(ctl_path) == -1 && errno != ENOENT)
			log_warn("ctl unlink path=%s error=\"%s\"", ctl_path,
			    strerror(errno));
		xfree(ctl_path);
	}
	for (s = TAILQ_FIRST(&ctl_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state == CTL_S_BUSY)
			continue;	/* ctl_*_done answers and frees */
		if (s->state != CTL_S_CLOSING) {
			ctl_reply(s, "ERR the daemon is shutting down");
			continue;
		}
		/* A reply still queued: one last non-blocking write. */
		if (s->bev != NULL)
			(void)evbuffer_write(bufferevent_get_output(s->bev),
			    bufferevent_getfd(s->bev));
		ctl_free(s);
	}
}
