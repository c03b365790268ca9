/*
 * http_session.c - PLACEHOLDER: the greeting-only stand-in (404 for every
 * request) until the HTTP service lands.
 */
#include "greet.h"
#include "http.h"

const struct proto *
http_proto(enum conn_svc svc)
{
	return greet_proto(svc);
}
