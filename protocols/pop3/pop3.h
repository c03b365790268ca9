/*
 * pop3.h - the POP3 server protocol (RFC 1939; 110 with STLS, 995) for
 * conn.c.  The session lives in pop3_session.c, the pure command parser
 * and RETR/TOP transform in pop3_parse.h.  [loop]
 */
#ifndef POP3_H
#define POP3_H
#include "conn.h"

/* The protocol for SVC_POP3 or SVC_POP3S. */
const struct proto	*pop3_proto(enum conn_svc);
#endif
