/*
 * master: the supervisor.  Reads the secret file, binds the FastCGI socket
 * (or takes over its predecessor's, after a SIGUSR2 upgrade), forks exactly
 * cfg->workers workers and the reaper, respawns any that dies (throttled
 * when they die in a loop), replaces them all with a new configuration on
 * SIGHUP, and stops them on signals.  It never opens a database connection.
 */
#ifndef STOCKADE_MASTER_H
#define STOCKADE_MASTER_H

#include <stddef.h>
#include <stdint.h>

struct config;

/*
 * Runs until SIGTERM/SIGINT (fast stop: workers get SIGTERM, are killed
 * after a second) or SIGQUIT (graceful: workers finish their requests, get
 * SIGTERM after shutdown_timeout and SIGKILL a second later).  SIGHUP reads
 * config_path again and, if it is valid, replaces the workers and reaper
 * with ones running the new configuration.  SIGUSR2 execs argv (argv[0]
 * looked up like execvp does) as a new master that inherits the listening
 * socket; see master.c.  cfg is copied.  Returns the process exit status.
 */
int master_run(const struct config *cfg, const char *config_path,
    char *const argv[]);

/*
 * The wait before a dead slot is refilled, given how many of its workers
 * in a row died within a second of their start (quick_deaths, the last one
 * included) and how many requests the dead one served: none for a worker
 * that served any (it got past its start: replace it at once), none for 0
 * or 1 quick deaths (a worker that lived, or one crash), then 100 ms,
 * 200 ms, ... doubling up to 10 s while they keep dying before their first
 * request, so that a crash loop eats neither the CPU nor the log.  Pure:
 * for the tests.
 */
int64_t master_respawn_delay_ms(unsigned quick_deaths, uint64_t requests);

/*
 * 1 if a worker that died had got past its start: it served a request, or
 * its slot's state (a WORKER_* value, scoreboard.h) says it was waiting in
 * accept, serving or stopping.  libfcgi aborts inside FCGX_Accept_r on one
 * malformed PARAMS record, before the request counts: a fresh worker killed
 * so has served nothing, yet it started fine.  Only a worker that had not
 * started can be in a crash loop.  Pure.
 */
int master_worker_started(int state, uint64_t requests);

/*
 * The stop signal the children should have had elapsed_ms into a stop
 * whose drain may take timeout_ms (shutdown_timeout for SIGQUIT, 0 for a
 * fast stop): SIGQUIT (drain) before the timeout, then SIGTERM (finish the
 * request in hand), then SIGKILL one second after the timeout.  The master
 * sends each only once and never a weaker after a stronger.  Pure.
 */
int master_stop_signal(int64_t elapsed_ms, int64_t timeout_ms);

#endif
