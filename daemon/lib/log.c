/*
 * log.c - line-oriented logging to stderr.  [any]
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum log_level	 log_level = LOG_L_INFO;
static int		 log_stamp = -1;	/* add our own timestamp? */

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
log_init(enum log_level level)
{
	log_level = level;
	/* Under systemd, JOURNAL_STREAM is set and journald stamps lines. */
	log_stamp = getenv("JOURNAL_STREAM") == NULL;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

bool
log_debug_enabled(void)
{
	return log_level >= LOG_L_DEBUG;
}

static void log_vwrite(enum log_level, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char		 line[2048];
	size_t		 n = 0;
	int		 r;
	struct timespec	 ts;
	struct tm	 tm;

	if (log_stamp == -1)
		log_stamp = getenv("JOURNAL_STREAM") == NULL;
	if (log_stamp) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03ldZ ",
		    ts.tv_nsec / 1000000);
		n += r > 0 ? (size_t)r : 0;
	}
	r = snprintf(line + n, sizeof(line) - n, "%s ", log_names[level]);
	n += r > 0 ? (size_t)r : 0;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r < 0)
		r = 0;
	n += (size_t)r;
	if (n >= sizeof(line) - 1) {
		n = sizeof(line) - 5;
		memcpy(line + n, "...", 3);
		n += 3;
	}
	/* One line per event: fold any newline a caller's data carried. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	(void)!write(2, line, n);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list	 ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_L_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_panic(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_L_ERR, fmt, ap);
	va_end(ap);
	abort();
}
