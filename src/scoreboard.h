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

enum worker_state {
	WORKER_EMPTY, /* no process in the slot */
	WORKER_STARTING, /* forked, connecting */
	WORKER_IDLE, /* waiting in accept */
	WORKER_BUSY, /* serving a request */
	WORKER_STOPPING, /* finishing before exit */
	WORKER_STATE__MAX
};

extern const char *const worker_state_names[WORKER_STATE__MAX];

struct scoreboard_slot {
	volatile pid_t pid;
	volatile int state; /* enum worker_state */
	volatile uint64_t requests; /* served by the current process */
	volatile uint64_t restarts; /* times the slot was respawned */
	volatile int64_t started_ms; /* wall clock, process start */
	volatile int64_t request_started_ms;
	/* Counters for the process in the slot, reset when it is replaced:
	 * transactions retried after SQLSTATE 40001/40P01, and optimistic
	 * point conflicts (each one retried, or answered 409 conflict). */
	volatile uint64_t db_retries;
	volatile uint64_t point_conflicts;
	char request[SCOREBOARD_REQUEST_MAX]; /* "GET /path", escaped */
};

struct scoreboard {
	int nslots;
	int64_t started_ms; /* master start, wall clock */
	struct scoreboard_slot slots[];
};

/* Maps a zeroed shared anonymous region for nslots; NULL on failure. */
struct scoreboard *scoreboard_create(int nslots);
void scoreboard_free(struct scoreboard *sb); /* accepts NULL */

/* Wall-clock milliseconds, the unit of every time in the scoreboard. */
int64_t scoreboard_now_ms(void);

#endif
