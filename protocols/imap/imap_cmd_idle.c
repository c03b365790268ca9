/*
 * imap_cmd_idle.c - IDLE (RFC 2177, RFC 9051 6.3.13) and the store watch
 * of the selected mailbox.  The watch fires on the loop thread after
 * every committed change (delivery, flags, expunge by any session); while
 * idling the view is refreshed at once, so "* n EXISTS" goes out right
 * after the index commit of a delivery.  Outside IDLE the change is only
 * noted and reported at the next NOOP/CHECK (RFC 9051 7.4.1 forbids
 * EXPUNGE in the middle of other commands).  IDLE renews the autologout
 * timer.  Owns nothing.  [loop]
 */
#include <stdlib.h>
#include <strings.h>

#include "conn.h"
#include "imap_private.h"

void
imap_watch_fired(void *arg)
{
	struct imap_session	*s = arg;

	if (s->mode == IMAP_M_IDLE && !conn_closing(s->c))
		imap_view_refresh(s, true);
	else
		s->changed = true;
}

void
imap_cmd_idle(struct imap_session *s, struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		imap_tagged(s, "BAD", "IDLE takes no arguments");
		return;
	}
	conn_set_timeout(s->c, IMAP_AUTOLOGOUT);
	if (s->state == IMAP_S_SELECTED && s->changed)
		imap_view_refresh(s, true);
	conn_puts(s->c, "+ idling\r\n");
	s->mode = IMAP_M_IDLE;
	/* Thousands of sessions may sit here: keep no parser buffers. */
	imap_parser_trim(s->parser);
}

void
imap_idle_line(struct imap_session *s, char *line, size_t len)
{
	s->mode = IMAP_M_BUSY;
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		imap_tagged(s, "OK", "IDLE terminated");
	else
		imap_tagged(s, "BAD", "Expected DONE");
	imap_cmd_finish(s);
}
