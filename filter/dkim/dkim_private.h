/*
 * dkim_private.h - shared inside filter/dkim/: the header/body splitter,
 * header selection and base64.  Not for other modules.  [any]
 */
#ifndef DKIM_PRIVATE_H
#define DKIM_PRIVATE_H
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "dkim.h"

/* One header field, CRLF-normalized, raw includes the final CRLF. */
struct dkim_field {
	char		*raw;
	size_t		 len;
	size_t		 namelen;	/* name without trailing WSP */
	bool		 used;		/* scratch for dkim_select_headers */
};

/* Body sink called with body bytes once the header block has ended. */
struct dkim_split {
	struct dkim_field *fields;
	size_t		 nfields;
	struct buf	 line;		/* current header line */
	size_t		 hbytes;	/* header bytes so far */
	bool		 in_body;
	bool		 overflow;	/* header block exceeded DKIM_HEADER_MAX */
	void		(*body)(void *, const char *, size_t);
	void		*arg;
};

void	 dkim_split_init(struct dkim_split *,
	    void (*body)(void *, const char *, size_t), void *arg);
void	 dkim_split_feed(struct dkim_split *, const char *, size_t);
void	 dkim_split_finish(struct dkim_split *);
void	 dkim_split_free(struct dkim_split *);
bool	 dkim_field_is(const struct dkim_field *, const char *name, size_t);

/*
 * Append the canonical form of the fields named by names[0..n) to out,
 * each one taken bottom-up (RFC 6376 5.4.2); a name with no unused
 * instance adds nothing.  Field index skip (the signature being
 * verified, 3.5 h=) is never selected; (size_t)-1: none.
 */
void	 dkim_select_headers(struct dkim_field *, size_t nfields,
	    char *const *names, size_t n, enum dkim_canon, size_t skip,
	    struct buf *out);

#define DKIM_KEYF_TESTING	0x1	/* t=y */
#define DKIM_KEYF_STRICT	0x2	/* t=s: i= must be exactly d= */

int	 dkim_key_parse_record_flags(const char *txt, enum dkim_key_type *,
	    EVP_PKEY **key_r, unsigned *flags_r, const char **error_r);

void	 dkim_b64_encode(const unsigned char *, size_t, struct buf *out);
/* Decode, skipping WSP/CR/LF; -1 on any other bad input. */
int	 dkim_b64_decode(const char *, unsigned char **out_r, size_t *len_r);
#endif
