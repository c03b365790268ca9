/*
 * mime_private.h - layout of the part tree shared by the mime_*.c files.
 * Not for use outside protocols/mime/.
 */
#ifndef MIME_PRIVATE_H
#define MIME_PRIVATE_H
#include "mime.h"

#define MIME_PART_MULTIPART	0x01
#define MIME_PART_MESSAGE	0x02	/* message/rfc822 parsed as a message */
#define MIME_PART_TEXT		0x04	/* type "text" */

struct mime_part {
	struct mime_part *parent;
	struct mime_part *children;	/* first child */
	struct mime_part *last_child;
	struct mime_part *next;
	unsigned int	 n_children;
	unsigned int	 flags;
	unsigned int	 depth;		/* root = 0 */

	uint64_t	 hdr_off;
	uint64_t	 body_off;
	uint64_t	 end_off;
	uint64_t	 hdr_vsize;
	uint64_t	 body_vsize;
	uint64_t	 body_lines;

	char		*type;		/* NULL: no valid Content-Type */
	char		*subtype;
	struct mime_param *params;
	size_t		 n_params;
	char		*cte;		/* as written, or NULL */
	enum mime_cte	 cte_kind;
	char		*id;
	char		*description;
	char		*md5;
	char		*location;
	char		*disposition;
	struct mime_param *disp_params;
	size_t		 n_disp_params;
	char		**languages;
	size_t		 n_languages;

	/* Root and message/rfc822 children: the envelope header fields. */
	char		**env;		/* MIME_ENV_COUNT entries, or NULL */

	/* Parser scratch: counters at body start. */
	uint64_t	 lf_at_body;
	uint64_t	 bare_at_body;
	char		*boundary;	/* multipart only, while parsing */
};

struct mime_msg {
	struct mime_part *root;
	unsigned int	 flags;
	unsigned int	 n_parts;
	uint64_t	 size;
};

/* mime_header.c: Content-Type / Content-Disposition style parameters. */
void	 mime_header_parse_params(const char *p, const char *end,
	    struct mime_param **params_r, size_t *n_r);
void	 mime_header_free_params(struct mime_param *, size_t);
#endif
