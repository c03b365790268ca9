/*
 * test_vacation.c - the messages Sieve makes (filter/lda/lda_vacation.c):
 * the RFC 5230 / RFC 3834 rules for when a vacation reply may go out, the
 * reply's header fields, the response tracking in the index database
 * "vacation", and the RFC 5429 rejection report.  Runs on a temporary
 * index and message files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "idx.h"
#include "lda.h"

static char	 t_fqdn[] = "mx.example.test";
static char	 t_delim[] = "+";
static char	 t_subject[] = "Away";
static char	 t_text[] = "I am away.";
static char	 t_handle[] = "h1";
static char	 t_handle2[] = "h2";
static char	 t_alias[] = "Alias <alias@example.test>";
static char	*t_addrs[] = { t_alias };

struct t_env {
	char		 dir[64];
	char		 path[128];
	char		 msg[128];
	struct idx	*idx;
	struct conf	 conf;
	struct lda_result r;
};

static int
t_setup(void **state)
{
	struct t_env	*t = calloc(1, sizeof(*t));
	const char	*error;

	snprintf(t->dir, sizeof(t->dir), "/tmp/test_vacation.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/index.lmdb", t->dir);
	snprintf(t->msg, sizeof(t->msg), "%s/msg", t->dir);
	assert_int_equal(idx_open_blocking(t->path, &t->idx, &error), 0);
	t->conf.fqdn = t_fqdn;
	t->conf.recipient_delimiter = t_delim;
	t->r.vacation = true;
	t->r.vac_subject = t_subject;
	t->r.vac_text = t_text;
	t->r.vac_handle = t_handle;
	t->r.vac_seconds = 86400;
	*state = t;
	return 0;
}

static int
t_teardown(void **state)
{
	struct t_env	*t = *state;
	char		 cmd[160];

	idx_close(&t->idx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static void
t_write(struct t_env *t, const char *hdrs)
{
	FILE	*f = fopen(t->msg, "w");

	assert_non_null(f);
	fprintf(f, "%s\r\nbody\r\n", hdrs);
	fclose(f);
}

/* The reply, or NULL with why. */
static char *
t_reply(struct t_env *t, const char *from, const char **why)
{
	size_t	 len;

	return lda_vacation_reply_blocking(&t->conf, t->idx,
	    "alice@example.test", t->msg, from, &t->r, &len, why);
}

#define PLAIN	"From: bob@remote.example\r\nTo: alice@example.test\r\n" \
		"Subject: hi\r\nMessage-ID: <m1@remote.example>\r\n"

static void
test_reply_fields(void **state)
{
	struct t_env	*t = *state;
	const char	*why;
	char		*m;

	t_write(t, PLAIN "References: <m0@remote.example>\r\n");
	m = t_reply(t, "bob@remote.example", &why);
	assert_non_null(m);
	assert_non_null(strstr(m, "From: alice@example.test\r\n"));
	assert_non_null(strstr(m, "To: <bob@remote.example>\r\n"));
	assert_non_null(strstr(m, "Subject: Away\r\n"));
	assert_non_null(strstr(m, "In-Reply-To: <m1@remote.example>\r\n"));
	assert_non_null(strstr(m, "References: <m0@remote.example>\r\n "
	    "<m1@remote.example>\r\n"));
	assert_non_null(strstr(m, "Auto-Submitted: auto-replied"));
	assert_non_null(strstr(m, "@mx.example.test>\r\n"));
	assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8"));
	assert_non_null(strstr(m, "\r\n\r\nI am away.\r\n"));
	free(m);
}

static void
test_once_per_interval(void **state)
{
	struct t_env	*t = *state;
	const char	*why;
	char		*m;

	t_write(t, PLAIN);
	m = t_reply(t, "bob@remote.example", &why);
	assert_non_null(m);
	free(m);
	assert_null(t_reply(t, "BOB@remote.example", &why));
	assert_string_equal(why, "already replied within the interval");
	/* Another handle or another sender: its own record. */
	t->r.vac_handle = t_handle2;
	m = t_reply(t, "bob@remote.example", &why);
	assert_non_null(m);
	free(m);
	t->r.vac_handle = t_handle;
	m = t_reply(t, "carol@remote.example", &why);
	assert_non_null(m);
	free(m);
	/* A reply that could not be queued releases its record. */
	lda_vacation_forget_blocking(t->idx, "alice@example.test", t_handle,
	    "bob@remote.example");
	m = t_reply(t, "bob@remote.example", &why);
	assert_non_null(m);
	free(m);
	/* :seconds 0 (RFC 6131): every time. */
	t->r.vac_seconds = 0;
	m = t_reply(t, "bob@remote.example", &why);
	assert_non_null(m);
	free(m);
}

static void
test_never_reply(void **state)
{
	static const char *const senders[] = { "",
	    "MAILER-DAEMON@remote.example", "owner-list@remote.example",
	    "list-request@remote.example", "alice@example.test" };
	static const char *const hdrs[] = {
	    PLAIN "Auto-Submitted: auto-replied\r\n",
	    PLAIN "List-Id: <l.remote.example>\r\n",
	    PLAIN "List-Post: <mailto:l@remote.example>\r\n",
	    PLAIN "List-Unsubscribe: <mailto:u@remote.example>\r\n",
	    PLAIN "Precedence: junk\r\n",
	    PLAIN "Precedence: BULK\r\n",
	    "From: bob@remote.example\r\nTo: other@example.test\r\n" };
	struct t_env	*t = *state;
	const char	*why;
	size_t		 i;

	t_write(t, PLAIN);
	for (i = 0; i < sizeof(senders) / sizeof(senders[0]); i++) {
		assert_null(t_reply(t, senders[i], &why));
		assert_non_null(why);
	}
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		t_write(t, hdrs[i]);
		assert_null(t_reply(t, "bob@remote.example", &why));
		assert_non_null(why);
	}
}

static void
test_addressed(void **state)
{
	struct t_env	*t = *state;
	const char	*why;
	char		*m;

	/* Subaddress and case do not matter; Cc counts. */
	t_write(t, "From: bob@remote.example\r\nTo: x@remote.example\r\n"
	    "Cc: \"A\" <Alice+work@Example.TEST>\r\n");
	m = t_reply(t, "bob@remote.example", &why);
	assert_non_null(m);
	free(m);
	/* :addresses */
	t_write(t, "From: bob@remote.example\r\nTo: alias@example.test\r\n");
	assert_null(t_reply(t, "carol@remote.example", &why));
	t->r.vac_addresses = t_addrs;
	t->r.nvac_addresses = 1;
	m = t_reply(t, "carol@remote.example", &why);
	assert_non_null(m);
	free(m);
	t->r.vac_addresses = NULL;
	t->r.nvac_addresses = 0;
}

static void
test_utf8_subject_and_body(void **state)
{
	struct t_env	*t = *state;
	const char	*why;
	char		*m, subj[] = "Abwesend \xc3\xbc", text[] = "Gr\xc3\xbc\xc3\x9f"
			    "e\nbis Montag";

	t_write(t, PLAIN "Subject: inject\r\n");
	t->r.vac_subject = subj;
	t->r.vac_text = text;
	m = t_reply(t, "bob@remote.example", &why);
	assert_non_null(m);
	assert_non_null(strstr(m, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(m, "Content-Transfer-Encoding: base64"));
	for (size_t i = 0; m[i] != '\0'; i++)
		assert_true((unsigned char)m[i] < 0x80);
	free(m);
	t->r.vac_subject = t_subject;
	t->r.vac_text = t_text;
}

static void
test_reject_report(void **state)
{
	struct t_env	*t = *state;
	size_t		 len;
	char		*m;

	t_write(t, PLAIN);
	m = lda_vacation_reject_blocking(&t->conf, "alice@example.test",
	    t->msg, "bob@remote.example", "Go away.", &len);
	assert_non_null(m);
	assert_int_equal(strlen(m), len);
	assert_non_null(strstr(m, "report-type=disposition-notification"));
	assert_non_null(strstr(m, "Go away."));
	assert_non_null(strstr(m, "Final-Recipient: rfc822; "
	    "alice@example.test\r\n"));
	assert_non_null(strstr(m, "Original-Message-ID: <m1@remote.example>"));
	assert_non_null(strstr(m, "Disposition: automatic-action/"
	    "MDN-sent-automatically; deleted\r\n"));
	assert_non_null(strstr(m, "Content-Type: text/rfc822-headers\r\n\r\n"
	    "From: bob@remote.example\r\n"));
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reply_fields, t_setup,
		    t_teardown),
		cmocka_unit_test_setup_teardown(test_once_per_interval,
		    t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_never_reply, t_setup,
		    t_teardown),
		cmocka_unit_test_setup_teardown(test_addressed, t_setup,
		    t_teardown),
		cmocka_unit_test_setup_teardown(test_utf8_subject_and_body,
		    t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_reject_report, t_setup,
		    t_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
