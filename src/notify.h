/*
 * notify: tells the service manager what the master is doing, through
 * sd_notify(3), when stockade is built with libsystemd (configure
 * --with-libsystemd, found by default); otherwise each call does nothing.
 * Under systemd's Type=notify (systemd/stockade.service.in) the unit counts
 * as started once the socket is bound, not once the process exists; outside
 * systemd NOTIFY_SOCKET is unset and sd_notify does nothing either.
 */
#ifndef STOCKADE_NOTIFY_H
#define STOCKADE_NOTIFY_H

/*
 * The master listens.  took_over: it is a new master started by SIGUSR2
 * on the old one's socket; it names itself the service's main process, so
 * that the old master's exit does not end the service (the unit allows
 * that with NotifyAccess=all).
 */
void notify_ready(int took_over);

/* A reload (SIGHUP) begins; notify_ready(0) says it ended. */
void notify_reloading(void);

/* A stop begins. */
void notify_stopping(void);

#endif
