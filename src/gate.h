/*
 * gate: one worker's Redis connection, the fast filter in front of the
 * database.
 *
 * Redis is never the source of truth, so every caller must cope with
 * gate_command returning NULL: the connection is then dropped, and a later
 * call reconnects (at most every GATE_RECONNECT_INTERVAL_MS, so a dead Redis
 * costs a worker one failed connect per interval, not one per request).
 * Connect and command timeouts are the configured redis_timeout.
 */
#ifndef STOCKADE_GATE_H
#define STOCKADE_GATE_H

#include <hiredis/hiredis.h>

#define GATE_RECONNECT_INTERVAL_MS 250

struct gate_options {
	const char *host; /* TCP host, or NULL/"" when unix_path is set */
	int port;
	const char *unix_path;
	int timeout_ms;
};

struct gate;

/* Creates an unconnected handle (strings copied).  Never NULL. */
struct gate *gate_create(const struct gate_options *opts);
void gate_free(struct gate *gate); /* accepts NULL */

/*
 * Sends one command (hiredis format).  Returns the reply, owned by the
 * caller (freeReplyObject), or NULL when Redis is unreachable or the
 * connection broke.  An error reply (REDIS_REPLY_ERROR) is returned as is.
 */
redisReply *gate_command(struct gate *gate, const char *fmt, ...);
/* Returns 1 if Redis answers PING now, else 0. */
int gate_ping(struct gate *gate);
/* The last connection error ("" when none). */
const char *gate_errmsg(const struct gate *gate);

#endif
