/*
 * managesieve_parse.c - the ManageSieve command grammar (RFC 5804 4).
 *
 *   command = atom *(SP (string / number / atom)) CRLF
 *   string  = quoted / literal
 *   quoted  = DQUOTE *(SAFE-UTF8-CHAR / "\" ("\" / DQUOTE)) DQUOTE
 *   literal = "{" number ["+"] "}" CRLF *OCTET   (both forms accepted)
 *
 * A literal always ends its line; the command goes on in the next line.
 * A malformed command still reports a trailing literal so that the
 * session can skip its bytes instead of running them as commands.
 *
 * Owns the argument copies in struct msv_cmd.  Pure; any thread.  [any]
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "managesieve_parse.h"
#include "xmalloc.h"

void
msv_cmd_clear(struct msv_cmd *cmd)
{
	size_t	 i;
	bool	 no_verb = cmd->no_verb;

	for (i = 0; i < cmd->nargs; i++) {
		if (cmd->args[i].s != NULL) {
			explicit_bzero(cmd->args[i].s, cmd->args[i].len);
			free(cmd->args[i].s);
		}
	}
	memset(cmd, 0, sizeof(*cmd));
	cmd->no_verb = no_verb;
}

/* "{123}" or "{123+}" at the end of line: 1 with *n_r, 0 none, -1 bad. */
static int
msv_trailing_literal(const char *line, size_t len, size_t *start_r,
    uint64_t *n_r)
{
	size_t		 i, end;
	uint64_t	 n = 0;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	end = len - 1;
	if (line[end - 1] == '+')
		end--;
	for (i = end; i > 0 && isdigit((unsigned char)line[i - 1]); i--)
		;
	if (i == 0 || line[i - 1] != '{' || i == end)
		return 0;
	for (; i < end; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(line[i] - '0');
	}
	for (i = end; line[i - 1] != '{'; i--)
		;
	*start_r = i - 1;
	*n_r = n;
	return 1;
}

static void
msv_add(struct msv_cmd *cmd, const char *s, size_t len, bool string)
{
	struct msv_arg	*a;

	if (cmd->nargs >= MSV_ARGS_MAX) {
		if (cmd->error == NULL)
			cmd->error = "Too many arguments";
		return;
	}
	a = &cmd->args[cmd->nargs++];
	a->s = xmalloc(len + 1);
	memcpy(a->s, s, len);
	a->s[len] = '\0';
	a->len = len;
	a->string = string;
}

void
msv_cmd_literal(struct msv_cmd *cmd, const char *data, size_t len)
{
	if (data == NULL) {
		cmd->oversize = true;
		msv_add(cmd, "", 0, true);
		return;
	}
	if (cmd->error == NULL)
		msv_add(cmd, data, len, true);
}

/* A quoted string at line[*p] (the opening quote). */
static int
msv_quoted(struct msv_cmd *cmd, const char *line, size_t len, size_t *p)
{
	char	 buf[MSV_QUOTED_MAX];
	size_t	 i = *p + 1, n = 0;
	char	 c;

	for (; i < len; i++) {
		c = line[i];
		if (c == '"') {
			msv_add(cmd, buf, n, true);
			*p = i + 1;
			return 0;
		}
		if (c == '\\') {
			if (i + 1 >= len ||
			    (line[i + 1] != '"' && line[i + 1] != '\\')) {
				cmd->error = "Bad escape in quoted string";
				return -1;
			}
			c = line[++i];
		} else if (c == '\0' || c == '\r' || c == '\n') {
			cmd->error = "Bad character in quoted string";
			return -1;
		}
		if (n >= sizeof(buf)) {
			cmd->error = "Quoted string too long";
			return -1;
		}
		buf[n++] = c;
	}
	cmd->error = "Unterminated quoted string";
	return -1;
}

enum msv_parse_rc
msv_parse_line(struct msv_cmd *cmd, const char *line, size_t len,
    uint64_t *lit_r)
{
	size_t		 p = 0, q, lstart;
	uint64_t	 n = 0;	/* set by msv_trailing_literal when t == 1 */
	int		 t;
	bool		 first = false;

	t = msv_trailing_literal(line, len, &lstart, &n);
	if (t == -1) {
		cmd->error = "Literal too large";
		cmd->started = true;
		return MSV_P_DONE;
	}
	if (cmd->error != NULL)
		goto skip;
	if (!cmd->started) {
		cmd->started = true;
		if (!cmd->no_verb) {
			while (p < len && line[p] != ' ')
				p++;
			if (p == 0) {
				cmd->error = "Empty command";
				goto skip;
			}
			if (p > MSV_VERB_MAX) {
				cmd->error = "Unknown command";
				goto skip;
			}
			for (q = 0; q < p; q++)
				cmd->verb[q] = (char)toupper((unsigned char)line[q]);
			cmd->verb[p] = '\0';
		} else
			first = true;
	}
	while (p < len) {
		if (!first) {
			if (line[p] != ' ') {
				cmd->error = "Expected a space between "
				    "arguments";
				goto skip;
			}
			if (++p == len) {
				cmd->error = "Trailing space";
				goto skip;
			}
		}
		first = false;
		if (line[p] == '"') {
			if (msv_quoted(cmd, line, len, &p) == -1)
				goto skip;
		} else if (line[p] == '{') {
			if (t != 1 || lstart != p) {
				cmd->error = "Bad literal";
				goto skip;
			}
			*lit_r = n;
			return MSV_P_LITERAL;
		} else {
			for (q = p; q < len && line[q] != ' '; q++) {
				if ((unsigned char)line[q] < 0x21 ||
				    line[q] == '"' || line[q] == '{' ||
				    line[q] == 0x7f) {
					cmd->error = "Bad character in atom";
					goto skip;
				}
			}
			msv_add(cmd, line + p, q - p, false);
			p = q;
		}
		if (cmd->error != NULL)
			goto skip;
	}
	return MSV_P_DONE;
skip:
	/* Malformed: still skip a trailing literal's bytes. */
	if (t == 1) {
		*lit_r = n;
		return MSV_P_LITERAL;
	}
	return MSV_P_DONE;
}
