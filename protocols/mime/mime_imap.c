/*
 * mime_imap.c - IMAP views of a parsed message: ENVELOPE (RFC 3501
 * 7.4.2, RFC 9051 7.5.2), BODY / BODYSTRUCTURE in the form Dovecot
 * writes, and FETCH BODY[section] addressing (RFC 3501 6.4.5).  Owns
 * nothing; writes into the caller's buffer.  [any]
 */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "mime_private.h"
#include "xmalloc.h"

void
mime_imap_string(struct buf *out, const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80)
			break;
	}
	if (i < len) {
		/* RFC 3501 4.3: 8-bit or CR/LF need a literal. */
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, s, len);
		return;
	}
	buf_putc(out, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, s[i]);
	}
	buf_putc(out, '"');
}

void
mime_imap_nstring(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_puts(out, "NIL");
	else
		mime_imap_string(out, s, strlen(s));
}

/* ---- ENVELOPE ---- */

static bool
mime_addr_write_list(struct buf *out, const char *value)
{
	struct mime_addr	*list;
	size_t			 n, i;
	const struct mime_addr	*a;

	if (value == NULL)
		return false;
	mime_addr_parse_list(value, strlen(value), &list, &n);
	if (n == 0) {
		mime_addr_free_list(&list, n);
		return false;
	}
	buf_putc(out, '(');
	for (i = 0; i < n; i++) {
		a = &list[i];
		buf_putc(out, '(');
		switch (a->kind) {
		case MIME_ADDR_GROUP_START:
			/* RFC 3501 7.4.2: group start has a NIL host. */
			buf_puts(out, "NIL NIL ");
			mime_imap_nstring(out, a->mailbox);
			buf_puts(out, " NIL");
			break;
		case MIME_ADDR_GROUP_END:
			buf_puts(out, "NIL NIL NIL NIL");
			break;
		case MIME_ADDR_MAILBOX:
			mime_imap_nstring(out, a->name);
			buf_putc(out, ' ');
			mime_imap_nstring(out, a->route);
			buf_putc(out, ' ');
			mime_imap_nstring(out, a->mailbox != NULL ?
			    a->mailbox : "");
			buf_putc(out, ' ');
			/* Never NIL here: NIL would mean a group. */
			mime_imap_nstring(out, a->domain != NULL ?
			    a->domain : "");
			break;
		}
		buf_putc(out, ')');
	}
	buf_putc(out, ')');
	mime_addr_free_list(&list, n);
	return true;
}

void
mime_part_envelope(const struct mime_part *part, struct buf *out)
{
	const char	*from;
	enum mime_env_field f;

	from = mime_part_env(part, MIME_ENV_FROM);
	mime_imap_nstring(out, mime_part_env(part, MIME_ENV_DATE));
	buf_putc(out, ' ');
	mime_imap_nstring(out, mime_part_env(part, MIME_ENV_SUBJECT));
	for (f = MIME_ENV_FROM; f <= MIME_ENV_BCC; f++) {
		buf_putc(out, ' ');
		if (mime_addr_write_list(out, mime_part_env(part, f)))
			continue;
		/* Sender and Reply-To default to From (RFC 3501 7.4.2). */
		if ((f == MIME_ENV_SENDER || f == MIME_ENV_REPLY_TO) &&
		    mime_addr_write_list(out, from))
			continue;
		buf_puts(out, "NIL");
	}
	buf_putc(out, ' ');
	mime_imap_nstring(out, mime_part_env(part, MIME_ENV_IN_REPLY_TO));
	buf_putc(out, ' ');
	mime_imap_nstring(out, mime_part_env(part, MIME_ENV_MESSAGE_ID));
}

void
mime_envelope(const struct mime_msg *msg, struct buf *out)
{
	buf_putc(out, '(');
	mime_part_envelope(msg->root, out);
	buf_putc(out, ')');
}

/* ---- BODY / BODYSTRUCTURE ---- */

#define MIME_EMPTY_BODY \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"

static void
mime_params_write(struct buf *out, const struct mime_param *params,
    size_t n, bool default_charset)
{
	bool	 seen = false;
	size_t	 i;

	if (n == 0 && !default_charset) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(out, ' ');
		if (strcasecmp(params[i].raw_name, "charset") == 0)
			seen = true;
		mime_imap_nstring(out, params[i].raw_name);
		buf_putc(out, ' ');
		mime_imap_nstring(out, params[i].raw_value);
	}
	if (default_charset && !seen) {
		if (n > 0)
			buf_putc(out, ' ');
		buf_puts(out, "\"charset\" \"us-ascii\"");
	}
	buf_putc(out, ')');
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void
mime_ext_write(struct buf *out, const struct mime_part *part)
{
	size_t	 i;

	buf_putc(out, ' ');
	if (part->disposition == NULL)
		buf_puts(out, "NIL");
	else {
		buf_putc(out, '(');
		mime_imap_nstring(out, part->disposition);
		buf_putc(out, ' ');
		mime_params_write(out, part->disp_params, part->n_disp_params,
		    false);
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	if (part->n_languages == 0)
		buf_puts(out, "NIL");
	else {
		buf_putc(out, '(');
		for (i = 0; i < part->n_languages; i++) {
			if (i > 0)
				buf_putc(out, ' ');
			mime_imap_nstring(out, part->languages[i]);
		}
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	mime_imap_nstring(out, part->location);
}

static void
mime_body_write(struct buf *out, const struct mime_part *part, bool ext)
{
	const struct mime_part	*c;
	bool			 text = false;

	buf_putc(out, '(');
	if ((part->flags & MIME_PART_MULTIPART) != 0) {
		if (part->children == NULL) {
			/* Dovecot's choice for a multipart with no parts. */
			buf_puts(out, MIME_EMPTY_BODY);
			buf_puts(out, ext ? " NIL NIL NIL NIL)" : ")");
		}
		for (c = part->children; c != NULL; c = c->next)
			mime_body_write(out, c, ext);
		buf_putc(out, ' ');
		mime_imap_nstring(out, part->subtype);
		if (ext) {
			buf_putc(out, ' ');
			mime_params_write(out, part->params, part->n_params,
			    false);
			mime_ext_write(out, part);
		}
		buf_putc(out, ')');
		return;
	}
	if ((part->flags & MIME_PART_MESSAGE) != 0)
		buf_puts(out, "\"message\" \"rfc822\"");
	else if (part->type == NULL) {
		text = true;
		buf_puts(out, "\"text\" \"plain\"");
	} else {
		text = strcasecmp(part->type, "text") == 0;
		mime_imap_nstring(out, part->type);
		buf_putc(out, ' ');
		mime_imap_nstring(out, part->subtype);
	}
	buf_putc(out, ' ');
	mime_params_write(out, part->params, part->n_params, text);
	buf_putc(out, ' ');
	mime_imap_nstring(out, part->id);
	buf_putc(out, ' ');
	mime_imap_nstring(out, part->description);
	buf_putc(out, ' ');
	mime_imap_nstring(out, part->cte != NULL ? part->cte : "7bit");
	buf_printf(out, " %llu", (unsigned long long)part->body_vsize);
	if (text)
		buf_printf(out, " %llu", (unsigned long long)part->body_lines);
	else if ((part->flags & MIME_PART_MESSAGE) != 0 &&
	    part->children != NULL) {
		buf_puts(out, " (");
		mime_part_envelope(part->children, out);
		buf_puts(out, ") ");
		mime_body_write(out, part->children, ext);
		buf_printf(out, " %llu", (unsigned long long)part->body_lines);
	}
	if (ext) {
		buf_putc(out, ' ');
		mime_imap_nstring(out, part->md5);
		mime_ext_write(out, part);
	}
	buf_putc(out, ')');
}

void
mime_bodystructure(const struct mime_msg *msg, bool extended,
    struct buf *out)
{
	mime_body_write(out, msg->root, extended);
}

/* ---- Sections ---- */

static bool
mime_kw(const char **sp, const char *kw)
{
	size_t	 n = strlen(kw);

	if (strncasecmp(*sp, kw, n) != 0)
		return false;
	*sp += n;
	return true;
}

static void
mime_range_set(struct mime_section *s, uint64_t from, uint64_t to)
{
	s->range.off = from;
	s->range.len = to > from ? to - from : 0;
}

int
mime_section_find(const struct mime_msg *msg, const char *spec,
    struct mime_section *sect, const char **error_r)
{
	const struct mime_part	*part = msg->root, *m;
	const char		*s = spec;
	unsigned long		 num;
	unsigned int		 i;
	bool			 numbered = false;

	memset(sect, 0, sizeof(*sect));
	while (*s >= '0' && *s <= '9') {
		num = 0;
		if (*s == '0') {
			*error_r = "section part number 0";
			return -1;
		}
		for (; *s >= '0' && *s <= '9'; s++) {
			num = num * 10 + (unsigned long)(*s - '0');
			if (num > 1000000) {
				*error_r = "section part number too large";
				return -1;
			}
		}
		/* A message/rfc822 part is entered before numbering. */
		if ((part->flags & MIME_PART_MESSAGE) != 0 &&
		    part->children != NULL)
			part = part->children;
		if ((part->flags & MIME_PART_MULTIPART) != 0) {
			m = part->children;
			for (i = 1; m != NULL && i < num; i++)
				m = m->next;
			if (m == NULL) {
				*error_r = "no such section part";
				return -1;
			}
			part = m;
		} else if (num != 1) {
			*error_r = "no such section part";
			return -1;
		}
		numbered = true;
		if (*s == '\0')
			break;
		if (*s != '.' || s[1] == '\0') {
			*error_r = "bad section";
			return -1;
		}
		s++;
	}
	sect->part = part;
	if (*s == '\0') {
		if (!numbered) {
			sect->kind = MIME_SECTION_FULL;
			mime_range_set(sect, 0, msg->size);
		} else {
			sect->kind = MIME_SECTION_PART;
			mime_range_set(sect, part->body_off, part->end_off);
		}
		return 0;
	}
	if (mime_kw(&s, "MIME")) {
		if (*s != '\0' || !numbered) {
			*error_r = "MIME needs a part number";
			return -1;
		}
		sect->kind = MIME_SECTION_MIME;
		mime_range_set(sect, part->hdr_off, part->body_off);
		return 0;
	}
	m = part;
	if (numbered) {
		/* RFC 3501 6.4.5: only on a message/rfc822 part. */
		if ((part->flags & MIME_PART_MESSAGE) == 0 ||
		    part->children == NULL) {
			*error_r = "section is not a message/rfc822 part";
			return -1;
		}
		m = part->children;
	}
	sect->part = m;
	if (mime_kw(&s, "TEXT")) {
		sect->kind = MIME_SECTION_TEXT;
		mime_range_set(sect, m->body_off, m->end_off);
	} else if (mime_kw(&s, "HEADER")) {
		if (*s == '\0')
			sect->kind = MIME_SECTION_HEADER;
		else if (mime_kw(&s, ".FIELDS")) {
			sect->kind = MIME_SECTION_HEADER_FIELDS;
			if (*s != '\0' && mime_kw(&s, ".NOT"))
				sect->kind = MIME_SECTION_HEADER_FIELDS_NOT;
		}
		mime_range_set(sect, m->hdr_off, m->body_off);
	}
	if (*s != '\0' || (sect->kind != MIME_SECTION_TEXT &&
	    sect->kind != MIME_SECTION_HEADER &&
	    sect->kind != MIME_SECTION_HEADER_FIELDS &&
	    sect->kind != MIME_SECTION_HEADER_FIELDS_NOT)) {
		*error_r = "bad section";
		return -1;
	}
	return 0;
}
