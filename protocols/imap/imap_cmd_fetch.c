/*
 * imap_cmd_fetch.c - FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9; RFC 3501
 * 6.4.5, 7.4.2): FLAGS, UID, INTERNALDATE, RFC822.SIZE, ENVELOPE and
 * BODYSTRUCTURE from the index (cached strings), BODY, BODY[section]
 * <partial>, BODY.PEEK, RFC822, RFC822.HEADER, RFC822.TEXT and
 * HEADER.FIELDS(.NOT) from the message file through mime_section_find.
 * A non-PEEK body fetch sets \Seen (6.4.5) in one store job at the end.
 * BINARY[], BINARY.PEEK and BINARY.SIZE (RFC 3516) decode base64 and
 * quoted-printable parts.  CONDSTORE/QRESYNC (RFC 7162): MODSEQ, the
 * CHANGEDSINCE modifier (3.1.4.1) and VANISHED (EARLIER) for UID FETCH
 * (3.2.6); MODSEQ goes with every FLAGS once CONDSTORE is on (3.1).
 *
 * Output is produced message by message and paused while more than
 * IMAP_OUT_HIGH bytes wait to be sent; proto->drained resumes it, so a
 * FETCH 1:* of a large mailbox never holds it all in memory.
 *
 * Message files are never read on the loop thread (DESIGN.md): when a
 * message needs its file (a body section, BINARY, BODY, or ENVELOPE /
 * BODYSTRUCTURE missing from the cache), one job finds, reads and MIME
 * parses it on a worker (struct imap_fload); its completion builds and
 * writes that message's response on the loop and goes on with the next.
 * One message is in flight at a time, so responses keep their order and
 * the IMAP_OUT_HIGH pause still applies between messages.
 *
 * Owns struct imap_fetch (one running FETCH) and struct imap_fload.
 * Threads: imap_fload_run() [worker], the rest [loop].
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "imap_fetchatt.h"
#include "imap_private.h"
#include "imap_seqset.h"
#include "log.h"
#include "mime.h"
#include "store.h"
#include "work.h"
#include "xmalloc.h"

#define IMAP_FETCH_FILE_MAX	(256ULL * 1024 * 1024)

/* One message file, read and parsed on a worker. */
struct imap_fmsg {
	char		*data;
	size_t		 len;
	struct mime_msg	*mm;
	bool		 tried;
};

struct imap_fetch {
	struct imap_fetchatt	*fa;
	uint32_t		*uids;
	size_t			 n, pos;
	uint32_t		*seen;		/* UIDs to mark \Seen */
	size_t			 nseen;
	bool			 body;		/* every message needs its file */
	bool			 loading;	/* an imap_fload is in flight */
	struct imap_fmsg	 next;		/* uids[pos], when loaded */
};

/* One message file to read on a worker for FETCH. */
struct imap_fload {
	uint64_t		 sid;
	struct store		*store;
	char			*user;
	char			*mbox;
	uint32_t		 uid;
	struct imap_fmsg	 m;
};

static void	imap_fmsg_free(struct imap_fmsg *);
static void	imap_fetch_run(struct imap_session *);

void
imap_fetch_free(struct imap_session *s)
{
	struct imap_fetch	*f = s->fetch;

	if (f == NULL)
		return;
	imap_fetchatt_free(&f->fa);
	imap_fmsg_free(&f->next);
	free(f->uids);
	free(f->seen);
	free(f);
	s->fetch = NULL;
}

/* [loop] The file was read by imap_fload_run(), or could not be. */
static int
imap_fmsg_load(struct imap_session *s, uint32_t uid, struct imap_fmsg *m)
{
	(void)s;
	(void)uid;
	return m->tried && m->mm != NULL ? 0 : -1;
}

/* [worker] Find, read and parse message uid. */
static void
imap_fmsg_read_blocking(struct store *store, const char *user,
    const char *mbox, uint32_t uid, struct imap_fmsg *m)
{
	struct stat	 st;
	const char	*err = NULL;
	char		*path = NULL;
	ssize_t		 r;
	size_t		 off = 0;
	int		 fd;

	m->tried = true;
	if (store_msg_open_path_blocking(store, user, mbox, uid, &path,
	    &err) != 1)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size > IMAP_FETCH_FILE_MAX) {
		close(fd);
		return;
	}
	m->data = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size && (r = read(fd, m->data + off,
	    (size_t)st.st_size - off)) > 0)
		off += (size_t)r;
	close(fd);
	m->len = off;
	m->data[off] = '\0';
	m->mm = mime_parse(m->data, m->len, NULL);
}

static void
imap_fload_free(struct imap_fload *l)
{
	imap_fmsg_free(&l->m);
	free(l->user);
	free(l->mbox);
	free(l);
}

/* [worker] */
static void
imap_fload_run(void *arg)
{
	struct imap_fload	*l = arg;

	imap_fmsg_read_blocking(l->store, l->user, l->mbox, l->uid, &l->m);
}

/* [loop] Hand the message to the FETCH and go on with it. */
static void
imap_fload_done(void *arg)
{
	struct imap_fload	*l = arg;
	struct imap_session	*s = imap_session_lookup(l->sid);
	struct imap_fetch	*f;

	if (s == NULL || (f = s->fetch) == NULL || !f->loading ||
	    f->pos >= f->n || f->uids[f->pos] != l->uid) {
		imap_fload_free(l);
		return;
	}
	f->loading = false;
	imap_fmsg_free(&f->next);
	f->next = l->m;
	memset(&l->m, 0, sizeof(l->m));
	imap_fload_free(l);
	/* Output above the mark: proto->drained resumes. */
	if (conn_output_len(s->c) < IMAP_OUT_HIGH)
		imap_fetch_run(s);
}

static void
imap_fload_submit(struct imap_session *s, uint32_t uid)
{
	struct imap_fload	*l = xcalloc(1, sizeof(*l));

	l->sid = s->id;
	l->store = s->store;
	l->user = xstrdup(s->user);
	l->mbox = xstrdup(s->mbox);
	l->uid = uid;
	s->fetch->loading = true;
	work_submit(imap_fload_run, imap_fload_done, l);
}

/* Does this message need its file for the items asked? */
static bool
imap_fetch_wants_file(const struct imap_fetch *f, struct store_view *v,
    uint32_t uid)
{
	const void	*env, *bs;
	size_t		 envlen, bslen, i;
	const char	*err;
	bool		 cached;

	if (f->body)
		return true;
	cached = store_view_cache(v, uid, &env, &envlen, &bs, &bslen,
	    &err) == 1;
	for (i = 0; i < f->fa->nitems; i++) {
		if (f->fa->items[i].type == IMAP_FETCH_ENVELOPE &&
		    !(cached && env != NULL && envlen > 0))
			return true;
		if (f->fa->items[i].type == IMAP_FETCH_BODYSTRUCTURE &&
		    !(cached && bs != NULL && bslen > 0))
			return true;
	}
	return false;
}

static void
imap_fmsg_free(struct imap_fmsg *m)
{
	mime_msg_free(&m->mm);
	free(m->data);
	memset(m, 0, sizeof(*m));
}

/* Append in[0..len) with every bare LF turned into CRLF (RFC 9051 2.3.4). */
static void
imap_crlf(const char *in, size_t len, struct buf *out)
{
	size_t	 i, start = 0;

	for (i = 0; i < len; i++) {
		if (in[i] != '\n' || (i > 0 && in[i - 1] == '\r'))
			continue;
		buf_append(out, in + start, i - start);
		buf_puts(out, "\r\n");
		start = i + 1;
	}
	buf_append(out, in + start, len - start);
}

/* Append " NAME {n}\r\n<data>" with the partial range applied. */
static void
imap_fetch_literal(const struct imap_fetch_item *it, const char *name,
    const struct buf *data, struct buf *out)
{
	size_t	 off = 0, len = data->len;

	if (it != NULL && it->partial) {
		off = it->offset < data->len ? it->offset : data->len;
		len = data->len - off;
		if (len > it->length)
			len = it->length;
	}
	buf_printf(out, "%s {%zu}\r\n", name, len);
	if (len > 0)
		buf_append(out, data->data + off, len);
}

static int
imap_fetch_section(struct imap_session *s, uint32_t uid,
    const struct imap_fetch_item *it, struct imap_fmsg *m, struct buf *out)
{
	struct mime_section	 sec;
	struct buf		 spec = BUF_INIT, raw = BUF_INIT;
	const char		*err;
	size_t			 i;
	static const char *const texts[] = {
		"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "MIME",
		"TEXT"
	};

	if (imap_fmsg_load(s, uid, m) == -1)
		return -1;
	for (i = 0; i < it->nparts; i++)
		buf_printf(&spec, "%s%u", i > 0 ? "." : "", it->parts[i]);
	if (it->text != IMAP_SECTION_ALL)
		buf_printf(&spec, "%s%s", it->nparts > 0 ? "." : "",
		    texts[it->text]);
	if (mime_section_find(m->mm, spec.data != NULL ? spec.data : "",
	    &sec, &err) == -1) {
		/* RFC 9051 6.4.5: a missing part is empty, not an error. */
		buf_free(&spec);
		buf_printf(out, "%s \"\"", it->resp_name);
		return 0;
	}
	buf_free(&spec);
	if (sec.range.off > m->len)
		sec.range.off = m->len;
	if (sec.range.len > m->len - sec.range.off)
		sec.range.len = m->len - sec.range.off;
	if (it->text == IMAP_SECTION_HEADER_FIELDS ||
	    it->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		struct buf f = BUF_INIT;

		mime_header_fields(m->data + sec.range.off, sec.range.len,
		    (const char *const *)it->fields, it->nfields,
		    it->text == IMAP_SECTION_HEADER_FIELDS_NOT, &f);
		imap_crlf(f.data != NULL ? f.data : "", f.len, &raw);
		buf_free(&f);
	} else
		imap_crlf(m->data + sec.range.off, sec.range.len, &raw);
	imap_fetch_literal(it, it->resp_name, &raw, out);
	buf_free(&raw);
	return 0;
}

/*
 * BINARY[section]<partial> and BINARY.SIZE[section] (RFC 3516 4.2, 4.3):
 * the part's content with its Content-Transfer-Encoding undone.  A whole
 * message (BINARY[]) or a part in 7bit/8bit/binary is sent as is.  -1:
 * unreadable or unknown encoding (NIL is sent; the [UNKNOWN-CTE] tagged
 * NO of 4.2 would need the whole FETCH to fail).
 */
static int
imap_fetch_binary(struct imap_session *s, uint32_t uid,
    const struct imap_fetch_item *it, struct imap_fmsg *m, struct buf *out)
{
	struct mime_section	 sec;
	struct buf		 spec = BUF_INIT, raw = BUF_INIT;
	const char		*err, *p;
	enum mime_cte		 cte = MIME_CTE_BINARY;
	size_t			 i, off = 0, len;

	if (imap_fmsg_load(s, uid, m) == -1 || it->text != IMAP_SECTION_ALL)
		return -1;
	for (i = 0; i < it->nparts; i++)
		buf_printf(&spec, "%s%u", i > 0 ? "." : "", it->parts[i]);
	if (mime_section_find(m->mm, spec.data != NULL ? spec.data : "",
	    &sec, &err) == -1) {
		buf_free(&spec);
		return -1;
	}
	buf_free(&spec);
	if (sec.range.off > m->len)
		sec.range.off = m->len;
	if (sec.range.len > m->len - sec.range.off)
		sec.range.len = m->len - sec.range.off;
	p = m->data + sec.range.off;
	if (it->nparts > 0 && sec.part != NULL &&
	    !mime_part_is_multipart(sec.part))
		cte = mime_part_cte(sec.part);
	switch (cte) {
	case MIME_CTE_BASE64:
	case MIME_CTE_QP:
		mime_decode_cte(cte, p, sec.range.len, &raw);
		break;
	case MIME_CTE_7BIT:
	case MIME_CTE_8BIT:
	case MIME_CTE_BINARY:
		imap_crlf(p, sec.range.len, &raw);
		break;
	default:
		return -1;
	}
	len = raw.len;
	if (it->type == IMAP_FETCH_BINARY_SIZE) {
		buf_printf(out, "%s %zu", it->resp_name, len);
		buf_free(&raw);
		return 0;
	}
	if (it->partial) {
		off = it->offset < raw.len ? it->offset : raw.len;
		len = raw.len - off;
		if (len > it->length)
			len = it->length;
	}
	/* RFC 3516 4.2: literal8 when the content holds a NUL. */
	buf_printf(out, "%s %s{%zu}\r\n", it->resp_name,
	    len > 0 && memchr(raw.data + off, '\0', len) != NULL ? "~" : "",
	    len);
	if (len > 0)
		buf_append(out, raw.data + off, len);
	buf_free(&raw);
	return 0;
}

static void
imap_fetch_date(int64_t t, struct buf *out)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	gmtime_r(&tt, &tm);
	buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
	    mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}

/* One FETCH response; false if the message is gone. */
static bool
imap_fetch_one(struct imap_session *s, struct store_view *v,
    const char *const *kwnames, uint32_t uid, struct imap_fmsg *loaded,
    struct buf *out)
{
	struct imap_fetch	*f = s->fetch;
	struct store_msginfo	 mi;
	struct imap_fmsg	 m;
	const struct imap_fetch_item *it;
	const void		*env, *bs;
	size_t			 envlen, bslen, i;
	struct buf		 tmp = BUF_INIT;
	const char		*err;
	long			 seq;
	bool			 first = true, setseen = false, hasflags = false;
	bool			 hasmodseq = false;
	int			 cr;

	if ((seq = imap_view_find(s, uid)) < 0 ||
	    store_view_msg(v, uid, &mi, &err) != 1)
		return false;
	/* RFC 7162 3.1.4.1: only what changed after CHANGEDSINCE. */
	if (f->fa->changedsince_set && mi.modseq <= f->fa->changedsince)
		return false;
	m = *loaded;
	memset(loaded, 0, sizeof(*loaded));
	if (f->fa->sets_seen && !s->readonly && !(mi.flags & STORE_F_SEEN)) {
		setseen = true;
		mi.flags |= STORE_F_SEEN;
		s->msgs[seq].flags |= STORE_F_SEEN;
		f->seen[f->nseen++] = uid;
	}
	cr = store_view_cache(v, uid, &env, &envlen, &bs, &bslen, &err);
	buf_printf(out, "* %ld FETCH (", seq + 1);
	for (i = 0; i < f->fa->nitems; i++) {
		it = &f->fa->items[i];
		if (!first)
			buf_putc(out, ' ');
		first = false;
		switch (it->type) {
		case IMAP_FETCH_FLAGS:
			buf_puts(out, "FLAGS ");
			imap_flags_out(mi.flags, mi.keywords, kwnames, out);
			hasflags = true;
			break;
		case IMAP_FETCH_UID:
			buf_printf(out, "UID %u", uid);
			break;
		case IMAP_FETCH_MODSEQ:
			buf_printf(out, "MODSEQ (%llu)",
			    (unsigned long long)mi.modseq);
			hasmodseq = true;
			break;
		case IMAP_FETCH_INTERNALDATE:
			buf_puts(out, "INTERNALDATE ");
			imap_fetch_date(mi.internaldate, out);
			break;
		case IMAP_FETCH_RFC822_SIZE:
			buf_printf(out, "RFC822.SIZE %llu",
			    (unsigned long long)mi.size);
			break;
		case IMAP_FETCH_ENVELOPE:
			buf_puts(out, "ENVELOPE ");
			if (cr == 1 && env != NULL && envlen > 0)
				buf_append(out, env, envlen);
			else if (imap_fmsg_load(s, uid, &m) == 0)
				mime_envelope(m.mm, out);
			else
				buf_puts(out, "NIL");
			break;
		case IMAP_FETCH_BODYSTRUCTURE:
			buf_puts(out, "BODYSTRUCTURE ");
			if (cr == 1 && bs != NULL && bslen > 0)
				buf_append(out, bs, bslen);
			else if (imap_fmsg_load(s, uid, &m) == 0)
				mime_bodystructure(m.mm, true, out);
			else
				buf_puts(out, "NIL");
			break;
		case IMAP_FETCH_BODY:
			buf_puts(out, "BODY ");
			if (imap_fmsg_load(s, uid, &m) == 0)
				mime_bodystructure(m.mm, false, out);
			else
				buf_puts(out, "NIL");
			break;
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_RFC822_HEADER:
		case IMAP_FETCH_RFC822_TEXT:
		case IMAP_FETCH_BODY_SECTION:
			if (imap_fetch_section(s, uid, it, &m, out) == -1)
				buf_printf(out, "%s NIL", it->resp_name);
			break;
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			if (imap_fetch_binary(s, uid, it, &m, out) == -1)
				buf_printf(out, "%s NIL", it->resp_name);
			break;
		default:
			buf_printf(out, "%s NIL", it->resp_name);
			break;
		}
	}
	if (setseen && !hasflags) {
		buf_puts(out, " FLAGS ");
		imap_flags_out(mi.flags, mi.keywords, kwnames, out);
		hasflags = true;
	}
	/* RFC 7162 3.1: with CONDSTORE on, FLAGS comes with MODSEQ. */
	if (s->condstore && hasflags && !hasmodseq)
		buf_printf(out, " MODSEQ (%llu)", (unsigned long long)mi.modseq);
	buf_puts(out, ")\r\n");
	buf_free(&tmp);
	imap_fmsg_free(&m);
	return true;
}

static void
imap_fetch_seen_done(void *arg, int result, const char *error)
{
	struct imap_session	*s = imap_job_session(arg);

	(void)error;
	if (s == NULL)
		return;
	if (result == 0)
		imap_tagged(s, "OK", "%s completed", s->cmd->name);
	else
		imap_tagged(s, "NO", "[SERVERBUG] Could not set \\Seen");
	imap_cmd_finish(s);
}

/* Produce responses until done or the output is full. */
static void
imap_fetch_run(struct imap_session *s)
{
	struct imap_fetch	*f = s->fetch;
	struct store_view	*v = NULL;
	struct buf		 out = BUF_INIT;
	const char		*kwnames[STORE_MBOX_KEYWORDS_MAX];
	const char		*err;
	uint32_t		 uid;

	if (f->loading)
		return;
	if (store_view_open(s->store, s->user, s->mbox, &v, &err) != 1) {
		imap_fetch_free(s);
		imap_tagged(s, "NO", "[SERVERBUG] Mailbox not readable");
		imap_cmd_finish(s);
		return;
	}
	/* Keyword names for FLAGS (RFC 9051 2.3.2), valid with the view. */
	if (store_view_keywords(v, kwnames, &err) == -1)
		memset(kwnames, 0, sizeof(kwnames));
	while (f->pos < f->n && conn_output_len(s->c) < IMAP_OUT_HIGH &&
	    !conn_closing(s->c)) {
		uid = f->uids[f->pos];
		if (!f->next.tried && imap_fetch_wants_file(f, v, uid) &&
		    imap_view_find(s, uid) >= 0) {
			/* imap_fload_done continues. */
			imap_fload_submit(s, uid);
			break;
		}
		f->pos++;
		buf_reset(&out);
		if (imap_fetch_one(s, v, kwnames, uid, &f->next, &out))
			conn_write(s->c, out.data, out.len);
		imap_fmsg_free(&f->next);
	}
	store_view_close(&v);
	buf_free(&out);
	if (f->pos < f->n || conn_closing(s->c))
		return;		/* imap_fetch_drained continues */
	if (f->nseen > 0) {
		store_mbox_flags(s->store, s->user, s->mbox, f->seen, f->nseen,
		    STORE_FLAGS_ADD, STORE_F_SEEN, imap_fetch_seen_done,
		    imap_job_arg(s));
		imap_fetch_free(s);
		return;
	}
	imap_fetch_free(s);
	imap_tagged(s, "OK", "%s completed", s->cmd->name);
	imap_cmd_finish(s);
}

void
imap_fetch_drained(struct imap_session *s)
{
	if (s->fetch != NULL && !s->fetch->loading &&
	    s->fetch->pos < s->fetch->n)
		imap_fetch_run(s);
}

/*
 * UID FETCH ... (CHANGEDSINCE n VANISHED) (RFC 7162 3.2.6): the UIDs of
 * the set expunged after n, from the index tombstones, before the FETCH
 * responses.  Tombstones pruned past n cannot be listed; then the UIDs
 * of the set below UIDNEXT that the mailbox lacks are sent instead.
 */
static void
imap_fetch_vanished(struct imap_session *s, const struct imap_arg *a,
    uint64_t since)
{
	struct imap_seqset	*set = NULL, *gone;
	struct store_view	*v = NULL;
	struct buf		 out = BUF_INIT;
	const char		*err;
	uint32_t		*vu = NULL, u;
	size_t			 nv = 0, i;

	if ((a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NUMBER) ||
	    imap_seqset_parse(a->str, a->len, s->uidnext > 0 ?
	    s->uidnext - 1 : 0, IMAP_SEQSET_MAX_ELEMENTS, &set, &err) == -1)
		return;		/* the set is refused below */
	if (store_view_open(s->store, s->user, s->mbox, &v, &err) != 1) {
		imap_seqset_free(&set);
		return;
	}
	gone = imap_seqset_new();
	if (since >= store_view_tomb_horizon(v)) {
		if (store_view_vanished(v, since, &vu, &nv, &err) == 0)
			for (i = 0; i < nv; i++)
				if (imap_seqset_contains(set, vu[i]))
					imap_seqset_add(gone, vu[i], vu[i]);
		free(vu);
	} else {
		for (u = 1; u < s->uidnext; u++)
			if (imap_seqset_contains(set, u) &&
			    imap_view_find(s, u) < 0)
				imap_seqset_add(gone, u, u);
	}
	store_view_close(&v);
	if (!imap_seqset_empty(gone)) {
		imap_seqset_format(gone, &out);
		imap_untagged(s, "VANISHED (EARLIER) %s", out.data);
		buf_free(&out);
	}
	imap_seqset_free(&gone);
	imap_seqset_free(&set);
}

void
imap_cmd_fetch(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_fetch	*f;
	struct imap_fetchatt	*fa;
	const char		*err;
	uint32_t		*uids;
	size_t			 n;
	int			 r;

	if (cmd->nargs < 2) {
		imap_tagged(s, "BAD", "FETCH needs a set and items");
		return;
	}
	if (imap_fetchatt_parse(&cmd->args[1], cmd->nargs - 1, cmd->uid, &fa,
	    &err) == -1) {
		imap_tagged(s, "BAD", "%s", err);
		return;
	}
	/* RFC 7162 3.1: MODSEQ and CHANGEDSINCE enable CONDSTORE. */
	if (fa->changedsince_set)
		s->condstore = true;
	for (n = 0; n < fa->nitems; n++)
		if (fa->items[n].type == IMAP_FETCH_MODSEQ)
			s->condstore = true;
	if (fa->vanished)
		imap_fetch_vanished(s, &cmd->args[0], fa->changedsince);
	n = 0;
	if ((r = imap_view_uids(s, &cmd->args[0], cmd->uid, &uids, &n)) < 0) {
		imap_fetchatt_free(&fa);
		imap_tagged(s, "BAD", "%s", r == -2 ?
		    "Message sequence number out of range" :
		    "Invalid sequence set");
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->fa = fa;
	f->uids = uids;
	f->n = n;
	f->seen = xcalloc(n + 1, sizeof(*f->seen));
	for (n = 0; n < fa->nitems; n++)
		switch (fa->items[n].type) {
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_RFC822_HEADER:
		case IMAP_FETCH_RFC822_TEXT:
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODY_SECTION:
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			f->body = true;
			break;
		default:
			break;
		}
	s->fetch = f;
	imap_busy(s);
	imap_fetch_run(s);
}
