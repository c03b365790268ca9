/*
 * buf.h - a growable byte buffer with an optional hard maximum.
 * A value type (the struct is public) so it can live inside other structs.
 * Writes past max fail with -1 and leave the buffer unchanged, so callers
 * can turn "too big" into a protocol error.  [any]
 */
#ifndef BUF_H
#define BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;		/* always NUL-terminated when non-NULL */
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* 0: unlimited */
};

#define BUF_INIT { NULL, 0, 0, 0 }

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);		/* len = 0, keeps memory */
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_puts(struct buf *, const char *);
int	 buf_putc(struct buf *, char);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Hand the bytes to the caller (NUL-terminated); the buf is reset. */
char	*buf_steal(struct buf *, size_t *len_r);
#endif
