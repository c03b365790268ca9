/*
 * smtpc_srs.c - the SRS rewriter of a configuration generation
 * (smtpc_srs.h): the secret file made when missing, read, and the
 * rewriter built from it.  Owns nothing between calls.  Threads: start
 * or a worker (the generation build).  [worker]
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

struct srs *
smtpc_srs_build_blocking(const struct conf *conf)
{
	struct srs	*srs = NULL;
	char		**secrets = NULL;
	size_t		 n = 0;
	const char	*err = NULL;

	if (!conf->srs.enable)
		return NULL;
	if (conf->srs.domain == NULL || conf->srs.secret_file == NULL) {
		log_err("srs disabled error=\"srs.domain or srs.secret_file "
		    "missing\"");
		return NULL;
	}
	if (smtpc_srs_create(conf->srs.secret_file, &err) == -1 ||
	    srs_load_secrets_blocking(conf->srs.secret_file, &secrets, &n,
	    &err) == -1 ||
	    srs_new(conf->srs.domain, (const char *const *)secrets, n, 0,
	    &srs, &err) == -1) {
		log_err("srs disabled file=%s error=\"%s\"",
		    conf->srs.secret_file, err != NULL ? err : "unknown");
		srs_secrets_free(&secrets);
		return NULL;
	}
	srs_secrets_free(&secrets);
	log_info("srs enabled domain=%s secrets=%zu", conf->srs.domain, n);
	return srs;
}
