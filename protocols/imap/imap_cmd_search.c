/*
 * imap_cmd_search.c - SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501
 * 6.4.4) over the selected view: flags, sequence and UID sets, sizes and
 * internal dates from the index; HEADER, BODY and TEXT by a
 * case-insensitive substring match over the message file (simple: no
 * charset or transfer decoding yet).  SENT* dates use the internal date.
 * The program tree comes from imap_search.h.  Answers with "* SEARCH",
 * or with "* ESEARCH" for RETURN (MIN MAX ALL COUNT) (RFC 4731 3.1, 9051
 * 7.3.4); RETURN (SAVE) keeps the result as "$" (SEARCHRES, RFC 5182)
 * for later SEARCH, FETCH-less COPY/MOVE and SORT commands.
 *
 * The saved result is kept here, keyed by session id, as UIDs with the
 * mailbox and UIDVALIDITY it belongs to, so a result from another
 * mailbox reads as empty (RFC 5182 2.1); entries of sessions that are
 * gone are swept whenever a result is saved.
 * XXX It belongs in struct imap_session, reset by SELECT and freed with
 * the session (imap_cmd_select.c, imap_session.c).
 *
 * XXX Message files are read on the loop thread.  Owns the saved search
 * results.  [loop]
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "hmap.h"
#include "imap_private.h"
#include "imap_search.h"
#include "imap_seqset.h"
#include "mime.h"
#include "store.h"
#include "xmalloc.h"

#define IMAP_SEARCH_DEPTH	32
#define IMAP_SEARCH_FILE_MAX	(64 * 1024 * 1024)

struct imap_sctx {
	struct imap_session	*s;
	struct store_msginfo	 mi;
	uint32_t		 seq;
	char			*data;		/* message file, lazily */
	size_t			 len;
	bool			 loaded;
	const uint32_t		*saved;		/* "$": saved UIDs, ascending */
	size_t			 nsaved;
};

/* RFC 5182: one saved result per session. */
struct imap_searchres {
	char		*mbox;
	uint32_t	 uidvalidity;
	uint32_t	*uids;		/* ascending */
	size_t		 n;
};

static struct hmap	*imap_searchres_map;	/* session id -> result */

static void
imap_searchres_free(void *p)
{
	struct imap_searchres	*r = p;

	if (r == NULL)
		return;
	free(r->mbox);
	free(r->uids);
	free(r);
}

struct imap_searchres_sweep {
	uint64_t	*dead;
	size_t		 n;
};

static void
imap_searchres_find_dead(const void *key, size_t keylen, void *value,
    void *arg)
{
	struct imap_searchres_sweep	*w = arg;
	uint64_t			 id;

	(void)value;
	if (keylen != sizeof(id))
		return;
	memcpy(&id, key, sizeof(id));
	if (imap_session_lookup(id) == NULL)
		w->dead[w->n++] = id;
}

/* Drop the results of sessions that are gone. */
static void
imap_searchres_sweep(void)
{
	struct imap_searchres_sweep	 w;
	size_t				 i;

	if (imap_searchres_map == NULL)
		return;
	w.dead = xcalloc(hmap_count(imap_searchres_map) + 1,
	    sizeof(*w.dead));
	w.n = 0;
	hmap_foreach(imap_searchres_map, imap_searchres_find_dead, &w);
	for (i = 0; i < w.n; i++)
		imap_searchres_free(hmap_del(imap_searchres_map, &w.dead[i],
		    sizeof(w.dead[i])));
	free(w.dead);
	if (hmap_count(imap_searchres_map) == 0)
		hmap_free(&imap_searchres_map, NULL);
}

/* Keep uids (taken over) as the session's "$". */
static void
imap_searchres_save(struct imap_session *s, uint32_t *uids, size_t n)
{
	struct imap_searchres	*r = xcalloc(1, sizeof(*r));

	imap_searchres_sweep();
	r->mbox = xstrdup(s->mbox);
	r->uidvalidity = s->uidvalidity;
	r->uids = uids;
	r->n = n;
	if (imap_searchres_map == NULL)
		imap_searchres_map = hmap_new();
	imap_searchres_free(hmap_put(imap_searchres_map, &s->id,
	    sizeof(s->id), r));
}

/* The saved UIDs of this session and mailbox, or none. */
static const struct imap_searchres *
imap_searchres_get(const struct imap_session *s)
{
	const struct imap_searchres	*r;

	if (imap_searchres_map == NULL || s->mbox == NULL)
		return NULL;
	r = hmap_get(imap_searchres_map, &s->id, sizeof(s->id));
	if (r == NULL || strcmp(r->mbox, s->mbox) != 0 ||
	    r->uidvalidity != s->uidvalidity)
		return NULL;
	return r;
}

static bool
imap_searchres_has(const uint32_t *uids, size_t n, uint32_t uid)
{
	size_t	 lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (uids[mid] == uid)
			return true;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void
imap_cmd_search_saved(struct imap_session *s, uint32_t **uids_r,
    size_t *n_r)
{
	const struct imap_searchres	*r = imap_searchres_get(s);
	uint32_t			*u;
	size_t				 i, n = 0;

	/* The messages of "$" still in the view, in view order. */
	u = xcalloc(s->nmsgs + 1, sizeof(*u));
	for (i = 0; r != NULL && i < s->nmsgs; i++)
		if (imap_searchres_has(r->uids, r->n, s->msgs[i].uid))
			u[n++] = s->msgs[i].uid;
	*uids_r = u;
	*n_r = n;
}

static void
imap_sctx_load(struct imap_sctx *x)
{
	struct stat	 st;
	const char	*err;
	char		*path = NULL;
	ssize_t		 r;
	size_t		 off = 0;
	int		 fd;

	if (x->loaded)
		return;
	x->loaded = true;
	if (store_msg_open_path_blocking(x->s->store, x->s->user, x->s->mbox,
	    x->mi.uid, &path, &err) != 1)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == 0 && st.st_size < IMAP_SEARCH_FILE_MAX) {
		x->data = xmalloc((size_t)st.st_size + 1);
		while (off < (size_t)st.st_size && (r = read(fd, x->data + off,
		    (size_t)st.st_size - off)) > 0)
			off += (size_t)r;
		x->data[off] = '\0';
		x->len = off;
	}
	close(fd);
}

static bool
imap_memcasemem(const char *h, size_t hlen, const char *n, size_t nlen)
{
	size_t	 i;

	if (nlen == 0)
		return true;
	for (i = 0; i + nlen <= hlen; i++)
		if (strncasecmp(h + i, n, nlen) == 0)
			return true;
	return false;
}

static size_t
imap_hdr_len(const char *d, size_t len)
{
	const char	*p;

	if ((p = strstr(d, "\r\n\r\n")) != NULL && (size_t)(p - d) < len)
		return (size_t)(p - d) + 4;
	if ((p = strstr(d, "\n\n")) != NULL && (size_t)(p - d) < len)
		return (size_t)(p - d) + 2;
	return len;
}

static bool imap_search_eval(struct imap_sctx *,
    const struct imap_search_key *);

static bool
imap_search_set(struct imap_sctx *x, const struct imap_search_key *k,
    uint32_t v, uint32_t star)
{
	struct imap_seqset	*set;
	const char		*err;
	bool			 m;

	if (imap_seqset_parse(k->str, k->len, star, IMAP_SEQSET_MAX_ELEMENTS,
	    &set, &err) == -1)
		return false;
	m = imap_seqset_contains(set, v);
	imap_seqset_free(&set);
	(void)x;
	return m;
}

static bool
imap_search_eval(struct imap_sctx *x, const struct imap_search_key *k)
{
	struct imap_session	*s = x->s;
	struct buf		 hv = BUF_INIT;
	size_t			 i, hl;
	int64_t			 day;
	bool			 m;

	switch (k->type) {
	case IMAP_SK_ALL:
		return true;
	case IMAP_SK_AND:
		for (i = 0; i < k->nchild; i++)
			if (!imap_search_eval(x, &k->child[i]))
				return false;
		return true;
	case IMAP_SK_OR:
		return imap_search_eval(x, &k->child[0]) ||
		    imap_search_eval(x, &k->child[1]);
	case IMAP_SK_NOT:
		return !imap_search_eval(x, &k->child[0]);
	case IMAP_SK_SEQSET:
	case IMAP_SK_UID:
		if (k->saved)
			return imap_searchres_has(x->saved, x->nsaved,
			    x->mi.uid);
		if (k->type == IMAP_SK_UID)
			return imap_search_set(x, k, x->mi.uid, s->nmsgs > 0 ?
			    s->msgs[s->nmsgs - 1].uid : 0);
		return imap_search_set(x, k, x->seq, (uint32_t)s->nmsgs);
	case IMAP_SK_FLAG:
		if (strcasecmp(k->str, "\\Recent") == 0)
			return false;
		return (x->mi.flags & imap_flag_bit(k->str)) != 0;
	case IMAP_SK_KEYWORD:
		return false;
	case IMAP_SK_BEFORE:
	case IMAP_SK_SENTBEFORE:
		return x->mi.internaldate < k->date;
	case IMAP_SK_ON:
	case IMAP_SK_SENTON:
		day = x->mi.internaldate - x->mi.internaldate % 86400;
		return day == k->date;
	case IMAP_SK_SINCE:
	case IMAP_SK_SENTSINCE:
		return x->mi.internaldate >= k->date;
	case IMAP_SK_LARGER:
		return x->mi.size > k->num;
	case IMAP_SK_SMALLER:
		return x->mi.size < k->num;
	case IMAP_SK_HEADER:
		imap_sctx_load(x);
		if (x->data == NULL)
			return false;
		hl = imap_hdr_len(x->data, x->len);
		if (!mime_header_get(x->data, hl, k->field, &hv))
			return false;
		m = imap_memcasemem(hv.data != NULL ? hv.data : "", hv.len,
		    k->str, k->len);
		buf_free(&hv);
		return m;
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		imap_sctx_load(x);
		if (x->data == NULL)
			return false;
		hl = k->type == IMAP_SK_BODY ? imap_hdr_len(x->data, x->len) :
		    0;
		return imap_memcasemem(x->data + hl, x->len - hl, k->str,
		    k->len);
	case IMAP_SK_MODSEQ:
		return x->mi.modseq >= k->num;
	case IMAP_SK_OLDER:
	case IMAP_SK_YOUNGER:
	default:
		return false;
	}
}

/* "* ESEARCH (TAG "t") [UID] MIN a MAX b COUNT n ALL set" (RFC 4731 3.1). */
static void
imap_esearch_reply(struct imap_session *s, struct imap_cmd *cmd,
    unsigned int ret, const uint32_t *hits, size_t n)
{
	struct buf	 out = BUF_INIT;
	size_t		 i, k;

	buf_puts(&out, "ESEARCH (TAG \"");
	buf_puts(&out, cmd->tag);
	buf_putc(&out, '"');
	buf_putc(&out, ')');
	if (cmd->uid)
		buf_puts(&out, " UID");
	if ((ret & IMAP_SEARCH_RET_MIN) && n > 0)
		buf_printf(&out, " MIN %u", hits[0]);
	if ((ret & IMAP_SEARCH_RET_MAX) && n > 0)
		buf_printf(&out, " MAX %u", hits[n - 1]);
	if (ret & IMAP_SEARCH_RET_COUNT)
		buf_printf(&out, " COUNT %zu", n);
	if ((ret & IMAP_SEARCH_RET_ALL) && n > 0) {
		buf_puts(&out, " ALL ");
		for (i = 0; i < n; i = k + 1) {
			for (k = i; k + 1 < n && hits[k + 1] == hits[k] + 1;
			    k++)
				;
			if (i > 0)
				buf_putc(&out, ',');
			if (k == i)
				buf_printf(&out, "%u", hits[i]);
			else
				buf_printf(&out, "%u:%u", hits[i], hits[k]);
		}
	}
	imap_untagged(s, "%s", out.data);
	buf_free(&out);
}

/*
 * RFC 5182 2.1: with SAVE and MIN and/or MAX but neither ALL nor COUNT,
 * only those messages are saved.  uids are ascending (view order).
 */
static void
imap_search_save(struct imap_session *s, unsigned int ret, uint32_t *uids,
    size_t n)
{
	uint32_t	*u;
	size_t		 k = 0;

	if ((ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) &&
	    !(ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) && n > 0) {
		u = xcalloc(3, sizeof(*u));
		if (ret & IMAP_SEARCH_RET_MIN)
			u[k++] = uids[0];
		if ((ret & IMAP_SEARCH_RET_MAX) && (k == 0 ||
		    uids[n - 1] != u[0]))
			u[k++] = uids[n - 1];
		free(uids);
		uids = u;
		n = k;
	}
	imap_searchres_save(s, uids, n);
}

void
imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_search	*se;
	struct store_view	*v = NULL;
	const struct imap_searchres *saved;
	struct imap_sctx	 x;
	struct buf		 out = BUF_INIT;
	const char		*err;
	uint32_t		*hits, *huids;
	size_t			 i, n = 0;
	unsigned int		 ret;

	if (imap_search_parse(cmd->args, cmd->nargs, IMAP_SEARCH_DEPTH, &se,
	    &err) == -1) {
		imap_tagged(s, "BAD", "%s", err);
		return;
	}
	if (!imap_search_charset_ok(se)) {
		imap_search_free(&se);
		imap_tagged(s, "NO", "[BADCHARSET (US-ASCII UTF-8)] Unknown "
		    "charset");
		return;
	}
	if (store_view_open(s->store, s->user, s->mbox, &v, &err) != 1) {
		imap_search_free(&se);
		imap_tagged(s, "NO", "[SERVERBUG] Mailbox not readable");
		return;
	}
	saved = imap_searchres_get(s);
	hits = xcalloc(s->nmsgs + 1, sizeof(*hits));
	huids = xcalloc(s->nmsgs + 1, sizeof(*huids));
	for (i = 0; i < s->nmsgs; i++) {
		memset(&x, 0, sizeof(x));
		x.s = s;
		x.seq = (uint32_t)i + 1;
		if (saved != NULL) {
			x.saved = saved->uids;
			x.nsaved = saved->n;
		}
		if (store_view_msg(v, s->msgs[i].uid, &x.mi, &err) != 1)
			continue;
		if (imap_search_eval(&x, &se->root)) {
			hits[n] = cmd->uid ? x.mi.uid : x.seq;
			huids[n++] = x.mi.uid;
		}
		free(x.data);
	}
	store_view_close(&v);
	ret = se->ret;
	if (!se->esearch) {
		buf_puts(&out, "SEARCH");
		for (i = 0; i < n; i++)
			buf_printf(&out, " %u", hits[i]);
		imap_untagged(s, "%s", out.data);
		buf_free(&out);
	} else if (ret & ~IMAP_SEARCH_RET_SAVE)
		imap_esearch_reply(s, cmd, ret, hits, n);
	/* RFC 5182 2.4: SAVE alone answers no ESEARCH at all. */
	if (se->esearch && (ret & IMAP_SEARCH_RET_SAVE))
		imap_search_save(s, ret, huids, n);
	else
		free(huids);
	free(hits);
	imap_search_free(&se);
	imap_tagged(s, "OK", "%s completed", cmd->name);
}

int
imap_cmd_search_match(struct imap_session *s, const struct imap_arg *args,
    size_t nargs, size_t **idx_r, size_t *n_r)
{
	struct imap_search	*se;
	struct store_view	*v = NULL;
	const struct imap_searchres *saved;
	struct imap_sctx	 x;
	const char		*err;
	size_t			*idx, i, n = 0;

	*idx_r = NULL;
	*n_r = 0;
	if (imap_search_parse(args, nargs, IMAP_SEARCH_DEPTH, &se,
	    &err) == -1) {
		imap_tagged(s, "BAD", "%s", err);
		return -1;
	}
	if (se->esearch || se->charset != NULL) {
		imap_search_free(&se);
		imap_tagged(s, "BAD", "Search keys expected");
		return -1;
	}
	if (store_view_open(s->store, s->user, s->mbox, &v, &err) != 1) {
		imap_search_free(&se);
		imap_tagged(s, "NO", "[SERVERBUG] Mailbox not readable");
		return -1;
	}
	saved = imap_searchres_get(s);
	idx = xcalloc(s->nmsgs + 1, sizeof(*idx));
	for (i = 0; i < s->nmsgs; i++) {
		memset(&x, 0, sizeof(x));
		x.s = s;
		x.seq = (uint32_t)i + 1;
		if (saved != NULL) {
			x.saved = saved->uids;
			x.nsaved = saved->n;
		}
		if (store_view_msg(v, s->msgs[i].uid, &x.mi, &err) != 1)
			continue;
		if (imap_search_eval(&x, &se->root))
			idx[n++] = i;
		free(x.data);
	}
	store_view_close(&v);
	imap_search_free(&se);
	*idx_r = idx;
	*n_r = n;
	return 0;
}
