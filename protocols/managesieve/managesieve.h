/*
 * managesieve.h - ManageSieve (RFC 5804) on listen.managesieve.  [loop]
 */
#ifndef MANAGESIEVE_H
#define MANAGESIEVE_H
#include "conn.h"

const struct proto	*managesieve_proto(enum conn_svc);	/* SVC_MANAGESIEVE */
#endif
