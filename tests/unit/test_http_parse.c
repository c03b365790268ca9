/*
 * test_http_parse.c - the pure HTTP layer: request heads (good ones,
 * every refusal with its status, limits, smuggling shapes, incremental
 * input), percent-decoding and queries, the XML element reader, address
 * checks, and the routes on a config loaded from text (autoconfig,
 * autodiscover, mobileconfig, MTA-STS, 404/405, the response head).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "conf.h"
#include "http_parse.h"

struct head_case {
	const char	*in;
	int		 rc;		/* 0, 1 (more) or -1 */
	int		 status;	/* for -1 */
	enum http_method method;
	bool		 keep_alive;
	uint64_t	 cl;
};

#define H11	"Host: x\r\n"

static const struct head_case head_cases[] = {
	{ "GET / HTTP/1.1\r\n" H11 "\r\n", 0, 0, HTTP_M_GET, true, 0 },
	{ "HEAD /healthz HTTP/1.1\r\n" H11 "\r\n", 0, 0, HTTP_M_HEAD, true,
	    0 },
	{ "POST /a HTTP/1.1\r\n" H11 "Content-Length: 12\r\n\r\n", 0, 0,
	    HTTP_M_POST, true, 12 },
	{ "DELETE /a HTTP/1.1\r\n" H11 "\r\n", 0, 0, HTTP_M_OTHER, true, 0 },
	{ "GET / HTTP/1.0\r\n\r\n", 0, 0, HTTP_M_GET, false, 0 },
	{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, 0,
	    HTTP_M_GET, true, 0 },
	{ "GET / HTTP/1.1\r\n" H11 "Connection: foo, close\r\n\r\n", 0, 0,
	    HTTP_M_GET, false, 0 },
	{ "GET / HTTP/1.2\r\n" H11 "\r\n", 0, 0, HTTP_M_GET, true, 0 },
	{ "\r\nGET / HTTP/1.1\r\n" H11 "\r\n", 0, 0, HTTP_M_GET, true, 0 },
	{ "POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\n"
	    "content-length: 5\r\n\r\n", 0, 0, HTTP_M_POST, true, 5 },
	{ "GET / HTTP/1.1\r\n" H11 "X:\r\n\r\n", 0, 0, HTTP_M_GET, true, 0 },
	/* Incomplete. */
	{ "", 1, 0, 0, false, 0 },
	{ "GET / HTTP/1.1\r", 1, 0, 0, false, 0 },
	{ "GET / HTTP/1.1\r\n" H11, 1, 0, 0, false, 0 },
	/* Refused. */
	{ "GARBAGE\r\n\r\n", -1, 400, 0, false, 0 },
	{ "GET /\r\n\r\n", -1, 400, 0, false, 0 },
	{ "GET  / HTTP/1.1\r\n" H11 "\r\n", -1, 400, 0, false, 0 },
	{ "GET http://x/ HTTP/1.1\r\n" H11 "\r\n", -1, 400, 0, false, 0 },
	{ "GET /a#b HTTP/1.1\r\n" H11 "\r\n", -1, 400, 0, false, 0 },
	{ "G(T / HTTP/1.1\r\n" H11 "\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/2.0\r\n" H11 "\r\n", -1, 505, 0, false, 0 },
	{ "GET / HTTX/1.1\r\n" H11 "\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/1.1\r\n\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/1.1\r\n" H11 H11 "\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/1.1\n" H11 "\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/1.1\r\n" H11 "A: b\rc\r\n\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/1.1\r\n" H11 " folded\r\n\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/1.1\r\n" H11 "Bad : x\r\n\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/1.1\r\n" H11 "NoColon\r\n\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/1.1\r\n" H11 "A: \001\r\n\r\n", -1, 400, 0, false, 0 },
	{ "POST / HTTP/1.1\r\n" H11 "Content-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\n", -1, 400, 0, false, 0 },
	{ "POST / HTTP/1.1\r\n" H11 "Content-Length: +1\r\n\r\n", -1, 400, 0,
	    false, 0 },
	{ "POST / HTTP/1.1\r\n" H11 "Content-Length: 65537\r\n\r\n", -1,
	    413, 0, false, 0 },
	{ "POST / HTTP/1.1\r\n" H11 "Content-Length: "
	    "99999999999999999999999999\r\n\r\n", -1, 413, 0, false, 0 },
	{ "POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\n\r\n", -1,
	    501, 0, false, 0 },
	{ "POST / HTTP/1.1\r\n" H11 "Content-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", -1, 400, 0, false, 0 },
	{ "GET / HTTP/1.1\r\n" H11 "Expect: magic\r\n\r\n", -1, 417, 0,
	    false, 0 },
};

static void
test_head_table(void **state)
{
	struct http_req	 q;
	const char	*err;
	size_t		 i;
	int		 rc, status;

	for (i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
		const struct head_case *t = &head_cases[i];

		rc = http_parse_head(t->in, strlen(t->in), &q, &status, &err);
		if (rc != t->rc || (rc == -1 && status != t->status))
			fail_msg("case %zu %s: rc %d status %d (%s)", i, t->in,
			    rc, status, err != NULL ? err : "-");
		if (rc == -1)
			assert_non_null(err);
		if (rc != 0)
			continue;
		assert_int_equal(q.method, t->method);
		assert_int_equal(q.keep_alive, t->keep_alive);
		assert_int_equal(q.content_length, t->cl);
		assert_int_equal(q.head_len, strlen(t->in));
	}
}

static void
test_head_limits(void **state)
{
	struct http_req	 q;
	const char	*err;
	struct buf	 b;
	int		 status, i;

	/* Request line without end past HTTP_LINE_MAX: 414. */
	buf_init(&b, 0);
	buf_puts(&b, "GET /");
	for (i = 0; i < HTTP_LINE_MAX; i++)
		buf_putc(&b, 'a');
	assert_int_equal(http_parse_head(b.data, b.len, &q, &status, &err),
	    -1);
	assert_int_equal(status, 414);

	/* One huge header: 431, complete or not. */
	buf_reset(&b);
	buf_puts(&b, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	for (i = 0; i < HTTP_HEAD_MAX; i++)
		buf_putc(&b, 'a');
	assert_int_equal(http_parse_head(b.data, b.len, &q, &status, &err),
	    -1);
	assert_int_equal(status, 431);
	buf_puts(&b, "\r\n\r\n");
	assert_int_equal(http_parse_head(b.data, b.len, &q, &status, &err),
	    -1);
	assert_int_equal(status, 431);

	/* Too many fields. */
	buf_reset(&b);
	buf_puts(&b, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (i = 0; i < HTTP_FIELDS_MAX; i++)
		buf_printf(&b, "X-%d: y\r\n", i);
	buf_puts(&b, "\r\n");
	assert_int_equal(http_parse_head(b.data, b.len, &q, &status, &err),
	    -1);
	assert_int_equal(status, 431);
	buf_free(&b);
}

/* Every prefix of a good head asks for more; only the whole is done. */
static void
test_head_incremental(void **state)
{
	static const char in[] = "POST /autodiscover/autodiscover.xml "
	    "HTTP/1.1\r\nHost: mail\r\nContent-Length: 3\r\n"
	    "Expect: 100-continue\r\n\r\nabc";
	struct http_req	 q;
	const char	*err;
	size_t		 head = strlen(in) - 3, n;
	int		 status;

	for (n = 0; n < head; n++)
		assert_int_equal(http_parse_head(in, n, &q, &status, &err), 1);
	for (n = head; n <= strlen(in); n++) {
		assert_int_equal(http_parse_head(in, n, &q, &status, &err), 0);
		assert_int_equal(q.head_len, head);
		assert_true(q.expect_continue);
		assert_int_equal(q.content_length, 3);
		assert_int_equal(q.host_len, 4);
	}
}

static void
test_pct_query(void **state)
{
	char	 out[64];
	struct http_req q;
	const char *query, *err, *raw;
	size_t	 qlen;
	int	 status;

	assert_int_equal(http_parse_pct("a%40b.c", 7, false, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "a@b.c");
	assert_int_equal(http_parse_pct("a+b", 3, true, out, sizeof(out)), 0);
	assert_string_equal(out, "a b");
	assert_int_equal(http_parse_pct("a+b", 3, false, out, sizeof(out)),
	    0);
	assert_string_equal(out, "a+b");
	assert_int_equal(http_parse_pct("%4", 2, false, out, sizeof(out)),
	    -1);
	assert_int_equal(http_parse_pct("%zz", 3, false, out, sizeof(out)),
	    -1);
	assert_int_equal(http_parse_pct("%00", 3, false, out, sizeof(out)),
	    -1);
	assert_int_equal(http_parse_pct("%0a", 3, false, out, sizeof(out)),
	    -1);
	assert_int_equal(http_parse_pct("abcd", 4, false, out, 4), -1);
	assert_int_equal(http_parse_pct("abc", 3, false, out, 4), 0);

	assert_int_equal(http_parse_query("a=1&emailaddress=x%40y.z&b", 26,
	    "emailaddress", out, sizeof(out)), 1);
	assert_string_equal(out, "x@y.z");
	assert_int_equal(http_parse_query("a=1&b=2", 7, "c", out,
	    sizeof(out)), 0);
	assert_int_equal(http_parse_query("c=%", 3, "c", out, sizeof(out)),
	    -1);
	assert_int_equal(http_parse_query(NULL, 0, "c", out, sizeof(out)), 0);

	raw = "GET /apple/a%40b.mobileconfig?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
	assert_int_equal(http_parse_head(raw, strlen(raw), &q, &status, &err),
	    0);
	assert_int_equal(http_parse_target(&q, out, sizeof(out), &query,
	    &qlen), 0);
	assert_string_equal(out, "/apple/a@b.mobileconfig");
	assert_int_equal(qlen, 3);
	assert_memory_equal(query, "x=1", 3);
}

static void
test_xml_text(void **state)
{
	static const char req[] =
	    "<?xml version=\"1.0\"?>\n<Autodiscover xmlns=\"http://schemas."
	    "microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">"
	    "<Request>\n  <EMailAddress> Alice@Example.TEST </EMailAddress>\n"
	    "<AcceptableResponseSchema>x</AcceptableResponseSchema>"
	    "</Request></Autodiscover>";
	char	 out[64];

	assert_int_equal(http_parse_xml_text(req, strlen(req), "EMailAddress",
	    out, sizeof(out)), 1);
	assert_string_equal(out, "Alice@Example.TEST");
	assert_int_equal(http_parse_xml_text(req, strlen(req), "Missing", out,
	    sizeof(out)), 0);
	assert_int_equal(http_parse_xml_text("<a:EMailAddress x=\"1\">"
	    "a&amp;b</a:EMailAddress>", 44, "emailaddress", out, sizeof(out)),
	    1);
	assert_string_equal(out, "a&b");
	assert_int_equal(http_parse_xml_text("<EMailAddress>a&bogus;",
	    22, "EMailAddress", out, sizeof(out)), -1);
	assert_int_equal(http_parse_xml_text("<EMailAddress>abc", 17,
	    "EMailAddress", out, sizeof(out)), -1);
	assert_int_equal(http_parse_xml_text("<EMailAddress/>", 15,
	    "EMailAddress", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(http_parse_xml_text("<EMailAddress", 13,
	    "EMailAddress", out, sizeof(out)), -1);
}

static void
test_addr(void **state)
{
	static const char *const good[] = {
		"a@b", "alice@Example.TEST", "a.b+tag@x-y.example",
		"o'hara@example.com",
	};
	static const char *const bad[] = {
		"", "@b", "a@", "a", "a@b@c", ".a@b", "a.@b", "a..b@c",
		"a b@c", "a@-b", "a@b-", "a@b..c", "a@b_c", "a\"@b",
	};
	char		 s[300];
	const char	*dom;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(s, sizeof(s), "%s", good[i]);
		if (!http_parse_addr(s, &dom))
			fail_msg("refused %s", good[i]);
	}
	snprintf(s, sizeof(s), "Alice@Example.TEST");
	assert_true(http_parse_addr(s, &dom));
	assert_string_equal(dom, "example.test");
	assert_string_equal(s, "Alice@example.test");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s, sizeof(s), "%s", bad[i]);
		if (http_parse_addr(s, &dom))
			fail_msg("accepted %s", bad[i]);
	}
	memset(s, 'a', 250);
	memcpy(s + 250, "@b.c", 5);
	assert_false(http_parse_addr(s, &dom));
}

/* ---- routes ---- */

static const char route_conf[] =
    "fqdn = \"mail.example.test\";\n"
    "domains = [ \"example.test\", \"example.org\" ];\n"
    "listen = {\n"
    "  smtp = [ \"127.0.0.1:25\" ];\n"
    "  submission = [ \"127.0.0.1:587\" ];\n"
    "  submissions = [ \"127.0.0.1:465\", \"[::1]:465\" ];\n"
    "  imap = [ \"127.0.0.1:143\" ];\n"
    "  imaps = [ \"127.0.0.1:993\" ];\n"
    "  pop3 = [ ];\n  pop3s = [ \"127.0.0.1:995\" ];\n"
    "  http = [ \"127.0.0.1:8080\" ];\n"
    "};\n";

static void
fake_metrics(struct buf *b, void *arg)
{
	buf_puts(b, "fake_metric 1\n");
}

/* Route one raw request; returns the status, body in r. */
static int
route(const struct conf *c, const char *raw, struct http_resp *r)
{
	struct http_env	 env = { c, fake_metrics, NULL };
	struct http_req	 q;
	const char	*err;
	int		 status;

	http_route_resp_init(r);
	assert_int_equal(http_parse_head(raw, strlen(raw), &q, &status, &err),
	    0);
	http_route(&env, &q, raw + q.head_len, strlen(raw) - q.head_len, r);
	return r->status;
}

static struct conf *
load_conf(void)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*c;

	c = conf_load_string(route_conf, "test.conf", &errs);
	if (c == NULL && errs.n > 0)
		fail_msg("%s", errs.v[0].message);
	conf_errors_free(&errs);
	assert_non_null(c);
	return c;
}

static void
test_route_autoconfig(void **state)
{
	struct conf	*c = load_conf();
	struct http_resp r;
	const char	*b;

	assert_int_equal(route(c, "GET /mail/config-v1.1.xml?emailaddress="
	    "bob%40example.org HTTP/1.1\r\nHost: h\r\n\r\n", &r), 200);
	b = r.body.data;
	assert_non_null(strstr(b, "<emailProvider id=\"example.org\">"));
	assert_non_null(strstr(b, "<hostname>mail.example.test</hostname>"));
	assert_non_null(strstr(b, "<port>993</port>\n      <socketType>SSL"));
	assert_non_null(strstr(b, "<port>143</port>\n      <socketType>"
	    "STARTTLS"));
	assert_non_null(strstr(b, "<port>995</port>"));
	assert_non_null(strstr(b, "<port>465</port>"));
	assert_non_null(strstr(b, "<port>587</port>"));
	assert_null(strstr(b, "<port>25</port>"));
	/* Two listeners on 465: offered once. */
	assert_ptr_equal(strstr(strstr(b, "<port>465") + 1, "<port>465"),
	    NULL);
	assert_true(strstr(b, "993") < strstr(b, "143"));
	assert_string_equal(r.ctype, "application/xml; charset=utf-8");
	http_route_resp_free(&r);

	assert_int_equal(route(c, "GET /.well-known/autoconfig/mail/"
	    "config-v1.1.xml HTTP/1.1\r\nHost: h\r\n\r\n", &r), 200);
	assert_non_null(strstr(r.body.data, "id=\"example.test\""));
	http_route_resp_free(&r);
	assert_int_equal(route(c, "GET /mail/config-v1.1.xml?emailaddress="
	    "bob%40elsewhere.net HTTP/1.1\r\nHost: h\r\n\r\n", &r), 404);
	http_route_resp_free(&r);
	assert_int_equal(route(c, "GET /mail/config-v1.1.xml?emailaddress="
	    "bob HTTP/1.1\r\nHost: h\r\n\r\n", &r), 400);
	http_route_resp_free(&r);
	assert_int_equal(route(c, "POST /mail/config-v1.1.xml HTTP/1.1\r\n"
	    "Host: h\r\n\r\n", &r), 405);
	assert_non_null(strstr(r.headers.data, "Allow: GET, HEAD\r\n"));
	http_route_resp_free(&r);
	conf_free(&c);
}

static void
test_route_autodiscover(void **state)
{
	struct conf	*c = load_conf();
	struct http_resp r;

	assert_int_equal(route(c, "POST /Autodiscover/Autodiscover.xml "
	    "HTTP/1.1\r\nHost: h\r\nContent-Length: 62\r\n\r\n"
	    "<Request><EMailAddress>a@example.test</EMailAddress></Request>",
	    &r), 200);
	assert_non_null(strstr(r.body.data, "<Type>IMAP</Type>"));
	assert_non_null(strstr(r.body.data, "<LoginName>a@example.test<"));
	assert_non_null(strstr(r.body.data, "<Port>465</Port>"));
	assert_non_null(strstr(r.body.data, "responseschema/2006a"));
	http_route_resp_free(&r);
	assert_int_equal(route(c, "POST /autodiscover/autodiscover.xml "
	    "HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n<a></a>", &r),
	    400);
	http_route_resp_free(&r);
	assert_int_equal(route(c, "GET /autodiscover/autodiscover.xml "
	    "HTTP/1.1\r\nHost: h\r\n\r\n", &r), 405);
	http_route_resp_free(&r);
	conf_free(&c);
}

static void
test_route_misc(void **state)
{
	struct conf	*c = load_conf();
	struct http_resp r;
	struct buf	 head = BUF_INIT;

	assert_int_equal(route(c, "GET /apple/carol%40example.test."
	    "mobileconfig HTTP/1.1\r\nHost: h\r\n\r\n", &r), 200);
	assert_string_equal(r.ctype, "application/x-apple-aspen-config");
	assert_non_null(strstr(r.body.data, "<string>com.apple.mail.managed"));
	assert_non_null(strstr(r.body.data, "<string>test.example.mail."
	    "email.carol@example.test</string>"));
	assert_non_null(strstr(r.body.data, "<integer>993</integer>"));
	assert_non_null(strstr(r.body.data, "<integer>465</integer>"));
	http_route_resp_free(&r);
	assert_int_equal(route(c, "GET /apple/x%40other.net.mobileconfig "
	    "HTTP/1.1\r\nHost: h\r\n\r\n", &r), 404);
	http_route_resp_free(&r);

	assert_int_equal(route(c, "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
	    "Host: h\r\n\r\n", &r), 200);
	assert_string_equal(r.body.data, "version: STSv1\r\nmode: testing\r\n"
	    "mx: mail.example.test\r\nmax_age: 86400\r\n");
	http_route_resp_free(&r);

	assert_int_equal(route(c, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n",
	    &r), 200);
	assert_string_equal(r.body.data, "fake_metric 1\n");
	http_route_resp_free(&r);
	assert_int_equal(route(c, "HEAD /healthz HTTP/1.1\r\nHost: h\r\n\r\n",
	    &r), 200);
	assert_string_equal(r.body.data, "ok\n");
	http_route_head(&r, true, 0, &head);
	assert_non_null(strstr(head.data, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(head.data, "Date: Thu, 01 Jan 1970 00:00:00 "
	    "GMT\r\n"));
	assert_non_null(strstr(head.data, "Content-Length: 3\r\n"));
	assert_non_null(strstr(head.data, "Connection: keep-alive\r\n"));
	assert_non_null(strstr(head.data, "\r\n\r\n"));
	buf_free(&head);
	http_route_resp_free(&r);

	assert_int_equal(route(c, "GET /nope HTTP/1.1\r\nHost: h\r\n\r\n",
	    &r), 404);
	http_route_resp_free(&r);
	assert_int_equal(route(c, "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	    &r), 400);
	assert_true(r.close);
	http_route_resp_free(&r);
	assert_int_equal(route(c, "PUT /healthz HTTP/1.1\r\nHost: h\r\n\r\n",
	    &r), 405);
	http_route_resp_free(&r);
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_table),
		cmocka_unit_test(test_head_limits),
		cmocka_unit_test(test_head_incremental),
		cmocka_unit_test(test_pct_query),
		cmocka_unit_test(test_xml_text),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_route_autoconfig),
		cmocka_unit_test(test_route_autodiscover),
		cmocka_unit_test(test_route_misc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
