/*
 * test_mdir.c - unit tests for storage/maildir (mdir_*): names and paths
 * in both layouts, hostile folder names, file names, delivery and group
 * commit, flags, expunge, folder operations, Dovecot side files.
 * Each test works in its own directory under /tmp, removed afterwards.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mdir.h"
#include "xmalloc.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup_dir(void **state)
{
	char	*dir = xstrdup("/tmp/test_mdir.XXXXXX");

	if (mkdtemp(dir) == NULL) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int
teardown_dir(void **state)
{
	char	*dir = *state;

	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return 0;
}

static void
touch(const char *path)
{
	int	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd != -1);
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
}

static bool
exists(const char *fmt, ...)
{
	struct stat	 st;
	va_list		 ap;
	char		*p;
	bool		 r;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	r = lstat(p, &st) == 0;
	free(p);
	return r;
}

/* Messages a scan of folder dir reports in sub ("new" or "cur"). */
static size_t
count_dir(const char *dir, const char *sub)
{
	struct mdir_entry	*v;
	size_t			 n, i, c = 0;
	const char		*err;

	assert_int_equal(mdir_scan_blocking(dir, &v, &n, &err), 0);
	for (i = 0; i < n; i++)
		if (v[i].in_new == (strcmp(sub, "new") == 0))
			c++;
	mdir_entries_free(&v, n);
	return c;
}

/* ---- user root ---- */

static void
test_user_root(void **state)
{
	static const char *const bad[] = {
		"noat", "@example.com", "a@", "../x@example.com",
		"a/b@example.com", ".a@example.com", "a.@example.com",
		"a..b@example.com", "a b@example.com", "a\x01@example.com",
		"a@exa/mple.com", "a@..", "a@.example.com",
		"a@example..com", "a@exam ple.com", "a@ex_ample.com",
		"a@\xc3\xa9xample.com", "a\\b@example.com",
	};
	const char	*err;
	char		*root;
	size_t		 i;

	assert_int_equal(mdir_user_root("/var/vmail", "Alice@Example.COM",
	    &root, &err), 0);
	assert_string_equal(root, "/var/vmail/example.com/alice/mail");
	free(root);
	assert_int_equal(mdir_user_root("/v", "first.last+tag@mx-1.example.org",
	    &root, &err), 0);
	assert_string_equal(root, "/v/mx-1.example.org/first.last+tag/mail");
	free(root);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		root = (char *)1;
		if (mdir_user_root("/v", bad[i], &root, &err) != -1)
			fail_msg("accepted address %s", bad[i]);
		assert_null(root);
	}
}

/* ---- folder names and paths ---- */

struct path_case {
	enum mdir_layout layout;
	char		 sep;
	bool		 utf8;
	const char	*name;
	const char	*rel;	/* path after "/r", "" for root */
};

static const struct path_case path_cases[] = {
	{ MDIR_LAYOUT_MAILDIRPP, '.', false, "INBOX", "" },
	{ MDIR_LAYOUT_MAILDIRPP, '.', false, "inbox", "" },
	{ MDIR_LAYOUT_MAILDIRPP, '.', false, "Sent", "/.Sent" },
	{ MDIR_LAYOUT_MAILDIRPP, '.', false, "a.b", "/.a.b" },
	{ MDIR_LAYOUT_MAILDIRPP, '/', false, "a/b", "/.a.b" },
	{ MDIR_LAYOUT_MAILDIRPP, '.', false, "INBOX.x", "/.INBOX.x" },
	{ MDIR_LAYOUT_MAILDIRPP, '.', false, "Entw\xc3\xbcrfe",
	    "/.Entw&APw-rfe" },
	{ MDIR_LAYOUT_MAILDIRPP, '.', true, "Entw\xc3\xbcrfe",
	    "/.Entw\xc3\xbcrfe" },
	{ MDIR_LAYOUT_MAILDIRPP, '.', false, "R&D", "/.R&-D" },
	{ MDIR_LAYOUT_MAILDIRPP, '.', false, "cur", "/.cur" },
	{ MDIR_LAYOUT_FS, '/', false, "Sent", "/Sent" },
	{ MDIR_LAYOUT_FS, '/', false, "a/b", "/a/b" },
	{ MDIR_LAYOUT_FS, '.', false, "a.b", "/a/b" },
	{ MDIR_LAYOUT_FS, '/', false, "a.b", "/a.b" },
	{ MDIR_LAYOUT_FS, '/', false, "\xe6\x97\xa5\xe6\x9c\xac/x",
	    "/&ZeVnLA-/x" },
	{ MDIR_LAYOUT_FS, '/', true, "\xe6\x97\xa5\xe6\x9c\xac/x",
	    "/\xe6\x97\xa5\xe6\x9c\xac/x" },
};

static void
test_folder_paths(void **state)
{
	const struct path_case	*c;
	const char		*err;
	char			*path, *want, *name;
	size_t			 i, rlen;

	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		c = &path_cases[i];
		if (mdir_folder_path("/r", c->layout, c->sep, c->utf8,
		    c->name, &path, &err) != 0)
			fail_msg("case %zu (%s): %s", i, c->name, err);
		want = xasprintf("/r%s", c->rel);
		assert_string_equal(path, want);
		/* And back, as a listing would see it. */
		rlen = strlen("/r/");
		if (c->rel[0] != '\0') {
			assert_int_equal(mdir_folder_name(c->layout, c->sep,
			    c->utf8, path + rlen, &name, &err), 0);
			if (strcmp(c->name, "INBOX.x") != 0)
				assert_string_equal(name, c->name);
			free(name);
		}
		free(want);
		free(path);
	}
	assert_int_equal(mdir_folder_name(MDIR_LAYOUT_MAILDIRPP, '.', false,
	    "", &name, &err), 0);
	assert_string_equal(name, "INBOX");
	free(name);
}

static void
test_hostile_names(void **state)
{
	static const char *const both[] = {
		"", ".", "..", "../x", "a/../../b", ".hidden", "a\x01" "b",
		"a\nb", "a\x7f", ".a", "a//b", "/a", "a/",
		"x/./y", "x/../y", "\xff\xfe", "\xc0\xaf", "a\tb",
		"a/.b", "a/b/..",
	};
	static const char *const pp_only[] = {
		"a/b", "../../etc", "x/y", "a..b", "a.",
	};
	static const char *const fs_only[] = {
		"cur", "new", "tmp", "a/cur", "a/tmp/b",
	};
	const char	*err;
	char		*path, *longname, *lvl;
	size_t		 i;

	for (i = 0; i < sizeof(both) / sizeof(both[0]); i++) {
		/* maildir++ with '.' and fs with '/' as separator. */
		if (mdir_folder_path("/r", MDIR_LAYOUT_MAILDIRPP, '.', false,
		    both[i], &path, &err) != -1)
			fail_msg("maildir++ accepted %zu: %s", i, path);
		if (mdir_folder_path("/r", MDIR_LAYOUT_FS, '/', false,
		    both[i], &path, &err) != -1)
			fail_msg("fs accepted %zu: %s", i, path);
		if (mdir_folder_path("/r", MDIR_LAYOUT_FS, '/', true,
		    both[i], &path, &err) != -1)
			fail_msg("fs utf8 accepted %zu: %s", i, path);
	}
	for (i = 0; i < sizeof(pp_only) / sizeof(pp_only[0]); i++)
		if (mdir_folder_path("/r", MDIR_LAYOUT_MAILDIRPP, '.', false,
		    pp_only[i], &path, &err) != -1)
			fail_msg("maildir++ accepted %s", pp_only[i]);
	for (i = 0; i < sizeof(fs_only) / sizeof(fs_only[0]); i++)
		if (mdir_folder_path("/r", MDIR_LAYOUT_FS, '/', false,
		    fs_only[i], &path, &err) != -1)
			fail_msg("fs accepted %s", fs_only[i]);
	/* maildir++ with '/' as separator: a literal '.' is refused. */
	assert_int_equal(mdir_folder_path("/r", MDIR_LAYOUT_MAILDIRPP, '/',
	    false, "a.b", &path, &err), -1);
	/* Too long: whole name, one level, one maildir++ directory. */
	longname = xmalloc(MDIR_NAME_MAX + 2);
	memset(longname, 'a', MDIR_NAME_MAX + 1);
	longname[MDIR_NAME_MAX + 1] = '\0';
	assert_int_equal(mdir_folder_path("/r", MDIR_LAYOUT_FS, '/', false,
	    longname, &path, &err), -1);
	longname[256] = '\0';
	assert_int_equal(mdir_folder_path("/r", MDIR_LAYOUT_FS, '/', false,
	    longname, &path, &err), -1);
	for (i = 100; i < 256; i += 101)
		longname[i] = '/';
	assert_int_equal(mdir_folder_path("/r", MDIR_LAYOUT_FS, '/', false,
	    longname, &path, &err), 0);
	free(path);
	lvl = longname;
	for (i = 100; i < 256; i += 101)
		lvl[i] = '.';
	assert_int_equal(mdir_folder_path("/r", MDIR_LAYOUT_MAILDIRPP, '.',
	    false, longname, &path, &err), -1);
	free(longname);
	/* Directory names that must not list. */
	assert_int_equal(mdir_folder_name(MDIR_LAYOUT_MAILDIRPP, '.', false,
	    ".a..b", &path, &err), -1);
	assert_int_equal(mdir_folder_name(MDIR_LAYOUT_MAILDIRPP, '.', false,
	    ".&Jjo", &path, &err), -1);
	assert_int_equal(mdir_folder_name(MDIR_LAYOUT_MAILDIRPP, '.', false,
	    ".INBOX", &path, &err), -1);
	assert_int_equal(mdir_folder_name(MDIR_LAYOUT_MAILDIRPP, '/', false,
	    ".a/b", &path, &err), -1);
	assert_int_equal(mdir_folder_name(MDIR_LAYOUT_FS, '.', false,
	    "a.b", &path, &err), -1);
}

/* ---- file names ---- */

static void
test_filenames(void **state)
{
	struct mdir_fname	 fn;
	const char		*err;
	char			*a, *b, *s, flags[MDIR_FLAGS_MAX];

	a = mdir_name_unique();
	b = mdir_name_unique();
	assert_string_not_equal(a, b);
	assert_non_null(strstr(a, ".M"));
	assert_non_null(strchr(a, 'P'));
	assert_non_null(strchr(a, 'Q'));
	assert_null(strchr(a, '/'));
	assert_null(strchr(a, ':'));
	assert_int_equal(mdir_name_parse(a, &fn, &err), 0);
	assert_int_equal(fn.base_len, strlen(a));
	assert_false(fn.has_info);
	free(a);
	free(b);

	s = mdir_name_escape_host("a/b:c");
	assert_string_equal(s, "a\\057b\\072c");
	free(s);

	assert_int_equal(mdir_name_parse(
	    "1276528487.M364837P9451.kurkku,S=1355,W=1394:2,TSRa", &fn, &err),
	    0);
	assert_int_equal(fn.base_len, strlen(
	    "1276528487.M364837P9451.kurkku,S=1355,W=1394"));
	assert_true(fn.has_size && fn.has_vsize && fn.has_info);
	assert_int_equal(fn.size, 1355);
	assert_int_equal(fn.vsize, 1394);
	assert_string_equal(fn.flags, "RSTa");

	assert_int_equal(mdir_name_parse("123.abc.host", &fn, &err), 0);
	assert_false(fn.has_size || fn.has_vsize || fn.has_info);
	assert_int_equal(mdir_name_parse("123.abc.host,S=x1:2,", &fn, &err),
	    0);
	assert_false(fn.has_size);
	assert_true(fn.has_info);
	assert_string_equal(fn.flags, "");
	/* ":1," experimental info: base stops at ':' and no flags. */
	assert_int_equal(mdir_name_parse("1.x.h:1,foo", &fn, &err), 0);
	assert_int_equal(fn.base_len, 5);
	assert_false(fn.has_info);
	assert_int_equal(mdir_name_parse(".hidden", &fn, &err), -1);
	assert_int_equal(mdir_name_parse("", &fn, &err), -1);
	assert_int_equal(mdir_name_parse(":2,S", &fn, &err), -1);
	assert_int_equal(mdir_name_parse("a\nb", &fn, &err), -1);

	assert_int_equal(mdir_flags_normalize("TSRPFDzab", flags, &err), 0);
	assert_string_equal(flags, "DFPRSTabz");
	assert_int_equal(mdir_flags_normalize("SSaSa", flags, &err), 0);
	assert_string_equal(flags, "Sa");
	assert_int_equal(mdir_flags_normalize("S/", flags, &err), -1);
	assert_int_equal(mdir_flags_normalize("S,", flags, &err), -1);
	assert_int_equal(mdir_flags_normalize("S ", flags, &err), -1);

	assert_int_equal(mdir_name_with_flags("1.x.h,S=5", 9, "SR", &s, &err),
	    0);
	assert_string_equal(s, "1.x.h,S=5:2,RS");
	assert_int_equal(mdir_name_parse(s, &fn, &err), 0);
	assert_int_equal(fn.base_len, 9);
	assert_string_equal(fn.flags, "RS");
	free(s);
	assert_int_equal(mdir_name_with_flags("1:x", 3, "S", &s, &err), -1);
}

/* ---- delivery ---- */

static void
test_delivery(void **state)
{
	const char		*dir = *state, *err;
	struct mdir		*m;
	struct mdir_dlv		*d;
	struct mdir_entry	*v;
	struct mdir_fname	 fn;
	struct stat		 st;
	char			*inbox, *tmp;
	size_t			 n;

	inbox = xasprintf("%s/example.com/alice/mail", dir);
	assert_int_equal(mdir_open(inbox, false, &m, &err), -1);
	assert_int_equal(mdir_open(inbox, true, &m, &err), 0);
	assert_string_equal(mdir_path(m), inbox);
	assert_int_equal(mdir_dlv_begin(m, &d, &err), 0);
	assert_int_equal(mdir_dlv_write(d, "Subject: hi\n\nbody\r\n", 19,
	    &err), 0);
	assert_int_equal(mdir_dlv_write(d, "x\n", 2, &err), 0);
	tmp = xasprintf("%s/tmp/%s", inbox, mdir_dlv_name(d));
	assert_int_equal(stat(tmp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Written but not committed: invisible to a scan. */
	assert_int_equal(count_dir(inbox, "new"), 0);
	assert_int_equal(mdir_dlv_commit_blocking(d, false, NULL, &err), 0);
	assert_true(mdir_dlv_committed(d));
	assert_int_equal(mdir_dlv_size(d), 21);
	assert_false(exists("%s", tmp));
	assert_true(exists("%s/new/%s", inbox, mdir_dlv_name(d)));
	assert_int_equal(mdir_name_parse(mdir_dlv_name(d), &fn, &err), 0);
	assert_int_equal(fn.size, 21);
	assert_int_equal(fn.vsize, 24);		/* 3 bare LFs */
	assert_int_equal(mdir_scan_blocking(inbox, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_true(v[0].in_new);
	assert_int_equal(v[0].size, 21);
	assert_true(v[0].has_vsize);
	assert_string_equal(v[0].fname, mdir_dlv_name(d));
	mdir_entries_free(&v, n);
	assert_null(v);
	/* Free after commit leaves the message alone. */
	mdir_dlv_free(&d);
	assert_null(d);
	assert_int_equal(count_dir(inbox, "new"), 1);
	free(tmp);

	/* Abandoned delivery: tmp/ file removed by free. */
	assert_int_equal(mdir_dlv_begin(m, &d, &err), 0);
	assert_int_equal(mdir_dlv_write(d, "abc", 3, &err), 0);
	tmp = xasprintf("%s/tmp/%s", inbox, mdir_dlv_name(d));
	assert_true(exists("%s", tmp));
	mdir_dlv_free(&d);
	assert_false(exists("%s", tmp));
	free(tmp);

	/* Straight to cur/ with flags (IMAP APPEND). */
	assert_int_equal(mdir_dlv_begin(m, &d, &err), 0);
	assert_int_equal(mdir_dlv_write(d, "a\r\n", 3, &err), 0);
	assert_int_equal(mdir_dlv_set_dest(d, false, "S", &err), -1);
	assert_int_equal(mdir_dlv_commit_blocking(d, true, "SD", &err), 0);
	assert_non_null(strstr(mdir_dlv_name(d), ",S=3,W=3:2,DS"));
	assert_true(exists("%s/cur/%s", inbox, mdir_dlv_name(d)));
	assert_int_equal(mdir_dlv_write(d, "late", 4, &err), -1);
	mdir_dlv_free(&d);
	assert_int_equal(count_dir(inbox, "cur"), 1);
	assert_int_equal(count_dir(inbox, "new"), 1);
	mdir_close(&m);
	assert_null(m);
	free(inbox);
}

static void
test_commit_many(void **state)
{
	const char		*dir = *state, *err;
	struct mdir		*mi, *ms;
	struct mdir_dlv		*d[7];
	struct mdir_entry	*v;
	char			*inbox, *sent, *line;
	size_t			 i, n, syncs;

	inbox = xasprintf("%s/mail", dir);
	sent = xasprintf("%s/mail/.Sent", dir);
	assert_int_equal(mdir_open(inbox, true, &mi, &err), 0);
	assert_int_equal(mdir_open(sent, true, &ms, &err), 0);
	for (i = 0; i < 7; i++) {
		assert_int_equal(mdir_dlv_begin(i < 4 ? mi : ms, &d[i], &err),
		    0);
		line = xasprintf("message %zu\n", i);
		assert_int_equal(mdir_dlv_write(d[i], line, strlen(line),
		    &err), 0);
		free(line);
	}
	/* One of Sent's goes to cur/ as \Seen: three target directories. */
	assert_int_equal(mdir_dlv_set_dest(d[6], true, "S", &err), 0);
	assert_int_equal(count_dir(inbox, "new"), 0);
	assert_int_equal(mdir_commit_many_blocking(d, 7, &syncs, &err), 0);
	assert_int_equal(syncs, 3);
	for (i = 0; i < 7; i++)
		assert_true(mdir_dlv_committed(d[i]));
	assert_int_equal(mdir_scan_blocking(inbox, &v, &n, &err), 0);
	assert_int_equal(n, 4);
	mdir_entries_free(&v, n);
	assert_int_equal(mdir_scan_blocking(sent, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_false(v[0].in_new && v[1].in_new && v[2].in_new);
	mdir_entries_free(&v, n);
	/* Committing again is a no-op: nothing renamed, nothing synced. */
	assert_int_equal(mdir_commit_many_blocking(d, 2, &syncs, &err), 0);
	assert_int_equal(syncs, 0);
	assert_int_equal(count_dir(inbox, "new"), 4);
	for (i = 0; i < 7; i++)
		mdir_dlv_free(&d[i]);
	/* All to one folder: one directory fsync for five messages. */
	for (i = 0; i < 5; i++) {
		assert_int_equal(mdir_dlv_begin(mi, &d[i], &err), 0);
		assert_int_equal(mdir_dlv_write(d[i], "m\n", 2, &err), 0);
	}
	assert_int_equal(mdir_commit_many_blocking(d, 5, &syncs, &err), 0);
	assert_int_equal(syncs, 1);
	for (i = 0; i < 5; i++)
		mdir_dlv_free(&d[i]);
	assert_int_equal(count_dir(inbox, "new"), 9);
	mdir_close(&mi);
	mdir_close(&ms);
	free(inbox);
	free(sent);
}

static char *
deliver_one(const char *folder, const char *body)
{
	struct mdir	*m;
	struct mdir_dlv	*d;
	const char	*err;
	char		*name;

	assert_int_equal(mdir_open(folder, true, &m, &err), 0);
	assert_int_equal(mdir_dlv_begin(m, &d, &err), 0);
	assert_int_equal(mdir_dlv_write(d, body, strlen(body), &err), 0);
	assert_int_equal(mdir_dlv_commit_blocking(d, false, "", &err), 0);
	name = xstrdup(mdir_dlv_name(d));
	mdir_dlv_free(&d);
	mdir_close(&m);
	return name;
}

static void
test_flags_expunge(void **state)
{
	const char		*dir = *state, *err;
	struct mdir_entry	*v;
	char			*f, *name, *n2, *n3, *from, *to, *out;
	size_t			 n;

	f = xasprintf("%s/mail", dir);
	name = deliver_one(f, "hello\n");
	/* new/ -> cur/ keeps (no) flags and adds ":2,". */
	assert_int_equal(mdir_move_to_cur_blocking(f, name, &n2, &err), 0);
	assert_non_null(strstr(n2, ":2,"));
	assert_true(exists("%s/cur/%s", f, n2));
	assert_int_equal(mdir_set_flags_blocking(f, n2, "SF", &n3, &err), 0);
	assert_int_equal(strlen(n3), strlen(name) + strlen(":2,FS"));
	assert_string_equal(n3 + strlen(name), ":2,FS");
	free(n2);
	/* Same flags again: no-op, same name. */
	assert_int_equal(mdir_set_flags_blocking(f, n3, "FS", &n2, &err), 0);
	assert_string_equal(n2, n3);
	free(n2);
	/* Another program renames it: we still find it by base name. */
	from = xasprintf("%s/cur/%s", f, n3);
	to = xasprintf("%s/cur/%s:2,RS", f, name);
	assert_int_equal(rename(from, to), 0);
	free(from);
	assert_int_equal(mdir_set_flags_blocking(f, n3, "Tb", &n2, &err), 0);
	assert_string_equal(n2 + strlen(name), ":2,Tb");
	assert_true(exists("%s/cur/%s", f, n2));
	assert_false(exists("%s", to));
	/* Base name alone works too. */
	free(n3);
	assert_int_equal(mdir_set_flags_blocking(f, name, "S", &n3, &err), 0);
	assert_int_equal(mdir_scan_blocking(f, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_false(v[0].in_new);
	assert_string_equal(v[0].flags, "S");
	assert_int_equal(v[0].size, 6);
	mdir_entries_free(&v, n);
	assert_int_equal(mdir_set_flags_blocking(f, name, "S\x01", &out,
	    &err), -1);
	assert_null(out);
	/* Expunge by a stale name, then again: both succeed. */
	assert_int_equal(mdir_expunge_blocking(f, n2, &err), 0);
	assert_int_equal(count_dir(f, "cur"), 0);
	assert_int_equal(mdir_expunge_blocking(f, n2, &err), 0);
	assert_int_equal(mdir_set_flags_blocking(f, name, "S", &out, &err),
	    -1);
	assert_int_equal(mdir_move_to_cur_blocking(f, name, &out, &err), -1);
	free(to);
	free(n2);
	free(n3);
	free(name);
	free(f);
}

/* ---- scanning details ---- */

static void
test_scan_mtimes_tmp(void **state)
{
	const char		*dir = *state, *err;
	struct mdir_entry	*v;
	struct timespec		 tn1, tc1, tn2, tc2;
	struct timespec		 old[2] = { { 1000000, 0 }, { 1000000, 0 } };
	char			*f, *p, *name;
	size_t			 n, removed;

	f = xasprintf("%s/mail", dir);
	name = deliver_one(f, "a\n");
	free(name);
	/* Junk the scan must skip; a tmp/ file must never show. */
	p = xasprintf("%s/tmp/123.M1P1Q1.host", f);
	touch(p);
	free(p);
	p = xasprintf("%s/new/.hidden", f);
	touch(p);
	free(p);
	p = xasprintf("%s/cur/subdir", f);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/cur/1.M2P2Q2.host:2,S", f);
	touch(p);
	free(p);
	assert_int_equal(mdir_scan_blocking(f, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_false(v[0].in_new == v[1].in_new);
	mdir_entries_free(&v, n);

	assert_int_equal(mdir_dir_mtimes(f, &tn1, &tc1, &err), 0);
	p = xasprintf("%s/new", f);
	assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
	free(p);
	assert_int_equal(mdir_dir_mtimes(f, &tn2, &tc2, &err), 0);
	assert_int_equal(tn2.tv_sec, 1000000);
	assert_true(tc2.tv_sec == tc1.tv_sec);
	p = xasprintf("%s/nope", f);
	assert_int_equal(mdir_dir_mtimes(p, &tn2, &tc2, &err), -1);
	free(p);

	/* Fresh tmp/ file kept; 36 h later it goes. */
	assert_int_equal(mdir_tmp_cleanup_blocking(f, time(NULL), &removed,
	    &err), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(mdir_tmp_cleanup_blocking(f, time(NULL) +
	    MDIR_TMP_STALE_SECS - 60, &removed, &err), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(mdir_tmp_cleanup_blocking(f, time(NULL) +
	    MDIR_TMP_STALE_SECS + 60, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_false(exists("%s/tmp/123.M1P1Q1.host", f));
	assert_int_equal(count_dir(f, "new"), 1);
	assert_int_equal(count_dir(f, "cur"), 1);
	free(f);
}

/* ---- folders ---- */

static struct mdir_folder_info *
find_folder(struct mdir_folder_info *v, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static void
folders_common(const char *root, enum mdir_layout layout, char sep)
{
	struct mdir_folder_info	*v, *fi;
	const char		*err;
	char			 ab[8], abc[8], xb[8], xbc[8];
	char			*inbox, *path, *name;
	size_t			 n, moved;

	snprintf(ab, sizeof(ab), "a%cb", sep);
	snprintf(abc, sizeof(abc), "a%cb%cc", sep, sep);
	snprintf(xb, sizeof(xb), "x%cb", sep);
	snprintf(xbc, sizeof(xbc), "x%cb%cc", sep, sep);
	inbox = xstrdup(root);
	name = deliver_one(inbox, "m1\n");
	free(name);
	assert_int_equal(mdir_folder_create_blocking(root, layout, sep, false,
	    "a", &err), 0);
	assert_int_equal(mdir_folder_create_blocking(root, layout, sep, false,
	    ab, &err), 0);
	assert_int_equal(mdir_folder_create_blocking(root, layout, sep, false,
	    abc, &err), 0);
	assert_int_equal(mdir_folder_create_blocking(root, layout, sep, false,
	    "Entw\xc3\xbcrfe", &err), 0);
	assert_int_equal(mdir_folder_create_blocking(root, layout, sep, false,
	    "a", &err), -1);
	assert_int_equal(mdir_folder_create_blocking(root, layout, sep, false,
	    "INBOX", &err), -1);
	assert_int_equal(mdir_folder_create_blocking(root, layout, sep, false,
	    "../evil", &err), -1);
	assert_int_equal(mdir_folder_path(root, layout, sep, false, abc,
	    &path, &err), 0);
	assert_true(exists("%s/cur", path));
	assert_true(exists("%s/new", path));
	assert_true(exists("%s/tmp", path));
	assert_true(exists("%s/maildirfolder", path) ==
	    (layout == MDIR_LAYOUT_MAILDIRPP));
	free(path);

	assert_int_equal(mdir_list_folders_blocking(root, layout, sep, false,
	    &v, &n, &err), 0);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].name, "INBOX");
	assert_false(v[0].has_children);
	assert_non_null(fi = find_folder(v, n, "a"));
	assert_true(fi->has_children);
	assert_false(fi->noselect);
	assert_non_null(fi = find_folder(v, n, ab));
	assert_true(fi->has_children);
	assert_non_null(fi = find_folder(v, n, abc));
	assert_false(fi->has_children);
	assert_non_null(fi = find_folder(v, n, "Entw\xc3\xbcrfe"));
	assert_false(fi->has_children);
	mdir_folder_list_free(&v, n);
	assert_null(v);

	/* Delete: refused with children, INBOX, missing. */
	assert_int_equal(mdir_folder_delete_blocking(root, layout, sep, false,
	    "a", &err), -1);
	assert_non_null(strstr(err, "child"));
	assert_int_equal(mdir_folder_delete_blocking(root, layout, sep, false,
	    "INBOX", &err), -1);
	assert_int_equal(mdir_folder_delete_blocking(root, layout, sep, false,
	    "nope", &err), -1);

	/* Rename with children. */
	name = NULL;
	assert_int_equal(mdir_folder_path(root, layout, sep, false, abc,
	    &path, &err), 0);
	name = deliver_one(path, "in a.b.c\n");
	free(path);
	assert_int_equal(mdir_folder_rename_blocking(root, layout, sep, false,
	    "a", ab, &err), -1);
	assert_int_equal(mdir_folder_rename_blocking(root, layout, sep, false,
	    "a", "Entw\xc3\xbcrfe", &err), -1);
	assert_int_equal(mdir_folder_rename_blocking(root, layout, sep, false,
	    "INBOX", "y", &err), -1);
	assert_int_equal(mdir_folder_rename_blocking(root, layout, sep, false,
	    "y", "INBOX", &err), -1);
	assert_int_equal(mdir_folder_rename_blocking(root, layout, sep, false,
	    "a", "x", &err), 0);
	assert_int_equal(mdir_folder_path(root, layout, sep, false, xbc,
	    &path, &err), 0);
	assert_true(exists("%s/new/%s", path, name));
	free(path);
	free(name);
	assert_int_equal(mdir_list_folders_blocking(root, layout, sep, false,
	    &v, &n, &err), 0);
	assert_int_equal(n, 5);
	assert_null(find_folder(v, n, "a"));
	assert_null(find_folder(v, n, ab));
	assert_non_null(find_folder(v, n, "x"));
	assert_non_null(find_folder(v, n, xb));
	assert_non_null(find_folder(v, n, xbc));
	mdir_folder_list_free(&v, n);

	/* Delete leaf first, then parents. */
	assert_int_equal(mdir_folder_delete_blocking(root, layout, sep, false,
	    xbc, &err), 0);
	assert_int_equal(mdir_folder_delete_blocking(root, layout, sep, false,
	    xb, &err), 0);
	assert_int_equal(mdir_folder_delete_blocking(root, layout, sep, false,
	    "x", &err), 0);
	assert_int_equal(mdir_list_folders_blocking(root, layout, sep, false,
	    &v, &n, &err), 0);
	assert_int_equal(n, 2);
	mdir_folder_list_free(&v, n);

	/* RENAME INBOX: messages move to a new folder. */
	assert_int_equal(mdir_folder_create_blocking(root, layout, sep, false,
	    "Old", &err), 0);
	assert_int_equal(mdir_folder_path(root, layout, sep, false, "Old",
	    &path, &err), 0);
	assert_int_equal(mdir_move_all_blocking(inbox, path, &moved, &err),
	    0);
	assert_int_equal(moved, 1);
	assert_int_equal(count_dir(inbox, "new"), 0);
	assert_int_equal(count_dir(path, "new"), 1);
	free(path);
	free(inbox);
}

static void
test_folders_maildirpp(void **state)
{
	const char			*dir = *state, *err;
	struct mdir_folder_info		*v, *fi;
	char				*root, *p, *q;
	size_t				 n;

	root = xasprintf("%s/mail", dir);
	folders_common(root, MDIR_LAYOUT_MAILDIRPP, '.');
	/* Dirs made by other tools: parent missing, junk, a trash dir. */
	p = xasprintf("%s/.p.q", root);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/..DOVECOT-TRASH", root);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/.bad..name", root);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/.file", root);
	touch(p);
	free(p);
	assert_int_equal(mdir_list_folders_blocking(root,
	    MDIR_LAYOUT_MAILDIRPP, '.', false, &v, &n, &err), 0);
	assert_int_equal(n, 5);		/* INBOX Entwürfe Old p p.q */
	assert_non_null(fi = find_folder(v, n, "p"));
	assert_true(fi->noselect);
	assert_true(fi->has_children);
	assert_non_null(fi = find_folder(v, n, "p.q"));
	assert_false(fi->noselect);
	mdir_folder_list_free(&v, n);
	/* Symlinks: never listed as folders, never followed by delete. */
	p = xasprintf("%s/outside", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/outside/keep", dir);
	touch(p);
	free(p);
	p = xasprintf("%s/outside", dir);
	q = xasprintf("%s/.evil", root);
	assert_int_equal(symlink(p, q), 0);
	free(q);
	assert_int_equal(mdir_folder_create_blocking(root,
	    MDIR_LAYOUT_MAILDIRPP, '.', false, "Del", &err), 0);
	q = xasprintf("%s/.Del/cur/link", root);
	assert_int_equal(symlink(p, q), 0);
	free(q);
	free(p);
	assert_int_equal(mdir_folder_delete_blocking(root,
	    MDIR_LAYOUT_MAILDIRPP, '.', false, "Del", &err), 0);
	assert_false(exists("%s/.Del", root));
	assert_true(exists("%s/outside/keep", dir));
	assert_int_equal(mdir_list_folders_blocking(root,
	    MDIR_LAYOUT_MAILDIRPP, '.', false, &v, &n, &err), 0);
	assert_int_equal(n, 5);
	assert_null(find_folder(v, n, "evil"));
	assert_null(find_folder(v, n, "Del"));
	mdir_folder_list_free(&v, n);
	/* With '/' as separator the same tree lists as "p/q". */
	assert_int_equal(mdir_list_folders_blocking(root,
	    MDIR_LAYOUT_MAILDIRPP, '/', false, &v, &n, &err), 0);
	assert_non_null(find_folder(v, n, "p/q"));
	mdir_folder_list_free(&v, n);
	free(root);
}

static void
test_folders_fs(void **state)
{
	const char			*dir = *state, *err;
	struct mdir_folder_info		*v, *fi;
	char				*root, *p;
	size_t				 n;

	root = xasprintf("%s/mail", dir);
	folders_common(root, MDIR_LAYOUT_FS, '/');
	/* A bare parent dir lists as \Noselect; dot dirs are skipped. */
	p = xasprintf("%s/p", root);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/.hidden", root);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	assert_int_equal(mdir_folder_create_blocking(root, MDIR_LAYOUT_FS, '/',
	    false, "p/q", &err), 0);
	assert_int_equal(mdir_list_folders_blocking(root, MDIR_LAYOUT_FS, '/',
	    false, &v, &n, &err), 0);
	assert_int_equal(n, 5);
	assert_non_null(fi = find_folder(v, n, "p"));
	assert_true(fi->noselect);
	assert_true(fi->has_children);
	assert_non_null(fi = find_folder(v, n, "p/q"));
	assert_false(fi->noselect);
	mdir_folder_list_free(&v, n);
	/* fs rename into a new parent creates it. */
	assert_int_equal(mdir_folder_rename_blocking(root, MDIR_LAYOUT_FS, '/',
	    false, "p/q", "z/y/q", &err), 0);
	assert_true(exists("%s/z/y/q/cur", root));
	free(root);
}

/* ---- Dovecot side files ---- */

static void
test_uidlist(void **state)
{
	struct mdir_uidlist	*l;
	const char		*err;
	size_t			 i;
	static const char *const bad[] = {
		"", "x\n", "3 N5\n", "4 V1 N2\n", "3 V1 N5\n0 :a\n",
		"3 V1 N5\n2 :a\n2 :b\n", "3 V1 N5\n3 :a\n2 :b\n",
		"3 V1 N5\n1 W5\n", "3 V1 N5\n1 :\n", "3 V1 N5\n1 :../x\n",
		"1 0 5\n", "3 V1 N5\nx :a\n", "3 V1 N5\n4294967295 :a\n",
		"3 Vx N5\n",
	};

	assert_int_equal(mdir_uidlist_read_blocking(TEST_DATA_DIR
	    "/maildir/dovecot-uidlist.v3", &l, &err), 0);
	assert_int_equal(l->version, 3);
	assert_int_equal(l->uidvalidity, 1275660208);
	assert_int_equal(l->uidnext, 25022);
	assert_string_equal(l->guid, "3085f01b7f11094c501100008c4a11c1");
	assert_int_equal(l->count, 3);
	assert_int_equal(l->entries[0].uid, 25006);
	assert_string_equal(l->entries[0].base,
	    "1276528487.M364837P9451.kurkku,S=1355,W=1394");
	assert_int_equal(l->entries[0].vsize, 2048);
	assert_int_equal(l->entries[0].size, 2000);
	assert_int_equal(l->entries[1].uid, 25017);
	assert_string_equal(l->entries[1].base,
	    "1276536800.M119016P11021.kurkku");
	assert_string_equal(l->entries[2].base,
	    "1276700000.M1P2Q3.host\\057name,S=70,W=77");
	assert_int_equal(l->entries[2].vsize, 77);
	mdir_uidlist_free(&l);
	assert_null(l);

	assert_int_equal(mdir_uidlist_read_blocking(TEST_DATA_DIR
	    "/maildir/dovecot-uidlist.v1", &l, &err), 0);
	assert_int_equal(l->version, 1);
	assert_int_equal(l->uidvalidity, 1100000000);
	assert_int_equal(l->uidnext, 12);
	assert_int_equal(l->count, 3);
	assert_int_equal(l->entries[1].uid, 7);
	assert_string_equal(l->entries[1].base,
	    "1100000002.1235_0.mail.example.org");
	assert_string_equal(l->entries[2].base,
	    "1100000003.1236_0.mail.example.org");
	mdir_uidlist_free(&l);

	/* N behind the last UID is moved on; CRLF tolerated. */
	assert_int_equal(mdir_uidlist_parse("3 V7 N2\r\n5 :a.b\r\n", 17, &l,
	    &err), 0);
	assert_int_equal(l->uidnext, 6);
	assert_string_equal(l->entries[0].base, "a.b");
	mdir_uidlist_free(&l);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = NULL;
		if (mdir_uidlist_parse(bad[i], strlen(bad[i]), &l, &err) == 0)
			fail_msg("accepted uidlist %zu", i);
		assert_null(l);
	}
	assert_int_equal(mdir_uidlist_read_blocking(TEST_DATA_DIR
	    "/maildir/nonexistent", &l, &err), -1);
}

static void
test_keywords(void **state)
{
	struct mdir_keywords	*kw;
	const char		*err;

	assert_int_equal(mdir_keywords_read_blocking(TEST_DATA_DIR
	    "/maildir/dovecot-keywords", &kw, &err), 0);
	assert_string_equal(kw->names[0], "$Forwarded");
	assert_string_equal(kw->names[1], "Junk");
	assert_null(kw->names[2]);
	assert_string_equal(kw->names[3], "$label1");
	mdir_keywords_free(&kw);
	assert_null(kw);
	assert_int_equal(mdir_keywords_parse("x y\n", 4, &kw, &err), -1);
	assert_int_equal(mdir_keywords_parse("1\n", 2, &kw, &err), -1);
	assert_int_equal(mdir_keywords_parse("1 \n", 3, &kw, &err), -1);
	assert_int_equal(mdir_keywords_parse("1 a b\n", 6, &kw, &err), -1);
	assert_int_equal(mdir_keywords_parse("", 0, &kw, &err), 0);
	mdir_keywords_free(&kw);
}

static void
test_subscriptions(void **state)
{
	const char	*dir = *state, *err;
	char		**names, *path, *data;
	size_t		 n;
	FILE		*fp;
	char		 buf[256];
	size_t		 len;
	const char *const mine[] = { "INBOX", "Sent", "a.b.c",
	    "Entw\xc3\xbcrfe" };

	assert_int_equal(mdir_subs_read_blocking(TEST_DATA_DIR
	    "/maildir/subscriptions.v2", '.', &names, &n, &err), 0);
	assert_int_equal(n, 3);		/* the escaped-control line skipped */
	assert_string_equal(names[0], "INBOX");
	assert_string_equal(names[1], "Sent");
	assert_string_equal(names[2], "Archive.2024");
	mdir_subs_free(&names, n);
	assert_null(names);
	assert_int_equal(mdir_subs_read_blocking(TEST_DATA_DIR
	    "/maildir/subscriptions.v2", '/', &names, &n, &err), 0);
	assert_string_equal(names[2], "Archive/2024");
	mdir_subs_free(&names, n);
	assert_int_equal(mdir_subs_read_blocking(TEST_DATA_DIR
	    "/maildir/subscriptions.v1", '.', &names, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[2], "Archive.2024");
	mdir_subs_free(&names, n);

	path = xasprintf("%s/subscriptions", dir);
	assert_int_equal(mdir_subs_read_blocking(path, '.', &names, &n, &err),
	    0);
	assert_int_equal(n, 0);
	assert_int_equal(mdir_subs_write_blocking(path, '.', mine, 4, &err),
	    0);
	fp = fopen(path, "r");
	assert_non_null(fp);
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	data = xasprintf("V\t2\n\nINBOX\nSent\na\tb\tc\nEntw\xc3\xbcrfe\n");
	assert_string_equal(buf, data);
	free(data);
	assert_int_equal(mdir_subs_read_blocking(path, '.', &names, &n, &err),
	    0);
	assert_int_equal(n, 4);
	assert_string_equal(names[2], "a.b.c");
	assert_string_equal(names[3], "Entw\xc3\xbcrfe");
	mdir_subs_free(&names, n);
	assert_int_equal(mdir_subs_write_blocking(path, '.', NULL, 0, &err), 0);
	assert_int_equal(mdir_subs_read_blocking(path, '.', &names, &n, &err),
	    0);
	assert_int_equal(n, 0);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_root),
		cmocka_unit_test(test_folder_paths),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_filenames),
		cmocka_unit_test_setup_teardown(test_delivery, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_commit_many, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_flags_expunge, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_scan_mtimes_tmp,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_folders_maildirpp,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_folders_fs, setup_dir,
		    teardown_dir),
		cmocka_unit_test(test_uidlist),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test_setup_teardown(test_subscriptions, setup_dir,
		    teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
