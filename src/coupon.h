/*
 * coupon: first-come-first-served coupon policies, their issue, and the use
 * of a coupon when an order is paid.
 *
 * The issue path: the worker's copy of the policy's limits (struct
 * coupon_cache) answers 404 and not_open; the Redis gate (coupon_gate.c)
 * turns away duplicates and the crowd past the total; what it lets through
 * meets the final defense, one PostgreSQL transaction (coupon_strategy),
 * whose refusal or failure is undone in the gate.  Exactly N coupons, one
 * per user, rests on the database alone.
 */
#ifndef STOCKADE_COUPON_H
#define STOCKADE_COUPON_H

#include <stdint.h>

#include "app.h"
#include "db.h"
#include "http.h"

/* POST /api/v1/admin/coupons: create a policy. */
void coupon_create(struct request *req, struct response *res, struct app *app);
/* GET /api/v1/coupons/{id}: the policy, with what remains. */
void coupon_get(struct request *req, struct response *res, struct app *app);
/* POST /api/v1/coupons/{id}/issue: one coupon for the caller. */
void coupon_issue(struct request *req, struct response *res, struct app *app);
/* GET /api/v1/me/coupons?limit=&after=: the caller's coupons, newest first. */
void coupon_list_mine(struct request *req, struct response *res,
    struct app *app);

/* A worker's copy of policies' limits, for the gate.  Never NULL. */
struct coupon_cache *coupon_cache_create(void);
void coupon_cache_free(struct coupon_cache *cache); /* accepts NULL */

/*
 * The discount of a coupon on an order of total: a fixed amount, or a
 * percentage rounded down and capped (cap 0: none); never more than total.
 */
int64_t coupon_discount(int percent, int64_t value, int64_t cap, int64_t total);

/* What came of using a coupon. */
enum coupon_use_result {
	COUPON_USE_OK, /* used; the discount is recorded on the order */
	/* Unknown, another user's, used or expired: all look alike. */
	COUPON_USE_UNAVAILABLE,
	COUPON_USE_RESULT__MAX
};

/*
 * In the caller's transaction, after the order's row lock: locks the
 * caller's coupon, and if it is available and unexpired marks it used by
 * order and records the discount on the order (*discount).  Returns DB_OK
 * with *result set, or a database failure.
 */
enum db_status coupon_use(struct db *db, int64_t coupon_id, int64_t user_id,
    int64_t order_id, int64_t total, int64_t *discount,
    enum coupon_use_result *result);

/* In the caller's transaction: the coupon order used is available again. */
enum db_status coupon_give_back(struct db *db, int64_t order_id);

/*
 * Marks up to batch available coupons past expires_at as expired (SKIP
 * LOCKED: a coupon being used right now is left for the next round).
 * Sets *expired.  Used by the reaper.
 */
enum db_status coupon_expire_batch(struct db *db, int batch, int *expired);

#endif
