/*
 * ctl.h - the control socket: a unix stream socket at conf->listen.control
 * through which local tools talk to the running daemon.  Trusted: anyone
 * who may open it (mode 0660, owned by run_as) may deliver to any
 * account.  One request per connection, one reply line:
 *
 *   PING\n                                  -> "OK postern <version>\n"
 *   DELIVER <address> [<folder>] <size>\n   then exactly <size> bytes
 *                                           (CRLF line ends)
 *                                           -> "OK uid=<n>[,<n>...]\n"
 *                                              (one UID per account the
 *                                              address resolves to, in
 *                                              order) or "ERR <text>\n"
 *
 * <folder> is everything between the address and the size, so it may
 * hold spaces.  "OK" is sent only after store_deliver reported the
 * message durable (fsynced in the Maildir); uid 0 means the file is
 * durable but its index commit failed and the next mailbox sync picks
 * it up.  [loop]
 */
#ifndef CTL_H
#define CTL_H
#include <stddef.h>

struct conf;

#define CTL_LINE_MAX	2048		/* request line, without LF */

/*
 * Bind and listen (before the privilege drop: the socket is chowned to
 * run_as).  A stale socket file is replaced; one that answers means
 * another daemon runs, and that is an error.  No control path: 0, nothing
 * bound.
 */
int	 ctl_start(const struct conf *, char *err, size_t errlen);
/*
 * Stop accepting, unlink the socket, close idle sessions.  A session
 * waiting for its delivery gets its reply when the store completes (the
 * worker pool drains at exit) and is freed then.  Idempotent.
 */
void	 ctl_stop(void);
#endif
