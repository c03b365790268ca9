/*
 * mdir_dlv.c - put a new message into a Maildir folder, durably.
 *
 * The order is the one Dovecot's maildir-save.c and qmail use, split
 * between our two kinds of thread:
 *
 *	[loop]   open tmp/<unique> O_EXCL, write the body (page cache only)
 *	[worker] fsync(file); rename tmp/<unique> -> new/<unique>,S=..,W=..;
 *	         fsync(new/)
 *
 * A reader that lists new/ and cur/ only ever sees whole, durable files:
 * the name appears by an atomic rename, and only after the data is on
 * disk.  The final name is chosen at commit, when S= (size) and W=
 * (size with CRLF line ends) are known.  The rename refuses to replace an
 * existing file (RENAME_NOREPLACE, or link()+unlink() where the file
 * system lacks it) so a name clash can never overwrite a message.
 *
 * Group commit: mdir_commit_many_blocking fsyncs each file, renames each,
 * then fsyncs each distinct target directory once, so N deliveries to one
 * folder cost N+1 fsyncs instead of 2N.
 *
 * Owns struct mdir (a folder path) and struct mdir_dlv (one tmp/ file).
 * Threads: a delivery is begun and written on the loop, committed by one
 * worker, and freed on the loop after the job completes; it is never
 * touched by two threads at once.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdir.h"
#include "mdir_private.h"
#include "xmalloc.h"

#define MDIR_DLV_OPEN_TRIES	8

struct mdir {
	char	*path;
};

enum mdir_dlv_state {
	MDIR_DLV_S_OPEN = 0,	/* writing tmp/ */
	MDIR_DLV_S_SYNCED,	/* file fsynced, fd closed, in tmp/ */
	MDIR_DLV_S_RENAMED,	/* in new/ or cur/, directory not synced */
	MDIR_DLV_S_DONE,	/* durable */
	MDIR_DLV_S_FAILED
};

struct mdir_dlv {
	char			*dir;		/* folder path */
	char			*tmp_name;	/* unique base */
	char			*tmp_path;
	char			*final_name;	/* set at rename */
	char			*error;		/* first failure */
	int			 fd;
	enum mdir_dlv_state	 state;
	bool			 tmp_exists;
	bool			 last_cr;	/* for W=: previous byte */
	bool			 to_cur;
	uint64_t		 size;
	uint64_t		 vsize;
	char			 flags[MDIR_FLAGS_MAX];
};

static int
mdir_mkdir(const char *path, const char **error_r)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		*error_r = mdir_errf("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* mkdir -p for the user's root, which may be the first of its domain. */
static int
mdir_mkdirs(const char *path, const char **error_r)
{
	char	*p, *s = xstrdup(path);
	int	 rc = 0;

	for (p = s + 1; rc == 0 && (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		rc = mdir_mkdir(s, error_r);
		*p = '/';
	}
	if (rc == 0)
		rc = mdir_mkdir(s, error_r);
	free(s);
	return rc;
}

int
mdir_open(const char *path, bool create, struct mdir **mdir_r,
    const char **error_r)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	struct stat	 st;
	char		*sub;
	size_t		 i;
	int		 rc = 0;

	*mdir_r = NULL;
	if (create && mdir_mkdirs(path, error_r) == -1)
		return -1;
	for (i = 0; rc == 0 && i < 3; i++) {
		sub = xasprintf("%s/%s", path, subs[i]);
		if (create)
			rc = mdir_mkdir(sub, error_r);
		if (rc == 0 && (stat(sub, &st) == -1 || !S_ISDIR(st.st_mode))) {
			*error_r = mdir_errf("%s: not a Maildir directory",
			    sub);
			rc = -1;
		}
		free(sub);
	}
	if (rc == -1)
		return -1;
	*mdir_r = xcalloc(1, sizeof(**mdir_r));
	(*mdir_r)->path = xstrdup(path);
	return 0;
}

void
mdir_close(struct mdir **mdir)
{
	if (*mdir == NULL)
		return;
	free((*mdir)->path);
	xfree(*mdir);
}

const char *
mdir_path(const struct mdir *m)
{
	return m->path;
}

int
mdir_dlv_begin(struct mdir *m, struct mdir_dlv **dlv_r, const char **error_r)
{
	struct mdir_dlv	*d;
	int		 i;

	*dlv_r = NULL;
	d = xcalloc(1, sizeof(*d));
	d->dir = xstrdup(m->path);
	d->fd = -1;
	for (i = 0; i < MDIR_DLV_OPEN_TRIES; i++) {
		d->tmp_name = mdir_name_unique();
		d->tmp_path = xasprintf("%s/tmp/%s", m->path, d->tmp_name);
		d->fd = open(d->tmp_path, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (d->fd != -1 || errno != EEXIST)
			break;
		/* Someone else's file (clock step?): take another name. */
		xfree(d->tmp_name);
		xfree(d->tmp_path);
	}
	if (d->fd == -1) {
		*error_r = mdir_errf("open %s/tmp: %s", m->path,
		    strerror(errno));
		mdir_dlv_free(&d);
		return -1;
	}
	d->tmp_exists = true;
	*dlv_r = d;
	return 0;
}

int
mdir_dlv_write(struct mdir_dlv *d, const void *data, size_t len,
    const char **error_r)
{
	const unsigned char	*p = data;
	size_t			 i, off;
	ssize_t			 n;

	if (d->state != MDIR_DLV_S_OPEN) {
		*error_r = "delivery is not open for writing";
		return -1;
	}
	/* W= counts each bare LF as CRLF, as IMAP's RFC822.SIZE does. */
	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && !d->last_cr)
			d->vsize++;
		d->last_cr = p[i] == '\r';
	}
	for (off = 0; off < len; off += (size_t)n) {
		n = write(d->fd, p + off, len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n == -1) {
			*error_r = mdir_errf("write %s: %s", d->tmp_path,
			    strerror(errno));
			return -1;
		}
	}
	d->size += len;
	d->vsize += len;
	return 0;
}

int
mdir_dlv_set_dest(struct mdir_dlv *d, bool to_cur, const char *flags,
    const char **error_r)
{
	if (flags == NULL)
		flags = "";
	if (strlen(flags) >= MDIR_FLAGS_MAX) {
		*error_r = "too many Maildir flags";
		return -1;
	}
	if (mdir_flags_normalize(flags, d->flags, error_r) == -1)
		return -1;
	if (!to_cur && d->flags[0] != '\0') {
		*error_r = "flags need a delivery to cur/";
		return -1;
	}
	d->to_cur = to_cur;
	return 0;
}

static void
mdir_dlv_fail(struct mdir_dlv *d, const char *what, int err)
{
	d->state = MDIR_DLV_S_FAILED;
	if (d->error == NULL)
		d->error = xasprintf("%s %s: %s", what,
		    d->final_name != NULL ? d->final_name : d->tmp_name,
		    strerror(err));
}

/* Move without ever replacing: a clash must fail, not eat a message. */
int
mdir_rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* link() does not work on directories; only files reach here. */
	if (link(from, to) == -1)
		return -1;
	/* A crash here leaves a tmp/ copy; the 36 h cleanup removes it. */
	(void)unlink(from);
	return 0;
}

static char *
mdir_dlv_target_dir(const struct mdir_dlv *d)
{
	return xasprintf("%s/%s", d->dir, d->to_cur ? "cur" : "new");
}

int
mdir_commit_many_blocking(struct mdir_dlv *const *dlvs, size_t n,
    size_t *dir_fsyncs_r, const char **error_r)
{
	struct mdir_dlv	*d;
	char		*dir, *target, **dirs;
	size_t		 i, j, ndirs = 0, syncs = 0;
	int		 err, rc = 0;

	if (dir_fsyncs_r != NULL)
		*dir_fsyncs_r = 0;
	/* 1: data on disk before any name points at it. */
	for (i = 0; i < n; i++) {
		d = dlvs[i];
		if (d->state != MDIR_DLV_S_OPEN)
			continue;
		if (fsync(d->fd) == -1)
			mdir_dlv_fail(d, "fsync", errno);
		else
			d->state = MDIR_DLV_S_SYNCED;
		close(d->fd);
		d->fd = -1;
	}
	/* 2: publish under the final name. */
	for (i = 0; i < n; i++) {
		d = dlvs[i];
		if (d->state != MDIR_DLV_S_SYNCED)
			continue;
		d->final_name = d->to_cur ?
		    xasprintf("%s,S=%llu,W=%llu:2,%s", d->tmp_name,
		    (unsigned long long)d->size, (unsigned long long)d->vsize,
		    d->flags) :
		    xasprintf("%s,S=%llu,W=%llu", d->tmp_name,
		    (unsigned long long)d->size, (unsigned long long)d->vsize);
		dir = mdir_dlv_target_dir(d);
		target = xasprintf("%s/%s", dir, d->final_name);
		if (mdir_rename_noreplace(d->tmp_path, target) == -1) {
			err = errno;
			xfree(d->final_name);
			mdir_dlv_fail(d, "rename", err);
		} else {
			d->tmp_exists = false;
			d->state = MDIR_DLV_S_RENAMED;
		}
		free(target);
		free(dir);
	}
	/* 3: one fsync per distinct directory makes the names durable. */
	dirs = xcalloc(n + 1, sizeof(*dirs));
	for (i = 0; i < n; i++) {
		if (dlvs[i]->state != MDIR_DLV_S_RENAMED)
			continue;
		dir = mdir_dlv_target_dir(dlvs[i]);
		for (j = 0; j < ndirs; j++)
			if (strcmp(dirs[j], dir) == 0)
				break;
		if (j < ndirs) {
			free(dir);
			continue;
		}
		dirs[ndirs++] = dir;
		syncs++;
		err = mdir_fsync_dir(dir) == -1 ? errno : 0;
		/* Mark every delivery in this directory with the outcome. */
		for (j = i; j < n; j++) {
			if (dlvs[j]->state != MDIR_DLV_S_RENAMED)
				continue;
			target = mdir_dlv_target_dir(dlvs[j]);
			if (strcmp(target, dir) == 0) {
				/*
				 * The file stays in new/: it may well be on
				 * disk, and a duplicate after a 451 is
				 * better than a loss.
				 */
				if (err != 0)
					mdir_dlv_fail(dlvs[j], "fsync dir",
					    err);
				else
					dlvs[j]->state = MDIR_DLV_S_DONE;
			}
			free(target);
		}
	}
	for (j = 0; j < ndirs; j++)
		free(dirs[j]);
	free(dirs);
	for (i = 0; i < n; i++) {
		if (dlvs[i]->state != MDIR_DLV_S_DONE) {
			if (rc == 0)
				*error_r = mdir_errf("%s", dlvs[i]->error !=
				    NULL ? dlvs[i]->error :
				    "delivery was not open");
			rc = -1;
		}
	}
	if (dir_fsyncs_r != NULL)
		*dir_fsyncs_r = syncs;
	return rc;
}

int
mdir_dlv_commit_blocking(struct mdir_dlv *d, bool to_cur, const char *flags,
    const char **error_r)
{
	if (d->state == MDIR_DLV_S_OPEN &&
	    mdir_dlv_set_dest(d, to_cur, flags, error_r) == -1)
		return -1;
	return mdir_commit_many_blocking(&d, 1, NULL, error_r);
}

bool
mdir_dlv_committed(const struct mdir_dlv *d)
{
	return d->state == MDIR_DLV_S_DONE;
}

const char *
mdir_dlv_name(const struct mdir_dlv *d)
{
	return d->final_name != NULL ? d->final_name : d->tmp_name;
}

uint64_t
mdir_dlv_size(const struct mdir_dlv *d)
{
	return d->size;
}

void
mdir_dlv_free(struct mdir_dlv **dlv)
{
	struct mdir_dlv	*d = *dlv;

	if (d == NULL)
		return;
	if (d->fd != -1)
		close(d->fd);
	if (d->tmp_exists)
		(void)unlink(d->tmp_path);
	free(d->dir);
	free(d->tmp_name);
	free(d->tmp_path);
	free(d->final_name);
	free(d->error);
	xfree(*dlv);
}
