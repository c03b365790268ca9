/*
 * mdir_name.c - Maildir file names in Dovecot's form:
 *
 *	<sec>.M<usec>P<pid>Q<counter>.<host>,S=<size>,W=<vsize>:2,<flags>
 *
 * The part before ':' is the base name: it never changes for the life of a
 * message and is what dovecot-uidlist records.  S= is the file size and W=
 * the size with every line ending as CRLF (RFC822.SIZE), so a scan needs
 * no stat and no read.  Flags after ":2," are sorted by ASCII value as the
 * Maildir spec asks: D F P R S T for the standard ones, a-z for keywords
 * numbered by dovecot-keywords.
 * Owns no state but a process-wide delivery counter (atomic).  Pure apart
 * from clock_gettime, getpid and gethostname.  [any]
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mdir.h"
#include "str.h"
#include "xmalloc.h"

static uint64_t mdir_name_counter;

char *
mdir_name_escape_host(const char *host)
{
	struct buf	b;

	buf_init(&b, 0);
	buf_puts(&b, "");
	for (; *host != '\0'; host++) {
		/* '/' would split the path and ':' starts the info part. */
		if (*host == '/')
			buf_puts(&b, "\\057");
		else if (*host == ':')
			buf_puts(&b, "\\072");
		else
			buf_putc(&b, *host);
	}
	return buf_steal(&b, NULL);
}

char *
mdir_name_unique(void)
{
	struct timespec	 ts;
	char		 host[HOST_NAME_MAX + 1], *esc, *name;
	uint64_t	 q;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		str_lcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	esc = mdir_name_escape_host(host);
	/*
	 * Time, pid and a counter make the name unique on this host even for
	 * two deliveries in the same microsecond from two threads.
	 */
	q = __atomic_add_fetch(&mdir_name_counter, 1, __ATOMIC_RELAXED);
	name = xasprintf("%lld.M%ldP%ldQ%llu.%s", (long long)ts.tv_sec,
	    (long)(ts.tv_nsec / 1000), (long)getpid(), (unsigned long long)q,
	    esc);
	free(esc);
	return name;
}

int
mdir_flags_normalize(const char *flags, char *out, const char **error_r)
{
	bool	 seen[128] = { false };
	size_t	 n = 0;
	int	 c;

	for (; *flags != '\0'; flags++) {
		c = (unsigned char)*flags;
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == ',' ||
		    c == ':') {
			*error_r = "bad Maildir flag character";
			return -1;
		}
		seen[c] = true;
	}
	for (c = 0x21; c < 0x7f; c++)
		if (seen[c])
			out[n++] = (char)c;
	out[n] = '\0';
	return 0;
}

/* Parse the digits of one ",X=<n>" field ending at end. */
static int
mdir_name_field(const char *p, const char *end, uint64_t *v_r)
{
	char	num[24];
	size_t	len = (size_t)(end - p);

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, p, len);
	num[len] = '\0';
	return str_to_u64(num, UINT64_MAX, v_r);
}

int
mdir_name_parse(const char *fname, struct mdir_fname *r,
    const char **error_r)
{
	const char	*colon, *p, *end, *base_end;
	size_t		 i;

	memset(r, 0, sizeof(*r));
	if (fname[0] == '\0' || fname[0] == '.') {
		*error_r = "not a message file name";
		return -1;
	}
	for (i = 0; fname[i] != '\0'; i++) {
		if ((unsigned char)fname[i] < 0x20 || fname[i] == '/') {
			*error_r = "message file name has a bad character";
			return -1;
		}
	}
	colon = strchr(fname, ':');
	base_end = colon != NULL ? colon : fname + i;
	r->base_len = (size_t)(base_end - fname);
	if (r->base_len == 0) {
		*error_r = "message file name has an empty base";
		return -1;
	}
	if (colon != NULL && strncmp(colon, ":2,", 3) == 0) {
		if (mdir_flags_normalize(colon + 3, r->flags, error_r) == -1)
			return -1;
		r->has_info = true;
	}
	/* Fields follow the unique part: ",S=123,W=130". */
	for (p = memchr(fname, ',', r->base_len); p != NULL && p < base_end;
	    p = end) {
		p++;
		if ((end = memchr(p, ',', (size_t)(base_end - p))) == NULL)
			end = base_end;
		if (end - p > 2 && p[0] == 'S' && p[1] == '=')
			r->has_size = mdir_name_field(p + 2, end,
			    &r->size) == 0;
		else if (end - p > 2 && p[0] == 'W' && p[1] == '=')
			r->has_vsize = mdir_name_field(p + 2, end,
			    &r->vsize) == 0;
	}
	return 0;
}

int
mdir_name_with_flags(const char *base, size_t base_len, const char *flags,
    char **fname_r, const char **error_r)
{
	char	sorted[MDIR_FLAGS_MAX];

	*fname_r = NULL;
	if (base_len == 0 || base_len > INT_MAX ||
	    memchr(base, ':', base_len) != NULL) {
		*error_r = "bad message base name";
		return -1;
	}
	if (strlen(flags) >= MDIR_FLAGS_MAX) {
		*error_r = "too many Maildir flags";
		return -1;
	}
	if (mdir_flags_normalize(flags, sorted, error_r) == -1)
		return -1;
	*fname_r = xasprintf("%.*s:2,%s", (int)base_len, base, sorted);
	return 0;
}
