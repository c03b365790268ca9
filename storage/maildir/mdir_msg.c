/*
 * mdir_msg.c - the messages already in a folder: scan new/ and cur/,
 * change flags (a rename inside cur/), expunge (unlink), and sweep tmp/.
 *
 * Other programs (mutt, Dovecot during a migration, a backup restore) may
 * rename files under us at any time, so an operation never trusts the
 * file name it was given: it tries that name first, and on ENOENT looks
 * the message up again by its base name, which no one changes.
 * Owns nothing beyond the lists it returns.  Every function here reads
 * directories or renames files, so all are [worker] except
 * mdir_dir_mtimes (two stat calls) and the free functions.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdir.h"
#include "mdir_private.h"
#include "xmalloc.h"

#define MDIR_FIND_TRIES		3	/* renames raced by other programs */

static const char *const mdir_subdirs[2] = { "new", "cur" };

static bool
mdir_base_eq(const char *fname, const char *base, size_t base_len)
{
	return strncmp(fname, base, base_len) == 0 &&
	    (fname[base_len] == '\0' || fname[base_len] == ':');
}

/*
 * Locate the message with fname's base name: first the name as given in
 * cur/ and new/, then by a scan.  Returns 1 found, 0 gone, -1 error;
 * *sub_r is "new" or "cur".
 */
static int
mdir_find(const char *folder, const char *fname, const char **sub_r,
    char **name_r, const char **error_r)
{
	struct mdir_fname	 fn;
	struct stat		 st;
	struct dirent		*de;
	DIR			*d;
	char			*path;
	int			 i, rc;

	*name_r = NULL;
	if (mdir_name_parse(fname, &fn, error_r) == -1)
		return -1;
	for (i = 1; i >= 0; i--) {
		path = xasprintf("%s/%s/%s", folder, mdir_subdirs[i], fname);
		rc = lstat(path, &st);
		free(path);
		if (rc == 0 && S_ISREG(st.st_mode)) {
			*sub_r = mdir_subdirs[i];
			*name_r = xstrdup(fname);
			return 1;
		}
	}
	for (i = 0; i < 2; i++) {
		path = xasprintf("%s/%s", folder, mdir_subdirs[i]);
		d = opendir(path);
		if (d == NULL) {
			*error_r = mdir_errf("opendir %s: %s", path,
			    strerror(errno));
			free(path);
			return -1;
		}
		free(path);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != '.' &&
			    mdir_base_eq(de->d_name, fname, fn.base_len)) {
				*sub_r = mdir_subdirs[i];
				*name_r = xstrdup(de->d_name);
				break;
			}
		}
		closedir(d);
		if (*name_r != NULL)
			return 1;
	}
	return 0;
}

int
mdir_set_flags_blocking(const char *folder, const char *fname,
    const char *flags, char **fname_r, const char **error_r)
{
	struct mdir_fname	 fn;
	const char		*sub;
	char			*cur, *from, *to, *newname;
	int			 i, rc;

	*fname_r = NULL;
	if (mdir_name_parse(fname, &fn, error_r) == -1)
		return -1;
	if (mdir_name_with_flags(fname, fn.base_len, flags, &newname,
	    error_r) == -1)
		return -1;
	for (i = 0; i < MDIR_FIND_TRIES; i++) {
		if ((rc = mdir_find(folder, fname, &sub, &cur,
		    error_r)) <= 0) {
			if (rc == 0)
				*error_r = "message no longer exists";
			free(newname);
			return -1;
		}
		if (strcmp(sub, "cur") == 0 && strcmp(cur, newname) == 0) {
			free(cur);
			*fname_r = newname;
			return 0;
		}
		from = xasprintf("%s/%s/%s", folder, sub, cur);
		to = xasprintf("%s/cur/%s", folder, newname);
		/*
		 * No fsync: flags are cheap to lose in a crash, and the index
		 * holds them too.  Dovecot makes the same choice.
		 */
		rc = rename(from, to);
		free(from);
		free(to);
		free(cur);
		if (rc == 0) {
			*fname_r = newname;
			return 0;
		}
		if (errno != ENOENT)
			break;
	}
	*error_r = mdir_errf("rename %s: %s", newname, strerror(errno));
	free(newname);
	return -1;
}

int
mdir_move_to_cur_blocking(const char *folder, const char *fname,
    char **fname_r, const char **error_r)
{
	struct mdir_fname	 fn;
	const char		*sub;
	char			*cur;
	int			 rc;

	*fname_r = NULL;
	/* Keep whatever flags the file has now, not the ones we knew. */
	if ((rc = mdir_find(folder, fname, &sub, &cur, error_r)) <= 0) {
		if (rc == 0)
			*error_r = "message no longer exists";
		return -1;
	}
	rc = mdir_name_parse(cur, &fn, error_r);
	if (rc == 0)
		rc = mdir_set_flags_blocking(folder, cur, fn.flags, fname_r,
		    error_r);
	free(cur);
	return rc;
}

int
mdir_expunge_blocking(const char *folder, const char *fname,
    const char **error_r)
{
	const char	*sub;
	char		*cur, *path;
	int		 i, rc;

	for (i = 0; i < MDIR_FIND_TRIES; i++) {
		if ((rc = mdir_find(folder, fname, &sub, &cur, error_r)) <= 0)
			return rc;	/* 0: already gone, fine */
		path = xasprintf("%s/%s/%s", folder, sub, cur);
		rc = unlink(path);
		free(path);
		free(cur);
		if (rc == 0 || errno != ENOENT)
			break;
	}
	if (rc == -1 && errno != ENOENT) {
		*error_r = mdir_errf("unlink %s: %s", fname, strerror(errno));
		return -1;
	}
	return 0;
}

static int
mdir_entry_cmp(const void *a, const void *b)
{
	const struct mdir_entry	*x = a, *y = b;
	size_t			 n = x->base_len < y->base_len ?
				    x->base_len : y->base_len;
	int			 c;

	if ((c = memcmp(x->fname, y->fname, n)) != 0)
		return c;
	if (x->base_len != y->base_len)
		return x->base_len < y->base_len ? -1 : 1;
	return (int)x->in_new - (int)y->in_new;		/* cur/ first */
}

int
mdir_scan_blocking(const char *folder, struct mdir_entry **list_r,
    size_t *count_r, const char **error_r)
{
	struct mdir_entry	*v = NULL, *e;
	struct mdir_fname	 fn;
	struct dirent		*de;
	struct stat		 st;
	const char		*err;
	DIR			*d;
	char			*path;
	size_t			 n = 0, cap = 0, i, j;
	int			 s;

	*list_r = NULL;
	*count_r = 0;
	/*
	 * new/ before cur/: a message moved new/ -> cur/ while we scan is
	 * then seen in at least one of them.
	 */
	for (s = 0; s < 2; s++) {
		path = xasprintf("%s/%s", folder, mdir_subdirs[s]);
		if ((d = opendir(path)) == NULL) {
			*error_r = mdir_errf("opendir %s: %s", path,
			    strerror(errno));
			free(path);
			mdir_entries_free(&v, n);
			return -1;
		}
		free(path);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' ||
			    mdir_name_parse(de->d_name, &fn, &err) == -1)
				continue;
			/* Gone since readdir: renamed, seen elsewhere. */
			if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
				continue;
			if (n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			e = &v[n++];
			e->fname = xstrdup(de->d_name);
			e->base_len = fn.base_len;
			e->in_new = s == 0;
			memcpy(e->flags, fn.flags, sizeof(e->flags));
			e->size = fn.has_size ? fn.size : (uint64_t)st.st_size;
			e->vsize = fn.vsize;
			e->has_vsize = fn.has_vsize;
			e->mtime = st.st_mtime;
		}
		closedir(d);
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), mdir_entry_cmp);
	/* A base seen in both (moved mid-scan): keep the cur/ one. */
	for (i = 0, j = 0; i < n; i++) {
		if (j > 0 && v[j - 1].base_len == v[i].base_len &&
		    memcmp(v[j - 1].fname, v[i].fname, v[i].base_len) == 0) {
			free(v[i].fname);
			continue;
		}
		v[j++] = v[i];
	}
	*list_r = v;
	*count_r = j;
	return 0;
}

void
mdir_entries_free(struct mdir_entry **list, size_t count)
{
	size_t	i;

	if (*list == NULL)
		return;
	for (i = 0; i < count; i++)
		free((*list)[i].fname);
	xfree(*list);
}

int
mdir_dir_mtimes(const char *folder, struct timespec *new_r,
    struct timespec *cur_r, const char **error_r)
{
	struct stat	 st;
	char		*path;
	int		 s;

	for (s = 0; s < 2; s++) {
		path = xasprintf("%s/%s", folder, mdir_subdirs[s]);
		if (stat(path, &st) == -1) {
			*error_r = mdir_errf("stat %s: %s", path,
			    strerror(errno));
			free(path);
			return -1;
		}
		free(path);
		if (s == 0)
			*new_r = st.st_mtim;
		else
			*cur_r = st.st_mtim;
	}
	return 0;
}

int
mdir_tmp_cleanup_blocking(const char *folder, time_t now, size_t *removed_r,
    const char **error_r)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		*path;
	time_t		 last;

	*removed_r = 0;
	path = xasprintf("%s/tmp", folder);
	d = opendir(path);
	free(path);
	if (d == NULL) {
		*error_r = mdir_errf("opendir %s/tmp: %s", folder,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			continue;
		/*
		 * Dovecot's rule: a tmp/ file nobody read, wrote or renamed
		 * for 36 hours is a delivery that died; ctime catches a
		 * writer that set an old mtime on purpose.
		 */
		last = st.st_atime;
		if (st.st_mtime > last)
			last = st.st_mtime;
		if (st.st_ctime > last)
			last = st.st_ctime;
		if (now - last < MDIR_TMP_STALE_SECS)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			(*removed_r)++;
	}
	closedir(d);
	return 0;
}
