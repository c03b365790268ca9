/*
 * sieve_compile.c - semantic checks that turn the parse tree into a
 * program: command and test names, tagged arguments, positional
 * arguments, require (RFC 5228 3.2: an extension must be required before
 * use, and an unknown one is an error), if/elsif/else chaining,
 * comparators (RFC 5228 2.7.3), match types, and the argument rules of
 * each extension.  Owns struct sieve_script.  Pure code [any].
 */
#include <stdlib.h>
#include <string.h>

#include "sieve_private.h"
#include "xmalloc.h"

static const char *const sieve_ext_names[SIEVE_EXT_COUNT] = {
	[SIEVE_EXT_FILEINTO] = "fileinto",
	[SIEVE_EXT_REJECT] = "reject",
	[SIEVE_EXT_EREJECT] = "ereject",
	[SIEVE_EXT_ENVELOPE] = "envelope",
	[SIEVE_EXT_ENCODED_CHAR] = "encoded-character",
	[SIEVE_EXT_COPY] = "copy",
	[SIEVE_EXT_BODY] = "body",
	[SIEVE_EXT_VARIABLES] = "variables",
	[SIEVE_EXT_VACATION] = "vacation",
	[SIEVE_EXT_VACATION_SECONDS] = "vacation-seconds",
	[SIEVE_EXT_IMAP4FLAGS] = "imap4flags",
	[SIEVE_EXT_RELATIONAL] = "relational",
	[SIEVE_EXT_SUBADDRESS] = "subaddress",
	[SIEVE_EXT_REGEX] = "regex",
	[SIEVE_EXT_SPAMTEST] = "spamtest",
	[SIEVE_EXT_SPAMTESTPLUS] = "spamtestplus",
	[SIEVE_EXT_MAILBOX] = "mailbox",
	[SIEVE_EXT_CMP_OCTET] = "comparator-i;octet",
	[SIEVE_EXT_CMP_CASEMAP] = "comparator-i;ascii-casemap",
	[SIEVE_EXT_CMP_NUMERIC] = "comparator-i;ascii-numeric",
};

/* Classes of tagged arguments a command accepts. */
#define TC_MATCH	0x001		/* match type and :comparator */
#define TC_ADDR		0x002		/* address part */
#define TC_SIZE		0x004
#define TC_BODY		0x008
#define TC_COPY		0x010
#define TC_CREATE	0x020
#define TC_FLAGS	0x040
#define TC_VAC		0x080
#define TC_MOD		0x100
#define TC_PERCENT	0x200

enum sieve_tagkind {
	TK_MT, TK_CMP, TK_AP, TK_SIZE, TK_BODY, TK_COPY, TK_CREATE, TK_FLAGS,
	TK_DAYS, TK_SECONDS, TK_SUBJECT, TK_FROM, TK_ADDRESSES, TK_MIME,
	TK_HANDLE, TK_MOD, TK_PERCENT
};

struct sieve_tagdef {
	const char	*name;
	unsigned int	 cls;
	enum sieve_tagkind kind;
	int		 value;
	int		 ext;		/* -1: core */
};

static const struct sieve_tagdef sieve_tags[] = {
	{ "is", TC_MATCH, TK_MT, SIEVE_MT_IS, -1 },
	{ "contains", TC_MATCH, TK_MT, SIEVE_MT_CONTAINS, -1 },
	{ "matches", TC_MATCH, TK_MT, SIEVE_MT_MATCHES, -1 },
	{ "regex", TC_MATCH, TK_MT, SIEVE_MT_REGEX, SIEVE_EXT_REGEX },
	{ "count", TC_MATCH, TK_MT, SIEVE_MT_COUNT, SIEVE_EXT_RELATIONAL },
	{ "value", TC_MATCH, TK_MT, SIEVE_MT_VALUE, SIEVE_EXT_RELATIONAL },
	{ "comparator", TC_MATCH, TK_CMP, 0, -1 },
	{ "all", TC_ADDR, TK_AP, SIEVE_AP_ALL, -1 },
	{ "localpart", TC_ADDR, TK_AP, SIEVE_AP_LOCALPART, -1 },
	{ "domain", TC_ADDR, TK_AP, SIEVE_AP_DOMAIN, -1 },
	{ "user", TC_ADDR, TK_AP, SIEVE_AP_USER, SIEVE_EXT_SUBADDRESS },
	{ "detail", TC_ADDR, TK_AP, SIEVE_AP_DETAIL, SIEVE_EXT_SUBADDRESS },
	{ "over", TC_SIZE, TK_SIZE, 1, -1 },
	{ "under", TC_SIZE, TK_SIZE, 0, -1 },
	{ "raw", TC_BODY, TK_BODY, SIEVE_BODY_RAW, -1 },
	{ "text", TC_BODY, TK_BODY, SIEVE_BODY_TEXT, -1 },
	{ "content", TC_BODY, TK_BODY, SIEVE_BODY_CONTENT, -1 },
	{ "copy", TC_COPY, TK_COPY, 0, SIEVE_EXT_COPY },
	{ "create", TC_CREATE, TK_CREATE, 0, SIEVE_EXT_MAILBOX },
	{ "flags", TC_FLAGS, TK_FLAGS, 0, SIEVE_EXT_IMAP4FLAGS },
	{ "days", TC_VAC, TK_DAYS, 0, -1 },
	{ "seconds", TC_VAC, TK_SECONDS, 0, SIEVE_EXT_VACATION_SECONDS },
	{ "subject", TC_VAC, TK_SUBJECT, 0, -1 },
	{ "from", TC_VAC, TK_FROM, 0, -1 },
	{ "addresses", TC_VAC, TK_ADDRESSES, 0, -1 },
	{ "mime", TC_VAC, TK_MIME, 0, -1 },
	{ "handle", TC_VAC, TK_HANDLE, 0, -1 },
	{ "lower", TC_MOD, TK_MOD, SIEVE_MOD_LOWER, -1 },
	{ "upper", TC_MOD, TK_MOD, SIEVE_MOD_UPPER, -1 },
	{ "lowerfirst", TC_MOD, TK_MOD, SIEVE_MOD_LOWERFIRST, -1 },
	{ "upperfirst", TC_MOD, TK_MOD, SIEVE_MOD_UPPERFIRST, -1 },
	{ "quotewildcard", TC_MOD, TK_MOD, SIEVE_MOD_QUOTEWILDCARD, -1 },
	{ "length", TC_MOD, TK_MOD, SIEVE_MOD_LENGTH, -1 },
	{ "percent", TC_PERCENT, TK_PERCENT, 0, SIEVE_EXT_SPAMTESTPLUS },
};

struct sieve_opdef {
	const char	*name;
	enum sieve_op	 op;
	int		 ext;		/* -1: core */
	bool		 test;
	unsigned int	 tags;
	const char	*pos;		/* s string, l string list, n number */
	int		 n_tests;	/* 0 none, 1 one, 2 a list */
	bool		 block;
};

static const struct sieve_opdef sieve_ops[] = {
	{ "require", SIEVE_OP_REQUIRE, -1, false, 0, "l", 0, false },
	{ "if", SIEVE_OP_IF, -1, false, 0, "", 1, true },
	{ "elsif", SIEVE_OP_ELSIF, -1, false, 0, "", 1, true },
	{ "else", SIEVE_OP_ELSE, -1, false, 0, "", 0, true },
	{ "stop", SIEVE_OP_STOP, -1, false, 0, "", 0, false },
	{ "keep", SIEVE_OP_KEEP, -1, false, TC_FLAGS, "", 0, false },
	{ "discard", SIEVE_OP_DISCARD, -1, false, 0, "", 0, false },
	{ "fileinto", SIEVE_OP_FILEINTO, SIEVE_EXT_FILEINTO, false,
	    TC_COPY | TC_CREATE | TC_FLAGS, "s", 0, false },
	{ "redirect", SIEVE_OP_REDIRECT, -1, false, TC_COPY, "s", 0, false },
	{ "reject", SIEVE_OP_REJECT, SIEVE_EXT_REJECT, false, 0, "s", 0,
	    false },
	{ "ereject", SIEVE_OP_EREJECT, SIEVE_EXT_EREJECT, false, 0, "s", 0,
	    false },
	{ "vacation", SIEVE_OP_VACATION, SIEVE_EXT_VACATION, false, TC_VAC,
	    "s", 0, false },
	{ "setflag", SIEVE_OP_SETFLAG, SIEVE_EXT_IMAP4FLAGS, false, 0, "F", 0,
	    false },
	{ "addflag", SIEVE_OP_ADDFLAG, SIEVE_EXT_IMAP4FLAGS, false, 0, "F", 0,
	    false },
	{ "removeflag", SIEVE_OP_REMOVEFLAG, SIEVE_EXT_IMAP4FLAGS, false, 0,
	    "F", 0, false },
	{ "set", SIEVE_OP_SET, SIEVE_EXT_VARIABLES, false, TC_MOD, "ss", 0,
	    false },
	{ "address", SIEVE_OP_ADDRESS, -1, true, TC_MATCH | TC_ADDR, "ll", 0,
	    false },
	{ "header", SIEVE_OP_HEADER, -1, true, TC_MATCH, "ll", 0, false },
	{ "envelope", SIEVE_OP_ENVELOPE, SIEVE_EXT_ENVELOPE, true,
	    TC_MATCH | TC_ADDR, "ll", 0, false },
	{ "exists", SIEVE_OP_EXISTS, -1, true, 0, "l", 0, false },
	{ "size", SIEVE_OP_SIZE, -1, true, TC_SIZE, "n", 0, false },
	{ "allof", SIEVE_OP_ALLOF, -1, true, 0, "", 2, false },
	{ "anyof", SIEVE_OP_ANYOF, -1, true, 0, "", 2, false },
	{ "not", SIEVE_OP_NOT, -1, true, 0, "", 1, false },
	{ "true", SIEVE_OP_TRUE, -1, true, 0, "", 0, false },
	{ "false", SIEVE_OP_FALSE, -1, true, 0, "", 0, false },
	{ "body", SIEVE_OP_BODY, SIEVE_EXT_BODY, true, TC_MATCH | TC_BODY,
	    "l", 0, false },
	{ "string", SIEVE_OP_STRING, SIEVE_EXT_VARIABLES, true, TC_MATCH, "ll",
	    0, false },
	{ "hasflag", SIEVE_OP_HASFLAG, SIEVE_EXT_IMAP4FLAGS, true, TC_MATCH,
	    "F", 0, false },
	{ "spamtest", SIEVE_OP_SPAMTEST, SIEVE_EXT_SPAMTEST, true,
	    TC_MATCH | TC_PERCENT, "s", 0, false },
	{ "mailboxexists", SIEVE_OP_MAILBOXEXISTS, SIEVE_EXT_MAILBOX, true, 0,
	    "l", 0, false },
};

struct sieve_vctx {
	struct sieve_script *s;
	struct sieve_error *err;
	bool		 seen_other;	/* a command other than require */
};

static int
sieve_ext_lookup(const char *name)
{
	int	 i;

	for (i = 0; i < SIEVE_EXT_COUNT; i++)
		if (strcmp(sieve_ext_names[i], name) == 0)
			return i;
	return -1;
}

static bool
sieve_has_ext(const struct sieve_vctx *v, int ext)
{
	if (ext < 0)
		return true;
	/* spamtestplus implies spamtest (RFC 5235 3.2). */
	if (ext == SIEVE_EXT_SPAMTEST &&
	    SIEVE_HAS(v->s, SIEVE_EXT_SPAMTESTPLUS))
		return true;
	return SIEVE_HAS(v->s, ext);
}

static bool
sieve_valid_varname(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	    *s == '_'))
		return false;
	for (s++; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static int
sieve_check_require(struct sieve_vctx *v, struct sieve_node *n)
{
	struct sieve_strlist	*sl = n->list1;
	size_t			 i;
	int			 e;

	if (v->seen_other) {
		sieve_parse_error(v->err, n->line, n->col,
		    "require must come before other commands");
		return -1;
	}
	for (i = 0; i < sl->n; i++) {
		if ((e = sieve_ext_lookup(sl->v[i])) < 0) {
			sieve_parse_error(v->err, n->args[0].line,
			    n->args[0].col, "unknown extension '%.60s'",
			    sl->v[i]);
			return -1;
		}
		v->s->exts |= 1u << e;
	}
	return 0;
}

static int
sieve_take_tag(struct sieve_vctx *v, struct sieve_node *n,
    const struct sieve_opdef *od, size_t *ip, unsigned int *seen)
{
	const struct sieve_tagdef *td = NULL;
	struct sieve_arg	*a = &n->args[*ip], *b;
	size_t			 i;
	int			 e;
	static const char *const rels[] = { "gt", "ge", "lt", "le", "eq",
	    "ne" };

	for (i = 0; i < sizeof(sieve_tags) / sizeof(sieve_tags[0]); i++)
		if ((sieve_tags[i].cls & od->tags) != 0 &&
		    strcmp(sieve_tags[i].name, a->tag) == 0) {
			td = &sieve_tags[i];
			break;
		}
	if (td == NULL || !sieve_has_ext(v, td->ext)) {
		sieve_parse_error(v->err, a->line, a->col,
		    "unknown tag ':%.40s' for '%s'%s", a->tag, od->name,
		    td != NULL ? " (extension not required)" : "");
		return -1;
	}
	if ((*seen & (1u << td->kind)) != 0 && td->kind != TK_MOD) {
		sieve_parse_error(v->err, a->line, a->col,
		    "%s given twice for '%s'", td->kind == TK_MT ?
		    "match type" : td->kind == TK_AP ? "address part" :
		    td->kind == TK_SIZE ? ":over/:under" :
		    td->kind == TK_BODY ? "body transform" : "tag",
		    od->name);
		return -1;
	}
	*seen |= 1u << td->kind;
	b = *ip + 1 < n->n_args ? &n->args[*ip + 1] : NULL;
	switch (td->kind) {
	case TK_MT:
		n->mt = (enum sieve_mt)td->value;
		if (n->mt == SIEVE_MT_COUNT || n->mt == SIEVE_MT_VALUE) {
			if (b == NULL || b->kind != SIEVE_ARG_STRING)
				goto need_string;
			for (i = 0; i < 6; i++)
				if (strcasecmp(b->sl.v[0], rels[i]) == 0)
					break;
			if (i == 6) {
				sieve_parse_error(v->err, b->line, b->col,
				    "unknown relational operator '%.20s'",
				    b->sl.v[0]);
				return -1;
			}
			n->rel = (enum sieve_rel)i;
			(*ip)++;
		}
		break;
	case TK_CMP:
		if (b == NULL || b->kind != SIEVE_ARG_STRING)
			goto need_string;
		if (strcasecmp(b->sl.v[0], "i;octet") == 0)
			n->cmp = SIEVE_CMP_OCTET;
		else if (strcasecmp(b->sl.v[0], "i;ascii-casemap") == 0)
			n->cmp = SIEVE_CMP_CASEMAP;
		else if (strcasecmp(b->sl.v[0], "i;ascii-numeric") == 0) {
			n->cmp = SIEVE_CMP_NUMERIC;
			if (!sieve_has_ext(v, SIEVE_EXT_CMP_NUMERIC)) {
				sieve_parse_error(v->err, b->line, b->col,
				    "comparator 'i;ascii-numeric' used without "
				    "require \"comparator-i;ascii-numeric\"");
				return -1;
			}
		} else {
			sieve_parse_error(v->err, b->line, b->col,
			    "unknown comparator '%.40s'", b->sl.v[0]);
			return -1;
		}
		(*ip)++;
		break;
	case TK_AP:
		n->ap = (enum sieve_addrpart)td->value;
		break;
	case TK_SIZE:
		n->over = td->value != 0;
		break;
	case TK_BODY:
		n->xform = (enum sieve_body_xform)td->value;
		if (n->xform == SIEVE_BODY_CONTENT) {
			if (b == NULL || (b->kind != SIEVE_ARG_STRING &&
			    b->kind != SIEVE_ARG_LIST))
				goto need_list;
			n->content = &b->sl;
			(*ip)++;
		}
		break;
	case TK_COPY:
		n->copy = true;
		break;
	case TK_CREATE:
		n->create = true;
		break;
	case TK_FLAGS:
		if (b == NULL || (b->kind != SIEVE_ARG_STRING &&
		    b->kind != SIEVE_ARG_LIST))
			goto need_list;
		n->flags = &b->sl;
		n->has_flags = true;
		(*ip)++;
		break;
	case TK_DAYS:
	case TK_SECONDS:
		if ((*seen & (1u << TK_DAYS)) && (*seen & (1u << TK_SECONDS))) {
			sieve_parse_error(v->err, a->line, a->col,
			    ":days and :seconds are exclusive");
			return -1;
		}
		if (b == NULL || b->kind != SIEVE_ARG_NUMBER) {
			sieve_parse_error(v->err, a->line, a->col,
			    "':%s' needs a number", td->name);
			return -1;
		}
		/* RFC 5230 4.1: at least one day; RFC 6131 allows 0 s. */
		if (td->kind == TK_DAYS)
			n->num = (b->num < 1 ? 1 : b->num > 365 ? 365 :
			    b->num) * 86400;
		else
			n->num = b->num > 365 * 86400 ? 365 * 86400 : b->num;
		n->has_seconds = true;
		(*ip)++;
		break;
	case TK_SUBJECT:
	case TK_FROM:
	case TK_HANDLE:
		if (b == NULL || b->kind != SIEVE_ARG_STRING)
			goto need_string;
		if (td->kind == TK_SUBJECT)
			n->subject = b->sl.v[0];
		else if (td->kind == TK_FROM)
			n->from = b->sl.v[0];
		else
			n->handle = b->sl.v[0];
		(*ip)++;
		break;
	case TK_ADDRESSES:
		if (b == NULL || (b->kind != SIEVE_ARG_STRING &&
		    b->kind != SIEVE_ARG_LIST))
			goto need_list;
		n->addresses = &b->sl;
		(*ip)++;
		break;
	case TK_MIME:
		n->mime = true;
		break;
	case TK_MOD:
		/* RFC 5229 4.1: two modifiers of one precedence clash. */
		e = td->value;
		if ((n->mods & e) != 0 ||
		    ((e & (SIEVE_MOD_LOWER | SIEVE_MOD_UPPER)) &&
		    (n->mods & (SIEVE_MOD_LOWER | SIEVE_MOD_UPPER))) ||
		    ((e & (SIEVE_MOD_LOWERFIRST | SIEVE_MOD_UPPERFIRST)) &&
		    (n->mods & (SIEVE_MOD_LOWERFIRST |
		    SIEVE_MOD_UPPERFIRST)))) {
			sieve_parse_error(v->err, a->line, a->col,
			    "conflicting modifier ':%s'", td->name);
			return -1;
		}
		n->mods |= (unsigned int)e;
		break;
	case TK_PERCENT:
		n->percent = true;
		break;
	}
	return 0;
need_string:
	sieve_parse_error(v->err, a->line, a->col, "':%s' needs a string",
	    td->name);
	return -1;
need_list:
	sieve_parse_error(v->err, a->line, a->col,
	    "':%s' needs a string list", td->name);
	return -1;
}

static int sieve_check_node(struct sieve_vctx *, struct sieve_node *, bool);

static int
sieve_check_block(struct sieve_vctx *v, struct sieve_node **cmds, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (sieve_check_node(v, cmds[i], false) == -1)
			return -1;
		if ((cmds[i]->op == SIEVE_OP_ELSIF ||
		    cmds[i]->op == SIEVE_OP_ELSE) && (i == 0 ||
		    (cmds[i - 1]->op != SIEVE_OP_IF &&
		    cmds[i - 1]->op != SIEVE_OP_ELSIF))) {
			sieve_parse_error(v->err, cmds[i]->line, cmds[i]->col,
			    "'%s' without 'if'", cmds[i]->id);
			return -1;
		}
	}
	return 0;
}

static int
sieve_check_node(struct sieve_vctx *v, struct sieve_node *n, bool is_test)
{
	const struct sieve_opdef *od = NULL;
	struct sieve_arg	*pos[3];
	const char		*sig;
	unsigned int		 seen = 0;
	size_t			 i, np = 0, j;
	const char		*error;

	for (i = 0; i < sizeof(sieve_ops) / sizeof(sieve_ops[0]); i++)
		if (strcmp(sieve_ops[i].name, n->id) == 0) {
			od = &sieve_ops[i];
			break;
		}
	if (od == NULL || od->test != is_test) {
		sieve_parse_error(v->err, n->line, n->col, "unknown %s '%.40s'",
		    is_test ? "test" : "command", n->id);
		return -1;
	}
	if (!sieve_has_ext(v, od->ext)) {
		sieve_parse_error(v->err, n->line, n->col,
		    "'%s' used without require \"%s\"", od->name,
		    sieve_ext_names[od->ext]);
		return -1;
	}
	n->op = od->op;
	if (n->op != SIEVE_OP_REQUIRE)
		v->seen_other = true;
	for (i = 0; i < n->n_args; i++) {
		if (n->args[i].kind == SIEVE_ARG_TAG) {
			if (np > 0) {
				sieve_parse_error(v->err, n->args[i].line,
				    n->args[i].col, "tag ':%.40s' after "
				    "positional arguments", n->args[i].tag);
				return -1;
			}
			if (sieve_take_tag(v, n, od, &i, &seen) == -1)
				return -1;
			continue;
		}
		if (np == 2 || (np >= strlen(od->pos) && od->pos[0] != 'F')) {
			sieve_parse_error(v->err, n->args[i].line,
			    n->args[i].col, "too many arguments for '%s'",
			    od->name);
			return -1;
		}
		pos[np++] = &n->args[i];
	}
	/* setflag/addflag/removeflag/hasflag: [variable(s)] flags. */
	sig = od->pos;
	if (sig[0] == 'F')
		sig = np == 2 ? (n->op == SIEVE_OP_HASFLAG ? "ll" : "sl") :
		    "l";
	if (sig[0] == 'F' || np != strlen(sig)) {
		sieve_parse_error(v->err, n->line, n->col,
		    "'%s' needs %zu argument%s", od->name, strlen(sig),
		    strlen(sig) == 1 ? "" : "s");
		return -1;
	}
	for (i = 0; i < np; i++) {
		if (sig[i] == 'n' && pos[i]->kind != SIEVE_ARG_NUMBER) {
			sieve_parse_error(v->err, pos[i]->line, pos[i]->col,
			    "expected a number");
			return -1;
		}
		if (sig[i] == 's' && pos[i]->kind != SIEVE_ARG_STRING) {
			sieve_parse_error(v->err, pos[i]->line, pos[i]->col,
			    "expected a string");
			return -1;
		}
		if (sig[i] == 'l' && pos[i]->kind != SIEVE_ARG_STRING &&
		    pos[i]->kind != SIEVE_ARG_LIST) {
			sieve_parse_error(v->err, pos[i]->line, pos[i]->col,
			    "expected a string list");
			return -1;
		}
	}
	if (np > 0 && sig[np - 1] == 'n')
		n->num = pos[np - 1]->num;
	if (np == 1 && sig[0] != 'n') {
		n->list1 = &pos[0]->sl;
		n->str1 = pos[0]->sl.v[0];
	} else if (np == 2) {
		n->list1 = &pos[0]->sl;
		n->list2 = &pos[1]->sl;
		n->str1 = pos[0]->sl.v[0];
		n->str2 = pos[1]->sl.v[0];
	}
	if (n->op == SIEVE_OP_HASFLAG && np == 1) {
		n->list2 = n->list1;	/* keys; the internal variable */
		n->list1 = NULL;
	}
	/* Tests and blocks. */
	if (od->n_tests == 0 && n->n_tests > 0) {
		sieve_parse_error(v->err, n->tests[0]->line, n->tests[0]->col,
		    "'%s' takes no test", od->name);
		return -1;
	}
	if (od->n_tests == 1 && n->n_tests != 1) {
		sieve_parse_error(v->err, n->line, n->col,
		    "'%s' needs exactly one test", od->name);
		return -1;
	}
	if (od->n_tests == 2 && n->n_tests == 0) {
		sieve_parse_error(v->err, n->line, n->col,
		    "'%s' needs a test list", od->name);
		return -1;
	}
	if (od->block && !n->has_block) {
		sieve_parse_error(v->err, n->line, n->col,
		    "'%s' needs a block", od->name);
		return -1;
	}
	if (!od->block && n->has_block) {
		sieve_parse_error(v->err, n->line, n->col,
		    "'%s' does not take a block", od->name);
		return -1;
	}
	/* Per-command rules. */
	switch (n->op) {
	case SIEVE_OP_REQUIRE:
		if (sieve_check_require(v, n) == -1)
			return -1;
		break;
	case SIEVE_OP_SIZE:
		if ((seen & (1u << TK_SIZE)) == 0) {
			sieve_parse_error(v->err, n->line, n->col,
			    "'size' needs :over or :under");
			return -1;
		}
		break;
	case SIEVE_OP_ENVELOPE:
		for (j = 0; j < n->list1->n; j++)
			if (strcasecmp(n->list1->v[j], "from") != 0 &&
			    strcasecmp(n->list1->v[j], "to") != 0 &&
			    strstr(n->list1->v[j], "${") == NULL) {
				sieve_parse_error(v->err, pos[0]->line,
				    pos[0]->col, "unknown envelope part "
				    "'%.40s'", n->list1->v[j]);
				return -1;
			}
		break;
	case SIEVE_OP_SET:
		if (!sieve_valid_varname(n->str1)) {
			sieve_parse_error(v->err, pos[0]->line, pos[0]->col,
			    "invalid variable name '%.40s'", n->str1);
			return -1;
		}
		break;
	case SIEVE_OP_SETFLAG:
	case SIEVE_OP_ADDFLAG:
	case SIEVE_OP_REMOVEFLAG:
		if (np == 2) {
			if (!sieve_has_ext(v, SIEVE_EXT_VARIABLES) ||
			    !sieve_valid_varname(n->str1)) {
				sieve_parse_error(v->err, pos[0]->line,
				    pos[0]->col, "invalid variable name "
				    "'%.40s'", n->str1);
				return -1;
			}
			n->flags = n->list2;
		} else {
			n->flags = n->list1;
			n->str1 = NULL;
		}
		break;
	case SIEVE_OP_VACATION:
		if (!n->has_seconds)
			n->num = 7 * 86400;	/* RFC 5230 4.1 default */
		break;
	default:
		break;
	}
	/* Match type and comparator combinations (RFC 4790 9.1). */
	if (od->tags & TC_MATCH) {
		if (n->cmp == SIEVE_CMP_NUMERIC &&
		    (n->mt == SIEVE_MT_CONTAINS || n->mt == SIEVE_MT_MATCHES ||
		    n->mt == SIEVE_MT_REGEX)) {
			sieve_parse_error(v->err, n->line, n->col,
			    "comparator 'i;ascii-numeric' does not support "
			    "substring matches");
			return -1;
		}
		if (n->mt == SIEVE_MT_REGEX && n->list2 != NULL)
			for (j = 0; j < n->list2->n; j++)
				if (strstr(n->list2->v[j], "${") == NULL &&
				    sieve_match_regex(n->cmp, n->list2->v[j],
				    NULL, NULL, &error) == -1) {
					sieve_parse_error(v->err, n->line,
					    n->col, "invalid regular expression "
					    "'%.60s'", n->list2->v[j]);
					return -1;
				}
		if (n->op == SIEVE_OP_SPAMTEST || n->op == SIEVE_OP_BODY) {
			n->list2 = n->list1;	/* keys only */
			n->list1 = NULL;
		}
	}
	for (i = 0; i < n->n_tests; i++)
		if (sieve_check_node(v, n->tests[i], true) == -1)
			return -1;
	return sieve_check_block(v, n->block, n->n_block);
}

struct sieve_script *
sieve_compile(const char *src, size_t len, struct sieve_error *err_r)
{
	struct sieve_script	*s;
	struct sieve_vctx	 v;
	struct sieve_error	 dummy;

	if (err_r == NULL)
		err_r = &dummy;
	memset(err_r, 0, sizeof(*err_r));
	s = xcalloc(1, sizeof(*s));
	if (sieve_parse(src, len, &s->cmds, &s->n_cmds, err_r) == -1) {
		sieve_script_free(&s);
		return NULL;
	}
	memset(&v, 0, sizeof(v));
	v.s = s;
	v.err = err_r;
	if (sieve_check_block(&v, s->cmds, s->n_cmds) == -1) {
		sieve_script_free(&s);
		return NULL;
	}
	return s;
}

void
sieve_script_free(struct sieve_script **sp)
{
	struct sieve_script	*s = *sp;
	size_t			 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_cmds; i++)
		sieve_node_free(&s->cmds[i]);
	free(s->cmds);
	free(s->source_hash);
	free(s);
	*sp = NULL;
}
