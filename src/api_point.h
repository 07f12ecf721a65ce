/*
 * api_point: the points endpoints (point.c holds the data), and what the
 * order endpoints share with them: the optimistic retry of a whole request
 * and the problems of a refused move.
 */
#ifndef STOCKADE_API_POINT_H
#define STOCKADE_API_POINT_H

#include "app.h"
#include "http.h"
#include "idempotency.h"
#include "point.h"

/* GET /api/v1/points */
void api_point_balance(struct request *req, struct response *res,
    struct app *app);
/* POST /api/v1/points/charge {"amount":n} */
void api_point_charge(struct request *req, struct response *res,
    struct app *app);
/* GET /api/v1/points/history?limit=&after= */
void api_point_history(struct request *req, struct response *res,
    struct app *app);

/*
 * Runs effect in an idempotent transaction (idempotency_transaction) and,
 * while the effect reports POINT_CONFLICT in *points, runs it again after
 * a jittered back-off, at most point_retries times and not past the
 * request's deadline (retry.h).  Under the optimistic strategy the run
 * after those sets *strategy to POINT_PESSIMISTIC (the row lock, which
 * cannot conflict) and counts COUNTER_POINT_LOCK_FALLBACKS, so a charge,
 * payment or refund is never answered 409 conflict; another strategy's
 * conflict past the retries is answered 409 conflict with Retry-After.
 * The effect passes *strategy to point_move.  *points is set to
 * POINT_MOVED before each run (a replay runs no effect); the effect sets
 * it when it moves points, and answers a conflict with api_point_refuse.
 * Reports database failures into res, so the caller has nothing left to
 * do.
 */
void api_point_run(struct app *app, const struct request *req,
    struct response *res, idempotency_effect_fn effect, void *arg,
    enum point_result *points, int *strategy);

/*
 * Answers a move that did not happen (result is not POINT_MOVED): 409
 * insufficient_points with the balance, 400 balance_limit, 409 conflict.
 */
void api_point_refuse(struct response *res, const struct point_move *m,
    enum point_result result);

#endif
