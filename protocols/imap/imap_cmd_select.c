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
 * Owns the session's view and its store watch.  [loop]
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
	const char		*err;
	size_t			 n = 0, i, j, k, old;

	if (s->mbox == NULL)
		return;
	s->changed = false;
	if (store_view_open(s->store, s->user, s->mbox, &v, &err) != 1) {
		/* Deleted under us (RFC 9051 7.1.5 would be BYE; be mild). */
		return;
	}
	if (store_view_messages(v, &l, &n, &err) == -1) {
		store_view_close(&v);
		log_warn("%016" PRIx64 " imap view error=\"%s\"", s->id, err);
		return;
	}
	s->uidnext = store_view_mailbox(v)->uidnext;
	store_view_close(&v);
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
			imap_untagged(s, "%zu EXPUNGE", i);
			memmove(&s->msgs[i - 1], &s->msgs[i],
			    (s->nmsgs - i) * sizeof(*s->msgs));
			s->nmsgs--;
		}
	}
	/* Flag changes of messages we show, then new arrivals. */
	old = s->nmsgs;
	for (i = 0, j = 0; i < n; i++) {
		while (j < s->nmsgs && s->msgs[j].uid < l[i].uid)
			j++;
		if (j < s->nmsgs && s->msgs[j].uid == l[i].uid) {
			if (s->msgs[j].flags != l[i].flags) {
				s->msgs[j].flags = l[i].flags;
				buf_reset(&fl);
				imap_flags_out(l[i].flags, &fl);
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
		s->nmsgs++;
		j = s->nmsgs;
	}
	if (s->nmsgs != old) {
		imap_untagged(s, "%zu EXISTS", s->nmsgs);
		imap_untagged(s, "0 RECENT");
	}
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
		imap_seqset_free(&set);
		return -1;
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

static void
imap_select_reply(struct imap_session *s)
{
	struct store_view	*v = NULL;
	struct store_msginfo	*l = NULL;
	struct imap_cmd		*cmd = s->cmd;
	const char		*err = "Mailbox does not exist";
	char			*name = s->op;
	size_t			 n = 0, i;
	uint32_t		 unseen = 0;
	int			 r;

	r = store_view_open(s->store, s->user, name, &v, &err);
	if (r != 1 || store_view_messages(v, &l, &n, &err) == -1) {
		store_view_close(&v);
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
	imap_untagged(s, "FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft)");
	imap_untagged(s, "OK [PERMANENTFLAGS (%s)] Limited",
	    s->readonly ? "" : "\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft");
	imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
	    (unsigned long long)store_view_mailbox(v)->highestmodseq);
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

void
imap_cmd_select(struct imap_session *s, struct imap_cmd *cmd)
{
	char	*name;
	void	*arg;
	int	 r;

	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD", "%s needs a mailbox name", cmd->name);
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	/* RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected. */
	if (s->state == IMAP_S_SELECTED) {
		imap_unselect(s);
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	s->op = name;
	s->op_free = free;
	arg = imap_job_arg(s);
	r = store_mbox_sync(s->store, s->user, name, imap_select_synced, arg);
	if (r == 1) {
		imap_busy(s);
		return;
	}
	free(arg);
	imap_select_reply(s);
	free(s->op);
	s->op = NULL;
	s->op_free = NULL;
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
