/*
 * fuzz_imap_parse.c - libFuzzer target for the IMAP parsing layer.
 * The first bytes choose the limits and a chunking seed; the rest is fed
 * in varying chunks and every event drained.  Each command's arguments
 * also go through the sequence-set, SEARCH and FETCH parsers, and
 * raw-line reads are mixed in.  Checks invariants: CONTINUE only right
 * after a literal header, commands have names, errors have tags.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_fetchatt.h"
#include "imap_parse.h"
#include "imap_search.h"
#include "imap_seqset.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_args(const struct imap_cmd *cmd)
{
	struct imap_seqset	*set;
	struct imap_search	*s;
	struct imap_fetchatt	*fa;
	const char		*err;
	struct buf		 b;
	size_t			 i;

	for (i = 0; i < cmd->nargs; i++) {
		if (cmd->args[i].type == IMAP_ARG_LIST)
			continue;
		if (imap_seqset_parse(cmd->args[i].str, cmd->args[i].len,
		    1000, IMAP_SEQSET_MAX_ELEMENTS, &set, &err) == 0) {
			buf_init(&b, 0);
			if (imap_seqset_format(set, &b) == -1)
				abort();
			if (!imap_seqset_empty(set) &&
			    !imap_seqset_contains(set, imap_seqset_max(set)))
				abort();
			buf_free(&b);
			imap_seqset_free(&set);
		}
	}
	if (imap_search_parse(cmd->args, cmd->nargs, 32, &s, &err) == 0)
		imap_search_free(&s);
	else if (err == NULL)
		abort();
	if (cmd->nargs > 0) {
		if (imap_fetchatt_parse(cmd->args + 1, cmd->nargs - 1,
		    cmd->uid, &fa, &err) == 0)
			imap_fetchatt_free(&fa);
		else if (err == NULL || fa != NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parse_limits l;
	struct imap_parser	*p;
	struct imap_cmd		*cmd;
	const char		*err;
	char			*line;
	size_t			 pos, k, len;
	uint8_t			 mode, seed;
	enum imap_parse_result	 r;
	bool			 fatal = false;

	if (size < 2)
		return 0;
	mode = data[0];
	seed = data[1];
	data += 2;
	size -= 2;
	imap_parse_limits_default(&l, (mode & 1) != 0);
	l.utf8 = (mode & 2) != 0;
	if (mode & 4) {
		l.max_line = 64;
		l.max_literal = 16;
		l.max_depth = 3;
		l.max_args = 12;
		l.max_skip = 40;
	}
	p = imap_parser_new(&l);
	for (pos = 0; pos < size && !fatal; ) {
		k = seed == 0 ? size - pos : 1 + (pos * 7 + seed) % seed;
		if (k > size - pos)
			k = size - pos;
		imap_parser_feed(p, (const char *)data + pos, k);
		pos += k;
		for (;;) {
			if ((mode & 8) && (pos & 3) == 0) {
				r = imap_parser_next_line(p, &line, &len,
				    &err);
				if (r == IMAP_PARSE_LINE) {
					if (strlen(line) > len)
						abort();
					free(line);
					continue;
				}
			}
			r = imap_parser_next(p, &cmd, &err);
			if (r == IMAP_PARSE_NEED_MORE ||
			    r == IMAP_PARSE_CONTINUE) {
				if (r == IMAP_PARSE_NEED_MORE)
					break;
				continue;
			}
			if (cmd == NULL || cmd->tag == NULL)
				abort();
			if (r == IMAP_PARSE_CMD) {
				if (cmd->name == NULL)
					abort();
				fuzz_args(cmd);
			} else if (err == NULL)
				abort();
			else
				fatal = cmd->fatal;
			imap_cmd_free(&cmd);
			if (fatal)
				break;
		}
	}
	if (imap_parser_pending(p) > size)
		abort();
	imap_parser_free(&p);
	return 0;
}
