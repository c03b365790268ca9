/*
 * managesieve_parse.h - the ManageSieve command grammar (RFC 5804 4):
 * a command is an atom followed by strings (quoted or literal) and
 * numbers, possibly spread over several lines by literals.  Pure: no
 * I/O; the session feeds one line at a time, and the literal bytes it
 * read in between.  [any]
 */
#ifndef MANAGESIEVE_PARSE_H
#define MANAGESIEVE_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSV_ARGS_MAX		3	/* RENAMESCRIPT, AUTHENTICATE */
#define MSV_VERB_MAX		16
#define MSV_QUOTED_MAX		1024	/* one quoted string */

enum msv_parse_rc {
	MSV_P_DONE = 0,		/* command complete (see cmd->error) */
	MSV_P_LITERAL		/* *lit_r bytes follow, then another line */
};

struct msv_arg {
	char	*s;		/* NUL-terminated (may contain NULs) */
	size_t	 len;
	bool	 string;	/* quoted or literal; false: atom/number */
};

struct msv_cmd {
	char		 verb[MSV_VERB_MAX + 1];	/* upper case; "" none */
	bool		 no_verb;	/* a SASL response: arguments only */
	struct msv_arg	 args[MSV_ARGS_MAX];
	size_t		 nargs;
	bool		 oversize;	/* a literal was dropped (too big) */
	const char	*error;		/* static text; NULL: well formed */
	bool		 started;
};

/*
 * Parse one line (no CRLF).  Returns MSV_P_LITERAL with *lit_r set when
 * the line ends in {n} or {n+} (the caller then reads n bytes and hands
 * them to msv_cmd_literal, even when cmd->error is set, and parses the
 * next line), else MSV_P_DONE.
 */
enum msv_parse_rc msv_parse_line(struct msv_cmd *, const char *line,
	    size_t len, uint64_t *lit_r);
/* The literal's bytes (data NULL: they were dropped; oversize is set). */
void	 msv_cmd_literal(struct msv_cmd *, const char *data, size_t len);
void	 msv_cmd_clear(struct msv_cmd *);	/* ready for the next command */
#endif
