/*
 * conf_load.c - read a libconfig file into a struct conf and validate it.
 *
 * The schema is a set of tables (struct conf_opt), one per group, so that
 * type checks, ranges, "unknown option (did you mean ...)" and required
 * options are handled in one place.  Checks that depend on other options
 * (an account's domain must be in `domains`, an alias target must be an
 * account) are deferred until the whole file and the accounts file are
 * read, so the order of options in the file never matters.  Every error
 * is collected, not just the first, and they come out sorted by file and
 * line.  Owns nothing after return except the struct conf it hands out.
 * [any] thread, but blocking: it reads files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <libconfig.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "xmalloc.h"
#include "buf.h"
#include "str.h"
#include "conf.h"
#include "conf_private.h"

#define CONF_MAX_FILE		(16 * 1024 * 1024)	/* config, accounts */
#define CONF_MAX_SECRET		4096			/* hash files */
#define CONF_MAX_ERRORS		200

enum conf_kind {
	K_STR, K_BOOL, K_INT, K_I64, K_SIZE, K_NUM, K_STRLIST, K_ENUM,
	K_GROUP, K_FN, K_SKIP
};

enum conf_defer_kind {
	D_LOCAL,	/* the domain (of an address) must be in domains */
	D_ACCOUNT	/* a local address must name an account */
};

struct conf_defer {
	enum conf_defer_kind	 kind;
	char			*file;
	int			 line;
	char			*path;
	char			*value;
};

struct conf_acct_src {		/* where each account came from */
	char			*file;
	int			 line;
	char			*path;
};

struct conf_load_ctx {
	struct conf		*conf;
	struct conf_errors	*errs;
	const char		*name;		/* file being read */
	const char		*incdir;	/* @include base; NULL: cwd */
	bool			 bad_include;	/* do not hand to libconfig */
	bool			 too_many;
	struct conf_defer	*defers;
	size_t			 ndefers;
	struct conf_acct_src	*asrc;		/* parallel to conf->accounts */
};

struct conf_opt;
typedef void conf_load_fn(struct conf_load_ctx *, const config_setting_t *,
    const char *, void *);
/* Checks a string value in place (may lower-case it); reports, -1 if bad. */
typedef int conf_load_chk(struct conf_load_ctx *, const config_setting_t *,
    const char *, char *);

struct conf_opt {
	const char		*name;
	enum conf_kind		 kind;
	size_t			 off;
	long long		 min, max;	/* K_INT, K_I64, K_SIZE */
	const char *const	*names;		/* K_ENUM, in enum order */
	const struct conf_opt	*sub;		/* K_GROUP */
	conf_load_chk		*check;		/* K_STR, K_STRLIST elements */
	conf_load_fn		*fn;		/* K_FN */
	bool			 required;
	bool			 empty_null;	/* K_STR: "" stores NULL */
};

/* Errors. */

static void __attribute__((format(printf, 5, 0)))
conf_load_verr(struct conf_load_ctx *x, const char *file, int line,
    const char *path, const char *fmt, va_list ap)
{
	struct conf_error	*e;

	if (x->errs->n >= CONF_MAX_ERRORS) {
		x->too_many = true;
		return;
	}
	x->errs->v = xreallocarray(x->errs->v, x->errs->n + 1,
	    sizeof(*x->errs->v));
	e = &x->errs->v[x->errs->n++];
	e->file = xstrdup(file);
	e->line = line;
	e->option = xstrdup(path != NULL ? path : "");
	e->message = xvasprintf(fmt, ap);
}

static void __attribute__((format(printf, 5, 6)))
conf_load_errl(struct conf_load_ctx *x, const char *file, int line,
    const char *path, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_load_verr(x, file, line, path, fmt, ap);
	va_end(ap);
}

static const char *
conf_load_file_of(struct conf_load_ctx *x, const config_setting_t *s)
{
	if (s != NULL && config_setting_source_file(s) != NULL)
		return config_setting_source_file(s);
	return x->name;
}

static void __attribute__((format(printf, 4, 5)))
conf_load_err(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_load_verr(x, conf_load_file_of(x, s),
	    s != NULL ? (int)config_setting_source_line(s) : 0, path, fmt, ap);
	va_end(ap);
}

static void
conf_load_defer(struct conf_load_ctx *x, enum conf_defer_kind kind,
    const config_setting_t *s, const char *path, const char *value)
{
	struct conf_defer	*d;

	x->defers = xreallocarray(x->defers, x->ndefers + 1,
	    sizeof(*x->defers));
	d = &x->defers[x->ndefers++];
	d->kind = kind;
	d->file = xstrdup(conf_load_file_of(x, s));
	d->line = (int)config_setting_source_line(s);
	d->path = xstrdup(path);
	d->value = xstrdup(value);
}

static char *
conf_load_path(const char *parent, const char *name)
{
	if (parent == NULL)
		return xstrdup(name);
	return xasprintf("%s.%s", parent, name);
}

static char *
conf_load_index(const char *parent, unsigned int i)
{
	return xasprintf("%s[%u]", parent, i);
}

/* Files. */

static const char *
conf_load_strerror(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);		/* GNU: may not use buf */
}

/*
 * Read a whole regular file, at most max bytes.  Refusing anything but a
 * regular file keeps a config pointing at a FIFO or /dev/zero from
 * hanging the load.  -1 with errno set; EFBIG when too large.
 */
static int
conf_load_slurp(const char *path, size_t max, char **text_r, size_t *len_r)
{
	struct stat	 st;
	char		*text;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		r = read(fd, text + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			e = errno;
			free(text);
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;		/* shrank under us: take what is there */
		len += (size_t)r;
	}
	close(fd);
	text[len] = '\0';
	*text_r = text;
	*len_r = len;
	return 0;
}

static bool
conf_load_namech(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '_' || ch == '*' || ch == '.';
}

/*
 * libconfig's scanner calls exit() when an @include names something it
 * cannot read as a file, a directory for one (hyperrealm/libconfig#292):
 * on SIGHUP that would kill the daemon.  So check every top-level
 * @include ourselves first; a bad one is an error and libconfig never
 * sees the text.  Returns where to continue scanning.
 */
static const char *
conf_load_include(struct conf_load_ctx *x, const char *p, int line)
{
	struct stat	 st;
	const char	*e;
	char		*name, *path, ebuf[128];

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"' || (e = strchr(p + 1, '"')) == NULL ||
	    memchr(p + 1, '\n', (size_t)(e - p - 1)) != NULL) {
		conf_load_errl(x, x->name, line, "syntax", "@include needs "
		    "a file name in double quotes");
		x->bad_include = true;
		return p;
	}
	name = xstrndup(p + 1, (size_t)(e - p - 1));
	path = name[0] != '/' && x->incdir != NULL ?
	    xasprintf("%s/%s", x->incdir, name) : xstrdup(name);
	if (stat(path, &st) == -1) {
		conf_load_errl(x, x->name, line, "syntax", "@include \"%s\": "
		    "%s", name, conf_load_strerror(errno, ebuf, sizeof(ebuf)));
		x->bad_include = true;
	} else if (!S_ISREG(st.st_mode)) {
		conf_load_errl(x, x->name, line, "syntax", "@include \"%s\": "
		    "not a regular file", name);
		x->bad_include = true;
	}
	free(path);
	free(name);
	return e + 1;
}

/*
 * libconfig 1.5 silently truncates decimal integers that do not fit in 32
 * bits unless they carry an L suffix: "message_size_limit = 5000000000"
 * would load as 705032704.  Find such literals ourselves, skipping
 * strings and comments, and make them an error instead.
 */
static void
conf_load_scan(struct conf_load_ctx *x, const char *t)
{
	const char	*p = t, *s;
	int		 line = 1;
	uint64_t	 v;
	char		 num[32];
	size_t		 n;
	bool		 neg;

	while (*p != '\0') {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\n')
					line++;
				if (*p == '\\' && p[1] != '\0')
					p++;
			}
			if (*p == '"')
				p++;
		} else if (*p == '@' && strncmp(p, "@include", 8) == 0) {
			p = conf_load_include(x, p + 8, line);
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/');
			    p++)
				if (*p == '\n')
					line++;
			if (*p != '\0')
				p += 2;
		} else if (*p >= '0' && *p <= '9') {
			s = p;
			while (*p >= '0' && *p <= '9')
				p++;
			/* Part of a name, a float, hex, or an int64: skip. */
			if ((s > t && conf_load_namech(s[-1])) ||
			    (s > t + 1 && s[-1] == '-' &&
			    conf_load_namech(s[-2])) ||
			    (*p != '\0' && strchr(".eExXL", *p) != NULL)) {
				if (*p != '\0' && *p != '\n')
					p++;
				continue;
			}
			neg = s > t && s[-1] == '-';
			n = (size_t)(p - s);
			if (n >= sizeof(num) ||
			    (memcpy(num, s, n), num[n] = '\0',
			    str_to_u64(num, UINT64_MAX, &v) == -1) ||
			    v > (neg ? 2147483648ULL : 2147483647ULL))
				conf_load_errl(x, x->name, line, "syntax",
				    "integer %s%.*s does not fit in 32 bits "
				    "(add an L suffix, or write a size like "
				    "\"5G\")", neg ? "-" : "",
				    n > 40 ? 40 : (int)n, s);
		} else
			p++;
	}
}

/* Checks on string values. */

static int
conf_chk_domain(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	const char	*why;

	str_lower(v);
	if (conf_check_domain(v, &why) == -1) {
		conf_load_err(x, s, path, "invalid domain \"%s\": %s", v, why);
		return -1;
	}
	return 0;
}

/* A spam.dnsbl entry: a zone, or "zone:wl" for an allowlist. */
static int
conf_chk_dnsbl(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	size_t		 n = strlen(v);
	int		 rc;

	str_lower(v);
	if (n < 3 || strcmp(v + n - 3, ":wl") != 0)
		return conf_chk_domain(x, s, path, v);
	v[n - 3] = '\0';
	rc = conf_chk_domain(x, s, path, v);
	v[n - 3] = ':';
	return rc;
}

static int
conf_chk_local_domain(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	if (conf_chk_domain(x, s, path, v) == -1)
		return -1;
	conf_load_defer(x, D_LOCAL, s, path, v);
	return 0;
}

static int
conf_chk_address(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	const char	*why;

	str_lower(v);
	if (conf_check_address(v, false, &why) == -1) {
		conf_load_err(x, s, path, "invalid address \"%s\": %s", v, why);
		return -1;
	}
	return 0;
}

/* An address we receive for: its domain must be one of ours. */
static int
conf_chk_local_address(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	if (conf_chk_address(x, s, path, v) == -1)
		return -1;
	conf_load_defer(x, D_LOCAL, s, path, v);
	return 0;
}

/* Account aliases and alias sources: also "@domain" for a whole domain. */
static int
conf_chk_alias_address(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	const char	*why;

	str_lower(v);
	if (conf_check_address(v, true, &why) == -1) {
		conf_load_err(x, s, path, "invalid address \"%s\": %s", v, why);
		return -1;
	}
	conf_load_defer(x, D_LOCAL, s, path, v);
	return 0;
}

static int
conf_chk_alias_target(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	if (conf_chk_address(x, s, path, v) == -1)
		return -1;
	conf_load_defer(x, D_ACCOUNT, s, path, v);
	return 0;
}

/* reject_sender: a whole domain or one address. */
static int
conf_chk_sender(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	const char	*why;

	str_lower(v);
	if (strchr(v, '@') == NULL)
		return conf_chk_domain(x, s, path, v);
	if (conf_check_address(v, true, &why) == -1) {
		conf_load_err(x, s, path, "invalid address \"%s\": %s", v, why);
		return -1;
	}
	return 0;
}

static int
conf_chk_abspath(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	if (v[0] != '/') {
		conf_load_err(x, s, path, "expected an absolute path");
		return -1;
	}
	return 0;
}

static int
conf_chk_nonempty(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	if (v[0] == '\0') {
		conf_load_err(x, s, path, "must not be empty");
		return -1;
	}
	return 0;
}

/* We start as root, so this is the check that matters at load time. */
static int
conf_chk_readable(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	char	 ebuf[128];
	int	 fd;

	if ((fd = open(v, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		conf_load_err(x, s, path, "cannot read %s: %s", v,
		    conf_load_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	close(fd);
	return 0;
}

static int
conf_chk_crypt(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	const char	*why;

	if (conf_check_crypt(v, &why) == -1) {
		conf_load_err(x, s, path, "%s", why);
		return -1;
	}
	return 0;
}

static int
conf_chk_listen(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	const char	*why;
	char		*host;
	int		 port;

	if (conf_parse_hostport_why(v, &host, &port, &why) == -1) {
		conf_load_err(x, s, path, "invalid listen address \"%s\": %s",
		    v, why);
		return -1;
	}
	free(host);
	return 0;
}

static bool
conf_load_is_ip(const char *v)
{
	unsigned char	 a[16];

	return inet_pton(AF_INET, v, a) == 1 || inet_pton(AF_INET6, v, a) == 1;
}

static int
conf_chk_resolver(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	char	*host;
	int	 port;

	if (conf_load_is_ip(v))
		return 0;
	if (conf_parse_hostport(v, &host, &port) == 0) {
		free(host);
		return 0;
	}
	conf_load_err(x, s, path, "invalid resolver \"%s\": expected an IP "
	    "address, \"addr:port\" or \"[v6addr]:port\"", v);
	return -1;
}

static int
conf_chk_host(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	if (v[0] == '\0' || conf_load_is_ip(v))
		return 0;
	return conf_chk_domain(x, s, path, v);
}

static int
conf_chk_delimiter(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	const char	*p;

	for (p = v; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '@' ||
		    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9')) {
			conf_load_err(x, s, path, "invalid delimiter "
			    "\"%s\": use punctuation such as \"+\" or \"-\"", v);
			return -1;
		}
	return 0;
}

static int
conf_chk_regexp(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	pcre2_code	*re;
	PCRE2_UCHAR	 msg[256];
	PCRE2_SIZE	 off;
	size_t		 len = strlen(v);
	int		 code;

	if (len < 2 || v[0] != '/' || v[len - 1] != '/') {
		conf_load_err(x, s, path, "expected a regular expression "
		    "between slashes, like \"/^tom\\..*@example\\.com$/\"");
		return -1;
	}
	re = pcre2_compile((PCRE2_SPTR)(v + 1), len - 2, PCRE2_UTF, &code,
	    &off, NULL);
	if (re == NULL) {
		if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
			str_lcpy((char *)msg, "unknown error", sizeof(msg));
		conf_load_err(x, s, path, "invalid regular expression at "
		    "offset %zu: %s", (size_t)off, (const char *)msg);
		return -1;
	}
	pcre2_code_free(re);
	return 0;
}

static int
conf_chk_special_use(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	static const char *const uses[] = {
		"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk",
		"\\Sent", "\\Trash",
	};
	size_t	 i;

	for (i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
		if (strcasecmp(v, uses[i]) == 0) {
			strcpy(v, uses[i]);	/* same length: canonical case */
			return 0;
		}
	conf_load_err(x, s, path, "expected one of \\All, \\Archive, "
	    "\\Drafts, \\Flagged, \\Junk, \\Sent, \\Trash");
	return -1;
}

static int
conf_chk_selector(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, char *v)
{
	const char	*why;

	str_lower(v);
	if (conf_check_domain(v, &why) == -1) {
		conf_load_err(x, s, path, "invalid selector \"%s\": %s", v, why);
		return -1;
	}
	return 0;
}

/* Typed values. */

static bool
conf_load_is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64;
}

static void
conf_load_range(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, long long min, long long max)
{
	if (max == LLONG_MAX)
		conf_load_err(x, s, path, "must be at least %lld", min);
	else
		conf_load_err(x, s, path, "must be between %lld and %lld",
		    min, max);
}

/* "a", "b" or "c" for the enum error message. */
static char *
conf_load_choices(const char *const *names)
{
	struct buf	 b;
	size_t		 i, n;

	for (n = 0; names[n] != NULL; n++)
		;
	buf_init(&b, 0);
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s\"%s\"", i == 0 ? "" : i + 1 == n ? " or " :
		    ", ", names[i]);
	return buf_steal(&b, NULL);
}

static void
conf_load_strlist(struct conf_load_ctx *x, const struct conf_opt *o,
    const config_setting_t *s, const char *path, struct conf_strlist *l)
{
	config_setting_t	*e;
	char			*v, *epath;
	unsigned int		 i, n;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		conf_load_err(x, s, path, "expected a list of strings");
		return;
	}
	n = (unsigned int)config_setting_length(s);
	for (i = 0; i < n; i++)
		if (config_setting_type(config_setting_get_elem(s, i)) !=
		    CONFIG_TYPE_STRING) {
			conf_load_err(x, s, path, "expected a list of strings");
			return;
		}
	conf_strlist_clear(l);
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		v = xstrdup(config_setting_get_string(e));
		epath = conf_load_index(path, i);
		if (o->check == NULL || o->check(x, e, epath, v) == 0)
			conf_strlist_add(l, v);
		free(epath);
		free(v);
	}
}

static void conf_load_group(struct conf_load_ctx *, const config_setting_t *,
    const char *, const struct conf_opt *, void *);

static void
conf_load_opt(struct conf_load_ctx *x, const struct conf_opt *o,
    const config_setting_t *s, const char *path, void *base)
{
	char		*field = (char *)base + o->off;
	const char	*sv;
	char		*v, *choices;
	long long	 iv;
	uint64_t	 size;
	size_t		 i;

	switch (o->kind) {
	case K_STR:
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			conf_load_err(x, s, path, "expected a string");
			return;
		}
		sv = config_setting_get_string(s);
		if (o->empty_null && sv[0] == '\0') {
			conf_set_str((char **)(void *)field, NULL);
			return;
		}
		v = xstrdup(sv);
		if (o->check != NULL && o->check(x, s, path, v) == -1) {
			free(v);
			return;
		}
		free(*(char **)(void *)field);
		*(char **)(void *)field = v;
		return;
	case K_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			conf_load_err(x, s, path, "expected a boolean");
			return;
		}
		*(bool *)(void *)field = config_setting_get_bool(s) != 0;
		return;
	case K_INT:
	case K_I64:
		if (!conf_load_is_int(s)) {
			conf_load_err(x, s, path, "expected an integer");
			return;
		}
		iv = config_setting_get_int64(s);
		if (iv < o->min || iv > o->max) {
			conf_load_range(x, s, path, o->min, o->max);
			return;
		}
		if (o->kind == K_INT)
			*(int *)(void *)field = (int)iv;
		else
			*(int64_t *)(void *)field = iv;
		return;
	case K_SIZE:
		if (conf_load_is_int(s) && config_setting_get_int64(s) >= 0)
			size = (uint64_t)config_setting_get_int64(s);
		else if (config_setting_type(s) != CONFIG_TYPE_STRING ||
		    str_to_size(config_setting_get_string(s), &size) == -1) {
			conf_load_err(x, s, path, "expected a size (an integer "
			    "or a string like \"2G\")");
			return;
		}
		if (size < (uint64_t)o->min) {
			conf_load_range(x, s, path, o->min, LLONG_MAX);
			return;
		}
		*(uint64_t *)(void *)field = size;
		return;
	case K_NUM:
		if (!conf_load_is_int(s) &&
		    config_setting_type(s) != CONFIG_TYPE_FLOAT) {
			conf_load_err(x, s, path, "expected a number");
			return;
		}
		*(double *)(void *)field = config_setting_type(s) ==
		    CONFIG_TYPE_FLOAT ? config_setting_get_float(s) :
		    (double)config_setting_get_int64(s);
		return;
	case K_STRLIST:
		conf_load_strlist(x, o, s, path,
		    (struct conf_strlist *)(void *)field);
		return;
	case K_ENUM:
		if (config_setting_type(s) == CONFIG_TYPE_STRING) {
			sv = config_setting_get_string(s);
			for (i = 0; o->names[i] != NULL; i++)
				if (strcasecmp(sv, o->names[i]) == 0) {
					/* Our enums are int-sized. */
					*(int *)(void *)field = (int)i;
					return;
				}
		}
		choices = conf_load_choices(o->names);
		conf_load_err(x, s, path, "expected %s%s",
		    o->names[1] == NULL ? "" : "one of ", choices);
		free(choices);
		return;
	case K_GROUP:
		conf_load_group(x, s, path, o->sub, base);
		return;
	case K_FN:
		o->fn(x, s, path, base);
		return;
	case K_SKIP:
		return;
	}
}

static void
conf_load_unknown(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, const struct conf_opt *tab)
{
	const struct conf_opt	*o, *best = NULL;
	const char		*name = config_setting_name(s);
	size_t			 d, bestd = 3;

	for (o = tab; o->name != NULL; o++)
		if ((d = conf_check_distance(name, o->name, 2)) < bestd) {
			best = o;
			bestd = d;
		}
	if (best != NULL)
		conf_load_err(x, s, path, "unknown option (did you mean '%s'?)",
		    best->name);
	else
		conf_load_err(x, s, path, "unknown option");
}

static void
conf_load_group(struct conf_load_ctx *x, const config_setting_t *g,
    const char *path, const struct conf_opt *tab, void *base)
{
	const struct conf_opt	*o;
	config_setting_t	*m;
	char			*sub;
	unsigned int		 i, n;

	if (!config_setting_is_group(g)) {
		conf_load_err(x, g, path, "expected a group");
		return;
	}
	n = (unsigned int)config_setting_length(g);
	for (i = 0; i < n; i++) {
		m = config_setting_get_elem(g, i);
		sub = conf_load_path(path, config_setting_name(m));
		for (o = tab; o->name != NULL; o++)
			if (strcmp(o->name, config_setting_name(m)) == 0)
				break;
		if (o->name == NULL)
			conf_load_unknown(x, m, sub, tab);
		else
			conf_load_opt(x, o, m, sub, base);
		free(sub);
	}
	for (o = tab; o->name != NULL; o++)
		if (o->required && config_setting_get_member(g, o->name) ==
		    NULL) {
			sub = conf_load_path(path, o->name);
			conf_load_err(x, g, sub, "missing required option");
			free(sub);
		}
}

/*
 * A list of groups, e.g. accounts = ( {...}, {...} ).  Each element is
 * zeroed, passed to init (may be NULL), read with tab, then passed to
 * post (may be NULL).  Returns the array (*n_r elements) or NULL.
 */
typedef void conf_load_elem_fn(struct conf_load_ctx *,
    const config_setting_t *, const char *, void *);

static void *
conf_load_grouplist(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, const struct conf_opt *tab, size_t elsize,
    conf_load_elem_fn *init, conf_load_elem_fn *post, size_t *n_r)
{
	config_setting_t	*e;
	char			*v = NULL, *epath;
	unsigned int		 i, n;

	*n_r = 0;
	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(s) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(s) == 0)) {
		conf_load_err(x, s, path, "expected a list of groups");
		return NULL;
	}
	n = (unsigned int)config_setting_length(s);
	if (n > 0)
		v = xcalloc(n, elsize);
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		epath = conf_load_index(path, i);
		if (init != NULL)
			init(x, e, epath, v + i * elsize);
		conf_load_group(x, e, epath, tab, v + i * elsize);
		if (post != NULL && config_setting_is_group(e))
			post(x, e, epath, v + i * elsize);
		free(epath);
	}
	*n_r = n;
	return v;
}

/* The schema. */

#define OPT(T, n, k, f)	.name = n, .kind = k, .off = offsetof(T, f)
#define STR(T, n, f, chk)	{ OPT(T, n, K_STR, f), .check = chk }
#define STRN(T, n, f, chk)	{ OPT(T, n, K_STR, f), .check = chk, \
				    .empty_null = true }
#define BOOL(T, n, f)		{ OPT(T, n, K_BOOL, f) }
#define INT(T, n, f, lo, hi)	{ OPT(T, n, K_INT, f), .min = lo, .max = hi }
#define I64(T, n, f, lo, hi)	{ OPT(T, n, K_I64, f), .min = lo, .max = hi }
#define SIZE(T, n, f, lo)	{ OPT(T, n, K_SIZE, f), .min = lo }
#define NUM(T, n, f)		{ OPT(T, n, K_NUM, f) }
#define LIST(T, n, f, chk)	{ OPT(T, n, K_STRLIST, f), .check = chk }
#define ENUM(T, n, f, v)	{ OPT(T, n, K_ENUM, f), .names = v }
#define GROUP(n, t)		{ .name = n, .kind = K_GROUP, .sub = t }
#define FN(n, f)		{ .name = n, .kind = K_FN, .fn = f }
#define END			{ .name = NULL }

static const char *const conf_layouts[] = { "maildir++", "fs", NULL };
static const char *const conf_autos[] = { "no", "create", "subscribe", NULL };
static const char *const conf_key_types[] = { "rsa", "ed25519", NULL };
static const char *const conf_canons[] = { "relaxed", "simple", NULL };

static void
conf_fn_separator(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf	*c = base;
	const char	*v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_load_err(x, s, path, "expected a string");
		return;
	}
	v = config_setting_get_string(s);
	if (strcmp(v, ".") != 0 && strcmp(v, "/") != 0) {
		conf_load_err(x, s, path, "expected \".\" or \"/\"");
		return;
	}
	c->storage.hierarchy_separator = v[0];
}

static const struct conf_opt conf_tab_run_as[] = {
	STR(struct conf, "user", run_as_user, conf_chk_nonempty),
	STR(struct conf, "group", run_as_group, conf_chk_nonempty),
	END
};

static const struct conf_opt conf_tab_storage[] = {
	STR(struct conf, "path", storage.path, conf_chk_abspath),
	ENUM(struct conf, "layout", storage.layout, conf_layouts),
	FN("hierarchy_separator", conf_fn_separator),
	BOOL(struct conf, "use_utf8_folder_names",
	    storage.use_utf8_folder_names),
	END
};

static const struct conf_opt conf_tab_listen[] = {
	LIST(struct conf, "smtp", listen.smtp, conf_chk_listen),
	LIST(struct conf, "submission", listen.submission, conf_chk_listen),
	LIST(struct conf, "submissions", listen.submissions, conf_chk_listen),
	LIST(struct conf, "imap", listen.imap, conf_chk_listen),
	LIST(struct conf, "imaps", listen.imaps, conf_chk_listen),
	LIST(struct conf, "pop3", listen.pop3, conf_chk_listen),
	LIST(struct conf, "pop3s", listen.pop3s, conf_chk_listen),
	LIST(struct conf, "managesieve", listen.managesieve, conf_chk_listen),
	LIST(struct conf, "http", listen.http, conf_chk_listen),
	STRN(struct conf, "control", listen.control, conf_chk_abspath),
	END
};

/*
 * The same address:port twice would fail at bind time with a message
 * that names neither option; catch it here.  Addresses compare as parsed
 * bytes, so "[::0]:25" and "[::]:25" are the same.
 */
static void
conf_fn_listen(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct seen {
		unsigned char	 addr[16];
		int		 af, port;
		char		*path;
	}			*seen = NULL;
	const struct conf_opt	*o;
	config_setting_t	*l, *e;
	unsigned char		 addr[16];
	char			*host, *epath;
	const char		*v;
	size_t			 nseen = 0, k;
	unsigned int		 i;
	int			 af, port;

	conf_load_group(x, s, path, conf_tab_listen, base);
	if (!config_setting_is_group(s))
		return;
	for (o = conf_tab_listen; o->name != NULL; o++) {
		if (o->kind != K_STRLIST ||
		    (l = config_setting_get_member(s, o->name)) == NULL ||
		    !config_setting_is_aggregate(l))
			continue;
		for (i = 0; i < (unsigned int)config_setting_length(l); i++) {
			e = config_setting_get_elem(l, i);
			if ((v = config_setting_get_string(e)) == NULL ||
			    conf_parse_hostport(v, &host, &port) == -1)
				continue;
			/* 0.0.0.0:25 and [::]:25 are two sockets (V6ONLY). */
			memset(addr, 0, sizeof(addr));
			af = AF_INET;
			if (inet_pton(AF_INET, host, addr) != 1) {
				af = AF_INET6;
				(void)inet_pton(AF_INET6, host, addr);
			}
			free(host);
			epath = xasprintf("listen.%s[%u]", o->name, i);
			for (k = 0; k < nseen; k++)
				if (seen[k].port == port && seen[k].af == af &&
				    memcmp(seen[k].addr, addr, 16) == 0)
					break;
			if (k < nseen) {
				conf_load_err(x, e, epath, "duplicate listen "
				    "address \"%s\" (also in %s)", v,
				    seen[k].path);
				free(epath);
				continue;
			}
			seen = xreallocarray(seen, nseen + 1, sizeof(*seen));
			memcpy(seen[nseen].addr, addr, 16);
			seen[nseen].af = af;
			seen[nseen].port = port;
			seen[nseen++].path = epath;
		}
	}
	for (k = 0; k < nseen; k++)
		free(seen[k].path);
	free(seen);
}

static const struct conf_opt conf_tab_tls[] = {
	STRN(struct conf, "certificate_file", tls.certificate_file,
	    conf_chk_readable),
	STRN(struct conf, "private_key_file", tls.private_key_file,
	    conf_chk_readable),
	END
};

/* Accounts. */

static void
conf_fn_hash_file(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf_account	*a = base;
	const char		*file, *why;
	char			*text, ebuf[128];
	size_t			 len;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_load_err(x, s, path, "expected a string");
		return;
	}
	file = config_setting_get_string(s);
	if (conf_load_slurp(file, CONF_MAX_SECRET, &text, &len) == -1) {
		conf_load_err(x, s, path, "cannot read %s: %s", file,
		    errno == EFBIG ? "too large for a password hash" :
		    conf_load_strerror(errno, ebuf, sizeof(ebuf)));
		return;
	}
	str_trim(text);
	if (conf_check_crypt(text, &why) == -1)
		conf_load_err(x, s, path, "%s: %s", file, why);
	else if (a->hashed_password == NULL)
		a->hashed_password = xstrdup(text);
	free(text);
}

static const struct conf_opt conf_tab_account[] = {
	STR(struct conf_account, "name", name, conf_chk_local_address),
	STR(struct conf_account, "hashed_password", hashed_password,
	    conf_chk_crypt),
	FN("hashed_password_file", conf_fn_hash_file),
	STR(struct conf_account, "password_file", password_file,
	    conf_chk_readable),
	LIST(struct conf_account, "aliases", aliases, conf_chk_alias_address),
	LIST(struct conf_account, "aliases_regexp", aliases_regexp,
	    conf_chk_regexp),
	LIST(struct conf_account, "catch_all", catch_all,
	    conf_chk_local_domain),
	SIZE(struct conf_account, "quota", quota, 0),
	BOOL(struct conf_account, "send_only", send_only),
	STR(struct conf_account, "send_only_reject_message",
	    send_only_reject_message, NULL),
	STR(struct conf_account, "sieve_script", sieve_script, NULL),
	END
};

static void
conf_elem_account_init(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *el)
{
	struct conf_account	*a = el;

	a->line = (int)config_setting_source_line(s);
}

/* Exactly one password source: none locks the user out, two is a typo. */
static void
conf_elem_account_post(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *el)
{
	static const char *const sources[] = {
		"hashed_password", "hashed_password_file", "password_file",
	};
	config_setting_t	*m;
	const char		*first = NULL;
	char			*p;
	size_t			 i;

	for (i = 0; i < 3; i++) {
		if ((m = config_setting_get_member(s, sources[i])) == NULL)
			continue;
		if (first == NULL) {
			first = sources[i];
			continue;
		}
		p = conf_load_path(path, sources[i]);
		conf_load_err(x, m, p, "conflicts with %s: set only one "
		    "password source", first);
		free(p);
	}
	if (first == NULL)
		conf_load_err(x, s, path, "no password: set one of "
		    "hashed_password, hashed_password_file or password_file");
}

static void
conf_fn_accounts(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf		*c = x->conf;
	struct conf_account	*v;
	config_setting_t	*e;
	size_t			 n, i;

	v = conf_load_grouplist(x, s, path, conf_tab_account, sizeof(*v),
	    conf_elem_account_init, conf_elem_account_post, &n);
	if (n == 0)
		return;
	c->accounts = xreallocarray(c->accounts, c->naccounts + n,
	    sizeof(*c->accounts));
	x->asrc = xreallocarray(x->asrc, c->naccounts + n, sizeof(*x->asrc));
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		x->asrc[c->naccounts].file = xstrdup(conf_load_file_of(x, e));
		x->asrc[c->naccounts].line = v[i].line;
		x->asrc[c->naccounts].path = conf_load_index(path,
		    (unsigned int)i);
		c->accounts[c->naccounts++] = v[i];
	}
	free(v);
}

/* Aliases and forwards. */

static const struct conf_opt conf_tab_alias[] = {
	{ OPT(struct conf_alias, "address", K_STR, address),
	    .check = conf_chk_alias_address, .required = true },
	{ OPT(struct conf_alias, "to", K_STRLIST, to),
	    .check = conf_chk_alias_target, .required = true },
	END
};

static const struct conf_opt conf_tab_forward[] = {
	{ OPT(struct conf_alias, "address", K_STR, address),
	    .check = conf_chk_local_address, .required = true },
	{ OPT(struct conf_alias, "to", K_STRLIST, to),
	    .check = conf_chk_address, .required = true },
	END
};

static void
conf_elem_alias_init(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *el)
{
	struct conf_alias	*a = el;

	a->line = (int)config_setting_source_line(s);
}

static void
conf_elem_alias_post(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *el)
{
	struct conf_alias	*a = el;
	config_setting_t	*to;
	char			*p;

	if (a->to.n == 0 && (to = config_setting_get_member(s, "to")) !=
	    NULL && config_setting_is_aggregate(to) &&
	    config_setting_length(to) == 0) {
		p = conf_load_path(path, "to");
		conf_load_err(x, to, p, "must not be empty");
		free(p);
	}
}

static void
conf_fn_aliases(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf	*c = base;
	bool		 fwd = strcmp(path, "forwards") == 0;
	struct conf_alias **vp = fwd ? &c->forwards : &c->aliases;
	size_t		*np = fwd ? &c->nforwards : &c->naliases;

	*vp = conf_load_grouplist(x, s, path, fwd ? conf_tab_forward :
	    conf_tab_alias, sizeof(**vp), conf_elem_alias_init,
	    conf_elem_alias_post, np);
}

/* Mailboxes. */

static const struct conf_opt conf_tab_mailbox[] = {
	{ OPT(struct conf_mailbox, "name", K_STR, name),
	    .check = conf_chk_nonempty, .required = true },
	ENUM(struct conf_mailbox, "auto", autocreate, conf_autos),
	STR(struct conf_mailbox, "special_use", special_use,
	    conf_chk_special_use),
	END
};

static void
conf_fn_mailboxes(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf	*c = base;
	size_t		 i, j;
	char		*p;

	/* Given at all, the list replaces the default one. */
	conf_mailboxes_clear(c);
	c->mailboxes = conf_load_grouplist(x, s, path, conf_tab_mailbox,
	    sizeof(*c->mailboxes), NULL, NULL, &c->nmailboxes);
	for (i = 0; i < c->nmailboxes; i++)
		for (j = 0; j < i; j++)
			if (c->mailboxes[i].name != NULL &&
			    c->mailboxes[j].name != NULL &&
			    strcmp(c->mailboxes[i].name,
			    c->mailboxes[j].name) == 0) {
				p = conf_load_index(path, (unsigned int)i);
				conf_load_err(x, config_setting_get_elem(s,
				    (unsigned int)i), p, "duplicate mailbox "
				    "\"%s\"", c->mailboxes[i].name);
				free(p);
				break;
			}
}

/* DKIM. */

static void
conf_fn_key_length(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf_dkim_selector	*sel = base;
	long long			 v;

	if (!conf_load_is_int(s)) {
		conf_load_err(x, s, path, "expected an integer");
		return;
	}
	v = config_setting_get_int64(s);
	if (v != 1024 && v != 2048 && v != 3072 && v != 4096) {
		conf_load_err(x, s, path, "expected 1024, 2048, 3072 or 4096");
		return;
	}
	sel->key_length = (int)v;
}

static const struct conf_opt conf_tab_dkim_defaults[] = {
	STR(struct conf_dkim_selector, "selector", name, conf_chk_selector),
	ENUM(struct conf_dkim_selector, "key_type", key_type, conf_key_types),
	FN("key_length", conf_fn_key_length),
	END
};

static const struct conf_opt conf_tab_dkim_selector[] = {
	{ OPT(struct conf_dkim_selector, "name", K_STR, name),
	    .check = conf_chk_selector, .required = true },
	ENUM(struct conf_dkim_selector, "key_type", key_type, conf_key_types),
	FN("key_length", conf_fn_key_length),
	STRN(struct conf_dkim_selector, "key_file", key_file,
	    conf_chk_abspath),
	END
};

static void
conf_elem_selector_init(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *el)
{
	struct conf_dkim_selector	*sel = el;

	/* dkim.defaults was read first (conf_fn_dkim). */
	sel->key_type = x->conf->dkim.defaults.key_type;
	sel->key_length = x->conf->dkim.defaults.key_length;
}

static void
conf_fn_selectors(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf_dkim_domain	*d = base;

	d->selectors = conf_load_grouplist(x, s, path, conf_tab_dkim_selector,
	    sizeof(*d->selectors), conf_elem_selector_init, NULL,
	    &d->nselectors);
}

static const struct conf_opt conf_tab_dkim_domain[] = {
	{ OPT(struct conf_dkim_domain, "domain", K_STR, domain),
	    .check = conf_chk_domain, .required = true },
	{ .name = "selectors", .kind = K_FN, .fn = conf_fn_selectors },
	END
};

/* A domain listed without selectors signs with the default one. */
static void
conf_elem_dkim_domain_post(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *el)
{
	struct conf_dkim_domain	*d = el;
	struct conf_dkim_selector *def = &x->conf->dkim.defaults;

	if (config_setting_get_member(s, "selectors") != NULL)
		return;
	d->selectors = xcalloc(1, sizeof(*d->selectors));
	d->nselectors = 1;
	d->selectors[0].name = xstrdup(def->name);
	d->selectors[0].key_type = def->key_type;
	d->selectors[0].key_length = def->key_length;
}

static void
conf_fn_dkim_domains(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf	*c = base;

	conf_dkim_domains_clear(c);
	c->dkim.domains = conf_load_grouplist(x, s, path, conf_tab_dkim_domain,
	    sizeof(*c->dkim.domains), NULL, conf_elem_dkim_domain_post,
	    &c->dkim.ndomains);
}

static const struct conf_opt conf_tab_dkim[] = {
	BOOL(struct conf, "enable", dkim.enable),
	STR(struct conf, "key_directory", dkim.key_directory,
	    conf_chk_abspath),
	ENUM(struct conf, "header_canonicalization",
	    dkim.header_canonicalization, conf_canons),
	ENUM(struct conf, "body_canonicalization",
	    dkim.body_canonicalization, conf_canons),
	{ .name = "defaults", .kind = K_SKIP },
	FN("domains", conf_fn_dkim_domains),
	END
};

static void
conf_fn_dkim(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf		*c = base;
	config_setting_t	*d;
	char			*p;

	/* Selectors inherit from defaults wherever defaults appears. */
	if (config_setting_is_group(s) &&
	    (d = config_setting_get_member(s, "defaults")) != NULL) {
		p = conf_load_path(path, "defaults");
		conf_load_group(x, d, p, conf_tab_dkim_defaults,
		    &c->dkim.defaults);
		free(p);
	}
	conf_load_group(x, s, path, conf_tab_dkim, base);
}

/* Spam. */

static const struct conf_opt conf_tab_spam_actions[] = {
	NUM(struct conf, "reject", spam.reject),
	NUM(struct conf, "add_header", spam.add_header),
	NUM(struct conf, "greylist", spam.greylist),
	END
};

/* Given at all, a missing or negative action is disabled (-1). */
static void
conf_fn_spam_actions(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf	*c = base;

	c->spam.reject = c->spam.add_header = c->spam.greylist = -1;
	conf_load_group(x, s, path, conf_tab_spam_actions, base);
	if (c->spam.reject < 0)
		c->spam.reject = -1;
	if (c->spam.add_header < 0)
		c->spam.add_header = -1;
	if (c->spam.greylist < 0)
		c->spam.greylist = -1;
}

static const struct conf_opt conf_tab_symbol[] = {
	{ OPT(struct conf_symbol, "name", K_STR, name),
	    .check = conf_chk_nonempty, .required = true },
	{ OPT(struct conf_symbol, "weight", K_NUM, weight), .required = true },
	END
};

static void
conf_fn_symbols(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf	*c = base;
	size_t		 i;

	for (i = 0; i < c->spam.nsymbols; i++)
		free(c->spam.symbols[i].name);
	free(c->spam.symbols);
	c->spam.symbols = conf_load_grouplist(x, s, path, conf_tab_symbol,
	    sizeof(*c->spam.symbols), NULL, NULL, &c->spam.nsymbols);
}

static const struct conf_opt conf_tab_bayes[] = {
	BOOL(struct conf, "enable", spam.bayes_enable),
	BOOL(struct conf, "autolearn", spam.bayes_autolearn),
	END
};

static const struct conf_opt conf_tab_greylist[] = {
	BOOL(struct conf, "enable", spam.greylist_enable),
	INT(struct conf, "delay", spam.greylist_delay, 0, 86400),
	END
};

static const struct conf_opt conf_tab_spam[] = {
	BOOL(struct conf, "enable", spam.enable),
	FN("actions", conf_fn_spam_actions),
	FN("symbols", conf_fn_symbols),
	STRN(struct conf, "rules_file", spam.rules_file, conf_chk_abspath),
	LIST(struct conf, "dnsbl", spam.dnsbl, conf_chk_dnsbl),
	GROUP("bayes", conf_tab_bayes),
	GROUP("greylist", conf_tab_greylist),
	END
};

/* The rest. */

static const struct conf_opt conf_tab_quota[] = {
	BOOL(struct conf, "enable", quota.enable),
	SIZE(struct conf, "default_per_user", quota.default_per_user, 0),
	END
};

static const struct conf_opt conf_tab_srs[] = {
	BOOL(struct conf, "enable", srs.enable),
	STR(struct conf, "domain", srs.domain, conf_chk_domain),
	STR(struct conf, "secret_file", srs.secret_file, conf_chk_abspath),
	END
};

static const struct conf_opt conf_tab_dmarc[] = {
	BOOL(struct conf, "enforce", dmarc.enforce),
	END
};

static const struct conf_opt conf_tab_virus[] = {
	BOOL(struct conf, "enable", virus_scanning.enable),
	STR(struct conf, "clamd_socket", virus_scanning.clamd_socket,
	    conf_chk_abspath),
	END
};

static const struct conf_opt conf_tab_dns[] = {
	LIST(struct conf, "resolvers", dns.resolvers, conf_chk_resolver),
	END
};

static const struct conf_opt conf_tab_relay[] = {
	STR(struct conf, "host", relay.host, conf_chk_host),
	INT(struct conf, "port", relay.port, 1, 65535),
	STR(struct conf, "username", relay.username, NULL),
	STR(struct conf, "password_file", relay.password_file, NULL),
	END
};

static const struct conf_opt conf_tab_outbound[] = {
	BOOL(struct conf, "tls_session_tickets", outbound.tls_session_tickets),
	END
};

static const struct conf_opt conf_tab_queue[] = {
	I64(struct conf, "lifetime", queue.lifetime, 1, LLONG_MAX),
	END
};

static const struct conf_opt conf_tab_limits[] = {
	INT(struct conf, "max_connections", limits.max_connections, 1,
	    10000000),
	INT(struct conf, "max_connections_per_ip",
	    limits.max_connections_per_ip, 1, 10000000),
	INT(struct conf, "smtp_timeout", limits.smtp_timeout, 1, 86400),
	INT(struct conf, "imap_timeout", limits.imap_timeout, 1, 86400),
	INT(struct conf, "pop3_timeout", limits.pop3_timeout, 1, 86400),
	INT(struct conf, "shutdown_timeout", limits.shutdown_timeout, 0,
	    3600),
	END
};

/*
 * mta_sts (RFC 8461 3.2): mx patterns are host names, or "*." and a
 * name (a wildcard for one leftmost label).  Kept inline in struct conf.
 */
static void
conf_fn_sts_mx(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf		*c = base;
	config_setting_t	*e;
	char			*v, *epath;
	const char		*why;
	unsigned int		 i, n;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		conf_load_err(x, s, path, "expected a list of strings");
		return;
	}
	n = (unsigned int)config_setting_length(s);
	if (n > CONF_STS_MX_MAX) {
		conf_load_err(x, s, path, "at most %d patterns",
		    CONF_STS_MX_MAX);
		return;
	}
	c->mta_sts.nmx = 0;
	c->mta_sts.mx_set = true;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		epath = conf_load_index(path, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_load_err(x, e, epath, "expected a string");
			free(epath);
			continue;
		}
		v = xstrdup(config_setting_get_string(e));
		str_lower(v);
		if (conf_check_domain(strncmp(v, "*.", 2) == 0 ? v + 2 : v,
		    &why) == -1)
			conf_load_err(x, e, epath, "invalid MX pattern \"%s\": "
			    "%s (expected a host name or *.domain)", v, why);
		else if (str_lcpy(c->mta_sts.mx[c->mta_sts.nmx], v,
		    CONF_STS_MX_SIZE) < CONF_STS_MX_SIZE)
			c->mta_sts.nmx++;
		free(v);
		free(epath);
	}
}

static const char *const conf_sts_modes[] = {
	"testing", "enforce", "none", NULL
};

static const struct conf_opt conf_tab_mta_sts[] = {
	ENUM(struct conf, "mode", mta_sts.mode, conf_sts_modes),
	INT(struct conf, "max_age", mta_sts.max_age, 0, 31557600),
	FN("mx", conf_fn_sts_mx),
	END
};

/* The group, then its one cross check: a policy needs its MX list. */
static void
conf_fn_mta_sts(struct conf_load_ctx *x, const config_setting_t *s,
    const char *path, void *base)
{
	struct conf		*c = base;
	config_setting_t	*m;
	char			*sub;

	conf_load_group(x, s, path, conf_tab_mta_sts, base);
	if (!config_setting_is_group(s) || c->mta_sts.mode == CONF_STS_NONE ||
	    (m = config_setting_get_member(s, "mx")) == NULL ||
	    !config_setting_is_aggregate(m) || config_setting_length(m) != 0)
		return;
	sub = conf_load_path(path, "mx");
	conf_load_err(x, m, sub, "must not be empty unless mode is \"none\" "
	    "(RFC 8461 3.2)");
	free(sub);
}

static const struct conf_opt conf_tab_top[] = {
	{ OPT(struct conf, "fqdn", K_STR, fqdn), .check = conf_chk_domain,
	    .required = true },
	STR(struct conf, "sending_fqdn", sending_fqdn, conf_chk_domain),
	{ OPT(struct conf, "domains", K_STRLIST, domains),
	    .check = conf_chk_domain, .required = true },
	STR(struct conf, "system_domain", system_domain, conf_chk_domain),
	STR(struct conf, "system_contact", system_contact, conf_chk_address),
	STR(struct conf, "system_name", system_name, NULL),
	STR(struct conf, "state_dir", state_dir, conf_chk_abspath),
	GROUP("run_as", conf_tab_run_as),
	BOOL(struct conf, "debug", debug),
	GROUP("storage", conf_tab_storage),
	FN("listen", conf_fn_listen),
	GROUP("tls", conf_tab_tls),
	SIZE(struct conf, "message_size_limit", message_size_limit, 1024),
	INT(struct conf, "max_connections_per_user", max_connections_per_user,
	    1, 1000000),
	STR(struct conf, "recipient_delimiter", recipient_delimiter,
	    conf_chk_delimiter),
	BOOL(struct conf, "save_to_detail_mailbox", save_to_detail_mailbox),
	LIST(struct conf, "reject_recipients", reject_recipients,
	    conf_chk_address),
	LIST(struct conf, "reject_sender", reject_sender, conf_chk_sender),
	STR(struct conf, "reject_sender_message", reject_sender_message, NULL),
	BOOL(struct conf, "rewrite_message_id", rewrite_message_id),
	FN("accounts", conf_fn_accounts),
	STRN(struct conf, "accounts_file", accounts_file, NULL),
	FN("aliases", conf_fn_aliases),
	FN("forwards", conf_fn_aliases),
	FN("mailboxes", conf_fn_mailboxes),
	GROUP("quota", conf_tab_quota),
	FN("dkim", conf_fn_dkim),
	GROUP("srs", conf_tab_srs),
	GROUP("dmarc", conf_tab_dmarc),
	GROUP("spam", conf_tab_spam),
	GROUP("virus_scanning", conf_tab_virus),
	GROUP("dns", conf_tab_dns),
	GROUP("relay", conf_tab_relay),
	GROUP("outbound", conf_tab_outbound),
	GROUP("queue", conf_tab_queue),
	GROUP("limits", conf_tab_limits),
	FN("mta_sts", conf_fn_mta_sts),
	END
};

/* The accounts file holds nothing but accounts. */
static const struct conf_opt conf_tab_accounts_file[] = {
	FN("accounts", conf_fn_accounts),
	END
};

/* Cross checks, once everything is read. */

/* The member if present and not "" (which means unset). */
static config_setting_t *
conf_load_member_set(const config_setting_t *g, const char *name)
{
	config_setting_t	*m;

	if ((m = config_setting_get_member(g, name)) == NULL)
		return NULL;
	if (config_setting_type(m) == CONFIG_TYPE_STRING &&
	    config_setting_get_string(m)[0] == '\0')
		return NULL;
	return m;
}

static void
conf_load_post(struct conf_load_ctx *x, const config_setting_t *root)
{
	config_setting_t	*s, *t, *u, *e, *f;
	const char		*v, *w;
	size_t			 i, j, n;
	char			*p;

	if ((s = config_setting_get_member(root, "domains")) != NULL &&
	    config_setting_is_aggregate(s)) {
		n = (size_t)config_setting_length(s);
		if (n == 0)
			conf_load_err(x, s, "domains", "must not be empty");
		/* Index by the file's elements: bad ones were not stored. */
		for (i = 0; i < n; i++) {
			e = config_setting_get_elem(s, (unsigned int)i);
			if ((v = config_setting_get_string(e)) == NULL)
				continue;
			for (j = 0; j < i; j++) {
				f = config_setting_get_elem(s, (unsigned int)j);
				if ((w = config_setting_get_string(f)) ==
				    NULL || strcasecmp(v, w) != 0)
					continue;
				p = conf_load_index("domains", (unsigned int)i);
				conf_load_err(x, e, p, "duplicate domain "
				    "\"%s\"", v);
				free(p);
				break;
			}
		}
	}
	/*
	 * Judge by what the file says, not by what got stored, so that an
	 * unreadable certificate does not also claim the key is alone.
	 */
	if ((t = config_setting_get_member(root, "tls")) != NULL &&
	    config_setting_is_group(t)) {
		s = conf_load_member_set(t, "certificate_file");
		u = conf_load_member_set(t, "private_key_file");
		if (s != NULL && u == NULL)
			conf_load_err(x, s, "tls.certificate_file",
			    "set without tls.private_key_file (set both or "
			    "neither)");
		if (u != NULL && s == NULL)
			conf_load_err(x, u, "tls.private_key_file",
			    "set without tls.certificate_file (set both or "
			    "neither)");
	}
}

static void
conf_load_accounts_file(struct conf_load_ctx *x, const char *file)
{
	config_t	 cf;
	char		*text, ebuf[128];
	const char	*saved = x->name, *saved_incdir = x->incdir;
	size_t		 len;

	if (conf_load_slurp(file, CONF_MAX_FILE, &text, &len) == -1) {
		/* Not created yet by `postern account add`: no accounts. */
		if (errno != ENOENT)
			conf_load_errl(x, file, 0, "", "cannot read: %s",
			    conf_load_strerror(errno, ebuf, sizeof(ebuf)));
		return;
	}
	x->name = file;
	x->incdir = NULL;	/* libconfig resolves its includes as given */
	x->bad_include = false;
	conf_load_scan(x, text);
	config_init(&cf);
	if (memchr(text, '\0', len) != NULL)
		conf_load_errl(x, file, 0, "syntax", "NUL byte in file");
	else if (x->bad_include)
		;	/* reported by conf_load_scan */
	else if (config_read_string(&cf, text) != CONFIG_TRUE)
		conf_load_errl(x, config_error_file(&cf) != NULL ?
		    config_error_file(&cf) : file, config_error_line(&cf),
		    "syntax", "%s", config_error_text(&cf));
	else
		conf_load_group(x, config_root_setting(&cf), NULL,
		    conf_tab_accounts_file, x->conf);
	config_destroy(&cf);
	free(text);
	x->name = saved;
	x->incdir = saved_incdir;
}

static int
conf_load_cmp_acct(const void *a, const void *b, void *arg)
{
	const struct conf	*c = arg;
	size_t			 i = *(const size_t *)a, j = *(const size_t *)b;
	const char		*na = c->accounts[i].name, *nb = c->accounts[j].name;
	int			 r;

	r = strcmp(na != NULL ? na : "", nb != NULL ? nb : "");
	if (r != 0)
		return r;
	return i < j ? -1 : i > j;
}

static void
conf_load_xref(struct conf_load_ctx *x)
{
	struct conf		*c = x->conf;
	struct conf_defer	*d;
	const char		*dom;
	size_t			*idx, i;

	for (i = 0; i < x->ndefers; i++) {
		d = &x->defers[i];
		dom = strrchr(d->value, '@');
		dom = dom != NULL ? dom + 1 : d->value;
		switch (d->kind) {
		case D_LOCAL:
			/* An empty or broken domains list is reported already. */
			if (c->domains.n > 0 && !conf_is_local_domain(c, dom))
				conf_load_errl(x, d->file, d->line, d->path,
				    "domain \"%s\" is not in domains", dom);
			break;
		case D_ACCOUNT:
			if (conf_is_local_domain(c, dom) &&
			    conf_find_account(c, d->value) == NULL)
				conf_load_errl(x, d->file, d->line, d->path,
				    "\"%s\" is not an account", d->value);
			break;
		}
	}

	/* Duplicate accounts: sort indexes by name, compare neighbours. */
	if (c->naccounts < 2)
		return;
	idx = xreallocarray(NULL, c->naccounts, sizeof(*idx));
	for (i = 0; i < c->naccounts; i++)
		idx[i] = i;
	qsort_r(idx, c->naccounts, sizeof(*idx), conf_load_cmp_acct, c);
	for (i = 1; i < c->naccounts; i++) {
		if (c->accounts[idx[i]].name == NULL ||
		    c->accounts[idx[i - 1]].name == NULL ||
		    strcmp(c->accounts[idx[i]].name,
		    c->accounts[idx[i - 1]].name) != 0)
			continue;
		conf_load_errl(x, x->asrc[idx[i]].file, x->asrc[idx[i]].line,
		    x->asrc[idx[i]].path, "duplicate account \"%s\" (first "
		    "declared at %s:%d)", c->accounts[idx[i]].name,
		    x->asrc[idx[i - 1]].file, x->asrc[idx[i - 1]].line);
	}
	free(idx);
}

/*
 * Errors come out grouped by file (in order of first appearance) and
 * sorted by line within a file; errors on the same line keep the order
 * they were found in.  Insertion sort: it is stable and n is capped.
 */
static void
conf_load_sort(struct conf_errors *errs)
{
	struct conf_error	 e;
	size_t			*rank, i, j, r;

	if (errs->n < 2)
		return;
	rank = xreallocarray(NULL, errs->n, sizeof(*rank));
	for (i = 0; i < errs->n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(errs->v[j].file, errs->v[i].file) == 0)
				break;
		rank[i] = j < i ? rank[j] : i;
	}
	for (i = 1; i < errs->n; i++) {
		e = errs->v[i];
		r = rank[i];
		for (j = i; j > 0 && (rank[j - 1] > r || (rank[j - 1] == r &&
		    errs->v[j - 1].line > e.line)); j--) {
			errs->v[j] = errs->v[j - 1];
			rank[j] = rank[j - 1];
		}
		errs->v[j] = e;
		rank[j] = r;
	}
	free(rank);
}

static struct conf *
conf_load_text(const char *text, size_t len, const char *name,
    const char *incdir, struct conf_errors *errs)
{
	struct conf_load_ctx	 x;
	struct conf_errors	 local = { NULL, 0 };
	struct conf		*c;
	config_t		 cf;
	size_t			 i;

	if (errs == NULL)
		errs = &local;
	errs->v = NULL;
	errs->n = 0;
	memset(&x, 0, sizeof(x));
	c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(name);
	conf_default_set(c);
	x.conf = c;
	x.errs = errs;
	x.name = name;
	x.incdir = incdir;

	conf_load_scan(&x, text);
	config_init(&cf);
	if (incdir != NULL)
		config_set_include_dir(&cf, incdir);
	if (memchr(text, '\0', len) != NULL)
		conf_load_errl(&x, name, 0, "syntax", "NUL byte in file");
	else if (x.bad_include)
		;	/* reported by conf_load_scan */
	else if (config_read_string(&cf, text) != CONFIG_TRUE)
		conf_load_errl(&x, config_error_file(&cf) != NULL ?
		    config_error_file(&cf) : name, config_error_line(&cf),
		    "syntax", "%s", config_error_text(&cf));
	else {
		conf_load_group(&x, config_root_setting(&cf), NULL,
		    conf_tab_top, c);
		conf_load_post(&x, config_root_setting(&cf));
		if (c->accounts_file != NULL)
			conf_load_accounts_file(&x, c->accounts_file);
		conf_default_derive(c);
		conf_load_xref(&x);
	}
	config_destroy(&cf);

	for (i = 0; i < x.ndefers; i++) {
		free(x.defers[i].file);
		free(x.defers[i].path);
		free(x.defers[i].value);
	}
	free(x.defers);
	for (i = 0; i < c->naccounts; i++) {
		free(x.asrc[i].file);
		free(x.asrc[i].path);
	}
	free(x.asrc);

	conf_load_sort(errs);
	if (x.too_many)
		conf_load_errl(&x, name, 0, "", "too many errors, stopped "
		    "reporting after %d", CONF_MAX_ERRORS);
	if (errs->n > 0) {
		conf_free(&c);
		conf_errors_free(&local);
		return NULL;
	}
	return c;
}

struct conf *
conf_load_string(const char *text, const char *name, struct conf_errors *errs)
{
	return conf_load_text(text, strlen(text), name, NULL, errs);
}

struct conf *
conf_load(const char *file, struct conf_errors *errs)
{
	struct conf		*c;
	struct conf_errors	 local = { NULL, 0 };
	struct conf_load_ctx	 x;
	char			*text, *dir, *slash, ebuf[128];
	size_t			 len;

	if (conf_load_slurp(file, CONF_MAX_FILE, &text, &len) == -1) {
		memset(&x, 0, sizeof(x));
		x.errs = errs != NULL ? errs : &local;
		x.errs->v = NULL;
		x.errs->n = 0;
		conf_load_errl(&x, file, 0, "", "cannot read: %s",
		    errno == EFBIG ? "file too large" :
		    conf_load_strerror(errno, ebuf, sizeof(ebuf)));
		conf_errors_free(&local);
		return NULL;
	}
	/* @include paths are relative to the including file. */
	dir = xstrdup(file);
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[slash == dir ? 1 : 0] = '\0';
	else
		xfree(dir);
	c = conf_load_text(text, len, file, dir, errs);
	free(dir);
	free(text);
	return c;
}
