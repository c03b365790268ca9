/*
 * dmarc_record.c - parse a DMARC policy record (RFC 7489 6.3, 6.4):
 * tag-value pairs separated by ";", v=DMARC1 first, then p, sp, np
 * (RFC 9091), pct, adkim, aspf, rua, ruf, fo, rf, ri.  Invalid records
 * are reported so that policy discovery ignores them (6.6.3).  Owns the
 * struct dmarc_record.  Pure.  [any]
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "str.h"
#include "xmalloc.h"
#include "dmarc.h"

#define DMARC_RECORD_MAX	4096

struct dmarc_record {
	enum dmarc_policy	 p, sp, np;
	unsigned		 pct;
	bool			 adkim_s, aspf_s;
	char			*rua, *ruf, *fo, *rf;
	unsigned long		 ri;
};

bool
dmarc_record_is_dmarc(const char *txt)
{
	/* 6.4 ABNF: "v" *WSP "=" *WSP "DMARC1", then ";" or the end. */
	const char	*s = txt + strspn(txt, " \t");

	if (*s++ != 'v')
		return false;
	s += strspn(s, " \t");
	if (*s++ != '=')
		return false;
	s += strspn(s, " \t");
	if (strncmp(s, "DMARC1", 6) != 0)
		return false;
	s += 6;
	s += strspn(s, " \t");
	return *s == ';' || *s == '\0';
}

static enum dmarc_policy
dmarc_record_policy(const char *v)
{
	if (strcasecmp(v, "none") == 0)
		return DMARC_P_NONE;
	if (strcasecmp(v, "quarantine") == 0)
		return DMARC_P_QUARANTINE;
	if (strcasecmp(v, "reject") == 0)
		return DMARC_P_REJECT;
	return DMARC_P_UNSET;
}

/* dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (6.4). */
static bool
dmarc_record_uri_ok(const char *u, size_t n)
{
	size_t	 i, colon;

	while (n > 0 && isspace((unsigned char)*u)) {
		u++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)u[n - 1]))
		n--;
	if (n == 0 || !isalpha((unsigned char)u[0]))
		return false;
	for (colon = 0; colon < n && u[colon] != ':'; colon++)
		if (!isalnum((unsigned char)u[colon]) && u[colon] != '+' &&
		    u[colon] != '-' && u[colon] != '.')
			return false;
	if (colon == n || colon + 1 == n)
		return false;
	for (i = colon + 1; i < n; i++)
		if ((unsigned char)u[i] <= ' ' || (unsigned char)u[i] >= 0x7f)
			return false;
	return true;
}

/* At least one valid URI in a comma-separated list. */
static bool
dmarc_record_uris_ok(const char *v)
{
	const char	*s = v, *e;

	for (;;) {
		e = s + strcspn(s, ",");
		if (dmarc_record_uri_ok(s, (size_t)(e - s)))
			return true;
		if (*e == '\0')
			return false;
		s = e + 1;
	}
}

static bool
dmarc_record_uint(const char *v, unsigned long max, unsigned long *out)
{
	uint64_t	 x;

	if (str_to_u64(v, max, &x) == -1)
		return false;
	*out = (unsigned long)x;
	return true;
}

int
dmarc_record_parse(const char *txt, struct dmarc_record **rec_r,
    const char **error_r)
{
	struct dmarc_record	*rec;
	char			*copy, *tag, *val, *save = NULL, *eq;
	unsigned long		 u;
	bool			 first = true, p_bad = false, sp_bad = false;
	bool			 have_p = false;

	*rec_r = NULL;
	if (strlen(txt) > DMARC_RECORD_MAX) {
		*error_r = "record too long";
		return -1;
	}
	if (!dmarc_record_is_dmarc(txt)) {
		*error_r = "not a v=DMARC1 record";
		return -1;
	}
	rec = xcalloc(1, sizeof(*rec));
	rec->p = rec->sp = rec->np = DMARC_P_UNSET;
	rec->pct = 100;
	rec->ri = 86400;
	copy = xstrdup(txt);
	for (tag = strtok_r(copy, ";", &save); tag != NULL;
	    tag = strtok_r(NULL, ";", &save)) {
		if ((eq = strchr(tag, '=')) == NULL) {
			if (*str_trim(tag) == '\0')
				continue;	/* "p=none; ;" */
			continue;		/* junk: tolerated, ignored */
		}
		*eq = '\0';
		tag = str_trim(tag);
		val = str_trim(eq + 1);
		if (first) {
			first = false;		/* checked by is_dmarc */
			continue;
		}
		if (strcmp(tag, "p") == 0) {
			rec->p = dmarc_record_policy(val);
			have_p = true;
			p_bad = rec->p == DMARC_P_UNSET;
		} else if (strcmp(tag, "sp") == 0) {
			rec->sp = dmarc_record_policy(val);
			sp_bad = rec->sp == DMARC_P_UNSET;
		} else if (strcmp(tag, "np") == 0) {
			rec->np = dmarc_record_policy(val);
		} else if (strcmp(tag, "pct") == 0) {
			if (dmarc_record_uint(val, 100, &u))
				rec->pct = (unsigned)u;
		} else if (strcmp(tag, "adkim") == 0) {
			rec->adkim_s = strcasecmp(val, "s") == 0;
		} else if (strcmp(tag, "aspf") == 0) {
			rec->aspf_s = strcasecmp(val, "s") == 0;
		} else if (strcmp(tag, "rua") == 0) {
			if (rec->rua == NULL && dmarc_record_uris_ok(val))
				rec->rua = xstrdup(val);
		} else if (strcmp(tag, "ruf") == 0) {
			if (rec->ruf == NULL && dmarc_record_uris_ok(val))
				rec->ruf = xstrdup(val);
		} else if (strcmp(tag, "fo") == 0) {
			if (rec->fo == NULL && *val != '\0' &&
			    strspn(val, "01ds: \t") == strlen(val))
				rec->fo = xstrdup(val);
		} else if (strcmp(tag, "rf") == 0) {
			if (rec->rf == NULL && *val != '\0')
				rec->rf = xstrdup(val);
		} else if (strcmp(tag, "ri") == 0) {
			if (dmarc_record_uint(val, 0xffffffffUL, &u))
				rec->ri = u;
		}
		/* 6.3: unknown tags MUST be ignored. */
	}
	free(copy);
	/* 6.6.3 step 6: bad or missing p, or bad sp: p=none if rua. */
	if (!have_p || p_bad || sp_bad) {
		if (rec->rua == NULL) {
			*error_r = !have_p ? "no p= tag" : "invalid p= or sp=";
			dmarc_record_free(&rec);
			return -1;
		}
		rec->p = DMARC_P_NONE;
		rec->sp = DMARC_P_UNSET;
	}
	*rec_r = rec;
	return 0;
}

enum dmarc_policy
dmarc_record_p(const struct dmarc_record *r)
{
	return r->p;
}

enum dmarc_policy
dmarc_record_sp(const struct dmarc_record *r)
{
	return r->sp;
}

enum dmarc_policy
dmarc_record_np(const struct dmarc_record *r)
{
	return r->np;
}

unsigned
dmarc_record_pct(const struct dmarc_record *r)
{
	return r->pct;
}

bool
dmarc_record_adkim_strict(const struct dmarc_record *r)
{
	return r->adkim_s;
}

bool
dmarc_record_aspf_strict(const struct dmarc_record *r)
{
	return r->aspf_s;
}

const char *
dmarc_record_rua(const struct dmarc_record *r)
{
	return r->rua;
}

const char *
dmarc_record_ruf(const struct dmarc_record *r)
{
	return r->ruf;
}

const char *
dmarc_record_fo(const struct dmarc_record *r)
{
	return r->fo != NULL ? r->fo : "0";
}

const char *
dmarc_record_rf(const struct dmarc_record *r)
{
	return r->rf != NULL ? r->rf : "afrf";
}

unsigned long
dmarc_record_ri(const struct dmarc_record *r)
{
	return r->ri;
}

void
dmarc_record_free(struct dmarc_record **rp)
{
	struct dmarc_record	*r = *rp;

	if (r == NULL)
		return;
	free(r->rua);
	free(r->ruf);
	free(r->fo);
	free(r->rf);
	free(r);
	*rp = NULL;
}
