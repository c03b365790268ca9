/*
 * test_dkim.c - filter/dkim: tag lists, canonicalization vectors
 * (RFC 6376 3.4.5), sign/verify round trips with RSA and Ed25519 in all
 * four canonicalizations over many message shapes, cross-checked with
 * dkimpy (shared/external/dkim-verify.py, skipped when absent), dkimpy-
 * signed fixtures, the RFC 8463 example, tampering, key errors, key
 * files and Authentication-Results text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "buf.h"
#include "dkim.h"
#include "xmalloc.h"

#define DATA		TEST_DATA_DIR "/dkim"
#define VERIFY_PY	TEST_DATA_DIR "/../../../shared/external/dkim-verify.py"
#define PYTHON		"/usr/bin/python3"
#define T_SIGN		1767225600	/* 2026-01-01 */

/* ---- helpers ------------------------------------------------------------ */

static char *
slurp(const char *path, size_t *len_r)
{
	FILE	*fp;
	char	*p;
	long	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	p = xmalloc((size_t)n + 1);
	assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
	p[n] = '\0';
	fclose(fp);
	*len_r = (size_t)n;
	return p;
}

struct keytab {
	size_t	 n;
	char	*name[16];
	char	*txt[16];
	char	*tempfail;	/* this name fails temporarily */
	int	 calls;
};

/* Read a dkim-verify.py KEYS file: "name value", quoted strings joined. */
static void
keytab_load(struct keytab *kt, const char *path)
{
	size_t		 len;
	char		*all = slurp(path, &len), *line, *save = NULL, *sp, *q;
	struct buf	 v;
	int		 depth = 0;

	/* A ( ... ) record spans lines: join them. */
	for (q = all; *q != '\0'; q++) {
		if (*q == '(')
			depth++;
		else if (*q == ')')
			depth--;
		else if (*q == '\n' && depth > 0)
			*q = ' ';
	}
	for (line = strtok_r(all, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if ((sp = strpbrk(line, " \t")) == NULL)
			continue;
		*sp++ = '\0';
		buf_init(&v, 0);
		if (strchr(sp, '"') != NULL) {
			for (q = strchr(sp, '"'); q != NULL;) {
				char *e = strchr(q + 1, '"');
				if (e == NULL)
					break;
				buf_append(&v, q + 1, (size_t)(e - q - 1));
				q = strchr(e + 1, '"');
			}
		} else {
			while (*sp == ' ' || *sp == '\t')
				sp++;
			buf_puts(&v, sp);
		}
		if (line[strlen(line) - 1] == '.')
			line[strlen(line) - 1] = '\0';
		assert_true(kt->n < 16);
		kt->name[kt->n] = xstrdup(line);
		kt->txt[kt->n++] = buf_steal(&v, NULL);
	}
	free(all);
}

static void
keytab_add(struct keytab *kt, const char *name, const char *txt)
{
	kt->name[kt->n] = xstrdup(name);
	kt->txt[kt->n++] = xstrdup(txt);
}

static void
keytab_free(struct keytab *kt)
{
	size_t	 i;

	for (i = 0; i < kt->n; i++) {
		free(kt->name[i]);
		free(kt->txt[i]);
	}
	kt->n = 0;
}

static enum dkim_dns
keytab_lookup(const char *name, void *arg, char **txt_r)
{
	struct keytab	*kt = arg;
	size_t		 i;

	kt->calls++;
	if (kt->tempfail != NULL && strcasecmp(name, kt->tempfail) == 0)
		return DKIM_DNS_TEMPFAIL;
	for (i = 0; i < kt->n; i++)
		if (strcasecmp(kt->name[i], name) == 0) {
			*txt_r = xstrdup(kt->txt[i]);
			return DKIM_DNS_OK;
		}
	return DKIM_DNS_NONE;
}

static EVP_PKEY *
load_key(const char *file)
{
	char		 path[512];
	EVP_PKEY	*k;
	const char	*err;

	snprintf(path, sizeof(path), "%s/%s", DATA, file);
	if (dkim_key_load(path, &k, &err) != 0)
		fail_msg("%s: %s", path, err);
	return k;
}

/* Verify msg with kt; check count and that every result is want. */
static void
verify_all(const char *msg, size_t len, struct keytab *kt, size_t nwant,
    enum dkim_status want)
{
	struct dkim_result	*r;
	size_t			 n, i;

	dkim_verify_message(msg, len, time(NULL), keytab_lookup, kt, &r, &n);
	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++) {
		if (r[i].status != want)
			fail_msg("sig %zu: %s (%s), wanted %s", i, r[i].ar,
			    r[i].reason, dkim_status_name(want));
	}
	dkim_results_free(&r, n);
}

static bool
have_dkimpy(void)
{
	return access(VERIFY_PY, R_OK) == 0 && access(PYTHON, X_OK) == 0 &&
	    system(PYTHON " -c 'import dkim' 2>/dev/null") == 0;
}

/* Run dkim-verify.py; returns its exit status. */
static int
dkimpy_verify(const char *keys, const char *msgpath)
{
	char	 cmd[2048];
	int	 st;

	snprintf(cmd, sizeof(cmd), PYTHON " '%s' '%s' '%s' >'%s.out' 2>&1",
	    VERIFY_PY, keys, msgpath, msgpath);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE	*fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static char *
make_tmpdir(void)
{
	char	 tmpl[] = "/tmp/test_dkim.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void
rm_tmpdir(char *dir)
{
	char	*cmd = xasprintf("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(dir);
}

static void
b64(const unsigned char *h, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, h, (int)n);
}

/* ---- tag lists ------------------------------------------------------------ */

static void
test_tags(void **state)
{
	static const char *const bad[] = {
		"a=1; a=2",		/* duplicate */
		"a=1;; b=2",		/* empty tag-spec */
		"1a=x",			/* name must start with ALPHA */
		"a-b=1",		/* bad name char */
		"a",			/* no "=" */
		"a=b c\r\nd",		/* CRLF not followed by WSP */
		"a=b\rc",		/* bare CR */
		"a=\x80",		/* 8-bit */
		"a=b;c",		/* no "=" */
		";",
		"a = x ; ; ",
	};
	struct dkim_tags	*t;
	const char		*err;
	const char		*s;
	size_t			 i;

	s = " v = 1 ;a=rsa-sha256;\r\n\tb=ab cd\r\n ef ; x_1=;";
	assert_int_equal(dkim_tags_parse(s, strlen(s), &t, &err), 0);
	assert_int_equal(dkim_tags_count(t), 4);
	assert_string_equal(dkim_tags_get(t, "v"), "1");
	assert_string_equal(dkim_tags_get(t, "a"), "rsa-sha256");
	assert_string_equal(dkim_tags_get(t, "b"), "ab cd\r\n ef");
	assert_string_equal(dkim_tags_get(t, "x_1"), "");
	assert_null(dkim_tags_get(t, "V"));		/* case-sensitive */
	assert_string_equal(dkim_tags_name(t, 0), "v");
	assert_null(dkim_tags_name(t, 4));
	dkim_tags_free(&t);
	assert_null(t);
	dkim_tags_free(&t);

	assert_int_equal(dkim_tags_parse("", 0, &t, &err), 0);
	assert_int_equal(dkim_tags_count(t), 0);
	dkim_tags_free(&t);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dkim_tags_parse(bad[i], strlen(bad[i]), &t, &err) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_null(t);
	}
	assert_int_equal(dkim_tags_parse("a=1\0", 4, &t, &err), -1);
}

static void
test_tags_limits(void **state)
{
	struct buf		 b;
	struct dkim_tags	*t;
	const char		*err;
	int			 i;

	buf_init(&b, 0);
	for (i = 0; i < DKIM_TAGS_MAX; i++)
		buf_printf(&b, "t%d=%d;", i, i);
	assert_int_equal(dkim_tags_parse(b.data, b.len, &t, &err), 0);
	dkim_tags_free(&t);
	buf_puts(&b, "one=more");
	assert_int_equal(dkim_tags_parse(b.data, b.len, &t, &err), -1);
	buf_reset(&b);
	buf_puts(&b, "p=");
	for (i = 0; i < DKIM_TAGLIST_MAX; i++)
		buf_putc(&b, 'A');
	assert_int_equal(dkim_tags_parse(b.data, b.len, &t, &err), -1);
	buf_free(&b);
}

/* ---- canonicalization ---------------------------------------------------- */

static void
body_hash_str(enum dkim_canon c, int64_t limit, const char *body,
    size_t len, size_t chunk, char out[45], uint64_t *clen)
{
	struct dkim_body	*b = dkim_body_new(c, limit);
	unsigned char		 h[32];
	size_t			 off, n;

	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		dkim_body_feed(b, body + off, n);
	}
	dkim_body_finish(&b, h, clen);
	assert_null(b);
	b64(h, 32, out);
}

static void
sha_str(const char *s, size_t n, char out[45])
{
	unsigned char	 h[32];
	unsigned int	 hl = 32;

	EVP_Digest(s, n, h, &hl, EVP_sha256(), NULL);
	b64(h, 32, out);
}

static void
check_body(enum dkim_canon c, const char *in, const char *want)
{
	static const size_t	 chunks[] = { 1, 2, 3, 7, 4096 };
	char			 got[45], exp[45];
	uint64_t		 clen;
	size_t			 i;

	sha_str(want, strlen(want), exp);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		body_hash_str(c, -1, in, strlen(in), chunks[i], got, &clen);
		if (strcmp(got, exp) != 0)
			fail_msg("canon %d of \"%s\" (chunk %zu) differs", c,
			    in, chunks[i]);
		assert_int_equal(clen, strlen(want));
	}
}

static void
test_canon_body(void **state)
{
	char		 got[45], exp[45];
	uint64_t	 clen;

	/* RFC 6376 3.4.5 */
	check_body(DKIM_CANON_RELAXED, " C \r\nD \t E\r\n\r\n\r\n",
	    " C\r\nD E\r\n");
	check_body(DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n",
	    " C \r\nD \t E\r\n");
	/* empty bodies (3.4.3, 3.4.4) */
	check_body(DKIM_CANON_SIMPLE, "", "\r\n");
	check_body(DKIM_CANON_RELAXED, "", "");
	check_body(DKIM_CANON_SIMPLE, "\r\n\r\n", "\r\n");
	check_body(DKIM_CANON_RELAXED, "\r\n \r\n\t\r\n", "");
	/* missing final CRLF, bare LF, bare CR, inner blank lines */
	check_body(DKIM_CANON_SIMPLE, "a\r\n\r\nb", "a\r\n\r\nb\r\n");
	check_body(DKIM_CANON_RELAXED, "a  \r\n\r\n  b\t", "a\r\n\r\n b\r\n");
	check_body(DKIM_CANON_SIMPLE, "a\nb\n\n", "a\r\nb\r\n");
	check_body(DKIM_CANON_SIMPLE, "a\rb\r", "a\rb\r\r\n");
	check_body(DKIM_CANON_RELAXED, "a \r \r\n", "a \r\r\n");
	/* 3.5 l=: only the first l canonical bytes are hashed */
	body_hash_str(DKIM_CANON_SIMPLE, 3, "abcdef\r\n", 8, 1, got, &clen);
	sha_str("abc", 3, exp);
	assert_string_equal(got, exp);
	assert_int_equal(clen, 8);
	body_hash_str(DKIM_CANON_SIMPLE, 0, "abc\r\n", 5, 5, got, &clen);
	sha_str("", 0, exp);
	assert_string_equal(got, exp);
}

static void
check_hdr(enum dkim_canon c, const char *in, const char *want)
{
	struct buf	 b;

	buf_init(&b, 0);
	dkim_canon_header(c, in, strlen(in), true, &b);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void
test_canon_header(void **state)
{
	/* RFC 6376 3.4.5 */
	check_hdr(DKIM_CANON_RELAXED, "A: X\r\n", "a:X\r\n");
	check_hdr(DKIM_CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n");
	check_hdr(DKIM_CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n",
	    "B : Y\t\r\n\tZ  \r\n");
	check_hdr(DKIM_CANON_RELAXED, "SUBJECT:\r\n", "subject:\r\n");
	check_hdr(DKIM_CANON_RELAXED, "X:  a \t b  \r\n\r\n", "x:a b\r\n");
	check_hdr(DKIM_CANON_SIMPLE, "X: a", "X: a\r\n");
}

/* ---- signing and verifying -------------------------------------------- */

static const char *const shapes[] = {
	/* basic */
	"From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n"
	"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\nHello.\r\n",
	/* folded and long headers */
	"From: \"A very long display name that goes on\"\r\n <a@example.org>\r\n"
	"To: one@example.net,\r\n\ttwo@example.net,   \r\n   three@example.net\r\n"
	"Subject: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	"\r\nMessage-ID: <x@y>\r\nReferences: <a@b>\r\n <c@d>\r\n"
	"In-Reply-To: <c@d>\r\n\r\nbody\r\n",
	/* 8-bit body, tabs, runs of spaces */
	"From: a@example.org\r\nContent-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\nMIME-Version: 1.0\r\n\r\n"
	"caf\xc3\xa9  na\xc3\xafve\t \r\n\t\xe2\x82\xac  \r\n",
	/* empty body */
	"From: a@example.org\r\nSubject: empty\r\n\r\n",
	/* no header/body separator at all */
	"From: a@example.org\r\nSubject: no body\r\n",
	/* trailing blank lines and whitespace-only lines */
	"From: a@example.org\r\n\r\nline\r\n\r\n \r\n\t\r\n\r\n\r\n",
	/* body is only CRLF */
	"From: a@example.org\r\n\r\n\r\n",
	/* repeated headers, List-*, odd name case and spacing */
	"Received: from a\r\nReceived: from b\r\nfROM: a@example.org\r\n"
	"TO: b@example.net\r\nTo: c@example.net\r\nCc: d@example.net\r\n"
	"Reply-To: r@example.org\r\nList-Id: <l.example.org>\r\n"
	"List-Unsubscribe: <mailto:u@example.org>\r\nlist-id: <second>\r\n"
	"Subject: one\r\nSubject: two\r\n\r\nx\r\n",
	/* a long body line and a body without a final CRLF */
	"From: a@example.org\r\n\r\n"
	"0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789012345678901234567890123456789"
	"\r\nlast line without CRLF",
};

struct signer {
	const char	*keyfile;
	const char	*sel;
	enum dkim_canon	 hc, bc;
};

static const struct signer signers[] = {
	{ "rsa2048.pem", "rsa", DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
	{ "rsa2048.pem", "rsa", DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED },
	{ "rsa2048.pem", "rsa", DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
	{ "rsa2048.pem", "rsa", DKIM_CANON_RELAXED, DKIM_CANON_RELAXED },
	{ "ed25519.pem", "ed", DKIM_CANON_SIMPLE, DKIM_CANON_SIMPLE },
	{ "ed25519.pem", "ed", DKIM_CANON_SIMPLE, DKIM_CANON_RELAXED },
	{ "ed25519.pem", "ed", DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE },
	{ "ed25519.pem", "ed", DKIM_CANON_RELAXED, DKIM_CANON_RELAXED },
};
#define NSIGNERS	(sizeof(signers) / sizeof(signers[0]))

/* msg signed by every signer, signatures prepended; caller frees. */
static char *
sign_all(const char *msg, size_t len, size_t *outlen)
{
	struct buf	 out;
	char		*h;
	const char	*err;
	EVP_PKEY	*k;
	size_t		 i;

	buf_init(&out, 0);
	for (i = 0; i < NSIGNERS; i++) {
		k = load_key(signers[i].keyfile);
		if (dkim_sign_at(k, "example.org", signers[i].sel,
		    signers[i].hc, signers[i].bc, msg, len, T_SIGN, &h,
		    &err) != 0)
			fail_msg("sign: %s", err);
		assert_true(strncmp(h, "DKIM-Signature: v=1; a=", 23) == 0);
		assert_non_null(strstr(h, "t=1767225600;"));
		assert_null(strstr(h, "l="));
		assert_int_equal(h[strlen(h) - 1], '\n');
		buf_puts(&out, h);
		free(h);
		EVP_PKEY_free(k);
	}
	buf_append(&out, msg, len);
	return buf_steal(&out, outlen);
}

static void
test_sign_verify(void **state)
{
	struct keytab	 kt = { 0 };
	char		*signed_msg, *dir, path[512], *tam;
	size_t		 i, len;
	bool		 py = have_dkimpy();

	keytab_load(&kt, DATA "/keys.txt");
	dir = make_tmpdir();
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		signed_msg = sign_all(shapes[i], strlen(shapes[i]), &len);
		verify_all(signed_msg, len, &kt, NSIGNERS, DKIM_PASS);
		snprintf(path, sizeof(path), "%s/shape%zu.eml", dir, i);
		write_file(path, signed_msg, len);
		if (py && dkimpy_verify(DATA "/keys.txt", path) != 0)
			fail_msg("dkimpy rejects %s (see %s.out)", path, path);

		/* tampered body: every signature fails */
		tam = xasprintf("%s%stamper\r\n", signed_msg,
		    strstr(signed_msg, "\r\n\r\n") == NULL ? "\r\n" : "");
		verify_all(tam, strlen(tam), &kt, NSIGNERS, DKIM_FAIL);
		/* tampered From: every signature fails */
		memcpy(tam, signed_msg, len);
		{
			char *f = strstr(tam, "a@example.org");
			if (f == NULL)
				f = strstr(tam, "A very");
			assert_non_null(f);
			f[0] = 'z';
		}
		verify_all(tam, len, &kt, NSIGNERS, DKIM_FAIL);
		/* an added From above (oversigned) breaks them too */
		free(tam);
		tam = xasprintf("From: evil@example.com\r\n%s", signed_msg);
		verify_all(tam, strlen(tam), &kt, NSIGNERS, DKIM_FAIL);
		free(tam);
		free(signed_msg);
	}
	/* Adding an unsigned header or a DKIM-Signature keeps it valid. */
	signed_msg = sign_all(shapes[0], strlen(shapes[0]), &len);
	tam = xasprintf("X-Later: added\r\n%s", signed_msg);
	verify_all(tam, strlen(tam), &kt, NSIGNERS, DKIM_PASS);
	free(tam);
	free(signed_msg);
	if (py)
		print_message("dkim: dkimpy verified %zu messages x %zu "
		    "signatures\n", sizeof(shapes) / sizeof(shapes[0]),
		    NSIGNERS);
	else
		print_message("dkim: %s absent, dkimpy cross-check SKIPPED\n",
		    VERIFY_PY);
	rm_tmpdir(dir);
	keytab_free(&kt);
}

static void
test_sign_errors(void **state)
{
	EVP_PKEY	*k = load_key("ed25519.pem"), *bad;
	const char	*err, *msg = "Subject: x\r\n\r\nbody\r\n";
	char		*h = NULL;
	const char	*msg2 = "From: a@b\r\n\r\n";

	assert_int_equal(dkim_sign(k, "example.org", "ed", DKIM_CANON_RELAXED,
	    DKIM_CANON_SIMPLE, msg, strlen(msg), &h, &err), -1);
	assert_null(h);
	assert_string_equal(err, "message has no From field");
	assert_int_equal(dkim_sign(k, "exa mple.org", "ed", DKIM_CANON_RELAXED,
	    DKIM_CANON_SIMPLE, msg2, strlen(msg2), &h, &err), -1);
	assert_int_equal(dkim_sign(k, "example.org", "e;d", DKIM_CANON_RELAXED,
	    DKIM_CANON_SIMPLE, msg2, strlen(msg2), &h, &err), -1);
	assert_int_equal(dkim_sign(k, "example.org", "ed", DKIM_CANON_RELAXED,
	    DKIM_CANON_SIMPLE, msg2, strlen(msg2), &h, &err), 0);
	free(h);
	EVP_PKEY_free(k);
	/* a 512-bit key is refused at load time */
	assert_int_equal(dkim_key_load(DATA "/rsa512.pem", &bad, &err), -1);
	assert_null(bad);
	assert_int_equal(dkim_key_load(DATA "/nonexistent.pem", &bad, &err),
	    -1);
	assert_int_equal(dkim_key_load(DATA "/keys.txt", &bad, &err), -1);
}

/* Signatures made by dkimpy's dkimsign (tests/data/dkim/README). */
static void
test_dkimpy_fixtures(void **state)
{
	static const char *const files[] = {
		"dkimpy-rsa-relaxed-simple.eml", "dkimpy-rsa-simple-relaxed.eml",
		"dkimpy-ed-relaxed-relaxed.eml", "dkimpy-ed-simple-simple.eml",
	};
	struct keytab	 kt = { 0 };
	char		 path[512], *msg, *p;
	size_t		 i, len;

	keytab_load(&kt, DATA "/keys.txt");
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", DATA, files[i]);
		msg = slurp(path, &len);
		verify_all(msg, len, &kt, 1, DKIM_PASS);
		/* change one body byte: fail */
		p = strstr(msg, "Hello");
		assert_non_null(p);
		p[0] = 'J';
		verify_all(msg, len, &kt, 1, DKIM_FAIL);
		p[0] = 'H';
		/* change the signed Subject: fail */
		p = strstr(msg, "folded");
		p[0] = 'F';
		verify_all(msg, len, &kt, 1, DKIM_FAIL);
		free(msg);
	}
	keytab_free(&kt);
}

/* RFC 8463 Appendix A: one ed25519-sha256 and one rsa-sha256 signature. */
static void
test_rfc8463(void **state)
{
	struct keytab		 kt = { 0 };
	struct dkim_result	*r;
	size_t			 n, len;
	char			*msg, *p;

	keytab_load(&kt, DATA "/rfc8463.keys");
	assert_int_equal(kt.n, 2);
	msg = slurp(DATA "/rfc8463.signed.msg", &len);
	dkim_verify_message(msg, len, time(NULL), keytab_lookup, &kt, &r, &n);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].status, DKIM_PASS);
	assert_int_equal(r[1].status, DKIM_PASS);
	assert_string_equal(r[0].domain, "football.example.com");
	assert_string_equal(r[0].selector, "brisbane");
	assert_string_equal(r[1].selector, "test");
	assert_string_equal(r[0].ar, "dkim=pass header.d=football.example.com "
	    "header.s=brisbane header.b=\"9/dsDChY\"");
	assert_string_equal(r[1].ar, "dkim=pass header.d=football.example.com "
	    "header.s=test header.b=icKcLSEZ");
	dkim_results_free(&r, n);
	assert_null(r);
	p = strstr(msg, "hungry");
	p[0] = 'H';
	verify_all(msg, len, &kt, 2, DKIM_FAIL);
	free(msg);
	keytab_free(&kt);
}

/* Replace the first occurrence of from with to (same message). */
static char *
subst(const char *msg, const char *from, const char *to)
{
	const char	*p = strstr(msg, from);

	assert_non_null(p);
	return xasprintf("%.*s%s%s", (int)(p - msg), msg, to, p + strlen(from));
}

static void
expect_one(const char *msg, struct keytab *kt, enum dkim_status st,
    const char *reason)
{
	struct dkim_result	*r;
	size_t			 n;

	dkim_verify_message(msg, strlen(msg), time(NULL), keytab_lookup, kt,
	    &r, &n);
	assert_int_equal(n, 1);
	if (r[0].status != st || strstr(r[0].reason, reason) == NULL)
		fail_msg("got %s (%s), wanted %s (%s)", r[0].ar, r[0].reason,
		    dkim_status_name(st), reason);
	dkim_results_free(&r, n);
}

static void
test_verify_errors(void **state)
{
	struct keytab	 kt = { 0 };
	EVP_PKEY	*k = load_key("rsa2048.pem");
	const char	*err, *base = shapes[0];
	char		*h, *msg, *m2;

	keytab_load(&kt, DATA "/keys.txt");
	assert_int_equal(dkim_sign_at(k, "example.org", "rsa",
	    DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, base, strlen(base), T_SIGN,
	    &h, &err), 0);
	msg = xasprintf("%s%s", h, base);
	expect_one(msg, &kt, DKIM_PASS, "verified");

#define BAD(from, to, st, why) do {				\
	m2 = subst(msg, from, to);				\
	expect_one(m2, &kt, st, why);				\
	free(m2);						\
} while (0)
	BAD("s=rsa;", "s=short;", DKIM_PERMERROR, "key too short");
	BAD("s=rsa;", "s=nokey;", DKIM_PERMERROR, "no key");
	BAD("s=rsa;", "s=ed;", DKIM_PERMERROR, "key type does not match");
	BAD("a=rsa-sha256", "a=rsa-sha1", DKIM_PERMERROR, "rsa-sha1");
	BAD("a=rsa-sha256", "a=rsa-md5", DKIM_PERMERROR, "unknown algorithm");
	BAD("v=1;", "v=2;", DKIM_PERMERROR, "version");
	BAD("v=1;", "v=1; v=1;", DKIM_PERMERROR, "duplicate");
	BAD("t=1767225600;", "t=1767225600; x=1767225700;", DKIM_PERMERROR,
	    "expired");
	BAD("t=1767225600;", "t=1767225600; x=1000;", DKIM_PERMERROR,
	    "before t=");
	BAD("c=relaxed/relaxed", "c=relaxed/fancy", DKIM_PERMERROR, "c=");
	BAD("h=From:From:", "h=", DKIM_PERMERROR, "h=");
	BAD("d=example.org;", "d=example.org; i=a@example.com;",
	    DKIM_PERMERROR, "i=");
	BAD("d=example.org;", "d=example.org; i=a@sub.example.org;",
	    DKIM_FAIL, "signature did not verify");
	BAD("d=example.org;", "d=example.org; q=http;", DKIM_PERMERROR, "q=");
	BAD("d=example.org;", "d=example.org; l=99999;", DKIM_FAIL,
	    "shorter than l=");
	BAD("bh=", "bh=AAAA", DKIM_PERMERROR, "bh=");	/* 36 bytes */
	BAD("bh=", "bh=x", DKIM_PERMERROR, "bh=");	/* not base64 */
	BAD("b=", "b=!", DKIM_PERMERROR, "b=");
	BAD("Hello.", "Hellp.", DKIM_FAIL, "body hash");
	BAD("Subject: hi", "Subject: ho", DKIM_FAIL, "signature did not");

	/* temperror and key-record problems */
	kt.tempfail = xstrdup("rsa._domainkey.example.org");
	expect_one(msg, &kt, DKIM_TEMPERROR, "temporarily");
	free(kt.tempfail);
	kt.tempfail = NULL;
	keytab_free(&kt);
	keytab_add(&kt, "rsa._domainkey.example.org", "v=DKIM1; k=rsa; p=");
	expect_one(msg, &kt, DKIM_PERMERROR, "revoked");
	keytab_free(&kt);
	keytab_add(&kt, "rsa._domainkey.example.org", "k=rsa; v=DKIM1; p=AAAA");
	expect_one(msg, &kt, DKIM_PERMERROR, "v=");
	keytab_free(&kt);
	keytab_add(&kt, "rsa._domainkey.example.org", "v=DKIM1; k=dsa; p=AAAA");
	expect_one(msg, &kt, DKIM_PERMERROR, "unknown key type");
	keytab_free(&kt);
	keytab_add(&kt, "rsa._domainkey.example.org", "v=DKIM1; p=AAAA");
	expect_one(msg, &kt, DKIM_PERMERROR, "bad RSA key");
	keytab_free(&kt);
	/* no lookup function at all */
	{
		struct dkim_result	*r;
		size_t			 n;

		dkim_verify_message(msg, strlen(msg), time(NULL), NULL, NULL,
		    &r, &n);
		assert_int_equal(n, 1);
		assert_int_equal(r[0].status, DKIM_TEMPERROR);
		assert_non_null(strstr(r[0].ar, "dkim=temperror reason=\""));
		dkim_results_free(&r, n);
	}
	free(msg);
	free(h);
	EVP_PKEY_free(k);
}

/* Streaming: any chunking gives the same result; key names come first. */
static void
test_verify_stream(void **state)
{
	struct keytab		 kt = { 0 };
	struct dkim_verify	*v;
	struct dkim_result	*r;
	char			*msg;
	size_t			 len, off, n, chunk, i;

	keytab_load(&kt, DATA "/keys.txt");
	msg = sign_all(shapes[7], strlen(shapes[7]), &len);
	for (chunk = 1; chunk < 40; chunk += 13) {
		v = dkim_verify_new(time(NULL));
		for (off = 0; off < len; off += n) {
			n = len - off < chunk ? len - off : chunk;
			dkim_verify_feed(v, msg + off, n);
		}
		assert_int_equal(dkim_verify_count(v), NSIGNERS);
		for (i = 0; i < NSIGNERS; i++)
			assert_string_equal(dkim_verify_key_name(v, i),
			    signers[i].sel[0] == 'r' ?
			    "rsa._domainkey.example.org" :
			    "ed._domainkey.example.org");
		assert_null(dkim_verify_key_name(v, NSIGNERS));
		dkim_verify_finish(&v, keytab_lookup, &kt, &r, &n);
		assert_null(v);
		assert_int_equal(n, NSIGNERS);
		for (i = 0; i < n; i++)
			assert_int_equal(r[i].status, DKIM_PASS);
		dkim_results_free(&r, n);
	}
	free(msg);
	/* unsigned message: no results */
	dkim_verify_message(shapes[0], strlen(shapes[0]), 0, keytab_lookup,
	    &kt, &r, &n);
	assert_int_equal(n, 0);
	assert_null(r);
	keytab_free(&kt);
}

static void
test_too_many(void **state)
{
	struct keytab		 kt = { 0 };
	struct dkim_result	*r;
	struct buf		 b;
	size_t			 n, i;

	buf_init(&b, 0);
	for (i = 0; i < DKIM_SIGS_MAX + 2; i++)
		buf_puts(&b, "DKIM-Signature: v=1; a=foo\r\n");
	buf_puts(&b, shapes[0]);
	dkim_verify_message(b.data, b.len, 0, keytab_lookup, &kt, &r, &n);
	assert_int_equal(n, DKIM_SIGS_MAX + 2);
	assert_int_equal(r[0].status, DKIM_PERMERROR);
	assert_int_equal(r[DKIM_SIGS_MAX].status, DKIM_NEUTRAL);
	assert_int_equal(kt.calls, 0);
	dkim_results_free(&r, n);
	buf_free(&b);
}

/* Generate keys, write SNM files, read them back, sign, verify. */
static void
test_key_files(void **state)
{
	static const enum dkim_key_type types[] = { DKIM_KEY_RSA,
	    DKIM_KEY_ED25519 };
	struct keytab	 kt = { 0 };
	EVP_PKEY	*k, *k2, *pub;
	enum dkim_key_type kty;
	const char	*err, *msg = shapes[1];
	char		*dir, *txt, *rec, path[512], *h, *sm, *keys;
	size_t		 i, len;
	bool		 py = have_dkimpy();

	dir = make_tmpdir();
	for (i = 0; i < 2; i++) {
		assert_int_equal(dkim_key_generate(types[i], 1024, &k, &err), 0);
		assert_int_equal(dkim_key_dns_record(k, &rec, &err), 0);
		assert_true(strncmp(rec, types[i] == DKIM_KEY_RSA ?
		    "v=DKIM1; k=rsa; p=MIGfMA0G" : "v=DKIM1; k=ed25519; p=",
		    types[i] == DKIM_KEY_RSA ? 25 : 22) == 0);
		if (types[i] == DKIM_KEY_ED25519)
			assert_int_equal(strlen(rec), 22 + 44);
		assert_int_equal(dkim_key_parse_record(rec, &kty, &pub, &err),
		    0);
		assert_int_equal(kty, types[i]);
		assert_int_equal(EVP_PKEY_eq(k, pub), 1);
		EVP_PKEY_free(pub);

		assert_int_equal(dkim_key_write_files(k, dir, "example.org",
		    i == 0 ? "r1" : "e1", &err), 0);
		assert_int_equal(dkim_key_write_files(k, dir, "example.org",
		    i == 0 ? "r1" : "e1", &err), -1);	/* never overwrite */
		assert_int_equal(dkim_key_write_files(k, dir, "../x", "s",
		    &err), -1);
		snprintf(path, sizeof(path), "%s/example.org.%s.key", dir,
		    i == 0 ? "r1" : "e1");
		{
			struct stat st;
			assert_int_equal(stat(path, &st), 0);
			assert_int_equal(st.st_mode & 0777, 0600);
		}
		assert_int_equal(dkim_key_load(path, &k2, &err), 0);
		assert_int_equal(EVP_PKEY_eq(k, k2), 1);
		snprintf(path, sizeof(path), "%s/example.org.%s.txt", dir,
		    i == 0 ? "r1" : "e1");
		txt = slurp(path, &len);
		assert_true(strncmp(txt, i == 0 ?
		    "r1._domainkey\tIN\tTXT\t( \"v=DKIM1; k=rsa; \"\n\t  \"p=" :
		    "e1._domainkey\tIN\tTXT\t( \"v=DKIM1; k=ed25519; \"\n\t  \"p=",
		    i == 0 ? 45 : 49) == 0);
		assert_non_null(strstr(txt, " )  ; ----- DKIM key "));
		assert_int_equal(txt[len - 1], '\n');
		/* dkim-verify.py KEYS: the full owner name, then the record */
		keys = xasprintf("%s/keys%zu.txt", dir, i);
		{
			char *full = xasprintf("%s._domainkey.example.org%s",
			    i == 0 ? "r1" : "e1", strchr(txt, '\t'));
			write_file(keys, full, strlen(full));
			free(full);
		}
		keytab_load(&kt, keys);
		assert_int_equal(kt.n, 1);
		assert_string_equal(kt.txt[0], rec);
		assert_int_equal(dkim_sign(k2, "example.org", i == 0 ? "r1" :
		    "e1", DKIM_CANON_RELAXED, DKIM_CANON_SIMPLE, msg,
		    strlen(msg), &h, &err), 0);
		sm = xasprintf("%s%s", h, msg);
		verify_all(sm, strlen(sm), &kt, 1, DKIM_PASS);
		snprintf(path, sizeof(path), "%s/signed%zu.eml", dir, i);
		write_file(path, sm, strlen(sm));
		if (py && dkimpy_verify(keys, path) != 0)
			fail_msg("dkimpy rejects %s with %s", path, keys);
		keytab_free(&kt);
		free(sm);
		free(h);
		free(keys);
		free(txt);
		free(rec);
		EVP_PKEY_free(k2);
		EVP_PKEY_free(k);
	}
	assert_int_equal(dkim_key_generate(DKIM_KEY_RSA, 512, &k, &err), -1);
	rm_tmpdir(dir);
}

/* An RSA key published as a bare PKCS#1 RSAPublicKey is accepted too. */
static void
test_key_record_forms(void **state)
{
	EVP_PKEY		*k;
	enum dkim_key_type	 t;
	const char		*err;

	assert_int_equal(dkim_key_parse_record("v=DKIM1; k=ed25519; p="
	    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", &t, &k, &err), 0);
	assert_int_equal(t, DKIM_KEY_ED25519);
	EVP_PKEY_free(k);
	assert_int_equal(dkim_key_parse_record("v=DKIM1; k=ed25519; p="
	    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcH", &t, &k, &err), -1);
	assert_int_equal(dkim_key_parse_record("v=DKIM1; h=sha1; p=AAAA", &t,
	    &k, &err), -1);
	assert_int_equal(dkim_key_parse_record("v=DKIM1; s=tlsrpt; p=AAAA",
	    &t, &k, &err), -1);
	assert_int_equal(dkim_key_parse_record("v=DKIM1; k=ed25519; s=email:*;"
	    " t=y:s; h=sha256; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	    &t, &k, &err), 0);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_tags_limits),
		cmocka_unit_test(test_canon_body),
		cmocka_unit_test(test_canon_header),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_sign_errors),
		cmocka_unit_test(test_dkimpy_fixtures),
		cmocka_unit_test(test_rfc8463),
		cmocka_unit_test(test_verify_errors),
		cmocka_unit_test(test_verify_stream),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_key_record_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
