/*
 * spf_record.c - parse one SPF record (RFC 7208 4.5, 4.6, 5, 6 and the
 * ABNF of 12) into terms: the mechanisms all, include, a, mx, ptr, ip4,
 * ip6, exists with their dual-cidr-length, and the modifiers redirect= and
 * exp=.  Unknown modifiers are checked for syntax and dropped (6); a
 * second redirect= or exp= is a syntax error (6).  Any syntax error
 * anywhere makes the whole record a permerror (4.6), so the record is
 * parsed completely before it is evaluated.  Owns the struct spf_record it
 * returns.  Pure: no I/O, no globals.  [any]
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "spf_private.h"

#define SPF_TERMS_MAX	256	/* a 450-byte TXT cannot hold more anyway */

bool
spf_record_is_spf(const char *txt)
{
	/* 4.5: "v=spf1" then SP or the end; ABNF literals ignore case. */
	return strncasecmp(txt, "v=spf1", 6) == 0 &&
	    (txt[6] == ' ' || txt[6] == '\0');
}

/* toplabel (12): alphanumerics with one ALPHA, or inner hyphens. */
static bool
spf_record_toplabel(const char *s, size_t n)
{
	size_t	 i;
	bool	 alpha = false, hyphen = false;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalpha(c))
			alpha = true;
		else if (c == '-')
			hyphen = true;
		else if (!isdigit(c))
			return false;
	}
	if (hyphen)
		return s[0] != '-' && s[n - 1] != '-';
	return alpha;
}

/*
 * domain-spec = macro-string domain-end;
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand.
 */
static int
spf_record_domain_spec(const char *s, const char **error_r)
{
	size_t	 n = strlen(s), end, dot;
	char	*exp;

	if (n == 0) {
		*error_r = "empty domain-spec";
		return -1;
	}
	if (spf_macro_expand(s, NULL, 0, &exp, error_r) == -1)
		return -1;
	free(exp);
	/* Ends in a macro-expand: "}" of %{..}, or %% %_ %-. */
	if (s[n - 1] == '}')
		return 0;
	if (n >= 2 && s[n - 2] == '%' && strchr("%_-", s[n - 1]) != NULL) {
		/* Make sure that '%' is not itself the second of "%%". */
		size_t	 k = 0;

		while (k < n - 1 && s[n - 2 - k] == '%')
			k++;
		if (k % 2 == 1)
			return 0;
	}
	end = n;
	if (s[end - 1] == '.')
		end--;
	for (dot = end; dot > 0 && s[dot - 1] != '.'; dot--)
		;
	if (dot == 0 || !spf_record_toplabel(s + dot, end - dot)) {
		*error_r = "domain-spec does not end in a valid top label";
		return -1;
	}
	return 0;
}

/* "/" followed by 0 or a number without leading zeros, at most max. */
static int
spf_record_cidr(const char *s, size_t n, int max)
{
	int	 v = 0;
	size_t	 i;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > max ? -1 : v;
}

/* Split a trailing dual-cidr-length off arg (a, mx): "/24", "//64". */
static int
spf_record_dual_cidr(char *arg, struct spf_term *t)
{
	char	*p, *q;
	size_t	 n = strlen(arg);

	/* ip6-cidr-length: "//" digits at the end. */
	for (p = arg + n; p > arg && isdigit((unsigned char)p[-1]); p--)
		;
	if (p - arg >= 2 && p[-1] == '/' && p[-2] == '/' && *p != '\0') {
		if ((t->cidr6 = spf_record_cidr(p, strlen(p), 128)) == -1)
			return -1;
		p[-2] = '\0';
		n = strlen(arg);
	}
	for (q = arg + n; q > arg && isdigit((unsigned char)q[-1]); q--)
		;
	if (q > arg && q[-1] == '/' && *q != '\0') {
		if ((t->cidr4 = spf_record_cidr(q, strlen(q), 32)) == -1)
			return -1;
		q[-1] = '\0';
	}
	return 0;
}

/* qnum "." qnum "." qnum "." qnum, no leading zeros (12). */
static int
spf_record_ip4(const char *s, uint8_t *a)
{
	int	 i, v, nd;

	for (i = 0; i < 4; i++) {
		v = 0;
		for (nd = 0; isdigit((unsigned char)s[nd]); nd++)
			v = v * 10 + (s[nd] - '0');
		if (nd == 0 || nd > 3 || v > 255 || (nd > 1 && s[0] == '0'))
			return -1;
		a[i] = (uint8_t)v;
		s += nd;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	return *s == '\0' ? 0 : -1;
}

static int
spf_record_mech(struct spf_term *t, const char *term, const char **error_r)
{
	static const struct {
		const char	*name;
		enum spf_mech	 mech;
	} mechs[] = {
		{ "all", SPF_M_ALL }, { "include", SPF_M_INCLUDE },
		{ "a", SPF_M_A }, { "mx", SPF_M_MX }, { "ptr", SPF_M_PTR },
		{ "ip4", SPF_M_IP4 }, { "ip6", SPF_M_IP6 },
		{ "exists", SPF_M_EXISTS },
	};
	const char	*s = term;
	char		*arg = NULL, *slash;
	size_t		 n, i;
	bool		 colon;

	t->qual = SPF_PASS;
	switch (*s) {
	case '+': t->qual = SPF_PASS; s++; break;
	case '-': t->qual = SPF_FAIL; s++; break;
	case '~': t->qual = SPF_SOFTFAIL; s++; break;
	case '?': t->qual = SPF_NEUTRAL; s++; break;
	}
	n = strcspn(s, ":/");
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strlen(mechs[i].name) == n &&
		    strncasecmp(s, mechs[i].name, n) == 0)
			break;
	if (i == sizeof(mechs) / sizeof(mechs[0])) {
		*error_r = "unknown mechanism";
		return -1;
	}
	t->mech = mechs[i].mech;
	t->cidr4 = 32;
	t->cidr6 = 128;
	s += n;
	colon = *s == ':';
	arg = xstrdup(colon ? s + 1 : s);
	switch (t->mech) {
	case SPF_M_ALL:
		if (*s != '\0')
			goto bad;
		break;
	case SPF_M_INCLUDE:
	case SPF_M_EXISTS:
		if (!colon || spf_record_domain_spec(arg, error_r) == -1)
			goto bad;
		t->domain = arg;
		arg = NULL;
		break;
	case SPF_M_PTR:
		if (!colon && *s != '\0')
			goto bad;
		if (colon) {
			if (spf_record_domain_spec(arg, error_r) == -1)
				goto bad;
			t->domain = arg;
			arg = NULL;
		}
		break;
	case SPF_M_A:
	case SPF_M_MX:
		if (spf_record_dual_cidr(arg, t) == -1) {
			*error_r = "invalid CIDR length";
			goto bad;
		}
		if (colon) {
			if (spf_record_domain_spec(arg, error_r) == -1)
				goto bad;
			t->domain = arg;
			arg = NULL;
		} else if (*arg != '\0')
			goto bad;
		break;
	case SPF_M_IP4:
	case SPF_M_IP6:
		if (!colon)
			goto bad;
		if ((slash = strchr(arg, '/')) != NULL) {
			int	 v;

			v = spf_record_cidr(slash + 1, strlen(slash + 1),
			    t->mech == SPF_M_IP4 ? 32 : 128);
			if (v == -1) {
				*error_r = "invalid CIDR length";
				goto bad;
			}
			if (t->mech == SPF_M_IP4)
				t->cidr4 = v;
			else
				t->cidr6 = v;
			*slash = '\0';
		}
		if (t->mech == SPF_M_IP4) {
			if (spf_record_ip4(arg, t->net.a) == -1) {
				*error_r = "invalid ip4 address";
				goto bad;
			}
		} else {
			/* ip6-network is RFC 4291 2.2 text, which is all
			 * inet_pton() takes; it also rejects "::ffff:..."
			 * scope ids and other junk. */
			if (strchr(arg, ':') == NULL ||
			    inet_pton(AF_INET6, arg, t->net.a) != 1) {
				*error_r = "invalid ip6 address";
				goto bad;
			}
			t->net.v6 = 1;
		}
		break;
	}
	free(arg);
	return 0;
bad:
	if (*error_r == NULL)
		*error_r = "malformed mechanism";
	free(arg);
	return -1;
}

static int
spf_record_term(struct spf_record *rec, const char *term,
    const char **error_r)
{
	struct spf_term	*t;
	const char	*s = term;
	char		**slot;

	/* modifier: name "=" ...; name = ALPHA *( ALPHA / DIGIT / - _ . ) */
	if (isalpha((unsigned char)*s)) {
		s++;
		while (isalnum((unsigned char)*s) || *s == '-' || *s == '_' ||
		    *s == '.')
			s++;
		if (*s == '=') {
			size_t	 n = (size_t)(s - term);
			char	*exp;

			s++;
			slot = NULL;
			if (n == 8 && strncasecmp(term, "redirect", 8) == 0)
				slot = &rec->redirect;
			else if (n == 3 && strncasecmp(term, "exp", 3) == 0)
				slot = &rec->exp;
			if (slot == NULL) {
				/* unknown-modifier = name "=" macro-string */
				if (spf_macro_expand(s, NULL, 0, &exp,
				    error_r) == -1)
					return -1;
				free(exp);
				return 0;
			}
			if (*slot != NULL) {
				*error_r = "duplicate redirect= or exp=";
				return -1;
			}
			if (spf_record_domain_spec(s, error_r) == -1)
				return -1;
			*slot = xstrdup(s);
			return 0;
		}
	}
	if (rec->nterms == SPF_TERMS_MAX) {
		*error_r = "too many terms";
		return -1;
	}
	rec->terms = xreallocarray(rec->terms, rec->nterms + 1,
	    sizeof(*rec->terms));
	t = &rec->terms[rec->nterms];
	memset(t, 0, sizeof(*t));
	if (spf_record_mech(t, term, error_r) == -1) {
		free(t->domain);
		return -1;
	}
	t->text = xstrdup(term);
	rec->nterms++;
	return 0;
}

int
spf_record_parse(const char *txt, struct spf_record **rec_r,
    const char **error_r)
{
	struct spf_record	*rec;
	const char		*s, *e;
	char			*term;
	int			 rc;

	*rec_r = NULL;
	*error_r = NULL;
	if (!spf_record_is_spf(txt)) {
		*error_r = "not an SPF record";
		return -1;
	}
	/* 3.1: records are 7-bit ASCII; terms are separated by SP only. */
	for (s = txt; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) {
			*error_r = "non-ASCII or control character in record";
			return -1;
		}
	}
	rec = xcalloc(1, sizeof(*rec));
	for (s = txt + 6; *s != '\0'; s = e) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		e = s + strcspn(s, " ");
		term = xstrndup(s, (size_t)(e - s));
		rc = spf_record_term(rec, term, error_r);
		free(term);
		if (rc == -1) {
			spf_record_free(&rec);
			return -1;
		}
	}
	*rec_r = rec;
	return 0;
}

size_t
spf_record_nterms(const struct spf_record *rec)
{
	return rec->nterms;
}

void
spf_record_free(struct spf_record **recp)
{
	struct spf_record	*rec = *recp;
	size_t			 i;

	if (rec == NULL)
		return;
	for (i = 0; i < rec->nterms; i++) {
		free(rec->terms[i].domain);
		free(rec->terms[i].text);
	}
	free(rec->terms);
	free(rec->redirect);
	free(rec->exp);
	free(rec);
	*recp = NULL;
}
