/*
 * sieve_result.c - the action list one run of a script produces.
 * Duplicate deliveries collapse (RFC 5228 4.1: fileinto the same mailbox
 * twice files once; keep and fileinto "INBOX" are the same delivery, with
 * their IMAP flags merged, RFC 5232 3), as do duplicate redirects
 * (RFC 5228 4.2).  Limits on the number of actions and redirects turn
 * into a run-time error, which leaves one keep (RFC 5228 2.10.6).
 *
 * Owns every string in its actions.  One result is used by one thread
 * at a time [any].
 */
#include <stdlib.h>
#include <string.h>

#include "sieve_private.h"
#include "xmalloc.h"

struct sieve_result {
	struct sieve_action *acts;
	size_t		 n;
	size_t		 n_redirects;
	bool		 implicit_keep;
	char		*error;
};

struct sieve_result *
sieve_result_new(void)
{
	return xcalloc(1, sizeof(struct sieve_result));
}

static void
sieve_strv_free(char ***v, size_t *n)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		free((*v)[i]);
	xfree(*v);
	*n = 0;
}

void
sieve_result_action_clear(struct sieve_action *a)
{
	free(a->target);
	free(a->text);
	free(a->subject);
	free(a->from);
	free(a->handle);
	sieve_strv_free(&a->flags, &a->n_flags);
	sieve_strv_free(&a->addresses, &a->n_addresses);
	memset(a, 0, sizeof(*a));
}

static bool
sieve_is_delivery(const struct sieve_action *a)
{
	return a->kind == SIEVE_ACT_KEEP || a->kind == SIEVE_ACT_FILEINTO;
}

static bool
sieve_same_mailbox(const char *a, const char *b)
{
	/* INBOX is case-insensitive (RFC 3501 5.1); other names are not. */
	if (strcasecmp(a, "INBOX") == 0)
		return strcasecmp(b, "INBOX") == 0;
	return strcmp(a, b) == 0;
}

static void
sieve_merge_flags(struct sieve_action *dst, struct sieve_action *src)
{
	size_t	 i, j;

	for (i = 0; i < src->n_flags; i++) {
		for (j = 0; j < dst->n_flags; j++)
			if (strcasecmp(dst->flags[j], src->flags[i]) == 0)
				break;
		if (j < dst->n_flags)
			continue;
		dst->flags = xreallocarray(dst->flags, dst->n_flags + 1,
		    sizeof(*dst->flags));
		dst->flags[dst->n_flags++] = src->flags[i];
		src->flags[i] = NULL;
	}
}

int
sieve_result_add(struct sieve_result *r, struct sieve_action *a,
    const char **error_r)
{
	struct sieve_action	*o;
	size_t			 i;

	if (a->kind == SIEVE_ACT_KEEP && a->target == NULL)
		a->target = xstrdup("INBOX");
	for (i = 0; i < r->n; i++) {
		o = &r->acts[i];
		if (sieve_is_delivery(a) && sieve_is_delivery(o) &&
		    sieve_same_mailbox(o->target, a->target)) {
			sieve_merge_flags(o, a);
			o->create |= a->create;
			if (a->kind == SIEVE_ACT_KEEP)
				o->kind = SIEVE_ACT_KEEP;
			sieve_result_action_clear(a);
			return 0;
		}
		if (a->kind == SIEVE_ACT_REDIRECT && o->kind == a->kind &&
		    strcasecmp(o->target, a->target) == 0) {
			sieve_result_action_clear(a);
			return 0;
		}
	}
	if (r->n >= SIEVE_MAX_ACTIONS) {
		sieve_result_action_clear(a);
		*error_r = "too many actions";
		return -1;
	}
	if (a->kind == SIEVE_ACT_REDIRECT &&
	    ++r->n_redirects > SIEVE_MAX_REDIRECTS) {
		sieve_result_action_clear(a);
		*error_r = "too many redirects";
		return -1;
	}
	r->acts = xreallocarray(r->acts, r->n + 1, sizeof(*r->acts));
	r->acts[r->n++] = *a;
	memset(a, 0, sizeof(*a));
	return 0;
}

static void
sieve_result_clear(struct sieve_result *r)
{
	size_t	 i;

	for (i = 0; i < r->n; i++)
		sieve_result_action_clear(&r->acts[i]);
	xfree(r->acts);
	r->n = 0;
	r->n_redirects = 0;
}

void
sieve_result_fail(struct sieve_result *r, const char *error)
{
	struct sieve_action	 a;
	const char		*e;

	sieve_result_clear(r);
	free(r->error);
	r->error = xstrdup(error);
	memset(&a, 0, sizeof(a));
	a.kind = SIEVE_ACT_KEEP;
	r->implicit_keep = true;
	sieve_result_add(r, &a, &e);
}

void
sieve_result_finish(struct sieve_result *r, bool implicit_keep,
    char **flags, size_t n_flags)
{
	struct sieve_action	 a;
	const char		*e;
	size_t			 i;

	memset(&a, 0, sizeof(a));
	r->implicit_keep = implicit_keep;
	if (implicit_keep) {
		a.kind = SIEVE_ACT_KEEP;
		a.flags = flags;
		a.n_flags = n_flags;
		/* Collapsing never exceeds the limit: keep may merge. */
		if (sieve_result_add(r, &a, &e) == -1) {
			sieve_result_fail(r, e);
		}
		return;
	}
	sieve_strv_free(&flags, &n_flags);
	for (i = 0; i < r->n; i++)
		if (r->acts[i].kind != SIEVE_ACT_VACATION)
			return;
	a.kind = SIEVE_ACT_DISCARD;
	r->acts = xreallocarray(r->acts, r->n + 1, sizeof(*r->acts));
	r->acts[r->n++] = a;
}

size_t
sieve_result_count(const struct sieve_result *r)
{
	return r->n;
}

const struct sieve_action *
sieve_result_action(const struct sieve_result *r, size_t i)
{
	return i < r->n ? &r->acts[i] : NULL;
}

const char *
sieve_result_error(const struct sieve_result *r)
{
	return r->error;
}

bool
sieve_result_implicit_keep(const struct sieve_result *r)
{
	return r->implicit_keep;
}

void
sieve_result_free(struct sieve_result **rp)
{
	struct sieve_result	*r = *rp;

	if (r == NULL)
		return;
	sieve_result_clear(r);
	free(r->error);
	free(r);
	*rp = NULL;
}
