/*
 * point: point balances and their ledger.  Every change of a balance goes
 * through point_move, which writes the ledger row in the same statement as
 * the balance, with the configured strategy (optimistic, pessimistic,
 * conditional), so balance = sum of ledger holds at every commit.
 */
#ifndef STOCKADE_POINT_H
#define STOCKADE_POINT_H

#include <stdint.h>

#include "db.h"
#include "json.h"

/*
 * How a balance moves (point_strategy).  POINT_OPTIMISTIC updates WHERE
 * version = $v and retries the transaction on a conflict; POINT_PESSIMISTIC
 * locks the account FOR UPDATE; POINT_CONDITIONAL updates balance = balance
 * + d WHERE the result stays in bounds.
 */
enum point_strategy {
	POINT_OPTIMISTIC,
	POINT_PESSIMISTIC,
	POINT_CONDITIONAL,
	POINT_STRATEGY__MAX
};

/* "optimistic", "pessimistic" and "conditional", as in the config file. */
extern const char *const point_strategy_names[POINT_STRATEGY__MAX];

enum point_kind { POINT_CHARGE, POINT_USE, POINT_REFUND, POINT_KIND__MAX };

extern const char *const point_kind_names[POINT_KIND__MAX];

/* What came of a move. */
enum point_result {
	POINT_MOVED, /* done: balance is the balance after it */
	POINT_INSUFFICIENT, /* it would take the balance below 0 */
	POINT_OVER_LIMIT, /* it would take the balance past max_balance */
	/* The balance moved under us (optimistic: the version changed; or
	 * conditional: a refusal that a second read could not explain):
	 * nothing was changed; the caller reruns its whole transaction. */
	POINT_CONFLICT,
	POINT_RESULT__MAX
};

extern const char *const point_result_names[POINT_RESULT__MAX];

struct point_move {
	int64_t user_id;
	int64_t delta; /* positive for charge and refund */
	enum point_kind kind;
	int64_t order_id; /* 0 for a charge */
	int64_t max_balance;
	/* out: the balance after the move; on a refusal, the balance found */
	int64_t balance;
};

/*
 * Applies m inside the caller's transaction, with strategy (enum
 * point_strategy, config.h); a retry it makes itself starts no later than
 * deadline_ms (retry.h).  Returns DB_OK with *result set, or a database
 * failure.  On a refusal or a conflict nothing was moved, but earlier
 * statements of the transaction stand: rolling back is the caller's.
 */
enum db_status point_move(struct db *db, int strategy, int64_t deadline_ms,
    struct point_move *m, enum point_result *result);

/* The user's balance (0 for an account not opened yet). */
enum db_status point_balance(struct db *db, int64_t user_id, int64_t *balance);

/*
 * Writes up to limit ledger entries of the user with ids below after,
 * newest first, into w as values of the array the caller opened, and sets
 * *n and *last_id (a page_list_fn of page.h).
 */
enum db_status point_history(struct db *db, int64_t user_id, int64_t after,
    int64_t limit, struct json_writer *w, int64_t *n, int64_t *last_id);

#endif
