/*
 * imap_cmd_sort.c - SORT and UID SORT (RFC 5256 3: ARRIVAL CC DATE FROM
 * REVERSE SIZE SUBJECT TO, plus DISPLAYFROM and DISPLAYTO of RFC 5957),
 * THREAD and UID THREAD (RFC 5256 3: ORDEREDSUBJECT and REFERENCES).
 *
 * The loop parses the search keys and takes the view's index data into
 * a search job (imap_cmd_search_job_new, the SEARCH machinery); one
 * worker job then matches each message (HEADER, BODY and TEXT read the
 * file there, never on the loop), reads the header fields the sort keys
 * need from each hit (from the file the match loaded, when it did), and
 * sorts or threads (imap_thread.c), so the loop only prints the answer.
 * The job names the session by id (imap_job_arg).  With debug on, the
 * answer logs where matching ran ("imap sort match=worker files=N").
 *
 * Owns struct imap_sort_job.  [loop], except the *_run job [worker].
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "imap_private.h"
#include "mime.h"
#include "store.h"
#include "work.h"
#include "xmalloc.h"

#define IMAP_SORT_HDR_MAX	(256 * 1024)	/* header bytes read */
#define IMAP_SORT_CRIT_MAX	16

enum imap_sort_key {
	IMAP_SORT_ARRIVAL, IMAP_SORT_CC, IMAP_SORT_DATE, IMAP_SORT_FROM,
	IMAP_SORT_SIZE, IMAP_SORT_SUBJECT, IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM, IMAP_SORT_DISPLAYTO
};

enum imap_sort_what {
	IMAP_SORT_SORT, IMAP_SORT_ORDEREDSUBJECT, IMAP_SORT_REFERENCES
};

struct imap_sort_crit {
	enum imap_sort_key	 key;
	bool			 reverse;
};

struct imap_sort_item {
	uint32_t	 num;		/* what is printed: seq or UID */
	uint32_t	 uid;
	int64_t		 arrival;
	uint64_t	 size;
	int64_t		 date;
	char		*subject;
	bool		 reply;
	char		*from, *to, *cc, *dfrom, *dto;
	char		*msgid;
	char		**refs;
	size_t		 nrefs;
};

struct imap_sort_job {
	void			*arg;		/* imap_job_arg */
	struct store		*store;
	char			*account;
	char			*mbox;
	bool			 uid;		/* UID SORT / UID THREAD */
	struct imap_sjob	*sj;		/* the search keys and the view */
	enum imap_sort_what	 what;
	struct imap_sort_crit	 crit[IMAP_SORT_CRIT_MAX];
	size_t			 ncrit;
	struct imap_sort_item	*items;
	size_t			 n;
	struct buf		 out;
};

static void
imap_sort_job_free(struct imap_sort_job *j)
{
	struct imap_sort_item	*it;
	size_t			 i, k;

	for (i = 0; i < j->n; i++) {
		it = &j->items[i];
		free(it->subject);
		free(it->from);
		free(it->to);
		free(it->cc);
		free(it->dfrom);
		free(it->dto);
		free(it->msgid);
		for (k = 0; k < it->nrefs; k++)
			free(it->refs[k]);
		free(it->refs);
	}
	free(j->items);
	imap_cmd_search_job_free(&j->sj);
	free(j->account);
	free(j->mbox);
	buf_free(&j->out);
	free(j->arg);
	free(j);
}

/* ---- [worker] header fields ---- */

static char *
imap_sort_lower(const char *s)
{
	char	*r = xstrdup(s != NULL ? s : ""), *p;

	for (p = r; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

/*
 * RFC 5256 3 (FROM, TO, CC): the addr-mailbox of the first address;
 * RFC 5957 2 (DISPLAY*): its display name, else the addr-spec.
 */
static void
imap_sort_addr(const char *hdr, size_t hl, const char *field, char **mb_r,
    char **disp_r)
{
	struct buf		 v = BUF_INIT, d = BUF_INIT;
	struct mime_addr	*l = NULL;
	size_t			 n = 0, i;

	*mb_r = NULL;
	*disp_r = NULL;
	if (mime_header_get(hdr, hl, field, &v) && v.data != NULL)
		mime_addr_parse_list(v.data, v.len, &l, &n);
	for (i = 0; i < n; i++)
		if (l[i].kind == MIME_ADDR_MAILBOX && l[i].mailbox != NULL)
			break;
	if (i < n) {
		*mb_r = imap_sort_lower(l[i].mailbox);
		if (l[i].name != NULL && l[i].name[0] != '\0')
			mime_decode_2047(l[i].name, strlen(l[i].name), &d);
		else
			buf_printf(&d, "%s@%s", l[i].mailbox,
			    l[i].domain != NULL ? l[i].domain : "");
		*disp_r = imap_sort_lower(d.data);
	}
	mime_addr_free_list(&l, n);
	buf_free(&v);
	buf_free(&d);
	if (*mb_r == NULL)
		*mb_r = xstrdup("");
	if (*disp_r == NULL)
		*disp_r = xstrdup("");
}

/*
 * The sort and thread keys of one message, from its header section: the
 * first IMAP_SORT_HDR_MAX bytes of the file, taken from data (the whole
 * file, when matching read it) or else read here.
 */
static void
imap_sort_fields(struct imap_sort_job *j, struct imap_sort_item *it,
    const char *data, size_t dlen)
{
	struct buf	 v = BUF_INIT, sub = BUF_INIT;
	const char	*e;
	char		*path = NULL, *hdr, *p, **ids;
	size_t		 len = 0, hl, nids;
	ssize_t		 r;
	int		 fd = -1;

	hdr = xmalloc(IMAP_SORT_HDR_MAX + 1);
	if (data != NULL) {
		len = dlen < IMAP_SORT_HDR_MAX ? dlen : IMAP_SORT_HDR_MAX;
		memcpy(hdr, data, len);
	} else if (store_msg_open_path_blocking(j->store, j->account,
	    j->mbox, it->uid, &path, &e) == 1 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		while (len < IMAP_SORT_HDR_MAX && (r = read(fd, hdr + len,
		    IMAP_SORT_HDR_MAX - len)) > 0) {
			len += (size_t)r;
			hdr[len] = '\0';
			if (strstr(hdr, "\r\n\r\n") || strstr(hdr, "\n\n"))
				break;
		}
		close(fd);
	}
	free(path);
	hdr[len] = '\0';
	hl = imap_thread_hdr_len(hdr, len);
	/* RFC 5256 2.2: no valid Date: means the internal date. */
	it->date = it->arrival;
	if (mime_header_get(hdr, hl, "Date", &v) && v.data != NULL &&
	    imap_thread_date(v.data, v.len, &it->date) == -1)
		it->date = it->arrival;
	buf_free(&v);
	if (mime_header_get(hdr, hl, "Subject", &v) && v.data != NULL)
		imap_thread_base_subject(v.data, v.len, &sub, &it->reply);
	buf_free(&v);
	it->subject = xstrdup(sub.data != NULL ? sub.data : "");
	buf_free(&sub);
	imap_sort_addr(hdr, hl, "From", &it->from, &it->dfrom);
	imap_sort_addr(hdr, hl, "To", &it->to, &it->dto);
	imap_sort_addr(hdr, hl, "Cc", &it->cc, &p);
	free(p);
	if (j->what == IMAP_SORT_REFERENCES) {
		if (mime_header_get(hdr, hl, "Message-ID", &v) &&
		    v.data != NULL) {
			imap_thread_msgids(v.data, v.len, &ids, &nids);
			if (nids > 0)
				it->msgid = ids[0];
			while (nids > 1)
				free(ids[--nids]);
			free(ids);
		}
		buf_free(&v);
		/* RFC 5256 3 (REFERENCES) 1B: else the first In-Reply-To. */
		if (mime_header_get(hdr, hl, "References", &v) &&
		    v.data != NULL)
			imap_thread_msgids(v.data, v.len, &it->refs,
			    &it->nrefs);
		buf_free(&v);
		if (it->nrefs == 0 && mime_header_get(hdr, hl, "In-Reply-To",
		    &v) && v.data != NULL) {
			imap_thread_msgids(v.data, v.len, &it->refs,
			    &it->nrefs);
			while (it->nrefs > 1)
				free(it->refs[--it->nrefs]);
		}
		buf_free(&v);
	}
	free(hdr);
}

/* qsort has no context argument: the job being sorted, per thread. */
static __thread const struct imap_sort_job *imap_sort_cur;

static int
imap_sort_cmp(const void *a, const void *b)
{
	const struct imap_sort_item	*x = a, *y = b;
	const struct imap_sort_crit	*c;
	size_t				 i;
	int				 r = 0;

	for (i = 0; i < imap_sort_cur->ncrit && r == 0; i++) {
		c = &imap_sort_cur->crit[i];
		switch (c->key) {
		case IMAP_SORT_ARRIVAL:
			r = (x->arrival > y->arrival) - (x->arrival < y->arrival);
			break;
		case IMAP_SORT_DATE:
			r = (x->date > y->date) - (x->date < y->date);
			break;
		case IMAP_SORT_SIZE:
			r = (x->size > y->size) - (x->size < y->size);
			break;
		case IMAP_SORT_SUBJECT:
			r = strcmp(x->subject, y->subject);
			break;
		case IMAP_SORT_FROM:
			r = strcmp(x->from, y->from);
			break;
		case IMAP_SORT_TO:
			r = strcmp(x->to, y->to);
			break;
		case IMAP_SORT_CC:
			r = strcmp(x->cc, y->cc);
			break;
		case IMAP_SORT_DISPLAYFROM:
			r = strcmp(x->dfrom, y->dfrom);
			break;
		case IMAP_SORT_DISPLAYTO:
			r = strcmp(x->dto, y->dto);
			break;
		}
		if (c->reverse)
			r = -r;
	}
	/* RFC 5256 3: ties go by sequence number (= UID order). */
	if (r == 0)
		r = (x->uid > y->uid) - (x->uid < y->uid);
	return r;
}

static void
imap_sort_run(void *arg)
{
	struct imap_sort_job	*j = arg;
	struct imap_sort_item	*it;
	struct imap_thread_msg	*tm;
	struct store_msginfo	 mi;
	uint32_t		 seq;
	char			*data;
	size_t			 i, n, dlen;

	/* Match and read the keys message by message: one file read each. */
	n = imap_cmd_search_job_count(j->sj);
	j->items = xcalloc(n + 1, sizeof(*j->items));
	for (i = 0; i < n; i++) {
		if (!imap_cmd_search_job_match_blocking(j->sj, i, &mi, &seq,
		    &data, &dlen)) {
			free(data);
			continue;
		}
		it = &j->items[j->n++];
		it->uid = mi.uid;
		it->num = j->uid ? mi.uid : seq;
		it->arrival = mi.internaldate;
		it->size = mi.size;
		imap_sort_fields(j, it, data, dlen);
		free(data);
	}
	if (j->what == IMAP_SORT_SORT) {
		imap_sort_cur = j;
		qsort(j->items, j->n, sizeof(*j->items), imap_sort_cmp);
		imap_sort_cur = NULL;
		buf_puts(&j->out, "SORT");
		for (i = 0; i < j->n; i++)
			buf_printf(&j->out, " %u", j->items[i].num);
		return;
	}
	tm = xcalloc(j->n + 1, sizeof(*tm));
	for (i = 0; i < j->n; i++) {
		tm[i].num = j->items[i].num;
		tm[i].date = j->items[i].date;
		tm[i].subject = j->items[i].subject;
		tm[i].reply = j->items[i].reply;
		tm[i].msgid = j->items[i].msgid;
		tm[i].refs = j->items[i].refs;
		tm[i].nrefs = j->items[i].nrefs;
	}
	buf_puts(&j->out, "THREAD ");
	if (j->what == IMAP_SORT_ORDEREDSUBJECT)
		imap_thread_orderedsubject(tm, j->n, &j->out);
	else
		imap_thread_references(tm, j->n, &j->out);
	free(tm);
}

/* ---- [loop] ---- */

static void
imap_sort_done(void *arg)
{
	struct imap_sort_job	*j = arg;
	struct imap_session	*s = imap_job_session(j->arg);

	j->arg = NULL;
	if (s != NULL) {
		imap_cmd_search_job_log(j->sj, s->id, j->what == IMAP_SORT_SORT ?
		    "sort" : "thread", j->n);
		imap_untagged(s, "%s", j->out.data);
		imap_tagged(s, "OK", "%s completed", s->cmd->name);
		imap_cmd_finish(s);
	}
	imap_sort_job_free(j);
}

static bool
imap_sort_charset(struct imap_session *s, const struct imap_arg *a)
{
	const char	*cs;
	size_t		 len;

	if (!imap_arg_astring(a, &cs, &len)) {
		imap_tagged(s, "BAD", "Charset expected");
		return false;
	}
	if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
		imap_tagged(s, "NO", "[BADCHARSET (US-ASCII UTF-8)] Unknown "
		    "charset");
		return false;
	}
	return true;
}

/* Take the keys and the view, then hand the rest to a worker. */
static void
imap_sort_start(struct imap_session *s, struct imap_cmd *cmd,
    struct imap_sort_job *j, size_t keys)
{
	if (keys >= cmd->nargs) {
		imap_tagged(s, "BAD", "Search keys expected");
		imap_sort_job_free(j);
		return;
	}
	if ((j->sj = imap_cmd_search_job_new(s, &cmd->args[keys],
	    cmd->nargs - keys)) == NULL) {
		imap_sort_job_free(j);
		return;
	}
	j->uid = cmd->uid;
	j->store = s->store;
	j->account = xstrdup(s->user);
	j->mbox = xstrdup(s->mbox);
	j->arg = imap_job_arg(s);
	imap_busy(s);
	/* DESIGN.md: matching may read message files, so never here. */
	work_submit(imap_sort_run, imap_sort_done, j);
}

void
imap_cmd_sort(struct imap_session *s, struct imap_cmd *cmd)
{
	static const struct {
		const char		*name;
		enum imap_sort_key	 key;
	} keys[] = {
		{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
		{ "DATE", IMAP_SORT_DATE }, { "FROM", IMAP_SORT_FROM },
		{ "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
		{ "TO", IMAP_SORT_TO }, { "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
		{ "DISPLAYTO", IMAP_SORT_DISPLAYTO },
	};
	struct imap_sort_job	*j;
	const struct imap_arg	*l;
	size_t			 i, k;
	bool			 rev = false;

	/* sort = ["UID" SP] "SORT" SP sort-criteria SP charset SP search */
	if (cmd->nargs < 3 || cmd->args[0].type != IMAP_ARG_LIST ||
	    cmd->args[0].count == 0) {
		imap_tagged(s, "BAD", "SORT needs criteria, a charset and keys");
		return;
	}
	l = &cmd->args[0];
	j = xcalloc(1, sizeof(*j));
	j->what = IMAP_SORT_SORT;
	for (i = 0; i < l->count; i++) {
		if (l->list[i].type != IMAP_ARG_ATOM)
			break;
		if (strcasecmp(l->list[i].str, "REVERSE") == 0 && !rev) {
			rev = true;
			continue;
		}
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strcasecmp(l->list[i].str, keys[k].name) == 0)
				break;
		if (k == sizeof(keys) / sizeof(keys[0]) ||
		    j->ncrit == IMAP_SORT_CRIT_MAX)
			break;
		j->crit[j->ncrit].key = keys[k].key;
		j->crit[j->ncrit++].reverse = rev;
		rev = false;
	}
	if (i < l->count || rev) {
		imap_sort_job_free(j);
		imap_tagged(s, "BAD", "Invalid sort criteria");
		return;
	}
	if (!imap_sort_charset(s, &cmd->args[1])) {
		imap_sort_job_free(j);
		return;
	}
	imap_sort_start(s, cmd, j, 2);
}

void
imap_cmd_sort_thread(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_sort_job	*j;
	const char		*alg;

	/* thread = ["UID" SP] "THREAD" SP algorithm SP charset SP search */
	if (cmd->nargs < 3 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD", "THREAD needs an algorithm, a charset "
		    "and keys");
		return;
	}
	alg = cmd->args[0].str;
	j = xcalloc(1, sizeof(*j));
	if (strcasecmp(alg, "ORDEREDSUBJECT") == 0)
		j->what = IMAP_SORT_ORDEREDSUBJECT;
	else if (strcasecmp(alg, "REFERENCES") == 0)
		j->what = IMAP_SORT_REFERENCES;
	else {
		imap_sort_job_free(j);
		imap_tagged(s, "BAD", "Unknown threading algorithm");
		return;
	}
	if (!imap_sort_charset(s, &cmd->args[1])) {
		imap_sort_job_free(j);
		return;
	}
	imap_sort_start(s, cmd, j, 2);
}
