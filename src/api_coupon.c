/*
 * api_coupon: see api_coupon.h.
 */
#include "api_coupon.h"

#include <inttypes.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "coupon.h"
#include "coupon_issue.h"
#include "coupon_queue.h"
#include "idempotency.h"
#include "page.h"
#include "queries.h"
#include "valid.h"

/* The problems of an issue that is refused. */
static const struct {
	int status;
	const char *code, *detail;
} api_coupon_refusals[COUPON_ISSUE_RESULT__MAX] = {
	[COUPON_NOT_FOUND] = { 404, "coupon_not_found",
	    "there is no coupon policy with that id" },
	[COUPON_NOT_OPEN] = { 409, "not_open",
	    "the policy does not issue coupons now: outside its window "
	    "(starts_at to ends_at)" },
	[COUPON_ALREADY_ISSUED] = { 409, "already_issued",
	    "you already have a coupon of this policy" },
	[COUPON_SOLD_OUT] = { 409, "sold_out",
	    "every coupon of this policy has been issued" },
};

/* Answers a refusal (a result with a problem in the table above). */
static void api_coupon_refuse(struct response *res,
    enum coupon_issue_result why)
{
	problem_write(res, api_coupon_refusals[why].status,
	    api_coupon_refusals[why].code, api_coupon_refusals[why].detail);
}

/* Reads and validates a new policy; -1 when res holds the problem. */
static int api_coupon_read_new(struct response *res,
    const struct json_value *body, struct coupon_new *n)
{
	static const char *const fields[] = { "name", "discount_kind",
		"discount_value", "discount_cap", "total_quantity", "starts_at",
		"ends_at", "valid_days", NULL };
	const char *kind;

	if (valid_known_fields(res, body, fields) < 0 ||
	    valid_string(res, body, "name", VALID_REQUIRED, 1, COUPON_NAME_MAX,
	        &n->name) < 0 ||
	    valid_string(res, body, "discount_kind", VALID_REQUIRED, 1, 16,
	        &kind) < 0)
		return -1;
	if (strcmp(kind, "amount") != 0 && strcmp(kind, "percent") != 0) {
		problem_write(res, 400, "invalid_field",
		    "discount_kind must be \"amount\" or \"percent\"");
		return -1;
	}
	n->percent = strcmp(kind, "percent") == 0;
	if (valid_int(res, body, "discount_value", VALID_REQUIRED, 1,
	        n->percent ? COUPON_PERCENT_MAX : COUPON_AMOUNT_MAX, 0,
	        &n->value) < 0 ||
	    valid_int(res, body, "discount_cap", VALID_OPTIONAL, 1,
	        COUPON_AMOUNT_MAX, 0, &n->cap) < 0 ||
	    valid_int(res, body, "total_quantity", VALID_REQUIRED, 1,
	        COUPON_TOTAL_MAX, 0, &n->total) < 0 ||
	    valid_int(res, body, "valid_days", VALID_OPTIONAL, 1,
	        COUPON_VALID_DAYS_MAX, COUPON_VALID_DAYS_DEFAULT,
	        &n->valid_days) < 0 ||
	    valid_timestamp(res, body, "starts_at", VALID_OPTIONAL,
	        &n->starts_at) < 0 ||
	    valid_timestamp(res, body, "ends_at", VALID_OPTIONAL, &n->ends_at) <
	        0)
		return -1;
	if (!n->percent && n->cap != 0) {
		problem_write(res, 400, "invalid_field",
		    "discount_cap applies to a percent discount only");
		return -1;
	}
	return 0;
}

void api_coupon_create(struct request *req, struct response *res,
    struct app *app)
{
	enum coupon_create_result result;
	struct coupon_new n;
	enum db_status st;
	int64_t id;

	memset(&n, 0, sizeof(n));
	if (api_coupon_read_new(res, req->json, &n) < 0)
		return;
	st = coupon_policy_create(app->db, &n, response_json(res, 201), &id,
	    &result);
	if (st != DB_OK) {
		api_db_failure(res, app, st);
		return;
	}
	if (result == COUPON_BAD_WINDOW) {
		problem_write(res, 400, "invalid_window",
		    "ends_at must be later than starts_at and than now");
		return;
	}
	response_header(res, "Location", "/api/v1/coupons/%" PRId64, id);
	coupon_issue_prepare(app, id, n.total);
}

void api_coupon_get(struct request *req, struct response *res, struct app *app)
{
	struct json_writer *w = response_json(res, 200);
	enum db_status st;

	st = coupon_policy_get(app->db, req->params[0], w);
	if (st == DB_NOTFOUND)
		api_coupon_refuse(res, COUPON_NOT_FOUND);
	else if (st != DB_OK)
		api_db_failure(res, app, st);
}

/* An issue and what its effect saw of its transaction. */
struct api_coupon_claim {
	struct coupon_issue ci;
	unsigned long attempt; /* db_retry_count when the effect last ran */
};

/*
 * Step 3 of the issue as idempotency_transaction's effect (or alone, as
 * statements of their own): 201 with the coupon, or the refusal.
 */
static enum db_status api_coupon_issue_effect(struct db *db,
    struct response *res, void *arg)
{
	struct api_coupon_claim *claim = arg;
	enum db_status st;

	claim->attempt = db_retry_count(db);
	st = coupon_issue_take(db, &claim->ci, response_json(res, 201));
	if (st == DB_OK && claim->ci.result != COUPON_ISSUED)
		api_coupon_refuse(res, claim->ci.result);
	return st;
}

/*
 * Runs step 3: in a transaction with the Idempotency-Key, if any; without
 * one and when it is one statement, as statements of their own (nothing
 * to replay, so one round trip).  Sets claim->ci.result to what became of
 * it, for the gate (coupon_issue_settle).
 */
static enum db_status api_coupon_issue_run(struct request *req,
    struct response *res, struct app *app, struct api_coupon_claim *claim)
{
	enum db_status st;

	if (req->idempotency_key == NULL && coupon_issue_one_statement(app))
		return api_coupon_issue_effect(app->db, res, claim);
	st = idempotency_transaction(app->db, req, res, app->cfg->retry_after_s,
	    api_coupon_issue_effect, claim);
	if (st != DB_OK)
		return st;
	/* The effect issued and its transaction was not tried again: it
	 * committed, though its answer may come replayed from the key (a
	 * COMMIT whose answer was lost, settled by idempotency.c).  That
	 * coupon is this admission's. */
	if (claim->ci.result == COUPON_ISSUED &&
	    claim->attempt == db_retry_count(app->db))
		return DB_OK;
	if (res->replayed)
		claim->ci.result = COUPON_REPLAYED; /* the user holds one */
	else if (claim->ci.result == COUPON_UNDECIDED ||
	    claim->attempt != db_retry_count(app->db))
		/* The key answered, not the effect: it never ran, or the
		 * transaction was tried again after it last ran (what it
		 * decided was rolled back).  409 request_in_progress: the
		 * key's twin is running and may issue; 422: a request with
		 * another body holds the key. */
		claim->ci.result = res->code != NULL &&
		        strcmp(res->code, "request_in_progress") == 0
		    ? COUPON_IN_PROGRESS
		    : COUPON_UNDECIDED;
	return DB_OK;
}

/*
 * Answers a claim from a user the gate knows, with an Idempotency-Key,
 * from one indexed read (coupon_keyed_answer) instead of a locked
 * transaction: the key's stored answer (replayed, as idempotency.c does,
 * or 422 when it was another request), else already_issued when the user
 * holds a coupon, which another request issued.  Sets *answered, or
 * leaves it 0 (no stored answer, no coupon: the key's twin may still be
 * running) for the caller to go on to the database.
 */
static enum db_status api_coupon_keyed_answer(struct request *req,
    struct response *res, const struct coupon_issue *ci, int *answered)
{
	const char *params[] = { ci->user, req->idempotency_key, ci->policy };
	char hash[65];
	enum db_status st;
	PGresult *r;

	*answered = 0;
	if ((r = db_query(ci->app->db, &coupon_keyed_answer_stmt, params,
	         &st)) == NULL)
		return st;
	idempotency_request_hash(req, hash);
	if (PQgetisnull(r, 0, 0)) {
		if (strcmp(PQgetvalue(r, 0, 3), "t") == 0) {
			api_coupon_refuse(res, COUPON_ALREADY_ISSUED);
			*answered = 1;
		}
	} else {
		st = idempotency_answer_stored(res, hash, r, 0);
		*answered = st == DB_OK;
	}
	PQclear(r);
	return st;
}

/*
 * Steps 1 and 2 (coupon_issue_admit), and the keyed retry of a user the
 * gate knows.  Returns 0 when the issue goes on to step 3, -1 when res
 * holds the answer.
 */
static int api_coupon_admit(struct request *req, struct response *res,
    struct app *app, struct coupon_issue *ci)
{
	enum db_status st;
	int answered;

	st = coupon_issue_admit(ci, req->idempotency_key != NULL);
	if (st == DB_OK && ci->result == COUPON_KNOWN_KEYED) {
		st = api_coupon_keyed_answer(req, res, ci, &answered);
		if (st == DB_OK && answered) {
			app_count(app, COUNTER_COUPON_KEYED_READS);
			return -1;
		}
		if (st == DB_OK)
			coupon_issue_bypass(ci);
	}
	if (st != DB_OK) {
		api_db_failure(res, app, st);
		return -1;
	}
	if (ci->result != COUPON_UNDECIDED) {
		api_coupon_refuse(res, ci->result);
		return -1;
	}
	return 0;
}

/*
 * Step 3 through the queue (coupon_strategy = queue, coupon_queue.h): the
 * claim is answered by a consumer's committed batch, or, when the queue
 * did not take it or left it undecided, on the direct path.  A claim whose
 * answer did not come in time is taken over on the direct path, and since
 * the queue may have committed it meanwhile, a refusal there is checked
 * against the user's coupon: one held is this claim's (the gate admits a
 * user once), answered 201.  A take-over that fails leaves the outcome
 * unknown (503 outcome_unknown), never "nothing changed": the claim may
 * still be committed from the stream.
 */
static enum db_status api_coupon_issue_queued(struct request *req,
    struct response *res, struct app *app, struct api_coupon_claim *claim)
{
	struct coupon_issue *ci = &claim->ci;
	enum db_status st;

	switch (coupon_queue_claim(ci, response_json(res, 201))) {
	case COUPON_QUEUE_ANSWERED:
		if (ci->result != COUPON_ISSUED)
			api_coupon_refuse(res, ci->result);
		return DB_OK;
	case COUPON_QUEUE_LOST:
		break;
	default: /* not sent, or left undecided by the batch */
		response_json(res, 201);
		return api_coupon_issue_run(req, res, app, claim);
	}
	response_json(res, 201);
	st = api_coupon_issue_run(req, res, app, claim);
	if (st != DB_OK)
		return DB_UNKNOWN;
	if ((ci->result == COUPON_ALREADY_ISSUED ||
	        ci->result == COUPON_SOLD_OUT) &&
	    coupon_queue_held(ci, response_json(res, 201)) == 0)
		api_coupon_refuse(res, ci->result);
	return DB_OK;
}

void api_coupon_issue(struct request *req, struct response *res,
    struct app *app)
{
	struct api_coupon_claim claim;
	enum db_status st;

	coupon_issue_init(&claim.ci, app, req->params[0],
	    req->identity.user_id);
	claim.attempt = db_retry_count(app->db);
	if (api_coupon_admit(req, res, app, &claim.ci) < 0)
		return;
	if (coupon_queue_wanted(&claim.ci, req->idempotency_key != NULL))
		st = api_coupon_issue_queued(req, res, app, &claim);
	else
		st = api_coupon_issue_run(req, res, app, &claim);
	coupon_issue_settle(&claim.ci, st);
	if (st != DB_OK)
		api_db_failure(res, app, st);
}

void api_coupon_list_mine(struct request *req, struct response *res,
    struct app *app)
{
	page_serve_list(req, res, app, app->db, coupon_list_mine);
}
