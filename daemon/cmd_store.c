/*
 * cmd_store.c - the store subcommands:
 *
 *   postern deliver [-c FILE] --to ADDRESS [--folder NAME] < message
 *       hands the message to the running daemon over the control socket
 *       (ctl.h) and exits 0 only after the daemon answered OK, which it
 *       does once the message is fsynced in the Maildir; prints "uid=N".
 *   postern reindex [-c FILE] [-v] [ADDRESS]
 *       rebuilds the index from the Maildir (store_reindex.c) while the
 *       daemon is stopped: it refuses when the control socket answers,
 *       since the index has one writer and the daemon caches its state.
 *   postern check [-c FILE] [-v] [ADDRESS]
 *       compares index and Maildir read-only (fine beside the daemon);
 *       exit 0 if they agree, 1 otherwise (`postern reindex` repairs).
 *
 * The config is found as `postern serve` finds it: -c FILE, else
 * /etc/postern/postern.conf if it exists, else the embedded development
 * default.  Run as root, reindex and check drop to run_as first so that
 * every index file stays the daemon's.
 *
 * Owns nothing beyond one command run.  Threads: the CLI's main thread;
 * no event loop, so blocking I/O is fine here.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "conf.h"
#include "log.h"
#include "str.h"
#include "xmalloc.h"
/* pst_core does not see storage/'s include directory (CMakeLists.txt). */
#include "store.h"

#define CMD_REPLY_TIMEOUT	600	/* seconds for the daemon's answer */
#define CMD_REPLY_MAX		4096

/* Root with run_as: become that user, as the daemon does. */
static int
cmd_drop_privileges(const struct conf *conf)
{
	struct passwd	*pw;
	struct group	*gr;
	gid_t		 gid;

	if (getuid() != 0 || conf->run_as_user == NULL)
		return 0;
	if ((pw = getpwnam(conf->run_as_user)) == NULL) {
		fprintf(stderr, "postern: run_as.user: no such user '%s'\n",
		    conf->run_as_user);
		return -1;
	}
	gid = pw->pw_gid;
	if (conf->run_as_group != NULL) {
		if ((gr = getgrnam(conf->run_as_group)) == NULL) {
			fprintf(stderr, "postern: run_as.group: no such group "
			    "'%s'\n", conf->run_as_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		fprintf(stderr, "postern: cannot become %s: %s\n",
		    conf->run_as_user, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- deliver ---- */

/*
 * Read the whole message, at most limit bytes after conversion: drop an
 * mbox "From " line, turn bare LF into CRLF.  -1 with a message.
 */
static int
cmd_read_message(uint64_t limit, struct buf *out)
{
	char		 chunk[65536];
	size_t		 n, i;
	bool		 first = true, skip = false, cr = false;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		i = 0;
		if (first) {
			first = false;
			skip = n >= 5 && memcmp(chunk, "From ", 5) == 0;
		}
		for (; i < n; i++) {
			if (skip) {
				skip = chunk[i] != '\n';
				continue;
			}
			if (chunk[i] == '\n' && !cr)
				buf_putc(out, '\r');
			buf_putc(out, chunk[i]);
			cr = chunk[i] == '\r';
		}
		if (out->len > limit) {
			fprintf(stderr, "postern: message larger than "
			    "message_size_limit (%" PRIu64 " bytes)\n", limit);
			return -1;
		}
	}
	if (ferror(stdin)) {
		fprintf(stderr, "postern: reading the message from stdin: "
		    "%s\n", strerror(errno));
		return -1;
	}
	if (out->len == 0) {
		fprintf(stderr, "postern: empty message on stdin\n");
		return -1;
	}
	if (!cr && out->data[out->len - 1] != '\n')
		buf_puts(out, "\r\n");	/* a last line without its end */
	return 0;
}

static int
cmd_deliver_usage(void)
{
	fprintf(stderr, "usage: postern deliver [-c FILE] --to ADDRESS "
	    "[--folder NAME] < message\n");
	return 2;
}

int
cmd_deliver(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "to", required_argument, NULL, 't' },
		{ "folder", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct conf	*conf;
	struct buf	 msg = BUF_INIT, req = BUF_INIT;
	const char	*file = NULL, *to = NULL, *folder = NULL;
	char		 reply[CMD_REPLY_MAX];
	int		 ch, fd = -1, rc = 1, werr = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:t:f:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'f':
			folder = optarg;
			break;
		default:
			return cmd_deliver_usage();
		}
	}
	if (optind != argc || to == NULL)
		return cmd_deliver_usage();
	if (strchr(to, '@') == NULL || strpbrk(to, " \t\r\n") != NULL ||
	    (folder != NULL && (folder[0] == '\0' ||
	    strpbrk(folder, "\r\n") != NULL))) {
		fprintf(stderr, "postern: bad --to address or --folder name\n");
		return 2;
	}
	if ((conf = cmd_conf_load(file, NULL)) == NULL)
		return 1;
	log_init(LOG_L_WARN);
	if (conf->listen.control == NULL) {
		fprintf(stderr, "postern: listen.control is not set in %s: "
		    "deliver needs the daemon's control socket\n", conf->file);
		goto out;
	}
	if (cmd_read_message(conf->message_size_limit, &msg) == -1)
		goto out;
	if ((fd = cmd_ctl_connect(conf->listen.control)) == -1) {
		fprintf(stderr, "postern: cannot reach the daemon at its "
		    "control socket %s: %s (is `postern serve` running?)\n",
		    conf->listen.control, strerror(errno));
		goto out;
	}
	buf_printf(&req, "DELIVER %s%s%s %zu\n", to, folder ? " " : "",
	    folder ? folder : "", msg.len);
	/*
	 * A refusal may come before the body is read; then our write fails
	 * and the reply still waits to be read.
	 */
	if (cmd_ctl_send(fd, req.data, req.len) == -1 ||
	    cmd_ctl_send(fd, msg.data, msg.len) == -1)
		werr = errno;
	if (cmd_ctl_reply(fd, reply, sizeof(reply), CMD_REPLY_TIMEOUT) == -1) {
		fprintf(stderr, "postern: the daemon closed the control "
		    "connection without an answer%s%s: the message may not "
		    "have been delivered\n", werr ? ": " : "",
		    werr ? strerror(werr) : "");
		goto out;
	}
	if (strncmp(reply, "OK ", 3) == 0) {
		printf("%s\n", reply + 3);
		rc = 0;
	} else
		fprintf(stderr, "postern: delivery to %s failed: %s\n", to,
		    strncmp(reply, "ERR ", 4) == 0 ? reply + 4 : reply);
out:
	if (fd != -1)
		close(fd);
	buf_free(&msg);
	buf_free(&req);
	conf_free(&conf);
	return rc;
}

/* ---- reindex and check ---- */

static int
cmd_tool_args(int argc, char **argv, const char **file_r,
    const char **account_r, unsigned int *opts_r)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:v", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*file_r = optarg;
			break;
		case 'v':
			*opts_r |= STORE_TOOL_VERBOSE;
			break;
		default:
			return -1;
		}
	}
	if (argc - optind > 1)
		return -1;
	if (argc - optind == 1) {
		*account_r = argv[optind];
		if (strchr(*account_r, '@') == NULL) {
			fprintf(stderr, "postern: '%s' is not an address\n",
			    *account_r);
			return -1;
		}
	}
	return 0;
}

int
cmd_reindex(int argc, char **argv)
{
	struct conf	*conf;
	const char	*file = NULL, *account = NULL, *err;
	unsigned int	 opts = 0;
	int		 fd, rc = 1;

	if (cmd_tool_args(argc, argv, &file, &account, &opts) == -1) {
		fprintf(stderr, "usage: postern reindex [-c FILE] [-v] "
		    "[ADDRESS]\n");
		return 2;
	}
	if ((conf = cmd_conf_load(file, NULL)) == NULL)
		return 1;
	log_init(LOG_L_WARN);
	if (conf->listen.control != NULL &&
	    (fd = cmd_ctl_connect(conf->listen.control)) != -1) {
		close(fd);
		fprintf(stderr, "postern: the daemon is running (its control "
		    "socket %s answers): stop it before reindexing, the "
		    "index has one writer\n", conf->listen.control);
		goto out;
	}
	if (cmd_drop_privileges(conf) == -1)
		goto out;
	if (store_reindex_blocking(conf, account, opts, &err) == -1) {
		fprintf(stderr, "postern: reindex: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	conf_free(&conf);
	return rc;
}

int
cmd_check(int argc, char **argv)
{
	struct conf	*conf;
	const char	*file = NULL, *account = NULL, *err;
	unsigned int	 opts = 0;
	size_t		 problems = 0;
	int		 rc = 1;

	if (cmd_tool_args(argc, argv, &file, &account, &opts) == -1) {
		fprintf(stderr, "usage: postern check [-c FILE] [-v] "
		    "[ADDRESS]\n");
		return 2;
	}
	if ((conf = cmd_conf_load(file, NULL)) == NULL)
		return 1;
	log_init(LOG_L_WARN);
	if (cmd_drop_privileges(conf) == -1)
		goto out;
	if (store_check_blocking(conf, account, opts, &problems,
	    &err) == -1) {
		fprintf(stderr, "postern: check: %s\n", err);
		goto out;
	}
	if (problems == 0) {
		printf("ok: index and Maildir agree\n");
		rc = 0;
	} else
		printf("%zu inconsistencies: run `postern reindex` (with the "
		    "daemon stopped) to repair\n", problems);
out:
	conf_free(&conf);
	return rc;
}
