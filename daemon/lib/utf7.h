/*
 * utf7.h - IMAP modified UTF-7 mailbox names (RFC 3501 5.1.3) <-> UTF-8.
 * Used by the IMAP protocol (names on the wire without UTF8=ACCEPT) and
 * by the Maildir store (names on disk, as Dovecot writes them).  Pure.  [any]
 */
#ifndef UTF7_H
#define UTF7_H
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Decode modified UTF-7 to UTF-8, appending to out; -1 on invalid input. */
int	 utf7_decode(const char *in, size_t len, struct buf *out);
/* Encode UTF-8 to modified UTF-7, appending to out; -1 on invalid UTF-8. */
int	 utf7_encode(const char *in, size_t len, struct buf *out);
/* True if in is well-formed modified UTF-7 (canonical form only). */
bool	 utf7_valid(const char *in, size_t len);
/* True if in is well-formed UTF-8 with no overlongs or surrogates. */
bool	 utf8_valid(const char *in, size_t len);
#endif
