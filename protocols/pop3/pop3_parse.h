/*
 * pop3_parse.h - the pure half of the POP3 server: one command line
 * (RFC 1939 section 3, RFC 2449, RFC 5034) into a struct pop3_cmd, and
 * the transform that turns a stored message into the multi-line RETR/TOP
 * response (bare LF -> CRLF, dot-stuffing, the TOP line limit, the final
 * ".").  No I/O, no globals; the parser does not allocate.  [any]
 */
#ifndef POP3_PARSE_H
#define POP3_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/*
 * RFC 2449 section 4: a command line is at most 255 octets including the
 * CRLF.  AUTH may be longer (an initial response, RFC 5034 section 4,
 * which tells clients to stay under the limit; we are liberal), up to
 * POP3_SASL_LINE_MAX, the limit for SASL continuation lines too.
 */
#define POP3_LINE_MAX		255
#define POP3_SASL_LINE_MAX	8192
#define POP3_MECH_MAX		20	/* RFC 4422 section 3.1 */

enum pop3_verb {
	POP3_CMD_UNKNOWN = 0,
	POP3_CMD_USER,		/* RFC 1939 7 */
	POP3_CMD_PASS,		/* RFC 1939 7 */
	POP3_CMD_APOP,		/* RFC 1939 7 (refused by us) */
	POP3_CMD_AUTH,		/* RFC 5034 4 */
	POP3_CMD_STLS,		/* RFC 2595 4 */
	POP3_CMD_CAPA,		/* RFC 2449 5 */
	POP3_CMD_QUIT,		/* RFC 1939 5, 6 */
	POP3_CMD_STAT,		/* RFC 1939 5 */
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_TOP,		/* RFC 1939 7 */
	POP3_CMD_UIDL		/* RFC 1939 7 */
};

struct pop3_cmd {
	enum pop3_verb	 verb;		/* UNKNOWN: no such keyword */
	bool		 has_msg;	/* LIST/UIDL with a number */
	uint32_t	 msg;		/* message number, >= 1 */
	uint64_t	 lines;		/* TOP: body lines */
	/* USER name, PASS password (may hold spaces), AUTH mechanism */
	const char	*arg;
	size_t		 arg_len;
	/* AUTH initial response (base64 or "="), NULL if absent */
	const char	*ir;
	size_t		 ir_len;
	/* on -1: the text after "-ERR " (static) */
	const char	*error;
};

/*
 * Parse line (without its CRLF; len octets, no NUL needed).  Returns 0
 * or -1 with cmd_r->error set; cmd_r->verb is set whenever the keyword
 * was recognised, even on -1.  Pointers in cmd_r point into line.
 */
int		 pop3_parse_cmd(const char *line, size_t len,
		    struct pop3_cmd *cmd_r);
const char	*pop3_verb_name(enum pop3_verb);

/*
 * The RETR/TOP transform.  Feed the file's bytes in chunks of any size;
 * output is CRLF-terminated lines with a '.' doubled at every line start
 * (RFC 1939 section 3).  lines < 0: the whole message (RETR); else the
 * header, the blank line and at most lines body lines (TOP).  feed
 * returns true once nothing more is wanted (the TOP limit was reached);
 * finish ends an unterminated last line and adds ".\r\n".
 */
struct pop3_xform;

struct pop3_xform *pop3_xform_new(int64_t lines);
bool		 pop3_xform_feed(struct pop3_xform *, const void *data,
		    size_t len, struct buf *out);
void		 pop3_xform_finish(struct pop3_xform *, struct buf *out);
void		 pop3_xform_free(struct pop3_xform **);
#endif
