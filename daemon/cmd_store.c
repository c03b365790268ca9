/*
 * cmd_store.c - PLACEHOLDER for the store subcommands (deliver, reindex,
 * check); replaced by the storage tools owner.
 */
#include <stdio.h>

#include "cmd.h"

static int
cmd_todo(const char *name)
{
	fprintf(stderr, "postern: %s is not implemented yet\n", name);
	return 1;
}

int
cmd_deliver(int argc, char **argv)
{
	return cmd_todo("deliver");
}

int
cmd_reindex(int argc, char **argv)
{
	return cmd_todo("reindex");
}

int
cmd_check(int argc, char **argv)
{
	return cmd_todo("check");
}
