/*
 * http_private.h - what the HTTP service's files share inside the
 * module: the live counters behind /metrics.  [loop]
 */
#ifndef HTTP_PRIVATE_H
#define HTTP_PRIVATE_H
#include "buf.h"

struct conn;

/* Remember the start time (http_proto(), before the first client). */
void	 http_metrics_init(void);
/* Count one answered request by status code. */
void	 http_metrics_count(int status);
/*
 * Append the Prometheus text exposition (format 0.0.4) of the live
 * counters; arg is the struct conn asking (its id is the number of
 * connections accepted so far, ids being sequential).
 */
void	 http_metrics_render(struct buf *, void *arg);
#endif
