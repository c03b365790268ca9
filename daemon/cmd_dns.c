/*
 * cmd_dns.c - PLACEHOLDER for `postern dkim` and `postern dns`, replaced
 * by their owner.
 */
#include <stdio.h>

#include "cmd.h"

int
cmd_dkim(int argc, char **argv)
{
	fprintf(stderr, "postern: dkim is not implemented yet\n");
	return 1;
}

int
cmd_dns(int argc, char **argv)
{
	fprintf(stderr, "postern: dns is not implemented yet\n");
	return 1;
}
