/*
 * redis_lock: see redis_lock.h.
 */
#include "redis_lock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "redis_scripts.h"
#include "retry.h"

/* The longest pause between two tries of a taken key. */
#define REDIS_LOCK_POLL_MAX_MS 8

/* Sets a token no other acquisition shares: pid, time and a counter. */
static void redis_lock_token(struct redis_locks *locks)
{
	static unsigned long counter;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(locks->token, sizeof(locks->token), "%ld.%lld.%09ld.%lu",
	    (long)getpid(), (long long)ts.tv_sec, ts.tv_nsec, ++counter);
}

/* One attempt: 1 taken, 0 taken by someone else, -1 Redis failed. */
static int redis_lock_try(struct redis *redis, const char *key,
    const char *token, int ttl_ms)
{
	redisReply *r =
	    redis_command(redis, "SET %s %s NX PX %d", key, token, ttl_ms);
	int got;

	if (r == NULL)
		return -1;
	got = r->type == REDIS_REPLY_STATUS ? 1
	    : r->type == REDIS_REPLY_NIL    ? 0
	                                    : -1;
	freeReplyObject(r);
	return got;
}

enum redis_lock_status redis_lock_take(struct redis *redis,
    struct redis_locks *locks, const char *const *keys, size_t n, int ttl_ms,
    int wait_ms)
{
	struct retry retry;
	int got;

	retry_init(&retry, -1, clock_ms() + wait_ms);
	/* The holder's transaction takes a few ms: poll often. */
	retry.cap_ms = REDIS_LOCK_POLL_MAX_MS;
	locks->held = 0;
	redis_lock_token(locks);
	if (n > REDIS_LOCK_MAX)
		return REDIS_LOCK_DOWN;
	while (locks->held < n) {
		const char *key = keys[locks->held];

		got = redis_lock_try(redis, key, locks->token, ttl_ms);
		if (got == 1) {
			snprintf(locks->keys[locks->held], REDIS_LOCK_KEY_MAX,
			    "%s", key);
			locks->held++;
			retry.attempt =
			    0; /* the next key starts polling fast */
			continue;
		}
		if (got < 0 || !retry_again(&retry)) {
			redis_lock_release(redis, locks);
			return got < 0 ? REDIS_LOCK_DOWN : REDIS_LOCK_BUSY;
		}
	}
	return REDIS_LOCK_HELD;
}

void redis_lock_release(struct redis *redis, struct redis_locks *locks)
{
	for (size_t i = 0; i < locks->held; i++) {
		/* A lost release costs a wait until the key's ttl. */
		if (redis_lock_drop(redis, locks->keys[i], locks->token) < 0)
			break;
	}
	locks->held = 0;
}

int redis_lock_drop(struct redis *redis, const char *key, const char *token)
{
	const char *args[] = { key, token };
	redisReply *r =
	    redis_eval(redis, &redis_lock_release_script, 1, args, 1);

	if (r == NULL)
		return -1;
	freeReplyObject(r);
	return 0;
}

void redis_lock_prepare(void)
{
	redis_script_prepare(&redis_lock_release_script);
}

int redis_lock_load(struct redis *redis)
{
	return redis_load(redis, &redis_lock_release_script);
}
