/*
 * queue_consumer: the processes that drain the coupon claim queue
 * (coupon_strategy = queue, coupon_queue.h).  The master forks
 * queue_consumers of them beside the workers and the reaper, and respawns
 * any that dies, as it does the reaper; each holds one database and one
 * Redis connection of its own, so with the queue the database sees
 * workers + 1 + queue_consumers connections (docs/configuration.md,
 * "Choosing workers").  Consumer n is named "consumer-n" in the stream's
 * group: its successor in the slot takes over its pending claims.
 */
#ifndef STOCKADE_QUEUE_CONSUMER_H
#define STOCKADE_QUEUE_CONSUMER_H

#include <stdnoreturn.h>

struct config;
struct scoreboard;

/*
 * Runs consumer n in slot i of sb until SIGQUIT/SIGTERM/SIGINT or the
 * master's death, then exits.  Counts each committed batch and its claims
 * in its slot.
 */
noreturn void queue_consumer_run(const struct config *cfg,
    struct scoreboard *sb, int i, int n);

#endif
