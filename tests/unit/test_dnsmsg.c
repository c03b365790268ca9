/*
 * test_dnsmsg.c - DNS message encoding and decoding: query layout with
 * EDNS0, round trips of every RR type, compression, CNAME chains, and the
 * hostile cases (pointer loops, forward pointers, truncation at every
 * length, oversize names and labels, bad RDATA, misplaced OPT).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dnsmsg.h"

static struct dnsmsg *
decode_ok(const uint8_t *p, size_t len)
{
	struct dnsmsg	*m;
	const char	*err = NULL;

	if (dnsmsg_decode(p, len, &m, &err) != 0)
		fail_msg("decode: %s", err);
	return m;
}

static const char *
decode_err(const uint8_t *p, size_t len)
{
	struct dnsmsg	*m;
	const char	*err = NULL;

	assert_int_equal(dnsmsg_decode(p, len, &m, &err), -1);
	assert_null(m);
	assert_non_null(err);
	return err;
}

static void
test_query_layout(void **state)
{
	uint8_t		 buf[512];
	size_t		 len;
	const char	*err, *qn;
	struct dnsmsg	*m;
	uint16_t	 qt, qc;
	const struct dnsmsg_rr *opt;
	static const uint8_t want[] = {
	    0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1,
	    3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c',
	    'o', 'm', 0, 0, 16, 0, 1,
	    0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0 };

	assert_int_equal(dnsmsg_query("www.example.com.", DNSMSG_T_TXT,
	    0x1234, true, buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, len);
	m = decode_ok(buf, len);
	assert_true(dnsmsg_question(m, &qn, &qt, &qc));
	assert_string_equal(qn, "www.example.com");
	assert_int_equal(qt, DNSMSG_T_TXT);
	assert_int_equal(qc, DNSMSG_C_IN);
	assert_true(dnsmsg_has_edns(m));
	opt = dnsmsg_get_rr(m, DNSMSG_S_ADDITIONAL, 0);
	assert_int_equal(opt->rclass, DNSMSG_UDP_SIZE);
	dnsmsg_free(&m);
	assert_null(m);

	assert_int_equal(dnsmsg_query("example.com", DNSMSG_T_MX, 1, false,
	    buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(len, 12 + 13 + 4);
	assert_int_equal(dnsmsg_query("example.com", DNSMSG_T_MX, 1, true,
	    buf, 20, &len, &err), -1);
	/* The root. */
	assert_int_equal(dnsmsg_query(".", DNSMSG_T_NS, 1, false, buf,
	    sizeof(buf), &len, &err), 0);
	assert_int_equal(len, 17);
	assert_int_not_equal(dnsmsg_random_id() | dnsmsg_random_id() |
	    dnsmsg_random_id(), 0);
}

static void
test_bad_names(void **state)
{
	uint8_t		 buf[600];
	char		 name[400];
	size_t		 len;
	const char	*err;
	struct dnsmsg	*m;
	const char	*qn;
	static const char *const bad[] = {
	    "a..b", ".a", "..", "a\\", "a\\256",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.com",
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dnsmsg_query(bad[i], DNSMSG_T_A, 1, true,
		    buf, sizeof(buf), &len, &err), -1);
	/* 63-octet label is fine; 127 one-octet labels (255 wire) too,
	 * 128 (257) not. */
	memset(name, 'x', 63);
	strcpy(name + 63, ".com");
	assert_int_equal(dnsmsg_query(name, DNSMSG_T_A, 1, true, buf,
	    sizeof(buf), &len, &err), 0);
	for (i = 0; i < 128; i++)
		memcpy(name + 2 * i, "a.", 2);
	name[255] = '\0';	/* 128 labels: 256 wire octets + root */
	assert_int_equal(dnsmsg_query(name, DNSMSG_T_A, 1, true, buf,
	    sizeof(buf), &len, &err), -1);
	name[253] = '\0';	/* 127 labels: 255 */
	assert_int_equal(dnsmsg_query(name, DNSMSG_T_A, 1, true, buf,
	    sizeof(buf), &len, &err), 0);

	/* Escapes survive a round trip. */
	assert_int_equal(dnsmsg_query("a\\.b\\092\\000c.Example", DNSMSG_T_A,
	    1, false, buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(buf[12], 6);
	m = decode_ok(buf, len);
	assert_true(dnsmsg_question(m, &qn, NULL, NULL));
	assert_string_equal(qn, "a\\046b\\092\\000c.Example");
	assert_true(dnsmsg_name_eq(qn, "A\\046B\\092\\000C.example."));
	assert_false(dnsmsg_name_eq(qn, "a.b"));
	dnsmsg_free(&m);
}

/* One message with every type; returns the encoder (caller frees). */
static struct dnsmsg_out *
build_all(void)
{
	struct dnsmsg_out	*o;
	struct dnsmsg_rr	 rr;
	static const char	*strs[] = { "v=spf1 ", "a", "-all" };
	static const size_t	 lens[] = { 7, 1, 4 };
	static const uint8_t	 tlsa[] = { 3, 1, 1, 0xab, 0xcd };
	char			 big[600];

	o = dnsmsg_out_new(0xbeef, DNSMSG_F_QR | DNSMSG_F_RD | DNSMSG_F_RA |
	    DNSMSG_F_AD, 0);
	assert_int_equal(dnsmsg_out_question(o, "Alias.example.com",
	    DNSMSG_T_A, DNSMSG_C_IN), 0);
	memset(&rr, 0, sizeof(rr));
	rr.name = (char *)(uintptr_t)"Alias.example.com";
	rr.type = DNSMSG_T_CNAME;
	rr.ttl = 300;
	rr.host = (char *)(uintptr_t)"mid.example.com";
	assert_int_equal(dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr), 0);
	rr.name = (char *)(uintptr_t)"mid.example.com";
	rr.host = (char *)(uintptr_t)"host.example.com";
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	rr.name = (char *)(uintptr_t)"host.example.com";
	rr.type = DNSMSG_T_A;
	rr.ttl = 0x80000001U;		/* reads as 0, RFC 2181 8 */
	inet_pton(AF_INET, "192.0.2.1", &rr.a);
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	rr.ttl = 60;
	inet_pton(AF_INET, "192.0.2.2", &rr.a);
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	rr.type = DNSMSG_T_AAAA;
	inet_pton(AF_INET6, "2001:db8::1", &rr.aaaa);
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	rr.type = DNSMSG_T_MX;
	rr.pref = 10;
	rr.host = (char *)(uintptr_t)"mx1.example.com";
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	rr.type = DNSMSG_T_PTR;
	rr.host = (char *)(uintptr_t)"ptr.example.net";
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	dnsmsg_out_txt(o, DNSMSG_S_ANSWER, "host.example.com", 60, strs,
	    lens, 3);
	/* A TXT longer than 255 with a NUL: split on output, joined back. */
	memset(big, 'y', sizeof(big));
	big[10] = '\0';
	rr.type = DNSMSG_T_TXT;
	rr.txt = big;
	rr.txtlen = sizeof(big);
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	rr.txt = NULL;
	rr.txtlen = 0;
	rr.type = DNSMSG_T_TLSA;
	rr.rdata = (uint8_t *)(uintptr_t)tlsa;
	rr.rdlen = sizeof(tlsa);
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	rr.rdata = NULL;
	rr.rdlen = 0;
	rr.name = (char *)(uintptr_t)"example.com";
	rr.type = DNSMSG_T_SOA;
	rr.ttl = 900;
	rr.host = (char *)(uintptr_t)"ns.example.com";
	rr.soa_minimum = 120;
	dnsmsg_out_rr(o, DNSMSG_S_AUTHORITY, &rr);
	dnsmsg_out_opt(o, 4096, 0);
	return o;
}

static void
test_all_types(void **state)
{
	struct dnsmsg_out	*o = build_all();
	struct dnsmsg		*m;
	const struct dnsmsg_rr	*rr, *ans[8];
	const uint8_t		*p;
	const char		*err, *canon;
	size_t			 len, n;

	p = dnsmsg_out_data(o, &len, &err);
	assert_non_null(p);
	m = decode_ok(p, len);
	assert_int_equal(dnsmsg_id(m), 0xbeef);
	assert_int_equal(dnsmsg_rcode(m), 0);
	assert_true(dnsmsg_flags(m) & DNSMSG_F_AD);
	assert_false(dnsmsg_flags(m) & DNSMSG_F_TC);
	assert_int_equal(dnsmsg_count(m, DNSMSG_S_ANSWER), 10);
	assert_int_equal(dnsmsg_count(m, DNSMSG_S_AUTHORITY), 1);
	assert_int_equal(dnsmsg_count(m, DNSMSG_S_ADDITIONAL), 1);
	assert_null(dnsmsg_get_rr(m, DNSMSG_S_ANSWER, 10));
	assert_null(dnsmsg_get_rr(m, 4, 0));

	/* A through two CNAMEs. */
	n = dnsmsg_answers(m, "alias.EXAMPLE.com.", DNSMSG_T_A, ans, 8,
	    &canon);
	assert_int_equal(n, 2);
	assert_string_equal(canon, "host.example.com");
	assert_int_equal(ans[0]->ttl, 0);
	assert_int_equal(ans[1]->ttl, 60);
	assert_int_equal(ntohl(ans[1]->a.s_addr), 0xc0000202);
	n = dnsmsg_answers(m, "Alias.example.com", DNSMSG_T_CNAME, ans, 8,
	    &canon);
	assert_int_equal(n, 1);
	assert_string_equal(ans[0]->host, "mid.example.com");
	n = dnsmsg_answers(m, "Alias.example.com", DNSMSG_T_AAAA, ans, 8,
	    &canon);
	assert_int_equal(n, 1);
	assert_int_equal(ans[0]->aaaa.s6_addr[15], 1);
	n = dnsmsg_answers(m, "host.example.com", DNSMSG_T_MX, ans, 8, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(ans[0]->pref, 10);
	assert_string_equal(ans[0]->host, "mx1.example.com");
	n = dnsmsg_answers(m, "host.example.com", DNSMSG_T_PTR, ans, 8, NULL);
	assert_string_equal(ans[0]->host, "ptr.example.net");
	n = dnsmsg_answers(m, "host.example.com", DNSMSG_T_TXT, ans, 8, NULL);
	assert_int_equal(n, 2);
	assert_string_equal(ans[0]->txt, "v=spf1 a-all");
	assert_int_equal(ans[1]->txtlen, 600);
	assert_int_equal(strlen(ans[1]->txt), 600);
	assert_int_equal(ans[1]->txt[10], 0x01);
	n = dnsmsg_answers(m, "host.example.com", DNSMSG_T_TLSA, ans, 8, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(ans[0]->rdlen, 5);
	assert_int_equal(ans[0]->rdata[3], 0xab);
	/* max 0 still counts. */
	assert_int_equal(dnsmsg_answers(m, "host.example.com", DNSMSG_T_A,
	    ans, 0, NULL), 2);
	assert_int_equal(dnsmsg_answers(m, "nope.example.com", DNSMSG_T_A,
	    ans, 8, &canon), 0);
	assert_string_equal(canon, "nope.example.com");
	rr = dnsmsg_get_rr(m, DNSMSG_S_AUTHORITY, 0);
	assert_string_equal(rr->host, "ns.example.com");
	assert_int_equal(dnsmsg_negative_ttl(m), 120);
	dnsmsg_free(&m);

	/* Compression: every "example.com" after the first is a pointer. */
	{
		const uint8_t	*hit;

		hit = memmem(p, len, "\007example\003com", 13);
		assert_non_null(hit);
		assert_null(memmem(hit + 1, len - (size_t)(hit + 1 - p),
		    "\007example\003com", 13));
	}

	/* Every proper prefix is rejected, never read past. */
	for (n = 0; n < len; n++) {
		uint8_t *cp = malloc(n + 1);

		memcpy(cp, p, n);
		decode_err(cp, n);
		free(cp);
	}
	dnsmsg_out_free(&o);
	assert_null(o);
}

static void
test_cname_loop(void **state)
{
	struct dnsmsg_out	*o;
	struct dnsmsg_rr	 rr;
	struct dnsmsg		*m;
	const uint8_t		*p;
	const struct dnsmsg_rr	*ans[2];
	const char		*err, *canon;
	size_t			 len;

	o = dnsmsg_out_new(1, DNSMSG_F_QR, 0);
	memset(&rr, 0, sizeof(rr));
	rr.type = DNSMSG_T_CNAME;
	rr.name = (char *)(uintptr_t)"a.test";
	rr.host = (char *)(uintptr_t)"b.test";
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	rr.name = (char *)(uintptr_t)"b.test";
	rr.host = (char *)(uintptr_t)"a.test";
	dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr);
	p = dnsmsg_out_data(o, &len, &err);
	m = decode_ok(p, len);
	assert_int_equal(dnsmsg_answers(m, "a.test", DNSMSG_T_A, ans, 2,
	    &canon), 0);
	assert_int_equal(dnsmsg_negative_ttl(m), -1);
	assert_false(dnsmsg_question(m, NULL, NULL, NULL));
	dnsmsg_free(&m);
	dnsmsg_out_free(&o);
}

/* Hand-made hostile messages. */
static void
test_hostile(void **state)
{
	/* Header, 1 question whose name is a pointer to itself. */
	static const uint8_t self[] = { 0, 1, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	    0xc0, 12, 0, 1, 0, 1 };
	/* Forward pointer. */
	static const uint8_t fwd[] = { 0, 1, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	    0xc0, 14, 1, 'a', 0, 0, 1, 0, 1 };
	/* Question "a" then an answer whose owner points to the pointer
	 * after the label: label at 12, 14: ptr->12? valid; then RR owner
	 * 1 'b' ptr -> 19 (itself+) loops. */
	static const uint8_t loop2[] = { 0, 1, 0x81, 0, 0, 1, 0, 1, 0, 0, 0, 0,
	    1, 'a', 0, 0, 1, 0, 1,
	    1, 'b', 0xc0, 19, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4 };
	/* Label type 0x40 (extended, RFC 6891 5 reserves it). */
	static const uint8_t ext[] = { 0, 1, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	    0x41, 0, 0, 1, 0, 1 };
	/* Two questions. */
	static const uint8_t twoq[] = { 0, 1, 0x81, 0, 0, 2, 0, 0, 0, 0, 0, 0,
	    0, 0, 1, 0, 1, 0, 0, 1, 0, 1 };
	/* ANCOUNT 65535 with no data. */
	static const uint8_t many[] = { 0, 1, 0x81, 0, 0, 0, 0xff, 0xff, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	/* A with 5 octets of RDATA; TXT with a string past its RDATA; empty
	 * TXT; MX with junk after the name. */
	static const uint8_t bada[] = { 0, 1, 0x81, 0, 0, 0, 0, 1, 0, 0, 0, 0,
	    0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5 };
	static const uint8_t badtxt[] = { 0, 1, 0x81, 0, 0, 0, 0, 1, 0, 0, 0,
	    0, 0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 3, 5, 'a', 'b' };
	static const uint8_t emptytxt[] = { 0, 1, 0x81, 0, 0, 0, 0, 1, 0, 0, 0,
	    0, 0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t badmx[] = { 0, 1, 0x81, 0, 0, 0, 0, 1, 0, 0, 0,
	    0, 0, 0, 15, 0, 1, 0, 0, 0, 0, 0, 5, 0, 1, 0, 'x', 'y' };
	/* OPT in the answer section; two OPTs. */
	static const uint8_t optan[] = { 0, 1, 0x81, 0, 0, 0, 0, 1, 0, 0, 0, 0,
	    0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t opt2[] = { 0, 1, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	    0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0 };
	/* One OPT with extended rcode 1: BADVERS = 16 (RFC 6891 9). */
	static const uint8_t badvers[] = { 0, 1, 0x81, 0, 0, 0, 0, 0, 0, 0, 0,
	    1, 0, 0, 41, 0x10, 0, 1, 0, 0, 0, 0, 0 };
	/* A name of 4 x 63-octet labels: 257 wire octets. */
	uint8_t		 big[12 + 4 * 64 + 1 + 4];
	struct dnsmsg	*m;
	size_t		 i;

	decode_err(self, sizeof(self));
	decode_err(fwd, sizeof(fwd));
	decode_err(loop2, sizeof(loop2));
	decode_err(ext, sizeof(ext));
	decode_err(twoq, sizeof(twoq));
	decode_err(many, sizeof(many));
	decode_err(bada, sizeof(bada));
	decode_err(badtxt, sizeof(badtxt));
	decode_err(emptytxt, sizeof(emptytxt));
	decode_err(badmx, sizeof(badmx));
	decode_err(optan, sizeof(optan));
	decode_err(opt2, sizeof(opt2));
	decode_err(self, 3);
	m = decode_ok(badvers, sizeof(badvers));
	assert_int_equal(dnsmsg_rcode(m), 16);
	assert_true(dnsmsg_has_edns(m));
	dnsmsg_free(&m);

	memset(big, 0, sizeof(big));
	big[5] = 1;
	for (i = 0; i < 4; i++) {
		big[12 + 64 * i] = 63;
		memset(big + 13 + 64 * i, 'q', 63);
	}
	big[sizeof(big) - 3] = 1;
	big[sizeof(big) - 1] = 1;
	assert_string_equal(decode_err(big, sizeof(big)),
	    "name longer than 255 octets");
	/* 3 labels + a 61-octet one = 255: accepted. */
	big[12 + 64 * 3] = 61;
	memmove(big + 12 + 64 * 3 + 62, big + 12 + 64 * 4, 5);
	m = decode_ok(big, sizeof(big) - 2);
	dnsmsg_free(&m);
}

static void
test_rev_names(void **state)
{
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;
	char			 buf[128];

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.2", &s4.sin_addr);
	assert_int_equal(dnsmsg_ptr_name((struct sockaddr *)&s4, buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "2.0.0.127.in-addr.arpa");
	assert_int_equal(dnsmsg_rev_name((struct sockaddr *)&s4,
	    "zen.spamhaus.org", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2.0.0.127.zen.spamhaus.org");
	assert_int_equal(dnsmsg_rev_name((struct sockaddr *)&s4,
	    "zen.spamhaus.org", buf, 10), -1);

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::567:89ab", &s6.sin6_addr);
	assert_int_equal(dnsmsg_ptr_name((struct sockaddr *)&s6, buf,
	    sizeof(buf)), 0);
	/* RFC 3596 2.5 example form. */
	assert_string_equal(buf, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dnsmsg_ptr_name((struct sockaddr *)&s6, buf, 70), -1);
	inet_pton(AF_INET6, "::ffff:192.0.2.5", &s6.sin6_addr);
	assert_int_equal(dnsmsg_ptr_name((struct sockaddr *)&s6, buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "5.2.0.192.in-addr.arpa");
	s6.sin6_family = AF_UNIX;
	assert_int_equal(dnsmsg_ptr_name((struct sockaddr *)&s6, buf,
	    sizeof(buf)), -1);
}

static void
test_encoder_errors(void **state)
{
	struct dnsmsg_out	*o;
	struct dnsmsg_rr	 rr;
	const char		*err = NULL;
	size_t			 len;
	const char		*s = "x";
	size_t			 l = 256;

	o = dnsmsg_out_new(1, DNSMSG_F_QR, 0);
	memset(&rr, 0, sizeof(rr));
	rr.name = (char *)(uintptr_t)"a";
	rr.type = DNSMSG_T_A;
	dnsmsg_out_rr(o, DNSMSG_S_AUTHORITY, &rr);
	assert_int_equal(dnsmsg_out_rr(o, DNSMSG_S_ANSWER, &rr), -1);
	assert_null(dnsmsg_out_data(o, &len, &err));
	assert_string_equal(err, "sections out of order");
	dnsmsg_out_free(&o);
	o = dnsmsg_out_new(1, DNSMSG_F_QR, 0);
	assert_int_equal(dnsmsg_out_txt(o, DNSMSG_S_ANSWER, "a", 1, &s, &l,
	    1), -1);
	dnsmsg_out_free(&o);
	dnsmsg_out_free(&o);		/* NULL is fine */
	o = dnsmsg_out_new(1, DNSMSG_F_QR, 2);
	dnsmsg_out_set_flags(o, DNSMSG_F_QR | DNSMSG_F_TC);
	{
		const uint8_t	*p = dnsmsg_out_data(o, &len, &err);
		struct dnsmsg	*m = decode_ok(p, len);

		assert_int_equal(dnsmsg_rcode(m), DNSMSG_R_SERVFAIL);
		assert_true(dnsmsg_flags(m) & DNSMSG_F_TC);
		dnsmsg_free(&m);
	}
	dnsmsg_out_free(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_layout),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_all_types),
		cmocka_unit_test(test_cname_loop),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_rev_names),
		cmocka_unit_test(test_encoder_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
