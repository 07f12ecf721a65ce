/*
 * audit: see audit.h.
 */
#include "audit.h"

#include "db.h"
#include "log.h"
#include "queries.h"

/*
 * The audit reads whole tables and groups them: with PostgreSQL's default
 * work_mem (4 MB) its hash aggregates spilled to disk on 200,000 orders.
 * Its own session may take more; it changes nothing, so it says so; and
 * its one long statement may be JIT-compiled, which the daemon's sessions
 * turn off (db.c).
 */
static const char audit_session_sql[] =
    "SET work_mem = '64MB'; SET default_transaction_read_only = on; "
    "RESET jit";

/* Writes one field of a result row as one line's worth of text. */
static void audit_field(FILE *out, const PGresult *r, int row, int col)
{
	char buf[512];

	log_escape_lines(buf, sizeof(buf), PQgetvalue(r, row, col));
	fputs(buf, out);
}

long audit_run(struct db *db, const char *since, FILE *out)
{
	const char *params[] = { since != NULL ? since : "-infinity" };
	enum db_status st;
	PGresult *r;
	long n;

	if (db_connect(db) != DB_OK || db_exec(db, audit_session_sql) != DB_OK)
		return -1;
	if ((r = db_query(db, &audit_stmt, params, &st)) == NULL)
		return -1;
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		audit_field(out, r, i, 0);
		fputc(' ', out);
		audit_field(out, r, i, 1);
		fputs(": ", out);
		audit_field(out, r, i, 2);
		fputc('\n', out);
	}
	PQclear(r);
	return n;
}
