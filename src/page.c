/*
 * page: see page.h.  A full page says where the next one starts; a short
 * page is the last, so clients stop without one more empty request.
 */
#include "page.h"

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
