/*
 * store_private.h - the layout of struct store and the helpers shared by
 * the store*.c files.  Not part of the storage API: protocols include
 * store.h only.
 */
#ifndef STORE_PRIVATE_H
#define STORE_PRIVATE_H
#include <sys/queue.h>
#include <stdbool.h>
#include <stdint.h>

#include "mdir.h"
#include "store.h"

struct conf;
struct hmap;
struct idx;
struct store_dlv;
struct store_commit;

TAILQ_HEAD(store_dlv_list, store_dlv);

struct store {
	const struct conf	*conf;		/* current generation */
	/* Fixed at open: a change of these needs a restart. */
	char			*state_dir;
	char			*spool_dir;
	char			*storage_path;
	enum mdir_layout	 layout;
	char			 sep;
	bool			 utf8;

	struct idx		*idx;

	/*
	 * Group commit, loop thread only: deliveries whose files are
	 * durable wait in pending until the serial lane is free.
	 */
	struct store_dlv_list	 pending;
	struct store_commit	*running;	/* job on the serial lane */
	struct store_dlv_list	 inflight;	/* file jobs on workers */

	struct hmap		*watches;	/* key -> struct store_watch_list */
	int			 firing;	/* >0 while callbacks run */
	bool			 swept;		/* a watch died while firing */
	struct hmap		*rescan;	/* key -> (void *)1 */

	struct store_stats	 stats;
};

/* [any] "user\0MAILBOX" key with INBOX upper-cased; *len_r its length. */
char	*store_key(const char *account, const char *mailbox, size_t *len_r);
/* [any] Lower-cased account name for disk and index (caller frees). */
char	*store_user(const char *account);
/* [any] "INBOX" for NULL or any case of inbox, else name. */
const char *store_mailbox_name(const char *mailbox);
/* [any] "\\Junk" -> IDX_SU_JUNK, 0 if unknown or NULL. */
uint32_t store_special_use_bits(const char *special_use);

/* [loop] Run the watchers of (account, mailbox). */
void	 store_watch_fire(struct store *, const char *account,
	    const char *mailbox);
/* [loop] Mark a mailbox for rescan (an index commit failed). */
void	 store_rescan_mark(struct store *, const char *account,
	    const char *mailbox);
/* [loop] Free deliveries never finished (store_close after shutdown). */
void	 store_deliver_abandon(struct store *);
/* [any] IMAP system flags <-> Maildir ":2," letters (D F R S T, ASCII
 * order as Dovecot writes them); out holds at least 6 bytes. */
void		 store_flags_to_letters(uint32_t flags, char *out);
uint32_t	 store_letters_to_flags(const char *letters);
/*
 * [worker] Keyword letters for a message about to be placed in folder
 * (delivery, APPEND, COPY): store_keyword_letters_blocking for the names
 * a dovecot-keywords file can hold (mdir_keyword_ok; the others get
 * '\0' and live in the index only), then an fsync of the folder, so
 * dovecot-keywords naming the letters is durable before any file name
 * that uses them (a reindex after a crash must not lose or misread
 * them).  -1 (letters all '\0') when that fails.  Defined in
 * store_deliver.c.
 */
int	 store_deliver_keyword_letters_blocking(const char *folder,
	    const char *const *names, size_t n, char *letters_r,
	    const char **error_r);
/* [any] The quota of user in bytes (account quota, else the default);
 * 0 when quotas are off or unlimited. */
uint64_t	 store_quota_of(const struct conf *, const char *user);
#endif
