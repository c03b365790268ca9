/*
 * imap_cmd_mbox.c - mailbox commands of the authenticated state (RFC 9051
 * 6.3): LIST and LSUB (6.3.9, RFC 3501 6.3.9) with CHILDREN (RFC 3348)
 * and SPECIAL-USE (RFC 6154) attributes, CREATE, DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE and STATUS (6.3.11).  Names are modified UTF-7
 * on the wire (RFC 3501 5.1.3), UTF-8 in the store.
 *
 * Extensions: LIST-EXTENDED (RFC 5258: selection SUBSCRIBED, REMOTE,
 * RECURSIVEMATCH, SPECIAL-USE; return SUBSCRIBED, CHILDREN, SPECIAL-USE;
 * several patterns), LIST-STATUS (RFC 5819, from the same snapshot; no
 * Maildir sync first), CREATE-SPECIAL-USE (RFC 6154 5.2), STATUS=SIZE
 * (RFC 8438) and HIGHESTMODSEQ (RFC 7162 3.1.6), QUOTA (RFC 9208: one
 * root "" per account with the STORAGE resource).
 *
 * LIST reads one index snapshot (store_mailbox_list); the changes go to
 * the store as jobs and answer from their completion.  Owns nothing
 * beyond one command.  [loop]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conn.h"
#include "idx.h"	/* IDX_SU_* bits of store_mailbox.special_use */
#include "imap_private.h"
#include "store.h"
#include "utf7.h"
#include "xmalloc.h"

#define IMAP_SEP	'.'	/* maildir++ separator (store default) */

/* RFC 9051 6.3.9: '*' matches anything, '%' anything but the separator. */
static bool
imap_list_match(const char *pat, const char *name)
{
	for (; *pat != '\0'; pat++, name++) {
		if (*pat == '*' || *pat == '%') {
			for (;; name++) {
				if (imap_list_match(pat + 1, name))
					return true;
				if (*name == '\0' || (*pat == '%' &&
				    *name == IMAP_SEP))
					return false;
			}
		}
		if (*name == '\0' || *pat != *name)
			return false;
	}
	return *name == '\0';
}

static bool
imap_list_match_mbox(const char *pat, const char *name)
{
	char	*p;
	bool	 m;

	/* INBOX is case-insensitive (RFC 9051 5.1), in the pattern too. */
	if (strncasecmp(pat, "INBOX", 5) == 0 && (pat[5] == '\0' ||
	    pat[5] == IMAP_SEP || pat[5] == '*' || pat[5] == '%')) {
		p = xstrdup(pat);
		memcpy(p, "INBOX", 5);
		m = imap_list_match(p, name);
		free(p);
		return m;
	}
	return imap_list_match(pat, name);
}

static void
imap_su_out(uint32_t su, struct buf *out)
{
	static const struct {
		uint32_t	 bit;
		const char	*name;
	} map[] = {
		{ IDX_SU_ALL, "\\All" }, { IDX_SU_ARCHIVE, "\\Archive" },
		{ IDX_SU_DRAFTS, "\\Drafts" }, { IDX_SU_FLAGGED, "\\Flagged" },
		{ IDX_SU_JUNK, "\\Junk" }, { IDX_SU_SENT, "\\Sent" },
		{ IDX_SU_TRASH, "\\Trash" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (su & map[i].bit) {
			buf_putc(out, ' ');
			buf_puts(out, map[i].name);
		}
}

/* Options of one LIST (RFC 5258 3). */
struct imap_list_opts {
	bool		 lsub;
	bool		 extended;	/* any RFC 5258 syntax was used */
	bool		 sel_subscribed;
	bool		 sel_special;
	bool		 recursive;
	bool		 ret_subscribed;
	const struct imap_arg *ret_status;	/* STATUS item list */
};

static int	imap_status_items(struct imap_session *,
		    const struct store_mailbox *, const struct imap_arg *,
		    struct buf *);

static int
imap_list_opts_parse(const struct imap_arg *sel, const struct imap_arg *ret,
    struct imap_list_opts *o)
{
	size_t	 i;

	for (i = 0; sel != NULL && i < sel->count; i++) {
		if (imap_arg_atom_is(&sel->list[i], "SUBSCRIBED"))
			o->sel_subscribed = true;
		else if (imap_arg_atom_is(&sel->list[i], "SPECIAL-USE"))
			o->sel_special = true;
		else if (imap_arg_atom_is(&sel->list[i], "RECURSIVEMATCH"))
			o->recursive = true;
		else if (!imap_arg_atom_is(&sel->list[i], "REMOTE"))
			return -1;
	}
	/* RFC 5258 3.1: RECURSIVEMATCH alone is an error. */
	if (o->recursive && !o->sel_subscribed && !o->sel_special)
		return -1;
	for (i = 0; ret != NULL && i < ret->count; i++) {
		if (imap_arg_atom_is(&ret->list[i], "SUBSCRIBED"))
			o->ret_subscribed = true;
		else if (imap_arg_atom_is(&ret->list[i], "STATUS") &&
		    i + 1 < ret->count &&
		    ret->list[i + 1].type == IMAP_ARG_LIST &&
		    o->ret_status == NULL)
			o->ret_status = &ret->list[++i];
		else if (!imap_arg_atom_is(&ret->list[i], "CHILDREN") &&
		    !imap_arg_atom_is(&ret->list[i], "SPECIAL-USE"))
			return -1;
	}
	return 0;
}

/* Pattern (reference + mailbox pattern) in UTF-8; NULL if undecodable. */
static char *
imap_list_pattern(struct imap_session *s, const char *ref, size_t rlen,
    const char *mp, size_t mlen)
{
	struct buf	 pat = BUF_INIT, dec = BUF_INIT;

	buf_append(&pat, ref, rlen);
	buf_append(&pat, mp, mlen);
	if (pat.data == NULL)
		buf_puts(&pat, "");
	if (s->enabled_utf8)
		return buf_steal(&pat, NULL);
	/* Wildcards are plain ASCII in modified UTF-7. */
	if (utf7_decode(pat.data, pat.len, &dec) == -1) {
		buf_free(&pat);
		buf_free(&dec);
		return NULL;
	}
	buf_free(&pat);
	if (dec.data == NULL)
		buf_puts(&dec, "");
	return buf_steal(&dec, NULL);
}

static bool
imap_list_selected(const struct imap_list_opts *o,
    const struct store_mailbox *mb)
{
	if (o->lsub || o->sel_subscribed)
		if (!mb->subscribed && strcmp(mb->name, "INBOX") != 0)
			return false;
	if (o->sel_special && mb->special_use == 0)
		return false;
	return true;
}

/*
 * LIST, LSUB and the extended LIST (RFC 5258 6):
 *   LIST [(selection-options)] reference (pattern / (patterns))
 *        [RETURN (return-options)]
 */
void
imap_cmd_list(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_list_opts	 o;
	struct store_mailbox	*list = NULL;
	const struct imap_arg	*a = cmd->args, *sel = NULL, *ret = NULL;
	const struct imap_arg	*pats;
	struct buf		 line = BUF_INIT, st = BUF_INIT;
	char			**pv = NULL;
	const char		*ref, *mp, *err, *verb;
	size_t			 na = cmd->nargs, rlen, mlen, n = 0, np, i, k, nl;
	bool			 children, childsel, match;

	memset(&o, 0, sizeof(o));
	o.lsub = strcmp(cmd->name, "LSUB") == 0;
	verb = o.lsub ? "LSUB" : "LIST";
	if (!o.lsub && na >= 1 && a[0].type == IMAP_ARG_LIST) {
		sel = &a[0];
		a++;
		na--;
		o.extended = true;
	}
	if (!o.lsub && na == 4 && imap_arg_atom_is(&a[2], "RETURN") &&
	    a[3].type == IMAP_ARG_LIST) {
		ret = &a[3];
		na -= 2;
		o.extended = true;
	}
	if (na != 2 || !imap_arg_astring(&a[0], &ref, &rlen) ||
	    (a[1].type != IMAP_ARG_LIST &&
	    !imap_arg_astring(&a[1], &mp, &mlen)) ||
	    imap_list_opts_parse(sel, ret, &o) == -1) {
		imap_tagged(s, "BAD", "%s needs a reference and a pattern",
		    verb);
		return;
	}
	if (a[1].type == IMAP_ARG_LIST) {
		pats = a[1].list;
		np = a[1].count;
		o.extended = true;
	} else {
		pats = &a[1];
		np = 1;
	}
	if (np == 1 && imap_arg_astring(&pats[0], &mp, &mlen) && mlen == 0 &&
	    !o.extended) {
		/* RFC 9051 6.3.9: the hierarchy delimiter and root. */
		if (!o.lsub)
			imap_untagged(s, "LIST (\\Noselect) \"%c\" \"\"",
			    IMAP_SEP);
		imap_tagged(s, "OK", "%s completed", verb);
		return;
	}
	pv = xcalloc(np + 1, sizeof(*pv));
	for (i = 0; i < np; i++) {
		if (!imap_arg_astring(&pats[i], &mp, &mlen) ||
		    (pv[i] = imap_list_pattern(s, ref, rlen, mp, mlen)) ==
		    NULL) {
			for (k = 0; k < i; k++)
				free(pv[k]);
			free(pv);
			imap_tagged(s, "OK", "%s completed (bad pattern)", verb);
			return;
		}
	}
	if (store_mailbox_list(s->store, s->user, &list, &n, &err) == -1) {
		for (i = 0; i < np; i++)
			free(pv[i]);
		free(pv);
		imap_tagged(s, "NO", "[SERVERBUG] %s", err);
		return;
	}
	for (i = 0; i < n; i++) {
		for (k = 0, match = false; k < np && !match; k++)
			match = imap_list_match_mbox(pv[k], list[i].name);
		if (!match)
			continue;
		nl = strlen(list[i].name);
		children = childsel = false;
		for (k = 0; k < n; k++) {
			if (strncmp(list[k].name, list[i].name, nl) != 0 ||
			    list[k].name[nl] != IMAP_SEP)
				continue;
			children = true;
			if (imap_list_selected(&o, &list[k]))
				childsel = true;
		}
		if (!imap_list_selected(&o, &list[i])) {
			/* RFC 5258 3.5: a parent of what matched, CHILDINFO. */
			if (!o.recursive || !childsel)
				continue;
		} else
			childsel = false;
		buf_reset(&line);
		buf_printf(&line, "%s (%s", verb, children ? "\\HasChildren" :
		    "\\HasNoChildren");
		if (!o.lsub && list[i].subscribed && (!o.extended ||
		    o.sel_subscribed || o.ret_subscribed))
			buf_puts(&line, " \\Subscribed");
		imap_su_out(list[i].special_use, &line);
		buf_printf(&line, ") \"%c\" ", IMAP_SEP);
		imap_mailbox_out(s, list[i].name, &line);
		if (childsel)
			buf_printf(&line, " (\"CHILDINFO\" (\"%s\"))",
			    o.sel_subscribed ? "SUBSCRIBED" : "SPECIAL-USE");
		imap_untagged(s, "%s", line.data);
		/* RFC 5819: STATUS right after its LIST line. */
		if (o.ret_status != NULL) {
			buf_reset(&st);
			buf_puts(&st, "STATUS ");
			imap_mailbox_out(s, list[i].name, &st);
			buf_puts(&st, " (");
			if (imap_status_items(s, &list[i], o.ret_status,
			    &st) == 0) {
				buf_putc(&st, ')');
				imap_untagged(s, "%s", st.data);
			}
		}
	}
	store_mailbox_list_free(&list, n);
	for (i = 0; i < np; i++)
		free(pv[i]);
	free(pv);
	buf_free(&line);
	buf_free(&st);
	imap_tagged(s, "OK", "%s completed", verb);
}

void
imap_cmd_create(struct imap_session *s, struct imap_cmd *cmd)
{
	char	*name;
	size_t	 len;

	const struct imap_arg	*use = NULL;
	const char		**uses = NULL;

	/* RFC 6154 5.2: CREATE name (USE (\Sent ...)). */
	if (cmd->nargs == 2 && cmd->args[1].type == IMAP_ARG_LIST &&
	    cmd->args[1].count == 2 &&
	    imap_arg_atom_is(&cmd->args[1].list[0], "USE") &&
	    cmd->args[1].list[1].type == IMAP_ARG_LIST)
		use = &cmd->args[1].list[1];
	if (cmd->nargs != 1 && use == NULL) {
		imap_tagged(s, "BAD", "CREATE needs a mailbox name");
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	/* RFC 9051 6.3.4: a trailing separator only names a parent. */
	len = strlen(name);
	if (strcmp(name, "INBOX") == 0) {
		imap_tagged(s, "NO", "[ALREADYEXISTS] INBOX always exists");
		free(name);
		return;
	}
	(void)len;
	if (use != NULL) {
		void	*arg = imap_job_arg(s);

		uses = xcalloc(use->count + 1, sizeof(*uses));
		for (len = 0; len < use->count; len++)
			uses[len] = use->list[len].type == IMAP_ARG_ATOM ?
			    use->list[len].str : "";
		if (store_mbox_create_special(s->store, s->user, name, uses,
		    use->count, imap_job_done_ok, arg) == -1) {
			free(arg);
			imap_tagged(s, "NO", "[USEATTR] Unsupported "
			    "special-use attribute");
		} else
			imap_busy(s);
		free(uses);
		free(name);
		return;
	}
	imap_busy(s);
	store_mbox_create(s->store, s->user, name, imap_job_done_ok,
	    imap_job_arg(s));
	free(name);
}

void
imap_cmd_delete(struct imap_session *s, struct imap_cmd *cmd)
{
	char	*name;

	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD", "DELETE needs a mailbox name");
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	if (strcmp(name, "INBOX") == 0) {
		imap_tagged(s, "NO", "[CANNOT] INBOX cannot be deleted");
		free(name);
		return;
	}
	if (s->mbox != NULL && strcmp(s->mbox, name) == 0)
		imap_unselect(s);
	imap_busy(s);
	store_mbox_delete(s->store, s->user, name, imap_job_done_ok,
	    imap_job_arg(s));
	free(name);
}

/*
 * RENAME INBOX (RFC 3501 6.3.5, RFC 9051 6.3.6): every message of INBOX
 * moves to the new mailbox, which is created; INBOX stays, empty.  A
 * CREATE job, then the index snapshot of INBOX, then one MOVE job
 * (store_copy), so messages keep their files, flags and keywords.  Mail
 * delivered meanwhile stays in INBOX.  s->op holds the target name.
 */
static void
imap_rename_inbox_moved(void *arg, const struct store_copy_result *res)
{
	struct imap_session	*s = imap_job_session(arg);

	if (s == NULL)
		return;
	if (res->result == 0)
		imap_tagged(s, "OK", "RENAME completed");
	else
		imap_tagged(s, "NO", "%s%s", res->result == -1 ?
		    "[SERVERBUG] " : "", res->error != NULL ? res->error :
		    "Failed");
	if (s->state == IMAP_S_SELECTED && strcmp(s->mbox, "INBOX") == 0)
		s->changed = true;
	imap_cmd_finish(s);
}

static void
imap_rename_inbox_created(void *arg, int result, const char *error)
{
	struct imap_session	*s = imap_job_session(arg);
	struct store_view	*v = NULL;
	struct store_msginfo	*list = NULL;
	const char		*err;
	uint32_t		*uids;
	size_t			 n = 0, i;

	if (s == NULL)
		return;
	if (result != 0) {
		imap_tagged(s, "NO", "%s%s", result == -2 ?
		    "[ALREADYEXISTS] " : "[SERVERBUG] ", error != NULL ?
		    error : "Cannot create the mailbox");
		imap_cmd_finish(s);
		return;
	}
	if (store_view_open(s->store, s->user, "INBOX", &v, &err) != 1 ||
	    store_view_messages(v, &list, &n, &err) == -1) {
		store_view_close(&v);
		imap_tagged(s, "NO", "[SERVERBUG] INBOX not readable");
		imap_cmd_finish(s);
		return;
	}
	store_view_close(&v);
	if (n == 0) {
		free(list);
		imap_tagged(s, "OK", "RENAME completed");
		imap_cmd_finish(s);
		return;
	}
	uids = xcalloc(n, sizeof(*uids));
	for (i = 0; i < n; i++)
		uids[i] = list[i].uid;
	free(list);
	store_copy(s->store, s->user, "INBOX", s->op, uids, n, true, NULL,
	    imap_rename_inbox_moved, imap_job_arg(s));
	free(uids);
}

void
imap_cmd_rename(struct imap_session *s, struct imap_cmd *cmd)
{
	char	*from, *to;

	if (cmd->nargs != 2) {
		imap_tagged(s, "BAD", "RENAME needs two mailbox names");
		return;
	}
	if ((from = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	if ((to = imap_mailbox_arg(s, &cmd->args[1])) == NULL) {
		free(from);
		return;
	}
	if (strcmp(to, "INBOX") == 0) {
		/* RFC 9051 6.3.6: the target must not exist; INBOX does. */
		imap_tagged(s, "NO", "[ALREADYEXISTS] INBOX exists");
		free(to);
	} else if (strcmp(from, "INBOX") == 0) {
		imap_busy(s);
		s->op = to;
		s->op_free = free;
		store_mbox_create(s->store, s->user, to,
		    imap_rename_inbox_created, imap_job_arg(s));
	} else {
		imap_busy(s);
		store_mbox_rename(s->store, s->user, from, to,
		    imap_job_done_ok, imap_job_arg(s));
		free(to);
	}
	free(from);
}

void
imap_cmd_subscribe(struct imap_session *s, struct imap_cmd *cmd)
{
	char	*name;

	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD", "%s needs a mailbox name", cmd->name);
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	imap_busy(s);
	store_mbox_subscribe(s->store, s->user, name,
	    strcmp(cmd->name, "SUBSCRIBE") == 0, imap_job_done_ok,
	    imap_job_arg(s));
	free(name);
}

/* ---- STATUS (RFC 9051 6.3.11) ---- */

/* The status-att-val list of one mailbox; -1 on an unknown item. */
static int
imap_status_items(struct imap_session *s, const struct store_mailbox *mb,
    const struct imap_arg *items, struct buf *out)
{
	size_t	 i;

	for (i = 0; i < items->count; i++) {
		const struct imap_arg *a = &items->list[i];

		if (i > 0)
			buf_putc(out, ' ');
		if (imap_arg_atom_is(a, "MESSAGES"))
			buf_printf(out, "MESSAGES %u", mb->messages);
		else if (imap_arg_atom_is(a, "UIDNEXT"))
			buf_printf(out, "UIDNEXT %u", mb->uidnext);
		else if (imap_arg_atom_is(a, "UIDVALIDITY"))
			buf_printf(out, "UIDVALIDITY %u", mb->uidvalidity);
		else if (imap_arg_atom_is(a, "UNSEEN"))
			buf_printf(out, "UNSEEN %u", mb->unseen);
		else if (imap_arg_atom_is(a, "RECENT"))
			buf_puts(out, "RECENT 0");
		else if (imap_arg_atom_is(a, "SIZE"))	/* RFC 8438 */
			buf_printf(out, "SIZE %llu",
			    (unsigned long long)mb->size);
		else if (imap_arg_atom_is(a, "DELETED"))
			buf_puts(out, "DELETED 0");
		else if (imap_arg_atom_is(a, "HIGHESTMODSEQ")) {
			/* RFC 7162 3.1.6, a CONDSTORE enabling item. */
			s->condstore = true;
			buf_printf(out, "HIGHESTMODSEQ %llu",
			    (unsigned long long)mb->highestmodseq);
		} else
			return -1;
	}
	return 0;
}

static void
imap_status_reply(struct imap_session *s)
{
	struct imap_cmd			*cmd = s->cmd;
	struct store_view		*v = NULL;
	const struct store_mailbox	*mb;
	const struct imap_arg		*items = &cmd->args[1];
	struct buf			 out = BUF_INIT;
	const char			*err = "Mailbox does not exist";
	char				*name = s->op;
	int				 r;

	r = store_view_open(s->store, s->user, name, &v, &err);
	if (r != 1) {
		imap_tagged(s, "NO", "%s%s", r == 0 ? "[NONEXISTENT] " : "",
		    err);
		return;
	}
	mb = store_view_mailbox(v);
	buf_puts(&out, "STATUS ");
	imap_mailbox_out(s, name, &out);
	buf_puts(&out, " (");
	if (imap_status_items(s, mb, items, &out) == -1) {
		store_view_close(&v);
		buf_free(&out);
		imap_tagged(s, "BAD", "Unknown STATUS item");
		return;
	}
	buf_putc(&out, ')');
	store_view_close(&v);
	imap_untagged(s, "%s", out.data);
	buf_free(&out);
	imap_tagged(s, "OK", "STATUS completed");
}

static void
imap_status_synced(void *arg, int result, const char *error)
{
	struct imap_session	*s = imap_job_session(arg);

	(void)result;
	(void)error;
	if (s == NULL)
		return;
	imap_status_reply(s);
	imap_cmd_finish(s);
}

void
imap_cmd_status(struct imap_session *s, struct imap_cmd *cmd)
{
	char	*name;
	void	*arg;

	if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_LIST ||
	    cmd->args[1].count == 0) {
		imap_tagged(s, "BAD", "STATUS needs a mailbox and items");
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	s->op = name;
	s->op_free = free;
	arg = imap_job_arg(s);
	if (store_mbox_sync(s->store, s->user, name, imap_status_synced,
	    arg) == 1) {
		imap_busy(s);
		return;
	}
	free(arg);
	imap_status_reply(s);
	free(s->op);
	s->op = NULL;
	s->op_free = NULL;
}

/* ---- QUOTA (RFC 9208) ---- */

/* "* QUOTA "" (STORAGE used limit)" in KiB (RFC 9208 5.1). */
static void
imap_quota_line(struct imap_session *s, uint64_t used, uint64_t limit)
{
	imap_untagged(s, "QUOTA \"\" (STORAGE %llu %llu)",
	    (unsigned long long)((used + 1023) / 1024),
	    (unsigned long long)(limit / 1024));
}

/*
 * GETQUOTAROOT mailbox (4.3.2), GETQUOTA root (4.3.1), SETQUOTA (4.3.3,
 * refused: limits come from the configuration).  One root "" per
 * account; without a configured limit the account has no quota root.
 */
void
imap_cmd_getquota(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf	 line = BUF_INIT;
	const char	*err, *root;
	char		*name;
	size_t		 rlen;
	uint64_t	 used, limit;

	if (strcmp(cmd->name, "SETQUOTA") == 0) {
		imap_tagged(s, "NO", "[CANNOT] Quota limits are set in the "
		    "server configuration");
		return;
	}
	if (cmd->nargs != 1) {
		imap_tagged(s, "BAD", "%s needs one argument", cmd->name);
		return;
	}
	if (store_mbox_quota(s->store, s->user, &used, &limit, &err) == -1) {
		imap_tagged(s, "NO", "[SERVERBUG] %s", err);
		return;
	}
	if (strcmp(cmd->name, "GETQUOTA") == 0) {
		if (!imap_arg_astring(&cmd->args[0], &root, &rlen) ||
		    rlen != 0 || limit == 0) {
			imap_tagged(s, "NO", "[NONEXISTENT] No such quota root");
			return;
		}
		imap_quota_line(s, used, limit);
		imap_tagged(s, "OK", "GETQUOTA completed");
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[0])) == NULL)
		return;
	buf_puts(&line, "QUOTAROOT ");
	imap_mailbox_out(s, name, &line);
	if (limit != 0)
		buf_puts(&line, " \"\"");
	imap_untagged(s, "%s", line.data);
	if (limit != 0)
		imap_quota_line(s, used, limit);
	buf_free(&line);
	free(name);
	imap_tagged(s, "OK", "GETQUOTAROOT completed");
}
