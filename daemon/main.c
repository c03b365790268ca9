/*
 * main.c - the postern command: serve, check-config, hash-password,
 * version, help.  Serve loads the config (or the embedded development
 * default), binds every listener as root, loads keys, then drops to
 * run_as before the first client is served.
 *
 * Exit codes: 0 success, 1 error (config, runtime), 2 usage.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cmd.h"
#include "conf.h"
#include "conn.h"
#include "ctl.h"
#include "dkim.h"
#include "dnsq.h"
#include "filter.h"
#include "http.h"
#include "imap.h"
#include "listen.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "managesieve.h"
#include "pop3.h"
#include "queue.h"
#include "route.h"
#include "smtp.h"
#include "smtpc.h"
#include "smtpc_srs.h"
#include "srs.h"
#include "store.h"
#include "work.h"
#include "xmalloc.h"

#define DEFAULT_CONF	"/etc/postern/postern.conf"

static int	main_serve(int, char **);
static int	main_check_config(int, char **);
static int	main_hash_password(int, char **);
static int	main_version(int, char **);
static int	main_help(int, char **);

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
	const char	*summary;
} main_cmds[] = {
	{ "serve", main_serve, "serve [-c FILE | --dev]",
	  "run the mail server in the foreground" },
	{ "check-config", main_check_config, "check-config [-c FILE]",
	  "validate a config file; print ok or every error" },
	{ "hash-password", main_hash_password,
	  "hash-password [--scheme yescrypt|sha512|bcrypt]",
	  "read a password on stdin, print its crypt(3) hash" },
	{ "deliver", cmd_deliver, "deliver [-c FILE] --to ADDRESS [--folder NAME]",
	  "deliver a message from stdin through the running daemon" },
	{ "reindex", cmd_reindex, "reindex [-c FILE] [ADDRESS]",
	  "rebuild the index from the Maildir (imports dovecot-uidlist)" },
	{ "check", cmd_check, "check [-c FILE] [ADDRESS]",
	  "verify the index against the Maildir and repair" },
	{ "reload", cmd_reload, "reload [-c FILE]",
	  "make the running daemon reread its configuration" },
	{ "status", cmd_status, "status [-c FILE]",
	  "uptime, connections, queue size and version of the running daemon" },
	{ "queue", cmd_queue, "queue list|show ID|flush|delete ID|bounce ID",
	  "inspect and act on the outbound queue of the running daemon" },
	{ "account", cmd_account, "account add|passwd|del|list|show ADDRESS",
	  "manage accounts in accounts_file" },
	{ "dkim", cmd_dkim, "dkim show [DOMAIN]",
	  "show DKIM selectors, keys and their DNS records" },
	{ "dns", cmd_dns, "dns [DOMAIN]",
	  "print every DNS record to publish (MX, SPF, DKIM, DMARC, MTA-STS)" },
	{ "spam", cmd_spam, "spam learn-spam|learn-ham|score|stats|reset",
	  "train and inspect the Bayes spam filter" },
	{ "backup", cmd_backup, "backup [-c FILE] [--with-mail] DEST",
	  "hot copy of index, queue and keys while the daemon runs" },
	{ "import", cmd_import, "import [-c FILE] [--folder NAME] ADDRESS MAILDIR|MBOX",
	  "import a Maildir or mbox through the running daemon, keeping flags" },
	{ "version", main_version, "version", "print the version" },
	{ "help", main_help, "help [COMMAND]", "show this help" },
};
#define NCMDS	(sizeof(main_cmds) / sizeof(main_cmds[0]))

static void
main_usage(FILE *fp)
{
	size_t	 i;

	fprintf(fp, "usage: postern COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(fp, "  %-48s %s\n", main_cmds[i].usage,
		    main_cmds[i].summary);
	fprintf(fp, "\nEach command takes --help.  See postern(8).\n");
}

static int
main_cmd_help(const char *name)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(main_cmds[i].name, name) == 0) {
			printf("usage: postern %s\n%s\n", main_cmds[i].usage,
			    main_cmds[i].summary);
			return 0;
		}
	fprintf(stderr, "postern: unknown command '%s'\n", name);
	return 2;
}

static bool
main_wants_help(int argc, char **argv)
{
	int	 i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

/*
 * Load -c FILE, or DEFAULT_CONF if it exists, or the embedded default.
 * Prints every error; returns NULL on failure.
 */
static struct conf *
main_load(const char *file, bool dev, const char **used_r)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct conf		*conf;
	size_t			 i;

	if (file == NULL && !dev && access(DEFAULT_CONF, F_OK) == 0)
		file = DEFAULT_CONF;
	*used_r = file;
	if (file == NULL)
		return conf_default_dev();
	if ((conf = conf_load(file, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++) {
			char *m = conf_error_format(&errs.v[i]);
			fprintf(stderr, "%s\n", m);
			free(m);
		}
		if (errs.n == 0)
			fprintf(stderr, "%s: cannot load configuration\n", file);
		conf_errors_free(&errs);
	}
	return conf;
}

static int
main_parse_conf_opts(int argc, char **argv, const char **file_r, bool *dev_r)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dev", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*file_r = optarg;
			break;
		case 'D':
			if (dev_r == NULL)
				return -1;
			*dev_r = true;
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* mkdir -p with mode for the last component; chown to run_as if given. */
static int
main_mkdirs(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	char	*p = xstrdup(path), *s;
	int	 rc = 0;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (mkdir(p, mode) == -1 && errno != EEXIST)
		rc = -1;
	if (rc == 0 && uid != (uid_t)-1 && chown(p, uid, gid) == -1)
		rc = -1;
	if (rc == -1)
		fprintf(stderr, "postern: cannot create %s: %s\n", path,
		    strerror(errno));
	free(p);
	return rc;
}

/* chown the regular files of dir (not recursive); before the drop only. */
static void
main_chown_files(const char *dir, uid_t uid, gid_t gid)
{
	DIR		*d;
	struct dirent	*de;
	char		*path;

	if (uid == (uid_t)-1 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (lchown(path, uid, gid) == -1)
			log_warn("chown path=%s error=\"%s\"", path, strerror(errno));
		free(path);
	}
	closedir(d);
}

static int
main_lookup_user(const struct conf *conf, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd	*pw;
	struct group	*gr;

	*uid_r = (uid_t)-1;
	*gid_r = (gid_t)-1;
	if (conf->run_as_user == NULL || getuid() != 0)
		return 0;
	if ((pw = getpwnam(conf->run_as_user)) == NULL) {
		fprintf(stderr, "postern: run_as.user: no such user '%s'\n",
		    conf->run_as_user);
		return -1;
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	if (conf->run_as_group != NULL) {
		if ((gr = getgrnam(conf->run_as_group)) == NULL) {
			fprintf(stderr, "postern: run_as.group: no such group "
			    "'%s'\n", conf->run_as_group);
			return -1;
		}
		*gid_r = gr->gr_gid;
	}
	return 0;
}

static int
main_drop_privileges(uid_t uid, gid_t gid)
{
	if (uid == (uid_t)-1)
		return 0;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		log_err("privdrop failed error=\"%s\"", strerror(errno));
		return -1;
	}
	/* Paranoia: root must be gone for good. */
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		log_err("privdrop could regain root");
		return -1;
	}
	log_info("privdrop uid=%u gid=%u", (unsigned)uid, (unsigned)gid);
	return 0;
}

static void
main_on_shutdown(void)
{
	listen_stop();
	ctl_stop();
	if (loop_shared()->queue != NULL)
		queue_stop(loop_shared()->queue);
}

/*
 * Build what each configuration generation derives from its conf.  For a
 * reload this runs on a worker thread (loop.h): only g and g->conf here,
 * nothing the loop owns.
 */
static int
main_gen_build(struct gen *g, char *err, size_t errlen)
{
	struct dkim_keyring	*kr;
	const char		*e;

	if ((g->route = route_new(g->conf, &e)) == NULL) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	g->auth = auth_db_new(g->conf);
	/* DKIM signing keys: g->ext[FILTER_GEN_DKIM] (filter.h). */
	if (dkim_keyring_load(g->conf, &kr, err, errlen) == -1) {
		route_free(&g->route);
		auth_db_free(&g->auth);
		return -1;
	}
	g->ext[FILTER_GEN_DKIM] = kr;
	/* The SRS secret (created when missing): smtpc_srs.h. */
	g->ext[SMTPC_GEN_SRS] = smtpc_srs_build_blocking(g->conf);
	return 0;
}

/* g has become the current generation (start, reload).  [loop] */
static void
main_gen_activate(struct gen *g)
{
	struct loop_shared	*sh = loop_shared();

	/* A reload may change passwords: forget every cached login. */
	if (sh->auth_cache != NULL)
		auth_cache_clear(sh->auth_cache);
	if (sh->store != NULL)
		store_set_conf(sh->store, g->conf);
	if (sh->queue != NULL)
		queue_set_conf(sh->queue, g->conf);
}

static void
main_gen_free(struct gen *g)
{
	struct dkim_keyring	*kr;
	struct srs		*srs;

	route_free(&g->route);
	auth_db_free(&g->auth);
	kr = g->ext[FILTER_GEN_DKIM];
	dkim_keyring_free(&kr);
	g->ext[FILTER_GEN_DKIM] = NULL;
	srs = g->ext[SMTPC_GEN_SRS];
	srs_free(&srs);
	g->ext[SMTPC_GEN_SRS] = NULL;
}

static void
main_shared_free(void)
{
	struct loop_shared	*sh = loop_shared();

	queue_close(&sh->queue);
	dnsq_free(&sh->dns);
	store_close(&sh->store);
	auth_cache_free(&sh->auth_cache);
	auth_throttle_free(&sh->auth_throttle);
	auth_sasl_global_done();
}

static int
main_serve(int argc, char **argv)
{
	struct conf	*conf;
	const char	*file = NULL, *used, *err = NULL;
	bool		 dev = false;
	char		 ebuf[512];
	struct timespec	 t0, t1;
	uid_t		 uid;
	gid_t		 gid;
	long		 ncpu;
	int		 rc;
	bool		 srs_new;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (main_parse_conf_opts(argc, argv, &file, &dev) == -1 ||
	    (file != NULL && dev)) {
		fprintf(stderr, "usage: postern serve [-c FILE | --dev]\n");
		return 2;
	}
	if ((conf = main_load(file, dev, &used)) == NULL)
		return 1;
	log_init(conf->debug ? LOG_L_DEBUG : LOG_L_INFO);
	if (used == NULL) {
		fprintf(stderr,
		    "postern: *** no config file: running the EMBEDDED DEVELOPMENT "
		    "DEFAULT ***\n"
		    "postern: 127.0.0.1 only, smtp 2525, submission 2587/2465, "
		    "imap 2143/2993, pop3 2110/2995, sieve 2190, http 2080\n"
		    "postern: account demo@example.test password 'demo'; state in "
		    "%s\n", conf->state_dir);
	}
	if (main_lookup_user(conf, &uid, &gid) == -1 ||
	    main_mkdirs(conf->state_dir, 0700, uid, gid) == -1 ||
	    main_mkdirs(conf->storage.path, 0700, uid, gid) == -1 ||
	    (conf->dkim.enable && conf->dkim.key_directory != NULL &&
	    main_mkdirs(conf->dkim.key_directory, 0700, uid, gid) == -1)) {
		conf_free(&conf);
		return 1;
	}
	loop_set_conf_file(used);
	if (auth_sasl_global_init_blocking("postern", &err) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		conf_free(&conf);
		return 1;
	}
	loop_shared()->auth_cache = auth_cache_new(0, 0);
	loop_shared()->auth_throttle = auth_throttle_new(0, 0, 0);
	/* Does the first generation create the SRS secret (as root)? */
	srs_new = conf->srs.enable && conf->srs.secret_file != NULL &&
	    access(conf->srs.secret_file, F_OK) == -1;
	if (loop_init(conf, main_gen_build, main_gen_activate, main_gen_free,
	    ebuf, sizeof(ebuf)) == -1) {
		fprintf(stderr, "postern: %s\n", ebuf);
		conf_free(&conf);
		loop_free();
		main_shared_free();
		return 1;
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (work_init(loop_base(), ncpu > 2 ? (int)ncpu : 2, &err) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		loop_free();
		return 1;
	}
	conn_set_proto(SVC_SMTP, smtp_proto(SVC_SMTP));
	conn_set_proto(SVC_SUBMISSION, smtp_proto(SVC_SUBMISSION));
	conn_set_proto(SVC_SUBMISSIONS, smtp_proto(SVC_SUBMISSIONS));
	conn_set_proto(SVC_IMAP, imap_proto(SVC_IMAP));
	conn_set_proto(SVC_IMAPS, imap_proto(SVC_IMAPS));
	conn_set_proto(SVC_POP3, pop3_proto(SVC_POP3));
	conn_set_proto(SVC_POP3S, pop3_proto(SVC_POP3S));
	conn_set_proto(SVC_MANAGESIEVE, managesieve_proto(SVC_MANAGESIEVE));
	conn_set_proto(SVC_HTTP, http_proto(SVC_HTTP));
	if (listen_start(loop_gen()->conf, ebuf, sizeof(ebuf)) == -1 ||
	    ctl_start(loop_gen()->conf, ebuf, sizeof(ebuf)) == -1) {
		fprintf(stderr, "postern: %s\n", ebuf);
		listen_stop();
		work_shutdown();
		loop_free();
		return 1;
	}
	loop_on_shutdown(main_on_shutdown);
	/* Keys generated by the first generation (as root) must stay
	 * readable after the drop, for reloads. */
	if (loop_gen()->conf->dkim.enable &&
	    loop_gen()->conf->dkim.key_directory != NULL)
		main_chown_files(loop_gen()->conf->dkim.key_directory, uid, gid);
	if (srs_new && uid != (uid_t)-1 && loop_gen()->conf->srs.secret_file !=
	    NULL && lchown(loop_gen()->conf->srs.secret_file, uid, gid) == -1 &&
	    errno != ENOENT)
		log_warn("chown path=%s error=\"%s\"",
		    loop_gen()->conf->srs.secret_file, strerror(errno));
	if (main_drop_privileges(uid, gid) == -1 ||
	    store_open(loop_gen()->conf, &loop_shared()->store, &err) == -1 ||
	    queue_open(loop_gen()->conf, &loop_shared()->queue, &err) == -1 ||
	    (loop_shared()->dns = dnsq_new(loop_base(),
	    &loop_gen()->conf->dns.resolvers, &err)) == NULL) {
		if (err != NULL)
			log_err("start failed error=\"%s\"", err);
		listen_stop();
		ctl_stop();
		work_shutdown();
		loop_free();
		main_shared_free();
		return 1;
	}
	/* DSNs are DKIM-signed like the rest of our own mail (filter.h). */
	queue_set_signer(loop_shared()->queue, filter_sign_blocking);
	queue_start(loop_shared()->queue, smtpc_deliverer());
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("ready version=%s config=%s listeners=%zu startup_ms=%.1f",
	    POSTERN_VERSION, used ? used : "(embedded default)", listen_count(),
	    (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	notify_ready();			/* systemd Type=notify */

	rc = loop_run();

	listen_stop();
	conn_free_all();
	work_shutdown();
	loop_free();
	main_shared_free();
	log_info("stopped");
	return rc;
}

static int
main_check_config(int argc, char **argv)
{
	struct conf	*conf;
	const char	*file = NULL, *used;

	if (main_parse_conf_opts(argc, argv, &file, NULL) == -1) {
		fprintf(stderr, "usage: postern check-config [-c FILE]\n");
		return 2;
	}
	if (file == NULL && access(DEFAULT_CONF, F_OK) != 0) {
		fprintf(stderr, "postern: no config file: %s does not exist "
		    "(use -c FILE)\n", DEFAULT_CONF);
		return 1;
	}
	if ((conf = main_load(file, false, &used)) == NULL)
		return 1;
	conf_free(&conf);
	printf("ok\n");
	return 0;
}

static int
main_hash_password(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scheme", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*scheme = "yescrypt", *err;
	char		*pw, *pw2, *hash;
	int		 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 's') {
			fprintf(stderr, "usage: postern hash-password "
			    "[--scheme yescrypt|sha512|bcrypt]\n");
			return 2;
		}
		scheme = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "postern: hash-password reads the password "
		    "from stdin, never from the command line\n");
		return 2;
	}
	if ((pw = cmd_read_password("Password: ")) == NULL || *pw == '\0') {
		fprintf(stderr, "postern: no password on stdin\n");
		free(pw);
		return 1;
	}
	if (isatty(0)) {
		pw2 = cmd_read_password("Again: ");
		if (pw2 == NULL || strcmp(pw, pw2) != 0) {
			fprintf(stderr, "postern: passwords differ\n");
			explicit_bzero(pw, strlen(pw));
			free(pw);
			free(pw2);
			return 1;
		}
		explicit_bzero(pw2, strlen(pw2));
		free(pw2);
	}
	if (auth_pw_hash_blocking(pw, scheme, &hash, &err) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		explicit_bzero(pw, strlen(pw));
		free(pw);
		return strcmp(err, "unknown scheme") == 0 ? 2 : 1;
	}
	explicit_bzero(pw, strlen(pw));
	free(pw);
	printf("%s\n", hash);
	free(hash);
	return 0;
}

static int
main_version(int argc, char **argv)
{
	printf("postern %s\n", POSTERN_VERSION);
	return 0;
}

static int
main_help(int argc, char **argv)
{
	if (argc > 1)
		return main_cmd_help(argv[1]);
	main_usage(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	size_t	 i;

	if (argc < 2) {
		main_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return main_help(1, argv);
	if (strcmp(argv[1], "--version") == 0)
		return main_version(1, argv);
	for (i = 0; i < NCMDS; i++) {
		if (strcmp(argv[1], main_cmds[i].name) != 0)
			continue;
		if (main_wants_help(argc - 1, argv + 1))
			return main_cmd_help(argv[1]);
		return main_cmds[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "postern: unknown command '%s'\n", argv[1]);
	main_usage(stderr);
	return 2;
}
