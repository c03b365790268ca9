/*
 * http_parse.h - the pure half of the HTTP service: the request head
 * (RFC 9112 sections 2-6: request line, header fields, message framing by
 * Content-Length only), the target (path and query, percent-decoding),
 * the few XML and address helpers the endpoints need, and the routing of
 * one parsed request to a response.  No I/O, no globals: the session
 * (http_session.c) feeds bytes and writes what comes back.  [any]
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct conf;

/*
 * Limits.  The request line is refused past HTTP_LINE_MAX (414), the
 * whole head (request line, every field, the blank line) past
 * HTTP_HEAD_MAX or HTTP_FIELDS_MAX fields (431), a body past
 * HTTP_BODY_MAX (413).  Our largest real request is an Autodiscover POST
 * of a few hundred octets.
 */
#define HTTP_LINE_MAX		4096
#define HTTP_HEAD_MAX		16384
#define HTTP_FIELDS_MAX		64
#define HTTP_BODY_MAX		(64 * 1024)
#define HTTP_ADDR_MAX		254	/* RFC 5321 4.5.3.1.3, minus <> */

enum http_method {
	HTTP_M_OTHER = 0,	/* a valid token we do not serve: 405/404 */
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST
};

/* A parsed head.  Pointers point into the caller's bytes. */
struct http_req {
	enum http_method method;
	const char	*method_name;
	size_t		 method_len;
	const char	*target;	/* origin-form, raw: "/p?q" */
	size_t		 target_len;
	int		 minor;		/* HTTP/1.<minor>, 0 or 1 */
	bool		 keep_alive;	/* version default and Connection */
	bool		 expect_continue;
	uint64_t	 content_length;	/* <= HTTP_BODY_MAX */
	const char	*host;		/* NULL if absent (HTTP/1.0) */
	size_t		 host_len;
	size_t		 nfields;
	size_t		 head_len;	/* octets up to and with the blank line */
};

/*
 * Parse the head at the start of data (len octets; any bytes, no NUL
 * needed).  Returns 0 when the head is complete (req_r filled,
 * req_r->head_len octets used), 1 when more input is needed (every
 * complete line so far is valid and within the limits), or -1 with
 * *status_r (400, 413, 414, 417, 431, 501, 505) and *error_r (static
 * text) set: answer that and close.  Line ends are CRLF only; bare CR,
 * bare LF, NUL, obsolete line folding, a space before the colon, a
 * Transfer-Encoding and conflicting Content-Lengths are all refused:
 * they are how requests get smuggled past a proxy.
 */
int	 http_parse_head(const char *data, size_t len, struct http_req *req_r,
	    int *status_r, const char **error_r);

/*
 * Percent-decode s (len octets) into out (outsize, NUL-terminated).
 * plus_space: '+' means ' ' (query strings).  -1 on a bad escape, a NUL,
 * a control character or an out too small.
 */
int	 http_parse_pct(const char *s, size_t len, bool plus_space,
	    char *out, size_t outsize);
/*
 * Split req's target: the decoded path into path (pathsize) and the raw
 * query (after '?', NULL if none) into *query_r / *query_len_r.
 */
int	 http_parse_target(const struct http_req *, char *path,
	    size_t pathsize, const char **query_r, size_t *query_len_r);
/*
 * The decoded value of the first key= in a query (case-sensitive key).
 * Returns 1 found, 0 absent, -1 bad encoding or too long.
 */
int	 http_parse_query(const char *query, size_t len, const char *key,
	    char *out, size_t outsize);
/*
 * The text of the first element whose local name is name (any namespace
 * prefix, attributes allowed), whitespace-trimmed, with the five
 * predefined XML entities decoded.  Returns 1 found, 0 absent, -1
 * malformed or too long.
 */
int	 http_parse_xml_text(const char *xml, size_t len, const char *name,
	    char *out, size_t outsize);
/* Append s with & < > " ' escaped. */
void	 http_parse_xml_escape(struct buf *, const char *s);
/*
 * A plain mailbox address "local@domain" (dot-atom local part, LDH
 * domain labels), at most HTTP_ADDR_MAX octets.  Lower-cases the domain
 * in place and points *domain_r at it.
 */
bool	 http_parse_addr(char *addr, const char **domain_r);

/* ---- http_route.c: one request to one response (pure) ---------------- */

struct http_resp {
	int		 status;
	const char	*reason;
	const char	*ctype;		/* NULL: no body */
	struct buf	 body;
	struct buf	 headers;	/* extra "Name: value\r\n" lines */
	bool		 close;		/* answer, then close */
};

/*
 * What the routes need besides the request: the config, and the
 * Prometheus text of the live counters (called only for /metrics).
 */
struct http_env {
	const struct conf	*conf;
	void			(*metrics)(struct buf *, void *arg);
	void			*metrics_arg;
};

void	 http_route_resp_init(struct http_resp *);
void	 http_route_resp_free(struct http_resp *);
/* Set an error response with a short text/plain body. */
void	 http_route_error(struct http_resp *, int status);
const char *http_route_reason(int status);
/* Route req (body: body_len octets) and fill resp (initialised). */
void	 http_route(const struct http_env *, const struct http_req *,
	    const char *body, size_t body_len, struct http_resp *);
/*
 * The status line and header section for resp: Date (now, a time_t),
 * Content-Type, Content-Length (the body's, also for HEAD), Connection.
 */
void	 http_route_head(const struct http_resp *, bool keep_alive,
	    long long now, struct buf *out);
#endif
