/*
 * api: see api.h.
 */
#include "api.h"

#include "config.h"

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
	default:
		problem_write(res, 500, "internal_error",
		    "the request failed on the server; it has been logged");
		return;
	}
	response_header(res, "Retry-After", "%d", app->cfg->retry_after_s);
}
