/*
 * sieve_private.h - the compiled form of a Sieve script shared by the
 * parser (sieve_parse.c), the matcher (sieve_match.c) and the
 * interpreter (sieve_run.c).  Not for use outside filter/sieve/.
 */
#ifndef SIEVE_PRIVATE_H
#define SIEVE_PRIVATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sieve.h"

/* Extensions a script may require (bit numbers). */
enum sieve_ext {
	SIEVE_EXT_FILEINTO = 0,
	SIEVE_EXT_REJECT,
	SIEVE_EXT_EREJECT,
	SIEVE_EXT_ENVELOPE,
	SIEVE_EXT_ENCODED_CHAR,
	SIEVE_EXT_COPY,
	SIEVE_EXT_BODY,
	SIEVE_EXT_VARIABLES,
	SIEVE_EXT_VACATION,
	SIEVE_EXT_VACATION_SECONDS,
	SIEVE_EXT_IMAP4FLAGS,
	SIEVE_EXT_RELATIONAL,
	SIEVE_EXT_SUBADDRESS,
	SIEVE_EXT_REGEX,
	SIEVE_EXT_SPAMTEST,
	SIEVE_EXT_SPAMTESTPLUS,
	SIEVE_EXT_MAILBOX,
	SIEVE_EXT_CMP_OCTET,
	SIEVE_EXT_CMP_CASEMAP,
	SIEVE_EXT_CMP_NUMERIC,
	SIEVE_EXT_COUNT
};

enum sieve_op {
	/* commands */
	SIEVE_OP_REQUIRE = 0,
	SIEVE_OP_IF,
	SIEVE_OP_ELSIF,
	SIEVE_OP_ELSE,
	SIEVE_OP_STOP,
	SIEVE_OP_KEEP,
	SIEVE_OP_DISCARD,
	SIEVE_OP_FILEINTO,
	SIEVE_OP_REDIRECT,
	SIEVE_OP_REJECT,
	SIEVE_OP_EREJECT,
	SIEVE_OP_VACATION,
	SIEVE_OP_SETFLAG,
	SIEVE_OP_ADDFLAG,
	SIEVE_OP_REMOVEFLAG,
	SIEVE_OP_SET,
	/* tests */
	SIEVE_OP_ADDRESS,
	SIEVE_OP_HEADER,
	SIEVE_OP_ENVELOPE,
	SIEVE_OP_EXISTS,
	SIEVE_OP_SIZE,
	SIEVE_OP_ALLOF,
	SIEVE_OP_ANYOF,
	SIEVE_OP_NOT,
	SIEVE_OP_TRUE,
	SIEVE_OP_FALSE,
	SIEVE_OP_BODY,
	SIEVE_OP_STRING,
	SIEVE_OP_HASFLAG,
	SIEVE_OP_SPAMTEST,
	SIEVE_OP_MAILBOXEXISTS
};

enum sieve_mt {
	SIEVE_MT_IS = 0,
	SIEVE_MT_CONTAINS,
	SIEVE_MT_MATCHES,
	SIEVE_MT_REGEX,
	SIEVE_MT_COUNT,
	SIEVE_MT_VALUE
};

enum sieve_cmp {
	SIEVE_CMP_CASEMAP = 0,		/* default (RFC 5228 2.7.3) */
	SIEVE_CMP_OCTET,
	SIEVE_CMP_NUMERIC
};

enum sieve_rel {
	SIEVE_REL_GT = 0,
	SIEVE_REL_GE,
	SIEVE_REL_LT,
	SIEVE_REL_LE,
	SIEVE_REL_EQ,
	SIEVE_REL_NE
};

enum sieve_addrpart {
	SIEVE_AP_ALL = 0,
	SIEVE_AP_LOCALPART,
	SIEVE_AP_DOMAIN,
	SIEVE_AP_USER,
	SIEVE_AP_DETAIL
};

enum sieve_body_xform {
	SIEVE_BODY_TEXT = 0,
	SIEVE_BODY_RAW,
	SIEVE_BODY_CONTENT
};

/* set modifiers (RFC 5229 4.1), bit per modifier. */
#define SIEVE_MOD_LOWER		0x01
#define SIEVE_MOD_UPPER		0x02
#define SIEVE_MOD_LOWERFIRST	0x04
#define SIEVE_MOD_UPPERFIRST	0x08
#define SIEVE_MOD_QUOTEWILDCARD	0x10
#define SIEVE_MOD_LENGTH	0x20

/* A string list as written; strings may still hold ${...} references. */
struct sieve_strlist {
	char	**v;
	size_t	 n;
};

enum sieve_arg_kind {
	SIEVE_ARG_TAG = 0,
	SIEVE_ARG_NUMBER,
	SIEVE_ARG_STRING,		/* one string, not bracketed */
	SIEVE_ARG_LIST			/* bracketed string list */
};

struct sieve_arg {
	enum sieve_arg_kind kind;
	unsigned int line, col;
	char	*tag;			/* without ':' */
	uint64_t num;
	struct sieve_strlist sl;
};

/* One command or test, parsed and then validated in place. */
struct sieve_node {
	char	*id;
	unsigned int line, col;
	struct sieve_arg *args;		/* as parsed */
	size_t	 n_args;
	struct sieve_node **tests;	/* test or test list */
	size_t	 n_tests;
	struct sieve_node **block;	/* { ... } */
	size_t	 n_block;
	bool	 has_block;

	/* Filled by validation. */
	enum sieve_op op;
	enum sieve_mt mt;
	enum sieve_rel rel;
	enum sieve_cmp cmp;
	enum sieve_addrpart ap;
	enum sieve_body_xform xform;
	bool	 over;			/* size :over (else :under) */
	bool	 copy, create, mime, percent, has_flags;
	unsigned int mods;		/* set modifiers */
	uint64_t num;			/* size limit, vacation seconds */
	bool	 has_seconds;
	struct sieve_strlist *list1;	/* header names, flags, ... */
	struct sieve_strlist *list2;	/* keys */
	struct sieve_strlist *flags;	/* :flags */
	struct sieve_strlist *content;	/* body :content types */
	struct sieve_strlist *addresses; /* vacation :addresses */
	const char *str1;		/* mailbox, address, reason, name */
	const char *str2;		/* set value */
	const char *subject, *from, *handle;
};

struct sieve_script {
	struct sieve_node **cmds;
	size_t	 n_cmds;
	uint32_t exts;			/* 1 << enum sieve_ext, required */
	char	*source_hash;		/* default vacation handle seed */
};

#define SIEVE_HAS(s, e)	(((s)->exts & (1u << (e))) != 0)

/* sieve_parse.c: syntax only (RFC 5228 8); sieve_compile.c checks meaning. */
int	 sieve_parse(const char *src, size_t len, struct sieve_node ***cmds_r,
	    size_t *n_r, struct sieve_error *err);
void	 sieve_parse_error(struct sieve_error *, unsigned int line,
	    unsigned int col, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
void	 sieve_node_free(struct sieve_node **);

/* sieve_result.c: the action list, with duplicate collapsing. */
struct sieve_result *sieve_result_new(void);
/* Takes ownership of a's strings; -1 with *error_r on a limit. */
int	 sieve_result_add(struct sieve_result *, struct sieve_action *a,
	    const char **error_r);
/* Drop everything and keep in INBOX (RFC 5228 2.10.6). */
void	 sieve_result_fail(struct sieve_result *, const char *error);
/* Add the implicit keep or an explicit discard (RFC 5228 2.10.2). */
void	 sieve_result_finish(struct sieve_result *, bool implicit_keep,
	    char **flags, size_t n_flags);
void	 sieve_result_action_clear(struct sieve_action *);

/* sieve_match.c: comparators and match types (RFC 4790, RFC 5228 2.7). */
struct sieve_caps {
	char	*v[SIEVE_MAX_MATCH_VARS];	/* NULL: unset */
};
void	 sieve_match_caps_clear(struct sieve_caps *);
int	 sieve_match_cmp_order(enum sieve_cmp, const char *, const char *);
bool	 sieve_match_is(enum sieve_cmp, const char *, const char *);
bool	 sieve_match_contains(enum sieve_cmp, const char *hay,
	    const char *needle);
/* Glob with '*', '?' and '\' escapes; captures into caps_r if non-NULL. */
bool	 sieve_match_glob(enum sieve_cmp, const char *pat, const char *s,
	    struct sieve_caps *caps_r);
/* 1 match, 0 no match, -1 bad pattern (*error_r) or resource limit. */
int	 sieve_match_regex(enum sieve_cmp, const char *pat, const char *s,
	    struct sieve_caps *caps_r, const char **error_r);
bool	 sieve_match_rel(enum sieve_cmp, enum sieve_rel, const char *value,
	    const char *key);
#endif
