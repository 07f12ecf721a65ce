/*
 * reaper: the one background process beside the workers.  Every
 * reaper_interval it expires pending orders past their reservation and
 * gives their stock back (in batches, FOR UPDATE SKIP LOCKED), and once a
 * minute it deletes Idempotency-Key records older than idempotency_ttl.
 * It holds the one database connection beyond the workers' (connections =
 * workers + 1).
 */
#ifndef STOCKADE_REAPER_H
#define STOCKADE_REAPER_H

#include <stdnoreturn.h>

struct config;
struct scoreboard_slot;

/* Runs until SIGQUIT/SIGTERM/SIGINT or the master's death, then exits. */
noreturn void reaper_run(const struct config *cfg,
    struct scoreboard_slot *slot);

#endif
