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
/* The same, with the arguments as an array (binary-safe, any count). */
redisReply *gate_command_argv(struct gate *gate, int argc, const char **argv);

/*
 * A Lua script run with EVALSHA, falling back to EVAL when Redis answers
 * NOSCRIPT (restarted, or SCRIPT FLUSH), which also caches it again.
 * Declare one statically with GATE_SCRIPT(source); its SHA-1 is computed on
 * first use.
 */
struct gate_script {
	const char *source;
	char sha[41];
};
#define GATE_SCRIPT(src) \
	{ \
		(src), \
		{ \
			0 \
		} \
	}
#define GATE_EVAL_ARGS_MAX 8

/*
 * Runs script with nkeys keys followed by the other arguments (args holds
 * nkeys + nargs strings, at most GATE_EVAL_ARGS_MAX).  Returns the reply as
 * gate_command does.
 */
redisReply *gate_eval(struct gate *gate, struct gate_script *script, int nkeys,
    const char *const *args, int nargs);
/* Sends SCRIPT LOAD so the first EVALSHA finds it; 0 or -1. */
int gate_load(struct gate *gate, struct gate_script *script);
/*
 * Computes the script's SHA-1 now rather than on first use: the master
 * does it before fork, so that no worker runs SHA-1 (and touches that part
 * of libcrypto) for its own copy.
 */
void gate_script_prepare(struct gate_script *script);
/*
 * The run_id of the Redis server this connection reached ("" when not
 * connected or unknown): a new run_id means a restarted server, whose keys
 * may be gone or older than what this worker saw.
 */
const char *gate_run_id(const struct gate *gate);

/* Returns 1 if Redis answers PING now, else 0. */
int gate_ping(struct gate *gate);
/* The last connection error ("" when none). */
const char *gate_errmsg(const struct gate *gate);

#endif
