/*
 * api_order: the order endpoints (order.c holds the data).  Placing, paying
 * and canceling run in idempotent transactions (idempotency.c); paying and
 * canceling move points, so they rerun on an optimistic conflict
 * (api_point_run).
 */
#ifndef STOCKADE_API_ORDER_H
#define STOCKADE_API_ORDER_H

#include "app.h"
#include "http.h"

/* POST /api/v1/orders {"items":[{"option_id","quantity"}, ...]} */
void api_order_create(struct request *req, struct response *res,
    struct app *app);
/* GET /api/v1/orders?limit=&after=: the caller's orders, newest first. */
void api_order_list(struct request *req, struct response *res, struct app *app);
/* GET /api/v1/orders/{id} */
void api_order_get(struct request *req, struct response *res, struct app *app);
/*
 * POST /api/v1/orders/{id}/pay {"coupon_id"?}: the order's total in points,
 * in one transaction with the order's move to 'paid'.
 */
void api_order_pay(struct request *req, struct response *res, struct app *app);
/*
 * POST /api/v1/orders/{id}/cancel: a pending order gives its stock back; a
 * paid one also gets its coupon and points back, in the same transaction.
 */
void api_order_cancel(struct request *req, struct response *res,
    struct app *app);

#endif
