/*
 * product: see product.h.  Responses are assembled by PostgreSQL
 * (json_build_object, json_agg) and passed through, which keeps the C side
 * to validation and status mapping and needs one round trip per page.
 */
#include "product.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "page.h"
#include "api.h"
#include "queries.h"
#include "valid.h"

#define PRODUCT_OPTIONS_MAX 100
#define PRODUCT_PRICE_MAX INT64_C(1000000000000)
#define PRODUCT_STOCK_MAX INT64_C(1000000000)

void product_list(struct request *req, struct response *res, struct app *app)
{
	int64_t limit, after;
	char limit_s[24], after_s[24];
	const char *params[] = { after_s, limit_s };
	enum db_status st;
	PGresult *r;

	if (valid_query_int(res, req, "limit", 1, 100, 20, &limit) < 0 ||
	    valid_query_int(res, req, "after", 0, INT64_MAX, 0, &after) < 0)
		return;
	snprintf(limit_s, sizeof(limit_s), "%" PRId64, limit);
	snprintf(after_s, sizeof(after_s), "%" PRId64, after);
	if ((r = db_query(app->db, &product_page_stmt, params, &st)) == NULL) {
		api_db_failure(res, app, st);
		return;
	}
	page_write(res, r, limit);
	PQclear(r);
}

/* Answers 200 with the first column of r's only row, or 404. */
static void product_write_one(struct response *res, PGresult *r, int status,
    const char *missing_code, const char *missing_detail)
{
	if (PQntuples(r) == 0) {
		problem_write(res, 404, missing_code, missing_detail);
		return;
	}
	json_write_raw(response_json(res, status), PQgetvalue(r, 0, 0),
	    (size_t)PQgetlength(r, 0, 0));
}

void product_get(struct request *req, struct response *res, struct app *app)
{
	char id[24];
	const char *params[] = { id };
	enum db_status st;
	PGresult *r;

	snprintf(id, sizeof(id), "%" PRId64, req->params[0]);
	if ((r = db_query(app->db, &product_by_id_stmt, params, &st)) == NULL) {
		api_db_failure(res, app, st);
		return;
	}
	product_write_one(res, r, 200, "product_not_found",
	    "there is no product with that id");
	PQclear(r);
}

void product_popular(struct request *req, struct response *res, struct app *app)
{
	int64_t days, limit;
	char days_s[24], limit_s[24];
	const char *params[] = { days_s, limit_s };
	struct json_writer *w;
	enum db_status st;
	PGresult *r;

	if (valid_query_int(res, req, "days", 1, 30, 3, &days) < 0 ||
	    valid_query_int(res, req, "limit", 1, 50, 5, &limit) < 0)
		return;
	snprintf(days_s, sizeof(days_s), "%" PRId64, days);
	snprintf(limit_s, sizeof(limit_s), "%" PRId64, limit);
	if ((r = db_query(app->db, &product_popular_stmt, params, &st)) ==
	    NULL) {
		api_db_failure(res, app, st);
		return;
	}
	w = response_json(res, 200);
	json_open_object(w);
	json_member_int(w, "days", days);
	json_key(w, "items");
	json_open_array(w);
	for (int i = 0; i < PQntuples(r); i++)
		json_write_raw(w, PQgetvalue(r, i, 0),
		    (size_t)PQgetlength(r, i, 0));
	json_close_array(w);
	json_close_object(w);
	PQclear(r);
}

/*
 * Validates the options array and re-serialises it, as checked, into
 * options_json (owned by the caller's writer).  Returns 0 or -1 (400 sent).
 */
static int product_read_options(struct response *res,
    const struct json_value *body, struct json_writer *out)
{
	static const char *const fields[] = { "name", "price", "stock", NULL };
	const struct json_value *options;

	if (valid_array(res, body, "options", 1, PRODUCT_OPTIONS_MAX,
	        &options) < 0)
		return -1;
	json_open_array(out);
	for (size_t i = 0; i < options->u.array.len; i++) {
		const struct json_value *o = options->u.array.items[i];
		const char *name;
		int64_t price, stock;

		if (o->type != JSON_OBJECT) {
			problem_write(res, 400, "invalid_field",
			    "options must be objects");
			return -1;
		}
		if (valid_known_fields(res, o, fields) < 0 ||
		    valid_string(res, o, "name", VALID_REQUIRED, 1, 200,
		        &name) < 0 ||
		    valid_int(res, o, "price", VALID_REQUIRED, 0,
		        PRODUCT_PRICE_MAX, 0, &price) < 0 ||
		    valid_int(res, o, "stock", VALID_OPTIONAL, 0,
		        PRODUCT_STOCK_MAX, 0, &stock) < 0)
			return -1;
		json_open_object(out);
		json_member_string(out, "name", name);
		json_member_int(out, "price", price);
		json_member_int(out, "stock", stock);
		json_close_object(out);
	}
	json_close_array(out);
	return 0;
}

struct product_create_tx {
	const char *name, *description, *options_json;
	PGresult *result; /* the created product, for the response */
};

static enum db_status product_create_in_tx(struct db *db, void *arg)
{
	struct product_create_tx *tx = arg;
	const char *params[] = { tx->name, tx->description, tx->options_json };
	const char *id_param[1];
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &product_insert_stmt, params, &st)) == NULL)
		return st;
	id_param[0] = PQgetvalue(r, 0, 0);
	tx->result = db_query(db, &product_by_id_stmt, id_param, &st);
	PQclear(r);
	return st;
}

void product_create(struct request *req, struct response *res, struct app *app)
{
	static const char *const fields[] = { "name", "description", "options",
		NULL };
	struct product_create_tx tx = { 0 };
	struct json_writer *options = json_writer_create();
	enum db_status st;
	size_t len;

	if (valid_known_fields(res, req->json, fields) < 0 ||
	    valid_string(res, req->json, "name", VALID_REQUIRED, 1, 200,
	        &tx.name) < 0 ||
	    valid_string(res, req->json, "description", VALID_OPTIONAL, 0, 4000,
	        &tx.description) < 0 ||
	    product_read_options(res, req->json, options) < 0)
		goto out;
	if (tx.description == NULL)
		tx.description = "";
	if (json_writer_result(options, &tx.options_json, &len) < 0) {
		problem_write(res, 400, "invalid_field",
		    "options could not be encoded");
		goto out;
	}
	st = db_transaction(app->db, product_create_in_tx, &tx);
	if (st != DB_OK) {
		api_db_failure(res, app, st);
		goto out;
	}
	product_write_one(res, tx.result, 201, "product_not_found",
	    "the product vanished after creation");
out:
	PQclear(tx.result);
	json_writer_free(options);
}

void product_restock(struct request *req, struct response *res, struct app *app)
{
	static const char *const fields[] = { "quantity", NULL };
	char id[24], qty[24], cap[24];
	const char *params[] = { id, qty, cap };
	int64_t quantity;
	enum db_status st;
	PGresult *r;

	if (valid_known_fields(res, req->json, fields) < 0 ||
	    valid_int(res, req->json, "quantity", VALID_REQUIRED, 1,
	        PRODUCT_STOCK_MAX, 0, &quantity) < 0)
		return;
	snprintf(id, sizeof(id), "%" PRId64, req->params[0]);
	snprintf(qty, sizeof(qty), "%" PRId64, quantity);
	snprintf(cap, sizeof(cap), "%" PRId64, PRODUCT_STOCK_MAX);
	/* One statement: the UPDATE and its movement commit together. */
	if ((r = db_query(app->db, &product_restock_stmt, params, &st)) ==
	    NULL) {
		api_db_failure(res, app, st);
		return;
	}
	if (PQntuples(r) == 1) {
		product_write_one(res, r, 200, "", "");
		PQclear(r);
		return;
	}
	PQclear(r);
	if ((r = db_query(app->db, &product_option_exists_stmt, params, &st)) ==
	    NULL) {
		api_db_failure(res, app, st);
		return;
	}
	if (PQntuples(r) == 0)
		problem_write(res, 404, "option_not_found",
		    "there is no product option with that id");
	else
		problem_write(res, 409, "stock_limit",
		    "the restock would take the stock past 1,000,000,000");
	PQclear(r);
}
