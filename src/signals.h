/*
 * signals: the signal setup every child of the master shares.  Handlers
 * only set flags (and, for workers, swap a descriptor; see worker.c); the
 * master itself handles signals synchronously with sigtimedwait.
 */
#ifndef STOCKADE_SIGNALS_H
#define STOCKADE_SIGNALS_H

/*
 * In a freshly forked child: routes SIGQUIT (graceful stop) to on_quit and
 * SIGTERM and SIGINT (fast stop) to on_term, with SA_RESTART when restart
 * is set so that I/O in progress is not cut short; ignores SIGPIPE, SIGHUP
 * and SIGUSR1; restores SIGCHLD; and only then unblocks the signals the
 * master had blocked.  Exits on failure.
 */
void signals_child_init(void (*on_quit)(int), void (*on_term)(int),
    int restart);

#endif
