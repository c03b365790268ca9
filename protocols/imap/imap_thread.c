/*
 * imap_thread.c - the pure parts of SORT and THREAD (RFC 5256): base
 * subject extraction (2.1), sent dates (2.2), message-id lists, the
 * length of a header section, and the two threading algorithms,
 * ORDEREDSUBJECT (3, "ORDEREDSUBJECT") and REFERENCES (3, "REFERENCES",
 * after Jamie Zawinski's algorithm), printed as the thread-list of RFC
 * 5256 4 ("(1 2 (3)(4 5))").
 *
 * No I/O and no globals: imap_cmd_sort.c feeds it header values read on
 * a worker.  Owns the thread tree while a call runs.  [any]
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "hmap.h"
#include "imap_private.h"
#include "mime.h"
#include "xmalloc.h"

/* ---- base subject (RFC 5256 2.1) ---- */

static size_t
imap_thread_skip_blob(const char *p, size_t len)
{
	size_t	 i;

	/* blob = "[" *BLOBCHAR "]" *WSP */
	if (len == 0 || p[0] != '[')
		return 0;
	for (i = 1; i < len && p[i] != ']' && p[i] != '['; i++)
		;
	if (i == len || p[i] != ']')
		return 0;
	for (i++; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	return i;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
static size_t
imap_thread_skip_refwd(const char *p, size_t len)
{
	size_t	 i, b;

	if (len >= 3 && strncasecmp(p, "fwd", 3) == 0)
		i = 3;
	else if (len >= 2 && (strncasecmp(p, "re", 2) == 0 ||
	    strncasecmp(p, "fw", 2) == 0))
		i = 2;
	else
		return 0;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if ((b = imap_thread_skip_blob(p + i, len - i)) > 0)
		i += b;
	if (i < len && p[i] == ':')
		return i + 1;
	return 0;
}

void
imap_thread_base_subject(const char *raw, size_t len, struct buf *out,
    bool *reply_r)
{
	struct buf	 dec = BUF_INIT, ws = BUF_INIT;
	const char	*p;
	size_t		 n, i, k, b;
	bool		 changed, sp = false;

	*reply_r = false;
	/* (1) decode RFC 2047 words, unfold, one SP for each WSP run. */
	mime_decode_2047(raw, len, &dec);
	for (i = 0; i < dec.len; i++) {
		if (dec.data[i] == ' ' || dec.data[i] == '\t' ||
		    dec.data[i] == '\r' || dec.data[i] == '\n') {
			sp = ws.len > 0;
			continue;
		}
		if (sp)
			buf_putc(&ws, ' ');
		sp = false;
		buf_putc(&ws, (char)tolower((unsigned char)dec.data[i]));
	}
	buf_free(&dec);
	p = ws.data != NULL ? ws.data : "";
	n = ws.len;
	do {
		changed = false;
		/* (2) subj-trailer: "(fwd)" and white space at the end. */
		for (;;) {
			while (n > 0 && p[n - 1] == ' ')
				n--;
			if (n >= 5 && strncasecmp(p + n - 5, "(fwd)", 5) == 0) {
				n -= 5;
				*reply_r = true;
				continue;
			}
			break;
		}
		/* (3), (4) subj-leader, subj-blob, repeated. */
		for (;;) {
			while (n > 0 && *p == ' ') {
				p++;
				n--;
			}
			if ((k = imap_thread_skip_refwd(p, n)) > 0) {
				p += k;
				n -= k;
				*reply_r = true;
				changed = true;
				continue;
			}
			b = imap_thread_skip_blob(p, n);
			if (b > 0 && b < n) {
				p += b;
				n -= b;
				changed = true;
				continue;
			}
			break;
		}
		/* (6) "[fwd:" subject "]" */
		if (n >= 6 && strncasecmp(p, "[fwd:", 5) == 0 &&
		    p[n - 1] == ']') {
			p += 5;
			n -= 6;
			*reply_r = true;
			changed = true;
		}
	} while (changed);
	buf_append(out, p, n);
	buf_free(&ws);
}

/* ---- the header section ---- */

size_t
imap_thread_hdr_len(const char *d, size_t len)
{
	const char	*z, *p;
	size_t		 lim;

	/* The blank line is looked for in text: never past a NUL byte. */
	lim = (z = memchr(d, '\0', len)) != NULL ? (size_t)(z - d) : len;
	if ((p = memmem(d, lim, "\r\n\r\n", 4)) != NULL)
		return (size_t)(p - d) + 4;
	if ((p = memmem(d, lim, "\n\n", 2)) != NULL)
		return (size_t)(p - d) + 2;
	return len;
}

/* ---- sent date (RFC 5256 2.2, RFC 5322 3.3) ---- */

static int64_t
imap_thread_days(int64_t y, unsigned int m, unsigned int d)
{
	int64_t		 era, yoe, doy, doe;

	/* Days since 1970-01-01 of a proleptic Gregorian date. */
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool
imap_thread_num(const char **pp, const char *end, int64_t *v_r,
    size_t maxd)
{
	const char	*p = *pp;
	size_t		 d = 0;
	int64_t		 v = 0;

	while (p < end && isdigit((unsigned char)*p) && d < maxd) {
		v = v * 10 + (*p - '0');
		p++;
		d++;
	}
	if (d == 0)
		return false;
	*pp = p;
	*v_r = v;
	return true;
}

int
imap_thread_date(const char *s, size_t len, int64_t *date_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char	*p = s, *end = s + len, *c;
	int64_t		 day, year, hh, mm, ss = 0, zone = 0;
	unsigned int	 mon;
	int		 sign;

	while (p < end && isspace((unsigned char)*p))
		p++;
	if ((c = memchr(p, ',', (size_t)(end - p))) != NULL)
		p = c + 1;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (!imap_thread_num(&p, end, &day, 2))
		return -1;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (end - p < 3)
		return -1;
	for (mon = 0; mon < 12; mon++)
		if (strncasecmp(p, months + mon * 3, 3) == 0)
			break;
	if (mon == 12)
		return -1;
	p += 3;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (!imap_thread_num(&p, end, &year, 4))
		return -1;
	if (year < 50)
		year += 2000;
	else if (year < 1000)
		year += 1900;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (!imap_thread_num(&p, end, &hh, 2) || p >= end || *p++ != ':' ||
	    !imap_thread_num(&p, end, &mm, 2))
		return -1;
	if (p < end && *p == ':') {
		p++;
		if (!imap_thread_num(&p, end, &ss, 2))
			return -1;
	}
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p < end && (*p == '+' || *p == '-')) {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (imap_thread_num(&p, end, &zone, 4))
			zone = sign * ((zone / 100) * 3600 + (zone % 100) * 60);
	}
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	*date_r = imap_thread_days(year, mon + 1, (unsigned int)day) * 86400 +
	    hh * 3600 + mm * 60 + ss - zone;
	return 0;
}

/* ---- message ids ---- */

void
imap_thread_msgids(const char *s, size_t len, char ***ids_r, size_t *n_r)
{
	const char	*p = s, *end = s + len, *lt, *gt;
	char		**ids = NULL;
	size_t		 n = 0;

	while (p < end && (lt = memchr(p, '<', (size_t)(end - p))) != NULL) {
		if ((gt = memchr(lt, '>', (size_t)(end - lt))) == NULL)
			break;
		if (gt > lt + 1) {
			ids = xreallocarray(ids, n + 1, sizeof(*ids));
			ids[n++] = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		}
		p = gt + 1;
	}
	*ids_r = ids;
	*n_r = n;
}

/* ---- the thread tree ---- */

struct imap_tnode {
	long		 msg;		/* index into msgs, -1: dummy */
	long		 parent;
	size_t		*kids;
	size_t		 nkids;
};

struct imap_tree {
	struct imap_tnode	*v;
	size_t			 n;
	struct imap_thread_msg	*msgs;
};

static size_t
imap_tree_new(struct imap_tree *t, long msg)
{
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	t->v[t->n].msg = msg;
	t->v[t->n].parent = -1;
	return t->n++;
}

static void
imap_tree_add_kid(struct imap_tree *t, size_t parent, size_t kid)
{
	struct imap_tnode	*p = &t->v[parent];

	p->kids = xreallocarray(p->kids, p->nkids + 1, sizeof(*p->kids));
	p->kids[p->nkids++] = kid;
	t->v[kid].parent = (long)parent;
}

static void
imap_tree_unlink(struct imap_tree *t, size_t kid)
{
	struct imap_tnode	*p;
	size_t			 i;

	if (t->v[kid].parent < 0)
		return;
	p = &t->v[t->v[kid].parent];
	for (i = 0; i < p->nkids; i++)
		if (p->kids[i] == kid) {
			memmove(&p->kids[i], &p->kids[i + 1],
			    (p->nkids - i - 1) * sizeof(*p->kids));
			p->nkids--;
			break;
		}
	t->v[kid].parent = -1;
}

/* Is a an ancestor of b (or b itself)? */
static bool
imap_tree_reaches(const struct imap_tree *t, size_t a, size_t b)
{
	long	 c;

	for (c = (long)b; c >= 0; c = t->v[c].parent)
		if ((size_t)c == a)
			return true;
	return false;
}

static void
imap_tree_free(struct imap_tree *t)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].kids);
	free(t->v);
}

/* The date a node sorts by: its message's, or its first child's. */
static int64_t
imap_tree_date(const struct imap_tree *t, size_t c)
{
	while (t->v[c].msg < 0 && t->v[c].nkids > 0)
		c = t->v[c].kids[0];
	return t->v[c].msg >= 0 ? t->msgs[t->v[c].msg].date : 0;
}

static uint32_t
imap_tree_num(const struct imap_tree *t, size_t c)
{
	while (t->v[c].msg < 0 && t->v[c].nkids > 0)
		c = t->v[c].kids[0];
	return t->v[c].msg >= 0 ? t->msgs[t->v[c].msg].num : 0;
}

/* Insertion sort by date, then by number (stable, lists are short). */
static void
imap_tree_sort(struct imap_tree *t, size_t *list, size_t n)
{
	size_t	 i, j, x;
	int64_t	 dx;

	for (i = 0; i < n; i++)
		if (t->v[list[i]].nkids > 0)
			imap_tree_sort(t, t->v[list[i]].kids,
			    t->v[list[i]].nkids);
	for (i = 1; i < n; i++) {
		x = list[i];
		dx = imap_tree_date(t, x);
		for (j = i; j > 0 && (imap_tree_date(t, list[j - 1]) > dx ||
		    (imap_tree_date(t, list[j - 1]) == dx &&
		    imap_tree_num(t, list[j - 1]) > imap_tree_num(t, x))); j--)
			list[j] = list[j - 1];
		list[j] = x;
	}
}

static void
imap_tree_out(const struct imap_tree *t, size_t c, struct buf *out)
{
	const struct imap_tnode	*nd = &t->v[c];
	size_t			 i;

	if (nd->msg >= 0)
		buf_printf(out, "%u", t->msgs[nd->msg].num);
	if (nd->nkids == 1) {
		if (nd->msg >= 0)
			buf_putc(out, ' ');
		imap_tree_out(t, nd->kids[0], out);
		return;
	}
	if (nd->nkids > 1 && nd->msg >= 0)
		buf_putc(out, ' ');
	for (i = 0; i < nd->nkids; i++) {
		buf_putc(out, '(');
		imap_tree_out(t, nd->kids[i], out);
		buf_putc(out, ')');
	}
}

static void
imap_tree_print(const struct imap_tree *t, const size_t *roots, size_t n,
    struct buf *out)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		buf_putc(out, '(');
		imap_tree_out(t, roots[i], out);
		buf_putc(out, ')');
	}
}

/* ---- ORDEREDSUBJECT ---- */

static int
imap_thread_cmp_subj(const void *a, const void *b)
{
	const struct imap_thread_msg	*x = a, *y = b;
	int				 c = strcmp(x->subject, y->subject);

	if (c != 0)
		return c;
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->num < y->num ? -1 : x->num > y->num;
}

void
imap_thread_orderedsubject(struct imap_thread_msg *msgs, size_t n,
    struct buf *out)
{
	struct imap_tree	 t;
	size_t			*roots, nroots = 0, i, top = 0;

	memset(&t, 0, sizeof(t));
	t.msgs = msgs;
	qsort(msgs, n, sizeof(*msgs), imap_thread_cmp_subj);
	roots = xcalloc(n + 1, sizeof(*roots));
	/* The first message of a subject is the parent of the others. */
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(msgs[i].subject, msgs[i - 1].subject)) {
			top = imap_tree_new(&t, (long)i);
			roots[nroots++] = top;
		} else
			imap_tree_add_kid(&t, top, imap_tree_new(&t, (long)i));
	}
	/* Threads in the order of their first message's date. */
	imap_tree_sort(&t, roots, nroots);
	imap_tree_print(&t, roots, nroots, out);
	free(roots);
	imap_tree_free(&t);
}

/* ---- REFERENCES ---- */

static size_t
imap_thread_id(struct imap_tree *t, struct hmap *ids, const char *id)
{
	void	*v;
	size_t	 c;

	if ((v = hmap_get(ids, id, strlen(id))) != NULL)
		return (size_t)(uintptr_t)v - 1;
	c = imap_tree_new(t, -1);
	hmap_put(ids, id, strlen(id), (void *)(uintptr_t)(c + 1));
	return c;
}

/* Step 3: drop empty dummies, promote children of the others. */
static size_t *
imap_thread_prune(struct imap_tree *t, size_t *list, size_t n, bool root,
    size_t *n_r)
{
	size_t	*out = xcalloc(n + 1, sizeof(*out)), no = 0, i, k, c;
	size_t	*kids, nk;

	for (i = 0; i < n; i++) {
		c = list[i];
		kids = imap_thread_prune(t, t->v[c].kids, t->v[c].nkids, false,
		    &nk);
		free(t->v[c].kids);
		t->v[c].kids = kids;
		t->v[c].nkids = nk;
		if (t->v[c].msg >= 0 || (root && nk > 1)) {
			out = xreallocarray(out, no + 1, sizeof(*out));
			out[no++] = c;
			continue;
		}
		out = xreallocarray(out, no + nk + 1, sizeof(*out));
		for (k = 0; k < nk; k++) {
			t->v[kids[k]].parent = root ? -1 : t->v[c].parent;
			out[no++] = kids[k];
		}
		t->v[c].nkids = 0;
	}
	*n_r = no;
	return out;
}

static const struct imap_thread_msg *
imap_thread_subject_msg(const struct imap_tree *t, size_t c)
{
	if (t->v[c].msg < 0 && t->v[c].nkids > 0)
		c = t->v[c].kids[0];
	return t->v[c].msg >= 0 ? &t->msgs[t->v[c].msg] : NULL;
}

/* Step 5: gather root threads with the same base subject. */
static size_t *
imap_thread_group(struct imap_tree *t, size_t *roots, size_t n,
    size_t *n_r)
{
	struct hmap			*subj = hmap_new();
	const struct imap_thread_msg	*m, *om;
	size_t				*out, no = 0, i, c, o, d, k;
	bool				*gone;
	void				*v;

	for (i = 0; i < n; i++) {
		c = roots[i];
		if ((m = imap_thread_subject_msg(t, c)) == NULL ||
		    m->subject[0] == '\0')
			continue;
		if ((v = hmap_get(subj, m->subject, strlen(m->subject))) ==
		    NULL) {
			hmap_put(subj, m->subject, strlen(m->subject),
			    (void *)(uintptr_t)(c + 1));
			continue;
		}
		o = (size_t)(uintptr_t)v - 1;
		om = imap_thread_subject_msg(t, o);
		if ((t->v[c].msg < 0 && t->v[o].msg >= 0) ||
		    (om != NULL && om->reply && !m->reply && t->v[o].msg >= 0))
			hmap_put(subj, m->subject, strlen(m->subject),
			    (void *)(uintptr_t)(c + 1));
	}
	gone = xcalloc(n + 1, sizeof(*gone));
	out = xcalloc(n + 1, sizeof(*out));
	for (i = 0; i < n; i++) {
		c = roots[i];
		if ((m = imap_thread_subject_msg(t, c)) == NULL ||
		    m->subject[0] == '\0' || (v = hmap_get(subj, m->subject,
		    strlen(m->subject))) == NULL ||
		    (o = (size_t)(uintptr_t)v - 1) == c)
			continue;
		om = imap_thread_subject_msg(t, o);
		if (t->v[o].msg < 0 && t->v[c].msg < 0) {
			for (k = 0; k < t->v[c].nkids; k++)
				imap_tree_add_kid(t, o, t->v[c].kids[k]);
			t->v[c].nkids = 0;
		} else if (t->v[o].msg < 0 || (m->reply && om != NULL &&
		    !om->reply))
			imap_tree_add_kid(t, o, c);
		else {
			/* A new dummy takes o's place, with o and c below. */
			d = imap_tree_new(t, -1);
			for (k = 0; k < n; k++)
				if (roots[k] == o)
					roots[k] = d;
			imap_tree_add_kid(t, d, o);
			imap_tree_add_kid(t, d, c);
			hmap_put(subj, m->subject, strlen(m->subject),
			    (void *)(uintptr_t)(d + 1));
		}
		gone[i] = true;
	}
	for (i = 0; i < n; i++)
		if (!gone[i])
			out[no++] = roots[i];
	free(gone);
	hmap_free(&subj, NULL);
	*n_r = no;
	return out;
}

void
imap_thread_references(struct imap_thread_msg *msgs, size_t n,
    struct buf *out)
{
	struct imap_tree	 t;
	struct hmap		*ids = hmap_new();
	size_t			*roots, *pruned, *grouped, nroots = 0, np, ng;
	size_t			 i, k, c, prev, last;
	bool			 have_prev;

	memset(&t, 0, sizeof(t));
	t.msgs = msgs;
	for (i = 0; i < n; i++) {
		/* 1A: the message's container (a duplicate id gets its own). */
		if (msgs[i].msgid != NULL) {
			c = imap_thread_id(&t, ids, msgs[i].msgid);
			if (t.v[c].msg >= 0)
				c = imap_tree_new(&t, (long)i);
			else
				t.v[c].msg = (long)i;
		} else
			c = imap_tree_new(&t, (long)i);
		/* 1B: link the references in order, never making a loop. */
		have_prev = false;
		prev = 0;
		for (k = 0; k < msgs[i].nrefs; k++) {
			last = imap_thread_id(&t, ids, msgs[i].refs[k]);
			if (have_prev && t.v[last].parent < 0 &&
			    !imap_tree_reaches(&t, last, prev))
				imap_tree_add_kid(&t, prev, last);
			prev = last;
			have_prev = true;
		}
		/* 1C: the last reference is the parent. */
		imap_tree_unlink(&t, c);
		if (have_prev && !imap_tree_reaches(&t, c, prev))
			imap_tree_add_kid(&t, prev, c);
	}
	/* 2: the root set. */
	roots = xcalloc(t.n + 1, sizeof(*roots));
	for (i = 0; i < t.n; i++)
		if (t.v[i].parent < 0)
			roots[nroots++] = i;
	pruned = imap_thread_prune(&t, roots, nroots, true, &np);
	/* 4: sort; 5: group by subject; 6: sort every level again. */
	imap_tree_sort(&t, pruned, np);
	grouped = imap_thread_group(&t, pruned, np, &ng);
	imap_tree_sort(&t, grouped, ng);
	imap_tree_print(&t, grouped, ng, out);
	free(grouped);
	free(pruned);
	free(roots);
	hmap_free(&ids, NULL);
	imap_tree_free(&t);
}
