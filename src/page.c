/*
 * page: see page.h.  A full page says where the next one starts; a short
 * page is the last, so clients stop without one more empty request.
 */
#include "page.h"

#include <inttypes.h>
#include <stdio.h>

#include "config.h"
#include "api.h"
#include "valid.h"

void page_write(struct response *res, PGresult *r, int64_t limit)
{
	struct json_writer *w = response_json(res, 200);
	int n = PQntuples(r);

	json_open_object(w);
	json_key(w, "items");
	json_open_array(w);
	for (int i = 0; i < n; i++)
		json_write_raw(w, PQgetvalue(r, i, 0),
		    (size_t)PQgetlength(r, i, 0));
	json_close_array(w);
	json_key(w, "next_after");
	if (n > 0 && n == limit)
		json_write_raw(w, PQgetvalue(r, n - 1, 1),
		    (size_t)PQgetlength(r, n - 1, 1));
	else
		json_write_null(w);
	json_close_object(w);
}

void page_serve_own(struct request *req, struct response *res, struct app *app,
    const struct db_stmt *stmt)
{
	char user[24], after_s[24], limit_s[24];
	const char *params[] = { user, after_s, limit_s };
	int64_t limit, after;
	enum db_status st;
	PGresult *r;

	if (valid_query_int(res, req, "limit", 1, 100, 20, &limit) < 0 ||
	    valid_query_int(res, req, "after", 1, INT64_MAX, INT64_MAX,
	        &after) < 0)
		return;
	snprintf(user, sizeof(user), "%" PRId64, req->identity.user_id);
	snprintf(after_s, sizeof(after_s), "%" PRId64, after);
	snprintf(limit_s, sizeof(limit_s), "%" PRId64, limit);
	if ((r = db_query(app->db, stmt, params, &st)) == NULL) {
		api_db_failure(res, app, st);
		return;
	}
	page_write(res, r, limit);
	PQclear(r);
}
