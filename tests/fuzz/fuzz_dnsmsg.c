/*
 * fuzz_dnsmsg.c - libFuzzer target for the DNS response decoder.
 * Properties: the decoder never reads out of bounds or loops; every
 * decoded IN record of a typed kind re-encodes (with compression) and
 * decodes back to the same owner, TTL and typed fields; dnsmsg_answers()
 * and dnsmsg_negative_ttl() stay within the message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool
typed(const struct dnsmsg_rr *rr)
{
	if (rr->rclass != DNSMSG_C_IN)
		return false;
	switch (rr->type) {
	case DNSMSG_T_A:
	case DNSMSG_T_AAAA:
	case DNSMSG_T_MX:
	case DNSMSG_T_PTR:
	case DNSMSG_T_CNAME:
	case DNSMSG_T_NS:
	case DNSMSG_T_TXT:
		return true;
	default:
		return false;
	}
}

static void
same(const struct dnsmsg_rr *a, const struct dnsmsg_rr *b)
{
	if (strcmp(a->name, b->name) != 0 || a->type != b->type ||
	    a->ttl != b->ttl)
		abort();
	if ((a->host == NULL) != (b->host == NULL) ||
	    (a->host != NULL && strcmp(a->host, b->host) != 0))
		abort();
	if (a->type == DNSMSG_T_TXT && (a->txtlen != b->txtlen ||
	    memcmp(a->txt, b->txt, a->txtlen) != 0 || strlen(b->txt) !=
	    b->txtlen))
		abort();
	if (a->type == DNSMSG_T_MX && a->pref != b->pref)
		abort();
	if (memcmp(&a->a, &b->a, sizeof(a->a)) != 0 ||
	    memcmp(&a->aaaa, &b->aaaa, sizeof(a->aaaa)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsmsg		*m, *m2;
	struct dnsmsg_out	*o;
	const struct dnsmsg_rr	*rr, *ans[8];
	const char		*err, *qn, *canon;
	const uint8_t		*p;
	uint16_t		 qt, qc;
	size_t			 i, j, n, len;
	int			 s;

	if (dnsmsg_decode(data, size, &m, &err) == -1) {
		if (m != NULL || err == NULL)
			abort();
		return 0;
	}
	o = dnsmsg_out_new(dnsmsg_id(m), dnsmsg_flags(m), dnsmsg_rcode(m));
	if (dnsmsg_question(m, &qn, &qt, &qc)) {
		n = dnsmsg_answers(m, qn, qt, ans, 8, &canon);
		for (i = 0; i < n && i < 8; i++)
			if (ans[i]->type != qt)
				abort();
		if (canon == NULL)
			abort();
		if (dnsmsg_out_question(o, qn, qt, qc) == -1)
			abort();
	}
	(void)dnsmsg_negative_ttl(m);
	for (s = DNSMSG_S_ANSWER; s <= DNSMSG_S_ADDITIONAL; s++)
		for (i = 0; i < dnsmsg_count(m, s); i++) {
			rr = dnsmsg_get_rr(m, s, i);
			if (typed(rr))
				dnsmsg_out_rr(o, s, rr);
		}
	if ((p = dnsmsg_out_data(o, &len, &err)) != NULL) {
		if (dnsmsg_decode(p, len, &m2, &err) == -1)
			abort();
		for (s = DNSMSG_S_ANSWER, j = 0; s <= DNSMSG_S_ADDITIONAL;
		    s++, j = 0)
			for (i = 0; i < dnsmsg_count(m, s); i++) {
				rr = dnsmsg_get_rr(m, s, i);
				if (typed(rr))
					same(rr, dnsmsg_get_rr(m2, s, j++));
			}
		dnsmsg_free(&m2);
	}
	dnsmsg_out_free(&o);
	dnsmsg_free(&m);
	return 0;
}
