/*
 * stock: see stock.h.
 */
#include "stock.h"

#include <inttypes.h>
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "queries.h"

const char *const stock_strategy_names[STOCK_STRATEGY__MAX] = {
	"pessimistic",
	"conditional",
	"redis_lock",
};

_Static_assert(STOCK_ITEMS_MAX <= REDIS_LOCK_MAX,
    "every option of an order must fit one redis_lock_take");

const char *const stock_result_names[STOCK_RESULT__MAX] = {
	"taken",
	"short",
	"unknown_option",
};

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
	int64_t a[STOCK_ITEMS_MAX], b[STOCK_ITEMS_MAX];

	if (n > STOCK_ITEMS_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		a[i] = items[i].option_id;
		b[i] = items[i].quantity;
	}
	if (stock_format_ids(ids, STOCK_ARRAY_LEN(STOCK_ITEMS_MAX), a, n) < 0 ||
	    stock_format_ids(qtys, STOCK_ARRAY_LEN(STOCK_ITEMS_MAX), b, n) < 0)
		return -1;
	return 0;
}

/*
 * The item of row's option (column 0) and its price (column 1).  Returns
 * DB_OK, or DB_ERROR (logged) for a row naming an option not asked for:
 * the statements select only those, so that is a bug, never input.
 */
static enum db_status stock_row_item(PGresult *r, int row,
    struct stock_item *items, size_t n, struct stock_item **item)
{
	int64_t id;

	if (db_get_i64(r, row, 0, &id) != DB_OK)
		return DB_ERROR;
	for (size_t i = 0; i < n; i++) {
		if (items[i].option_id == id) {
			*item = &items[i];
			return db_get_i64(r, row, 1, &items[i].unit_price);
		}
	}
	log_error("stock: a row for option %" PRId64 ", not asked for", id);
	return DB_ERROR;
}

/*
 * Compares rows (id, price, stock) with items: the first short option
 * (by id) gives STOCK_SHORT, else the first missing one
 * STOCK_UNKNOWN_OPTION.  Fills prices.
 */
static enum db_status stock_check(PGresult *r, struct stock_item *items,
    size_t n, enum stock_result *result, struct stock_shortage *shortage)
{
	struct stock_item *it;
	int64_t stock;

	*result = STOCK_TAKEN;
	for (size_t i = 0; i < n; i++)
		items[i].unit_price = -1;
	for (int row = 0; row < PQntuples(r); row++) {
		if (stock_row_item(r, row, items, n, &it) != DB_OK ||
		    db_get_i64(r, row, 2, &stock) != DB_OK)
			return DB_ERROR;
		if (stock < it->quantity) {
			*result = STOCK_SHORT;
			*shortage = (struct stock_shortage){ it->option_id,
				stock, it->quantity };
			return DB_OK;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].unit_price < 0) {
			*result = STOCK_UNKNOWN_OPTION;
			*shortage = (struct stock_shortage){ items[i].option_id,
				0, items[i].quantity };
			return DB_OK;
		}
	}
	return DB_OK;
}

/* Runs a statement of (id, price, stock) rows and checks them. */
static enum db_status stock_look(struct db *db, const struct db_stmt *stmt,
    const char *const *params, struct stock_item *items, size_t n,
    enum stock_result *result, struct stock_shortage *shortage)
{
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, stmt, params, &st)) == NULL)
		return st;
	st = stock_check(r, items, n, result, shortage);
	PQclear(r);
	return st;
}

static enum db_status stock_reserve_pessimistic(struct db *db,
    struct stock_item *items, size_t n, const char *const *params,
    enum stock_result *result, struct stock_shortage *shortage,
    struct stock_deduction *later)
{
	enum db_status st;

	st = stock_look(db, &stock_lock_stmt, params, items, n, result,
	    shortage);
	if (st != DB_OK || *result != STOCK_TAKEN)
		return st;
	if (later == NULL)
		return db_command(db, &stock_deduct_stmt, params);
	later->stmt = &stock_deduct_stmt;
	return DB_OK;
}

static enum db_status stock_reserve_conditional(struct db *db,
    struct stock_item *items, size_t n, const char *const *params,
    enum stock_result *result, struct stock_shortage *shortage)
{
	struct stock_item *it;
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &stock_take_stmt, params, &st)) == NULL)
		return st;
	if ((size_t)PQntuples(r) == n) {
		*result = STOCK_TAKEN;
		for (int row = 0; row < PQntuples(r) && st == DB_OK; row++)
			st = stock_row_item(r, row, items, n, &it);
		PQclear(r);
		return st;
	}
	PQclear(r);
	/* Some item was short or unknown: say which (what the UPDATE did
	 * take, the caller's rollback gives back). */
	st = stock_look(db, &stock_peek_stmt, params, items, n, result,
	    shortage);
	if (st == DB_OK && *result == STOCK_TAKEN) {
		/* stock came back between the two reads */
		*result = STOCK_SHORT;
		*shortage = (struct stock_shortage){ 0, 0, 0 };
	}
	return st;
}

enum db_status stock_reserve(struct db *db, int strategy,
    struct stock_item *items, size_t n, enum stock_result *result,
    struct stock_shortage *shortage, struct stock_deduction *later)
{
	struct stock_deduction own;
	struct stock_deduction *d = later != NULL ? later : &own;
	const char *const *params = d->params;

	*result = STOCK_TAKEN;
	d->stmt = NULL;
	d->params[0] = d->ids;
	d->params[1] = d->qtys;
	if (stock_format_items(items, n, d->ids, d->qtys) < 0)
		return DB_ERROR;
	/* Under Redis locks the update is the conditional one: a lock that
	 * expired or was never taken (Redis down) must not matter. */
	if (strategy == STOCK_CONDITIONAL || strategy == STOCK_REDIS_LOCK)
		return stock_reserve_conditional(db, items, n, params, result,
		    shortage);
	return stock_reserve_pessimistic(db, items, n, params, result, shortage,
	    later);
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

enum redis_lock_status stock_lock_options(struct redis *redis,
    const struct stock_item *items, size_t n, int ttl_ms, int wait_ms,
    struct redis_locks *locks)
{
	char keys[STOCK_ITEMS_MAX][REDIS_LOCK_KEY_MAX];
	const char *key_ptrs[STOCK_ITEMS_MAX];

	if (n > STOCK_ITEMS_MAX)
		return REDIS_LOCK_DOWN; /* no lock: the UPDATE still guards */
	for (size_t i = 0; i < n; i++) {
		/* One key, so one slot, per option: a lock is taken key
		 * by key (redis_lock.h), never by a multi-key command. */
		key_ptrs[i] = redis_key(keys[i], sizeof(keys[i]), "stock",
		    items[i].option_id, "lock");
	}
	return redis_lock_take(redis, locks, key_ptrs, n, ttl_ms, wait_ms);
}
