/*
 * cmd_common.c - what every postern subcommand shares: finding and loading
 * the configuration the way `postern serve` does, and connecting to the
 * control socket of the running daemon.  Blocking; CLI only.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <errno.h>
#include <stdbool.h>
#include <termios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "conf.h"
#include "str.h"

struct conf *
cmd_conf_load(const char *file, const char **used_r)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*conf;
	size_t			 i;
	char			*m;

	if (file == NULL && access(CMD_DEFAULT_CONF, F_OK) == 0)
		file = CMD_DEFAULT_CONF;
	if (used_r != NULL)
		*used_r = file;
	if (file == NULL)
		return conf_default_dev();
	if ((conf = conf_load(file, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++) {
			m = conf_error_format(&errs.v[i]);
			fprintf(stderr, "%s\n", m);
			free(m);
		}
		if (errs.n == 0)
			fprintf(stderr, "%s: cannot load configuration\n", file);
	}
	conf_errors_free(&errs);
	return conf;
}

int
cmd_ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path == NULL || str_lcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
cmd_ctl_send(int fd, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
cmd_ctl_reply(int fd, char *line, size_t size, int timeout)
{
	struct timeval	 tv = { timeout, 0 };
	size_t		 len = 0;
	ssize_t		 n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len + 1 < size) {
		n = recv(fd, line + len, 1, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (line[len] == '\n') {
			line[len] = '\0';
			return 0;
		}
		len++;
	}
	line[len] = '\0';
	return 0;
}

/* One line from stdin, without echo when it is a terminal. */
char *
cmd_read_password(const char *prompt)
{
	struct termios	 old, noecho;
	bool		 tty = isatty(0);
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(0, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &noecho);
	}
	n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n <= 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}
