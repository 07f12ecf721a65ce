/*
 * metrics: the pool's numbers, summed over the scoreboard's slots, and
 * their rendering in the Prometheus text format (version 0.0.4) for
 * GET /metrics.  Collecting reads the shared memory once into a plain
 * struct on the caller's stack; nothing is allocated per request but the
 * response text.  docs/operations.md, "Metrics reference", lists every
 * metric.
 */
#ifndef STOCKADE_METRICS_H
#define STOCKADE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "scoreboard.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_pool {
	int64_t started_ms; /* wall clock */
	/* Every slot, the reaper's too, and what older generations left */
	struct scoreboard_totals t;
	uint64_t accepted; /* requests answered, every route */
	int workers; /* worker slots */
	int by_state[WORKER_STATE__MAX]; /* worker slots in each state */
	uint32_t active_max; /* at least the workers busy now */
	/* The listen queue, when the kernel told (has_queue); queue_max is
	 * at least queued. */
	int has_queue;
	uint32_t queued, queue_max, backlog;
};

/*
 * Sums the scoreboard into *p (scoreboard_total): the first nworkers slots
 * are workers, the next one the reaper (master.c).  Leaves the listen
 * queue unset (metrics_set_queue).
 */
void metrics_collect(const struct scoreboard *sb, int nworkers,
    struct metrics_pool *p);

/* Records the listen queue sampled now, with the scoreboard's maximum. */
void metrics_set_queue(struct metrics_pool *p, const struct scoreboard *sb,
    uint32_t queued, uint32_t backlog);

/*
 * The name of route i of the route table (the label of its series), or
 * NULL past its end.  route.c has the table; metrics sits below it.
 */
typedef const char *(*metrics_route_name_fn)(int i);

/*
 * Writes p into res as Prometheus text (response_text, status 200), the
 * routes named by route_name; requests that matched no route are
 * route="none".
 */
void metrics_render(const struct metrics_pool *p,
    metrics_route_name_fn route_name, struct response *res);

#endif
