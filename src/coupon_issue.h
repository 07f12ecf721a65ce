/*
 * coupon_issue: issuing one coupon of a policy to one user, the path that
 * meets the crowd (docs/coupons.md, "The path of one request"):
 *
 *   1. the worker's copy of the policy's limits (coupon_limits.c) refuses
 *      an unknown policy or a closed window;
 *   2. the Redis gate (coupon_gate.c) turns away a user it admitted before
 *      and the crowd past the total;                     (coupon_issue_admit)
 *   3. what it lets through meets the final defense, the database
 *      (coupon_strategy), which alone decides;            (coupon_issue_take)
 *   4. the gate is told what the database did: an issue is counted, an
 *      admission the database refused or failed is undone.
 * (coupon_issue_settle)
 *
 * Exactly N coupons, one per user, rests on the database alone; the gate
 * and the cache only keep the crowd away from it.  The handler
 * (api_coupon.c) runs step 3 in a transaction of its own or with its
 * Idempotency-Key, and turns the outcome into an answer: nothing here
 * writes one.
 */
#ifndef STOCKADE_COUPON_ISSUE_H
#define STOCKADE_COUPON_ISSUE_H

#include <stdint.h>

#include "app.h"
#include "db.h"
#include "json.h"

/*
 * How the database issues a coupon (coupon_strategy).  COUPON_PESSIMISTIC
 * locks the policy row FOR UPDATE, checks, increments and inserts;
 * COUPON_CONDITIONAL increments WHERE issued_quantity < total_quantity, then
 * inserts; COUPON_SHARDED splits the policy into rows of coupon_shards and
 * takes from any shard not locked by another issue, in one statement;
 * COUPON_QUEUE appends an admitted claim to a Redis stream that consumer
 * processes commit in batches (coupon_queue.h), and issues the others
 * (keyed, Redis down, not decided there) as COUPON_PESSIMISTIC does.
 */
enum coupon_strategy {
	COUPON_PESSIMISTIC,
	COUPON_CONDITIONAL,
	COUPON_SHARDED,
	COUPON_QUEUE,
	COUPON_STRATEGY__MAX
};

/* "pessimistic", "conditional", "sharded" and "queue", as in the config
 * file. */
extern const char *const coupon_strategy_names[COUPON_STRATEGY__MAX];

/* The most ways coupon_strategy = sharded may split a policy (coupon_shards):
 * sql/005's CHECK (shards BETWEEN 0 AND 64). */
#define COUPON_SHARDS_MAX 64

enum coupon_issue_result {
	COUPON_UNDECIDED, /* no answer yet: go on (or the database failed) */
	COUPON_ISSUED, /* a new coupon, written to the caller's writer */
	COUPON_REPLAYED, /* (the handler's) an Idempotency-Key's stored 201 */
	COUPON_NOT_FOUND, /* no such policy */
	COUPON_NOT_OPEN, /* outside the policy's window */
	COUPON_ALREADY_ISSUED, /* the user holds one */
	COUPON_SOLD_OUT, /* every coupon issued */
	/* (coupon_issue_admit) the gate knows the user and the request
	 * carries an Idempotency-Key: the handler answers from the key's
	 * stored row if there is one, else calls coupon_issue_bypass */
	COUPON_KNOWN_KEYED,
	/* (the handler's) 409 request_in_progress: a request with the same
	 * key is running and may issue the user's coupon */
	COUPON_IN_PROGRESS,
	COUPON_ISSUE_RESULT__MAX
};

/* One issue, from the gate to the settlement. */
struct coupon_issue {
	struct app *app;
	int64_t policy_id, user_id;
	char policy[DB_I64_LEN], user[DB_I64_LEN]; /* as parameters */
	int keyed; /* the request carries an Idempotency-Key */
	int admitted; /* the gate counted this request */
	int redis_down; /* the gate found Redis unreachable or failing */
	int64_t total; /* the policy's, as the gate saw it */
	enum coupon_issue_result result;
};

/* Starts an issue of policy_id to user_id by the worker's app. */
void coupon_issue_init(struct coupon_issue *ci, struct app *app,
    int64_t policy_id, int64_t user_id);

/*
 * Steps 1 and 2.  keyed: the request carries an Idempotency-Key, so a
 * user the gate knows is not refused already_issued: ci->result is
 * COUPON_KNOWN_KEYED, and the handler looks for the key's stored answer
 * (a retry of a claim that issued), then goes on with coupon_issue_bypass.
 * Returns DB_OK with ci->result COUPON_UNDECIDED when the issue goes on to
 * step 3 (ci->admitted says whether the gate counted it), KNOWN_KEYED, or
 * a refusal (NOT_FOUND, NOT_OPEN, ALREADY_ISSUED, SOLD_OUT) decided
 * without the database's transaction; any other status is a failure to
 * read the policy's limits.  Counts the gate's counters.
 */
enum db_status coupon_issue_admit(struct coupon_issue *ci, int keyed);

/*
 * Sends a COUPON_KNOWN_KEYED issue on to step 3 without the gate (counted
 * as bypassed): its key had no stored answer and the user no coupon, so
 * the key's twin may still be running, which the key's lock tells.
 */
void coupon_issue_bypass(struct coupon_issue *ci);

/*
 * Predicate: is step 3 one statement that commits by itself
 * (coupon_strategy = sharded)?  Then, with no Idempotency-Key to store
 * with it, coupon_issue_take needs no transaction: one round trip.
 */
int coupon_issue_one_statement(const struct app *app);

/*
 * Step 3, on db: in the caller's transaction, or, when
 * coupon_issue_one_statement, as statements of their own.  Returns DB_OK
 * with ci->result COUPON_ISSUED (the coupon as JSON written to w) or a
 * refusal (NOT_FOUND, NOT_OPEN, ALREADY_ISSUED, SOLD_OUT: nothing written,
 * and rolling the transaction back is the caller's); any other status is a
 * failure (DB_RETRY: every shard stayed busy, try the transaction again).
 */
enum db_status coupon_issue_take(struct db *db, struct coupon_issue *ci,
    struct json_writer *w);

/*
 * Step 4: tells the gate what became of the issue, st being the status of
 * step 3 (its transaction included) and ci->result its outcome, which the
 * caller sets to COUPON_REPLAYED for a stored answer, COUPON_IN_PROGRESS
 * for 409 request_in_progress and COUPON_UNDECIDED when the answer was not
 * step 3's (another problem with the key).  An admission that did not
 * issue gives its count back; it takes the user out of the gate's set only
 * when no request of the user can have issued meanwhile (docs/coupons.md,
 * "compensation").  A DB_UNKNOWN (the outcome lost with the connection) is
 * decided by one read of the database: a coupon held counts as issued.
 */
void coupon_issue_settle(struct coupon_issue *ci, enum db_status st);

/*
 * Readies a new policy for issues: split at once under coupon_strategy =
 * sharded, so that its first issues need not race to do it, and its gate
 * built (empty) so that they need not rebuild it.  Failures are only
 * logged: the first issues do either then.
 */
void coupon_issue_prepare(struct app *app, int64_t policy_id, int64_t total);

#endif
