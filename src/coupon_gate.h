/*
 * coupon_gate: the Redis side of the coupon issue path, a filter in front of
 * the database that is never its source of truth.
 *
 * Per policy ID three keys share the hash tag {coupon:ID}, named by
 * coupon_gate_key (so a Redis Cluster keeps them in one slot, on one node,
 * and each script touches one slot): ":users", the set of users admitted;
 * ":requests", the admissions counted against the policy's total; ":issued",
 * bumped on each real issue in the database.  ":run" holds the run_id of the
 * Redis server the gate was built on, and ":lock" serialises rebuilds.
 *
 * A gate whose ":requests" key is missing, or whose ":run" differs from the
 * server's run_id (Redis restarted, flushed, or came back from an older
 * snapshot), is "cold": it must be rebuilt from the database before it may
 * turn anyone away, and until then requests go to the database.
 *
 * The slots gate (coupon_gate = slots) keeps a list ":slots" of one entry
 * per coupon not yet issued instead of the counter: an admission pops one
 * (LPOP), an undo pushes it back, and ":slots_run" marks it built.  It
 * gives the same answers as the counter with memory that grows with the
 * total, and is kept so that the two can be measured against each other
 * (docs/benchmarks.md).  Every function below takes slots = 1 for it.
 *
 * The scripts are redis/coupon_gate_*.lua.
 */
#ifndef STOCKADE_COUPON_GATE_H
#define STOCKADE_COUPON_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

/*
 * What stands in front of the database on the coupon issue path
 * (coupon_gate): GATE_REDIS, the Lua dedupe-and-count script; GATE_OFF,
 * every request goes to the database; GATE_SLOTS, the Lua dedupe and a list
 * of one entry per coupon left, popped per admission.
 */
enum coupon_gate_kind { GATE_REDIS, GATE_OFF, GATE_SLOTS, GATE_KIND__MAX };

/* "redis", "off" and "slots", as in the config file. */
extern const char *const coupon_gate_names[GATE_KIND__MAX];

enum coupon_gate_verdict {
	COUPON_GATE_PASS, /* admitted: counted and added to the set */
	COUPON_GATE_ALREADY, /* the user was admitted before */
	COUPON_GATE_SOLD_OUT, /* the counter reached the total */
	COUPON_GATE_COLD, /* the gate must be rebuilt first */
	COUPON_GATE_DOWN, /* Redis unreachable or failing */
	COUPON_GATE_VERDICT__MAX
};

/* How an admission is undone after the database did not issue. */
enum coupon_undo {
	COUPON_UNDO_REFUSED, /* remove the user, give the count back */
	COUPON_UNDO_KEEP_USER, /* the user holds a coupon: count back only */
	COUPON_UNDO_SOLD_OUT, /* remove the user; the counter to the total */
	/* the counter to the total; the user holds a coupon: stays */
	COUPON_UNDO_SOLD_OUT_KEEP_USER,
	COUPON_UNDO__MAX
};

/*
 * Writes the name of one of policy's keys, "{coupon:ID}:SUFFIX" (redis_key:
 * the tag {coupon:ID} keeps all of a policy's keys in one Redis Cluster
 * slot, as every script of the gate needs), into buf of len bytes
 * (REDIS_KEY_MAX), and returns buf.  Any new key of a policy is named here.
 */
const char *coupon_gate_key(char *buf, size_t len, int64_t policy,
    const char *suffix);

/* Loads the scripts (at worker start; EVALSHA falls back to EVAL anyway). */
void coupon_gate_load(struct redis *redis);
/* Hashes every script of the gate and of redis_lock (the master, once). */
void coupon_gate_hash_scripts(void);

/* The Lua gate: dedupe by user, then count against total. */
enum coupon_gate_verdict coupon_gate_admit(struct redis *redis, int slots,
    int64_t policy, int64_t user, int64_t total);

/*
 * Undoes an admission of user.  A gate rebuilt since (another run_id) is
 * left alone: the admission being undone was never counted in it.
 * Returns 0, or -1 when Redis could not be told.
 */
int coupon_gate_undo(struct redis *redis, int slots, int64_t policy,
    int64_t user, enum coupon_undo how, int64_t total);

/*
 * Lowers the admission counter to issued when it has reached total, i.e.
 * the gate turns everyone away, yet the database has issued fewer (the
 * slots gate: refills its empty list in batches, holding ":lock").
 * Returns 1 if lowered, 0 if not (the gate changed meanwhile, or another
 * worker holds ":lock"), -1 on error.
 */
int coupon_gate_lower(struct redis *redis, int slots, int64_t policy,
    int64_t issued, int64_t total);

/* Counts one real issue (":issued"); Redis being down is not an error. */
void coupon_gate_count_issued(struct redis *redis, int64_t policy);

/*
 * Rebuilding, by one worker at a time: begin takes ":lock" for a few
 * seconds (returns 1 if this caller holds it, 0 if another does, -1 when
 * Redis fails) and empties the gate; add puts issued users in the set (and
 * extends the lock); end sets the counters to count (or fills ":slots" with
 * total - count entries), stamps the run, which makes the gate warm, and
 * releases the lock.
 */
int coupon_gate_rebuild_begin(struct redis *redis, int slots, int64_t policy);
int coupon_gate_rebuild_add(struct redis *redis, int64_t policy,
    const int64_t *users, size_t n);
int coupon_gate_rebuild_end(struct redis *redis, int slots, int64_t policy,
    int64_t count, int64_t total);
/* Gives up a rebuild: releases the lock, leaving the gate cold. */
void coupon_gate_rebuild_abort(struct redis *redis, int64_t policy);

#endif
