/*
 * dnsq.h - the asynchronous stub resolver: TXT, MX, A, AAAA, PTR, CNAME
 * (and any other type, raw) from the configured recursive resolvers.
 *
 * UDP first with EDNS0 (RFC 6891), TCP when the answer is truncated
 * (RFC 7766 5), a per-try timeout and retries across servers within a
 * total bound, a small positive/negative cache honouring TTLs (RFC 2308),
 * a cap on queries in flight (the rest wait in order).
 * Everything here is [loop]: call it on the thread that runs the
 * event_base, and callbacks run there too.  A callback never runs from
 * inside dnsq_query() itself, even for a cache hit or a bad name.
 */
#ifndef DNSQ_H
#define DNSQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dnsmsg.h"

struct event_base;
struct conf_strlist;
struct dnsq;			/* one resolver (opaque) */
struct dnsq_req;		/* one query in progress (opaque) */

#define DNSQ_T_A	DNSMSG_T_A
#define DNSQ_T_CNAME	DNSMSG_T_CNAME
#define DNSQ_T_PTR	DNSMSG_T_PTR
#define DNSQ_T_MX	DNSMSG_T_MX
#define DNSQ_T_TXT	DNSMSG_T_TXT
#define DNSQ_T_AAAA	DNSMSG_T_AAAA
#define DNSQ_T_TLSA	DNSMSG_T_TLSA

enum dnsq_rcode {
	DNSQ_OK = 0,		/* NOERROR; n may be 0 (NODATA) */
	DNSQ_NXDOMAIN,
	DNSQ_SERVFAIL,		/* SERVFAIL, REFUSED, FORMERR, ... from every try */
	DNSQ_TIMEOUT,		/* no server answered within the bound */
	DNSQ_ERROR		/* bad name, no usable server, local failure */
};

/*
 * What a callback sees; valid only during the callback.  rr[i] are the
 * records of the asked type owned by canon (after following CNAMEs), see
 * struct dnsmsg_rr for the per-type fields: txt/txtlen (TXT), pref/host
 * (MX), host (PTR, CNAME), a (A), aaaa (AAAA), rdata/rdlen (all).  TTLs
 * are as received, also on a cache hit.
 */
struct dnsq_result {
	enum dnsq_rcode		 rcode;
	int			 dns_rcode;	/* wire rcode; -1 if none */
	const char		*name;		/* as asked */
	const char		*canon;		/* after CNAMEs; == name if none */
	int			 type;
	size_t			 n;
	const struct dnsmsg_rr	*rr;
	bool			 ad;		/* resolver says authenticated */
	bool			 cached;
	const char		*error;		/* DNSQ_ERROR: why; else NULL */
};

typedef void dnsq_cb(void *arg, const struct dnsq_result *);

/*
 * [loop] A resolver on base.  resolvers: "1.2.3.4", "1.2.3.4:5353",
 * "::1", "[::1]:5353"; NULL or empty: the nameserver lines of
 * /etc/resolv.conf (a blocking read, so call this at start or reload),
 * and 127.0.0.1 when there are none.  NULL and a static reason for a bad
 * address.
 */
struct dnsq	*dnsq_new(struct event_base *, const struct conf_strlist *resolvers,
		    const char **error_r);
/* [loop] Outstanding queries are dropped without callbacks. */
void		 dnsq_free(struct dnsq **);
/* [loop] Defaults: 2000 ms per try, 6000 ms in total, 3 tries at least. */
void		 dnsq_set_timeouts(struct dnsq *, unsigned try_ms,
		    unsigned total_ms);
/* [loop] Defaults: 1024 cache entries, 100 queries in flight. */
void		 dnsq_set_limits(struct dnsq *, size_t cache_max,
		    size_t inflight_max);
/* [loop] Drop every cached answer (reload). */
void		 dnsq_flush(struct dnsq *);

/*
 * [loop] Ask for name (no trailing dot needed) and type.  Returns a handle
 * valid until the callback has returned or dnsq_cancel(); never NULL.
 */
struct dnsq_req	*dnsq_query(struct dnsq *, const char *name, int type,
		    dnsq_cb *cb, void *arg);
/*
 * [loop] Forget a query: its callback will not run.  Sets *req to NULL;
 * NULL is fine, and so is a call from inside the query's own callback.
 */
void		 dnsq_cancel(struct dnsq_req **);

/* [loop] Counters for tests and metrics. */
struct dnsq_stats {
	uint64_t	 udp_sent;
	uint64_t	 tcp_sent;
	uint64_t	 cache_hits;
	uint64_t	 stray;		/* ignored packets */
	size_t		 cache_entries;
	size_t		 inflight;
	size_t		 waiting;
	size_t		 inflight_peak;
};
void		 dnsq_stats(const struct dnsq *, struct dnsq_stats *stats_r);
#endif
