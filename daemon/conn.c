/*
 * conn.c - connection registry and buffered I/O.
 *
 * Every accepted socket becomes a struct conn with a bufferevent: plain
 * (we own the fd) or OpenSSL (the bufferevent owns fd and SSL).  STARTTLS
 * replaces the plain bufferevent by an OpenSSL one on the same fd once the
 * go-ahead reply has left, rather than layering a filter: one buffer fewer
 * per TLS connection, and nothing plain can slip into the TLS stream.
 * Closing is deferred to a reaper event so that no session is freed while
 * one of its own functions is on the stack.
 */
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "conn.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#define CONN_READ_HIWAT		(256 * 1024)	/* flow control, not a limit */
#define CONN_WRITE_LOWAT	(16 * 1024)
#define CONN_WRITE_TIMEOUT	300

struct conn {
	uint64_t		 id;
	enum conn_svc		 svc;
	const struct proto	*proto;
	void			*sess;
	struct gen		*gen;
	struct bufferevent	*bev;
	int			 fd;
	bool			 bev_owns_fd;
	bool			 tls;
	bool			 closing;
	bool			 reap_queued;
	bool			 starttls_pending;
	int			 timeout;
	struct sockaddr_storage	 peer;
	char			 peer_ip[INET6_ADDRSTRLEN];
	int			 peer_port;
	char			 local_ip[INET6_ADDRSTRLEN];
	int			 local_port;
	TAILQ_ENTRY(conn)	 entry;		/* all connections */
	TAILQ_ENTRY(conn)	 reap_entry;
};
TAILQ_HEAD(conn_list, conn);

static const struct proto	*conn_protos[SVC__N];
static struct conn_list		 conn_all = TAILQ_HEAD_INITIALIZER(conn_all);
static struct conn_list		 conn_reapq = TAILQ_HEAD_INITIALIZER(conn_reapq);
static struct hmap		*conn_byid;
static struct hmap		*conn_perip;	/* ip -> (uintptr_t) count */
static struct event		*conn_reaper;
static uint64_t			 conn_next_id;
static size_t			 conn_n;
static size_t			 conn_nsvc[SVC__N];

static const char *const conn_svc_names[SVC__N] = {
	"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s",
	"managesieve", "http"
};

static void	conn_readcb(struct bufferevent *, void *);
static void	conn_writecb(struct bufferevent *, void *);
static void	conn_eventcb(struct bufferevent *, short, void *);
static void	conn_reap_queue(struct conn *);

int
conn_line_take(struct evbuffer *in, size_t max, bool *skip, char *line,
    size_t *len_r)
{
	struct evbuffer_ptr	 eol, last;
	size_t			 eol_len, len, avail;
	char			 c;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);
	if (eol.pos == -1) {
		avail = evbuffer_get_length(in);
		if (avail <= max)
			return CONN_LINE_MORE;
		/* Keep a trailing CR: its LF may be in the next read. */
		evbuffer_ptr_set(in, &last, avail - 1, EVBUFFER_PTR_SET);
		if (evbuffer_copyout_from(in, &last, &c, 1) == 1 && c == '\r')
			avail--;
		evbuffer_drain(in, avail);
		*skip = true;
		return CONN_LINE_MORE;
	}
	len = (size_t)eol.pos;
	if (*skip || len > max) {
		evbuffer_drain(in, len + eol_len);
		*skip = false;
		return CONN_LINE_LONG;
	}
	evbuffer_remove(in, line, len);
	evbuffer_drain(in, eol_len);
	line[len] = '\0';
	*len_r = len;
	return CONN_LINE_OK;
}

const char *
conn_svc_name(enum conn_svc svc)
{
	return svc < SVC__N ? conn_svc_names[svc] : "?";
}

bool
conn_svc_implicit_tls(enum conn_svc svc)
{
	return svc == SVC_SUBMISSIONS || svc == SVC_IMAPS || svc == SVC_POP3S;
}

void
conn_set_proto(enum conn_svc svc, const struct proto *p)
{
	conn_protos[svc] = p;
}

static int
conn_svc_timeout(const struct conf *conf, enum conn_svc svc)
{
	switch (svc) {
	case SVC_SMTP: case SVC_SUBMISSION: case SVC_SUBMISSIONS:
		return conf->limits.smtp_timeout;
	case SVC_IMAP: case SVC_IMAPS: case SVC_MANAGESIEVE:
		return conf->limits.imap_timeout;
	case SVC_POP3: case SVC_POP3S:
		return conf->limits.pop3_timeout;
	default:
		return 60;
	}
}

static void
conn_apply_timeouts(struct conn *c)
{
	struct timeval	 r = { c->timeout, 0 }, w = { CONN_WRITE_TIMEOUT, 0 };

	bufferevent_set_timeouts(c->bev, c->timeout > 0 ? &r : NULL, &w);
}

static void
conn_setup_bev(struct conn *c)
{
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_READ_HIWAT);
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_WRITE_LOWAT, 0);
	conn_apply_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static uintptr_t
conn_perip_adjust(const char *ip, int delta)
{
	uintptr_t	 n = (uintptr_t)hmap_get(conn_perip, ip, strlen(ip));

	n = (uintptr_t)((intptr_t)n + delta);
	if (n == 0)
		hmap_del(conn_perip, ip, strlen(ip));
	else
		hmap_put(conn_perip, ip, strlen(ip), (void *)n);
	return n;
}

static void
conn_addr_str(const struct sockaddr *sa, char *ip, size_t iplen, int *port)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)sa;

	ip[0] = '\0';
	*port = 0;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		/* Show v4-mapped peers as plain IPv4 so limits and logs agree. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip,
			    (socklen_t)iplen);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(s6->sin6_port);
	}
}

static void
conn_refuse(int fd, enum conn_svc svc, const char *why, const char *ip)
{
	const struct proto	*p = conn_protos[svc];
	char			 line[256];
	int			 n;

	log_warn("conn refused svc=%s client=%s reason=%s", conn_svc_name(svc),
	    ip, why);
	/* Best effort, non-blocking: TLS services get no plain text. */
	if (p != NULL && p->busy != NULL && !conn_svc_implicit_tls(svc)) {
		n = snprintf(line, sizeof(line), "%s\r\n", p->busy);
		if (n > 0)
			(void)!send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	close(fd);
}

void
conn_accept(enum conn_svc svc, int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct gen		*g = loop_gen();
	const struct conf	*conf = g->conf;
	const struct proto	*p = conn_protos[svc];
	struct sockaddr_storage	 local;
	socklen_t		 llen = sizeof(local);
	struct conn		*c;
	char			 ip[INET6_ADDRSTRLEN];
	int			 port;
	SSL			*ssl;

	conn_addr_str(sa, ip, sizeof(ip), &port);
	/*
	 * Replies are written in pieces (a tagged line after untagged ones,
	 * a RETR header then the body); with Nagle's algorithm and the
	 * client's delayed ACK each such exchange stalls about 40 ms.
	 */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (p == NULL || loop_stopping()) {
		close(fd);
		return;
	}
	if (conn_byid == NULL) {
		conn_byid = hmap_new();
		conn_perip = hmap_new();
	}
	if (conf->limits.max_connections > 0 &&
	    conn_n >= (size_t)conf->limits.max_connections) {
		conn_refuse(fd, svc, "max_connections", ip);
		return;
	}
	if (conf->limits.max_connections_per_ip > 0 &&
	    (uintptr_t)hmap_get(conn_perip, ip, strlen(ip)) >=
	    (uintptr_t)conf->limits.max_connections_per_ip) {
		conn_refuse(fd, svc, "max_connections_per_ip", ip);
		return;
	}

	c = xcalloc(1, sizeof(*c));
	c->id = ++conn_next_id;
	c->svc = svc;
	c->proto = p;
	c->gen = gen_ref(g);
	c->fd = fd;
	memcpy(&c->peer, sa, salen < sizeof(c->peer) ? salen : sizeof(c->peer));
	memcpy(c->peer_ip, ip, sizeof(ip));
	c->peer_port = port;
	if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0)
		conn_addr_str((struct sockaddr *)&local, c->local_ip,
		    sizeof(c->local_ip), &c->local_port);
	c->timeout = conn_svc_timeout(conf, svc);

	if (conn_svc_implicit_tls(svc)) {
		if ((ssl = SSL_new(g->ssl)) == NULL) {
			log_err("conn svc=%s client=%s SSL_new failed",
			    conn_svc_name(svc), ip);
			gen_unref(&c->gen);
			free(c);
			close(fd);
			return;
		}
		c->bev = bufferevent_openssl_socket_new(loop_base(), fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		c->bev_owns_fd = true;
		c->tls = true;
	} else
		c->bev = bufferevent_socket_new(loop_base(), fd, 0);
	if (c->bev == NULL) {
		log_err("conn svc=%s client=%s cannot create buffer",
		    conn_svc_name(svc), ip);
		gen_unref(&c->gen);
		free(c);
		close(fd);
		return;
	}
	if (c->tls)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);

	hmap_put(conn_byid, &c->id, sizeof(c->id), c);
	conn_perip_adjust(ip, +1);
	TAILQ_INSERT_TAIL(&conn_all, c, entry);
	conn_n++;
	conn_nsvc[svc]++;
	log_info("%016llx %s connect client=[%s]:%d",
	    (unsigned long long)c->id, conn_svc_name(svc), ip, port);
	conn_setup_bev(c);
	c->sess = p->start(c);
}

uint64_t
conn_id(const struct conn *c)
{
	return c->id;
}

void *
conn_session(const struct conn *c)
{
	return c->sess;
}

struct conn *
conn_lookup(uint64_t id)
{
	struct conn	*c;

	if (conn_byid == NULL)
		return NULL;
	c = hmap_get(conn_byid, &id, sizeof(id));
	return c != NULL && !c->reap_queued ? c : NULL;
}

enum conn_svc
conn_service(const struct conn *c)
{
	return c->svc;
}

struct gen *
conn_gen(const struct conn *c)
{
	return c->gen;
}

const char *
conn_peer_ip(const struct conn *c)
{
	return c->peer_ip;
}

int
conn_peer_port(const struct conn *c)
{
	return c->peer_port;
}

const struct sockaddr *
conn_peer_sa(const struct conn *c)
{
	return (const struct sockaddr *)&c->peer;
}

const char *
conn_local_ip(const struct conn *c)
{
	return c->local_ip;
}

int
conn_local_port(const struct conn *c)
{
	return c->local_port;
}

struct evbuffer *
conn_input(struct conn *c)
{
	return bufferevent_get_input(c->bev);
}

size_t
conn_kernel_pending(const struct conn *c)
{
	int	 n = 0;

	if (ioctl(c->fd, FIONREAD, &n) == -1 || n < 0)
		return 0;
	return (size_t)n;
}

size_t
conn_output_len(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Log each line of a write at debug level (protocol trace). */
static void
conn_trace_out(struct conn *c, const char *p, size_t len)
{
	const char	*e;
	size_t		 n;

	while (len > 0) {
		e = memchr(p, '\n', len);
		n = e ? (size_t)(e - p) + 1 : len;
		log_msg(LOG_L_DEBUG, "%016llx %s > %.*s", (unsigned long long)c->id,
		    conn_svc_name(c->svc),
		    (int)(n > 0 && p[n - 1] == '\n' ? (n > 1 && p[n - 2] == '\r' ?
		    n - 2 : n - 1) : n), p);
		p += n;
		len -= n;
	}
}

/*
 * Where the credentials start in a command line, or NULL: SMTP/POP3
 * "AUTH mech <ir>", POP3 "PASS x", IMAP "tag LOGIN u p" and
 * "tag AUTHENTICATE mech <ir>", ManageSieve "AUTHENTICATE ...".
 */
static const char *
conn_secret_start(const char *line, size_t len)
{
	static const char *const verbs[] = { "AUTH ", "PASS ", "LOGIN ",
	    "AUTHENTICATE " };
	const char	*w = line, *end = line + len, *sp;
	size_t		 i, k;

	for (k = 0; k < 2 && w < end; k++) {	/* verb, or tag then verb */
		for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
			size_t vl = strlen(verbs[i]);
			if ((size_t)(end - w) >= vl && strncasecmp(w, verbs[i], vl) == 0)
				return w + vl;
		}
		if ((sp = memchr(w, ' ', (size_t)(end - w))) == NULL)
			return NULL;
		w = sp + 1;
	}
	return NULL;
}

void
conn_trace_in(struct conn *c, const char *line, size_t len, bool secret)
{
	const char	*s;

	if (!log_debug_enabled())
		return;
	if (secret)
		log_msg(LOG_L_DEBUG, "%016llx %s < <redacted>",
		    (unsigned long long)c->id, conn_svc_name(c->svc));
	else if ((s = conn_secret_start(line, len)) != NULL)
		log_msg(LOG_L_DEBUG, "%016llx %s < %.*s<redacted>",
		    (unsigned long long)c->id, conn_svc_name(c->svc),
		    (int)(s - line), line);
	else
		log_msg(LOG_L_DEBUG, "%016llx %s < %.*s",
		    (unsigned long long)c->id, conn_svc_name(c->svc), (int)len,
		    line);
}

void
conn_write(struct conn *c, const void *p, size_t len)
{
	if (c->reap_queued)
		return;
	if (log_debug_enabled())
		conn_trace_out(c, p, len);
	bufferevent_write(c->bev, p, len);
}

void
conn_puts(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

void
conn_vprintf(struct conn *c, const char *fmt, va_list ap)
{
	char	*s;
	int	 n;

	if (c->reap_queued)
		return;
	if (log_debug_enabled()) {
		if ((n = vasprintf(&s, fmt, ap)) >= 0) {
			conn_write(c, s, (size_t)n);
			free(s);
		}
		return;
	}
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conn_vprintf(c, fmt, ap);
	va_end(ap);
}

void
conn_read_enable(struct conn *c, bool on)
{
	if (c->closing || c->starttls_pending)
		return;
	if (on)
		bufferevent_enable(c->bev, EV_READ);
	else
		bufferevent_disable(c->bev, EV_READ);
}

void
conn_set_timeout(struct conn *c, int seconds)
{
	c->timeout = seconds;
	conn_apply_timeouts(c);
}

static SSL *
conn_ssl(const struct conn *c)
{
	return c->tls ? bufferevent_openssl_get_ssl(c->bev) : NULL;
}

bool
conn_tls(const struct conn *c)
{
	return c->tls;
}

const char *
conn_tls_version(const struct conn *c)
{
	SSL	*ssl = conn_ssl(c);

	return ssl ? SSL_get_version(ssl) : NULL;
}

const char *
conn_tls_cipher(const struct conn *c)
{
	SSL	*ssl = conn_ssl(c);

	return ssl ? SSL_get_cipher_name(ssl) : NULL;
}

int
conn_tls_bits(const struct conn *c)
{
	SSL	*ssl = conn_ssl(c);

	return ssl ? SSL_get_cipher_bits(ssl, NULL) : 0;
}

/* Swap the plain bufferevent for an OpenSSL one on the same socket. */
static void
conn_tls_swap(struct conn *c)
{
	SSL	*ssl;

	c->starttls_pending = false;
	if ((ssl = SSL_new(c->gen->ssl)) == NULL) {
		log_err("%016llx %s starttls SSL_new failed",
		    (unsigned long long)c->id, conn_svc_name(c->svc));
		conn_close(c);
		return;
	}
	bufferevent_free(c->bev);		/* fd stays open: not ours to close */
	c->bev = bufferevent_openssl_socket_new(loop_base(), c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		log_err("%016llx starttls cannot create buffer",
		    (unsigned long long)c->id);
		c->closing = true;
		conn_reap_queue(c);
		return;
	}
	c->bev_owns_fd = true;
	c->tls = true;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	conn_setup_bev(c);
}

int
conn_starttls(struct conn *c, const char **error_r)
{
	struct evbuffer	*in;
	size_t		 junk;

	if (c->tls) {
		*error_r = "TLS already active";
		return -1;
	}
	in = bufferevent_get_input(c->bev);
	if ((junk = evbuffer_get_length(in)) > 0) {
		log_warn("%016llx %s starttls discarded pipelined plaintext "
		    "bytes=%zu", (unsigned long long)c->id,
		    conn_svc_name(c->svc), junk);
		evbuffer_drain(in, junk);
	}
	bufferevent_disable(c->bev, EV_READ);
	c->starttls_pending = true;
	if (conn_output_len(c) == 0)
		conn_tls_swap(c);
	return 0;
}

bool
conn_closing(const struct conn *c)
{
	return c->closing;
}

static void
conn_reap(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&conn_reapq)) != NULL) {
		TAILQ_REMOVE(&conn_reapq, c, reap_entry);
		if (c->sess != NULL && c->proto->free != NULL)
			c->proto->free(c->sess);
		c->sess = NULL;
		hmap_del(conn_byid, &c->id, sizeof(c->id));
		conn_perip_adjust(c->peer_ip, -1);
		TAILQ_REMOVE(&conn_all, c, entry);
		conn_n--;
		conn_nsvc[c->svc]--;
		bufferevent_free(c->bev);
		if (!c->bev_owns_fd)
			close(c->fd);
		log_info("%016llx %s disconnect client=[%s]:%d",
		    (unsigned long long)c->id, conn_svc_name(c->svc),
		    c->peer_ip, c->peer_port);
		gen_unref(&c->gen);
		free(c);
	}
	loop_conn_gone();
}

static void
conn_reap_queue(struct conn *c)
{
	if (c->reap_queued)
		return;
	c->reap_queued = true;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&conn_reapq, c, reap_entry);
	if (conn_reaper == NULL)
		conn_reaper = event_new(loop_base(), -1, 0, conn_reap, NULL);
	event_active(conn_reaper, EV_READ, 0);
}

void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (conn_output_len(c) == 0)
		conn_reap_queue(c);
	/* else conn_writecb reaps once the output has gone out */
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing || c->starttls_pending)
		return;
	c->proto->input(c->sess);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (conn_output_len(c) == 0) {
		if (c->closing) {
			conn_reap_queue(c);
			return;
		}
		if (c->starttls_pending) {
			conn_tls_swap(c);
			return;
		}
	}
	if (!c->closing && c->proto->drained != NULL)
		c->proto->drained(c->sess);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	unsigned long	 e;
	char		 buf[256];

	if (what & BEV_EVENT_CONNECTED) {
		/* OpenSSL bufferevents report a finished handshake this way. */
		log_info("%016llx %s tls version=%s cipher=%s",
		    (unsigned long long)c->id, conn_svc_name(c->svc),
		    conn_tls_version(c), conn_tls_cipher(c));
		if (c->proto->tls_ready != NULL && !c->closing)
			c->proto->tls_ready(c->sess);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && !c->closing &&
		    c->proto->timeout != NULL) {
			log_info("%016llx %s timeout idle=%ds",
			    (unsigned long long)c->id, conn_svc_name(c->svc),
			    c->timeout);
			c->proto->timeout(c->sess);
			conn_close(c);
			/* Give the goodbye the write timeout to leave. */
			bufferevent_enable(c->bev, EV_WRITE);
			return;
		}
		conn_reap_queue(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->tls && (e = bufferevent_get_openssl_error(bev)) != 0) {
			ERR_error_string_n(e, buf, sizeof(buf));
			log_info("%016llx %s tls error=\"%s\"",
			    (unsigned long long)c->id, conn_svc_name(c->svc),
			    buf);
		} else if (errno != 0 && errno != ECONNRESET)
			log_debug("%016llx %s socket error=\"%s\"",
			    (unsigned long long)c->id, conn_svc_name(c->svc),
			    strerror(errno));
	}
	/* EOF or error: nothing more can be said to this peer. */
	conn_reap_queue(c);
}

size_t
conn_count(void)
{
	return conn_n;
}

size_t
conn_count_svc(enum conn_svc svc)
{
	return conn_nsvc[svc];
}

void
conn_shutdown_all(void)
{
	struct conn	*c, *next;

	TAILQ_FOREACH_SAFE(c, &conn_all, entry, next) {
		if (c->closing)
			continue;
		if (c->proto->shutdown != NULL)
			c->proto->shutdown(c->sess);
		else
			conn_close(c);
	}
}

void
conn_close_all(void)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &conn_all, entry)
		conn_reap_queue(c);
}

void
conn_free_all(void)
{
	conn_close_all();
	conn_reap(-1, 0, NULL);
	if (conn_reaper != NULL)
		event_free(conn_reaper);
	conn_reaper = NULL;
	hmap_free(&conn_byid, NULL);
	hmap_free(&conn_perip, NULL);
}
