/*
 * imap_seqset.h - IMAP sequence sets (RFC 9051 section 9 "sequence-set",
 * RFC 5182 "$"): parse, normalize, query, format.  [any]
 */
#ifndef IMAP_SEQSET_H
#define IMAP_SEQSET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct imap_seqset;		/* opaque: sorted, disjoint, non-adjacent */

/* Default cap on elements ("a" or "a:b") in one client set. */
#define IMAP_SEQSET_MAX_ELEMENTS	100000

/*
 * Parse str (len bytes; need not be NUL-terminated).  '*' stands for star
 * (the highest sequence number or UID in use); with star == 0 (an empty
 * mailbox) an element that uses '*' adds nothing.  "a:b" is the same as
 * "b:a" (RFC 9051 section 9).  "$" alone is the saved search result
 * (RFC 5182): the set is empty and imap_seqset_is_saved() is true.  More
 * than max_elements elements is an error.  O(n log n).
 */
int	 imap_seqset_parse(const char *str, size_t len, uint32_t star,
	    size_t max_elements, struct imap_seqset **set_r,
	    const char **error_r);
/* Syntax check only (what SEARCH does before it knows the mailbox). */
bool	 imap_seqset_valid(const char *str, size_t len);
struct imap_seqset *imap_seqset_new(void);
void	 imap_seqset_free(struct imap_seqset **);
/* Add lo:hi (any order); ascending appends are O(1). */
void	 imap_seqset_add(struct imap_seqset *, uint32_t lo, uint32_t hi);
bool	 imap_seqset_contains(const struct imap_seqset *, uint32_t);
bool	 imap_seqset_is_saved(const struct imap_seqset *);
bool	 imap_seqset_has_star(const struct imap_seqset *);
bool	 imap_seqset_empty(const struct imap_seqset *);
size_t	 imap_seqset_nranges(const struct imap_seqset *);
/* Numbers in the set (up to 2^32 - 1, so a uint64). */
uint64_t imap_seqset_count(const struct imap_seqset *);
uint32_t imap_seqset_min(const struct imap_seqset *);	/* 0 if empty */
uint32_t imap_seqset_max(const struct imap_seqset *);	/* 0 if empty */
/*
 * Iterate ranges in ascending order: start with *idx = 0, returns false
 * when done.
 */
bool	 imap_seqset_iter(const struct imap_seqset *, size_t *idx,
	    uint32_t *lo_r, uint32_t *hi_r);
/* Append "1,3:5,7" (nothing for an empty set); -1 if out is full. */
int	 imap_seqset_format(const struct imap_seqset *, struct buf *out);
#endif
