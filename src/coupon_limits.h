/*
 * coupon_limits: a worker's copy of coupon policies' limits (total and
 * window), read from the database at most every coupon_cache_ttl, so that
 * the issue path can answer coupon_not_found and not_open, and give the
 * gate its total, without a database round trip (step 1 of the issue path,
 * docs/coupons.md).  total_quantity and the window change only by an
 * operator's hand, so a copy a second old is good enough to turn requests
 * away early; the database checks both again.
 *
 * Each copy also holds the state of the check of the gate's "sold out"
 * against the database (coupon_issue.c), which must survive the copy being
 * read again.
 */
#ifndef STOCKADE_COUPON_LIMITS_H
#define STOCKADE_COUPON_LIMITS_H

#include <stdint.h>

#include "db.h"

/* A worker's cache holds this many policies, one per slot (id % slots). */
#define COUPON_CACHE_SLOTS 64
/* The gate's sold_out is checked against the database at most this often. */
#define COUPON_VERIFY_INTERVAL_MS 1000

struct coupon_limits {
	int64_t id; /* 0: empty slot */
	int64_t total;
	int64_t starts_ms, ends_ms; /* the window, database clock */
	int64_t db_now_ms; /* the database clock when read... */
	int64_t read_ms; /* ...and this process's monotonic clock then */
	/*
	 * The gate's sold_out, checked against the database at most every
	 * COUPON_VERIFY_INTERVAL_MS; once the database says sold out it
	 * stays so (what a policy has issued never goes down).
	 */
	int64_t verified_ms;
	int64_t verified_issued; /* what that check saw; -1: none yet */
	int db_sold_out;
};

struct coupon_cache;

/* Creates an empty cache (app.c, one per worker).  Never NULL. */
struct coupon_cache *coupon_cache_create(void);
void coupon_cache_free(struct coupon_cache *cache); /* accepts NULL */

/*
 * Policy id's limits: the cached copy while younger than ttl_ms, else read
 * again from db (keeping the sold-out check's state).  Returns DB_OK with
 * *out pointing into the cache (valid until the next call), DB_NOTFOUND
 * when there is no such policy, or the read's failure.
 */
enum db_status coupon_limits_get(struct coupon_cache *cache, struct db *db,
    int ttl_ms, int64_t id, struct coupon_limits **out);

/*
 * Predicate: is the window open at now_ms (clock_ms), judged by the
 * database's clock as last read?
 */
int coupon_limits_open(const struct coupon_limits *lim, int64_t now_ms);

/*
 * The check of the gate's sold_out.  verify_due is a predicate: 1 when the
 * database should be asked now (not sold out by it, and the last check at
 * least COUPON_VERIFY_INTERVAL_MS before now_ms), and it then counts as
 * asked.  verify_seen records what the database has issued: 1 when the
 * gate is proven wrong, i.e. fewer than the total issued and the same
 * number as the check before (an admission in flight would have moved it;
 * a lost undo does not), else 0.
 */
int coupon_limits_verify_due(struct coupon_limits *lim, int64_t now_ms);
int coupon_limits_verify_seen(struct coupon_limits *lim, int64_t issued);

#endif
