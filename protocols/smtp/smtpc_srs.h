/*
 * smtpc_srs.h - the SRS rewriter (filter/srs/srs.h) of the running
 * configuration, for forwarded mail (issue "Outbound delivery"): the SMTP
 * server rewrites the envelope sender of mail it forwards to remote
 * addresses, and reverses RCPT addresses of srs.domain to route bounces
 * back to the original sender.  [loop]
 */
#ifndef SMTPC_SRS_H
#define SMTPC_SRS_H

struct conf;
struct srs;

/*
 * The rewriter for conf's srs.* settings, or NULL when srs.enable is off
 * or the secret cannot be read (logged once per setting).  It is built
 * from srs.secret_file, which is created when missing (32 random bytes in
 * hex, mode 0600, like postsrsd's own).  Built at start by
 * smtpc_deliverer(); a reload that changes srs.* rebuilds it at the
 * next call (one small file read on the loop thread).  The pointer is
 * valid until then.
 */
const struct srs	*smtpc_srs(const struct conf *);
/* [start, blocking] Create and read the secret file now. */
void			 smtpc_srs_init(const struct conf *);
#endif
