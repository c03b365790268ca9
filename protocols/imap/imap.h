/*
 * imap.h - the IMAP server protocol (143 with STARTTLS, 993) for conn.c.
 * [loop]
 */
#ifndef IMAP_H
#define IMAP_H
#include "conn.h"

/* The protocol for SVC_IMAP or SVC_IMAPS. */
const struct proto	*imap_proto(enum conn_svc);
#endif
