/*
 * test_spam.c - spam scoring (filter/spam): built-in symbols, weights
 * and spam.symbols overrides, actions, headers, the rules file format
 * and its errors, Bayes tokens, learning, re-classing and
 * classification (held-out spam ranks above held-out ham).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "conf.h"
#include "idx.h"
#include "spam.h"

#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-" \
	"EMAIL*C.34X"

static const char good[] = "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <1@example.com>\r\nFrom: Alice <alice@example.com>\r\n"
    "To: bob@example.org\r\nSubject: Lunch tomorrow\r\n\r\n"
    "Shall we meet at noon?\r\n";

static struct spam_result *
check(const struct conf *c, const struct spam_rules *rs,
    const struct spam_env *env0, const char *msg)
{
	struct spam_env	 env = { 0 };

	if (env0 != NULL)
		env = *env0;
	env.now = 1704103200;
	return spam_check_with(c, rs, NULL, 0, &env, msg, strlen(msg));
}

static void
test_clean(void **state)
{
	struct spam_result	*r = check(NULL, NULL, NULL, good);

	(void)state;
	assert_true(spam_result_score(r) < 1.0);
	assert_int_equal(spam_result_action(r), SPAM_ACCEPT);
	assert_false(spam_result_has(r, "MISSING_DATE", NULL));
	spam_result_free(&r);
}

struct sym_case {
	const char	*sym;
	const char	*msg;
	struct spam_env	 env;
};

static void
test_symbols(void **state)
{
	static const struct sym_case cases[] = {
		{ "MISSING_DATE", "From: a@b.test\r\nTo: c@d.test\r\n"
		    "Subject: x\r\n\r\nhi\r\n", { 0 } },
		{ "INVALID_DATE", "Date: yesterday\r\nSubject: x\r\n\r\nb\r\n",
		    { 0 } },
		{ "DATE_IN_FUTURE", "Date: 1 Jan 2031 00:00 +0000\r\n\r\nb\r\n",
		    { 0 } },
		{ "MISSING_MID", "Subject: x\r\n\r\nb\r\n", { 0 } },
		{ "INVALID_MSGID", "Message-ID: nope\r\n\r\nb\r\n", { 0 } },
		{ "MISSING_FROM", "Subject: x\r\n\r\nb\r\n", { 0 } },
		{ "MISSING_TO", "Subject: x\r\n\r\nb\r\n", { 0 } },
		{ "R_UNDISC_RCPT", "To: undisclosed-recipients:;\r\n\r\nb\r\n",
		    { 0 } },
		{ "REPLYTO_DOM_NEQ_FROM_DOM", "From: a@one.test\r\nReply-To: "
		    "b@two.test\r\n\r\nb\r\n", { 0 } },
		{ "SUBJ_ALL_CAPS", "Subject: BUY CHEAP WATCHES NOW\r\n\r\nb\r\n",
		    { 0 } },
		{ "EMPTY_SUBJECT", "Subject: \r\n\r\nb\r\n", { 0 } },
		{ "MISSING_SUBJECT", "From: a@b.test\r\n\r\nb\r\n", { 0 } },
		{ "SUBJ_EXCESS_PUNCT", "Subject: win!!!\r\n\r\nb\r\n", { 0 } },
		{ "MIME_HTML_ONLY", "MIME-Version: 1.0\r\nContent-Type: text/html"
		    "\r\n\r\n<p>hi</p>\r\n", { 0 } },
		{ "URL_BARE_IP", "Subject: x\r\n\r\nsee http://192.0.2.7/p\r\n",
		    { 0 } },
		{ "URL_BARE_IP", "Content-Type: text/html\r\n\r\n<a href='"
		    "http://0x7f000001/'>x</a>\r\n", { 0 } },
		{ "MIME_BAD_EXTENSION", "MIME-Version: 1.0\r\nContent-Type: "
		    "multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b\r\n"
		    "Content-Type: application/x; name=\"a.scr\"\r\n\r\nxx\r\n"
		    "--b--\r\n", { 0 } },
		{ "MIME_DOUBLE_BAD_EXTENSION", "MIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
		    "\r\nhi\r\n--b\r\nContent-Disposition: attachment; "
		    "filename=\"bill.pdf.exe\"\r\n\r\nxx\r\n--b--\r\n", { 0 } },
		{ "MISSING_MIME_VERSION", "Content-Type: multipart/mixed; "
		    "boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b--\r\n", { 0 } },
		{ "GTUBE", "Subject: t\r\n\r\n" GTUBE "\r\n", { 0 } },
		{ "FORGED_HELO_IP", "Subject: x\r\n\r\nb\r\n",
		    { .helo = "[192.0.2.1]", .peer_ip = "192.0.2.2" } },
		{ "FORGED_HELO_FQDN", "Subject: x\r\n\r\nb\r\n",
		    { .helo = "MX.example.com", .our_fqdn = "mx.example.com" } },
		{ "HELO_BAREIP", "Subject: x\r\n\r\nb\r\n",
		    { .helo = "192.0.2.1", .peer_ip = "192.0.2.1" } },
		{ "R_SPF_FAIL", good, { .spf = SPAM_SPF_FAIL } },
		{ "R_SPF_ALLOW", good, { .spf = SPAM_SPF_PASS } },
		{ "R_DKIM_REJECT", good, { .dkim = SPAM_DKIM_REJECT } },
		{ "R_DKIM_ALLOW", good, { .dkim = SPAM_DKIM_ALLOW } },
		{ "DMARC_POLICY_REJECT", good, { .dmarc = SPAM_DMARC_REJECT } },
		{ "DMARC_POLICY_QUARANTINE", good,
		    { .dmarc = SPAM_DMARC_QUARANTINE } },
		{ "DMARC_POLICY_ALLOW", good, { .dmarc = SPAM_DMARC_ALLOW } },
	};
	struct spam_result	*r;
	double			 w, got;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = check(NULL, NULL, &cases[i].env, cases[i].msg);
		if (!spam_result_has(r, cases[i].sym, &got))
			fail_msg("case %zu: %s did not fire", i, cases[i].sym);
		assert_true(spam_symbol_default(cases[i].sym, &w));
		assert_true(got == w);
		spam_result_free(&r);
	}
	/* A same-IP literal is not forged. */
	{
		struct spam_env e = { .helo = "[192.0.2.1]",
		    .peer_ip = "192.0.2.1" };
		r = check(NULL, NULL, &e, good);
		assert_false(spam_result_has(r, "FORGED_HELO_IP", NULL));
		spam_result_free(&r);
	}
}

static struct conf *
conf_spam(void)
{
	struct conf	*c = conf_default_dev();

	c->spam.nsymbols = 1;
	c->spam.symbols = calloc(1, sizeof(*c->spam.symbols));
	c->spam.symbols[0].name = strdup("MISSING_MID");
	c->spam.symbols[0].weight = 5.5;
	return c;
}

static void
test_actions(void **state)
{
	struct conf		*c = conf_spam();
	struct spam_result	*r;
	struct buf		 b = BUF_INIT;
	double			 s;

	(void)state;
	assert_int_equal(spam_action_for(c, 14.9), SPAM_ADD_HEADER);
	assert_int_equal(spam_action_for(c, 15), SPAM_REJECT);
	assert_int_equal(spam_action_for(c, 5), SPAM_ACCEPT);
	assert_int_equal(spam_action_for(c, 4.5), SPAM_ACCEPT);
	c->spam.greylist_enable = true;
	assert_int_equal(spam_action_for(c, 4.5), SPAM_GREYLIST);
	c->spam.greylist_enable = false;
	/* spam.symbols overrides the weight. */
	r = check(c, NULL, NULL, "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	    "From: a@b.test\r\nTo: c@d.test\r\nSubject: Hi\r\n\r\nb\r\n");
	assert_true(spam_result_has(r, "MISSING_MID", &s));
	assert_true(s == 5.5);
	spam_result_free(&r);
	r = check(c, NULL, NULL, "Subject: t\r\n\r\n" GTUBE "\r\n");
	assert_int_equal(spam_result_action(r), SPAM_REJECT);
	assert_non_null(strstr(spam_result_reason(r), "GTUBE"));
	spam_result_headers(r, &b);
	assert_non_null(strstr(b.data, "X-Spam-Score: 10"));
	assert_non_null(strstr(b.data, "X-Spam-Result: reject"));
	assert_non_null(strstr(b.data, "\tGTUBE(1000.00)"));
	assert_non_null(strstr(b.data, "X-Spam: Yes\r\n"));
	assert_true(spam_hdr_score(b.data, b.len) > 1000);
	assert_true(spam_hdr_score("X-Other: 1\r\n", 12) == -1);
	assert_string_equal(spam_junk_folder(c), "Junk");
	buf_free(&b);
	spam_result_free(&r);
	conf_free(&c);
}

static void
test_rules(void **state)
{
	static const char text[] =
	    "# comment\n\n"
	    "header SUBJ_VIAGRA Subject /v[i1]agra/i 3.5\n"
	    "body BODY_FREE /free\\s+money/i\n"
	    "rawbody RAW_FONT /<font/i 0.5\n"
	    "uri URI_SHORT /bit\\.ly/ 2\n"
	    "full FULL_XBAD /^X-Bad:/m\n"
	    "header HAS_XM X-Mailer exists 0.25\n"
	    "header NO_UA User-Agent !~ /Thunderbird/ 0.1\n";
	static const char msg[] = "Subject: =?utf-8?q?cheap_V1AGRA?=\r\n"
	    "X-Bad: 1\r\nX-Mailer: m\r\nContent-Type: text/html\r\n\r\n"
	    "<font>FREE &nbsp; <b>money</b></font> <a href=\"https://bit.ly/x\">"
	    "</a>\r\n";
	static const struct { const char *text, *err; } bad[] = {
		{ "body X /(unclosed/\n", "t:1: body X: regex error at offset "
		    "9: missing closing parenthesis" },
		{ "\n\nfoo X /a/\n", "t:3: unknown rule type \"foo\"" },
		{ "body lower /a/\n", "t:1: body: bad symbol name" },
		{ "body X /a/q\n", "t:1: body X: unknown regex flag 'q'" },
		{ "body X /a/ heavy\n", "t:1: body X: bad weight \"heavy\"" },
		{ "body X a\n", "t:1: body X: expected /regex/flags" },
		{ "header X /a/\n", "t:1: header X: missing field name" },
		{ "body GTUBE /a/\n", "t:1: body GTUBE: a built-in symbol" },
		{ "body X /a/ 1 2\n", "t:1: body X: text after the weight" },
	};
	struct spam_rules	*rs;
	struct spam_result	*r;
	char			*err;
	double			 s;
	size_t			 i;

	(void)state;
	assert_int_equal(spam_rules_parse(text, strlen(text), "t", &rs, &err),
	    0);
	assert_int_equal(spam_rules_count(rs), 7);
	r = check(NULL, rs, NULL, msg);
	assert_true(spam_result_has(r, "SUBJ_VIAGRA", &s) && s == 3.5);
	assert_true(spam_result_has(r, "BODY_FREE", &s) && s == 1.0);
	assert_true(spam_result_has(r, "RAW_FONT", &s) && s == 0.5);
	assert_true(spam_result_has(r, "URI_SHORT", &s) && s == 2);
	assert_true(spam_result_has(r, "FULL_XBAD", NULL));
	assert_true(spam_result_has(r, "HAS_XM", NULL));
	assert_true(spam_result_has(r, "NO_UA", NULL));
	spam_result_free(&r);
	spam_rules_free(&rs);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(spam_rules_parse(bad[i].text,
		    strlen(bad[i].text), "t", &rs, &err), -1);
		assert_null(rs);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("case %zu: got \"%s\"", i, err);
		free(err);
	}
}

static char *
mkmsg(int i, bool spam)
{
	char	*m;

	if (asprintf(&m, "Message-ID: <%d.%d@x.test>\r\nSubject: %s %d\r\n\r\n"
	    "%s\r\n", i, spam, spam ? "cheap pills" : "meeting notes", i,
	    spam ? "buy cheap pills online viagra discount casino winner"
	    : "the quarterly report agenda for our project meeting") == -1)
		abort();
	return m;
}

/* As if another tokenizer version had made the data. */
static int
put_version(MDB_txn *txn, void *arg, const char **error_r)
{
	uint32_t	 v = 1;
	MDB_val		 key = { 1, (void *)(uintptr_t)"V" };
	MDB_val		 val = { sizeof(v), &v };

	(void)error_r;
	return mdb_put(txn, *(MDB_dbi *)arg, &key, &val, 0) == 0 ? 0 : -1;
}

static void
test_bayes(void **state)
{
	char		 dir[] = "/tmp/test_spam.XXXXXX", *p, *m;
	struct idx	*idx;
	struct idx_opts	 o = { 0, 0, true };
	const char	*e = NULL;
	MDB_dbi		 dbi;
	unsigned	 ver = 0;
	uint64_t	 ns, nh, nt;
	double		 pr;
	int		 i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&p, "%s/index.lmdb", dir) > 0);
	assert_int_equal(idx_open_opts_blocking(p, &o, &idx, &e), 0);
	m = mkmsg(0, true);
	assert_true(spam_bayes_classify_blocking(idx, NULL, m, strlen(m),
	    1) == -1);
	for (i = 0; i < 5; i++) {
		free(m);
		m = mkmsg(i, true);
		assert_int_equal(spam_bayes_learn_blocking(idx, "u@x.test", m,
		    strlen(m), true, &e), 1);
		free(m);
		m = mkmsg(i, false);
		assert_int_equal(spam_bayes_learn_blocking(idx, NULL, m,
		    strlen(m), false, &e), 1);
	}
	/* Same message, same class: known; other class: moved over. */
	assert_int_equal(spam_bayes_learn_blocking(idx, NULL, m, strlen(m),
	    false, &e), 0);
	assert_int_equal(spam_bayes_stats_blocking(idx, NULL, &ns, &nh, &nt,
	    &ver, &e), 0);
	assert_int_equal(ns, 5);
	assert_int_equal(nh, 5);
	assert_true(nt > 10);
	assert_int_equal(ver, 2);	/* recorded at the first lesson */
	assert_int_equal(spam_bayes_stats_blocking(idx, "u@x.test", &ns, &nh,
	    &nt, NULL, &e), 0);
	assert_int_equal(ns, 5);
	assert_int_equal(nh, 0);
	free(m);
	m = mkmsg(99, true);
	pr = spam_bayes_classify_blocking(idx, NULL, m, strlen(m), 5);
	assert_true(pr > 0.9);
	assert_true(spam_bayes_classify_blocking(idx, NULL, m, strlen(m),
	    6) == -1);
	free(m);
	m = mkmsg(98, false);
	pr = spam_bayes_classify_blocking(idx, NULL, m, strlen(m), 5);
	assert_true(pr < 0.1);
	/* Learned as ham, then as spam: counts move. */
	assert_int_equal(spam_bayes_learn_blocking(idx, NULL, m, strlen(m),
	    false, &e), 1);
	assert_int_equal(spam_bayes_learn_blocking(idx, NULL, m, strlen(m),
	    true, &e), 1);
	assert_int_equal(spam_bayes_stats_blocking(idx, NULL, &ns, &nh, &nt,
	    NULL, &e), 0);
	assert_int_equal(ns, 6);
	assert_int_equal(nh, 5);
	/* Data from another tokenizer version is not used nor added to. */
	assert_int_equal(idx_env_dbi_open_blocking(idx, "spam.bayes", 0, &dbi,
	    &e), 0);
	assert_int_equal(idx_env_write_blocking(idx, put_version, &dbi, &e),
	    0);
	assert_true(spam_bayes_classify_blocking(idx, NULL, m, strlen(m), 5)
	    == -1);
	e = NULL;
	assert_int_equal(spam_bayes_learn_blocking(idx, NULL, "Subject: x\r\n"
	    "\r\nnew words here\r\n", 30, true, &e), -1);
	assert_non_null(strstr(e, "spam reset"));
	/* Reset forgets everything, and learning starts over. */
	assert_int_equal(spam_bayes_reset_blocking(idx, &e), 0);
	assert_int_equal(spam_bayes_stats_blocking(idx, NULL, &ns, &nh, &nt,
	    &ver, &e), 0);
	assert_true(ns == 0 && nh == 0 && nt == 0 && ver == 0);
	assert_int_equal(spam_bayes_learn_blocking(idx, NULL, m, strlen(m),
	    true, &e), 1);
	assert_int_equal(spam_bayes_stats_blocking(idx, NULL, &ns, &nh, &nt,
	    &ver, &e), 0);
	assert_true(ns == 1 && ver == 2);
	free(m);
	idx_close(&idx);
	assert_true(asprintf(&m, "rm -rf %s", dir) > 0);
	assert_int_equal(system(m), 0);
	free(m);
	free(p);
}

struct toks {
	struct buf	 b;
};

static void
tok_cb(void *arg, const char *tok, size_t len)
{
	struct toks	*t = arg;

	buf_append(&t->b, tok, len);
	buf_putc(&t->b, '|');
}

static bool
has_tok(struct toks *t, const char *tok)
{
	char	*p;
	bool	 r;

	buf_putc(&t->b, '\0');
	t->b.len--;
	if (asprintf(&p, "|%s|", tok) == -1)
		abort();
	r = strstr(t->b.data, p) != NULL ||
	    strncmp(t->b.data, p + 1, strlen(p + 1)) == 0;
	free(p);
	return r;
}

static void
test_bayes_tokens(void **state)
{
	static const char msg[] =
	    "Received: from mx.Spammer.example (mx.spammer.example "
	    "[192.0.2.77])\r\n\tby mail.example.test; Mon, 1 Jan 2024\r\n"
	    "Message-ID: <abc@bulk.spammer.example>\r\n"
	    "List-Unsubscribe: <mailto:leave@lists.example>\r\n"
	    "Subject: =?utf-8?q?Cheap_Meds?=\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nBuy CHEAP pills now\r\n"
	    "--b\r\nContent-Type: text/html\r\n\r\n<table bgcolor=red><tr>"
	    "<td><a href=\"http://www.pills.example/x\">click</a></td></tr>"
	    "</table>\r\n--b--\r\n";
	struct toks	 t = { BUF_INIT };

	(void)state;
	spam_tokens(msg, strlen(msg), tok_cb, &t);
	/* Words, bigrams and capitals of the text and the Subject. */
	assert_true(has_tok(&t, "cheap"));
	assert_true(has_tok(&t, "b:buy cheap"));
	assert_true(has_tok(&t, "b:cheap pills"));
	assert_true(has_tok(&t, "C:cheap"));
	assert_false(has_tok(&t, "C:buy"));
	assert_true(has_tok(&t, "subject:cheap"));
	assert_true(has_tok(&t, "b:cheap meds"));
	/* Received and Message-ID: hosts, parent domains, address nets. */
	assert_true(has_tok(&t, "r:mx.spammer.example"));
	assert_true(has_tok(&t, "r:spammer.example"));
	assert_true(has_tok(&t, "r:ip:192.0.2.77"));
	assert_true(has_tok(&t, "r:ip:192.0.2"));
	assert_true(has_tok(&t, "r:ip:192.0"));
	assert_false(has_tok(&t, "r:from"));
	assert_true(has_tok(&t, "mid:bulk.spammer.example"));
	assert_true(has_tok(&t, "mid~<a@a.a.a>"));	/* its shape */
	/* HTML tags, MIME structure, URI hosts; List-* fields skipped. */
	assert_true(has_tok(&t, "h:table"));
	assert_true(has_tok(&t, "h:bgcolor"));
	assert_true(has_tok(&t, "p:alternative") || has_tok(&t, "p:html"));
	assert_true(has_tok(&t, "u:www.pills.example"));
	assert_true(has_tok(&t, "u:pills.example"));
	assert_false(has_tok(&t, "list-unsubsc:leave"));
	buf_free(&t.b);
}

/* A list message: the same list fields on spam and ham; the text tells. */
static char *
mklist(int i, bool spam)
{
	static const char *const sw[] = { "cheap", "pills", "viagra",
	    "casino", "winner", "discount", "offer", "guaranteed", "free",
	    "money", "credit", "loan" };
	static const char *const hw[] = { "patch", "kernel", "build",
	    "release", "review", "module", "compile", "branch", "commit",
	    "merge", "debug", "config" };
	const char *const *w = spam ? sw : hw;
	char	*m;

	if (asprintf(&m, "Message-ID: <%d.%d@x.test>\r\n"
	    "List-Id: dev list <dev.lists.example>\r\n"
	    "List-Post: <mailto:dev@lists.example>\r\n"
	    "Subject: [dev] %s %s\r\n\r\n%s %s %s %s and %s %s\r\n"
	    "--\r\ndev mailing list http://lists.example/listinfo/dev\r\n",
	    i, spam, w[i % 12], w[(i + 5) % 12], w[(i + 1) % 12],
	    w[(i + 3) % 12], w[(i + 7) % 12], w[(i + 2) % 12],
	    w[(i * 7 + 4) % 12], w[(i + 11) % 12]) == -1)
		abort();
	return m;
}

/* Trained on some messages, Bayes ranks unseen spam above unseen ham. */
static void
test_bayes_heldout(void **state)
{
	char		 dir[] = "/tmp/test_spam.XXXXXX", *p, *m;
	struct idx	*idx;
	struct idx_opts	 o = { 0, 0, true };
	const char	*e = NULL;
	double		 ps, ph, minspam = 1, maxham = 0;
	int		 i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&p, "%s/index.lmdb", dir) > 0);
	assert_int_equal(idx_open_opts_blocking(p, &o, &idx, &e), 0);
	for (i = 0; i < 24; i++) {
		m = mklist(i, i % 2 == 0);
		assert_int_equal(spam_bayes_learn_blocking(idx, NULL, m,
		    strlen(m), i % 2 == 0, &e), 1);
		free(m);
	}
	for (i = 100; i < 112; i++) {
		m = mklist(i, true);
		ps = spam_bayes_classify_blocking(idx, NULL, m, strlen(m), 5);
		free(m);
		m = mklist(i, false);
		ph = spam_bayes_classify_blocking(idx, NULL, m, strlen(m), 5);
		free(m);
		assert_true(ps > ph);
		minspam = ps < minspam ? ps : minspam;
		maxham = ph > maxham ? ph : maxham;
	}
	assert_true(minspam >= 0.9);	/* BAYES_SPAM */
	assert_true(maxham <= 0.1);	/* BAYES_HAM */
	idx_close(&idx);
	assert_true(asprintf(&m, "rm -rf %s", dir) > 0);
	assert_int_equal(system(m), 0);
	free(m);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_symbols),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_bayes),
		cmocka_unit_test(test_bayes_tokens),
		cmocka_unit_test(test_bayes_heldout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
