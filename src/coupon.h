/*
 * coupon: first-come-first-served coupon policies and the coupons users
 * hold: creating and reading a policy, and using, giving back and expiring
 * a coupon.  Issuing one, the path that meets the crowd, is coupon_issue.c
 * (with coupon_limits.c and coupon_gate.c); the HTTP handlers are
 * api_coupon.c.  The statements are sql/queries/coupon.sql.
 */
#ifndef STOCKADE_COUPON_H
#define STOCKADE_COUPON_H

#include <stdint.h>

#include "db.h"
#include "json.h"

/* The bounds of a policy (api_coupon.c validates them). */
#define COUPON_NAME_MAX 200
#define COUPON_PERCENT_MAX 100
#define COUPON_AMOUNT_MAX 1000000000000LL /* discount_value and _cap */
#define COUPON_TOTAL_MAX 10000000
#define COUPON_VALID_DAYS_MAX 3650
#define COUPON_VALID_DAYS_DEFAULT 30

/* A new policy, validated. */
struct coupon_new {
	const char *name;
	int percent; /* discount_kind: 1 percent, 0 amount */
	int64_t value; /* the amount, or the percentage */
	int64_t cap; /* percent only: the most it takes off; 0: none */
	int64_t total; /* total_quantity */
	int64_t valid_days; /* how long a claimed coupon can be used */
	/* The window, RFC 3339; NULL: from now, for 30 days from its start. */
	const char *starts_at, *ends_at;
};

enum coupon_create_result {
	COUPON_CREATED,
	COUPON_BAD_WINDOW, /* ends_at not after starts_at, or already past */
	COUPON_CREATE_RESULT__MAX
};

/*
 * Creates policy n.  Returns DB_OK with *result: COUPON_CREATED, the
 * policy as JSON written to w and its id in *id; or COUPON_BAD_WINDOW,
 * nothing created or written.  Any other status is a failure.
 */
enum db_status coupon_policy_create(struct db *db, const struct coupon_new *n,
    struct json_writer *w, int64_t *id, enum coupon_create_result *result);

/*
 * Writes policy id as JSON to w, with what it has issued and what remains.
 * Returns DB_OK, DB_NOTFOUND when there is no such policy (nothing
 * written), or a failure.
 */
enum db_status coupon_policy_get(struct db *db, int64_t id,
    struct json_writer *w);

/*
 * The caller's coupons, newest first: up to limit below the id after,
 * written into w (a page_list_fn; see page.h).
 */
enum db_status coupon_list_mine(struct db *db, int64_t user_id, int64_t after,
    int64_t limit, struct json_writer *w, int64_t *n, int64_t *last_id);

/*
 * The discount of a coupon on an order of total: a fixed amount, or a
 * percentage rounded down and capped (cap 0: none); never more than total.
 */
int64_t coupon_discount(int percent, int64_t value, int64_t cap, int64_t total);

enum coupon_use_result {
	COUPON_USE_OK, /* used by the order; *discount set */
	COUPON_USE_UNAVAILABLE, /* unknown, another user's, used or expired */
	COUPON_USE_RESULT__MAX
};

/*
 * In the caller's transaction, after the order's row lock: locks the
 * caller's coupon, and if it is available and unexpired marks it used by
 * order and records the discount on the order (*discount): *result
 * COUPON_USE_OK.  Otherwise *result is COUPON_USE_UNAVAILABLE, nothing is
 * written, and rolling back is the caller's.  Returns DB_OK with *result
 * set, or a failure.
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
