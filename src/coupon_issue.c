/*
 * coupon_issue: see coupon_issue.h.
 *
 * The final defense has three strategies (coupon_strategy), all exact:
 *  - pessimistic locks the policy row FOR UPDATE, checks the window, the
 *    user and the quantity, then inserts the coupon and increments
 *    issued_quantity, all in one statement sent with its COMMIT: every
 *    issue of one policy queues on that row lock, held for one round trip;
 *  - conditional increments issued_quantity WHERE it is still below the
 *    total and the window is open, and inserts the coupon in the same
 *    statement; a refusal is explained by a second, unlocked read;
 *  - sharded exists to take that one row out of the rush: it splits what
 *    remains of the policy over coupon_shards rows of coupon_shards (once;
 *    sql/005) and takes one unit from a shard that no other issue holds
 *    (FOR UPDATE SKIP LOCKED), inserting the coupon in the same statement,
 *    so that issues of one policy commit side by side; without an
 *    Idempotency-Key the statement is its own transaction, one round trip.
 *    Once split, every strategy issues from the shards.
 * (coupon_strategy = queue commits most claims in batches, in
 * coupon_queue.c; what it leaves to this file goes the pessimistic way.)
 * Whichever, UNIQUE (policy_id, user_id) turns a second coupon for a user
 * into already_issued (SQLSTATE 23505), and the CHECKs on issued_quantity
 * and on each shard make more than total_quantity impossible whatever a bug
 * upstream does.  The statements are sql/queries/coupon_issue.sql.
 */
#include "coupon_issue.h"

#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "coupon_gate.h"
#include "coupon_limits.h"
#include "log.h"
#include "queries.h"
#include "retry.h"

const char *const coupon_strategy_names[COUPON_STRATEGY__MAX] = {
	"pessimistic",
	"conditional",
	"sharded",
	"queue",
};

/* The gate's rebuild reads the users who hold a coupon this many at once. */
#define COUPON_REBUILD_BATCH 5000
/*
 * Sharded: how many times the take is tried again when every shard with
 * units left was held by other issues (each race lost is someone else's
 * issue), before the answer is "busy, try again".
 */
#define COUPON_SHARD_RETRIES 3

void coupon_issue_init(struct coupon_issue *ci, struct app *app,
    int64_t policy_id, int64_t user_id)
{
	memset(ci, 0, sizeof(*ci));
	ci->app = app;
	ci->policy_id = policy_id;
	ci->user_id = user_id;
	db_param_i64(ci->policy, policy_id);
	db_param_i64(ci->user, user_id);
	ci->result = COUPON_UNDECIDED;
}

/* ---------------------------------------------------------------------
 * Step 3: the database.
 */

/* What a row of coupon_lock or coupon_explain says. */
struct coupon_state {
	enum coupon_issue_result refusal; /* COUPON_UNDECIDED: go on */
	int64_t valid_days;
	int sharded; /* the policy is split: issue from its shards */
};

/* Reads a row of coupon_lock/coupon_explain; DB_OK or DB_ERROR. */
static enum db_status coupon_issue_decide(PGresult *r, struct coupon_state *s)
{
	int64_t total, issued, shards;

	s->refusal = COUPON_UNDECIDED;
	s->sharded = 0;
	if (PQntuples(r) == 0)
		s->refusal = COUPON_NOT_FOUND;
	else if (strcmp(PQgetvalue(r, 0, 2), "t") != 0)
		s->refusal = COUPON_NOT_OPEN;
	else if (strcmp(PQgetvalue(r, 0, 4), "t") == 0)
		s->refusal = COUPON_ALREADY_ISSUED;
	if (s->refusal != COUPON_UNDECIDED)
		return DB_OK;
	if (db_get_i64(r, 0, 0, &total) != DB_OK ||
	    db_get_i64(r, 0, 1, &issued) != DB_OK ||
	    db_get_i64(r, 0, 3, &s->valid_days) != DB_OK ||
	    db_get_i64(r, 0, 5, &shards) != DB_OK)
		return DB_ERROR;
	if (issued >= total)
		s->refusal = COUPON_SOLD_OUT;
	else
		s->sharded = shards > 0;
	return DB_OK;
}

/* Runs coupon_lock or coupon_explain (stmt) and reads its row into s. */
static enum db_status coupon_issue_state(struct db *db,
    const struct coupon_issue *ci, const struct db_stmt *stmt,
    struct coupon_state *s)
{
	const char *params[] = { ci->policy, ci->user };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, stmt, params, &st)) == NULL)
		return st;
	st = coupon_issue_decide(r, s);
	PQclear(r);
	return st;
}

/*
 * Runs a take statement.  DB_OK with ci->result COUPON_ISSUED (the coupon
 * written to w) when it returned its row, COUPON_ALREADY_ISSUED when the
 * unique index found one, or unchanged when it took nothing.
 */
static enum db_status coupon_issue_run_take(struct db *db,
    struct coupon_issue *ci, struct json_writer *w, const struct db_stmt *stmt,
    const char *const *params)
{
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, stmt, params, &st)) == NULL) {
		/* 23505 unique_violation: UNIQUE (policy_id, user_id). */
		if (st == DB_CONFLICT &&
		    strcmp(db_sqlstate(db), "23505") == 0) {
			ci->result = COUPON_ALREADY_ISSUED;
			return DB_OK;
		}
		return st;
	}
	if (PQntuples(r) == 1) {
		ci->result = COUPON_ISSUED;
		json_write_raw(w, PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
	}
	PQclear(r);
	return DB_OK;
}

/*
 * Sharded issue (see the top of this file), inside the caller's
 * transaction or as statements of their own.  A policy not split yet is
 * split first.
 */
static enum db_status coupon_issue_sharded(struct db *db,
    struct coupon_issue *ci, struct json_writer *w)
{
	char shards[DB_I64_LEN];
	const char *take_params[] = { ci->policy, ci->user };
	const char *split_params[] = { ci->policy,
		db_param_i64(shards, ci->app->cfg->coupon_shards) };
	struct coupon_state s;
	struct retry retry;
	enum db_status st;

	retry_init(&retry, COUPON_SHARD_RETRIES, ci->app->deadline_ms);
	do {
		st = coupon_issue_run_take(db, ci, w, &coupon_take_shard_stmt,
		    take_params);
		if (st != DB_OK || ci->result != COUPON_UNDECIDED)
			return st;
		/*
		 * No free unit: sold out, closed, the user's second, not
		 * split yet, or every open shard held by another issue.
		 * The unlocked read tells which, and its "sold out" is
		 * final: a shard fills only by commits, and units never
		 * come back.  So a sold-out crowd costs two statements.
		 */
		st = coupon_issue_state(db, ci, &coupon_explain_stmt, &s);
		if (st != DB_OK)
			return st;
		if (s.refusal != COUPON_UNDECIDED) {
			ci->result = s.refusal;
			return DB_OK;
		}
		if (!s.sharded) {
			st = db_command(db, &coupon_split_stmt, split_params);
			/* A split lost on its way issued nothing: whether it
			 * happened is no part of the claim's outcome. */
			if (st == DB_UNKNOWN)
				st = DB_UNAVAILABLE;
			if (st != DB_OK)
				return st;
			continue; /* split: take again */
		}
		/* Units remain in shards others hold: wait for one. */
		st = coupon_issue_run_take(db, ci, w,
		    &coupon_take_shard_wait_stmt, take_params);
		if (st != DB_OK || ci->result != COUPON_UNDECIDED)
			return st;
	} while (retry_again(&retry));
	/* Never a false sold_out: "busy, try again" (retried whole by
	 * db_transaction inside a transaction). */
	return DB_RETRY;
}

/*
 * Reads coupon_lock_take's row: the coupon (column 6) when it took one,
 * else the refusal coupon_issue_decide finds, or *sharded.
 */
static enum db_status coupon_issue_locked(PGresult *r, struct coupon_issue *ci,
    struct json_writer *w, int *sharded)
{
	struct coupon_state s;
	enum db_status st;

	*sharded = 0;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 6)) {
		ci->result = COUPON_ISSUED;
		json_write_raw(w, PQgetvalue(r, 0, 6),
		    (size_t)PQgetlength(r, 0, 6));
		return DB_OK;
	}
	if ((st = coupon_issue_decide(r, &s)) != DB_OK)
		return st;
	if (s.refusal != COUPON_UNDECIDED)
		ci->result = s.refusal;
	else if (s.sharded)
		*sharded = 1;
	else
		st = DB_ERROR; /* open, left, not held: it must have taken */
	return st;
}

/*
 * Pessimistic: one statement locks the policy row, decides and takes
 * (coupon_lock_take), sent with the COMMIT when nothing follows it
 * (db_query_last): the row lock is held for one round trip, not three.
 */
static enum db_status coupon_issue_pessimistic(struct db *db,
    struct coupon_issue *ci, struct json_writer *w)
{
	const char *params[] = { ci->policy, ci->user };
	const struct db_stmt *const stmts[] = { &coupon_lock_take_stmt };
	const char *const *const stmt_params[] = { params };
	enum db_status st;
	PGresult *r;
	int sharded;

	st = db_query_last(db, 1, stmts, stmt_params, &r);
	if (st != DB_OK) {
		/* 23505: a coupon of the user committed while this waited
		 * for the lock (UNIQUE (policy_id, user_id)). */
		if (st == DB_CONFLICT &&
		    strcmp(db_sqlstate(db), "23505") == 0) {
			ci->result = COUPON_ALREADY_ISSUED;
			return DB_OK;
		}
		return st;
	}
	st = coupon_issue_locked(r, ci, w, &sharded);
	PQclear(r);
	if (st == DB_OK && sharded) /* split by the sharded strategy */
		return coupon_issue_sharded(db, ci, w);
	return st;
}

static enum db_status coupon_issue_conditional(struct db *db,
    struct coupon_issue *ci, struct json_writer *w)
{
	const char *params[] = { ci->policy, ci->user };
	struct coupon_state s;
	enum db_status st;

	st = coupon_issue_run_take(db, ci, w, &coupon_take_conditional_stmt,
	    params);
	if (st != DB_OK || ci->result != COUPON_UNDECIDED)
		return st;
	if ((st = coupon_issue_state(db, ci, &coupon_explain_stmt, &s)) !=
	    DB_OK)
		return st;
	if (s.refusal == COUPON_UNDECIDED && s.sharded)
		/* split by the sharded strategy: stays so */
		return coupon_issue_sharded(db, ci, w);
	/* issued_quantity never goes down: a guarded UPDATE that matched no
	 * row saw the policy sold out, closed or missing, and still does,
	 * unless an operator moved the window in between. */
	ci->result =
	    s.refusal == COUPON_UNDECIDED ? COUPON_SOLD_OUT : s.refusal;
	return DB_OK;
}

int coupon_issue_one_statement(const struct app *app)
{
	return app->cfg->coupon_strategy == COUPON_SHARDED;
}

enum db_status coupon_issue_take(struct db *db, struct coupon_issue *ci,
    struct json_writer *w)
{
	ci->result = COUPON_UNDECIDED;
	switch (ci->app->cfg->coupon_strategy) {
	case COUPON_CONDITIONAL:
		return coupon_issue_conditional(db, ci, w);
	case COUPON_SHARDED:
		return coupon_issue_sharded(db, ci, w);
	default:
		return coupon_issue_pessimistic(db, ci, w);
	}
}

/* ---------------------------------------------------------------------
 * Steps 1, 2 and 4: the cache and the gate.
 */

static int coupon_issue_slots(const struct app *app)
{
	return app->cfg->coupon_gate == GATE_SLOTS;
}

/* Reads one batch of the users holding a coupon into users; sets *n. */
static enum db_status coupon_issue_holders(struct db *db,
    const char *const *params, int64_t *users, int *n)
{
	enum db_status st;
	PGresult *r;

	*n = 0;
	if ((r = db_query(db, &coupon_issued_users_stmt, params, &st)) == NULL)
		return st;
	for (int i = 0; i < PQntuples(r) && st == DB_OK; i++)
		if ((st = db_get_i64(r, i, 0, &users[i])) == DB_OK)
			*n = i + 1;
	PQclear(r);
	return st;
}

/* Fills a cold gate from the database.  0 when rebuilt by this call. */
static int coupon_issue_rebuild(struct app *app, int64_t policy, int64_t total)
{
	int slots = coupon_issue_slots(app);
	int64_t users[COUPON_REBUILD_BATCH], count = 0;
	char id[DB_I64_LEN], after[DB_I64_LEN] = "0", limit[DB_I64_LEN];
	const char *params[] = { db_param_i64(id, policy), after,
		db_param_i64(limit, COUPON_REBUILD_BATCH) };
	int n;

	if (coupon_gate_rebuild_begin(app->redis, slots, policy) != 1)
		return -1;
	do {
		if (coupon_issue_holders(app->db, params, users, &n) != DB_OK)
			goto fail;
		if (n > 0 &&
		    coupon_gate_rebuild_add(app->redis, policy, users,
		        (size_t)n) < 0)
			goto fail;
		count += n;
		if (n > 0)
			db_param_i64(after, users[n - 1]);
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
 * policy, the verdict is checked against what the database has issued.  A
 * gap alone proves nothing: up to one admission per worker is in flight.
 * The same gap seen twice, a second apart, is a lost undo, and the counter
 * is lowered to issued (the database refuses any excess that lets
 * through).  Returns 1 when the gate was repaired and should be asked
 * again.
 */
static int coupon_issue_verify_sold_out(struct app *app,
    struct coupon_limits *lim)
{
	char id[DB_I64_LEN];
	const char *params[] = { db_param_i64(id, lim->id) };
	enum db_status st;
	int64_t issued = 0;
	PGresult *r;

	if (!coupon_limits_verify_due(lim, clock_ms()))
		return 0;
	if ((r = db_query(app->db, &coupon_issued_stmt, params, &st)) == NULL)
		return 0;
	st = PQntuples(r) ? db_get_i64(r, 0, 0, &issued) : DB_OK;
	PQclear(r);
	if (st != DB_OK || !coupon_limits_verify_seen(lim, issued))
		return 0;
	if (coupon_gate_lower(app->redis, coupon_issue_slots(app), lim->id,
	        issued, lim->total) != 1)
		return 0;
	log_warn("coupon gate %" PRId64 " said sold out with %" PRId64
	         " of %" PRId64 " issued: an admission was never settled; "
	         "the gate now counts %" PRId64 " left",
	    lim->id, issued, lim->total, lim->total - issued);
	return 1;
}

/*
 * Asks the gate, and once more after repairing it: a cold gate rebuilt, or
 * a sold_out proven wrong and lowered.  That second question is not a
 * retry (nothing collided, there is nothing to back off from): the gate
 * has changed, and a third answer would not differ.
 */
static enum coupon_gate_verdict coupon_issue_ask_gate(struct app *app,
    const struct coupon_issue *ci, struct coupon_limits *lim)
{
	int slots = coupon_issue_slots(app);
	enum coupon_gate_verdict v;

	v = coupon_gate_admit(app->redis, slots, ci->policy_id, ci->user_id,
	    lim->total);
	if ((v == COUPON_GATE_COLD &&
	        coupon_issue_rebuild(app, ci->policy_id, lim->total) == 0) ||
	    (v == COUPON_GATE_SOLD_OUT &&
	        coupon_issue_verify_sold_out(app, lim)))
		v = coupon_gate_admit(app->redis, slots, ci->policy_id,
		    ci->user_id, lim->total);
	return v;
}

/* Steps 1 and 2 with the gate on (coupon_issue_admit). */
static enum db_status coupon_issue_gate(struct coupon_issue *ci, int keyed)
{
	struct app *app = ci->app;
	struct coupon_limits *lim;
	enum db_status st;

	st = coupon_limits_get(app->coupons, app->db,
	    app->cfg->coupon_cache_ttl_ms, ci->policy_id, &lim);
	if (st == DB_NOTFOUND) {
		ci->result = COUPON_NOT_FOUND;
		return DB_OK;
	}
	if (st != DB_OK)
		return st;
	if (!coupon_limits_open(lim, clock_ms())) {
		app_count(app, COUNTER_COUPON_GATE_REFUSED);
		app_count(app, COUNTER_COUPON_GATE_NOT_OPEN);
		ci->result = COUPON_NOT_OPEN;
		return DB_OK;
	}
	switch (coupon_issue_ask_gate(app, ci, lim)) {
	case COUPON_GATE_PASS:
		ci->admitted = 1;
		ci->total = lim->total;
		app_count(app, COUNTER_COUPON_GATE_PASSED);
		return DB_OK;
	case COUPON_GATE_ALREADY:
		/* A retry with its key must meet its stored answer: the
		 * handler reads it (one indexed read, no lock). */
		if (keyed) {
			ci->result = COUPON_KNOWN_KEYED;
			return DB_OK;
		}
		app_count(app, COUNTER_COUPON_GATE_REFUSED);
		app_count(app, COUNTER_COUPON_GATE_ALREADY_ISSUED);
		ci->result = COUPON_ALREADY_ISSUED;
		return DB_OK;
	case COUPON_GATE_SOLD_OUT:
		app_count(app, COUNTER_COUPON_GATE_REFUSED);
		app_count(app, COUNTER_COUPON_GATE_SOLD_OUT);
		ci->result = COUPON_SOLD_OUT;
		return DB_OK;
	case COUPON_GATE_DOWN:
		ci->redis_down = 1;
		break;
	default: /* cold and not rebuilt by us */
		break;
	}
	app_count(app, COUNTER_COUPON_GATE_BYPASSED);
	return DB_OK;
}

enum db_status coupon_issue_admit(struct coupon_issue *ci, int keyed)
{
	enum db_status st;

	ci->result = COUPON_UNDECIDED;
	ci->keyed = keyed;
	if (ci->app->cfg->coupon_gate == GATE_OFF)
		app_count(ci->app, COUNTER_COUPON_GATE_BYPASSED);
	else if ((st = coupon_issue_gate(ci, keyed)) != DB_OK ||
	    ci->result != COUPON_UNDECIDED)
		return st;
	app_count(ci->app, COUNTER_COUPON_DB_ATTEMPTS);
	return DB_OK;
}

void coupon_issue_bypass(struct coupon_issue *ci)
{
	ci->result = COUPON_UNDECIDED;
	app_count(ci->app, COUNTER_COUPON_GATE_BYPASSED);
	app_count(ci->app, COUNTER_COUPON_DB_ATTEMPTS);
}

/*
 * Predicate: does the user hold a coupon of the policy now?  One indexed
 * read (UNIQUE (policy_id, user_id)); 0 when it cannot be read.
 */
static int coupon_issue_held(struct coupon_issue *ci)
{
	const char *params[] = { ci->policy, ci->user };
	enum db_status st;
	PGresult *r;
	int held;

	if ((r = db_query(ci->app->db, &coupon_held_stmt, params, &st)) == NULL)
		return 0;
	held = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return held;
}

/*
 * How to undo an admission that did not issue.  The user leaves the set
 * only when no request of theirs can hold a coupon: a twin (a request
 * with a key, let through because the gate knew the user) may have
 * issued while this one was answered request_in_progress, already_issued
 * or sold_out (it took the last coupon while this one waited for the
 * policy's lock), and a keyed request that failed may have committed; a
 * user taken out of the set would then meet the gate's sold_out before
 * their key's stored 201.  Keeping a user costs a keyed retry one read
 * (the gate never refuses it on the set's word alone).
 */
static enum coupon_undo coupon_issue_undo_how(struct coupon_issue *ci,
    enum db_status st)
{
	if (st != DB_OK)
		return ci->keyed ? COUPON_UNDO_KEEP_USER : COUPON_UNDO_REFUSED;
	switch (ci->result) {
	case COUPON_SOLD_OUT:
		return coupon_issue_held(ci) ? COUPON_UNDO_SOLD_OUT_KEEP_USER
		                             : COUPON_UNDO_SOLD_OUT;
	case COUPON_ALREADY_ISSUED:
	case COUPON_REPLAYED:
	case COUPON_IN_PROGRESS:
		return COUPON_UNDO_KEEP_USER;
	default: /* not_open, not_found, the key reused: none issued */
		return COUPON_UNDO_REFUSED;
	}
}

void coupon_issue_settle(struct coupon_issue *ci, enum db_status st)
{
	struct app *app = ci->app;
	enum coupon_undo how;

	if (app->cfg->coupon_gate == GATE_OFF)
		return;
	/*
	 * The issue's outcome was lost with its connection (DB_UNKNOWN): the
	 * database, the truth, is asked on a new one.  A coupon held means
	 * this admission's issue committed (the gate admits a user once; a
	 * keyed twin it let through is not counted), so it is counted as
	 * issued.  None: undone below, as a failure; should the commit still
	 * land after this read, the gate counts one short, which the
	 * database's own refusals mend (sold_out raises the counter).
	 */
	if (st == DB_UNKNOWN && ci->admitted && coupon_issue_held(ci)) {
		log_info("coupon %" PRId64 " of user %" PRId64 ": the claim's "
		         "outcome was lost, but the user holds the coupon: "
		         "counted as issued",
		    ci->policy_id, ci->user_id);
		st = DB_OK;
		ci->result = COUPON_ISSUED;
	}
	if (st == DB_OK && ci->result == COUPON_ISSUED) {
		coupon_gate_count_issued(app->redis, ci->policy_id);
		return;
	}
	if (!ci->admitted)
		return;
	how = coupon_issue_undo_how(ci, st);
	app_count(app, COUNTER_COUPON_GATE_COMPENSATIONS);
	(void)coupon_gate_undo(app->redis, coupon_issue_slots(app),
	    ci->policy_id, ci->user_id, how, ci->total);
}

void coupon_issue_prepare(struct app *app, int64_t policy_id, int64_t total)
{
	char id[DB_I64_LEN], shards[DB_I64_LEN];
	const char *params[] = { db_param_i64(id, policy_id),
		db_param_i64(shards, app->cfg->coupon_shards) };
	int slots = coupon_issue_slots(app);

	if (app->cfg->coupon_strategy == COUPON_SHARDED &&
	    db_command(app->db, &coupon_split_stmt, params) != DB_OK)
		log_warn("coupon policy %" PRId64 " not split now (%s); its "
		         "first issue will split it",
		    policy_id, db_errmsg(app->db));
	if (app->cfg->coupon_gate != GATE_OFF &&
	    coupon_gate_rebuild_begin(app->redis, slots, policy_id) == 1)
		(void)coupon_gate_rebuild_end(app->redis, slots, policy_id, 0,
		    total);
}
