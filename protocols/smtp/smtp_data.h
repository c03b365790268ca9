/*
 * smtp_data.h - decode the DATA phase (RFC 5321 4.1.1.4, 4.5.2) or check
 * a BDAT chunk stream (RFC 3030), without I/O.  [any] (one decoder is
 * used by one thread at a time).
 */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "smtp_parse.h"

#define SMTP_DATA_LINE_MAX	1000	/* RFC 5321 4.5.3.1.6, with CRLF */

#define SMTP_DATA_MORE		0	/* feed more input */
#define SMTP_DATA_DONE		1	/* end of data seen */

struct smtp_data;			/* opaque */

/*
 * [any] A DATA decoder.  max_message_size bounds the un-stuffed message
 * (0: no bound); max_line bounds a line including its CRLF and excluding
 * a stuffed dot (0: no bound).
 */
struct smtp_data *smtp_data_new(size_t max_message_size, size_t max_line);

/*
 * [any] A BDAT checker: chunks are not dot-stuffed, there is no end
 * marker (call smtp_data_bdat_last() after the LAST chunk).  With binary
 * (BODY=BINARYMIME) bare CR/LF, NUL and long lines are allowed.
 */
struct smtp_data *smtp_data_new_bdat(size_t max_message_size,
	    size_t max_line, bool binary);

void	 smtp_data_free(struct smtp_data **);	/* sets *d = NULL */
/* [any] Start a new message with the same limits. */
void	 smtp_data_reset(struct smtp_data *);

/*
 * [any] Decode in[0..len).  The message, un-stuffed, with CRLF line ends
 * and its final CRLF, is appended to out until an error is found; from
 * then on output is dropped but input is still scanned for the end.
 * Returns SMTP_DATA_DONE once "CRLF . CRLF" is seen (*consumed_r then
 * stops right after it: bytes that follow are pipelined commands), else
 * SMTP_DATA_MORE with *consumed_r == len.  A full out (out->max) counts
 * as "too big".  After DONE, returns DONE and consumes nothing.
 */
int	 smtp_data_feed(struct smtp_data *, const char *in, size_t len,
	    size_t *consumed_r, struct buf *out);

/* [any] BDAT: the LAST chunk was fed.  Returns SMTP_DATA_DONE. */
int	 smtp_data_bdat_last(struct smtp_data *);

/*
 * [any] NULL, or the reply to send instead of 250 once the end is
 * reached.  The first problem found wins.
 */
const struct smtp_reply *smtp_data_error(const struct smtp_data *);

/* [any] Counters: wire octets consumed, message octets, message lines. */
uint64_t smtp_data_bytes_in(const struct smtp_data *);
uint64_t smtp_data_size(const struct smtp_data *);
uint64_t smtp_data_lines(const struct smtp_data *);
#endif
