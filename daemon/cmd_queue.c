/*
 * cmd_queue.c - PLACEHOLDER for `postern queue`, replaced by its owner.
 */
#include <stdio.h>

#include "cmd.h"

int
cmd_queue(int argc, char **argv)
{
	fprintf(stderr, "postern: queue is not implemented yet\n");
	return 1;
}
