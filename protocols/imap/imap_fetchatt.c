/*
 * imap_fetchatt.c - parse FETCH attributes into items.
 *
 * fetch-att  = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER"
 *              / ".SIZE" / ".TEXT"] / "BODY" ["STRUCTURE"] / "UID" /
 *              "MODSEQ" / "BODY" section [partial] / "BODY.PEEK" section
 *              [partial] / "BINARY" [".PEEK"] section-binary [partial] /
 *              "BINARY.SIZE" section-binary
 * section    = "[" [section-spec] "]"
 * section-spec = section-msgtext / (section-part ["." section-text])
 * section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
 *              "TEXT";  section-text = section-msgtext / "MIME"
 *                                    (RFC 9051 section 9, RFC 3516 4.1)
 * The parser keeps the whole "BODY[...]<...>" as one atom; this file
 * takes it apart.  MIME needs a part number (RFC 9051 6.4.5).
 * Owns the list it returns.  [any]: pure code, no I/O, no globals.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap_fetchatt.h"
#include "xmalloc.h"

struct imap_fvec {
	struct imap_fetchatt	*fa;
	size_t			 cap;
};

static void
imap_fetch_item_clear(struct imap_fetch_item *it)
{
	size_t	 i;

	for (i = 0; i < it->nfields; i++)
		free(it->fields[i]);
	free(it->fields);
	free(it->parts);
	free(it->resp_name);
}

void
imap_fetchatt_free(struct imap_fetchatt **fap)
{
	struct imap_fetchatt	*fa = *fap;
	size_t			 i;

	if (fa == NULL)
		return;
	for (i = 0; i < fa->nitems; i++)
		imap_fetch_item_clear(&fa->items[i]);
	free(fa->items);
	free(fa);
	*fap = NULL;
}

static struct imap_fetch_item *
imap_fetch_add(struct imap_fvec *v, enum imap_fetch_type type)
{
	struct imap_fetch_item	*it;

	if (v->fa->nitems == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->fa->items = xreallocarray(v->fa->items, v->cap,
		    sizeof(*v->fa->items));
	}
	it = &v->fa->items[v->fa->nitems++];
	memset(it, 0, sizeof(*it));
	it->type = type;
	return it;
}

static bool
imap_fetch_has(const struct imap_fetchatt *fa, enum imap_fetch_type type)
{
	size_t	 i;

	for (i = 0; i < fa->nitems; i++)
		if (fa->items[i].type == type)
			return true;
	return false;
}

/* Unsigned decimal < 2^32 at s[*pos]; no sign, at least one digit. */
static int
imap_fetch_u32(const char *s, size_t len, size_t *pos, uint32_t *v_r)
{
	uint64_t	 v = 0;
	size_t		 i = *pos;

	if (i >= len || s[i] < '0' || s[i] > '9')
		return -1;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (uint64_t)(s[i++] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*v_r = (uint32_t)v;
	*pos = i;
	return 0;
}

static bool
imap_fetch_kw(const char *s, size_t len, size_t *pos, const char *kw)
{
	size_t	 n = strlen(kw);

	if (len - *pos < n || strncasecmp(s + *pos, kw, n) != 0)
		return false;
	*pos += n;
	return true;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static int
imap_fetch_fields(const char *s, size_t len, size_t *pos,
    struct imap_fetch_item *it)
{
	struct buf	 b;
	size_t		 i = *pos, cap = 0;
	unsigned char	 c;

	if (i >= len || s[i] != ' ' || i + 1 >= len || s[i + 1] != '(')
		return -1;
	i += 2;
	for (;;) {
		buf_init(&b, 0);
		buf_append(&b, "", 0);
		if (i < len && s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				buf_putc(&b, s[i]);
			}
			if (i >= len) {
				buf_free(&b);
				return -1;
			}
			i++;
		} else {
			while (i < len && s[i] != ' ' && s[i] != ')')
				buf_putc(&b, s[i++]);
		}
		/* field-name: printable, no SP or ':' (RFC 5322 3.6.8). */
		for (size_t k = 0; k < b.len; k++) {
			c = (unsigned char)b.data[k];
			if (c <= 0x20 || c >= 0x7f || c == ':')
				b.len = 0;
		}
		if (b.len == 0) {
			buf_free(&b);
			return -1;
		}
		if (it->nfields == cap) {
			cap = cap ? cap * 2 : 4;
			it->fields = xreallocarray(it->fields, cap,
			    sizeof(*it->fields));
		}
		it->fields[it->nfields++] = buf_steal(&b, NULL);
		buf_free(&b);
		if (i < len && s[i] == ' ') {
			i++;
			continue;
		}
		if (i < len && s[i] == ')')
			break;
		return -1;
	}
	*pos = i + 1;
	return 0;
}

/* The section text between '[' and ']'. */
static int
imap_fetch_section(const char *s, size_t len, bool binary,
    struct imap_fetch_item *it)
{
	size_t		 i = 0, cap = 0;
	uint32_t	 v;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (s[i] == '0' || imap_fetch_u32(s, len, &i, &v) == -1)
			return -1;		/* nz-number */
		if (it->nparts == cap) {
			cap = cap ? cap * 2 : 4;
			it->parts = xreallocarray(it->parts, cap,
			    sizeof(*it->parts));
		}
		it->parts[it->nparts++] = v;
		if (i == len)
			return 0;
		if (s[i] != '.')
			return -1;
		i++;
	}
	if (i == len)
		return it->nparts == 0 ? 0 : -1;	/* trailing '.' */
	if (binary)
		return -1;		/* section-binary: part numbers only */
	if (imap_fetch_kw(s, len, &i, "HEADER.FIELDS.NOT"))
		it->text = IMAP_SECTION_HEADER_FIELDS_NOT;
	else if (imap_fetch_kw(s, len, &i, "HEADER.FIELDS"))
		it->text = IMAP_SECTION_HEADER_FIELDS;
	else if (imap_fetch_kw(s, len, &i, "HEADER"))
		it->text = IMAP_SECTION_HEADER;
	else if (imap_fetch_kw(s, len, &i, "TEXT"))
		it->text = IMAP_SECTION_TEXT;
	else if (imap_fetch_kw(s, len, &i, "MIME") && it->nparts > 0)
		it->text = IMAP_SECTION_MIME;
	else
		return -1;
	if ((it->text == IMAP_SECTION_HEADER_FIELDS ||
	    it->text == IMAP_SECTION_HEADER_FIELDS_NOT) &&
	    imap_fetch_fields(s, len, &i, it) == -1)
		return -1;
	return i == len ? 0 : -1;
}

static bool
imap_fetch_field_atom(const char *f)
{
	for (; *f != '\0'; f++)
		if (strchr("(){%*\"\\]", *f) != NULL)
			return false;
	return true;
}

static void
imap_fetch_resp_name(struct imap_fetch_item *it, const char *base)
{
	static const char *const texts[] = { "", "HEADER", "HEADER.FIELDS",
	    "HEADER.FIELDS.NOT", "MIME", "TEXT" };
	struct buf	 b;
	size_t		 i;
	const char	*f;

	buf_init(&b, 0);
	buf_printf(&b, "%s[", base);
	for (i = 0; i < it->nparts; i++)
		buf_printf(&b, "%s%u", i ? "." : "", it->parts[i]);
	if (it->text != IMAP_SECTION_ALL)
		buf_printf(&b, "%s%s", it->nparts ? "." : "",
		    texts[it->text]);
	if (it->nfields > 0) {
		buf_puts(&b, " (");
		for (i = 0; i < it->nfields; i++) {
			if (i > 0)
				buf_putc(&b, ' ');
			if (imap_fetch_field_atom(it->fields[i])) {
				buf_puts(&b, it->fields[i]);
				continue;
			}
			buf_putc(&b, '"');
			for (f = it->fields[i]; *f != '\0'; f++) {
				if (*f == '"' || *f == '\\')
					buf_putc(&b, '\\');
				buf_putc(&b, *f);
			}
			buf_putc(&b, '"');
		}
		buf_putc(&b, ')');
	}
	buf_putc(&b, ']');
	/* RFC 9051 7.5.2: the response gives only the origin octet. */
	if (it->partial)
		buf_printf(&b, "<%u>", it->offset);
	it->resp_name = buf_steal(&b, NULL);
	buf_free(&b);
}

static const struct {
	const char		*name;
	enum imap_fetch_type	 type;
} imap_fetch_simple[] = {
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "UID", IMAP_FETCH_UID },
	{ "MODSEQ", IMAP_FETCH_MODSEQ },
};

static int
imap_fetch_att(struct imap_fvec *v, const struct imap_arg *a,
    const char **error_r)
{
	static const struct {
		const char		*name;
		enum imap_fetch_type	 type;
		bool			 peek;
		const char		*base;
	} sect[] = {
		{ "BODY", IMAP_FETCH_BODY_SECTION, false, "BODY" },
		{ "BODY.PEEK", IMAP_FETCH_BODY_SECTION, true, "BODY" },
		{ "BINARY", IMAP_FETCH_BINARY, false, "BINARY" },
		{ "BINARY.PEEK", IMAP_FETCH_BINARY, true, "BINARY" },
		{ "BINARY.SIZE", IMAP_FETCH_BINARY_SIZE, true, "BINARY.SIZE" },
	};
	struct imap_fetch_item	*it;
	const char		*s, *br, *end;
	size_t			 i, n, pos, len;

	if (a->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid FETCH attribute";
		return -1;
	}
	s = a->str;
	if ((br = memchr(s, '[', a->len)) == NULL) {
		for (i = 0; i < sizeof(imap_fetch_simple) /
		    sizeof(imap_fetch_simple[0]); i++)
			if (strcasecmp(s, imap_fetch_simple[i].name) == 0) {
				imap_fetch_add(v, imap_fetch_simple[i].type);
				return 0;
			}
		*error_r = "Unknown FETCH attribute";
		return -1;
	}
	n = (size_t)(br - s);
	for (i = 0; i < sizeof(sect) / sizeof(sect[0]); i++)
		if (strlen(sect[i].name) == n &&
		    strncasecmp(s, sect[i].name, n) == 0)
			break;
	/* The section ends at the last ']' (quoted names may hold ']'). */
	if (i == sizeof(sect) / sizeof(sect[0]) ||
	    (end = memrchr(s, ']', a->len)) == NULL || end < br) {
		*error_r = "Unknown FETCH attribute";
		return -1;
	}
	it = imap_fetch_add(v, sect[i].type);
	it->peek = sect[i].peek;
	if (imap_fetch_section(br + 1, (size_t)(end - br - 1),
	    sect[i].type != IMAP_FETCH_BODY_SECTION, it) == -1) {
		*error_r = "Invalid FETCH section";
		return -1;
	}
	pos = (size_t)(end - s) + 1;
	len = a->len;
	if (pos < len && sect[i].type != IMAP_FETCH_BINARY_SIZE &&
	    s[pos] == '<') {
		/* partial = "<" number "." nz-number ">" */
		pos++;
		if (imap_fetch_u32(s, len, &pos, &it->offset) == -1 ||
		    pos >= len || s[pos++] != '.' ||
		    imap_fetch_u32(s, len, &pos, &it->length) == -1 ||
		    it->length == 0 || pos >= len || s[pos++] != '>') {
			*error_r = "Invalid FETCH partial";
			return -1;
		}
		it->partial = true;
	}
	if (pos != len) {
		*error_r = "Invalid FETCH attribute";
		return -1;
	}
	imap_fetch_resp_name(it, sect[i].base);
	return 0;
}

/* fetch-modifier = chgsince-fetch-mod / "VANISHED" (RFC 7162 3.1.4.1) */
static int
imap_fetch_modifiers(struct imap_fetchatt *fa, const struct imap_arg *l,
    bool uid, const char **error_r)
{
	size_t	 i;

	for (i = 0; i < l->count; i++) {
		if (imap_arg_atom_is(&l->list[i], "CHANGEDSINCE")) {
			if (i + 1 >= l->count ||
			    l->list[i + 1].type != IMAP_ARG_NUMBER ||
			    l->list[i + 1].num == 0 ||
			    l->list[i + 1].num > INT64_MAX ||
			    fa->changedsince_set) {
				*error_r = "Invalid CHANGEDSINCE";
				return -1;
			}
			fa->changedsince_set = true;
			fa->changedsince = l->list[++i].num;
		} else if (imap_arg_atom_is(&l->list[i], "VANISHED") &&
		    !fa->vanished) {
			fa->vanished = true;
		} else {
			*error_r = "Unknown FETCH modifier";
			return -1;
		}
	}
	/* RFC 7162 3.2.6: VANISHED only in UID FETCH with CHANGEDSINCE. */
	if (fa->vanished && (!uid || !fa->changedsince_set)) {
		*error_r = "VANISHED needs UID FETCH and CHANGEDSINCE";
		return -1;
	}
	return 0;
}

int
imap_fetchatt_parse(const struct imap_arg *args, size_t nargs, bool uid,
    struct imap_fetchatt **fa_r, const char **error_r)
{
	static const enum imap_fetch_type fast[] = { IMAP_FETCH_FLAGS,
	    IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	    IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY };
	struct imap_fvec	 v;
	struct imap_fetch_item	*it;
	size_t			 i, nmacro = 0;

	*fa_r = NULL;
	v.fa = xcalloc(1, sizeof(*v.fa));
	v.cap = 0;
	if (nargs == 0 || nargs > 2) {
		*error_r = nargs == 0 ? "Missing FETCH attributes" :
		    "Too many FETCH arguments";
		goto fail;
	}
	if (imap_arg_atom_is(&args[0], "FAST"))
		nmacro = 3;
	else if (imap_arg_atom_is(&args[0], "ALL"))
		nmacro = 4;
	else if (imap_arg_atom_is(&args[0], "FULL"))
		nmacro = 5;
	if (nmacro > 0) {
		for (i = 0; i < nmacro; i++)
			imap_fetch_add(&v, fast[i]);
	} else if (args[0].type == IMAP_ARG_LIST) {
		if (args[0].count == 0) {
			*error_r = "Empty FETCH attribute list";
			goto fail;
		}
		for (i = 0; i < args[0].count; i++)
			if (imap_fetch_att(&v, &args[0].list[i], error_r) ==
			    -1)
				goto fail;
	} else if (imap_fetch_att(&v, &args[0], error_r) == -1)
		goto fail;
	if (nargs == 2) {
		if (args[1].type != IMAP_ARG_LIST) {
			*error_r = "Invalid FETCH modifiers";
			goto fail;
		}
		if (imap_fetch_modifiers(v.fa, &args[1], uid, error_r) == -1)
			goto fail;
	}
	if (uid && !imap_fetch_has(v.fa, IMAP_FETCH_UID))
		imap_fetch_add(&v, IMAP_FETCH_UID);
	if (v.fa->changedsince_set && !imap_fetch_has(v.fa, IMAP_FETCH_MODSEQ))
		imap_fetch_add(&v, IMAP_FETCH_MODSEQ);
	for (i = 0; i < v.fa->nitems; i++) {
		it = &v.fa->items[i];
		if (it->type == IMAP_FETCH_RFC822 ||
		    it->type == IMAP_FETCH_RFC822_TEXT ||
		    ((it->type == IMAP_FETCH_BODY_SECTION ||
		    it->type == IMAP_FETCH_BINARY) && !it->peek))
			v.fa->sets_seen = true;
	}
	*fa_r = v.fa;
	return 0;
fail:
	imap_fetchatt_free(&v.fa);
	return -1;
}
