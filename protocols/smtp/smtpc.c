/*
 * smtpc.c - PLACEHOLDER for the outbound SMTP client: no deliverer yet.
 */
#include <stddef.h>

#include "smtpc.h"

const struct queue_deliverer *
smtpc_deliverer(void)
{
	return NULL;
}
