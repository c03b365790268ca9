/*
 * cmd_spam.c - the spam subcommands:
 *
 *   postern spam learn-spam|learn-ham [-c FILE] [--user ADDR] PATH...
 *       teaches Bayes from message files; a directory is walked (a
 *       Maildir's cur/ and new/, an export tree), dot files skipped.
 *       With --user the lesson goes to that account and the global set,
 *       else to the global set only.  Prints learned/known counts.
 *   postern spam stats [-c FILE] [--user ADDR]
 *       messages learned (spam, ham), distinct global tokens and the
 *       tokenizer version of the data.
 *   postern spam reset [-c FILE]
 *       forgets everything Bayes learned (every user's and the global
 *       set): after a tokenizer version change, or to start over.
 *   postern spam score [-c FILE] [--user ADDR] [--bayes-min N]
 *       [--no-bayes] [-v] PATH...
 *       scores files offline as the MX would with no network checks
 *       (no SPF/DKIM/DMARC, no HELO): "score action path" per line, -v
 *       adds the X-Spam-Result symbols.  For tests and the accuracy
 *       benchmark.
 *
 * The index is opened directly (LMDB allows a second process beside
 * the daemon) without an fsync per message; one sync at the end.
 *
 * Owns nothing beyond one command run.  Threads: the CLI's main thread;
 * blocking I/O is fine here.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "conf.h"
#include "idx.h"
#include "spam.h"
#include "xmalloc.h"

#define CMD_SPAM_MAX	(32 * 1024 * 1024)
#define CMD_SPAM_DEPTH	8

struct cmd_spam {
	const char	*verb;
	struct conf	*conf;
	struct idx	*idx;
	const char	*user;
	unsigned	 bayes_min;
	bool		 no_bayes, verbose;
	uint64_t	 files, learned, known, failed;
	uint64_t	 counts[4];
	double		 secs;
};

static int
cmd_spam_usage(void)
{
	fprintf(stderr, "usage: postern spam learn-spam|learn-ham [-c FILE] "
	    "[--user ADDR] PATH...\n"
	    "       postern spam stats [-c FILE] [--user ADDR]\n"
	    "       postern spam reset [-c FILE]\n"
	    "       postern spam score [-c FILE] [--user ADDR] "
	    "[--bayes-min N] [--no-bayes] [-v] PATH...\n");
	return 2;
}

static int
cmd_spam_read(const char *path, struct buf *b)
{
	char	 chunk[65536];
	ssize_t	 r;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (b->len < CMD_SPAM_MAX && ((r = read(fd, chunk,
	    sizeof(chunk))) > 0 || (r == -1 && errno == EINTR)))
		if (r > 0)
			buf_append(b, chunk, (size_t)r);
	close(fd);
	return 0;
}

static void
cmd_spam_file(struct cmd_spam *c, const char *path)
{
	struct spam_result	*r;
	struct spam_env		 env;
	struct buf		 b = BUF_INIT, h = BUF_INIT;
	struct timespec		 t0, t1;
	const char		*e = NULL;
	int			 rc;

	c->files++;
	if (cmd_spam_read(path, &b) == -1) {
		fprintf(stderr, "postern spam: %s: %s\n", path,
		    strerror(errno));
		c->failed++;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (strcmp(c->verb, "score") == 0) {
		memset(&env, 0, sizeof(env));
		env.user = c->user;
		env.our_fqdn = c->conf->fqdn;
		if (c->bayes_min > 0 || c->no_bayes) {
			r = spam_check_with(c->conf, NULL, c->no_bayes ? NULL :
			    c->idx, c->bayes_min, &env, b.data != NULL ?
			    b.data : "", b.len);
		} else
			r = spam_check_blocking(c->conf, c->no_bayes ? NULL :
			    c->idx, &env, b.data != NULL ? b.data : "", b.len);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("%.2f %s %s\n", spam_result_score(r),
		    spam_action_name(spam_result_action(r)), path);
		if (c->verbose) {
			spam_result_headers(r, &h);
			fwrite(h.data, 1, h.len, stdout);
		}
		c->counts[spam_result_action(r)]++;
		spam_result_free(&r);
	} else {
		rc = spam_bayes_learn_blocking(c->idx, c->user, b.data != NULL
		    ? b.data : "", b.len, strcmp(c->verb, "learn-spam") == 0,
		    &e);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (rc == -1) {
			fprintf(stderr, "postern spam: %s: %s\n", path,
			    e != NULL ? e : "learn failed");
			c->failed++;
		} else if (rc == 1)
			c->learned++;
		else
			c->known++;
	}
	c->secs += (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	buf_free(&h);
	buf_free(&b);
}

static void
cmd_spam_path(struct cmd_spam *c, const char *path, int depth)
{
	struct dirent	**ents = NULL;
	struct stat	 st;
	char		*sub;
	int		 i, n;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "postern spam: %s: %s\n", path,
		    strerror(errno));
		c->failed++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		cmd_spam_file(c, path);
		return;
	}
	if (depth >= CMD_SPAM_DEPTH ||
	    (n = scandir(path, &ents, NULL, alphasort)) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    strcmp(ents[i]->d_name, "tmp") != 0) {
			sub = xasprintf("%s/%s", path, ents[i]->d_name);
			cmd_spam_path(c, sub, depth + 1);
			free(sub);
		}
		free(ents[i]);
	}
	free(ents);
}

int
cmd_spam(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "bayes-min", required_argument, NULL, 'm' },
		{ "no-bayes", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_spam		 c;
	struct idx_opts		 io;
	const char		*file = NULL, *e = NULL;
	char			*ipath;
	uint64_t		 ns, nh, nt;
	unsigned		 ver = 0;
	int			 ch, i, rc = 0;

	memset(&c, 0, sizeof(c));
	if (argc < 2)
		return cmd_spam_usage();
	c.verb = argv[1];
	if (strcmp(c.verb, "learn-spam") != 0 &&
	    strcmp(c.verb, "learn-ham") != 0 && strcmp(c.verb, "stats") != 0 &&
	    strcmp(c.verb, "score") != 0 && strcmp(c.verb, "reset") != 0)
		return cmd_spam_usage();
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:u:m:nv", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'u':
			c.user = optarg;
			break;
		case 'm':
			c.bayes_min = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			c.no_bayes = true;
			break;
		case 'v':
			c.verbose = true;
			break;
		default:
			return cmd_spam_usage();
		}
	}
	if ((optind == argc) != (strcmp(c.verb, "stats") == 0 ||
	    strcmp(c.verb, "reset") == 0))
		return cmd_spam_usage();
	if ((c.conf = cmd_conf_load(file, NULL)) == NULL)
		return 1;
	if (mkdir(c.conf->state_dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "postern spam: %s: %s\n", c.conf->state_dir,
		    strerror(errno));
		conf_free(&c.conf);
		return 1;
	}
	memset(&io, 0, sizeof(io));
	io.nosync = true;
	ipath = xasprintf("%s/index.lmdb", c.conf->state_dir);
	if (!c.no_bayes && idx_open_opts_blocking(ipath, &io, &c.idx,
	    &e) == -1) {
		fprintf(stderr, "postern spam: %s: %s\n", ipath, e);
		free(ipath);
		conf_free(&c.conf);
		return 1;
	}
	free(ipath);
	if (strcmp(c.verb, "stats") == 0) {
		if (spam_bayes_stats_blocking(c.idx, c.user, &ns, &nh, &nt,
		    &ver, &e) == -1) {
			fprintf(stderr, "postern spam: %s\n", e);
			rc = 1;
		} else
			printf("user: %s\nspam: %llu\nham: %llu\ntokens: %llu\n"
			    "min: %d\nversion: %u\n", c.user != NULL ? c.user :
			    "(global)", (unsigned long long)ns,
			    (unsigned long long)nh, (unsigned long long)nt,
			    SPAM_BAYES_MIN, ver);
	} else if (strcmp(c.verb, "reset") == 0) {
		if (spam_bayes_reset_blocking(c.idx, &e) == -1) {
			fprintf(stderr, "postern spam: %s\n", e);
			rc = 1;
		} else
			printf("Bayes data removed\n");
	} else {
		for (i = optind; i < argc; i++)
			cmd_spam_path(&c, argv[i], 0);
		if (strcmp(c.verb, "score") == 0)
			fprintf(stderr, "scored=%llu accept=%llu greylist=%llu "
			    "add_header=%llu reject=%llu failed=%llu "
			    "msgs_per_s=%.1f\n", (unsigned long long)c.files,
			    (unsigned long long)c.counts[0],
			    (unsigned long long)c.counts[1],
			    (unsigned long long)c.counts[2],
			    (unsigned long long)c.counts[3],
			    (unsigned long long)c.failed, c.secs > 0 ?
			    (double)(c.files - c.failed) / c.secs : 0.0);
		else
			printf("files=%llu learned=%llu known=%llu "
			    "failed=%llu\n", (unsigned long long)c.files,
			    (unsigned long long)c.learned,
			    (unsigned long long)c.known,
			    (unsigned long long)c.failed);
		rc = c.failed > 0 ? 1 : 0;
	}
	if (c.idx != NULL) {
		(void)idx_sync_blocking(c.idx, &e);
		idx_close(&c.idx);
	}
	conf_free(&c.conf);
	return rc;
}
