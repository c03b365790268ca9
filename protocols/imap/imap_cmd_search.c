/*
 * imap_cmd_search.c - SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501
 * 6.4.4) over the selected view: flags, keywords, sequence and UID
 * sets, sizes and internal dates from the index; HEADER, BODY and TEXT
 * by a case-insensitive substring match over the message file (simple:
 * no charset or transfer decoding yet).  SENT* dates use the internal date.
 * The program tree comes from imap_search.h.  Answers with "* SEARCH",
 * or with "* ESEARCH" for RETURN (MIN MAX ALL COUNT) (RFC 4731 3.1, 9051
 * 7.3.4); RETURN (SAVE) keeps the result as "$" (SEARCHRES, RFC 5182)
 * for later SEARCH, FETCH-less COPY/MOVE and SORT commands.
 *
 * The saved result lives in struct imap_session as ascending UIDs; it
 * is emptied by SELECT, EXAMINE, CLOSE and UNSELECT (imap_unselect,
 * RFC 5182 2.1) and freed with the session.
 *
 * A search whose program reads message files (HEADER, BODY, TEXT) runs
 * on a worker (struct imap_sjob): the loop takes the view's message data
 * from the index first, the worker reads the files and evaluates, and
 * the completion answers on the loop.  A program without such keys is
 * evaluated on the loop at once.  SORT and THREAD (imap_cmd_sort.c) take
 * the same job (imap_cmd_search_job_new) and match it message by message
 * on their own worker, which then reads the sort keys, from the file the
 * match already loaded when there is one (DESIGN.md: the loop never
 * reads message files).  With debug on, every search logs where its
 * program ran ("imap search match=worker files=N ...").
 *
 * Owns struct imap_sjob.  Threads: imap_sjob_run() and
 * imap_cmd_search_job_match_blocking() [worker] when the program reads
 * files, else [loop]; the rest [loop].
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "imap_private.h"
#include "imap_search.h"
#include "imap_seqset.h"
#include "log.h"
#include "mime.h"
#include "store.h"
#include "work.h"
#include "xmalloc.h"

#define IMAP_SEARCH_DEPTH	32
#define IMAP_SEARCH_FILE_MAX	(64 * 1024 * 1024)

enum imap_sjob_where {
	IMAP_SJOB_NOWHERE = 0,	/* not evaluated yet */
	IMAP_SJOB_WORKER,
	IMAP_SJOB_LOOP		/* on the loop thread, for any message */
};

/*
 * What evaluating a program needs, copied off the session so that a
 * worker can run it (the session stays BUSY meanwhile).
 */
struct imap_sjob {
	uint64_t		 sid;
	struct store		*store;
	char			*user;
	char			*mbox;
	struct imap_search	*se;
	uint32_t		 nmsgs;		/* "*" for sequence sets */
	uint32_t		 maxuid;	/* "*" for UID sets */
	uint32_t		*saved;		/* "$", ascending */
	size_t			 nsaved;
	struct store_msginfo	*mi;		/* messages to test */
	uint32_t		*seq;		/* their sequence numbers */
	size_t			 n;
	bool			*hit;		/* results */
	bool			 reads_files;	/* HEADER, BODY or TEXT */
	/* For the debug log, written by the evaluating thread: */
	enum imap_sjob_where	 where;		/* where the program ran */
	size_t			 nfiles;	/* message files read */
};

struct imap_sctx {
	struct imap_sjob	*j;
	struct store_msginfo	 mi;
	uint32_t		 seq;
	char			*data;		/* message file, lazily */
	size_t			 len;
	bool			 loaded;
};

/*
 * Keep uids (taken over) as the session's "$" (RFC 5182 2.1): they
 * replace the previous result; imap_unselect() empties it.
 */
static void
imap_searchres_save(struct imap_session *s, uint32_t *uids, size_t n)
{
	free(s->searchres);
	s->searchres = uids;
	s->nsearchres = n;
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
	uint32_t	*u;
	size_t		 i, n = 0;

	/*
	 * The messages of "$" still in the view, in view order: expunged
	 * ones drop out (RFC 5182 2.1).
	 */
	u = xcalloc(s->nmsgs + 1, sizeof(*u));
	for (i = 0; i < s->nmsgs; i++)
		if (imap_searchres_has(s->searchres, s->nsearchres,
		    s->msgs[i].uid))
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
	x->j->nfiles++;
	if (store_msg_open_path_blocking(x->j->store, x->j->user, x->j->mbox,
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
	const struct imap_sjob	*j = x->j;
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
			return imap_searchres_has(j->saved, j->nsaved,
			    x->mi.uid);
		if (k->type == IMAP_SK_UID)
			return imap_search_set(x, k, x->mi.uid, j->maxuid);
		return imap_search_set(x, k, x->seq, j->nmsgs);
	case IMAP_SK_FLAG:
		if (strcasecmp(k->str, "\\Recent") == 0)
			return false;
		return (x->mi.flags & imap_flag_bit(k->str)) != 0;
	case IMAP_SK_KEYWORD:
		/* num: the keyword's bit, 0 if never defined here. */
		return (x->mi.keywords & k->num) != 0;
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

/* Does the program read message files? */
static bool
imap_search_reads_files(const struct imap_search_key *k)
{
	size_t	 i;

	switch (k->type) {
	case IMAP_SK_HEADER:
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		return true;
	default:
		for (i = 0; i < k->nchild; i++)
			if (imap_search_reads_files(&k->child[i]))
				return true;
		return false;
	}
}

static void
imap_sjob_free(struct imap_sjob *j)
{
	if (j == NULL)
		return;
	imap_search_free(&j->se);
	free(j->user);
	free(j->mbox);
	free(j->saved);
	free(j->mi);
	free(j->seq);
	free(j->hit);
	free(j);
}

/*
 * KEYWORD and UNKEYWORD (RFC 9051 6.4.4): name -> the keyword's bit in
 * store_msginfo.keywords (0: not defined in this mailbox, no match).
 */
static void
imap_search_kw_resolve(struct imap_search_key *k, const char *const *names)
{
	size_t	 i;

	if (k->type == IMAP_SK_KEYWORD) {
		k->num = 0;
		for (i = 0; i < STORE_MBOX_KEYWORDS_MAX; i++)
			if (names[i] != NULL &&
			    strcasecmp(names[i], k->str) == 0)
				k->num = (uint64_t)1 << i;
		return;
	}
	for (i = 0; i < k->nchild; i++)
		imap_search_kw_resolve(&k->child[i], names);
}

/*
 * Take the program (se) and the view's message data from the index;
 * NULL (NO sent) if the mailbox cannot be read.
 */
static struct imap_sjob *
imap_sjob_new(struct imap_session *s, struct imap_search *se)
{
	struct imap_sjob	*j;
	struct store_view	*v = NULL;
	const char		*kwnames[STORE_MBOX_KEYWORDS_MAX];
	const char		*err;
	size_t			 i;

	if (store_view_open(s->store, s->user, s->mbox, &v, &err) != 1 ||
	    store_view_keywords(v, kwnames, &err) == -1) {
		store_view_close(&v);
		imap_search_free(&se);
		imap_tagged(s, "NO", "[SERVERBUG] Mailbox not readable");
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->sid = s->id;
	j->store = s->store;
	j->user = xstrdup(s->user);
	j->mbox = xstrdup(s->mbox);
	j->se = se;
	j->reads_files = imap_search_reads_files(&se->root);
	imap_search_kw_resolve(&j->se->root, kwnames);
	j->nmsgs = (uint32_t)s->nmsgs;
	j->maxuid = s->nmsgs > 0 ? s->msgs[s->nmsgs - 1].uid : 0;
	j->saved = xcalloc(s->nsearchres + 1, sizeof(*j->saved));
	if (s->nsearchres > 0)
		memcpy(j->saved, s->searchres, s->nsearchres *
		    sizeof(*j->saved));
	j->nsaved = s->nsearchres;
	j->mi = xcalloc(s->nmsgs + 1, sizeof(*j->mi));
	j->seq = xcalloc(s->nmsgs + 1, sizeof(*j->seq));
	j->hit = xcalloc(s->nmsgs + 1, sizeof(*j->hit));
	for (i = 0; i < s->nmsgs; i++) {
		if (store_view_msg(v, s->msgs[i].uid, &j->mi[j->n], &err) != 1)
			continue;
		j->seq[j->n++] = (uint32_t)i + 1;
	}
	store_view_close(&v);
	return j;
}

/*
 * Evaluate the program on message i: j->hit[i].  data_r (may be NULL)
 * takes the message file when evaluating read it (else NULL); it is
 * freed otherwise.  [worker] when the program reads files, else [any].
 */
static bool
imap_sjob_eval_one(struct imap_sjob *j, size_t i, char **data_r,
    size_t *len_r)
{
	struct imap_sctx	 x;

	memset(&x, 0, sizeof(x));
	x.j = j;
	x.mi = j->mi[i];
	x.seq = j->seq[i];
	j->hit[i] = imap_search_eval(&x, &j->se->root);
	if (data_r != NULL) {
		*data_r = x.data;
		*len_r = x.len;
	} else
		free(x.data);
	return j->hit[i];
}

/* [worker] when the program reads files, else [loop] */
static void
imap_sjob_run(void *arg)
{
	struct imap_sjob	*j = arg;
	size_t			 i;

	j->where = work_on_loop_thread() ? IMAP_SJOB_LOOP : IMAP_SJOB_WORKER;
	for (i = 0; i < j->n; i++)
		(void)imap_sjob_eval_one(j, i, NULL, NULL);
}

/* Answer SEARCH from the job's results. */
static void
imap_sjob_reply(struct imap_session *s, struct imap_sjob *j)
{
	struct imap_cmd		*cmd = s->cmd;
	struct buf		 out = BUF_INIT;
	uint32_t		*hits, *huids;
	size_t			 i, n = 0;
	unsigned int		 ret = j->se->ret;

	hits = xcalloc(j->n + 1, sizeof(*hits));
	huids = xcalloc(j->n + 1, sizeof(*huids));
	for (i = 0; i < j->n; i++)
		if (j->hit[i]) {
			hits[n] = cmd->uid ? j->mi[i].uid : j->seq[i];
			huids[n++] = j->mi[i].uid;
		}
	if (!j->se->esearch) {
		buf_puts(&out, "SEARCH");
		for (i = 0; i < n; i++)
			buf_printf(&out, " %u", hits[i]);
		imap_untagged(s, "%s", out.data);
		buf_free(&out);
	} else if (ret & ~IMAP_SEARCH_RET_SAVE)
		imap_esearch_reply(s, cmd, ret, hits, n);
	/* RFC 5182 2.4: SAVE alone answers no ESEARCH at all. */
	if (j->se->esearch && (ret & IMAP_SEARCH_RET_SAVE))
		imap_search_save(s, ret, huids, n);
	else
		free(huids);
	free(hits);
	imap_cmd_search_job_log(j, s->id, "search", n);
	imap_tagged(s, "OK", "%s completed", cmd->name);
}

/* [loop] */
static void
imap_sjob_done(void *arg)
{
	struct imap_sjob	*j = arg;
	struct imap_session	*s = imap_session_lookup(j->sid);

	if (s != NULL && s->cmd != NULL) {
		imap_sjob_reply(s, j);
		imap_cmd_finish(s);
	}
	imap_sjob_free(j);
}

void
imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_search	*se;
	struct imap_sjob	*j;
	const char		*err;

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
	if ((j = imap_sjob_new(s, se)) == NULL)
		return;
	if (j->reads_files) {
		/* DESIGN.md: no file reads on the loop thread. */
		imap_busy(s);
		work_submit(imap_sjob_run, imap_sjob_done, j);
		return;
	}
	imap_sjob_run(j);
	imap_sjob_reply(s, j);
	imap_sjob_free(j);
}

struct imap_sjob *
imap_cmd_search_job_new(struct imap_session *s, const struct imap_arg *args,
    size_t nargs)
{
	struct imap_search	*se;
	const char		*err;

	if (imap_search_parse(args, nargs, IMAP_SEARCH_DEPTH, &se,
	    &err) == -1) {
		imap_tagged(s, "BAD", "%s", err);
		return NULL;
	}
	/* SORT and THREAD take bare search keys: no RETURN, no CHARSET. */
	if (se->esearch || se->charset != NULL) {
		imap_search_free(&se);
		imap_tagged(s, "BAD", "Search keys expected");
		return NULL;
	}
	return imap_sjob_new(s, se);
}

size_t
imap_cmd_search_job_count(const struct imap_sjob *j)
{
	return j->n;
}

bool
imap_cmd_search_job_match_blocking(struct imap_sjob *j, size_t i,
    struct store_msginfo *mi_r, uint32_t *seq_r, char **data_r,
    size_t *len_r)
{
	if (work_on_loop_thread())
		j->where = IMAP_SJOB_LOOP;
	else if (j->where == IMAP_SJOB_NOWHERE)
		j->where = IMAP_SJOB_WORKER;
	*mi_r = j->mi[i];
	*seq_r = j->seq[i];
	return imap_sjob_eval_one(j, i, data_r, len_r);
}

void
imap_cmd_search_job_log(const struct imap_sjob *j, uint64_t sid,
    const char *what, size_t hits)
{
	log_debug("%016" PRIx64 " imap %s match=%s msgs=%zu files=%zu "
	    "hits=%zu", sid, what, j->where == IMAP_SJOB_WORKER ? "worker" :
	    j->where == IMAP_SJOB_LOOP ? "loop" : "none", j->n, j->nfiles,
	    hits);
}

void
imap_cmd_search_job_free(struct imap_sjob **jp)
{
	imap_sjob_free(*jp);
	*jp = NULL;
}
