/*
 * cmd_account.c - `postern account`: manage the accounts of accounts_file.
 *
 *   postern account add    [-c FILE] [--scheme S] [--no-reload] ADDRESS
 *   postern account passwd [-c FILE] [--scheme S] [--no-reload] ADDRESS
 *   postern account del    [-c FILE] [--no-reload] ADDRESS
 *   postern account list   [-c FILE]
 *   postern account show   [-c FILE] ADDRESS
 *   postern account reload [-c FILE]
 *
 * add and passwd read the password from stdin (prompted twice, without
 * echo, on a terminal) and store its crypt(3) hash (yescrypt unless
 * --scheme).  The domain of ADDRESS must be one of `domains`.  Accounts
 * declared in the main config are listed and shown, never edited: the
 * tool says where to edit them.
 *
 * Every change rewrites the whole file atomically: a temporary file in
 * the same directory, fsync, rename over the old one, fsync of the
 * directory; an exclusive flock on "<accounts_file>.lock" serialises
 * concurrent runs.  The file is rewritten by libconfig, so the accounts'
 * other settings are kept but comments are not.  Then the running daemon
 * is asked to reload over the control socket (RELOAD, ctl.c, through
 * cmd_ctl_ask of cmd_ctl.c, as `postern reload` does), which also
 * drops its login cache, so the change is live at once; if no daemon
 * answers the change applies at its next start.
 *
 * Owns nothing beyond one command run.  Threads: the CLI's main thread;
 * no event loop, so blocking I/O (and crypt) is fine here.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libconfig.h>

#include "auth.h"
#include "cmd.h"
#include "conf.h"
#include "str.h"
#include "xmalloc.h"


enum cmd_account_op {
	CMD_ACCOUNT_ADD = 0, CMD_ACCOUNT_PASSWD, CMD_ACCOUNT_DEL,
	CMD_ACCOUNT_LIST, CMD_ACCOUNT_SHOW, CMD_ACCOUNT_RELOAD
};

static const char *const cmd_account_ops[] = {
	"add", "passwd", "del", "list", "show", "reload"
};

struct cmd_account_opts {
	const char	*file;		/* -c */
	const char	*scheme;	/* --scheme */
	bool		 no_reload;
};

static void
cmd_account_usage(void)
{
	fprintf(stderr, "usage: postern account add|passwd [-c FILE] "
	    "[--scheme yescrypt|sha512|bcrypt] [--no-reload] ADDRESS\n"
	    "       postern account del [-c FILE] [--no-reload] ADDRESS\n"
	    "       postern account list [-c FILE]\n"
	    "       postern account show [-c FILE] ADDRESS\n"
	    "       postern account reload [-c FILE]\n");
}

/* ---- the control socket ---- */

/*
 * Ask the daemon to reload (cmd_ctl.c).  0 done, 1 no daemon answers
 * (not an error: the file is read at start), -1 the daemon refused
 * (message printed).
 */
static int
cmd_account_reload(const struct conf *conf)
{
	char	*reply, *nl;
	int	 rc;

	if ((rc = cmd_ctl_ask(conf->listen.control, "RELOAD", &reply,
	    NULL)) != 0)
		return rc;
	while ((nl = strrchr(reply, '\n')) != NULL && nl[1] == '\0')
		*nl = '\0';
	nl = strrchr(reply, '\n');
	nl = nl != NULL ? nl + 1 : reply;
	rc = strncmp(nl, "OK", 2) == 0 ? 0 : -1;
	if (rc == -1)
		fprintf(stderr, "postern: the daemon did not reload: %s\n", nl);
	free(reply);
	return rc;
}

/* After a change: reload and say what happened.  Exit status. */
static int
cmd_account_apply(const struct conf *conf, const struct cmd_account_opts *o)
{
	if (o->no_reload)
		return 0;
	switch (cmd_account_reload(conf)) {
	case 0:
		return 0;
	case 1:
		fprintf(stderr, "postern: no daemon answers on the control "
		    "socket; the change applies when it starts\n");
		return 0;
	default:
		fprintf(stderr, "postern: the file is written; fix the "
		    "problem and run `postern account reload`\n");
		return 1;
	}
}

/* ---- input ---- */

static void
cmd_account_wipe(char **pw)
{
	if (*pw != NULL) {
		explicit_bzero(*pw, strlen(*pw));
		xfree(*pw);
	}
}

/* Read and hash a new password; *hash_r malloced.  -1 after a message. */
static int
cmd_account_hash(const char *scheme, char **hash_r)
{
	const char	*err;
	char		*pw, *pw2;

	if ((pw = cmd_read_password("New password: ")) == NULL ||
	    *pw == '\0') {
		fprintf(stderr, "postern: no password on stdin\n");
		cmd_account_wipe(&pw);
		return -1;
	}
	if (strlen(pw) > AUTH_PASSWORD_MAX) {
		fprintf(stderr, "postern: password longer than %d octets\n",
		    AUTH_PASSWORD_MAX);
		cmd_account_wipe(&pw);
		return -1;
	}
	if (isatty(0)) {
		pw2 = cmd_read_password("Again: ");
		if (pw2 == NULL || strcmp(pw, pw2) != 0) {
			fprintf(stderr, "postern: passwords differ\n");
			cmd_account_wipe(&pw);
			cmd_account_wipe(&pw2);
			return -1;
		}
		cmd_account_wipe(&pw2);
	}
	if (auth_pw_hash_blocking(pw, scheme, hash_r, &err) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		cmd_account_wipe(&pw);
		return -1;
	}
	cmd_account_wipe(&pw);
	return 0;
}

/*
 * Lower-case ADDRESS and check it: local@domain, no white space, quotes
 * or controls, and a domain of `domains`.
 */
static int
cmd_account_check_addr(const struct conf *conf, char *addr)
{
	const char	*at = strrchr(addr, '@'), *p;

	str_lower(addr);
	if (at == NULL || at == addr || at[1] == '\0' ||
	    strlen(addr) > AUTH_LOGIN_MAX) {
		fprintf(stderr, "postern: '%s' is not a mail address "
		    "(local@domain)\n", addr);
		return -1;
	}
	for (p = addr; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '"' ||
		    *p == '\\' || *p == '<' || *p == '>' || *p == ',' ||
		    *p == ';' || (*p == '@' && p != at)) {
			fprintf(stderr, "postern: '%s' is not a plain mail "
			    "address\n", addr);
			return -1;
		}
	if (!conf_is_local_domain(conf, at + 1)) {
		fprintf(stderr, "postern: %s: domain '%s' is not in domains "
		    "of %s\n", addr, at + 1, conf->file);
		return -1;
	}
	return 0;
}

/* ---- the file ---- */

/*
 * Read accounts_file (missing: empty) into cf; *list_r is its accounts
 * list, created if absent.  -1 after a message.
 */
static int
cmd_account_read(const char *file, config_t *cf, config_setting_t **list_r)
{
	config_setting_t	*root, *list;

	config_init(cf);
	if (access(file, F_OK) == 0 && config_read_file(cf, file) !=
	    CONFIG_TRUE) {
		fprintf(stderr, "%s:%d: %s\n", config_error_file(cf) != NULL ?
		    config_error_file(cf) : file, config_error_line(cf),
		    config_error_text(cf));
		config_destroy(cf);
		return -1;
	}
	root = config_root_setting(cf);
	if ((list = config_setting_get_member(root, "accounts")) == NULL)
		list = config_setting_add(root, "accounts", CONFIG_TYPE_LIST);
	if (list == NULL || !config_setting_is_list(list)) {
		fprintf(stderr, "%s: accounts: expected a list ( {...}, ... )\n",
		    file);
		config_destroy(cf);
		return -1;
	}
	*list_r = list;
	return 0;
}

/* Index of account name in list, or -1. */
static int
cmd_account_find(config_setting_t *list, const char *name)
{
	config_setting_t	*e;
	const char		*n;
	int			 i, len = config_setting_length(list);

	for (i = 0; i < len; i++) {
		e = config_setting_get_elem(list, (unsigned int)i);
		if (e != NULL && config_setting_lookup_string(e, "name", &n) ==
		    CONFIG_TRUE && strcasecmp(n, name) == 0)
			return i;
	}
	return -1;
}

static int
cmd_account_fsync_dir(const char *path)
{
	char	*dir = xstrdup(path), *slash;
	int	 fd, rc = 0;

	if ((slash = strrchr(dir, '/')) == NULL)
		str_lcpy(dir, ".", 2);
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(fd) == -1)
		rc = -1;
	if (fd != -1)
		close(fd);
	free(dir);
	return rc;
}

/*
 * The owner and mode of the new file: the old file's, else run_as (when
 * root) and 0600: it holds password hashes.
 */
static void
cmd_account_owner(const struct conf *conf, const char *file, uid_t *uid_r,
    gid_t *gid_r, mode_t *mode_r)
{
	struct stat	 st;
	struct passwd	*pw;
	struct group	*gr;

	*uid_r = (uid_t)-1;
	*gid_r = (gid_t)-1;
	*mode_r = 0600;
	if (stat(file, &st) == 0) {
		*uid_r = st.st_uid;
		*gid_r = st.st_gid;
		*mode_r = st.st_mode & 07777;
		return;
	}
	if (getuid() != 0 || conf->run_as_user == NULL ||
	    (pw = getpwnam(conf->run_as_user)) == NULL)
		return;
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	if (conf->run_as_group != NULL &&
	    (gr = getgrnam(conf->run_as_group)) != NULL)
		*gid_r = gr->gr_gid;
}

/* Write cf over file atomically.  -1 after a message. */
static int
cmd_account_write(const struct conf *conf, const char *file, config_t *cf)
{
	char		*tmp;
	FILE		*fp;
	uid_t		 uid;
	gid_t		 gid;
	mode_t		 mode;
	int		 fd;

	cmd_account_owner(conf, file, &uid, &gid, &mode);
	tmp = xasprintf("%s.tmp.%ld", file, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		fprintf(stderr, "postern: cannot create %s: %s\n", tmp,
		    strerror(errno));
		free(tmp);
		return -1;
	}
	if ((uid != (uid_t)-1 && getuid() == 0 && fchown(fd, uid, gid) ==
	    -1) || fchmod(fd, mode) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "postern: %s: %s\n", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	fprintf(fp, "# Accounts managed by `postern account` (see "
	    "postern(8)).\n# Rewritten on every change: settings are kept, "
	    "comments are not.\n");
	config_write(cf, fp);
	if (fflush(fp) == EOF || ferror(fp) || fsync(fileno(fp)) == -1) {
		fprintf(stderr, "postern: cannot write %s: %s\n", tmp,
		    strerror(errno));
		fclose(fp);
		goto fail;
	}
	if (fclose(fp) == EOF) {
		fprintf(stderr, "postern: cannot write %s: %s\n", tmp,
		    strerror(errno));
		goto fail;
	}
	if (rename(tmp, file) == -1) {
		fprintf(stderr, "postern: cannot rename %s to %s: %s\n", tmp,
		    file, strerror(errno));
		goto fail;
	}
	if (cmd_account_fsync_dir(file) == -1) {
		/* Renamed, but perhaps not durable yet: say so, carry on. */
		fprintf(stderr, "postern: warning: cannot fsync the directory "
		    "of %s: %s\n", file, strerror(errno));
	}
	free(tmp);
	return 0;
fail:
	(void)unlink(tmp);
	free(tmp);
	return -1;
}

/* Exclusive lock beside the file; the fd, or -1 after a message. */
static int
cmd_account_lock(const char *file)
{
	char	*path = xasprintf("%s.lock", file);
	int	 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1 || flock(fd, LOCK_EX) == -1) {
		fprintf(stderr, "postern: cannot lock %s: %s\n", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

/* An account of the main config (not of accounts_file): say where. */
static void
cmd_account_not_ours(const struct conf *conf, const struct conf_account *a)
{
	fprintf(stderr, "postern: %s is declared in %s (line %d), not in "
	    "accounts_file: edit it there\n", a->name, conf->file, a->line);
}

static int
cmd_account_edit(const struct conf *conf, enum cmd_account_op op,
    char *addr, const struct cmd_account_opts *o)
{
	const struct conf_account	*a;
	config_t			 cf;
	config_setting_t		*list, *e, *m;
	char				*hash = NULL;
	int				 lock, idx, rc = -1;

	if (conf->accounts_file == NULL || conf->accounts_file[0] == '\0') {
		fprintf(stderr, "postern: accounts_file is not set in %s\n",
		    conf->file);
		return 1;
	}
	if (cmd_account_check_addr(conf, addr) == -1)
		return 1;
	if ((lock = cmd_account_lock(conf->accounts_file)) == -1)
		return 1;
	if (cmd_account_read(conf->accounts_file, &cf, &list) == -1) {
		close(lock);
		return 1;
	}
	idx = cmd_account_find(list, addr);
	a = conf_find_account(conf, addr);
	if (op == CMD_ACCOUNT_ADD && (idx != -1 || a != NULL)) {
		fprintf(stderr, "postern: account %s already exists\n", addr);
		goto done;
	}
	if (op != CMD_ACCOUNT_ADD && idx == -1) {
		if (a != NULL)
			cmd_account_not_ours(conf, a);
		else
			fprintf(stderr, "postern: no account %s\n", addr);
		goto done;
	}
	if (op != CMD_ACCOUNT_DEL && cmd_account_hash(o->scheme, &hash) == -1)
		goto done;
	switch (op) {
	case CMD_ACCOUNT_ADD:
		e = config_setting_add(list, NULL, CONFIG_TYPE_GROUP);
		m = config_setting_add(e, "name", CONFIG_TYPE_STRING);
		config_setting_set_string(m, addr);
		m = config_setting_add(e, "hashed_password",
		    CONFIG_TYPE_STRING);
		config_setting_set_string(m, hash);
		break;
	case CMD_ACCOUNT_PASSWD:
		e = config_setting_get_elem(list, (unsigned int)idx);
		/* One source of truth for the password. */
		(void)config_setting_remove(e, "hashed_password_file");
		(void)config_setting_remove(e, "password_file");
		if ((m = config_setting_get_member(e, "hashed_password")) ==
		    NULL || config_setting_type(m) != CONFIG_TYPE_STRING) {
			(void)config_setting_remove(e, "hashed_password");
			m = config_setting_add(e, "hashed_password",
			    CONFIG_TYPE_STRING);
		}
		config_setting_set_string(m, hash);
		break;
	case CMD_ACCOUNT_DEL:
		config_setting_remove_elem(list, (unsigned int)idx);
		break;
	default:
		break;
	}
	if (cmd_account_write(conf, conf->accounts_file, &cf) == -1)
		goto done;
	rc = 0;
	printf("%s %s\n", op == CMD_ACCOUNT_ADD ? "added" :
	    op == CMD_ACCOUNT_PASSWD ? "password changed for" : "deleted",
	    addr);
	if (op == CMD_ACCOUNT_DEL)
		printf("the mail of %s stays in %s/%s/ until removed by hand\n",
		    addr, conf->storage.path, strrchr(addr, '@') + 1);
done:
	if (hash != NULL) {
		explicit_bzero(hash, strlen(hash));
		free(hash);
	}
	config_destroy(&cf);
	close(lock);
	if (rc == -1)
		return 1;
	fflush(stdout);
	return cmd_account_apply(conf, o);
}

/* ---- list and show ---- */

/* Where an account lives: accounts_file (if listed there) or conf->file. */
static bool
cmd_account_in_file(const struct conf *conf, const char *name)
{
	config_t		 cf;
	config_setting_t	*list;
	bool			 found;

	if (conf->accounts_file == NULL ||
	    access(conf->accounts_file, F_OK) != 0)
		return false;
	if (cmd_account_read(conf->accounts_file, &cf, &list) == -1)
		return false;
	found = cmd_account_find(list, name) != -1;
	config_destroy(&cf);
	return found;
}

static int
cmd_account_list(const struct conf *conf)
{
	size_t	 i;

	for (i = 0; i < conf->naccounts; i++)
		printf("%s\n", conf->accounts[i].name);
	return 0;
}

static const char *
cmd_account_scheme(const struct conf_account *a)
{
	const char	*h = a->hashed_password;

	if (h == NULL)
		return a->password_file != NULL ? "cleartext file" : "none";
	if (h[0] == '!' || h[0] == '*')
		return "locked";
	if (strncmp(h, "$y$", 3) == 0)
		return "yescrypt";
	if (strncmp(h, "$6$", 3) == 0)
		return "sha512-crypt";
	if (strncmp(h, "$2b$", 4) == 0 || strncmp(h, "$2y$", 4) == 0 ||
	    strncmp(h, "$2a$", 4) == 0)
		return "bcrypt";
	return auth_pw_scheme_known(h) ? "other crypt(3)" : "unknown";
}

static void
cmd_account_show_list(const char *label, const struct conf_strlist *l)
{
	size_t	 i;

	if (l->n == 0)
		return;
	printf("%-10s", label);
	for (i = 0; i < l->n; i++)
		printf("%s%s", i > 0 ? ", " : " ", l->v[i]);
	printf("\n");
}

static int
cmd_account_show(const struct conf *conf, char *addr)
{
	const struct conf_account	*a;

	str_lower(addr);
	if ((a = conf_find_account(conf, addr)) == NULL) {
		fprintf(stderr, "postern: no account %s\n", addr);
		return 1;
	}
	printf("name:      %s\n", a->name);
	if (cmd_account_in_file(conf, a->name))
		printf("source:    %s\n", conf->accounts_file);
	else
		printf("source:    %s:%d\n", conf->file, a->line);
	printf("password:  %s\n", cmd_account_scheme(a));
	if (a->password_file != NULL)
		printf("password_file: %s\n", a->password_file);
	cmd_account_show_list("aliases:", &a->aliases);
	cmd_account_show_list("regexp:", &a->aliases_regexp);
	cmd_account_show_list("catch_all:", &a->catch_all);
	if (a->quota > 0)
		printf("quota:     %llu\n", (unsigned long long)a->quota);
	printf("send_only: %s\n", a->send_only ? "yes" : "no");
	printf("sieve:     %s\n", a->sieve_script != NULL ? "yes" : "no");
	return 0;
}

/* ---- entry ---- */

static int
cmd_account_opts(int argc, char **argv, struct cmd_account_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "scheme", required_argument, NULL, 's' },
		{ "no-reload", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	memset(o, 0, sizeof(*o));
	o->scheme = "yescrypt";
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->file = optarg;
			break;
		case 's':
			o->scheme = optarg;
			break;
		case 'n':
			o->no_reload = true;
			break;
		default:
			return -1;
		}
	}
	return optind;
}

int
cmd_account(int argc, char **argv)
{
	struct cmd_account_opts	 o;
	struct conf		*conf;
	enum cmd_account_op	 op;
	char			*addr = NULL;
	size_t			 i;
	int			 first, nargs, rc;

	if (argc < 2) {
		cmd_account_usage();
		return 2;
	}
	for (i = 0; i < sizeof(cmd_account_ops) / sizeof(cmd_account_ops[0]);
	    i++)
		if (strcmp(argv[1], cmd_account_ops[i]) == 0)
			break;
	if (i == sizeof(cmd_account_ops) / sizeof(cmd_account_ops[0])) {
		fprintf(stderr, "postern: account: unknown action '%s'\n",
		    argv[1]);
		cmd_account_usage();
		return 2;
	}
	op = (enum cmd_account_op)i;
	if ((first = cmd_account_opts(argc - 1, argv + 1, &o)) == -1) {
		cmd_account_usage();
		return 2;
	}
	nargs = argc - 1 - first;
	if ((op == CMD_ACCOUNT_LIST || op == CMD_ACCOUNT_RELOAD) ?
	    nargs != 0 : nargs != 1) {
		cmd_account_usage();
		return 2;
	}
	if (nargs == 1)
		addr = xstrdup(argv[1 + first]);
	if ((conf = cmd_conf_load(o.file, NULL)) == NULL) {
		free(addr);
		return 1;
	}
	switch (op) {
	case CMD_ACCOUNT_LIST:
		rc = cmd_account_list(conf);
		break;
	case CMD_ACCOUNT_SHOW:
		rc = cmd_account_show(conf, addr);
		break;
	case CMD_ACCOUNT_RELOAD:
		switch (cmd_account_reload(conf)) {
		case 0:
			printf("reloaded\n");
			rc = 0;
			break;
		case 1:
			fprintf(stderr, "postern: no daemon answers on the "
			    "control socket %s\n", conf->listen.control !=
			    NULL ? conf->listen.control : "(none)");
			rc = 1;
			break;
		default:
			rc = 1;
			break;
		}
		break;
	default:
		rc = cmd_account_edit(conf, op, addr, &o);
		break;
	}
	free(addr);
	conf_free(&conf);
	return rc;
}
