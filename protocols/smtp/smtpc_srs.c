/*
 * smtpc_srs.c - the SRS rewriter of the running configuration
 * (smtpc_srs.h).  Owns one struct srs and the srs.* settings it was
 * built for; rebuilt when they change.  Loop thread only.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "smtpc_srs.h"
#include "srs.h"
#include "xmalloc.h"

static struct {
	bool		 built;
	bool		 enable;
	char		*domain;
	char		*file;
	struct srs	*srs;
} smtpc_srs_cur;

static bool
smtpc_srs_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Create path with a fresh secret unless it exists.  [blocking] */
static int
smtpc_srs_create(const char *path, const char **error_r)
{
	unsigned char	 rnd[32];
	char		 hex[2 * sizeof(rnd) + 2];
	size_t		 i, off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		if (errno == EEXIST)
			return 0;
		*error_r = "cannot create srs.secret_file";
		return -1;
	}
	while (off < sizeof(rnd)) {
		if ((n = getrandom(rnd + off, sizeof(rnd) - off, 0)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	hex[2 * sizeof(rnd)] = '\n';
	hex[2 * sizeof(rnd) + 1] = '\0';
	explicit_bzero(rnd, sizeof(rnd));
	if (off != sizeof(rnd) || write(fd, hex, strlen(hex)) !=
	    (ssize_t)strlen(hex) || fsync(fd) == -1) {
		explicit_bzero(hex, sizeof(hex));
		close(fd);
		unlink(path);
		*error_r = "cannot write srs.secret_file";
		return -1;
	}
	explicit_bzero(hex, sizeof(hex));
	if (close(fd) == -1) {
		unlink(path);
		*error_r = "cannot write srs.secret_file";
		return -1;
	}
	log_info("srs secret created file=%s", path);
	return 0;
}

static void
smtpc_srs_build(const struct conf *conf)
{
	char		**secrets = NULL;
	size_t		 n = 0;
	const char	*err = NULL;

	srs_free(&smtpc_srs_cur.srs);
	free(smtpc_srs_cur.domain);
	free(smtpc_srs_cur.file);
	smtpc_srs_cur.built = true;
	smtpc_srs_cur.enable = conf->srs.enable;
	smtpc_srs_cur.domain = conf->srs.domain ? xstrdup(conf->srs.domain) :
	    NULL;
	smtpc_srs_cur.file = conf->srs.secret_file ?
	    xstrdup(conf->srs.secret_file) : NULL;
	if (!conf->srs.enable)
		return;
	if (smtpc_srs_cur.domain == NULL || smtpc_srs_cur.file == NULL) {
		log_err("srs disabled error=\"srs.domain or srs.secret_file "
		    "missing\"");
		return;
	}
	if (smtpc_srs_create(smtpc_srs_cur.file, &err) == -1 ||
	    srs_load_secrets_blocking(smtpc_srs_cur.file, &secrets, &n,
	    &err) == -1 ||
	    srs_new(smtpc_srs_cur.domain, (const char *const *)secrets, n, 0,
	    &smtpc_srs_cur.srs, &err) == -1) {
		log_err("srs disabled file=%s error=\"%s\"", smtpc_srs_cur.file,
		    err != NULL ? err : "unknown");
		srs_secrets_free(&secrets);
		return;
	}
	srs_secrets_free(&secrets);
	log_info("srs enabled domain=%s secrets=%zu", smtpc_srs_cur.domain, n);
}

const struct srs *
smtpc_srs(const struct conf *conf)
{
	if (conf == NULL)
		return NULL;
	if (!smtpc_srs_cur.built || smtpc_srs_cur.enable != conf->srs.enable ||
	    !smtpc_srs_same(smtpc_srs_cur.domain, conf->srs.domain) ||
	    !smtpc_srs_same(smtpc_srs_cur.file, conf->srs.secret_file))
		smtpc_srs_build(conf);
	return smtpc_srs_cur.srs;
}

void
smtpc_srs_init(const struct conf *conf)
{
	(void)smtpc_srs(conf);
}
