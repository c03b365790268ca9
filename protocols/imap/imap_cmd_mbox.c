/*
 * imap_cmd_mbox.c - mailbox commands of the authenticated state (RFC 9051
 * 6.3): LIST and LSUB (6.3.9, RFC 3501 6.3.9) with CHILDREN (RFC 3348)
 * and SPECIAL-USE (RFC 6154) attributes, CREATE, DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE and STATUS (6.3.11).  Names are modified UTF-7
 * on the wire (RFC 3501 5.1.3), UTF-8 in the store.
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

void
imap_cmd_list(struct imap_session *s, struct imap_cmd *cmd)
{
	struct store_mailbox	*list = NULL;
	struct buf		 pat = BUF_INIT, line = BUF_INIT;
	const char		*ref, *mp, *err, *verb;
	size_t			 rlen, mlen, n = 0, i, k, nl;
	bool			 lsub = strcmp(cmd->name, "LSUB") == 0;
	bool			 children;

	verb = lsub ? "LSUB" : "LIST";
	if (cmd->nargs != 2 || !imap_arg_astring(&cmd->args[0], &ref, &rlen) ||
	    !imap_arg_astring(&cmd->args[1], &mp, &mlen)) {
		imap_tagged(s, "BAD", "%s needs a reference and a pattern",
		    verb);
		return;
	}
	if (mlen == 0) {
		/* RFC 9051 6.3.9: the hierarchy delimiter and root. */
		if (!lsub)
			imap_untagged(s, "LIST (\\Noselect) \"%c\" \"\"",
			    IMAP_SEP);
		imap_tagged(s, "OK", "%s completed", verb);
		return;
	}
	buf_append(&pat, ref, rlen);
	buf_append(&pat, mp, mlen);
	if (!s->enabled_utf8) {
		/* Decode the pattern; wildcards are plain ASCII in UTF-7. */
		buf_init(&line, 0);
		if (utf7_decode(pat.data, pat.len, &line) == -1) {
			buf_free(&pat);
			buf_free(&line);
			imap_tagged(s, "OK", "%s completed (bad pattern "
			    "encoding)", verb);
			return;
		}
		buf_free(&pat);
		pat = line;
		memset(&line, 0, sizeof(line));
		if (pat.data == NULL)
			buf_puts(&pat, "");
	}
	if (store_mailbox_list(s->store, s->user, &list, &n, &err) == -1) {
		buf_free(&pat);
		imap_tagged(s, "NO", "[SERVERBUG] %s", err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!imap_list_match_mbox(pat.data, list[i].name))
			continue;
		if (lsub && !list[i].subscribed &&
		    strcmp(list[i].name, "INBOX") != 0)
			continue;
		nl = strlen(list[i].name);
		children = false;
		for (k = 0; k < n && !children; k++)
			children = strncmp(list[k].name, list[i].name, nl) ==
			    0 && list[k].name[nl] == IMAP_SEP;
		buf_reset(&line);
		buf_printf(&line, "%s (%s", verb, children ? "\\HasChildren" :
		    "\\HasNoChildren");
		if (!lsub && list[i].subscribed)
			buf_puts(&line, " \\Subscribed");
		imap_su_out(list[i].special_use, &line);
		buf_printf(&line, ") \"%c\" ", IMAP_SEP);
		imap_mailbox_out(s, list[i].name, &line);
		imap_untagged(s, "%s", line.data);
	}
	store_mailbox_list_free(&list, n);
	buf_free(&pat);
	buf_free(&line);
	imap_tagged(s, "OK", "%s completed", verb);
}

void
imap_cmd_create(struct imap_session *s, struct imap_cmd *cmd)
{
	char	*name;
	size_t	 len;

	if (cmd->nargs != 1) {
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
	if (strcmp(from, "INBOX") == 0 || strcmp(to, "INBOX") == 0) {
		/* RFC 9051 6.3.6 INBOX move: not implemented yet. */
		imap_tagged(s, "NO", "[CANNOT] Renaming INBOX is not "
		    "supported");
	} else {
		imap_busy(s);
		store_mbox_rename(s->store, s->user, from, to,
		    imap_job_done_ok, imap_job_arg(s));
	}
	free(from);
	free(to);
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
	size_t				 i;
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
	for (i = 0; i < items->count; i++) {
		const struct imap_arg *a = &items->list[i];

		if (i > 0)
			buf_putc(&out, ' ');
		if (imap_arg_atom_is(a, "MESSAGES"))
			buf_printf(&out, "MESSAGES %u", mb->messages);
		else if (imap_arg_atom_is(a, "UIDNEXT"))
			buf_printf(&out, "UIDNEXT %u", mb->uidnext);
		else if (imap_arg_atom_is(a, "UIDVALIDITY"))
			buf_printf(&out, "UIDVALIDITY %u", mb->uidvalidity);
		else if (imap_arg_atom_is(a, "UNSEEN"))
			buf_printf(&out, "UNSEEN %u", mb->unseen);
		else if (imap_arg_atom_is(a, "RECENT"))
			buf_puts(&out, "RECENT 0");
		else if (imap_arg_atom_is(a, "SIZE"))
			buf_printf(&out, "SIZE %llu",
			    (unsigned long long)mb->size);
		else if (imap_arg_atom_is(a, "DELETED"))
			buf_puts(&out, "DELETED 0");
		else if (imap_arg_atom_is(a, "HIGHESTMODSEQ"))
			buf_printf(&out, "HIGHESTMODSEQ %llu",
			    (unsigned long long)mb->highestmodseq);
		else {
			store_view_close(&v);
			buf_free(&out);
			imap_tagged(s, "BAD", "Unknown STATUS item");
			return;
		}
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
