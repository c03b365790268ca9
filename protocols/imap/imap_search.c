/*
 * imap_search.c - parse SEARCH arguments into a program tree.
 *
 * search     = "SEARCH" [search-return-opts] [SP "CHARSET" SP charset]
 *              1*(SP search-key)                  (RFC 9051, RFC 4731)
 * The top-level keys are ANDed.  Keys are normalized where that makes the
 * evaluator simpler and loses nothing: UNSEEN is NOT(FLAG \Seen), NEW is
 * AND(FLAG \Recent, NOT(FLAG \Seen)), OLD is NOT(FLAG \Recent), FROM x is
 * HEADER From x.  Sequence sets are validated here but kept as text: '*'
 * can only be resolved against the mailbox when the search runs.
 * Owns the tree it returns.  [any]: pure code, no I/O, no globals.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_search.h"
#include "imap_seqset.h"
#include "xmalloc.h"

/* Recursion guard whatever the caller's max_depth is. */
#define IMAP_SEARCH_DEPTH_HARD	256

struct imap_sctx {
	const struct imap_arg	*args;
	size_t			 n, pos;
	unsigned int		 max_depth;
	struct imap_search	*s;
	const char		*err;
};

static void
imap_search_key_clear(struct imap_search_key *k)
{
	size_t	 i;

	for (i = 0; i < k->nchild; i++)
		imap_search_key_clear(&k->child[i]);
	free(k->child);
	free(k->str);
	free(k->field);
	free(k->entry);
	memset(k, 0, sizeof(*k));
}

void
imap_search_free(struct imap_search **sp)
{
	struct imap_search	*s = *sp;

	if (s == NULL)
		return;
	imap_search_key_clear(&s->root);
	free(s->charset);
	free(s);
	*sp = NULL;
}

bool
imap_search_charset_ok(const struct imap_search *s)
{
	return s->charset == NULL || strcasecmp(s->charset, "UTF-8") == 0 ||
	    strcasecmp(s->charset, "US-ASCII") == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (no overflow for
 * four-digit years). */
static int64_t
imap_days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	int64_t		 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* date-text = date-day "-" date-month "-" date-year (RFC 9051 sec. 9) */
int
imap_search_date(const char *s, size_t len, int64_t *date_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const unsigned char mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };
	unsigned int	 day = 0, mon, year = 0, i = 0, k;
	bool		 leap;

	while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
		day = day * 10 + (unsigned int)(s[i++] - '0');
	if (i == 0 || i >= len || s[i] != '-' || len - i - 1 != 8 ||
	    s[i + 4] != '-')
		return -1;
	i++;
	for (mon = 0; mon < 12; mon++)
		if (strncasecmp(s + i, months + mon * 3, 3) == 0)
			break;
	if (mon == 12)
		return -1;
	for (k = i + 4; k < len; k++) {
		if (s[k] < '0' || s[k] > '9')
			return -1;
		year = year * 10 + (unsigned int)(s[k] - '0');
	}
	leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (day == 0 || day > mdays[mon] || (mon == 1 && day == 29 && !leap))
		return -1;
	*date_r = imap_days_from_civil(year, mon + 1, day) * 86400;
	return 0;
}

static const struct imap_arg *
imap_sctx_next(struct imap_sctx *c)
{
	if (c->pos >= c->n)
		return NULL;
	return &c->args[c->pos++];
}

static int
imap_sctx_astring(struct imap_sctx *c, const char *what, char **str_r,
    size_t *len_r)
{
	const struct imap_arg	*a = imap_sctx_next(c);
	const char		*s;
	size_t			 len;

	if (!imap_arg_astring(a, &s, &len)) {
		c->err = what;
		return -1;
	}
	*str_r = xmemdup(s, len + 1);
	*len_r = len;
	return 0;
}

static int
imap_sctx_number(struct imap_sctx *c, uint64_t max, uint64_t *num_r,
    const char *what)
{
	const struct imap_arg	*a = imap_sctx_next(c);

	if (a == NULL || a->type != IMAP_ARG_NUMBER || a->num > max) {
		c->err = what;
		return -1;
	}
	*num_r = a->num;
	return 0;
}

static struct imap_search_key *
imap_key_children(struct imap_search_key *k, enum imap_sk type, size_t n)
{
	k->type = type;
	k->child = xcalloc(n, sizeof(*k->child));
	k->nchild = n;
	return k->child;
}

static void
imap_key_flag(struct imap_search_key *k, const char *flag, bool negate)
{
	if (negate)
		k = imap_key_children(k, IMAP_SK_NOT, 1);
	k->type = IMAP_SK_FLAG;
	k->str = xstrdup(flag);
	k->len = strlen(flag);
}

static int imap_search_key(struct imap_sctx *, unsigned int,
	    struct imap_search_key *);

/* Keys until the end of c's arguments, ANDed into k (at least one). */
static int
imap_search_keys(struct imap_sctx *c, unsigned int depth,
    struct imap_search_key *k)
{
	size_t	 cap = 0;

	k->type = IMAP_SK_AND;
	if (c->pos >= c->n) {
		c->err = "Missing search key";
		return -1;
	}
	while (c->pos < c->n) {
		if (k->nchild == cap) {
			cap = cap ? cap * 2 : 4;
			k->child = xreallocarray(k->child, cap,
			    sizeof(*k->child));
		}
		memset(&k->child[k->nchild], 0, sizeof(*k->child));
		k->nchild++;
		if (imap_search_key(c, depth, &k->child[k->nchild - 1]) == -1)
			return -1;
	}
	return 0;
}

static int
imap_search_seqset(struct imap_sctx *c, const struct imap_arg *a,
    enum imap_sk type, struct imap_search_key *k)
{
	if (a == NULL || (a->type != IMAP_ARG_ATOM &&
	    a->type != IMAP_ARG_NUMBER) || !imap_seqset_valid(a->str, a->len)) {
		c->err = "Invalid sequence set in search";
		return -1;
	}
	k->type = type;
	if (a->len == 1 && a->str[0] == '$') {
		k->saved = true;
		c->s->uses_saved = true;
	}
	k->str = xstrdup(a->str);
	k->len = a->len;
	return 0;
}

/* field-name = 1*<any CHAR, except CTL, SP and ":"> (RFC 5322 3.6.8) */
static bool
imap_search_field_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f || s[i] == ':')
			return false;
	return true;
}

/*
 * search-modsequence = "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer
 * search-modseq-ext = SP entry-name SP entry-type-req  (RFC 7162 3.1.5)
 */
static int
imap_search_modseq(struct imap_sctx *c, struct imap_search_key *k)
{
	const struct imap_arg	*a;
	const char		*s;
	size_t			 len;

	k->type = IMAP_SK_MODSEQ;
	c->s->uses_modseq = true;
	a = c->pos < c->n ? &c->args[c->pos] : NULL;
	if (a != NULL && a->type != IMAP_ARG_NUMBER) {
		c->pos++;
		if (!imap_arg_string(a, &s, &len) ||
		    len < 8 || strncasecmp(s, "/flags/", 7) != 0 ||
		    memchr(s, '\0', len) != NULL) {
			c->err = "Invalid MODSEQ entry name";
			return -1;
		}
		k->entry = xstrdup(s);
		if ((a = imap_sctx_next(c)) == NULL) {
			c->err = "Missing MODSEQ entry type";
			return -1;
		}
		if (imap_arg_atom_is(a, "PRIV"))
			k->entry_type = IMAP_SK_ENTRY_PRIV;
		else if (imap_arg_atom_is(a, "SHARED"))
			k->entry_type = IMAP_SK_ENTRY_SHARED;
		else if (imap_arg_atom_is(a, "ALL"))
			k->entry_type = IMAP_SK_ENTRY_ALL;
		else {
			c->err = "Invalid MODSEQ entry type";
			return -1;
		}
	}
	/* mod-sequence-valzer = "0" / mod-sequence-value (< 2^63) */
	return imap_sctx_number(c, INT64_MAX, &k->num, "Invalid MODSEQ value");
}

static const struct {
	const char	*name;
	const char	*flag;
	bool		 negate;
} imap_search_flags[] = {
	{ "ANSWERED", "\\Answered", false },
	{ "DELETED", "\\Deleted", false },
	{ "DRAFT", "\\Draft", false },
	{ "FLAGGED", "\\Flagged", false },
	{ "RECENT", "\\Recent", false },
	{ "SEEN", "\\Seen", false },
	{ "UNANSWERED", "\\Answered", true },
	{ "UNDELETED", "\\Deleted", true },
	{ "UNDRAFT", "\\Draft", true },
	{ "UNFLAGGED", "\\Flagged", true },
	{ "UNSEEN", "\\Seen", true },
	{ "OLD", "\\Recent", true },
};

static const struct {
	const char	*name;
	enum imap_sk	 type;
} imap_search_dates[] = {
	{ "BEFORE", IMAP_SK_BEFORE }, { "ON", IMAP_SK_ON },
	{ "SINCE", IMAP_SK_SINCE }, { "SENTBEFORE", IMAP_SK_SENTBEFORE },
	{ "SENTON", IMAP_SK_SENTON }, { "SENTSINCE", IMAP_SK_SENTSINCE },
};

static const struct {
	const char	*name;
	const char	*field;		/* NULL: BODY / TEXT */
	enum imap_sk	 type;
} imap_search_strings[] = {
	{ "BCC", "Bcc", IMAP_SK_HEADER }, { "CC", "Cc", IMAP_SK_HEADER },
	{ "FROM", "From", IMAP_SK_HEADER },
	{ "SUBJECT", "Subject", IMAP_SK_HEADER },
	{ "TO", "To", IMAP_SK_HEADER },
	{ "BODY", NULL, IMAP_SK_BODY }, { "TEXT", NULL, IMAP_SK_TEXT },
};

static int
imap_search_key(struct imap_sctx *c, unsigned int depth,
    struct imap_search_key *k)
{
	const struct imap_arg	*a = imap_sctx_next(c);
	struct imap_sctx	 sub;
	struct imap_search_key	*ch;
	const char		*s;
	size_t			 i, len;
	unsigned int		 maxd;

	maxd = c->max_depth < IMAP_SEARCH_DEPTH_HARD ? c->max_depth :
	    IMAP_SEARCH_DEPTH_HARD;
	if (a == NULL) {
		c->err = "Missing search key";
		return -1;
	}
	if (a->type == IMAP_ARG_LIST) {
		if (depth >= maxd) {
			c->err = "Search nested too deeply";
			return -1;
		}
		sub = *c;
		sub.args = a->list;
		sub.n = a->count;
		sub.pos = 0;
		if (imap_search_keys(&sub, depth + 1, k) == -1) {
			c->err = sub.err;
			return -1;
		}
		return 0;
	}
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NUMBER) {
		c->err = "Invalid search key";
		return -1;
	}
	s = a->str;
	/* A sequence set starts with a digit, '*' or is "$". */
	if ((s[0] >= '0' && s[0] <= '9') || s[0] == '*' || s[0] == '$')
		return imap_search_seqset(c, a, IMAP_SK_SEQSET, k);
	if (strcasecmp(s, "ALL") == 0) {
		k->type = IMAP_SK_ALL;
		return 0;
	}
	for (i = 0; i < sizeof(imap_search_flags) /
	    sizeof(imap_search_flags[0]); i++)
		if (strcasecmp(s, imap_search_flags[i].name) == 0) {
			imap_key_flag(k, imap_search_flags[i].flag,
			    imap_search_flags[i].negate);
			return 0;
		}
	if (strcasecmp(s, "NEW") == 0) {
		ch = imap_key_children(k, IMAP_SK_AND, 2);
		imap_key_flag(&ch[0], "\\Recent", false);
		imap_key_flag(&ch[1], "\\Seen", true);
		return 0;
	}
	for (i = 0; i < sizeof(imap_search_dates) /
	    sizeof(imap_search_dates[0]); i++)
		if (strcasecmp(s, imap_search_dates[i].name) == 0) {
			const struct imap_arg *d = imap_sctx_next(c);

			k->type = imap_search_dates[i].type;
			if (!imap_arg_astring(d, &s, &len) ||
			    imap_search_date(s, len, &k->date) == -1) {
				c->err = "Invalid date in search";
				return -1;
			}
			return 0;
		}
	for (i = 0; i < sizeof(imap_search_strings) /
	    sizeof(imap_search_strings[0]); i++)
		if (strcasecmp(s, imap_search_strings[i].name) == 0) {
			k->type = imap_search_strings[i].type;
			if (imap_search_strings[i].field != NULL)
				k->field =
				    xstrdup(imap_search_strings[i].field);
			return imap_sctx_astring(c, "Missing search string",
			    &k->str, &k->len);
		}
	if (strcasecmp(s, "HEADER") == 0) {
		k->type = IMAP_SK_HEADER;
		if (imap_sctx_astring(c, "Missing header field name",
		    &k->field, &len) == -1)
			return -1;
		if (!imap_search_field_ok(k->field, len)) {
			c->err = "Invalid header field name";
			return -1;
		}
		return imap_sctx_astring(c, "Missing header search string",
		    &k->str, &k->len);
	}
	if (strcasecmp(s, "KEYWORD") == 0 || strcasecmp(s, "UNKEYWORD") == 0) {
		if (s[0] == 'U' || s[0] == 'u')
			k = imap_key_children(k, IMAP_SK_NOT, 1);
		k->type = IMAP_SK_KEYWORD;
		a = imap_sctx_next(c);
		/* flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom */
		if (a == NULL || (a->type != IMAP_ARG_ATOM &&
		    a->type != IMAP_ARG_NUMBER) || a->str[0] == '\\' ||
		    strpbrk(a->str, "[]%*") != NULL) {
			c->err = "Invalid keyword";
			return -1;
		}
		k->str = xstrdup(a->str);
		k->len = a->len;
		return 0;
	}
	if (strcasecmp(s, "LARGER") == 0 || strcasecmp(s, "SMALLER") == 0) {
		k->type = (s[0] == 'L' || s[0] == 'l') ? IMAP_SK_LARGER :
		    IMAP_SK_SMALLER;
		return imap_sctx_number(c, UINT64_MAX, &k->num,
		    "Invalid size in search");
	}
	if (strcasecmp(s, "OLDER") == 0 || strcasecmp(s, "YOUNGER") == 0) {
		k->type = (s[0] == 'O' || s[0] == 'o') ? IMAP_SK_OLDER :
		    IMAP_SK_YOUNGER;
		if (imap_sctx_number(c, UINT32_MAX, &k->num,
		    "Invalid interval in search") == -1)
			return -1;
		if (k->num == 0) {
			c->err = "Invalid interval in search";
			return -1;
		}
		return 0;
	}
	if (strcasecmp(s, "UID") == 0)
		return imap_search_seqset(c, imap_sctx_next(c), IMAP_SK_UID,
		    k);
	if (strcasecmp(s, "MODSEQ") == 0)
		return imap_search_modseq(c, k);
	if (strcasecmp(s, "NOT") == 0 || strcasecmp(s, "OR") == 0) {
		if (depth >= maxd) {
			c->err = "Search nested too deeply";
			return -1;
		}
		if (strcasecmp(s, "NOT") == 0) {
			ch = imap_key_children(k, IMAP_SK_NOT, 1);
			return imap_search_key(c, depth + 1, &ch[0]);
		}
		ch = imap_key_children(k, IMAP_SK_OR, 2);
		if (imap_search_key(c, depth + 1, &ch[0]) == -1)
			return -1;
		return imap_search_key(c, depth + 1, &ch[1]);
	}
	c->err = "Unknown search key";
	return -1;
}

/* search-return-opts = SP "RETURN" SP "(" [opt *(SP opt)] ")" */
static int
imap_search_return(struct imap_sctx *c, const struct imap_arg *list)
{
	static const struct {
		const char	*name;
		unsigned int	 bit;
	} opts[] = {
		{ "MIN", IMAP_SEARCH_RET_MIN }, { "MAX", IMAP_SEARCH_RET_MAX },
		{ "ALL", IMAP_SEARCH_RET_ALL },
		{ "COUNT", IMAP_SEARCH_RET_COUNT },
		{ "SAVE", IMAP_SEARCH_RET_SAVE },
	};
	size_t	 i, j;

	if (list == NULL || list->type != IMAP_ARG_LIST) {
		c->err = "RETURN needs a list of options";
		return -1;
	}
	c->s->esearch = true;
	for (i = 0; i < list->count; i++) {
		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++)
			if (imap_arg_atom_is(&list->list[i], opts[j].name))
				break;
		if (j == sizeof(opts) / sizeof(opts[0])) {
			c->err = "Unknown RETURN option";
			return -1;
		}
		c->s->ret |= opts[j].bit;
	}
	/* RFC 4731 3.1: "RETURN ()" means ALL. */
	if (list->count == 0)
		c->s->ret = IMAP_SEARCH_RET_ALL;
	return 0;
}

int
imap_search_parse(const struct imap_arg *args, size_t nargs,
    unsigned int max_depth, struct imap_search **search_r,
    const char **error_r)
{
	struct imap_sctx	 c;
	struct imap_search	*s = xcalloc(1, sizeof(*s));
	size_t			 len;

	*search_r = NULL;
	memset(&c, 0, sizeof(c));
	c.args = args;
	c.n = nargs;
	c.max_depth = max_depth;
	c.s = s;
	if (c.n > 0 && imap_arg_atom_is(&args[0], "RETURN")) {
		c.pos = 2;
		if (imap_search_return(&c, c.n > 1 ? &args[1] : NULL) == -1)
			goto fail;
	}
	if (c.pos < c.n && imap_arg_atom_is(&args[c.pos], "CHARSET")) {
		c.pos++;
		if (imap_sctx_astring(&c, "Missing charset", &s->charset,
		    &len) == -1)
			goto fail;
	}
	if (imap_search_keys(&c, 0, &s->root) == -1)
		goto fail;
	*search_r = s;
	return 0;
fail:
	*error_r = c.err;
	imap_search_free(&s);
	return -1;
}
