/*
 * mdir_path.c - where a user's mail lives and how IMAP folder names map to
 * directories, in both layouts Dovecot offers:
 *
 *	maildir++	INBOX = <root>, "a<sep>b" = <root>/.a.b
 *	fs		INBOX = <root>, "a<sep>b" = <root>/a/b
 *
 * Names arrive as UTF-8 from the protocol side and go to disk as modified
 * UTF-7 (RFC 3501 5.1.3, Dovecot's default) unless use_utf8_folder_names.
 * Everything here is a gate against path tricks: a name is checked one
 * hierarchy level at a time, and a level that is empty, "." or "..",
 * starts with '.', holds a control character or a '/' is refused, so no
 * name can reach outside the user's root or shadow a Maildir's own
 * cur/new/tmp.  Also owns the folder listing and the per-thread error
 * buffer the other mdir_ files use.
 * Threads: mdir_user_root, mdir_folder_path and mdir_folder_name are pure
 * [any]; mdir_list_folders_blocking reads directories [worker].
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mdir.h"
#include "mdir_private.h"
#include "str.h"
#include "utf7.h"
#include "xmalloc.h"

#define MDIR_LIST_DEPTH_MAX	32	/* fs layout recursion bound */
#define MDIR_LOCAL_MAX		64	/* RFC 5321 4.5.3.1.1 */
#define MDIR_DOMAIN_MAX		253

static __thread char mdir_errbuf[512];

const char *
mdir_errf(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(mdir_errbuf, sizeof(mdir_errbuf), fmt, ap);
	va_end(ap);
	return mdir_errbuf;
}

int
mdir_fsync_dir(const char *path)
{
	int	fd, rc, saved;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

bool
mdir_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/*
 * The local part may hold what RFC 5322 dot-atoms allow plus UTF-8
 * (SMTPUTF8), but never '/', a leading '.', "..", or anything below
 * 0x21: each would let one user's directory name another path.
 */
static int
mdir_check_local(const char *s, const char **error_r)
{
	size_t	len = strlen(s), i;

	if (len == 0 || len > MDIR_LOCAL_MAX) {
		*error_r = "bad local part length";
		return -1;
	}
	if (s[0] == '.' || s[len - 1] == '.' || strstr(s, "..") != NULL) {
		*error_r = "local part has a misplaced '.'";
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f || c == '/' || c == '\\' ||
		    c == '@' || c == '"') {
			*error_r = "local part has an unsafe character";
			return -1;
		}
	}
	if (!utf8_valid(s, len)) {
		*error_r = "local part is not UTF-8";
		return -1;
	}
	return 0;
}

/* Domains are A-labels: letters, digits, '-' and '.' only. */
static int
mdir_check_domain(const char *s, const char **error_r)
{
	size_t	len = strlen(s), i;

	if (len == 0 || len > MDIR_DOMAIN_MAX) {
		*error_r = "bad domain length";
		return -1;
	}
	if (s[0] == '.' || s[0] == '-' || s[len - 1] == '.' ||
	    strstr(s, "..") != NULL) {
		*error_r = "domain has a misplaced '.'";
		return -1;
	}
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.')) {
			*error_r = "domain has an unsafe character";
			return -1;
		}
	}
	return 0;
}

int
mdir_user_root(const char *storage_path, const char *address,
    char **root_r, const char **error_r)
{
	const char	*at;
	char		*local, *domain;

	*root_r = NULL;
	if (storage_path == NULL || storage_path[0] == '\0') {
		*error_r = "empty storage path";
		return -1;
	}
	if ((at = strrchr(address, '@')) == NULL) {
		*error_r = "address has no '@'";
		return -1;
	}
	local = xstrndup(address, (size_t)(at - address));
	domain = xstrdup(at + 1);
	str_lower(local);
	str_lower(domain);
	if (mdir_check_local(local, error_r) == -1 ||
	    mdir_check_domain(domain, error_r) == -1) {
		free(local);
		free(domain);
		return -1;
	}
	*root_r = xasprintf("%s/%s/%s/mail", storage_path, domain, local);
	free(local);
	free(domain);
	return 0;
}

/* One hierarchy level, as the user gave it (UTF-8). */
static int
mdir_check_level(enum mdir_layout layout, const char *s, size_t len,
    const char **error_r)
{
	size_t	i;

	if (len == 0) {
		*error_r = "folder name has an empty hierarchy level";
		return -1;
	}
	if (s[0] == '.') {
		*error_r = "folder name level starts with '.'";
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			*error_r = "folder name has a control character";
			return -1;
		}
		if (c == '/') {
			*error_r = "folder name has a '/'";
			return -1;
		}
		/* In maildir++ '.' is the on-disk separator. */
		if (c == '.' && layout == MDIR_LAYOUT_MAILDIRPP) {
			*error_r = "folder name has a '.' that is not the "
			    "hierarchy separator";
			return -1;
		}
	}
	/* In fs layout these would be the parent's own Maildir dirs. */
	if (layout == MDIR_LAYOUT_FS && len == 3 && (memcmp(s, "cur", 3) == 0 ||
	    memcmp(s, "new", 3) == 0 || memcmp(s, "tmp", 3) == 0)) {
		*error_r = "folder name level is cur, new or tmp";
		return -1;
	}
	return 0;
}

int
mdir_rel_encode(enum mdir_layout layout, char sep, bool utf8,
    const char *name, struct buf *out, const char **error_r)
{
	const char	*p, *end;
	size_t		 len, lvl_start;

	len = strlen(name);
	if (len == 0) {
		*error_r = "empty folder name";
		return -1;
	}
	if (len > MDIR_NAME_MAX) {
		*error_r = "folder name too long";
		return -1;
	}
	if (!utf8_valid(name, len)) {
		*error_r = "folder name is not UTF-8";
		return -1;
	}
	if (sep == '\0' || (unsigned char)sep >= 0x80) {
		*error_r = "bad hierarchy separator";
		return -1;
	}
	if (mdir_is_inbox(name))
		return 0;
	if (layout == MDIR_LAYOUT_MAILDIRPP)
		buf_putc(out, '.');
	for (p = name;; p = end + 1) {
		if ((end = strchr(p, sep)) == NULL)
			end = name + len;
		if (mdir_check_level(layout, p, (size_t)(end - p),
		    error_r) == -1)
			return -1;
		if (p != name)
			buf_putc(out, layout == MDIR_LAYOUT_FS ? '/' : '.');
		lvl_start = out->len;
		if (utf8)
			buf_append(out, p, (size_t)(end - p));
		else if (utf7_encode(p, (size_t)(end - p), out) == -1) {
			*error_r = "folder name does not encode to UTF-7";
			return -1;
		}
		if (out->len - lvl_start > NAME_MAX) {
			*error_r = "folder name level too long";
			return -1;
		}
		if (*end == '\0')
			break;
	}
	if (layout == MDIR_LAYOUT_MAILDIRPP && out->len > NAME_MAX) {
		*error_r = "folder name too long for one directory";
		return -1;
	}
	return 0;
}

int
mdir_folder_path(const char *root, enum mdir_layout layout, char sep,
    bool utf8, const char *name, char **path_r, const char **error_r)
{
	struct buf	b;

	*path_r = NULL;
	buf_init(&b, 0);
	buf_puts(&b, root);
	if (!mdir_is_inbox(name))
		buf_putc(&b, '/');
	if (mdir_rel_encode(layout, sep, utf8, name, &b, error_r) == -1) {
		buf_free(&b);
		return -1;
	}
	*path_r = buf_steal(&b, NULL);
	return 0;
}

int
mdir_folder_name(enum mdir_layout layout, char sep, bool utf8,
    const char *rel, char **name_r, const char **error_r)
{
	struct buf	 b;
	const char	*p, *end;
	char		 dsep = layout == MDIR_LAYOUT_FS ? '/' : '.';
	size_t		 lvl_start;

	*name_r = NULL;
	if (rel[0] == '\0') {
		*name_r = xstrdup("INBOX");
		return 0;
	}
	if (layout == MDIR_LAYOUT_MAILDIRPP) {
		if (rel[0] != '.') {
			*error_r = "maildir++ folder directory must start "
			    "with '.'";
			return -1;
		}
		rel++;
	}
	if (strlen(rel) > MDIR_NAME_MAX) {
		*error_r = "folder directory name too long";
		return -1;
	}
	buf_init(&b, 0);
	for (p = rel;; p = end + 1) {
		if ((end = strchr(p, dsep)) == NULL)
			end = p + strlen(p);
		if (p != rel)
			buf_putc(&b, sep);
		lvl_start = b.len;
		if (utf8) {
			if (!utf8_valid(p, (size_t)(end - p)))
				goto bad_enc;
			buf_append(&b, p, (size_t)(end - p));
		} else if (utf7_decode(p, (size_t)(end - p), &b) == -1)
			goto bad_enc;
		if (b.len == lvl_start) {
			*error_r = "folder directory has an empty level";
			goto fail;
		}
		/*
		 * The decoded level must pass the same gate as a name from a
		 * client, and must not hold the separator, or two different
		 * directories would list as one name.
		 */
		if (memchr(b.data + lvl_start, sep, b.len - lvl_start) !=
		    NULL) {
			*error_r = "folder directory name holds the "
			    "hierarchy separator";
			goto fail;
		}
		if (mdir_check_level(layout, b.data + lvl_start,
		    b.len - lvl_start, error_r) == -1)
			goto fail;
		if (*end == '\0')
			break;
	}
	if (mdir_is_inbox(b.data)) {
		*error_r = "folder directory would list as INBOX";
		goto fail;
	}
	*name_r = buf_steal(&b, NULL);
	return 0;
bad_enc:
	*error_r = utf8 ? "folder directory name is not UTF-8" :
	    "folder directory name is not modified UTF-7";
fail:
	buf_free(&b);
	return -1;
}

/* ---- listing ---- */

struct mdir_list_ctx {
	enum mdir_layout	 layout;
	char			 sep;
	bool			 utf8;
	struct mdir_folder_info	*v;
	size_t			 n, cap;
};

/* A directory name for a log line: never let it forge a second line. */
static const char *
mdir_log_safe(const char *s)
{
	const char	*p;

	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"')
			return "<unprintable>";
	return s;
}

static void
mdir_list_add(struct mdir_list_ctx *ctx, char *name, bool noselect)
{
	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap == 0 ? 16 : ctx->cap * 2;
		ctx->v = xreallocarray(ctx->v, ctx->cap, sizeof(*ctx->v));
	}
	ctx->v[ctx->n].name = name;
	ctx->v[ctx->n].has_children = false;
	ctx->v[ctx->n].noselect = noselect;
	ctx->n++;
}

static bool
mdir_is_dir_at(int dfd, const struct dirent *de, bool *is_dir_r)
{
	struct stat	st;

	if (de->d_type != DT_UNKNOWN) {
		*is_dir_r = de->d_type == DT_DIR;
		return true;
	}
	/* Some file systems do not fill d_type; never follow symlinks. */
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return false;
	*is_dir_r = S_ISDIR(st.st_mode);
	return true;
}

static int
mdir_list_pp(struct mdir_list_ctx *ctx, const char *root,
    const char **error_r)
{
	DIR		*d;
	struct dirent	*de;
	const char	*err;
	char		*name;
	bool		 is_dir;

	if ((d = opendir(root)) == NULL) {
		*error_r = mdir_errf("opendir %s: %s", root, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		/* ".." prefixes are Dovecot's and our own trash dirs. */
		if (de->d_name[0] != '.' || de->d_name[1] == '\0' ||
		    de->d_name[1] == '.')
			continue;
		if (!mdir_is_dir_at(dirfd(d), de, &is_dir) || !is_dir)
			continue;
		if (mdir_folder_name(ctx->layout, ctx->sep, ctx->utf8,
		    de->d_name, &name, &err) == -1) {
			log_warn("mdir list skip dir=%s/%s reason=\"%s\"",
			    root, mdir_log_safe(de->d_name), err);
			continue;
		}
		mdir_list_add(ctx, name, false);
	}
	closedir(d);
	return 0;
}

static int
mdir_list_fs(struct mdir_list_ctx *ctx, const char *root, const char *rel,
    int depth, const char **error_r)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	const char	*err;
	char		*dir, *sub, *name, *cur;
	bool		 is_dir;
	int		 rc = 0;

	if (depth > MDIR_LIST_DEPTH_MAX)
		return 0;
	dir = rel[0] == '\0' ? xstrdup(root) : xasprintf("%s/%s", root, rel);
	if ((d = opendir(dir)) == NULL) {
		*error_r = mdir_errf("opendir %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "cur") == 0 ||
		    strcmp(de->d_name, "new") == 0 ||
		    strcmp(de->d_name, "tmp") == 0)
			continue;
		if (!mdir_is_dir_at(dirfd(d), de, &is_dir) || !is_dir)
			continue;
		sub = rel[0] == '\0' ? xstrdup(de->d_name) :
		    xasprintf("%s/%s", rel, de->d_name);
		if (mdir_folder_name(ctx->layout, ctx->sep, ctx->utf8, sub,
		    &name, &err) == -1) {
			log_warn("mdir list skip dir=%s/%s reason=\"%s\"",
			    root, mdir_log_safe(sub), err);
			free(sub);
			continue;
		}
		/* A directory without cur/ is only a parent: \Noselect. */
		cur = xasprintf("%s/cur", de->d_name);
		mdir_list_add(ctx, name, fstatat(dirfd(d), cur, &st, 0) == -1 ||
		    !S_ISDIR(st.st_mode));
		free(cur);
		rc = mdir_list_fs(ctx, root, sub, depth + 1, error_r);
		free(sub);
	}
	closedir(d);
	free(dir);
	return rc;
}

static __thread char mdir_sort_sep_tl;	/* qsort takes no context */

/*
 * Order so that INBOX and its subtree come first and every folder is
 * directly followed by its children: compare level by level, with the
 * separator sorting below every other byte.
 */
static int
mdir_list_cmp(const void *a, const void *b)
{
	const char	*x = ((const struct mdir_folder_info *)a)->name;
	const char	*y = ((const struct mdir_folder_info *)b)->name;
	char		 sep = mdir_sort_sep_tl;
	int		 gx, gy, cx, cy;

	gx = !(strncmp(x, "INBOX", 5) == 0 && (x[5] == '\0' || x[5] == sep));
	gy = !(strncmp(y, "INBOX", 5) == 0 && (y[5] == '\0' || y[5] == sep));
	if (gx != gy)
		return gx - gy;
	for (;; x++, y++) {
		cx = *x == sep ? 1 : (*x == '\0' ? 0 : (unsigned char)*x + 2);
		cy = *y == sep ? 1 : (*y == '\0' ? 0 : (unsigned char)*y + 2);
		if (cx != cy || cx == 0)
			return cx - cy;
	}
}

static bool
mdir_list_has(const struct mdir_folder_info *v, size_t n, const char *name)
{
	struct mdir_folder_info key = { .name = (char *)(uintptr_t)name };

	return bsearch(&key, v, n, sizeof(*v), mdir_list_cmp) != NULL;
}

int
mdir_list_folders_blocking(const char *root, enum mdir_layout layout,
    char sep, bool utf8, struct mdir_folder_info **list_r, size_t *count_r,
    const char **error_r)
{
	struct mdir_list_ctx	 ctx = { layout, sep, utf8, NULL, 0, 0 };
	struct mdir_list_ctx	 extra = { layout, sep, utf8, NULL, 0, 0 };
	size_t			 i, j, n, len;
	const char		*p;
	char			*parent;
	int			 rc;

	*list_r = NULL;
	*count_r = 0;
	mdir_sort_sep_tl = sep;
	mdir_list_add(&ctx, xstrdup("INBOX"), false);
	if (layout == MDIR_LAYOUT_FS)
		rc = mdir_list_fs(&ctx, root, "", 0, error_r);
	else
		rc = mdir_list_pp(&ctx, root, error_r);
	if (rc == -1) {
		mdir_folder_list_free(&ctx.v, ctx.n);
		return -1;
	}
	qsort(ctx.v, ctx.n, sizeof(*ctx.v), mdir_list_cmp);
	/* maildir++ can hold ".a.b" without ".a": list "a" as \Noselect. */
	n = ctx.n;
	for (i = 0; i < n; i++) {
		for (p = ctx.v[i].name; (p = strchr(p, sep)) != NULL; p++) {
			len = (size_t)(p - ctx.v[i].name);
			parent = xstrndup(ctx.v[i].name, len);
			for (j = 0; j < extra.n; j++)
				if (strcmp(extra.v[j].name, parent) == 0)
					break;
			if (j < extra.n || mdir_list_has(ctx.v, n, parent))
				free(parent);
			else
				mdir_list_add(&extra, parent, true);
		}
	}
	for (j = 0; j < extra.n; j++)
		mdir_list_add(&ctx, extra.v[j].name, true);
	free(extra.v);
	qsort(ctx.v, ctx.n, sizeof(*ctx.v), mdir_list_cmp);
	for (i = 0; i + 1 < ctx.n; i++) {
		len = strlen(ctx.v[i].name);
		if (strncmp(ctx.v[i + 1].name, ctx.v[i].name, len) == 0 &&
		    ctx.v[i + 1].name[len] == sep)
			ctx.v[i].has_children = true;
	}
	*list_r = ctx.v;
	*count_r = ctx.n;
	return 0;
}

void
mdir_folder_list_free(struct mdir_folder_info **list, size_t count)
{
	size_t	i;

	if (*list == NULL)
		return;
	for (i = 0; i < count; i++)
		free((*list)[i].name);
	xfree(*list);
}
