/*
 * fuzz_http_parse.c - the HTTP request head parser on the whole input,
 * then (when it is complete) the routes on a fixed config with the rest
 * as the body, and the decoders (query, XML element, address) on the
 * input as a string.  Checks: results stay inside the input, a complete
 * head is not complete one octet earlier, an error carries a status and
 * text, limits hold, every response has a known status and a body
 * whenever it has a content type.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "http_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char fuzz_conf[] =
    "fqdn = \"mail.example.test\";\n"
    "domains = [ \"example.test\" ];\n"
    "listen = { submissions = [ \"127.0.0.1:465\" ];"
    " submission = [ \"127.0.0.1:587\" ];"
    " imaps = [ \"127.0.0.1:993\" ]; pop3 = [ \"127.0.0.1:110\" ]; };\n";

static struct conf *fuzz_c;

static void
fuzz_metrics(struct buf *b, void *arg)
{
	buf_puts(b, "m 1\n");
}

static void
fuzz_route(const char *s, size_t size, const struct http_req *q)
{
	struct http_env	 env = { fuzz_c, fuzz_metrics, NULL };
	struct http_resp r;

	if (fuzz_c == NULL)
		return;
	http_route_resp_init(&r);
	http_route(&env, q, s + q->head_len, size - q->head_len, &r);
	if (strcmp(http_route_reason(r.status), "Unknown") == 0)
		abort();
	if (r.ctype != NULL && r.body.len == 0)
		abort();
	http_route_resp_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data, *err, *dom;
	struct conf_errors errs = { NULL, 0 };
	struct http_req	 q, q2;
	char		 out[HTTP_ADDR_MAX + 1], *str;
	int		 rc, status;

	if (fuzz_c == NULL) {
		fuzz_c = conf_load_string(fuzz_conf, "fuzz.conf", &errs);
		conf_errors_free(&errs);
	}
	rc = http_parse_head(s, size, &q, &status, &err);
	if (rc == -1) {
		if (err == NULL || status < 400 || status > 505)
			abort();
	} else if (rc == 1) {
		if (size > HTTP_HEAD_MAX)
			abort();
	} else if (rc == 0) {
		if (q.head_len > size || q.head_len > HTTP_HEAD_MAX ||
		    q.content_length > HTTP_BODY_MAX ||
		    q.target < s || q.target + q.target_len > s + q.head_len ||
		    q.nfields > HTTP_FIELDS_MAX || q.target[0] != '/')
			abort();
		if (q.host != NULL && (q.host < s || q.host + q.host_len >
		    s + q.head_len))
			abort();
		if (http_parse_head(s, q.head_len - 1, &q2, &status,
		    &err) != 1)
			abort();
		fuzz_route(s, size, &q);
	} else
		abort();

	/* The decoders on the input as a NUL-terminated string. */
	str = malloc(size + 1);
	memcpy(str, data, size);
	str[size] = '\0';
	(void)http_parse_query(s, size, "emailaddress", out, sizeof(out));
	if (http_parse_xml_text(s, size, "EMailAddress", out,
	    sizeof(out)) == 1 && strlen(out) >= sizeof(out))
		abort();
	if (http_parse_addr(str, &dom) && (strlen(str) > HTTP_ADDR_MAX ||
	    dom <= str || dom[-1] != '@'))
		abort();
	free(str);
	return 0;
}
