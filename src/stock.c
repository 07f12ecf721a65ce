/*
 * stock: see stock.h.
 */
#include "stock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "api.h"
#include "queries.h"

#define STOCK_ARRAY_MAX 2048 /* 50 ids of up to 20 digits, and commas */

int stock_format_ids(char *buf, size_t len, const int64_t *ids, size_t n)
{
	size_t used = 0;
	int r;

	if (n == 0)
		return snprintf(buf, len, "{}") < (int)len ? 0 : -1;
	for (size_t i = 0; i <= n; i++) {
		if (i == n)
			r = snprintf(buf + used, len - used, "}");
		else
			r = snprintf(buf + used, len - used, "%s%" PRId64,
			    i == 0 ? "{" : ",", ids[i]);
		if (r < 0 || (size_t)r >= len - used)
			return -1;
		used += (size_t)r;
	}
	return 0;
}

/* The two array parameters (ids, quantities) of a reservation. */
static int stock_format_items(const struct stock_item *items, size_t n,
    char *ids, char *qtys)
{
	int64_t a[64], b[64];

	if (n > 64)
		return -1;
	for (size_t i = 0; i < n; i++) {
		a[i] = items[i].option_id;
		b[i] = items[i].quantity;
	}
	if (stock_format_ids(ids, STOCK_ARRAY_MAX, a, n) < 0 ||
	    stock_format_ids(qtys, STOCK_ARRAY_MAX, b, n) < 0)
		return -1;
	return 0;
}

static struct stock_item *stock_find(struct stock_item *items, size_t n,
    int64_t id)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].option_id == id)
			return &items[i];
	}
	return NULL;
}

/*
 * Compares rows (id, price, stock) with items: the first missing option
 * gives 404, the first short one 409.  Fills prices.  Returns DB_OK or
 * DB_ABORT with the problem written.
 */
static enum db_status stock_check(PGresult *r, struct stock_item *items,
    size_t n, struct response *res)
{
	char detail[160];

	for (size_t i = 0; i < n; i++)
		items[i].unit_price = -1;
	for (int row = 0; row < PQntuples(r); row++) {
		struct stock_item *it = stock_find(items, n,
		    strtoll(PQgetvalue(r, row, 0), NULL, 10));
		int64_t stock = strtoll(PQgetvalue(r, row, 2), NULL, 10);

		if (it == NULL)
			continue;
		it->unit_price = strtoll(PQgetvalue(r, row, 1), NULL, 10);
		if (stock < it->quantity) {
			struct json_writer *w;

			snprintf(detail, sizeof(detail),
			    "option %" PRId64 " has %" PRId64 " left; %" PRId64
			    " requested",
			    it->option_id, stock, it->quantity);
			w = problem_begin(res, 409, "out_of_stock", detail);
			json_member_int(w, "option_id", it->option_id);
			json_member_int(w, "available", stock);
			problem_end(res);
			return DB_ABORT;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].unit_price < 0) {
			snprintf(detail, sizeof(detail),
			    "option %" PRId64 " does not exist",
			    items[i].option_id);
			json_member_int(problem_begin(res, 404,
			                    "option_not_found", detail),
			    "option_id", items[i].option_id);
			problem_end(res);
			return DB_ABORT;
		}
	}
	return DB_OK;
}

static enum db_status stock_reserve_pessimistic(struct db *db,
    struct stock_item *items, size_t n, struct response *res,
    const char *const *params)
{
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &stock_lock_stmt, params, &st)) == NULL)
		return st;
	st = stock_check(r, items, n, res);
	PQclear(r);
	if (st != DB_OK)
		return st;
	return db_command(db, &stock_deduct_stmt, params);
}

static enum db_status stock_reserve_conditional(struct db *db,
    struct stock_item *items, size_t n, struct response *res,
    const char *const *params)
{
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &stock_take_stmt, params, &st)) == NULL)
		return st;
	if ((size_t)PQntuples(r) == n) {
		for (int row = 0; row < PQntuples(r); row++)
			stock_find(items, n,
			    strtoll(PQgetvalue(r, row, 0), NULL, 10))
			    ->unit_price =
			    strtoll(PQgetvalue(r, row, 1), NULL, 10);
		PQclear(r);
		return DB_OK;
	}
	PQclear(r);
	/* Some item was short or unknown: say which; the caller rolls back
	 * what the UPDATE did take. */
	if ((r = db_query(db, &stock_peek_stmt, params, &st)) == NULL)
		return st;
	st = stock_check(r, items, n, res);
	PQclear(r);
	if (st == DB_OK) { /* stock came back between the two reads */
		problem_write(res, 409, "out_of_stock",
		    "an option ran out while the order was placed");
		st = DB_ABORT;
	}
	return st;
}

enum db_status stock_reserve(struct db *db, int strategy,
    struct stock_item *items, size_t n, struct response *res)
{
	char ids[STOCK_ARRAY_MAX], qtys[STOCK_ARRAY_MAX];
	const char *params[] = { ids, qtys };

	if (stock_format_items(items, n, ids, qtys) < 0)
		return DB_ERROR;
	/* Under Redis locks the update is the conditional one: a lock that
	 * expired or was never taken (Redis down) must not matter. */
	if (strategy == STOCK_CONDITIONAL || strategy == STOCK_REDIS_LOCK)
		return stock_reserve_conditional(db, items, n, res, params);
	return stock_reserve_pessimistic(db, items, n, res, params);
}

enum db_status stock_restore(struct db *db, const char *order_ids,
    const char *reason)
{
	const char *params[] = { order_ids, reason };
	enum db_status st;

	if ((st = db_command(db, &stock_lock_orders_stmt, params)) != DB_OK)
		return st;
	return db_command(db, &stock_give_back_stmt, params);
}
