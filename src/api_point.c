/*
 * api_point: see api_point.h.
 */
#include "api_point.h"

#include <inttypes.h>
#include <stdio.h>

#include "api.h"
#include "config.h"
#include "page.h"
#include "retry.h"
#include "valid.h"

void api_point_refuse(struct response *res, const struct point_move *m,
    enum point_result result)
{
	char detail[160];

	switch (result) {
	case POINT_INSUFFICIENT:
		snprintf(detail, sizeof(detail),
		    "the balance is %" PRId64 "; %" PRId64 " are needed",
		    m->balance, -m->delta);
		json_member_int(problem_begin(res, 409, "insufficient_points",
		                    detail),
		    "balance", m->balance);
		problem_end(res);
		break;
	case POINT_OVER_LIMIT:
		snprintf(detail, sizeof(detail),
		    "the balance may not exceed %" PRId64, m->max_balance);
		problem_write(res, 400, "balance_limit", detail);
		break;
	default:
		problem_write(res, 409, "conflict",
		    "the balance kept changing under concurrent requests; "
		    "try again");
		break;
	}
}

void api_point_run(struct app *app, const struct request *req,
    struct response *res, idempotency_effect_fn effect, void *arg,
    enum point_result *points, int *strategy)
{
	struct retry retry;
	enum db_status st;

	retry_init(&retry, app->cfg->point_retries, app->deadline_ms);
	for (;;) {
		*points = POINT_MOVED;
		st = idempotency_transaction(app->db, req, res,
		    app->cfg->retry_after_s, effect, arg);
		if (st != DB_OK || *points != POINT_CONFLICT)
			break;
		app_count(app, COUNTER_POINT_CONFLICTS);
		if (retry_again(&retry))
			continue;
		if (*strategy != POINT_OPTIMISTIC)
			break;
		/* The optimistic tries are spent (or the deadline is near):
		 * the last one queues on the row lock, which cannot
		 * conflict, so a hot account costs a wait, never a 409.
		 * lock_timeout and statement_timeout still bound it. */
		*strategy = POINT_PESSIMISTIC;
		app_count(app, COUNTER_POINT_LOCK_FALLBACKS);
	}
	if (st != DB_OK)
		api_db_failure(res, app, st);
	else if (*points == POINT_CONFLICT)
		response_header(res, "Retry-After", "%d",
		    app->cfg->retry_after_s);
}

static void api_point_write_balance(struct response *res, int64_t user,
    int64_t balance)
{
	struct json_writer *w = response_json(res, 200);

	json_open_object(w);
	json_member_int(w, "user_id", user);
	json_member_int(w, "balance", balance);
	json_close_object(w);
}

void api_point_balance(struct request *req, struct response *res,
    struct app *app)
{
	int64_t balance;
	enum db_status st;

	st = point_balance(app->db, req->identity.user_id, &balance);
	if (st != DB_OK)
		api_db_failure(res, app, st);
	else
		api_point_write_balance(res, req->identity.user_id, balance);
}

struct api_point_charge_tx {
	struct app *app;
	int strategy; /* enum point_strategy; api_point_run may change it */
	struct point_move move;
	enum point_result result;
};

static enum db_status api_point_charge_effect(struct db *db,
    struct response *res, void *arg)
{
	struct api_point_charge_tx *tx = arg;
	enum db_status st;

	st = point_move(db, tx->strategy, tx->app->deadline_ms, &tx->move,
	    &tx->result);
	if (st != DB_OK)
		return st;
	if (tx->result == POINT_MOVED)
		api_point_write_balance(res, tx->move.user_id,
		    tx->move.balance);
	else
		api_point_refuse(res, &tx->move, tx->result);
	return DB_OK;
}

void api_point_charge(struct request *req, struct response *res,
    struct app *app)
{
	static const char *const fields[] = { "amount", NULL };
	struct api_point_charge_tx tx = {
		.app = app,
		.strategy = app->cfg->point_strategy,
	};

	if (valid_known_fields(res, req->json, fields) < 0 ||
	    valid_int(res, req->json, "amount", VALID_REQUIRED, 1,
	        (int64_t)app->cfg->max_charge, 0, &tx.move.delta) < 0)
		return;
	tx.move.user_id = req->identity.user_id;
	tx.move.kind = POINT_CHARGE;
	tx.move.max_balance = (int64_t)app->cfg->max_balance;
	api_point_run(app, req, res, api_point_charge_effect, &tx, &tx.result,
	    &tx.strategy);
}

/* The history may trail the user's own moves (app->db_read); the balance
 * (api_point_balance) is read on the primary. */
void api_point_history(struct request *req, struct response *res,
    struct app *app)
{
	page_serve_list(req, res, app, app->db_read, point_history);
}
