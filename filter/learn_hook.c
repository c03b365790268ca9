/*
 * learn_hook.c - the spam-learning hook (learn_hook.h): IMAP COPY/MOVE
 * into \Junk teaches Bayes "spam", out of it "ham" (spam_bayes.c), for
 * the account and for the global set.  A message learned before under
 * the other class is moved over, so a mistake undone in the client
 * leaves no trace.  Best effort: failures are logged, never returned.
 *
 * Owns nothing.  Threads: any worker (it is called after the copied file
 * is durable, from the COPY/MOVE job).  [worker]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "learn_hook.h"
#include "log.h"
#include "loop.h"
#include "spam.h"

#define LEARN_MAX	(32 * 1024 * 1024)	/* bytes read of a message */

void
filter_learn_hook(const char *account, const char *path, bool spam)
{
	struct idx	*idx = spam_store_idx(loop_shared()->store);
	struct buf	 b = BUF_INIT;
	const char	*e = NULL;
	char		 chunk[16384];
	ssize_t		 r;
	int		 fd, rc;

	if (idx == NULL)
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("filter learn-%s account=%s path=%s error=\"%s\"",
		    spam ? "spam" : "ham", account, path, strerror(errno));
		return;
	}
	while (b.len < LEARN_MAX && ((r = read(fd, chunk, sizeof(chunk))) > 0 ||
	    (r == -1 && errno == EINTR)))
		if (r > 0)
			buf_append(&b, chunk, (size_t)r);
	close(fd);
	rc = spam_bayes_learn_blocking(idx, account, b.data != NULL ? b.data :
	    "", b.len, spam, &e);
	if (rc == -1)
		log_warn("filter learn-%s account=%s path=%s error=\"%s\"",
		    spam ? "spam" : "ham", account, path,
		    e != NULL ? e : "failed");
	else
		log_info("filter learn-%s account=%s path=%s result=%s",
		    spam ? "spam" : "ham", account, path,
		    rc == 1 ? "learned" : "known");
	buf_free(&b);
}
