/*
 * imap_compress.c - COMPRESS=DEFLATE (RFC 4978) and the session's output
 * layer.  Every byte the IMAP code writes goes through imap_out_*():
 * imap_private.h maps conn_write/conn_puts/conn_printf/conn_vprintf/
 * conn_close onto them for all imap_*.c files, so no command can bypass
 * the layer.  Without COMPRESS they call conn_* directly.
 *
 * Once COMPRESS DEFLATE is answered, both directions are raw deflate
 * (RFC 1951, zlib windowBits -15, RFC 4978 section 3).  Output is
 * deflated with Z_NO_FLUSH as it is written and flushed with Z_SYNC_FLUSH
 * once per loop iteration (an event made active on the first write after
 * a flush), so the responses of one batch share one flush and the client
 * always receives whole responses (RFC 4978 section 4).  Input is
 * inflated in front of the parser by imap_compress_read(), at most one
 * chunk at a time so a small "deflate bomb" never expands past what the
 * parser's own line and literal limits see.
 *
 * Owns struct imap_compress (one per session, after COMPRESS).  [loop]
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <zlib.h>

#include "conn.h"
#include "imap_private.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

/* This file implements the layer: it needs the real conn_* writers. */
#undef conn_write
#undef conn_puts
#undef conn_printf
#undef conn_vprintf
#undef conn_close

#define IMAP_Z_OUT	16384

struct imap_compress {
	z_stream	 in;
	z_stream	 out;
	struct event	*flush_ev;
	bool		 dirty;		/* deflated data not flushed yet */
	bool		 failed;
	unsigned char	 inbuf[IMAP_READ_CHUNK];
};

static struct imap_session *
imap_out_session(struct conn *c)
{
	return conn_session(c);
}

/* Deflate p (or just flush) and hand the result to conn. */
static void
imap_compress_put(struct imap_session *s, const void *p, size_t len,
    int flush)
{
	struct imap_compress	*z = s->z;
	unsigned char		 out[IMAP_Z_OUT];
	int			 r;

	if (z->failed)
		return;
	z->out.next_in = (Bytef *)(uintptr_t)p;
	z->out.avail_in = (uInt)len;
	do {
		z->out.next_out = out;
		z->out.avail_out = sizeof(out);
		r = deflate(&z->out, flush);
		if (r == Z_STREAM_ERROR) {
			z->failed = true;
			log_warn("%016llx imap deflate error",
			    (unsigned long long)s->id);
			conn_close(s->c);
			return;
		}
		if (sizeof(out) - z->out.avail_out > 0)
			conn_write(s->c, out, sizeof(out) - z->out.avail_out);
	} while (z->out.avail_out == 0 || z->out.avail_in > 0);
}

void
imap_compress_flush(struct imap_session *s)
{
	if (s->z == NULL || !s->z->dirty)
		return;
	s->z->dirty = false;
	imap_compress_put(s, NULL, 0, Z_SYNC_FLUSH);
}

static void
imap_compress_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	imap_compress_flush(arg);
}

static void
imap_compress_write(struct imap_session *s, const void *p, size_t len)
{
	/* uInt is 32 bits: split huge writes (FETCH of a big message). */
	while (len > 0) {
		size_t	 n = len > (1U << 30) ? (1U << 30) : len;

		imap_compress_put(s, p, n, Z_NO_FLUSH);
		p = (const char *)p + n;
		len -= n;
	}
	if (!s->z->dirty) {
		s->z->dirty = true;
		event_active(s->z->flush_ev, EV_READ, 0);
	}
}

void
imap_out_write(struct conn *c, const void *p, size_t len)
{
	struct imap_session	*s = imap_out_session(c);

	if (s == NULL || s->z == NULL)
		conn_write(c, p, len);
	else
		imap_compress_write(s, p, len);
}

void
imap_out_puts(struct conn *c, const char *str)
{
	imap_out_write(c, str, strlen(str));
}

void
imap_out_vprintf(struct conn *c, const char *fmt, va_list ap)
{
	struct imap_session	*s = imap_out_session(c);
	char			*str;
	int			 n;

	if (s == NULL || s->z == NULL) {
		conn_vprintf(c, fmt, ap);
		return;
	}
	if ((n = vasprintf(&str, fmt, ap)) < 0)
		return;
	imap_compress_write(s, str, (size_t)n);
	free(str);
}

void
imap_out_printf(struct conn *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	imap_out_vprintf(c, fmt, ap);
	va_end(ap);
}

void
imap_out_close(struct conn *c)
{
	struct imap_session	*s = imap_out_session(c);

	/* conn_close flushes what conn holds: give it everything first. */
	if (s != NULL)
		imap_compress_flush(s);
	conn_close(c);
}

/*
 * Input: inflate what conn buffered into buf (at most len bytes).
 * Returns the bytes produced, 0 when nothing more is available, -1 on a
 * corrupt stream.
 */
int
imap_compress_read(struct imap_session *s, char *buf, size_t len)
{
	struct imap_compress	*z = s->z;
	struct evbuffer		*in = conn_input(s->c);
	int			 n, r;

	z->in.next_out = (Bytef *)buf;
	z->in.avail_out = (uInt)len;
	for (;;) {
		if (z->in.avail_in == 0) {
			n = evbuffer_remove(in, z->inbuf, sizeof(z->inbuf));
			if (n <= 0)
				break;
			z->in.next_in = z->inbuf;
			z->in.avail_in = (uInt)n;
		}
		r = inflate(&z->in, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR)
			return -1;	/* also Z_STREAM_END: no reset */
		if (z->in.avail_out < len)
			break;		/* produced something */
		if (r == Z_BUF_ERROR && z->in.avail_in > 0)
			return -1;
	}
	return (int)(len - z->in.avail_out);
}

void
imap_compress_free(struct imap_session *s)
{
	struct imap_compress	*z = s->z;

	if (z == NULL)
		return;
	event_free(z->flush_ev);
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
	s->z = NULL;
}

/* COMPRESS DEFLATE (RFC 4978 section 3), authenticated or selected. */
void
imap_cmd_compress(struct imap_session *s, struct imap_cmd *cmd)
{
	struct imap_compress	*z;

	if (cmd->nargs != 1 || !imap_arg_atom_is(&cmd->args[0], "DEFLATE")) {
		imap_tagged(s, "BAD", "COMPRESS supports DEFLATE only");
		return;
	}
	if (s->z != NULL) {
		imap_tagged(s, "NO", "[COMPRESSIONACTIVE] Already compressing");
		return;
	}
	/*
	 * Bytes after the command are already compressed: the client had to
	 * wait for our OK.  The parser holds them as plain text, so end the
	 * session instead of misreading them.
	 */
	if (imap_parser_pending(s->parser) > 0) {
		imap_untagged(s, "BYE Data pipelined after COMPRESS");
		imap_close(s);
		return;
	}
	z = xcalloc(1, sizeof(*z));
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		imap_tagged(s, "NO", "[SERVERBUG] Cannot start inflate");
		return;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		imap_tagged(s, "NO", "[SERVERBUG] Cannot start deflate");
		return;
	}
	z->flush_ev = event_new(loop_base(), -1, 0, imap_compress_flush_cb, s);
	/* The OK is the last plain-text response. */
	imap_tagged(s, "OK", "DEFLATE active");
	s->z = z;
}
