/*
 * listen.c - listening sockets for every service.
 *
 * IPv6 sockets are IPV6_V6ONLY so "0.0.0.0:25" and "[::]:25" can both be
 * listed, as in CONFIG.md.  Accepted sockets are non-blocking and
 * close-on-exec (libevent's listener does both).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "conf.h"
#include "conn.h"
#include "listen.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

#define LISTEN_MAX	64

struct listener {
	struct evconnlistener	*lev;
	enum conn_svc		 svc;
};

static struct listener	 listeners[LISTEN_MAX];
static size_t		 nlisteners;

static void
listen_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;

	conn_accept(l->svc, fd, sa, (socklen_t)salen);
}

static void
listen_error(struct evconnlistener *lev, void *arg)
{
	int	 e = EVUTIL_SOCKET_ERROR();

	/* EMFILE and friends: log, keep listening; accept resumes later. */
	log_err("listen accept error=\"%s\"", evutil_socket_error_to_string(e));
}

static int
listen_one(enum conn_svc svc, const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sslen;
	char			*host = NULL;
	int			 port, fd = -1, one = 1;
	struct listener		*l;

	if (nlisteners == LISTEN_MAX) {
		snprintf(err, errlen, "too many listen addresses (max %d)",
		    LISTEN_MAX);
		return -1;
	}
	if (conf_parse_hostport(spec, &host, &port) == -1) {
		snprintf(err, errlen, "listen.%s: bad address %s",
		    conn_svc_name(svc), spec);
		return -1;
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sslen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sslen = sizeof(*s6);
	} else {
		snprintf(err, errlen, "listen.%s: %s is not an IP address",
		    conn_svc_name(svc), host);
		free(host);
		return -1;
	}
	free(host);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto syserr;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto syserr;
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1)
		goto syserr;
	l = &listeners[nlisteners];
	l->svc = svc;
	l->lev = evconnlistener_new(loop_base(), listen_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 511, fd);
	if (l->lev == NULL)
		goto syserr;
	evconnlistener_set_error_cb(l->lev, listen_error);
	nlisteners++;
	log_info("listen svc=%s addr=%s", conn_svc_name(svc), spec);
	return 0;
syserr:
	snprintf(err, errlen, "listen.%s: cannot listen on %s: %s",
	    conn_svc_name(svc), spec, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

int
listen_start(const struct conf *conf, char *err, size_t errlen)
{
	const struct conf_strlist *lists[SVC__N] = {
		[SVC_SMTP] = &conf->listen.smtp,
		[SVC_SUBMISSION] = &conf->listen.submission,
		[SVC_SUBMISSIONS] = &conf->listen.submissions,
		[SVC_IMAP] = &conf->listen.imap,
		[SVC_IMAPS] = &conf->listen.imaps,
		[SVC_POP3] = &conf->listen.pop3,
		[SVC_POP3S] = &conf->listen.pop3s,
		[SVC_MANAGESIEVE] = &conf->listen.managesieve,
		[SVC_HTTP] = &conf->listen.http,
	};
	size_t	 i, svc;

	for (svc = 0; svc < SVC__N; svc++)
		for (i = 0; i < lists[svc]->n; i++)
			if (listen_one((enum conn_svc)svc, lists[svc]->v[i], err,
			    errlen) == -1) {
				listen_stop();
				return -1;
			}
	return 0;
}

void
listen_stop(void)
{
	size_t	 i;

	for (i = 0; i < nlisteners; i++)
		evconnlistener_free(listeners[i].lev);
	nlisteners = 0;
}

size_t
listen_count(void)
{
	return nlisteners;
}

size_t
listen_count_svc(enum conn_svc svc)
{
	size_t	 i, n = 0;

	for (i = 0; i < nlisteners; i++)
		if (listeners[i].svc == svc)
			n++;
	return n;
}
