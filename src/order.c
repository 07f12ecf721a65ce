/*
 * order: see order.h.
 */
#include "order.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "idempotency.h"
#include "problem.h"
#include "stock.h"
#include "valid.h"

/* One order as JSON, items by option id. */
#define ORDER_JSON \
	"json_build_object('id', o.id, 'user_id', o.user_id, " \
	"'status', o.status, 'total', o.total, 'expires_at', o.expires_at, " \
	"'created_at', o.created_at, 'paid_at', o.paid_at, 'items', " \
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
static const struct db_stmt order_mark_canceled_stmt = {
	"order_mark_canceled",
	"UPDATE orders SET status = 'canceled', updated_at = now() "
	"WHERE id = $1::bigint AND user_id = $2::bigint AND status = 'pending' "
	"RETURNING id",
	2,
};
static const struct db_stmt order_status_stmt = {
	"order_status",
	"SELECT status FROM orders WHERE id = $1::bigint AND user_id = $2::bigint",
	2,
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
	st =
	    idempotency_transaction(app->db, req, res, order_create_effect, &o);
	if (st != DB_OK && st != DB_ABORT)
		problem_from_db(res, st, app->cfg->retry_after_s);
}

void order_get(struct request *req, struct response *res, struct app *app)
{
	char id[24], user[24];
	enum db_status st;

	snprintf(id, sizeof(id), "%" PRId64, req->params[0]);
	snprintf(user, sizeof(user), "%" PRId64, req->identity.user_id);
	st = order_answer(app->db, res, id, user, 200);
	if (st != DB_OK && st != DB_ABORT)
		problem_from_db(res, st, app->cfg->retry_after_s);
}

void order_list(struct request *req, struct response *res, struct app *app)
{
	char user[24], after_s[24], limit_s[24];
	const char *params[] = { user, after_s, limit_s };
	int64_t limit, after;
	struct json_writer *w;
	enum db_status st;
	PGresult *r;
	int n;

	if (valid_query_int(res, req, "limit", 1, 100, 20, &limit) < 0 ||
	    valid_query_int(res, req, "after", 1, INT64_MAX, INT64_MAX,
	        &after) < 0)
		return;
	snprintf(user, sizeof(user), "%" PRId64, req->identity.user_id);
	snprintf(after_s, sizeof(after_s), "%" PRId64, after);
	snprintf(limit_s, sizeof(limit_s), "%" PRId64, limit);
	if ((r = db_query(app->db, &order_page_stmt, params, &st)) == NULL) {
		problem_from_db(res, st, app->cfg->retry_after_s);
		return;
	}
	n = PQntuples(r);
	w = response_json(res, 200);
	json_open_object(w);
	json_key(w, "items");
	json_open_array(w);
	for (int i = 0; i < n; i++)
		json_write_raw(w, PQgetvalue(r, i, 0),
		    (size_t)PQgetlength(r, i, 0));
	json_close_array(w);
	json_key(w, "next_after");
	if (n > 0 && n == limit)
		json_write_raw(w, PQgetvalue(r, n - 1, 1),
		    (size_t)PQgetlength(r, n - 1, 1));
	else
		json_write_null(w);
	json_close_object(w);
	PQclear(r);
}

struct order_ref {
	char id[24];
	char user[24];
};

/* Why a cancel found nothing to cancel: 404, or 409 with the status. */
static enum db_status order_explain_not_pending(struct db *db,
    struct response *res, const struct order_ref *ref)
{
	const char *params[] = { ref->id, ref->user };
	char detail[96];
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &order_status_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) == 0) {
		problem_write(res, 404, "order_not_found",
		    "you have no order with that id");
	} else {
		snprintf(detail, sizeof(detail),
		    "the order is %s; only a "
		    "pending order can be canceled",
		    PQgetvalue(r, 0, 0));
		problem_write(res, 409, "order_not_cancelable", detail);
	}
	PQclear(r);
	return DB_ABORT;
}

static enum db_status order_cancel_effect(struct db *db, struct response *res,
    void *arg)
{
	const struct order_ref *ref = arg;
	const char *params[] = { ref->id, ref->user };
	char ids[32];
	enum db_status st;
	PGresult *r;
	int canceled;

	/* The pending -> canceled move takes the row lock: a concurrent
	 * cancel or expiry waits here and then finds nothing pending. */
	if ((r = db_query(db, &order_mark_canceled_stmt, params, &st)) == NULL)
		return st;
	canceled = PQntuples(r) == 1;
	PQclear(r);
	if (!canceled)
		return order_explain_not_pending(db, res, ref);
	snprintf(ids, sizeof(ids), "{%s}", ref->id);
	if ((st = stock_restore(db, ids, "cancel")) != DB_OK)
		return st;
	return order_answer(db, res, ref->id, ref->user, 200);
}

void order_cancel(struct request *req, struct response *res, struct app *app)
{
	struct order_ref ref;
	enum db_status st;

	snprintf(ref.id, sizeof(ref.id), "%" PRId64, req->params[0]);
	snprintf(ref.user, sizeof(ref.user), "%" PRId64, req->identity.user_id);
	st = idempotency_transaction(app->db, req, res, order_cancel_effect,
	    &ref);
	if (st != DB_OK && st != DB_ABORT)
		problem_from_db(res, st, app->cfg->retry_after_s);
}

struct order_expiry {
	int batch;
	int expired;
};

static enum db_status order_expire_in_tx(struct db *db, void *arg)
{
	struct order_expiry *e = arg;
	int64_t ids[10000];
	char batch[16], *list = NULL;
	const char *params[1] = { batch };
	size_t len;
	enum db_status st;
	PGresult *r;

	snprintf(batch, sizeof(batch), "%d", e->batch);
	if ((r = db_query(db, &order_pick_expired_stmt, params, &st)) == NULL)
		return st;
	e->expired = PQntuples(r);
	for (int i = 0; i < e->expired && i < 10000; i++)
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
	struct order_expiry e = { batch > 10000 ? 10000 : batch, 0 };
	enum db_status st = db_transaction(db, order_expire_in_tx, &e);

	*expired = st == DB_OK ? e.expired : 0;
	return st;
}
