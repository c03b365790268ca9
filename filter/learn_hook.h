/*
 * learn_hook.h - the spam-learning hook of the mail store: IMAP COPY or
 * MOVE into the \Junk mailbox teaches "spam", moving a message out of
 * \Junk into a normal folder teaches "ham" (the imapsieve/antispam
 * convention of Dovecot setups).  The Bayes classifier fills it in; for
 * now it only logs.  [worker]: it may read the message file.
 */
#ifndef LEARN_HOOK_H
#define LEARN_HOOK_H
#include <stdbool.h>

/*
 * [worker] Learn the durable Maildir file at path as spam (spam = true)
 * or ham for account.  Never fails visibly: learning is best effort.
 */
void	 filter_learn_hook(const char *account, const char *path, bool spam);
#endif
