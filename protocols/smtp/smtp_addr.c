/*
 * smtp_addr.c - the RFC 5321 4.1.2 Path / Mailbox grammar.
 *
 * Parses what a client writes between "MAIL FROM:" / "RCPT TO:" and the
 * parameters: "<>", "<user@example.org>", "<\"odd user\"@[192.0.2.1]>",
 * "<@relay1,@relay2:user@example.org>" (a source route, Appendix C: parsed,
 * dropped and flagged) and, for RCPT, the bare "<postmaster>" of 4.5.1.
 * The result lives in a caller-owned struct smtp_addr of fixed size; this
 * file owns nothing.  Pure code, no I/O, no globals: [any] thread.
 *
 * We are strict on purpose: no spaces, no control characters, no comments,
 * no RFC 5322 obs- forms.  Everything the router later acts on (the
 * unquoted local part, the lower-cased domain) is produced here, and the
 * flags tell it about the forms it must treat with care ('%' and '!'
 * routing, literals, source routes).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "smtp_addr.h"

/* RFC 5322 3.2.3 atext, without the UTF-8 extension. */
static bool
smtp_addr_is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 5321 4.1.2 qtextSMTP: %d32-33 / %d35-91 / %d93-126. */
static bool
smtp_addr_is_qtext(unsigned char c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF.  Our own copy so that this file depends on nothing.
 */
static bool
smtp_addr_utf8_valid(const unsigned char *s, size_t len)
{
	size_t		 i = 0, n, k;
	unsigned	 c, min;

	while (i < len) {
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			c &= 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			c &= 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			c &= 0x07;
			min = 0x10000;
		} else
			return false;
		if (n > len - i - 1)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (s[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool
smtp_addr_is_letdig(unsigned char c, bool utf8)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (utf8 && c >= 0x80);
}

bool
smtp_addr_is_valid_domain(const char *s, size_t len, bool utf8)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, label = 0;

	if (len == 0 || len > SMTP_ADDR_DOMAIN_MAX)
		return false;
	if (utf8 && !smtp_addr_utf8_valid(p, len))
		return false;
	for (i = 0; i < len; i++) {
		if (p[i] == '.') {
			/* Empty label, or one ending in '-'. */
			if (label == 0 || p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (p[i] == '-') {
			if (label == 0)
				return false;
		} else if (!smtp_addr_is_letdig(p[i], utf8))
			return false;
		if (++label > 63)		/* RFC 1035 2.3.4 */
			return false;
	}
	return label != 0 && p[len - 1] != '-';
}

/* RFC 5321 4.1.3 IPv4-address-literal body: Snum 3("." Snum). */
static bool
smtp_addr_is_ipv4(const char *s, size_t len)
{
	size_t		 i, digits = 0, dots = 0;
	unsigned	 v = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (digits == 0 || ++dots > 3)
				return false;
			digits = 0;
			v = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || ++digits > 3)
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > 255)
			return false;
	}
	return dots == 3 && digits != 0;
}

bool
smtp_addr_is_valid_literal(const char *s, size_t len, bool *ipv6_r)
{
	char		 tmp[64];
	unsigned char	 bin[16];
	size_t		 i;

	*ipv6_r = false;
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return false;
	s++;
	len -= 2;
	if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		len -= 5;
		if (len >= sizeof(tmp))
			return false;
		for (i = 0; i < len; i++)
			if (strchr("0123456789abcdefABCDEF:.", s[i]) == NULL ||
			    s[i] == '\0')
				return false;
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET6, tmp, bin) != 1)
			return false;
		*ipv6_r = true;
		return true;
	}
	/*
	 * General-address-literal needs an IANA-registered tag and only
	 * "IPv6" is registered, so anything else with a ':' is refused.
	 */
	return smtp_addr_is_ipv4(s, len);
}

static int
smtp_addr_fail(struct smtp_addr *a, enum smtp_addr_err e, const char *msg,
    const char **error_r)
{
	memset(a, 0, sizeof(*a));
	a->err = e;
	*error_r = msg;
	return -1;
}

/*
 * Parse the local part at s[0..len) up to the '@'.  Sets *used_r to the
 * octets taken (the '@' is not included).
 */
static int
smtp_addr_local(const char *s, size_t len, bool utf8, struct smtp_addr *a,
    size_t *used_r, const char **error_r)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, o = 0;
	bool			 dot_ok = false;

	if (len == 0 || p[0] == '@')
		return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
		    "empty local part", error_r);
	if (p[0] == '"') {
		for (i = 1; i < len && p[i] != '"'; i++) {
			if (p[i] == '\\') {
				/* quoted-pairSMTP = %d92 %d32-126 */
				if (++i == len || p[i] < 32 || p[i] > 126)
					return smtp_addr_fail(a,
					    SMTP_ADDR_E_SYNTAX,
					    "bad quoted pair", error_r);
			} else if (!smtp_addr_is_qtext(p[i]) &&
			    !(utf8 && p[i] >= 0x80))
				return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
				    "bad character in quoted local part",
				    error_r);
			if (o >= SMTP_ADDR_LOCAL_MAX)
				return smtp_addr_fail(a, SMTP_ADDR_E_TOO_LONG,
				    "local part too long", error_r);
			a->local[o++] = (char)p[i];
		}
		if (i == len)
			return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
			    "unbalanced quotes", error_r);
		i++;			/* closing quote */
		if (o == 0)
			return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
			    "empty local part", error_r);
		a->flags |= SMTP_ADDR_IS_QUOTED;
	} else {
		/* Dot-string = Atom *("."  Atom) */
		for (i = 0; i < len && p[i] != '@'; i++) {
			if (p[i] == '.') {
				if (!dot_ok)
					return smtp_addr_fail(a,
					    SMTP_ADDR_E_SYNTAX,
					    "misplaced dot in local part",
					    error_r);
				dot_ok = false;
			} else if (smtp_addr_is_atext(p[i]) ||
			    (utf8 && p[i] >= 0x80))
				dot_ok = true;
			else
				return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
				    p[i] == '"' ? "unbalanced quotes" :
				    "bad character in local part", error_r);
			if (o >= SMTP_ADDR_LOCAL_MAX)
				return smtp_addr_fail(a, SMTP_ADDR_E_TOO_LONG,
				    "local part too long", error_r);
			a->local[o++] = (char)p[i];
		}
		if (!dot_ok)
			return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
			    "misplaced dot in local part", error_r);
	}
	/* RFC 5321 4.5.3.1.1: 64 octets, counted as written. */
	if (i > SMTP_ADDR_LOCAL_MAX)
		return smtp_addr_fail(a, SMTP_ADDR_E_TOO_LONG,
		    "local part too long", error_r);
	memcpy(a->local_raw, s, i);
	a->local_raw[i] = '\0';
	a->local[o] = '\0';
	if (strpbrk(a->local, "%!@") != NULL)
		a->flags |= SMTP_ADDR_HAS_PERCENT;
	*used_r = i;
	return 0;
}

/* Parse and store the domain part s[0..len) (after the '@'). */
static int
smtp_addr_domain(const char *s, size_t len, bool utf8, struct smtp_addr *a,
    const char **error_r)
{
	size_t	 i;
	bool	 v6;

	if (len > SMTP_ADDR_DOMAIN_MAX)
		return smtp_addr_fail(a, SMTP_ADDR_E_TOO_LONG,
		    "domain too long", error_r);
	if (len > 0 && s[0] == '[') {
		if (!smtp_addr_is_valid_literal(s, len, &v6))
			return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
			    "bad address literal", error_r);
		a->flags |= SMTP_ADDR_IS_LITERAL | (v6 ? SMTP_ADDR_IS_IPV6 : 0);
		memcpy(a->domain, s, len);
		a->domain[len] = '\0';
		return 0;
	}
	if (!smtp_addr_is_valid_domain(s, len, utf8))
		return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
		    len == 0 ? "missing domain" : "bad domain", error_r);
	for (i = 0; i < len; i++)
		a->domain[i] = (s[i] >= 'A' && s[i] <= 'Z') ?
		    (char)(s[i] - 'A' + 'a') : s[i];
	a->domain[len] = '\0';
	return 0;
}

/*
 * RFC 5321 4.1.2 A-d-l = At-domain *( "," At-domain ), ends with ':'.
 * Appendix C: "Servers SHOULD ... ignore the route"; we parse it so junk
 * is still refused, then drop it.
 */
static int
smtp_addr_route(const char *s, size_t len, bool utf8, struct smtp_addr *a,
    size_t *used_r, const char **error_r)
{
	size_t	 i = 0, start;

	for (;;) {
		if (i == len || s[i] != '@')
			return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
			    "bad source route", error_r);
		start = ++i;
		while (i < len && s[i] != ',' && s[i] != ':')
			i++;
		if (i == len || !smtp_addr_is_valid_domain(s + start,
		    i - start, utf8))
			return smtp_addr_fail(a, SMTP_ADDR_E_SYNTAX,
			    "bad source route", error_r);
		if (s[i++] == ':')
			break;
	}
	a->flags |= SMTP_ADDR_HAD_ROUTE;
	*used_r = i;
	return 0;
}

int
smtp_addr_parse(const char *s, size_t len, unsigned flags,
    struct smtp_addr *a_r, const char **error_r)
{
	const unsigned char	*p;
	size_t			 i, used, plen;
	bool			 bracket, utf8 = (flags & SMTP_ADDR_UTF8) != 0;
	bool			 high = false;

	memset(a_r, 0, sizeof(*a_r));
	*error_r = NULL;
	bracket = len > 0 && s[0] == '<';
	if (bracket) {
		if (len < 2 || s[len - 1] != '>')
			return smtp_addr_fail(a_r, SMTP_ADDR_E_SYNTAX,
			    "unbalanced angle brackets", error_r);
		plen = len;
		s++;
		len -= 2;
	} else {
		if (flags & SMTP_ADDR_NEED_BRACKETS)
			return smtp_addr_fail(a_r, SMTP_ADDR_E_SYNTAX,
			    "missing angle brackets", error_r);
		if (len > SMTP_ADDR_PATH_MAX)
			return smtp_addr_fail(a_r, SMTP_ADDR_E_TOO_LONG,
			    "path too long", error_r);
		plen = len + 2;
	}
	/* RFC 5321 4.5.3.1.3: 256 octets including the punctuation. */
	if (plen > SMTP_ADDR_PATH_MAX)
		return smtp_addr_fail(a_r, SMTP_ADDR_E_TOO_LONG,
		    "path too long", error_r);

	p = (const unsigned char *)s;
	for (i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return smtp_addr_fail(a_r, SMTP_ADDR_E_SYNTAX,
			    "control character in address", error_r);
		if (p[i] >= 0x80)
			high = true;
	}
	if (high) {
		if (!utf8)
			return smtp_addr_fail(a_r, SMTP_ADDR_E_UTF8,
			    "non-ASCII address without SMTPUTF8", error_r);
		if (!smtp_addr_utf8_valid(p, len))
			return smtp_addr_fail(a_r, SMTP_ADDR_E_SYNTAX,
			    "invalid UTF-8 in address", error_r);
	}

	if (len == 0) {
		if (!bracket)
			return smtp_addr_fail(a_r, SMTP_ADDR_E_SYNTAX,
			    "empty address", error_r);
		if ((flags & SMTP_ADDR_ALLOW_NULL) == 0)
			return smtp_addr_fail(a_r, SMTP_ADDR_E_NULL,
			    "null path not allowed here", error_r);
		a_r->flags = SMTP_ADDR_IS_NULL;
		return 0;
	}

	if (s[0] == '@') {
		if (!bracket)
			return smtp_addr_fail(a_r, SMTP_ADDR_E_SYNTAX,
			    "source route outside angle brackets", error_r);
		if (smtp_addr_route(s, len, utf8, a_r, &used, error_r) == -1)
			return -1;
		s += used;
		len -= used;
	}

	/* RFC 5321 4.5.1: "Postmaster" with no domain, case-insensitive. */
	if ((flags & SMTP_ADDR_ALLOW_POSTMASTER) && len == 10 &&
	    (a_r->flags & SMTP_ADDR_HAD_ROUTE) == 0 &&
	    strncasecmp(s, "postmaster", 10) == 0) {
		memcpy(a_r->local_raw, s, 10);
		memcpy(a_r->local, "postmaster", 10);
		a_r->flags |= SMTP_ADDR_POSTMASTER_BARE;
		return 0;
	}

	if (smtp_addr_local(s, len, utf8, a_r, &used, error_r) == -1)
		return -1;
	if (used == len || s[used] != '@')
		return smtp_addr_fail(a_r, SMTP_ADDR_E_SYNTAX,
		    used == len ? "missing domain" : "junk after local part",
		    error_r);
	used++;
	if (smtp_addr_domain(s + used, len - used, utf8, a_r, error_r) == -1)
		return -1;
	/* The flag describes the mailbox we keep, not a dropped route. */
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			a_r->flags |= SMTP_ADDR_HAS_UTF8;
	return 0;
}

/* Is the unquoted local part printable as a Dot-string? */
static bool
smtp_addr_is_dot_string(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	bool			 dot_ok = false;

	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (!dot_ok)
				return false;
			dot_ok = false;
		} else if (smtp_addr_is_atext(*p) || *p >= 0x80)
			dot_ok = true;
		else
			return false;
	}
	return dot_ok;
}

int
smtp_addr_format(const struct smtp_addr *a, char *out, size_t size)
{
	const char	*l;
	size_t		 o = 0, n;
	bool		 quote;

	if (size == 0)
		return -1;
	out[0] = '\0';
	if (a->flags & SMTP_ADDR_IS_NULL)
		return 0;
	quote = !smtp_addr_is_dot_string(a->local) &&
	    (a->flags & SMTP_ADDR_POSTMASTER_BARE) == 0;
	if (quote) {
		if (size < 3)
			goto small;
		out[o++] = '"';
	}
	for (l = a->local; *l != '\0'; l++) {
		/* Room for an escape, this octet and the closing quote. */
		if (size - o < 4)
			goto small;
		if (quote && (*l == '"' || *l == '\\'))
			out[o++] = '\\';
		out[o++] = *l;
	}
	if (quote) {
		if (size - o < 2)
			goto small;
		out[o++] = '"';
	}
	if ((a->flags & SMTP_ADDR_POSTMASTER_BARE) == 0) {
		n = strlen(a->domain);
		if (size - o < n + 2)
			goto small;
		out[o++] = '@';
		memcpy(out + o, a->domain, n);
		o += n;
	}
	if (o >= size)
		goto small;
	out[o] = '\0';
	return (int)o;
small:
	out[0] = '\0';
	return -1;
}
