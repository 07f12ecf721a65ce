/*
 * order: see order.h.
 */
#include "order.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "coupon.h"
#include "queries.h"
#include "xmalloc.h"

/* A refund is never refused: no balance limit applies to it. */
#define ORDER_REFUND_MAX_BALANCE (INT64_MAX / 2)

const char *const order_result_names[ORDER_RESULT__MAX] = {
	"ok",
	"not_found",
	"not_pending",
	"expired",
	"not_cancelable",
	"stock_refused",
	"points_refused",
	"coupon_unavailable",
};

/* The order row under change, as order_lock found it. */
struct order_row {
	char status[ORDER_STATUS_MAX];
	int64_t total;
	int live; /* the reservation has not expired */
};

static int order_item_cmp(const void *a, const void *b)
{
	const struct stock_item *x = a, *y = b;

	return (x->option_id > y->option_id) - (x->option_id < y->option_id);
}

int order_items_sort(struct order_new *o)
{
	qsort(o->items, o->n, sizeof(o->items[0]), order_item_cmp);
	for (size_t i = 1; i < o->n; i++) {
		if (o->items[i].option_id == o->items[i - 1].option_id)
			return -1;
	}
	return 0;
}

/* Starts an outcome: nothing refused, no points moved. */
static void order_outcome_init(struct order_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->result = ORDER_OK;
	out->stock = STOCK_TAKEN;
	out->points = POINT_MOVED;
}

/* Writes the order (by id, owned by user) into w, if there is one. */
static enum db_status order_write(struct db *db, int64_t order_id,
    int64_t user_id, struct json_writer *w, enum order_result *result)
{
	char id[DB_I64_LEN], user[DB_I64_LEN];
	const char *params[] = { db_param_i64(id, order_id),
		db_param_i64(user, user_id) };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &order_by_id_stmt, params, &st)) == NULL)
		return st;
	*result = PQntuples(r) == 0 ? ORDER_NOT_FOUND : ORDER_OK;
	if (*result == ORDER_OK)
		json_write_raw(w, PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
	PQclear(r);
	return DB_OK;
}

/* order_insert's parameters, and the arrays they point into. */
struct order_insert_params {
	char user[DB_I64_LEN], total[DB_I64_LEN], ttl[DB_I64_LEN];
	char ids[STOCK_ARRAY_LEN(ORDER_ITEMS_MAX)];
	char qtys[STOCK_ARRAY_LEN(ORDER_ITEMS_MAX)];
	char prices[STOCK_ARRAY_LEN(ORDER_ITEMS_MAX)];
	const char *params[6];
};

/* Formats order_insert's parameters of o.  0, or -1 (cannot fit). */
static int order_insert_format(const struct order_new *o,
    struct order_insert_params *p)
{
	int64_t a[ORDER_ITEMS_MAX], b[ORDER_ITEMS_MAX], c[ORDER_ITEMS_MAX];
	int64_t sum = 0;

	for (size_t i = 0; i < o->n; i++) {
		a[i] = o->items[i].option_id;
		b[i] = o->items[i].quantity;
		c[i] = o->items[i].unit_price;
		/* Prices are capped at 10^12 and quantities at 1000 by
		 * validation, so 50 lines cannot overflow. */
		sum += b[i] * c[i];
	}
	p->params[0] = db_param_i64(p->user, o->user_id);
	p->params[1] = db_param_i64(p->total, sum);
	p->params[2] = db_param_i64(p->ttl, o->ttl_ms);
	p->params[3] = p->ids;
	p->params[4] = p->qtys;
	p->params[5] = p->prices;
	if (stock_format_ids(p->ids, sizeof(p->ids), a, o->n) < 0 ||
	    stock_format_ids(p->qtys, sizeof(p->qtys), b, o->n) < 0 ||
	    stock_format_ids(p->prices, sizeof(p->prices), c, o->n) < 0)
		return -1;
	return 0;
}

/*
 * The rest of an order once its stock is locked or taken, in one round
 * trip (db_query_last), with the COMMIT when nothing follows: the
 * deduction left by a pessimistic reservation (later), the order with
 * its items and movements, and its answer, read by order_by_last (the id
 * is not known before the insert has run).  Sets out->order_id and writes
 * the order into w.
 */
static enum db_status order_insert(struct db *db, const struct order_new *o,
    const struct stock_deduction *later, struct json_writer *w,
    struct order_outcome *out)
{
	struct order_insert_params ins;
	const struct db_stmt *stmts[3];
	const char *const *params[3];
	PGresult *r[3];
	const char *user = NULL;
	size_t n = 0;
	enum db_status st;

	if (order_insert_format(o, &ins) < 0)
		return DB_ERROR;
	user = ins.params[0];
	if (later->stmt != NULL) {
		stmts[n] = later->stmt;
		params[n++] = later->params;
	}
	stmts[n] = &order_insert_stmt;
	params[n++] = ins.params;
	stmts[n] = &order_by_last_stmt;
	params[n++] = &user;
	if ((st = db_query_last(db, n, stmts, params, r)) != DB_OK)
		return st;
	st = db_get_i64(r[n - 2], 0, 0, &out->order_id);
	out->result = PQntuples(r[n - 1]) == 0 ? ORDER_NOT_FOUND : ORDER_OK;
	if (st == DB_OK && out->result == ORDER_OK)
		json_write_raw(w, PQgetvalue(r[n - 1], 0, 0),
		    (size_t)PQgetlength(r[n - 1], 0, 0));
	for (size_t i = 0; i < n; i++)
		PQclear(r[i]);
	return st;
}

enum db_status order_place(struct db *db, struct order_new *o,
    struct json_writer *w, struct order_outcome *out)
{
	struct stock_deduction later;
	enum db_status st;

	order_outcome_init(out);
	st = stock_reserve(db, o->stock_strategy, o->items, o->n, &out->stock,
	    &out->shortage, &later);
	if (st != DB_OK)
		return st;
	if (out->stock != STOCK_TAKEN) {
		out->result = ORDER_STOCK_REFUSED;
		return DB_OK;
	}
	return order_insert(db, o, &later, w, out);
}

enum db_status order_get(struct db *db, int64_t order_id, int64_t user_id,
    struct json_writer *w, enum order_result *result)
{
	return order_write(db, order_id, user_id, w, result);
}

enum db_status order_list(struct db *db, int64_t user_id, int64_t after,
    int64_t limit, struct json_writer *w, int64_t *n, int64_t *last_id)
{
	return db_page(db, &order_page_stmt, user_id, after, limit, w, n,
	    last_id);
}

/*
 * Locks the caller's order c->order_id and reads it into row.  Sets
 * out->result ORDER_NOT_FOUND when there is none, and out->status.
 */
static enum db_status order_lock(struct db *db, const struct order_change *c,
    struct order_row *row, struct order_outcome *out)
{
	char id[DB_I64_LEN], user[DB_I64_LEN];
	const char *params[] = { db_param_i64(id, c->order_id),
		db_param_i64(user, c->user_id) };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &order_lock_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) == 0) {
		out->result = ORDER_NOT_FOUND;
		PQclear(r);
		return DB_OK;
	}
	snprintf(row->status, sizeof(row->status), "%s", PQgetvalue(r, 0, 0));
	snprintf(out->status, sizeof(out->status), "%s", row->status);
	st = db_get_i64(r, 0, 1, &row->total);
	row->live = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	PQclear(r);
	return st;
}

static enum db_status order_set_status(struct db *db, int64_t order_id,
    const char *status)
{
	char id[DB_I64_LEN];
	const char *params[] = { db_param_i64(id, order_id), status };

	return db_command(db, &order_set_status_stmt, params);
}

/*
 * Moves the order's points: a use of its total (delta < 0), or the refund
 * of a use.  Sets out->points and out->move, and out->result
 * ORDER_POINTS_REFUSED when the move did not happen.
 */
static enum db_status order_move_points(struct db *db,
    const struct order_change *c, enum point_kind kind, int64_t delta,
    struct order_outcome *out)
{
	enum db_status st;

	out->move = (struct point_move){
		.user_id = c->user_id,
		.delta = delta,
		.kind = kind,
		.order_id = c->order_id,
		.max_balance = ORDER_REFUND_MAX_BALANCE,
	};
	if (delta == 0)
		return DB_OK; /* a free order moves no points */
	st = point_move(db, c->point_strategy, c->deadline_ms, &out->move,
	    &out->points);
	if (st == DB_OK && out->points != POINT_MOVED)
		out->result = ORDER_POINTS_REFUSED;
	return st;
}

/* The points a paid order used (positive), 0 when it used none. */
static enum db_status order_points_used(struct db *db, int64_t order_id,
    int64_t *used)
{
	char id[DB_I64_LEN];
	const char *params[] = { db_param_i64(id, order_id) };
	enum db_status st;
	PGresult *r;

	*used = 0;
	if ((r = db_query(db, &order_points_used_stmt, params, &st)) == NULL)
		return st;
	st = PQntuples(r) ? db_get_i64(r, 0, 0, used) : DB_OK;
	*used = -*used;
	PQclear(r);
	return st;
}

/* A paid order's refund: its coupon, then its points. */
static enum db_status order_refund(struct db *db, const struct order_change *c,
    struct order_outcome *out)
{
	enum db_status st;
	int64_t used;

	if ((st = coupon_give_back(db, c->order_id)) != DB_OK ||
	    (st = order_points_used(db, c->order_id, &used)) != DB_OK)
		return st;
	return order_move_points(db, c, POINT_REFUND, used, out);
}

enum db_status order_cancel(struct db *db, const struct order_change *c,
    struct json_writer *w, struct order_outcome *out)
{
	char ids[STOCK_ARRAY_LEN(1)];
	struct order_row row;
	enum db_status st;
	int paid;

	order_outcome_init(out);
	if ((st = order_lock(db, c, &row, out)) != DB_OK ||
	    out->result != ORDER_OK)
		return st;
	paid = strcmp(row.status, "paid") == 0;
	if (!paid && strcmp(row.status, "pending") != 0) {
		out->result = ORDER_NOT_CANCELABLE;
		return DB_OK;
	}
	if (stock_format_ids(ids, sizeof(ids), &c->order_id, 1) < 0)
		return DB_ERROR;
	if ((st = order_set_status(db, c->order_id, "canceled")) != DB_OK ||
	    (st = stock_restore(db, ids, "cancel")) != DB_OK)
		return st;
	if (paid &&
	    ((st = order_refund(db, c, out)) != DB_OK ||
	        out->result != ORDER_OK))
		return st;
	return order_write(db, c->order_id, c->user_id, w, &out->result);
}

enum db_status order_pay(struct db *db, const struct order_change *c,
    struct json_writer *w, struct order_outcome *out)
{
	enum coupon_use_result used = COUPON_USE_OK;
	struct order_row row;
	int64_t discount = 0;
	enum db_status st;

	order_outcome_init(out);
	if ((st = order_lock(db, c, &row, out)) != DB_OK ||
	    out->result != ORDER_OK)
		return st;
	if (strcmp(row.status, "pending") != 0 || !row.live) {
		out->result = strcmp(row.status, "pending") != 0
		    ? ORDER_NOT_PENDING
		    : ORDER_EXPIRED;
		return DB_OK;
	}
	if (c->coupon_id != 0 &&
	    (st = coupon_use(db, c->coupon_id, c->user_id, c->order_id,
	         row.total, &discount, &used)) != DB_OK)
		return st;
	if (used == COUPON_USE_UNAVAILABLE) {
		out->result = ORDER_COUPON_UNAVAILABLE;
		return DB_OK;
	}
	st = order_move_points(db, c, POINT_USE, -(row.total - discount), out);
	if (st != DB_OK || out->result != ORDER_OK)
		return st;
	if ((st = order_set_status(db, c->order_id, "paid")) != DB_OK)
		return st;
	return order_write(db, c->order_id, c->user_id, w, &out->result);
}

struct order_expiry {
	int batch;
	int expired;
};

static enum db_status order_expire_in_tx(struct db *db, void *arg)
{
	struct order_expiry *e = arg;
	int64_t ids[CONFIG_REAPER_BATCH_MAX];
	char batch[DB_I64_LEN], *list;
	const char *params[1] = { db_param_i64(batch, e->batch) };
	size_t len;
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &order_pick_expired_stmt, params, &st)) == NULL)
		return st;
	e->expired = PQntuples(r) < e->batch ? PQntuples(r) : e->batch;
	for (int i = 0; i < e->expired && st == DB_OK; i++)
		st = db_get_i64(r, i, 0, &ids[i]);
	PQclear(r);
	if (st != DB_OK || e->expired == 0)
		return st;
	len = STOCK_ARRAY_LEN(e->expired);
	params[0] = list = xmalloc(len);
	if (stock_format_ids(list, len, ids, (size_t)e->expired) < 0)
		st = DB_ERROR;
	else if ((st = db_command(db, &order_mark_expired_stmt, params)) ==
	    DB_OK)
		st = stock_restore(db, list, "expire");
	free(list);
	return st;
}

enum db_status order_expire_batch(struct db *db, int batch, int *expired)
{
	struct order_expiry e = { batch > CONFIG_REAPER_BATCH_MAX
		    ? CONFIG_REAPER_BATCH_MAX
		    : batch,
		0 };
	enum db_status st = db_transaction(db, order_expire_in_tx, &e);

	*expired = st == DB_OK ? e.expired : 0;
	return st;
}
