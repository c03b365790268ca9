/*
 * imap_cmd_search.c - SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501
 * 6.4.4) over the selected view: flags, sequence and UID sets, sizes and
 * internal dates from the index; HEADER, BODY and TEXT by a
 * case-insensitive substring match over the message file (simple: no
 * charset or transfer decoding yet).  SENT* dates use the internal date.
 * The program tree comes from imap_search.h.  Answers with "* SEARCH"
 * (ESEARCH RETURN is not done yet: RETURN is refused).
 *
 * XXX Message files are read on the loop thread.  Owns nothing.  [loop]
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
};

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
		return imap_search_set(x, k, x->seq, (uint32_t)s->nmsgs);
	case IMAP_SK_UID:
		return imap_search_set(x, k, x->mi.uid, s->nmsgs > 0 ?
		    s->msgs[s->nmsgs - 1].uid : 0);
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

void
imap_cmd_search(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_search	*se;
	struct store_view	*v = NULL;
	struct imap_sctx	 x;
	struct buf		 out = BUF_INIT;
	const char		*err;
	size_t			 i;

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
	if (se->esearch || se->uses_saved) {
		imap_search_free(&se);
		imap_tagged(s, "BAD", "SEARCH RETURN is not supported yet");
		return;
	}
	if (store_view_open(s->store, s->user, s->mbox, &v, &err) != 1) {
		imap_search_free(&se);
		imap_tagged(s, "NO", "[SERVERBUG] Mailbox not readable");
		return;
	}
	buf_puts(&out, "SEARCH");
	for (i = 0; i < s->nmsgs; i++) {
		memset(&x, 0, sizeof(x));
		x.s = s;
		x.seq = (uint32_t)i + 1;
		if (store_view_msg(v, s->msgs[i].uid, &x.mi, &err) != 1)
			continue;
		if (imap_search_eval(&x, &se->root))
			buf_printf(&out, " %u", cmd->uid ? x.mi.uid : x.seq);
		free(x.data);
	}
	store_view_close(&v);
	imap_search_free(&se);
	imap_untagged(s, "%s", out.data);
	buf_free(&out);
	imap_tagged(s, "OK", "%s completed", cmd->name);
}
