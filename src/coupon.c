/*
 * coupon: see coupon.h.  Policies and coupons are JSON built by PostgreSQL
 * (the fragments of sql/queries/coupon.sql), written through as they come.
 */
#include "coupon.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "log.h"
#include "queries.h"

enum db_status coupon_policy_create(struct db *db, const struct coupon_new *n,
    struct json_writer *w, int64_t *id, enum coupon_create_result *result)
{
	char value[DB_I64_LEN], cap[DB_I64_LEN], total[DB_I64_LEN],
	    days[DB_I64_LEN];
	const char *params[] = {
		n->name,
		n->percent ? "percent" : "amount",
		db_param_i64(value, n->value),
		n->cap != 0 ? db_param_i64(cap, n->cap) : NULL,
		db_param_i64(total, n->total),
		n->starts_at,
		n->ends_at,
		db_param_i64(days, n->valid_days),
	};
	enum db_status st;
	PGresult *r;

	*result = COUPON_BAD_WINDOW;
	if ((r = db_query(db, &coupon_create_stmt, params, &st)) == NULL)
		return st;
	/* An empty or past window inserts nothing (the statement's WHERE). */
	if (PQntuples(r) == 1 && (st = db_get_i64(r, 0, 1, id)) == DB_OK) {
		json_write_raw(w, PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
		*result = COUPON_CREATED;
		log_info("coupon policy %" PRId64 " created: %s coupons", *id,
		    total);
	}
	PQclear(r);
	return st;
}

enum db_status coupon_policy_get(struct db *db, int64_t id,
    struct json_writer *w)
{
	char idtext[DB_I64_LEN];
	const char *params[] = { db_param_i64(idtext, id) };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &coupon_get_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) == 0)
		st = DB_NOTFOUND;
	else
		json_write_raw(w, PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
	PQclear(r);
	return st;
}

enum db_status coupon_list_mine(struct db *db, int64_t user_id, int64_t after,
    int64_t limit, struct json_writer *w, int64_t *n, int64_t *last_id)
{
	return db_page(db, &coupon_page_stmt, user_id, after, limit, w, n,
	    last_id);
}

int64_t coupon_discount(int percent, int64_t value, int64_t cap, int64_t total)
{
	int64_t d;

	if (total <= 0 || value <= 0)
		return 0;
	if (!percent)
		return value < total ? value : total;
	/* total is at most 5 * 10^16 (50 lines of 1000 at 10^12) and value
	 * at most 100, so the product fits. */
	d = total / 100 * value + total % 100 * value / 100;
	if (cap > 0 && d > cap)
		d = cap;
	return d < total ? d : total;
}

/*
 * Reads a row of coupon_lock_for_use: *usable, and if so the discount on
 * total.  DB_OK, or DB_ERROR when a number is not one.
 */
static enum db_status coupon_use_read(PGresult *r, int64_t total, int *usable,
    int64_t *discount)
{
	int64_t value, cap;

	*usable = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	if (!*usable)
		return DB_OK;
	if (db_get_i64(r, 0, 2, &value) != DB_OK ||
	    db_get_i64(r, 0, 3, &cap) != DB_OK)
		return DB_ERROR;
	*discount = coupon_discount(strcmp(PQgetvalue(r, 0, 1), "t") == 0,
	    value, cap, total);
	return DB_OK;
}

enum db_status coupon_use(struct db *db, int64_t coupon_id, int64_t user_id,
    int64_t order_id, int64_t total, int64_t *discount,
    enum coupon_use_result *result)
{
	char coupon[DB_I64_LEN], user[DB_I64_LEN], order[DB_I64_LEN],
	    amount[DB_I64_LEN];
	const char *lock_params[] = { db_param_i64(coupon, coupon_id),
		db_param_i64(user, user_id) };
	const char *apply_params[] = { coupon, db_param_i64(order, order_id),
		amount };
	enum db_status st;
	PGresult *r;
	int usable;

	/* Unknown, another user's, used and expired look alike: a coupon id
	 * says nothing about coupons the caller lacks. */
	*result = COUPON_USE_UNAVAILABLE;
	if ((r = db_query(db, &coupon_lock_for_use_stmt, lock_params, &st)) ==
	    NULL)
		return st;
	st = coupon_use_read(r, total, &usable, discount);
	PQclear(r);
	if (st != DB_OK || !usable)
		return st;
	db_param_i64(amount, *discount);
	if ((st = db_command(db, &coupon_apply_stmt, apply_params)) == DB_OK)
		*result = COUPON_USE_OK;
	return st;
}

enum db_status coupon_give_back(struct db *db, int64_t order_id)
{
	char order[DB_I64_LEN];
	const char *params[] = { db_param_i64(order, order_id) };

	return db_command(db, &coupon_give_back_stmt, params);
}

enum db_status coupon_expire_batch(struct db *db, int batch, int *expired)
{
	char n[DB_I64_LEN];
	const char *params[] = { db_param_i64(n, batch) };
	enum db_status st;
	PGresult *r;
	int64_t count;

	*expired = 0;
	if ((r = db_query(db, &coupon_expire_stmt, params, &st)) == NULL)
		return st;
	if (num_parse(PQcmdTuples(r), 0, INT_MAX, &count) == 0)
		*expired = (int)count;
	else
		st = DB_ERROR;
	PQclear(r);
	return st;
}
