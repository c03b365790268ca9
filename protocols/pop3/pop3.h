/*
 * pop3.h - the POP3 server protocol (110 with STLS, 995) for conn.c.
 * [loop]
 */
#ifndef POP3_H
#define POP3_H
#include "conn.h"

/* The protocol for SVC_POP3 or SVC_POP3S. */
const struct proto	*pop3_proto(enum conn_svc);
#endif
