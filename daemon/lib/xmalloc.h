/*
 * xmalloc.h - allocation that either succeeds or does not return.
 * Out of memory is an environment failure: we log and abort rather than
 * thread NULL checks through every parser.  [any]
 */
#ifndef XMALLOC_H
#define XMALLOC_H
#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));

/* free() and set the pointer to NULL. */
#define xfree(p) do { free(p); (p) = NULL; } while (0)
#endif
