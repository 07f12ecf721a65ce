/*
 * point: see point.h.
 *
 * Each strategy changes the balance and inserts the ledger row in one
 * statement (a data-modifying CTE), so the pair can never be split:
 *  - optimistic reads (balance, version) without a lock, then updates
 *    WHERE version = $v; no row updated means someone else moved first,
 *    and the whole transaction is retried (point_run);
 *  - pessimistic reads the row FOR UPDATE, then updates it; writers of
 *    one account queue on the row lock and never retry;
 *  - conditional updates balance = balance + d WHERE the result stays in
 *    bounds, in one statement; the check lives in the WHERE clause.
 * A missing account is created on first use with INSERT ... ON CONFLICT DO
 * NOTHING, which waits for a concurrent creator instead of failing.
 */
#include "point.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "page.h"
#include "retry.h"
#include "api.h"
#include "queries.h"
#include "valid.h"

const char *const point_kind_names[POINT_KIND__MAX] = {
	"charge",
	"use",
	"refund",
};

/* Text forms of a move's parameters. */
struct point_params {
	char user[24], delta[24], order[24], max[24];
	const char *order_or_null;
};

static void point_format(const struct point_move *m, struct point_params *p)
{
	snprintf(p->user, sizeof(p->user), "%" PRId64, m->user_id);
	snprintf(p->delta, sizeof(p->delta), "%" PRId64, m->delta);
	snprintf(p->order, sizeof(p->order), "%" PRId64, m->order_id);
	snprintf(p->max, sizeof(p->max), "%" PRId64, m->max_balance);
	p->order_or_null = m->order_id > 0 ? p->order : NULL;
}

/* The refusal for a balance that would leave [0, max_balance]. */
static enum db_status point_refuse(const struct point_move *m, int64_t balance,
    struct response *res)
{
	char detail[160];

	if (balance + m->delta < 0) {
		snprintf(detail, sizeof(detail),
		    "the balance is %" PRId64 "; %" PRId64 " are needed",
		    balance, -m->delta);
		json_member_int(problem_begin(res, 409, "insufficient_points",
		                    detail),
		    "balance", balance);
		problem_end(res);
	} else {
		snprintf(detail, sizeof(detail),
		    "the balance may not exceed %" PRId64, m->max_balance);
		problem_write(res, 400, "balance_limit", detail);
	}
	return DB_ABORT;
}

/*
 * Reads the account (locked or not), creating it first when it does not
 * exist yet.  Returns DB_OK with *balance and version[] set.
 */
static enum db_status point_read(struct db *db, const struct db_stmt *read,
    const struct point_params *p, int64_t *balance, char *version,
    size_t versionlen)
{
	const char *params[] = { p->user };
	enum db_status st;
	PGresult *r;

	for (int pass = 0; pass < 2; pass++) {
		if ((r = db_query(db, read, params, &st)) == NULL)
			return st;
		if (PQntuples(r) == 1) {
			*balance = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			snprintf(version, versionlen, "%s",
			    PQgetvalue(r, 0, 1));
			PQclear(r);
			return DB_OK;
		}
		PQclear(r);
		if ((st = db_command(db, &point_open_stmt, params)) != DB_OK)
			return st;
	}
	return DB_ERROR; /* created, yet not readable: cannot happen */
}

/* Optimistic (check_version) or pessimistic (locked read) move. */
static enum db_status point_move_read_then_set(struct db *db,
    struct point_move *m, const struct point_params *p, int locked,
    struct response *res)
{
	const struct db_stmt *read =
	    locked ? &point_lock_stmt : &point_read_stmt;
	char version[24], next[24];
	const char *params[] = { p->user, next, locked ? NULL : version,
		p->delta, point_kind_names[m->kind], p->order_or_null };
	int64_t balance;
	enum db_status st;
	PGresult *r;

	st = point_read(db, read, p, &balance, version, sizeof(version));
	if (st != DB_OK)
		return st;
	if (balance + m->delta < 0 || balance + m->delta > m->max_balance)
		return point_refuse(m, balance, res);
	snprintf(next, sizeof(next), "%" PRId64, balance + m->delta);
	if ((r = db_query(db, &point_set_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) == 0) {
		m->conflict = 1; /* the version moved under us */
		st = DB_ABORT;
	} else {
		m->balance = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
	return st;
}

static enum db_status point_move_conditional(struct db *db,
    struct point_move *m, const struct point_params *p, struct response *res)
{
	const char *params[] = { p->user, p->delta, p->max,
		point_kind_names[m->kind], p->order_or_null };
	char version[24];
	int64_t balance;
	enum db_status st;
	PGresult *r;

	/* A refusal is explained by a second read; if that read says the
	 * move fits after all, the balance changed in between: try again. */
	for (int attempt = 0; attempt < 3; attempt++) {
		if ((r = db_query(db, &point_add_stmt, params, &st)) == NULL)
			return st;
		if (PQntuples(r) == 1) {
			m->balance = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			PQclear(r);
			return DB_OK;
		}
		PQclear(r);
		st = point_read(db, &point_read_stmt, p, &balance, version,
		    sizeof(version));
		if (st != DB_OK)
			return st;
		if (balance + m->delta < 0 ||
		    balance + m->delta > m->max_balance)
			return point_refuse(m, balance, res);
	}
	m->conflict = 1;
	return DB_ABORT;
}

enum db_status point_move(struct db *db, int strategy, struct point_move *m,
    struct response *res)
{
	struct point_params p;

	m->conflict = 0;
	point_format(m, &p);
	switch (strategy) {
	case POINT_CONDITIONAL:
		return point_move_conditional(db, m, &p, res);
	case POINT_PESSIMISTIC:
		return point_move_read_then_set(db, m, &p, 1, res);
	default:
		return point_move_read_then_set(db, m, &p, 0, res);
	}
}

void point_run(struct app *app, const struct request *req, struct response *res,
    idempotency_effect_fn effect, void *arg, const int *conflict)
{
	struct retry retry;
	enum db_status st;

	retry_init(&retry, app->cfg->point_retries, app->deadline_ms);
	for (;;) {
		st = idempotency_transaction(app->db, req, res, effect, arg);
		if (!*conflict)
			break;
		app_count(app, COUNTER_POINT_CONFLICTS);
		if (!retry_again(&retry))
			break;
	}
	if (*conflict) {
		problem_write(res, 409, "conflict",
		    "the balance kept changing under concurrent requests; "
		    "try again");
		response_header(res, "Retry-After", "%d",
		    app->cfg->retry_after_s);
		return;
	}
	if (st != DB_OK && st != DB_ABORT)
		api_db_failure(res, app, st);
}

static void point_write_balance(struct response *res, int64_t user,
    int64_t balance)
{
	struct json_writer *w = response_json(res, 200);

	json_open_object(w);
	json_member_int(w, "user_id", user);
	json_member_int(w, "balance", balance);
	json_close_object(w);
}

void point_balance(struct request *req, struct response *res, struct app *app)
{
	char user[24];
	const char *params[] = { user };
	enum db_status st;
	PGresult *r;

	snprintf(user, sizeof(user), "%" PRId64, req->identity.user_id);
	if ((r = db_query(app->db, &point_read_stmt, params, &st)) == NULL) {
		api_db_failure(res, app, st);
		return;
	}
	point_write_balance(res, req->identity.user_id,
	    PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0);
	PQclear(r);
}

struct point_charge_tx {
	struct app *app;
	struct point_move move;
};

static enum db_status point_charge_effect(struct db *db, struct response *res,
    void *arg)
{
	struct point_charge_tx *tx = arg;
	enum db_status st;

	st = point_move(db, tx->app->cfg->point_strategy, &tx->move, res);
	if (st == DB_OK)
		point_write_balance(res, tx->move.user_id, tx->move.balance);
	return st;
}

void point_charge(struct request *req, struct response *res, struct app *app)
{
	static const char *const fields[] = { "amount", NULL };
	struct point_charge_tx tx = { .app = app };

	if (valid_known_fields(res, req->json, fields) < 0 ||
	    valid_int(res, req->json, "amount", VALID_REQUIRED, 1,
	        (int64_t)app->cfg->max_charge, 0, &tx.move.delta) < 0)
		return;
	tx.move.user_id = req->identity.user_id;
	tx.move.kind = POINT_CHARGE;
	tx.move.max_balance = (int64_t)app->cfg->max_balance;
	point_run(app, req, res, point_charge_effect, &tx, &tx.move.conflict);
}

void point_history(struct request *req, struct response *res, struct app *app)
{
	page_serve_own(req, res, app, &point_history_stmt);
}
