/*
 * page: keyset pagination, the HTTP side of every list endpoint.  It reads
 * ?limit= and ?after= under one page-size policy, and answers the one shape
 * every list has: {"items":[...], "next_after": ID or null}.  The domain's
 * list functions write the items (JSON built by PostgreSQL) into the writer
 * page_begin returns, and say how many they wrote and the last one's id.
 */
#ifndef STOCKADE_PAGE_H
#define STOCKADE_PAGE_H

#include <stdint.h>

#include "app.h"
#include "db.h"
#include "http.h"

/* The page-size policy: ?limit= is 1..PAGE_LIMIT_MAX, by default this. */
#define PAGE_LIMIT_DEFAULT 20
#define PAGE_LIMIT_MAX 100

/* Which way a list runs, and so what ?after= means. */
enum page_order {
	PAGE_NEWEST_FIRST, /* ids below after; by default from the newest */
	PAGE_OLDEST_FIRST, /* ids above after; by default from the first */
	PAGE_ORDER__MAX
};

struct page {
	int64_t limit; /* rows asked for */
	int64_t after; /* the position the page starts past */
	int64_t n; /* rows written (set by the domain's list) */
	int64_t last_id; /* the id of the last of them (likewise) */
};

/*
 * The domain's list of one user's rows (own lists): writes up to limit of
 * them past after, newest first, into w as values of the array the caller
 * opened, and sets *n and *last_id.  Returns DB_OK or a database failure.
 */
typedef enum db_status (*page_list_fn)(struct db *db, int64_t user_id,
    int64_t after, int64_t limit, struct json_writer *w, int64_t *n,
    int64_t *last_id);

/*
 * Reads ?limit= and ?after= into p for a list running in order.  Returns
 * 0, or -1 after writing a 400 problem naming the parameter into res.
 */
int page_read(const struct request *req, struct response *res,
    enum page_order order, struct page *p);

/* Starts the 200 answer; returns the writer the items go into. */
struct json_writer *page_begin(struct response *res);

/*
 * Ends the answer page_begin started.  next_after is p->last_id when the
 * page is full (p->n == p->limit), else null: a short page is the last, so
 * clients stop without one more, empty, request.
 */
void page_end(struct response *res, const struct page *p);

/*
 * Answers GET ...?limit=&after= with a newest-first page of the caller's
 * own rows, listed by list on db (app->db, or app->db_read for a history
 * that may trail the user's writes).  Reports database failures into res.
 */
void page_serve_list(struct request *req, struct response *res, struct app *app,
    struct db *db, page_list_fn list);

#endif
