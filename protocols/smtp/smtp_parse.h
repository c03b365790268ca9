/*
 * smtp_parse.h - parse one SMTP command line (RFC 5321 4.1) into a
 * struct smtp_cmd, or into the exact reply a server must send.
 * Pure code: no I/O, no globals, no allocation.  [any]
 */
#ifndef SMTP_PARSE_H
#define SMTP_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_addr.h"

/* A reply: "<code> <status> <text>", e.g. 501 "5.5.4" "Syntax error". */
struct smtp_reply {
	int		 code;
	const char	*status;	/* RFC 3463 enhanced status code */
	const char	*text;
};

/*
 * RFC 5321 4.5.3.1.4: 512 octets including CRLF.  Extensions raise it for
 * MAIL (SIZE +26 RFC 1870 s4, RET/ENVID +100 RFC 3461 s4, AUTH +500
 * RFC 4954 s5, BODY +16 RFC 6152, SMTPUTF8 +10) and RCPT (NOTIFY/ORCPT
 * +500, RFC 3461 s4).  The session may read lines up to SMTP_LINE_MAX_EXT
 * and leave the per-verb check to smtp_parse_cmd().  All counts include
 * the CRLF, which is not passed to the parser.
 */
#define SMTP_LINE_MAX		512
#define SMTP_LINE_MAX_MAIL	(SMTP_LINE_MAX + 26 + 100 + 500 + 16 + 10)
#define SMTP_LINE_MAX_RCPT	(SMTP_LINE_MAX + 500)
#define SMTP_LINE_MAX_EXT	SMTP_LINE_MAX_MAIL

#define SMTP_ENVID_MAX		100	/* RFC 3461 4.4, decoded */
#define SMTP_XTEXT_MAX		500	/* ORCPT (RFC 3461 4.2), AUTH= */
#define SMTP_MECH_MAX		20	/* RFC 4422 3.1 */
#define SMTP_BDAT_MAX		INT64_MAX

enum smtp_verb {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
};

/* Which MAIL/RCPT parameters were given (struct smtp_cmd.params). */
#define SMTP_PARAM_SIZE		0x001	/* RFC 1870 */
#define SMTP_PARAM_BODY		0x002	/* RFC 6152, RFC 3030 */
#define SMTP_PARAM_SMTPUTF8	0x004	/* RFC 6531 */
#define SMTP_PARAM_RET		0x008	/* RFC 3461 */
#define SMTP_PARAM_ENVID	0x010	/* RFC 3461 */
#define SMTP_PARAM_AUTH		0x020	/* RFC 4954 5 */
#define SMTP_PARAM_NOTIFY	0x040	/* RFC 3461 */
#define SMTP_PARAM_ORCPT	0x080	/* RFC 3461 */

enum smtp_body {
	SMTP_BODY_NONE = 0,		/* not given */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_NONE = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

struct smtp_cmd {
	enum smtp_verb	 verb;
	/* Set when smtp_parse_cmd() returns -1: send it as is. */
	struct smtp_reply reply;

	/* HELO/EHLO: the domain or address literal, as written. */
	char		 helo[SMTP_ADDR_DOMAIN_MAX + 1];
	bool		 helo_literal;

	/* MAIL/RCPT: the path and parameters. */
	struct smtp_addr addr;
	unsigned	 params;		/* SMTP_PARAM_* given */
	uint64_t	 size;			/* SIZE= */
	enum smtp_body	 body;			/* BODY= */
	bool		 smtputf8;		/* SMTPUTF8 */
	enum smtp_ret	 ret;			/* RET= */
	char		 envid[SMTP_ENVID_MAX + 1];	/* ENVID=, decoded */
	char		 auth[SMTP_XTEXT_MAX + 1];	/* AUTH=, decoded */
	unsigned	 notify;		/* SMTP_NOTIFY_* */
	char		 orcpt_type[SMTP_XTEXT_MAX + 1];	/* "rfc822" */
	char		 orcpt[SMTP_XTEXT_MAX + 1];	/* decoded */

	/* BDAT */
	uint64_t	 bdat_size;
	bool		 bdat_last;

	/* AUTH */
	char		 mech[SMTP_MECH_MAX + 1];	/* upper-cased */
	bool		 ir_present;		/* "=" gives an empty ir */

	/*
	 * AUTH initial response (base64, "" for "="), or the free text of
	 * VRFY/EXPN/HELP/NOOP ("" if none).
	 */
	char		 arg[SMTP_LINE_MAX];
	bool		 has_arg;
};

/*
 * [any] Parse line[0..len), the command without its CRLF.  Returns 0, or
 * -1 with cmd_r->reply set (cmd_r->verb is still set when the verb was
 * known, SMTP_CMD_UNKNOWN with 500 5.5.2 otherwise).  RCPT addresses may
 * hold UTF-8 (SMTP_ADDR_HAS_UTF8 in cmd_r->addr.flags): the session must
 * answer smtp_reply_utf8_rcpt unless the transaction used SMTPUTF8.
 */
int	 smtp_parse_cmd(const char *line, size_t len, struct smtp_cmd *cmd_r);

/* [any] "HELO", "MAIL", ... for logs; "UNKNOWN" for SMTP_CMD_UNKNOWN. */
const char *smtp_parse_verb_name(enum smtp_verb);

/*
 * [any] RFC 3461 4 xtext: decode in[0..len) into out (NUL-terminated,
 * at most size - 1 octets).  Decoded octets must be printable ASCII
 * (33-126, and SP), which also keeps NUL out.  Returns length or -1.
 */
int	 smtp_parse_xtext(const char *in, size_t len, char *out, size_t size);

/* Replies the session needs beyond those smtp_parse_cmd() hands back. */
extern const struct smtp_reply smtp_reply_utf8_rcpt;	/* 553 5.6.7 */
extern const struct smtp_reply smtp_reply_auth_mech;	/* 504 5.5.4 */
#endif
