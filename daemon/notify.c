/*
 * notify.c - tell systemd the daemon is ready (Type=notify), without
 * libsystemd: one "READY=1" datagram to the unix socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
 * Without $NOTIFY_SOCKET (not under systemd) it does nothing.  Errors are
 * logged and otherwise ignored: systemd then times the start out, which
 * says more than anything we could do here.
 * [loop] thread, once, after the listeners are bound.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

void
notify_ready(void)
{
	static const char	 msg[] = "READY=1";
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET");
	size_t			 len;
	int			 fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	if ((len = strlen(path)) >= sizeof(sun.sun_path)) {
		log_warn("notify socket path too long");
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("notify socket error=\"%s\"", strerror(errno));
		return;
	}
	if (sendto(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL,
	    (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == -1)
		log_warn("notify send path=%s error=\"%s\"", path,
		    strerror(errno));
	close(fd);
}
