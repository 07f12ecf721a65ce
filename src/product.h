/*
 * product: the catalogue.  Products with their options, price and current
 * stock; creation and restocking (each a stock movement, so stock always
 * equals the sum of its movements); best sellers.  Answers are JSON built
 * by PostgreSQL (json_build_object, json_agg), written into the caller's
 * writer as they come: one round trip per answer.
 */
#ifndef STOCKADE_PRODUCT_H
#define STOCKADE_PRODUCT_H

#include <stdint.h>

#include "db.h"
#include "json.h"

#define PRODUCT_NAME_MAX 200 /* bytes, of a product's or an option's name */
#define PRODUCT_DESCRIPTION_MAX 4000
#define PRODUCT_OPTIONS_MAX 100
#define PRODUCT_PRICE_MAX INT64_C(1000000000000)
#define PRODUCT_STOCK_MAX INT64_C(1000000000) /* no restock passes it */

enum product_result {
	PRODUCT_OK, /* the answer is in the writer */
	PRODUCT_NOT_FOUND, /* no product with that id */
	PRODUCT_OPTION_NOT_FOUND, /* restock: no option with that id */
	PRODUCT_STOCK_LIMIT, /* restock: it would pass PRODUCT_STOCK_MAX */
	PRODUCT_RESULT__MAX
};

extern const char *const product_result_names[PRODUCT_RESULT__MAX];

/* A product to create, as validated by the caller. */
struct product_new {
	const char *name;
	const char *description; /* "" when none */
	/* [{"name","price","stock"}, ...] in the order given: one option per
	 * element, valid JSON with fields within the bounds above. */
	const char *options_json;
};

/*
 * Writes up to limit products with ids above after, ascending, into w as
 * values of the array the caller opened, and sets *n and *last_id (a
 * page.h list).  Returns DB_OK or a database failure.
 */
enum db_status product_list(struct db *db, int64_t after, int64_t limit,
    struct json_writer *w, int64_t *n, int64_t *last_id);

/* Writes product id into w (PRODUCT_OK) or finds none (PRODUCT_NOT_FOUND). */
enum db_status product_get(struct db *db, int64_t id, struct json_writer *w,
    enum product_result *result);

/*
 * Writes the limit best sellers of orders paid in the last days days,
 * {"id","name","quantity","revenue"} each, into w as values of the array
 * the caller opened: most units first, ties by revenue, then by id.
 */
enum db_status product_popular(struct db *db, int64_t days, int64_t limit,
    struct json_writer *w);

/*
 * Moves at most batch uncompacted sales rows into the buckets of every span
 * that product_popular reads (sql/008; the reaper, every round).
 * Sets *moved.  Returns DB_OK or a database failure.
 */
enum db_status product_sales_compact(struct db *db, int batch, int *moved);

/*
 * Creates p with its options and their initial stock movements in one
 * transaction of its own, then writes the product as created into w.
 * PRODUCT_NOT_FOUND would mean it vanished after its commit.
 */
enum db_status product_create(struct db *db, const struct product_new *p,
    struct json_writer *w, enum product_result *result);

/*
 * Adds quantity units to option option_id with a 'restock' movement, in
 * one statement, and writes the option as it is now into w; or refuses:
 * PRODUCT_OPTION_NOT_FOUND, PRODUCT_STOCK_LIMIT.
 */
enum db_status product_restock(struct db *db, int64_t option_id,
    int64_t quantity, struct json_writer *w, enum product_result *result);

#endif
