/*
 * stock: taking units of product options for an order and giving them back,
 * with the configured strategy.  Every change of stock here is matched by a
 * stock_movements row written in the same transaction (by the caller for
 * reservations, since the movement names the order; here for restores), so
 * stock = sum of movements holds at every commit.
 *
 * Lock order, to keep deadlocks out: option rows are always locked in
 * ascending id order, and a transaction that locks an order locks it before
 * its options.  The redis_lock strategy takes its Redis locks in the same
 * order, before the transaction.
 */
#ifndef STOCKADE_STOCK_H
#define STOCKADE_STOCK_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "redis_lock.h"

/*
 * How an order takes stock (stock_strategy).  STOCK_PESSIMISTIC locks the
 * options FOR UPDATE in ascending id order, checks, then deducts;
 * STOCK_CONDITIONAL runs one UPDATE ... SET stock = stock - q WHERE stock >=
 * q and rolls the whole order back if any item was short; STOCK_REDIS_LOCK
 * takes a Redis lock per option before the transaction, whose UPDATE is the
 * conditional one, to measure waiting in Redis against waiting on
 * PostgreSQL's row locks.
 */
enum stock_strategy {
	STOCK_PESSIMISTIC,
	STOCK_CONDITIONAL,
	STOCK_REDIS_LOCK,
	STOCK_STRATEGY__MAX
};

/* "pessimistic", "conditional", "redis_lock", as in the config file. */
extern const char *const stock_strategy_names[STOCK_STRATEGY__MAX];

/* The most options one reservation takes: the lines of one order. */
#define STOCK_ITEMS_MAX 50

/*
 * Room for the array literal of n ids (stock_format_ids): each of at most
 * DB_I64_LEN - 1 characters and its ',' or '}', then '{' and the NUL.
 */
#define STOCK_ARRAY_LEN(n) ((size_t)(n)*DB_I64_LEN + 2)

struct stock_item {
	int64_t option_id;
	int64_t quantity;
	int64_t unit_price; /* filled by stock_reserve */
};

/* What came of a reservation. */
enum stock_result {
	STOCK_TAKEN, /* every unit taken; unit prices filled */
	STOCK_SHORT, /* an option has fewer units than asked for */
	STOCK_UNKNOWN_OPTION, /* an option does not exist */
	STOCK_RESULT__MAX
};

extern const char *const stock_result_names[STOCK_RESULT__MAX];

/* Which option refused a reservation, and why. */
struct stock_shortage {
	/* The first short or unknown option, by id; 0 for a STOCK_SHORT
	 * whose option is not known: it ran out between the conditional
	 * UPDATE and the read that looks for it. */
	int64_t option_id;
	int64_t available; /* its units left (STOCK_SHORT) */
	int64_t requested; /* the units asked for */
};

/*
 * Formats ids as a PostgreSQL array literal ("{1,2,3}") into buf.
 * Returns 0, or -1 if it does not fit.
 */
int stock_format_ids(char *buf, size_t len, const int64_t *ids, size_t n);

/*
 * What a pessimistic reservation may leave to its caller: the deduction of
 * the units from the options it has locked and checked, for the caller to
 * send with the statements that follow it (db_query_last), so the locks are
 * held for fewer round trips.  stmt NULL: nothing left to do.
 */
struct stock_deduction {
	const struct db_stmt *stmt;
	char ids[STOCK_ARRAY_LEN(STOCK_ITEMS_MAX)];
	char qtys[STOCK_ARRAY_LEN(STOCK_ITEMS_MAX)];
	const char *params[2];
};

/*
 * Takes the units of items (at most STOCK_ITEMS_MAX distinct options,
 * sorted by option_id) inside the caller's transaction, and fills each
 * unit_price.  strategy is an enum stock_strategy (config.h).  Returns
 * DB_OK with *result set (and *shortage, on a refusal), or a database
 * failure.  On a refusal the conditional UPDATE may have taken some units
 * already: rolling back is the caller's.  With later, a pessimistic
 * reservation that found enough leaves the deduction in *later instead of
 * running it (later->stmt NULL otherwise); the caller must run it.
 */
enum db_status stock_reserve(struct db *db, int strategy,
    struct stock_item *items, size_t n, enum stock_result *result,
    struct stock_shortage *shortage, struct stock_deduction *later);

/*
 * Gives back every unit of the orders named by order_ids (an array
 * literal), recording movements with reason ("cancel" or "expire").  The
 * caller must have moved the orders out of 'pending' in this transaction,
 * which is what makes a second restore impossible.
 */
enum db_status stock_restore(struct db *db, const char *order_ids,
    const char *reason);

/*
 * stock_strategy = redis_lock: takes one Redis lock per option of items
 * (sorted by option_id), each for ttl_ms, waiting up to wait_ms in all
 * (redis_lock_take), so that orders of one option queue in Redis rather
 * than on its row lock.  Release what it held with redis_lock_release.
 */
enum redis_lock_status stock_lock_options(struct redis *redis,
    const struct stock_item *items, size_t n, int ttl_ms, int wait_ms,
    struct redis_locks *locks);

#endif
