/*
 * mdir_folder.c - create, rename and delete folders, and move all of
 * INBOX's messages for RFC 3501 RENAME INBOX.
 *
 * maildir++: a folder is <root>/.a.b with cur/ new/ tmp/ and an empty
 * "maildirfolder" file (Dovecot and Courier write it so that a delivery
 * agent pointed at the folder knows it is not a top-level Maildir).
 * Children are siblings on disk (.a.b.c), so a rename moves every
 * ".a.b" and ".a.b.*" directory; each move is atomic, the set is not (a
 * crash in between leaves both names, which a second RENAME completes).
 * fs: a folder is <root>/a/b with cur/ new/ tmp/, children are
 * subdirectories, and a rename is one rename(2).
 *
 * Delete: RFC 3501 6.3.4 lets a server refuse to delete a folder with
 * inferiors; we refuse in both layouts with a clear error, which keeps
 * the two layouts alike and never leaves a half-deleted tree.  A deleted
 * folder is first renamed out of sight (a name the listing skips), then
 * removed, so a crash never shows a folder with half its messages.
 * INBOX can be neither deleted nor renamed here; RENAME INBOX is
 * mdir_move_all_blocking into a newly created folder.
 * Owns nothing; every function is [worker].
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mdir.h"
#include "mdir_private.h"
#include "xmalloc.h"

#define MDIR_RM_DEPTH_MAX	64

static int
mdir_mkdir_p(const char *path, const char **error_r)
{
	char	*p, *s = xstrdup(path);
	int	 rc = 0;

	for (p = s + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(s, 0700) == -1 && errno != EEXIST)
			rc = -1;
		*p = '/';
		if (rc == -1)
			break;
	}
	if (rc == 0 && mkdir(s, 0700) == -1 && errno != EEXIST)
		rc = -1;
	if (rc == -1)
		*error_r = mdir_errf("mkdir %s: %s", s, strerror(errno));
	free(s);
	return rc;
}

static bool
mdir_is_dir(const char *path)
{
	struct stat	st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Directory rename that never replaces an existing (empty) directory. */
static int
mdir_dir_rename(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (mdir_is_dir(to)) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

static bool
mdir_dirent_is_dir(int dfd, const struct dirent *de)
{
	struct stat	st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	/* Some file systems leave d_type empty; never follow symlinks. */
	return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

/*
 * Does folder rel (".a.b" or "a/b") have child folders?  maildir++:
 * a sibling ".a.b.*"; fs: a subdirectory that is not cur/new/tmp.
 */
static int
mdir_has_children(const char *root, enum mdir_layout layout,
    const char *rel, bool *has_r, const char **error_r)
{
	struct dirent	*de;
	DIR		*d;
	char		*path;
	size_t		 len = strlen(rel);

	*has_r = false;
	path = layout == MDIR_LAYOUT_FS ? xasprintf("%s/%s", root, rel) :
	    xstrdup(root);
	if ((d = opendir(path)) == NULL) {
		*error_r = mdir_errf("opendir %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	while (!*has_r && (de = readdir(d)) != NULL) {
		if (layout == MDIR_LAYOUT_MAILDIRPP)
			*has_r = strncmp(de->d_name, rel, len) == 0 &&
			    de->d_name[len] == '.';
		else
			*has_r = de->d_name[0] != '.' &&
			    strcmp(de->d_name, "cur") != 0 &&
			    strcmp(de->d_name, "new") != 0 &&
			    strcmp(de->d_name, "tmp") != 0 &&
			    mdir_dirent_is_dir(dirfd(d), de);
	}
	closedir(d);
	return 0;
}

int
mdir_folder_create_blocking(const char *root, enum mdir_layout layout,
    char sep, bool utf8, const char *name, const char **error_r)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char	*path, *sub;
	size_t	 i;
	int	 fd, rc = -1;

	if (mdir_is_inbox(name)) {
		*error_r = "INBOX always exists";
		return -1;
	}
	if (mdir_folder_path(root, layout, sep, utf8, name, &path,
	    error_r) == -1)
		return -1;
	sub = xasprintf("%s/cur", path);
	if (mdir_is_dir(sub)) {
		*error_r = "folder already exists";
		goto out;
	}
	/* fs: the parents come along, as \Noselect if not folders. */
	if (mdir_mkdir_p(path, error_r) == -1)
		goto out;
	/* tmp/ and new/ before cur/: a listing treats cur/ as "exists". */
	for (i = 3; i-- > 0;) {
		free(sub);
		sub = xasprintf("%s/%s", path, subs[i]);
		if (mkdir(sub, 0700) == -1 && errno != EEXIST) {
			*error_r = mdir_errf("mkdir %s: %s", sub,
			    strerror(errno));
			goto out;
		}
	}
	if (layout == MDIR_LAYOUT_MAILDIRPP) {
		free(sub);
		sub = xasprintf("%s/maildirfolder", path);
		fd = open(sub, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd == -1) {
			*error_r = mdir_errf("create %s: %s", sub,
			    strerror(errno));
			goto out;
		}
		close(fd);
	}
	(void)mdir_fsync_dir(root);
	rc = 0;
out:
	free(sub);
	free(path);
	return rc;
}

/* rm -rf without following symlinks, bounded in depth. */
static int
mdir_rm_tree_at(int dfd, const char *name, int depth)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, rc = 0;

	if (unlinkat(dfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return errno == ENOENT ? 0 : -1;
	if (depth > MDIR_RM_DEPTH_MAX) {
		errno = ELOOP;
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		rc = mdir_rm_tree_at(dirfd(d), de->d_name, depth + 1);
	}
	closedir(d);
	if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) == -1)
		rc = -1;
	return rc;
}

int
mdir_folder_delete_blocking(const char *root, enum mdir_layout layout,
    char sep, bool utf8, const char *name, const char **error_r)
{
	struct buf	 rel;
	char		*path = NULL, *trash = NULL, *uniq;
	bool		 children;
	int		 rc = -1;

	if (mdir_is_inbox(name)) {
		*error_r = "INBOX cannot be deleted";
		return -1;
	}
	buf_init(&rel, 0);
	if (mdir_rel_encode(layout, sep, utf8, name, &rel, error_r) == -1)
		goto out;
	path = xasprintf("%s/%s", root, rel.data);
	if (!mdir_is_dir(path)) {
		*error_r = "no such folder";
		goto out;
	}
	if (mdir_has_children(root, layout, rel.data, &children,
	    error_r) == -1)
		goto out;
	if (children) {
		*error_r = "folder has child folders; delete or rename them "
		    "first";
		goto out;
	}
	/*
	 * Out of sight first: a maildir++ name starting ".." and an fs name
	 * starting '.' are never listed as folders.
	 */
	uniq = mdir_name_unique();
	trash = xasprintf("%s/%s%s", root, layout == MDIR_LAYOUT_FS ?
	    ".postern-trash-" : "..postern-trash-", uniq);
	free(uniq);
	if (mdir_dir_rename(path, trash) == -1) {
		*error_r = mdir_errf("rename %s: %s", path, strerror(errno));
		goto out;
	}
	if (mdir_rm_tree_at(AT_FDCWD, trash, 0) == -1)
		log_warn("mdir delete leftover=%s error=\"%s\"", trash,
		    strerror(errno));
	rc = 0;
out:
	free(trash);
	free(path);
	buf_free(&rel);
	return rc;
}

int
mdir_folder_rename_blocking(const char *root, enum mdir_layout layout,
    char sep, bool utf8, const char *from, const char *to,
    const char **error_r)
{
	struct buf	 frel, trel;
	struct dirent	*de;
	DIR		*d = NULL;
	char		*fpath = NULL, *tpath = NULL, *slash, **srcs = NULL;
	size_t		 flen, nsrc = 0, cap = 0, i;
	int		 rc = -1;

	if (mdir_is_inbox(from) || mdir_is_inbox(to)) {
		*error_r = "INBOX cannot be renamed here; move its messages";
		return -1;
	}
	flen = strlen(from);
	if (strncmp(to, from, flen) == 0 && to[flen] == sep) {
		*error_r = "cannot rename a folder into its own child";
		return -1;
	}
	buf_init(&frel, 0);
	buf_init(&trel, 0);
	if (mdir_rel_encode(layout, sep, utf8, from, &frel, error_r) == -1 ||
	    mdir_rel_encode(layout, sep, utf8, to, &trel, error_r) == -1)
		goto out;
	fpath = xasprintf("%s/%s", root, frel.data);
	tpath = xasprintf("%s/%s", root, trel.data);
	if (!mdir_is_dir(fpath)) {
		*error_r = "no such folder";
		goto out;
	}
	if (mdir_is_dir(tpath)) {
		*error_r = "target folder already exists";
		goto out;
	}
	if (layout == MDIR_LAYOUT_FS) {
		if ((slash = strrchr(tpath, '/')) != NULL && slash > tpath) {
			*slash = '\0';
			rc = mdir_mkdir_p(tpath, error_r);
			*slash = '/';
			if (rc == -1)
				goto out;
			rc = -1;
		}
		if (mdir_dir_rename(fpath, tpath) == -1) {
			*error_r = mdir_errf("rename %s: %s", fpath,
			    strerror(errno));
			goto out;
		}
		(void)mdir_fsync_dir(root);
		rc = 0;
		goto out;
	}
	/* maildir++: the folder and every ".from.*" sibling move. */
	if ((d = opendir(root)) == NULL) {
		*error_r = mdir_errf("opendir %s: %s", root, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, frel.data, frel.len) != 0 ||
		    (de->d_name[frel.len] != '\0' &&
		    de->d_name[frel.len] != '.'))
			continue;
		if (strlen(de->d_name) - frel.len + trel.len > NAME_MAX) {
			*error_r = "a child folder name would get too long";
			goto out;
		}
		if (nsrc == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			srcs = xreallocarray(srcs, cap, sizeof(*srcs));
		}
		srcs[nsrc++] = xstrdup(de->d_name + frel.len);	/* suffix */
	}
	/* Check every target before moving anything. */
	for (i = 0; i < nsrc; i++) {
		free(tpath);
		tpath = xasprintf("%s/%s%s", root, trel.data, srcs[i]);
		if (mdir_is_dir(tpath)) {
			*error_r = "a child of the target folder already "
			    "exists";
			goto out;
		}
	}
	for (i = 0; i < nsrc; i++) {
		free(fpath);
		free(tpath);
		fpath = xasprintf("%s/%s%s", root, frel.data, srcs[i]);
		tpath = xasprintf("%s/%s%s", root, trel.data, srcs[i]);
		if (mdir_dir_rename(fpath, tpath) == -1) {
			*error_r = mdir_errf("rename %s: %s", fpath,
			    strerror(errno));
			goto out;
		}
	}
	(void)mdir_fsync_dir(root);
	rc = 0;
out:
	if (d != NULL)
		closedir(d);
	for (i = 0; i < nsrc; i++)
		free(srcs[i]);
	free(srcs);
	free(fpath);
	free(tpath);
	buf_free(&frel);
	buf_free(&trel);
	return rc;
}

int
mdir_move_all_blocking(const char *from_folder, const char *to_folder,
    size_t *moved_r, const char **error_r)
{
	static const char *const subs[] = { "new", "cur" };
	struct dirent	*de;
	DIR		*d;
	char		*from, *to;
	size_t		 s;
	int		 rc = 0;

	*moved_r = 0;
	for (s = 0; rc == 0 && s < 2; s++) {
		from = xasprintf("%s/%s", from_folder, subs[s]);
		if ((d = opendir(from)) == NULL) {
			*error_r = mdir_errf("opendir %s: %s", from,
			    strerror(errno));
			free(from);
			return -1;
		}
		free(from);
		while (rc == 0 && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			from = xasprintf("%s/%s/%s", from_folder, subs[s],
			    de->d_name);
			to = xasprintf("%s/%s/%s", to_folder, subs[s],
			    de->d_name);
			/* Base names are unique, so a clash is a real error. */
			if (mdir_rename_noreplace(from, to) == 0)
				(*moved_r)++;
			else if (errno != ENOENT) {
				*error_r = mdir_errf("rename %s: %s", from,
				    strerror(errno));
				rc = -1;
			}
			free(from);
			free(to);
		}
		closedir(d);
		to = xasprintf("%s/%s", to_folder, subs[s]);
		if (mdir_fsync_dir(to) == -1 && rc == 0) {
			*error_r = mdir_errf("fsync %s: %s", to,
			    strerror(errno));
			rc = -1;
		}
		free(to);
	}
	return rc;
}
