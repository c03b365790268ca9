/*
 * fuzz_spf_record.c - libFuzzer target for the SPF record parser, the
 * macro expander and the evaluator (filter/spf/).
 * Properties: a record that parses has domain-specs that expand (or hit
 * only the output bound); the parser and expander never crash or leak;
 * an evaluation against a resolver that answers every TXT query with the
 * input itself (so include:/redirect= recurse into it) ends within a
 * bounded number of queries with a defined result.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "spf.h"
#include "spf_private.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_expand(const char *s, const struct spf_macro_ctx *ctx, int flags,
    int must_succeed)
{
	const char	*err = NULL;
	char		*out = NULL;

	if (spf_macro_expand(s, ctx, flags, &out, &err) == 0) {
		if (out == NULL || strlen(out) > SPF_MACRO_OUT_MAX)
			abort();
		free(out);
	} else if (must_succeed &&
	    strcmp(err, "macro expansion too long") != 0)
		abort();
}

static void
fuzz_eval(const char *rec, int v6)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct spf_eval		*ev;
	struct spf_dns_query	 q;
	const char		*rrs[2];
	size_t			 n, steps = 0;
	enum spf_rcode		 rc;
	char			*s;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	ev = spf_eval_new(v6 ? (struct sockaddr *)&sin6 :
	    (struct sockaddr *)&sin, "user@example.com", "helo.example.org",
	    "mx.example.net");
	if (ev == NULL)
		abort();
	while (spf_eval_step(ev, &q) == SPF_NEED_DNS) {
		if (++steps > 400 || q.name == NULL)
			abort();
		n = 1;
		rc = SPF_RC_OK;
		switch (q.type) {
		case SPF_Q_TXT:
			rrs[0] = rec;
			break;
		case SPF_Q_A:
			rrs[0] = "192.0.2.1";
			rc = (strlen(q.name) & 3) == 0 ? SPF_RC_NXDOMAIN : rc;
			break;
		case SPF_Q_AAAA:
			rrs[0] = "2001:db8::1";
			break;
		case SPF_Q_MX:
			rrs[0] = "10 mx.example.com.";
			break;
		case SPF_Q_PTR:
			rrs[0] = "host.example.com";
			break;
		}
		spf_eval_answer(ev, rc, rrs, n);
	}
	if (spf_eval_result(ev) > SPF_PERMERROR)
		abort();
	s = spf_eval_received(ev);
	free(s);
	s = spf_eval_authres(ev);
	free(s);
	spf_eval_free(&ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_ip		 ip = { 0, { 192, 0, 2, 3 } };
	struct spf_macro_ctx	 ctx = {
		"strong-bad@email.example.com", "strong-bad",
		"email.example.com", "email.example.com", "mx.example.org",
		"recv.example", "host.example.com", &ip, 1
	};
	struct spf_record	*rec;
	const char		*err;
	char			*s;
	size_t			 i;

	if (size > 2048)
		return 0;
	s = xstrndup((const char *)data, size);
	if (spf_record_parse(s, &rec, &err) == 0) {
		for (i = 0; i < rec->nterms; i++)
			if (rec->terms[i].domain != NULL)
				fuzz_expand(rec->terms[i].domain, &ctx, 0, 1);
		if (rec->redirect != NULL)
			fuzz_expand(rec->redirect, &ctx, 0, 1);
		if (rec->exp != NULL)
			fuzz_expand(rec->exp, &ctx, 0, 1);
		if (spf_record_nterms(rec) != rec->nterms)
			abort();
		spf_record_free(&rec);
		if (rec != NULL)
			abort();
	}
	fuzz_expand(s, &ctx, SPF_MACRO_EXP, 0);
	fuzz_expand(s, NULL, 0, 0);
	if (spf_record_is_spf(s)) {
		fuzz_eval(s, 0);
		fuzz_eval(s, 1);
	}
	free(s);
	return 0;
}
