/*
 * smtpc.h - the outbound SMTP client and its deliverer for the queue
 * runner (issue "Outbound delivery").  [loop]
 */
#ifndef SMTPC_H
#define SMTPC_H

struct queue_deliverer;

/* The deliverer the queue runner uses (MX lookup, STARTTLS, relay host). */
const struct queue_deliverer	*smtpc_deliverer(void);
#endif
