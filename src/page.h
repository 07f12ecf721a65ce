/*
 * page: one page of a keyset-paginated list, the shape every list endpoint
 * answers: {"items":[...], "next_after": ID or null}.
 */
#ifndef STOCKADE_PAGE_H
#define STOCKADE_PAGE_H

#include <stdint.h>

#include <libpq-fe.h>

#include "http.h"

/*
 * Answers 200 with r's rows as the page: column 0 of each row is an item
 * as JSON text (built by PostgreSQL), column 1 its id.  next_after is the
 * last id when the page is full (limit rows), else null.
 */
void page_write(struct response *res, PGresult *r, int64_t limit);

#endif
