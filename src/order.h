/*
 * order: placing, reading, paying and canceling orders.  Placing an order
 * reserves its stock (stock.c) and creates it 'pending' until expires_at;
 * paying moves its total in points (point.c), less a coupon's discount;
 * cancel and the reaper's expiry give the stock back exactly once, because
 * both move the order out of 'pending' under its row lock before restoring.
 *
 * Every transition (pay, cancel) starts by locking the order row, so
 * concurrent transitions of one order queue there and each sees the status
 * the previous one left.  Answers are the order as JSON built by
 * PostgreSQL, written into the caller's writer; a refusal is an outcome
 * (enum order_result) for the caller to answer, and the statements it
 * already ran are for the caller to roll back.
 */
#ifndef STOCKADE_ORDER_H
#define STOCKADE_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "json.h"
#include "point.h"
#include "stock.h"

#define ORDER_ITEMS_MAX STOCK_ITEMS_MAX /* lines of one order */
#define ORDER_QUANTITY_MAX 1000 /* units of one line */
#define ORDER_STATUS_MAX 16 /* the longest status, "canceled", and more */

enum order_result {
	ORDER_OK, /* done: the order is in the writer */
	ORDER_NOT_FOUND, /* the caller has no order with that id */
	ORDER_NOT_PENDING, /* pay: the order is not pending (status) */
	ORDER_EXPIRED, /* pay: pending, but its reservation has expired */
	ORDER_NOT_CANCELABLE, /* cancel: neither pending nor paid (status) */
	ORDER_STOCK_REFUSED, /* place: see stock and shortage */
	ORDER_POINTS_REFUSED, /* pay, cancel: see points and move */
	ORDER_COUPON_UNAVAILABLE, /* pay: not the caller's to use now */
	ORDER_RESULT__MAX
};

extern const char *const order_result_names[ORDER_RESULT__MAX];

/* An order to place. */
struct order_new {
	int64_t user_id;
	/* Distinct options, by ascending id (order_items_sort). */
	struct stock_item items[ORDER_ITEMS_MAX];
	size_t n;
	int stock_strategy; /* enum stock_strategy (config.h) */
	int ttl_ms; /* how long the order holds its stock (reservation_ttl) */
};

/* A transition of one of the caller's orders (pay, cancel). */
struct order_change {
	int64_t order_id;
	int64_t user_id;
	int64_t coupon_id; /* pay: the coupon to use; 0 for none */
	int point_strategy; /* enum point_strategy (config.h) */
	int64_t deadline_ms; /* no retry of a point move starts later */
};

/* What came of placing, paying or canceling. */
struct order_outcome {
	enum order_result result;
	int64_t order_id; /* place: the order created */
	char status[ORDER_STATUS_MAX]; /* pay, cancel: the status found */
	enum stock_result stock; /* ORDER_STOCK_REFUSED: why */
	struct stock_shortage shortage; /* ... and which option */
	/* pay, cancel: the points moved, or why not (ORDER_POINTS_REFUSED;
	 * POINT_CONFLICT asks for the whole transaction again). */
	enum point_result points;
	struct point_move move;
};

/*
 * Sorts o's items by option id, the order in which their rows and locks
 * are taken.  Returns 0, or -1 when an option appears twice (the client
 * meant one line with the sum, or made a mistake: either way it should say
 * so).
 */
int order_items_sort(struct order_new *o);

/*
 * Places o inside the caller's transaction: takes the stock, creates the
 * order 'pending' with its items and movements, and writes it into w.
 * Returns DB_OK with out->result ORDER_OK (out->order_id set) or
 * ORDER_STOCK_REFUSED, or a database failure.
 */
enum db_status order_place(struct db *db, struct order_new *o,
    struct json_writer *w, struct order_outcome *out);

/* Writes the caller's order into w (ORDER_OK), or finds none. */
enum db_status order_get(struct db *db, int64_t order_id, int64_t user_id,
    struct json_writer *w, enum order_result *result);

/*
 * Writes up to limit of the user's orders with ids below after, newest
 * first, into w as values of the array the caller opened, and sets *n and
 * *last_id (a page_list_fn of page.h).
 */
enum db_status order_list(struct db *db, int64_t user_id, int64_t after,
    int64_t limit, struct json_writer *w, int64_t *n, int64_t *last_id);

/*
 * Pays a pending, unexpired order inside the caller's transaction: uses
 * the coupon if any, takes total - discount points and marks the order
 * 'paid'; writes it into w.  Returns DB_OK with out->result ORDER_OK,
 * ORDER_NOT_FOUND, ORDER_NOT_PENDING, ORDER_EXPIRED,
 * ORDER_COUPON_UNAVAILABLE or ORDER_POINTS_REFUSED; or a failure.
 */
enum db_status order_pay(struct db *db, const struct order_change *c,
    struct json_writer *w, struct order_outcome *out);

/*
 * Cancels a pending or paid order inside the caller's transaction: gives
 * its stock back and, when it was paid, its coupon and its points; writes
 * it into w.  Returns DB_OK with out->result ORDER_OK, ORDER_NOT_FOUND,
 * ORDER_NOT_CANCELABLE or ORDER_POINTS_REFUSED; or a failure.
 */
enum db_status order_cancel(struct db *db, const struct order_change *c,
    struct json_writer *w, struct order_outcome *out);

/*
 * Expires up to batch (at most CONFIG_REAPER_BATCH_MAX) pending orders past
 * expires_at (FOR UPDATE SKIP LOCKED, so it never waits on a cancel in
 * progress) and gives their stock back, in one transaction of its own.
 * Sets *expired.  Used by the reaper.
 */
enum db_status order_expire_batch(struct db *db, int batch, int *expired);

#endif
