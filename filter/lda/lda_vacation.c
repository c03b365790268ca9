/*
 * lda_vacation.c - the messages Sieve makes on its own: vacation
 * auto-replies (RFC 5230, RFC 6131 :seconds, RFC 3834) and rejection
 * reports for reject/ereject (RFC 5429).  Builds each message as CRLF
 * bytes for the caller to queue with the null sender (RFC 5321 4.5.5,
 * RFC 3834 3.3), and keeps the vacation response tracking in the named
 * LMDB database "vacation" of the index environment.
 *
 * Why a report and not an SMTP reply for reject: Sieve runs after DATA
 * was accepted for every recipient of the transaction, and SMTP can only
 * answer once for all of them (per-recipient replies after DATA need
 * LMTP, RFC 2033).  So reject and ereject both send an MDN-style
 * rejection message (RFC 5429 2.1.1, RFC 8098) to the envelope sender
 * and the message is not stored.  With a null sender no report is made
 * (RFC 5429 2.1.2) and the message is discarded.
 *
 * Tracking record: key "user\0handle\0sender" (user and sender lower-
 * cased), value the time (seconds since the epoch, 8 bytes, host order)
 * until which no further reply goes to that sender for that handle
 * (RFC 5230 4.2).  The record is reserved in the same write transaction
 * that checks it, so two deliveries at once never both reply; a reply
 * the queue refuses releases it (lda_vacation_forget_blocking).  Expired
 * records are swept at most once an hour, a bounded number per pass.
 *
 * Both kinds are DKIM-signed (lda_vacation_sign_blocking, filter_sign.c)
 * when their From domain is one we hold keys for: a vacation reply comes
 * From the user (or :from), a report From the account.
 *
 * Owns nothing across calls except the database handle.  Threads: every
 * function here runs on a worker [worker] (file reads, LMDB writes).
 */
#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "b64.h"
#include "buf.h"
#include "conf.h"
#include "filter.h"
#include "idx.h"
#include "lda.h"
#include "log.h"
#include "mime.h"
#include "xmalloc.h"

#define LDA_VAC_DB		"vacation"
#define LDA_VAC_HDR_MAX		(256 * 1024)	/* header section we read */
#define LDA_VAC_SWEEP_EVERY	3600		/* seconds between sweeps */
#define LDA_VAC_SWEEP_MAX	1000		/* records deleted per sweep */
#define LDA_VAC_KEY_MAX		500		/* LMDB default max key size */

static pthread_mutex_t	 lda_vac_lock = PTHREAD_MUTEX_INITIALIZER;
static struct idx	*lda_vac_idx;	/* the env lda_vac_dbi belongs to */
static MDB_dbi		 lda_vac_dbi;
static time_t		 lda_vac_swept;	/* under the index write lock */

/*
 * The database handle, opened once per index (the daemon has one index
 * per process; a test that reopens one gets the same handle slot).
 */
static int
lda_vac_db(struct idx *idx, MDB_dbi *dbi_r, const char **error_r)
{
	int	 rc = 0;

	pthread_mutex_lock(&lda_vac_lock);
	if (lda_vac_idx != idx) {
		rc = idx_env_dbi_open_blocking(idx, LDA_VAC_DB, MDB_CREATE,
		    &lda_vac_dbi, error_r);
		if (rc == 0)
			lda_vac_idx = idx;
	}
	*dbi_r = lda_vac_dbi;
	pthread_mutex_unlock(&lda_vac_lock);
	return rc;
}

/* The header section of the message in path, CRLF or LF, NUL-ended. */
static char *
lda_vac_headers(const char *path, size_t *len_r)
{
	char	*h, *end;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd;

	*len_r = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	h = xmalloc(LDA_VAC_HDR_MAX + 1);
	while (len < LDA_VAC_HDR_MAX) {
		n = read(fd, h + len, LDA_VAC_HDR_MAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	h[len] = '\0';
	if ((end = strstr(h, "\r\n\r\n")) != NULL)
		len = (size_t)(end - h) + 2;
	else if ((end = strstr(h, "\n\n")) != NULL)
		len = (size_t)(end - h) + 1;
	else if (len > 0 && (end = strrchr(h, '\n')) != NULL)
		len = (size_t)(end - h) + 1;	/* cut at a line end */
	h[len] = '\0';
	*len_r = len;
	return h;
}

/* First field name, unfolded and trimmed, malloced; NULL if absent. */
static char *
lda_vac_field(const char *hdr, size_t len, const char *name)
{
	struct buf	 b;
	char		*s;
	size_t		 n;

	buf_init(&b, 0);
	if (!mime_header_get(hdr, len, name, &b)) {
		buf_free(&b);
		return NULL;
	}
	buf_putc(&b, '\0');
	s = buf_steal(&b, &n);
	buf_free(&b);
	return s;
}

/* Copy s into b without CR, LF or NUL: no header injection. */
static void
lda_vac_put_clean(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		buf_putc(b, *s == '\r' || *s == '\n' ? ' ' : *s);
}

static bool
lda_vac_ascii(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/*
 * An unstructured header value from the script: as is when ASCII, else
 * RFC 2047 encoded words ("B", UTF-8), cut at character boundaries so
 * each word stays within 75 octets (RFC 2047 2).
 */
static void
lda_vac_put_text(struct buf *b, const char *s)
{
	size_t	 len = strlen(s), i = 0, n;

	if (lda_vac_ascii(s, len)) {
		lda_vac_put_clean(b, s);
		return;
	}
	while (i < len) {
		/* 45 octets of input is 60 of base64: 72 with the markers. */
		n = len - i > 45 ? 45 : len - i;
		while (n > 1 && i + n < len &&
		    ((unsigned char)s[i + n] & 0xc0) == 0x80)
			n--;
		if (i > 0)
			buf_puts(b, "\r\n ");
		buf_puts(b, "=?UTF-8?B?");
		b64_encode(s + i, n, b);
		buf_puts(b, "?=");
		i += n;
	}
}

/* RFC 5322 3.3 date-time in the C locale, whatever the process locale. */
static void
lda_vac_date(struct buf *b, time_t t)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	 tm;

	gmtime_r(&t, &tm);
	buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    wd[tm.tm_wday % 7], tm.tm_mday, mo[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Date, Message-ID and the other fields every message of ours has. */
static void
lda_vac_common(struct buf *b, const struct conf *conf, time_t now,
    const char *auto_submitted)
{
	uint8_t		 rnd[12];
	const char	*fqdn;
	size_t		 i;

	fqdn = conf->fqdn != NULL && conf->fqdn[0] != '\0' ? conf->fqdn :
	    "localhost";
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		arc4random_buf(rnd, sizeof(rnd));
	buf_puts(b, "Date: ");
	lda_vac_date(b, now);
	buf_printf(b, "\r\nMessage-ID: <%" PRId64 ".", (int64_t)now);
	for (i = 0; i < sizeof(rnd); i++)
		buf_printf(b, "%02x", rnd[i]);
	buf_printf(b, "@%s>\r\n", fqdn);
	/* RFC 3834 5: never answered by another responder. */
	buf_printf(b, "Auto-Submitted: %s\r\n", auto_submitted);
	buf_puts(b, "MIME-Version: 1.0\r\n");
}

/* Append text with every line end made CRLF. */
static void
lda_vac_put_crlf(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\r' && s[1] == '\n')
			continue;
		if (*s == '\n' || *s == '\r')
			buf_puts(b, "\r\n");
		else
			buf_putc(b, *s);
	}
}

/*
 * A text/plain UTF-8 body: 7bit when it is ASCII with short lines, else
 * base64, so the message needs no 8BITMIME (RFC 6152) on the way out.
 */
static void
lda_vac_text_body(struct buf *b, const char *text)
{
	struct buf	 crlf, enc;
	size_t		 i, line = 0, maxline = 0;

	buf_init(&crlf, 0);
	lda_vac_put_crlf(&crlf, text);
	for (i = 0; i < crlf.len; i++) {
		if (crlf.data[i] == '\n')
			line = 0;
		else if (++line > maxline)
			maxline = line;
	}
	buf_puts(b, "Content-Type: text/plain; charset=utf-8\r\n");
	if (lda_vac_ascii(crlf.data, crlf.len) && maxline <= 900) {
		buf_puts(b, "Content-Transfer-Encoding: 7bit\r\n\r\n");
		buf_append(b, crlf.data, crlf.len);
		if (crlf.len > 0 && crlf.data[crlf.len - 1] != '\n')
			buf_puts(b, "\r\n");
	} else {
		buf_puts(b, "Content-Transfer-Encoding: base64\r\n\r\n");
		buf_init(&enc, 0);
		b64_encode(crlf.data, crlf.len, &enc);
		for (i = 0; i < enc.len; i += 76) {
			buf_append(b, enc.data + i,
			    enc.len - i > 76 ? 76 : enc.len - i);
			buf_puts(b, "\r\n");
		}
		buf_free(&enc);
	}
	buf_free(&crlf);
}

/* local@domain lower-cased, with a subaddress (+tag) removed if delim. */
static char *
lda_vac_norm(const char *local, const char *domain, char delim)
{
	char	*s, *p, *at;

	s = xasprintf("%s@%s", local, domain != NULL ? domain : "");
	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (delim != '\0' && (at = strrchr(s, '@')) != NULL &&
	    (p = memchr(s, delim, (size_t)(at - s))) != NULL && p != s)
		memmove(p, at, strlen(at) + 1);
	return s;
}

/* A bare address (no angle brackets or display name) normalised. */
static char *
lda_vac_norm_addr(const char *addr, char delim)
{
	struct mime_addr	*l = NULL;
	size_t			 n = 0, i;
	char			*s = NULL;

	mime_addr_parse_list(addr, strlen(addr), &l, &n);
	for (i = 0; i < n && s == NULL; i++)
		if (l[i].kind == MIME_ADDR_MAILBOX && l[i].mailbox != NULL)
			s = lda_vac_norm(l[i].mailbox, l[i].domain, delim);
	mime_addr_free_list(&l, n);
	return s;
}

/*
 * RFC 5230 4.5: is one of the user's addresses in To, Cc, Bcc or their
 * Resent- forms?  mine[] are normalised.
 */
static bool
lda_vac_addressed(const char *hdr, size_t len, char *const *mine,
    size_t nmine, char delim)
{
	static const char *const names[] = { "to", "cc", "bcc", "resent-to",
	    "resent-cc", "resent-bcc" };
	struct mime_header_iter	 it;
	struct mime_header_field f;
	struct mime_addr	*l;
	struct buf		 v;
	char			*a;
	size_t			 i, k, n, m;
	bool			 hit = false;

	buf_init(&v, 0);
	mime_header_iter_init(&it, hdr, len);
	while (!hit && mime_header_iter_next(&it, &f)) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (f.name_len == strlen(names[i]) &&
			    strncasecmp(f.name, names[i], f.name_len) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			continue;
		buf_reset(&v);
		mime_header_unfold(f.value, f.value_len, &v);
		l = NULL;
		n = 0;
		mime_addr_parse_list(v.data != NULL ? v.data : "", v.len, &l,
		    &n);
		for (k = 0; k < n && !hit; k++) {
			if (l[k].kind != MIME_ADDR_MAILBOX ||
			    l[k].mailbox == NULL)
				continue;
			a = lda_vac_norm(l[k].mailbox, l[k].domain, delim);
			for (m = 0; m < nmine && !hit; m++)
				hit = strcmp(a, mine[m]) == 0;
			free(a);
		}
		mime_addr_free_list(&l, n);
	}
	buf_free(&v);
	return hit;
}

/* RFC 5230 4.6 / RFC 3834 2: senders that are programs, not people. */
static const char *
lda_vac_sender_bad(const char *env_from)
{
	const char	*at = strrchr(env_from, '@');
	size_t		 llen = at != NULL ? (size_t)(at - env_from) :
			    strlen(env_from);

	if (env_from[0] == '\0')
		return "null sender";
	if ((llen == 13 && strncasecmp(env_from, "mailer-daemon", 13) == 0) ||
	    (llen == 8 && strncasecmp(env_from, "listserv", 8) == 0) ||
	    (llen == 9 && strncasecmp(env_from, "majordomo", 9) == 0))
		return "sender is a mail program";
	if (llen >= 6 && strncasecmp(env_from, "owner-", 6) == 0)
		return "sender is a list owner";
	if (llen >= 8 && strncasecmp(env_from + llen - 8, "-request", 8) == 0)
		return "sender is a list request address";
	if (llen >= 6 && strncasecmp(env_from + llen - 6, "-owner", 6) == 0)
		return "sender is a list owner";
	return NULL;
}

/* RFC 3834 2, RFC 2369, RFC 2919: automatic or list mail. */
static const char *
lda_vac_header_bad(const char *hdr, size_t len)
{
	static const char *const lists[] = { "List-Id", "List-Post",
	    "List-Unsubscribe", "List-Subscribe", "List-Help", "List-Owner",
	    "List-Archive" };
	char	*v;
	size_t	 i, n;
	bool	 bad;

	if ((v = lda_vac_field(hdr, len, "Auto-Submitted")) != NULL) {
		n = strcspn(v, " \t;(");
		bad = !(n == 2 && strncasecmp(v, "no", 2) == 0);
		free(v);
		if (bad)
			return "Auto-Submitted";
	}
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if ((v = lda_vac_field(hdr, len, lists[i])) != NULL) {
			free(v);
			return "mailing list";
		}
	if ((v = lda_vac_field(hdr, len, "Precedence")) != NULL) {
		bad = strcasecmp(v, "bulk") == 0 ||
		    strcasecmp(v, "list") == 0 || strcasecmp(v, "junk") == 0;
		free(v);
		if (bad)
			return "Precedence";
	}
	return NULL;
}

struct lda_vac_txn {
	MDB_dbi		 dbi;
	const char	*key;
	size_t		 klen;
	uint64_t	 now;
	uint64_t	 until;		/* 0: forget the record */
	bool		 recent;	/* out: a reply went out lately */
};

/* Delete a bounded number of expired records (called in a write txn). */
static int
lda_vac_sweep(MDB_txn *txn, struct lda_vac_txn *t)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	uint64_t	 until;
	size_t		 n = 0;
	int		 rc;

	if (mdb_cursor_open(txn, t->dbi, &cur) != 0)
		return 0;
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0 && n < LDA_VAC_SWEEP_MAX) {
		if (v.mv_size == sizeof(until)) {
			memcpy(&until, v.mv_data, sizeof(until));
			if (until > t->now)
				goto next;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		n++;
next:
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_MAP_FULL)
		return rc;
	if (n > 0)
		log_info("lda vacation sweep expired=%zu", n);
	return 0;
}

static int
lda_vac_txn(MDB_txn *txn, void *arg, const char **error_r)
{
	struct lda_vac_txn	*t = arg;
	MDB_val			 k, v;
	uint64_t		 until;
	int			 rc;

	t->recent = false;
	k.mv_data = (void *)(uintptr_t)t->key;
	k.mv_size = t->klen;
	if (t->until == 0) {
		rc = mdb_del(txn, t->dbi, &k, NULL);
		if (rc == MDB_MAP_FULL)
			return rc;
		return 0;
	}
	rc = mdb_get(txn, t->dbi, &k, &v);
	if (rc == 0 && v.mv_size == sizeof(until)) {
		memcpy(&until, v.mv_data, sizeof(until));
		if (until > t->now) {
			t->recent = true;
			return -1;	/* nothing to write: abort */
		}
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = mdb_strerror(rc);
		return -1;
	}
	v.mv_data = &t->until;
	v.mv_size = sizeof(t->until);
	if ((rc = mdb_put(txn, t->dbi, &k, &v, 0)) != 0) {
		if (rc == MDB_MAP_FULL)
			return rc;
		*error_r = mdb_strerror(rc);
		return -1;
	}
	/* The write lock is held: lda_vac_swept needs no lock of its own. */
	if ((time_t)t->now - lda_vac_swept >= LDA_VAC_SWEEP_EVERY) {
		if ((rc = lda_vac_sweep(txn, t)) != 0)
			return rc;
		lda_vac_swept = (time_t)t->now;
	}
	return 0;
}

/* "user\0handle\0sender", lower-cased user and sender; NULL if too long. */
static char *
lda_vac_key(const char *account, const char *handle, const char *sender,
    size_t *len_r)
{
	size_t	 ul = strlen(account), hl = strlen(handle), sl = strlen(sender);
	size_t	 i;
	char	*k;

	if (ul + hl + sl + 2 > LDA_VAC_KEY_MAX)
		return NULL;
	k = xmalloc(ul + hl + sl + 3);
	for (i = 0; i < ul; i++)
		k[i] = (char)tolower((unsigned char)account[i]);
	k[ul] = '\0';
	memcpy(k + ul + 1, handle, hl + 1);
	for (i = 0; i < sl; i++)
		k[ul + hl + 2 + i] = (char)tolower((unsigned char)sender[i]);
	k[ul + hl + 2 + sl] = '\0';
	*len_r = ul + hl + sl + 2;
	return k;
}

/*
 * Check the record and reserve it: 1 when a reply may go out now (the
 * record then says "until now + seconds"), 0 when one went out within
 * the interval, -1 on an index error.
 */
static int
lda_vac_reserve(struct idx *idx, const char *account, const char *handle,
    const char *sender, uint64_t seconds, time_t now, const char **error_r)
{
	struct lda_vac_txn	 t;
	const char		*e = NULL;
	char			*key;
	int			 rc;

	memset(&t, 0, sizeof(t));
	if (lda_vac_db(idx, &t.dbi, error_r) == -1)
		return -1;
	if ((key = lda_vac_key(account, handle, sender, &t.klen)) == NULL) {
		*error_r = "tracking key too long";
		return -1;
	}
	t.key = key;
	t.now = (uint64_t)now;
	t.until = (uint64_t)now + seconds;
	rc = idx_env_write_blocking(idx, lda_vac_txn, &t, &e);
	free(key);
	if (t.recent)
		return 0;
	if (rc == -1) {
		*error_r = e != NULL ? e : "index write failed";
		return -1;
	}
	return 1;
}

void
lda_vacation_forget_blocking(struct idx *idx, const char *account,
    const char *handle, const char *sender)
{
	struct lda_vac_txn	 t;
	const char		*e = NULL;
	char			*key;

	memset(&t, 0, sizeof(t));
	if (idx == NULL || lda_vac_db(idx, &t.dbi, &e) == -1 ||
	    (key = lda_vac_key(account, handle, sender, &t.klen)) == NULL)
		return;
	t.key = key;
	if (idx_env_write_blocking(idx, lda_vac_txn, &t, &e) == -1)
		log_warn("lda vacation user=%s forget failed error=\"%s\"",
		    account, e != NULL ? e : "unknown");
	free(key);
}

char *
lda_vacation_reply_blocking(const struct conf *conf, struct idx *idx,
    const char *account, const char *path, const char *env_from,
    const struct lda_result *r, size_t *len_r, const char **why_r)
{
	struct buf	 b;
	char		*hdr, *subj = NULL, *msgid = NULL, *refs = NULL;
	char		**mine, *s;
	const char	*why = NULL, *e = NULL, *body;
	char		 delim;
	size_t		 hlen, nmine = 0, i, len;
	time_t		 now = time(NULL);
	int		 rc;

	*len_r = 0;
	*why_r = NULL;
	delim = conf->recipient_delimiter != NULL ?
	    conf->recipient_delimiter[0] : '\0';
	if ((why = lda_vac_sender_bad(env_from)) != NULL) {
		*why_r = why;
		return NULL;
	}
	if ((hdr = lda_vac_headers(path, &hlen)) == NULL) {
		*why_r = "cannot read the message";
		return NULL;
	}
	if ((why = lda_vac_header_bad(hdr, hlen)) != NULL) {
		free(hdr);
		*why_r = why;
		return NULL;
	}
	/* The user's addresses: the account and :addresses (RFC 5230 4.5). */
	mine = xcalloc(r->nvac_addresses + 2, sizeof(*mine));
	if ((s = lda_vac_norm_addr(account, delim)) != NULL)
		mine[nmine++] = s;
	for (i = 0; i < r->nvac_addresses; i++)
		if ((s = lda_vac_norm_addr(r->vac_addresses[i], delim)) !=
		    NULL)
			mine[nmine++] = s;
	if (!lda_vac_addressed(hdr, hlen, mine, nmine, delim))
		why = "not addressed to the user in To/Cc/Bcc";
	else if ((s = lda_vac_norm_addr(env_from, delim)) != NULL) {
		/* Never answer ourselves (a loop through our own reply). */
		for (i = 0; i < nmine && why == NULL; i++)
			if (strcmp(s, mine[i]) == 0)
				why = "sender is the user";
		free(s);
	}
	for (i = 0; i < nmine; i++)
		free(mine[i]);
	free(mine);
	if (why != NULL) {
		free(hdr);
		*why_r = why;
		return NULL;
	}
	if (r->vac_seconds > 0) {
		rc = lda_vac_reserve(idx, account, r->vac_handle, env_from,
		    r->vac_seconds, now, &e);
		if (rc <= 0) {
			free(hdr);
			if (rc == -1)
				log_warn("lda vacation user=%s tracking "
				    "error=\"%s\"", account, e);
			*why_r = rc == 0 ? "already replied within the "
			    "interval" : "response tracking failed";
			return NULL;
		}
	}
	subj = lda_vac_field(hdr, hlen, "Subject");
	msgid = lda_vac_field(hdr, hlen, "Message-ID");
	refs = lda_vac_field(hdr, hlen, "References");
	if (refs == NULL)
		refs = lda_vac_field(hdr, hlen, "In-Reply-To");
	free(hdr);

	buf_init(&b, 0);
	buf_puts(&b, "From: ");
	lda_vac_put_clean(&b, r->vac_from != NULL && r->vac_from[0] != '\0' ?
	    r->vac_from : account);
	buf_puts(&b, "\r\nTo: <");
	lda_vac_put_clean(&b, env_from);
	buf_puts(&b, ">\r\nSubject: ");
	if (r->vac_subject != NULL)
		lda_vac_put_text(&b, r->vac_subject);
	else {
		/* RFC 5230 4.3: "Auto:" and the original subject. */
		buf_puts(&b, "Auto: ");
		lda_vac_put_clean(&b, subj != NULL ? subj : "");
	}
	buf_puts(&b, "\r\n");
	/* RFC 3834 3.1.5, 3.1.6. */
	if (msgid != NULL && msgid[0] != '\0') {
		buf_puts(&b, "In-Reply-To: ");
		lda_vac_put_clean(&b, msgid);
		buf_puts(&b, "\r\nReferences: ");
		if (refs != NULL && refs[0] != '\0') {
			lda_vac_put_clean(&b, refs);
			buf_puts(&b, "\r\n ");
		}
		lda_vac_put_clean(&b, msgid);
		buf_puts(&b, "\r\n");
	}
	lda_vac_common(&b, conf, now, "auto-replied (vacation)");
	if (r->vac_mime) {
		/* RFC 5230 4.4: the reason is a whole MIME entity. */
		body = r->vac_text != NULL ? r->vac_text : "";
		lda_vac_put_crlf(&b, body);
		len = strlen(body);
		if (len > 0 && body[len - 1] != '\n')
			buf_puts(&b, "\r\n");
	} else
		lda_vac_text_body(&b, r->vac_text != NULL ? r->vac_text : "");
	free(subj);
	free(msgid);
	free(refs);
	s = buf_steal(&b, len_r);
	buf_free(&b);
	return s;
}

char *
lda_vacation_reject_blocking(const struct conf *conf, const char *account,
    const char *path, const char *env_from, const char *reason,
    size_t *len_r)
{
	struct buf	 b, txt;
	char		*hdr, *msgid, *subj, *s;
	const char	*fqdn;
	uint8_t		 rnd[8];
	char		 bnd[40];
	size_t		 hlen, i;
	time_t		 now = time(NULL);

	*len_r = 0;
	fqdn = conf->fqdn != NULL && conf->fqdn[0] != '\0' ? conf->fqdn :
	    "localhost";
	if ((hdr = lda_vac_headers(path, &hlen)) == NULL)
		hdr = xstrdup("");
	msgid = lda_vac_field(hdr, hlen, "Message-ID");
	subj = lda_vac_field(hdr, hlen, "Subject");
	arc4random_buf(rnd, sizeof(rnd));
	snprintf(bnd, sizeof(bnd), "=_postern-%02x%02x%02x%02x%02x%02x%02x"
	    "%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
	    rnd[7]);

	buf_init(&b, 0);
	buf_puts(&b, "From: <");
	lda_vac_put_clean(&b, account);
	buf_puts(&b, ">\r\nTo: <");
	lda_vac_put_clean(&b, env_from);
	buf_puts(&b, ">\r\nSubject: Automatically rejected mail\r\n");
	if (msgid != NULL && msgid[0] != '\0') {
		buf_puts(&b, "In-Reply-To: ");
		lda_vac_put_clean(&b, msgid);
		buf_puts(&b, "\r\n");
	}
	lda_vac_common(&b, conf, now, "auto-replied (rejected)");
	/* RFC 6522 multipart/report, RFC 8098 MDN (RFC 5429 2.1.1). */
	buf_printf(&b, "Content-Type: multipart/report; "
	    "report-type=disposition-notification;\r\n\tboundary=\"%s\"\r\n"
	    "\r\nThis is a MIME-encapsulated message.\r\n\r\n--%s\r\n", bnd,
	    bnd);
	buf_init(&txt, 0);
	buf_printf(&txt, "Your message to <%s> was automatically rejected "
	    "by Sieve, a mail filtering language.\n", account);
	if (subj != NULL)
		buf_printf(&txt, "Subject of your message: %s\n", subj);
	buf_printf(&txt, "\nThe following reason was given:\n%s\n",
	    reason != NULL ? reason : "");
	buf_putc(&txt, '\0');
	lda_vac_text_body(&b, txt.data);
	buf_free(&txt);
	buf_printf(&b, "\r\n--%s\r\nContent-Type: "
	    "message/disposition-notification\r\n\r\n", bnd);
	buf_printf(&b, "Reporting-UA: %s; postern Sieve\r\n", fqdn);
	buf_puts(&b, "Final-Recipient: rfc822; ");
	lda_vac_put_clean(&b, account);
	buf_puts(&b, "\r\n");
	if (msgid != NULL && msgid[0] != '\0') {
		buf_puts(&b, "Original-Message-ID: ");
		lda_vac_put_clean(&b, msgid);
		buf_puts(&b, "\r\n");
	}
	buf_puts(&b, "Disposition: automatic-action/MDN-sent-automatically; "
	    "deleted\r\n");
	/* RFC 6522 3: the original header section, CRLF, 7bit or not. */
	buf_printf(&b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n",
	    bnd);
	for (i = 0; i < hlen; i++) {
		if (hdr[i] == '\n' && (i == 0 || hdr[i - 1] != '\r'))
			buf_putc(&b, '\r');
		buf_putc(&b, hdr[i]);
	}
	buf_printf(&b, "\r\n--%s--\r\n", bnd);
	free(hdr);
	free(msgid);
	free(subj);
	s = buf_steal(&b, len_r);
	buf_free(&b);
	return s;
}

void
lda_vacation_sign_blocking(struct gen *g, const char *account, char **data,
    size_t *len)
{
	const char	*e = NULL;

	if (g == NULL || *data == NULL)
		return;
	if (filter_sign_prepend_blocking(g, data, len, &e) == -1)
		log_warn("lda sieve user=%s dkim-sign error=\"%s\"", account,
		    e != NULL ? e : "failed");
}
