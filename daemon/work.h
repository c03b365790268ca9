/*
 * work.h - the worker pool: blocking jobs off the event loop.
 *
 * A job is {run, done, arg}.  run() executes on a worker thread and may
 * block (fsync, crypt, LMDB commits, directory scans).  done() then runs on
 * the loop thread, where connection state may be touched.  A job must not
 * hold pointers to a connection: it names the session by id and looks it
 * up in done() (conn_lookup), since the peer may have left meanwhile.
 */
#ifndef WORK_H
#define WORK_H

struct event_base;

typedef void work_fn(void *arg);

/* [loop] Start nthreads workers (at least 2).  Call once, after evthread setup. */
int	 work_init(struct event_base *, int nthreads, const char **error_r);
/* [loop] Queue a job; done may be NULL.  Never blocks. */
void	 work_submit(work_fn *run, work_fn *done, void *arg);
/*
 * [loop] Queue a job on the single serial lane: jobs there run one at a
 * time, in order, on one dedicated thread (LMDB write transactions must
 * stay on one thread and are group-committed there).
 */
void	 work_submit_serial(work_fn *run, work_fn *done, void *arg);
/* [loop] Jobs queued or running (for shutdown and metrics). */
int	 work_pending(void);
/* [loop] Stop the threads after the queue empties and run pending done()s. */
void	 work_shutdown(void);
/* [any] True on the loop thread. */
int	 work_on_loop_thread(void);
#endif
