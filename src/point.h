/*
 * point: point balances and their ledger.  Every change of a balance goes
 * through point_move, which writes the ledger row in the same statement as
 * the balance, with the configured strategy (optimistic, pessimistic,
 * conditional), so balance = sum of ledger holds at every commit.
 */
#ifndef STOCKADE_POINT_H
#define STOCKADE_POINT_H

#include <stdint.h>

#include "app.h"
#include "db.h"
#include "http.h"
#include "idempotency.h"

enum point_kind { POINT_CHARGE, POINT_USE, POINT_REFUND, POINT_KIND__MAX };

extern const char *const point_kind_names[POINT_KIND__MAX];

struct point_move {
	int64_t user_id;
	int64_t delta; /* positive for charge and refund */
	enum point_kind kind;
	int64_t order_id; /* 0 for a charge */
	int64_t max_balance;
	int64_t balance; /* out: the balance after the move */
	int conflict; /* out: an optimistic version conflict */
};

/*
 * Applies m inside the caller's transaction.  Returns DB_OK (m->balance
 * set); DB_ABORT after writing 409 insufficient_points or 400 balance_limit
 * into res; DB_ABORT with m->conflict set when the optimistic strategy lost
 * a race (the caller retries the whole transaction: see point_run); or a
 * database failure.
 */
enum db_status point_move(struct db *db, int strategy, struct point_move *m,
    struct response *res);

/*
 * Runs effect in an idempotent transaction (idempotency_transaction) and,
 * while *conflict comes back set, runs it again after a jittered back-off,
 * at most point_retries times; then answers 409 conflict with Retry-After.
 * The effect must clear and set *conflict itself.  Reports database
 * failures into res, so the caller has nothing left to do.
 */
void point_run(struct app *app, const struct request *req, struct response *res,
    idempotency_effect_fn effect, void *arg, const int *conflict);

/* GET /api/v1/points */
void point_balance(struct request *req, struct response *res, struct app *app);
/* POST /api/v1/points/charge {"amount":n} */
void point_charge(struct request *req, struct response *res, struct app *app);
/* GET /api/v1/points/history?limit=&after= */
void point_history(struct request *req, struct response *res, struct app *app);

#endif
