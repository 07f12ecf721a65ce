/*
 * api_order: see api_order.h.
 */
#include "api_order.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_point.h"
#include "config.h"
#include "idempotency.h"
#include "json.h"
#include "order.h"
#include "page.h"
#include "redis_lock.h"
#include "valid.h"

/* Answers a refused reservation (out->result ORDER_STOCK_REFUSED). */
static void api_order_refuse_stock(struct response *res,
    const struct order_outcome *out)
{
	const struct stock_shortage *s = &out->shortage;
	struct json_writer *w;
	char detail[160];

	if (out->stock == STOCK_UNKNOWN_OPTION) {
		snprintf(detail, sizeof(detail),
		    "option %" PRId64 " does not exist", s->option_id);
		w = problem_begin(res, 404, "option_not_found", detail);
		json_member_int(w, "option_id", s->option_id);
		problem_end(res);
	} else if (s->option_id == 0) {
		problem_write(res, 409, "out_of_stock",
		    "an option ran out while the order was placed");
	} else {
		snprintf(detail, sizeof(detail),
		    "option %" PRId64 " has %" PRId64 " left; %" PRId64
		    " requested",
		    s->option_id, s->available, s->requested);
		w = problem_begin(res, 409, "out_of_stock", detail);
		json_member_int(w, "option_id", s->option_id);
		json_member_int(w, "available", s->available);
		problem_end(res);
	}
}

/* Answers a refusal of order.c (nothing for ORDER_OK). */
static void api_order_refuse(struct response *res,
    const struct order_outcome *out)
{
	char detail[96];

	switch (out->result) {
	case ORDER_OK:
	case ORDER_RESULT__MAX:
		break;
	case ORDER_NOT_FOUND:
		problem_write(res, 404, "order_not_found",
		    "you have no order with that id");
		break;
	case ORDER_NOT_PENDING:
		problem_write(res, 409, "order_not_pending",
		    "the order is not pending; it cannot be paid");
		break;
	case ORDER_EXPIRED:
		problem_write(res, 409, "order_not_pending",
		    "the order's reservation has expired");
		break;
	case ORDER_NOT_CANCELABLE:
		snprintf(detail, sizeof(detail),
		    "the order is %s; only a pending or paid order can be "
		    "canceled",
		    out->status);
		problem_write(res, 409, "order_not_cancelable", detail);
		break;
	case ORDER_STOCK_REFUSED:
		api_order_refuse_stock(res, out);
		break;
	case ORDER_POINTS_REFUSED:
		api_point_refuse(res, &out->move, out->points);
		break;
	case ORDER_COUPON_UNAVAILABLE:
		problem_write(res, 409, "coupon_unavailable",
		    "that coupon is not yours to use now: unknown, already "
		    "used, or expired");
		break;
	}
}

/*
 * Reads and checks items into o, sorted by option id; refuses an option
 * listed twice.  Returns 0 or -1 (400 written).
 */
static int api_order_read_items(struct response *res,
    const struct json_value *body, struct order_new *o)
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
	if (order_items_sort(o) < 0) {
		problem_write(res, 400, "duplicate_option",
		    "an option appears twice in items; send it once with the "
		    "total quantity");
		return -1;
	}
	return 0;
}

struct api_order_tx {
	struct order_new order; /* create */
	struct order_change change; /* pay, cancel */
	struct order_outcome out;
};

static enum db_status api_order_create_effect(struct db *db,
    struct response *res, void *arg)
{
	struct api_order_tx *tx = arg;
	enum db_status st;

	st = order_place(db, &tx->order, response_json(res, 201), &tx->out);
	if (st == DB_OK)
		api_order_refuse(res, &tx->out);
	return st;
}

/*
 * stock_strategy = redis_lock: the order's transaction under one Redis lock
 * per option, taken in ascending id order (items are sorted) and held for
 * at most statement_timeout.  A lock still taken after lock_timeout is a
 * 503 like a database lock timeout; Redis down means no lock, which the
 * conditional UPDATE inside makes harmless.
 */
static enum db_status api_order_create_locked(struct app *app,
    const struct request *req, struct response *res, struct api_order_tx *tx)
{
	struct redis_locks locks;
	enum redis_lock_status ls;
	enum db_status st;

	ls = stock_lock_options(app->redis, tx->order.items, tx->order.n,
	    app->cfg->statement_timeout_ms, app->cfg->lock_timeout_ms, &locks);
	if (ls == REDIS_LOCK_BUSY)
		return DB_TIMEOUT;
	st = idempotency_transaction(app->db, req, res, app->cfg->retry_after_s,
	    api_order_create_effect, tx);
	if (ls == REDIS_LOCK_HELD)
		redis_lock_release(app->redis, &locks);
	return st;
}

/*
 * The id of the order in a replayed 201 (the stored body, now in res), or 0.
 * A replay rebuilds Location from it rather than storing the header with
 * the key: no migration, and an answer stored before this release gets its
 * Location too.  The body is ours (order_write), so the limits only guard
 * against a damaged row.
 */
static int64_t api_order_replayed_id(struct response *res)
{
	static const struct json_limits stored = {
		.max_depth = 16,
		.max_string = 65536,
		.max_members = 100000,
	};
	const struct json_value *id;
	struct json_value *body;
	const char *text;
	char err[128];
	int64_t out = 0;
	size_t len;

	if (json_writer_result(res->json, &text, &len) < 0 ||
	    (body = json_parse(text, len, &stored, err, sizeof(err))) == NULL)
		return 0;
	id = json_get(body, "id");
	if (id != NULL && id->type == JSON_INT && id->u.integer > 0)
		out = id->u.integer;
	json_free(body);
	return out;
}

void api_order_create(struct request *req, struct response *res,
    struct app *app)
{
	static const char *const fields[] = { "items", NULL };
	struct api_order_tx tx;
	enum db_status st;

	memset(&tx, 0, sizeof(tx));
	tx.order.user_id = req->identity.user_id;
	tx.order.stock_strategy = app->cfg->stock_strategy;
	tx.order.ttl_ms = app->cfg->reservation_ttl_ms;
	if (valid_known_fields(res, req->json, fields) < 0 ||
	    api_order_read_items(res, req->json, &tx.order) < 0)
		return;
	if (app->cfg->stock_strategy == STOCK_REDIS_LOCK)
		st = api_order_create_locked(app, req, res, &tx);
	else
		st = idempotency_transaction(app->db, req, res,
		    app->cfg->retry_after_s, api_order_create_effect, &tx);
	if (st != DB_OK) {
		api_db_failure(res, app, st);
		return;
	}
	if (res->status != 201)
		return;
	/* Here, not in the effect: a rerun transaction must not leave a
	 * header naming an order that was rolled back. */
	if (res->replayed)
		tx.out.order_id = api_order_replayed_id(res);
	if (tx.out.order_id > 0)
		response_header(res, "Location", "/api/v1/orders/%" PRId64,
		    tx.out.order_id);
}

/*
 * On the primary, never the replica: the Location of a 201 names this
 * order, and a client that follows it, or reads it before paying, must
 * find it as its write left it (docs/architecture.md, "Reads on a
 * replica").
 */
void api_order_get(struct request *req, struct response *res, struct app *app)
{
	struct order_outcome out = { .result = ORDER_OK };
	enum db_status st;

	st = order_get(app->db, req->params[0], req->identity.user_id,
	    response_json(res, 200), &out.result);
	if (st != DB_OK)
		api_db_failure(res, app, st);
	else
		api_order_refuse(res, &out);
}

/* The history may trail the user's own orders (app->db_read). */
void api_order_list(struct request *req, struct response *res, struct app *app)
{
	page_serve_list(req, res, app, app->db_read, order_list);
}

/* The transition of the order the path names, for the caller. */
static void api_order_change_init(struct api_order_tx *tx,
    const struct request *req, const struct app *app)
{
	memset(tx, 0, sizeof(*tx));
	tx->change.order_id = req->params[0];
	tx->change.user_id = req->identity.user_id;
	tx->change.point_strategy = app->cfg->point_strategy;
	tx->change.deadline_ms = app->deadline_ms;
}

static enum db_status api_order_pay_effect(struct db *db, struct response *res,
    void *arg)
{
	struct api_order_tx *tx = arg;
	enum db_status st;

	st = order_pay(db, &tx->change, response_json(res, 200), &tx->out);
	if (st == DB_OK)
		api_order_refuse(res, &tx->out);
	return st;
}

void api_order_pay(struct request *req, struct response *res, struct app *app)
{
	static const char *const fields[] = { "coupon_id", NULL };
	struct api_order_tx tx;

	api_order_change_init(&tx, req, app);
	if (req->json != NULL &&
	    (valid_known_fields(res, req->json, fields) < 0 ||
	        valid_int(res, req->json, "coupon_id", VALID_OPTIONAL, 1,
	            INT64_MAX, 0, &tx.change.coupon_id) < 0))
		return;
	api_point_run(app, req, res, api_order_pay_effect, &tx, &tx.out.points,
	    &tx.change.point_strategy);
}

static enum db_status api_order_cancel_effect(struct db *db,
    struct response *res, void *arg)
{
	struct api_order_tx *tx = arg;
	enum db_status st;

	st = order_cancel(db, &tx->change, response_json(res, 200), &tx->out);
	if (st == DB_OK)
		api_order_refuse(res, &tx->out);
	return st;
}

void api_order_cancel(struct request *req, struct response *res,
    struct app *app)
{
	struct api_order_tx tx;

	api_order_change_init(&tx, req, app);
	api_point_run(app, req, res, api_order_cancel_effect, &tx,
	    &tx.out.points, &tx.change.point_strategy);
}
