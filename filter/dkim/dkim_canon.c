/*
 * dkim_canon.c - DKIM canonicalization (RFC 6376 3.4): "simple" and
 * "relaxed" for header fields and for the body, the streaming body hash
 * (3.7, SHA-256, l= limit from 3.5), the header/body splitter and the
 * bottom-up header selection of 5.4.2.  Also base64 (3.5 b=, bh=, p=).
 * Owns struct dkim_body and struct dkim_split; pure, one thread per
 * object.  [any]
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "b64.h"
#include "buf.h"
#include "dkim.h"
#include "dkim_private.h"
#include "log.h"
#include "xmalloc.h"

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

struct dkim_body {
	enum dkim_canon	 canon;
	int64_t		 limit;		/* -1: none */
	uint64_t	 hashed;	/* bytes given to the digest */
	uint64_t	 total;		/* canonical bytes produced */
	uint64_t	 pending_crlf;	/* empty lines not yet known inner */
	bool		 pending_cr;	/* CR seen, LF may follow */
	bool		 pending_wsp;	/* relaxed: WSP run inside a line */
	bool		 line_content;	/* current line has output bytes */
	EVP_MD_CTX	*md;
	size_t		 olen;
	unsigned char	 out[4096];	/* staging before the digest */
};

struct dkim_body *
dkim_body_new(enum dkim_canon canon, int64_t limit)
{
	struct dkim_body	*b = xcalloc(1, sizeof(*b));

	b->canon = canon;
	b->limit = limit;
	if ((b->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1)
		log_panic("dkim: cannot initialise SHA-256");
	return b;
}

static void
body_flush(struct dkim_body *b)
{
	size_t	 n = b->olen;

	if (b->limit >= 0 && (uint64_t)b->limit - b->hashed < n)
		n = (size_t)((uint64_t)b->limit - b->hashed);
	if (n > 0)
		EVP_DigestUpdate(b->md, b->out, n);
	b->hashed += n;
	b->olen = 0;
}

static void
body_out(struct dkim_body *b, const char *p, size_t n)
{
	size_t	 k;

	b->total += n;
	while (n > 0) {
		if (b->olen == sizeof(b->out))
			body_flush(b);
		k = sizeof(b->out) - b->olen;
		if (k > n)
			k = n;
		memcpy(b->out + b->olen, p, k);
		b->olen += k;
		p += k;
		n -= k;
	}
}

/* One byte of line content (never CR-before-LF or LF). */
static void
body_content(struct dkim_body *b, char c)
{
	if (b->canon == DKIM_CANON_RELAXED && IS_WSP(c)) {
		b->pending_wsp = true;
		return;
	}
	if (!b->line_content) {
		/* Empty lines before this one are inner: emit them. */
		for (; b->pending_crlf > 0; b->pending_crlf--)
			body_out(b, "\r\n", 2);
		b->line_content = true;
	}
	if (b->pending_wsp) {
		body_out(b, " ", 1);
		b->pending_wsp = false;
	}
	body_out(b, &c, 1);
}

static void
body_line_end(struct dkim_body *b)
{
	/* relaxed: trailing WSP of the line is dropped (3.4.4 a). */
	if (b->line_content)
		body_out(b, "\r\n", 2);
	else
		b->pending_crlf++;	/* 3.4.3, 3.4.4 b: maybe trailing */
	b->line_content = false;
	b->pending_wsp = false;
}

void
dkim_body_feed(struct dkim_body *b, const void *data, size_t len)
{
	const char	*p = data;
	size_t		 i;

	for (i = 0; i < len; i++) {
		if (b->pending_cr) {
			b->pending_cr = false;
			if (p[i] == '\n') {
				body_line_end(b);
				continue;
			}
			body_content(b, '\r');	/* bare CR is content */
		}
		if (p[i] == '\r')
			b->pending_cr = true;
		else if (p[i] == '\n')
			body_line_end(b);	/* bare LF taken as CRLF */
		else
			body_content(b, p[i]);
	}
}

void
dkim_body_finish(struct dkim_body **bp, unsigned char hash_r[32],
    uint64_t *canon_len_r)
{
	struct dkim_body	*b = *bp;
	unsigned int		 n = 32;

	if (b->pending_cr)
		body_content(b, '\r');
	if (b->line_content)
		body_out(b, "\r\n", 2);	/* last line had no CRLF */
	else if (b->canon == DKIM_CANON_SIMPLE && b->total == 0)
		body_out(b, "\r\n", 2);	/* 3.4.3: empty body is CRLF */
	body_flush(b);
	EVP_DigestFinal_ex(b->md, hash_r, &n);
	if (canon_len_r != NULL)
		*canon_len_r = b->total;
	dkim_body_free(bp);
}

void
dkim_body_free(struct dkim_body **bp)
{
	if (*bp == NULL)
		return;
	EVP_MD_CTX_free((*bp)->md);
	free(*bp);
	*bp = NULL;
}

void
dkim_canon_header(enum dkim_canon canon, const char *raw, size_t len,
    bool crlf, struct buf *out)
{
	const char	*colon;
	size_t		 nlen, i;
	bool		 wsp = false, any = false;
	char		 c;

	while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
		len--;
	if (canon == DKIM_CANON_SIMPLE) {
		/* 3.4.1: no change at all. */
		buf_append(out, raw, len);
		if (crlf)
			buf_append(out, "\r\n", 2);
		return;
	}
	/* 3.4.2: lower-case name, no WSP around ":", unfold, squeeze. */
	colon = memchr(raw, ':', len);
	nlen = colon != NULL ? (size_t)(colon - raw) : len;
	while (nlen > 0 && IS_WSP(raw[nlen - 1]))
		nlen--;
	for (i = 0; i < nlen; i++) {
		c = raw[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		buf_putc(out, c);
	}
	buf_putc(out, ':');
	if (colon != NULL) {
		for (i = (size_t)(colon - raw) + 1; i < len; i++) {
			c = raw[i];
			if (c == '\r' || c == '\n')
				continue;
			if (IS_WSP(c)) {
				wsp = true;
				continue;
			}
			if (wsp && any)
				buf_putc(out, ' ');
			wsp = false;
			any = true;
			buf_putc(out, c);
		}
	}
	if (crlf)
		buf_append(out, "\r\n", 2);
}

/* ---- header / body splitter --------------------------------------------- */

void
dkim_split_init(struct dkim_split *s,
    void (*body)(void *, const char *, size_t), void *arg)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->line, DKIM_HEADER_MAX + 2);
	s->body = body;
	s->arg = arg;
}

static void
split_line(struct dkim_split *s)
{
	struct dkim_field	*f;
	const char		*p = s->line.data, *colon;
	size_t			 len = s->line.len;

	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len == 0 && !s->overflow) {
		s->in_body = true;
		return;
	}
	if (s->overflow) {
		/* Only look for the blank line; fields are lost anyway. */
		if (s->line.len == 0 || (s->line.len == 1 && p[0] == '\r'))
			s->in_body = true;
		buf_reset(&s->line);
		return;
	}
	if (IS_WSP(p[0]) && s->nfields > 0) {
		f = &s->fields[s->nfields - 1];
		f->raw = xrealloc(f->raw, f->len + len + 3);
		memcpy(f->raw + f->len, p, len);
		memcpy(f->raw + f->len + len, "\r\n", 3);
		f->len += len + 2;
	} else {
		s->fields = xreallocarray(s->fields, s->nfields + 1,
		    sizeof(*s->fields));
		f = &s->fields[s->nfields++];
		f->raw = xmalloc(len + 3);
		memcpy(f->raw, p, len);
		memcpy(f->raw + len, "\r\n", 3);
		f->len = len + 2;
		colon = memchr(p, ':', len);
		f->namelen = colon != NULL ? (size_t)(colon - p) : len;
		while (f->namelen > 0 && IS_WSP(p[f->namelen - 1]))
			f->namelen--;
		f->used = false;
	}
	buf_reset(&s->line);
}

static void
split_append(struct dkim_split *s, const char *p, size_t n)
{
	s->hbytes += n;
	if (s->overflow) {
		/* Keep at most two bytes: enough to see a blank line. */
		if (n == 0)
			return;
		if (s->line.len == 0 && n == 1)
			buf_append(&s->line, p, 1);
		else {
			buf_reset(&s->line);
			buf_append(&s->line, "xx", 2);
		}
		return;
	}
	if (s->hbytes > DKIM_HEADER_MAX || buf_append(&s->line, p, n) == -1) {
		s->overflow = true;
		buf_reset(&s->line);
		buf_append(&s->line, "xx", 2);	/* this line is not blank */
	}
}

void
dkim_split_feed(struct dkim_split *s, const char *p, size_t n)
{
	const char	*nl;
	size_t		 k;

	while (n > 0 && !s->in_body) {
		if ((nl = memchr(p, '\n', n)) == NULL) {
			split_append(s, p, n);
			return;
		}
		k = (size_t)(nl - p);
		split_append(s, p, k);
		split_line(s);
		p += k + 1;
		n -= k + 1;
	}
	if (n > 0 && s->body != NULL)
		s->body(s->arg, p, n);
}

void
dkim_split_finish(struct dkim_split *s)
{
	if (!s->in_body && s->line.len > 0) {
		split_line(s);
		s->in_body = true;	/* no body at all */
	}
}

void
dkim_split_free(struct dkim_split *s)
{
	size_t	 i;

	for (i = 0; i < s->nfields; i++)
		free(s->fields[i].raw);
	free(s->fields);
	s->fields = NULL;
	s->nfields = 0;
	buf_free(&s->line);
}

bool
dkim_field_is(const struct dkim_field *f, const char *name, size_t n)
{
	return f->namelen == n && strncasecmp(f->raw, name, n) == 0;
}

void
dkim_select_headers(struct dkim_field *fields, size_t nfields,
    char *const *names, size_t n, enum dkim_canon canon, size_t skip,
    struct buf *out)
{
	size_t	 i, j;

	for (j = 0; j < nfields; j++)
		fields[j].used = j == skip;
	for (i = 0; i < n; i++) {
		/* 5.4.2: the last unused instance, going upwards. */
		for (j = nfields; j-- > 0;) {
			if (fields[j].used ||
			    !dkim_field_is(&fields[j], names[i], strlen(names[i])))
				continue;
			fields[j].used = true;
			dkim_canon_header(canon, fields[j].raw, fields[j].len,
			    true, out);
			break;
		}
	}
}

/* ---- base64 ---------------------------------------------------------- */

void
dkim_b64_encode(const unsigned char *in, size_t len, struct buf *out)
{
	b64_encode(in, len, out);
}

/* Base64 of tag values: strict, but folding white space may appear. */
int
dkim_b64_decode(const char *in, unsigned char **out_r, size_t *len_r)
{
	struct buf	 b = BUF_INIT;

	if (b64_decode(in, strlen(in), B64_SKIP_WS, &b) == -1) {
		buf_free(&b);
		return -1;
	}
	*out_r = (unsigned char *)buf_steal(&b, len_r);
	return 0;
}
