/*
 * imap_cmd_select.c - SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3), CLOSE
 * (6.4.1), UNSELECT (RFC 3691), CHECK/NOOP in the selected state, and
 * the session's view of the selected mailbox: the array that maps
 * sequence numbers to UIDs (RFC 9051 2.3.1.2), refreshed from the index
 * to report EXISTS, EXPUNGE and FETCH FLAGS (7.4.1: EXPUNGE only when no
 * command that uses sequence numbers is running).
 *
 * Before a mailbox is selected the store syncs it with the Maildir when
 * new/ or cur/ changed behind our back (store_mbox_sync, a worker job).
 *
 * CONDSTORE and QRESYNC (RFC 7162): ENABLE, the SELECT/EXAMINE
 * parameters (CONDSTORE) and (QRESYNC (uidvalidity modseq [known-uids
 * [seq-match]])) answered with VANISHED (EARLIER) from the index
 * tombstones and FETCH of what changed (3.2.5), MODSEQ in unsolicited
 * FETCH once CONDSTORE is on (3.1.2), VANISHED instead of EXPUNGE once
 * QRESYNC is on (3.2.10).
 *
 * Keywords (RFC 9051 2.3.2): SELECT lists the mailbox's keywords in
 * FLAGS and PERMANENTFLAGS, with "\*" while more can be defined; a
 * refresh that finds a new keyword sends both again (7.3.5) before the
 * FETCH that carries it.
 *
 * Owns the session's view, its store watch and struct imap_select_op
 * (one SELECT with its parameters).  [loop]
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "imap_private.h"
#include "imap_seqset.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

void
imap_unselect(struct imap_session *s)
{
	store_watch_del(&s->watch);
	free(s->mbox);
	s->mbox = NULL;
	free(s->msgs);
	s->msgs = NULL;
	s->nmsgs = 0;
	s->changed = false;
	s->kwdefined = 0;
	/* RFC 5182 2.1: "$" is empty after SELECT, EXAMINE, CLOSE, UNSELECT. */
	free(s->searchres);
	s->searchres = NULL;
	s->nsearchres = 0;
	if (s->state == IMAP_S_SELECTED)
		s->state = IMAP_S_AUTH;
}

long
imap_view_find(const struct imap_session *s, uint32_t uid)
{
	size_t	 lo = 0, hi = s->nmsgs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->msgs[mid].uid == uid)
			return (long)mid;
		if (s->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Bring the view up to date.  With expunges, vanished UIDs are reported
 * (highest sequence number first so the numbers stay valid) and dropped;
 * without, they stay in the view until a later refresh may say so.
 */
void
imap_view_refresh(struct imap_session *s, bool expunges)
{
	struct store_view	*v = NULL;
	struct store_msginfo	*l = NULL;
	struct imap_msg		*nv;
	struct buf		 fl = BUF_INIT;
	struct imap_seqset	*gone = NULL;
	const char		*kwnames[STORE_MBOX_KEYWORDS_MAX];
	const char		*err;
	uint64_t		 defined = 0;
	size_t			 n = 0, i, j, k, old;

	if (s->mbox == NULL)
		return;
	s->changed = false;
	if (store_view_open(s->store, s->user, s->mbox, &v, &err) != 1) {
		/* Deleted under us (RFC 9051 7.1.5 would be BYE; be mild). */
		return;
	}
	if (store_view_messages(v, &l, &n, &err) == -1 ||
	    store_view_keywords(v, kwnames, &err) == -1) {
		store_view_close(&v);
		free(l);
		log_warn("%016" PRIx64 " imap view error=\"%s\"", s->id, err);
		return;
	}
	s->uidnext = store_view_mailbox(v)->uidnext;
	/*
	 * RFC 9051 7.3.5: a new keyword (another session's STORE, or our
	 * own) changes the FLAGS list; send it, with PERMANENTFLAGS, before
	 * the FETCH that uses it.
	 */
	for (i = 0; i < STORE_MBOX_KEYWORDS_MAX; i++)
		if (kwnames[i] != NULL)
			defined |= (uint64_t)1 << i;
	if ((defined & ~s->kwdefined) != 0)
		imap_flags_announce(s, kwnames);
	if (expunges) {
		/* Walk both sorted lists; report EXPUNGE from the top. */
		for (i = s->nmsgs; i > 0; i--) {
			for (j = 0, k = n; j < k; ) {
				size_t m = j + (k - j) / 2;
				if (l[m].uid < s->msgs[i - 1].uid)
					j = m + 1;
				else
					k = m;
			}
			if (j < n && l[j].uid == s->msgs[i - 1].uid)
				continue;
			/* RFC 7162 3.2.10: VANISHED replaces EXPUNGE. */
			if (s->qresync) {
				if (gone == NULL)
					gone = imap_seqset_new();
				imap_seqset_add(gone, s->msgs[i - 1].uid,
				    s->msgs[i - 1].uid);
			} else
				imap_untagged(s, "%zu EXPUNGE", i);
			memmove(&s->msgs[i - 1], &s->msgs[i],
			    (s->nmsgs - i) * sizeof(*s->msgs));
			s->nmsgs--;
		}
		if (gone != NULL) {
			imap_seqset_format(gone, &fl);
			imap_untagged(s, "VANISHED %s", fl.data);
			buf_reset(&fl);
			imap_seqset_free(&gone);
		}
	}
	/* Flag changes of messages we show, then new arrivals. */
	old = s->nmsgs;
	for (i = 0, j = 0; i < n; i++) {
		while (j < s->nmsgs && s->msgs[j].uid < l[i].uid)
			j++;
		if (j < s->nmsgs && s->msgs[j].uid == l[i].uid) {
			if (s->msgs[j].flags != l[i].flags ||
			    s->msgs[j].keywords != l[i].keywords) {
				s->msgs[j].flags = l[i].flags;
				s->msgs[j].keywords = l[i].keywords;
				buf_reset(&fl);
				imap_flags_out(l[i].flags, l[i].keywords,
				    kwnames, &fl);
				if (s->condstore)	/* RFC 7162 3.1.2 */
					buf_printf(&fl, " MODSEQ (%llu)",
					    (unsigned long long)l[i].modseq);
				imap_untagged(s, "%zu FETCH (UID %u FLAGS %s)",
				    j + 1, l[i].uid, fl.data);
			}
			continue;
		}
		if (s->nmsgs > 0 && l[i].uid < s->msgs[s->nmsgs - 1].uid)
			continue;	/* imported below the top: skip */
		nv = xreallocarray(s->msgs, s->nmsgs + 1, sizeof(*s->msgs));
		s->msgs = nv;
		s->msgs[s->nmsgs].uid = l[i].uid;
		s->msgs[s->nmsgs].flags = l[i].flags;
		s->msgs[s->nmsgs].keywords = l[i].keywords;
		s->nmsgs++;
		j = s->nmsgs;
	}
	if (s->nmsgs != old) {
		imap_untagged(s, "%zu EXISTS", s->nmsgs);
		imap_untagged(s, "0 RECENT");
	}
	store_view_close(&v);
	buf_free(&fl);
	free(l);
}

int
imap_view_uids(struct imap_session *s, const struct imap_arg *a, bool uid,
    uint32_t **uids_r, size_t *n_r)
{
	struct imap_seqset	*set;
	const char		*err;
	uint32_t		*u;
	uint32_t		 star;
	size_t			 i, n = 0;

	*uids_r = NULL;
	*n_r = 0;
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NUMBER)
		return -1;
	star = uid ? (s->nmsgs > 0 ? s->msgs[s->nmsgs - 1].uid : 0) :
	    (uint32_t)s->nmsgs;
	if (imap_seqset_parse(a->str, a->len, star, IMAP_SEQSET_MAX_ELEMENTS,
	    &set, &err) == -1)
		return -1;
	if (imap_seqset_is_saved(set)) {
		/* RFC 5182 2.2: the same messages for FETCH and UID FETCH. */
		imap_seqset_free(&set);
		imap_cmd_search_saved(s, uids_r, n_r);
		return 0;
	}
	/* RFC 9051 6.4.8: a sequence number beyond EXISTS is an error. */
	if (!uid && imap_seqset_max(set) > s->nmsgs) {
		imap_seqset_free(&set);
		return -2;
	}
	u = xcalloc(s->nmsgs + 1, sizeof(*u));
	for (i = 0; i < s->nmsgs; i++)
		if (imap_seqset_contains(set, uid ? s->msgs[i].uid :
		    (uint32_t)(i + 1)))
			u[n++] = s->msgs[i].uid;
	imap_seqset_free(&set);
	*uids_r = u;
	*n_r = n;
	return 0;
}

/* One SELECT/EXAMINE and its RFC 7162 parameters. */
struct imap_select_op {
	char			*name;
	bool			 qresync;
	uint32_t		 uidvalidity;
	uint64_t		 modseq;
	struct imap_seqset	*known;		/* known-uids, or NULL */
};

static void
imap_select_op_free(void *p)
{
	struct imap_select_op	*op = p;

	free(op->name);
	imap_seqset_free(&op->known);
	free(op);
}

/*
 * QRESYNC resynchronization (RFC 7162 3.2.5.1): VANISHED (EARLIER) for
 * what was expunged since op->modseq, then FETCH for what changed.
 */
static void
imap_select_qresync(struct imap_session *s, struct imap_select_op *op,
    struct store_view *v, const struct store_msginfo *l, size_t n)
{
	struct imap_seqset	*gone = imap_seqset_new();
	struct buf		 out = BUF_INIT;
	const char		*kwnames[STORE_MBOX_KEYWORDS_MAX];
	const char		*err;
	uint32_t		*vu = NULL, u, next;
	size_t			 nv = 0, i, j;

	if (op->modseq >= store_view_tomb_horizon(v)) {
		if (store_view_vanished(v, op->modseq, &vu, &nv, &err) == -1)
			log_warn("%016" PRIx64 " imap vanished error=\"%s\"",
			    s->id, err);
		for (i = 0; i < nv; i++)
			if (op->known == NULL ||
			    imap_seqset_contains(op->known, vu[i]))
				imap_seqset_add(gone, vu[i], vu[i]);
		free(vu);
	} else {
		/*
		 * Tombstones older than the client's modseq were pruned:
		 * every UID below UIDNEXT (or known-uids) that no longer
		 * exists.  A client ignores UIDs it never knew (3.2.10).
		 */
		for (j = 0, u = 1; j <= n; j++) {
			next = j < n ? l[j].uid : s->uidnext;
			if (op->known == NULL && next > u)
				imap_seqset_add(gone, u, next - 1);
			for (; op->known != NULL && u < next; u++)
				if (imap_seqset_contains(op->known, u))
					imap_seqset_add(gone, u, u);
			u = next + 1;
		}
	}
	if (!imap_seqset_empty(gone)) {
		imap_seqset_format(gone, &out);
		imap_untagged(s, "VANISHED (EARLIER) %s", out.data);
	}
	imap_seqset_free(&gone);
	if (store_view_keywords(v, kwnames, &err) == -1)
		memset(kwnames, 0, sizeof(kwnames));
	for (i = 0; i < n; i++) {
		if (l[i].modseq <= op->modseq || (op->known != NULL &&
		    !imap_seqset_contains(op->known, l[i].uid)))
			continue;
		buf_reset(&out);
		imap_flags_out(l[i].flags, l[i].keywords, kwnames, &out);
		imap_untagged(s, "%zu FETCH (UID %u FLAGS %s MODSEQ (%llu))",
		    i + 1, l[i].uid, out.data,
		    (unsigned long long)l[i].modseq);
	}
	buf_free(&out);
}

static void
imap_select_reply(struct imap_session *s)
{
	struct store_view	*v = NULL;
	struct store_msginfo	*l = NULL;
	struct imap_cmd		*cmd = s->cmd;
	struct imap_select_op	*op = s->op;
	const char		*kwnames[STORE_MBOX_KEYWORDS_MAX];
	const char		*err = "Mailbox does not exist";
	char			*name = op->name;
	size_t			 n = 0, i;
	uint32_t		 unseen = 0;
	int			 r;

	r = store_view_open(s->store, s->user, name, &v, &err);
	if (r != 1 || store_view_messages(v, &l, &n, &err) == -1 ||
	    store_view_keywords(v, kwnames, &err) == -1) {
		store_view_close(&v);
		free(l);
		imap_tagged(s, "NO", "%s%s", r == 0 ? "[NONEXISTENT] " : "",
		    err);
		return;
	}
	s->mbox = xstrdup(name);
	s->readonly = strcmp(cmd->name, "EXAMINE") == 0;
	s->uidvalidity = store_view_mailbox(v)->uidvalidity;
	s->uidnext = store_view_mailbox(v)->uidnext;
	s->msgs = xcalloc(n + 1, sizeof(*s->msgs));
	for (i = 0; i < n; i++) {
		s->msgs[i].uid = l[i].uid;
		s->msgs[i].flags = l[i].flags;
		s->msgs[i].keywords = l[i].keywords;
		if (unseen == 0 && !(l[i].flags & STORE_F_SEEN))
			unseen = (uint32_t)i + 1;
	}
	s->nmsgs = n;
	s->state = IMAP_S_SELECTED;
	s->watch = store_watch_add(s->store, s->user, name, imap_watch_fired,
	    s);
	/* RFC 9051 6.3.2 / RFC 3501 6.3.1 required untagged responses. */
	imap_untagged(s, "%zu EXISTS", n);
	imap_untagged(s, "0 RECENT");
	if (unseen != 0)
		imap_untagged(s, "OK [UNSEEN %u] First unseen", unseen);
	imap_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", s->uidvalidity);
	imap_untagged(s, "OK [UIDNEXT %u] Predicted next UID", s->uidnext);
	/* RFC 9051 7.3.5, 7.1: keywords and "\\*" (2.3.2) included. */
	imap_flags_announce(s, kwnames);
	imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
	    (unsigned long long)store_view_mailbox(v)->highestmodseq);
	/* RFC 7162 3.2.5: only when the UIDVALIDITY is still the same. */
	if (op->qresync && op->uidvalidity == s->uidvalidity)
		imap_select_qresync(s, op, v, l, n);
	store_view_close(&v);
	free(l);
	imap_tagged(s, "OK", "[%s] %s completed", s->readonly ? "READ-ONLY" :
	    "READ-WRITE", cmd->name);
}

static void
imap_select_synced(void *arg, int result, const char *error)
{
	struct imap_session	*s = imap_job_session(arg);

	(void)result;
	(void)error;
	if (s == NULL)
		return;
	imap_select_reply(s);
	imap_cmd_finish(s);
}

/*
 * select-param (RFC 7162 3.1.8, 3.2.5): "(CONDSTORE)" or "(QRESYNC
 * (uidvalidity modseq [known-uids [(seq-match)]]))".  The seq-match
 * pair only saves work when tombstones are gone; it is accepted and not
 * used (the fallback reports every missing UID).  -1: BAD sent.
 */
static int
imap_select_params(struct imap_session *s, const struct imap_arg *a,
    struct imap_select_op *op)
{
	const struct imap_arg	*q;
	const char		*err;
	size_t			 i;

	if (a->type != IMAP_ARG_LIST)
		goto bad;
	for (i = 0; i < a->count; i++) {
		if (imap_arg_atom_is(&a->list[i], "CONDSTORE")) {
			s->condstore = true;
			continue;
		}
		if (!imap_arg_atom_is(&a->list[i], "QRESYNC") ||
		    i + 1 >= a->count || a->list[i + 1].type != IMAP_ARG_LIST)
			goto bad;
		if (!s->qresync) {
			imap_tagged(s, "BAD", "ENABLE QRESYNC first");
			return -1;
		}
		q = &a->list[++i];
		if (q->count < 2 || q->count > 4 ||
		    q->list[0].type != IMAP_ARG_NUMBER ||
		    q->list[1].type != IMAP_ARG_NUMBER ||
		    q->list[0].num == 0 || q->list[0].num > UINT32_MAX ||
		    q->list[1].num == 0)
			goto bad;
		op->qresync = true;
		op->uidvalidity = (uint32_t)q->list[0].num;
		op->modseq = q->list[1].num;
		if (q->count >= 3 && ((q->list[2].type != IMAP_ARG_ATOM &&
		    q->list[2].type != IMAP_ARG_NUMBER) ||
		    imap_seqset_parse(q->list[2].str, q->list[2].len,
		    UINT32_MAX, IMAP_SEQSET_MAX_ELEMENTS, &op->known,
		    &err) == -1))
			goto bad;
		if (q->count == 4 && q->list[3].type != IMAP_ARG_LIST)
			goto bad;
	}
	return 0;
bad:
	imap_tagged(s, "BAD", "Invalid SELECT parameters");
	return -1;
}

void
imap_cmd_select(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_select_op	*op;
	char			*name;
	void			*arg;
	int			 r;

	if (cmd->nargs != 1 && cmd->nargs != 2) {
		imap_tagged(s, "BAD", "%s needs a mailbox name", cmd->name);
		return;
	}
	op = xcalloc(1, sizeof(*op));
	if (cmd->nargs == 2 && imap_select_params(s, &cmd->args[1], op) == -1) {
		imap_select_op_free(op);
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL) {
		imap_select_op_free(op);
		return;
	}
	op->name = name;
	/* RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected. */
	if (s->state == IMAP_S_SELECTED) {
		imap_unselect(s);
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	s->op = op;
	s->op_free = imap_select_op_free;
	arg = imap_job_arg(s);
	r = store_mbox_sync(s->store, s->user, name, imap_select_synced, arg);
	if (r == 1) {
		imap_busy(s);
		return;
	}
	free(arg);
	imap_select_reply(s);
	imap_select_op_free(s->op);
	s->op = NULL;
	s->op_free = NULL;
}

/*
 * ENABLE (RFC 5161 3.1) with CONDSTORE (RFC 7162 3.1), QRESYNC (3.2.3,
 * which implies CONDSTORE) and UTF8=ACCEPT (RFC 6855 3).  Replaces imap_cmd_any.c's imap_cmd_enable
 * in the verb table.
 */
void
imap_cmd_enable_ext(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf	 out = BUF_INIT;
	size_t		 i;

	if (cmd->nargs == 0) {
		imap_tagged(s, "BAD", "ENABLE needs capability names");
		return;
	}
	buf_puts(&out, "ENABLED");
	for (i = 0; i < cmd->nargs; i++) {
		if (imap_arg_atom_is(&cmd->args[i], "CONDSTORE")) {
			s->condstore = true;
			buf_puts(&out, " CONDSTORE");
		} else if (imap_arg_atom_is(&cmd->args[i], "QRESYNC")) {
			s->condstore = s->qresync = true;
			buf_puts(&out, " QRESYNC");
		} else if (imap_arg_atom_is(&cmd->args[i], "UTF8=ACCEPT")) {
			/*
			 * RFC 6855 3 (RFC 9051 6.3.1): mailbox names in UTF-8
			 * on the wire from now on, no modified UTF-7, and
			 * 8-bit UTF-8 in quoted strings.
			 */
			s->enabled_utf8 = true;
			imap_limits_update(s);
			buf_puts(&out, " UTF8=ACCEPT");
		}
	}
	imap_untagged(s, "%s", out.data);
	buf_free(&out);
	imap_tagged(s, "OK", "ENABLE completed");
}

static void
imap_check_synced(void *arg, int result, const char *error)
{
	struct imap_session	*s = imap_job_session(arg);

	(void)result;
	(void)error;
	if (s == NULL)
		return;
	imap_view_refresh(s, true);
	imap_tagged(s, "OK", "%s completed", s->cmd->name);
	imap_cmd_finish(s);
}

/* CHECK (RFC 3501 6.4.1) and NOOP while selected: sync, report. */
void
imap_cmd_check(struct imap_session *s, struct imap_cmd *cmd)
{
	void	*arg = imap_job_arg(s);

	if (store_mbox_sync(s->store, s->user, s->mbox, imap_check_synced,
	    arg) == 1) {
		imap_busy(s);
		return;
	}
	free(arg);
	imap_view_refresh(s, true);
	imap_tagged(s, "OK", "%s completed", cmd->name);
}

static void
imap_close_done(void *arg, int result, const char *error)
{
	struct imap_session	*s = imap_job_session(arg);

	(void)result;
	(void)error;
	if (s == NULL)
		return;
	imap_unselect(s);
	imap_tagged(s, "OK", "CLOSE completed");
	imap_cmd_finish(s);
}

/* CLOSE expunges silently (RFC 9051 6.4.1); UNSELECT does not. */
void
imap_cmd_close(struct imap_session *s, struct imap_cmd *cmd)
{
	uint32_t	*uids;
	size_t		 i, n = 0;

	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "%s takes no arguments", cmd->name);
		return;
	}
	if (strcmp(cmd->name, "CLOSE") == 0 && !s->readonly) {
		uids = xcalloc(s->nmsgs + 1, sizeof(*uids));
		for (i = 0; i < s->nmsgs; i++)
			if (s->msgs[i].flags & STORE_F_DELETED)
				uids[n++] = s->msgs[i].uid;
		if (n > 0) {
			imap_busy(s);
			store_mbox_expunge(s->store, s->user, s->mbox, uids, n,
			    imap_close_done, imap_job_arg(s));
			free(uids);
			return;
		}
		free(uids);
	}
	imap_unselect(s);
	imap_tagged(s, "OK", "%s completed", cmd->name);
}
