/*
 * dkim_tags.c - the DKIM tag=value list (RFC 6376 3.2), used by the
 * DKIM-Signature field (3.5) and the DNS key record (3.6.1).
 * Owns struct dkim_tags; pure, one thread per object.  [any]
 */
#include <stdlib.h>
#include <string.h>

#include "dkim.h"
#include "xmalloc.h"

struct dkim_tag {
	char	*name;
	char	*value;
};

struct dkim_tags {
	struct dkim_tag	 v[DKIM_TAGS_MAX];
	size_t		 n;
};

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')
#define IS_ALPHA(c)	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
/* VALCHAR = %x21-3A / %x3C-7E: printable US-ASCII except ";". */
#define IS_VALCHAR(c)	((c) >= 0x21 && (c) <= 0x7e && (c) != ';')

/*
 * Skip FWS = [*WSP CRLF] 1*WSP at *pos.  A CRLF (or bare LF, as DNS text
 * and LF-only files carry) must be followed by WSP; returns -1 if not.
 */
static int
tags_skip_fws(const char *s, size_t len, size_t *pos)
{
	size_t	 i = *pos;

	for (;;) {
		while (i < len && IS_WSP(s[i]))
			i++;
		if (i < len && (s[i] == '\r' || s[i] == '\n')) {
			if (s[i] == '\r') {
				if (i + 1 >= len || s[i + 1] != '\n')
					return -1;
				i++;
			}
			i++;
			if (i >= len || !IS_WSP(s[i]))
				return -1;
			continue;
		}
		break;
	}
	*pos = i;
	return 0;
}

int
dkim_tags_parse(const char *s, size_t len, struct dkim_tags **tags_r,
    const char **error_r)
{
	struct dkim_tags	*t;
	size_t			 i = 0, ns, ne, vs, ve, k;

	*tags_r = NULL;
	if (len > DKIM_TAGLIST_MAX) {
		*error_r = "tag-list too long";
		return -1;
	}
	if (memchr(s, '\0', len) != NULL) {
		*error_r = "NUL in tag-list";
		return -1;
	}
	t = xcalloc(1, sizeof(*t));
	for (;;) {
		if (tags_skip_fws(s, len, &i) == -1)
			goto badfws;
		if (i >= len)
			break;		/* end, or after a trailing ";" */
		ns = i;
		if (!IS_ALPHA(s[i])) {
			*error_r = s[i] == ';' ? "empty tag-spec" :
			    "bad tag name";
			goto fail;
		}
		while (i < len && (IS_ALPHA(s[i]) || IS_DIGIT(s[i]) ||
		    s[i] == '_'))
			i++;
		ne = i;
		if (tags_skip_fws(s, len, &i) == -1)
			goto badfws;
		if (i >= len || s[i] != '=') {
			*error_r = "missing \"=\" after tag name";
			goto fail;
		}
		i++;
		if (tags_skip_fws(s, len, &i) == -1)
			goto badfws;
		vs = ve = i;
		/* tag-value = [ tval *( 1*(WSP / FWS) tval ) ] */
		while (i < len && s[i] != ';') {
			if (IS_VALCHAR((unsigned char)s[i])) {
				i++;
				ve = i;
			} else if (IS_WSP(s[i]) || s[i] == '\r' ||
			    s[i] == '\n') {
				if (tags_skip_fws(s, len, &i) == -1)
					goto badfws;
			} else {
				*error_r = "bad character in tag value";
				goto fail;
			}
		}
		if (t->n == DKIM_TAGS_MAX) {
			*error_r = "too many tags";
			goto fail;
		}
		for (k = 0; k < t->n; k++)
			if (strlen(t->v[k].name) == ne - ns &&
			    memcmp(t->v[k].name, s + ns, ne - ns) == 0) {
				*error_r = "duplicate tag";
				goto fail;
			}
		t->v[t->n].name = xstrndup(s + ns, ne - ns);
		t->v[t->n].value = xstrndup(s + vs, ve - vs);
		t->n++;
		if (i >= len)
			break;
		i++;			/* ";" */
	}
	*tags_r = t;
	return 0;
badfws:
	*error_r = "bad line break in tag-list";
fail:
	dkim_tags_free(&t);
	return -1;
}

const char *
dkim_tags_get(const struct dkim_tags *t, const char *name)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return t->v[i].value;
	return NULL;
}

size_t
dkim_tags_count(const struct dkim_tags *t)
{
	return t->n;
}

const char *
dkim_tags_name(const struct dkim_tags *t, size_t i)
{
	return i < t->n ? t->v[i].name : NULL;
}

void
dkim_tags_free(struct dkim_tags **tp)
{
	struct dkim_tags	*t = *tp;
	size_t			 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].value);
	}
	free(t);
	*tp = NULL;
}
