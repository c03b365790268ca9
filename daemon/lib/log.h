/*
 * log.h - one line per event to stderr: "<level> <message>" where the
 * message is key=value fields, session id first (STYLE.md 2.3.12).
 * journald adds its own timestamps; on a terminal we add ours.
 * log_fatal: the environment is wrong, exit 1.  log_panic: a bug, abort.
 * Thread-safe: each line is one write(2).  [any]
 */
#ifndef LOG_H
#define LOG_H
#include <stdbool.h>

enum log_level { LOG_L_ERR = 0, LOG_L_WARN, LOG_L_INFO, LOG_L_DEBUG };

void	 log_init(enum log_level level);
void	 log_set_level(enum log_level level);
bool	 log_debug_enabled(void);
void	 log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 log_panic(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#define log_err(...)	log_msg(LOG_L_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_L_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_L_INFO, __VA_ARGS__)
#define log_debug(...)	do { if (log_debug_enabled()) \
	log_msg(LOG_L_DEBUG, __VA_ARGS__); } while (0)
#endif
