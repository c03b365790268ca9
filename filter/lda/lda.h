/*
 * lda.h - local delivery agent: a user's Sieve scripts on disk and the
 * step between routing and the store that runs them.
 *
 * Script storage (lda_script.c): per account under
 * <storage.path>/<domain>/<local>/sieve/<name>.sieve; the active script is
 * marked the way Dovecot/Pigeonhole does it, by the symlink
 * <storage.path>/<domain>/<local>/.dovecot.sieve -> sieve/<name>.sieve,
 * so a migrated Dovecot home keeps its filters.  The account's
 * sieve_script from the config is used when no script is active.
 *
 * Running (lda_apply.c): lda_apply_blocking() runs the active script of
 * one account on one message and says what to do: local deliveries
 * (folder + flags), and the side actions the caller executes (redirect,
 * vacation, reject).  A compile or run-time error keeps the message in
 * INBOX and logs a line: no message is ever lost to a broken script.
 * Compiled scripts are cached per (account, file identity and mtime).
 *
 * Delivery (lda_deliver.c): lda_deliver() is store_deliver() with Sieve
 * in front: it runs the scripts on a worker, turns each store_rcpt into
 * 0..n store_rcpts, creates fileinto :create folders, submits redirects,
 * vacation replies and rejection reports to the outbound queue, and
 * calls the caller's done with every original rcpt's result filled in.
 *
 * Auto-replies (lda_vacation.c): vacation replies and reject reports,
 * and the vacation response tracking in the index database "vacation".
 *
 * Threads: *_blocking functions run on workers [worker] (they read
 * files); the cache is locked internally.  lda_deliver is [loop].
 */
#ifndef LDA_H
#define LDA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct conf;

#define LDA_SCRIPT_MAX		(256 * 1024)	/* bytes of one script */
#define LDA_SCRIPTS_MAX		32		/* scripts per account */
#define LDA_NAME_MAX		128		/* bytes of a script name */

/* Outcome of a script storage operation. */
enum lda_st {
	LDA_OK = 0,
	LDA_ERROR,		/* I/O or internal: try again later */
	LDA_NONEXISTENT,	/* no such script */
	LDA_ACTIVE,		/* may not delete the active script */
	LDA_ALREADYEXISTS,	/* rename target exists */
	LDA_QUOTA_SIZE,		/* script larger than LDA_SCRIPT_MAX */
	LDA_QUOTA_COUNT,	/* LDA_SCRIPTS_MAX reached */
	LDA_BADNAME		/* not a valid script name */
};

struct lda_script_info {
	char	*name;
	bool	 active;
};

/* [any] A name we store: UTF-8 text, no '/', no controls, not "." or "..". */
bool	 lda_script_name_valid(const char *name, size_t len);

/*
 * [worker] Script storage of account.  error_r (may be NULL) explains
 * LDA_ERROR for logs; it is static or valid until the next call on the
 * same thread.
 */
enum lda_st lda_script_list_blocking(const struct conf *, const char *account,
	    struct lda_script_info **list_r, size_t *count_r,
	    const char **error_r);
void	 lda_script_list_free(struct lda_script_info **list, size_t count);
enum lda_st lda_script_get_blocking(const struct conf *, const char *account,
	    const char *name, char **text_r, size_t *len_r,
	    const char **error_r);
/* Store (create or replace) name durably; the caller compiled it. */
enum lda_st lda_script_put_blocking(const struct conf *, const char *account,
	    const char *name, const char *text, size_t len,
	    const char **error_r);
/* Would a script of size bytes named name fit (RFC 5804 HAVESPACE)? */
enum lda_st lda_script_havespace_blocking(const struct conf *,
	    const char *account, const char *name, uint64_t size,
	    const char **error_r);
enum lda_st lda_script_delete_blocking(const struct conf *,
	    const char *account, const char *name, const char **error_r);
enum lda_st lda_script_rename_blocking(const struct conf *,
	    const char *account, const char *from, const char *to,
	    const char **error_r);
/* name "" deactivates. */
enum lda_st lda_script_activate_blocking(const struct conf *,
	    const char *account, const char *name, const char **error_r);
/*
 * [worker] Path of the account's active script file, or NULL if none is
 * active (caller frees).
 */
char	*lda_script_active_path_blocking(const struct conf *,
	    const char *account);

/* One local delivery asked for by keep or fileinto. */
struct lda_dlv {
	char	*folder;	/* IMAP name; NULL: the recipient's default */
	char	*flags;		/* "\\Seen $label", or NULL */
	bool	 create;	/* fileinto :create (RFC 5490 3.2) */
};

struct lda_result {
	bool		 scripted;	/* a script ran (else: plain keep) */
	char		*error;		/* script failed: kept in INBOX */
	struct lda_dlv	*dlv;		/* local deliveries; 0 = discarded */
	size_t		 ndlv;
	char		**redirect;	/* addresses to forward to */
	size_t		 nredirect;
	char		*reject;	/* reject/ereject reason, or NULL */
	/* Vacation (RFC 5230), when vacation is true. */
	bool		 vacation;
	char		*vac_subject;	/* NULL: "Auto: <subject>" */
	char		*vac_from;	/* NULL: the recipient */
	char		*vac_text;
	char		*vac_handle;
	uint64_t	 vac_seconds;	/* 0: reply every time (RFC 6131) */
	bool		 vac_mime;
	char		**vac_addresses; /* :addresses */
	size_t		 nvac_addresses;
};

/*
 * [worker] Run account's active script (else its configured sieve_script)
 * on the message in path.  Always fills *res_r (plain keep when there is
 * no script, or on any error, with res_r->error set and logged).
 * env_from "" is the null sender; spam_score < 0 means not tested.
 */
/*
 * prepend: the header lines put before this copy at delivery (Received,
 * Delivered-To, X-Spam-*...), or NULL: the script sees them as the
 * message's first header lines, as it would in the stored file.
 */
void	 lda_apply_blocking(const struct conf *, const char *account,
	    const char *path, const char *prepend, const char *env_from,
	    const char *env_to, double spam_score, struct lda_result *res_r);
void	 lda_result_clear(struct lda_result *);
/* [any] Drop every cached compiled script (reload, exit). */
void	 lda_cache_clear(void);

/*
 * Messages Sieve makes itself (lda_vacation.c), as CRLF bytes (malloced,
 * *len_r) for the caller to queue with the null sender.  [worker]
 *
 * lda_vacation_reply_blocking: the vacation reply (RFC 5230, RFC 3834)
 * of account to env_from for the message in path, or NULL with *why_r
 * (static) when none may go out: null or program sender, Auto-Submitted,
 * list or bulk mail, the user not in To/Cc/Bcc, or a reply to this
 * sender with this handle within the interval.  A reply it returns is
 * already recorded in the index database "vacation"; if it cannot be
 * sent after all, lda_vacation_forget_blocking releases the record.
 */
struct idx;
char	*lda_vacation_reply_blocking(const struct conf *, struct idx *,
	    const char *account, const char *path, const char *env_from,
	    const struct lda_result *, size_t *len_r, const char **why_r);
void	 lda_vacation_forget_blocking(struct idx *, const char *account,
	    const char *handle, const char *sender);
/*
 * lda_vacation_reject_blocking: the rejection report (RFC 5429 2.1.1, an
 * RFC 8098 MDN "deleted") of account for the message in path, to
 * env_from (never call it for the null sender).
 */
char	*lda_vacation_reject_blocking(const struct conf *,
	    const char *account, const char *path, const char *env_from,
	    const char *reason, size_t *len_r);
/*
 * lda_vacation_sign_blocking: DKIM-sign a reply or report built above
 * (*data, *len grow) with g's keys when its From domain is ours
 * (filter.h filter_sign_blocking); account names it in the log.
 */
struct gen;
void	 lda_vacation_sign_blocking(struct gen *g, const char *account,
	    char **data, size_t *len);

/*
 * [loop] store_deliver() with each recipient's Sieve script in front:
 * same contract (msg and rcpts stay valid until done runs, every
 * rcpts[i].result is set then).  env_from is the envelope sender ("" for
 * <>).  A recipient whose script discards the message gets result 0; a
 * recipient whose copies all fail gets the first failure.
 */
void	 lda_deliver(struct store *, struct store_msg *, const char *env_from,
	    struct store_rcpt *rcpts, size_t nrcpts, store_done_fn *done,
	    void *arg);
#endif
