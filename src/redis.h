/*
 * redis: one worker's Redis connection, shared by everything that uses
 * Redis: the coupon gate (coupon_gate.c), the stock locks (redis_lock.c)
 * and /readyz.
 *
 * Redis is never the source of truth, so every caller must cope with
 * redis_command returning NULL: the connection is then dropped, and a
 * circuit breaker opens: for the cool-down (redis_cooldown, plus up to half
 * of it again at random, so that the workers do not probe in lockstep)
 * every call fails at once, without I/O; the first call after it is the
 * probe, which reconnects, and either closes the breaker or opens it again.
 * So a dead or stalled Redis costs a worker at most one failed connect or
 * one redis_timeout per cool-down, not one per request.  Connect and
 * command timeouts are the configured redis_timeout.
 *
 * With Sentinels (redis_sentinels), each connection is made to the primary
 * they name (redis_sentinel.h), and a READONLY error, the answer of a
 * primary demoted under an open connection, is handled like a broken
 * connection: dropped, so that the next one asks the Sentinels again.
 */
#ifndef STOCKADE_REDIS_H
#define STOCKADE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "redis_sentinel.h"

/*
 * Key names.  Every key stockade keeps in Redis is "{KIND:ID}:SUFFIX", e.g.
 * "{coupon:42}:users", "{stock:7}:lock".  The part in braces is the key's
 * hash tag: Redis Cluster places a key by its tag alone, so every key of
 * one object (a coupon policy, a stock option) lands in one slot, on one
 * node, and a script or a multi-key command on them runs there (a cluster
 * refuses one whose keys span slots: CROSSSLOT).  Name every key with
 * redis_key, KIND and ID being the object whose keys are used together.
 */
#define REDIS_KEY_MAX 64

/*
 * Writes "{kind:id}:suffix" into buf (len bytes, REDIS_KEY_MAX is enough
 * for a kind and a suffix of up to 16 bytes each) and returns buf.  A name
 * that does not fit is a bug in the caller: it dies (fatal).
 */
const char *redis_key(char *buf, size_t len, const char *kind, int64_t id,
    const char *suffix);

/* What a handle tells its owner, who counts it (redis knows no counters). */
enum redis_event {
	REDIS_EVENT_BREAKER_OPEN, /* a failure or a timeout opened it */
	REDIS_EVENT_RECONNECT, /* connected again after an earlier connection */
	REDIS_EVENT__MAX
};

struct redis_options {
	const char *host; /* TCP host, or NULL/"" when unix_path is set */
	int port;
	const char *unix_path;
	/* When sentinels->n > 0, host, port and unix_path are not used. */
	const struct redis_sentinels *sentinels; /* copied; may be NULL */
	int timeout_ms;
	int cooldown_ms; /* the breaker's shortest cool-down */
	/* Called on each event (may be NULL). */
	void (*on_event)(void *arg, enum redis_event ev);
	void *on_event_arg;
};

struct redis;

/* Creates an unconnected handle (strings copied).  Never NULL. */
struct redis *redis_create(const struct redis_options *opts);
void redis_free(struct redis *redis); /* accepts NULL */

/*
 * Sends one command (hiredis format).  Returns the reply, owned by the
 * caller (freeReplyObject), or NULL when Redis is unreachable or the
 * connection broke.  An error reply (REDIS_REPLY_ERROR) is returned as is.
 */
redisReply *redis_command(struct redis *redis, const char *fmt, ...);
/* The same, with the arguments as an array (binary-safe, any count). */
redisReply *redis_command_argv(struct redis *redis, int argc,
    const char **argv);

/*
 * The same, for a command that blocks in Redis for up to wait_ms (BLPOP,
 * XREADGROUP BLOCK): the reply may take that much longer than
 * redis_timeout before the connection counts as stalled.
 */
redisReply *redis_command_wait(struct redis *redis, int wait_ms, int argc,
    const char **argv);

/*
 * Sends n commands at once (argc[i] arguments in argv[i]) and reads their n
 * replies into replies (each owned by the caller, who frees them): one
 * round trip instead of n.  wait_ms: as for redis_command_wait, when the
 * last command blocks.  Returns 0; -1 when the connection broke (some
 * commands may have run); -2 when Redis could not be reached (none was
 * sent).  On failure no reply is kept (all are NULL).
 */
int redis_pipeline(struct redis *redis, int wait_ms, int n, const int *argc,
    const char **const *argv, redisReply **replies);

/*
 * A Lua script run with EVALSHA, falling back to EVAL when Redis answers
 * NOSCRIPT (restarted, or SCRIPT FLUSH), which also caches it again.
 * Declare one statically with REDIS_SCRIPT(source); its SHA-1 is computed on
 * first use.
 */
struct redis_script {
	const char *source;
	char sha[41];
};
#define REDIS_SCRIPT(src) \
	{ \
		(src), \
		{ \
			0 \
		} \
	}
#define REDIS_EVAL_ARGS_MAX 8

/*
 * Runs script with nkeys keys followed by the other arguments (args holds
 * nkeys + nargs strings, at most REDIS_EVAL_ARGS_MAX).  Returns the reply as
 * redis_command does.
 */
redisReply *redis_eval(struct redis *redis, struct redis_script *script,
    int nkeys, const char *const *args, int nargs);
/* Sends SCRIPT LOAD so the first EVALSHA finds it; 0 or -1. */
int redis_load(struct redis *redis, struct redis_script *script);
/*
 * Computes the script's SHA-1 now rather than on first use: the master
 * does it before fork, so that no worker runs SHA-1 (and touches that part
 * of libcrypto) for its own copy.
 */
void redis_script_prepare(struct redis_script *script);
/*
 * The run_id of the Redis server this connection reached ("" when not
 * connected or unknown): a new run_id means a restarted server, whose keys
 * may be gone or older than what this worker saw.
 */
const char *redis_run_id(const struct redis *redis);

/* Returns 1 if Redis answers PING now, else 0 (at once while the breaker
 * is open). */
int redis_ping(struct redis *redis);
/* The last connection error ("" when none). */
const char *redis_errmsg(const struct redis *redis);

#endif
