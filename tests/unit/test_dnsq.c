/*
 * test_dnsq.c - the resolver against a DNS responder inside this test,
 * on 127.0.0.1 (UDP and TCP on one port, built with dnsmsg_out), and,
 * when dnsmasq is installed, against dnsmasq.  Never /etc/resolv.conf.
 *
 * The responder's zone, by query name:
 *   txt.test TXT (3 strings)     mx.test MX 10/20       a.test A x2, AAAA
 *   alias.test CNAME a.test      nx.test NXDOMAIN+SOA   fail.test SERVFAIL
 *   nodata.test NOERROR, empty   slow.test: no reply    delay.test: 300 ms
 *   big.test TXT x30 (TC over UDP, whole over TCP)
 *   stray.test: garbage and a wrong id first, then the answer
 *   formerr.test: FORMERR to EDNS queries, A without
 *   b<N>.test A 10.0.<N/256>.<N%256>    1.0.0.127.in-addr.arpa PTR
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conf.h"
#include "dnsmsg.h"
#include "dnsq.h"

struct srv {
	struct event_base	*base;
	evutil_socket_t		 ufd;
	struct event		*uev;
	struct evconnlistener	*lis;
	int			 port;
	int			 udp_queries;
	int			 tcp_queries;
	struct bufferevent	*conns[64];
};

struct delayed {
	struct srv		*s;
	struct sockaddr_storage	 peer;
	socklen_t		 plen;
	uint8_t			*data;
	size_t			 len;
};

static void
rr_set(struct dnsmsg_rr *rr, const char *name, uint16_t type, uint32_t ttl)
{
	memset(rr, 0, sizeof(*rr));
	rr->name = (char *)(uintptr_t)name;
	rr->type = type;
	rr->ttl = ttl;
}

/* Build the reply to one query; NULL: stay silent. */
static uint8_t *
srv_answer(struct srv *s, const uint8_t *q, size_t qlen, bool tcp,
    size_t *len_r, int *delay_r)
{
	struct dnsmsg		*m;
	struct dnsmsg_out	*o;
	struct dnsmsg_rr	 rr;
	const struct dnsmsg_rr	*opt;
	const char		*err, *name;
	const uint8_t		*p;
	uint16_t		 type, id, limit = 512;
	uint8_t			*out = NULL;
	int			 rcode = 0;
	unsigned		 n;
	char			 host[64];
	size_t			 i, len;
	bool			 edns;

	*delay_r = 0;
	if (dnsmsg_decode(q, qlen, &m, &err) == -1 ||
	    !dnsmsg_question(m, &name, &type, NULL)) {
		dnsmsg_free(&m);
		return NULL;
	}
	id = dnsmsg_id(m);
	edns = dnsmsg_has_edns(m);
	if (edns) {
		opt = dnsmsg_get_rr(m, DNSMSG_S_ADDITIONAL,
		    dnsmsg_count(m, DNSMSG_S_ADDITIONAL) - 1);
		limit = opt->rclass;
	}
	if (strcasecmp(name, "slow.test") == 0)
		goto out;
	if (strcasecmp(name, "delay.test") == 0)
		*delay_r = 300;
	if (strcasecmp(name, "nx.test") == 0)
		rcode = DNSMSG_R_NXDOMAIN;
	else if (strcasecmp(name, "fail.test") == 0)
		rcode = DNSMSG_R_SERVFAIL;
	else if (strcasecmp(name, "formerr.test") == 0 && edns)
		rcode = DNSMSG_R_FORMERR;
	o = dnsmsg_out_new(id, DNSMSG_F_QR | DNSMSG_F_RD | DNSMSG_F_RA |
	    (strcasecmp(name, "a.test") == 0 ? DNSMSG_F_AD : 0), rcode);
	dnsmsg_out_question(o, name, type, DNSMSG_C_IN);
	if (strcasecmp(name, "txt.test") == 0 && type == DNSMSG_T_TXT) {
		static const char *strs[] = { "v=spf1 ", "ip4:192.0.2.0/24 ",
		    "-all" };
		static const size_t lens[] = { 7, 17, 4 };

		dnsmsg_out_txt(o, DNSMSG_S_ANSWER, name, 300, strs, lens, 3);
		dnsmsg_out_txt(o, DNSMSG_S_ANSWER, name, 300, strs + 2,
		    lens + 2, 1);
	} else if (strcasecmp(name, "mx.test") == 0 && type == DNSMSG_T_MX) {
		rr_set(&rr, name, DNSMSG_T_MX, 300);
		rr.pref = 20;
		rr.host = (char *)(uintptr_t)"mx2.test";
		dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
		rr.pref = 10;
		rr.host = (char *)(uintptr_t)"mx1.test";
		dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	} else if ((strcasecmp(name, "a.test") == 0 ||
	    strcasecmp(name, "alias.test") == 0 ||
	    strcasecmp(name, "stray.test") == 0 ||
	    strcasecmp(name, "delay.test") == 0 ||
	    strcasecmp(name, "formerr.test") == 0) && type == DNSMSG_T_A) {
		if (strcasecmp(name, "alias.test") == 0) {
			rr_set(&rr, name, DNSMSG_T_CNAME, 300);
			rr.host = (char *)(uintptr_t)"a.test";
			dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
		}
		rr_set(&rr, strcasecmp(name, "alias.test") == 0 ? "a.test" : name,
		    DNSMSG_T_A, 300);
		inet_pton(AF_INET, "192.0.2.1", &rr.a);
		dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
		rr.ttl = 200;
		inet_pton(AF_INET, "192.0.2.2", &rr.a);
		dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	} else if (strcasecmp(name, "a.test") == 0 && type == DNSMSG_T_AAAA) {
		rr_set(&rr, name, DNSMSG_T_AAAA, 300);
		inet_pton(AF_INET6, "2001:db8::1", &rr.aaaa);
		dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	} else if (strcasecmp(name, "1.0.0.127.in-addr.arpa") == 0 &&
	    type == DNSMSG_T_PTR) {
		rr_set(&rr, name, DNSMSG_T_PTR, 300);
		rr.host = (char *)(uintptr_t)"localhost.test";
		dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	} else if (strcasecmp(name, "big.test") == 0 && type == DNSMSG_T_TXT) {
		char	 txt[100];

		memset(txt, 't', sizeof(txt));
		for (i = 0; i < 30; i++) {
			txt[0] = (char)('A' + i);
			rr_set(&rr, name, DNSMSG_T_TXT, 300);
			rr.txt = txt;
			rr.txtlen = sizeof(txt);
			dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
		}
	} else if (sscanf(name, "b%u.test", &n) == 1 && type == DNSMSG_T_A) {
		snprintf(host, sizeof(host), "10.0.%u.%u", n / 256, n % 256);
		rr_set(&rr, name, DNSMSG_T_A, 300);
		inet_pton(AF_INET, host, &rr.a);
		dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	}
	if (rcode == DNSMSG_R_NXDOMAIN || strcasecmp(name, "nodata.test") == 0) {
		rr_set(&rr, "test", DNSMSG_T_SOA, 3600);
		rr.host = (char *)(uintptr_t)"ns.test";
		rr.soa_minimum = 60;
		dnsmsg_out_rr(o, DNSMSG_S_AUTHORITY, &rr);
	}
	if (edns)
		dnsmsg_out_opt(o, 1232, 0);
	p = dnsmsg_out_data(o, &len, &err);
	assert_non_null(p);
	if (!tcp && len > limit) {
		/* RFC 1035 4.2.1 / RFC 6891 7: header and question, TC. */
		dnsmsg_out_free(&o);
		o = dnsmsg_out_new(id, DNSMSG_F_QR | DNSMSG_F_TC |
		    DNSMSG_F_RD | DNSMSG_F_RA, 0);
		dnsmsg_out_question(o, name, type, DNSMSG_C_IN);
		p = dnsmsg_out_data(o, &len, &err);
	}
	out = malloc(len);
	memcpy(out, p, len);
	*len_r = len;
	dnsmsg_out_free(&o);
out:
	dnsmsg_free(&m);
	return out;
}

static void
srv_delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed	*d = arg;

	sendto(d->s->ufd, d->data, d->len, 0, (struct sockaddr *)&d->peer,
	    d->plen);
	free(d->data);
	free(d);
}

static void
srv_udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv		*s = arg;
	struct sockaddr_storage	 peer;
	socklen_t		 plen = sizeof(peer);
	uint8_t			 buf[4096], *out, *bad;
	size_t			 len;
	ssize_t			 n;
	int			 delay;
	struct delayed		*d;
	struct timeval		 tv;

	while ((n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer,
	    &plen)) > 0) {
		s->udp_queries++;
		if ((out = srv_answer(s, buf, (size_t)n, false, &len,
		    &delay)) == NULL)
			continue;
		if (len > 20 && memmem(out, len, "\005stray", 6) != NULL) {
			/* Garbage, then the answer with a wrong id. */
			sendto(fd, "\x01\x02\x03", 3, 0,
			    (struct sockaddr *)&peer, plen);
			bad = malloc(len);
			memcpy(bad, out, len);
			bad[0] ^= 0xff;
			sendto(fd, bad, len, 0, (struct sockaddr *)&peer, plen);
			free(bad);
		}
		if (delay > 0) {
			d = calloc(1, sizeof(*d));
			d->s = s;
			d->peer = peer;
			d->plen = plen;
			d->data = out;
			d->len = len;
			tv.tv_sec = 0;
			tv.tv_usec = delay * 1000;
			event_base_once(s->base, -1, EV_TIMEOUT, srv_delayed_cb,
			    d, &tv);
			continue;
		}
		sendto(fd, out, len, 0, (struct sockaddr *)&peer, plen);
		free(out);
		plen = sizeof(peer);
	}
}

static void
srv_tcp_read(struct bufferevent *bev, void *arg)
{
	struct srv	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	uint8_t		 hdr[2], buf[65536], *out;
	size_t		 len, olen;
	int		 delay;

	while (evbuffer_get_length(in) >= 2) {
		evbuffer_copyout(in, hdr, 2);
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (evbuffer_get_length(in) < len + 2)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, buf, len);
		s->tcp_queries++;
		if ((out = srv_answer(s, buf, len, true, &olen,
		    &delay)) == NULL)
			continue;
		hdr[0] = (uint8_t)(olen >> 8);
		hdr[1] = olen & 0xff;
		bufferevent_write(bev, hdr, 2);
		bufferevent_write(bev, out, olen);
		free(out);
	}
}

static void
srv_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct srv	*s = arg;
	size_t		 i;

	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) == 0)
		return;
	for (i = 0; i < 64; i++)
		if (s->conns[i] == bev)
			s->conns[i] = NULL;
	bufferevent_free(bev);
}

static void
srv_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct srv		*s = arg;
	struct bufferevent	*bev;
	size_t			 i;

	bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, srv_tcp_read, NULL, srv_tcp_event, s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	for (i = 0; i < 64; i++)
		if (s->conns[i] == NULL) {
			s->conns[i] = bev;
			break;
		}
	assert_true(i < 64);
}

static struct srv *
srv_start(struct event_base *base)
{
	struct srv		*s = calloc(1, sizeof(*s));
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	int			 tries;

	s->base = base;
	for (tries = 0; tries < 20 && s->lis == NULL; tries++) {
		if (s->ufd > 0)
			close(s->ufd);
		s->ufd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(s->ufd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		getsockname(s->ufd, (struct sockaddr *)&sin, &sl);
		s->port = ntohs(sin.sin_port);
		s->lis = evconnlistener_new_bind(base, srv_accept, s,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
		    (struct sockaddr *)&sin, sizeof(sin));
	}
	assert_non_null(s->lis);
	s->uev = event_new(base, s->ufd, EV_READ | EV_PERSIST, srv_udp_cb, s);
	event_add(s->uev, NULL);
	return s;
}

static void
srv_stop(struct srv **sp)
{
	struct srv	*s = *sp;
	size_t		 i;

	for (i = 0; i < 64; i++)
		if (s->conns[i] != NULL)
			bufferevent_free(s->conns[i]);
	event_free(s->uev);
	evconnlistener_free(s->lis);
	close(s->ufd);
	free(s);
	*sp = NULL;
}

/* Test harness: one base, one responder, one resolver. */

struct got {
	int			 calls;
	enum dnsq_rcode		 rcode;
	size_t			 n;
	bool			 ad, cached;
	char			 canon[256];
	char			 v[64][128];	/* presentation of each rr */
};

struct fix {
	struct event_base	*base;
	struct srv		*srv;
	struct dnsq		*q;
	int			 pending;
	struct timespec		 t0;
};

static struct fix	 fx;

static void
got_cb(void *arg, const struct dnsq_result *r)
{
	struct got	*g = arg;
	size_t		 i;

	g->calls++;
	g->rcode = r->rcode;
	g->n = r->n;
	g->ad = r->ad;
	g->cached = r->cached;
	snprintf(g->canon, sizeof(g->canon), "%s", r->canon);
	for (i = 0; i < r->n && i < 64; i++) {
		switch (r->rr[i].type) {
		case DNSQ_T_A:
			inet_ntop(AF_INET, &r->rr[i].a, g->v[i], 128);
			break;
		case DNSQ_T_AAAA:
			inet_ntop(AF_INET6, &r->rr[i].aaaa, g->v[i], 128);
			break;
		case DNSQ_T_MX:
			snprintf(g->v[i], 128, "%u %s", r->rr[i].pref,
			    r->rr[i].host);
			break;
		case DNSQ_T_TXT:
			snprintf(g->v[i], 128, "%s", r->rr[i].txt);
			break;
		default:
			snprintf(g->v[i], 128, "%s", r->rr[i].host);
			break;
		}
	}
	if (--fx.pending == 0)
		event_base_loopbreak(fx.base);
}

static char	 srvaddr[64];
static char	*srvlist[2] = { srvaddr, NULL };

static int
setup(void **state)
{
	struct conf_strlist	 l = { srvlist, 1 };
	const char		*err;

	memset(&fx, 0, sizeof(fx));
	fx.base = event_base_new();
	fx.srv = srv_start(fx.base);
	snprintf(srvaddr, sizeof(srvaddr), "127.0.0.1:%d", fx.srv->port);
	fx.q = dnsq_new(fx.base, &l, &err);
	assert_non_null(fx.q);
	return 0;
}

static int
teardown(void **state)
{
	dnsq_free(&fx.q);
	assert_null(fx.q);
	srv_stop(&fx.srv);
	event_base_free(fx.base);
	return 0;
}

static void
watchdog(evutil_socket_t fd, short what, void *arg)
{
	fail_msg("watchdog: %d answers missing", fx.pending);
}

/* Run until pending reaches 0 (or the watchdog); returns elapsed ms. */
static long
run(int pending)
{
	struct timespec	 t0, t1;
	struct event	*wd;
	struct timeval	 tv = { 15, 0 };

	fx.pending += pending;
	wd = evtimer_new(fx.base, watchdog, NULL);
	evtimer_add(wd, &tv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (fx.pending > 0)
		event_base_dispatch(fx.base);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	event_free(wd);
	return (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

/* Let the loop run for ms with nothing expected. */
static void
idle(long ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(fx.base, &tv);
	event_base_dispatch(fx.base);
}

static void
test_types(void **state)
{
	struct got	 txt = { 0 }, mx = { 0 }, a = { 0 }, aaaa = { 0 },
			 ptr = { 0 }, cn = { 0 };
	struct sockaddr_in sin;
	char		 pname[64];

	dnsq_query(fx.q, "txt.test", DNSQ_T_TXT, got_cb, &txt);
	dnsq_query(fx.q, "mx.test", DNSQ_T_MX, got_cb, &mx);
	dnsq_query(fx.q, "a.test.", DNSQ_T_A, got_cb, &a);
	dnsq_query(fx.q, "A.TEST", DNSQ_T_AAAA, got_cb, &aaaa);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(dnsmsg_ptr_name((struct sockaddr *)&sin, pname,
	    sizeof(pname)), 0);
	dnsq_query(fx.q, pname, DNSQ_T_PTR, got_cb, &ptr);
	dnsq_query(fx.q, "alias.test", DNSQ_T_A, got_cb, &cn);
	run(6);
	assert_int_equal(txt.rcode, DNSQ_OK);
	assert_int_equal(txt.n, 2);
	assert_string_equal(txt.v[0], "v=spf1 ip4:192.0.2.0/24 -all");
	assert_string_equal(txt.v[1], "-all");
	assert_int_equal(mx.n, 2);
	assert_string_equal(mx.v[0], "20 mx2.test");
	assert_string_equal(mx.v[1], "10 mx1.test");
	assert_int_equal(a.n, 2);
	assert_string_equal(a.v[0], "192.0.2.1");
	assert_string_equal(a.v[1], "192.0.2.2");
	assert_true(a.ad);
	assert_false(txt.ad);
	assert_int_equal(aaaa.n, 1);
	assert_string_equal(aaaa.v[0], "2001:db8::1");
	assert_int_equal(ptr.n, 1);
	assert_string_equal(ptr.v[0], "localhost.test");
	assert_int_equal(cn.n, 2);
	assert_string_equal(cn.canon, "a.test");
	assert_string_equal(cn.v[0], "192.0.2.1");
	assert_int_equal(fx.srv->tcp_queries, 0);
}

static void
test_negative(void **state)
{
	struct got	 nx = { 0 }, sf = { 0 }, nd = { 0 }, nx2 = { 0 },
			 sf2 = { 0 };
	struct dnsq_stats st;

	dnsq_query(fx.q, "nx.test", DNSQ_T_A, got_cb, &nx);
	dnsq_query(fx.q, "fail.test", DNSQ_T_A, got_cb, &sf);
	dnsq_query(fx.q, "nodata.test", DNSQ_T_MX, got_cb, &nd);
	run(3);
	assert_int_equal(nx.rcode, DNSQ_NXDOMAIN);
	assert_int_equal(sf.rcode, DNSQ_SERVFAIL);
	assert_int_equal(nd.rcode, DNSQ_OK);
	assert_int_equal(nd.n, 0);
	/* NXDOMAIN is cached (SOA minimum 60 s), SERVFAIL is not. */
	dnsq_stats(fx.q, &st);
	dnsq_query(fx.q, "NX.test", DNSQ_T_A, got_cb, &nx2);
	dnsq_query(fx.q, "fail.test", DNSQ_T_A, got_cb, &sf2);
	run(2);
	assert_int_equal(nx2.rcode, DNSQ_NXDOMAIN);
	assert_true(nx2.cached);
	assert_int_equal(sf2.rcode, DNSQ_SERVFAIL);
	assert_false(sf2.cached);
	/* One server: SERVFAIL is final after one try, not retried. */
	assert_int_equal(fx.srv->udp_queries, 4);
	(void)st;
}

static void
test_cache(void **state)
{
	struct got	 a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
	struct dnsq_stats st;
	int		 q;

	dnsq_query(fx.q, "a.test", DNSQ_T_A, got_cb, &a1);
	run(1);
	assert_false(a1.cached);
	q = fx.srv->udp_queries;
	dnsq_stats(fx.q, &st);
	assert_int_equal(st.cache_entries, 1);
	dnsq_query(fx.q, "a.TEST.", DNSQ_T_A, got_cb, &a2);
	/* Never from inside dnsq_query(), even for a hit. */
	assert_int_equal(a2.calls, 0);
	run(1);
	assert_int_equal(a2.calls, 1);
	assert_true(a2.cached);
	assert_int_equal(a2.n, 2);
	assert_string_equal(a2.v[1], "192.0.2.2");
	assert_int_equal(fx.srv->udp_queries, q);
	dnsq_stats(fx.q, &st);
	assert_int_equal(st.cache_hits, 1);
	/* Another type is another entry; flush empties. */
	dnsq_flush(fx.q);
	dnsq_query(fx.q, "a.test", DNSQ_T_A, got_cb, &a3);
	run(1);
	assert_false(a3.cached);
	assert_int_equal(fx.srv->udp_queries, q + 1);
	/* Bounded: one entry at most. */
	dnsq_set_limits(fx.q, 1, 100);
	dnsq_query(fx.q, "mx.test", DNSQ_T_MX, got_cb, &a3);
	run(1);
	dnsq_stats(fx.q, &st);
	assert_int_equal(st.cache_entries, 1);
}

static void
test_tcp_fallback(void **state)
{
	struct got	 big = { 0 };
	struct dnsq_stats st;

	dnsq_query(fx.q, "big.test", DNSQ_T_TXT, got_cb, &big);
	run(1);
	assert_int_equal(big.rcode, DNSQ_OK);
	assert_int_equal(big.n, 30);
	assert_int_equal(strlen(big.v[29]), 100);
	assert_int_equal(big.v[29][0], 'A' + 29);
	assert_int_equal(fx.srv->tcp_queries, 1);
	dnsq_stats(fx.q, &st);
	assert_int_equal(st.tcp_sent, 1);
}

static void
test_timeout(void **state)
{
	struct got	 g = { 0 };
	struct dnsq_stats st;
	long		 ms;

	dnsq_set_timeouts(fx.q, 100, 300);
	dnsq_query(fx.q, "slow.test", DNSQ_T_A, got_cb, &g);
	ms = run(1);
	assert_int_equal(g.rcode, DNSQ_TIMEOUT);
	assert_true(ms >= 250 && ms < 1500);
	assert_int_equal(fx.srv->udp_queries, 3);
	dnsq_stats(fx.q, &st);
	assert_int_equal(st.inflight, 0);
}

static void
test_closed_port(void **state)
{
	struct conf_strlist	 l;
	char			 a0[64], a1[64], *v[2] = { a0, a1 };
	struct got		 g = { 0 }, g2 = { 0 };
	struct dnsq		*q;
	const char		*err;
	long			 ms;
	int			 fd, port;
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);

	/* A port that was just free: nothing listens there. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	port = ntohs(sin.sin_port);
	close(fd);
	snprintf(a0, sizeof(a0), "127.0.0.1:%d", port);
	l.v = v;
	l.n = 1;
	q = dnsq_new(fx.base, &l, &err);
	dnsq_set_timeouts(q, 200, 600);
	dnsq_query(q, "a.test", DNSQ_T_A, got_cb, &g);
	ms = run(1);
	assert_int_equal(g.rcode, DNSQ_TIMEOUT);
	assert_true(ms < 1500);
	dnsq_free(&q);

	/* The dead server first, the live one second: answered. */
	snprintf(a1, sizeof(a1), "127.0.0.1:%d", fx.srv->port);
	l.n = 2;
	q = dnsq_new(fx.base, &l, &err);
	dnsq_set_timeouts(q, 200, 1000);
	dnsq_query(q, "a.test", DNSQ_T_A, got_cb, &g2);
	dnsq_query(q, "a.test", DNSQ_T_AAAA, got_cb, &g);
	run(2);
	assert_int_equal(g2.rcode, DNSQ_OK);
	assert_int_equal(g2.n, 2);
	assert_int_equal(g.rcode, DNSQ_OK);
	dnsq_free(&q);
}

static void
test_cancel(void **state)
{
	struct got	 g = { 0 }, h = { 0 };
	struct dnsq_req	*r, *r2;
	struct dnsq_stats st;

	r = dnsq_query(fx.q, "delay.test", DNSQ_T_A, got_cb, &g);
	r2 = dnsq_query(fx.q, "a.test", DNSQ_T_A, got_cb, &h);
	run(1);				/* a.test answers first */
	assert_int_equal(h.calls, 1);
	dnsq_cancel(&r);
	assert_null(r);
	dnsq_cancel(&r);		/* NULL is fine */
	idle(500);			/* the late answer arrives, ignored */
	assert_int_equal(g.calls, 0);
	dnsq_stats(fx.q, &st);
	assert_int_equal(st.inflight, 0);
	(void)r2;

	/* Cancel a cache hit and a bad name before delivery. */
	r = dnsq_query(fx.q, "a.test", DNSQ_T_A, got_cb, &g);
	r2 = dnsq_query(fx.q, "bad..name", DNSQ_T_A, got_cb, &g);
	dnsq_cancel(&r);
	dnsq_cancel(&r2);
	idle(50);
	assert_int_equal(g.calls, 0);
	/* Cancel while waiting for a slot. */
	dnsq_set_limits(fx.q, 0, 1);
	r = dnsq_query(fx.q, "delay.test", DNSQ_T_A, got_cb, &g);
	r2 = dnsq_query(fx.q, "mx.test", DNSQ_T_MX, got_cb, &g);
	dnsq_stats(fx.q, &st);
	assert_int_equal(st.waiting, 1);
	dnsq_cancel(&r2);
	dnsq_cancel(&r);
	idle(400);
	assert_int_equal(g.calls, 0);
}

static struct dnsq_req	*self_req;

static void
self_cancel_cb(void *arg, const struct dnsq_result *r)
{
	int	*n = arg;

	(*n)++;
	dnsq_cancel(&self_req);		/* no-op inside its own callback */
	assert_null(self_req);
	if (--fx.pending == 0)
		event_base_loopbreak(fx.base);
}

static void
test_cancel_in_callback(void **state)
{
	int	 n = 0;

	self_req = dnsq_query(fx.q, "mx.test", DNSQ_T_MX, self_cancel_cb, &n);
	run(1);
	assert_int_equal(n, 1);
}

static void
test_errors(void **state)
{
	struct got	 g = { 0 }, h = { 0 };
	struct conf_strlist l;
	static const char *const bad[] = { "example.com", "1.2.3.4:0",
			    "1.2.3.4:99999", "[::1", "[::1]x", "",
			    "1.2.3.4:53x", "1.2.3.4:" };
	static const char *const good[] = { "1.2.3.4", "1.2.3.4:5353",
			    "::1", "[::1]:5353", "[2001:db8::1]" };
	char		 buf[8][64], *v[8];
	const char	*err;
	struct dnsq	*q;
	size_t		 i;

	dnsq_query(fx.q, "a..test", DNSQ_T_A, got_cb, &g);
	dnsq_query(fx.q, "a.test", 0, got_cb, &h);
	assert_int_equal(g.calls, 0);
	run(2);
	assert_int_equal(g.rcode, DNSQ_ERROR);
	assert_int_equal(h.rcode, DNSQ_ERROR);

	for (i = 0; i < 8; i++)
		v[i] = buf[i];
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf[0], sizeof(buf[0]), "%s", bad[i]);
		l.v = v;
		l.n = 1;
		err = NULL;
		assert_null(dnsq_new(fx.base, &l, &err));
		assert_non_null(err);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		snprintf(buf[i], sizeof(buf[i]), "%s", good[i]);
	l.v = v;
	l.n = sizeof(good) / sizeof(good[0]);
	q = dnsq_new(fx.base, &l, &err);
	assert_non_null(q);
	dnsq_free(&q);
	dnsq_free(&q);
}

static void
test_stray_and_formerr(void **state)
{
	struct got	 g = { 0 }, f = { 0 };
	struct dnsq_stats st;

	dnsq_query(fx.q, "stray.test", DNSQ_T_A, got_cb, &g);
	dnsq_query(fx.q, "formerr.test", DNSQ_T_A, got_cb, &f);
	run(2);
	assert_int_equal(g.rcode, DNSQ_OK);
	assert_int_equal(g.n, 2);
	dnsq_stats(fx.q, &st);
	assert_true(st.stray >= 2);
	/* RFC 6891 7: retried without EDNS. */
	assert_int_equal(f.rcode, DNSQ_OK);
	assert_int_equal(f.n, 2);
}

static void
test_concurrent(void **state)
{
	static struct got	 g[200];
	struct dnsq_stats	 st;
	char			 name[32], want[32];
	int			 i;

	memset(g, 0, sizeof(g));
	dnsq_set_limits(fx.q, 1024, 50);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "b%d.test", i);
		dnsq_query(fx.q, name, DNSQ_T_A, got_cb, &g[i]);
	}
	dnsq_stats(fx.q, &st);
	assert_int_equal(st.inflight, 50);
	assert_int_equal(st.waiting, 150);
	run(200);
	for (i = 0; i < 200; i++) {
		snprintf(want, sizeof(want), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].rcode, DNSQ_OK);
		assert_string_equal(g[i].v[0], want);
	}
	dnsq_stats(fx.q, &st);
	assert_int_equal(st.inflight_peak, 50);
	assert_int_equal(st.inflight, 0);
	assert_int_equal(st.waiting, 0);
	assert_int_equal(st.cache_entries, 200);
}

/* Against dnsmasq, when it is installed: an independent implementation. */
static void
test_dnsmasq(void **state)
{
	struct got		 t = { 0 }, m = { 0 }, a = { 0 }, nx = { 0 };
	struct conf_strlist	 l = { srvlist, 1 };
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	static const char *const args[] = { "dnsmasq", "--no-daemon",
				    "--listen-address=127.0.0.1",
				    "--bind-interfaces", "--no-resolv",
				    "--no-hosts", "--conf-file=/dev/null",
				    "--txt-record=t.dm.test,v=spf1 -all,second",
				    "--mx-host=dm.test,mx.dm.test,5",
				    "--host-record=h.dm.test,192.0.2.9",
				    "--local=/dm.test/", "--pid-file=" };
	char			 abuf[16][128], *argv[16];
	size_t			 i;
	const char		*err;
	struct dnsq		*q;
	pid_t			 pid;
	int			 fd, status;

	if (access("/usr/sbin/dnsmasq", X_OK) != 0)
		skip();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	close(fd);
	for (i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		snprintf(abuf[i], sizeof(abuf[i]), "%s", args[i]);
		argv[i] = abuf[i];
	}
	snprintf(abuf[i], sizeof(abuf[i]), "--port=%d", ntohs(sin.sin_port));
	argv[i] = abuf[i];
	argv[i + 1] = NULL;
	if ((pid = fork()) == 0) {
		int	 dn = open("/dev/null", 1);

		dup2(dn, 2);
		execv("/usr/sbin/dnsmasq", argv);
		_exit(127);
	}
	usleep(300000);
	if (waitpid(pid, &status, WNOHANG) == pid)
		skip();		/* could not start here (no privileges?) */
	snprintf(srvaddr, sizeof(srvaddr), "127.0.0.1:%d",
	    ntohs(sin.sin_port));
	q = dnsq_new(fx.base, &l, &err);
	dnsq_query(q, "t.dm.test", DNSQ_T_TXT, got_cb, &t);
	dnsq_query(q, "dm.test", DNSQ_T_MX, got_cb, &m);
	dnsq_query(q, "h.dm.test", DNSQ_T_A, got_cb, &a);
	dnsq_query(q, "nope.dm.test", DNSQ_T_A, got_cb, &nx);
	run(4);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	dnsq_free(&q);
	assert_int_equal(t.rcode, DNSQ_OK);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.v[0], "v=spf1 -allsecond");
	assert_int_equal(m.n, 1);
	assert_string_equal(m.v[0], "5 mx.dm.test");
	assert_int_equal(a.n, 1);
	assert_string_equal(a.v[0], "192.0.2.9");
	assert_int_equal(nx.rcode, DNSQ_NXDOMAIN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_fallback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_port, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_in_callback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stray_and_formerr, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dnsmasq, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
