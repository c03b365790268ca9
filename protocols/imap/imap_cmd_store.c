/*
 * imap_cmd_store.c - the commands that change messages: STORE and UID
 * STORE (RFC 9051 6.4.6), EXPUNGE and UID EXPUNGE (6.4.3, RFC 4315 2.1),
 * APPEND with APPENDUID (6.3.12, RFC 4315 3), and COPY/MOVE (6.4.7,
 * RFC 6851), which this slice does not implement yet.  STORE takes the
 * CONDSTORE modifier UNCHANGEDSINCE and answers [MODIFIED] (RFC 7162
 * 3.1.3).
 *
 * Every change is a store job (Maildir names on a worker, the index on
 * the serial lane); the tagged reply comes from its completion.  Owns
 * struct imap_append (one APPEND in flight).  [loop]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conn.h"
#include "imap_private.h"
#include "imap_seqset.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/* A flag list "(\Seen \Flagged)" or flag atoms; -1 on bad syntax. */
static int
imap_flags_parse(const struct imap_arg *a, size_t n, uint32_t *flags_r)
{
	const struct imap_arg	*l = a;
	size_t			 i;

	*flags_r = 0;
	if (n == 1 && a->type == IMAP_ARG_LIST) {
		l = a->list;
		n = a->count;
	}
	for (i = 0; i < n; i++) {
		if (l[i].type != IMAP_ARG_ATOM)
			return -1;
		/* Keywords are accepted and not kept yet. */
		*flags_r |= imap_flag_bit(l[i].str);
	}
	return 0;
}

struct imap_store_op {
	uint32_t	*uids;
	size_t		 n;
	bool		 silent;
	bool		 cond;		/* UNCHANGEDSINCE given */
	uint64_t	 unchangedsince;
	uint32_t	*modified;	/* UIDs that failed it */
	size_t		 nmodified;
};

static void
imap_store_op_free(void *p)
{
	struct imap_store_op	*op = p;

	free(op->uids);
	free(op->modified);
	free(op);
}

static bool
imap_store_modified(const struct imap_store_op *op, uint32_t uid)
{
	size_t	 i;

	for (i = 0; i < op->nmodified; i++)
		if (op->modified[i] == uid)
			return true;
	return false;
}

/* RFC 7162 3.1.3: "OK [MODIFIED set]", UIDs for UID STORE. */
static void
imap_store_modified_reply(struct imap_session *s, struct imap_store_op *op)
{
	struct imap_seqset	*set = imap_seqset_new();
	struct buf		 out = BUF_INIT;
	size_t			 i;
	long			 k;

	for (i = 0; i < op->nmodified; i++) {
		if (s->cmd->uid)
			imap_seqset_add(set, op->modified[i],
			    op->modified[i]);
		else if ((k = imap_view_find(s, op->modified[i])) >= 0)
			imap_seqset_add(set, (uint32_t)k + 1, (uint32_t)k + 1);
	}
	imap_seqset_format(set, &out);
	imap_tagged(s, "OK", "[MODIFIED %s] Conditional STORE failed",
	    out.data != NULL ? out.data : "0");
	buf_free(&out);
	imap_seqset_free(&set);
}

/*
 * The completion argument of a conditional STORE: the store fills
 * modified[] until done runs, so it must outlive the session (which may
 * go away meanwhile); done frees it.
 */
struct imap_store_cond {
	void		*arg;		/* imap_job_arg */
	uint32_t	*modified;
	size_t		 nmodified;
};

static void	imap_store_done(void *, int, const char *);

static void
imap_store_cond_done(void *arg, int result, const char *error)
{
	struct imap_store_cond	*c = arg;
	struct imap_session	*s = imap_session_lookup(*(uint64_t *)c->arg);
	struct imap_store_op	*op;

	if (s != NULL) {
		op = s->op;
		free(op->modified);
		op->modified = c->modified;
		op->nmodified = c->nmodified;
		c->modified = NULL;
	}
	imap_store_done(c->arg, result, error);
	free(c->modified);
	free(c);
}

static void
imap_store_done(void *arg, int result, const char *error)
{
	struct imap_session	*s = imap_job_session(arg);
	struct imap_store_op	*op;
	struct store_view	*v = NULL;
	struct store_msginfo	 mi;
	const char		*err;
	size_t			 i;
	long			 k;

	if (s == NULL)
		return;
	op = s->op;
	if (result != 0) {
		imap_tagged(s, "NO", "[SERVERBUG] %s", error);
		imap_cmd_finish(s);
		return;
	}
	if (op->silent && store_view_open(s->store, s->user, s->mbox, &v,
	    &err) == 1) {
		/*
		 * RFC 9051 6.4.6: .SILENT: no FETCH for what we changed;
		 * with CONDSTORE the new MODSEQ is still sent (RFC 7162
		 * 3.1.3).
		 */
		for (i = 0; i < op->n; i++) {
			if ((k = imap_view_find(s, op->uids[i])) < 0 ||
			    store_view_msg(v, op->uids[i], &mi, &err) != 1)
				continue;
			s->msgs[k].flags = mi.flags;
			if (s->condstore && !imap_store_modified(op,
			    op->uids[i]))
				imap_untagged(s, "%ld FETCH (UID %u MODSEQ "
				    "(%llu))", k + 1, op->uids[i],
				    (unsigned long long)mi.modseq);
		}
		store_view_close(&v);
	}
	imap_view_refresh(s, false);
	if (op->nmodified > 0) {
		imap_store_modified_reply(s, op);
	} else
		imap_tagged(s, "OK", "%s completed", s->cmd->name);
	imap_cmd_finish(s);
}

void
imap_cmd_store(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_store_op	*op;
	enum store_flag_mode	 mode;
	const struct imap_arg	*a = cmd->args;
	const struct imap_arg	*mod = NULL;
	const char		*item;
	uint32_t		 flags;
	size_t			 na = cmd->nargs;
	int			 r;

	/* store-modifiers (RFC 7162 3.1.3): "(UNCHANGEDSINCE n)". */
	if (na >= 4 && a[1].type == IMAP_ARG_LIST) {
		mod = &a[1];
		if (mod->count != 2 ||
		    !imap_arg_atom_is(&mod->list[0], "UNCHANGEDSINCE") ||
		    mod->list[1].type != IMAP_ARG_NUMBER) {
			imap_tagged(s, "BAD", "Invalid STORE modifier");
			return;
		}
		/* Shift: the set, then the item from args[2]. */
		a = &cmd->args[1];
		na--;
	}
	if (na < 3 || a[1].type != IMAP_ARG_ATOM) {
		imap_tagged(s, "BAD", "STORE needs a set, an item and flags");
		return;
	}
	item = a[1].str;
	mode = STORE_FLAGS_REPLACE;
	if (*item == '+' || *item == '-') {
		mode = *item == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		item++;
	}
	if (strcasecmp(item, "FLAGS") != 0 &&
	    strcasecmp(item, "FLAGS.SILENT") != 0) {
		imap_tagged(s, "BAD", "Unknown STORE item");
		return;
	}
	if (imap_flags_parse(&a[2], na - 2, &flags) == -1) {
		imap_tagged(s, "BAD", "Invalid flag list");
		return;
	}
	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	op = xcalloc(1, sizeof(*op));
	op->silent = strcasecmp(item, "FLAGS.SILENT") == 0;
	if (mod != NULL) {
		op->cond = true;
		op->unchangedsince = mod->list[1].num;
		s->condstore = true;	/* a CONDSTORE enabling command */
	}
	if ((r = imap_view_uids(s, &cmd->args[0], cmd->uid, &op->uids,
	    &op->n)) < 0) {
		imap_store_op_free(op);
		imap_tagged(s, "BAD", "%s", r == -2 ?
		    "Message sequence number out of range" :
		    "Invalid sequence set");
		return;
	}
	if (op->n == 0) {
		imap_store_op_free(op);
		imap_tagged(s, "OK", "%s completed", cmd->name);
		return;
	}
	s->op = op;
	s->op_free = imap_store_op_free;
	imap_busy(s);
	if (op->cond) {
		struct imap_store_cond *c = xcalloc(1, sizeof(*c));

		c->arg = imap_job_arg(s);
		c->modified = xcalloc(op->n + 1, sizeof(*c->modified));
		store_mbox_flags_cond(s->store, s->user, s->mbox, op->uids,
		    op->n, mode, flags, op->unchangedsince, c->modified,
		    &c->nmodified, imap_store_cond_done, c);
	} else
		store_mbox_flags(s->store, s->user, s->mbox, op->uids, op->n,
		    mode, flags, imap_store_done, imap_job_arg(s));
}

static void
imap_expunge_done(void *arg, int result, const char *error)
{
	struct imap_session	*s = imap_job_session(arg);

	if (s == NULL)
		return;
	imap_view_refresh(s, true);
	if (result == 0)
		imap_tagged(s, "OK", "%s completed", s->cmd->name);
	else
		imap_tagged(s, "NO", "[SERVERBUG] %s", error);
	imap_cmd_finish(s);
}

void
imap_cmd_expunge(struct imap_session *s, struct imap_cmd *cmd)
{
	struct store_view	*v = NULL;
	struct store_msginfo	*l = NULL;
	uint32_t		*set = NULL, *uids;
	const char		*err;
	size_t			 n = 0, nset = 0, i, k = 0;

	if (cmd->nargs != (cmd->uid ? 1u : 0u)) {
		imap_tagged(s, "BAD", "Wrong number of arguments");
		return;
	}
	if (s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (cmd->uid && imap_view_uids(s, &cmd->args[0], true, &set,
	    &nset) < 0) {
		imap_tagged(s, "BAD", "Invalid UID set");
		return;
	}
	if (store_view_open(s->store, s->user, s->mbox, &v, &err) != 1 ||
	    store_view_messages(v, &l, &n, &err) == -1) {
		store_view_close(&v);
		free(set);
		imap_tagged(s, "NO", "[SERVERBUG] Mailbox not readable");
		return;
	}
	store_view_close(&v);
	uids = xcalloc(n + 1, sizeof(*uids));
	for (i = 0; i < n; i++) {
		if (!(l[i].flags & STORE_F_DELETED) ||
		    imap_view_find(s, l[i].uid) < 0)
			continue;
		if (cmd->uid) {
			size_t j;

			for (j = 0; j < nset && set[j] != l[i].uid; j++)
				;
			if (j == nset)
				continue;
		}
		uids[k++] = l[i].uid;
	}
	free(l);
	free(set);
	if (k == 0) {
		free(uids);
		imap_view_refresh(s, true);
		imap_tagged(s, "OK", "%s completed", cmd->name);
		return;
	}
	imap_busy(s);
	store_mbox_expunge(s->store, s->user, s->mbox, uids, k,
	    imap_expunge_done, imap_job_arg(s));
	free(uids);
}

/* ---- APPEND ---- */

struct imap_append {
	void			*arg;
	struct store_msg	*msg;
	struct store_rcpt	 rcpt;
	char			*account;
	char			*folder;
	char			*flags;
};

static void
imap_append_free(struct imap_append *ap)
{
	store_msg_free(&ap->msg);
	free(ap->account);
	free(ap->folder);
	free(ap->flags);
	free(ap);
}

static void
imap_append_done(void *arg)
{
	struct imap_append	*ap = arg;
	struct imap_session	*s = imap_job_session(ap->arg);

	if (s != NULL) {
		if (ap->rcpt.result == 0 && ap->rcpt.uid != 0)
			imap_tagged(s, "OK", "[APPENDUID %u %u] APPEND "
			    "completed", ap->rcpt.uidvalidity, ap->rcpt.uid);
		else if (ap->rcpt.result == 0)
			imap_tagged(s, "OK", "APPEND completed");
		else if (ap->rcpt.result == -2)
			imap_tagged(s, "NO", "[TRYCREATE] %s", ap->rcpt.error);
		else if (ap->rcpt.error != NULL &&
		    strcmp(ap->rcpt.error, "Mailbox full") == 0)
			/* RFC 9208 section 4.3: the quota response code. */
			imap_tagged(s, "NO", "[OVERQUOTA] %s", ap->rcpt.error);
		else
			imap_tagged(s, "NO", "%s", ap->rcpt.error != NULL ?
			    ap->rcpt.error : "APPEND failed");
		if (s->state == IMAP_S_SELECTED)
			imap_view_refresh(s, false);
		imap_cmd_finish(s);
	}
	imap_append_free(ap);
}

void
imap_cmd_append(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_append	*ap;
	const struct imap_arg	*lit, *fl = NULL;
	struct buf		 flags = BUF_INIT;
	const char		*err;
	char			*name;
	size_t			 i;

	/* mailbox [flag-list] [date-time] literal (RFC 9051 6.3.12). */
	if (cmd->nargs < 2 || cmd->nargs > 4) {
		imap_tagged(s, "BAD", "APPEND needs a mailbox and a message");
		return;
	}
	lit = &cmd->args[cmd->nargs - 1];
	if (lit->type != IMAP_ARG_LITERAL) {
		imap_tagged(s, "BAD", "APPEND needs a literal message");
		return;
	}
	if (cmd->nargs >= 3 && cmd->args[1].type == IMAP_ARG_LIST)
		fl = &cmd->args[1];
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	if (lit->len == 0) {
		free(name);
		imap_tagged(s, "NO", "Empty message");
		return;
	}
	for (i = 0; fl != NULL && i < fl->count; i++) {
		if (fl->list[i].type != IMAP_ARG_ATOM) {
			free(name);
			buf_free(&flags);
			imap_tagged(s, "BAD", "Invalid flag list");
			return;
		}
		buf_printf(&flags, "%s%s", i > 0 ? " " : "", fl->list[i].str);
	}
	/* The date-time argument is ignored: INTERNALDATE is arrival. */
	ap = xcalloc(1, sizeof(*ap));
	ap->account = xstrdup(s->user);
	ap->folder = name;
	ap->flags = flags.data != NULL ? buf_steal(&flags, NULL) : NULL;
	if (store_msg_begin(s->store, &ap->msg, &err) == -1 ||
	    store_msg_write(ap->msg, lit->str, lit->len, &err) == -1) {
		log_warn("%016" PRIx64 " imap append error=\"%s\"", s->id, err);
		imap_append_free(ap);
		imap_tagged(s, "NO", "[SERVERBUG] Cannot store the message");
		return;
	}
	ap->rcpt.account = ap->account;
	ap->rcpt.folder = ap->folder;
	ap->rcpt.flags = ap->flags;
	ap->arg = imap_job_arg(s);
	imap_busy(s);
	store_deliver(s->store, ap->msg, &ap->rcpt, 1, imap_append_done, ap);
}
