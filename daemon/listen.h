/*
 * listen.h - bind every address of conf->listen and hand accepted sockets
 * to conn_accept() with their service.  Binding happens before privileges
 * are dropped; listeners are not rebound on reload (a changed `listen`
 * needs a restart, and the reload says so).  [loop]
 */
#ifndef LISTEN_H
#define LISTEN_H
#include <stddef.h>

#include "conn.h"

struct conf;

/* Bind all; on failure nothing stays bound and err says which address. */
int	 listen_start(const struct conf *, char *err, size_t errlen);
/* Close every listener (shutdown). */
void	 listen_stop(void);
/* How many sockets are listening, in all and for one service. */
size_t	 listen_count(void);
size_t	 listen_count_svc(enum conn_svc);
#endif
