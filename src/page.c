/*
 * page: see page.h.
 */
#include "page.h"

#include "api.h"
#include "valid.h"

int page_read(const struct request *req, struct response *res,
    enum page_order order, struct page *p)
{
	int newest = order == PAGE_NEWEST_FIRST;

	p->n = 0;
	p->last_id = 0;
	if (valid_query_int(res, req, "limit", 1, PAGE_LIMIT_MAX,
	        PAGE_LIMIT_DEFAULT, &p->limit) < 0 ||
	    valid_query_int(res, req, "after", newest ? 1 : 0, INT64_MAX,
	        newest ? INT64_MAX : 0, &p->after) < 0)
		return -1;
	return 0;
}

struct json_writer *page_begin(struct response *res)
{
	struct json_writer *w = response_json(res, 200);

	json_open_object(w);
	json_key(w, "items");
	json_open_array(w);
	return w;
}

void page_end(struct response *res, const struct page *p)
{
	struct json_writer *w = res->json;

	json_close_array(w);
	json_key(w, "next_after");
	if (p->n > 0 && p->n == p->limit)
		json_write_int(w, p->last_id);
	else
		json_write_null(w);
	json_close_object(w);
}

void page_serve_list(struct request *req, struct response *res, struct app *app,
    struct db *db, page_list_fn list)
{
	struct page p;
	enum db_status st;

	if (page_read(req, res, PAGE_NEWEST_FIRST, &p) < 0)
		return;
	st = list(db, req->identity.user_id, p.after, p.limit, page_begin(res),
	    &p.n, &p.last_id);
	if (st != DB_OK)
		api_db_failure(res, app, st);
	else
		page_end(res, &p);
}
