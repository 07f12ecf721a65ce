/*
 * api_system: see api_system.h.
 */
#include "api_system.h"

#include <stdio.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "redis.h"
#include "api.h"

void api_system_healthz(struct request *req, struct response *res,
    struct app *app)
{
	struct json_writer *w = response_json(res, 200);

	json_open_object(w);
	json_member_string(w, "status", "ok");
	json_close_object(w);
}

void api_system_readyz(struct request *req, struct response *res,
    struct app *app)
{
	int pg = db_ping(app->db), redis = redis_ping(app->redis);
	struct json_writer *w;
	char detail[160];

	if (pg && redis) {
		w = response_json(res, 200);
		json_open_object(w);
		json_member_string(w, "status", "ready");
	} else {
		snprintf(detail, sizeof(detail), "not ready: %s%s%s",
		    pg ? "" : "postgres is down", !pg && !redis ? " and " : "",
		    redis ? "" : "redis is down");
		w = problem_begin(res, 503, "not_ready", detail);
		response_header(res, "Retry-After", "%d",
		    app->cfg->retry_after_s);
	}
	json_member_string(w, "postgres", pg ? "ok" : "down");
	json_member_string(w, "redis", redis ? "ok" : "down");
	json_close_object(w);
}

void api_system_whoami(struct request *req, struct response *res,
    struct app *app)
{
	struct json_writer *w = response_json(res, 200);

	json_open_object(w);
	json_member_int(w, "user_id", req->identity.user_id);
	json_member_string(w, "role", auth_role_names[req->identity.role]);
	json_close_object(w);
}
