/*
 * lda_script.c - a user's Sieve scripts on disk (RFC 5804 storage model):
 * <home>/sieve/<name>.sieve, the active one marked by the symlink
 * <home>/.dovecot.sieve -> sieve/<name>.sieve (Pigeonhole's layout, so a
 * Dovecot home migrates by copying), where <home> is
 * <storage.path>/<domain>/<local>.  Writes go to a temporary file, are
 * fsynced, renamed into place and the directory is fsynced, so a crash
 * leaves either the old or the new script.
 *
 * Owns nothing in memory.  Threads: every function that touches the
 * file system is *_blocking and runs on a worker [worker]; concurrent
 * sessions of one user are serialised only by rename(2) atomicity.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "lda.h"
#include "mdir.h"
#include "xmalloc.h"

#define LDA_ACTIVE_LINK		".dovecot.sieve"
#define LDA_SUFFIX		".sieve"

static __thread char	 lda_errbuf[256];

static const char *
lda_errno(const char *what, const char *path)
{
	snprintf(lda_errbuf, sizeof(lda_errbuf), "%s %s: %s", what, path,
	    strerror(errno));
	return lda_errbuf;
}

bool
lda_script_name_valid(const char *name, size_t len)
{
	const unsigned char	*p = (const unsigned char *)name;
	size_t			 i;

	if (len == 0 || len > LDA_NAME_MAX || p[0] == '.')
		return false;
	for (i = 0; i < len; i++) {
		/* RFC 5804 1.6: no controls (C0, DEL, C1), and no '/'. */
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '/')
			return false;
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

/* <storage.path>/<domain>/<local>, or NULL. */
static char *
lda_home(const struct conf *conf, const char *account, const char **error_r)
{
	char		*root, *slash;
	const char	*e;

	if (mdir_user_root(conf->storage.path, account, &root, &e) == -1) {
		*error_r = e;
		return NULL;
	}
	if ((slash = strrchr(root, '/')) != NULL)
		*slash = '\0';
	return root;
}

static int
lda_mkdir(const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
lda_fsync_dir(const char *path)
{
	int	 fd, rc;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Name of the active script, or NULL (caller frees). */
static char *
lda_active_name(const char *home)
{
	char		*link = xasprintf("%s/" LDA_ACTIVE_LINK, home);
	char		 target[PATH_MAX];
	ssize_t		 n;
	size_t		 len, sl = strlen(LDA_SUFFIX);
	const char	*base;

	n = readlink(link, target, sizeof(target) - 1);
	free(link);
	if (n <= 0)
		return NULL;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base != NULL ? base + 1 : target;
	len = strlen(base);
	if (len <= sl || strcmp(base + len - sl, LDA_SUFFIX) != 0)
		return NULL;
	return xstrndup(base, len - sl);
}

static char *
lda_script_path(const char *home, const char *name)
{
	return xasprintf("%s/sieve/%s" LDA_SUFFIX, home, name);
}

static bool
lda_exists(const char *path)
{
	struct stat	 st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int
lda_name_cmp(const void *a, const void *b)
{
	const struct lda_script_info *x = a, *y = b;

	return strcmp(x->name, y->name);
}

enum lda_st
lda_script_list_blocking(const struct conf *conf, const char *account,
    struct lda_script_info **list_r, size_t *count_r, const char **error_r)
{
	struct lda_script_info	*v = NULL;
	struct dirent		*de;
	DIR			*d;
	char			*home, *dir, *active;
	size_t			 n = 0, len, sl = strlen(LDA_SUFFIX);
	const char		*e = NULL;

	*list_r = NULL;
	*count_r = 0;
	if ((home = lda_home(conf, account, &e)) == NULL) {
		if (error_r != NULL)
			*error_r = e;
		return LDA_ERROR;
	}
	dir = xasprintf("%s/sieve", home);
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		free(home);
		if (errno == ENOENT)
			return LDA_OK;
		if (error_r != NULL)
			*error_r = lda_errno("opendir", "sieve");
		return LDA_ERROR;
	}
	active = lda_active_name(home);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= sl || strcmp(de->d_name + len - sl, LDA_SUFFIX) != 0 ||
		    !lda_script_name_valid(de->d_name, len - sl))
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n].name = xstrndup(de->d_name, len - sl);
		v[n].active = active != NULL && strcmp(active, v[n].name) == 0;
		n++;
	}
	closedir(d);
	free(active);
	free(dir);
	free(home);
	if (n > 1)
		qsort(v, n, sizeof(*v), lda_name_cmp);
	*list_r = v;
	*count_r = n;
	return LDA_OK;
}

void
lda_script_list_free(struct lda_script_info **list, size_t count)
{
	size_t	 i;

	if (*list == NULL)
		return;
	for (i = 0; i < count; i++)
		free((*list)[i].name);
	free(*list);
	*list = NULL;
}

/* Read at most max bytes of path: 0, 1 too big, -1 (errno). */
static int
lda_read_file(const char *path, size_t max, char **text_r, size_t *len_r)
{
	struct stat	 st;
	char		*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return 1;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*text_r = buf;
	*len_r = off;
	return 0;
}

enum lda_st
lda_script_get_blocking(const struct conf *conf, const char *account,
    const char *name, char **text_r, size_t *len_r, const char **error_r)
{
	char		*home, *path;
	const char	*e = NULL;
	int		 rc;

	if (!lda_script_name_valid(name, strlen(name)))
		return LDA_NONEXISTENT;
	if ((home = lda_home(conf, account, &e)) == NULL) {
		if (error_r != NULL)
			*error_r = e;
		return LDA_ERROR;
	}
	path = lda_script_path(home, name);
	free(home);
	rc = lda_read_file(path, LDA_SCRIPT_MAX, text_r, len_r);
	if (rc == -1 && errno == ENOENT) {
		free(path);
		return LDA_NONEXISTENT;
	}
	if (rc == -1 && error_r != NULL)
		*error_r = lda_errno("read", name);
	free(path);
	if (rc == 1)
		return LDA_QUOTA_SIZE;
	return rc == 0 ? LDA_OK : LDA_ERROR;
}

static enum lda_st
lda_fits(const struct conf *conf, const char *account, const char *name,
    uint64_t size, const char **error_r)
{
	struct lda_script_info	*v;
	size_t			 n, i;
	bool			 found = false;
	enum lda_st		 st;

	if (size > LDA_SCRIPT_MAX)
		return LDA_QUOTA_SIZE;
	if ((st = lda_script_list_blocking(conf, account, &v, &n, error_r)) !=
	    LDA_OK)
		return st;
	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			found = true;
	lda_script_list_free(&v, n);
	if (!found && n >= LDA_SCRIPTS_MAX)
		return LDA_QUOTA_COUNT;
	return LDA_OK;
}

enum lda_st
lda_script_havespace_blocking(const struct conf *conf, const char *account,
    const char *name, uint64_t size, const char **error_r)
{
	if (!lda_script_name_valid(name, strlen(name)))
		return LDA_BADNAME;
	return lda_fits(conf, account, name, size, error_r);
}

enum lda_st
lda_script_put_blocking(const struct conf *conf, const char *account,
    const char *name, const char *text, size_t len, const char **error_r)
{
	char		*home, *dir = NULL, *tmp = NULL, *path = NULL, *slash;
	const char	*e = NULL;
	enum lda_st	 st;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd = -1, rc = 0;

	if (!lda_script_name_valid(name, strlen(name)))
		return LDA_BADNAME;
	if ((st = lda_fits(conf, account, name, len, error_r)) != LDA_OK)
		return st;
	if ((home = lda_home(conf, account, &e)) == NULL) {
		if (error_r != NULL)
			*error_r = e;
		return LDA_ERROR;
	}
	st = LDA_ERROR;
	dir = xasprintf("%s/sieve", home);
	/* The home may not exist yet: no mail has arrived. */
	if ((slash = strrchr(home, '/')) != NULL) {
		*slash = '\0';
		rc = lda_mkdir(home);
		*slash = '/';
	}
	if (rc == -1 || lda_mkdir(home) == -1 || lda_mkdir(dir) == -1) {
		e = lda_errno("mkdir", "sieve");
		goto out;
	}
	tmp = xasprintf("%s/.tmp.XXXXXX", dir);
	if ((fd = mkstemp(tmp)) == -1) {
		e = lda_errno("create", "sieve/.tmp");
		xfree(tmp);
		goto out;
	}
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = lda_errno("write", name);
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		e = lda_errno("fsync", name);
		goto out;
	}
	path = lda_script_path(home, name);
	if (rename(tmp, path) == -1) {
		e = lda_errno("rename", name);
		goto out;
	}
	xfree(tmp);
	if (lda_fsync_dir(dir) == -1) {
		e = lda_errno("fsync", "sieve");
		goto out;
	}
	st = LDA_OK;
out:
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	if (st != LDA_OK && error_r != NULL)
		*error_r = e;
	free(path);
	free(dir);
	free(home);
	return st;
}

enum lda_st
lda_script_delete_blocking(const struct conf *conf, const char *account,
    const char *name, const char **error_r)
{
	char		*home, *path, *active, *dir;
	const char	*e = NULL;
	enum lda_st	 st = LDA_OK;

	if (!lda_script_name_valid(name, strlen(name)))
		return LDA_NONEXISTENT;
	if ((home = lda_home(conf, account, &e)) == NULL) {
		if (error_r != NULL)
			*error_r = e;
		return LDA_ERROR;
	}
	path = lda_script_path(home, name);
	active = lda_active_name(home);
	dir = xasprintf("%s/sieve", home);
	if (!lda_exists(path))
		st = LDA_NONEXISTENT;
	else if (active != NULL && strcmp(active, name) == 0)
		st = LDA_ACTIVE;	/* RFC 5804 2.10 */
	else if (unlink(path) == -1 || lda_fsync_dir(dir) == -1) {
		st = LDA_ERROR;
		if (error_r != NULL)
			*error_r = lda_errno("delete", name);
	}
	free(dir);
	free(active);
	free(path);
	free(home);
	return st;
}

/* Point .dovecot.sieve at name (NULL: remove it), atomically. */
static enum lda_st
lda_link(const char *home, const char *name, const char **error_r)
{
	char		*link = xasprintf("%s/" LDA_ACTIVE_LINK, home);
	char		*tmp = NULL, *target = NULL;
	enum lda_st	 st = LDA_OK;

	if (name == NULL) {
		if (unlink(link) == -1 && errno != ENOENT)
			st = LDA_ERROR;
	} else {
		target = xasprintf("sieve/%s" LDA_SUFFIX, name);
		tmp = xasprintf("%s/" LDA_ACTIVE_LINK ".tmp", home);
		(void)unlink(tmp);
		if (symlink(target, tmp) == -1 || rename(tmp, link) == -1) {
			st = LDA_ERROR;
			(void)unlink(tmp);
		}
	}
	if (st == LDA_OK && lda_fsync_dir(home) == -1)
		st = LDA_ERROR;
	if (st != LDA_OK && error_r != NULL)
		*error_r = lda_errno("activate", LDA_ACTIVE_LINK);
	free(tmp);
	free(target);
	free(link);
	return st;
}

enum lda_st
lda_script_rename_blocking(const struct conf *conf, const char *account,
    const char *from, const char *to, const char **error_r)
{
	char		*home, *pf, *pt, *active, *dir;
	const char	*e = NULL;
	enum lda_st	 st = LDA_OK;

	if (!lda_script_name_valid(from, strlen(from)))
		return LDA_NONEXISTENT;
	if (!lda_script_name_valid(to, strlen(to)))
		return LDA_BADNAME;
	if ((home = lda_home(conf, account, &e)) == NULL) {
		if (error_r != NULL)
			*error_r = e;
		return LDA_ERROR;
	}
	pf = lda_script_path(home, from);
	pt = lda_script_path(home, to);
	active = lda_active_name(home);
	dir = xasprintf("%s/sieve", home);
	if (!lda_exists(pf))
		st = LDA_NONEXISTENT;
	else if (lda_exists(pt))
		st = LDA_ALREADYEXISTS;
	else if (rename(pf, pt) == -1 || lda_fsync_dir(dir) == -1) {
		st = LDA_ERROR;
		if (error_r != NULL)
			*error_r = lda_errno("rename", from);
	} else if (active != NULL && strcmp(active, from) == 0)
		st = lda_link(home, to, error_r);
	free(dir);
	free(active);
	free(pt);
	free(pf);
	free(home);
	return st;
}

enum lda_st
lda_script_activate_blocking(const struct conf *conf, const char *account,
    const char *name, const char **error_r)
{
	char		*home, *path;
	const char	*e = NULL;
	enum lda_st	 st;

	if (*name != '\0' && !lda_script_name_valid(name, strlen(name)))
		return LDA_NONEXISTENT;
	if ((home = lda_home(conf, account, &e)) == NULL) {
		if (error_r != NULL)
			*error_r = e;
		return LDA_ERROR;
	}
	if (*name == '\0') {
		st = lda_link(home, NULL, error_r);
		free(home);
		return st;
	}
	path = lda_script_path(home, name);
	if (!lda_exists(path))
		st = LDA_NONEXISTENT;
	else
		st = lda_link(home, name, error_r);
	free(path);
	free(home);
	return st;
}

char *
lda_script_active_path_blocking(const struct conf *conf, const char *account)
{
	struct stat	 st;
	char		*home, *link;
	const char	*e;

	if ((home = lda_home(conf, account, &e)) == NULL)
		return NULL;
	link = xasprintf("%s/" LDA_ACTIVE_LINK, home);
	free(home);
	/* A dangling link or a missing file: no active script. */
	if (stat(link, &st) == -1 || !S_ISREG(st.st_mode)) {
		free(link);
		return NULL;
	}
	return link;
}
