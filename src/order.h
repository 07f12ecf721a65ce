/*
 * order: placing, reading and canceling orders.  Placing an order reserves
 * its stock (stock.c) and creates it 'pending' until expires_at; cancel and
 * the reaper's expiry give the stock back exactly once, because both move
 * the order out of 'pending' under its row lock before restoring.
 */
#ifndef STOCKADE_ORDER_H
#define STOCKADE_ORDER_H

#include "app.h"
#include "db.h"
#include "http.h"
#include "stock.h"

#define ORDER_ITEMS_MAX STOCK_ITEMS_MAX
#define ORDER_QUANTITY_MAX 1000

/* POST /api/v1/orders {"items":[{"option_id","quantity"}, ...]} */
void order_create(struct request *req, struct response *res, struct app *app);
/* GET /api/v1/orders?limit=&after=: the caller's orders, newest first. */
void order_list(struct request *req, struct response *res, struct app *app);
/* GET /api/v1/orders/{id} */
void order_get(struct request *req, struct response *res, struct app *app);
/*
 * POST /api/v1/orders/{id}/pay {"coupon_id"?}: the order's total in points,
 * in one transaction with the order's move to 'paid'.
 */
void order_pay(struct request *req, struct response *res, struct app *app);
/*
 * POST /api/v1/orders/{id}/cancel: a pending order gives its stock back; a
 * paid one also gets its points refunded, in the same transaction.
 */
void order_cancel(struct request *req, struct response *res, struct app *app);

/*
 * Expires up to batch pending orders past expires_at (FOR UPDATE SKIP
 * LOCKED, so it never waits on a cancel in progress) and gives their stock
 * back, in one transaction.  Sets *expired.  Used by the reaper.
 */
enum db_status order_expire_batch(struct db *db, int batch, int *expired);

#endif
