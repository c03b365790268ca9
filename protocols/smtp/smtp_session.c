/*
 * smtp_session.c - PLACEHOLDER: the greeting-only stand-in until the SMTP
 * session engine lands.
 */
#include "greet.h"
#include "smtp.h"

const struct proto *
smtp_proto(enum conn_svc svc)
{
	return greet_proto(svc);
}
