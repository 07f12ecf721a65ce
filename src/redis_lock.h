/*
 * redis_lock: short mutual exclusion in Redis, one key per resource.  It
 * backs stock_strategy = redis_lock, which moves the queue of orders for a
 * hot option out of PostgreSQL's row locks into Redis, so that the two
 * places to wait can be measured against each other (docs/architecture.md,
 * "Strategies").  A lock is SET key token NX PX ttl and is released by a
 * script that deletes the key only if it still holds this owner's token,
 * so a lock that expired and was taken by someone else is never released
 * by the first owner.
 *
 * A lock is an optimisation of who waits where, never what keeps data
 * right: a holder slower than ttl loses it without knowing, so whatever
 * the lock guards must stay correct without it (the stock UPDATE keeps its
 * own WHERE stock >= quantity).
 */
#ifndef STOCKADE_REDIS_LOCK_H
#define STOCKADE_REDIS_LOCK_H

#include <stddef.h>

#include "redis.h"

#define REDIS_LOCK_KEY_MAX REDIS_KEY_MAX /* a key from redis_key */
#define REDIS_LOCK_MAX 50

struct redis_locks {
	char token[48]; /* unique to this acquisition */
	char keys[REDIS_LOCK_MAX][REDIS_LOCK_KEY_MAX];
	size_t held;
};

enum redis_lock_status {
	REDIS_LOCK_HELD, /* every key is ours */
	REDIS_LOCK_BUSY, /* a key stayed taken for wait_ms: none is held */
	REDIS_LOCK_DOWN /* Redis failed: none is held */
};

/*
 * Takes every key of keys (n at most REDIS_LOCK_MAX, already in the order
 * every caller uses, so that two takers cannot wait on each other
 * forever), each for ttl_ms, retrying a taken key with jittered back-off
 * for up to wait_ms in all.  On anything but HELD, what was taken has been
 * released.
 */
enum redis_lock_status redis_lock_take(struct redis *redis,
    struct redis_locks *locks, const char *const *keys, size_t n, int ttl_ms,
    int wait_ms);

/* Releases what locks holds (the keys still holding its token). */
void redis_lock_release(struct redis *redis, struct redis_locks *locks);

/*
 * Deletes key if it still holds token (compare-and-delete, one script), for
 * callers that take a lock with their own SET NX PX.  0, or -1 when Redis
 * could not be told.
 */
int redis_lock_drop(struct redis *redis, const char *key, const char *token);

/* Sends SCRIPT LOAD for the release script (at worker start); 0 or -1. */
int redis_lock_load(struct redis *redis);
/* Hashes the release script (see redis_script_prepare). */
void redis_lock_prepare(void);

#endif
