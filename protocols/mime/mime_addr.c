/*
 * mime_addr.c - RFC 5322 3.4 address lists (mailbox, name-addr, group)
 * with the obsolete forms of 4.4 (routes, phrases with dots, CFWS
 * anywhere).  Tolerant: what does not parse is skipped, so a From that
 * is half garbage still yields the addresses it has.  The caller owns
 * the returned list.  [any]
 */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mime.h"
#include "xmalloc.h"

enum mime_tok_type {
	MIME_T_WORD,		/* atom (dots included) or quoted-string */
	MIME_T_LITERAL,		/* [domain literal] */
	MIME_T_SPECIAL,		/* one of < > @ , ; : and strays */
	MIME_T_COMMENT
};

struct mime_tok {
	enum mime_tok_type type;
	char		 ch;		/* MIME_T_SPECIAL */
	char		*text;		/* others, unquoted */
};

static bool
mime_addr_special(char c)
{
	return strchr("()<>[]:;@\\,\"", c) != NULL;
}

static size_t
mime_addr_tokenize(const char *s, size_t len, struct mime_tok **toks_r)
{
	const char	*end = s + len, *t;
	struct mime_tok	*toks = NULL, *tk;
	struct buf	 b;
	size_t		 n = 0, cap = 0;
	int		 depth;

	buf_init(&b, 0);
	while (s < end) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n' ||
		    *s == '\0') {
			s++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			toks = xreallocarray(toks, cap, sizeof(*toks));
		}
		tk = &toks[n];
		tk->text = NULL;
		tk->ch = 0;
		buf_reset(&b);
		if (*s == '"') {
			/* RFC 5322 3.2.4 quoted-string; unfold, unescape. */
			for (s++; s < end && *s != '"'; s++) {
				if (*s == '\\' && s + 1 < end)
					s++;
				else if (*s == '\r' || *s == '\n')
					continue;
				buf_putc(&b, *s);
			}
			if (s < end)
				s++;
			tk->type = MIME_T_WORD;
		} else if (*s == '(') {
			/* RFC 5322 3.2.2: nested comments. */
			depth = 1;
			for (s++; s < end; s++) {
				if (*s == '\\' && s + 1 < end)
					s++;
				else if (*s == '(')
					depth++;
				else if (*s == ')' && --depth == 0) {
					s++;
					break;
				} else if (*s == '\r' || *s == '\n')
					continue;
				buf_putc(&b, *s);
			}
			tk->type = MIME_T_COMMENT;
		} else if (*s == '[') {
			for (t = s; t < end && *t != ']'; t++)
				;
			if (t < end)
				t++;
			buf_append(&b, s, (size_t)(t - s));
			s = t;
			tk->type = MIME_T_LITERAL;
		} else if (mime_addr_special(*s)) {
			tk->type = MIME_T_SPECIAL;
			tk->ch = *s++;
			n++;
			continue;
		} else {
			for (t = s; t < end && !mime_addr_special(*t) &&
			    *t != ' ' && *t != '\t' && *t != '\r' &&
			    *t != '\n' && *t != '\0'; t++)
				;
			buf_append(&b, s, (size_t)(t - s));
			s = t;
			tk->type = MIME_T_WORD;
		}
		tk->text = b.data != NULL ? xstrndup(b.data, b.len) :
		    xstrdup("");
		n++;
	}
	buf_free(&b);
	*toks_r = toks;
	return n;
}

static bool
mime_tok_is(const struct mime_tok *t, char c)
{
	return t->type == MIME_T_SPECIAL && t->ch == c;
}

static struct mime_addr *
mime_addr_add(struct mime_addr **list, size_t *n, size_t *cap,
    enum mime_addr_kind kind)
{
	struct mime_addr	*a;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*list = xreallocarray(*list, *cap, sizeof(**list));
	}
	a = &(*list)[(*n)++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static char *
mime_buf_take(struct buf *b)
{
	if (b->data == NULL)
		return xstrdup("");
	return buf_steal(b, NULL);
}

/* Collect words (and dots inside them) from i up to a special in stop. */
static size_t
mime_collect(const struct mime_tok *toks, size_t n, size_t i,
    const char *stop, const char *sep, struct buf *out, bool *any_r,
    const char **comment_r)
{
	*any_r = false;
	for (; i < n; i++) {
		if (toks[i].type == MIME_T_SPECIAL &&
		    strchr(stop, toks[i].ch) != NULL)
			break;
		if (toks[i].type == MIME_T_COMMENT) {
			if (comment_r != NULL)
				*comment_r = toks[i].text;
			continue;
		}
		if (toks[i].type == MIME_T_SPECIAL)
			continue;
		if (*any_r && sep != NULL)
			buf_puts(out, sep);
		buf_puts(out, toks[i].text);
		*any_r = true;
	}
	return i;
}

void
mime_addr_parse_list(const char *in, size_t len, struct mime_addr **list_r,
    size_t *n_r)
{
	struct mime_tok		*toks;
	struct mime_addr	*list = NULL, *a;
	struct buf		 phrase, local, dom, route;
	const char		*comment;
	size_t			 n, i, j, cnt = 0, cap = 0;
	bool			 in_group = false, any, lany;

	n = mime_addr_tokenize(in, len, &toks);
	buf_init(&phrase, 0);
	buf_init(&local, 0);
	buf_init(&dom, 0);
	buf_init(&route, 0);
	i = 0;
	while (i < n) {
		comment = NULL;
		buf_reset(&phrase);
		j = mime_collect(toks, n, i, "<:,;@", " ", &phrase, &any,
		    &comment);
		if (j < n && mime_tok_is(&toks[j], ':')) {
			if (in_group)
				(void)mime_addr_add(&list, &cnt, &cap,
				    MIME_ADDR_GROUP_END);
			a = mime_addr_add(&list, &cnt, &cap,
			    MIME_ADDR_GROUP_START);
			a->mailbox = mime_buf_take(&phrase);
			in_group = true;
			i = j + 1;
			continue;
		}
		if (j < n && mime_tok_is(&toks[j], '<')) {
			a = mime_addr_add(&list, &cnt, &cap, MIME_ADDR_MAILBOX);
			if (any)
				a->name = mime_buf_take(&phrase);
			j++;
			/* RFC 5322 4.4 obs-route: "@a,@b:" before the addr. */
			if (j < n && mime_tok_is(&toks[j], '@')) {
				buf_reset(&route);
				for (; j < n && !mime_tok_is(&toks[j], ':') &&
				    !mime_tok_is(&toks[j], '>'); j++) {
					if (toks[j].type == MIME_T_SPECIAL)
						buf_putc(&route, toks[j].ch);
					else if (toks[j].type != MIME_T_COMMENT)
						buf_puts(&route, toks[j].text);
				}
				if (j < n && mime_tok_is(&toks[j], ':'))
					j++;
				a->route = mime_buf_take(&route);
			}
			buf_reset(&local);
			j = mime_collect(toks, n, j, "@>,;", NULL, &local,
			    &lany, NULL);
			a->mailbox = mime_buf_take(&local);
			if (j < n && mime_tok_is(&toks[j], '@')) {
				buf_reset(&dom);
				j = mime_collect(toks, n, j + 1, ">,;", NULL,
				    &dom, &any, NULL);
				a->domain = mime_buf_take(&dom);
			}
			if (j < n && mime_tok_is(&toks[j], '>'))
				j++;
		} else if (j < n && mime_tok_is(&toks[j], '@')) {
			/* Bare addr-spec; a comment may give the name. */
			a = mime_addr_add(&list, &cnt, &cap, MIME_ADDR_MAILBOX);
			buf_reset(&local);
			(void)mime_collect(toks, n, i, "<:,;@", NULL, &local,
			    &lany, NULL);
			a->mailbox = mime_buf_take(&local);
			buf_reset(&dom);
			j = mime_collect(toks, n, j + 1, ",;<", NULL, &dom, &any,
			    &comment);
			a->domain = mime_buf_take(&dom);
			if (comment != NULL && *comment != '\0')
				a->name = xstrdup(comment);
		} else if (any) {
			/* A word with no "@": mailbox without a domain. */
			a = mime_addr_add(&list, &cnt, &cap, MIME_ADDR_MAILBOX);
			a->mailbox = mime_buf_take(&phrase);
		}
		/* Skip what is left of this address. */
		while (j < n && !mime_tok_is(&toks[j], ',') &&
		    !mime_tok_is(&toks[j], ';'))
			j++;
		if (j < n && mime_tok_is(&toks[j], ';') && in_group) {
			(void)mime_addr_add(&list, &cnt, &cap,
			    MIME_ADDR_GROUP_END);
			in_group = false;
		}
		i = j + 1;
	}
	if (in_group)
		(void)mime_addr_add(&list, &cnt, &cap, MIME_ADDR_GROUP_END);
	for (i = 0; i < n; i++)
		free(toks[i].text);
	free(toks);
	buf_free(&phrase);
	buf_free(&local);
	buf_free(&dom);
	buf_free(&route);
	*list_r = list;
	*n_r = cnt;
}

void
mime_addr_free_list(struct mime_addr **listp, size_t n)
{
	struct mime_addr	*list = *listp;
	size_t			 i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(list[i].name);
		free(list[i].route);
		free(list[i].mailbox);
		free(list[i].domain);
	}
	free(list);
	*listp = NULL;
}
