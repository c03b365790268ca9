/*
 * smtpc_local.h - queue attempts for our own domains (bounces to local
 * senders): delivered into the store through the router instead of SMTP.
 * [loop]
 */
#ifndef SMTPC_LOCAL_H
#define SMTPC_LOCAL_H

struct queue_attempt;

void	 smtpc_local_start(struct queue_attempt *);
void	 smtpc_local_cancel(struct queue_attempt *);
#endif
