/*
 * clamd.h - a blocking client of clamd's INSTREAM command (virus
 * scanning of inbound mail, conf virus_scanning).
 *
 * Protocol (clamd(8)): "zINSTREAM\0", then chunks each preceded by its
 * length as 4 bytes in network order, then a zero length; clamd answers
 * one NUL-terminated line: "stream: OK", "stream: <Name> FOUND" or
 * "<text> ERROR".  Every step (connect, send, receive) shares one
 * deadline, so a scan never takes longer than timeout_ms.
 *
 * [worker, blocking] for the scan functions; [any] for the parser.
 */
#ifndef CLAMD_H
#define CLAMD_H
#include <stddef.h>

#define CLAMD_TIMEOUT_MS	30000	/* bound of one scan */
#define CLAMD_CHUNK		65536	/* INSTREAM chunk size */
#define CLAMD_REPLY_MAX		1024	/* longest reply we read */
#define CLAMD_NAME_MAX		200	/* signature names are cut here */

enum clamd_status {
	CLAMD_ERROR = -1,	/* unreachable, timeout, ERROR, garbage */
	CLAMD_CLEAN = 0,	/* "stream: OK" */
	CLAMD_FOUND = 1		/* "stream: <Name> FOUND" */
};

/*
 * [any] Parse a reply of len bytes (trailing NUL, CR, LF ignored).
 * CLAMD_FOUND sets *name_r (malloc'd, printable ASCII only);
 * CLAMD_ERROR sets *error_r (malloc'd); either may be NULL.
 */
enum clamd_status clamd_parse_reply(const char *reply, size_t len,
		    char **name_r, char **error_r);

/*
 * [worker, blocking] Stream what fd holds from its current offset to
 * end of file to the clamd listening on the unix socket sock_path.
 * Results as for clamd_parse_reply; every failure is CLAMD_ERROR with a
 * reason, never CLAMD_CLEAN.
 */
enum clamd_status clamd_scan_fd(const char *sock_path, int fd,
		    int timeout_ms, char **name_r, char **error_r);
/* [worker, blocking] The same for the file at path. */
enum clamd_status clamd_scan_file(const char *sock_path, const char *path,
		    int timeout_ms, char **name_r, char **error_r);
#endif
