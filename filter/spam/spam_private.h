/*
 * spam_private.h - what the spam_*.c files share: the decoded view of a
 * message, the result under construction and the rule matcher.  Not
 * part of the API: callers include spam.h only.
 */
#ifndef SPAM_PRIVATE_H
#define SPAM_PRIVATE_H
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "spam.h"

#define SPAM_TEXT_MAX	(512 * 1024)	/* decoded text kept per message */
#define SPAM_URI_MAX	256		/* URIs kept per message */
#define SPAM_SYM_MAX	128		/* symbols per result */

/* The message as the checks see it. */
struct spam_msg {
	const char	*raw;		/* whole message as received */
	size_t		 rawlen;
	const char	*hdr;		/* top header block (raw) */
	size_t		 hlen;
	struct buf	 text;		/* text parts, HTML stripped, UTF-8 */
	struct buf	 rawbody;	/* text parts decoded, HTML kept */
	char		**uri;		/* from text and href/src */
	size_t		 nuri;
	char		**att;		/* attachment file names */
	size_t		 natt;
	bool		 has_plain, has_html, broken;
};

struct spam_sym {
	char		*name;
	double		 score;		/* weight (times factor) */
	char		*opt;		/* short detail, or NULL */
};

struct spam_result {
	const struct conf *conf;
	struct spam_sym	 sym[SPAM_SYM_MAX];
	size_t		 nsym;
	double		 score;
	enum spam_action action;
	char		*reason;
};

/* spam_msg.c */
void	 spam_msg_init(struct spam_msg *, const char *raw, size_t len);
void	 spam_msg_clear(struct spam_msg *);
void	 spam_msg_heuristics(const struct spam_msg *, const struct spam_env *,
	    struct spam_result *);
/* Every value of header name (unfolded, RFC 2047 decoded) through fn;
 * "ALL" gives the raw header block once.  Stops when fn returns true. */
bool	 spam_msg_header_any(const struct spam_msg *, const char *name,
	    bool (*fn)(void *, const char *, size_t), void *arg);
/* Strip HTML tags and decode entities of in into out; hrefs to uris. */
void	 spam_html_strip(const char *in, size_t len, struct buf *out,
	    char ***uri, size_t *nuri);
/* Find URIs in plain text. */
void	 spam_text_uris(const char *in, size_t len, char ***uri, size_t *nuri);

/* spam_score.c */
struct spam_result *spam_result_new(const struct conf *);
/* Add sym with its weight (spam.symbols override, else the default,
 * else dflt) times factor; opt may be NULL. */
void	 spam_result_add(struct spam_result *, const char *sym, double factor,
	    double dflt, const char *opt);
void	 spam_result_finish(struct spam_result *);

/* spam_rules.c */
void	 spam_rules_run(const struct spam_rules *, const struct spam_msg *,
	    struct spam_result *);
#endif
