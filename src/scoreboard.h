/*
 * scoreboard: what every worker is doing, in shared memory, like php-fpm's
 * fpm_scoreboard.  One fixed-size slot per worker; the master writes a
 * slot's pid and restart count when it spawns into it, the worker writes the
 * rest, so each field has exactly one writer.  Readers (/status, /metrics,
 * the master) may see a field mid-update; the values are for humans and
 * monitors, and never decide anything that must be exact.
 *
 * Counters are monotonic for the pool, as Prometheus wants a *_total: the
 * counters and the per-route request counts belong to the slot, not to the
 * process in it, and are never reset: a respawned worker carries on from
 * where its predecessor stopped.  (The alternative, the master folding a
 * dead slot's counts into a pool total before the slot is reused, leaves a
 * window where a reader sees them twice or not at all, and a *_total that
 * goes down is read as a restart.)  What is per process, php-fpm's way, is
 * said so below: `requests`, `started_ms`, the current request.  A reload
 * (SIGHUP) starts a generation with a scoreboard of its own: the master
 * carries the older one's totals into it (`carried`, scoreboard_carry), so
 * the pool's totals go on across reloads too.  A new master (a restart, or
 * a SIGUSR2 upgrade) starts from zero, which Prometheus sees as the reset
 * it is (stockade_start_time_seconds changes with it).
 */
#ifndef STOCKADE_SCOREBOARD_H
#define STOCKADE_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

#define SCOREBOARD_REQUEST_MAX 96
#define SCOREBOARD_REQUEST_ID_MAX 65 /* HTTP_REQUEST_ID_MAX + 1 */
/*
 * Routes counted per slot: the route table's entries, by index, and the
 * last entry for requests answered before any route matched (a 404, a bad
 * request, a client gone).  The table must stay shorter than
 * SCOREBOARD_ROUTE_NONE; t/check_route.c checks.
 */
#define SCOREBOARD_ROUTES_MAX 32
#define SCOREBOARD_ROUTE_NONE (SCOREBOARD_ROUTES_MAX - 1)
/* Status classes counted: 1xx .. 5xx, by status / 100 - 1. */
#define SCOREBOARD_CLASSES 5
/*
 * Latency buckets: the upper bounds of scoreboard_bucket_us, then one for
 * everything slower (Prometheus's le="+Inf").
 */
#define SCOREBOARD_BUCKETS 14

enum worker_state {
	WORKER_EMPTY, /* no process in the slot */
	WORKER_STARTING, /* forked, connecting */
	WORKER_IDLE, /* waiting in accept */
	WORKER_BUSY, /* serving a request */
	WORKER_STOPPING, /* finishing before exit */
	WORKER_STATE__MAX
};

extern const char *const worker_state_names[WORKER_STATE__MAX];

/*
 * Counters of a slot, kept across the processes that occupy it (see the
 * top of this file), shown by /status per worker and summed, and by
 * /metrics summed.
 */
enum slot_counter {
	/* transactions retried after SQLSTATE 40001/40P01 (both below) */
	COUNTER_DB_RETRIES,
	/* ... of them after 40001 serialization_failure */
	COUNTER_DB_RETRIES_40001,
	/* ... of them after 40P01 deadlock_detected */
	COUNTER_DB_RETRIES_40P01,
	/* PostgreSQL connections opened to replace a previous one */
	COUNTER_DB_RECONNECTS,
	/* reads served by the read replica (database_read_url) */
	COUNTER_DB_REPLICA_READS,
	/* reads sent to the primary: the replica lagged past
	 * database_read_max_lag */
	COUNTER_DB_REPLICA_LAGGING,
	/* reads sent to the primary: the read connection was down, or the
	 * read failed on it */
	COUNTER_DB_REPLICA_FAILED,
	/* Redis connections opened to replace a previous one */
	COUNTER_REDIS_RECONNECTS,
	/* stored answers to an Idempotency-Key sent again */
	COUNTER_IDEMPOTENT_REPLAYS,
	/* optimistic point conflicts (each retried, or answered 409) */
	COUNTER_POINT_CONFLICTS,
	/* optimistic point moves whose retries were spent, run once more
	 * under the row lock (FOR UPDATE) instead of answering 409 */
	COUNTER_POINT_LOCK_FALLBACKS,
	/* coupon requests the gate let through to the database */
	COUNTER_COUPON_GATE_PASSED,
	/* coupon requests the gate answered alone: they never reached
	 * PostgreSQL (the three below) */
	COUNTER_COUPON_GATE_REFUSED,
	/* ... of them sold out */
	COUNTER_COUPON_GATE_SOLD_OUT,
	/* ... of them from a user who holds one already */
	COUNTER_COUPON_GATE_ALREADY_ISSUED,
	/* ... of them outside the policy's window */
	COUNTER_COUPON_GATE_NOT_OPEN,
	/* coupon_strategy = queue: claims a queue consumer answered */
	COUNTER_COUPON_QUEUE_ANSWERED,
	/* ... claims issued directly: Redis did not take them, or a consumer
	 * left them undecided */
	COUNTER_COUPON_QUEUE_DIRECT,
	/* ... claims whose answer did not come in time, taken over by their
	 * worker on the direct path */
	COUNTER_COUPON_QUEUE_TAKEOVERS,
	/* ... batches the consumers committed, and the claims in them */
	COUNTER_COUPON_QUEUE_BATCHES,
	COUNTER_COUPON_QUEUE_CLAIMS,
	/* coupon requests sent to the database without the gate (gate off,
	 * Redis down, or the gate not built yet) */
	COUNTER_COUPON_GATE_BYPASSED,
	/* issue transactions run in PostgreSQL */
	COUNTER_COUPON_DB_ATTEMPTS,
	/* gates this worker rebuilt from the database */
	COUNTER_COUPON_GATE_REBUILDS,
	/* admissions undone after the database refused or failed */
	COUNTER_COUPON_GATE_COMPENSATIONS,
	/* keyed claims of a user the gate knows, answered by one indexed
	 * read of the key (replayed, 422, or already_issued) */
	COUNTER_COUPON_KEYED_READS,
	/* times this worker's Redis circuit breaker opened (a failure or a
	 * timeout, or a failed probe): Redis not asked for redis_cooldown */
	COUNTER_REDIS_BREAKER_OPENS,
	/* pending orders the reaper expired (their stock given back) */
	COUNTER_ORDERS_EXPIRED,
	/* coupons the reaper marked expired */
	COUNTER_COUPONS_EXPIRED,
	SLOT_COUNTER__MAX
};

/* The counters' names in /status, by index. */
extern const char *const slot_counter_names[SLOT_COUNTER__MAX];

/* The upper bounds of the latency buckets, in microseconds, ascending. */
extern const int64_t scoreboard_bucket_us[SCOREBOARD_BUCKETS - 1];

/* One route's requests in one slot; never reset (see above). */
struct scoreboard_route {
	volatile uint64_t requests[SCOREBOARD_CLASSES]; /* by status class */
	volatile uint64_t buckets[SCOREBOARD_BUCKETS]; /* not cumulative */
	volatile uint64_t duration_us; /* the sum of their durations */
};

struct scoreboard_slot {
	volatile pid_t pid;
	volatile int state; /* enum worker_state */
	volatile uint64_t requests; /* served by the current process */
	volatile uint64_t restarts; /* times the slot was respawned */
	volatile int64_t started_ms; /* wall clock, process start */
	volatile int64_t request_started_ms;
	/*
	 * For the watchdog (watchdog.h).  The worker counts its requests in
	 * request_seq (never reset, so a request is known by its slot and
	 * number across respawns), and sets it before the other fields of a
	 * new request: a reader that sees the same number before and after
	 * reading them has one request's fields.  request_clock_ms is the
	 * request's start on the monotonic clock (clock_ms), which a time
	 * step cannot move; db_backend_pid is the PostgreSQL backend of the
	 * worker's connection as the request started (0: none).
	 */
	volatile uint64_t request_seq;
	volatile int64_t request_clock_ms;
	volatile int db_backend_pid;
	/* The last request_seq the master killed and the reaper logged as
	 * slow: each writes its own, so each acts once per request. */
	volatile uint64_t killed_seq;
	volatile uint64_t slow_seq;
	volatile uint64_t counters[SLOT_COUNTER__MAX];
	/* "GET /path", escaped: the current request, or the last one */
	char request[SCOREBOARD_REQUEST_MAX];
	char request_id[SCOREBOARD_REQUEST_ID_MAX]; /* of that request */
	/* The last finished request of the current process: when it ended
	 * (wall clock; 0: none yet) and how long it took. */
	volatile int64_t request_ended_ms;
	volatile int64_t last_duration_us;
	struct scoreboard_route routes[SCOREBOARD_ROUTES_MAX];
};

/*
 * What a scoreboard's slots add up to: the counters and requests of every
 * slot, the restarts of the workers' slots and of the reaper's (the last
 * slot), and the scoreboard's own pool counts.
 */
struct scoreboard_totals {
	uint64_t counters[SLOT_COUNTER__MAX];
	struct scoreboard_route routes[SCOREBOARD_ROUTES_MAX];
	uint64_t worker_restarts;
	uint64_t reaper_restarts;
	uint64_t slow_requests;
	uint64_t request_timeouts;
};

struct scoreboard {
	int nslots;
	/* The last slots, after the reaper's: the queue consumers
	 * (coupon_strategy = queue), whose restarts count as workers'. */
	int consumers;
	int64_t started_ms; /* master start, wall clock */
	/*
	 * Pool counters of this generation, one writer each: requests the
	 * reaper logged past slow_request, and workers the master killed past
	 * request_timeout (watchdog.h).  Older generations' are in carried.
	 */
	volatile uint64_t slow_requests;
	volatile uint64_t request_timeouts;
	/* The older generations' totals, written by the master only. */
	struct scoreboard_totals carried;
	/*
	 * The most requests waiting in the listen queue at once, and the most
	 * workers busy at once, since the start.  The master samples the
	 * queue once a second (as php-fpm does); a worker turning busy
	 * raises active_max (scoreboard_busy), the one field with several
	 * writers, hence atomic.
	 */
	volatile uint32_t listen_queue_max;
	uint32_t active_max; /* __atomic_* only */
	struct scoreboard_slot slots[];
};

/* A copy of the request a slot is serving (scoreboard_request_get). */
struct scoreboard_request {
	uint64_t seq;
	pid_t pid;
	int64_t clock_ms; /* its start, monotonic */
	int db_backend_pid;
	char request[SCOREBOARD_REQUEST_MAX];
	char request_id[SCOREBOARD_REQUEST_ID_MAX];
};

/*
 * Copies the request slot is serving into out, from another process.
 * Returns 1 when the slot is busy and the copy is of one request (its
 * number did not change while it was read), else 0.
 */
int scoreboard_request_get(const struct scoreboard_slot *slot,
    struct scoreboard_request *out);

/* Maps a zeroed shared anonymous region for nslots; NULL on failure. */
struct scoreboard *scoreboard_create(int nslots);
void scoreboard_free(struct scoreboard *sb); /* accepts NULL */

/* Wall-clock milliseconds, the unit of every time in the scoreboard. */
int64_t scoreboard_now_ms(void);

/*
 * The bucket of a request that took duration_us: the first bound it does
 * not exceed, or SCOREBOARD_BUCKETS - 1 (+Inf).  Pure.
 */
int scoreboard_bucket(int64_t duration_us);

/*
 * Counts one finished request in slot: its route (an index of the route
 * table; SCOREBOARD_ROUTE_NONE for one out of range, such as -1), its
 * status class (anything outside 100..599 as a 5xx) and its duration, and
 * remembers it as the slot's last request.  A handful of stores, no
 * allocation.
 */
void scoreboard_observe(struct scoreboard_slot *slot, int route, int status,
    int64_t duration_us);

/*
 * Marks slot i busy (state WORKER_BUSY) and raises active_max to the number
 * of worker slots (the first nworkers) busy now, if higher.
 */
void scoreboard_busy(struct scoreboard *sb, int i, int nworkers);

/*
 * Sets *t to what sb holds in all: its slots (the reaper's the last but
 * the queue consumers'), plus
 * what was carried into it.
 */
void scoreboard_total(const struct scoreboard *sb, struct scoreboard_totals *t);

/*
 * Adds add, less sub (NULL: nothing), to what sb carries: the master
 * carries an older generation's totals into the newest (docs/operations.md,
 * "Metrics reference").
 */
void scoreboard_carry(struct scoreboard *sb,
    const struct scoreboard_totals *add, const struct scoreboard_totals *sub);

/* Raises active_max to n, if lower (atomically: it has several writers). */
void scoreboard_raise_active_max(struct scoreboard *sb, uint32_t n);

/* The number of the first nworkers slots in state. */
int scoreboard_count_state(const struct scoreboard *sb, int nworkers,
    enum worker_state state);

#endif
