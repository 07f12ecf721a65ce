/*
 * signals: the signal setup every child of the master shares.  Handlers
 * only set flags (and, for workers, swap a descriptor; see worker.c); the
 * master itself handles signals synchronously with sigtimedwait.
 */
#ifndef STOCKADE_SIGNALS_H
#define STOCKADE_SIGNALS_H

#include <stdnoreturn.h>
#include <sys/types.h>

/*
 * First thing in a freshly forked child, signals still blocked: asks the
 * kernel to send SIGTERM (the child's fast stop) when the parent dies, so
 * that a master killed with SIGKILL leaves no worker serving its socket or
 * holding a database connection.  parent is the master's pid as recorded
 * before fork: if the master already died in between, no signal would
 * ever come, so the child exits at once instead.
 */
void signals_die_with_parent(pid_t parent);

/* 1 when the parent named to signals_die_with_parent is gone, else 0. */
int signals_parent_gone(void);

/*
 * Ends a forked child (worker, reaper) with _exit(status), which skips the
 * master's atexit handlers.  In a build with LeakSanitizer
 * (--enable-sanitizers) it first runs the leak check that _exit would skip,
 * so that what a child leaks is reported too.
 */
noreturn void signals_child_exit(int status);

/*
 * In a freshly forked child: routes SIGQUIT (graceful stop) to on_quit and
 * SIGTERM and SIGINT (fast stop) to on_term, with SA_RESTART when restart
 * is set so that I/O in progress is not cut short; reopens the log file on
 * SIGUSR1 (log_reopen); ignores SIGPIPE, SIGHUP and SIGUSR2 (the master's);
 * restores SIGCHLD; and only then unblocks the signals the master had
 * blocked.  Exits on failure.
 */
void signals_child_init(void (*on_quit)(int), void (*on_term)(int),
    int restart);

#endif
