/*
 * spam.h - spam scoring (DESIGN.md "filter pipeline": ... -> rules ->
 * bayes -> score -> action).  A check turns one message plus what the
 * SMTP transaction knows (HELO, peer, SPF/DKIM/DMARC) into named
 * symbols with weights, a total score and an action from the
 * spam.actions thresholds; the result renders as X-Spam-Score,
 * X-Spam-Result and X-Spam header lines.
 *
 * Pieces: spam_score.c (symbol table, weights, spam.symbols overrides,
 * actions, headers), spam_msg.c (decoded view of the message and the
 * built-in heuristics), spam_rules.c (the PCRE2 rules file),
 * spam_bayes.c (tokens, LMDB counts, chi-square), spam_autolearn.c
 * (which results teach Bayes by themselves), spam_check.c (one check
 * from start to end, the per-generation rules cache).
 *
 * Threads: *_blocking functions run on workers or in the CLI [worker];
 * the rest is pure code [any].  No function here touches the loop.
 */
#ifndef SPAM_H
#define SPAM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct conf;
struct idx;
struct store;

/* What the authentication stage found (the SMTP transaction's view). */
enum spam_spf {
	SPAM_SPF_NA = 0, SPAM_SPF_PASS, SPAM_SPF_FAIL, SPAM_SPF_SOFTFAIL,
	SPAM_SPF_NEUTRAL, SPAM_SPF_TEMPERROR, SPAM_SPF_PERMERROR
};
enum spam_dkim {
	SPAM_DKIM_NA = 0, SPAM_DKIM_ALLOW, SPAM_DKIM_REJECT,
	SPAM_DKIM_TEMPFAIL, SPAM_DKIM_PERMFAIL
};
enum spam_dmarc {
	SPAM_DMARC_NA = 0, SPAM_DMARC_ALLOW, SPAM_DMARC_REJECT,
	SPAM_DMARC_QUARANTINE, SPAM_DMARC_SOFTFAIL, SPAM_DMARC_DNSFAIL
};

struct spam_env {
	const char	*helo;		/* as sent, or NULL */
	const char	*peer_ip;	/* numeric text, or NULL */
	const char	*our_fqdn;	/* conf->fqdn, or NULL */
	enum spam_spf	 spf;
	enum spam_dkim	 dkim;
	enum spam_dmarc	 dmarc;
	const char	*user;		/* Bayes: per-user counts; NULL global */
	int64_t		 now;		/* 0: time(NULL) (Date checks) */
};

/* Ordered by severity. */
enum spam_action {
	SPAM_ACCEPT = 0,
	SPAM_GREYLIST,		/* only when spam.greylist.enable */
	SPAM_ADD_HEADER,	/* X-Spam: Yes, default filing to \Junk */
	SPAM_REJECT		/* 550 5.7.1 at the end of DATA */
};

struct spam_result;		/* symbols and total of one check (opaque) */
struct spam_rules;		/* a compiled rules file (opaque) */

/* ---- one check (spam_check.c) ----------------------------------------- */

/*
 * [worker] Score msg (len bytes, CRLF or LF, the message as received).
 * idx NULL: no Bayes.  Rules come from conf->spam.rules_file, compiled
 * once per file version (a broken file is logged and ignored).  Never
 * fails: whatever cannot be checked contributes no symbol.
 */
struct spam_result *spam_check_blocking(const struct conf *, struct idx *,
	    const struct spam_env *, const char *msg, size_t len);
/* [any] The same with explicit rules (may be NULL) and Bayes minimum. */
struct spam_result *spam_check_with(const struct conf *,
	    const struct spam_rules *, struct idx *, unsigned bayes_min,
	    const struct spam_env *, const char *msg, size_t len);

/* ---- results (spam_score.c) ------------------------------------------- */

void		 spam_result_free(struct spam_result **);
double		 spam_result_score(const struct spam_result *);
enum spam_action spam_result_action(const struct spam_result *);
const char	*spam_action_name(enum spam_action);
/* True if sym fired; its weighted score in *score_r (may be NULL). */
bool		 spam_result_has(const struct spam_result *, const char *sym,
		    double *score_r);
size_t		 spam_result_count(const struct spam_result *);
/* [any] "X-Spam-Score", "X-Spam-Result" (every symbol with its score)
 * and, at add_header or above, "X-Spam: Yes"; CRLF lines. */
void		 spam_result_headers(const struct spam_result *, struct buf *);
/* [any] Text for "550 5.7.1 <reason>" (static until free). */
const char	*spam_result_reason(const struct spam_result *);
/* [any] The action spam.actions gives score. */
enum spam_action spam_action_for(const struct conf *, double score);
/* [any] The weight sym gets under conf: spam.symbols, else built-in,
 * else 0. */
double		 spam_symbol_weight(const struct conf *, const char *sym);
/* [any] Default weight of a built-in symbol (spam.symbols not applied);
 * false for an unknown name. */
bool		 spam_symbol_default(const char *name, double *weight_r);

/*
 * [any] For delivery (lda): the score in an X-Spam-Score line of the
 * header lines hdrs (our prepended lines), or -1 when there is none;
 * and the folder a message at add_header or above is filed into by
 * default: the mailboxes entry with special_use "\\Junk" ("Junk").
 */
double		 spam_hdr_score(const char *hdrs, size_t len);
const char	*spam_junk_folder(const struct conf *);

/* ---- rules file (spam_rules.c) ---------------------------------------- */

/*
 * [worker] Compile a rules file (format: spam_rules.c).  -1 with a
 * malloc'd "FILE:LINE: what" in *error_r (the first error); 0 otherwise.
 */
int		 spam_rules_load_blocking(const char *path,
		    struct spam_rules **rules_r, char **error_r);
/* [any] The same from memory; name is used in messages. */
int		 spam_rules_parse(const char *text, size_t len,
		    const char *name, struct spam_rules **rules_r,
		    char **error_r);
void		 spam_rules_free(struct spam_rules **);
size_t		 spam_rules_count(const struct spam_rules *);

/* ---- Bayes (spam_bayes.c) --------------------------------------------- */

#define SPAM_BAYES_MIN		200	/* spam and ham messages before use */

/* [any] Every token of msg as it occurs (not NUL-terminated). */
typedef void	 spam_token_fn(void *arg, const char *tok, size_t len);
void		 spam_tokens(const char *msg, size_t len, spam_token_fn *,
		    void *arg);
/* [any] The store's index (NULL when store is NULL). */
struct idx	*spam_store_idx(struct store *);
/*
 * [worker] Learn msg as spam or ham for user (NULL: global only; else
 * both user and global).  A message learned before under the other
 * class is moved over; under the same class it is skipped.
 * 1 learned, 0 already known, -1 error (*error_r static or per-thread).
 */
int		 spam_bayes_learn_blocking(struct idx *, const char *user,
		    const char *msg, size_t len, bool spam,
		    const char **error_r);
/* [worker] Trained message counts and token count for user (NULL
 * global; tokens are counted for the global set only); the tokenizer
 * version the data was made with in *version_r (0: none recorded; may
 * be NULL). */
int		 spam_bayes_stats_blocking(struct idx *, const char *user,
		    uint64_t *nspam_r, uint64_t *nham_r, uint64_t *ntokens_r,
		    unsigned *version_r, const char **error_r);
/* [worker] Forget everything learned, every user's and the global set
 * (needed after a tokenizer version change). */
int		 spam_bayes_reset_blocking(struct idx *, const char **error_r);
/*
 * [worker] Probability (0..1) that msg is spam, or -1 when fewer than
 * min spam or min ham messages were learned (user's counts, else the
 * global ones), when the data is from another tokenizer version, or on
 * error.
 */
double		 spam_bayes_classify_blocking(struct idx *, const char *user,
		    const char *msg, size_t len, unsigned min);

/* ---- autolearn (spam_autolearn.c) ------------------------------------- */

#define SPAM_AUTOLEARN_SPAM	15.0	/* spam bound when reject is off */
#define SPAM_AUTOLEARN_HAM	(-2.0)	/* ham bound (why: spam_autolearn.c) */

/*
 * [any] Should the scored result r teach Bayes by itself (conf's
 * spam.bayes.enable and .autolearn)?  1 spam, -1 ham, 0 no.  The score
 * without BAYES_SPAM/BAYES_HAM, which is what is compared, goes to
 * *score_r (may be NULL).
 */
int		 spam_autolearn(const struct conf *, const struct spam_result *r,
		    double *score_r);

/* ---- DNSBL / DNSWL (spam_dnsbl.c) ------------------------------------- */

#define SPAM_DNSBL_WEIGHT	4.0	/* default of a listing in a blocklist */
#define SPAM_DNSWL_WEIGHT	(-3.0)	/* default of a listing in an allowlist */

/*
 * [any] A spam.dnsbl entry: "zone" or "zone:wl"; a zone whose name holds
 * "dnswl" or with ":wl" is an allowlist.  The zone without the suffix
 * goes to zone (size bytes), its symbol "RBL_<ZONE>" (upper case, '.'
 * and '-' as '_') to sym, its default weight to *weight_r.  -1 when the
 * entry does not fit.
 */
int		 spam_dnsbl_zone(const char *entry, char *zone, size_t zsize,
		    char *sym, size_t symsize, double *weight_r);
/* [any] True if the entry names an allowlist. */
bool		 spam_dnsbl_allowlist(const char *entry);
/* [any] True if an A answer a (network order) means "listed" for the
 * entry: 127.0.0.0/24 for a blocklist, 127.0.0.0/16 for an allowlist. */
bool		 spam_dnsbl_listed(const char *entry, uint32_t a);
/*
 * [any] Add the symbol of every entries[i] whose answers[i] is not NULL
 * (the listing address, shown as the symbol's detail) to r, weights
 * from spam.symbols when set, then total and action again.
 */
void		 spam_dnsbl_add(struct spam_result *r,
		    const char *const *entries, const char *const *answers,
		    size_t n);

/* ---- greylisting (spam_greylist.c) ------------------------------------ */

#define SPAM_GREYLIST_DB	"greylist"
#define SPAM_GREYLIST_PASSED	(35 * 86400)	/* a passed triplet lives */
#define SPAM_GREYLIST_RETRY	(2 * 86400)	/* a new one waits a retry */

/*
 * [any] The triplet key "<net>\0<sender>\0<rcpt>": net is the client's
 * /24 (IPv4, also IPv4-mapped) or /64 (IPv6) of the numeric ip, sender
 * and rcpt lower case ("" for the null sender).  malloc'd, length in
 * *len_r; NULL for an ip that does not parse.
 */
char		*spam_greylist_key(const char *ip, const char *sender,
		    const char *rcpt, size_t *len_r);
/*
 * [worker] Greylist one message: every triplet (ip, sender, rcpts[i])
 * is looked up in the "greylist" database at time now and recorded
 * (first seen; passed and kept for SPAM_GREYLIST_PASSED once retried
 * after delay seconds).  Expired records are pruned now and then.
 * 1: defer (a triplet is new or younger than delay), 0: pass, -1 error
 * (*error_r static).
 */
int		 spam_greylist_blocking(struct idx *, const char *ip,
		    const char *sender, const char *const *rcpts, size_t n,
		    int64_t now, int delay, const char **error_r);
#endif
