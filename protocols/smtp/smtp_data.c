/*
 * smtp_data.c - the DATA-phase decoder and the BDAT chunk checker.
 *
 * DATA (RFC 5321 4.1.1.4, 4.5.2): the message ends only at CRLF "." CRLF,
 * where the start of the message counts as following a CRLF.  A leading
 * dot on any other line is removed.  Only a CRLF pair starts a new line:
 * a bare CR or bare LF neither ends a line nor can take part in an end
 * marker, so "\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n" and the like are
 * plain (faulty) message bytes.  That is what defeats SMTP smuggling: a
 * downstream MTA that treats a bare LF as a line end would see an end of
 * data where we do not, so we refuse the whole message instead (as
 * Postfix's smtpd_forbid_bare_newline does).
 *
 * Problems (bare CR or LF, NUL, a long line, too big) are sticky: the
 * first one is kept, output stops (so memory stays bounded), and we keep
 * scanning for the real end marker, after which the session sends
 * smtp_data_error() instead of 250.
 *
 * BDAT (RFC 3030): the same checks over exact chunk bytes, with no
 * dot-stuffing and no end marker; BINARYMIME turns all but the size check
 * off.
 *
 * Owns the struct smtp_data only; appends to the caller's buf.  No I/O,
 * no globals.  [any] thread, one decoder per thread at a time.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_data.h"
#include "xmalloc.h"

/* RFC 3463 3.5/3.6; Postfix answers bare newlines with X.5.2 too. */
static const struct smtp_reply r_bare = { 550, "5.5.2",
    "Message contains bare CR or LF" };
/* RFC 1870 6.1, RFC 5321 4.5.3.1.10 ("552 Too much mail data"). */
static const struct smtp_reply r_big = { 552, "5.3.4",
    "Message size exceeds fixed maximum message size" };
/*
 * RFC 5321 4.5.3.1.10 names "500 Line too long" as the reply when a
 * text line exceeds 4.5.3.1.6; X.5.2 matches the command-line case.
 */
static const struct smtp_reply r_long = { 500, "5.5.2",
    "Message line too long" };
/* RFC 3463 3.7: X.6.0 other media error (NUL is not text, RFC 5322 2.3). */
static const struct smtp_reply r_nul = { 550, "5.6.0",
    "Message contains NUL character" };

enum smtp_data_state {
	SD_BOL,			/* at the start of a line */
	SD_DOT,			/* BOL "." */
	SD_DOT_CR,		/* BOL "." CR */
	SD_MID,			/* inside a line */
	SD_CR,			/* inside a line, CR held back */
	SD_DONE,
};

struct smtp_data {
	size_t			 max_size;	/* 0: none */
	size_t			 max_line;	/* with CRLF; 0: none */
	bool			 bdat;
	bool			 binary;
	enum smtp_data_state	 state;
	size_t			 line_len;	/* current line, no CRLF */
	uint64_t		 bytes_in;
	uint64_t		 size;
	uint64_t		 lines;
	const struct smtp_reply	*error;
};

static struct smtp_data *
smtp_data_alloc(size_t max_size, size_t max_line, bool bdat, bool binary)
{
	struct smtp_data	*d = xcalloc(1, sizeof(*d));

	d->max_size = max_size;
	/* Room for at least one octet and the CRLF. */
	d->max_line = max_line != 0 && max_line < 3 ? 3 : max_line;
	d->bdat = bdat;
	d->binary = binary;
	smtp_data_reset(d);
	return d;
}

struct smtp_data *
smtp_data_new(size_t max_message_size, size_t max_line)
{
	return smtp_data_alloc(max_message_size, max_line, false, false);
}

struct smtp_data *
smtp_data_new_bdat(size_t max_message_size, size_t max_line, bool binary)
{
	return smtp_data_alloc(max_message_size, max_line, true, binary);
}

void
smtp_data_free(struct smtp_data **dp)
{
	xfree(*dp);
}

void
smtp_data_reset(struct smtp_data *d)
{
	d->state = d->bdat ? SD_MID : SD_BOL;
	d->line_len = 0;
	d->bytes_in = d->size = d->lines = 0;
	d->error = NULL;
}

static void
smtp_data_fail(struct smtp_data *d, const struct smtp_reply *r)
{
	if (d->error == NULL)
		d->error = r;
}

/* Append message octets, unless we already failed. */
static void
smtp_data_emit(struct smtp_data *d, struct buf *out, const char *p, size_t n)
{
	d->size += n;
	if (d->error != NULL)
		return;
	if (d->max_size != 0 && d->size > d->max_size) {
		smtp_data_fail(d, &r_big);
		return;
	}
	if (buf_append(out, p, n) == -1)
		smtp_data_fail(d, &r_big);
}

/* Octets that belong to the current line (anything but a CRLF pair). */
static void
smtp_data_text(struct smtp_data *d, struct buf *out, const char *p, size_t n)
{
	if (!d->binary) {
		if (n > SIZE_MAX - d->line_len)
			d->line_len = SIZE_MAX;
		else
			d->line_len += n;
		/* RFC 5321 4.5.3.1.6: 1000 octets with CRLF, no stuffed dot. */
		if (d->max_line != 0 && d->line_len > d->max_line - 2)
			smtp_data_fail(d, &r_long);
	}
	smtp_data_emit(d, out, p, n);
}

/* A CR that is not followed by LF. */
static void
smtp_data_bare_cr(struct smtp_data *d, struct buf *out)
{
	smtp_data_fail(d, &r_bare);
	smtp_data_text(d, out, "\r", 1);
}

int
smtp_data_feed(struct smtp_data *d, const char *in, size_t len,
    size_t *consumed_r, struct buf *out)
{
	size_t	 i = 0, j;
	int	 rc = SMTP_DATA_MORE;

	*consumed_r = 0;
	if (d->state == SD_DONE)
		return SMTP_DATA_DONE;
	if (d->binary) {
		smtp_data_emit(d, out, in, len);
		i = len;
		goto out;
	}
	while (i < len) {
		switch (d->state) {
		case SD_BOL:
			d->state = SD_MID;
			if (!d->bdat && in[i] == '.') {
				d->state = SD_DOT;
				i++;
			}
			break;
		case SD_DOT:
			/* 4.5.2: "." plus more: the first dot is deleted. */
			d->state = SD_MID;
			if (in[i] == '\r') {
				d->state = SD_DOT_CR;
				i++;
			}
			break;
		case SD_DOT_CR:
			if (in[i] == '\n') {
				i++;
				d->state = SD_DONE;
				rc = SMTP_DATA_DONE;
				goto out;
			}
			smtp_data_bare_cr(d, out);
			d->state = SD_MID;
			break;
		case SD_CR:
			if (in[i] == '\n') {
				i++;
				smtp_data_emit(d, out, "\r\n", 2);
				d->lines++;
				d->line_len = 0;
				d->state = d->bdat ? SD_MID : SD_BOL;
				break;
			}
			smtp_data_bare_cr(d, out);
			d->state = SD_MID;
			break;
		case SD_MID:
			for (j = i; j < len; j++)
				if (in[j] == '\r' || in[j] == '\n' ||
				    in[j] == '\0')
					break;
			if (j > i) {
				smtp_data_text(d, out, in + i, j - i);
				i = j;
				break;
			}
			if (in[i] == '\r') {
				d->state = SD_CR;
				i++;
				break;
			}
			smtp_data_fail(d, in[i] == '\n' ? &r_bare : &r_nul);
			smtp_data_text(d, out, in + i, 1);
			i++;
			break;
		case SD_DONE:
			goto out;
		}
	}
out:
	d->bytes_in += i;
	*consumed_r = i;
	return rc;
}

int
smtp_data_bdat_last(struct smtp_data *d)
{
	/* A CR held back at the end of the last chunk has no LF. */
	if (d->bdat && d->state == SD_CR) {
		smtp_data_fail(d, &r_bare);
		d->size++;
	}
	d->state = SD_DONE;
	return SMTP_DATA_DONE;
}

const struct smtp_reply *
smtp_data_error(const struct smtp_data *d)
{
	return d->error;
}

uint64_t
smtp_data_bytes_in(const struct smtp_data *d)
{
	return d->bytes_in;
}

uint64_t
smtp_data_size(const struct smtp_data *d)
{
	return d->size;
}

uint64_t
smtp_data_lines(const struct smtp_data *d)
{
	return d->lines;
}
