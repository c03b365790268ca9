/*
 * mime.h - RFC 5322 / MIME message structure: a streaming parser that
 * records the part tree with byte offsets, IMAP ENVELOPE and BODYSTRUCTURE
 * writers, FETCH BODY[section] addressing, header helpers, address-list
 * parsing and the RFC 2047 / base64 / quoted-printable / charset decoders.
 *
 * Everything here is pure code (no I/O, no globals) and may be called from
 * any thread [any]; one parser or message is used by one thread at a time.
 *
 * Offsets are physical byte offsets from the start of the message as fed
 * to the parser.  Sizes named "vsize" are what IMAP reports: the octet
 * count after every bare LF is turned into CRLF (RFC 3501 2.3.4 counts
 * octets of the message as sent, and messages are sent with CRLF).
 */
#ifndef MIME_H
#define MIME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

struct mime_limits {
	size_t	 max_header_block;	/* bytes of one part's header */
	size_t	 max_header_field;	/* bytes of one field, folded */
	unsigned int max_depth;		/* nesting of multipart + rfc822 */
	unsigned int max_parts;		/* parts in the whole tree */
};

enum mime_cte {
	MIME_CTE_7BIT = 0,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_QP,
	MIME_CTE_BASE64,
	MIME_CTE_OTHER
};

/* Message flags (mime_msg_flags()). */
#define MIME_MSG_TRUNCATED	0x01	/* a limit was hit; rest is opaque */
#define MIME_MSG_BROKEN		0x02	/* missing close boundary, bad header */

/* Envelope header fields kept for the message and each message/rfc822. */
enum mime_env_field {
	MIME_ENV_DATE = 0,
	MIME_ENV_SUBJECT,
	MIME_ENV_FROM,
	MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO,
	MIME_ENV_TO,
	MIME_ENV_CC,
	MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO,
	MIME_ENV_MESSAGE_ID,
	MIME_ENV_REFERENCES,
	MIME_ENV_COUNT
};

struct mime_param {
	char	*name;		/* base name, RFC 2231 continuations merged */
	char	*value;		/* decoded to UTF-8 (RFC 2231, RFC 2047) */
	char	*raw_name;	/* as Dovecot shows it: "name" or "name*" */
	char	*raw_value;	/* merged, still %-encoded for "name*" */
};

struct mime_msg;		/* parse result (opaque) */
struct mime_part;		/* one node of the part tree (opaque) */
struct mime_parser;		/* streaming parser (opaque) */

/* [any] Defaults: 256 KiB header block, 64 KiB field, depth 32, 2000 parts. */
void	 mime_limits_default(struct mime_limits *limits_r);

/* [any] limits may be NULL for the defaults.  Never fails. */
struct mime_parser *mime_parser_new(const struct mime_limits *limits);
/* [any] Feed the next bytes; chunk boundaries never change the result. */
void	 mime_parser_feed(struct mime_parser *, const void *data, size_t len);
/*
 * [any] End of input: hand out the message and free the parser (*p = NULL).
 * Every byte string is a valid message, so this returns 0; -1 with
 * *error_r set is reserved for misuse (a parser already finished).
 */
int	 mime_parser_finish(struct mime_parser **p, struct mime_msg **msg_r,
	    const char **error_r);
void	 mime_parser_free(struct mime_parser **p);	/* [any] abandon */
/* [any] Parse a whole message in one call. */
struct mime_msg *mime_parse(const void *data, size_t len,
	    const struct mime_limits *limits);
void	 mime_msg_free(struct mime_msg **msg);		/* [any] */

unsigned int mime_msg_flags(const struct mime_msg *);	/* [any] */
uint64_t mime_msg_size(const struct mime_msg *);	/* [any] physical */
unsigned int mime_msg_part_count(const struct mime_msg *); /* [any] */
/* [any] Root part: the whole message (header + body). */
const struct mime_part *mime_msg_root(const struct mime_msg *);
/* [any] Raw (unfolded, trimmed) top-level envelope field, or NULL. */
const char *mime_msg_env(const struct mime_msg *, enum mime_env_field);

/* Tree walking and part attributes [any]. */
const struct mime_part *mime_part_parent(const struct mime_part *);
const struct mime_part *mime_part_child(const struct mime_part *);
const struct mime_part *mime_part_next(const struct mime_part *);
unsigned int mime_part_child_count(const struct mime_part *);
bool	 mime_part_is_multipart(const struct mime_part *);
/* message/rfc822 (or global) whose content was parsed as a message. */
bool	 mime_part_is_message(const struct mime_part *);
uint64_t mime_part_hdr_off(const struct mime_part *);
uint64_t mime_part_body_off(const struct mime_part *);
uint64_t mime_part_end_off(const struct mime_part *);
uint64_t mime_part_hdr_vsize(const struct mime_part *);
uint64_t mime_part_body_vsize(const struct mime_part *);
uint64_t mime_part_body_lines(const struct mime_part *);
/* Type and subtype as written; "text"/"plain" by default (RFC 2045 5.2). */
const char *mime_part_type(const struct mime_part *);
const char *mime_part_subtype(const struct mime_part *);
/* Content-Type parameter value (decoded), name case-insensitive, or NULL. */
const char *mime_part_param(const struct mime_part *, const char *name);
const struct mime_param *mime_part_params(const struct mime_part *,
	    size_t *n_r);
enum mime_cte mime_part_cte(const struct mime_part *);
/* Content-Disposition type ("attachment", ...) or NULL, and its params. */
const char *mime_part_disposition(const struct mime_part *);
const struct mime_param *mime_part_disposition_params(const struct mime_part *,
	    size_t *n_r);
/* Envelope field of a message part (root or mime_part_is_message child). */
const char *mime_part_env(const struct mime_part *, enum mime_env_field);

/* IMAP output [any].  Append to out; never fail (buf without max). */
void	 mime_envelope(const struct mime_msg *, struct buf *out);
void	 mime_part_envelope(const struct mime_part *, struct buf *out);
void	 mime_bodystructure(const struct mime_msg *, bool extended,
	    struct buf *out);
/* Append an IMAP string: quoted, or a literal {n}\r\n for unsafe bytes. */
void	 mime_imap_string(struct buf *out, const char *s, size_t len);
void	 mime_imap_nstring(struct buf *out, const char *s);

/* FETCH BODY[section] addressing (RFC 3501 6.4.5, RFC 9051 6.4.5). */
enum mime_section_kind {
	MIME_SECTION_FULL = 0,		/* BODY[] */
	MIME_SECTION_PART,		/* BODY[1.2]: the part's body */
	MIME_SECTION_HEADER,		/* BODY[HEADER], BODY[1.HEADER] */
	MIME_SECTION_HEADER_FIELDS,	/* header range; filter it */
	MIME_SECTION_HEADER_FIELDS_NOT,
	MIME_SECTION_TEXT,		/* BODY[TEXT], BODY[2.TEXT] */
	MIME_SECTION_MIME		/* BODY[1.2.MIME] */
};

struct mime_range {
	uint64_t off;			/* physical offset */
	uint64_t len;			/* physical length */
};

struct mime_section {
	enum mime_section_kind kind;
	struct mime_range range;	/* the bytes the spec names */
	const struct mime_part *part;	/* the part addressed */
};

/*
 * [any] spec is the text between the brackets, without a field list:
 * "", "HEADER", "TEXT", "1.2", "1.2.MIME", "3.HEADER.FIELDS.NOT", ...
 * (case-insensitive).  -1 with *error_r when the spec is bad or names a
 * part that does not exist.
 */
int	 mime_section_find(const struct mime_msg *, const char *spec,
	    struct mime_section *sect_r, const char **error_r);

/* Header helpers over a raw header block (CRLF or LF) [any]. */
struct mime_header_iter {
	const char *p, *end;
};
struct mime_header_field {
	const char *name;		/* not NUL-terminated */
	size_t	 name_len;
	const char *value;		/* raw, after the colon, folded */
	size_t	 value_len;		/* without the final line end */
	const char *full;		/* the whole field with its line end */
	size_t	 full_len;
};
void	 mime_header_iter_init(struct mime_header_iter *, const char *hdr,
	    size_t len);
/* false at the blank line or the end; lines without a colon are skipped. */
bool	 mime_header_iter_next(struct mime_header_iter *,
	    struct mime_header_field *field_r);
/* Unfold and trim a raw value into out (appended). */
void	 mime_header_unfold(const char *value, size_t len, struct buf *out);
/* First field called name: unfolded value appended to out; false if none. */
bool	 mime_header_get(const char *hdr, size_t len, const char *name,
	    struct buf *out);
/*
 * HEADER.FIELDS (not = false) / HEADER.FIELDS.NOT (not = true): append the
 * matching fields, folded lines kept as they are, then the blank line.
 */
void	 mime_header_fields(const char *hdr, size_t len,
	    const char *const *names, size_t n, bool not, struct buf *out);

/* Addresses (RFC 5322 3.4, with the obsolete forms of 4.4). */
enum mime_addr_kind {
	MIME_ADDR_MAILBOX = 0,
	MIME_ADDR_GROUP_START,		/* mailbox = group display name */
	MIME_ADDR_GROUP_END
};
struct mime_addr {
	enum mime_addr_kind kind;
	char	*name;			/* display name, raw (2047 kept), or NULL */
	char	*route;			/* obsolete "@a,@b", or NULL */
	char	*mailbox;		/* local part, unquoted, or NULL */
	char	*domain;		/* NULL when missing */
};
/* [any] Never fails; unparsable bits are skipped.  *list_r may be NULL. */
void	 mime_addr_parse_list(const char *in, size_t len,
	    struct mime_addr **list_r, size_t *n_r);
void	 mime_addr_free_list(struct mime_addr **list, size_t n);

/* Decoders [any].  Output is appended to out. */
void	 mime_decode_2047(const char *in, size_t len, struct buf *out);
/* Undecodable input is passed through or skipped, never fatal. */
void	 mime_decode_cte(enum mime_cte, const char *in, size_t len,
	    struct buf *out);
/* -1 if the charset is unknown (input then copied as is, 8-bit as U+FFFD). */
int	 mime_charset_to_utf8(const char *charset, const char *in, size_t len,
	    struct buf *out);
enum mime_cte mime_cte_parse(const char *s, size_t len);
#endif
