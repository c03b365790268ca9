/*
 * greet.c - greeting-only protocol stand-in.  Line limit 1024 octets; a
 * longer line closes the connection.  Owns only its tiny session struct.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "conf.h"
#include "conn.h"
#include "greet.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

#define GREET_LINE_MAX	1024

struct greet {
	struct conn	*c;
	enum conn_svc	 svc;
};

static const char *
greet_fqdn(struct greet *g)
{
	return conn_gen(g->c)->conf->fqdn;
}

static void
greet_banner(struct greet *g)
{
	switch (g->svc) {
	case SVC_SMTP: case SVC_SUBMISSION: case SVC_SUBMISSIONS:
		conn_printf(g->c, "220 %s ESMTP postern\r\n", greet_fqdn(g));
		break;
	case SVC_IMAP: case SVC_IMAPS:
		conn_printf(g->c, "* OK [CAPABILITY IMAP4rev1%s] postern ready\r\n",
		    conn_tls(g->c) ? "" : " STARTTLS LOGINDISABLED");
		break;
	case SVC_POP3: case SVC_POP3S:
		conn_puts(g->c, "+OK postern ready\r\n");
		break;
	case SVC_MANAGESIEVE:
		conn_puts(g->c, "\"IMPLEMENTATION\" \"postern\"\r\n");
		if (!conn_tls(g->c))
			conn_puts(g->c, "\"STARTTLS\"\r\n");
		conn_puts(g->c, "OK \"postern ready\"\r\n");
		break;
	default:
		break;
	}
}

static void *
greet_start(struct conn *c)
{
	struct greet	*g = xcalloc(1, sizeof(*g));

	g->c = c;
	g->svc = conn_service(c);
	greet_banner(g);
	return g;
}

static void
greet_starttls(struct greet *g, const char *ok, const char *tag)
{
	const char	*err;

	if (conn_tls(g->c)) {
		conn_printf(g->c, "%s%s TLS already active\r\n", tag,
		    g->svc == SVC_POP3 ? "-ERR" : " BAD");
		return;
	}
	conn_printf(g->c, "%s%s\r\n", tag, ok);
	if (conn_starttls(g->c, &err) == -1)
		conn_close(g->c);
}

static void
greet_smtp(struct greet *g, char *line)
{
	if (strncasecmp(line, "EHLO", 4) == 0) {
		conn_printf(g->c, "250-%s\r\n%s250 ENHANCEDSTATUSCODES\r\n",
		    greet_fqdn(g), conn_tls(g->c) ? "" : "250-STARTTLS\r\n");
	} else if (strncasecmp(line, "HELO", 4) == 0)
		conn_printf(g->c, "250 %s\r\n", greet_fqdn(g));
	else if (strcasecmp(line, "STARTTLS") == 0 && g->svc != SVC_SUBMISSIONS)
		greet_starttls(g, "220 2.0.0 Ready to start TLS", "");
	else if (strcasecmp(line, "QUIT") == 0) {
		conn_puts(g->c, "221 2.0.0 Bye\r\n");
		conn_close(g->c);
	} else if (strcasecmp(line, "NOOP") == 0)
		conn_puts(g->c, "250 2.0.0 Ok\r\n");
	else
		conn_puts(g->c, "502 5.5.1 Command not implemented\r\n");
}

static void
greet_imap(struct greet *g, char *line)
{
	char	*tag = line, *cmd = strchr(line, ' ');

	if (cmd == NULL) {
		conn_puts(g->c, "* BAD Missing command\r\n");
		return;
	}
	*cmd++ = '\0';
	if (strcasecmp(cmd, "CAPABILITY") == 0)
		conn_printf(g->c, "* CAPABILITY IMAP4rev1%s\r\n%s OK done\r\n",
		    conn_tls(g->c) ? "" : " STARTTLS LOGINDISABLED", tag);
	else if (strcasecmp(cmd, "STARTTLS") == 0 && g->svc == SVC_IMAP) {
		char ok[256];
		snprintf(ok, sizeof(ok), "%s OK Begin TLS negotiation now", tag);
		greet_starttls(g, ok, "");
	} else if (strcasecmp(cmd, "LOGOUT") == 0) {
		conn_printf(g->c, "* BYE Logging out\r\n%s OK done\r\n", tag);
		conn_close(g->c);
	} else if (strcasecmp(cmd, "NOOP") == 0)
		conn_printf(g->c, "%s OK done\r\n", tag);
	else
		conn_printf(g->c, "%s BAD Command not implemented\r\n", tag);
}

static void
greet_pop3(struct greet *g, char *line)
{
	if (strcasecmp(line, "CAPA") == 0)
		conn_printf(g->c, "+OK\r\n%s.\r\n",
		    conn_tls(g->c) ? "" : "STLS\r\n");
	else if (strcasecmp(line, "STLS") == 0 && g->svc == SVC_POP3)
		greet_starttls(g, "+OK Begin TLS negotiation", "");
	else if (strcasecmp(line, "QUIT") == 0) {
		conn_puts(g->c, "+OK Bye\r\n");
		conn_close(g->c);
	} else
		conn_puts(g->c, "-ERR Command not implemented\r\n");
}

static void
greet_sieve(struct greet *g, char *line)
{
	if (strcasecmp(line, "STARTTLS") == 0)
		greet_starttls(g, "OK \"Begin TLS negotiation\"", "");
	else if (strcasecmp(line, "LOGOUT") == 0) {
		conn_puts(g->c, "OK \"Bye\"\r\n");
		conn_close(g->c);
	} else
		conn_puts(g->c, "NO \"Command not implemented\"\r\n");
}

static void
greet_http(struct greet *g, char *line)
{
	if (*line != '\0')
		return;			/* headers: wait for the blank line */
	conn_puts(g->c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n");
	conn_close(g->c);
}

static void
greet_input(void *arg)
{
	struct greet	*g = arg;
	struct evbuffer	*in;
	char		*line;
	size_t		 len;

	while (!conn_closing(g->c)) {
		in = conn_input(g->c);
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > GREET_LINE_MAX)
				conn_close(g->c);
			return;
		}
		if (len > GREET_LINE_MAX) {
			free(line);
			conn_close(g->c);
			return;
		}
		conn_trace_in(g->c, line, len, false);
		switch (g->svc) {
		case SVC_SMTP: case SVC_SUBMISSION: case SVC_SUBMISSIONS:
			greet_smtp(g, line);
			break;
		case SVC_IMAP: case SVC_IMAPS:
			greet_imap(g, line);
			break;
		case SVC_POP3: case SVC_POP3S:
			greet_pop3(g, line);
			break;
		case SVC_MANAGESIEVE:
			greet_sieve(g, line);
			break;
		default:
			greet_http(g, line);
			break;
		}
		free(line);
	}
}

static void
greet_timeout(void *arg)
{
	struct greet	*g = arg;

	if (g->svc <= SVC_SUBMISSIONS)
		conn_puts(g->c, "421 4.4.2 Timeout, closing connection\r\n");
	else if (g->svc == SVC_IMAP || g->svc == SVC_IMAPS)
		conn_puts(g->c, "* BYE Autologout; idle for too long\r\n");
}

static void
greet_shutdown(void *arg)
{
	struct greet	*g = arg;

	if (g->svc <= SVC_SUBMISSIONS)
		conn_puts(g->c, "421 4.3.2 Server shutting down\r\n");
	else if (g->svc == SVC_IMAP || g->svc == SVC_IMAPS)
		conn_puts(g->c, "* BYE Server shutting down\r\n");
	conn_close(g->c);
}

static void
greet_free(void *arg)
{
	free(arg);
}

#define GREET(n, b) { n, greet_start, greet_input, NULL, greet_timeout, \
	greet_shutdown, NULL, greet_free, b }

static const struct proto greet_protos[SVC__N] = {
	[SVC_SMTP] = GREET("smtp", "421 4.7.0 Too many connections"),
	[SVC_SUBMISSION] = GREET("submission", "421 4.7.0 Too many connections"),
	[SVC_SUBMISSIONS] = GREET("submissions", NULL),
	[SVC_IMAP] = GREET("imap", "* BYE Too many connections"),
	[SVC_IMAPS] = GREET("imaps", NULL),
	[SVC_POP3] = GREET("pop3", "-ERR [SYS/TEMP] Too many connections"),
	[SVC_POP3S] = GREET("pop3s", NULL),
	[SVC_MANAGESIEVE] = GREET("managesieve", "BYE \"Too many connections\""),
	[SVC_HTTP] = GREET("http", "HTTP/1.1 503 Service Unavailable\r\n"),
};

const struct proto *
greet_proto(enum conn_svc svc)
{
	return &greet_protos[svc];
}
