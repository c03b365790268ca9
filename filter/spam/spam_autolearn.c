/*
 * spam_autolearn.c - which scored messages teach Bayes by themselves
 * (spam.bayes.autolearn, spam.h).
 *
 * The evidence must not come from Bayes itself: BAYES_SPAM and
 * BAYES_HAM are taken out of the total first, or every verdict would
 * reinforce itself (SpamAssassin's AutoLearnThreshold ignores its
 * "learn" rules the same way).  GTUBE is a test pattern, not spam
 * content: a message carrying it never teaches anything (SpamAssassin
 * marks it noautolearn).
 *
 * Spam: at or above spam.actions.reject (SPAM_AUTOLEARN_SPAM when
 * reject is off), the score the MX refuses mail at, so only what we
 * are already sure of is learned; a refused message teaches too
 * (Rspamd learns rejected mail): it is the clearest spam there is.
 *
 * Ham: at or below SPAM_AUTOLEARN_HAM.  Our negative symbols are the
 * authentication results (R_SPF_ALLOW -0.2, R_DKIM_ALLOW -0.2,
 * DMARC_POLICY_ALLOW -0.5: -0.9 together), DNSWL listings (-3 each)
 * and the site's own negative rules or spam.symbols weights; every
 * heuristic adds.  A plain unauthenticated message therefore never
 * scores below 0, and authentication alone (which says who sent a
 * message, not that anyone wants it: spammers sign and publish SPF for
 * their own domains) stays above -2.  So -2 asks for a reputation
 * signal, an allowlist or a local rule, which is what SpamAssassin's
 * 0.1 amounts to on its much larger and mostly positive rule set.
 * Without one, ham comes from users moving mail out of Junk and from
 * `postern spam learn-ham`; Bayes waits for SPAM_BAYES_MIN of each.
 *
 * Train on error: a message Bayes already classifies the same way
 * (BAYES_SPAM at half weight or more, any BAYES_HAM) teaches nothing
 * new and is skipped.  On a busy MX most rejected spam is such a
 * message once Bayes is trained, so this also keeps the index from
 * growing and being written (one LMDB commit per lesson) with every
 * refused message.
 *
 * Pure.  Threads: [any].
 */
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "spam.h"

int
spam_autolearn(const struct conf *c, const struct spam_result *r,
    double *score_r)
{
	double	 s, b, w, spam_min;
	bool	 bspam, bham;

	if (score_r != NULL)
		*score_r = 0;
	if (c == NULL || r == NULL || !c->spam.bayes_enable ||
	    !c->spam.bayes_autolearn || spam_result_has(r, "GTUBE", NULL))
		return 0;
	s = spam_result_score(r);
	bspam = bham = false;
	if (spam_result_has(r, "BAYES_SPAM", &b)) {
		s -= b;
		w = spam_symbol_weight(c, "BAYES_SPAM");
		bspam = w > 0 && b >= w / 2;
	}
	if (spam_result_has(r, "BAYES_HAM", &b)) {
		s -= b;
		bham = true;
	}
	if (score_r != NULL)
		*score_r = s;
	spam_min = c->spam.reject >= 0 ? c->spam.reject : SPAM_AUTOLEARN_SPAM;
	if (s >= spam_min)
		return bspam ? 0 : 1;
	if (s <= SPAM_AUTOLEARN_HAM)
		return bham ? 0 : -1;
	return 0;
}
