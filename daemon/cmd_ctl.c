/*
 * cmd_ctl.c - the client side of the control socket (protocol in ctl.h)
 * and the two commands that do nothing but ask the running daemon:
 *
 *   postern reload [-c FILE]   RELOAD: reread the configuration, as SIGHUP
 *   postern status [-c FILE]   STATUS and QUEUE LIST: version, pid,
 *                              uptime, generation, connections per
 *                              service, outbound queue size
 *
 * cmd_ctl_ask() sends one request line and reads the whole answer; it is
 * shared with `postern account` (RELOAD after each change).
 *
 * The daemon's STATUS line carries its generation, uptime and the open
 * connections of each listening service (ctl.c); the pid comes from the
 * socket's peer credentials (SO_PEERCRED).  Against a daemon whose
 * STATUS lacks a field, the uptime is read from /proc/<pid>/stat and the
 * connections from /proc/net/tcp{,6} (established sockets on a port of
 * the service's listen list); fields the daemon sends take precedence.
 *
 * The socket is mode 0660, owned by run_as when the daemon starts as
 * root (ctl.c ctl_start binds under umask 0117, then chown and chmod), so
 * only root and the run_as user and group can use these commands.
 *
 * Owns nothing beyond one command run.  Threads: the CLI's main thread,
 * blocking I/O.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "conf.h"
#include "str.h"
#include "xmalloc.h"

#define CMD_CTL_TIMEOUT		60	/* seconds for the daemon's answer */
#define CMD_CTL_REPLY_MAX	(16 * 1024 * 1024)

int
cmd_ctl_ask(const char *path, const char *req, char **reply_r, pid_t *pid_r)
{
	struct timeval		 tv = { CMD_CTL_TIMEOUT, 0 };
	struct ucred		 cred;
	socklen_t		 credlen = sizeof(cred);
	struct buf		 b = BUF_INIT;
	char			 chunk[4096];
	size_t			 len;
	ssize_t			 n;
	int			 fd;

	*reply_r = NULL;
	if (pid_r != NULL)
		*pid_r = 0;
	if (path == NULL || path[0] == '\0') {
		errno = ENOENT;
		return 1;
	}
	if ((fd = cmd_ctl_connect(path)) == -1)
		return 1;
	if (pid_r != NULL && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
	    &credlen) == 0)
		*pid_r = cred.pid;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	len = strlen(req);
	if (write(fd, req, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		fprintf(stderr, "postern: control socket %s: %s\n", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	/* One request per connection: the daemon closes after its reply. */
	while (b.len < CMD_CTL_REPLY_MAX &&
	    (n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(&b, chunk, (size_t)n);
	close(fd);
	if (b.data == NULL || b.len == 0) {
		buf_free(&b);
		fprintf(stderr, "postern: no answer on the control socket %s\n",
		    path);
		return -1;
	}
	*reply_r = buf_steal(&b, &len);
	return 0;
}

/*
 * "-c FILE" and nothing else.  The config, or NULL with *rc_r the exit
 * status: 2 wrong usage, 1 the config does not load (its errors are
 * printed: a reload would be refused for the same reasons).
 */
static struct conf *
cmd_ctl_opts(int argc, char **argv, const char *usage, int *rc_r)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*file = NULL;
	struct conf	*conf;
	int		 ch;

	*rc_r = 2;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch != 'c') {
			fprintf(stderr, "usage: postern %s\n", usage);
			return NULL;
		}
		file = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: postern %s\n", usage);
		return NULL;
	}
	*rc_r = 1;
	if ((conf = cmd_conf_load(file, NULL)) == NULL)
		return NULL;
	if (conf->listen.control == NULL || conf->listen.control[0] == '\0') {
		fprintf(stderr, "postern: listen.control is not set\n");
		conf_free(&conf);
	}
	return conf;
}

/* The daemon is not there: say so in one line. */
static void
cmd_ctl_absent(const char *path)
{
	fprintf(stderr, "postern: no daemon answers on the control socket "
	    "%s: %s\n", path, strerror(errno));
}

/* The last line of a reply (the status), NUL-terminated in place. */
static char *
cmd_ctl_last(char *reply)
{
	size_t	 len = strlen(reply);
	char	*nl;

	while (len > 0 && reply[len - 1] == '\n')
		reply[--len] = '\0';
	nl = strrchr(reply, '\n');
	return nl != NULL ? nl + 1 : reply;
}

int
cmd_reload(int argc, char **argv)
{
	struct conf	*conf;
	char		*reply, *last;
	int		 rc;

	if ((conf = cmd_ctl_opts(argc, argv, "reload [-c FILE]", &rc)) == NULL)
		return rc;
	switch (cmd_ctl_ask(conf->listen.control, "RELOAD", &reply, NULL)) {
	case 0:
		last = cmd_ctl_last(reply);
		if (strncmp(last, "OK", 2) == 0) {
			printf("reloaded%s%s\n", last[2] != '\0' ? ":" : "",
			    last + 2);
			rc = 0;
		} else {
			fprintf(stderr, "postern: the daemon did not reload: "
			    "%s\n", last);
			rc = 1;
		}
		free(reply);
		break;
	case 1:
		cmd_ctl_absent(conf->listen.control);
		rc = 1;
		break;
	default:
		rc = 1;
		break;
	}
	conf_free(&conf);
	return rc;
}

/* ---- status ---- */

/*
 * Seconds since pid started, from field 22 of /proc/<pid>/stat (clock
 * ticks after boot) and /proc/uptime; -1 when unknown.  The command name
 * (field 2) may hold spaces and parentheses: parse after the last ')'.
 */
static long
cmd_ctl_uptime(pid_t pid)
{
	char		 path[64], line[2048], *p, *end;
	unsigned long long start;
	double		 boot;
	long		 hz;
	FILE		*fp;
	size_t		 n;
	int		 field;

	if (pid <= 0 || (hz = sysconf(_SC_CLK_TCK)) <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, fp);
	fclose(fp);
	line[n] = '\0';
	if ((p = strrchr(line, ')')) == NULL)
		return -1;
	/* p + 2 is field 3 (state); field 22 is 19 fields further. */
	for (p += 2, field = 3; field < 22 && p != NULL; field++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL)
		return -1;
	errno = 0;
	start = strtoull(p, &end, 10);
	if (errno != 0 || end == p)
		return -1;
	if ((fp = fopen("/proc/uptime", "re")) == NULL)
		return -1;
	if (fscanf(fp, "%lf", &boot) != 1) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	if (boot < (double)start / (double)hz)
		return 0;
	return (long)(boot - (double)start / (double)hz);
}

/* True if port is the port of one of l's "addr:port" entries. */
static bool
cmd_ctl_has_port(const struct conf_strlist *l, unsigned port)
{
	char	*host;
	size_t	 i;
	int	 p;

	for (i = 0; i < l->n; i++) {
		if (conf_parse_hostport(l->v[i], &host, &p) == -1)
			continue;
		free(host);
		if ((unsigned)p == port)
			return true;
	}
	return false;
}

/*
 * Count the established TCP sockets whose local port is in l, from the
 * kernel's tables (/proc/net/tcp and tcp6: "sl local rem st ...", hex).
 * Listening ports are the daemon's own, so these are its clients,
 * accepted or still in the backlog.  -1 when /proc is not readable.
 */
static long
cmd_ctl_tcp_count(const struct conf_strlist *l)
{
	static const char *const files[] = { "/proc/net/tcp",
	    "/proc/net/tcp6" };
	char		 line[512], local[64];
	unsigned	 port, st;
	char		*colon;
	FILE		*fp;
	size_t		 i;
	long		 n = 0;
	bool		 any = false;

	if (l->n == 0)
		return 0;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if ((fp = fopen(files[i], "re")) == NULL)
			continue;
		any = true;
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (sscanf(line, " %*s %63s %*s %x", local, &st) != 2 ||
			    (colon = strrchr(local, ':')) == NULL ||
			    sscanf(colon + 1, "%x", &port) != 1)
				continue;
			/* State 01 is TCP_ESTABLISHED. */
			if (st == 1 && cmd_ctl_has_port(l, port))
				n++;
		}
		fclose(fp);
	}
	return any ? n : -1;
}

/* The value of "key=" in the STATUS line, copied to out; false: absent. */
static bool
cmd_ctl_field(const char *line, const char *key, char *out, size_t size)
{
	const char	*p = line;
	size_t		 klen = strlen(key), vlen;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			p += klen + 1;
			vlen = strcspn(p, " ");
			if (vlen >= size)
				vlen = size - 1;
			memcpy(out, p, vlen);
			out[vlen] = '\0';
			return true;
		}
		p += klen;
	}
	return false;
}

/* Queued messages (lines of QUEUE LIST), -1 no queue or no answer. */
static long
cmd_ctl_queue_size(const char *path)
{
	char	*reply, *p, *last;
	long	 n = 0;

	if (cmd_ctl_ask(path, "QUEUE LIST", &reply, NULL) != 0)
		return -1;
	last = cmd_ctl_last(reply);
	if (strncmp(last, "OK", 2) != 0) {
		free(reply);
		return -1;
	}
	for (p = reply; p < last; p++)
		if (*p == '\n')
			n++;
	free(reply);
	return n;
}

static void
cmd_ctl_duration(long s, char *out, size_t size)
{
	if (s >= 86400)
		snprintf(out, size, "%ldd %02ld:%02ld:%02ld", s / 86400,
		    s / 3600 % 24, s / 60 % 60, s % 60);
	else
		snprintf(out, size, "%02ld:%02ld:%02ld", s / 3600,
		    s / 60 % 60, s % 60);
}

int
cmd_status(int argc, char **argv)
{
	static const char *const svcs[] = { "smtp", "submission",
	    "submissions", "imap", "imaps", "pop3", "pop3s", "managesieve",
	    "http" };
	const struct conf_strlist *lists[sizeof(svcs) / sizeof(svcs[0])];
	struct conf	*conf;
	char		*reply, *last, val[128], dur[64];
	pid_t		 pid;
	long		 up, n, q;
	size_t		 i;
	int		 rc;

	if ((conf = cmd_ctl_opts(argc, argv, "status [-c FILE]", &rc)) == NULL)
		return rc;
	switch (cmd_ctl_ask(conf->listen.control, "STATUS", &reply, &pid)) {
	case 0:
		break;
	case 1:
		cmd_ctl_absent(conf->listen.control);
		conf_free(&conf);
		return 1;
	default:
		conf_free(&conf);
		return 1;
	}
	last = cmd_ctl_last(reply);
	if (strncmp(last, "OK ", 3) != 0) {
		fprintf(stderr, "postern: status: %s\n", last);
		free(reply);
		conf_free(&conf);
		return 1;
	}
	/* "OK postern <version> generation=N connections=N [key=value...]" */
	if (strncmp(last, "OK postern ", 11) == 0) {
		snprintf(val, sizeof(val), "%.*s", (int)strcspn(last + 11, " "),
		    last + 11);
		printf("version: %s\n", val);
	}
	if (pid > 0)
		printf("pid: %ld\n", (long)pid);
	if (cmd_ctl_field(last, "uptime", val, sizeof(val)))
		up = strtol(val, NULL, 10);
	else
		up = cmd_ctl_uptime(pid);
	if (up >= 0) {
		cmd_ctl_duration(up, dur, sizeof(dur));
		printf("uptime: %s (%ld s)\n", dur, up);
	} else
		printf("uptime: unknown\n");
	if (cmd_ctl_field(last, "generation", val, sizeof(val)))
		printf("generation: %s\n", val);
	if (cmd_ctl_field(last, "connections", val, sizeof(val)))
		printf("connections: %s\n", val);
	lists[0] = &conf->listen.smtp;
	lists[1] = &conf->listen.submission;
	lists[2] = &conf->listen.submissions;
	lists[3] = &conf->listen.imap;
	lists[4] = &conf->listen.imaps;
	lists[5] = &conf->listen.pop3;
	lists[6] = &conf->listen.pop3s;
	lists[7] = &conf->listen.managesieve;
	lists[8] = &conf->listen.http;
	for (i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
		if (cmd_ctl_field(last, svcs[i], val, sizeof(val))) {
			printf("connections %s: %s\n", svcs[i], val);
			continue;
		}
		if (lists[i]->n == 0)
			continue;	/* not listening */
		if ((n = cmd_ctl_tcp_count(lists[i])) >= 0)
			printf("connections %s: %ld\n", svcs[i], n);
	}
	if (cmd_ctl_field(last, "queue", val, sizeof(val)))
		printf("queue: %s messages\n", val);
	else if ((q = cmd_ctl_queue_size(conf->listen.control)) >= 0)
		printf("queue: %ld messages\n", q);
	else
		printf("queue: none\n");
	free(reply);
	conf_free(&conf);
	return 0;
}
