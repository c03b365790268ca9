/*
 * imap_cmd_store.c - the commands that change messages: STORE and UID
 * STORE (RFC 9051 6.4.6), EXPUNGE and UID EXPUNGE (6.4.3, RFC 4315 2.1),
 * APPEND with APPENDUID (6.3.12, RFC 4315 3).  STORE takes the
 * CONDSTORE modifier UNCHANGEDSINCE and answers [MODIFIED] (RFC 7162
 * 3.1.3), and keywords (2.3.2) beside the system flags; one that would
 * take the mailbox past its keyword limit gets NO [LIMIT] (RFC 5530).
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
#include "loop.h"
#include "store.h"
#include "xmalloc.h"

/*
 * flag-keyword (RFC 9051 9): "$MDNSent" / "$Forwarded" / ... / atom,
 * where an atom has no atom-specials: "(" ")" "{" SP CTL "%" "*" '"'
 * "\" "]".
 */
static bool
imap_keyword_ok(const char *k, size_t len)
{
	size_t	 i;

	if (len == 0 || len > STORE_KEYWORD_LEN_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] >= 0x7f ||
		    strchr("(){%*\"\\]", k[i]) != NULL)
			return false;
	return true;
}

/*
 * A flag list "(\Seen $Junk)" or flag atoms: system flags into
 * *flags_r, keywords (pointers into the arguments, each once) into
 * kw_r[0..*nkw_r), which has room for max.  -1 on bad syntax, -2 if
 * there are more than max distinct keywords.
 */
static int
imap_flags_parse(const struct imap_arg *a, size_t n, uint32_t *flags_r,
    const char **kw_r, size_t *nkw_r, size_t max)
{
	const struct imap_arg	*l = a;
	size_t			 i, k;
	uint32_t		 bit;

	*flags_r = 0;
	*nkw_r = 0;
	if (n == 1 && a->type == IMAP_ARG_LIST) {
		l = a->list;
		n = a->count;
	}
	for (i = 0; i < n; i++) {
		if (l[i].type != IMAP_ARG_ATOM)
			return -1;
		if (l[i].str[0] == '\\') {
			/* \Recent cannot be changed (RFC 3501 2.3.2). */
			if ((bit = imap_flag_bit(l[i].str)) == 0 &&
			    strcasecmp(l[i].str, "\\Recent") != 0)
				return -1;
			*flags_r |= bit;
			continue;
		}
		if (!imap_keyword_ok(l[i].str, l[i].len))
			return -1;
		for (k = 0; k < *nkw_r; k++)
			if (strcasecmp(kw_r[k], l[i].str) == 0)
				break;
		if (k < *nkw_r)
			continue;
		if (*nkw_r == max)
			return -2;
		kw_r[(*nkw_r)++] = l[i].str;
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
	if (result == -2 && error != NULL &&
	    strcmp(error, STORE_ERR_KEYWORDS) == 0) {
		/* RFC 5530 3: a limit of the server, not a bug. */
		imap_tagged(s, "NO", "[LIMIT] %s", error);
		imap_cmd_finish(s);
		return;
	}
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
			s->msgs[k].keywords = mi.keywords;
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
	struct store_flag_change fc;
	enum store_flag_mode	 mode;
	const struct imap_arg	*a = cmd->args;
	const struct imap_arg	*mod = NULL;
	const char		*item;
	const char		*kw[STORE_MBOX_KEYWORDS_MAX];
	uint32_t		 flags;
	size_t			 na = cmd->nargs, nkw;
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
	r = imap_flags_parse(&a[2], na - 2, &flags, kw, &nkw,
	    STORE_MBOX_KEYWORDS_MAX);
	if (r == -1) {
		imap_tagged(s, "BAD", "Invalid flag list");
		return;
	}
	if (r == -2 && mode != STORE_FLAGS_REMOVE) {
		imap_tagged(s, "NO", "[LIMIT] %s", STORE_ERR_KEYWORDS);
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
	/* The store copies the keywords: they point into cmd's args. */
	memset(&fc, 0, sizeof(fc));
	fc.mode = mode;
	fc.flags = flags;
	fc.keywords = kw;
	fc.nkeywords = nkw;
	if (op->cond) {
		struct imap_store_cond *c = xcalloc(1, sizeof(*c));

		c->arg = imap_job_arg(s);
		c->modified = xcalloc(op->n + 1, sizeof(*c->modified));
		fc.cond = true;
		fc.unchangedsince = op->unchangedsince;
		fc.modified_r = c->modified;
		fc.nmodified_r = &c->nmodified;
		store_mbox_flags_change(s->store, s->user, s->mbox, op->uids,
		    op->n, &fc, imap_store_cond_done, c);
	} else
		store_mbox_flags_change(s->store, s->user, s->mbox, op->uids,
		    op->n, &fc, imap_store_done, imap_job_arg(s));
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

/*
 * ---- APPEND and MULTIAPPEND (RFC 9051 6.3.12, RFC 3502) ----
 * The messages are spooled at once and delivered one after the other
 * (each durable before the next).  RFC 3502 3: all or none, so when one
 * fails those already delivered are expunged again before the NO.
 */
#define IMAP_APPEND_MAX		1000	/* messages in one MULTIAPPEND */

struct imap_append_msg {
	struct store_msg	*msg;
	struct store_rcpt	 rcpt;
	char			*flags;
};

struct imap_append {
	void			*arg;		/* session id */
	char			*account;
	char			*folder;
	struct imap_append_msg	*m;
	size_t			 n, pos;
	uint32_t		*uids;		/* delivered so far */
	int			 result;	/* of the failed delivery */
	char			*error;
};

static void	imap_append_next(struct imap_session *, struct imap_append *);

static void
imap_append_free(struct imap_append *ap)
{
	size_t	 i;

	for (i = 0; i < ap->n; i++) {
		store_msg_free(&ap->m[i].msg);
		free(ap->m[i].flags);
	}
	free(ap->m);
	free(ap->uids);
	free(ap->account);
	free(ap->folder);
	free(ap->error);
	free(ap->arg);
	free(ap);
}

static void
imap_append_reply(struct imap_session *s, struct imap_append *ap)
{
	struct buf	 set = BUF_INIT;
	size_t		 i, k;

	if (ap->result == 0 && ap->n > 0 && ap->uids[ap->n - 1] != 0) {
		/* RFC 4315 3: APPENDUID with a uid-set for MULTIAPPEND. */
		for (i = 0; i < ap->n; i = k + 1) {
			for (k = i; k + 1 < ap->n &&
			    ap->uids[k + 1] == ap->uids[k] + 1; k++)
				;
			buf_printf(&set, "%s%u", i > 0 ? "," : "",
			    ap->uids[i]);
			if (k > i)
				buf_printf(&set, ":%u", ap->uids[k]);
		}
		imap_tagged(s, "OK", "[APPENDUID %u %s] APPEND completed",
		    ap->m[ap->n - 1].rcpt.uidvalidity, set.data);
		buf_free(&set);
	} else if (ap->result == 0)
		imap_tagged(s, "OK", "APPEND completed");
	else if (ap->result == -2)
		imap_tagged(s, "NO", "[TRYCREATE] %s", ap->error);
	else if (ap->error != NULL && strcmp(ap->error, "Mailbox full") == 0)
		/* RFC 9208 section 4.3: the quota response code. */
		imap_tagged(s, "NO", "[OVERQUOTA] %s", ap->error);
	else
		imap_tagged(s, "NO", "%s", ap->error != NULL ? ap->error :
		    "APPEND failed");
	if (s->state == IMAP_S_SELECTED)
		imap_view_refresh(s, false);
	imap_cmd_finish(s);
}

/* The rollback of a failed MULTIAPPEND is done: answer NO. */
static void
imap_append_undone(void *arg, int result, const char *error)
{
	struct imap_append	*ap = arg;
	struct imap_session	*s;

	(void)error;
	if (result != 0)
		log_warn("%016" PRIx64 " imap multiappend rollback failed",
		    *(uint64_t *)ap->arg);
	if ((s = imap_session_lookup(*(uint64_t *)ap->arg)) != NULL)
		imap_append_reply(s, ap);
	imap_append_free(ap);
}

static void
imap_append_done(void *arg)
{
	struct imap_append	*ap = arg;
	struct imap_append_msg	*m = &ap->m[ap->pos];
	struct imap_session	*s = imap_session_lookup(*(uint64_t *)ap->arg);

	store_msg_free(&m->msg);
	if (m->rcpt.result == 0 && s != NULL) {
		ap->uids[ap->pos++] = m->rcpt.uid;
		if (ap->pos < ap->n) {
			imap_append_next(s, ap);
			return;
		}
		imap_append_reply(s, ap);
		imap_append_free(ap);
		return;
	}
	if (m->rcpt.result == 0)	/* the client left: undo this one too */
		ap->uids[ap->pos++] = m->rcpt.uid;
	ap->result = m->rcpt.result != 0 ? m->rcpt.result : -1;
	ap->error = xstrdup(m->rcpt.error != NULL ? m->rcpt.error :
	    "APPEND failed");
	if (ap->pos > 0 && ap->uids[0] != 0) {
		store_mbox_expunge(loop_shared()->store, ap->account,
		    ap->folder, ap->uids, ap->pos, imap_append_undone, ap);
		return;
	}
	if (s != NULL)
		imap_append_reply(s, ap);
	imap_append_free(ap);
}

static void
imap_append_next(struct imap_session *s, struct imap_append *ap)
{
	store_deliver(s->store, ap->m[ap->pos].msg, &ap->m[ap->pos].rcpt, 1,
	    imap_append_done, ap);
}

/*
 * RFC 6855 4: append-data = literal / "UTF8" SP "(" literal8 ")"; the
 * message, or NULL.
 */
static const struct imap_arg *
imap_append_data(const struct imap_cmd *cmd, size_t i)
{
	const struct imap_arg	*a = &cmd->args[i];

	if (a->type == IMAP_ARG_LITERAL)
		return a;
	if (a->type == IMAP_ARG_ATOM && strcasecmp(a->str, "UTF8") == 0 &&
	    i + 1 < cmd->nargs && cmd->args[i + 1].type == IMAP_ARG_LIST &&
	    cmd->args[i + 1].count == 1 &&
	    cmd->args[i + 1].list[0].type == IMAP_ARG_LITERAL)
		return &cmd->args[i + 1].list[0];
	return NULL;
}

/* One message: [flag-list] [date-time] append-data; *i moves past it. */
static int
imap_append_parse_one(struct imap_session *s, struct imap_cmd *cmd,
    size_t *i, struct imap_append_msg *m)
{
	const struct imap_arg	*a;
	struct buf		 flags = BUF_INIT;
	const char		*err;
	size_t			 k;

	a = &cmd->args[*i];
	if (a->type == IMAP_ARG_LIST) {
		for (k = 0; k < a->count; k++) {
			if (a->list[k].type != IMAP_ARG_ATOM) {
				buf_free(&flags);
				imap_tagged(s, "BAD", "Invalid flag list");
				return -1;
			}
			buf_printf(&flags, "%s%s", k > 0 ? " " : "",
			    a->list[k].str);
		}
		if (++*i >= cmd->nargs)
			goto bad;
		a = &cmd->args[*i];
	}
	/* The date-time argument is ignored: INTERNALDATE is arrival. */
	if ((a->type == IMAP_ARG_STRING || a->type == IMAP_ARG_ATOM) &&
	    imap_append_data(cmd, *i) == NULL) {
		if (++*i >= cmd->nargs)
			goto bad;
		a = &cmd->args[*i];
	}
	if ((a = imap_append_data(cmd, *i)) == NULL)
		goto bad;
	*i += a == &cmd->args[*i] ? 1 : 2;
	if (a->len == 0) {
		buf_free(&flags);
		imap_tagged(s, "NO", "Empty message");
		return -1;
	}
	m->flags = flags.data != NULL ? buf_steal(&flags, NULL) : NULL;
	if (store_msg_begin(s->store, &m->msg, &err) == -1 ||
	    store_msg_write(m->msg, a->str, a->len, &err) == -1) {
		log_warn("%016" PRIx64 " imap append error=\"%s\"", s->id, err);
		imap_tagged(s, "NO", "[SERVERBUG] Cannot store the message");
		return -1;
	}
	return 0;
bad:
	buf_free(&flags);
	imap_tagged(s, "BAD", "APPEND needs a literal message");
	return -1;
}

void
imap_cmd_append(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_append	*ap;
	char			*name;
	size_t			 i, k;

	/* mailbox 1*([flag-list] [date-time] literal) (RFC 3502 6). */
	if (cmd->nargs < 2) {
		imap_tagged(s, "BAD", "APPEND needs a mailbox and a message");
		return;
	}
	for (i = 1, k = 0; i < cmd->nargs; i++)
		if (imap_append_data(cmd, i) != NULL)
			k++;
	if (k == 0 || k > IMAP_APPEND_MAX ||
	    (cmd->args[cmd->nargs - 1].type != IMAP_ARG_LITERAL &&
	    imap_append_data(cmd, cmd->nargs - 2) == NULL)) {
		imap_tagged(s, "BAD", k > IMAP_APPEND_MAX ? "Too many "
		    "messages" : "APPEND needs a literal message");
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	ap = xcalloc(1, sizeof(*ap));
	ap->account = xstrdup(s->user);
	ap->folder = name;
	ap->m = xcalloc(k, sizeof(*ap->m));
	ap->uids = xcalloc(k, sizeof(*ap->uids));
	for (i = 1; i < cmd->nargs; ap->n++) {
		if (imap_append_parse_one(s, cmd, &i, &ap->m[ap->n]) == -1) {
			ap->n++;
			imap_append_free(ap);
			return;
		}
	}
	for (i = 0; i < ap->n; i++) {
		ap->m[i].rcpt.account = ap->account;
		ap->m[i].rcpt.folder = ap->folder;
		ap->m[i].rcpt.flags = ap->m[i].flags;
	}
	ap->arg = imap_job_arg(s);
	imap_busy(s);
	imap_append_next(s, ap);
}
