/*
 * api: what the endpoint handlers (api_*.c) share.  A handler reads and
 * validates its request (valid.c), calls the domain, and maps the domain's
 * typed outcome to an answer; a database failure the domain could not turn
 * into an outcome is answered here, the same way everywhere.
 */
#ifndef STOCKADE_API_H
#define STOCKADE_API_H

#include "app.h"
#include "db.h"
#include "http.h"

/*
 * Answers a database failure: timeouts, lost connections and exhausted
 * retries become 503 with Retry-After (nothing was changed; a client may
 * simply try again); a connection lost during COMMIT (DB_UNKNOWN) 503
 * outcome_unknown with Retry-After (it may have been applied: read before
 * retrying); anything else 500, logged with its cause and the request id.
 */
void api_db_failure(struct response *res, const struct app *app,
    enum db_status st);

#endif
