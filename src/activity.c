/*
 * activity: see activity.h.
 */
#include "activity.h"

#include <stdio.h>

#include "queries.h"

static void activity_copy(char *dst, size_t len, const PGresult *r, int col)
{
	snprintf(dst, len, "%s", PQgetvalue(r, 0, col));
}

enum db_status activity_of_backend(struct db *db, int pid, struct activity *out)
{
	char buf[DB_I64_LEN];
	const char *params[] = { db_param_i64(buf, pid) };
	enum db_status st;
	PGresult *r;

	if (pid <= 0)
		return DB_NOTFOUND;
	if ((r = db_query(db, &activity_of_backend_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return DB_NOTFOUND;
	}
	activity_copy(out->state, sizeof(out->state), r, 0);
	activity_copy(out->wait_event_type, sizeof(out->wait_event_type), r, 1);
	activity_copy(out->wait_event, sizeof(out->wait_event), r, 2);
	activity_copy(out->query, sizeof(out->query), r, 3);
	st = db_get_i64(r, 0, 4, &out->query_ms);
	PQclear(r);
	return st;
}
