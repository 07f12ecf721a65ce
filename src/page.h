/*
 * page: one page of a keyset-paginated list, the shape every list endpoint
 * answers: {"items":[...], "next_after": ID or null}.
 */
#ifndef STOCKADE_PAGE_H
#define STOCKADE_PAGE_H

#include <stdint.h>

#include <libpq-fe.h>

#include "app.h"
#include "db.h"
#include "http.h"

/*
 * Answers 200 with r's rows as the page: column 0 of each row is an item
 * as JSON text (built by PostgreSQL), column 1 its id.  next_after is the
 * last id when the page is full (limit rows), else null.
 */
void page_write(struct response *res, PGresult *r, int64_t limit);

/*
 * Answers GET ...?limit=&after= with a newest-first page of the caller's
 * own rows: stmt takes ($1 user id, $2 the id to start below, $3 limit)
 * and returns (item JSON, id).  limit is 1..100 (default 20); after
 * defaults to the newest.
 */
void page_serve_own(struct request *req, struct response *res, struct app *app,
    const struct db_stmt *stmt);

#endif
