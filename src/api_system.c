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
#include "scoreboard.h"

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

static void api_system_status_slot(struct json_writer *w,
    const struct scoreboard_slot *s, int i, int64_t now)
{
	int state = s->state;

	if (state < 0 || state >= WORKER_STATE__MAX)
		state = WORKER_EMPTY;
	json_open_object(w);
	json_member_int(w, "slot", i);
	json_member_int(w, "pid", s->pid);
	json_member_string(w, "state", worker_state_names[state]);
	json_member_int(w, "requests", (int64_t)s->requests);
	json_member_int(w, "restarts", (int64_t)s->restarts);
	json_member_int(w, "started_at_ms", s->started_ms);
	for (int c = 0; c < SLOT_COUNTER__MAX; c++)
		json_member_int(w, slot_counter_names[c],
		    (int64_t)s->counters[c]);
	if (state == WORKER_BUSY) {
		char request[SCOREBOARD_REQUEST_MAX];

		/* The worker may be rewriting it; copy and terminate. */
		snprintf(request, sizeof(request), "%.*s",
		    (int)sizeof(request) - 1, s->request);
		json_member_string(w, "request", request);
		json_member_int(w, "request_ms", now - s->request_started_ms);
	}
	json_close_object(w);
}

void api_system_status(struct request *req, struct response *res,
    struct app *app)
{
	const struct scoreboard *sb = app->scoreboard;
	struct json_writer *w = response_json(res, 200);
	int64_t now = scoreboard_now_ms();
	uint64_t total = 0, sums[SLOT_COUNTER__MAX] = { 0 };
	int busy = 0;

	json_open_object(w);
	json_member_int(w, "uptime_s", (now - sb->started_ms) / 1000);
	json_key(w, "workers");
	json_open_array(w);
	for (int i = 0; i < app->cfg->workers; i++) {
		api_system_status_slot(w, &sb->slots[i], i, now);
		total += sb->slots[i].requests;
		for (int c = 0; c < SLOT_COUNTER__MAX; c++)
			sums[c] += sb->slots[i].counters[c];
		busy += sb->slots[i].state == WORKER_BUSY;
	}
	json_close_array(w);
	/* The last slot is the reaper's; "requests" counts expired orders. */
	json_key(w, "reaper");
	api_system_status_slot(w, &sb->slots[app->cfg->workers],
	    app->cfg->workers, now);
	json_member_int(w, "busy", busy);
	json_member_int(w, "requests", (int64_t)total);
	for (int c = 0; c < SLOT_COUNTER__MAX; c++)
		json_member_int(w, slot_counter_names[c], (int64_t)sums[c]);
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
