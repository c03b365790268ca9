/*
 * test_mdir_kw.c - keywords that go into Maildir file names at delivery:
 * which names a dovecot-keywords file may hold (mdir_keyword_ok, table
 * driven, round-tripped through mdir_keywords_parse), the folder fsync
 * (mdir_sidefiles_sync_blocking), and the store's letter assignment for
 * deliveries (store_deliver_keyword_letters_blocking) on a temporary
 * folder: stable letters, case-insensitive names, names Maildir cannot
 * hold left without a letter and out of the file, the 26-letter limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mdir.h"
#include "store.h"
#include "store_private.h"
#include "xmalloc.h"

static char	 tmpdir[256];

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_mdir_kw.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_keyword_ok_table(void **state)
{
	static const struct {
		const char	*name;
		bool		 ok;
	} t[] = {
		{ "$Junk", true }, { "$Forwarded", true }, { "$label1", true },
		{ "custom_kw", true }, { "a", true }, { "x-y.z+1", true },
		{ "", false }, { "two words", false }, { "tab\there", false },
		{ "nl\n", false }, { "\\Seen", false }, { "a]b", false },
		{ "a%b", false }, { "a*b", false }, { "(x", false },
		{ "x)", false }, { "{3}", false }, { "q\"", false },
		{ "del\x7f", false }, { "\xc3\xa9t\xc3\xa9", false },
	};
	struct mdir_keywords	*kw;
	struct buf		 b = BUF_INIT;
	const char		*err;
	char			 name[MDIR_KEYWORD_MAX + 2];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (mdir_keyword_ok(t[i].name) != t[i].ok)
			fail_msg("mdir_keyword_ok(\"%s\") != %d", t[i].name,
			    t[i].ok);
		if (!t[i].ok)
			continue;
		/* What is ok comes back the same from the file. */
		buf_free(&b);
		buf_printf(&b, "3 %s\n", t[i].name);
		assert_int_equal(mdir_keywords_parse(b.data, b.len, &kw,
		    &err), 0);
		assert_string_equal(kw->names[3], t[i].name);
		mdir_keywords_free(&kw);
	}
	buf_free(&b);
	memset(name, 'k', sizeof(name));
	name[MDIR_KEYWORD_MAX] = '\0';
	assert_true(mdir_keyword_ok(name));
	name[MDIR_KEYWORD_MAX] = 'k';
	name[MDIR_KEYWORD_MAX + 1] = '\0';
	assert_false(mdir_keyword_ok(name));
}

static void
test_sidefiles_sync(void **state)
{
	const char	*err = NULL;
	char		*missing;

	(void)state;
	assert_int_equal(mdir_sidefiles_sync_blocking(tmpdir, &err), 0);
	missing = xasprintf("%s/nope", tmpdir);
	assert_int_equal(mdir_sidefiles_sync_blocking(missing, &err), -1);
	assert_non_null(strstr(err, "nope"));
	free(missing);
}

static char *
kwfile(void)
{
	char	*path = xasprintf("%s/dovecot-keywords", tmpdir), *data;
	FILE	*f = fopen(path, "r");
	long	 n;

	free(path);
	if (f == NULL)
		return NULL;
	data = xcalloc(4096, 1);
	n = (long)fread(data, 1, 4095, f);
	fclose(f);
	assert_true(n >= 0);
	return data;
}

static void
test_deliver_letters(void **state)
{
	const char	*first[] = { "$Label1", "bad name", "custom" };
	const char	*again[] = { "CUSTOM", "$Junk", "$label1", "a]b" };
	const char	*bad[] = { "\\Seen", "" };
	const char	*err;
	char		 l[8], *data;

	(void)state;
	/* Nothing Maildir can hold: no file at all. */
	assert_int_equal(store_deliver_keyword_letters_blocking(tmpdir, bad,
	    2, l, &err), 0);
	assert_int_equal(l[0], '\0');
	assert_int_equal(l[1], '\0');
	assert_null(kwfile());

	assert_int_equal(store_deliver_keyword_letters_blocking(tmpdir, first,
	    3, l, &err), 0);
	assert_int_equal(l[0], 'a');
	assert_int_equal(l[1], '\0');
	assert_int_equal(l[2], 'b');
	data = kwfile();
	assert_string_equal(data, "0 $Label1\n1 custom\n");
	free(data);

	/* Known names keep their letters, in any case; new ones follow. */
	assert_int_equal(store_deliver_keyword_letters_blocking(tmpdir, again,
	    4, l, &err), 0);
	assert_int_equal(l[0], 'b');
	assert_int_equal(l[1], 'c');
	assert_int_equal(l[2], 'a');
	assert_int_equal(l[3], '\0');
	data = kwfile();
	assert_string_equal(data, "0 $Label1\n1 custom\n2 $Junk\n");
	free(data);
}

static void
test_deliver_letters_limit(void **state)
{
	const char	*names[30];
	const char	*err;
	char		 l[30], buf[30][8];
	size_t		 i;

	(void)state;
	for (i = 0; i < 30; i++) {
		snprintf(buf[i], sizeof(buf[i]), "kw%02zu", i);
		names[i] = buf[i];
	}
	assert_int_equal(store_deliver_keyword_letters_blocking(tmpdir, names,
	    30, l, &err), 0);
	for (i = 0; i < 26; i++)
		assert_int_equal(l[i], 'a' + (int)i);
	for (; i < 30; i++)
		assert_int_equal(l[i], '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyword_ok_table),
		cmocka_unit_test_setup_teardown(test_sidefiles_sync, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliver_letters, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliver_letters_limit,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
