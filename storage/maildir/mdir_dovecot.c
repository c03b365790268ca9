/*
 * mdir_dovecot.c - read the side files Dovecot keeps next to a Maildir,
 * so a user who copies their mail directory over keeps UIDs, keywords
 * and subscriptions (clients then need no full resync):
 *
 *   dovecot-uidlist   "3 V<uidvalidity> N<nextuid> G<guid>" then
 *                     "<uid> [<key><value> ...] :<base name>" per message
 *                     (version 1, Courier's: "1 <uidvalidity> <nextuid>"
 *                     then "<uid> <base name>")
 *   dovecot-keywords  "<index> <name>": keyword letter 'a' + index
 *   subscriptions     "V\t2\n\n" then one name per line, hierarchy levels
 *                     separated by TAB, each level tab-escaped (\001 + 1,
 *                     t, r, n); older files: one name per line, no header
 *
 * The parsers take bytes and do no I/O, so they can be fuzzed; the
 * *_read_blocking wrappers only add a bounded read of the file.  We never
 * write dovecot-uidlist (the LMDB index is ours); dovecot-keywords is
 * written by the store (store_keyword_letters_blocking) for the keyword
 * letters of the file names, with names this file vouches for
 * (mdir_keyword_ok) and made durable with mdir_sidefiles_sync_blocking;
 * subscriptions is written in Dovecot's version 2 format so that a move
 * back to Dovecot keeps working.
 * Owns the structures it returns.  Parsers [any]; file I/O [worker].
 */
#include <sys/stat.h>

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
#include "str.h"
#include "xmalloc.h"

#define MDIR_SIDEFILE_MAX	(256u * 1024 * 1024)	/* ~3M uidlist lines */
#define MDIR_LINE_MAX		8192

static const char mdir_subs_v2[] = "V\t2\n\n";

/* Next line of data (without \n or \r\n) into line_r; false at the end. */
static bool
mdir_next_line(const char **p, const char *end, const char **line_r,
    size_t *len_r)
{
	const char	*nl;

	if (*p >= end)
		return false;
	*line_r = *p;
	if ((nl = memchr(*p, '\n', (size_t)(end - *p))) == NULL)
		nl = end;
	*len_r = (size_t)(nl - *p);
	*p = nl < end ? nl + 1 : end;
	if (*len_r > 0 && (*line_r)[*len_r - 1] == '\r')
		(*len_r)--;
	return true;
}

/* Parse decimal digits [p, end) into a u32/u64; -1 if not all digits. */
static int
mdir_num(const char *p, size_t len, uint64_t max, uint64_t *v_r)
{
	char	num[24];

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, p, len);
	num[len] = '\0';
	return str_to_u64(num, max, v_r);
}

static int
mdir_read_file(const char *path, char **data_r, size_t *len_r,
    const char **error_r)
{
	struct stat	 st;
	char		*data;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	*data_r = NULL;
	*len_r = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*error_r = mdir_errf("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MDIR_SIDEFILE_MAX) {
		*error_r = mdir_errf("%s: not a regular file of sane size",
		    path);
		close(fd);
		return -1;
	}
	data = xmalloc((size_t)st.st_size + 1);
	/* Read what is there; a file that grows meanwhile is cut short. */
	while (off < (size_t)st.st_size) {
		n = read(fd, data + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*error_r = mdir_errf("read %s: %s", path,
			    strerror(errno));
			free(data);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	data[off] = '\0';
	*data_r = data;
	*len_r = off;
	return 0;
}

/* ---- dovecot-uidlist ---- */

static int
mdir_uidlist_header(struct mdir_uidlist *l, const char *line, size_t len,
    const char **error_r)
{
	const char	*p = line, *end = line + len, *tok;
	uint64_t	 v;
	size_t		 tlen;
	int		 field = 0;

	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		tok = p;
		while (p < end && *p != ' ')
			p++;
		if ((tlen = (size_t)(p - tok)) == 0)
			break;
		if (field == 0) {
			if (mdir_num(tok, tlen, 9, &v) == -1 || v == 0 ||
			    v > 3) {
				*error_r = "dovecot-uidlist: unknown version";
				return -1;
			}
			l->version = (unsigned int)v;
		} else if (l->version < 3) {
			/* Courier's positional "1 <uidvalidity> <nextuid>". */
			if (field > 2)
				break;
			if (mdir_num(tok, tlen, UINT32_MAX, &v) == -1) {
				*error_r = "dovecot-uidlist: bad header";
				return -1;
			}
			if (field == 1)
				l->uidvalidity = (uint32_t)v;
			else
				l->uidnext = (uint32_t)v;
		} else if (tok[0] == 'V' || tok[0] == 'N') {
			if (mdir_num(tok + 1, tlen - 1, UINT32_MAX,
			    &v) == -1) {
				*error_r = "dovecot-uidlist: bad header field";
				return -1;
			}
			if (tok[0] == 'V')
				l->uidvalidity = (uint32_t)v;
			else
				l->uidnext = (uint32_t)v;
		} else if (tok[0] == 'G' && tlen - 1 < sizeof(l->guid)) {
			memcpy(l->guid, tok + 1, tlen - 1);
			l->guid[tlen - 1] = '\0';
		}
		/* Other fields (future extensions) are ignored. */
		field++;
	}
	if (l->version == 0 || l->uidvalidity == 0) {
		*error_r = "dovecot-uidlist: header lacks a UIDVALIDITY";
		return -1;
	}
	return 0;
}

static int
mdir_uidlist_record(struct mdir_uidlist *l, const char *line, size_t len,
    struct mdir_uidlist_entry *e, const char **error_r)
{
	const char	*p = line, *end = line + len, *tok, *name, *colon;
	uint64_t	 v;
	size_t		 tlen;

	memset(e, 0, sizeof(*e));
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (mdir_num(line, (size_t)(p - line), UINT32_MAX, &v) == -1 ||
	    v == 0 || p == end || *p != ' ') {
		*error_r = "dovecot-uidlist: bad record uid";
		return -1;
	}
	e->uid = (uint32_t)v;
	p++;
	name = p;
	if (l->version >= 3) {
		/* Extension fields until the ":<name>" token. */
		for (;;) {
			while (p < end && *p == ' ')
				p++;
			if (p == end) {
				*error_r = "dovecot-uidlist: record has no "
				    "file name";
				return -1;
			}
			tok = p;
			while (p < end && *p != ' ')
				p++;
			tlen = (size_t)(p - tok);
			if (tok[0] == ':') {
				name = tok + 1;
				break;
			}
			if (tok[0] == 'S' && mdir_num(tok + 1, tlen - 1,
			    UINT64_MAX, &v) == 0)
				e->size = v;
			else if (tok[0] == 'W' && mdir_num(tok + 1, tlen - 1,
			    UINT64_MAX, &v) == 0)
				e->vsize = v;
		}
	}
	/* The base name ends at ':' in case flags were recorded. */
	if ((colon = memchr(name, ':', (size_t)(end - name))) != NULL)
		end = colon;
	if (end == name || memchr(name, '/', (size_t)(end - name)) != NULL ||
	    name[0] == '.') {
		*error_r = "dovecot-uidlist: bad file name";
		return -1;
	}
	e->base = xstrndup(name, (size_t)(end - name));
	return 0;
}

int
mdir_uidlist_parse(const char *data, size_t len, struct mdir_uidlist **list_r,
    const char **error_r)
{
	struct mdir_uidlist		*l;
	struct mdir_uidlist_entry	 e;
	const char			*p = data, *end = data + len, *line;
	size_t				 llen, cap = 0, lineno = 1;

	*list_r = NULL;
	l = xcalloc(1, sizeof(*l));
	if (!mdir_next_line(&p, end, &line, &llen)) {
		*error_r = "dovecot-uidlist: empty";
		goto fail;
	}
	if (llen > MDIR_LINE_MAX ||
	    mdir_uidlist_header(l, line, llen, error_r) == -1)
		goto fail;
	while (mdir_next_line(&p, end, &line, &llen)) {
		lineno++;
		if (llen == 0)
			continue;
		if (llen > MDIR_LINE_MAX) {
			*error_r = "dovecot-uidlist: line too long";
			goto fail;
		}
		if (mdir_uidlist_record(l, line, llen, &e, error_r) == -1)
			goto fail;
		/* Dovecot writes UIDs ascending; anything else is damage. */
		if (l->count > 0 && e.uid <= l->entries[l->count - 1].uid) {
			free(e.base);
			*error_r = mdir_errf("dovecot-uidlist: line %zu: UID "
			    "not ascending", lineno);
			goto fail;
		}
		if (l->count == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			l->entries = xreallocarray(l->entries, cap,
			    sizeof(*l->entries));
		}
		l->entries[l->count++] = e;
	}
	/* A UID at or past N would be handed out twice: move N on. */
	if (l->count > 0 && l->entries[l->count - 1].uid >= l->uidnext) {
		if (l->entries[l->count - 1].uid == UINT32_MAX) {
			*error_r = "dovecot-uidlist: UID space exhausted";
			goto fail;
		}
		l->uidnext = l->entries[l->count - 1].uid + 1;
	}
	if (l->uidnext == 0)
		l->uidnext = 1;
	*list_r = l;
	return 0;
fail:
	mdir_uidlist_free(&l);
	return -1;
}

int
mdir_uidlist_read_blocking(const char *path, struct mdir_uidlist **list_r,
    const char **error_r)
{
	char	*data;
	size_t	 len;
	int	 rc;

	*list_r = NULL;
	if (mdir_read_file(path, &data, &len, error_r) == -1)
		return -1;
	rc = mdir_uidlist_parse(data, len, list_r, error_r);
	free(data);
	return rc;
}

void
mdir_uidlist_free(struct mdir_uidlist **list)
{
	size_t	i;

	if (*list == NULL)
		return;
	for (i = 0; i < (*list)->count; i++)
		free((*list)->entries[i].base);
	free((*list)->entries);
	xfree(*list);
}

/* ---- dovecot-keywords ---- */

bool
mdir_keyword_ok(const char *name)
{
	size_t	 i;

	for (i = 0; name[i] != '\0'; i++)
		if (i >= MDIR_KEYWORD_MAX ||
		    (unsigned char)name[i] <= 0x20 ||
		    (unsigned char)name[i] >= 0x7f ||
		    strchr("(){%*\"\\]", name[i]) != NULL)
			return false;
	return i > 0;
}

int
mdir_sidefiles_sync_blocking(const char *folder, const char **error_r)
{
	if (mdir_fsync_dir(folder) == -1) {
		*error_r = mdir_errf("fsync %s: %s", folder, strerror(errno));
		return -1;
	}
	return 0;
}

int
mdir_keywords_parse(const char *data, size_t len, struct mdir_keywords **kw_r,
    const char **error_r)
{
	struct mdir_keywords	*kw;
	const char		*p = data, *end = data + len, *line, *sp;
	uint64_t		 idx;
	size_t			 llen, i;

	*kw_r = NULL;
	kw = xcalloc(1, sizeof(*kw));
	while (mdir_next_line(&p, end, &line, &llen)) {
		if (llen == 0)
			continue;
		if ((sp = memchr(line, ' ', llen)) == NULL ||
		    mdir_num(line, (size_t)(sp - line), UINT32_MAX,
		    &idx) == -1 || sp + 1 == line + llen) {
			*error_r = "dovecot-keywords: bad line";
			mdir_keywords_free(&kw);
			return -1;
		}
		sp++;
		for (i = 0; i < (size_t)(line + llen - sp); i++) {
			if ((unsigned char)sp[i] < 0x21 || sp[i] == 0x7f) {
				*error_r = "dovecot-keywords: bad keyword";
				mdir_keywords_free(&kw);
				return -1;
			}
		}
		/* Maildir has letters a-z only; Dovecot never goes past. */
		if (idx >= 26)
			continue;
		free(kw->names[idx]);
		kw->names[idx] = xstrndup(sp, (size_t)(line + llen - sp));
	}
	*kw_r = kw;
	return 0;
}

int
mdir_keywords_read_blocking(const char *path, struct mdir_keywords **kw_r,
    const char **error_r)
{
	char	*data;
	size_t	 len;
	int	 rc;

	*kw_r = NULL;
	if (mdir_read_file(path, &data, &len, error_r) == -1)
		return -1;
	rc = mdir_keywords_parse(data, len, kw_r, error_r);
	free(data);
	return rc;
}

void
mdir_keywords_free(struct mdir_keywords **kw)
{
	size_t	i;

	if (*kw == NULL)
		return;
	for (i = 0; i < 26; i++)
		free((*kw)->names[i]);
	xfree(*kw);
}

/* ---- subscriptions ---- */

static void
mdir_subs_add(char ***v, size_t *n, size_t *cap, char *name)
{
	if (*n == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = name;
}

/* Undo Dovecot's str_append_tabescaped on one level. */
static int
mdir_subs_unescape(const char *p, size_t len, struct buf *out)
{
	size_t	i;
	char	c;

	for (i = 0; i < len; i++) {
		c = p[i];
		if (c == '\001' && i + 1 < len) {
			switch (p[++i]) {
			case '1': c = '\001'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'n': c = '\n'; break;
			default: c = p[i]; break;
			}
		}
		/* Such a level is not a name we can store: skip the line. */
		if ((unsigned char)c < 0x20)
			return -1;
		buf_putc(out, c);
	}
	return 0;
}

int
mdir_subs_parse(const char *data, size_t len, char sep, char ***names_r,
    size_t *count_r, const char **error_r)
{
	const char	*p = data, *end = data + len, *line, *tab, *lvl;
	size_t		 llen, n = 0, cap = 0, i, lineno = 0;
	char		**v = NULL;
	struct buf	 b;
	bool		 v2, bad;

	*names_r = NULL;
	*count_r = 0;
	v2 = len >= sizeof(mdir_subs_v2) - 1 &&
	    memcmp(data, mdir_subs_v2, sizeof(mdir_subs_v2) - 1) == 0;
	if (v2) {
		p += sizeof(mdir_subs_v2) - 1;
		lineno = 2;
	}
	while (mdir_next_line(&p, end, &line, &llen)) {
		lineno++;
		if (llen == 0)
			continue;
		if (llen > MDIR_LINE_MAX) {
			*error_r = "subscriptions: line too long";
			mdir_subs_free(&v, n);
			return -1;
		}
		buf_init(&b, 0);
		bad = false;
		if (v2) {
			for (lvl = line; !bad; lvl = tab + 1) {
				if ((tab = memchr(lvl, '\t',
				    (size_t)(line + llen - lvl))) == NULL)
					tab = line + llen;
				if (lvl != line)
					buf_putc(&b, sep);
				bad = mdir_subs_unescape(lvl,
				    (size_t)(tab - lvl), &b) == -1;
				if (tab == line + llen)
					break;
			}
		} else {
			for (i = 0; i < llen && !bad; i++)
				bad = (unsigned char)line[i] < 0x20;
			buf_append(&b, line, llen);
		}
		if (bad) {
			/* Not the name itself: it holds control characters. */
			log_warn("mdir subscriptions skip-line=%zu", lineno);
			buf_free(&b);
			continue;
		}
		mdir_subs_add(&v, &n, &cap, buf_steal(&b, NULL));
	}
	*names_r = v;
	*count_r = n;
	return 0;
}

int
mdir_subs_read_blocking(const char *path, char sep, char ***names_r,
    size_t *count_r, const char **error_r)
{
	char	*data;
	size_t	 len;
	int	 rc;

	*names_r = NULL;
	*count_r = 0;
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return 0;		/* never subscribed to anything */
	if (mdir_read_file(path, &data, &len, error_r) == -1)
		return -1;
	rc = mdir_subs_parse(data, len, sep, names_r, count_r, error_r);
	free(data);
	return rc;
}

static void
mdir_subs_escape(struct buf *b, const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		switch (p[i]) {
		case '\001': buf_puts(b, "\0011"); break;
		case '\t': buf_puts(b, "\001t"); break;
		case '\r': buf_puts(b, "\001r"); break;
		case '\n': buf_puts(b, "\001n"); break;
		default: buf_putc(b, p[i]); break;
		}
	}
}

int
mdir_subs_write_blocking(const char *path, char sep, const char *const *names,
    size_t count, const char **error_r)
{
	struct buf	 b;
	const char	*p, *e;
	char		*tmp, *uniq, *dir, *slash;
	size_t		 i, off;
	ssize_t		 n;
	int		 fd, rc = -1;

	buf_init(&b, 0);
	buf_puts(&b, mdir_subs_v2);
	for (i = 0; i < count; i++) {
		for (p = names[i];; p = e + 1) {
			if ((e = strchr(p, sep)) == NULL)
				e = p + strlen(p);
			if (p != names[i])
				buf_putc(&b, '\t');
			mdir_subs_escape(&b, p, (size_t)(e - p));
			if (*e == '\0')
				break;
		}
		buf_putc(&b, '\n');
	}
	uniq = mdir_name_unique();
	tmp = xasprintf("%s.tmp-%s", path, uniq);
	free(uniq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		*error_r = mdir_errf("create %s: %s", tmp, strerror(errno));
		goto out;
	}
	for (off = 0; off < b.len; off += (size_t)n) {
		if ((n = write(fd, b.data + off, b.len - off)) == -1) {
			if (errno == EINTR) {
				n = 0;
				continue;
			}
			break;
		}
	}
	/* Replace, never truncate in place: a crash keeps one whole file. */
	if (off < b.len || fsync(fd) == -1) {
		*error_r = mdir_errf("write %s: %s", tmp, strerror(errno));
		close(fd);
		(void)unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		*error_r = mdir_errf("rename %s: %s", tmp, strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		(void)mdir_fsync_dir(slash == dir ? "/" : dir);
	}
	free(dir);
	rc = 0;
out:
	free(tmp);
	buf_free(&b);
	return rc;
}

void
mdir_subs_free(char ***names, size_t count)
{
	size_t	i;

	if (*names == NULL)
		return;
	for (i = 0; i < count; i++)
		free((*names)[i]);
	xfree(*names);
}
