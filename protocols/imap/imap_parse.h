/*
 * imap_parse.h - incremental IMAP command parser (RFC 9051 section 9,
 * RFC 3501 section 9, LITERAL+/LITERAL- RFC 7888, literal8 RFC 3516).
 * Bytes in, commands out; no I/O.  The parser is opaque; the command and
 * its argument tree are plain data the command handlers walk.  [any]
 */
#ifndef IMAP_PARSE_H
#define IMAP_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_parser;		/* opaque */

/*
 * Limits, set per session and changed with imap_parser_set_limits() (for
 * instance after AUTHENTICATE).  imap_parse_limits_default() fills sane
 * values for before (authenticated = false) and after login.
 */
struct imap_parse_limits {
	size_t		 max_line;	/* bytes of one command, literal data
					   excluded, line ends included */
	uint64_t	 max_literal;	/* one literal, most commands */
	uint64_t	 max_append_literal; /* one literal of APPEND/REPLACE */
	uint64_t	 max_literal_total; /* all literal data of one command */
	uint64_t	 max_nonsync;	/* {n+} above this is refused: 4096
					   with LITERAL- (RFC 7888 section 5);
					   0 = only the size limits apply */
	uint64_t	 max_skip;	/* a refused {n+}: discard up to this
					   many bytes, beyond that the error is
					   fatal (session must disconnect) */
	unsigned int	 max_depth;	/* nesting of parenthesized lists */
	size_t		 max_args;	/* nodes (args, elements, literals) */
	bool		 utf8;		/* UTF8=ACCEPT enabled: 8-bit UTF-8
					   allowed in quoted strings */
};

enum imap_arg_type {
	IMAP_ARG_ATOM,		/* also "\Seen", "1:*", BODY[...]<...> */
	IMAP_ARG_NUMBER,	/* all-digit atom that fits a uint64 */
	IMAP_ARG_STRING,	/* quoted string, escapes removed */
	IMAP_ARG_LITERAL,	/* {n} / {n+} / ~{n} data */
	IMAP_ARG_NIL,		/* the atom NIL, any case */
	IMAP_ARG_LIST		/* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type	 type;
	/*
	 * Every non-list node has str/len: the atom text (NUMBER and NIL
	 * keep their spelling), the unescaped string or the literal data.
	 * str is always NUL-terminated; only a literal8 may hold NULs.
	 */
	char			*str;
	size_t			 len;
	uint64_t		 num;		/* IMAP_ARG_NUMBER */
	bool			 literal8;	/* ~{n} */
	struct imap_arg		*list;		/* IMAP_ARG_LIST */
	size_t			 count;
};

struct imap_cmd {
	char		*tag;		/* "*" when no valid tag was read */
	char		*name;		/* upper case, "UID FETCH"; NULL on
					   error */
	bool		 uid;		/* name had the UID prefix */
	struct imap_arg	*args;		/* arguments after the name */
	size_t		 nargs;
	/* IMAP_PARSE_ERROR only: */
	bool		 fatal;		/* send BYE and close the connection */
	bool		 toobig;	/* add the [TOOBIG] response code */
};

enum imap_parse_result {
	IMAP_PARSE_NEED_MORE,	/* feed more bytes */
	IMAP_PARSE_CMD,		/* *cmd_r holds a complete command */
	IMAP_PARSE_CONTINUE,	/* send "+ Ready" (once per literal) */
	IMAP_PARSE_ERROR,	/* *cmd_r has the tag; send "tag BAD msg" */
	IMAP_PARSE_LINE		/* imap_parser_next_line(): *line_r ready */
};

/* [any] */
void	 imap_parse_limits_default(struct imap_parse_limits *,
	    bool authenticated);
struct imap_parser *imap_parser_new(const struct imap_parse_limits *);
void	 imap_parser_set_limits(struct imap_parser *,
	    const struct imap_parse_limits *);
void	 imap_parser_free(struct imap_parser **);
/*
 * Release the input, line and literal buffers while no command is in
 * progress (an idle or IDLE session keeps only the parser struct).
 */
void	 imap_parser_trim(struct imap_parser *);
/*
 * Append bytes.  The parser keeps what it has not consumed yet, so to
 * bound memory feed only after next() returned IMAP_PARSE_NEED_MORE.
 */
void	 imap_parser_feed(struct imap_parser *, const char *, size_t);
/* Bytes fed but not consumed (e.g. plaintext pipelined after STARTTLS). */
size_t	 imap_parser_pending(const struct imap_parser *);
/*
 * Take the next event.  On IMAP_PARSE_CMD and IMAP_PARSE_ERROR *cmd_r is
 * a new command the caller frees with imap_cmd_free(); on ERROR *error_r
 * is a static message for "tag BAD msg".  After a fatal error the parser
 * returns the same fatal error forever.
 */
enum imap_parse_result imap_parser_next(struct imap_parser *,
	    struct imap_cmd **cmd_r, const char **error_r);
/*
 * Take one raw line (AUTHENTICATE responses, IDLE's DONE) without its
 * line end: IMAP_PARSE_LINE with *line_r (caller frees, NUL-terminated),
 * IMAP_PARSE_NEED_MORE, or IMAP_PARSE_ERROR if it exceeds max_line (the
 * rest of the line is discarded).  Only call between commands.
 */
enum imap_parse_result imap_parser_next_line(struct imap_parser *,
	    char **line_r, size_t *len_r, const char **error_r);
void	 imap_cmd_free(struct imap_cmd **);

/* [any] Helpers for command handlers. */
/* astring (atom, number, NIL spelled as text, string, literal). */
bool	 imap_arg_astring(const struct imap_arg *, const char **str_r,
	    size_t *len_r);
/* string (quoted or literal) only, as "nstring"/"string" in the ABNF. */
bool	 imap_arg_string(const struct imap_arg *, const char **str_r,
	    size_t *len_r);
bool	 imap_arg_atom_is(const struct imap_arg *, const char *upper);
#endif
