/*
 * order: see order.h.
 */
#include "order.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "coupon.h"
#include "idempotency.h"
#include "page.h"
#include "point.h"
#include "api.h"
#include "redis_lock.h"
#include "stock.h"
#include "valid.h"

/* One order as JSON, items by option id. */
#define ORDER_JSON \
	"json_build_object('id', o.id, 'user_id', o.user_id, " \
	"'status', o.status, 'total', o.total, 'expires_at', o.expires_at, " \
	"'created_at', o.created_at, 'paid_at', o.paid_at, " \
	"'coupon_id', o.coupon_id, 'discount', o.discount, 'items', " \
	"(SELECT json_agg(json_build_object('option_id', i.option_id, " \
	"'quantity', i.quantity, 'unit_price', i.unit_price) " \
	"ORDER BY i.option_id) FROM order_items i WHERE i.order_id = o.id))::text"

/*
 * The order, its items and its 'order' movements in one statement; the
 * stock itself was taken by stock_reserve just before.
 */
static const struct db_stmt order_insert_stmt = {
	"order_insert",
	"WITH o AS (INSERT INTO orders (user_id, status, total, expires_at) "
	"VALUES ($1::bigint, 'pending', $2::bigint, "
	"now() + make_interval(secs => $3::bigint / 1000.0)) RETURNING id), "
	"x AS (SELECT * FROM unnest($4::bigint[], $5::bigint[], $6::bigint[]) "
	"AS x(option_id, quantity, unit_price)), "
	"i AS (INSERT INTO order_items (order_id, option_id, quantity, "
	"unit_price) SELECT o.id, x.option_id, x.quantity, x.unit_price "
	"FROM o, x), "
	"m AS (INSERT INTO stock_movements (option_id, delta, reason, order_id) "
	"SELECT x.option_id, -x.quantity, 'order', o.id FROM o, x) "
	"SELECT id FROM o",
	6,
};
static const struct db_stmt order_by_id_stmt = {
	"order_by_id",
	"SELECT " ORDER_JSON " FROM orders o "
	"WHERE o.id = $1::bigint AND o.user_id = $2::bigint",
	2,
};
static const struct db_stmt order_page_stmt = {
	"order_page",
	"SELECT " ORDER_JSON
	", o.id FROM orders o WHERE o.user_id = $1::bigint "
	"AND o.id < $2::bigint ORDER BY o.id DESC LIMIT $3::int",
	3,
};
static const struct db_stmt order_lock_stmt = {
	"order_lock",
	"SELECT status, total, expires_at > now() FROM orders "
	"WHERE id = $1::bigint AND user_id = $2::bigint FOR UPDATE",
	2,
};
static const struct db_stmt order_set_status_stmt = {
	"order_set_status",
	"UPDATE orders SET status = $2, updated_at = now(), "
	"paid_at = CASE WHEN $2 = 'paid' THEN now() ELSE paid_at END "
	"WHERE id = $1::bigint",
	2,
};
static const struct db_stmt order_points_used_stmt = {
	"order_points_used",
	"SELECT amount FROM point_ledger WHERE order_id = $1::bigint "
	"AND kind = 'use'",
	1,
};
static const struct db_stmt order_pick_expired_stmt = {
	"order_pick_expired",
	"SELECT id FROM orders WHERE status = 'pending' AND expires_at <= now() "
	"ORDER BY expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED",
	1,
};
static const struct db_stmt order_mark_expired_stmt = {
	"order_mark_expired",
	"UPDATE orders SET status = 'expired', updated_at = now() "
	"WHERE id = ANY($1::bigint[]) AND status = 'pending'",
	1,
};

struct order_new {
	struct app *app;
	int64_t user_id;
	struct stock_item items[ORDER_ITEMS_MAX];
	size_t n;
};

static int order_item_cmp(const void *a, const void *b)
{
	const struct stock_item *x = a, *y = b;

	return (x->option_id > y->option_id) - (x->option_id < y->option_id);
}

/*
 * Reads and checks items; refuses an option listed twice (the client meant
 * one line with the sum, or made a mistake: either way it should say so).
 * Leaves them sorted by option id, the order in which rows are locked.
 */
static int order_read_items(struct response *res, const struct json_value *body,
    struct order_new *o)
{
	static const char *const fields[] = { "option_id", "quantity", NULL };
	const struct json_value *items;

	if (valid_array(res, body, "items", 1, ORDER_ITEMS_MAX, &items) < 0)
		return -1;
	for (size_t i = 0; i < items->u.array.len; i++) {
		const struct json_value *it = items->u.array.items[i];

		if (it->type != JSON_OBJECT) {
			problem_write(res, 400, "invalid_field",
			    "items must be objects with option_id and quantity");
			return -1;
		}
		if (valid_known_fields(res, it, fields) < 0 ||
		    valid_int(res, it, "option_id", VALID_REQUIRED, 1,
		        INT64_MAX, 0, &o->items[i].option_id) < 0 ||
		    valid_int(res, it, "quantity", VALID_REQUIRED, 1,
		        ORDER_QUANTITY_MAX, 0, &o->items[i].quantity) < 0)
			return -1;
	}
	o->n = items->u.array.len;
	qsort(o->items, o->n, sizeof(o->items[0]), order_item_cmp);
	for (size_t i = 1; i < o->n; i++) {
		if (o->items[i].option_id == o->items[i - 1].option_id) {
			problem_write(res, 400, "duplicate_option",
			    "an option appears twice in items; send it once "
			    "with the total quantity");
			return -1;
		}
	}
	return 0;
}

/* Writes the order row (by id, owned by user) as the answer. */
static enum db_status order_answer(struct db *db, struct response *res,
    const char *id, const char *user, int status)
{
	const char *params[] = { id, user };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &order_by_id_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) == 0) {
		problem_write(res, 404, "order_not_found",
		    "you have no order with that id");
		st = DB_ABORT;
	} else {
		json_write_raw(response_json(res, status), PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
	}
	PQclear(r);
	return st;
}

static enum db_status order_insert(struct db *db, struct order_new *o, char *id,
    size_t idlen)
{
	char user[24], total[24], ttl[24];
	char ids[2048], qtys[2048], prices[2048];
	int64_t a[ORDER_ITEMS_MAX], b[ORDER_ITEMS_MAX], c[ORDER_ITEMS_MAX];
	int64_t sum = 0;
	const char *params[] = { user, total, ttl, ids, qtys, prices };
	enum db_status st;
	PGresult *r;

	for (size_t i = 0; i < o->n; i++) {
		a[i] = o->items[i].option_id;
		b[i] = o->items[i].quantity;
		c[i] = o->items[i].unit_price;
		/* Prices are capped at 10^12 and quantities at 1000 by
		 * validation, so 50 lines cannot overflow. */
		sum += b[i] * c[i];
	}
	snprintf(user, sizeof(user), "%" PRId64, o->user_id);
	snprintf(total, sizeof(total), "%" PRId64, sum);
	snprintf(ttl, sizeof(ttl), "%d", o->app->cfg->reservation_ttl_ms);
	if (stock_format_ids(ids, sizeof(ids), a, o->n) < 0 ||
	    stock_format_ids(qtys, sizeof(qtys), b, o->n) < 0 ||
	    stock_format_ids(prices, sizeof(prices), c, o->n) < 0)
		return DB_ERROR;
	if ((r = db_query(db, &order_insert_stmt, params, &st)) == NULL)
		return st;
	snprintf(id, idlen, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return DB_OK;
}

static enum db_status order_create_effect(struct db *db, struct response *res,
    void *arg)
{
	struct order_new *o = arg;
	char id[24], user[24];
	enum db_status st;

	st =
	    stock_reserve(db, o->app->cfg->stock_strategy, o->items, o->n, res);
	if (st != DB_OK)
		return st;
	if ((st = order_insert(db, o, id, sizeof(id))) != DB_OK)
		return st;
	snprintf(user, sizeof(user), "%" PRId64, o->user_id);
	if ((st = order_answer(db, res, id, user, 201)) != DB_OK)
		return st;
	response_header(res, "Location", "/api/v1/orders/%s", id);
	return DB_OK;
}

/*
 * stock_strategy = redis_lock: the order's transaction under one Redis lock
 * per option, taken in ascending id order (items are sorted) and held for
 * at most statement_timeout.  A lock still taken after lock_timeout is a
 * 503 like a database lock timeout; Redis down means no lock, which the
 * conditional UPDATE inside makes harmless.
 */
static enum db_status order_create_locked(const struct request *req,
    struct response *res, struct order_new *o)
{
	const struct config *cfg = o->app->cfg;
	char keys[ORDER_ITEMS_MAX][REDIS_LOCK_KEY_MAX];
	const char *key_ptrs[ORDER_ITEMS_MAX];
	struct redis_locks locks;
	enum redis_lock_status ls;
	enum db_status st;

	for (size_t i = 0; i < o->n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "{stock:%" PRId64 "}:lock",
		    o->items[i].option_id);
		key_ptrs[i] = keys[i];
	}
	ls = redis_lock_take(o->app->redis, &locks, key_ptrs, o->n,
	    cfg->statement_timeout_ms, cfg->lock_timeout_ms);
	if (ls == REDIS_LOCK_BUSY)
		return DB_TIMEOUT;
	st = idempotency_transaction(o->app->db, req, res, order_create_effect,
	    o);
	if (ls == REDIS_LOCK_HELD)
		redis_lock_release(o->app->redis, &locks);
	return st;
}

void order_create(struct request *req, struct response *res, struct app *app)
{
	static const char *const fields[] = { "items", NULL };
	struct order_new o;
	enum db_status st;

	memset(&o, 0, sizeof(o));
	o.app = app;
	o.user_id = req->identity.user_id;
	if (valid_known_fields(res, req->json, fields) < 0 ||
	    order_read_items(res, req->json, &o) < 0)
		return;
	if (app->cfg->stock_strategy == STOCK_REDIS_LOCK)
		st = order_create_locked(req, res, &o);
	else
		st = idempotency_transaction(app->db, req, res,
		    order_create_effect, &o);
	if (st != DB_OK && st != DB_ABORT)
		api_db_failure(res, app, st);
}

void order_get(struct request *req, struct response *res, struct app *app)
{
	char id[24], user[24];
	enum db_status st;

	snprintf(id, sizeof(id), "%" PRId64, req->params[0]);
	snprintf(user, sizeof(user), "%" PRId64, req->identity.user_id);
	st = order_answer(app->db, res, id, user, 200);
	if (st != DB_OK && st != DB_ABORT)
		api_db_failure(res, app, st);
}

void order_list(struct request *req, struct response *res, struct app *app)
{
	page_serve_own(req, res, app, &order_page_stmt);
}

/*
 * The order under change, locked: every transition (pay, cancel) starts by
 * locking the order row, so concurrent transitions of one order queue
 * here and each sees the status the previous one left.
 */
struct order_locked {
	struct app *app;
	char id[24];
	char user[24];
	int64_t order_id;
	int64_t user_id;
	int64_t coupon_id; /* pay: 0 when none */
	int64_t discount; /* pay: what the coupon took off the total */
	char status[16]; /* as found, before this transition */
	int64_t total;
	int live; /* the reservation has not expired */
	struct point_move move; /* the points moved, if any */
};

static void order_locked_init(struct order_locked *o, struct app *app,
    const struct request *req)
{
	memset(o, 0, sizeof(*o));
	o->app = app;
	o->order_id = req->params[0];
	o->user_id = req->identity.user_id;
	snprintf(o->id, sizeof(o->id), "%" PRId64, o->order_id);
	snprintf(o->user, sizeof(o->user), "%" PRId64, o->user_id);
}

/* Locks the caller's order; DB_ABORT with 404 when there is none. */
static enum db_status order_lock(struct db *db, struct order_locked *o,
    struct response *res)
{
	const char *params[] = { o->id, o->user };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &order_lock_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) == 0) {
		PQclear(r);
		problem_write(res, 404, "order_not_found",
		    "you have no order with that id");
		return DB_ABORT;
	}
	snprintf(o->status, sizeof(o->status), "%s", PQgetvalue(r, 0, 0));
	o->total = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	o->live = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
	PQclear(r);
	return DB_OK;
}

static enum db_status order_set_status(struct db *db,
    const struct order_locked *o, const char *status)
{
	const char *params[] = { o->id, status };

	return db_command(db, &order_set_status_stmt, params);
}

/* Moves the order's points: a use of its total, or the refund of a use. */
static enum db_status order_move_points(struct db *db, struct order_locked *o,
    enum point_kind kind, int64_t delta, struct response *res)
{
	o->move.user_id = o->user_id;
	o->move.order_id = o->order_id;
	o->move.kind = kind;
	o->move.delta = delta;
	o->move.max_balance = INT64_MAX / 2; /* a refund is never refused */
	if (delta == 0)
		return DB_OK; /* a free order moves no points */
	return point_move(db, o->app->cfg->point_strategy, &o->move, res);
}

/* The points a paid order used (positive), 0 when it used none. */
static enum db_status order_points_used(struct db *db,
    const struct order_locked *o, int64_t *used)
{
	const char *params[] = { o->id };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &order_points_used_stmt, params, &st)) == NULL)
		return st;
	*used = PQntuples(r) ? -strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	return DB_OK;
}

static enum db_status order_cancel_effect(struct db *db, struct response *res,
    void *arg)
{
	struct order_locked *o = arg;
	char ids[32], detail[96];
	int64_t used = 0;
	enum db_status st;

	o->move.conflict = 0;
	if ((st = order_lock(db, o, res)) != DB_OK)
		return st;
	if (strcmp(o->status, "pending") != 0 &&
	    strcmp(o->status, "paid") != 0) {
		snprintf(detail, sizeof(detail),
		    "the order is %s; only a pending or paid order can be "
		    "canceled",
		    o->status);
		problem_write(res, 409, "order_not_cancelable", detail);
		return DB_ABORT;
	}
	snprintf(ids, sizeof(ids), "{%s}", o->id);
	if ((st = order_set_status(db, o, "canceled")) != DB_OK ||
	    (st = stock_restore(db, ids, "cancel")) != DB_OK)
		return st;
	if (strcmp(o->status, "paid") == 0 &&
	    ((st = coupon_give_back(db, o->order_id)) != DB_OK ||
	        (st = order_points_used(db, o, &used)) != DB_OK ||
	        (st = order_move_points(db, o, POINT_REFUND, used, res)) !=
	            DB_OK))
		return st;
	return order_answer(db, res, o->id, o->user, 200);
}

void order_cancel(struct request *req, struct response *res, struct app *app)
{
	struct order_locked o;

	order_locked_init(&o, app, req);
	point_run(app, req, res, order_cancel_effect, &o, &o.move.conflict);
}

static enum db_status order_pay_effect(struct db *db, struct response *res,
    void *arg)
{
	struct order_locked *o = arg;
	enum db_status st;

	o->move.conflict = 0;
	if ((st = order_lock(db, o, res)) != DB_OK)
		return st;
	if (strcmp(o->status, "pending") != 0 || !o->live) {
		problem_write(res, 409, "order_not_pending",
		    strcmp(o->status, "pending") != 0
		        ? "the order is not pending; it cannot be paid"
		        : "the order's reservation has expired");
		return DB_ABORT;
	}
	o->discount = 0;
	if (o->coupon_id != 0) {
		enum coupon_use_result use;

		if ((st = coupon_use(db, o->coupon_id, o->user_id, o->order_id,
		         o->total, &o->discount, &use)) != DB_OK)
			return st;
		if (use == COUPON_USE_UNAVAILABLE) {
			problem_write(res, 409, "coupon_unavailable",
			    "that coupon is not yours to use now: unknown, "
			    "already used, or expired");
			return DB_ABORT;
		}
	}
	st =
	    order_move_points(db, o, POINT_USE, -(o->total - o->discount), res);
	if (st != DB_OK)
		return st;
	if ((st = order_set_status(db, o, "paid")) != DB_OK)
		return st;
	return order_answer(db, res, o->id, o->user, 200);
}

void order_pay(struct request *req, struct response *res, struct app *app)
{
	static const char *const fields[] = { "coupon_id", NULL };
	struct order_locked o;

	order_locked_init(&o, app, req);
	if (req->json != NULL &&
	    (valid_known_fields(res, req->json, fields) < 0 ||
	        valid_int(res, req->json, "coupon_id", VALID_OPTIONAL, 1,
	            INT64_MAX, 0, &o.coupon_id) < 0))
		return;
	point_run(app, req, res, order_pay_effect, &o, &o.move.conflict);
}

struct order_expiry {
	int batch;
	int expired;
};

static enum db_status order_expire_in_tx(struct db *db, void *arg)
{
	struct order_expiry *e = arg;
	int64_t ids[CONFIG_REAPER_BATCH_MAX];
	char batch[16], *list = NULL;
	const char *params[1] = { batch };
	size_t len;
	enum db_status st;
	PGresult *r;

	snprintf(batch, sizeof(batch), "%d", e->batch);
	if ((r = db_query(db, &order_pick_expired_stmt, params, &st)) == NULL)
		return st;
	e->expired = PQntuples(r);
	for (int i = 0; i < e->expired && i < CONFIG_REAPER_BATCH_MAX; i++)
		ids[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	PQclear(r);
	if (e->expired == 0)
		return DB_OK;
	len = (size_t)e->expired * 21 + 3;
	if ((list = malloc(len)) == NULL)
		return DB_ERROR;
	params[0] = list;
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
