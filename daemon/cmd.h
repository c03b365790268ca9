/*
 * cmd.h - postern subcommands that live outside main.c.  Each takes
 * (argc, argv) with argv[0] = the subcommand name and returns the exit
 * status (0 ok, 1 error, 2 usage).
 */
#ifndef CMD_H
#define CMD_H
#include <stddef.h>

struct conf;

#define CMD_DEFAULT_CONF	"/etc/postern/postern.conf"

/*
 * cmd_common.c: load -c FILE, else CMD_DEFAULT_CONF if it exists, else the
 * embedded development default, as `postern serve` does; every error is
 * printed; *used_r (may be NULL) gets the file used (NULL: the default).
 */
struct conf	*cmd_conf_load(const char *file, const char **used_r);
/* One line from stdin (malloc'd, line end removed; NULL at EOF), without
 * echo when stdin is a terminal, prompt on stderr then. */
char		*cmd_read_password(const char *prompt);
/* Connect to the control socket at path; -1 with errno set. */
int		 cmd_ctl_connect(const char *path);
/* Send all of data (no SIGPIPE); -1 with errno set. */
int		 cmd_ctl_send(int fd, const void *data, size_t len);
/* One reply line without its LF, waiting at most timeout seconds; -1 if
 * the daemon closed or timed out. */
int		 cmd_ctl_reply(int fd, char *line, size_t size, int timeout);
#include <sys/types.h>

int	 cmd_deliver(int, char **);	/* postern deliver --to ADDR [--folder F] */
int	 cmd_reindex(int, char **);	/* postern reindex [-c FILE] [ADDRESS] */
int	 cmd_check(int, char **);	/* postern check [-c FILE] [ADDRESS] */
int	 cmd_queue(int, char **);	/* postern queue list|show|flush|delete|bounce */
int	 cmd_account(int, char **);	/* postern account add|passwd|del|list|show */
int	 cmd_dkim(int, char **);	/* postern dkim show [DOMAIN] */
int	 cmd_dns(int, char **);		/* postern dns [DOMAIN] */
int	 cmd_import(int, char **);	/* postern import ADDRESS MAILDIR|MBOX */
int	 cmd_backup(int, char **);	/* postern backup [-c FILE] [--with-mail] DEST */
int	 cmd_spam(int, char **);	/* postern spam learn-spam|learn-ham|stats|score */
int	 cmd_reload(int, char **);	/* postern reload [-c FILE] */
int	 cmd_status(int, char **);	/* postern status [-c FILE] */

/*
 * cmd_ctl.c: send the request line req (no LF) to the control socket at
 * path and read the whole answer into *reply_r (malloc'd, NUL-terminated;
 * the last line is "OK ..." or "ERR ...").  *pid_r (may be NULL) gets the
 * daemon's pid.  0 answered, 1 no daemon listens (errno says why), -1 the
 * exchange failed (message printed).
 */
int	 cmd_ctl_ask(const char *path, const char *req, char **reply_r,
	    pid_t *pid_r);
#endif
