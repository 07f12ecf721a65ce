/*
 * app: what a worker creates for its request handlers and hands down to
 * them: the configuration, the signing secret, this worker's database and
 * Redis connections, the coupon limits cache, and its counters in the
 * shared scoreboard.  Domain modules and handlers reach every shared
 * resource through it, so none of them knows how a worker is built or
 * where counters live (docs/architecture.md, "Layers").
 */
#ifndef STOCKADE_APP_H
#define STOCKADE_APP_H

#include <stddef.h>
#include <stdint.h>

#include "scoreboard.h"

struct config;
struct coupon_cache;
struct db;
struct redis;

struct app {
	const struct config *cfg;
	const unsigned char *secret;
	size_t secret_len;
	struct db *db;
	/*
	 * Where the reads that may be stale go (the catalogue, popular, a
	 * user's order and point histories; docs/architecture.md, "Reads on
	 * a replica"): the replica's read handle, which falls back to db, or
	 * db itself when no database_read_url is set.  Never NULL.
	 */
	struct db *db_read;
	struct db *replica; /* the read handle, or NULL; owned */
	struct redis *redis;
	struct coupon_cache *coupons; /* policies' limits, for the gate */
	struct scoreboard *scoreboard; /* read-only outside its own slot */
	int slot; /* this worker's scoreboard slot */
	/* The listening socket, for /status's listen queue; -1 when none. */
	int listen_fd;
	/*
	 * The current request's deadline (clock_ms): no retry of it starts
	 * later (retry.h).  A request gets statement_timeout in all.
	 */
	int64_t deadline_ms;
	/* The current request's id (X-Request-Id), for log lines; "-" until
	 * the worker has parsed it.  Owned by the request. */
	const char *request_id;
	/* coupon_strategy = queue: the number of this worker's last claim. */
	int64_t queue_seq;
};

/*
 * Work every worker would otherwise repeat, done once in the master before
 * it forks: libcrypto's digests and HMAC key (auth_crypto_preload) and the
 * SHA-1 of every Redis script.  Returns 0, or -1 when libcrypto fails.
 */
int app_prepare(const unsigned char *secret, size_t secret_len);

/*
 * Creates the app of the worker in slot, named name in pg_stat_activity
 * (strings copied by the connections).  Connects nothing yet.  Never NULL.
 */
struct app *app_create(const struct config *cfg, const unsigned char *secret,
    size_t secret_len, struct scoreboard *sb, int slot, const char *name);
/* Closes the connections and frees the app.  Accepts NULL. */
void app_free(struct app *app);

/*
 * Connects to PostgreSQL and loads the Redis scripts, so that the first
 * request does not pay for it.  Failure is not fatal: /readyz reports it
 * and requests reconnect.
 */
void app_connect(struct app *app);

/*
 * A database handle configured from cfg (timeouts, retries), named name;
 * for the workers and the reaper, whose reconnects and retries it counts
 * in slot (may be NULL).  Never NULL.
 */
struct db *app_db_create(const struct config *cfg, const char *name,
    struct scoreboard_slot *slot);

/*
 * A Redis handle configured from cfg, for the workers and the queue
 * consumers, whose reconnects and breaker openings it counts in slot.
 * Connects nothing yet.  Never NULL.
 */
struct redis *app_redis_create(const struct config *cfg,
    struct scoreboard_slot *slot);

/*
 * Starts a request: sets its deadline, on the app and the database, and
 * forgets the previous request's id (the worker sets the new one).
 */
void app_begin_request(struct app *app);

/*
 * The PostgreSQL connections one generation of cfg opens at most: each
 * worker's, a second per worker with a database_read_url (on the
 * replica, or on the primary when prefer-standby finds no standby), and
 * the reaper's (docs/architecture.md, "Processes"); the queue consumers
 * (coupon_strategy = queue) add one each.  Shown by /status.
 */
int app_db_connections(const struct config *cfg);

/* Adds one to this worker's counter c (shown by /status). */
void app_count(struct app *app, enum slot_counter c);

#endif
