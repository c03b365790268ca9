/*
 * mime_parser.c - streaming RFC 5322 / MIME (RFC 2045, 2046) structure
 * parser.  Owns struct mime_parser and builds struct mime_msg, the part
 * tree with byte offsets, sizes and the parsed Content-* fields, plus the
 * accessors and mime_msg_free().  [any]
 *
 * Input is cut into lines (bare LF or CRLF); only the first bytes of a
 * body line are kept, enough to recognise a boundary, so memory stays
 * bounded whatever the chunking or line length.  Every decision is taken
 * on whole lines, which is why feeding byte by byte gives the same tree.
 *
 * A limit that is hit never fails the parse: the message is flagged
 * MIME_MSG_TRUNCATED and the part concerned (or, for the part count, the
 * rest of the message) is kept as opaque body.
 */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mime_private.h"
#include "xmalloc.h"

#define MIME_BODY_PREFIX	1024	/* bytes of a body line kept */
#define MIME_BOUNDARY_MAX	256	/* RFC 2046 5.1.1 says 70 */

enum mime_pstate {
	MIME_P_HDR,
	MIME_P_BODY
};

struct mime_parser {
	struct mime_limits lim;
	struct mime_msg	*msg;
	struct mime_part *cur;		/* innermost open part */
	enum mime_pstate state;
	bool		 opaque;	/* part limit hit: no more structure */
	bool		 finished;

	uint64_t	 off;		/* bytes consumed */
	uint64_t	 cum_lf;	/* LFs before off */
	uint64_t	 cum_bare;	/* LFs without CR before off */

	/* The line being read. */
	uint64_t	 line_start;
	uint64_t	 line_len;
	struct buf	 line;		/* prefix of the line */
	bool		 line_cr_last;
	unsigned int	 prev_eol_len;	/* line end of the previous line */
	bool		 prev_eol_bare;

	/* Header of cur while state == MIME_P_HDR. */
	struct buf	 hdr;
	uint64_t	 hdr_bare;	/* cum_bare at the header start */
	size_t		 field_len;
	bool		 field_drop;
	bool		 hdr_over;

	/* Open multiparts with a boundary, outermost first. */
	struct mime_part **mp;
	size_t		 n_mp;
	size_t		 cap_mp;
};

void
mime_limits_default(struct mime_limits *limits_r)
{
	limits_r->max_header_block = 256 * 1024;
	limits_r->max_header_field = 64 * 1024;
	limits_r->max_depth = 32;
	limits_r->max_parts = 2000;
}

static struct mime_part *
mime_part_new(struct mime_parser *p, struct mime_part *parent, uint64_t off)
{
	struct mime_part	*part;

	part = xcalloc(1, sizeof(*part));
	part->parent = parent;
	part->hdr_off = part->body_off = part->end_off = off;
	if (parent != NULL) {
		part->depth = parent->depth + 1;
		if (parent->last_child == NULL)
			parent->children = part;
		else
			parent->last_child->next = part;
		parent->last_child = part;
		parent->n_children++;
	}
	p->msg->n_parts++;
	p->cur = part;
	p->state = MIME_P_HDR;
	buf_reset(&p->hdr);
	p->hdr_bare = p->cum_bare;
	p->field_len = 0;
	p->field_drop = false;
	p->hdr_over = false;
	return part;
}

struct mime_parser *
mime_parser_new(const struct mime_limits *limits)
{
	struct mime_parser	*p;

	p = xcalloc(1, sizeof(*p));
	if (limits != NULL)
		p->lim = *limits;
	else
		mime_limits_default(&p->lim);
	if (p->lim.max_depth == 0)
		p->lim.max_depth = 1;
	if (p->lim.max_parts == 0)
		p->lim.max_parts = 1;
	buf_init(&p->line, 0);
	buf_init(&p->hdr, 0);
	p->msg = xcalloc(1, sizeof(*p->msg));
	p->msg->root = mime_part_new(p, NULL, 0);
	return p;
}

static void
mime_part_free(struct mime_part *part)
{
	struct mime_part	*c, *next;
	size_t			 i;

	for (c = part->children; c != NULL; c = next) {
		next = c->next;
		mime_part_free(c);
	}
	free(part->type);
	free(part->subtype);
	mime_header_free_params(part->params, part->n_params);
	free(part->cte);
	free(part->id);
	free(part->description);
	free(part->md5);
	free(part->location);
	free(part->disposition);
	mime_header_free_params(part->disp_params, part->n_disp_params);
	for (i = 0; i < part->n_languages; i++)
		free(part->languages[i]);
	free(part->languages);
	if (part->env != NULL) {
		for (i = 0; i < MIME_ENV_COUNT; i++)
			free(part->env[i]);
		free(part->env);
	}
	free(part->boundary);
	free(part);
}

void
mime_msg_free(struct mime_msg **msgp)
{
	struct mime_msg	*msg = *msgp;

	if (msg == NULL)
		return;
	/* Iterative over siblings, recursive over depth (bounded by limit). */
	if (msg->root != NULL)
		mime_part_free(msg->root);
	free(msg);
	*msgp = NULL;
}

void
mime_parser_free(struct mime_parser **pp)
{
	struct mime_parser	*p = *pp;

	if (p == NULL)
		return;
	mime_msg_free(&p->msg);
	buf_free(&p->line);
	buf_free(&p->hdr);
	free(p->mp);
	free(p);
	*pp = NULL;
}

/* ---- Header fields of one part ---- */

static bool
mime_is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static const char *
mime_skip_cfws(const char *s, const char *end)
{
	int	 depth;

	for (;;) {
		while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' ||
		    *s == '\n'))
			s++;
		if (s >= end || *s != '(')
			return s;
		/* RFC 5322 3.2.2 comments nest; quoted-pair escapes. */
		depth = 0;
		while (s < end) {
			if (*s == '\\' && s + 1 < end)
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0) {
				s++;
				break;
			}
			s++;
		}
	}
}

/* RFC 2045 5.1 token; returns a copy or NULL. */
static char *
mime_token(const char **sp, const char *end)
{
	const char	*s = mime_skip_cfws(*sp, end), *t = s;

	while (t < end && (unsigned char)*t > 0x20 &&
	    (unsigned char)*t < 0x7f && !mime_is_tspecial((unsigned char)*t))
		t++;
	*sp = t;
	if (t == s)
		return NULL;
	return xstrndup(s, (size_t)(t - s));
}

static char *
mime_unfold_dup(const char *v, size_t len)
{
	struct buf	 b;
	char		*s;

	buf_init(&b, 0);
	mime_header_unfold(v, len, &b);
	if (b.data == NULL)
		return xstrdup("");
	s = buf_steal(&b, NULL);
	return s;
}

static void
mime_parse_content_type(struct mime_part *part, const char *v, size_t len)
{
	const char	*s = v, *end = v + len;
	char		*type, *subtype;

	if ((type = mime_token(&s, end)) == NULL)
		return;
	s = mime_skip_cfws(s, end);
	if (s >= end || *s != '/') {
		free(type);
		return;
	}
	s++;
	if ((subtype = mime_token(&s, end)) == NULL) {
		free(type);
		return;
	}
	free(part->type);
	free(part->subtype);
	mime_header_free_params(part->params, part->n_params);
	part->type = type;
	part->subtype = subtype;
	mime_header_parse_params(s, end, &part->params, &part->n_params);
}

static void
mime_parse_disposition(struct mime_part *part, const char *v, size_t len)
{
	const char	*s = v, *end = v + len;
	char		*disp;

	if ((disp = mime_token(&s, end)) == NULL)
		return;
	part->disposition = disp;
	mime_header_parse_params(s, end, &part->disp_params,
	    &part->n_disp_params);
}

#define MIME_MAX_LANGUAGES	32

static void
mime_parse_language(struct mime_part *part, const char *v, size_t len)
{
	const char	*s = v, *end = v + len, *t;

	while (part->n_languages < MIME_MAX_LANGUAGES) {
		s = mime_skip_cfws(s, end);
		while (s < end && *s == ',')
			s = mime_skip_cfws(s + 1, end);
		t = s;
		while (t < end && *t != ',' && *t != ' ' && *t != '\t' &&
		    *t != '(' && *t != '\r' && *t != '\n')
			t++;
		if (t == s)
			break;
		part->languages = xreallocarray(part->languages,
		    part->n_languages + 1, sizeof(char *));
		part->languages[part->n_languages++] =
		    xstrndup(s, (size_t)(t - s));
		s = t;
	}
}

static const char *const mime_env_names[MIME_ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id", "references"
};

static bool
mime_name_is(const struct mime_header_field *f, const char *name)
{
	size_t	 n = strlen(name);

	return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

static void
mime_set_once(char **dst, const struct mime_header_field *f)
{
	if (*dst == NULL)
		*dst = mime_unfold_dup(f->value, f->value_len);
}

static void
mime_part_parse_header(struct mime_part *part, const char *hdr, size_t len)
{
	struct mime_header_iter	 it;
	struct mime_header_field f;
	bool			 want_env, seen_ct = false;
	size_t			 i;

	want_env = part->parent == NULL ||
	    (part->parent->flags & MIME_PART_MESSAGE) != 0;
	if (want_env)
		part->env = xcalloc(MIME_ENV_COUNT, sizeof(char *));
	mime_header_iter_init(&it, hdr, len);
	while (mime_header_iter_next(&it, &f)) {
		if (want_env) {
			for (i = 0; i < MIME_ENV_COUNT; i++) {
				if (mime_name_is(&f, mime_env_names[i])) {
					mime_set_once(&part->env[i], &f);
					break;
				}
			}
		}
		if (f.name_len < 8 || strncasecmp(f.name, "content-", 8) != 0)
			continue;
		if (mime_name_is(&f, "content-type")) {
			/* First one wins, as for every other field here. */
			if (!seen_ct)
				mime_parse_content_type(part, f.value,
				    f.value_len);
			seen_ct = true;
		} else if (mime_name_is(&f, "content-transfer-encoding")) {
			if (part->cte == NULL) {
				const char *s = f.value;
				part->cte = mime_token(&s, f.value + f.value_len);
			}
		} else if (mime_name_is(&f, "content-id"))
			mime_set_once(&part->id, &f);
		else if (mime_name_is(&f, "content-description"))
			mime_set_once(&part->description, &f);
		else if (mime_name_is(&f, "content-md5"))
			mime_set_once(&part->md5, &f);
		else if (mime_name_is(&f, "content-location"))
			mime_set_once(&part->location, &f);
		else if (mime_name_is(&f, "content-disposition")) {
			if (part->disposition == NULL)
				mime_parse_disposition(part, f.value,
				    f.value_len);
		} else if (mime_name_is(&f, "content-language")) {
			if (part->n_languages == 0)
				mime_parse_language(part, f.value,
				    f.value_len);
		}
	}
	part->cte_kind = part->cte == NULL ? MIME_CTE_7BIT :
	    mime_cte_parse(part->cte, strlen(part->cte));
}

/* ---- Part boundaries ---- */

static void
mime_part_end(struct mime_part *part, uint64_t end, uint64_t lf,
    uint64_t bare)
{
	if (end <= part->body_off) {
		part->end_off = part->body_off;
		part->body_vsize = part->body_lines = 0;
		return;
	}
	part->end_off = end;
	part->body_lines = lf - part->lf_at_body;
	part->body_vsize = (end - part->body_off) + (bare - part->bare_at_body);
}

static void
mime_push_boundary(struct mime_parser *p, struct mime_part *part)
{
	if (p->n_mp == p->cap_mp) {
		p->cap_mp = p->cap_mp ? p->cap_mp * 2 : 8;
		p->mp = xreallocarray(p->mp, p->cap_mp, sizeof(*p->mp));
	}
	p->mp[p->n_mp++] = part;
}

static void
mime_pop_boundaries(struct mime_parser *p, size_t keep)
{
	while (p->n_mp > keep) {
		p->n_mp--;
		xfree(p->mp[p->n_mp]->boundary);
	}
}

static bool
mime_ci_eq(const char *a, const char *b)
{
	return a != NULL && strcasecmp(a, b) == 0;
}

/*
 * The header of cur ended (blank line, boundary or end of input) at
 * body_off; lf and bare are the counters there.  Decide what the body is.
 */
static void
mime_header_done(struct mime_parser *p, uint64_t body_off, uint64_t lf,
    uint64_t bare)
{
	struct mime_part	*part = p->cur, *parent = part->parent;
	const char		*b;
	bool			 digest_default, container_ok;

	part->body_off = part->end_off = body_off;
	part->lf_at_body = lf;
	part->bare_at_body = bare;
	part->hdr_vsize = (body_off - part->hdr_off) + (bare - p->hdr_bare);
	mime_part_parse_header(part, p->hdr.data != NULL ? p->hdr.data : "",
	    p->hdr.len);
	buf_reset(&p->hdr);
	p->state = MIME_P_BODY;

	/* RFC 2046 5.1.5: in a digest the default is message/rfc822. */
	digest_default = part->type == NULL && parent != NULL &&
	    (parent->flags & MIME_PART_MULTIPART) != 0 &&
	    mime_ci_eq(parent->subtype, "digest");
	if (digest_default) {
		part->type = xstrdup("message");
		part->subtype = xstrdup("rfc822");
	}
	if (part->type == NULL || mime_ci_eq(part->type, "text"))
		part->flags |= MIME_PART_TEXT;

	container_ok = !p->opaque && !p->hdr_over;
	if (mime_ci_eq(part->type, "multipart")) {
		/* Without a usable boundary it stays an empty multipart. */
		part->flags |= MIME_PART_MULTIPART;
		b = mime_part_param(part, "boundary");
		if (!container_ok || b == NULL || *b == '\0' ||
		    strlen(b) > MIME_BOUNDARY_MAX)
			return;
		if (part->depth + 1 > p->lim.max_depth) {
			p->msg->flags |= MIME_MSG_TRUNCATED;
			return;
		}
		part->boundary = xstrdup(b);
		mime_push_boundary(p, part);
		return;
	}
	if (mime_ci_eq(part->type, "message") &&
	    (mime_ci_eq(part->subtype, "rfc822") ||
	    mime_ci_eq(part->subtype, "global")) && container_ok &&
	    (part->cte_kind == MIME_CTE_7BIT ||
	    part->cte_kind == MIME_CTE_8BIT ||
	    part->cte_kind == MIME_CTE_BINARY)) {
		if (part->depth + 1 > p->lim.max_depth ||
		    p->msg->n_parts >= p->lim.max_parts) {
			p->msg->flags |= MIME_MSG_TRUNCATED;
			return;
		}
		part->flags |= MIME_PART_MESSAGE;
		(void)mime_part_new(p, part, body_off);
	}
}

/* Close every open part below (not including) upto at end. */
static void
mime_close_to(struct mime_parser *p, struct mime_part *upto, uint64_t end,
    uint64_t lf, uint64_t bare)
{
	struct mime_part	*part;

	for (part = p->cur; part != NULL && part != upto;
	    part = part->parent) {
		if (part == p->cur && p->state == MIME_P_HDR) {
			if (end < part->hdr_off) {
				/* Empty header: nothing of it was read. */
				end = part->hdr_off;
				bare = p->hdr_bare;
			}
			mime_header_done(p, end, lf, bare);
			/* A message/rfc822 may have opened a child: close it. */
			if (p->cur != part) {
				mime_part_end(p->cur, end, lf, bare);
				p->state = MIME_P_BODY;
			}
		}
		mime_part_end(part, end, lf, bare);
	}
	p->cur = upto;
}

/* Is the line a delimiter (1) or close delimiter (2) of boundary b? */
static int
mime_boundary_match(const char *line, size_t len, bool whole, const char *b)
{
	size_t	 blen = strlen(b), i;

	if (len < 2 + blen || memcmp(line + 2, b, blen) != 0)
		return 0;
	line += 2 + blen;
	len -= 2 + blen;
	if (len >= 2 && line[0] == '-' && line[1] == '-')
		return 2;
	if (!whole)
		return 0;
	/* RFC 2046 5.1.1: transport padding may follow the boundary. */
	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return 0;
	return 1;
}

static bool
mime_check_boundary(struct mime_parser *p, const char *line, size_t len,
    bool whole, uint64_t lf_before, uint64_t bare_before, uint64_t next_off)
{
	struct mime_part	*mp;
	uint64_t		 end, lf, bare;
	size_t			 i;
	int			 m = 0;

	if (p->n_mp == 0 || len < 2 || line[0] != '-' || line[1] != '-')
		return false;
	for (i = p->n_mp; i-- > 0;)
		if ((m = mime_boundary_match(line, len, whole,
		    p->mp[i]->boundary)) != 0)
			break;
	if (m == 0)
		return false;
	mp = p->mp[i];

	/* RFC 2046 5.1.1: the line end before the boundary belongs to it. */
	end = p->line_start - p->prev_eol_len;
	lf = lf_before - (p->prev_eol_len > 0 ? 1 : 0);
	bare = bare_before - (p->prev_eol_bare ? 1 : 0);
	mime_close_to(p, mp, end, lf, bare);
	p->state = MIME_P_BODY;
	if (m == 2) {
		/* Close delimiter: what follows is mp's epilogue. */
		mime_pop_boundaries(p, i);
		return true;
	}
	mime_pop_boundaries(p, i + 1);
	if (p->msg->n_parts >= p->lim.max_parts) {
		p->msg->flags |= MIME_MSG_TRUNCATED;
		p->opaque = true;
		mime_pop_boundaries(p, 0);
		return true;
	}
	(void)mime_part_new(p, mp, next_off);
	return true;
}

static void
mime_header_line(struct mime_parser *p, const char *line, size_t stored,
    uint64_t total, unsigned int eol_len)
{
	bool	 cont;

	if (total == eol_len && eol_len > 0) {
		mime_header_done(p, p->off, p->cum_lf, p->cum_bare);
		return;
	}
	cont = line[0] == ' ' || line[0] == '\t';
	if (!cont) {
		p->field_len = 0;
		p->field_drop = false;
	}
	if (p->field_drop)
		return;
	if (stored < total || total > p->lim.max_header_field -
	    p->field_len) {
		p->field_drop = true;
		p->msg->flags |= MIME_MSG_TRUNCATED;
		return;
	}
	if (total > p->lim.max_header_block - p->hdr.len) {
		p->field_drop = true;
		p->hdr_over = true;
		p->msg->flags |= MIME_MSG_TRUNCATED;
		return;
	}
	buf_append(&p->hdr, line, (size_t)total);
	p->field_len += (size_t)total;
}

/* One whole line [line_start, off) has been read; eol_len 0 at EOF. */
static void
mime_line(struct mime_parser *p, unsigned int eol_len)
{
	uint64_t	 total = p->line_len, content = total - eol_len;
	uint64_t	 lf_before = p->cum_lf, bare_before = p->cum_bare;
	const char	*line = p->line.data != NULL ? p->line.data : "";
	size_t		 stored = p->line.len, cstored;
	bool		 bare = eol_len == 1;

	if (eol_len > 0) {
		p->cum_lf++;
		if (bare)
			p->cum_bare++;
	}
	cstored = stored < content ? stored : (size_t)content;
	if (!mime_check_boundary(p, line, cstored, cstored == content,
	    lf_before, bare_before, p->off) && p->state == MIME_P_HDR)
		mime_header_line(p, line, stored, total, eol_len);
	p->prev_eol_len = eol_len;
	p->prev_eol_bare = bare;
	p->line_start = p->off;
	p->line_len = 0;
	p->line_cr_last = false;
	buf_reset(&p->line);
}

void
mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	const char	*d = data, *nl;
	size_t		 n, cap, take;
	bool		 cr;

	if (p->finished)
		return;
	while (len > 0) {
		nl = memchr(d, '\n', len);
		n = nl != NULL ? (size_t)(nl - d) + 1 : len;
		cap = p->state == MIME_P_HDR ? p->lim.max_header_field :
		    MIME_BODY_PREFIX;
		if (p->line.len < cap) {
			take = cap - p->line.len;
			if (take > n)
				take = n;
			buf_append(&p->line, d, take);
		}
		p->line_len += n;
		p->off += n;
		if (nl != NULL) {
			cr = n >= 2 ? d[n - 2] == '\r' : p->line_cr_last;
			/* A lone "\n" line after "\r": CR belongs to it. */
			if (cr && p->line_len < 2)
				cr = false;
			mime_line(p, cr ? 2 : 1);
		} else
			p->line_cr_last = d[n - 1] == '\r';
		d += n;
		len -= n;
	}
}

int
mime_parser_finish(struct mime_parser **pp, struct mime_msg **msg_r,
    const char **error_r)
{
	struct mime_parser	*p = *pp;
	unsigned int		 guard;

	*msg_r = NULL;
	if (p == NULL || p->finished) {
		*error_r = "mime parser already finished";
		return -1;
	}
	p->finished = true;
	if (p->line_len > 0)
		mime_line(p, 0);
	/* Header without a blank line: the body is empty. */
	for (guard = 0; p->state == MIME_P_HDR && guard <= p->lim.max_depth;
	    guard++)
		mime_header_done(p, p->off, p->cum_lf, p->cum_bare);
	if (p->n_mp > 0)
		p->msg->flags |= MIME_MSG_BROKEN;	/* no close boundary */
	mime_pop_boundaries(p, 0);
	mime_close_to(p, NULL, p->off, p->cum_lf, p->cum_bare);
	p->msg->size = p->off;
	*msg_r = p->msg;
	p->msg = NULL;
	mime_parser_free(pp);
	return 0;
}

struct mime_msg *
mime_parse(const void *data, size_t len, const struct mime_limits *limits)
{
	struct mime_parser	*p = mime_parser_new(limits);
	struct mime_msg		*msg;
	const char		*error;

	mime_parser_feed(p, data, len);
	(void)mime_parser_finish(&p, &msg, &error);
	return msg;
}

/* ---- Accessors ---- */

unsigned int
mime_msg_flags(const struct mime_msg *msg)
{
	return msg->flags;
}

uint64_t
mime_msg_size(const struct mime_msg *msg)
{
	return msg->size;
}

unsigned int
mime_msg_part_count(const struct mime_msg *msg)
{
	return msg->n_parts;
}

const struct mime_part *
mime_msg_root(const struct mime_msg *msg)
{
	return msg->root;
}

const char *
mime_msg_env(const struct mime_msg *msg, enum mime_env_field f)
{
	return mime_part_env(msg->root, f);
}

const struct mime_part *
mime_part_parent(const struct mime_part *part)
{
	return part->parent;
}

const struct mime_part *
mime_part_child(const struct mime_part *part)
{
	return part->children;
}

const struct mime_part *
mime_part_next(const struct mime_part *part)
{
	return part->next;
}

unsigned int
mime_part_child_count(const struct mime_part *part)
{
	return part->n_children;
}

bool
mime_part_is_multipart(const struct mime_part *part)
{
	return (part->flags & MIME_PART_MULTIPART) != 0;
}

bool
mime_part_is_message(const struct mime_part *part)
{
	return (part->flags & MIME_PART_MESSAGE) != 0;
}

uint64_t
mime_part_hdr_off(const struct mime_part *part)
{
	return part->hdr_off;
}

uint64_t
mime_part_body_off(const struct mime_part *part)
{
	return part->body_off;
}

uint64_t
mime_part_end_off(const struct mime_part *part)
{
	return part->end_off;
}

uint64_t
mime_part_hdr_vsize(const struct mime_part *part)
{
	return part->hdr_vsize;
}

uint64_t
mime_part_body_vsize(const struct mime_part *part)
{
	return part->body_vsize;
}

uint64_t
mime_part_body_lines(const struct mime_part *part)
{
	return part->body_lines;
}

const char *
mime_part_type(const struct mime_part *part)
{
	return part->type != NULL ? part->type : "text";
}

const char *
mime_part_subtype(const struct mime_part *part)
{
	return part->type != NULL ? part->subtype : "plain";
}

static const struct mime_param *
mime_param_find(const struct mime_param *params, size_t n, const char *name)
{
	const struct mime_param	*found = NULL;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (strcasecmp(params[i].name, name) != 0)
			continue;
		/* The RFC 2231 form wins over a plain duplicate. */
		if (found == NULL || strchr(params[i].raw_name, '*') != NULL)
			found = &params[i];
	}
	return found;
}

const char *
mime_part_param(const struct mime_part *part, const char *name)
{
	const struct mime_param	*pm;

	pm = mime_param_find(part->params, part->n_params, name);
	return pm != NULL ? pm->value : NULL;
}

const struct mime_param *
mime_part_params(const struct mime_part *part, size_t *n_r)
{
	*n_r = part->n_params;
	return part->params;
}

enum mime_cte
mime_part_cte(const struct mime_part *part)
{
	return part->cte_kind;
}

const char *
mime_part_disposition(const struct mime_part *part)
{
	return part->disposition;
}

const struct mime_param *
mime_part_disposition_params(const struct mime_part *part, size_t *n_r)
{
	*n_r = part->n_disp_params;
	return part->disp_params;
}

const char *
mime_part_env(const struct mime_part *part, enum mime_env_field f)
{
	if (part->env == NULL || (unsigned int)f >= MIME_ENV_COUNT)
		return NULL;
	return part->env[f];
}
