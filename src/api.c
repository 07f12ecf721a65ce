/*
 * api: see api.h.
 */
#include "api.h"

#include "config.h"
#include "log.h"

/* A 500 is a bug or a schema mismatch: say which, and for which request. */
static void api_log_internal_error(const struct app *app, enum db_status st)
{
	log_error("rid=%s: 500 internal_error: database %s: %s (SQLSTATE %s)",
	    app->request_id != NULL ? app->request_id : "-",
	    db_status_names[st], *db_errmsg(app->db) ? db_errmsg(app->db) : "-",
	    *db_sqlstate(app->db) ? db_sqlstate(app->db) : "-");
}

void api_db_failure(struct response *res, const struct app *app,
    enum db_status st)
{
	switch (st) {
	case DB_TIMEOUT:
		problem_write(res, 503, "database_timeout",
		    "the database did not answer in time; try again");
		break;
	case DB_UNAVAILABLE:
		problem_write(res, 503, "database_unavailable",
		    "the database is unreachable; try again");
		break;
	case DB_RETRY:
		problem_write(res, 503, "database_busy",
		    "the request kept conflicting with others; try again");
		break;
	case DB_UNKNOWN:
		log_warn("rid=%s: 503 outcome_unknown: %s",
		    app->request_id != NULL ? app->request_id : "-",
		    db_errmsg(app->db));
		problem_write(res, 503, "outcome_unknown",
		    "the connection to the database broke while the change "
		    "was being committed: it may have been applied; read the "
		    "resource before retrying (a retry with the same "
		    "Idempotency-Key is always safe)");
		break;
	default:
		api_log_internal_error(app, st);
		problem_write(res, 500, "internal_error",
		    "the request failed on the server; it has been logged");
		return;
	}
	response_header(res, "Retry-After", "%d", app->cfg->retry_after_s);
}
