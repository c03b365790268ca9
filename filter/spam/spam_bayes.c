/*
 * spam_bayes.c - the Bayes classifier (spam.h): tokens, counts in the
 * index's LMDB environment, Robinson-Fisher chi-square combination.
 *
 * Tokens: words (3..24 bytes of letters, digits, 8-bit bytes and
 * "$'-_", lower-cased; longer runs become "sk:" plus their first 7
 * bytes) of the decoded text parts (HTML stripped), with "b:" bigrams
 * of neighbouring words and "C:" for words in capitals; "h:" words
 * inside the HTML tags; "p:" words of the body parts' Content-* lines
 * (the MIME structure); the decoded header fields (words and host
 * names prefixed with the field name; the Subject with bigrams too).
 * Fields that are unique per copy or that we add -- Return-Path,
 * Delivered-To, Authentication-Results, X-Spam-* -- are skipped,
 * so a lesson is the same whichever copy it came from; so are the
 * List-* fields (spam_hdr_list).  Received and Message-ID give host
 * names and addresses only ("r:", "mid:": the name, its parent
 * domains, an address's /24 and /16; our own hop, present in every
 * learned copy, is neutral); Message-ID also as its shape and Date
 * only so ("mid~", "date~": spam_shape).  "u:" plus the host of every URI.  A
 * message counts each token once (64-bit FNV-1a hashes, sorted and
 * de-duplicated; at most SPAM_TOK_MAX).
 *
 * Storage: the named database "spam.bayes" in the index environment.
 *   'T' user '\0' hash(8)  -> uint32 { spam, ham } messages with token
 *   'N' user               -> uint32 { spam, ham } messages learned
 *   'S' user '\0' sha256   -> 's' or 'h': this message was learned so
 *   'V'                    -> uint32 SPAM_BAYES_VERSION of the tokens
 * The user "" is the global set every lesson also goes to.  Counts made
 * by another tokenizer version mean nothing to this one: such a set is
 * not used (classify gives -1, learning fails) until `postern spam
 * reset` empties it.  A set with no 'V' predates it and is current.  The message
 * identity is SHA-256 of its Message-ID and body, so moving a message
 * into \Junk and back out re-classes it instead of counting it twice.
 *
 * Classification (Gary Robinson's f(w) with s = 0.2, x = 0.5, the 150
 * most extreme tokens with |f - 0.5| >= 0.1, Fisher's chi-square on
 * both tails, as SpamBayes does) uses the user's counts once they hold
 * min spam and min ham messages, else the global ones, else nothing.
 * The small s trusts rare tokens: on the SpamAssassin corpus a token
 * seen in one or two messages is worth more than the prior.  When both
 * tails are significant -- a spam relayed through a mailing list
 * carries hammy list headers and a spammy body -- chi-square says
 * 0.5 ("unsure") whatever the balance; the result then leans by up to
 * SPAM_BAYES_LEAN towards the side of the tokens' mean log-odds, so an
 * unsure message still ranks by its evidence (tests/bench/
 * spam_accuracy.py: this lifted recall at a fixed ham budget by about
 * 1.5 points).
 *
 * Owns nothing across calls but the cached dbi handle.  Threads:
 * [worker] for *_blocking (LMDB), [any] for the tokenizer.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "buf.h"
#include "idx.h"
#include "mime.h"
#include "spam.h"
#include "spam_private.h"
#include "store_private.h"
#include "xmalloc.h"

#define SPAM_BAYES_DB	"spam.bayes"
#define SPAM_TOK_MAX	8000
#define SPAM_TOK_MIN	3
#define SPAM_TOK_LONG	24
#define SPAM_BAYES_S	0.2
#define SPAM_BAYES_X	0.5
#define SPAM_BAYES_MINDEV 0.1
#define SPAM_BAYES_N	150
#define SPAM_BAYES_LEAN	0.05	/* how far the mean log-odds can move p */
#define SPAM_BAYES_LEAN_AT 0.2	/* mean log-odds that leaves p alone */
#define SPAM_USER_MAX	320
#define SPAM_BAYES_VERSION 2	/* bump whenever the tokens change */

struct spam_cnt {
	uint32_t	 spam, ham;
};

static pthread_mutex_t	 spam_dbi_lock = PTHREAD_MUTEX_INITIALIZER;
static struct idx	*spam_dbi_idx;
static MDB_dbi		 spam_dbi;

struct idx *
spam_store_idx(struct store *st)
{
	return st != NULL ? st->idx : NULL;
}

static int
spam_dbi_get(struct idx *idx, MDB_dbi *dbi_r, const char **error_r)
{
	int	 rc = 0;

	pthread_mutex_lock(&spam_dbi_lock);
	if (spam_dbi_idx != idx) {
		if ((rc = idx_env_dbi_open_blocking(idx, SPAM_BAYES_DB,
		    MDB_CREATE, &spam_dbi, error_r)) == 0)
			spam_dbi_idx = idx;
	}
	*dbi_r = spam_dbi;
	pthread_mutex_unlock(&spam_dbi_lock);
	return rc;
}

/* ---- tokens ----------------------------------------------------------- */

static bool
spam_tok_char(unsigned char c)
{
	return isalnum(c) || c >= 0x80 || c == '$' || c == '\'' ||
	    c == '-' || c == '_';
}

/*
 * Words of s, each with pfx.  With bigrams (text and Subject) also
 * "b:" plus the previous word, a space and the word, and "C:" plus the
 * word when it is written in capitals ("FREE", not "free"/"Free").
 */
static void
spam_words2(const char *pfx, const char *s, size_t len, bool bigrams,
    spam_token_fn *fn, void *arg)
{
	char	 tok[64], prev[SPAM_TOK_LONG + 11], bi[128];
	size_t	 i = 0, j, n, k, pl = strlen(pfx), tl, prevl = 0;

	while (i < len) {
		while (i < len && !spam_tok_char((unsigned char)s[i]))
			i++;
		for (j = i; j < len && spam_tok_char((unsigned char)s[j]); j++)
			;
		/* Trim quotes and dashes at the ends. */
		while (i < j && (s[i] == '\'' || s[i] == '-'))
			i++;
		n = j;
		while (n > i && (s[n - 1] == '\'' || s[n - 1] == '-'))
			n--;
		n -= i;
		if (n >= SPAM_TOK_MIN) {
			memcpy(tok, pfx, pl);
			if (n > SPAM_TOK_LONG) {
				memcpy(tok + pl, "sk:", 3);
				for (k = 0; k < 7; k++)
					tok[pl + 3 + k] = (char)tolower(
					    (unsigned char)s[i + k]);
				tl = 10;
			} else {
				for (k = 0; k < n; k++)
					tok[pl + k] = (char)tolower(
					    (unsigned char)s[i + k]);
				tl = n;
			}
			fn(arg, tok, pl + tl);
			if (bigrams && n <= SPAM_TOK_LONG) {
				for (k = 0; k < n && !islower(
				    (unsigned char)s[i + k]); k++)
					;
				if (k == n && isupper((unsigned char)s[i])) {
					memcpy(bi, "C:", 2);
					memcpy(bi + 2, tok + pl, tl);
					fn(arg, bi, 2 + tl);
				}
			}
			if (bigrams) {
				if (prevl > 0) {
					memcpy(bi, "b:", 2);
					memcpy(bi + 2, prev, prevl);
					bi[2 + prevl] = ' ';
					memcpy(bi + 3 + prevl, tok + pl, tl);
					fn(arg, bi, 3 + prevl + tl);
				}
				memcpy(prev, tok + pl, tl);
				prevl = tl;
			}
		}
		i = j;
	}
}

static void
spam_words(const char *pfx, const char *s, size_t len, spam_token_fn *fn,
    void *arg)
{
	spam_words2(pfx, s, len, false, fn, arg);
}

static bool
spam_host_char(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/*
 * Host names and IPv4 addresses in s: "pfx" plus the whole name and
 * each parent domain of two labels or more; an address also as its /24
 * and /16 ("ip:1.2.3", "ip:1.2").
 */
static void
spam_hosts(const char *pfx, const char *s, size_t len, spam_token_fn *fn,
    void *arg)
{
	char	 tok[96];
	size_t	 i = 0, j, n, k, q, pl = strlen(pfx), dots;
	bool	 num;

	while (i < len) {
		while (i < len && !spam_host_char((unsigned char)s[i]))
			i++;
		for (j = i; j < len && spam_host_char((unsigned char)s[j]); j++)
			;
		while (i < j && (s[i] == '.' || s[i] == '-'))
			i++;
		n = j;
		while (n > i && (s[n - 1] == '.' || s[n - 1] == '-'))
			n--;
		for (k = i, dots = 0, num = true; k < n; k++) {
			if (s[k] == '.')
				dots++;
			else if (!isdigit((unsigned char)s[k]))
				num = false;
		}
		if (dots == 0 || n - i < 4 || n - i + pl + 3 > sizeof(tok)) {
			i = j;
			continue;
		}
		memcpy(tok, pfx, pl);
		if (num) {
			if (dots != 3) {
				i = j;
				continue;
			}
			memcpy(tok + pl, "ip:", 3);
			memcpy(tok + pl + 3, s + i, n - i);
			fn(arg, tok, pl + 3 + n - i);
			for (k = n; k > i && dots > 1; k--)
				if (s[k - 1] == '.') {
					fn(arg, tok, pl + 3 + k - 1 - i);
					dots--;
				}
		} else {
			for (k = 0; k < n - i; k++)
				tok[pl + k] = (char)tolower(
				    (unsigned char)s[i + k]);
			fn(arg, tok, pl + n - i);
			for (k = i; k < n && dots > 1; k++)
				if (s[k] == '.') {
					dots--;
					memmove(tok + pl, tok + pl + 1 + k - i,
					    n - k - 1);
					fn(arg, tok, pl + n - k - 1);
					/* Restore for the next cut. */
					for (q = 0; q < n - i; q++)
						tok[pl + q] = (char)tolower(
						    (unsigned char)s[i + q]);
				}
		}
		i = j;
	}
}

static bool
spam_hdr_skip(const char *name, size_t len)
{
	static const char *const skip[] = { "received", "return-path",
	    "delivered-to", "x-original-to", "authentication-results",
	    "received-spf", "date", "message-id", "dkim-signature",
	    "arc-seal", "arc-message-signature", "arc-authentication-results",
	    "content-length", "lines", "status", "x-status", "x-uid" };
	size_t	 i;

	if (len >= 6 && strncasecmp(name, "x-spam", 6) == 0)
		return true;
	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (len == strlen(skip[i]) && strncasecmp(name, skip[i],
		    len) == 0)
			return true;
	return false;
}

/* Words inside the HTML tags of the decoded text parts, "h:" prefixed. */
static void
spam_html_tags(const struct spam_msg *m, spam_token_fn *fn, void *arg)
{
	const char	*s = m->rawbody.data, *end, *lt, *gt;

	if (s == NULL)
		return;
	end = s + m->rawbody.len;
	while ((lt = memchr(s, '<', (size_t)(end - s))) != NULL) {
		if ((gt = memchr(lt, '>', (size_t)(end - lt))) == NULL)
			gt = end;
		if (gt - lt > 1 && (isalpha((unsigned char)lt[1]) ||
		    lt[1] == '/'))
			spam_words("h:", lt + 1, (size_t)(gt - lt - 1), fn,
			    arg);
		s = gt;
	}
}

/*
 * The MIME structure: header lines of the body parts (Content-Type,
 * -Transfer-Encoding, -Disposition), "p:" prefixed.
 */
static void
spam_part_hdrs(const struct spam_msg *m, spam_token_fn *fn, void *arg)
{
	const char	*s = m->raw + m->hlen, *end = m->raw + m->rawlen, *nl;
	size_t		 n, cap = 200;

	while (s < end && cap > 0) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		n = (size_t)(nl - s);
		if (n > 8 && strncasecmp(s, "content-", 8) == 0) {
			spam_words("p:", s, n, fn, arg);
			cap--;
		}
		s = nl + 1;
	}
}

/*
 * The shape of a field value: letters as 'a'/'A', digits as '9', runs
 * of one class kept once, at most 40 bytes ("<9.9@a.a>").  Mailers
 * write Date and Message-ID each in their own way.
 */
static void
spam_shape(const char *pfx, const char *s, size_t len, spam_token_fn *fn,
    void *arg)
{
	char		 tok[64];
	size_t		 i, n, pl = strlen(pfx);
	unsigned char	 c;
	char		 k;

	memcpy(tok, pfx, pl);
	n = pl;
	for (i = 0; i < len && n < pl + 40; i++) {
		c = (unsigned char)s[i];
		k = isdigit(c) ? '9' : islower(c) ? 'a' : isupper(c) ? 'A' :
		    c == ' ' || c == '\t' ? ' ' : (char)c;
		if (n > pl && tok[n - 1] == k)
			continue;
		tok[n++] = k;
	}
	fn(arg, tok, n);
}

static bool
spam_hdr_is(const struct mime_header_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	    strncasecmp(f->name, name, f->name_len) == 0;
}

/*
 * Mailing-list fields.  A list's spam carries the same dozen of them as
 * its ham, tokens that all say one thing ("came through list X") and
 * outvote the body; Received hosts and To still tell the list.
 */
static bool
spam_hdr_list(const char *name, size_t len)
{
	static const char *const skip[] = { "list-help", "list-post",
	    "list-subscribe", "list-unsubscribe", "list-archive",
	    "errors-to", "x-beenthere", "x-mailman-version", "precedence",
	    "sender", "list-id" };
	size_t	 i;

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (len == strlen(skip[i]) && strncasecmp(name, skip[i],
		    len) == 0)
			return true;
	return false;
}

static void
spam_tokens_msg(const struct spam_msg *m, spam_token_fn *fn, void *arg)
{
	struct mime_header_iter	 it;
	struct mime_header_field f;
	struct buf		 u = BUF_INIT, d = BUF_INIT;
	char			 pfx[24];
	const char		*h, *e;
	size_t			 i, n;

	mime_header_iter_init(&it, m->hdr, m->hlen);
	while (mime_header_iter_next(&it, &f)) {
		if ((spam_hdr_is(&f, "received") ||
		    spam_hdr_is(&f, "message-id"))) {
			buf_reset(&u);
			mime_header_unfold(f.value, f.value_len, &u);
			spam_hosts(spam_hdr_is(&f, "received") ? "r:" : "mid:",
			    u.data != NULL ? u.data : "", u.len, fn, arg);
			if (spam_hdr_is(&f, "message-id"))
				spam_shape("mid~", u.data != NULL ? u.data :
				    "", u.len, fn, arg);
			continue;
		}
		if (spam_hdr_is(&f, "date")) {
			buf_reset(&u);
			mime_header_unfold(f.value, f.value_len, &u);
			spam_shape("date~", u.data != NULL ? u.data : "",
			    u.len, fn, arg);
			continue;
		}
		if (spam_hdr_skip(f.name, f.name_len))
			continue;
		if (spam_hdr_list(f.name, f.name_len))
			continue;
		n = f.name_len < 12 ? f.name_len : 12;
		for (i = 0; i < n; i++)
			pfx[i] = (char)tolower((unsigned char)f.name[i]);
		pfx[n] = ':';
		pfx[n + 1] = '\0';
		buf_reset(&u);
		buf_reset(&d);
		mime_header_unfold(f.value, f.value_len, &u);
		mime_decode_2047(u.data != NULL ? u.data : "", u.len, &d);
		spam_words2(pfx, d.data != NULL ? d.data : "", d.len,
		    spam_hdr_is(&f, "subject"), fn, arg);
		spam_hosts(pfx, d.data != NULL ? d.data : "", d.len,
			    fn, arg);
	}
	buf_free(&u);
	buf_free(&d);
	spam_words2("", m->text.data != NULL ? m->text.data : "",
	    m->text.len, true, fn, arg);
	spam_html_tags(m, fn, arg);
	spam_part_hdrs(m, fn, arg);
	for (i = 0; i < m->nuri; i++) {
		if ((h = strstr(m->uri[i], "://")) == NULL)
			continue;
		h += 3;
		e = h + strcspn(h, "/?#:");
		spam_words("u:", h, (size_t)(e - h), fn, arg);
		spam_hosts("u:", h, (size_t)(e - h), fn, arg);
	}
}

void
spam_tokens(const char *msg, size_t len, spam_token_fn *fn, void *arg)
{
	struct spam_msg	 m;

	spam_msg_init(&m, msg, len);
	spam_tokens_msg(&m, fn, arg);
	spam_msg_clear(&m);
}

struct spam_hashes {
	uint64_t	*h;
	size_t		 n;
};

static void
spam_hash_tok(void *arg, const char *tok, size_t len)
{
	struct spam_hashes	*hs = arg;
	uint64_t		 h = 0xcbf29ce484222325ULL;
	size_t			 i;

	if (hs->n >= SPAM_TOK_MAX * 4)
		return;
	for (i = 0; i < len; i++) {
		h ^= (unsigned char)tok[i];
		h *= 0x100000001b3ULL;
	}
	hs->h[hs->n++] = h;
}

static int
spam_u64_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Unique token hashes of a parsed message. */
static void
spam_hashes_of(const struct spam_msg *m, struct spam_hashes *hs)
{
	size_t	 i, n = 0;

	hs->h = xcalloc(SPAM_TOK_MAX * 4, sizeof(*hs->h));
	hs->n = 0;
	spam_tokens_msg(m, spam_hash_tok, hs);
	qsort(hs->h, hs->n, sizeof(*hs->h), spam_u64_cmp);
	for (i = 0; i < hs->n; i++)
		if (n == 0 || hs->h[n - 1] != hs->h[i])
			hs->h[n++] = hs->h[i];
	hs->n = n < SPAM_TOK_MAX ? n : SPAM_TOK_MAX;
}

/* ---- keys ------------------------------------------------------------- */

static size_t
spam_key(char *k, char type, const char *user, const void *tail,
    size_t tlen)
{
	size_t	 ul = user != NULL ? strlen(user) : 0, n = 0;

	if (ul > SPAM_USER_MAX)
		ul = SPAM_USER_MAX;
	k[n++] = type;
	memcpy(k + n, user != NULL ? user : "", ul);
	n += ul;
	if (tail == NULL)
		return n;
	k[n++] = '\0';
	memcpy(k + n, tail, tlen);
	return n + tlen;
}

static void
spam_cnt_get(MDB_txn *txn, MDB_dbi dbi, const char *k, size_t klen,
    struct spam_cnt *c)
{
	MDB_val	 key = { klen, (void *)(uintptr_t)k }, val;

	memset(c, 0, sizeof(*c));
	if (mdb_get(txn, dbi, &key, &val) == 0 && val.mv_size == sizeof(*c))
		memcpy(c, val.mv_data, sizeof(*c));
}

static int
spam_cnt_put(MDB_txn *txn, MDB_dbi dbi, const char *k, size_t klen,
    const struct spam_cnt *c)
{
	MDB_val	 key = { klen, (void *)(uintptr_t)k };
	MDB_val	 val = { sizeof(*c), (void *)(uintptr_t)c };
	int	 rc;

	if (c->spam == 0 && c->ham == 0) {
		rc = mdb_del(txn, dbi, &key, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	return mdb_put(txn, dbi, &key, &val, 0);
}

static void
spam_cnt_move(struct spam_cnt *c, int prev, bool spam)
{
	if (prev == 's' && c->spam > 0)
		c->spam--;
	else if (prev == 'h' && c->ham > 0)
		c->ham--;
	if (spam)
		c->spam++;
	else
		c->ham++;
}

/* ---- format version ---------------------------------------------------- */

/* The stored version (0: none recorded). */
static uint32_t
spam_version_get(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_val		 key = { 1, (void *)(uintptr_t)"V" }, val;
	uint32_t	 v = 0;

	if (mdb_get(txn, dbi, &key, &val) == 0 && val.mv_size == sizeof(v))
		memcpy(&v, val.mv_data, sizeof(v));
	return v;
}

static bool
spam_version_ok(MDB_txn *txn, MDB_dbi dbi)
{
	uint32_t	 v = spam_version_get(txn, dbi);

	return v == 0 || v == SPAM_BAYES_VERSION;
}

/* ---- learning --------------------------------------------------------- */

struct spam_learn {
	MDB_dbi			 dbi;
	const char		*user;
	const uint64_t		*h;
	size_t			 n;
	bool			 spam;
	unsigned char		 id[32];
	int			 learned;	/* out */
};

static int
spam_learn_scope(MDB_txn *txn, struct spam_learn *l, const char *user)
{
	char		 k[1 + SPAM_USER_MAX + 1 + 32];
	unsigned char	 hb[8];
	struct spam_cnt	 c;
	MDB_val		 key, val;
	size_t		 klen, i, j;
	int		 prev = 0, rc;
	char		 cls = l->spam ? 's' : 'h';

	klen = spam_key(k, 'S', user, l->id, sizeof(l->id));
	key.mv_size = klen;
	key.mv_data = k;
	if ((rc = mdb_get(txn, l->dbi, &key, &val)) == 0 && val.mv_size == 1)
		prev = *(const char *)val.mv_data;
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (prev == cls)
		return 0;
	val.mv_size = 1;
	val.mv_data = &cls;
	if ((rc = mdb_put(txn, l->dbi, &key, &val, 0)) != 0)
		return rc;
	for (i = 0; i < l->n; i++) {
		for (j = 0; j < 8; j++)
			hb[j] = (unsigned char)(l->h[i] >> (56 - 8 * j));
		klen = spam_key(k, 'T', user, hb, sizeof(hb));
		spam_cnt_get(txn, l->dbi, k, klen, &c);
		spam_cnt_move(&c, prev, l->spam);
		if ((rc = spam_cnt_put(txn, l->dbi, k, klen, &c)) != 0)
			return rc;
	}
	klen = spam_key(k, 'N', user, NULL, 0);
	spam_cnt_get(txn, l->dbi, k, klen, &c);
	spam_cnt_move(&c, prev, l->spam);
	if ((rc = spam_cnt_put(txn, l->dbi, k, klen, &c)) != 0)
		return rc;
	l->learned = 1;
	return 0;
}

static int
spam_learn_txn(MDB_txn *txn, void *arg, const char **error_r)
{
	struct spam_learn	*l = arg;
	MDB_val			 key = { 1, (void *)(uintptr_t)"V" }, val;
	uint32_t		 v = SPAM_BAYES_VERSION;
	int			 rc;

	l->learned = 0;
	if (!spam_version_ok(txn, l->dbi)) {
		*error_r = "Bayes data from another tokenizer version: run "
		    "'postern spam reset', then train again";
		return -1;
	}
	val.mv_size = sizeof(v);
	val.mv_data = &v;
	if (spam_version_get(txn, l->dbi) == 0 &&
	    (rc = mdb_put(txn, l->dbi, &key, &val, 0)) != 0)
		goto fail;
	if (l->user != NULL && l->user[0] != '\0' &&
	    (rc = spam_learn_scope(txn, l, l->user)) != 0)
		goto fail;
	if ((rc = spam_learn_scope(txn, l, "")) != 0)
		goto fail;
	return 0;
 fail:
	if (rc == MDB_MAP_FULL)
		return rc;
	*error_r = mdb_strerror(rc);
	return -1;
}

/* Identity of a message: SHA-256 of its Message-ID and body. */
static void
spam_msg_id(const struct spam_msg *m, unsigned char id[32])
{
	struct buf	 v = BUF_INIT;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	unsigned int	 n = 32;

	(void)mime_header_get(m->hdr, m->hlen, "Message-ID", &v);
	memset(id, 0, 32);
	if (ctx == NULL)
		return;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	if (v.data != NULL)
		EVP_DigestUpdate(ctx, v.data, v.len);
	EVP_DigestUpdate(ctx, "\n", 1);
	EVP_DigestUpdate(ctx, m->raw + m->hlen, m->rawlen - m->hlen);
	EVP_DigestFinal_ex(ctx, id, &n);
	EVP_MD_CTX_free(ctx);
	buf_free(&v);
}

int
spam_bayes_learn_blocking(struct idx *idx, const char *user, const char *msg,
    size_t len, bool spam, const char **error_r)
{
	struct spam_learn	 l;
	struct spam_msg		 m;
	struct spam_hashes	 hs;
	int			 rc;

	memset(&l, 0, sizeof(l));
	if (spam_dbi_get(idx, &l.dbi, error_r) == -1)
		return -1;
	spam_msg_init(&m, msg, len);
	spam_hashes_of(&m, &hs);
	spam_msg_id(&m, l.id);
	spam_msg_clear(&m);
	l.user = user;
	l.h = hs.h;
	l.n = hs.n;
	l.spam = spam;
	rc = idx_env_write_blocking(idx, spam_learn_txn, &l, error_r);
	free(hs.h);
	return rc == -1 ? -1 : l.learned;
}

static int
spam_reset_txn(MDB_txn *txn, void *arg, const char **error_r)
{
	int	 rc;

	if ((rc = mdb_drop(txn, *(MDB_dbi *)arg, 0)) != 0) {
		if (rc == MDB_MAP_FULL)
			return rc;
		*error_r = mdb_strerror(rc);
		return -1;
	}
	return 0;
}

int
spam_bayes_reset_blocking(struct idx *idx, const char **error_r)
{
	MDB_dbi	 dbi;

	if (spam_dbi_get(idx, &dbi, error_r) == -1)
		return -1;
	return idx_env_write_blocking(idx, spam_reset_txn, &dbi, error_r) ==
	    -1 ? -1 : 0;
}

/* ---- reading ---------------------------------------------------------- */

int
spam_bayes_stats_blocking(struct idx *idx, const char *user,
    uint64_t *nspam_r, uint64_t *nham_r, uint64_t *ntokens_r,
    unsigned *version_r, const char **error_r)
{
	struct idx_read	*rd;
	MDB_cursor	*cur;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 key, val;
	struct spam_cnt	 c;
	char		 k[1 + SPAM_USER_MAX + 1];
	size_t		 klen;
	int		 rc;

	*nspam_r = *nham_r = *ntokens_r = 0;
	if (spam_dbi_get(idx, &dbi, error_r) == -1 ||
	    idx_read_begin(idx, &rd, error_r) == -1)
		return -1;
	txn = idx_read_txn(rd);
	if (version_r != NULL)
		*version_r = spam_version_get(txn, dbi);
	klen = spam_key(k, 'N', user, NULL, 0);
	spam_cnt_get(txn, dbi, k, klen, &c);
	*nspam_r = c.spam;
	*nham_r = c.ham;
	if (mdb_cursor_open(txn, dbi, &cur) == 0) {
		key.mv_size = 2;
		key.mv_data = (void *)(uintptr_t)"T";	/* "T\0" */
		for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
		    rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
			if (key.mv_size != 10 ||
			    ((const char *)key.mv_data)[0] != 'T' ||
			    ((const char *)key.mv_data)[1] != '\0')
				break;
			(*ntokens_r)++;
		}
		mdb_cursor_close(cur);
	}
	idx_read_end(&rd);
	return 0;
}

/*
 * Natural log and exp, so the filter needs no libm (the build links
 * none): range reduction by powers of two, then series.  Accurate to
 * about 1e-12, far more than a token probability carries.
 */
#define SPAM_LN2	0.69314718055994530942

static double
spam_ln(double x)
{
	double	 y, y2, t, sum = 0;
	int	 k = 0, i;

	if (x <= 0)
		return -745.0;
	while (x > 1.5) {
		x /= 2;
		k++;
	}
	while (x < 0.75) {
		x *= 2;
		k--;
	}
	/* ln x = 2 atanh((x - 1) / (x + 1)) */
	y = (x - 1) / (x + 1);
	y2 = y * y;
	t = y;
	for (i = 1; i < 60; i += 2) {
		sum += t / i;
		t *= y2;
	}
	return 2 * sum + k * SPAM_LN2;
}

static double
spam_exp(double x)
{
	double	 r, t, sum = 1;
	int	 k, i;

	if (x < -745)
		return 0;
	if (x > 700)
		x = 700;
	k = (int)(x / SPAM_LN2);
	r = x - k * SPAM_LN2;
	t = 1;
	for (i = 1; i < 30; i++) {
		t *= r / i;
		sum += t;
	}
	for (; k > 0; k--)
		sum *= 2;
	for (; k < 0; k++)
		sum /= 2;
	return sum;
}

static double
spam_tanh(double x)
{
	double	 e;

	if (x > 20)
		return 1;
	if (x < -20)
		return -1;
	e = spam_exp(2 * x);
	return (e - 1) / (e + 1);
}

static double
spam_fabs(double x)
{
	return x < 0 ? -x : x;
}

/* Fisher: P(chi2 >= x2) with v (even) degrees of freedom. */
static double
spam_chi2q(double x2, size_t v)
{
	double	 m = x2 / 2.0, sum, term;
	size_t	 i;

	sum = term = spam_exp(-m);
	for (i = 1; i < v / 2; i++) {
		term *= m / (double)i;
		sum += term;
	}
	return sum < 1.0 ? sum : 1.0;
}

static int
spam_dist_cmp(const void *a, const void *b)
{
	double	 x = spam_fabs(*(const double *)a - 0.5);
	double	 y = spam_fabs(*(const double *)b - 0.5);

	return x > y ? -1 : x < y;
}

double
spam_bayes_classify_blocking(struct idx *idx, const char *user,
    const char *msg, size_t len, unsigned min)
{
	struct idx_read		*rd;
	struct spam_msg		 m;
	struct spam_hashes	 hs;
	struct spam_cnt		 tot, c;
	const char		*e, *scope = "";
	MDB_txn			*txn;
	MDB_dbi			 dbi;
	unsigned char		 hb[8];
	char			 k[1 + SPAM_USER_MAX + 1 + 8];
	double			*f, ps, ph, p, lean, H = 0, S = 0;
	size_t			 i, j, n = 0, klen;

	if (idx == NULL || spam_dbi_get(idx, &dbi, &e) == -1 ||
	    idx_read_begin(idx, &rd, &e) == -1)
		return -1;
	txn = idx_read_txn(rd);
	if (!spam_version_ok(txn, dbi)) {
		idx_read_end(&rd);
		return -1;
	}
	if (user != NULL && user[0] != '\0') {
		klen = spam_key(k, 'N', user, NULL, 0);
		spam_cnt_get(txn, dbi, k, klen, &tot);
		if (tot.spam >= min && tot.ham >= min)
			scope = user;
	}
	if (scope[0] == '\0') {
		klen = spam_key(k, 'N', "", NULL, 0);
		spam_cnt_get(txn, dbi, k, klen, &tot);
	}
	if (tot.spam < min || tot.ham < min || tot.spam == 0 ||
	    tot.ham == 0) {
		idx_read_end(&rd);
		return -1;
	}
	spam_msg_init(&m, msg, len);
	spam_hashes_of(&m, &hs);
	spam_msg_clear(&m);
	f = xcalloc(hs.n + 1, sizeof(*f));
	for (i = 0; i < hs.n; i++) {
		for (j = 0; j < 8; j++)
			hb[j] = (unsigned char)(hs.h[i] >> (56 - 8 * j));
		klen = spam_key(k, 'T', scope, hb, sizeof(hb));
		spam_cnt_get(txn, dbi, k, klen, &c);
		if (c.spam == 0 && c.ham == 0)
			continue;
		ps = (double)c.spam / tot.spam;
		ph = (double)c.ham / tot.ham;
		p = ps / (ps + ph);
		p = (SPAM_BAYES_S * SPAM_BAYES_X + (c.spam + c.ham) * p) /
		    (SPAM_BAYES_S + c.spam + c.ham);
		if (spam_fabs(p - 0.5) >= SPAM_BAYES_MINDEV)
			f[n++] = p;
	}
	idx_read_end(&rd);
	free(hs.h);
	if (n == 0) {
		free(f);
		return 0.5;
	}
	qsort(f, n, sizeof(*f), spam_dist_cmp);
	if (n > SPAM_BAYES_N)
		n = SPAM_BAYES_N;
	for (i = 0; i < n; i++) {
		H += spam_ln(f[i]);
		S += spam_ln(1.0 - f[i]);
	}
	free(f);
	/* Mean log-odds of the tokens used, then SpamBayes chi2_spamprob. */
	lean = SPAM_BAYES_LEAN * spam_tanh((H - S) / (double)n -
	    SPAM_BAYES_LEAN_AT);
	S = 1.0 - spam_chi2q(-2.0 * S, 2 * n);
	H = 1.0 - spam_chi2q(-2.0 * H, 2 * n);
	p = (S - H + 1.0) / 2.0 + lean;
	return p < 0 ? 0 : p > 1 ? 1 : p;
}
