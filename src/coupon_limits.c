/*
 * coupon_limits: see coupon_limits.h.
 */
#include "coupon_limits.h"

#include <stdlib.h>

#include "clock.h"
#include "queries.h"
#include "xmalloc.h"

struct coupon_cache {
	struct coupon_limits slots[COUPON_CACHE_SLOTS];
};

struct coupon_cache *coupon_cache_create(void)
{
	return xcalloc(1, sizeof(struct coupon_cache));
}

void coupon_cache_free(struct coupon_cache *cache)
{
	free(cache);
}

/* Reads a policy's limits; DB_NOTFOUND when there is no such policy. */
static enum db_status coupon_limits_read(struct db *db, int64_t id,
    struct coupon_limits *lim)
{
	char idtext[DB_I64_LEN];
	const char *params[] = { db_param_i64(idtext, id) };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &coupon_limits_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return DB_NOTFOUND;
	}
	if ((st = db_get_i64(r, 0, 0, &lim->total)) == DB_OK &&
	    (st = db_get_i64(r, 0, 1, &lim->starts_ms)) == DB_OK &&
	    (st = db_get_i64(r, 0, 2, &lim->ends_ms)) == DB_OK)
		st = db_get_i64(r, 0, 3, &lim->db_now_ms);
	PQclear(r);
	if (st != DB_OK)
		return st;
	lim->id = id;
	lim->read_ms = clock_ms();
	lim->verified_ms = 0;
	lim->verified_issued = -1;
	lim->db_sold_out = 0;
	return DB_OK;
}

enum db_status coupon_limits_get(struct coupon_cache *cache, struct db *db,
    int ttl_ms, int64_t id, struct coupon_limits **out)
{
	struct coupon_limits *lim =
	    &cache->slots[(uint64_t)id % COUPON_CACHE_SLOTS];
	int64_t verified_ms = lim->id == id ? lim->verified_ms : 0;
	int64_t verified_issued = lim->id == id ? lim->verified_issued : -1;
	int db_sold_out = lim->id == id && lim->db_sold_out;
	enum db_status st;

	if (lim->id != id || clock_ms() - lim->read_ms >= ttl_ms) {
		lim->id = 0;
		if ((st = coupon_limits_read(db, id, lim)) != DB_OK)
			return st;
		lim->verified_ms = verified_ms;
		lim->verified_issued = verified_issued;
		lim->db_sold_out = db_sold_out;
	}
	*out = lim;
	return DB_OK;
}

int coupon_limits_open(const struct coupon_limits *lim, int64_t now_ms)
{
	int64_t db_now = lim->db_now_ms + (now_ms - lim->read_ms);

	return db_now >= lim->starts_ms && db_now < lim->ends_ms;
}

int coupon_limits_verify_due(struct coupon_limits *lim, int64_t now_ms)
{
	if (lim->db_sold_out ||
	    now_ms - lim->verified_ms < COUPON_VERIFY_INTERVAL_MS)
		return 0;
	lim->verified_ms = now_ms;
	return 1;
}

int coupon_limits_verify_seen(struct coupon_limits *lim, int64_t issued)
{
	if (issued >= lim->total) {
		lim->db_sold_out = 1;
		return 0;
	}
	if (issued != lim->verified_issued) {
		lim->verified_issued = issued; /* maybe in flight: wait */
		return 0;
	}
	lim->verified_issued = -1;
	return 1;
}
