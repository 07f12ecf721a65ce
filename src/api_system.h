/*
 * api_system: the endpoints about stockade itself rather than the shop:
 * liveness, readiness and the caller's identity (the scoreboard's
 * endpoints are api_status's).
 */
#ifndef STOCKADE_API_SYSTEM_H
#define STOCKADE_API_SYSTEM_H

#include "app.h"
#include "http.h"

/* GET /healthz: 200 while this worker runs; touches nothing else. */
void api_system_healthz(struct request *req, struct response *res,
    struct app *app);
/* GET /readyz: 200 when PostgreSQL and Redis answer, else 503 naming which. */
void api_system_readyz(struct request *req, struct response *res,
    struct app *app);
/* GET /api/v1/whoami: the identity in the caller's token. */
void api_system_whoami(struct request *req, struct response *res,
    struct app *app);

#endif
