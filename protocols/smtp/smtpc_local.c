/*
 * smtpc_local.c - local delivery of queued mail whose recipients are in
 * our own domains (in practice the DSNs of queue_dsn.c to local
 * senders).  Reads the queue file on a worker, spools it with
 * store_msg_*, resolves every recipient with the current router and
 * calls store_deliver; one reply code per recipient back to the queue.
 * Owns struct smtpc_local.  Loop thread, except the file read.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "loop.h"
#include "queue.h"
#include "route.h"
#include "smtpc_local.h"
#include "store.h"
#include "work.h"
#include "xmalloc.h"

struct smtpc_local {
	struct queue_attempt	*a;		/* NULL once cancelled */
	char			*path;
	struct buf		 data;
	bool			 read_ok;
	struct store_msg	*msg;
	struct store_rcpt	*sr;
	size_t			*owner;		/* sr[k] -> attempt rcpt */
	char			**names;
	size_t			 n;
};

static void
smtpc_local_free(struct smtpc_local *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->owner);
	free(l->sr);
	store_msg_free(&l->msg);
	buf_free(&l->data);
	free(l->path);
	free(l);
}

static void
smtpc_local_finish(struct smtpc_local *l)
{
	struct queue_attempt	*a = l->a;

	if (a != NULL) {
		a->dpriv = NULL;
		a->done(a);
	}
	smtpc_local_free(l);
}

static void
smtpc_local_set(struct queue_attempt *a, size_t i, int code, const char *t)
{
	if (a->code[i] != 0 && a->code[i] >= code)
		return;		/* keep the worst answer */
	a->code[i] = code;
	free(a->reply[i]);
	a->reply[i] = xstrdup(t);
}

static void
smtpc_local_stored(void *arg)
{
	struct smtpc_local	*l = arg;
	struct queue_attempt	*a = l->a;
	size_t			 k, i;

	if (a != NULL) {
		for (k = 0; k < l->n; k++) {
			i = l->owner[k];
			if (l->sr[k].result == 0)
				smtpc_local_set(a, i, 250, "250 2.0.0 stored");
			else if (l->sr[k].result == -2)
				smtpc_local_set(a, i, 550, l->sr[k].error ?
				    l->sr[k].error : "550 5.0.0 store refused");
			else
				smtpc_local_set(a, i, 451, l->sr[k].error ?
				    l->sr[k].error : "451 4.3.0 store failed");
		}
		for (i = 0; i < a->nrcpts; i++)
			if (a->code[i] == 0)
				smtpc_local_set(a, i, 451, "451 4.3.0 local "
				    "delivery failed");
	}
	smtpc_local_finish(l);
}

static void
smtpc_local_read_run(void *arg)
{
	struct smtpc_local	*l = arg;
	char			 b[65536];
	ssize_t			 n;
	int			 fd;

	if ((fd = open(l->path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	while ((n = read(fd, b, sizeof(b))) > 0)
		buf_append(&l->data, b, (size_t)n);
	l->read_ok = n == 0;
	close(fd);
}

static void
smtpc_local_read_done(void *arg)
{
	struct smtpc_local	*l = arg;
	struct queue_attempt	*a = l->a;
	struct route_result	 res;
	const char		*err = NULL;
	size_t			 i, j;

	if (a == NULL) {
		smtpc_local_free(l);
		return;
	}
	if (!l->read_ok || store_msg_begin(loop_shared()->store, &l->msg,
	    &err) == -1 || store_msg_write(l->msg, l->data.data,
	    l->data.len, &err) == -1) {
		for (i = 0; i < a->nrcpts; i++)
			smtpc_local_set(a, i, 451, "451 4.3.0 cannot spool "
			    "for local delivery");
		smtpc_local_finish(l);
		return;
	}
	for (i = 0; i < a->nrcpts; i++) {
		route_resolve(loop_gen()->route, a->rcpts[i], &res);
		if (res.kind == ROUTE_REJECT)
			smtpc_local_set(a, i, res.code >= 500 ? 550 : 451,
			    res.text ? res.text : "550 5.1.1 rejected");
		else if (res.kind != ROUTE_LOCAL || res.nlocal == 0)
			/* A forward of a bounce: not followed (no loops). */
			smtpc_local_set(a, i, 550, "550 5.1.1 no local "
			    "mailbox for this address");
		for (j = 0; res.kind == ROUTE_LOCAL && j < res.nlocal; j++) {
			l->sr = xreallocarray(l->sr, l->n + 1, sizeof(*l->sr));
			l->owner = xreallocarray(l->owner, l->n + 1,
			    sizeof(*l->owner));
			l->names = xreallocarray(l->names, l->n + 1,
			    sizeof(*l->names));
			memset(&l->sr[l->n], 0, sizeof(l->sr[l->n]));
			l->names[l->n] = xstrdup(res.local[j].name);
			l->owner[l->n] = i;
			l->n++;
		}
		route_result_clear(&res);
	}
	for (j = 0; j < l->n; j++)
		l->sr[j].account = l->names[j];
	if (l->n == 0) {
		smtpc_local_finish(l);
		return;
	}
	store_deliver(loop_shared()->store, l->msg, l->sr, l->n,
	    smtpc_local_stored, l);
}

void
smtpc_local_start(struct queue_attempt *a)
{
	struct smtpc_local	*l = xcalloc(1, sizeof(*l));

	l->a = a;
	l->path = xstrdup(a->path);
	buf_init(&l->data, 0);
	a->local = true;
	a->dpriv = l;
	work_submit(smtpc_local_read_run, smtpc_local_read_done, l);
}

void
smtpc_local_cancel(struct queue_attempt *a)
{
	struct smtpc_local	*l = a->dpriv;

	/* A job or the store still holds l: it frees it when it ends. */
	if (l != NULL)
		l->a = NULL;
	a->dpriv = NULL;
}
