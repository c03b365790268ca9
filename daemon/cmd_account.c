/*
 * cmd_account.c - PLACEHOLDER for `postern account`, replaced by its owner.
 */
#include <stdio.h>

#include "cmd.h"

int
cmd_account(int argc, char **argv)
{
	fprintf(stderr, "postern: account is not implemented yet\n");
	return 1;
}
