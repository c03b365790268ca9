/*
 * imap_search.h - SEARCH / UID SEARCH arguments -> search program tree
 * (RFC 9051 section 6.4.4, RFC 3501 section 6.4.4, ESEARCH RFC 4731,
 * SEARCHRES RFC 5182, CONDSTORE RFC 7162, WITHIN RFC 5032).  Pure: the
 * store evaluates the tree later.  [any]
 */
#ifndef IMAP_SEARCH_H
#define IMAP_SEARCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"

enum imap_sk {
	IMAP_SK_ALL,
	IMAP_SK_AND,		/* children: all must match (parens, top) */
	IMAP_SK_OR,		/* two children */
	IMAP_SK_NOT,		/* one child */
	IMAP_SK_SEQSET,		/* str: sequence set text, or saved */
	IMAP_SK_UID,		/* str: UID set text, or saved */
	IMAP_SK_FLAG,		/* str: "\Answered" ... "\Recent" */
	IMAP_SK_KEYWORD,	/* str: keyword */
	IMAP_SK_BEFORE,		/* date: internal date, day granularity */
	IMAP_SK_ON,
	IMAP_SK_SINCE,
	IMAP_SK_SENTBEFORE,	/* date: Date: header */
	IMAP_SK_SENTON,
	IMAP_SK_SENTSINCE,
	IMAP_SK_LARGER,		/* num: RFC822.SIZE */
	IMAP_SK_SMALLER,
	IMAP_SK_HEADER,		/* field (e.g. "From"), str: substring */
	IMAP_SK_BODY,		/* str */
	IMAP_SK_TEXT,		/* str */
	IMAP_SK_MODSEQ,		/* num, optional entry + entry_type */
	IMAP_SK_OLDER,		/* num: seconds (RFC 5032) */
	IMAP_SK_YOUNGER
};

enum imap_sk_entry_type {
	IMAP_SK_ENTRY_ALL,	/* also when no entry name was given */
	IMAP_SK_ENTRY_PRIV,
	IMAP_SK_ENTRY_SHARED
};

struct imap_search_key {
	enum imap_sk		 type;
	char			*str;		/* NUL-terminated */
	size_t			 len;
	char			*field;		/* HEADER field name */
	bool			 saved;		/* SEQSET/UID: "$" */
	uint64_t		 num;
	int64_t			 date;		/* 00:00 UTC of that day,
						   seconds since the epoch */
	char			*entry;		/* MODSEQ entry name or NULL */
	enum imap_sk_entry_type	 entry_type;
	struct imap_search_key	*child;		/* AND, OR, NOT */
	size_t			 nchild;
};

/* RETURN options (RFC 4731 section 3.1, RFC 5182 section 2.4). */
#define IMAP_SEARCH_RET_MIN	0x01
#define IMAP_SEARCH_RET_MAX	0x02
#define IMAP_SEARCH_RET_ALL	0x04
#define IMAP_SEARCH_RET_COUNT	0x08
#define IMAP_SEARCH_RET_SAVE	0x10

struct imap_search {
	bool			 esearch;	/* RETURN (...) was given */
	unsigned int		 ret;		/* IMAP_SEARCH_RET_* */
	char			*charset;	/* NULL if not given */
	bool			 uses_saved;	/* "$" somewhere */
	bool			 uses_modseq;	/* MODSEQ somewhere */
	struct imap_search_key	 root;		/* IMAP_SK_AND */
};

/*
 * Parse args (everything after "SEARCH").  max_depth bounds the nesting
 * of parentheses, NOT and OR.  The charset is only recorded: the caller
 * answers NO [BADCHARSET] for anything but US-ASCII and UTF-8
 * (imap_search_charset_ok()).
 */
int	 imap_search_parse(const struct imap_arg *args, size_t nargs,
	    unsigned int max_depth, struct imap_search **search_r,
	    const char **error_r);
bool	 imap_search_charset_ok(const struct imap_search *);
void	 imap_search_free(struct imap_search **);
/* RFC 3501 date "1-Feb-1994" -> seconds at 00:00 UTC; -1 if invalid. */
int	 imap_search_date(const char *str, size_t len, int64_t *date_r);
#endif
