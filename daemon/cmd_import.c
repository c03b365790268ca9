/*
 * cmd_import.c - `postern import`: bulk import of an existing mailbox
 * into one account, through the running daemon.
 *
 *   postern import [-c FILE] [--folder NAME] [--skip N] ADDRESS SOURCE
 *
 * SOURCE is a Maildir folder (a directory with cur/ and/or new/; its
 * subfolders are not descended into, import each with --folder) or an
 * mbox file.  Every message goes to the daemon as one control socket
 * IMPORT request (ctl.h, ctl.c): the same path as `postern deliver`, so
 * the store's fsync order, group commit and watchers apply, but no
 * Delivered-To line is added and the request carries the flags.  Each
 * message is streamed from its file twice (once to count the converted
 * size the request line announces, once to send it), so memory stays
 * bounded whatever the sizes: a list of offsets or file names, and one
 * 64 KiB buffer.  Messages go one at a time, in source order, so the new
 * UIDs follow that order.
 *
 *   Maildir: files of new/ and cur/, in dovecot-uidlist UID order when
 *            that file exists, else by name (delivery time first).  The
 *            ":2,<letters>" suffix gives the flags: D F R S T are
 *            \Draft \Flagged \Answered \Seen \Deleted, a-z are keywords
 *            named by dovecot-keywords.  Bare LF becomes CRLF.
 *   mbox:    a message starts at every line that begins with "From "
 *            (mboxo, mboxrd); the "From " line itself is dropped, so is
 *            the one empty line the mbox writer put before the next
 *            separator.  Lines matching ^>+From  lose one '>' (mboxrd
 *            unescaping; for mboxo this also un-quotes body lines that
 *            began with ">From ", the usual trade-off).  Bare LF
 *            becomes CRLF.  Imported messages get no flags.
 *
 * Progress "imported N/M" goes to stderr (rewritten in place on a
 * terminal).  A message the daemon refuses (too large, no such folder)
 * is reported and the import goes on; the daemon going away stops it.
 * Exit 0 only when every message was acknowledged, and the daemon
 * acknowledges only what is fsynced.  --skip N resumes after the first
 * N messages of a run that stopped.  With the daemon stopped this
 * refuses, as `postern deliver` does: start it first (the index has one
 * writer).  Not kept: INTERNALDATE (the store stamps the delivery time).
 *
 * Owns nothing beyond one command run.  Threads: the CLI's main thread;
 * no event loop, so blocking I/O is fine here.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "conf.h"
#include "log.h"
#include "str.h"
#include "xmalloc.h"
/* pst_core does not see storage/'s include directory (CMakeLists.txt). */
#include "mdir.h"

#define CMD_IMPORT_TIMEOUT	600	/* seconds for the daemon's answer */
#define CMD_IMPORT_REPLY_MAX	4096
#define CMD_IMPORT_BUF		(64 * 1024)
#define CMD_IMPORT_FLAGS_MAX	1024	/* bytes of one flag list */

/* One message of the source. */
struct cmd_import_item {
	char	*path;		/* Maildir: the file; mbox: NULL */
	char	*flags;		/* IMAP flag list without parens, or NULL */
	off_t	 off;		/* mbox: first byte after the "From " line */
	off_t	 end;		/* mbox: end of the message; Maildir: -1 */
	uint32_t uid;		/* Maildir: dovecot-uidlist UID, 0 unknown */
};

struct cmd_import {
	const char		*address;
	const char		*folder;
	const char		*ctl_path;
	const char		*source;
	bool			 mbox;
	struct cmd_import_item	*items;
	size_t			 n, cap;
	size_t			 done, failed, empty;
	bool			 tty;
	struct timespec		 shown;
};

/* Where converted bytes go: counted only (fd -1), or sent to fd. */
struct cmd_import_out {
	int		 fd;
	uint64_t	 n;
	int		 last;		/* last byte emitted, -1 none */
	int		 error;		/* errno of a failed send */
	size_t		 len;
	char		 buf[CMD_IMPORT_BUF];
};

/* ---- conversion: the bytes the daemon gets ---- */

static void
cmd_import_flush(struct cmd_import_out *o)
{
	if (o->fd != -1 && o->error == 0 && o->len > 0 &&
	    cmd_ctl_send(o->fd, o->buf, o->len) == -1)
		o->error = errno;
	o->len = 0;
}

static void
cmd_import_emit(struct cmd_import_out *o, const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (o->fd != -1) {
			if (o->len == sizeof(o->buf))
				cmd_import_flush(o);
			o->buf[o->len++] = p[i];
		}
		o->n++;
		o->last = (unsigned char)p[i];
	}
}

static void
cmd_import_emit_gt(struct cmd_import_out *o, uint64_t n)
{
	while (n-- > 0)
		cmd_import_emit(o, ">", 1);
}

/*
 * Stream fp from off up to end (-1: EOF) into o: bare LF becomes CRLF,
 * a last line without its end gets one, and with unescape (mboxrd) a
 * line ^>+From  loses one '>'.  Only a count of '>' and a prefix of
 * "From " are ever held back, so any line length is fine.
 */
static int
cmd_import_convert(FILE *fp, off_t off, off_t end, bool unescape,
    struct cmd_import_out *o)
{
	static const char	 from[] = "From ";
	uint64_t		 gt = 0;
	size_t			 m = 0;
	bool			 bol = true;
	char			 ch;
	int			 c;

	o->n = 0;
	o->len = 0;
	o->last = -1;
	o->error = 0;
	if (fseeko(fp, off, SEEK_SET) == -1)
		return -1;
	while ((end == -1 || off < end) && (c = getc_unlocked(fp)) != EOF) {
		off++;
		if (unescape && bol) {
			if (m == 0 && c == '>') {
				gt++;
				continue;
			}
			if (gt > 0 && c == from[m]) {
				if (++m == sizeof(from) - 1) {
					cmd_import_emit_gt(o, gt - 1);
					cmd_import_emit(o, from, m);
					gt = 0;
					m = 0;
					bol = false;
				}
				continue;
			}
			/* Not an escaped separator: give back what we held. */
			cmd_import_emit_gt(o, gt);
			cmd_import_emit(o, from, m);
			gt = 0;
			m = 0;
		}
		if (c == '\n' && o->last != '\r')
			cmd_import_emit(o, "\r", 1);
		ch = (char)c;
		cmd_import_emit(o, &ch, 1);
		bol = c == '\n';
	}
	if (ferror(fp))
		return -1;
	cmd_import_emit_gt(o, gt);
	cmd_import_emit(o, from, m);
	if (o->last == '\r')
		cmd_import_emit(o, "\n", 1);
	else if (o->last != -1 && o->last != '\n')
		cmd_import_emit(o, "\r\n", 2);
	cmd_import_flush(o);
	return 0;
}

/* ---- sources ---- */

static struct cmd_import_item *
cmd_import_add(struct cmd_import *im)
{
	struct cmd_import_item	*it;

	if (im->n == im->cap) {
		im->cap = im->cap == 0 ? 256 : im->cap * 2;
		im->items = xreallocarray(im->items, im->cap,
		    sizeof(*im->items));
	}
	it = &im->items[im->n++];
	memset(it, 0, sizeof(*it));
	it->end = -1;
	return it;
}

/*
 * Find the messages of an mbox: one pass over the file, remembering for
 * each "From " line where its message starts, and ending the previous
 * message before the empty line that precedes the separator, if any.
 */
static int
cmd_import_scan_mbox(struct cmd_import *im, FILE *fp)
{
	struct cmd_import_item	*cur = NULL;
	char			 head[5];
	off_t			 pos = 0, line = 0, prev_line = 0;
	size_t			 len = 0;
	bool			 prev_empty = false, empty;
	int			 c;

	for (;;) {
		c = getc_unlocked(fp);
		if (c != EOF) {
			if (len < sizeof(head))
				head[len] = (char)c;
			len++;
			pos++;
			if (c != '\n')
				continue;
		}
		if (len == 0)
			break;		/* EOF right after a line end */
		empty = (len == 1 && head[0] == '\n') ||
		    (len == 2 && head[0] == '\r' && head[1] == '\n');
		if (len >= sizeof(head) && memcmp(head, "From ", 5) == 0) {
			if (cur != NULL)
				cur->end = prev_empty ? prev_line : line;
			cur = cmd_import_add(im);
			cur->off = pos;
		} else if (cur == NULL) {
			fprintf(stderr, "postern: %s: not an mbox (it does not "
			    "start with a \"From \" line)\n", im->source);
			return -1;
		}
		prev_empty = empty;
		prev_line = line;
		line = pos;
		len = 0;
		if (c == EOF)
			break;
	}
	if (ferror(fp)) {
		fprintf(stderr, "postern: reading %s: %s\n", im->source,
		    strerror(errno));
		return -1;
	}
	if (cur != NULL)
		cur->end = prev_empty ? prev_line : pos;
	return 0;
}

/* The IMAP flag list for Maildir info letters ("" if none). */
static char *
cmd_import_flags(const char *letters, const struct mdir_keywords *kw)
{
	static const struct {
		char		 letter;
		const char	*name;
	} sys[] = {
		{ 'D', "\\Draft" }, { 'F', "\\Flagged" }, { 'R', "\\Answered" },
		{ 'S', "\\Seen" }, { 'T', "\\Deleted" },
	};
	struct buf	 b = BUF_INIT;
	const char	*p, *name;
	size_t		 i;

	for (p = letters; *p != '\0'; p++) {
		name = NULL;
		for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
			if (sys[i].letter == *p)
				name = sys[i].name;
		if (*p >= 'a' && *p <= 'z' && kw != NULL)
			name = kw->names[*p - 'a'];
		/* Only IMAP atoms (RFC 9051 atom-specials) fit the request. */
		if (name != NULL && (name[0] == '\0' ||
		    strpbrk(name, " ()\"{%*]\t\r\n") != NULL ||
		    (name[0] != '\\' && strchr(name, '\\') != NULL)))
			name = NULL;
		/* 'P' (passed) has no IMAP flag; unknown letters go too. */
		if (name == NULL || b.len + strlen(name) + 1 >
		    CMD_IMPORT_FLAGS_MAX)
			continue;
		buf_printf(&b, "%s%s", b.len > 0 ? " " : "", name);
	}
	if (b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

static int
cmd_import_uidcmp(const void *a, const void *b)
{
	const struct mdir_uidlist_entry	*x = a, *y = b;

	return strcmp(x->base, y->base);
}

/* By dovecot-uidlist UID when known (those first), then by name. */
static int
cmd_import_itemcmp(const void *a, const void *b)
{
	const struct cmd_import_item	*x = a, *y = b;
	const char			*xs, *ys;
	unsigned long long		 xt, yt;

	if (x->uid != y->uid) {
		if (x->uid == 0 || y->uid == 0)
			return x->uid == 0 ? 1 : -1;
		return x->uid < y->uid ? -1 : 1;
	}
	xs = strrchr(x->path, '/') + 1;
	ys = strrchr(y->path, '/') + 1;
	/* "<seconds>.<unique>": compare the seconds as numbers. */
	xt = strtoull(xs, NULL, 10);
	yt = strtoull(ys, NULL, 10);
	if (xt != yt)
		return xt < yt ? -1 : 1;
	return strcmp(xs, ys);
}

static int
cmd_import_scan_sub(struct cmd_import *im, const char *sub,
    const struct mdir_keywords *kw, const struct mdir_uidlist *ul)
{
	struct mdir_uidlist_entry	 key, *hit;
	struct cmd_import_item		*it;
	struct dirent			*de;
	struct stat			 st;
	const char			*info;
	char				*dir, *path, *base;
	DIR				*d;

	dir = xasprintf("%s/%s", im->source, sub);
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return errno == ENOENT ? 0 : -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		it = cmd_import_add(im);
		it->path = path;
		info = strstr(de->d_name, ":2,");
		if (info != NULL && strcmp(sub, "cur") == 0)
			it->flags = cmd_import_flags(info + 3, kw);
		if (ul != NULL && ul->count > 0) {
			base = xstrndup(de->d_name, info != NULL ?
			    (size_t)(info - de->d_name) : strlen(de->d_name));
			key.base = base;
			hit = bsearch(&key, ul->entries, ul->count,
			    sizeof(*ul->entries), cmd_import_uidcmp);
			if (hit != NULL)
				it->uid = hit->uid;
			free(base);
		}
	}
	closedir(d);
	free(dir);
	return 0;
}

static int
cmd_import_scan_maildir(struct cmd_import *im)
{
	struct mdir_keywords	*kw = NULL;
	struct mdir_uidlist	*ul = NULL;
	const char		*err;
	char			*p;
	int			 rc = -1;

	p = xasprintf("%s/dovecot-keywords", im->source);
	if (access(p, F_OK) == 0 &&
	    mdir_keywords_read_blocking(p, &kw, &err) == -1)
		fprintf(stderr, "postern: warning: %s; keywords are not "
		    "imported\n", err);
	free(p);
	p = xasprintf("%s/dovecot-uidlist", im->source);
	if (access(p, F_OK) == 0 &&
	    mdir_uidlist_read_blocking(p, &ul, &err) == -1)
		fprintf(stderr, "postern: warning: %s; messages go in name "
		    "order\n", err);
	free(p);
	/* Sorted by base name for bsearch (the list is in UID order). */
	if (ul != NULL)
		qsort(ul->entries, ul->count, sizeof(*ul->entries),
		    cmd_import_uidcmp);
	if (cmd_import_scan_sub(im, "new", kw, ul) == -1 ||
	    cmd_import_scan_sub(im, "cur", kw, ul) == -1) {
		fprintf(stderr, "postern: reading %s: %s\n", im->source,
		    strerror(errno));
		goto out;
	}
	if (im->n > 0)
		qsort(im->items, im->n, sizeof(*im->items),
		    cmd_import_itemcmp);
	rc = 0;
out:
	mdir_keywords_free(&kw);
	mdir_uidlist_free(&ul);
	return rc;
}

/* ---- sending ---- */

static void
cmd_import_progress(struct cmd_import *im, bool last)
{
	struct timespec	 now;
	double		 dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - im->shown.tv_sec) +
	    (double)(now.tv_nsec - im->shown.tv_nsec) / 1e9;
	if (!last && (im->tty ? dt < 0.2 : dt < 5))
		return;
	im->shown = now;
	fprintf(stderr, "%simported %zu/%zu%s", im->tty ? "\r" : "",
	    im->done, im->n - im->empty, im->tty && !last ? "" : "\n");
}

static const char *
cmd_import_name(const struct cmd_import *im, size_t i)
{
	static char	 name[64];

	if (!im->mbox)
		return im->items[i].path;
	snprintf(name, sizeof(name), "message %zu", i + 1);
	return name;
}

/*
 * Send item i: 1 acknowledged, 2 empty (skipped), 0 refused by the
 * daemon (go on), -1 the daemon or the source failed (stop).
 */
static int
cmd_import_one(struct cmd_import *im, size_t i, FILE *mfp,
    struct cmd_import_out *o)
{
	struct cmd_import_item	*it = &im->items[i];
	struct buf		 req = BUF_INIT;
	char			 reply[CMD_IMPORT_REPLY_MAX];
	FILE			*fp = mfp;
	uint64_t		 size;
	int			 fd = -1, rc = -1;

	if (fp == NULL && (fp = fopen(it->path, "r")) == NULL) {
		fprintf(stderr, "postern: %s: %s\n", it->path,
		    strerror(errno));
		return 0;
	}
	o->fd = -1;
	if (cmd_import_convert(fp, it->off, it->end, im->mbox, o) == -1) {
		fprintf(stderr, "postern: reading %s: %s\n",
		    cmd_import_name(im, i), strerror(errno));
		goto out;
	}
	if ((size = o->n) == 0) {
		fprintf(stderr, "postern: %s: empty message, skipped\n",
		    cmd_import_name(im, i));
		rc = 2;
		goto out;
	}
	if ((fd = cmd_ctl_connect(im->ctl_path)) == -1) {
		fprintf(stderr, "postern: cannot reach the daemon at its "
		    "control socket %s: %s\n", im->ctl_path, strerror(errno));
		goto out;
	}
	buf_printf(&req, "IMPORT (%s) %s%s%s %" PRIu64 "\n",
	    it->flags != NULL ? it->flags : "", im->address,
	    im->folder != NULL ? " " : "",
	    im->folder != NULL ? im->folder : "", size);
	o->fd = fd;
	/* A refusal may come before the body is read: see the reply. */
	if (cmd_ctl_send(fd, req.data, req.len) == -1)
		o->error = errno;
	else if (cmd_import_convert(fp, it->off, it->end, im->mbox,
	    o) == -1) {
		fprintf(stderr, "postern: reading %s: %s\n",
		    cmd_import_name(im, i), strerror(errno));
		goto out;
	} else if (o->n != size) {
		fprintf(stderr, "postern: %s changed while it was read\n",
		    cmd_import_name(im, i));
		goto out;
	}
	if (cmd_ctl_reply(fd, reply, sizeof(reply), CMD_IMPORT_TIMEOUT) == -1) {
		fprintf(stderr, "postern: the daemon closed the control "
		    "connection without an answer%s%s: %s may not have been "
		    "imported\n", o->error ? ": " : "",
		    o->error ? strerror(o->error) : "",
		    cmd_import_name(im, i));
		goto out;
	}
	if (strncmp(reply, "OK ", 3) == 0) {
		rc = 1;
		goto out;
	}
	fprintf(stderr, "postern: %s refused: %s\n", cmd_import_name(im, i),
	    strncmp(reply, "ERR ", 4) == 0 ? reply + 4 : reply);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (fp != mfp)
		fclose(fp);
	buf_free(&req);
	return rc;
}

static int
cmd_import_usage(void)
{
	fprintf(stderr, "usage: postern import [-c FILE] [--folder NAME] "
	    "[--skip N] ADDRESS MAILDIR|MBOX\n");
	return 2;
}

int
cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "folder", required_argument, NULL, 'f' },
		{ "skip", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_import	 im;
	struct cmd_import_out	*o = NULL;
	struct conf		*conf = NULL;
	struct stat		 st;
	const char		*file = NULL;
	uint64_t		 skip = 0;
	FILE			*mfp = NULL;
	size_t			 i;
	int			 ch, fd, r, rc = 1;

	memset(&im, 0, sizeof(im));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:f:s:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'f':
			im.folder = optarg;
			break;
		case 's':
			if (str_to_u64(optarg, SIZE_MAX, &skip) == -1)
				return cmd_import_usage();
			break;
		default:
			return cmd_import_usage();
		}
	}
	if (argc - optind != 2)
		return cmd_import_usage();
	im.address = argv[optind];
	im.source = argv[optind + 1];
	if (strchr(im.address, '@') == NULL ||
	    strpbrk(im.address, " \t\r\n()") != NULL ||
	    (im.folder != NULL && (im.folder[0] == '\0' ||
	    strpbrk(im.folder, "\r\n") != NULL))) {
		fprintf(stderr, "postern: bad address or --folder name\n");
		return 2;
	}
	if ((conf = cmd_conf_load(file, NULL)) == NULL)
		return 1;
	log_init(LOG_L_WARN);
	if ((im.ctl_path = conf->listen.control) == NULL) {
		fprintf(stderr, "postern: listen.control is not set in %s: "
		    "import needs the daemon's control socket\n", conf->file);
		goto out;
	}
	if (stat(im.source, &st) == -1) {
		fprintf(stderr, "postern: %s: %s\n", im.source,
		    strerror(errno));
		goto out;
	}
	/* Refuse early, before a long scan, when nobody answers. */
	if ((fd = cmd_ctl_connect(im.ctl_path)) == -1) {
		fprintf(stderr, "postern: cannot reach the daemon at its "
		    "control socket %s: %s (is `postern serve` running? "
		    "import goes through it)\n", im.ctl_path,
		    strerror(errno));
		goto out;
	}
	close(fd);
	if (S_ISDIR(st.st_mode)) {
		if (cmd_import_scan_maildir(&im) == -1)
			goto out;
	} else if (S_ISREG(st.st_mode)) {
		im.mbox = true;
		if ((mfp = fopen(im.source, "r")) == NULL) {
			fprintf(stderr, "postern: %s: %s\n", im.source,
			    strerror(errno));
			goto out;
		}
		if (cmd_import_scan_mbox(&im, mfp) == -1)
			goto out;
	} else {
		fprintf(stderr, "postern: %s is neither a Maildir nor an "
		    "mbox file\n", im.source);
		goto out;
	}
	im.tty = isatty(STDERR_FILENO);
	o = xmalloc(sizeof(*o));
	for (i = 0; i < im.n; i++) {
		if (i < skip) {
			im.done++;
			continue;
		}
		if ((r = cmd_import_one(&im, i, mfp, o)) == -1) {
			im.failed += im.n - i;
			break;
		}
		if (r == 1)
			im.done++;
		else if (r == 2)
			im.empty++;
		else
			im.failed++;
		cmd_import_progress(&im, false);
	}
	cmd_import_progress(&im, true);
	if (im.failed > 0)
		fprintf(stderr, "postern: %zu of %zu messages not imported\n",
		    im.failed, im.n);
	else
		rc = 0;
out:
	if (mfp != NULL)
		fclose(mfp);
	for (i = 0; i < im.n; i++) {
		free(im.items[i].path);
		free(im.items[i].flags);
	}
	free(im.items);
	free(o);
	conf_free(&conf);
	return rc;
}
