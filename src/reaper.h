/*
 * reaper: the one background process beside the workers.  Every
 * reaper_interval it expires pending orders past their reservation and
 * gives their stock back (in batches, FOR UPDATE SKIP LOCKED), and once a
 * minute it deletes Idempotency-Key records older than idempotency_ttl.
 * With slow_request on, it also logs each request that runs past it, with
 * the statement its backend runs (watchdog.h), as soon as it does.
 * It holds the one database connection beyond the workers' (connections =
 * workers + 1).
 */
#ifndef STOCKADE_REAPER_H
#define STOCKADE_REAPER_H

#include <stdnoreturn.h>

struct config;
struct scoreboard;

/*
 * Runs in slot i of sb until SIGQUIT/SIGTERM/SIGINT or the master's death,
 * then exits.  Between rounds it logs the workers' slow requests
 * (slow_request, watchdog.h): it reads their slots in sb.
 */
noreturn void reaper_run(const struct config *cfg, struct scoreboard *sb,
    int i);

#endif
