/*
 * http_route.c - the endpoints: one parsed request in, one response out.
 *
 *   GET  /mail/config-v1.1.xml?emailaddress=A          Mozilla autoconfig
 *   GET  /.well-known/autoconfig/mail/config-v1.1.xml  (same)
 *   POST /autodiscover/autodiscover.xml                Outlook Autodiscover
 *   GET  /apple/<address>.mobileconfig                 Apple profile
 *   GET  /apple/mobileconfig?emailaddress=A            (same)
 *   GET  /.well-known/mta-sts.txt                      MTA-STS policy
 *   GET  /metrics                                      Prometheus text
 *   GET  /healthz                                      "ok"
 *
 * HEAD is served wherever GET is.  A known path with another method is
 * 405 with Allow; anything else 404.  The client settings come from
 * listen.*: implicit TLS (SSL) before STARTTLS, the first port of each
 * list, host name fqdn, login = the full address.  Port 25 (MX) is never
 * offered to clients.
 *
 * Owns nothing beyond the response it fills.  Threads: any (the metrics
 * callback decides its own; the session passes a loop-only one).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/sha.h>

#include "buf.h"
#include "conf.h"
#include "http_parse.h"

#define HTTP_PATH_MAX	1024
#define HTTP_MAXPORTS	4

enum http_route_sock { HTTP_SOCK_SSL = 0, HTTP_SOCK_STARTTLS };

/* One client-facing endpoint: a protocol on a port. */
struct http_route_svc {
	int			 port;
	enum http_route_sock	 sock;
};

/* Up to HTTP_MAXPORTS endpoints of one protocol, SSL first. */
struct http_route_proto {
	struct http_route_svc	 v[HTTP_MAXPORTS];
	size_t			 n;
};

struct http_route_status {
	int		 status;
	const char	*reason;
};

static const struct http_route_status http_route_statuses[] = {
	{ 100, "Continue" }, { 200, "OK" }, { 400, "Bad Request" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 413, "Content Too Large" }, { 414, "URI Too Long" },
	{ 417, "Expectation Failed" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
	{ 503, "Service Unavailable" }, { 505, "HTTP Version Not Supported" },
};

const char *
http_route_reason(int status)
{
	size_t	 i;

	for (i = 0; i < sizeof(http_route_statuses) /
	    sizeof(http_route_statuses[0]); i++)
		if (http_route_statuses[i].status == status)
			return http_route_statuses[i].reason;
	return "Unknown";
}

void
http_route_resp_init(struct http_resp *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 0);
	buf_init(&r->headers, 0);
	r->status = 200;
}

void
http_route_resp_free(struct http_resp *r)
{
	buf_free(&r->body);
	buf_free(&r->headers);
}

static void
http_route_text(struct http_resp *r, int status, const char *text)
{
	r->status = status;
	r->ctype = "text/plain; charset=utf-8";
	buf_reset(&r->body);
	buf_printf(&r->body, "%s\n", text);
}

void
http_route_error(struct http_resp *r, int status)
{
	char	 line[64];

	snprintf(line, sizeof(line), "%d %s", status,
	    http_route_reason(status));
	http_route_text(r, status, line);
	if (status >= 400 && status != 404 && status != 405)
		r->close = true;
}

static void
http_route_405(struct http_resp *r, const char *allow)
{
	http_route_error(r, 405);
	buf_printf(&r->headers, "Allow: %s\r\n", allow);
}

/* Add the distinct ports of list l with socket type s. */
static void
http_route_add(struct http_route_proto *p, const struct conf_strlist *l,
    enum http_route_sock s)
{
	char	*host;
	size_t	 i, j;
	int	 port;

	for (i = 0; i < l->n && p->n < HTTP_MAXPORTS; i++) {
		if (conf_parse_hostport(l->v[i], &host, &port) == -1)
			continue;
		free(host);
		for (j = 0; j < p->n; j++)
			if (p->v[j].port == port)
				break;
		if (j < p->n)
			continue;
		p->v[p->n].port = port;
		p->v[p->n].sock = s;
		p->n++;
	}
}

static void
http_route_protos(const struct conf *c, struct http_route_proto *imap,
    struct http_route_proto *pop3, struct http_route_proto *smtp)
{
	memset(imap, 0, sizeof(*imap));
	memset(pop3, 0, sizeof(*pop3));
	memset(smtp, 0, sizeof(*smtp));
	http_route_add(imap, &c->listen.imaps, HTTP_SOCK_SSL);
	http_route_add(imap, &c->listen.imap, HTTP_SOCK_STARTTLS);
	http_route_add(pop3, &c->listen.pop3s, HTTP_SOCK_SSL);
	http_route_add(pop3, &c->listen.pop3, HTTP_SOCK_STARTTLS);
	http_route_add(smtp, &c->listen.submissions, HTTP_SOCK_SSL);
	http_route_add(smtp, &c->listen.submission, HTTP_SOCK_STARTTLS);
}

/*
 * The address of a request, checked: 1 with addr filled and *domain_r
 * set, 0 if absent, -1 after setting an error response (bad: 400, not
 * one of our domains: 404).
 */
static int
http_route_addr(const struct conf *c, struct http_resp *r, int found,
    char *addr, const char **domain_r)
{
	if (found == 0)
		return 0;
	if (found == -1 || !http_parse_addr(addr, domain_r)) {
		http_route_text(r, 400, "400 Bad Request: not a mail address");
		r->close = true;
		return -1;
	}
	if (!conf_is_local_domain(c, *domain_r)) {
		http_route_text(r, 404, "404 Not Found: not a domain served "
		    "here");
		return -1;
	}
	return 1;
}

/* ---- Mozilla autoconfig (Thunderbird, K-9, FairEmail, ...) ---- */

static void
http_route_ac_server(struct buf *b, const char *tag, const char *type,
    const struct http_route_proto *p, const char *fqdn)
{
	size_t	 i;

	for (i = 0; i < p->n; i++) {
		buf_printf(b, "    <%s type=\"%s\">\n      <hostname>", tag,
		    type);
		http_parse_xml_escape(b, fqdn);
		buf_printf(b, "</hostname>\n      <port>%d</port>\n"
		    "      <socketType>%s</socketType>\n"
		    "      <authentication>password-cleartext</authentication>\n"
		    "      <username>%%EMAILADDRESS%%</username>\n    </%s>\n",
		    p->v[i].port, p->v[i].sock == HTTP_SOCK_SSL ? "SSL" :
		    "STARTTLS", tag);
	}
}

static void
http_route_autoconfig(const struct conf *c, const char *query, size_t qlen,
    struct http_resp *r)
{
	struct http_route_proto	 imap, pop3, smtp;
	struct buf		*b = &r->body;
	char			 addr[HTTP_ADDR_MAX + 1];
	const char		*domain = c->system_domain;
	size_t			 i;

	if (http_route_addr(c, r, http_parse_query(query, qlen,
	    "emailaddress", addr, sizeof(addr)), addr, &domain) == -1)
		return;
	if (domain == NULL)
		domain = c->fqdn;
	http_route_protos(c, &imap, &pop3, &smtp);
	r->ctype = "application/xml; charset=utf-8";
	buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<clientConfig version=\"1.1\">\n  <emailProvider id=\"");
	http_parse_xml_escape(b, domain);
	buf_puts(b, "\">\n");
	for (i = 0; i < c->domains.n; i++) {
		buf_puts(b, "    <domain>");
		http_parse_xml_escape(b, c->domains.v[i]);
		buf_puts(b, "</domain>\n");
	}
	buf_puts(b, "    <displayName>");
	http_parse_xml_escape(b, c->system_name != NULL ? c->system_name :
	    c->fqdn);
	buf_puts(b, "</displayName>\n    <displayShortName>");
	http_parse_xml_escape(b, domain);
	buf_puts(b, "</displayShortName>\n");
	http_route_ac_server(b, "incomingServer", "imap", &imap, c->fqdn);
	http_route_ac_server(b, "incomingServer", "pop3", &pop3, c->fqdn);
	http_route_ac_server(b, "outgoingServer", "smtp", &smtp, c->fqdn);
	buf_puts(b, "  </emailProvider>\n</clientConfig>\n");
}

/* ---- Microsoft Autodiscover (Outlook, "POX" schema 2006a) ---- */

static void
http_route_ad_proto(struct buf *b, const char *type,
    const struct http_route_proto *p, const char *fqdn, const char *addr)
{
	if (p->n == 0)
		return;
	buf_printf(b, "      <Protocol>\n        <Type>%s</Type>\n"
	    "        <Server>", type);
	http_parse_xml_escape(b, fqdn);
	buf_printf(b, "</Server>\n        <Port>%d</Port>\n"
	    "        <DomainRequired>off</DomainRequired>\n"
	    "        <LoginName>", p->v[0].port);
	http_parse_xml_escape(b, addr);
	buf_printf(b, "</LoginName>\n        <SPA>off</SPA>\n"
	    "        <SSL>on</SSL>\n        <Encryption>%s</Encryption>\n"
	    "        <AuthRequired>on</AuthRequired>\n      </Protocol>\n",
	    p->v[0].sock == HTTP_SOCK_SSL ? "SSL" : "TLS");
}

static void
http_route_autodiscover(const struct conf *c, const char *body,
    size_t body_len, struct http_resp *r)
{
	struct http_route_proto	 imap, pop3, smtp;
	struct buf		*b = &r->body;
	char			 addr[HTTP_ADDR_MAX + 1];
	const char		*domain;
	int			 found;

	found = http_parse_xml_text(body, body_len, "EMailAddress", addr,
	    sizeof(addr));
	if (found == 0) {
		http_route_text(r, 400, "400 Bad Request: no EMailAddress in "
		    "the request");
		r->close = true;
		return;
	}
	if (http_route_addr(c, r, found, addr, &domain) == -1)
		return;
	http_route_protos(c, &imap, &pop3, &smtp);
	r->ctype = "application/xml; charset=utf-8";
	buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
	    "autodiscover/responseschema/2006\">\n"
	    "  <Response xmlns=\"http://schemas.microsoft.com/exchange/"
	    "autodiscover/outlook/responseschema/2006a\">\n"
	    "    <User>\n      <DisplayName>");
	http_parse_xml_escape(b, addr);
	buf_puts(b, "</DisplayName>\n    </User>\n    <Account>\n"
	    "      <AccountType>email</AccountType>\n"
	    "      <Action>settings</Action>\n");
	http_route_ad_proto(b, "IMAP", &imap, c->fqdn, addr);
	http_route_ad_proto(b, "POP3", &pop3, c->fqdn, addr);
	http_route_ad_proto(b, "SMTP", &smtp, c->fqdn, addr);
	buf_puts(b, "    </Account>\n  </Response>\n</Autodiscover>\n");
}

/* ---- Apple configuration profile ---- */

/* A stable UUID from (fqdn, address, what): reinstalling replaces. */
static void
http_route_uuid(const char *fqdn, const char *addr, const char *what,
    char out[37])
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	struct buf	 b = BUF_INIT;

	/* None of the three can hold a newline. */
	buf_printf(&b, "postern-mobileconfig\n%s\n%s\n%s", fqdn, addr, what);
	SHA256((const unsigned char *)b.data, b.len, md);
	buf_free(&b);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);	/* version 5 */
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
	    "%02X%02X%02X%02X%02X%02X", md[0], md[1], md[2], md[3], md[4],
	    md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13],
	    md[14], md[15]);
}

static void
http_route_plist_str(struct buf *b, const char *key, const char *val)
{
	buf_printf(b, "      <key>%s</key>\n      <string>", key);
	http_parse_xml_escape(b, val);
	buf_puts(b, "</string>\n");
}

/* "mail.example.com" -> "com.example.mail" (payload identifiers). */
static void
http_route_revdns(struct buf *b, const char *fqdn)
{
	const char	*end = fqdn + strlen(fqdn), *dot;

	while (end > fqdn) {
		for (dot = end; dot > fqdn && dot[-1] != '.'; dot--)
			;
		buf_append(b, dot, (size_t)(end - dot));
		end = dot > fqdn ? dot - 1 : fqdn;
		if (end > fqdn)
			buf_putc(b, '.');
	}
}

/*
 * RFC 8461 3.2: the policy from mta_sts (postern.conf(5)), CRLF lines.
 * A "none" policy still lists the MX patterns, as the RFC allows, so a
 * sender that cached "enforce" learns to stop enforcing.
 */
static void
http_route_mta_sts(const struct conf *c, struct http_resp *r)
{
	static const char *const modes[] = { "testing", "enforce", "none" };
	size_t			 i;

	r->ctype = "text/plain; charset=utf-8";
	buf_printf(&r->body, "version: STSv1\r\nmode: %s\r\n",
	    modes[c->mta_sts.mode]);
	for (i = 0; i < c->mta_sts.nmx; i++)
		buf_printf(&r->body, "mx: %s\r\n", c->mta_sts.mx[i]);
	buf_printf(&r->body, "max_age: %d\r\n", c->mta_sts.max_age);
}

static void
http_route_mobileconfig(const struct conf *c, char *addr,
    struct http_resp *r)
{
	struct http_route_proto	 imap, pop3, smtp;
	struct buf		*b = &r->body, ident = BUF_INIT;
	char			 uuid[37];
	const char		*domain;

	if (http_route_addr(c, r, 1, addr, &domain) == -1)
		return;
	http_route_protos(c, &imap, &pop3, &smtp);
	if (imap.n == 0 || smtp.n == 0) {
		http_route_text(r, 404, "404 Not Found: no IMAP or no "
		    "submission listener");
		return;
	}
	r->ctype = "application/x-apple-aspen-config";
	buf_printf(&r->headers, "Content-Disposition: attachment; "
	    "filename=\"%s.mobileconfig\"\r\n", domain);
	buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	    "<plist version=\"1.0\">\n<dict>\n"
	    "  <key>PayloadContent</key>\n  <array>\n    <dict>\n");
	http_route_plist_str(b, "EmailAccountDescription", addr);
	http_route_plist_str(b, "EmailAccountName", addr);
	http_route_plist_str(b, "EmailAccountType", "EmailTypeIMAP");
	http_route_plist_str(b, "EmailAddress", addr);
	http_route_plist_str(b, "IncomingMailServerAuthentication",
	    "EmailAuthPassword");
	http_route_plist_str(b, "IncomingMailServerHostName", c->fqdn);
	buf_printf(b, "      <key>IncomingMailServerPortNumber</key>\n"
	    "      <integer>%d</integer>\n"
	    "      <key>IncomingMailServerUseSSL</key>\n      <true/>\n",
	    imap.v[0].port);
	http_route_plist_str(b, "IncomingMailServerUsername", addr);
	http_route_plist_str(b, "OutgoingMailServerAuthentication",
	    "EmailAuthPassword");
	http_route_plist_str(b, "OutgoingMailServerHostName", c->fqdn);
	buf_printf(b, "      <key>OutgoingMailServerPortNumber</key>\n"
	    "      <integer>%d</integer>\n"
	    "      <key>OutgoingMailServerUseSSL</key>\n      <true/>\n",
	    smtp.v[0].port);
	http_route_plist_str(b, "OutgoingMailServerUsername", addr);
	buf_puts(b, "      <key>OutgoingPasswordSameAsIncomingPassword</key>\n"
	    "      <true/>\n");
	http_route_plist_str(b, "PayloadDescription", "Mail account");
	http_route_plist_str(b, "PayloadDisplayName", addr);
	http_route_revdns(&ident, c->fqdn);
	buf_printf(&ident, ".email.%s", addr);
	http_route_plist_str(b, "PayloadIdentifier", ident.data);
	http_route_plist_str(b, "PayloadType", "com.apple.mail.managed");
	http_route_uuid(c->fqdn, addr, "mail", uuid);
	http_route_plist_str(b, "PayloadUUID", uuid);
	buf_puts(b, "      <key>PayloadVersion</key>\n"
	    "      <integer>1</integer>\n"
	    "      <key>SMIMEEnabled</key>\n      <false/>\n"
	    "    </dict>\n  </array>\n");
	buf_puts(b, "  <key>PayloadDescription</key>\n  <string>Mail settings "
	    "for ");
	http_parse_xml_escape(b, addr);
	buf_puts(b, "</string>\n  <key>PayloadDisplayName</key>\n  <string>");
	http_parse_xml_escape(b, c->system_name != NULL ? c->system_name :
	    c->fqdn);
	buf_puts(b, "</string>\n  <key>PayloadIdentifier</key>\n  <string>");
	buf_reset(&ident);
	http_route_revdns(&ident, c->fqdn);
	buf_printf(&ident, ".profile.%s", addr);
	http_parse_xml_escape(b, ident.data);
	buf_free(&ident);
	buf_puts(b, "</string>\n  <key>PayloadRemovalDisallowed</key>\n"
	    "  <false/>\n  <key>PayloadType</key>\n"
	    "  <string>Configuration</string>\n  <key>PayloadUUID</key>\n"
	    "  <string>");
	http_route_uuid(c->fqdn, addr, "profile", uuid);
	buf_puts(b, uuid);
	buf_puts(b, "</string>\n  <key>PayloadVersion</key>\n"
	    "  <integer>1</integer>\n</dict>\n</plist>\n");
}

/* ---- the table ---- */

static bool
http_route_get(const struct http_req *q, struct http_resp *r)
{
	if (q->method == HTTP_M_GET || q->method == HTTP_M_HEAD)
		return true;
	http_route_405(r, "GET, HEAD");
	return false;
}

void
http_route(const struct http_env *env, const struct http_req *q,
    const char *body, size_t body_len, struct http_resp *r)
{
	const struct conf	*c = env->conf;
	char			 path[HTTP_PATH_MAX], addr[HTTP_ADDR_MAX + 1];
	const char		*query;
	size_t			 qlen, n;
	int			 found;

	if (http_parse_target(q, path, sizeof(path), &query, &qlen) == -1) {
		http_route_text(r, 400, "400 Bad Request: bad path encoding");
		r->close = true;
		return;
	}
	if (strcmp(path, "/mail/config-v1.1.xml") == 0 ||
	    strcmp(path, "/.well-known/autoconfig/mail/config-v1.1.xml") ==
	    0) {
		if (http_route_get(q, r))
			http_route_autoconfig(c, query, qlen, r);
	} else if (strcasecmp(path, "/autodiscover/autodiscover.xml") == 0) {
		if (q->method != HTTP_M_POST)
			http_route_405(r, "POST");
		else
			http_route_autodiscover(c, body, body_len, r);
	} else if (strcmp(path, "/apple/mobileconfig") == 0) {
		if (!http_route_get(q, r))
			return;
		found = http_parse_query(query, qlen, "emailaddress", addr,
		    sizeof(addr));
		if (found == 0) {
			http_route_text(r, 400, "400 Bad Request: "
			    "emailaddress= is missing");
			return;
		}
		if (found == 1)
			http_route_mobileconfig(c, addr, r);
		else
			(void)http_route_addr(c, r, -1, addr, &query);
	} else if (strncmp(path, "/apple/", 7) == 0 && (n = strlen(path)) >
	    7 + 13 && strcmp(path + n - 13, ".mobileconfig") == 0) {
		if (!http_route_get(q, r))
			return;
		if (n - 7 - 13 > HTTP_ADDR_MAX) {
			(void)http_route_addr(c, r, -1, addr, &query);
			return;
		}
		memcpy(addr, path + 7, n - 7 - 13);
		addr[n - 7 - 13] = '\0';
		http_route_mobileconfig(c, addr, r);
	} else if (strcmp(path, "/.well-known/mta-sts.txt") == 0) {
		if (!http_route_get(q, r))
			return;
		http_route_mta_sts(c, r);
	} else if (strcmp(path, "/metrics") == 0) {
		if (!http_route_get(q, r))
			return;
		r->ctype = "text/plain; version=0.0.4; charset=utf-8";
		buf_puts(&r->headers, "Cache-Control: no-store\r\n");
		if (env->metrics != NULL)
			env->metrics(&r->body, env->metrics_arg);
	} else if (strcmp(path, "/healthz") == 0) {
		if (!http_route_get(q, r))
			return;
		buf_puts(&r->headers, "Cache-Control: no-store\r\n");
		http_route_text(r, 200, "ok");
	} else
		http_route_error(r, 404);
}

void
http_route_head(const struct http_resp *r, bool keep_alive, long long now,
    struct buf *out)
{
	struct tm	 tm;
	time_t		 t = (time_t)now;
	char		 date[64];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		date[0] = '\0';
	buf_printf(out, "HTTP/1.1 %d %s\r\n", r->status,
	    r->reason != NULL ? r->reason : http_route_reason(r->status));
	if (date[0] != '\0')
		buf_printf(out, "Date: %s\r\n", date);
	buf_puts(out, "Server: postern\r\n");
	if (r->ctype != NULL)
		buf_printf(out, "Content-Type: %s\r\n"
		    "X-Content-Type-Options: nosniff\r\n", r->ctype);
	buf_printf(out, "Content-Length: %zu\r\n", r->body.len);
	buf_printf(out, "Connection: %s\r\n", keep_alive && !r->close ?
	    "keep-alive" : "close");
	if (r->headers.len > 0)
		buf_append(out, r->headers.data, r->headers.len);
	buf_puts(out, "\r\n");
}
