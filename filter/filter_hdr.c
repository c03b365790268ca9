/*
 * filter_hdr.c - the few RFC 5322 header-section operations mail
 * authentication needs: where the header section ends, the RFC5322.From
 * domain for DMARC (RFC 7489 3.1, 6.6.1), removing
 * Authentication-Results fields that claim our authserv-id (RFC 8601 5),
 * and removing a sender's X-Spam fields in a stream (filter_xspam).
 *
 * Pure functions on bytes; no allocation except the returned domain and
 * the caller's output buffer.  [any]
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "filter.h"
#include "xmalloc.h"

size_t
filter_hdr_len(const char *msg, size_t len)
{
	const char	*p;

	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
		return 2;
	if ((p = memmem(msg, len, "\r\n\r\n", 4)) == NULL)
		return len;
	return (size_t)(p - msg) + 4;
}

/*
 * Next field of hdr from *off: its name [name, name + nlen) and value
 * [val, val + vlen) (folded, without the final CRLF); *off moves past the
 * field.  false at the end of the section or on a line that is no field.
 */
static bool
filter_hdr_next(const char *hdr, size_t len, size_t *off, size_t *start_r,
    const char **name, size_t *nlen, const char **val, size_t *vlen)
{
	size_t	 i = *off, colon, end;

	if (i >= len || hdr[i] == '\r' || hdr[i] == '\n')
		return false;
	*start_r = i;
	for (colon = i; colon < len && hdr[colon] != ':' &&
	    hdr[colon] != '\r'; colon++)
		;
	if (colon >= len || hdr[colon] != ':')
		return false;
	for (end = colon; end < len; end++) {
		if (hdr[end] == '\n' && (end + 1 >= len ||
		    (hdr[end + 1] != ' ' && hdr[end + 1] != '\t')))
			break;
	}
	*name = hdr + i;
	*nlen = colon - i;
	while (*nlen > 0 && ((*name)[*nlen - 1] == ' ' ||
	    (*name)[*nlen - 1] == '\t'))
		(*nlen)--;
	*val = hdr + colon + 1;
	*vlen = end - colon - 1;
	if (*vlen > 0 && (*val)[*vlen - 1] == '\r')
		(*vlen)--;
	*off = end < len ? end + 1 : len;
	return true;
}

static bool
filter_hdr_is(const char *name, size_t nlen, const char *want)
{
	return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

/* The address part of one mailbox value (unfolded); NULL if not one. */
static char *
filter_hdr_mailbox(const char *v, size_t len)
{
	struct buf	 b = BUF_INIT;
	const char	*lt = NULL, *gt = NULL;
	size_t		 i, depth = 0;
	bool		 quoted = false;
	char		*s;

	for (i = 0; i < len; i++) {
		if (quoted) {
			if (v[i] == '\\' && i + 1 < len)
				i++;
			else if (v[i] == '"')
				quoted = false;
			continue;
		}
		if (depth > 0) {
			if (v[i] == '\\' && i + 1 < len)
				i++;
			else if (v[i] == '(')
				depth++;
			else if (v[i] == ')')
				depth--;
			continue;
		}
		switch (v[i]) {
		case '"':
			quoted = true;
			break;
		case '(':
			depth++;
			break;
		case ',':
			if (lt == NULL || gt != NULL) {
				buf_free(&b);
				return NULL;	/* a list: no single From */
			}
			break;
		case '<':
			lt = v + i + 1;
			break;
		case '>':
			if (lt != NULL && gt == NULL)
				gt = v + i;
			break;
		default:
			if (lt == NULL && v[i] != ' ' && v[i] != '\t' &&
			    v[i] != '\r' && v[i] != '\n')
				buf_putc(&b, v[i]);
			break;
		}
	}
	if (lt != NULL && gt != NULL) {
		buf_reset(&b);
		buf_append(&b, lt, (size_t)(gt - lt));
	}
	if (b.data == NULL)
		return NULL;
	s = buf_steal(&b, NULL);
	return s;
}

char *
filter_hdr_from_domain(const char *hdr, size_t len)
{
	const char	*name, *val, *at, *from = NULL;
	size_t		 off = 0, start, nlen, vlen, flen = 0, n = 0, i;
	char		*addr, *dom;

	while (filter_hdr_next(hdr, len, &off, &start, &name, &nlen, &val,
	    &vlen)) {
		if (filter_hdr_is(name, nlen, "From")) {
			from = val;
			flen = vlen;
			n++;
		}
	}
	if (n != 1 || (addr = filter_hdr_mailbox(from, flen)) == NULL)
		return NULL;
	if ((at = strrchr(addr, '@')) == NULL || at[1] == '\0') {
		free(addr);
		return NULL;
	}
	dom = xstrdup(at + 1);
	free(addr);
	i = strlen(dom);
	if (i > 0 && dom[i - 1] == '.')
		dom[--i] = '\0';
	for (i = 0; dom[i] != '\0'; i++) {
		if (!isalnum((unsigned char)dom[i]) && dom[i] != '-' &&
		    dom[i] != '.' && (unsigned char)dom[i] < 0x80) {
			free(dom);
			return NULL;
		}
		dom[i] = (char)tolower((unsigned char)dom[i]);
	}
	if (i == 0) {
		free(dom);
		return NULL;
	}
	return dom;
}

bool
filter_hdr_ar_is_ours(const char *val, size_t len, const char *authserv_id)
{
	size_t	 i = 0, start, idlen = strlen(authserv_id);

	/* authserv-id = value (RFC 8601 2.2); skip CFWS before it. */
	while (i < len) {
		if (val[i] == ' ' || val[i] == '\t' || val[i] == '\r' ||
		    val[i] == '\n')
			i++;
		else if (val[i] == '(') {
			while (i < len && val[i] != ')')
				i++;
			i++;
		} else
			break;
	}
	start = i;
	while (i < len && val[i] != ';' && val[i] != ' ' && val[i] != '\t' &&
	    val[i] != '\r' && val[i] != '(')
		i++;
	return i - start == idlen &&
	    strncasecmp(val + start, authserv_id, idlen) == 0;
}

size_t
filter_hdr_strip_ar(char *hdr, size_t len, const char *authserv_id)
{
	const char	*name, *val;
	size_t		 off = 0, start, nlen, vlen;

	while (filter_hdr_next(hdr, len, &off, &start, &name, &nlen, &val,
	    &vlen)) {
		if (!filter_hdr_is(name, nlen, "Authentication-Results") ||
		    !filter_hdr_ar_is_ours(val, vlen, authserv_id))
			continue;
		memmove(hdr + start, hdr + off, len - off);
		len -= off - start;
		off = start;
	}
	return len;
}

/* ---- X-Spam fields, streamed ------------------------------------------ */

enum {
	XS_BOL = 0,	/* at the start of a header line */
	XS_CR,		/* a CR at the start of a line: the blank line? */
	XS_NAME,	/* in a field name that may be X-Spam[-*] */
	XS_LINE,	/* in a line whose fate is decided (xs->drop) */
	XS_BODY		/* after the blank line: everything passes */
};

void
filter_xspam_init(struct filter_xspam *xs)
{
	memset(xs, 0, sizeof(*xs));
	xs->state = XS_BOL;
}

static void
filter_xspam_put(struct filter_xspam *xs, const char *p, size_t n,
    struct buf *out)
{
	if (xs->drop)
		xs->dropped += n;
	else if (out != NULL && n > 0)
		buf_append(out, p, n);
}

/*
 * One more byte c of a field name (already in xs->name): -1 undecided,
 * 0 keep, 1 drop.  "x-spam" then '-' (any field of the family), ':' or
 * white space drops at once: readers take "X-Spam<any WSP>:" as X-Spam
 * (RFC 5322 4.5 obsolete syntax), however long the white space; any
 * other byte keeps.
 */
static int
filter_xspam_name(const struct filter_xspam *xs, char c)
{
	static const char	 want[] = "x-spam";
	size_t			 i = xs->nlen - 1;

	if (i < sizeof(want) - 1)
		return tolower((unsigned char)c) == want[i] ? -1 : 0;
	return c == '-' || c == ':' || c == ' ' || c == '\t';
}

void
filter_xspam_feed(struct filter_xspam *xs, const char *p, size_t len,
    struct buf *out)
{
	const char	*nl;
	size_t		 i = 0, n;
	int		 d;

	while (i < len) {
		switch (xs->state) {
		case XS_BODY:
			if (out != NULL)
				buf_append(out, p + i, len - i);
			return;
		case XS_BOL:
			if (p[i] == ' ' || p[i] == '\t') {
				/* A folded line belongs to the field above. */
				xs->state = XS_LINE;
				break;
			}
			xs->drop = false;
			if (p[i] == '\r') {
				filter_xspam_put(xs, p + i++, 1, out);
				xs->state = XS_CR;
			} else if (p[i] == '\n') {
				filter_xspam_put(xs, p + i++, 1, out);
				xs->state = XS_BODY;
			} else {
				xs->nlen = 0;
				xs->state = XS_NAME;
			}
			break;
		case XS_CR:
			/* RFC 5322 2.1: the header ends at an empty line;
			 * a bare CR (never in our CRLF spool) starts a line
			 * that is kept. */
			if (p[i] == '\n') {
				filter_xspam_put(xs, p + i++, 1, out);
				xs->state = XS_BODY;
			} else
				xs->state = XS_LINE;
			break;
		case XS_NAME:
			xs->name[xs->nlen++] = p[i];
			d = filter_xspam_name(xs, p[i]);
			i++;
			if (d == -1)
				break;
			xs->drop = d == 1;
			filter_xspam_put(xs, xs->name, xs->nlen, out);
			xs->nlen = 0;
			xs->state = p[i - 1] == '\n' ? XS_BOL : XS_LINE;
			break;
		case XS_LINE:
			nl = memchr(p + i, '\n', len - i);
			n = nl != NULL ? (size_t)(nl - (p + i)) + 1 : len - i;
			filter_xspam_put(xs, p + i, n, out);
			i += n;
			if (nl != NULL)
				xs->state = XS_BOL;
			break;
		}
	}
}

void
filter_xspam_end(struct filter_xspam *xs, struct buf *out)
{
	if (xs->state == XS_NAME && xs->nlen > 0) {
		/* A last line cut short: not a complete X-Spam field. */
		xs->drop = false;
		filter_xspam_put(xs, xs->name, xs->nlen, out);
	}
	xs->nlen = 0;
	xs->state = XS_BODY;
}
