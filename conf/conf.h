/*
 * conf.h - the typed, validated configuration (../shared/CONFIG.md).
 *
 * conf_load() parses one libconfig file into a struct conf, checks every
 * option (types, ranges, unknown names with a "did you mean", address
 * syntax, cross references) and collects every error as
 * "FILE:LINE: option: message".  A struct conf is immutable once loaded;
 * SIGHUP loads a new one and swaps the pointer on the loop thread, and
 * sessions keep a reference to the one they started with.  [loop] unless
 * noted; conf_load() itself does blocking file reads and is called at
 * start, from check-config, and on reload.
 */
#ifndef CONF_H
#define CONF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf_strlist {
	char		**v;
	size_t		  n;
};

enum conf_layout { CONF_LAYOUT_MAILDIRPP = 0, CONF_LAYOUT_FS };
enum conf_mbox_auto { CONF_AUTO_NO = 0, CONF_AUTO_CREATE, CONF_AUTO_SUBSCRIBE };
enum conf_key_type { CONF_KEY_RSA = 0, CONF_KEY_ED25519 };
enum conf_canon { CONF_CANON_RELAXED = 0, CONF_CANON_SIMPLE };
/* mta_sts.mode, in the order of the policy keywords. */
enum conf_sts_mode { CONF_STS_TESTING = 0, CONF_STS_ENFORCE, CONF_STS_NONE };
#define CONF_STS_MX_MAX		16	/* mta_sts.mx patterns */
#define CONF_STS_MX_SIZE	256	/* "*." + a 253-octet name + NUL */

struct conf_account {
	char			*name;		/* lower-cased login/address */
	char			*hashed_password; /* crypt(3) string; NULL if none */
	char			*password_file;	/* cleartext password file */
	struct conf_strlist	 aliases;	/* may send as; "@dom" = whole domain */
	struct conf_strlist	 aliases_regexp; /* "/re/" PCRE2, as written */
	struct conf_strlist	 catch_all;	/* domains; receives, may not send */
	uint64_t		 quota;		/* bytes; 0 = default/none */
	bool			 send_only;
	char			*send_only_reject_message;
	char			*sieve_script;	/* NULL: none */
	int			 line;		/* where it was declared */
};

struct conf_alias {			/* aliases and forwards alike */
	char			*address;
	struct conf_strlist	 to;
	int			 line;
};

struct conf_mailbox {
	char			*name;
	enum conf_mbox_auto	 autocreate;
	char			*special_use;	/* "\\Junk" etc.; NULL if none */
};

struct conf_dkim_selector {
	char			*name;
	enum conf_key_type	 key_type;
	int			 key_length;	/* RSA bits */
	char			*key_file;	/* NULL: key_directory/<d>.<s>.key */
};

struct conf_dkim_domain {
	char				*domain;
	struct conf_dkim_selector	*selectors;
	size_t				 nselectors;
};

struct conf_symbol {
	char			*name;
	double			 weight;
};

struct conf {
	char			*file;		/* path it came from; "(embedded default)" */
	bool			 dev;		/* the embedded development default */

	char			*fqdn;
	char			*sending_fqdn;
	struct conf_strlist	 domains;	/* lower-cased */
	char			*system_domain;
	char			*system_contact;
	char			*system_name;
	char			*state_dir;
	char			*run_as_user;	/* NULL: do not drop */
	char			*run_as_group;
	bool			 debug;

	struct {
		char		*path;
		enum conf_layout layout;
		char		 hierarchy_separator;
		bool		 use_utf8_folder_names;
	} storage;

	struct {			/* "addr:port", "[v6]:port" */
		struct conf_strlist smtp, submission, submissions, imap, imaps,
				    pop3, pop3s, managesieve, http;
		char		*control;	/* unix socket path; NULL: none */
	} listen;

	struct {
		char		*certificate_file;	/* NULL: self-signed */
		char		*private_key_file;
	} tls;

	uint64_t		 message_size_limit;
	int			 max_connections_per_user;
	char			*recipient_delimiter;	/* "" disables */
	bool			 save_to_detail_mailbox;
	struct conf_strlist	 reject_recipients;
	struct conf_strlist	 reject_sender;
	char			*reject_sender_message;
	bool			 rewrite_message_id;

	struct conf_account	*accounts;
	size_t			 naccounts;
	char			*accounts_file;		/* NULL: none */

	struct conf_alias	*aliases;
	size_t			 naliases;
	struct conf_alias	*forwards;
	size_t			 nforwards;

	struct conf_mailbox	*mailboxes;
	size_t			 nmailboxes;

	struct {
		bool		 enable;
		uint64_t	 default_per_user;	/* bytes, 0 = unlimited */
	} quota;

	struct {
		bool			 enable;
		char			*key_directory;
		enum conf_canon		 header_canonicalization;
		enum conf_canon		 body_canonicalization;
		struct conf_dkim_selector defaults;
		struct conf_dkim_domain	*domains;
		size_t			 ndomains;
	} dkim;

	struct {
		bool		 enable;
		char		*domain;
		char		*secret_file;
	} srs;

	struct {
		bool		 enforce;	/* act on p=reject/quarantine */
	} dmarc;

	struct {
		bool		 enable;
		double		 reject, add_header, greylist;	/* < 0: disabled */
		struct conf_symbol *symbols;
		size_t		 nsymbols;
		char		*rules_file;
		struct conf_strlist dnsbl;
		bool		 bayes_enable, bayes_autolearn;
		bool		 greylist_enable;
		int		 greylist_delay;
	} spam;

	struct {
		bool		 enable;
		char		*clamd_socket;
	} virus_scanning;

	struct {
		struct conf_strlist resolvers;		/* empty: resolv.conf */
	} dns;

	struct {
		char		*host;			/* "" / NULL: none */
		int		 port;
		char		*username;
		char		*password_file;
	} relay;

	struct {
		bool		 tls_session_tickets;	/* false: SSL_OP_NO_TICKET */
	} outbound;

	struct {
		int64_t		 lifetime;		/* seconds */
	} queue;

	/* Limits and timeouts (seconds); postern additions, see postern.conf(5). */
	struct {
		int		 max_connections;	/* global */
		int		 max_connections_per_ip;
		int		 smtp_timeout;
		int		 imap_timeout;
		int		 pop3_timeout;
		int		 shutdown_timeout;
	} limits;

	/*
	 * The MTA-STS policy served at /.well-known/mta-sts.txt (RFC 8461
	 * 3.2).  The mx patterns are kept inline (a handful, bounded) so
	 * the option needs no heap; mx[0] = fqdn unless the file sets mx.
	 */
	struct {
		enum conf_sts_mode mode;
		int		 max_age;		/* seconds */
		char		 mx[CONF_STS_MX_MAX][CONF_STS_MX_SIZE];
		size_t		 nmx;
		bool		 mx_set;		/* mx given in the file */
	} mta_sts;
};

/* One error: "FILE:LINE: option: message" is the printable form. */
struct conf_error {
	char	*file;
	int	 line;		/* 0 if unknown */
	char	*option;	/* dotted path, e.g. "listen.imaps" */
	char	*message;
};

struct conf_errors {
	struct conf_error *v;
	size_t		   n;
};

/*
 * Load and validate FILE.  Returns NULL and fills errs (every error found,
 * not just the first, sorted by file and line) on failure.  errs may be
 * NULL; it is overwritten, not appended to: free it with
 * conf_errors_free() after every call.  Options absent from the file get
 * the production defaults of CONFIG.md.  dkim.domains, when absent, is
 * filled in with one entry per domain using dkim.defaults, so consumers
 * never need a fallback.  accounts_file, if it exists, is merged after the
 * accounts of the file.  [any, blocking]
 */
struct conf	*conf_load(const char *file, struct conf_errors *errs);
/* Load from an in-memory text (fuzzers, tests); name is used in errors. */
struct conf	*conf_load_string(const char *text, const char *name,
		    struct conf_errors *errs);
/* The embedded development default of CONFIG.md (state under ./postern-dev). */
struct conf	*conf_default_dev(void);
void		 conf_free(struct conf **);
/*
 * "FILE:LINE: option: message" (no newline); caller frees.  Without a
 * line (a missing required option) "FILE: option: message"; without an
 * option (the file cannot be read) "FILE: message".
 */
char		*conf_error_format(const struct conf_error *);
void		 conf_errors_free(struct conf_errors *);

/* Lookups used by several modules. */
bool		 conf_is_local_domain(const struct conf *, const char *domain);
const struct conf_account *conf_find_account(const struct conf *,
		    const char *address);

/*
 * Split a listen address "1.2.3.4:25" or "[::1]:25" into the IP literal
 * (no brackets; caller frees) and the port (1-65535).  Host names are
 * not accepted: listeners bind before DNS is up.  -1 on any syntax
 * error, with *host_r untouched.  [any]
 */
int		 conf_parse_hostport(const char *s, char **host_r, int *port_r);
#endif
