/*
 * dnsq.c - the asynchronous stub resolver on the event loop.
 *
 * Each try of a query gets its own connected UDP socket (a fresh ephemeral
 * port per try, RFC 5452 9.2, and the kernel drops datagrams from any
 * other peer); a reply must also match the id and the question (RFC 5452
 * 4.1-4.3) or it is ignored as stray.  A truncated reply (TC, RFC 1035
 * 4.2.1) is repeated over TCP to the same server with the 2-octet length
 * framing of RFC 1035 4.2.2 (RFC 7766 5, 6.2.1).  A try ends on its timer,
 * on ICMP refusal, or on SERVFAIL/REFUSED, and the next try goes to the
 * next server; FORMERR/NOTIMP to an EDNS query is retried once without
 * EDNS (RFC 6891 7).  Answers are cached (bounded, LRU) for their
 * smallest TTL, negative ones for the SOA-derived TTL (RFC 2308 5).
 *
 * Owns: its sockets, timers, the cache and every struct dnsq_req until the
 * callback has run or the caller cancelled.  Loop thread only.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conf.h"
#include "dnsq.h"
#include "hmap.h"
#include "log.h"
#include "xmalloc.h"

#define DNSQ_MAX_SERVERS	8
#define DNSQ_RESOLV_CONF	"/etc/resolv.conf"
#define DNSQ_TTL_MAX		3600	/* positive answers */
#define DNSQ_NEG_TTL_MAX	900	/* negative answers */
#define DNSQ_MIN_TRIES		3

struct dnsq_server {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

/* A result shared by the cache and deliveries in progress. */
struct dnsq_ans {
	unsigned		 refs;
	struct dnsq_result	 res;
	struct dnsmsg_rr	*rrs;
	char			*name;
	char			*canon;
};

struct dnsq_cent {
	TAILQ_ENTRY(dnsq_cent)	 lru;
	char			*key;
	size_t			 keylen;
	struct dnsq_ans		*ans;
	uint64_t		 expires;	/* monotonic ms */
};
TAILQ_HEAD(dnsq_cent_list, dnsq_cent);

enum dnsq_state { DNSQ_S_WAIT, DNSQ_S_UDP, DNSQ_S_TCP, DNSQ_S_DONE };

struct dnsq_req {
	TAILQ_ENTRY(dnsq_req)	 entry;		/* q->active or q->waiting */
	struct dnsq		*q;
	char			*name;
	uint16_t		 type;
	dnsq_cb			*cb;
	void			*arg;
	enum dnsq_state		 state;
	bool			 counted;	/* in q->inflight */
	bool			 from_cache;
	bool			 delivering;
	bool			 cancelled;
	bool			 noedns;
	bool			 refused;	/* some server refused */
	uint16_t		 id;
	unsigned		 tries;
	unsigned		 sent;		/* tries that left the host */
	size_t			 server;
	uint64_t		 deadline;
	evutil_socket_t		 fd;
	struct event		*ev_read;
	struct bufferevent	*bev;
	struct event		*timer;
	/* Outcome, set when state becomes DONE. */
	enum dnsq_rcode		 rcode;
	int			 dns_rcode;
	const char		*error;
	struct dnsq_ans		*ans;
	uint8_t			 qbuf[DNSMSG_MAX_WIRE + 64];
	size_t			 qlen;
};
TAILQ_HEAD(dnsq_req_list, dnsq_req);

struct dnsq {
	struct event_base	*base;
	struct dnsq_server	 servers[DNSQ_MAX_SERVERS];
	size_t			 nservers;
	size_t			 next_server;
	unsigned		 try_ms;
	unsigned		 total_ms;
	size_t			 cache_max;
	size_t			 inflight_max;
	struct hmap		*cache;
	struct dnsq_cent_list	 lru;		/* most recent first */
	struct dnsq_req_list	 active;	/* started, or done and pending */
	struct dnsq_req_list	 waiting;	/* over the in-flight cap */
	size_t			 inflight;
	struct dnsq_stats	 st;
	uint8_t			*rbuf;		/* one UDP datagram */
};

static void	dnsq_try(struct dnsq_req *);
static void	dnsq_next(struct dnsq_req *);
static void	dnsq_finish(struct dnsq_req *, enum dnsq_rcode, int,
		    const char *, struct dnsq_ans *);

static uint64_t
dnsq_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53", "fe80::1%eth0". */
static int
dnsq_parse_server(const char *s, struct dnsq_server *srv)
{
	struct addrinfo		 hints, *res;
	char			 host[INET6_ADDRSTRLEN + 32];
	const char		*port = "53", *colon, *end;
	size_t			 n;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		n = (size_t)(end - s - 1);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -1;
		s++;
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		n = (size_t)(colon - s);
		port = colon + 1;
	} else
		n = strlen(s);
	if (n == 0 || n >= sizeof(host) || *port == '\0' ||
	    strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    atoi(port) == 0 || atoi(port) > 65535)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	if (res->ai_addrlen > sizeof(srv->ss)) {
		freeaddrinfo(res);
		return -1;
	}
	memcpy(&srv->ss, res->ai_addr, res->ai_addrlen);
	srv->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Blocking: read the nameserver lines (resolv.conf(5)). */
static void
dnsq_resolv_conf(struct dnsq *q)
{
	FILE		*fp;
	char		 line[512], *p, *e;

	if ((fp = fopen(DNSQ_RESOLV_CONF, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL &&
	    q->nservers < DNSQ_MAX_SERVERS) {
		if (strncmp(line, "nameserver", 10) != 0 ||
		    !isspace((unsigned char)line[10]))
			continue;
		for (p = line + 10; isspace((unsigned char)*p); p++)
			;
		for (e = p; *e != '\0' && !isspace((unsigned char)*e); e++)
			;
		*e = '\0';
		/* A bare address here: never a port, so no "a:b" parsing. */
		if (strchr(p, ':') != NULL && p[0] != '[') {
			char	 br[300];

			snprintf(br, sizeof(br), "[%s]", p);
			if (dnsq_parse_server(br, &q->servers[q->nservers]) == 0)
				q->nservers++;
		} else if (dnsq_parse_server(p, &q->servers[q->nservers]) == 0)
			q->nservers++;
	}
	fclose(fp);
}

struct dnsq *
dnsq_new(struct event_base *base, const struct conf_strlist *resolvers,
    const char **error_r)
{
	struct dnsq	*q;
	size_t		 i;

	q = xcalloc(1, sizeof(*q));
	q->base = base;
	q->try_ms = 2000;
	q->total_ms = 6000;
	q->cache_max = 1024;
	q->inflight_max = 100;
	TAILQ_INIT(&q->lru);
	TAILQ_INIT(&q->active);
	TAILQ_INIT(&q->waiting);
	if (resolvers != NULL && resolvers->n > 0) {
		if (resolvers->n > DNSQ_MAX_SERVERS) {
			*error_r = "more than 8 resolvers";
			free(q);
			return NULL;
		}
		for (i = 0; i < resolvers->n; i++) {
			if (dnsq_parse_server(resolvers->v[i],
			    &q->servers[i]) == -1) {
				*error_r = "resolver is not an IP address "
				    "with an optional :port";
				free(q);
				return NULL;
			}
		}
		q->nservers = resolvers->n;
	} else
		dnsq_resolv_conf(q);
	if (q->nservers == 0) {
		/* resolv.conf(5): no nameserver line means localhost. */
		dnsq_parse_server("127.0.0.1", &q->servers[0]);
		q->nservers = 1;
	}
	q->cache = hmap_new();
	q->rbuf = xmalloc(65536);
	return q;
}

void
dnsq_set_timeouts(struct dnsq *q, unsigned try_ms, unsigned total_ms)
{
	q->try_ms = try_ms > 0 ? try_ms : 1;
	q->total_ms = total_ms >= q->try_ms ? total_ms : q->try_ms;
}

/* Answers. */

static void
dnsq_ans_unref(struct dnsq_ans **ap)
{
	struct dnsq_ans	*a = *ap;
	size_t		 i;

	*ap = NULL;
	if (a == NULL || --a->refs > 0)
		return;
	for (i = 0; i < a->res.n; i++) {
		free(a->rrs[i].name);
		free(a->rrs[i].txt);
		free(a->rrs[i].host);
		free(a->rrs[i].rdata);
	}
	free(a->rrs);
	free(a->name);
	free(a->canon);
	free(a);
}

static char *
dnsq_dup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static struct dnsq_ans *
dnsq_ans_new(const char *name, uint16_t type, enum dnsq_rcode rcode,
    int dns_rcode, bool ad, const char *canon,
    const struct dnsmsg_rr *const *rrs, size_t n)
{
	struct dnsq_ans	*a;
	size_t		 i;

	a = xcalloc(1, sizeof(*a));
	a->refs = 1;
	a->name = xstrdup(name);
	a->canon = xstrdup(canon != NULL ? canon : name);
	a->rrs = xcalloc(n > 0 ? n : 1, sizeof(*a->rrs));
	for (i = 0; i < n; i++) {
		a->rrs[i] = *rrs[i];
		a->rrs[i].name = dnsq_dup(rrs[i]->name);
		a->rrs[i].txt = rrs[i]->txt != NULL ?
		    xmemdup(rrs[i]->txt, rrs[i]->txtlen + 1) : NULL;
		a->rrs[i].host = dnsq_dup(rrs[i]->host);
		a->rrs[i].rdata = xmemdup(rrs[i]->rdata,
		    rrs[i]->rdlen > 0 ? rrs[i]->rdlen : 1);
	}
	a->res.rcode = rcode;
	a->res.dns_rcode = dns_rcode;
	a->res.name = a->name;
	a->res.canon = a->canon;
	a->res.type = type;
	a->res.n = n;
	a->res.rr = a->rrs;
	a->res.ad = ad;
	return a;
}

/* Cache: key is the type (2 octets) and the lower-cased name. */

static size_t
dnsq_key(const char *name, uint16_t type, char *key, size_t size)
{
	size_t		 i, n = strlen(name);

	if (n > 0 && name[n - 1] == '.' && (n < 2 || name[n - 2] != '\\'))
		n--;
	if (n + 2 > size)
		return 0;
	key[0] = (char)(type >> 8);
	key[1] = (char)(type & 0xff);
	for (i = 0; i < n; i++)
		key[2 + i] = (char)tolower((unsigned char)name[i]);
	return n + 2;
}

static void
dnsq_cent_free(struct dnsq *q, struct dnsq_cent *e)
{
	hmap_del(q->cache, e->key, e->keylen);
	TAILQ_REMOVE(&q->lru, e, lru);
	dnsq_ans_unref(&e->ans);
	free(e->key);
	free(e);
}

static struct dnsq_ans *
dnsq_cache_get(struct dnsq *q, const char *name, uint16_t type)
{
	char		 key[DNSMSG_NAME_MAX + 2];
	size_t		 klen;
	struct dnsq_cent *e;

	if ((klen = dnsq_key(name, type, key, sizeof(key))) == 0 ||
	    (e = hmap_get(q->cache, key, klen)) == NULL)
		return NULL;
	if (e->expires <= dnsq_now()) {
		dnsq_cent_free(q, e);
		return NULL;
	}
	TAILQ_REMOVE(&q->lru, e, lru);
	TAILQ_INSERT_HEAD(&q->lru, e, lru);
	e->ans->refs++;
	return e->ans;
}

static void
dnsq_cache_put(struct dnsq *q, struct dnsq_ans *a, uint16_t type,
    uint32_t ttl)
{
	char		 key[DNSMSG_NAME_MAX + 2];
	size_t		 klen;
	struct dnsq_cent *e;

	if (ttl == 0 || q->cache_max == 0 ||
	    (klen = dnsq_key(a->name, type, key, sizeof(key))) == 0)
		return;
	if ((e = hmap_get(q->cache, key, klen)) != NULL)
		dnsq_cent_free(q, e);
	while (hmap_count(q->cache) >= q->cache_max)
		dnsq_cent_free(q, TAILQ_LAST(&q->lru, dnsq_cent_list));
	e = xcalloc(1, sizeof(*e));
	e->key = xmemdup(key, klen);
	e->keylen = klen;
	e->ans = a;
	a->refs++;
	e->expires = dnsq_now() + (uint64_t)ttl * 1000;
	hmap_put(q->cache, e->key, klen, e);
	TAILQ_INSERT_HEAD(&q->lru, e, lru);
}

void
dnsq_flush(struct dnsq *q)
{
	struct dnsq_cent	*e;

	while ((e = TAILQ_FIRST(&q->lru)) != NULL)
		dnsq_cent_free(q, e);
}

void
dnsq_set_limits(struct dnsq *q, size_t cache_max, size_t inflight_max)
{
	q->cache_max = cache_max;
	q->inflight_max = inflight_max > 0 ? inflight_max : 1;
	while (hmap_count(q->cache) > q->cache_max)
		dnsq_cent_free(q, TAILQ_LAST(&q->lru, dnsq_cent_list));
}

/* Requests. */

static void
dnsq_close(struct dnsq_req *r)
{
	if (r->ev_read != NULL)
		event_free(r->ev_read);
	r->ev_read = NULL;
	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
	if (r->bev != NULL)
		bufferevent_free(r->bev);
	r->bev = NULL;
}

static void
dnsq_timer_in(struct dnsq_req *r, uint64_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}

/* Start waiting requests while there is room. */
static void
dnsq_pump(struct dnsq *q)
{
	struct dnsq_req	*r;

	while (q->inflight < q->inflight_max &&
	    (r = TAILQ_FIRST(&q->waiting)) != NULL) {
		TAILQ_REMOVE(&q->waiting, r, entry);
		TAILQ_INSERT_TAIL(&q->active, r, entry);
		r->counted = true;
		r->state = DNSQ_S_UDP;
		q->inflight++;
		if (q->inflight > q->st.inflight_peak)
			q->st.inflight_peak = q->inflight;
		r->deadline = dnsq_now() + q->total_ms;
		r->server = q->next_server++ % q->nservers;
		dnsq_try(r);
	}
}

static void
dnsq_req_free(struct dnsq_req *r)
{
	struct dnsq	*q = r->q;

	if (r->state == DNSQ_S_WAIT)
		TAILQ_REMOVE(&q->waiting, r, entry);
	else
		TAILQ_REMOVE(&q->active, r, entry);
	if (r->counted)
		q->inflight--;
	dnsq_close(r);
	event_free(r->timer);
	dnsq_ans_unref(&r->ans);
	free(r->name);
	free(r);
}

static void
dnsq_deliver(struct dnsq_req *r)
{
	struct dnsq		*q = r->q;
	struct dnsq_result	 res;

	if (r->ans != NULL) {
		res = r->ans->res;
		res.cached = r->from_cache;
	} else {
		memset(&res, 0, sizeof(res));
		res.rcode = r->rcode;
		res.dns_rcode = r->dns_rcode;
		res.name = r->name;
		res.canon = r->name;
		res.type = r->type;
		res.error = r->error;
	}
	r->delivering = true;
	r->cb(r->arg, &res);
	dnsq_req_free(r);
	dnsq_pump(q);
}

/*
 * The query is over: deliver from the timer callback so that the caller
 * never sees its callback run from inside dnsq_query().
 */
static void
dnsq_finish(struct dnsq_req *r, enum dnsq_rcode rcode, int dns_rcode,
    const char *error, struct dnsq_ans *ans)
{
	dnsq_close(r);
	r->state = DNSQ_S_DONE;
	r->rcode = rcode;
	r->dns_rcode = dns_rcode;
	r->error = error;
	r->ans = ans;
	evtimer_del(r->timer);
	event_active(r->timer, EV_TIMEOUT, 1);
}

static void
dnsq_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq_req	*r = arg;

	if (r->state == DNSQ_S_DONE)
		dnsq_deliver(r);
	else
		dnsq_next(r);		/* this try timed out */
}

/* Does msg answer our question (RFC 5452 4.1-4.3)? */
static bool
dnsq_matches(const struct dnsq_req *r, const struct dnsmsg *m)
{
	const char	*qn;
	uint16_t	 qt, qc;

	return dnsmsg_id(m) == r->id && (dnsmsg_flags(m) & DNSMSG_F_QR) &&
	    dnsmsg_question(m, &qn, &qt, &qc) && qt == r->type &&
	    qc == DNSMSG_C_IN && dnsmsg_name_eq(qn, r->name);
}

static void	dnsq_tcp_start(struct dnsq_req *);

static void
dnsq_response(struct dnsq_req *r, const struct dnsmsg *m, bool tcp)
{
	struct dnsq		*q = r->q;
	const struct dnsmsg_rr	*rrs[512];
	struct dnsq_ans		*a;
	const char		*canon;
	size_t			 n, i;
	uint32_t		 ttl;
	int64_t			 neg;
	int			 rc = dnsmsg_rcode(m);
	bool			 ad = (dnsmsg_flags(m) & DNSMSG_F_AD) != 0;

	if (!tcp && (dnsmsg_flags(m) & DNSMSG_F_TC)) {
		dnsq_tcp_start(r);
		return;
	}
	switch (rc) {
	case DNSMSG_R_NOERROR:
		n = dnsmsg_answers(m, r->name, r->type, rrs,
		    sizeof(rrs) / sizeof(rrs[0]), &canon);
		if (n > sizeof(rrs) / sizeof(rrs[0]))
			n = sizeof(rrs) / sizeof(rrs[0]);
		a = dnsq_ans_new(r->name, r->type, DNSQ_OK, rc, ad, canon,
		    rrs, n);
		if (n > 0) {
			ttl = DNSQ_TTL_MAX;
			for (i = 0; i < n; i++)
				if (rrs[i]->ttl < ttl)
					ttl = rrs[i]->ttl;
		} else {
			neg = dnsmsg_negative_ttl(m);
			ttl = neg < 0 ? 0 : neg > DNSQ_NEG_TTL_MAX ?
			    DNSQ_NEG_TTL_MAX : (uint32_t)neg;
		}
		dnsq_cache_put(q, a, r->type, ttl);
		dnsq_finish(r, DNSQ_OK, rc, NULL, a);
		return;
	case DNSMSG_R_NXDOMAIN:
		n = dnsmsg_answers(m, r->name, r->type, rrs, 0, &canon);
		a = dnsq_ans_new(r->name, r->type, DNSQ_NXDOMAIN, rc, ad,
		    canon, NULL, 0);
		neg = dnsmsg_negative_ttl(m);
		dnsq_cache_put(q, a, r->type, neg < 0 ? 0 :
		    neg > DNSQ_NEG_TTL_MAX ? DNSQ_NEG_TTL_MAX : (uint32_t)neg);
		dnsq_finish(r, DNSQ_NXDOMAIN, rc, NULL, a);
		return;
	case DNSMSG_R_FORMERR:
	case DNSMSG_R_NOTIMP:
		if (!r->noedns) {
			/* RFC 6891 7: the server may not know EDNS. */
			r->noedns = true;
			r->tries--;
			r->server = (r->server + q->nservers - 1) %
			    q->nservers;
			dnsq_next(r);
			return;
		}
		break;
	default:
		break;
	}
	/* SERVFAIL, REFUSED, ...: ask the next server, but not the same
	 * server twice for it. */
	r->refused = true;
	r->dns_rcode = rc;
	if (r->tries >= q->nservers) {
		dnsq_finish(r, DNSQ_SERVFAIL, rc, NULL, NULL);
		return;
	}
	dnsq_next(r);
}

/* Check and handle one received message; false if it was stray. */
static bool
dnsq_input(struct dnsq_req *r, const uint8_t *p, size_t len, bool tcp)
{
	struct dnsmsg	*m;
	const char	*err;

	if (dnsmsg_decode(p, len, &m, &err) == -1) {
		log_debug("dns stray name=%s reason=\"%s\"", r->name, err);
		r->q->st.stray++;
		return false;
	}
	if (!dnsq_matches(r, m)) {
		log_debug("dns stray name=%s reason=mismatch", r->name);
		r->q->st.stray++;
		dnsmsg_free(&m);
		return false;
	}
	dnsq_response(r, m, tcp);
	dnsmsg_free(&m);
	return true;
}

static void
dnsq_udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dnsq_req	*r = arg;
	ssize_t		 n;

	for (;;) {
		n = recv(fd, r->q->rbuf, 65536, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* ECONNREFUSED: ICMP port unreachable. */
			dnsq_next(r);
			return;
		}
		if (dnsq_input(r, r->q->rbuf, (size_t)n, false))
			return;
	}
}

static void
dnsq_tcp_read(struct bufferevent *bev, void *arg)
{
	struct dnsq_req	*r = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	uint8_t		 hdr[2], *p;
	size_t		 len;

	while (r->state == DNSQ_S_TCP && evbuffer_get_length(in) >= 2) {
		evbuffer_copyout(in, hdr, 2);
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (evbuffer_get_length(in) < 2 + len)
			return;
		evbuffer_drain(in, 2);
		p = r->q->rbuf;
		evbuffer_remove(in, p, len);
		/* RFC 7766 7: a connection may carry other replies. */
		dnsq_input(r, p, len, true);
	}
}

static void
dnsq_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct dnsq_req	*r = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		dnsq_next(r);
}

static void
dnsq_tcp_start(struct dnsq_req *r)
{
	struct dnsq		*q = r->q;
	struct dnsq_server	*srv = &q->servers[r->server];
	uint8_t			 hdr[2];
	uint64_t		 now = dnsq_now();

	dnsq_close(r);
	r->state = DNSQ_S_TCP;
	r->bev = bufferevent_socket_new(q->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (r->bev == NULL || bufferevent_socket_connect(r->bev,
	    (struct sockaddr *)&srv->ss, (int)srv->len) == -1) {
		/* bufferevent_socket_connect frees nothing on failure. */
		dnsq_next(r);
		return;
	}
	bufferevent_setcb(r->bev, dnsq_tcp_read, NULL, dnsq_tcp_event, r);
	hdr[0] = (uint8_t)(r->qlen >> 8);
	hdr[1] = r->qlen & 0xff;
	bufferevent_write(r->bev, hdr, 2);
	bufferevent_write(r->bev, r->qbuf, r->qlen);
	bufferevent_enable(r->bev, EV_READ);
	q->st.tcp_sent++;
	evtimer_del(r->timer);
	dnsq_timer_in(r, r->deadline > now ?
	    (r->deadline - now < q->try_ms ? r->deadline - now : q->try_ms) : 0);
}

/* Send one UDP try to r->server; a local failure ends the try at once. */
static void
dnsq_try(struct dnsq_req *r)
{
	struct dnsq		*q = r->q;
	struct dnsq_server	*srv = &q->servers[r->server];
	const char		*err;
	uint64_t		 now = dnsq_now(), left;

	dnsq_close(r);
	r->state = DNSQ_S_UDP;
	r->tries++;
	r->id = dnsmsg_random_id();
	if (dnsmsg_query(r->name, r->type, r->id, !r->noedns, r->qbuf,
	    sizeof(r->qbuf), &r->qlen, &err) == -1) {
		dnsq_finish(r, DNSQ_ERROR, -1, err, NULL);
		return;
	}
	left = r->deadline > now ? r->deadline - now : 0;
	r->fd = socket(srv->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (r->fd == -1 ||
	    connect(r->fd, (struct sockaddr *)&srv->ss, srv->len) == -1 ||
	    send(r->fd, r->qbuf, r->qlen, 0) != (ssize_t)r->qlen) {
		log_debug("dns send-failed name=%s error=\"%s\"", r->name,
		    strerror(errno));
		dnsq_close(r);
		left = 0;
	} else {
		q->st.udp_sent++;
		r->sent++;
		r->ev_read = event_new(q->base, r->fd, EV_READ | EV_PERSIST,
		    dnsq_udp_cb, r);
		event_add(r->ev_read, NULL);
	}
	dnsq_timer_in(r, left < q->try_ms ? left : q->try_ms);
}

/* The current try failed: the next server, or give up. */
static void
dnsq_next(struct dnsq_req *r)
{
	struct dnsq	*q = r->q;
	unsigned	 max = q->nservers > DNSQ_MIN_TRIES ?
			    (unsigned)q->nservers : DNSQ_MIN_TRIES;

	dnsq_close(r);
	evtimer_del(r->timer);
	if (r->tries >= max || dnsq_now() >= r->deadline) {
		if (r->refused)
			dnsq_finish(r, DNSQ_SERVFAIL, r->dns_rcode, NULL, NULL);
		else if (r->sent == 0)
			dnsq_finish(r, DNSQ_ERROR, -1,
			    "could not send to any resolver", NULL);
		else
			dnsq_finish(r, DNSQ_TIMEOUT, -1, NULL, NULL);
		return;
	}
	r->server = (r->server + 1) % q->nservers;
	dnsq_try(r);
}

struct dnsq_req *
dnsq_query(struct dnsq *q, const char *name, int type, dnsq_cb *cb,
    void *arg)
{
	struct dnsq_req	*r;
	struct dnsq_ans	*a;
	const char	*err;

	r = xcalloc(1, sizeof(*r));
	r->q = q;
	r->name = xstrdup(name);
	r->type = (uint16_t)type;
	r->cb = cb;
	r->arg = arg;
	r->fd = -1;
	r->dns_rcode = -1;
	r->timer = evtimer_new(q->base, dnsq_timer_cb, r);
	if (type <= 0 || type > 65535 || type == DNSMSG_T_OPT) {
		r->state = DNSQ_S_DONE;
		TAILQ_INSERT_TAIL(&q->active, r, entry);
		dnsq_finish(r, DNSQ_ERROR, -1, "bad query type", NULL);
	} else if (dnsmsg_query(name, r->type, 0, true, r->qbuf,
	    sizeof(r->qbuf), &r->qlen, &err) == -1) {
		r->state = DNSQ_S_DONE;
		TAILQ_INSERT_TAIL(&q->active, r, entry);
		dnsq_finish(r, DNSQ_ERROR, -1, err, NULL);
	} else if ((a = dnsq_cache_get(q, name, r->type)) != NULL) {
		q->st.cache_hits++;
		r->from_cache = true;
		r->state = DNSQ_S_DONE;
		TAILQ_INSERT_TAIL(&q->active, r, entry);
		dnsq_finish(r, a->res.rcode, a->res.dns_rcode, NULL, a);
	} else {
		r->state = DNSQ_S_WAIT;
		TAILQ_INSERT_TAIL(&q->waiting, r, entry);
		/* Starting never delivers: failures go through the timer. */
		dnsq_pump(q);
	}
	return r;
}

void
dnsq_cancel(struct dnsq_req **rp)
{
	struct dnsq_req	*r = *rp;
	struct dnsq	*q;

	*rp = NULL;
	if (r == NULL || r->delivering)
		return;
	q = r->q;
	dnsq_req_free(r);
	dnsq_pump(q);
}

void
dnsq_stats(const struct dnsq *q, struct dnsq_stats *st)
{
	struct dnsq_req	*r;

	*st = q->st;
	st->cache_entries = hmap_count(q->cache);
	st->inflight = q->inflight;
	st->waiting = 0;
	TAILQ_FOREACH(r, &q->waiting, entry)
		st->waiting++;
}

void
dnsq_free(struct dnsq **qp)
{
	struct dnsq	*q = *qp;
	struct dnsq_req	*r;

	if (q == NULL)
		return;
	*qp = NULL;
	while ((r = TAILQ_FIRST(&q->waiting)) != NULL)
		dnsq_req_free(r);
	while ((r = TAILQ_FIRST(&q->active)) != NULL)
		dnsq_req_free(r);
	dnsq_flush(q);
	hmap_free(&q->cache, NULL);
	free(q->rbuf);
	free(q);
}
