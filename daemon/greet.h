/*
 * greet.h - a minimal line protocol per service: the greeting, QUIT/LOGOUT,
 * capability listing and STARTTLS, and "not implemented" for the rest.
 * It proves the listener, TLS and limits end to end for services whose
 * full protocol engine has not landed yet.  [loop]
 */
#ifndef GREET_H
#define GREET_H
#include "conn.h"

const struct proto	*greet_proto(enum conn_svc);
#endif
