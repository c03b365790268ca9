/*
 * conf_private.h - helpers shared by the files of the conf module only:
 * syntax checks (conf_check.c), defaults (conf_default.c), list and
 * struct helpers (conf.c) and the detailed host:port parser
 * (conf_parse.c).  Not installed for other modules.  [any]
 */
#ifndef CONF_PRIVATE_H
#define CONF_PRIVATE_H
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/* conf.c */
void	 conf_strlist_add(struct conf_strlist *, const char *);
void	 conf_strlist_clear(struct conf_strlist *);
void	 conf_strlist_copy(struct conf_strlist *dst,
	    const struct conf_strlist *src);
void	 conf_account_clear(struct conf_account *);
void	 conf_mailboxes_clear(struct conf *);
void	 conf_dkim_domains_clear(struct conf *);
/* Replace *dst by a copy of src (NULL allowed). */
void	 conf_set_str(char **dst, const char *src);

/*
 * conf_check.c: pure syntax checks.  Each returns 0, or -1 with a static
 * English reason in *error_r ("label too long", ...).
 */
int	 conf_check_domain(const char *, const char **error_r);
/* local@domain; with allow_at_domain also "@domain" (a whole domain). */
int	 conf_check_address(const char *, bool allow_at_domain,
	    const char **error_r);
int	 conf_check_crypt(const char *, const char **error_r);
/* Levenshtein distance, but gives up (returns max + 1) beyond max. */
size_t	 conf_check_distance(const char *a, const char *b, size_t max);

/* conf_default.c: production defaults before parsing, derived after. */
void	 conf_default_set(struct conf *);
void	 conf_default_derive(struct conf *);

/* conf_parse.c: conf_parse_hostport with the reason on failure. */
int	 conf_parse_hostport_why(const char *s, char **host_r, int *port_r,
	    const char **error_r);
#endif
