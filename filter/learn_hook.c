/*
 * learn_hook.c - the spam-learning hook (learn_hook.h).  A placeholder
 * the Bayes issue replaces with token training: it logs one line per
 * message so the IMAP side can be tested end to end.
 *
 * Owns nothing.  Threads: any worker (it is called after the copied file
 * is durable, from the COPY/MOVE job).  [worker]
 */
#include <stdbool.h>

#include "learn_hook.h"
#include "log.h"

void
filter_learn_hook(const char *account, const char *path, bool spam)
{
	log_info("filter learn-%s account=%s path=%s", spam ? "spam" : "ham",
	    account, path);
}
