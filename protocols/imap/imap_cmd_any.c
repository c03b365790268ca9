/*
 * imap_cmd_any.c - the commands valid in any state and the small
 * authenticated ones: CAPABILITY, NOOP, LOGOUT (RFC 9051 6.1), ID
 * (RFC 2971), ENABLE (RFC 5161) and NAMESPACE (RFC 2342, RFC 9051 6.3.10).
 * Owns nothing.  [loop]
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "imap_private.h"
#include "xmalloc.h"

void
imap_cmd_capability(struct imap_session *s, struct imap_cmd *cmd)
{
	struct buf	 cap = BUF_INIT;

	(void)cmd;
	imap_capability_line(s, &cap);
	imap_untagged(s, "CAPABILITY %s", cap.data);
	buf_free(&cap);
	imap_tagged(s, "OK", "CAPABILITY completed");
}

void
imap_cmd_noop(struct imap_session *s, struct imap_cmd *cmd)
{
	/* RFC 9051 6.1.2: a chance to report mailbox changes. */
	if (s->state == IMAP_S_SELECTED) {
		imap_cmd_check(s, cmd);
		return;
	}
	imap_tagged(s, "OK", "NOOP completed");
}

void
imap_cmd_logout(struct imap_session *s, struct imap_cmd *cmd)
{
	(void)cmd;
	imap_untagged(s, "BYE Logging out");
	imap_tagged(s, "OK", "LOGOUT completed");
	imap_close(s);
}

void
imap_cmd_id(struct imap_session *s, struct imap_cmd *cmd)
{
	/* RFC 2971 3.1: the argument is a list or NIL; we only answer. */
	if (cmd->nargs != 1 || (cmd->args[0].type != IMAP_ARG_LIST &&
	    cmd->args[0].type != IMAP_ARG_NIL)) {
		imap_tagged(s, "BAD", "ID needs a list or NIL");
		return;
	}
	imap_untagged(s, "ID (\"name\" \"postern\")");
	imap_tagged(s, "OK", "ID completed");
}

void
imap_cmd_namespace(struct imap_session *s, struct imap_cmd *cmd)
{
	(void)cmd;
	/* RFC 2342 5: personal namespace only, "." separator. */
	imap_untagged(s, "NAMESPACE ((\"\" \".\")) NIL NIL");
	imap_tagged(s, "OK", "NAMESPACE completed");
}
