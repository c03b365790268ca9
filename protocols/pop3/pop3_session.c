/*
 * pop3_session.c - PLACEHOLDER: the greeting-only stand-in until the POP3
 * session engine lands.
 */
#include "greet.h"
#include "pop3.h"

const struct proto *
pop3_proto(enum conn_svc svc)
{
	return greet_proto(svc);
}
