/*
 * queue_rec.c - the on-disk side of the outbound queue: the text codec of
 * a queue record (the value stored under the message id in the LMDB
 * database "queue") and the blocking file jobs that make a queue file
 * durable.  Owns nothing.  Codec [any]; *_blocking on workers only.
 *
 * Record format, one field set per line, tab separated; addresses and
 * replies never hold tabs or newlines (the SMTP parser refuses controls,
 * replies are cleaned before they are stored):
 *	postern-queue 1
 *	sender	<addr or empty>
 *	meta	<flags> <created> <next> <last> <attempts> <size>
 *	envid	<RFC 3461 ENVID, decoded>	(optional)
 *	ret	<QUEUE_RET_*>			(optional)
 *	rcpt	<state> <notify> <code>	<addr>	<orcpt>	<reply>
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue_private.h"
#include "xmalloc.h"

#define QUEUE_REC_MAGIC	"postern-queue 1"

static void
queue_rec_clean(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		buf_putc(b, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

void
queue_rec_encode(const struct queue_msg *m, struct buf *b)
{
	size_t	 i;

	buf_printf(b, "%s\nsender\t", QUEUE_REC_MAGIC);
	queue_rec_clean(b, m->sender);
	buf_printf(b, "\nmeta\t%u %" PRId64 " %" PRId64 " %" PRId64 " %u %"
	    PRIu64 "\n", m->flags, m->created, m->next, m->last, m->attempts,
	    m->size);
	if (m->envid != NULL) {
		buf_puts(b, "envid\t");
		queue_rec_clean(b, m->envid);
		buf_putc(b, '\n');
	}
	if (m->ret != QUEUE_RET_NONE)
		buf_printf(b, "ret\t%d\n", m->ret);
	for (i = 0; i < m->nr; i++) {
		buf_printf(b, "rcpt\t%d %u %d\t", (int)m->r[i].state,
		    m->r[i].notify, m->r[i].code);
		queue_rec_clean(b, m->r[i].addr);
		buf_putc(b, '\t');
		queue_rec_clean(b, m->r[i].orcpt);
		buf_putc(b, '\t');
		queue_rec_clean(b, m->r[i].reply);
		buf_putc(b, '\n');
	}
}

void
queue_msg_free(struct queue_msg *m)
{
	size_t	 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nr; i++) {
		free(m->r[i].addr);
		free(m->r[i].orcpt);
		free(m->r[i].reply);
	}
	free(m->r);
	free(m->path);
	free(m->sender);
	free(m->envid);
	free(m);
}

static char *
queue_rec_field(char **p)
{
	return strsep(p, "\t");
}

struct queue_msg *
queue_rec_decode(const char *id, const char *val, size_t len,
    const char *dir)
{
	struct queue_msg	*m = xcalloc(1, sizeof(*m));
	struct queue_r		*r;
	char			*copy, *p, *line, *tag, *addr, *orcpt, *reply;
	int			 st, code;
	unsigned		 notify;
	bool			 magic = false, meta = false;

	if (strlen(id) >= sizeof(m->id)) {
		free(m);
		return NULL;
	}
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->path = xasprintf("%s/%s", dir, id);
	copy = xmalloc(len + 1);
	memcpy(copy, val, len);
	copy[len] = '\0';
	p = copy;
	while ((line = strsep(&p, "\n")) != NULL) {
		if (*line == '\0')
			continue;
		if (!magic) {
			if (strcmp(line, QUEUE_REC_MAGIC) != 0)
				goto bad;
			magic = true;
			continue;
		}
		tag = queue_rec_field(&line);
		if (strcmp(tag, "sender") == 0 && line != NULL) {
			free(m->sender);
			m->sender = xstrdup(line);
		} else if (strcmp(tag, "meta") == 0 && line != NULL) {
			if (sscanf(line, "%u %" SCNd64 " %" SCNd64 " %" SCNd64
			    " %u %" SCNu64, &m->flags, &m->created, &m->next,
			    &m->last, &m->attempts, &m->size) != 6)
				goto bad;
			meta = true;
		} else if (strcmp(tag, "envid") == 0 && line != NULL) {
			free(m->envid);
			m->envid = *line != '\0' ? xstrdup(line) : NULL;
		} else if (strcmp(tag, "ret") == 0 && line != NULL) {
			m->ret = atoi(line);
			if (m->ret != QUEUE_RET_FULL && m->ret != QUEUE_RET_HDRS)
				m->ret = QUEUE_RET_NONE;
		} else if (strcmp(tag, "rcpt") == 0 && line != NULL) {
			if (sscanf(line, "%d %u %d", &st, &notify, &code) != 3 ||
			    st < QUEUE_R_PENDING || st > QUEUE_R_DONE)
				goto bad;
			(void)queue_rec_field(&line);
			if ((addr = queue_rec_field(&line)) == NULL ||
			    (orcpt = queue_rec_field(&line)) == NULL ||
			    (reply = queue_rec_field(&line)) == NULL ||
			    *addr == '\0')
				goto bad;
			m->r = xreallocarray(m->r, m->nr + 1, sizeof(*m->r));
			r = &m->r[m->nr++];
			memset(r, 0, sizeof(*r));
			r->addr = xstrdup(addr);
			r->orcpt = *orcpt != '\0' ? xstrdup(orcpt) : NULL;
			r->reply = *reply != '\0' ? xstrdup(reply) : NULL;
			r->state = (enum queue_rstate)st;
			r->notify = notify;
			r->code = code;
		}
	}
	if (!magic || !meta || m->sender == NULL || m->nr == 0)
		goto bad;
	free(copy);
	return m;
bad:
	free(copy);
	queue_msg_free(m);
	return NULL;
}

static int
queue_rec_fsync_dir(const char *dir, const char **error_r)
{
	int	 fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		*error_r = "queue: cannot open queue directory";
		return -1;
	}
	if (fsync(fd) == -1) {
		close(fd);
		*error_r = "queue: fsync of queue directory failed";
		return -1;
	}
	close(fd);
	return 0;
}

static int
queue_rec_writeall(int fd, const void *p, size_t len)
{
	const char	*c = p;
	ssize_t		 w;

	while (len > 0) {
		if ((w = write(fd, c, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

int
queue_rec_copy_blocking(const char *src, const char *prepend,
    const char *dst, const char *dir, uint64_t *size_r, const char **error_r)
{
	char		 b[65536];
	ssize_t		 n;
	uint64_t	 size = 0;
	int		 in, out;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1) {
		*error_r = "queue: cannot open spool file";
		return -1;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		close(in);
		*error_r = "queue: cannot create queue file";
		return -1;
	}
	if (prepend != NULL) {
		if (queue_rec_writeall(out, prepend, strlen(prepend)) == -1)
			goto fail;
		size += strlen(prepend);
	}
	for (;;) {
		if ((n = read(in, b, sizeof(b))) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		if (queue_rec_writeall(out, b, (size_t)n) == -1)
			goto fail;
		size += (uint64_t)n;
	}
	/* DESIGN.md: fsync(file) then fsync(dir), then the record. */
	if (fsync(out) == -1)
		goto fail;
	close(in);
	if (close(out) == -1) {
		unlink(dst);
		*error_r = "queue: close of queue file failed";
		return -1;
	}
	*size_r = size;
	return queue_rec_fsync_dir(dir, error_r);
fail:
	close(in);
	close(out);
	unlink(dst);
	*error_r = "queue: write of queue file failed";
	return -1;
}

int
queue_rec_write_blocking(const char *dst, const char *dir, const void *data,
    size_t len, const char **error_r)
{
	int	 out;

	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		*error_r = "queue: cannot create queue file";
		return -1;
	}
	if (queue_rec_writeall(out, data, len) == -1 || fsync(out) == -1) {
		close(out);
		unlink(dst);
		*error_r = "queue: write of queue file failed";
		return -1;
	}
	if (close(out) == -1) {
		unlink(dst);
		*error_r = "queue: close of queue file failed";
		return -1;
	}
	return queue_rec_fsync_dir(dir, error_r);
}
