/*
 * spam_check.c - one spam check from start to end (spam.h): the decoded
 * view, the heuristics, the rules, Bayes, then the total and action.
 *
 * The rules file is compiled once per version (path, size, mtime) and
 * shared read-only by every worker; a new version is picked up by the
 * next check after a change, the old set is freed when its last user
 * is done.  A broken file is logged once per version and the checks go
 * on without rules.
 *
 * Bayes scores map to symbols: BAYES_SPAM at p >= 0.52 with its weight
 * times 0.5, rising from p = 0.9 to the whole weight at p = 1 (so
 * Bayes alone reaches add_header, never reject); at 0.5 <= p < 0.52
 * ("unsure", leaning spam) a third of it, which needs a few points of
 * other evidence to reach add_header; BAYES_HAM at p <= 0.1 times
 * (0.1 - p) / 0.1 raised to at least 0.5; nothing else, nor before
 * SPAM_BAYES_MIN spam and ham messages were learned.  The cut-offs are
 * where tests/bench/spam_accuracy.py found the best spam recall for at
 * most 0.5 % ham over 16 random splits of the SpamAssassin corpus.
 *
 * Owns the rules cache (mutex).  Threads: [worker].
 */
#include <sys/stat.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "spam.h"
#include "spam_private.h"
#include "xmalloc.h"

#define SPAM_CHECK_BAYES_SPAM	0.52	/* BAYES_SPAM at half weight */
#define SPAM_CHECK_BAYES_UNSURE	0.5	/* ... at a third */

struct spam_cache {
	char			*path;
	off_t			 size;
	struct timespec		 mtime;
	struct spam_rules	*rules;		/* NULL: none or broken */
	unsigned		 refs;		/* checks using rules + 1 */
};

static pthread_mutex_t	 spam_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct spam_cache *spam_cache;

static void
spam_cache_unref(struct spam_cache *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	spam_rules_free(&c->rules);
	free(c->path);
	free(c);
}

/* [worker] The compiled rules of path, with a reference (may be NULL). */
static struct spam_cache *
spam_cache_get(const char *path)
{
	struct spam_cache	*c;
	struct stat		 st;
	char			*err = NULL;

	if (path == NULL || path[0] == '\0' || stat(path, &st) == -1)
		return NULL;
	pthread_mutex_lock(&spam_cache_lock);
	c = spam_cache;
	if (c == NULL || strcmp(c->path, path) != 0 ||
	    c->size != st.st_size || c->mtime.tv_sec != st.st_mtim.tv_sec ||
	    c->mtime.tv_nsec != st.st_mtim.tv_nsec) {
		c = xcalloc(1, sizeof(*c));
		c->path = xstrdup(path);
		c->size = st.st_size;
		c->mtime = st.st_mtim;
		c->refs = 1;
		if (spam_rules_load_blocking(path, &c->rules, &err) == -1) {
			log_warn("spam rules-error error=\"%s\" (running "
			    "without rules)", err);
			free(err);
		} else
			log_info("spam rules-loaded path=%s rules=%zu", path,
			    spam_rules_count(c->rules));
		spam_cache_unref(spam_cache);
		spam_cache = c;
	}
	c->refs++;
	pthread_mutex_unlock(&spam_cache_lock);
	return c;
}

static void
spam_cache_put(struct spam_cache *c)
{
	pthread_mutex_lock(&spam_cache_lock);
	spam_cache_unref(c);
	pthread_mutex_unlock(&spam_cache_lock);
}

static void
spam_bayes_symbols(struct spam_result *r, double p)
{
	char	 opt[16];
	double	 f;

	if (p < 0)
		return;
	snprintf(opt, sizeof(opt), "%.3f", p);
	if (p >= SPAM_CHECK_BAYES_SPAM) {
		f = 0.5 + (p > 0.9 ? 0.5 * (p - 0.9) / 0.1 : 0);
		spam_result_add(r, "BAYES_SPAM", f > 1 ? 1 : f, 0, opt);
	} else if (p >= SPAM_CHECK_BAYES_UNSURE) {
		spam_result_add(r, "BAYES_SPAM", 1.0 / 3, 0, opt);
	} else if (p <= 0.1) {
		f = (0.1 - p) / 0.1;
		spam_result_add(r, "BAYES_HAM", f < 0.5 ? 0.5 : f > 1 ? 1 : f,
		    0, opt);
	}
}

struct spam_result *
spam_check_with(const struct conf *conf, const struct spam_rules *rules,
    struct idx *idx, unsigned bayes_min, const struct spam_env *env,
    const char *msg, size_t len)
{
	struct spam_result	*r = spam_result_new(conf);
	struct spam_msg		 m;

	spam_msg_init(&m, msg, len);
	spam_msg_heuristics(&m, env, r);
	spam_rules_run(rules, &m, r);
	spam_msg_clear(&m);
	if (idx != NULL && (conf == NULL || conf->spam.bayes_enable))
		spam_bayes_symbols(r, spam_bayes_classify_blocking(idx,
		    env->user, msg, len, bayes_min));
	spam_result_finish(r);
	return r;
}

struct spam_result *
spam_check_blocking(const struct conf *conf, struct idx *idx,
    const struct spam_env *env, const char *msg, size_t len)
{
	struct spam_cache	*c;
	struct spam_result	*r;

	c = spam_cache_get(conf != NULL ? conf->spam.rules_file : NULL);
	r = spam_check_with(conf, c != NULL ? c->rules : NULL, idx,
	    SPAM_BAYES_MIN, env, msg, len);
	if (c != NULL)
		spam_cache_put(c);
	return r;
}
