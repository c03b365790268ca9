/*
 * managesieve_session.c - PLACEHOLDER: the greeting-only stand-in until
 * the ManageSieve engine lands.
 */
#include "greet.h"
#include "managesieve.h"

const struct proto *
managesieve_proto(enum conn_svc svc)
{
	return greet_proto(svc);
}
