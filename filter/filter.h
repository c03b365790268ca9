/*
 * filter.h - the per-message mail authentication pipeline (DESIGN.md
 * "filter pipeline"): inbound SPF (RFC 7208) for MAIL FROM and HELO,
 * DKIM verification (RFC 6376, 8463), DMARC (RFC 7489) and one
 * Authentication-Results field (RFC 8601) followed by the spam
 * scoring's X-Spam-* lines (filter/spam); on submission, a
 * DKIM-Signature for every configured selector of the From domain.
 *
 * The SMTP session creates a filter at MAIL (SPF starts at once, its DNS
 * runs while the client sends the message), hands it the spooled message
 * at the end of DATA/BDAT and gets back, once, the header lines to put
 * first in every copy.  DNS goes through loop_shared()->dns; reading the
 * spool, hashing and RSA/Ed25519 work run on the worker pool.  Every wait
 * is bounded (FILTER_WAIT_MS): what has not answered by then counts as a
 * temporary error, so a session never hangs on a slow resolver.
 *
 * The generation's signing keys live in gen->ext[FILTER_GEN_DKIM] (a
 * struct dkim_keyring *, built by main.c; loop.h has no field for it).
 * [loop] unless noted.
 */
#ifndef FILTER_H
#define FILTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct gen;
struct sockaddr;
struct filter;			/* one transaction's authentication (opaque) */

#define FILTER_GEN_DKIM		0	/* gen->ext[] slot of the keyring */
#define FILTER_WAIT_MS		10000	/* bound on DNS waits after DATA */

enum filter_mode {
	FILTER_INBOUND = 0,	/* MX: SPF, DKIM verify, DMARC, A-R */
	FILTER_SUBMISSION	/* authenticated: DKIM sign */
};

/*
 * [loop] At MAIL; sid is the session id (logs only).  Inbound: starts the SPF checks of mail_from ("" for
 * the null sender) and helo from peer.  Returns NULL when there is
 * nothing to do (submission without any DKIM key, DKIM disabled).  The
 * filter keeps a reference to g.
 */
struct filter	*filter_new(struct gen *g, enum filter_mode, uint64_t sid,
		    const struct sockaddr *peer, const char *helo,
		    const char *mail_from);

/*
 * Called once on the loop thread with the header lines (CRLF, possibly
 * empty) to prepend to every copy; they include the add lines given to
 * filter_end (behind the new ones).
 */
typedef void	 filter_done_fn(void *arg, const char *hdrs, size_t len);

/*
 * [loop] Inbound, before filter_end: the one local account the message
 * goes to (NULL: none, several, or also remote targets).  Scoring then
 * uses that account's Bayes counts (once it has trained enough, else
 * the global ones) and autolearn teaches its set besides the global
 * one.  The name is copied.
 */
void		 filter_set_user(struct filter *, const char *account);

/* [loop] After filter_end's callback: the client is listed in a
 * spam.dnsbl allowlist (DNSWL), so greylisting skips it. */
bool		 filter_allowlisted(const struct filter *);

/*
 * [loop] The message is complete in spool_path (CRLF).  add/addlen are
 * the header lines the session will prepend (Date, Message-ID on
 * submission): they are part of what is signed.  done runs later, never
 * from inside this call, and never after filter_free.  Inbound, a
 * forged Authentication-Results field carrying our authserv-id and,
 * with spam.enable, the sender's X-Spam and X-Spam-* fields are removed
 * from the spool file (rewritten on a worker, after DKIM has hashed the
 * message as received); with spam.bayes.autolearn a message whose score
 * is conclusive without Bayes is learned (spam_autolearn).
 */
void		 filter_end(struct filter *, const char *spool_path,
		    const char *add, size_t addlen, filter_done_fn *done,
		    void *arg);
/*
 * [loop] After done ran (inbound, spam.enable): the spam action (an enum
 * spam_action of spam.h: 0 accept, 1 greylist, 2 add_header, 3 reject),
 * the score and the text for "550 5.7.1 <reason>"; -1 when the message
 * was not scored (submission, spam disabled).  Valid until filter_free.
 */
int		 filter_spam_verdict(const struct filter *, double *score_r,
		    const char **reason_r);
/*
 * [loop] After done ran (inbound, virus_scanning.enable): the clamd
 * INSTREAM verdict (filter/virus/clamd.h), given before any spam stage.
 * FILTER_VIRUS_FOUND sets *text_r to the signature name, FILTER_VIRUS_ERROR
 * (clamd unreachable, error, timeout: never an accept) to the reason;
 * valid until filter_free.  FILTER_VIRUS_NONE: clean or not scanned.
 */
#define FILTER_VIRUS_NONE	0
#define FILTER_VIRUS_FOUND	1
#define FILTER_VIRUS_ERROR	2
int		 filter_virus_verdict(const struct filter *,
		    const char **text_r);
/*
 * [loop] Greylisting (spam.greylist), after done ran with a greylist
 * verdict: the triplets (client network, MAIL FROM, rcpts[i]) are looked
 * up and recorded on a worker; done runs later (never from inside this
 * call, never after filter_free) with greylisted true when one of them
 * is new or younger than spam.greylist.delay (the session answers 451
 * 4.7.1), and with hdrs/len, a copy of the header lines given here, to
 * deliver with otherwise.  Errors let the message pass.
 */
typedef void	 filter_grey_fn(void *arg, bool greylisted, const char *hdrs,
		    size_t len);
void		 filter_greylist(struct filter *, const char *const *rcpts,
		    size_t n, const char *hdrs, size_t len, filter_grey_fn *done,
		    void *arg);
/* [loop] Cancels DNS and the callback; a running worker job finishes
 * on its own and frees what it holds.  Sets *f to NULL. */
void		 filter_free(struct filter **);

/*
 * [loop] After done ran (inbound): the DMARC disposition (RFC 7489 6.6.4)
 * of a message that failed DMARC, pct honoured: FILTER_DMARC_NONE (it
 * passed, no policy, or the sample spared it), FILTER_DMARC_QUARANTINE
 * or FILTER_DMARC_REJECT.  *domain_r (may be NULL) is the From domain,
 * valid until filter_free.
 */
#define FILTER_DMARC_NONE	0
#define FILTER_DMARC_QUARANTINE	1
#define FILTER_DMARC_REJECT	2
int		 filter_dmarc_verdict(const struct filter *,
		    const char **domain_r);

/*
 * [worker, blocking] DKIM signing of the mail postern makes or forwards
 * itself (filter_sign.c): DSNs, vacation replies, reject reports.  The
 * From domain picks the keys of g's keyring; our own host names (fqdn,
 * sending_fqdn, srs.domain) fall back to the nearest parent domain with
 * keys (relaxed DMARC alignment); any other From is not signed.
 * Returns 0 with *hdrs_r the malloc'd DKIM-Signature fields to put first
 * (NULL: nothing to sign), or -1 with a static reason when a selector
 * failed (*hdrs_r holds what the others made).  g must stay referenced.
 */
int		 filter_sign_blocking(struct gen *g, const char *msg,
		    size_t len, char **hdrs_r, const char **error_r);
/* [worker, blocking] The same, prepended to *msg (realloc'd, *len grows). */
int		 filter_sign_prepend_blocking(struct gen *g, char **msg,
		    size_t *len, const char **error_r);
/* [any] The d= that would sign mail From from_domain, or NULL. */
const char	*filter_sign_domain(struct gen *g, const char *from_domain);

/*
 * [any] Header helpers (filter_hdr.c), on a CRLF header section of len
 * bytes.  The RFC5322.From domain (lower case, malloc'd) or NULL when
 * there is no single From with one usable address (RFC 7489 6.6.1).
 */
char		*filter_hdr_from_domain(const char *hdr, size_t len);
/* True if the Authentication-Results field value val (unfolded or not)
 * names authserv_id (RFC 8601 2.2: case-insensitive). */
bool		 filter_hdr_ar_is_ours(const char *val, size_t len,
		    const char *authserv_id);
/*
 * [any] Remove every Authentication-Results field of hdr that names
 * authserv_id (RFC 8601 5: a border MTA must delete them); returns the
 * new length (the bytes are moved in place).
 */
size_t		 filter_hdr_strip_ar(char *hdr, size_t len,
		    const char *authserv_id);
/* [any] Length of the header section including its blank line, or len
 * when the end was not found. */
size_t		 filter_hdr_len(const char *msg, size_t len);

/*
 * [any] Streaming removal of the X-Spam and X-Spam-* fields (each with
 * its folded lines; names case-insensitive, RFC 5322 3.6.8, with the
 * obsolete white space before the colon of 4.5) from the top header
 * section of a message fed in pieces of any size; everything from the
 * blank line on passes as is.  Only our own prepended X-Spam lines may
 * reach a mailbox.  A value type; the fields are private to
 * filter_hdr.c.
 */
struct filter_xspam {
	int		 state;
	bool		 drop;		/* the current field goes */
	char		 name[16];	/* a field name not yet decided */
	size_t		 nlen;
	uint64_t	 dropped;	/* bytes removed so far */
};
void		 filter_xspam_init(struct filter_xspam *);
/* Append what is kept of p to out (NULL: only count xs->dropped). */
void		 filter_xspam_feed(struct filter_xspam *, const char *p,
		    size_t len, struct buf *out);
/* End of input: a pending line start is kept. */
void		 filter_xspam_end(struct filter_xspam *, struct buf *out);
#endif
