/*
 * coupon: see coupon.h.
 *
 * The database's two ways of issuing (coupon_strategy):
 *  - pessimistic locks the policy row FOR UPDATE, checks the window, the
 *    user and the quantity, then inserts the coupon and increments
 *    issued_quantity: every issue of one policy queues on that row lock;
 *  - conditional increments issued_quantity WHERE it is still below the
 *    total and the window is open, and inserts the coupon in the same
 *    statement; a refusal is explained by a second, unlocked read;
 *  - sharded splits what remains of the policy over COUPON_SHARDS rows of
 *    coupon_shards (once; sql/005) and takes one unit from a shard that no
 *    other issue holds (FOR UPDATE SKIP LOCKED), inserting the coupon in
 *    the same statement: issues of one policy no longer queue on one row,
 *    and without an Idempotency-Key the statement is its own transaction,
 *    one round trip.  Once split, every strategy issues from the shards.
 * Either way UNIQUE (policy_id, user_id) turns a second coupon for a user
 * into already_issued (SQLSTATE 23505), and the CHECK on issued_quantity
 * makes more than total_quantity impossible whatever a bug upstream does.
 */
#include "coupon.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "coupon_gate.h"
#include "idempotency.h"
#include "log.h"
#include "page.h"
#include "queries.h"
#include "api.h"
#include "valid.h"
#include "xmalloc.h"

#define COUPON_CACHE_SLOTS 64
#define COUPON_REBUILD_BATCH 5000
#define COUPON_VERIFY_INTERVAL_MS 1000
#define COUPON_SHARDS 16
#define COUPON_SHARD_PASSES 4
#define COUPON_NAME_MAX 200
#define COUPON_AMOUNT_MAX 1000000000000LL
#define COUPON_TOTAL_MAX 10000000
#define COUPON_VALID_DAYS_MAX 3650

/* ---------------------------------------------------------------------
 * The worker's copy of policies' limits.  total_quantity and the window
 * change only by an operator's hand, so a copy a second old is good
 * enough to turn requests away early; the database checks both again.
 */

struct coupon_limits {
	int64_t id; /* 0: empty slot */
	int64_t total;
	int64_t starts_ms, ends_ms; /* the window, database clock */
	int64_t db_now_ms; /* the database clock when read... */
	int64_t read_ms; /* ...and this process's monotonic clock then */
	/* The gate's sold_out, checked against issued_quantity at most
	 * every COUPON_VERIFY_INTERVAL_MS; once the database says sold out
	 * it stays so (issued_quantity never goes down). */
	int64_t verified_ms;
	int64_t verified_issued; /* what that check saw; -1: none yet */
	int db_sold_out;
};

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
	char idtext[24];
	const char *params[] = { idtext };
	enum db_status st;
	PGresult *r;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	if ((r = db_query(db, &coupon_limits_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return DB_NOTFOUND;
	}
	lim->id = id;
	lim->total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	lim->starts_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	lim->ends_ms = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	lim->db_now_ms = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	lim->read_ms = clock_ms();
	lim->verified_ms = 0;
	lim->verified_issued = -1;
	lim->db_sold_out = 0;
	PQclear(r);
	return DB_OK;
}

/* The policy's limits, from the cache while fresh, else the database. */
static enum db_status coupon_limits_get(struct app *app, int64_t id,
    struct coupon_limits **out)
{
	struct coupon_limits *lim =
	    &app->coupons->slots[(uint64_t)id % COUPON_CACHE_SLOTS];
	int64_t verified_ms = lim->id == id ? lim->verified_ms : 0;
	int64_t verified_issued = lim->id == id ? lim->verified_issued : -1;
	int db_sold_out = lim->id == id && lim->db_sold_out;
	enum db_status st;

	if (lim->id != id ||
	    clock_ms() - lim->read_ms >= app->cfg->coupon_cache_ttl_ms) {
		lim->id = 0;
		if ((st = coupon_limits_read(app->db, id, lim)) != DB_OK)
			return st;
		lim->verified_ms = verified_ms;
		lim->verified_issued = verified_issued;
		lim->db_sold_out = db_sold_out;
	}
	*out = lim;
	return DB_OK;
}

/* Is the window open now, by the database's clock as last read? */
static int coupon_limits_open(const struct coupon_limits *lim)
{
	int64_t now = lim->db_now_ms + (clock_ms() - lim->read_ms);

	return now >= lim->starts_ms && now < lim->ends_ms;
}

/* ---------------------------------------------------------------------
 * Refusals.
 */

static const struct {
	const char *code;
	int status;
	const char *detail;
} coupon_refusals[] = {
	{ "coupon_not_found", 404, "there is no coupon policy with that id" },
	{ "not_open", 409,
	    "the policy does not issue coupons now: outside "
	    "its window (starts_at to ends_at)" },
	{ "already_issued", 409, "you already have a coupon of this policy" },
	{ "sold_out", 409, "every coupon of this policy has been issued" },
};

enum coupon_refusal {
	REFUSE_NOT_FOUND,
	REFUSE_NOT_OPEN,
	REFUSE_ALREADY,
	REFUSE_SOLD_OUT,
	REFUSE_NONE
};

static void coupon_write_refusal(struct response *res, enum coupon_refusal why)
{
	problem_write(res, coupon_refusals[why].status,
	    coupon_refusals[why].code, coupon_refusals[why].detail);
}

/* ---------------------------------------------------------------------
 * Creating and reading policies.
 */

struct coupon_new {
	const char *name, *kind, *starts_at, *ends_at;
	int64_t value, cap, total, valid_days;
};

static int coupon_read_new(struct response *res, const struct json_value *body,
    struct coupon_new *n)
{
	static const char *const fields[] = { "name", "discount_kind",
		"discount_value", "discount_cap", "total_quantity", "starts_at",
		"ends_at", "valid_days", NULL };
	int percent;

	if (valid_known_fields(res, body, fields) < 0 ||
	    valid_string(res, body, "name", VALID_REQUIRED, 1, COUPON_NAME_MAX,
	        &n->name) < 0 ||
	    valid_string(res, body, "discount_kind", VALID_REQUIRED, 1, 16,
	        &n->kind) < 0)
		return -1;
	if (strcmp(n->kind, "amount") != 0 && strcmp(n->kind, "percent") != 0) {
		problem_write(res, 400, "invalid_field",
		    "discount_kind must be \"amount\" or \"percent\"");
		return -1;
	}
	percent = strcmp(n->kind, "percent") == 0;
	if (valid_int(res, body, "discount_value", VALID_REQUIRED, 1,
	        percent ? 100 : COUPON_AMOUNT_MAX, 0, &n->value) < 0 ||
	    valid_int(res, body, "discount_cap", VALID_OPTIONAL, 1,
	        COUPON_AMOUNT_MAX, 0, &n->cap) < 0 ||
	    valid_int(res, body, "total_quantity", VALID_REQUIRED, 1,
	        COUPON_TOTAL_MAX, 0, &n->total) < 0 ||
	    valid_int(res, body, "valid_days", VALID_OPTIONAL, 1,
	        COUPON_VALID_DAYS_MAX, 30, &n->valid_days) < 0 ||
	    valid_timestamp(res, body, "starts_at", VALID_OPTIONAL,
	        &n->starts_at) < 0 ||
	    valid_timestamp(res, body, "ends_at", VALID_OPTIONAL, &n->ends_at) <
	        0)
		return -1;
	if (!percent && n->cap != 0) {
		problem_write(res, 400, "invalid_field",
		    "discount_cap applies to a percent discount only");
		return -1;
	}
	return 0;
}

/* Makes a new policy's gate warm (empty, counter 0) so that its first
 * requests need not rebuild it; if Redis is down they will. */
static void coupon_gate_prepare(struct app *app, int64_t id, int64_t total)
{
	int slots = app->cfg->coupon_gate == GATE_SLOTS;

	if (app->cfg->coupon_gate == GATE_OFF)
		return;
	if (coupon_gate_rebuild_begin(app->redis, slots, id) == 1)
		(void)coupon_gate_rebuild_end(app->redis, slots, id, 0, total);
}

/*
 * Under coupon_strategy = sharded a new policy is split at once, so that
 * its first issues need not race to do it.  A failure is only logged: the
 * first issue splits it then.
 */
static void coupon_split_new(struct app *app, int64_t id)
{
	char idtext[24], shards[16];
	const char *params[] = { idtext, shards };

	if (app->cfg->coupon_strategy != COUPON_SHARDED)
		return;
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	snprintf(shards, sizeof(shards), "%d", COUPON_SHARDS);
	if (db_command(app->db, &coupon_split_stmt, params) != DB_OK)
		log_warn("coupon policy %" PRId64 " not split now (%s); its "
		         "first issue will split it",
		    id, db_errmsg(app->db));
}

void coupon_create(struct request *req, struct response *res, struct app *app)
{
	struct coupon_new n;
	char value[24], cap[24], total[24], days[24];
	const char *params[8];
	enum db_status st;
	int64_t id;
	PGresult *r;

	memset(&n, 0, sizeof(n));
	if (coupon_read_new(res, req->json, &n) < 0)
		return;
	snprintf(value, sizeof(value), "%" PRId64, n.value);
	snprintf(cap, sizeof(cap), "%" PRId64, n.cap);
	snprintf(total, sizeof(total), "%" PRId64, n.total);
	snprintf(days, sizeof(days), "%" PRId64, n.valid_days);
	params[0] = n.name;
	params[1] = n.kind;
	params[2] = value;
	params[3] = n.cap != 0 ? cap : NULL;
	params[4] = total;
	params[5] = n.starts_at;
	params[6] = n.ends_at;
	params[7] = days;
	if ((r = db_query(app->db, &coupon_create_stmt, params, &st)) == NULL) {
		api_db_failure(res, app, st);
		return;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		problem_write(res, 400, "invalid_window",
		    "ends_at must be later than starts_at and than now");
		return;
	}
	id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	json_write_raw(response_json(res, 201), PQgetvalue(r, 0, 0),
	    (size_t)PQgetlength(r, 0, 0));
	PQclear(r);
	response_header(res, "Location", "/api/v1/coupons/%" PRId64, id);
	coupon_split_new(app, id);
	log_info("coupon policy %" PRId64 " created: %s coupons", id, total);
	coupon_gate_prepare(app, id, n.total);
}

void coupon_get(struct request *req, struct response *res, struct app *app)
{
	char id[24];
	const char *params[] = { id };
	enum db_status st;
	PGresult *r;

	snprintf(id, sizeof(id), "%" PRId64, req->params[0]);
	if ((r = db_query(app->db, &coupon_get_stmt, params, &st)) == NULL) {
		api_db_failure(res, app, st);
		return;
	}
	if (PQntuples(r) == 0)
		coupon_write_refusal(res, REFUSE_NOT_FOUND);
	else
		json_write_raw(response_json(res, 200), PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
	PQclear(r);
}

void coupon_list_mine(struct request *req, struct response *res,
    struct app *app)
{
	page_serve_own(req, res, app, &coupon_page_stmt);
}

/* ---------------------------------------------------------------------
 * Issuing: the database's part.
 */

struct coupon_issue {
	struct app *app;
	int64_t policy_id, user_id;
	char policy[24], user[24];
	int admitted; /* the gate counted this request */
	int64_t total; /* the policy's, as the gate saw it */
	enum coupon_refusal refusal; /* what the database answered */
};

static enum db_status coupon_refuse(struct coupon_issue *ci,
    struct response *res, enum coupon_refusal why)
{
	ci->refusal = why;
	coupon_write_refusal(res, why);
	return DB_ABORT;
}

/* Answers a row of coupon_lock/coupon_explain: the refusal it implies. */
static enum coupon_refusal coupon_decide(PGresult *r)
{
	if (PQntuples(r) == 0)
		return REFUSE_NOT_FOUND;
	if (strcmp(PQgetvalue(r, 0, 2), "t") != 0)
		return REFUSE_NOT_OPEN;
	if (strcmp(PQgetvalue(r, 0, 4), "t") == 0)
		return REFUSE_ALREADY;
	if (strtoll(PQgetvalue(r, 0, 1), NULL, 10) >=
	    strtoll(PQgetvalue(r, 0, 0), NULL, 10))
		return REFUSE_SOLD_OUT;
	return REFUSE_NONE;
}

/*
 * Runs a take statement; answers 201 with the coupon, or already_issued
 * when the unique index found one.  *taken says whether a row came back.
 */
static enum db_status coupon_run_take(struct db *db, struct coupon_issue *ci,
    struct response *res, const struct db_stmt *stmt, const char **params,
    int *taken)
{
	enum db_status st;
	PGresult *r;

	*taken = 0;
	if ((r = db_query(db, stmt, params, &st)) == NULL) {
		if (st == DB_CONFLICT && strcmp(db_sqlstate(db), "23505") == 0)
			return coupon_refuse(ci, res, REFUSE_ALREADY);
		return st;
	}
	if (PQntuples(r) == 1) {
		*taken = 1;
		json_write_raw(response_json(res, 201), PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
	}
	PQclear(r);
	return DB_OK;
}

/*
 * Sharded issue (see the top of this file), inside the caller's transaction
 * or as statements of their own.  A policy not split yet is split first.
 */
static enum db_status coupon_issue_sharded(struct db *db,
    struct coupon_issue *ci, struct response *res)
{
	char start[16], shards[16];
	const char *take_params[] = { ci->policy, ci->user, start };
	const char *split_params[] = { ci->policy, shards };
	enum coupon_refusal why;
	enum db_status st;
	int taken, split;
	PGresult *r;

	snprintf(start, sizeof(start), "%d",
	    (int)((uint64_t)ci->user_id % COUPON_SHARDS));
	snprintf(shards, sizeof(shards), "%d", COUPON_SHARDS);
	for (int pass = 0; pass < COUPON_SHARD_PASSES; pass++) {
		st = coupon_run_take(db, ci, res, &coupon_take_shard_stmt,
		    take_params, &taken);
		if (st != DB_OK || taken)
			return st;
		/*
		 * No free unit: sold out, closed, the user's second, not
		 * split yet, or every open shard held by another issue.
		 * The unlocked read tells which, and its "sold out" is
		 * final: a shard fills only by commits, and units never
		 * come back.  So a sold-out crowd costs two statements.
		 */
		if ((r = db_query(db, &coupon_explain_stmt, take_params,
		         &st)) == NULL)
			return st;
		why = coupon_decide(r);
		split = why == REFUSE_NONE && atoi(PQgetvalue(r, 0, 5)) > 0;
		PQclear(r);
		if (why != REFUSE_NONE)
			return coupon_refuse(ci, res, why);
		if (!split) {
			if ((st = db_command(db, &coupon_split_stmt,
			         split_params)) != DB_OK)
				return st;
			continue;
		}
		/* Units remain in shards others hold: wait for one.  Each
		 * race lost here was someone else's issue, so another pass
		 * is fair. */
		st = coupon_run_take(db, ci, res, &coupon_take_shard_wait_stmt,
		    take_params, &taken);
		if (st != DB_OK || taken)
			return st;
	}
	/* Never a false sold_out: "busy, try again" (retried whole by
	 * db_transaction inside a transaction). */
	return DB_RETRY;
}

static enum db_status coupon_issue_pessimistic(struct db *db,
    struct coupon_issue *ci, struct response *res)
{
	const char *lock_params[] = { ci->policy, ci->user };
	const char *take_params[] = { ci->policy, ci->user, NULL };
	char days[16];
	enum coupon_refusal why;
	enum db_status st;
	int taken, sharded;
	PGresult *r;

	if ((r = db_query(db, &coupon_lock_stmt, lock_params, &st)) == NULL)
		return st;
	why = coupon_decide(r);
	sharded = why == REFUSE_NONE && atoi(PQgetvalue(r, 0, 5)) > 0;
	if (why == REFUSE_NONE)
		snprintf(days, sizeof(days), "%s", PQgetvalue(r, 0, 3));
	PQclear(r);
	if (why != REFUSE_NONE)
		return coupon_refuse(ci, res, why);
	if (sharded) /* split by the sharded strategy: stays so */
		return coupon_issue_sharded(db, ci, res);
	take_params[2] = days;
	st = coupon_run_take(db, ci, res, &coupon_take_stmt, take_params,
	    &taken);
	if (st == DB_OK && !taken)
		st = DB_ERROR; /* the insert returns its row or fails */
	return st;
}

static enum db_status coupon_issue_conditional(struct db *db,
    struct coupon_issue *ci, struct response *res)
{
	const char *params[] = { ci->policy, ci->user };
	enum coupon_refusal why;
	enum db_status st;
	int taken, sharded;
	PGresult *r;

	st = coupon_run_take(db, ci, res, &coupon_take_conditional_stmt, params,
	    &taken);
	if (st != DB_OK || taken)
		return st;
	if ((r = db_query(db, &coupon_explain_stmt, params, &st)) == NULL)
		return st;
	why = coupon_decide(r);
	sharded = why == REFUSE_NONE && atoi(PQgetvalue(r, 0, 5)) > 0;
	PQclear(r);
	if (sharded) /* split by the sharded strategy: stays so */
		return coupon_issue_sharded(db, ci, res);
	/* issued_quantity never goes down: a guarded UPDATE that matched no
	 * row saw the policy sold out, closed or missing, and still does,
	 * unless an operator moved the window in between. */
	return coupon_refuse(ci, res,
	    why == REFUSE_NONE ? REFUSE_SOLD_OUT : why);
}

static enum db_status coupon_issue_effect(struct db *db, struct response *res,
    void *arg)
{
	struct coupon_issue *ci = arg;

	ci->refusal = REFUSE_NONE;
	switch (ci->app->cfg->coupon_strategy) {
	case COUPON_CONDITIONAL:
		return coupon_issue_conditional(db, ci, res);
	case COUPON_SHARDED:
		return coupon_issue_sharded(db, ci, res);
	default:
		return coupon_issue_pessimistic(db, ci, res);
	}
}

/* ---------------------------------------------------------------------
 * Issuing: the gate's part.
 */

/* Fills a cold gate from the database.  0 when rebuilt by this call. */
static int coupon_rebuild(struct app *app, int64_t policy, int64_t total)
{
	int slots = app->cfg->coupon_gate == GATE_SLOTS;
	int64_t users[COUPON_REBUILD_BATCH], count = 0;
	char id[24], after[24] = "0", limit[16];
	const char *params[] = { id, after, limit };
	enum db_status st;
	int n, got;
	PGresult *r;

	if ((got = coupon_gate_rebuild_begin(app->redis, slots, policy)) != 1)
		return -1;
	snprintf(id, sizeof(id), "%" PRId64, policy);
	snprintf(limit, sizeof(limit), "%d", COUPON_REBUILD_BATCH);
	do {
		if ((r = db_query(app->db, &coupon_issued_users_stmt, params,
		         &st)) == NULL)
			goto fail;
		n = PQntuples(r);
		for (int i = 0; i < n; i++)
			users[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		PQclear(r);
		if (n > 0 &&
		    coupon_gate_rebuild_add(app->redis, policy, users,
		        (size_t)n) < 0)
			goto fail;
		count += n;
		if (n > 0)
			snprintf(after, sizeof(after), "%" PRId64,
			    users[n - 1]);
	} while (n == COUPON_REBUILD_BATCH);
	if (coupon_gate_rebuild_end(app->redis, slots, policy, count, total) <
	    0)
		goto fail;
	app_count(app, COUNTER_COUPON_GATE_REBUILDS);
	log_info("coupon gate %" PRId64 " rebuilt from the database: "
	         "%" PRId64 " issued",
	    policy, count);
	return 0;
fail:
	coupon_gate_rebuild_abort(app->redis, policy);
	log_warn("coupon gate %" PRId64 " not rebuilt (%s%s%s); requests go "
	         "to the database meanwhile",
	    policy, db_errmsg(app->db), db_errmsg(app->db)[0] ? " " : "",
	    redis_errmsg(app->redis));
	return -1;
}

/*
 * The gate said sold out: is it right?  An admission whose undo never
 * reached Redis (the connection dropped, the worker was killed) leaves the
 * counter too high, and a gate that turns people away while coupons remain
 * would issue fewer than N.  So, at most once a second per worker and
 * policy, the verdict is checked against issued_quantity.  A gap alone
 * proves nothing: up to one admission per worker is in flight.  The same
 * gap seen twice, a second apart, is a lost undo, and the counter is
 * lowered to issued (the database refuses any excess that lets through).
 * Returns 1 when the gate was repaired and should be asked again.
 */
static int coupon_verify_sold_out(struct app *app, struct coupon_limits *lim)
{
	int64_t now = clock_ms(), issued;
	char id[24];
	const char *params[] = { id };
	enum db_status st;
	PGresult *r;

	if (lim->db_sold_out ||
	    now - lim->verified_ms < COUPON_VERIFY_INTERVAL_MS)
		return 0;
	lim->verified_ms = now;
	snprintf(id, sizeof(id), "%" PRId64, lim->id);
	if ((r = db_query(app->db, &coupon_issued_stmt, params, &st)) == NULL)
		return 0;
	issued = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	if (issued >= lim->total) {
		lim->db_sold_out = 1;
		return 0;
	}
	if (issued != lim->verified_issued) {
		lim->verified_issued = issued; /* maybe in flight: wait */
		return 0;
	}
	lim->verified_issued = -1;
	if (coupon_gate_lower(app->redis, app->cfg->coupon_gate == GATE_SLOTS,
	        lim->id, issued, lim->total) != 1)
		return 0;
	log_warn("coupon gate %" PRId64 " said sold out with %" PRId64
	         " of %" PRId64 " issued: an admission was never settled; "
	         "the gate now counts %" PRId64 " left",
	    lim->id, issued, lim->total, lim->total - issued);
	return 1;
}

/*
 * The gate's verdict for ci: 1 to go on to the database, 0 when res holds
 * the answer (from the cached limits or the gate alone).
 */
static int coupon_gate_check(struct app *app, const struct request *req,
    struct response *res, struct coupon_issue *ci)
{
	struct coupon_limits *lim;
	enum db_status st;

	if ((st = coupon_limits_get(app, ci->policy_id, &lim)) != DB_OK) {
		if (st == DB_NOTFOUND)
			coupon_write_refusal(res, REFUSE_NOT_FOUND);
		else
			api_db_failure(res, app, st);
		return 0;
	}
	if (!coupon_limits_open(lim)) {
		app_count(app, COUNTER_COUPON_GATE_REFUSED);
		coupon_write_refusal(res, REFUSE_NOT_OPEN);
		return 0;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		switch (coupon_gate_admit(app->redis,
		    app->cfg->coupon_gate == GATE_SLOTS, ci->policy_id,
		    ci->user_id, lim->total)) {
		case COUPON_PASS:
			ci->admitted = 1;
			ci->total = lim->total;
			app_count(app, COUNTER_COUPON_GATE_PASSED);
			return 1;
		case COUPON_ALREADY:
			/* A retry with its key must meet its stored answer. */
			if (req->idempotency_key != NULL)
				break;
			app_count(app, COUNTER_COUPON_GATE_REFUSED);
			coupon_write_refusal(res, REFUSE_ALREADY);
			return 0;
		case COUPON_SOLD_OUT:
			if (attempt == 0 && coupon_verify_sold_out(app, lim))
				continue;
			app_count(app, COUNTER_COUPON_GATE_REFUSED);
			coupon_write_refusal(res, REFUSE_SOLD_OUT);
			return 0;
		case COUPON_COLD:
			if (attempt == 0 &&
			    coupon_rebuild(app, ci->policy_id, lim->total) == 0)
				continue;
			break;
		case COUPON_DOWN:
			break;
		}
		break;
	}
	app_count(app, COUNTER_COUPON_GATE_BYPASSED);
	return 1;
}

/* Tells the gate what the database did with an admitted request. */
static void coupon_gate_settle(struct app *app, const struct coupon_issue *ci,
    const struct response *res, enum db_status st)
{
	int replayed = st == DB_OK && res->replayed && res->status == 201;
	int issued = st == DB_OK && !res->replayed && res->status == 201 &&
	    ci->refusal == REFUSE_NONE;
	enum coupon_undo how;

	if (issued) {
		coupon_gate_count_issued(app->redis, ci->policy_id);
		return;
	}
	if (!ci->admitted)
		return;
	if (ci->refusal == REFUSE_SOLD_OUT)
		how = COUPON_UNDO_SOLD_OUT;
	else if (ci->refusal == REFUSE_ALREADY || replayed)
		how = COUPON_UNDO_KEEP_USER; /* the user holds one */
	else
		how = COUPON_UNDO_REFUSED;
	app_count(app, COUNTER_COUPON_GATE_COMPENSATIONS);
	(void)coupon_gate_undo(app->redis, app->cfg->coupon_gate == GATE_SLOTS,
	    ci->policy_id, ci->user_id, how, ci->total);
}

void coupon_issue(struct request *req, struct response *res, struct app *app)
{
	struct coupon_issue ci;
	enum db_status st;
	int gated = app->cfg->coupon_gate != GATE_OFF;

	memset(&ci, 0, sizeof(ci));
	ci.app = app;
	ci.policy_id = req->params[0];
	ci.user_id = req->identity.user_id;
	ci.refusal = REFUSE_NONE;
	snprintf(ci.policy, sizeof(ci.policy), "%" PRId64, ci.policy_id);
	snprintf(ci.user, sizeof(ci.user), "%" PRId64, ci.user_id);
	if (gated && !coupon_gate_check(app, req, res, &ci))
		return;
	if (!gated)
		app_count(app, COUNTER_COUPON_GATE_BYPASSED);
	app_count(app, COUNTER_COUPON_DB_ATTEMPTS);
	if (app->cfg->coupon_strategy == COUPON_SHARDED &&
	    req->idempotency_key == NULL)
		/* Each statement commits on its own: nothing to replay, and
		 * the take is one statement, so one round trip. */
		st = coupon_issue_sharded(app->db, &ci, res);
	else
		st = idempotency_transaction(app->db, req, res,
		    coupon_issue_effect, &ci);
	if (gated)
		coupon_gate_settle(app, &ci, res, st);
	if (st != DB_OK && st != DB_ABORT)
		api_db_failure(res, app, st);
}

/* ---------------------------------------------------------------------
 * Using a coupon.
 */

int64_t coupon_discount(int percent, int64_t value, int64_t cap, int64_t total)
{
	int64_t d;

	if (total <= 0 || value <= 0)
		return 0;
	if (!percent)
		return value < total ? value : total;
	/* total is at most 5 * 10^16 (50 lines of 1000 at 10^12) and value
	 * at most 100, so the product fits. */
	d = total / 100 * value + total % 100 * value / 100;
	if (cap > 0 && d > cap)
		d = cap;
	return d < total ? d : total;
}

enum db_status coupon_use(struct db *db, int64_t coupon_id, int64_t user_id,
    int64_t order_id, int64_t total, int64_t *discount, struct response *res)
{
	char coupon[24], user[24], order[24], amount[24];
	const char *lock_params[] = { coupon, user };
	const char *apply_params[] = { coupon, order, amount };
	enum db_status st;
	PGresult *r;
	int usable;

	snprintf(coupon, sizeof(coupon), "%" PRId64, coupon_id);
	snprintf(user, sizeof(user), "%" PRId64, user_id);
	snprintf(order, sizeof(order), "%" PRId64, order_id);
	if ((r = db_query(db, &coupon_lock_for_use_stmt, lock_params, &st)) ==
	    NULL)
		return st;
	usable = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	if (usable)
		*discount =
		    coupon_discount(strcmp(PQgetvalue(r, 0, 1), "t") == 0,
		        strtoll(PQgetvalue(r, 0, 2), NULL, 10),
		        strtoll(PQgetvalue(r, 0, 3), NULL, 10), total);
	PQclear(r);
	if (!usable) {
		/* Unknown, another user's, used and expired look alike: a
		 * coupon id says nothing about coupons the caller lacks. */
		problem_write(res, 409, "coupon_unavailable",
		    "that coupon is not yours to use now: unknown, already "
		    "used, or expired");
		return DB_ABORT;
	}
	snprintf(amount, sizeof(amount), "%" PRId64, *discount);
	return db_command(db, &coupon_apply_stmt, apply_params);
}

enum db_status coupon_give_back(struct db *db, int64_t order_id)
{
	char order[24];
	const char *params[] = { order };

	snprintf(order, sizeof(order), "%" PRId64, order_id);
	return db_command(db, &coupon_give_back_stmt, params);
}

enum db_status coupon_expire_batch(struct db *db, int batch, int *expired)
{
	char n[16];
	const char *params[] = { n };
	enum db_status st;
	PGresult *r;

	*expired = 0;
	snprintf(n, sizeof(n), "%d", batch);
	if ((r = db_query(db, &coupon_expire_stmt, params, &st)) == NULL)
		return st;
	*expired = atoi(PQcmdTuples(r));
	PQclear(r);
	return DB_OK;
}
