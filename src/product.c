/*
 * product: see product.h.
 */
#include "product.h"

#include "queries.h"

const char *const product_result_names[PRODUCT_RESULT__MAX] = {
	"ok",
	"not_found",
	"option_not_found",
	"stock_limit",
};

/* Writes column 0 of r's only row, or reports that there is none. */
static void product_write_one(PGresult *r, struct json_writer *w,
    enum product_result *result, enum product_result missing)
{
	*result = PQntuples(r) == 0 ? missing : PRODUCT_OK;
	if (*result == PRODUCT_OK)
		db_write_json_rows(r, w, NULL, NULL);
}

enum db_status product_list(struct db *db, int64_t after, int64_t limit,
    struct json_writer *w, int64_t *n, int64_t *last_id)
{
	char after_s[DB_I64_LEN], limit_s[DB_I64_LEN];
	const char *params[] = { db_param_i64(after_s, after),
		db_param_i64(limit_s, limit) };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &product_page_stmt, params, &st)) == NULL)
		return st;
	st = db_write_json_rows(r, w, n, last_id);
	PQclear(r);
	return st;
}

enum db_status product_get(struct db *db, int64_t id, struct json_writer *w,
    enum product_result *result)
{
	char id_s[DB_I64_LEN];
	const char *params[] = { db_param_i64(id_s, id) };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &product_by_id_stmt, params, &st)) == NULL)
		return st;
	product_write_one(r, w, result, PRODUCT_NOT_FOUND);
	PQclear(r);
	return DB_OK;
}

enum db_status product_popular(struct db *db, int64_t days, int64_t limit,
    struct json_writer *w)
{
	char days_s[DB_I64_LEN], limit_s[DB_I64_LEN];
	const char *params[] = { db_param_i64(days_s, days),
		db_param_i64(limit_s, limit) };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &product_popular_stmt, params, &st)) == NULL)
		return st;
	st = db_write_json_rows(r, w, NULL, NULL);
	PQclear(r);
	return st;
}

enum db_status product_sales_compact(struct db *db, int batch, int *moved)
{
	char batch_s[DB_I64_LEN];
	const char *params[] = { db_param_i64(batch_s, batch) };
	enum db_status st;
	int64_t n = 0;
	PGresult *r;

	*moved = 0;
	if ((r = db_query(db, &product_sales_compact_stmt, params, &st)) ==
	    NULL)
		return st;
	st = db_get_i64(r, 0, 0, &n);
	PQclear(r);
	*moved = (int)n;
	return st;
}

struct product_create_tx {
	const struct product_new *p;
	PGresult *result; /* the product as created, read in its transaction */
};

static enum db_status product_create_in_tx(struct db *db, void *arg)
{
	struct product_create_tx *tx = arg;
	const char *params[] = { tx->p->name, tx->p->description,
		tx->p->options_json };
	const char *id_param[1];
	enum db_status st;
	PGresult *r;

	/* db_transaction reruns this after a serialization failure: the
	 * previous attempt's read goes. */
	PQclear(tx->result);
	tx->result = NULL;
	if ((r = db_query(db, &product_insert_stmt, params, &st)) == NULL)
		return st;
	id_param[0] = PQgetvalue(r, 0, 0);
	tx->result = db_query(db, &product_by_id_stmt, id_param, &st);
	PQclear(r);
	return st;
}

enum db_status product_create(struct db *db, const struct product_new *p,
    struct json_writer *w, enum product_result *result)
{
	struct product_create_tx tx = { p, NULL };
	enum db_status st;

	st = db_transaction(db, product_create_in_tx, &tx);
	if (st == DB_OK)
		product_write_one(tx.result, w, result, PRODUCT_NOT_FOUND);
	PQclear(tx.result);
	return st;
}

enum db_status product_restock(struct db *db, int64_t option_id,
    int64_t quantity, struct json_writer *w, enum product_result *result)
{
	char id[DB_I64_LEN], qty[DB_I64_LEN], cap[DB_I64_LEN];
	const char *params[] = { db_param_i64(id, option_id),
		db_param_i64(qty, quantity),
		db_param_i64(cap, PRODUCT_STOCK_MAX) };
	enum db_status st;
	PGresult *r;

	/* One statement: the UPDATE and its movement commit together. */
	if ((r = db_query(db, &product_restock_stmt, params, &st)) == NULL)
		return st;
	product_write_one(r, w, result, PRODUCT_STOCK_LIMIT);
	PQclear(r);
	if (*result == PRODUCT_OK)
		return DB_OK;
	/* No row: say whether the option is missing or would overflow. */
	if ((r = db_query(db, &product_option_exists_stmt, params, &st)) ==
	    NULL)
		return st;
	if (PQntuples(r) == 0)
		*result = PRODUCT_OPTION_NOT_FOUND;
	PQclear(r);
	return DB_OK;
}
