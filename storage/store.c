/*
 * store.c - PLACEHOLDER for the store facade of store.h, replaced by the
 * storage owner.  Every delivery fails temporarily so nothing is ever
 * acknowledged that was not stored.
 */
#include <stdlib.h>

#include "conf.h"
#include "store.h"
#include "work.h"
#include "xmalloc.h"

struct store {
	const struct conf	*conf;
};

int
store_open(const struct conf *conf, struct store **store_r, const char **error_r)
{
	struct store	*s = xcalloc(1, sizeof(*s));

	s->conf = conf;
	*store_r = s;
	return 0;
}

void
store_close(struct store **sp)
{
	free(*sp);
	*sp = NULL;
}

void
store_set_conf(struct store *s, const struct conf *conf)
{
	s->conf = conf;
}
