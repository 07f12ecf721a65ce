/*
 * scoreboard: what every worker is doing, in shared memory, like php-fpm's
 * fpm_scoreboard.  One fixed-size slot per worker; the master writes a
 * slot's pid and restart count when it spawns into it, the worker writes the
 * rest, so each field has exactly one writer.  Readers (/status, the master)
 * may see a field mid-update; the values are for humans and never decide
 * anything that must be exact.
 */
#ifndef STOCKADE_SCOREBOARD_H
#define STOCKADE_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

#define SCOREBOARD_REQUEST_MAX 96
#define SCOREBOARD_REQUEST_ID_MAX 65 /* HTTP_REQUEST_ID_MAX + 1 */

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
 * Counters for the process in a slot, reset when it is replaced, shown by
 * /status per worker and summed.
 */
enum slot_counter {
	/* transactions retried after SQLSTATE 40001/40P01 */
	COUNTER_DB_RETRIES,
	/* optimistic point conflicts (each retried, or answered 409) */
	COUNTER_POINT_CONFLICTS,
	/* optimistic point moves whose retries were spent, run once more
	 * under the row lock (FOR UPDATE) instead of answering 409 */
	COUNTER_POINT_LOCK_FALLBACKS,
	/* coupon requests the gate let through to the database */
	COUNTER_COUPON_GATE_PASSED,
	/* coupon requests the gate answered alone: they never reached
	 * PostgreSQL */
	COUNTER_COUPON_GATE_REFUSED,
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
	SLOT_COUNTER__MAX
};

/* The counters' names in /status, by index. */
extern const char *const slot_counter_names[SLOT_COUNTER__MAX];

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
	char request[SCOREBOARD_REQUEST_MAX]; /* "GET /path", escaped */
	char request_id[SCOREBOARD_REQUEST_ID_MAX]; /* of that request */
};

struct scoreboard {
	int nslots;
	int64_t started_ms; /* master start, wall clock */
	/*
	 * Pool counters since the master started, one writer each: requests
	 * the reaper logged past slow_request, and workers the master killed
	 * past request_timeout (watchdog.h).
	 */
	volatile uint64_t slow_requests;
	volatile uint64_t request_timeouts;
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

#endif
