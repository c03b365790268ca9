/*
 * imap_cmd_copy.c - COPY and UID COPY (RFC 9051 6.4.7), MOVE and UID MOVE
 * (RFC 6851), with the COPYUID response code of UIDPLUS (RFC 4315 3) and
 * the spam-learning hook of the \Junk mailbox (filter/learn_hook.h).
 *
 * The work is one store_copy() job (storage/store_copy.c): files on a
 * worker, the index on the serial lane.  MOVE answers as RFC 6851 3.3
 * asks: "* OK [COPYUID ...]" first, then the EXPUNGE responses, then the
 * tagged OK.  The message set may be "$", the saved search result of
 * RFC 5182 (imap_cmd_search.c).
 *
 * Owns struct imap_copy_op (the target name while the job runs).  [loop]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "imap_private.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"
/* XXX pst_imap does not link pst_filter yet (CMakeLists.txt). */
#include "learn_hook.h"

/* Append "a:b,c" for the pairs, a range only where both sides run. */
static void
imap_copy_uidsets(const uint32_t *src, const uint32_t *dst, size_t n,
    struct buf *s_out, struct buf *d_out)
{
	size_t	 i = 0, k;

	while (i < n) {
		for (k = i; k + 1 < n && src[k + 1] == src[k] + 1 &&
		    dst[k + 1] == dst[k] + 1; k++)
			;
		if (i > 0) {
			buf_putc(s_out, ',');
			buf_putc(d_out, ',');
		}
		if (k == i) {
			buf_printf(s_out, "%u", src[i]);
			buf_printf(d_out, "%u", dst[i]);
		} else {
			buf_printf(s_out, "%u:%u", src[i], src[k]);
			buf_printf(d_out, "%u:%u", dst[i], dst[k]);
		}
		i = k + 1;
	}
}

static void
imap_copy_done(void *arg, const struct store_copy_result *res)
{
	struct imap_session	*s = imap_job_session(arg);
	struct buf		 su = BUF_INIT, du = BUF_INIT, code = BUF_INIT;
	bool			 move;

	if (s == NULL)
		return;
	move = strstr(s->cmd->name, "MOVE") != NULL;
	if (res->n > 0) {
		imap_copy_uidsets(res->src_uids, res->dst_uids, res->n, &su,
		    &du);
		buf_printf(&code, "[COPYUID %u %s %s] ", res->uidvalidity,
		    su.data, du.data);
	}
	if (move && res->n > 0) {
		/* RFC 6851 3.3: COPYUID untagged, before the expunges. */
		imap_untagged(s, "OK %sMoved", code.data);
		imap_view_refresh(s, true);
	} else if (res->result == 0)
		imap_view_refresh(s, false);
	if (res->result == 0)
		imap_tagged(s, "OK", "%s%s completed", move || code.data ==
		    NULL ? "" : code.data, s->cmd->name);
	else if (res->nonexistent)
		imap_tagged(s, "NO", "[TRYCREATE] %s", res->error);
	else if (res->overquota)
		/* RFC 9208 4.1.3 (response code OVERQUOTA). */
		imap_tagged(s, "NO", "[OVERQUOTA] %s", res->error);
	else if (res->result == -1)
		imap_tagged(s, "NO", "[SERVERBUG] %s", res->error);
	else
		imap_tagged(s, "NO", "%s", res->error);
	buf_free(&su);
	buf_free(&du);
	buf_free(&code);
	imap_cmd_finish(s);
}

void
imap_cmd_copy_move(struct imap_session *s, struct imap_cmd *cmd)
{
	uint32_t	*uids = NULL;
	size_t		 n = 0;
	char		*name;
	bool		 move = strstr(cmd->name, "MOVE") != NULL;
	int		 r;

	if (cmd->nargs != 2) {
		imap_tagged(s, "BAD", "%s needs a set and a mailbox",
		    cmd->name);
		return;
	}
	/* RFC 6851 3.3: MOVE expunges, so not in a read-only mailbox. */
	if (move && s->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if ((r = imap_view_uids(s, &cmd->args[0], cmd->uid, &uids,
	    &n)) < 0) {
		imap_tagged(s, "BAD", "%s", r == -2 ?
		    "Message sequence number out of range" :
		    "Invalid sequence set");
		return;
	}
	if ((name = imap_mailbox_arg(s, &cmd->args[1])) == NULL) {
		free(uids);
		return;
	}
	if (n == 0) {
		/* RFC 4315 3: no COPYUID when nothing was copied. */
		free(uids);
		free(name);
		imap_tagged(s, "OK", "%s completed", cmd->name);
		return;
	}
	log_debug("%016" PRIx64 " imap %s n=%zu to=%s", s->id,
	    move ? "move" : "copy", n, name);
	imap_busy(s);
	store_copy(s->store, s->user, s->mbox, name, uids, n, move,
	    filter_learn_hook, imap_copy_done, imap_job_arg(s));
	free(uids);
	free(name);
}
