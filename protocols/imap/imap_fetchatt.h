/*
 * imap_fetchatt.h - FETCH attribute lists and modifiers (RFC 9051 6.4.5,
 * RFC 3501 6.4.5, BINARY RFC 3516, CONDSTORE/QRESYNC RFC 7162) -> a flat
 * list of items.  Pure.  [any]
 */
#ifndef IMAP_FETCHATT_H
#define IMAP_FETCHATT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"

enum imap_fetch_type {
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822,		/* = BODY[], sets \Seen */
	IMAP_FETCH_RFC822_HEADER,	/* = BODY.PEEK[HEADER] */
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_RFC822_TEXT,		/* = BODY[TEXT], sets \Seen */
	IMAP_FETCH_BODY,		/* BODYSTRUCTURE without extensions */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,
	IMAP_FETCH_BODY_SECTION,	/* BODY[...] / BODY.PEEK[...] */
	IMAP_FETCH_BINARY,		/* BINARY[...] / BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE		/* BINARY.SIZE[...] */
};

enum imap_section_text {
	IMAP_SECTION_ALL,		/* [] or [1.2]: the whole part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_MIME,
	IMAP_SECTION_TEXT
};

struct imap_fetch_item {
	enum imap_fetch_type	 type;
	bool			 peek;		/* .PEEK given */
	/* BODY_SECTION / BINARY / BINARY_SIZE: */
	uint32_t		*parts;		/* "1.2.3" -> {1,2,3} */
	size_t			 nparts;
	enum imap_section_text	 text;
	char			**fields;	/* HEADER.FIELDS[.NOT] list */
	size_t			 nfields;
	bool			 partial;	/* <offset.length> */
	uint32_t		 offset, length;
	/* Name for the response, e.g. "BODY[HEADER.FIELDS (From To)]<0>"
	   for "BODY.PEEK[header.fields (From To)]<0.100>". */
	char			*resp_name;
};

struct imap_fetchatt {
	struct imap_fetch_item	*items;
	size_t			 nitems;
	bool			 sets_seen;	/* some item marks \Seen */
	bool			 changedsince_set;
	uint64_t		 changedsince;	/* CHANGEDSINCE n */
	bool			 vanished;	/* VANISHED (QRESYNC) */
};

/*
 * Parse args (everything after the sequence set): a macro (ALL, FAST,
 * FULL), one attribute, or a list; then an optional modifier list
 * "(CHANGEDSINCE n [VANISHED])".  For UID FETCH (uid = true) a UID item
 * is added if missing (RFC 9051 6.4.9); CHANGEDSINCE adds MODSEQ
 * (RFC 7162 3.1.4.1).  VANISHED is only valid for UID FETCH with
 * CHANGEDSINCE (RFC 7162 3.2.6).
 */
int	 imap_fetchatt_parse(const struct imap_arg *args, size_t nargs,
	    bool uid, struct imap_fetchatt **fa_r, const char **error_r);
void	 imap_fetchatt_free(struct imap_fetchatt **);
#endif
