/*
 * cmd_backup.c - postern backup [-c FILE] [--with-mail] DEST
 *
 * A consistent hot copy of everything the daemon keeps under state_dir,
 * taken while it runs:
 *
 *   DEST/state/index.lmdb/data.mdb  the LMDB index, copied from one read
 *                                   snapshot (mdb_env_copy2 with
 *                                   MDB_CP_COMPACT over a read-only open,
 *                                   as `mdb_copy -c` does): UIDs, flags,
 *                                   MODSEQ, queue records, Bayes, greylist
 *   DEST/state/queue/               the queued messages, copied after the
 *                                   snapshot, then reconciled with it: a
 *                                   record whose file is gone (delivered
 *                                   after the snapshot) is dropped, a file
 *                                   without a record (queued after it) too
 *   DEST/state/...                  every other file of state_dir (DKIM
 *                                   keys, generated certificate, secrets)
 *                                   but spool/ (messages still arriving)
 *   DEST/extra/                     the config file, accounts_file, the
 *                                   DKIM key directory and the SRS secret
 *                                   when they live outside state_dir
 *   DEST/mail/                      with --with-mail only: a copy of
 *                                   storage.path taken after the snapshot
 *   DEST/README                     what this is and how to restore it
 *
 * The order is what makes it consistent: the index first, then the mail.
 * A message delivered after the snapshot is a file the index does not
 * know yet, and the daemon indexes it at the next SELECT; one expunged
 * after it is dropped the same way.  UIDs never go backwards.  Without
 * --with-mail the README gives the rsync command to run afterwards.
 *
 * Run as root, copies keep their owner and mode.  DEST must not exist or
 * be an empty directory.  Exit 0 ok, 1 error, 2 usage.
 * Threads: the CLI's main thread, blocking I/O.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "cmd.h"
#include "conf.h"
#include "xmalloc.h"

#define BK_MAXDBS	64

struct bk {
	const char	*dest;
	bool		 root;
	int		 errors;
	unsigned long	 files;
	unsigned long long bytes;
};

static void
bk_err(struct bk *b, const char *what, const char *path)
{
	fprintf(stderr, "postern backup: %s %s: %s\n", what, path,
	    strerror(errno));
	b->errors++;
}

static int
bk_fsync_path(const char *path)
{
	int	 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static void
bk_owner(struct bk *b, const char *dst, const struct stat *st)
{
	if (b->root && lchown(dst, st->st_uid, st->st_gid) == -1)
		bk_err(b, "chown", dst);
}

/* Copy one regular file; 1 if it vanished meanwhile, -1 on error. */
static int
bk_copy_file(struct bk *b, const char *src, const char *dst)
{
	struct stat	 st;
	char		 buf[65536];
	ssize_t		 n, w, off;
	int		 in, out;

	if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 1;
		bk_err(b, "open", src);
		return -1;
	}
	if (fstat(in, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(in);
		return 1;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    st.st_mode & 07777)) == -1) {
		bk_err(b, "create", dst);
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (off = 0; off < n; off += w)
			if ((w = write(out, buf + off, (size_t)(n - off))) < 0)
				goto fail;
	if (n < 0 || fchmod(out, st.st_mode & 07777) == -1 || fsync(out) == -1)
		goto fail;
	close(in);
	if (close(out) == -1) {
		bk_err(b, "write", dst);
		return -1;
	}
	bk_owner(b, dst, &st);
	b->files++;
	b->bytes += (unsigned long long)st.st_size;
	return 0;
fail:
	bk_err(b, "copy", dst);
	close(in);
	close(out);
	return -1;
}

static int
bk_mkdir_like(struct bk *b, const char *src, const char *dst)
{
	struct stat	 st;
	mode_t		 mode = 0700;

	if (src != NULL && stat(src, &st) == 0)
		mode = st.st_mode & 07777;
	if (mkdir(dst, mode) == -1 && errno != EEXIST) {
		bk_err(b, "mkdir", dst);
		return -1;
	}
	if (src != NULL && stat(src, &st) == 0) {
		(void)chmod(dst, mode);
		bk_owner(b, dst, &st);
	}
	return 0;
}

static int
bk_cmp_cur_last(const void *a, const void *b)
{
	const char	*x = *(char *const *)a, *y = *(char *const *)b;
	int		 xc = strcmp(x, "cur") == 0, yc = strcmp(y, "cur") == 0;

	if (xc != yc)
		return xc - yc;
	return strcmp(x, y);
}

/*
 * Copy a tree: regular files and directories, nothing else (sockets,
 * links).  Entries named in skip (top level only) are left out.  Maildir
 * "cur" comes after its siblings so a message moved from new/ to cur/
 * during the walk is still seen once.
 */
static void
bk_copy_tree(struct bk *b, const char *src, const char *dst,
    const char *const *skip)
{
	DIR		 *d;
	struct dirent	 *de;
	struct stat	  st;
	char		**names = NULL, *s, *t;
	size_t		  n = 0, i, k;

	if (bk_mkdir_like(b, src, dst) == -1)
		return;
	if ((d = opendir(src)) == NULL) {
		if (errno != ENOENT)
			bk_err(b, "opendir", src);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		for (k = 0; skip != NULL && skip[k] != NULL; k++)
			if (strcmp(skip[k], de->d_name) == 0)
				break;
		if (skip != NULL && skip[k] != NULL)
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), bk_cmp_cur_last);
	for (i = 0; i < n; i++) {
		s = xasprintf("%s/%s", src, names[i]);
		t = xasprintf("%s/%s", dst, names[i]);
		if (lstat(s, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				bk_copy_tree(b, s, t, NULL);
			else if (S_ISREG(st.st_mode))
				(void)bk_copy_file(b, s, t);
		}
		free(s);
		free(t);
		free(names[i]);
	}
	free(names);
	(void)bk_fsync_path(dst);
}

/* A read-only snapshot of the live index into dst (a new directory). */
static int
bk_copy_index(struct bk *b, const char *src, const char *dst)
{
	MDB_env		*env = NULL;
	struct stat	 st;
	char		*f;
	int		 rc, tries;

	if (bk_mkdir_like(b, src, dst) == -1)
		return -1;
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, BK_MAXDBS)) != 0 ||
	    (rc = mdb_env_set_maxreaders(env, 1024)) != 0 ||
	    (rc = mdb_env_open(env, src, MDB_RDONLY, 0600)) != 0)
		goto fail;
	f = xasprintf("%s/data.mdb", dst);
	/* The daemon may grow the map while we look: adopt its size. */
	for (tries = 0; tries < 5; tries++) {
		rc = mdb_env_copy2(env, dst, MDB_CP_COMPACT);
		if (rc != MDB_MAP_RESIZED)
			break;
		(void)unlink(f);
		if ((rc = mdb_env_set_mapsize(env, 0)) != 0)
			break;
	}
	if (rc == 0) {
		if (bk_fsync_path(f) == -1)
			bk_err(b, "fsync", f);
		if (stat(src, &st) == 0)
			bk_owner(b, dst, &st);
		if (stat(f, &st) == 0)
			b->bytes += (unsigned long long)st.st_size;
		if (lstat(src, &st) == 0) {
			char *sf = xasprintf("%s/data.mdb", src);
			if (stat(sf, &st) == 0)
				bk_owner(b, f, &st);
			free(sf);
		}
	}
	free(f);
	if (rc != 0)
		goto fail;
	mdb_env_close(env);
	return 0;
fail:
	fprintf(stderr, "postern backup: index %s: %s\n", src,
	    mdb_strerror(rc));
	if (env != NULL)
		mdb_env_close(env);
	b->errors++;
	return -1;
}

/*
 * Make the copied queue agree with the copied index: drop records whose
 * file is gone and files that have no record.  Returns the messages kept.
 */
static long
bk_reconcile_queue(struct bk *b, const char *ipath, const char *qdir)
{
	MDB_env		*env = NULL;
	MDB_txn		*txn = NULL;
	MDB_dbi		 dbi;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	DIR		*d;
	struct dirent	*de;
	char		*p, *key;
	long		 kept = 0;
	int		 rc;

	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, BK_MAXDBS)) != 0 ||
	    (rc = mdb_env_open(env, ipath, 0, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "queue", 0, &dbi)) == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		mdb_env_close(env);
		return 0;
	}
	if (rc != 0 || (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		goto fail;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		key = xmalloc(k.mv_size + 1);
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		p = xasprintf("%s/%s", qdir, key);
		if (strchr(key, '/') == NULL && access(p, F_OK) == 0)
			kept++;
		else if ((rc = mdb_cursor_del(cur, 0)) != 0) {
			free(p);
			free(key);
			mdb_cursor_close(cur);
			goto fail;
		}
		free(p);
		free(key);
	}
	if ((d = opendir(qdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			k.mv_data = de->d_name;
			k.mv_size = strlen(de->d_name);
			if (mdb_get(txn, dbi, &k, &v) == 0)
				continue;
			p = xasprintf("%s/%s", qdir, de->d_name);
			(void)unlink(p);
			free(p);
		}
		closedir(d);
	}
	mdb_cursor_close(cur);
	if ((rc = mdb_txn_commit(txn)) != 0) {
		txn = NULL;
		goto fail;
	}
	mdb_env_close(env);
	(void)bk_fsync_path(qdir);
	return kept;
fail:
	fprintf(stderr, "postern backup: queue records %s: %s\n", ipath,
	    mdb_strerror(rc));
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	b->errors++;
	return -1;
}

/* p is below dir (or is dir)? */
static bool
bk_under(const char *p, const char *dir)
{
	size_t	 n = strlen(dir);

	return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static void
bk_readme(struct bk *b, const struct conf *c, const char *conffile,
    bool with_mail, long queued)
{
	char		*p, tbuf[64];
	time_t		 now = time(NULL);
	FILE		*fp;

	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	p = xasprintf("%s/README", b->dest);
	if ((fp = fopen(p, "w")) == NULL) {
		bk_err(b, "create", p);
		free(p);
		return;
	}
	fprintf(fp,
	    "postern backup, taken %s by postern %s\n"
	    "\n"
	    "config:     %s\n"
	    "state_dir:  %s  ->  state/\n"
	    "mail:       %s  ->  %s\n"
	    "queued messages in this copy: %ld\n"
	    "\n"
	    "state/ is a consistent snapshot of the index (LMDB, compacted) and\n"
	    "the outbound queue, plus every other file of state_dir (DKIM keys,\n"
	    "the generated certificate).  extra/ holds the config file, the\n"
	    "accounts file, the DKIM key directory and the SRS secret when they\n"
	    "live outside state_dir.\n"
	    "\n",
	    tbuf, POSTERN_VERSION, conffile ? conffile : "(embedded default)",
	    c->state_dir, c->storage.path,
	    with_mail ? "mail/" : "not copied (see step 1)", queued);
	if (!with_mail)
		fprintf(fp,
		    "1. Copy the mail now, AFTER the index snapshot (the order\n"
		    "   matters: mail newer than the index is indexed at the next\n"
		    "   SELECT; an index newer than the mail would not be):\n"
		    "\n"
		    "     rsync -aHAX %s/ %s/mail/\n"
		    "\n", c->storage.path, b->dest);
	fprintf(fp,
	    "Restore (daemon stopped):\n"
	    "\n"
	    "  systemctl stop postern\n"
	    "  rm -rf %s/index.lmdb %s/queue\n"
	    "  cp -a %s/state/. %s/\n"
	    "  rsync -aHAX --delete %s/mail/ %s/\n"
	    "  chown -R <run_as user>:<group> %s %s\n"
	    "  postern check        # index and Maildir agree (or: postern reindex)\n"
	    "  systemctl start postern\n"
	    "\n"
	    "Files under extra/ go back to the paths named in the config.\n"
	    "See postern(8), BACKUP AND RESTORE.\n",
	    c->state_dir, c->state_dir, b->dest, c->state_dir, b->dest,
	    c->storage.path, c->state_dir, c->storage.path);
	if (fflush(fp) != 0 || fsync(fileno(fp)) == -1)
		bk_err(b, "write", p);
	fclose(fp);
	free(p);
}

/* DEST must be new or an empty directory. */
static int
bk_dest_ok(const char *dest)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if (mkdir(dest, 0700) == 0)
		return 0;
	if (errno != EEXIST || (d = opendir(dest)) == NULL) {
		fprintf(stderr, "postern backup: %s: %s\n", dest,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	if (n > 0) {
		fprintf(stderr, "postern backup: %s is not empty\n", dest);
		return -1;
	}
	return 0;
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "with-mail", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const skip_state[] = { "index.lmdb", "queue",
		"spool", NULL };
	struct bk	 b;
	struct conf	*c;
	const char	*file = NULL;
	char		*dstate, *src, *dst, *extra;
	bool		 with_mail = false;
	long		 queued = 0;
	int		 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'm':
			with_mail = true;
			break;
		case 'h':
			printf("usage: postern backup [-c FILE] [--with-mail] "
			    "DEST\n");
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	memset(&b, 0, sizeof(b));
	b.dest = argv[optind];
	b.root = geteuid() == 0;
	if ((c = cmd_conf_load(file, &file)) == NULL)
		return 1;
	if (c->state_dir == NULL || access(c->state_dir, R_OK | X_OK) == -1) {
		fprintf(stderr, "postern backup: state_dir %s: %s\n",
		    c->state_dir ? c->state_dir : "(unset)", strerror(errno));
		conf_free(&c);
		return 1;
	}
	if (bk_dest_ok(b.dest) == -1) {
		conf_free(&c);
		return 1;
	}
	umask(077);
	dstate = xasprintf("%s/state", b.dest);
	(void)bk_mkdir_like(&b, c->state_dir, dstate);

	/* 1. The index snapshot, first. */
	src = xasprintf("%s/index.lmdb", c->state_dir);
	dst = xasprintf("%s/index.lmdb", dstate);
	if (access(src, F_OK) == 0 && bk_copy_index(&b, src, dst) == -1) {
		free(src);
		free(dst);
		free(dstate);
		conf_free(&c);
		return 1;
	}
	free(src);

	/* 2. The queue files, then reconciled with the snapshot. */
	src = xasprintf("%s/queue", c->state_dir);
	extra = xasprintf("%s/queue", dstate);
	if (access(src, F_OK) == 0) {
		bk_copy_tree(&b, src, extra, NULL);
		if (access(dst, F_OK) == 0)
			queued = bk_reconcile_queue(&b, dst, extra);
	}
	free(src);
	free(extra);
	free(dst);

	/* 3. The rest of state_dir, and what lives elsewhere. */
	bk_copy_tree(&b, c->state_dir, dstate, skip_state);
	extra = xasprintf("%s/extra", b.dest);
	(void)bk_mkdir_like(&b, NULL, extra);
	if (file != NULL) {
		dst = xasprintf("%s/postern.conf", extra);
		(void)bk_copy_file(&b, file, dst);
		free(dst);
	}
	if (c->accounts_file != NULL && !bk_under(c->accounts_file,
	    c->state_dir)) {
		dst = xasprintf("%s/accounts_file", extra);
		(void)bk_copy_file(&b, c->accounts_file, dst);
		free(dst);
	}
	if (c->dkim.key_directory != NULL && !bk_under(c->dkim.key_directory,
	    c->state_dir)) {
		dst = xasprintf("%s/dkim", extra);
		bk_copy_tree(&b, c->dkim.key_directory, dst, NULL);
		free(dst);
	}
	if (c->srs.secret_file != NULL && !bk_under(c->srs.secret_file,
	    c->state_dir)) {
		dst = xasprintf("%s/srs.secret", extra);
		(void)bk_copy_file(&b, c->srs.secret_file, dst);
		free(dst);
	}
	(void)bk_fsync_path(extra);
	free(extra);

	/* 4. The mail, after the index. */
	if (with_mail) {
		dst = xasprintf("%s/mail", b.dest);
		bk_copy_tree(&b, c->storage.path, dst, NULL);
		free(dst);
	}
	bk_readme(&b, c, file, with_mail, queued < 0 ? 0 : queued);
	(void)bk_fsync_path(dstate);
	(void)bk_fsync_path(b.dest);
	free(dstate);

	printf("backup %s: %lu files, %llu bytes, %ld queued message(s)%s\n",
	    b.dest, b.files, b.bytes, queued < 0 ? 0 : queued,
	    b.errors ? ", WITH ERRORS" : "");
	if (!with_mail)
		printf("now copy the mail: rsync -aHAX %s/ %s/mail/\n",
		    c->storage.path, b.dest);
	conf_free(&c);
	return b.errors ? 1 : 0;
usage:
	fprintf(stderr, "usage: postern backup [-c FILE] [--with-mail] DEST\n");
	return 2;
}
