/*
 * signals: see signals.h.  The order matters: handlers are in place before
 * the mask inherited from the master is lifted, so a signal that arrived
 * between fork and here is delivered to our handler, not to the default.
 */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

/* LeakSanitizer's interface, in builds that have it (gcc and clang). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIGNALS_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SIGNALS_LSAN 1
#endif
#ifdef SIGNALS_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static pid_t signals_parent;

static void signals_set(int signo, void (*handler)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = flags;
	sa.sa_handler = handler;
	if (sigaction(signo, &sa, NULL) < 0)
		fatal("sigaction %d: %s", signo, strerror(errno));
}

/*
 * SIGUSR1, sent on by the master after it reopened the log file (logrotate's
 * postrotate): reopen it here too, at once, so that the renamed file is let
 * go of even by a process that has nothing to log for a while.  log_reopen
 * calls only async-signal-safe functions (open, dup2, close), and the
 * dup2 replaces descriptor 2 in one step, so a line being written goes
 * whole to one file or the other.
 */
static void signals_on_reopen(int signo)
{
	int saved_errno = errno;

	(void)signo;
	(void)log_reopen();
	errno = saved_errno;
}

void signals_child_init(void (*on_quit)(int), void (*on_term)(int), int restart)
{
	int flags = restart ? SA_RESTART : 0;
	sigset_t none;

	signals_set(SIGQUIT, on_quit, flags);
	signals_set(SIGTERM, on_term, flags);
	signals_set(SIGINT, on_term, flags);
	/* A client gone mid-write must cost an EPIPE, not the process. */
	signals_set(SIGPIPE, SIG_IGN, 0);
	signals_set(SIGHUP, SIG_IGN, 0);
	/* SA_RESTART: a reopen must not cut a request's I/O short. */
	signals_set(SIGUSR1, signals_on_reopen, SA_RESTART);
	signals_set(SIGUSR2, SIG_IGN, 0);
	signals_set(SIGCHLD, SIG_DFL, 0);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		fatal("sigprocmask: %s", strerror(errno));
}

void signals_die_with_parent(pid_t parent)
{
	signals_parent = parent;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		fatal("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
	/* Checked after the prctl: a death from here on sends the signal. */
	if (getppid() != parent) {
		log_warn("the master (pid %ld) died before this child started",
		    (long)parent);
		_exit(0);
	}
}

int signals_parent_gone(void)
{
	return signals_parent != 0 && getppid() != signals_parent;
}

noreturn void signals_child_exit(int status)
{
#ifdef SIGNALS_LSAN
	__lsan_do_leak_check();
#endif
	_exit(status);
}
