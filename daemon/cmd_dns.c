/*
 * cmd_dns.c - `postern dkim show [DOMAIN]` and `postern dns [DOMAIN]`:
 * what an administrator must publish in DNS, printed in zone-file form
 * with a one-line explanation per record.
 *
 * dkim show lists every dkim.domains selector with its key type, size
 * and TXT record, read from the key files the daemon uses (a missing key
 * is reported, not generated: `postern serve` generates it).  dns prints,
 * per mail domain, MX, SPF, every DKIM selector, DMARC, MTA-STS, TLS-RPT
 * and the RFC 6186 SRV records for mail clients.  Offline: no DNS query
 * and no daemon needed.  [main thread, blocking file reads]
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cmd.h"
#include "conf.h"
#include "dkim.h"
#include "log.h"
#include "xmalloc.h"


/* [-c FILE] [DOMAIN] after argv[skip]; -1 on a usage error. */
static int
cmd_dns_args(int argc, char **argv, const char **file_r,
    const char **domain_r)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch != 'c')
			return -1;
		*file_r = optarg;
	}
	if (argc - optind > 1)
		return -1;
	if (argc - optind == 1)
		*domain_r = argv[optind];
	return 0;
}

/* A TXT value as zone-file strings of at most 255 octets (RFC 1035 3.3). */
static void
cmd_dns_txt(const char *txt)
{
	size_t	 len = strlen(txt), off, k;

	for (off = 0; off < len || off == 0; off += k) {
		k = len - off > 255 ? 255 : len - off;
		printf("%s\"%.*s\"", off > 0 ? " " : "", (int)k, txt + off);
		if (k == 0)
			break;
	}
	printf("\n");
}

static char *
cmd_dns_key_path(const struct conf *conf, const char *domain,
    const struct conf_dkim_selector *sel)
{
	if (sel->key_file != NULL)
		return xstrdup(sel->key_file);
	return xasprintf("%s/%s.%s.key", conf->dkim.key_directory, domain,
	    sel->name);
}

/*
 * Load one selector's key: 0 with the record and a description, -1 with
 * the reason in *why_r (static or the loader's).
 */
static int
cmd_dns_selector(const struct conf *conf, const char *domain,
    const struct conf_dkim_selector *sel, char **txt_r, char *desc,
    size_t desclen, char **path_r, const char **why_r)
{
	EVP_PKEY	*key = NULL;
	const char	*e = NULL;
	char		*path;

	*txt_r = NULL;
	*path_r = path = cmd_dns_key_path(conf, domain, sel);
	if (path == NULL) {
		*why_r = "out of memory";
		return -1;
	}
	if (access(path, F_OK) == -1) {
		*why_r = "no key file yet (postern serve generates it at start)";
		return -1;
	}
	if (dkim_key_load(path, &key, &e) == -1 ||
	    dkim_key_dns_record(key, txt_r, &e) == -1) {
		EVP_PKEY_free(key);
		*why_r = e != NULL ? e : "unreadable key";
		return -1;
	}
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519)
		snprintf(desc, desclen, "ed25519");
	else
		snprintf(desc, desclen, "rsa %d bits", EVP_PKEY_get_bits(key));
	EVP_PKEY_free(key);
	return 0;
}

static const struct conf_dkim_domain *
cmd_dns_dkim_domain(const struct conf *conf, const char *domain)
{
	size_t	 i;

	for (i = 0; i < conf->dkim.ndomains; i++)
		if (strcasecmp(conf->dkim.domains[i].domain, domain) == 0)
			return &conf->dkim.domains[i];
	return NULL;
}

int
cmd_dkim(int argc, char **argv)
{
	const struct conf_dkim_domain	*d;
	struct conf			*conf;
	const char			*file = NULL, *domain = NULL, *why;
	char				*txt, *path, desc[64];
	size_t				 i, j, shown = 0;
	int				 rc = 0;

	if (argc < 2 || strcmp(argv[1], "show") != 0 ||
	    cmd_dns_args(argc - 1, argv + 1, &file, &domain) == -1) {
		fprintf(stderr, "usage: postern dkim show [-c FILE] [DOMAIN]\n");
		return 2;
	}
	if ((conf = cmd_conf_load(file, NULL)) == NULL)
		return 1;
	log_init(LOG_L_WARN);
	if (!conf->dkim.enable)
		printf("# dkim.enable is false: outgoing mail is not signed\n");
	for (i = 0; i < conf->dkim.ndomains; i++) {
		d = &conf->dkim.domains[i];
		if (domain != NULL && strcasecmp(domain, d->domain) != 0)
			continue;
		shown++;
		printf("%s\n", d->domain);
		for (j = 0; j < d->nselectors; j++) {
			if (cmd_dns_selector(conf, d->domain, &d->selectors[j],
			    &txt, desc, sizeof(desc), &path, &why) == -1) {
				printf("  selector %s: %s (%s)\n",
				    d->selectors[j].name, why,
				    path != NULL ? path : "?");
				free(path);
				rc = 1;
				continue;
			}
			printf("  selector %s: %s, %s\n", d->selectors[j].name,
			    desc, path);
			printf("    %s._domainkey.%s. IN TXT ",
			    d->selectors[j].name, d->domain);
			cmd_dns_txt(txt);
			free(txt);
			free(path);
		}
	}
	if (domain != NULL && shown == 0) {
		fprintf(stderr, "postern: no DKIM selectors for %s\n", domain);
		rc = 1;
	}
	conf_free(&conf);
	return rc;
}

/* The port of the first "addr:port" of a listen list, or 0. */
static int
cmd_dns_port(const struct conf_strlist *l)
{
	const char	*c;

	if (l->n == 0 || (c = strrchr(l->v[0], ':')) == NULL)
		return 0;
	return atoi(c + 1);
}

static void
cmd_dns_srv(const char *svc, const struct conf_strlist *l, const char *fqdn,
    const char *domain)
{
	int	 port = cmd_dns_port(l);

	/* RFC 6186 3: target "." says the service is not offered. */
	if (port == 0)
		printf("_%s._tcp.%s. IN SRV 0 0 0 .\n", svc, domain);
	else
		printf("_%s._tcp.%s. IN SRV 0 1 %d %s.\n", svc, domain, port,
		    fqdn);
}

/* A short stable MTA-STS policy id (RFC 8461 3.1): FNV-1a of the MX. */
static unsigned long
cmd_dns_sts_id(const char *fqdn)
{
	uint32_t	 h = 2166136261u;

	for (; *fqdn != '\0'; fqdn++)
		h = (h ^ (unsigned char)*fqdn) * 16777619u;
	return (unsigned long)h;
}

static void
cmd_dns_domain(const struct conf *conf, const char *domain)
{
	const struct conf_dkim_domain	*d;
	const char			*fqdn = conf->fqdn, *why;
	char				*txt, *path, desc[64];
	size_t				 j;

	printf("; ---- %s ----\n", domain);
	printf("; MX: mail for %s is delivered to this server\n", domain);
	printf("%s. IN MX 10 %s.\n", domain, fqdn);
	printf("; the server's own name needs A/AAAA records (and matching "
	    "PTR records at your provider)\n");
	printf("; %s. IN A <IPv4 address>   %s. IN AAAA <IPv6 address>\n",
	    fqdn, fqdn);
	printf("; SPF (RFC 7208): only the domain's MX hosts may send mail "
	    "from %s\n", domain);
	printf("%s. IN TXT \"v=spf1 mx -all\"\n", domain);
	d = cmd_dns_dkim_domain(conf, domain);
	for (j = 0; conf->dkim.enable && d != NULL && j < d->nselectors; j++) {
		printf("; DKIM (RFC 6376): public key of selector %s, which "
		    "signs outgoing mail\n", d->selectors[j].name);
		if (cmd_dns_selector(conf, domain, &d->selectors[j], &txt,
		    desc, sizeof(desc), &path, &why) == -1) {
			printf("; %s._domainkey.%s: %s (%s)\n",
			    d->selectors[j].name, domain, why,
			    path != NULL ? path : "?");
			free(path);
			continue;
		}
		printf("%s._domainkey.%s. IN TXT ", d->selectors[j].name,
		    domain);
		cmd_dns_txt(txt);
		free(txt);
		free(path);
	}
	printf("; DMARC (RFC 7489): policy for mail failing SPF and DKIM "
	    "alignment; reports to postmaster (raise p= once they look "
	    "clean)\n");
	printf("_dmarc.%s. IN TXT \"v=DMARC1; p=none; "
	    "rua=mailto:postmaster@%s\"\n", domain, domain);
	printf("; MTA-STS (RFC 8461): senders must use TLS to the MX; the "
	    "policy is served at https://mta-sts.%s/.well-known/"
	    "mta-sts.txt (change id when it changes)\n", domain);
	printf("_mta-sts.%s. IN TXT \"v=STSv1; id=%lx\"\n", domain,
	    cmd_dns_sts_id(fqdn));
	printf("mta-sts.%s. IN CNAME %s.\n", domain, fqdn);
	printf("; TLS-RPT (RFC 8460): where senders report TLS delivery "
	    "failures\n");
	printf("_smtp._tls.%s. IN TXT \"v=TLSRPTv1; "
	    "rua=mailto:postmaster@%s\"\n", domain, domain);
	printf("; SRV (RFC 6186): mail clients find the submission, IMAP and "
	    "POP3 servers\n");
	cmd_dns_srv("submissions", &conf->listen.submissions, fqdn, domain);
	cmd_dns_srv("submission", &conf->listen.submission, fqdn, domain);
	cmd_dns_srv("imaps", &conf->listen.imaps, fqdn, domain);
	cmd_dns_srv("imap", &conf->listen.imap, fqdn, domain);
	cmd_dns_srv("pop3s", &conf->listen.pop3s, fqdn, domain);
	cmd_dns_srv("pop3", &conf->listen.pop3, fqdn, domain);
	printf("\n");
}

int
cmd_dns(int argc, char **argv)
{
	struct conf	*conf;
	const char	*file = NULL, *domain = NULL;
	size_t		 i;

	if (cmd_dns_args(argc, argv, &file, &domain) == -1) {
		fprintf(stderr, "usage: postern dns [-c FILE] [DOMAIN]\n");
		return 2;
	}
	if ((conf = cmd_conf_load(file, NULL)) == NULL)
		return 1;
	log_init(LOG_L_WARN);
	if (domain != NULL && !conf_is_local_domain(conf, domain)) {
		fprintf(stderr, "postern: %s is not one of the configured "
		    "domains\n", domain);
		conf_free(&conf);
		return 1;
	}
	printf("; DNS records for %s (zone-file syntax; publish each in "
	    "its zone)\n\n", conf->fqdn);
	for (i = 0; i < conf->domains.n; i++)
		if (domain == NULL ||
		    strcasecmp(domain, conf->domains.v[i]) == 0)
			cmd_dns_domain(conf, conf->domains.v[i]);
	conf_free(&conf);
	return 0;
}
