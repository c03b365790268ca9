/*
 * smtpc_srs.h - the SRS rewriter (filter/srs/srs.h) of a configuration
 * generation, for forwarded mail (issue "Outbound delivery"): the SMTP
 * server rewrites the envelope sender of mail it forwards to remote
 * addresses, and reverses RCPT addresses of srs.domain to route bounces
 * back to the original sender.  Built with the generation (at start and
 * on a worker at reload, daemon/main.c), kept in gen->ext[SMTPC_GEN_SRS]
 * and freed with it, so no SMTP command and no reload reads the secret
 * on the loop thread.
 */
#ifndef SMTPC_SRS_H
#define SMTPC_SRS_H

struct conf;
struct srs;

#define SMTPC_GEN_SRS	1	/* gen->ext[] slot of the rewriter */

/*
 * [start, worker] The rewriter for conf's srs.* settings, or NULL when
 * srs.enable is off or the secret cannot be read (logged).  It is built
 * from srs.secret_file, which is created when missing (32 random bytes
 * in hex, mode 0600, like postsrsd's own).  Free with srs_free().
 */
struct srs	*smtpc_srs_build_blocking(const struct conf *);
#endif
