/*
 * notify: see notify.h.  A failed notification is not an error of the
 * daemon: the service manager times the start out and says so itself.
 */
#include "notify.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#include <unistd.h>

void notify_ready(int took_over)
{
	if (took_over)
		(void)sd_notifyf(0, "MAINPID=%ld\nREADY=1", (long)getpid());
	else
		(void)sd_notify(0, "READY=1");
}

void notify_reloading(void)
{
	(void)sd_notify(0, "RELOADING=1");
}

void notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1");
}
#else
void notify_ready(int took_over)
{
	(void)took_over;
}

void notify_reloading(void)
{
}

void notify_stopping(void)
{
}
#endif
