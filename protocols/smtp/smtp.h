/*
 * smtp.h - the SMTP server protocol (MX on 25, submission on 587 and 465)
 * for conn.c.  [loop]
 */
#ifndef SMTP_H
#define SMTP_H
#include "conn.h"

/* The protocol for SVC_SMTP, SVC_SUBMISSION or SVC_SUBMISSIONS. */
const struct proto	*smtp_proto(enum conn_svc);
#endif
