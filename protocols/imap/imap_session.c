/*
 * imap_session.c - PLACEHOLDER: the greeting-only stand-in until the IMAP
 * session engine lands.
 */
#include "greet.h"
#include "imap.h"

const struct proto *
imap_proto(enum conn_svc svc)
{
	return greet_proto(svc);
}
