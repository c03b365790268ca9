/*
 * smtp_addr.h - parse and print SMTP envelope paths (RFC 5321 4.1.2).
 * Pure code: no I/O, no globals, no allocation.  [any]
 */
#ifndef SMTP_ADDR_H
#define SMTP_ADDR_H
#include <stdbool.h>
#include <stddef.h>

/* RFC 5321 4.5.3.1.1-3: octet limits (path counts its "<" and ">"). */
#define SMTP_ADDR_LOCAL_MAX	64
#define SMTP_ADDR_DOMAIN_MAX	255
#define SMTP_ADDR_PATH_MAX	256
/* Room for smtp_addr_format(): a mailbox is at most PATH_MAX - 2 octets. */
#define SMTP_ADDR_FMT_SIZE	(SMTP_ADDR_PATH_MAX - 2 + 1)

/* Parse flags (the "flags" argument of smtp_addr_parse()). */
#define SMTP_ADDR_UTF8		0x01	/* SMTPUTF8 given: RFC 6531 3.3 */
#define SMTP_ADDR_ALLOW_NULL	0x02	/* "<>" is fine (MAIL FROM) */
#define SMTP_ADDR_ALLOW_POSTMASTER 0x04	/* bare "<postmaster>" (RCPT TO) */
#define SMTP_ADDR_NEED_BRACKETS	0x08	/* input must be "<...>" */

/* Result flags (struct smtp_addr.flags). */
#define SMTP_ADDR_IS_NULL	0x01	/* the null path "<>" */
#define SMTP_ADDR_HAD_ROUTE	0x02	/* "@a,@b:" source route dropped */
#define SMTP_ADDR_IS_QUOTED	0x04	/* local part was a Quoted-string */
#define SMTP_ADDR_HAS_PERCENT	0x08	/* '%' or '!' in the local part */
#define SMTP_ADDR_IS_LITERAL	0x10	/* domain is [1.2.3.4] or [IPv6:..] */
#define SMTP_ADDR_POSTMASTER_BARE 0x20	/* "<postmaster>", no domain */
#define SMTP_ADDR_HAS_UTF8	0x40	/* non-ASCII octets anywhere */
#define SMTP_ADDR_IS_IPV6	0x80	/* the literal is IPv6 */

/* Why a parse failed, so callers can pick the reply code. */
enum smtp_addr_err {
	SMTP_ADDR_E_NONE = 0,
	SMTP_ADDR_E_SYNTAX,		/* 501 5.1.3 / 5.1.7 */
	SMTP_ADDR_E_TOO_LONG,		/* 501 "Path too long", 4.5.3.1.10 */
	SMTP_ADDR_E_UTF8,		/* 553 5.6.7, RFC 6531 3.5 */
	SMTP_ADDR_E_NULL,		/* "<>" where a mailbox is needed */
};

struct smtp_addr {
	unsigned		 flags;		/* SMTP_ADDR_IS_* etc. */
	enum smtp_addr_err	 err;		/* set when parse fails */
	char	 local_raw[SMTP_ADDR_LOCAL_MAX + 1];	/* as written */
	char	 local[SMTP_ADDR_LOCAL_MAX + 1];	/* unquoted */
	/* Lower-cased name, or the literal with brackets as written. */
	char	 domain[SMTP_ADDR_DOMAIN_MAX + 1];
};

/*
 * [any] Parse s[0..len) as a Path ("<...>", with an optional source
 * route) or, unless SMTP_ADDR_NEED_BRACKETS, as a bare Mailbox.  NUL
 * bytes are rejected, so s need not be terminated.  Returns 0, or -1
 * with *error_r (static text) and a_r->err set.
 */
int	 smtp_addr_parse(const char *s, size_t len, unsigned flags,
	    struct smtp_addr *a_r, const char **error_r);

/*
 * [any] Print the mailbox (no brackets; "" for the null path,
 * "postmaster" for the bare form) in canonical form: local part
 * unquoted when it is a Dot-string, else quoted with minimal escapes.
 * Returns the length, or -1 if size is too small (out is then "").
 */
int	 smtp_addr_format(const struct smtp_addr *, char *out, size_t size);

/*
 * [any] RFC 5321 Domain (LDH labels of 1-63 octets, total <= 255);
 * with utf8, labels may also hold valid UTF-8 (U-labels, RFC 6531 3.3).
 * Address literals are not domains here.
 */
bool	 smtp_addr_is_valid_domain(const char *s, size_t len, bool utf8);

/* [any] RFC 5321 4.1.3 address-literal, "[...]" included. */
bool	 smtp_addr_is_valid_literal(const char *s, size_t len, bool *ipv6_r);
#endif
