/*
 * sieve.h - Sieve mail filtering (RFC 5228): compile a script once into
 * an immutable program, then run it against one message at a time and
 * get back a list of actions.
 *
 * This module is pure: it does no I/O.  The caller supplies the raw
 * message bytes, the envelope and the spam score, and executes the
 * actions (delivery, redirect, vacation replies and their response
 * tracking).  A compiled script is immutable and may be run from any
 * number of threads at once [any].
 *
 * Extensions: fileinto, reject, ereject (RFC 5429), envelope, encoded-
 * character, copy (RFC 3894), body (RFC 5173), variables (RFC 5229),
 * vacation (RFC 5230), vacation-seconds (RFC 6131), imap4flags (RFC 5232),
 * relational (RFC 5231), subaddress (RFC 5233), regex (draft-ietf-sieve-
 * regex, PCRE2), spamtest and spamtestplus (RFC 5235), mailbox (RFC 5490),
 * comparator-i;ascii-numeric (RFC 4790).
 */
#ifndef SIEVE_H
#define SIEVE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Compile-time limits. */
#define SIEVE_MAX_SCRIPT	(1024 * 1024)	/* bytes of source */
#define SIEVE_MAX_DEPTH		32	/* nested blocks and tests */
#define SIEVE_MAX_STRING	(64 * 1024)	/* one string literal */
#define SIEVE_MAX_LIST		1024	/* items in one string list */
#define SIEVE_MAX_NODES		10000	/* commands plus tests */
/* Run-time limits: exceeding one is a run-time error (keep in INBOX). */
#define SIEVE_MAX_ACTIONS	32	/* actions in one result */
#define SIEVE_MAX_REDIRECTS	4	/* redirect actions in one result */
#define SIEVE_MAX_VARIABLES	128	/* distinct variables */
#define SIEVE_MAX_VAR_LEN	4096	/* a variable value (RFC 5229 3) */
#define SIEVE_MAX_MATCH_VARS	10	/* ${0} .. ${9} */

struct sieve_script;		/* compiled program (opaque, immutable) */
struct sieve_result;		/* actions of one run (opaque) */

struct sieve_error {
	unsigned int line;		/* 1-based; 0 when not positional */
	unsigned int column;		/* 1-based, in bytes */
	char	 msg[256];		/* "line 3, column 7: expected ';' ..." */
};

struct sieve_msg_ctx {
	const char *msg;		/* raw RFC 5322 message, CRLF or LF */
	size_t	 msg_len;
	uint64_t size;			/* for "size"; 0: use msg_len */
	const char *env_from;		/* MAIL FROM path, "" for <>; NULL */
	const char *env_to;		/* RCPT TO path; NULL */
	char	 delimiter;		/* subaddress separator; 0: '+' */
	bool	 spam_tested;		/* false: spamtest yields "0" */
	double	 spam_score;		/* scanner score */
	double	 spam_max;		/* score that means "certainly spam" */
	/* mailboxexists (RFC 5490 3.1); NULL: no mailbox exists. */
	bool	(*mailbox_exists)(void *arg, const char *mailbox);
	void	*arg;
};

enum sieve_action_kind {
	SIEVE_ACT_KEEP = 0,		/* deliver to INBOX */
	SIEVE_ACT_FILEINTO,		/* deliver to target */
	SIEVE_ACT_REDIRECT,		/* forward to address target */
	SIEVE_ACT_DISCARD,		/* only when nothing else happens */
	SIEVE_ACT_REJECT,		/* text is the reason (RFC 5429) */
	SIEVE_ACT_EREJECT,		/* reject at SMTP time if possible */
	SIEVE_ACT_VACATION		/* auto-reply (RFC 5230) */
};

struct sieve_action {
	enum sieve_action_kind kind;
	char	*target;		/* fileinto mailbox, redirect address */
	char	**flags;		/* keep / fileinto: IMAP flags */
	size_t	 n_flags;
	bool	 copy;			/* :copy (RFC 3894) */
	bool	 create;		/* fileinto :create (RFC 5490 3.2) */
	char	*text;			/* reject reason, vacation body */
	/* Vacation (RFC 5230 4; :seconds RFC 6131). */
	uint64_t seconds;		/* response interval */
	char	*subject;		/* NULL: caller builds "Auto: ..." */
	char	*from;			/* NULL: the recipient */
	char	**addresses;		/* the user's other addresses */
	size_t	 n_addresses;
	bool	 mime;			/* text is a MIME entity */
	char	*handle;		/* tracking handle (always set) */
};

/*
 * [any] Compile a script.  Returns NULL with *err_r filled on a syntax or
 * semantic error; err_r may be NULL.
 */
struct sieve_script *sieve_compile(const char *src, size_t len,
	    struct sieve_error *err_r);
void	 sieve_script_free(struct sieve_script **);	/* [any] */

/*
 * [any] Run a script.  *res_r is always set.  Returns 0, or -1 on a
 * run-time error (too many actions, incompatible actions, ...): the
 * result then holds the error and one keep action, which the caller
 * executes as "keep in INBOX" (RFC 5228 2.10.6).
 */
int	 sieve_run(const struct sieve_script *, const struct sieve_msg_ctx *,
	    struct sieve_result **res_r);
size_t	 sieve_result_count(const struct sieve_result *);
const struct sieve_action *sieve_result_action(const struct sieve_result *,
	    size_t i);
/* Run-time error text, or NULL when the run succeeded. */
const char *sieve_result_error(const struct sieve_result *);
/* True if the implicit keep survived (RFC 5228 2.10.2). */
bool	 sieve_result_implicit_keep(const struct sieve_result *);
void	 sieve_result_free(struct sieve_result **);
#endif
