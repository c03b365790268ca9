/*
 * cmd_queue.c - `postern queue list|show ID|flush|delete ID|bounce ID
 * [-c FILE]`: ask the running daemon over its control socket (QUEUE
 * requests, ctl.c) and print what it answers.  The queue lives in the
 * daemon's memory and LMDB, so there is no offline mode.  [main thread,
 * blocking]
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "conf.h"
#include "str.h"
#include "xmalloc.h"

#define CMD_QUEUE_TIMEOUT	30

static int
cmd_queue_usage(void)
{
	fprintf(stderr, "usage: postern queue [-c FILE] list|show ID|flush|"
	    "delete ID|bounce ID\n");
	return 2;
}

static int
cmd_queue_ask(const char *path, const char *req)
{
	struct timeval		 tv = { CMD_QUEUE_TIMEOUT, 0 };
	struct buf		 b = BUF_INIT;
	char			 chunk[4096], *last;
	ssize_t			 n;
	int			 fd, rc;

	if ((fd = cmd_ctl_connect(path)) == -1) {
		fprintf(stderr, "postern: no daemon answers on %s: %s\n", path,
		    strerror(errno));
		return 1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(chunk, sizeof(chunk), "QUEUE %s\n", req);
	if (write(fd, chunk, strlen(chunk)) != (ssize_t)strlen(chunk)) {
		fprintf(stderr, "postern: control socket: %s\n",
		    strerror(errno));
		close(fd);
		return 1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(&b, chunk, (size_t)n);
	close(fd);
	if (b.data == NULL) {
		fprintf(stderr, "postern: no answer from the daemon\n");
		return 1;
	}
	/* The last line is the status; the rest is the listing. */
	if (b.len > 0 && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	last = strrchr(b.data, '\n');
	if (last != NULL) {
		*last++ = '\0';
		printf("%s\n", b.data);
	} else
		last = b.data;
	rc = strncmp(last, "OK", 2) == 0 ? 0 : 1;
	if (rc != 0)
		fprintf(stderr, "postern: %s\n", last);
	buf_free(&b);
	return rc;
}

int
cmd_queue(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	struct conf	*conf;
	const char	*file = NULL, *verb;
	char		 req[512];
	int		 ch, rc, nargs;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch != 'c')
			return cmd_queue_usage();
		file = optarg;
	}
	if (optind >= argc)
		return cmd_queue_usage();
	verb = argv[optind];
	nargs = argc - optind - 1;
	if ((strcasecmp(verb, "list") == 0 || strcasecmp(verb, "flush") == 0) &&
	    nargs == 0)
		snprintf(req, sizeof(req), "%s", verb);
	else if ((strcasecmp(verb, "show") == 0 ||
	    strcasecmp(verb, "delete") == 0 ||
	    strcasecmp(verb, "bounce") == 0) && nargs == 1 &&
	    strlen(argv[optind + 1]) < 64 &&
	    strpbrk(argv[optind + 1], " \r\n") == NULL)
		snprintf(req, sizeof(req), "%s %s", verb, argv[optind + 1]);
	else
		return cmd_queue_usage();
	if ((conf = cmd_conf_load(file, NULL)) == NULL)
		return 1;
	if (conf->listen.control == NULL || conf->listen.control[0] == '\0') {
		fprintf(stderr, "postern: listen.control is not set\n");
		conf_free(&conf);
		return 1;
	}
	rc = cmd_queue_ask(conf->listen.control, req);
	conf_free(&conf);
	return rc;
}
