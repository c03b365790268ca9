/*
 * dkim_keyring.c - the DKIM signing keys of one configuration generation:
 * every selector of dkim.domains, loaded from key_file or from
 * <key_directory>/<domain>.<selector>.key, and generated there (with the
 * .txt record beside it, as Simple NixOS Mailserver's opendkim-genkey
 * did) when the file does not exist yet.  With srs.enable, srs.domain
 * gets a dkim.defaults selector too unless dkim.domains lists it.
 *
 * Loading does blocking file I/O and, for a new RSA key, a tenth of a
 * second to seconds of CPU: it runs when main.c builds a generation,
 * never per message.  At start that is the loop thread before it runs;
 * for a reload (SIGHUP, `postern reload`) it is a worker job (loop.c),
 * so this file touches nothing but its arguments, the key files and the
 * log.  loop.c builds one generation at a time, so two loads never
 * generate the same missing key at once.  Once built the ring is
 * read-only, so workers may sign with its keys concurrently (dkim.h:
 * keys may be shared read-only).
 * Ownership of generated files: they are created by whoever builds the
 * generation; the first build runs as root before the privilege drop,
 * so main.c must chown key_directory and its files to run_as.  [any]
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "dkim.h"
#include "log.h"
#include "xmalloc.h"

struct dkim_keyring_key {
	char		*domain;
	char		*selector;
	EVP_PKEY	*key;
};

struct dkim_keyring {
	struct dkim_keyring_key	*v;
	size_t			 n;
};

/* mkdir -p, mode for the directories it creates. */
static int
dkim_keyring_mkdirs(const char *path, mode_t mode)
{
	char	*p, *q, c;
	int	 rc = 0;

	p = xstrdup(path);
	for (q = p + 1; rc == 0; q++) {
		if (*q != '/' && *q != '\0')
			continue;
		c = *q;
		*q = '\0';
		if (mkdir(p, mode) == -1 && errno != EEXIST)
			rc = -1;
		*q = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

static int
dkim_keyring_one(struct dkim_keyring *kr, const struct conf *conf,
    const char *domain, const struct conf_dkim_selector *sel, char *err,
    size_t errlen)
{
	EVP_PKEY	*key = NULL;
	const char	*e = NULL;
	char		*path;
	int		 rc = -1;

	if (sel->key_file != NULL)
		path = xstrdup(sel->key_file);
	else
		path = xasprintf("%s/%s.%s.key", conf->dkim.key_directory,
		    domain, sel->name);
	if (access(path, F_OK) == 0) {
		if (dkim_key_load(path, &key, &e) == -1) {
			snprintf(err, errlen, "dkim: %s: %s", path, e);
			goto out;
		}
	} else if (errno == ENOENT && sel->key_file == NULL) {
		if (dkim_keyring_mkdirs(conf->dkim.key_directory, 0700) == -1) {
			snprintf(err, errlen, "dkim: mkdir %s: %s",
			    conf->dkim.key_directory, strerror(errno));
			goto out;
		}
		if (dkim_key_generate(sel->key_type == CONF_KEY_ED25519 ?
		    DKIM_KEY_ED25519 : DKIM_KEY_RSA, sel->key_length, &key,
		    &e) == -1 || dkim_key_write_files(key,
		    conf->dkim.key_directory, domain, sel->name, &e) == -1) {
			snprintf(err, errlen, "dkim: generate %s: %s", path,
			    e != NULL ? e : "failed");
			goto out;
		}
		log_info("dkim key generated domain=%s selector=%s type=%s "
		    "path=%s", domain, sel->name,
		    sel->key_type == CONF_KEY_ED25519 ? "ed25519" : "rsa",
		    path);
	} else {
		snprintf(err, errlen, "dkim: %s: %s", path, strerror(errno));
		goto out;
	}
	kr->v = xreallocarray(kr->v, kr->n + 1, sizeof(*kr->v));
	kr->v[kr->n].domain = xstrdup(domain);
	kr->v[kr->n].selector = xstrdup(sel->name);
	kr->v[kr->n].key = key;
	kr->n++;
	key = NULL;
	rc = 0;
 out:
	EVP_PKEY_free(key);
	free(path);
	return rc;
}

int
dkim_keyring_load(const struct conf *conf, struct dkim_keyring **kr_r,
    char *err, size_t errlen)
{
	struct dkim_keyring		*kr;
	const struct conf_dkim_domain	*d;
	size_t				 i, j;

	*kr_r = NULL;
	kr = xcalloc(1, sizeof(*kr));
	for (i = 0; conf->dkim.enable && i < conf->dkim.ndomains; i++) {
		d = &conf->dkim.domains[i];
		for (j = 0; j < d->nselectors; j++) {
			if (dkim_keyring_one(kr, conf, d->domain,
			    &d->selectors[j], err, errlen) == -1) {
				dkim_keyring_free(&kr);
				return -1;
			}
		}
	}
	/*
	 * With SRS the srs.domain signs too (filter_sign.c: DSNs sent as
	 * MAILER-DAEMON@srs.domain): a dkim.defaults key unless listed.
	 */
	if (conf->dkim.enable && conf->srs.enable && conf->srs.domain != NULL &&
	    dkim_keyring_count(kr, conf->srs.domain) == 0 &&
	    dkim_keyring_one(kr, conf, conf->srs.domain, &conf->dkim.defaults,
	    err, errlen) == -1) {
		dkim_keyring_free(&kr);
		return -1;
	}
	*kr_r = kr;
	return 0;
}

void
dkim_keyring_free(struct dkim_keyring **krp)
{
	struct dkim_keyring	*kr = *krp;
	size_t			 i;

	if (kr == NULL)
		return;
	for (i = 0; i < kr->n; i++) {
		free(kr->v[i].domain);
		free(kr->v[i].selector);
		EVP_PKEY_free(kr->v[i].key);
	}
	free(kr->v);
	free(kr);
	*krp = NULL;
}

size_t
dkim_keyring_count(const struct dkim_keyring *kr, const char *domain)
{
	size_t	 i, n = 0;

	for (i = 0; kr != NULL && i < kr->n; i++)
		if (strcasecmp(kr->v[i].domain, domain) == 0)
			n++;
	return n;
}

int
dkim_keyring_get(const struct dkim_keyring *kr, const char *domain,
    size_t idx, const char **selector_r, EVP_PKEY **key_r)
{
	size_t	 i;

	for (i = 0; kr != NULL && i < kr->n; i++) {
		if (strcasecmp(kr->v[i].domain, domain) != 0)
			continue;
		if (idx-- == 0) {
			*selector_r = kr->v[i].selector;
			*key_r = kr->v[i].key;
			return 0;
		}
	}
	return -1;
}

size_t
dkim_keyring_size(const struct dkim_keyring *kr)
{
	return kr != NULL ? kr->n : 0;
}
