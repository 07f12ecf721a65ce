/*
 * retry: the one retry policy of stockade, for every loop that tries
 * again (SQLSTATE 40001/40P01, optimistic conflicts, a busy shard or Redis
 * lock): bounded by a count AND by a deadline, with jittered exponential
 * back-off so that requests that collided do not collide again in
 * lockstep (pgbench's doRetry, STYLE.md rule 9).  Nested loops each take
 * the same deadline, the request's, so however they nest a request stops
 * retrying when its time is up.
 */
#ifndef STOCKADE_RETRY_H
#define STOCKADE_RETRY_H

#include <stdint.h>

#define RETRY_BACKOFF_BASE_MS 2
#define RETRY_BACKOFF_MAX_MS 100

struct retry {
	int attempt; /* retries made so far */
	int max; /* retries allowed; -1: the deadline alone bounds them */
	int64_t deadline_ms; /* clock_ms() past which none starts; 0: none */
	int cap_ms; /* the longest back-off; RETRY_BACKOFF_MAX_MS by default */
};

/* Starts a policy of at most max retries, none past deadline_ms. */
void retry_init(struct retry *r, int max, int64_t deadline_ms);

/*
 * Decides whether another try may start: if the count allows it and the
 * back-off ends before the deadline, sleeps the back-off, counts the retry
 * and returns 1; otherwise returns 0 at once.
 */
int retry_again(struct retry *r);

/*
 * The back-off before retry number attempt (0, 1, ...): a time in
 * [cap/2, cap] picked by rnd (any non-negative number, e.g. random()),
 * cap doubling from RETRY_BACKOFF_BASE_MS up to cap_ms.
 */
int64_t retry_backoff_ms(int attempt, int cap_ms, long rnd);

#endif
