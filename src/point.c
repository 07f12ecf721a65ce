/*
 * point: see point.h.
 *
 * Each strategy changes the balance and inserts the ledger row in one
 * statement (a data-modifying CTE), so the pair can never be split:
 *  - optimistic reads (balance, version) without a lock, then updates
 *    WHERE version = $v; no row updated means someone else moved first,
 *    a POINT_CONFLICT on which the handler reruns the whole transaction
 *    (api_point_run);
 *  - pessimistic reads the row FOR UPDATE, then updates it; writers of
 *    one account queue on the row lock and never retry;
 *  - conditional updates balance = balance + d WHERE the result stays in
 *    bounds, in one statement; the check lives in the WHERE clause.
 * A missing account is created on first use with INSERT ... ON CONFLICT DO
 * NOTHING, which waits for a concurrent creator instead of failing.
 */
#include "point.h"

#include <stdio.h>

#include "config.h"
#include "queries.h"
#include "retry.h"

const char *const point_strategy_names[POINT_STRATEGY__MAX] = {
	"optimistic",
	"pessimistic",
	"conditional",
};

/*
 * Conditional: how many times a refusal that a second read cannot explain
 * (the balance changed in between) is tried again before it is reported
 * as a conflict.
 */
#define POINT_RECHECK_RETRIES 2

const char *const point_kind_names[POINT_KIND__MAX] = {
	"charge",
	"use",
	"refund",
};

const char *const point_result_names[POINT_RESULT__MAX] = {
	"moved",
	"insufficient",
	"over_limit",
	"conflict",
};

/* Text forms of a move's parameters. */
struct point_params {
	char user[DB_I64_LEN], delta[DB_I64_LEN], order[DB_I64_LEN],
	    max[DB_I64_LEN];
	const char *order_or_null;
};

static void point_format(const struct point_move *m, struct point_params *p)
{
	db_param_i64(p->user, m->user_id);
	db_param_i64(p->delta, m->delta);
	db_param_i64(p->order, m->order_id);
	db_param_i64(p->max, m->max_balance);
	p->order_or_null = m->order_id > 0 ? p->order : NULL;
}

/* Whether m fits a balance: POINT_MOVED when it does. */
static enum point_result point_fits(const struct point_move *m, int64_t balance)
{
	if (balance + m->delta < 0)
		return POINT_INSUFFICIENT;
	if (balance + m->delta > m->max_balance)
		return POINT_OVER_LIMIT;
	return POINT_MOVED;
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
			st = db_get_i64(r, 0, 0, balance);
			snprintf(version, versionlen, "%s",
			    PQgetvalue(r, 0, 1));
			PQclear(r);
			return st;
		}
		PQclear(r);
		if ((st = db_command(db, &point_open_stmt, params)) != DB_OK)
			return st;
	}
	return DB_ERROR; /* created, yet not readable: cannot happen */
}

/*
 * Runs a statement that moves the balance and returns the ledger's
 * balance_after, or no row: sets *moved.
 */
static enum db_status point_apply(struct db *db, const struct db_stmt *stmt,
    const char *const *params, struct point_move *m, int *moved)
{
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, stmt, params, &st)) == NULL)
		return st;
	*moved = PQntuples(r) == 1;
	st = *moved ? db_get_i64(r, 0, 0, &m->balance) : DB_OK;
	PQclear(r);
	return st;
}

/* Optimistic (check_version) or pessimistic (locked read) move. */
static enum db_status point_move_read_then_set(struct db *db,
    struct point_move *m, const struct point_params *p, int locked,
    enum point_result *result)
{
	const struct db_stmt *read =
	    locked ? &point_lock_stmt : &point_read_stmt;
	char version[DB_I64_LEN], next[DB_I64_LEN];
	const char *params[] = { p->user, next, locked ? NULL : version,
		p->delta, point_kind_names[m->kind], p->order_or_null };
	enum db_status st;
	int moved;

	st = point_read(db, read, p, &m->balance, version, sizeof(version));
	if (st != DB_OK)
		return st;
	if ((*result = point_fits(m, m->balance)) != POINT_MOVED)
		return DB_OK;
	db_param_i64(next, m->balance + m->delta);
	if ((st = point_apply(db, &point_set_stmt, params, m, &moved)) != DB_OK)
		return st;
	if (!moved)
		*result = POINT_CONFLICT; /* the version moved under us */
	return DB_OK;
}

static enum db_status point_move_conditional(struct db *db,
    struct point_move *m, const struct point_params *p, int64_t deadline_ms,
    enum point_result *result)
{
	const char *params[] = { p->user, p->delta, p->max,
		point_kind_names[m->kind], p->order_or_null };
	char version[DB_I64_LEN];
	struct retry retry;
	enum db_status st;
	int moved;

	/* A refusal is explained by a second read; if that read says the
	 * move fits after all, the balance changed in between: try again. */
	retry_init(&retry, POINT_RECHECK_RETRIES, deadline_ms);
	do {
		st = point_apply(db, &point_add_stmt, params, m, &moved);
		if (st != DB_OK)
			return st;
		if (moved) {
			*result = POINT_MOVED;
			return DB_OK;
		}
		st = point_read(db, &point_read_stmt, p, &m->balance, version,
		    sizeof(version));
		if (st != DB_OK)
			return st;
		if ((*result = point_fits(m, m->balance)) != POINT_MOVED)
			return DB_OK;
	} while (retry_again(&retry));
	*result = POINT_CONFLICT;
	return DB_OK;
}

enum db_status point_move(struct db *db, int strategy, int64_t deadline_ms,
    struct point_move *m, enum point_result *result)
{
	struct point_params p;

	*result = POINT_CONFLICT; /* meaningless unless DB_OK */
	point_format(m, &p);
	switch (strategy) {
	case POINT_CONDITIONAL:
		return point_move_conditional(db, m, &p, deadline_ms, result);
	case POINT_PESSIMISTIC:
		return point_move_read_then_set(db, m, &p, 1, result);
	default:
		return point_move_read_then_set(db, m, &p, 0, result);
	}
}

enum db_status point_balance(struct db *db, int64_t user_id, int64_t *balance)
{
	char user[DB_I64_LEN];
	const char *params[] = { db_param_i64(user, user_id) };
	enum db_status st;
	PGresult *r;

	*balance = 0;
	if ((r = db_query(db, &point_read_stmt, params, &st)) == NULL)
		return st;
	st = PQntuples(r) ? db_get_i64(r, 0, 0, balance) : DB_OK;
	PQclear(r);
	return st;
}

enum db_status point_history(struct db *db, int64_t user_id, int64_t after,
    int64_t limit, struct json_writer *w, int64_t *n, int64_t *last_id)
{
	return db_page(db, &point_history_stmt, user_id, after, limit, w, n,
	    last_id);
}
