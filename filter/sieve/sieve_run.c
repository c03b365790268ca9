/*
 * sieve_run.c - the Sieve interpreter: runs a compiled script against one
 * message (raw bytes, envelope, spam score from struct sieve_msg_ctx) and
 * fills a struct sieve_result.  Tests: address, header, envelope, exists,
 * size, allof/anyof/not, true/false (RFC 5228 5), body (RFC 5173), string
 * (RFC 5229 5), hasflag (RFC 5232 4), spamtest (RFC 5235), mailboxexists
 * (RFC 5490 3.1).  Commands: control (RFC 5228 3), actions (RFC 5228 4,
 * RFC 5429, RFC 5230), set (RFC 5229 4) and the flag commands (RFC 5232 3).
 *
 * Owns the per-run state (variables, match variables, the parsed MIME
 * tree, a scratch list of strings freed at the end).  The script is only
 * read, so runs may go on in many threads at once [any].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime.h"
#include "sieve_private.h"
#include "xmalloc.h"

struct sieve_rt {
	const struct sieve_script *s;
	const struct sieve_msg_ctx *ctx;
	struct sieve_result *res;
	struct sieve_caps caps;
	char		*var_name[SIEVE_MAX_VARIABLES];
	char		*var_val[SIEVE_MAX_VARIABLES];
	size_t		 n_vars;
	char		*flags;		/* imap4flags internal variable */
	bool		 vars;		/* "variables" required */
	bool		 implicit_keep;
	bool		 stop;
	bool		 has_reject, has_vacation;
	const char	*error;		/* run-time error: stop and keep */
	struct mime_msg	*mime;
	char		**scratch;
	size_t		 n_scratch;
};

static char *
rt_keep(struct sieve_rt *rt, char *s)
{
	rt->scratch = xreallocarray(rt->scratch, rt->n_scratch + 1,
	    sizeof(*rt->scratch));
	rt->scratch[rt->n_scratch++] = s;
	return s;
}

/* Cut s to at most max bytes on a UTF-8 character boundary. */
static void
rt_truncate(char *s, size_t max)
{
	size_t	 len = strlen(s);

	if (len <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
}

static char **
rt_var_slot(struct sieve_rt *rt, const char *name, bool create)
{
	size_t	 i;

	for (i = 0; i < rt->n_vars; i++)
		if (strcasecmp(rt->var_name[i], name) == 0)
			return &rt->var_val[i];
	if (!create)
		return NULL;
	if (rt->n_vars >= SIEVE_MAX_VARIABLES) {
		rt->error = "too many variables";
		return NULL;
	}
	rt->var_name[rt->n_vars] = xstrdup(name);
	rt->var_val[rt->n_vars] = xstrdup("");
	return &rt->var_val[rt->n_vars++];
}

/*
 * Expand ${name} and ${N} (RFC 5229 3).  Names are case-insensitive;
 * an unknown variable is empty; a reference into a namespace we do not
 * know, or a malformed one, stays as written.  One pass, not recursive.
 */
static const char *
rt_str(struct sieve_rt *rt, const char *s)
{
	struct buf	 out;
	const char	*p, *q, *val;
	char		 name[128], **slot;
	size_t		 len, i;
	bool		 digits, ident;

	if (s == NULL || !rt->vars || strstr(s, "${") == NULL)
		return s;
	buf_init(&out, SIEVE_MAX_STRING);
	for (p = s; *p != '\0'; ) {
		if (p[0] != '$' || p[1] != '{' ||
		    (q = strchr(p + 2, '}')) == NULL) {
			buf_putc(&out, *p++);
			continue;
		}
		len = (size_t)(q - (p + 2));
		digits = len > 0;
		ident = len > 0;
		for (i = 0; i < len; i++) {
			char c = p[2 + i];

			if (c < '0' || c > '9')
				digits = false;
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    c == '_' || (i > 0 && c >= '0' && c <= '9')))
				ident = false;
		}
		if ((!digits && !ident) || len >= sizeof(name)) {
			buf_putc(&out, *p++);
			continue;
		}
		memcpy(name, p + 2, len);
		name[len] = '\0';
		val = "";
		if (digits) {
			i = len <= 2 ? (size_t)atoi(name) : SIEVE_MAX_MATCH_VARS;
			if (i < SIEVE_MAX_MATCH_VARS && rt->caps.v[i] != NULL)
				val = rt->caps.v[i];
		} else if ((slot = rt_var_slot(rt, name, false)) != NULL)
			val = *slot;
		buf_puts(&out, val);
		p = q + 1;
	}
	if (out.data == NULL)
		return "";
	return rt_keep(rt, buf_steal(&out, NULL));
}

/* Expand every string of a list; the array lives in the scratch list. */
static const char **
rt_list(struct sieve_rt *rt, const struct sieve_strlist *sl, size_t *n_r)
{
	const char	**v;
	size_t		 i;

	*n_r = sl != NULL ? sl->n : 0;
	v = xcalloc(*n_r + 1, sizeof(*v));
	rt_keep(rt, (char *)v);
	for (i = 0; i < *n_r; i++)
		v[i] = rt_str(rt, sl->v[i]);
	return v;
}

/* A growable list of values taken from the message. */
struct rt_vals {
	const char	**v;
	size_t		 n;
};

static void
rt_vals_add(struct sieve_rt *rt, struct rt_vals *vals, const char *s)
{
	if (vals->v == NULL) {
		vals->v = xcalloc(1, sizeof(*vals->v));
		rt_keep(rt, (char *)vals->v);
	} else {
		/* Re-register the grown array in place of the old one. */
		size_t i;

		for (i = rt->n_scratch; i > 0; i--)
			if (rt->scratch[i - 1] == (char *)vals->v)
				break;
		vals->v = xreallocarray(vals->v, vals->n + 1,
		    sizeof(*vals->v));
		rt->scratch[i - 1] = (char *)vals->v;
	}
	vals->v[vals->n++] = s;
}

/*
 * Header fields called name, in order; unfolded, and RFC 2047 decoded
 * when decode (RFC 5228 5.7 compares decoded header values).
 */
static void
rt_headers(struct sieve_rt *rt, const char *name, bool decode,
    struct rt_vals *vals)
{
	struct mime_header_iter	 it;
	struct mime_header_field f;
	struct buf		 b, d;

	if (rt->ctx->msg == NULL)
		return;
	mime_header_iter_init(&it, rt->ctx->msg, rt->ctx->msg_len);
	while (mime_header_iter_next(&it, &f)) {
		if (f.name_len != strlen(name) ||
		    strncasecmp(f.name, name, f.name_len) != 0)
			continue;
		buf_init(&b, 0);
		mime_header_unfold(f.value, f.value_len, &b);
		if (decode) {
			buf_init(&d, 0);
			mime_decode_2047(b.data != NULL ? b.data : "", b.len,
			    &d);
			buf_free(&b);
			b = d;
		}
		rt_vals_add(rt, vals, b.data != NULL ?
		    rt_keep(rt, buf_steal(&b, NULL)) : "");
	}
}

static void
rt_addr_part(struct sieve_rt *rt, enum sieve_addrpart ap, const char *local,
    const char *domain, struct rt_vals *vals)
{
	char		 delim = rt->ctx->delimiter != 0 ? rt->ctx->delimiter :
			    '+';
	const char	*d;

	if (local == NULL)
		local = "";
	switch (ap) {
	case SIEVE_AP_ALL:
		if (domain != NULL)
			rt_vals_add(rt, vals, rt_keep(rt,
			    xasprintf("%s@%s", local, domain)));
		else
			rt_vals_add(rt, vals, rt_keep(rt, xstrdup(local)));
		break;
	case SIEVE_AP_LOCALPART:
		rt_vals_add(rt, vals, rt_keep(rt, xstrdup(local)));
		break;
	case SIEVE_AP_DOMAIN:
		rt_vals_add(rt, vals, rt_keep(rt,
		    xstrdup(domain != NULL ? domain : "")));
		break;
	case SIEVE_AP_USER:
		d = strchr(local, delim);
		rt_vals_add(rt, vals, rt_keep(rt, d != NULL ?
		    xstrndup(local, (size_t)(d - local)) : xstrdup(local)));
		break;
	case SIEVE_AP_DETAIL:
		/* No separator: no detail, the address does not match. */
		if ((d = strchr(local, delim)) != NULL)
			rt_vals_add(rt, vals, rt_keep(rt, xstrdup(d + 1)));
		break;
	}
}

static void
rt_addresses(struct sieve_rt *rt, const struct sieve_node *n,
    struct rt_vals *vals)
{
	const char	**names;
	struct rt_vals	 raw = { NULL, 0 };
	struct mime_addr *list;
	size_t		 nn, i, j, na;

	names = rt_list(rt, n->list1, &nn);
	for (i = 0; i < nn; i++)
		rt_headers(rt, names[i], false, &raw);
	for (i = 0; i < raw.n; i++) {
		mime_addr_parse_list(raw.v[i], strlen(raw.v[i]), &list, &na);
		for (j = 0; j < na; j++)
			if (list[j].kind == MIME_ADDR_MAILBOX &&
			    list[j].mailbox != NULL)
				rt_addr_part(rt, n->ap, list[j].mailbox,
				    list[j].domain, vals);
		mime_addr_free_list(&list, na);
	}
}

/* Envelope "from" / "to" (RFC 5228 5.4); "<>" is the empty address. */
static void
rt_envelope(struct sieve_rt *rt, const struct sieve_node *n,
    struct rt_vals *vals)
{
	const char	**names, *path, *at;
	char		*p, *local;
	size_t		 nn, i, len;

	names = rt_list(rt, n->list1, &nn);
	for (i = 0; i < nn; i++) {
		if (strcasecmp(names[i], "from") == 0)
			path = rt->ctx->env_from;
		else if (strcasecmp(names[i], "to") == 0)
			path = rt->ctx->env_to;
		else
			continue;
		if (path == NULL)
			continue;
		len = strlen(path);
		if (len >= 2 && path[0] == '<' && path[len - 1] == '>')
			path++, len -= 2;
		p = rt_keep(rt, xstrndup(path, len));
		if (*p == '\0') {
			rt_vals_add(rt, vals, "");
			continue;
		}
		if ((at = strrchr(p, '@')) != NULL) {
			local = rt_keep(rt, xstrndup(p, (size_t)(at - p)));
			rt_addr_part(rt, n->ap, local, at + 1, vals);
		} else
			rt_addr_part(rt, n->ap, p, NULL, vals);
	}
}

/* Does the part's Content-Type match one :content item (RFC 5173 5.2)? */
static bool
rt_content_match(const struct mime_part *part, const char *spec)
{
	const char	*slash;
	size_t		 tl;

	if (*spec == '\0')
		return true;
	if ((slash = strchr(spec, '/')) == NULL)
		return strcasecmp(mime_part_type(part), spec) == 0;
	tl = (size_t)(slash - spec);
	return strlen(mime_part_type(part)) == tl &&
	    strncasecmp(mime_part_type(part), spec, tl) == 0 &&
	    strcasecmp(mime_part_subtype(part), slash + 1) == 0;
}

static void
rt_body_walk(struct sieve_rt *rt, const struct mime_part *part,
    const char **types, size_t nt, struct rt_vals *vals, unsigned int depth)
{
	const struct mime_part	*c;
	const char		*cs;
	struct buf		 dec, utf;
	uint64_t		 off, end;
	size_t			 i;
	bool			 want = false, text;

	if (depth > SIEVE_MAX_DEPTH)
		return;
	if (mime_part_is_multipart(part) || mime_part_is_message(part)) {
		for (c = mime_part_child(part); c != NULL; c = mime_part_next(c))
			rt_body_walk(rt, c, types, nt, vals, depth + 1);
		return;
	}
	text = strcasecmp(mime_part_type(part), "text") == 0;
	if (types == NULL)
		want = text;
	for (i = 0; types != NULL && i < nt && !want; i++)
		want = rt_content_match(part, types[i]);
	if (!want)
		return;
	off = mime_part_body_off(part);
	end = mime_part_end_off(part);
	if (end > rt->ctx->msg_len || off > end)
		return;
	buf_init(&dec, 0);
	mime_decode_cte(mime_part_cte(part), rt->ctx->msg + off,
	    (size_t)(end - off), &dec);
	if (text && (cs = mime_part_param(part, "charset")) != NULL &&
	    strcasecmp(cs, "utf-8") != 0 && strcasecmp(cs, "us-ascii") != 0) {
		buf_init(&utf, 0);
		mime_charset_to_utf8(cs, dec.data != NULL ? dec.data : "",
		    dec.len, &utf);
		buf_free(&dec);
		dec = utf;
	}
	rt_vals_add(rt, vals, dec.data != NULL ?
	    rt_keep(rt, buf_steal(&dec, NULL)) : "");
}

static void
rt_body(struct sieve_rt *rt, const struct sieve_node *n, struct rt_vals *vals)
{
	const struct mime_part	*root;
	const char		**types = NULL;
	uint64_t		 off, end;
	size_t			 nt = 0;

	if (rt->ctx->msg == NULL)
		return;
	if (rt->mime == NULL)
		rt->mime = mime_parse(rt->ctx->msg, rt->ctx->msg_len, NULL);
	root = mime_msg_root(rt->mime);
	if (n->xform == SIEVE_BODY_RAW) {
		off = mime_part_body_off(root);
		end = mime_part_end_off(root);
		if (end <= rt->ctx->msg_len && off <= end)
			rt_vals_add(rt, vals, rt_keep(rt, xstrndup(rt->ctx->msg +
			    off, (size_t)(end - off))));
		return;
	}
	if (n->xform == SIEVE_BODY_CONTENT)
		types = rt_list(rt, n->content, &nt);
	rt_body_walk(rt, root, types, nt, vals, 0);
}

/* Split a flag list on spaces, dropping duplicates (RFC 5232 3). */
static void
rt_flags_split(const char *s, char ***v_r, size_t *n_r)
{
	const char	*p = s, *q;
	size_t		 i, len;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (q = p; *q != '\0' && *q != ' '; q++)
			;
		len = (size_t)(q - p);
		for (i = 0; i < *n_r; i++)
			if (strlen((*v_r)[i]) == len &&
			    strncasecmp((*v_r)[i], p, len) == 0)
				break;
		if (i == *n_r) {
			*v_r = xreallocarray(*v_r, *n_r + 1, sizeof(**v_r));
			(*v_r)[(*n_r)++] = xstrndup(p, len);
		}
		p = q;
	}
}

static char *
rt_flags_join(char **v, size_t n)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 0);
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ' ');
		buf_puts(&b, v[i]);
	}
	return b.data != NULL ? buf_steal(&b, NULL) : xstrdup("");
}

static void
rt_strv_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* RFC 5229 2: comparisons of match keys against values. */
static bool
rt_match(struct sieve_rt *rt, const struct sieve_node *n,
    const char *const *vals, size_t nv, bool count_empty)
{
	const char	**keys;
	char		 num[32];
	size_t		 nk, i, j, cnt;
	struct sieve_caps *caps;
	int		 r;

	keys = rt_list(rt, n->list2, &nk);
	if (n->mt == SIEVE_MT_COUNT) {
		for (i = 0, cnt = 0; i < nv; i++)
			if (count_empty || vals[i][0] != '\0')
				cnt++;
		snprintf(num, sizeof(num), "%zu", cnt);
		for (j = 0; j < nk; j++)
			if (sieve_match_rel(n->cmp, n->rel, num, keys[j]))
				return true;
		return false;
	}
	caps = rt->vars ? &rt->caps : NULL;
	for (i = 0; i < nv; i++)
		for (j = 0; j < nk; j++) {
			switch (n->mt) {
			case SIEVE_MT_IS:
				if (sieve_match_is(n->cmp, vals[i], keys[j]))
					return true;
				break;
			case SIEVE_MT_CONTAINS:
				if (sieve_match_contains(n->cmp, vals[i],
				    keys[j]))
					return true;
				break;
			case SIEVE_MT_MATCHES:
				if (sieve_match_glob(n->cmp, keys[j], vals[i],
				    caps))
					return true;
				break;
			case SIEVE_MT_REGEX:
				r = sieve_match_regex(n->cmp, keys[j], vals[i],
				    caps, &rt->error);
				if (r == 1)
					return true;
				if (r == -1)
					return false;
				break;
			case SIEVE_MT_VALUE:
				if (sieve_match_rel(n->cmp, n->rel, vals[i],
				    keys[j]))
					return true;
				break;
			case SIEVE_MT_COUNT:
				break;
			}
		}
	return false;
}

/* The spamtest value (RFC 5235 3.1, 3.2) from the scanner's score. */
static const char *
rt_spam_value(struct sieve_rt *rt, bool percent)
{
	const struct sieve_msg_ctx *c = rt->ctx;
	double		 f;
	int		 v;

	if (!c->spam_tested)
		return "0";
	f = c->spam_max > 0 ? c->spam_score / c->spam_max : 0;
	if (f < 0)
		f = 0;
	if (f > 1)
		f = 1;
	if (percent)
		v = (int)(f * 100 + 0.5);
	else
		v = 1 + (int)(f * 9 + 0.5);	/* 1 = not spam, 10 = spam */
	return rt_keep(rt, xasprintf("%d", v));
}

static bool rt_test(struct sieve_rt *, const struct sieve_node *,
	    unsigned int);

static bool
rt_test_body(struct sieve_rt *rt, const struct sieve_node *n,
    unsigned int depth)
{
	struct rt_vals	 vals = { NULL, 0 };
	const char	**names, *s;
	char		**fl = NULL, **slot;
	size_t		 nn, i, nf = 0;
	uint64_t	 size;
	bool		 r;

	switch (n->op) {
	case SIEVE_OP_TRUE:
		return true;
	case SIEVE_OP_FALSE:
		return false;
	case SIEVE_OP_NOT:
		return !rt_test(rt, n->tests[0], depth + 1);
	case SIEVE_OP_ALLOF:
		for (i = 0; i < n->n_tests; i++)
			if (!rt_test(rt, n->tests[i], depth + 1))
				return false;
		return true;
	case SIEVE_OP_ANYOF:
		for (i = 0; i < n->n_tests; i++)
			if (rt_test(rt, n->tests[i], depth + 1))
				return true;
		return false;
	case SIEVE_OP_SIZE:
		size = rt->ctx->size != 0 ? rt->ctx->size : rt->ctx->msg_len;
		return n->over ? size > n->num : size < n->num;
	case SIEVE_OP_EXISTS:
		names = rt_list(rt, n->list1, &nn);
		for (i = 0; i < nn; i++) {
			vals.n = 0;
			rt_headers(rt, names[i], false, &vals);
			if (vals.n == 0)
				return false;
		}
		return true;
	case SIEVE_OP_HEADER:
		names = rt_list(rt, n->list1, &nn);
		for (i = 0; i < nn; i++)
			rt_headers(rt, names[i], true, &vals);
		return rt_match(rt, n, vals.v, vals.n, true);
	case SIEVE_OP_ADDRESS:
		rt_addresses(rt, n, &vals);
		return rt_match(rt, n, vals.v, vals.n, true);
	case SIEVE_OP_ENVELOPE:
		rt_envelope(rt, n, &vals);
		return rt_match(rt, n, vals.v, vals.n, true);
	case SIEVE_OP_BODY:
		rt_body(rt, n, &vals);
		return rt_match(rt, n, vals.v, vals.n, true);
	case SIEVE_OP_STRING:
		names = rt_list(rt, n->list1, &nn);
		/* RFC 5229 5: :count does not count empty strings. */
		return rt_match(rt, n, names, nn, false);
	case SIEVE_OP_HASFLAG:
		if (n->list1 == NULL) {
			rt_flags_split(rt->flags, &fl, &nf);
		} else {
			names = rt_list(rt, n->list1, &nn);
			for (i = 0; i < nn; i++)
				if ((slot = rt_var_slot(rt, names[i], false)) !=
				    NULL)
					rt_flags_split(*slot, &fl, &nf);
		}
		for (i = 0; i < nf; i++)
			rt_keep(rt, fl[i]);
		r = rt_match(rt, n, (const char *const *)fl, nf, true);
		free(fl);
		return r;
	case SIEVE_OP_SPAMTEST:
		s = rt_spam_value(rt, n->percent);
		return rt_match(rt, n, &s, 1, true);
	case SIEVE_OP_MAILBOXEXISTS:
		names = rt_list(rt, n->list1, &nn);
		for (i = 0; i < nn; i++)
			if (rt->ctx->mailbox_exists == NULL ||
			    !rt->ctx->mailbox_exists(rt->ctx->arg, names[i]))
				return false;
		return true;
	default:
		return false;
	}
}

static bool
rt_test(struct sieve_rt *rt, const struct sieve_node *n, unsigned int depth)
{
	bool	 r;

	if (rt->error != NULL || depth > SIEVE_MAX_DEPTH * 2)
		return false;
	r = rt_test_body(rt, n, depth);
	return rt->error != NULL ? false : r;
}

/* The flags for keep / fileinto: :flags, else the internal variable. */
static void
rt_action_flags(struct sieve_rt *rt, const struct sieve_node *n,
    struct sieve_action *a)
{
	const char	**v;
	size_t		 nv, i;

	if (n->has_flags) {
		v = rt_list(rt, n->flags, &nv);
		for (i = 0; i < nv; i++)
			rt_flags_split(v[i], &a->flags, &a->n_flags);
	} else if (SIEVE_HAS(rt->s, SIEVE_EXT_IMAP4FLAGS))
		rt_flags_split(rt->flags, &a->flags, &a->n_flags);
}

static void
rt_add(struct sieve_rt *rt, struct sieve_action *a)
{
	if (sieve_result_add(rt->res, a, &rt->error) == -1)
		return;
}

/* RFC 5228 4.2: redirect needs a syntactically valid address. */
static bool
rt_valid_address(const char *s)
{
	const char	*at = strrchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == '<' || *s == '>' ||
		    *s == ',' || *s == 0x7f)
			return false;
	return true;
}

static uint64_t
rt_fnv(uint64_t h, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= 0xff;
	h *= 0x100000001b3ULL;
	return h;
}

static void
rt_vacation(struct sieve_rt *rt, const struct sieve_node *n)
{
	struct sieve_action	 a;
	const char		**v;
	size_t			 nv, i;
	uint64_t		 h = 0xcbf29ce484222325ULL;

	/* RFC 5230 4.7 and RFC 5429 2.1: one vacation, never with reject. */
	if (rt->has_vacation || rt->has_reject) {
		rt->error = rt->has_vacation ? "more than one vacation" :
		    "vacation is incompatible with reject";
		return;
	}
	rt->has_vacation = true;
	memset(&a, 0, sizeof(a));
	a.kind = SIEVE_ACT_VACATION;
	a.text = xstrdup(rt_str(rt, n->str1));
	a.seconds = n->num;
	a.mime = n->mime;
	if (n->subject != NULL)
		a.subject = xstrdup(rt_str(rt, n->subject));
	if (n->from != NULL)
		a.from = xstrdup(rt_str(rt, n->from));
	if (n->addresses != NULL) {
		v = rt_list(rt, n->addresses, &nv);
		a.addresses = xcalloc(nv + 1, sizeof(*a.addresses));
		for (i = 0; i < nv; i++)
			a.addresses[i] = xstrdup(v[i]);
		a.n_addresses = nv;
	}
	if (n->handle != NULL)
		a.handle = xstrdup(rt_str(rt, n->handle));
	else {
		/* RFC 5230 4.2: the default handle follows the arguments. */
		h = rt_fnv(h, a.text);
		h = rt_fnv(h, a.subject);
		h = rt_fnv(h, a.from);
		h = rt_fnv(h, a.mime ? "mime" : "");
		a.handle = xasprintf("sieve-%016llx", (unsigned long long)h);
	}
	rt_add(rt, &a);
}

static void
rt_reject(struct sieve_rt *rt, const struct sieve_node *n)
{
	struct sieve_action	 a;

	if (rt->has_vacation || rt->has_reject) {
		rt->error = rt->has_reject ? "more than one reject" :
		    "reject is incompatible with vacation";
		return;
	}
	rt->has_reject = true;
	rt->implicit_keep = false;
	memset(&a, 0, sizeof(a));
	a.kind = n->op == SIEVE_OP_REJECT ? SIEVE_ACT_REJECT :
	    SIEVE_ACT_EREJECT;
	a.text = xstrdup(rt_str(rt, n->str1));
	rt_add(rt, &a);
}

static void
rt_flagcmd(struct sieve_rt *rt, const struct sieve_node *n)
{
	char		**cur = NULL, **add = NULL, **target, **keep;
	const char	**v;
	size_t		 ncur = 0, nadd = 0, nv, i, j, nk;

	if (n->str1 != NULL) {
		if ((target = rt_var_slot(rt, rt_str(rt, n->str1), true)) ==
		    NULL)
			return;
	} else
		target = &rt->flags;
	v = rt_list(rt, n->flags, &nv);
	for (i = 0; i < nv; i++)
		rt_flags_split(v[i], &add, &nadd);
	if (n->op != SIEVE_OP_SETFLAG)
		rt_flags_split(*target, &cur, &ncur);
	if (n->op == SIEVE_OP_REMOVEFLAG) {
		keep = NULL;
		nk = 0;
		for (i = 0; i < ncur; i++) {
			for (j = 0; j < nadd; j++)
				if (strcasecmp(cur[i], add[j]) == 0)
					break;
			if (j == nadd) {
				keep = xreallocarray(keep, nk + 1,
				    sizeof(*keep));
				keep[nk++] = cur[i];
			} else
				free(cur[i]);
		}
		free(cur);
		cur = keep;
		ncur = nk;
	} else {
		for (i = 0; i < nadd; i++) {
			for (j = 0; j < ncur; j++)
				if (strcasecmp(cur[j], add[i]) == 0)
					break;
			if (j < ncur)
				continue;
			cur = xreallocarray(cur, ncur + 1, sizeof(*cur));
			cur[ncur++] = xstrdup(add[i]);
		}
	}
	free(*target);
	*target = rt_flags_join(cur, ncur);
	rt_truncate(*target, SIEVE_MAX_VAR_LEN);
	rt_strv_free(cur, ncur);
	rt_strv_free(add, nadd);
}

/* set with modifiers, applied by precedence (RFC 5229 4.1). */
static void
rt_set(struct sieve_rt *rt, const struct sieve_node *n)
{
	const char	*val = rt_str(rt, n->str2), *p;
	char		**slot, *s;
	struct buf	 b;
	size_t		 i, len;

	if ((slot = rt_var_slot(rt, n->str1, true)) == NULL)
		return;
	s = xstrdup(val);
	for (i = 0; s[i] != '\0'; i++) {
		if ((n->mods & SIEVE_MOD_LOWER) && s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
		if ((n->mods & SIEVE_MOD_UPPER) && s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 'a' + 'A');
	}
	if ((n->mods & SIEVE_MOD_LOWERFIRST) && s[0] >= 'A' && s[0] <= 'Z')
		s[0] = (char)(s[0] - 'A' + 'a');
	if ((n->mods & SIEVE_MOD_UPPERFIRST) && s[0] >= 'a' && s[0] <= 'z')
		s[0] = (char)(s[0] - 'a' + 'A');
	if (n->mods & SIEVE_MOD_QUOTEWILDCARD) {
		buf_init(&b, 0);
		for (p = s; *p != '\0'; p++) {
			if (*p == '*' || *p == '?' || *p == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *p);
		}
		free(s);
		s = b.data != NULL ? buf_steal(&b, NULL) : xstrdup("");
	}
	if (n->mods & SIEVE_MOD_LENGTH) {
		/* Length in characters (UTF-8), not octets. */
		for (p = s, len = 0; *p != '\0'; p++)
			if (((unsigned char)*p & 0xc0) != 0x80)
				len++;
		free(s);
		s = xasprintf("%zu", len);
	}
	rt_truncate(s, SIEVE_MAX_VAR_LEN);
	free(*slot);
	*slot = s;
}

static void rt_block(struct sieve_rt *, struct sieve_node *const *, size_t,
	    unsigned int);

static void
rt_command(struct sieve_rt *rt, const struct sieve_node *n,
    unsigned int depth)
{
	struct sieve_action	 a;
	const char		*s;

	memset(&a, 0, sizeof(a));
	switch (n->op) {
	case SIEVE_OP_STOP:
		rt->stop = true;
		break;
	case SIEVE_OP_KEEP:
		a.kind = SIEVE_ACT_KEEP;
		rt_action_flags(rt, n, &a);
		rt->implicit_keep = false;
		rt_add(rt, &a);
		break;
	case SIEVE_OP_DISCARD:
		rt->implicit_keep = false;
		break;
	case SIEVE_OP_FILEINTO:
		a.kind = SIEVE_ACT_FILEINTO;
		s = rt_str(rt, n->str1);
		if (*s == '\0') {
			rt->error = "fileinto with an empty mailbox name";
			break;
		}
		a.target = xstrdup(s);
		a.copy = n->copy;
		a.create = n->create;
		rt_action_flags(rt, n, &a);
		if (!n->copy)
			rt->implicit_keep = false;
		rt_add(rt, &a);
		break;
	case SIEVE_OP_REDIRECT:
		s = rt_str(rt, n->str1);
		if (!rt_valid_address(s)) {
			rt->error = "redirect to an invalid address";
			break;
		}
		a.kind = SIEVE_ACT_REDIRECT;
		a.target = xstrdup(s);
		a.copy = n->copy;
		if (!n->copy)
			rt->implicit_keep = false;
		rt_add(rt, &a);
		break;
	case SIEVE_OP_REJECT:
	case SIEVE_OP_EREJECT:
		rt_reject(rt, n);
		break;
	case SIEVE_OP_VACATION:
		rt_vacation(rt, n);
		break;
	case SIEVE_OP_SETFLAG:
	case SIEVE_OP_ADDFLAG:
	case SIEVE_OP_REMOVEFLAG:
		rt_flagcmd(rt, n);
		break;
	case SIEVE_OP_SET:
		rt_set(rt, n);
		break;
	default:
		break;
	}
}

static void
rt_block(struct sieve_rt *rt, struct sieve_node *const *cmds, size_t n,
    unsigned int depth)
{
	const struct sieve_node	*c;
	size_t			 i;
	bool			 taken = false;

	for (i = 0; i < n && !rt->stop && rt->error == NULL; i++) {
		c = cmds[i];
		switch (c->op) {
		case SIEVE_OP_IF:
			taken = rt_test(rt, c->tests[0], 0);
			if (taken)
				rt_block(rt, c->block, c->n_block, depth + 1);
			break;
		case SIEVE_OP_ELSIF:
			if (taken)
				break;
			taken = rt_test(rt, c->tests[0], 0);
			if (taken)
				rt_block(rt, c->block, c->n_block, depth + 1);
			break;
		case SIEVE_OP_ELSE:
			if (!taken)
				rt_block(rt, c->block, c->n_block, depth + 1);
			taken = true;
			break;
		case SIEVE_OP_REQUIRE:
			break;
		default:
			rt_command(rt, c, depth);
			break;
		}
	}
}

int
sieve_run(const struct sieve_script *s, const struct sieve_msg_ctx *ctx,
    struct sieve_result **res_r)
{
	struct sieve_rt	 rt;
	char		**fl = NULL;
	size_t		 nf = 0, i;
	int		 rc = 0;

	memset(&rt, 0, sizeof(rt));
	rt.s = s;
	rt.ctx = ctx;
	rt.res = sieve_result_new();
	rt.vars = SIEVE_HAS(s, SIEVE_EXT_VARIABLES);
	rt.flags = xstrdup("");
	rt.implicit_keep = true;
	rt_block(&rt, s->cmds, s->n_cmds, 0);
	if (rt.error != NULL) {
		sieve_result_fail(rt.res, rt.error);
		rc = -1;
	} else {
		if (rt.implicit_keep && SIEVE_HAS(s, SIEVE_EXT_IMAP4FLAGS))
			rt_flags_split(rt.flags, &fl, &nf);
		sieve_result_finish(rt.res, rt.implicit_keep, fl, nf);
	}
	sieve_match_caps_clear(&rt.caps);
	for (i = 0; i < rt.n_vars; i++) {
		free(rt.var_name[i]);
		free(rt.var_val[i]);
	}
	for (i = 0; i < rt.n_scratch; i++)
		free(rt.scratch[i]);
	free(rt.scratch);
	free(rt.flags);
	mime_msg_free(&rt.mime);
	*res_r = rt.res;
	return rc;
}
