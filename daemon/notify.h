/*
 * notify.h - systemd readiness notification (Type=notify) without
 * libsystemd.  notify_ready() sends "READY=1" to $NOTIFY_SOCKET if set.
 */
#ifndef NOTIFY_H
#define NOTIFY_H
void	notify_ready(void);
#endif
