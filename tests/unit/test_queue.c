/*
 * test_queue.c - unit tests of the outbound queue's pure parts: the
 * record codec (queue_rec.c) and MX target selection from fake resolver
 * answers (smtpc_mx.c: RFC 5321 5.1 order and implicit MX, RFC 7505
 * null MX).  No daemon, no network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dnsq.h"
#include "queue_private.h"
#include "smtpc_mx.h"

static void
test_rec_roundtrip(void **state)
{
	struct queue_msg	 m, *d;
	struct queue_r		 r[2];
	struct buf		 b = BUF_INIT;

	memset(&m, 0, sizeof(m));
	memset(r, 0, sizeof(r));
	strcpy(m.id, "ABCDEF0123456789");
	m.sender = (char *)(uintptr_t)"a@example.test";
	m.flags = QUEUE_F_SMTPUTF8;
	m.created = 1700000000000LL;
	m.next = 1700000300000LL;
	m.attempts = 3;
	m.size = 1234;
	r[0].addr = (char *)(uintptr_t)"x@remote.example";
	r[0].state = QUEUE_R_SENT;
	r[0].code = 250;
	r[0].reply = (char *)(uintptr_t)"250 ok\twith\ttabs";
	r[1].addr = (char *)(uintptr_t)"y@remote.example";
	r[1].orcpt = (char *)(uintptr_t)"rfc822;y@old.example";
	r[1].notify = QUEUE_NOTIFY_FAILURE;
	m.r = r;
	m.nr = 2;
	queue_rec_encode(&m, &b);
	d = queue_rec_decode(m.id, b.data, b.len, "/q");
	assert_non_null(d);
	assert_string_equal(d->sender, "a@example.test");
	assert_string_equal(d->path, "/q/ABCDEF0123456789");
	assert_int_equal(d->nr, 2);
	assert_int_equal(d->attempts, 3);
	assert_true(d->next == m.next);
	assert_int_equal(d->r[0].state, QUEUE_R_SENT);
	assert_string_equal(d->r[0].reply, "250 ok with tabs");
	assert_null(d->r[1].reply);
	assert_string_equal(d->r[1].orcpt, "rfc822;y@old.example");
	assert_int_equal(d->r[1].notify, QUEUE_NOTIFY_FAILURE);
	queue_msg_free(d);
	assert_null(queue_rec_decode("X", "garbage\n", 8, "/q"));
	buf_free(&b);
}

static void
test_mx_order(void **state)
{
	struct dnsmsg_rr	 rr[3];
	struct dnsq_result	 res;
	struct smtpc_mx		 mx = { { NULL }, 0 };
	const char		*why = NULL;

	memset(rr, 0, sizeof(rr));
	memset(&res, 0, sizeof(res));
	rr[0].pref = 20;
	rr[0].host = (char *)(uintptr_t)"b.example.";
	rr[1].pref = 10;
	rr[1].host = (char *)(uintptr_t)"a.example";
	rr[2].pref = 20;
	rr[2].host = (char *)(uintptr_t)"c.example";
	res.rcode = DNSQ_OK;
	res.rr = rr;
	res.n = 3;
	assert_int_equal(smtpc_mx_from_answer(&mx, "d.example", &res, &why),
	    0);
	assert_int_equal(mx.n, 3);
	assert_string_equal(mx.host[0], "a.example");
	assert_string_equal(mx.host[1], "b.example");
	assert_string_equal(mx.host[2], "c.example");
	/* RFC 5321 5.1: no MX records: the domain itself. */
	res.n = 0;
	assert_int_equal(smtpc_mx_from_answer(&mx, "d.example", &res, &why),
	    0);
	assert_int_equal(mx.n, 1);
	assert_string_equal(mx.host[0], "d.example");
	/* RFC 7505: MX 0 "." -> permanent failure. */
	rr[0].pref = 0;
	rr[0].host = (char *)(uintptr_t)"";
	res.n = 1;
	assert_int_equal(smtpc_mx_from_answer(&mx, "d.example", &res, &why),
	    556);
	assert_non_null(strstr(why, "5.1.10"));
	res.rcode = DNSQ_NXDOMAIN;
	assert_int_equal(smtpc_mx_from_answer(&mx, "d.example", &res, &why),
	    550);
	res.rcode = DNSQ_TIMEOUT;
	assert_int_equal(smtpc_mx_from_answer(&mx, "d.example", &res, &why),
	    451);
	smtpc_mx_clear(&mx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_roundtrip),
		cmocka_unit_test(test_mx_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
