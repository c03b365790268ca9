/*
 * fuzz_dkim_tags.c - libFuzzer target for filter/dkim: the tag-list
 * parser (RFC 6376 3.2) and the DNS key record parser over the input,
 * both canonicalizations of the input as a header field and as a body
 * (fed whole and in 1- and 7-byte chunks: the hashes must agree), and a
 * full verification of the input as a message against a fixed key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dkim.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static enum dkim_dns
fuzz_lookup(const char *name, void *arg, char **txt_r)
{
	if (name[0] == 't')
		return DKIM_DNS_TEMPFAIL;
	if (name[0] == 'n')
		return DKIM_DNS_NONE;
	*txt_r = xstrdup(name[0] == 'e' ? "v=DKIM1; k=ed25519; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" :
	    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzW"
	    "RiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3F"
	    "utACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzB"
	    "fO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB");
	return DKIM_DNS_OK;
}

static void
fuzz_body(const uint8_t *data, size_t len, enum dkim_canon c)
{
	static const size_t	 chunks[] = { 1, 7 };
	struct dkim_body	*b;
	unsigned char		 h0[32], h[32];
	uint64_t		 l0, l;
	size_t			 i, off, n;

	b = dkim_body_new(c, -1);
	dkim_body_feed(b, data, len);
	dkim_body_finish(&b, h0, &l0);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		if (len > 20000 && chunks[i] == 1)
			continue;
		b = dkim_body_new(c, (int64_t)(len / 2));
		for (off = 0; off < len; off += n) {
			n = len - off < chunks[i] ? len - off : chunks[i];
			dkim_body_feed(b, data + off, n);
		}
		dkim_body_finish(&b, h, &l);
		if (l != l0)
			abort();
	}
	b = dkim_body_new(c, -1);
	for (off = 0; off < len; off += n) {
		n = len - off < 7 ? len - off : 7;
		dkim_body_feed(b, data + off, n);
	}
	dkim_body_finish(&b, h, &l);
	if (l != l0 || memcmp(h, h0, sizeof(h)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct dkim_tags	*t;
	struct dkim_result	*r;
	struct buf		 b;
	enum dkim_key_type	 kt;
	EVP_PKEY		*key;
	const char		*err, *name;
	char			*s;
	size_t			 i, n;

	if (dkim_tags_parse((const char *)data, len, &t, &err) == 0) {
		for (i = 0; (name = dkim_tags_name(t, i)) != NULL; i++)
			if (dkim_tags_get(t, name) == NULL)
				abort();
		if (dkim_tags_count(t) != i)
			abort();
		dkim_tags_free(&t);
	}
	s = xstrndup((const char *)data, len);
	if (dkim_key_parse_record(s, &kt, &key, &err) == 0)
		EVP_PKEY_free(key);
	free(s);

	buf_init(&b, 0);
	dkim_canon_header(DKIM_CANON_RELAXED, (const char *)data, len, true,
	    &b);
	buf_reset(&b);
	dkim_canon_header(DKIM_CANON_SIMPLE, (const char *)data, len, false,
	    &b);
	buf_free(&b);
	fuzz_body(data, len, DKIM_CANON_SIMPLE);
	fuzz_body(data, len, DKIM_CANON_RELAXED);

	dkim_verify_message((const char *)data, len, 1700000000, fuzz_lookup,
	    NULL, &r, &n);
	for (i = 0; i < n; i++)
		if (r[i].reason == NULL || r[i].ar == NULL)
			abort();
	dkim_results_free(&r, n);
	return 0;
}
