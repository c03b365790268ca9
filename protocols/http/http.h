/*
 * http.h - the small HTTP/1.1 service on listen.http: autoconfig,
 * autodiscover, MTA-STS policy, metrics, health.  [loop]
 */
#ifndef HTTP_H
#define HTTP_H
#include "conn.h"

const struct proto	*http_proto(enum conn_svc);	/* SVC_HTTP */
#endif
