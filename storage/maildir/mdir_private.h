/*
 * mdir_private.h - helpers shared by the mdir_*.c files only.
 * Not part of the storage API: the store facade includes mdir.h.
 */
#ifndef MDIR_PRIVATE_H
#define MDIR_PRIVATE_H
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "mdir.h"

/*
 * Format an error into a per-thread buffer.  The string stays valid until
 * the next mdir_ call on the same thread, which is long enough for a
 * worker job to hand it to its completion.  [any]
 */
const char *mdir_errf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* rename that fails with EEXIST instead of replacing.  [worker] */
int	 mdir_rename_noreplace(const char *from, const char *to);
/* fsync a directory by path; -1 with errno set.  [worker] */
int	 mdir_fsync_dir(const char *path);
/*
 * Encode an IMAP folder name to its path relative to root ("" for
 * INBOX, ".a.b" or "a/b").  [any]
 */
int	 mdir_rel_encode(enum mdir_layout, char sep, bool utf8,
	    const char *name, struct buf *out, const char **error_r);
/* True if name is INBOX in any case.  [any] */
bool	 mdir_is_inbox(const char *name);
#endif
