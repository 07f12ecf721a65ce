/*
 * stock: taking units of product options for an order and giving them back,
 * with the configured strategy.  Every change of stock here is matched by a
 * stock_movements row written in the same transaction (by the caller for
 * reservations, since the movement names the order; here for restores), so
 * stock = sum of movements holds at every commit.
 *
 * Lock order, to keep deadlocks out: option rows are always locked in
 * ascending id order, and a transaction that locks an order locks it before
 * its options.
 */
#ifndef STOCKADE_STOCK_H
#define STOCKADE_STOCK_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "http.h"

struct stock_item {
	int64_t option_id;
	int64_t quantity;
	int64_t unit_price; /* filled by stock_reserve */
};

/*
 * Formats ids as a PostgreSQL array literal ("{1,2,3}") into buf.
 * Returns 0, or -1 if it does not fit.
 */
int stock_format_ids(char *buf, size_t len, const int64_t *ids, size_t n);

/*
 * Takes the units of items (distinct options, sorted by option_id) inside
 * the caller's transaction, and fills each unit_price.  strategy is a
 * STOCK_* value.  Returns DB_OK; DB_ABORT after writing 404
 * option_not_found or 409 out_of_stock into res (nothing may commit); or a
 * database failure.
 */
enum db_status stock_reserve(struct db *db, int strategy,
    struct stock_item *items, size_t n, struct response *res);

/*
 * Gives back every unit of the orders named by order_ids (an array
 * literal), recording movements with reason ("cancel" or "expire").  The
 * caller must have moved the orders out of 'pending' in this transaction,
 * which is what makes a second restore impossible.
 */
enum db_status stock_restore(struct db *db, const char *order_ids,
    const char *reason);

#endif
