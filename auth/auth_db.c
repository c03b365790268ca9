/*
 * auth_db.c - the table of accounts that may log in, built from the
 * loaded configuration, and the password check against it.
 *
 * Owns a private copy of each account's login, crypt hash and cleartext
 * password file path (sorted by login for bsearch), so a reload may free
 * the old struct conf while checks are still running on workers.  The db
 * is immutable after auth_db_new [loop], so any thread may read it; the
 * checks themselves block (crypt_r, file reads) and run on workers.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth.h"
#include "conf.h"
#include "log.h"
#include "str.h"
#include "xmalloc.h"

struct auth_account {
	char	*name;		/* lower-case login */
	char	*hash;		/* crypt(3) string; NULL if none */
	char	*password_file;	/* cleartext file; NULL if none */
};

struct auth_db {
	struct auth_account	*v;
	size_t			 n;
	/*
	 * crypt setting used for logins that match no account, so that
	 * they cost what a real check costs (see auth_db_new).
	 */
	char			*dummy;
};

static int
auth_db_cmp(const void *a, const void *b)
{
	const struct auth_account *x = a, *y = b;

	return strcmp(x->name, y->name);
}

struct auth_db *
auth_db_new(const struct conf *conf)
{
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct auth_db		*db;
	struct auth_account	*a;
	const struct conf_account *ca;
	size_t			 i;

	db = xcalloc(1, sizeof(*db));
	if (conf != NULL && conf->naccounts > 0)
		db->v = xcalloc(conf->naccounts, sizeof(*db->v));
	for (i = 0; conf != NULL && i < conf->naccounts; i++) {
		ca = &conf->accounts[i];
		if (ca->name == NULL || *ca->name == '\0')
			continue;
		a = &db->v[db->n++];
		a->name = xstrdup(ca->name);
		str_lower(a->name);
		if (ca->hashed_password != NULL)
			a->hash = xstrdup(ca->hashed_password);
		if (ca->password_file != NULL && *ca->password_file != '\0')
			a->password_file = xstrdup(ca->password_file);
		/*
		 * Unknown logins are checked against a real account's
		 * hash (its salt and cost are the crypt setting), so they
		 * take as long as the common case.  The result is thrown
		 * away.
		 */
		if (db->dummy == NULL && a->hash != NULL &&
		    auth_pw_scheme_known(a->hash))
			db->dummy = xstrdup(a->hash);
	}
	if (db->n > 1)
		qsort(db->v, db->n, sizeof(*db->v), auth_db_cmp);
	if (db->dummy == NULL) {
		/* Cheap: only reads 16 random bytes for the salt. */
		if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting,
		    sizeof(setting)) != NULL)
			db->dummy = xstrdup(setting);
		else
			db->dummy = xstrdup("$6$rounds=100000$postern.dummy$");
	}
	return db;
}

void
auth_db_free(struct auth_db **dbp)
{
	struct auth_db	*db = *dbp;
	size_t		 i;

	if (db == NULL)
		return;
	for (i = 0; i < db->n; i++) {
		free(db->v[i].name);
		free(db->v[i].hash);
		free(db->v[i].password_file);
	}
	free(db->v);
	free(db->dummy);
	free(db);
	*dbp = NULL;
}

size_t
auth_db_count(const struct auth_db *db)
{
	return db->n;
}

static const struct auth_account *
auth_db_find(const struct auth_db *db, const char *login)
{
	char			 key[AUTH_LOGIN_MAX + 1];
	struct auth_account	 k;

	if (login == NULL || db->n == 0)
		return NULL;
	if (str_lcpy(key, login, sizeof(key)) >= sizeof(key))
		return NULL;
	/* Both parts are case-insensitive: mailbox local parts in practice. */
	str_lower(key);
	k.name = key;
	return bsearch(&k, db->v, db->n, sizeof(*db->v), auth_db_cmp);
}

const char *
auth_db_canonical(const struct auth_db *db, const char *login)
{
	const struct auth_account *a = auth_db_find(db, login);

	return a != NULL ? a->name : NULL;
}

/*
 * Read a cleartext password file: at most AUTH_PASSWORD_MAX bytes, the
 * trailing newline (LF or CRLF, as editors leave them) removed.  The
 * buffer is the caller's to wipe.
 */
static int
auth_db_read_password_file(const char *path, char *buf, size_t size,
    size_t *len_r, const char **error_r)
{
	size_t	 len = 0;
	ssize_t	 r;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	for (;;) {
		if (len == size) {
			close(fd);
			*error_r = "file too long for a password";
			return -1;
		}
		r = read(fd, buf + len, size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*error_r = strerror(errno);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	*len_r = len;
	return 0;
}

/*
 * Compare two secrets of possibly different lengths without leaking
 * where they differ: hash both, compare the digests in constant time.
 */
static bool
auth_db_secret_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char	 da[EVP_MAX_MD_SIZE], dbuf[EVP_MAX_MD_SIZE];
	unsigned int	 la = 0, lb = 0;
	bool		 eq;

	if (EVP_Digest(a, alen, da, &la, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(b, blen, dbuf, &lb, EVP_sha256(), NULL) != 1 ||
	    la != lb)
		return false;
	eq = str_ct_equal(da, dbuf, la);
	/* Equal digests of unequal lengths is impossible in practice. */
	return eq && alen == blen;
}

static bool
auth_db_check_file_blocking(const struct auth_account *a,
    const char *password)
{
	char		 buf[AUTH_PASSWORD_MAX + 2];
	const char	*error = NULL;
	size_t		 len;
	bool		 ok;

	if (auth_db_read_password_file(a->password_file, buf, sizeof(buf),
	    &len, &error) == -1) {
		log_warn("auth password-file-unreadable account=%s file=%s "
		    "error=\"%s\"", a->name, a->password_file, error);
		explicit_bzero(buf, sizeof(buf));
		return false;
	}
	ok = len > 0 && auth_db_secret_equal(buf, len, password,
	    strlen(password));
	explicit_bzero(buf, sizeof(buf));
	return ok;
}

/* [worker] The check itself; *a_r is the account matched, if any. */
static bool
auth_db_check_account_blocking(const struct auth_db *db, const char *login,
    const char *password, const struct auth_account **a_r)
{
	const struct auth_account *a;

	*a_r = NULL;
	if (login == NULL || password == NULL ||
	    strlen(password) > AUTH_PASSWORD_MAX)
		return false;
	if ((a = auth_db_find(db, login)) == NULL) {
		/* Spend the time a known login would, then fail. */
		(void)auth_pw_verify_blocking(password, db->dummy);
		return false;
	}
	*a_r = a;
	if (a->hash != NULL)
		return auth_pw_verify_blocking(password, a->hash);
	if (a->password_file != NULL)
		return auth_db_check_file_blocking(a, password);
	/* An account with no password may receive mail but not log in. */
	(void)auth_pw_verify_blocking(password, db->dummy);
	return false;
}

bool
auth_db_check_blocking(const struct auth_db *db, const char *login,
    const char *password, const char **canonical_login_r)
{
	const struct auth_account *a;
	bool		 ok;

	ok = auth_db_check_account_blocking(db, login, password, &a);
	if (canonical_login_r != NULL)
		*canonical_login_r = ok ? a->name : NULL;
	return ok;
}

bool
auth_db_check_cached_blocking(const struct auth_db *db,
    struct auth_cache *cache, const char *login, const char *password,
    time_t now, const char **canonical_login_r)
{
	const struct auth_account *a;
	bool		 ok;

	if (canonical_login_r != NULL)
		*canonical_login_r = NULL;
	/*
	 * Keyed by the canonical login so "Alice@X" and "alice@x" share
	 * an entry.  Only hash-backed accounts are cached: a password
	 * file is cheap to read and may change under us at any time.
	 */
	a = auth_db_find(db, login);
	if (cache != NULL && a != NULL && a->hash != NULL && password != NULL &&
	    auth_cache_lookup(cache, a->name, password, now)) {
		if (canonical_login_r != NULL)
			*canonical_login_r = a->name;
		return true;
	}
	ok = auth_db_check_account_blocking(db, login, password, &a);
	if (!ok)
		return false;
	if (cache != NULL && a->hash != NULL)
		auth_cache_add(cache, a->name, password, now);
	if (canonical_login_r != NULL)
		*canonical_login_r = a->name;
	return true;
}
