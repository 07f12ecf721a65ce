/*
 * api_product: see api_product.h.  Each handler validates its input, lets
 * product.c write the answer, and maps a refusal to its problem.
 */
#include "api_product.h"

#include "api.h"
#include "page.h"
#include "product.h"
#include "valid.h"

/* Best sellers: ?days= and ?limit= bounds and defaults. */
#define POPULAR_DAYS_DEFAULT 3
#define POPULAR_DAYS_MAX 30
#define POPULAR_LIMIT_DEFAULT 5
#define POPULAR_LIMIT_MAX 50

/* The problem for a refusal of product.c (nothing for PRODUCT_OK). */
static void api_product_refuse(struct response *res, enum product_result r,
    const char *not_found_detail)
{
	switch (r) {
	case PRODUCT_NOT_FOUND:
		problem_write(res, 404, "product_not_found", not_found_detail);
		break;
	case PRODUCT_OPTION_NOT_FOUND:
		problem_write(res, 404, "option_not_found",
		    "there is no product option with that id");
		break;
	case PRODUCT_STOCK_LIMIT: /* PRODUCT_STOCK_MAX, for people */
		problem_write(res, 409, "stock_limit",
		    "the restock would take the stock past 1,000,000,000");
		break;
	default:
		break;
	}
}

void api_product_list(struct request *req, struct response *res,
    struct app *app)
{
	struct page p;
	enum db_status st;

	if (page_read(req, res, PAGE_OLDEST_FIRST, &p) < 0)
		return;
	st = product_list(app->db_read, p.after, p.limit, page_begin(res), &p.n,
	    &p.last_id);
	if (st != DB_OK)
		api_db_failure(res, app, st);
	else
		page_end(res, &p);
}

void api_product_get(struct request *req, struct response *res, struct app *app)
{
	enum product_result result;
	enum db_status st;

	st = product_get(app->db_read, req->params[0], response_json(res, 200),
	    &result);
	if (st != DB_OK)
		api_db_failure(res, app, st);
	else
		api_product_refuse(res, result,
		    "there is no product with that id");
}

void api_product_popular(struct request *req, struct response *res,
    struct app *app)
{
	int64_t days, limit;
	struct json_writer *w;
	enum db_status st;

	if (valid_query_int(res, req, "days", 1, POPULAR_DAYS_MAX,
	        POPULAR_DAYS_DEFAULT, &days) < 0 ||
	    valid_query_int(res, req, "limit", 1, POPULAR_LIMIT_MAX,
	        POPULAR_LIMIT_DEFAULT, &limit) < 0)
		return;
	w = response_json(res, 200);
	json_open_object(w);
	json_member_int(w, "days", days);
	json_key(w, "items");
	json_open_array(w);
	if ((st = product_popular(app->db_read, days, limit, w)) != DB_OK) {
		api_db_failure(res, app, st);
		return;
	}
	json_close_array(w);
	json_close_object(w);
}

/*
 * Validates the options array and re-serialises it, as checked, into out.
 * Returns 0 or -1 (400 written).
 */
static int api_product_read_options(struct response *res,
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
		    valid_string(res, o, "name", VALID_REQUIRED, 1,
		        PRODUCT_NAME_MAX, &name) < 0 ||
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

void api_product_create(struct request *req, struct response *res,
    struct app *app)
{
	static const char *const fields[] = { "name", "description", "options",
		NULL };
	struct product_new p = { 0 };
	struct json_writer *options = json_writer_create();
	enum product_result result;
	enum db_status st;
	size_t len;

	if (valid_known_fields(res, req->json, fields) < 0 ||
	    valid_string(res, req->json, "name", VALID_REQUIRED, 1,
	        PRODUCT_NAME_MAX, &p.name) < 0 ||
	    valid_string(res, req->json, "description", VALID_OPTIONAL, 0,
	        PRODUCT_DESCRIPTION_MAX, &p.description) < 0 ||
	    api_product_read_options(res, req->json, options) < 0)
		goto out;
	if (p.description == NULL)
		p.description = "";
	if (json_writer_result(options, &p.options_json, &len) < 0) {
		problem_write(res, 400, "invalid_field",
		    "options could not be encoded");
		goto out;
	}
	st = product_create(app->db, &p, response_json(res, 201), &result);
	if (st != DB_OK)
		api_db_failure(res, app, st);
	else
		api_product_refuse(res, result,
		    "the product vanished after creation");
out:
	json_writer_free(options);
}

void api_product_restock(struct request *req, struct response *res,
    struct app *app)
{
	static const char *const fields[] = { "quantity", NULL };
	enum product_result result;
	int64_t quantity;
	enum db_status st;

	if (valid_known_fields(res, req->json, fields) < 0 ||
	    valid_int(res, req->json, "quantity", VALID_REQUIRED, 1,
	        PRODUCT_STOCK_MAX, 0, &quantity) < 0)
		return;
	st = product_restock(app->db, req->params[0], quantity,
	    response_json(res, 200), &result);
	if (st != DB_OK)
		api_db_failure(res, app, st);
	else
		api_product_refuse(res, result, NULL);
}
