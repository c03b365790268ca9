/*
 * imap_seqset.c - IMAP sequence sets: "1,3:5,7:*" or "$".
 *
 * sequence-set = (seq-number / seq-range) ["," sequence-set]
 * seq-range    = seq-number ":" seq-number
 * seq-number   = nz-number / "*"        (RFC 9051 section 9)
 * A parsed set is kept as sorted, disjoint, non-adjacent ranges, so
 * contains() is a binary search and format() gives the shortest form
 * (what COPYUID/APPENDUID, RFC 4315, and ESEARCH ALL, RFC 4731, want).
 * Parsing is one linear scan, plus one sort when the client's elements
 * were not ascending: never quadratic.
 * Owns its range array.  [any]: pure code, no I/O, no globals.
 */
#include <stdlib.h>
#include <string.h>

#include "imap_seqset.h"
#include "xmalloc.h"

struct imap_range {
	uint32_t	 lo, hi;
};

struct imap_seqset {
	struct imap_range	*r;
	size_t			 n, cap;
	bool			 saved;		/* "$" */
	bool			 star;		/* '*' was used */
};

struct imap_seqset *
imap_seqset_new(void)
{
	return xcalloc(1, sizeof(struct imap_seqset));
}

void
imap_seqset_free(struct imap_seqset **setp)
{
	if (*setp == NULL)
		return;
	free((*setp)->r);
	free(*setp);
	*setp = NULL;
}

static void
imap_seqset_push(struct imap_seqset *s, uint32_t lo, uint32_t hi)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->r = xreallocarray(s->r, s->cap, sizeof(*s->r));
	}
	s->r[s->n].lo = lo;
	s->r[s->n].hi = hi;
	s->n++;
}

static int
imap_range_cmp(const void *a0, const void *b0)
{
	const struct imap_range	*a = a0, *b = b0;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	return 0;
}

/* Sort (if needed) and merge overlapping or adjacent ranges. */
static void
imap_seqset_normalize(struct imap_seqset *s, bool sorted)
{
	size_t	 i, o;

	if (s->n < 2)
		return;
	if (!sorted)
		qsort(s->r, s->n, sizeof(*s->r), imap_range_cmp);
	o = 0;
	for (i = 1; i < s->n; i++) {
		/* Adjacent: lo == hi + 1, written to avoid overflow. */
		if (s->r[i].lo <= s->r[o].hi ||
		    s->r[i].lo - 1 == s->r[o].hi) {
			if (s->r[i].hi > s->r[o].hi)
				s->r[o].hi = s->r[i].hi;
		} else
			s->r[++o] = s->r[i];
	}
	s->n = o + 1;
}

/* seq-number: nz-number (no leading zero, < 2^32) or '*'. */
static int
imap_seqset_number(const char *str, size_t len, size_t *pos, uint32_t *v_r,
    bool *star_r)
{
	size_t		 i = *pos;
	uint64_t	 v = 0;

	*star_r = false;
	if (i < len && str[i] == '*') {
		*star_r = true;
		*pos = i + 1;
		*v_r = 0;
		return 0;
	}
	if (i >= len || str[i] < '1' || str[i] > '9')
		return -1;
	while (i < len && str[i] >= '0' && str[i] <= '9') {
		v = v * 10 + (uint64_t)(str[i] - '0');
		if (v > UINT32_MAX)
			return -1;	/* checked every digit: no overflow */
		i++;
	}
	*v_r = (uint32_t)v;
	*pos = i;
	return 0;
}

/* Scan str; if out != NULL collect ranges into it (unnormalized). */
static int
imap_seqset_scan(const char *str, size_t len, uint32_t star,
    size_t max_elements, struct imap_seqset *out, bool *sorted_r,
    const char **error_r)
{
	size_t		 pos = 0, nelem = 0;
	uint32_t	 a, b, t, prev_hi = 0;
	bool		 sa, sb, sorted = true;

	if (len == 1 && str[0] == '$') {
		if (out != NULL)
			out->saved = true;
		*sorted_r = true;
		return 0;
	}
	if (len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	for (;;) {
		if (nelem >= max_elements) {
			*error_r = "Too many elements in sequence set";
			return -1;
		}
		nelem++;
		if (imap_seqset_number(str, len, &pos, &a, &sa) == -1) {
			*error_r = "Invalid sequence set";
			return -1;
		}
		b = a;
		sb = sa;
		if (pos < len && str[pos] == ':') {
			pos++;
			if (imap_seqset_number(str, len, &pos, &b, &sb) ==
			    -1) {
				*error_r = "Invalid sequence range";
				return -1;
			}
		}
		if (out != NULL) {
			if (sa || sb)
				out->star = true;
			if (sa)
				a = star;
			if (sb)
				b = star;
			if (a > b) {
				t = a;
				a = b;
				b = t;
			}
			/* With no messages, '*' matches nothing. */
			if (!((sa || sb) && star == 0)) {
				if (out->n > 0 && a <= prev_hi)
					sorted = false;
				imap_seqset_push(out, a, b);
				prev_hi = b;
			}
		}
		if (pos == len)
			break;
		if (str[pos] != ',') {
			*error_r = "Invalid sequence set";
			return -1;
		}
		pos++;
	}
	*sorted_r = sorted;
	return 0;
}

int
imap_seqset_parse(const char *str, size_t len, uint32_t star,
    size_t max_elements, struct imap_seqset **set_r, const char **error_r)
{
	struct imap_seqset	*s = imap_seqset_new();
	bool			 sorted;

	*set_r = NULL;
	if (imap_seqset_scan(str, len, star, max_elements, s, &sorted,
	    error_r) == -1) {
		imap_seqset_free(&s);
		return -1;
	}
	imap_seqset_normalize(s, sorted);
	*set_r = s;
	return 0;
}

bool
imap_seqset_valid(const char *str, size_t len)
{
	const char	*err;
	bool		 sorted;

	return imap_seqset_scan(str, len, UINT32_MAX,
	    IMAP_SEQSET_MAX_ELEMENTS, NULL, &sorted, &err) == 0;
}

/* Index of the first range with hi >= v (n if none). */
static size_t
imap_seqset_find(const struct imap_seqset *s, uint32_t v)
{
	size_t	 lo = 0, hi = s->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->r[mid].hi < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
imap_seqset_add(struct imap_seqset *s, uint32_t lo, uint32_t hi)
{
	struct imap_range	*last;
	size_t			 i;
	uint32_t		 t;

	if (lo > hi) {
		t = lo;
		lo = hi;
		hi = t;
	}
	if (s->n > 0) {
		last = &s->r[s->n - 1];
		if (lo >= last->lo && (lo <= last->hi ||
		    lo - 1 == last->hi)) {
			if (hi > last->hi)
				last->hi = hi;
			return;
		}
	}
	if (s->n == 0 || lo > s->r[s->n - 1].hi) {
		imap_seqset_push(s, lo, hi);
		return;
	}
	/* Out of order: insert at its place, then merge neighbours. */
	i = imap_seqset_find(s, lo);
	imap_seqset_push(s, 0, 0);
	memmove(&s->r[i + 1], &s->r[i], (s->n - 1 - i) * sizeof(*s->r));
	s->r[i].lo = lo;
	s->r[i].hi = hi;
	imap_seqset_normalize(s, true);
}

bool
imap_seqset_contains(const struct imap_seqset *s, uint32_t v)
{
	size_t	 i = imap_seqset_find(s, v);

	return i < s->n && s->r[i].lo <= v;
}

bool
imap_seqset_is_saved(const struct imap_seqset *s)
{
	return s->saved;
}

bool
imap_seqset_has_star(const struct imap_seqset *s)
{
	return s->star;
}

bool
imap_seqset_empty(const struct imap_seqset *s)
{
	return s->n == 0;
}

size_t
imap_seqset_nranges(const struct imap_seqset *s)
{
	return s->n;
}

uint64_t
imap_seqset_count(const struct imap_seqset *s)
{
	uint64_t	 total = 0;
	size_t		 i;

	for (i = 0; i < s->n; i++)
		total += (uint64_t)s->r[i].hi - s->r[i].lo + 1;
	return total;
}

uint32_t
imap_seqset_min(const struct imap_seqset *s)
{
	return s->n ? s->r[0].lo : 0;
}

uint32_t
imap_seqset_max(const struct imap_seqset *s)
{
	return s->n ? s->r[s->n - 1].hi : 0;
}

bool
imap_seqset_iter(const struct imap_seqset *s, size_t *idx, uint32_t *lo_r,
    uint32_t *hi_r)
{
	if (*idx >= s->n)
		return false;
	*lo_r = s->r[*idx].lo;
	*hi_r = s->r[*idx].hi;
	(*idx)++;
	return true;
}

int
imap_seqset_format(const struct imap_seqset *s, struct buf *out)
{
	size_t	 i, orig = out->len;
	int	 rc = 0;

	for (i = 0; i < s->n && rc == 0; i++) {
		if (s->r[i].lo == s->r[i].hi)
			rc = buf_printf(out, "%s%u", i ? "," : "",
			    s->r[i].lo);
		else
			rc = buf_printf(out, "%s%u:%u", i ? "," : "",
			    s->r[i].lo, s->r[i].hi);
	}
	if (rc == -1) {
		out->len = orig;
		if (out->data != NULL)
			out->data[orig] = '\0';
	}
	return rc;
}
