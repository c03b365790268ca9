/*
 * conn.h - client connections: registry by id, buffered I/O through
 * libevent bufferevents, implicit TLS and STARTTLS, idle timeouts, global
 * and per-IP limits, orderly close.
 *
 * A protocol plugs in through struct proto.  Its session object is created
 * by start() and freed by free(); no other code frees it.  conn_close()
 * never frees synchronously: the connection is reaped from the loop after
 * its output is flushed, so a session may keep using itself until it
 * returns.  Worker jobs name a connection by conn_id() and look it up with
 * conn_lookup() when they complete.  [loop] for everything here.
 */
#ifndef CONN_H
#define CONN_H
#include <sys/socket.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct evbuffer;
struct gen;

enum conn_svc {
	SVC_SMTP = 0, SVC_SUBMISSION, SVC_SUBMISSIONS, SVC_IMAP, SVC_IMAPS,
	SVC_POP3, SVC_POP3S, SVC_MANAGESIEVE, SVC_HTTP, SVC__N
};

struct proto {
	const char	*name;
	/* New connection: allocate the session and queue the greeting. */
	void		*(*start)(struct conn *);
	/* Input is available: consume every complete unit already buffered. */
	void		 (*input)(void *sess);
	/* Output dropped below the low-water mark (optional). */
	void		 (*drained)(void *sess);
	/* Idle timeout: queue a goodbye (optional); the conn then closes. */
	void		 (*timeout)(void *sess);
	/* Daemon stopping: close when idle (optional; default close now). */
	void		 (*shutdown)(void *sess);
	/* STARTTLS handshake completed (optional). */
	void		 (*tls_ready)(void *sess);
	/* The connection is being freed: release the session. */
	void		 (*free)(void *sess);
	/* Line sent (plain text only) when a limit refuses a connection. */
	const char	*busy;
};

const char	*conn_svc_name(enum conn_svc);
bool		 conn_svc_implicit_tls(enum conn_svc);

/* Register the protocol for a service (main.c, before listening). */
void		 conn_set_proto(enum conn_svc, const struct proto *);
/* Take an accepted socket (listen.c). */
void		 conn_accept(enum conn_svc, int fd, const struct sockaddr *,
		    socklen_t);

uint64_t	 conn_id(const struct conn *);
void		*conn_session(const struct conn *);	/* proto->start's result */
struct conn	*conn_lookup(uint64_t id);
enum conn_svc	 conn_service(const struct conn *);
struct gen	*conn_gen(const struct conn *);
const char	*conn_peer_ip(const struct conn *);
int		 conn_peer_port(const struct conn *);
const struct sockaddr *conn_peer_sa(const struct conn *);
const char	*conn_local_ip(const struct conn *);
int		 conn_local_port(const struct conn *);

struct evbuffer	*conn_input(struct conn *);
/*
 * [loop] One CRLF-terminated line of at most max bytes (CRLF excluded)
 * from in, copied to line (room for max + 1) with a NUL, length in
 * *len_r.  CONN_LINE_MORE: no whole line yet; no more than max + 1
 * bytes are held -- a longer partial line is dropped and *skip set.
 * CONN_LINE_LONG: an over-long line has ended and was dropped (answer
 * the protocol's "line too long").  CONN_LINE_OK: a line.
 */
enum { CONN_LINE_MORE, CONN_LINE_OK, CONN_LINE_LONG };
int		 conn_line_take(struct evbuffer *in, size_t max, bool *skip,
		    char *line, size_t *len_r);
/* Bytes received by the kernel and not read yet (plain sockets). */
size_t		 conn_kernel_pending(const struct conn *);
size_t		 conn_output_len(struct conn *);
void		 conn_write(struct conn *, const void *, size_t);
void		 conn_puts(struct conn *, const char *);
void		 conn_printf(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 conn_vprintf(struct conn *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

/*
 * Protocol traces (debug = true): log one input line.  Credentials are
 * redacted: arguments of AUTH/AUTHENTICATE/LOGIN/PASS and, when secret is
 * true, the whole line (a SASL continuation).  Output is traced by
 * conn_write itself.
 */
void		 conn_trace_in(struct conn *, const char *line, size_t len,
		    bool secret);

/* Pause or resume reading (e.g. while a worker job runs). */
void		 conn_read_enable(struct conn *, bool);
/* Idle timeout in seconds for reads (0: none). */
void		 conn_set_timeout(struct conn *, int seconds);
/*
 * Start TLS after the protocol queued its "go ahead" reply.  Input already
 * buffered is discarded (plain text pipelined after STARTTLS is an
 * injection attack, RFC 3207 section 4.2 / CVE-2011-0411); the handshake
 * starts once the reply has been written.
 */
int		 conn_starttls(struct conn *, const char **error_r);
bool		 conn_tls(const struct conn *);
const char	*conn_tls_version(const struct conn *);	/* NULL if plain */
const char	*conn_tls_cipher(const struct conn *);
int		 conn_tls_bits(const struct conn *);
/* Close after flushing queued output. */
void		 conn_close(struct conn *);
bool		 conn_closing(const struct conn *);

size_t		 conn_count(void);
size_t		 conn_count_svc(enum conn_svc);
void		 conn_shutdown_all(void);	/* loop.c at SIGTERM */
void		 conn_close_all(void);		/* drain bound reached */
void		 conn_free_all(void);		/* at exit */
#endif
