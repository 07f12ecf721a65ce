/*
 * api_status: see api_status.h.
 *
 * /status builds each entry (the pool, then each worker) as a list of
 * fields once, and writes that list as JSON or as text: the two renderings
 * cannot disagree on what a field holds.  A field the kernel would not give
 * (the listen queue, a worker's Pss) is left out, never shown as 0.
 */
#include "api_status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "config.h"
#include "osstat.h"
#include "scoreboard.h"

#define STATUS_FIELDS_MAX 64
#define STATUS_TEXT_TYPE "text/plain; charset=utf-8"

enum status_kind {
	STATUS_INT,
	STATUS_STR,
	STATUS_TIME, /* wall-clock ms: a number in JSON, a date in text */
};

struct status_field {
	const char *key; /* JSON member; NULL: text only */
	const char *label; /* text line; NULL: JSON only */
	enum status_kind kind;
	int64_t i;
	const char *s;
	const char *unit; /* after the value in text ("ms"), or NULL */
};

struct status_fields {
	struct status_field f[STATUS_FIELDS_MAX];
	int n;
};

static struct status_field *status_add(struct status_fields *fs,
    const char *key, const char *label, enum status_kind kind)
{
	static struct status_field sink;
	struct status_field *f = &sink;

	/* A fixed list, long enough for every entry: were it not, the
	 * fields past its end would be dropped, not written elsewhere. */
	if (fs->n < STATUS_FIELDS_MAX)
		f = &fs->f[fs->n++];
	memset(f, 0, sizeof(*f));
	f->key = key;
	f->label = label;
	f->kind = kind;
	return f;
}

static void status_int(struct status_fields *fs, const char *key,
    const char *label, int64_t v, const char *unit)
{
	struct status_field *f = status_add(fs, key, label, STATUS_INT);

	f->i = v;
	f->unit = unit;
}

static void status_str(struct status_fields *fs, const char *key,
    const char *label, const char *s)
{
	status_add(fs, key, label, STATUS_STR)->s = s;
}

static void status_time(struct status_fields *fs, const char *key,
    const char *label, int64_t ms)
{
	status_add(fs, key, label, STATUS_TIME)->i = ms;
}

static void status_write_json(struct json_writer *w,
    const struct status_fields *fs)
{
	for (int i = 0; i < fs->n; i++) {
		const struct status_field *f = &fs->f[i];

		if (f->key == NULL)
			continue;
		if (f->kind == STATUS_STR)
			json_member_string(w, f->key, f->s);
		else
			json_member_int(w, f->key, f->i);
	}
}

/* php-fpm's date: "20/May/2025:10:11:12 +0200", in local time. */
static void status_format_time(char *buf, size_t len, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%d/%b/%Y:%H:%M:%S %z", &tm) == 0)
		snprintf(buf, len, "%" PRId64, ms / 1000);
}

static void status_write_text(struct response *res,
    const struct status_fields *fs)
{
	char label[64], value[64];

	for (int i = 0; i < fs->n; i++) {
		const struct status_field *f = &fs->f[i];

		if (f->label == NULL)
			continue;
		snprintf(label, sizeof(label), "%s:", f->label);
		if (f->kind == STATUS_TIME)
			status_format_time(value, sizeof(value), f->i);
		else if (f->kind == STATUS_INT)
			snprintf(value, sizeof(value), "%" PRId64, f->i);
		response_printf(res, "%-21s %s%s%s\n", label,
		    f->kind == STATUS_STR ? f->s : value, f->unit ? " " : "",
		    f->unit ? f->unit : "");
	}
}

/* The pool's fields, php-fpm's names in the text. */
static void status_pool_fields(struct status_fields *fs,
    const struct metrics_pool *p, int64_t now)
{
	int idle = p->by_state[WORKER_IDLE], busy = p->by_state[WORKER_BUSY];

	status_str(fs, "pool", "pool", "stockade");
	status_str(fs, "process_manager", "process manager", "static");
	status_time(fs, "started_at_ms", "start time", p->started_ms);
	status_int(fs, "uptime_s", "start since", (now - p->started_ms) / 1000,
	    NULL);
	status_int(fs, "accepted_conn", "accepted conn", (int64_t)p->accepted,
	    NULL);
	if (p->has_queue) {
		status_int(fs, "listen_queue", "listen queue", p->queued, NULL);
		status_int(fs, "max_listen_queue", "max listen queue",
		    p->queue_max, NULL);
		status_int(fs, "listen_queue_len", "listen queue len",
		    p->backlog, NULL);
	}
	status_int(fs, "idle_processes", "idle processes", idle, NULL);
	status_int(fs, "active_processes", "active processes", busy, NULL);
	status_int(fs, "total_processes", "total processes",
	    p->workers - p->by_state[WORKER_EMPTY], NULL);
	status_int(fs, "max_active_processes", "max active processes",
	    p->active_max, NULL);
	status_int(fs, "respawns", "respawns", (int64_t)p->t.worker_restarts,
	    NULL);
	status_int(fs, "slow_requests", "slow requests",
	    (int64_t)p->t.slow_requests, NULL);
	status_int(fs, "request_timeouts", "request timeouts",
	    (int64_t)p->t.request_timeouts, NULL);
	status_int(fs, "busy", NULL, busy, NULL);
}

/* The summed counters, after the pool's fields. */
static void status_counter_fields(struct status_fields *fs,
    const struct metrics_pool *p, uint64_t requests)
{
	/* Requests served by the processes running now (php-fpm's per
	 * process "requests", summed); accepted_conn counts since start. */
	status_int(fs, "requests", NULL, (int64_t)requests, NULL);
	for (int c = 0; c < SLOT_COUNTER__MAX; c++)
		status_int(fs, slot_counter_names[c], slot_counter_names[c],
		    (int64_t)p->t.counters[c], NULL);
}

/*
 * One slot's fields.  request is a copy of the slot's (the worker may be
 * rewriting it), kept by the caller while the fields are written.
 */
static void status_slot_fields(struct status_fields *fs,
    const struct scoreboard_slot *s, int i, const char *process, int64_t now,
    int full, char *request, size_t len)
{
	int state = s->state;
	int64_t ended = s->request_ended_ms, pss;

	if (state < 0 || state >= WORKER_STATE__MAX)
		state = WORKER_EMPTY;
	snprintf(request, len, "%.*s", (int)len - 1, s->request);
	status_int(fs, "slot", "slot", i, NULL);
	status_str(fs, NULL, "process", process);
	status_int(fs, "pid", "pid", s->pid, NULL);
	status_str(fs, "state", "state", worker_state_names[state]);
	status_int(fs, "requests", "requests", (int64_t)s->requests, NULL);
	status_int(fs, "restarts", "restarts", (int64_t)s->restarts, NULL);
	status_time(fs, "started_at_ms", "start time", s->started_ms);
	status_int(fs, NULL, "start since", (now - s->started_ms) / 1000, NULL);
	for (int c = 0; c < SLOT_COUNTER__MAX; c++)
		status_int(fs, slot_counter_names[c], NULL,
		    (int64_t)s->counters[c], NULL);
	if (state == WORKER_BUSY) {
		/* The request may have begun after now was read. */
		int64_t ms = now - s->request_started_ms;

		status_str(fs, "request", "request", request);
		status_int(fs, "request_ms", "request duration",
		    ms > 0 ? ms : 0, "ms");
	}
	if (!full)
		return;
	if (ended != 0 && state != WORKER_BUSY) {
		status_str(fs, "last_request", "last request", request);
		status_int(fs, "last_request_us", "last request duration",
		    s->last_duration_us, "us");
	}
	if (ended != 0)
		status_time(fs, "last_request_at_ms", "last request time",
		    ended);
	if (s->pid > 0 && (pss = osstat_pss_kb(s->pid)) >= 0)
		status_int(fs, "pss_kb", "pss", pss, "kB");
}

/* Reads the listen queue into p, when the kernel tells. */
static void status_queue(struct metrics_pool *p, const struct app *app)
{
	uint32_t queued, backlog;

	if (osstat_listen_queue(app->listen_fd, &queued, &backlog) == 0)
		metrics_set_queue(p, app->scoreboard, queued, backlog);
}

static void status_slot(struct response *res, const struct app *app, int i,
    int64_t now, int full, int text)
{
	struct status_fields fs = { .n = 0 };
	char request[SCOREBOARD_REQUEST_MAX];

	status_slot_fields(&fs, &app->scoreboard->slots[i], i,
	    i < app->cfg->workers        ? "worker"
	        : i == app->cfg->workers ? "reaper"
	                                 : "queue consumer",
	    now, full, request, sizeof(request));
	if (text) {
		response_printf(res, "\n************************\n");
		status_write_text(res, &fs);
		return;
	}
	json_open_object(res->json);
	status_write_json(res->json, &fs);
	json_close_object(res->json);
}

static void status_json(struct response *res, struct app *app,
    const struct status_fields *pool, int full, int64_t now)
{
	int workers = app->cfg->workers;
	struct json_writer *w = response_json(res, 200);

	json_open_object(w);
	json_key(w, "workers");
	json_open_array(w);
	for (int i = 0; i < workers; i++)
		status_slot(res, app, i, now, full, 0);
	json_close_array(w);
	/* The last slot is the reaper's; "requests" counts expired orders. */
	json_key(w, "reaper");
	status_slot(res, app, workers, now, full, 0);
	/* Then the queue consumers' (coupon_strategy = queue); "requests"
	 * counts the claims they answered. */
	if (app->scoreboard->consumers > 0) {
		json_key(w, "queue_consumers");
		json_open_array(w);
		for (int i = workers + 1; i < app->scoreboard->nslots; i++)
			status_slot(res, app, i, now, full, 0);
		json_close_array(w);
	}
	status_write_json(w, pool);
	json_close_object(w);
}

static void status_text(struct response *res, struct app *app,
    const struct status_fields *pool, int full, int64_t now)
{
	response_text(res, 200, STATUS_TEXT_TYPE);
	status_write_text(res, pool);
	/* Every slot, then the reaper's (its "requests": expired orders),
	 * then the queue consumers' (claims answered). */
	for (int i = 0; full && i < app->scoreboard->nslots; i++)
		status_slot(res, app, i, now, full, 1);
}

/* 1 when the query names flag (?full, ?full=1); a malformed one does not. */
static int status_flag(const struct request *req, const char *flag)
{
	char value[16];

	return http_query_param(req->query, flag, value, sizeof(value)) == 1;
}

void api_status_page(struct request *req, struct response *res, struct app *app)
{
	const struct scoreboard *sb = app->scoreboard;
	int full = status_flag(req, "full");
	int text = status_flag(req, "text") || req->wants_text;
	int64_t now = scoreboard_now_ms();
	struct status_fields pool = { .n = 0 };
	struct metrics_pool p;
	uint64_t requests = 0;

	metrics_collect(sb, app->cfg->workers, &p);
	status_queue(&p, app);
	for (int i = 0; i < app->cfg->workers; i++)
		requests += sb->slots[i].requests;
	status_pool_fields(&pool, &p, now);
	status_int(&pool, "db_connections", "db connections",
	    app_db_connections(app->cfg) + sb->consumers, NULL);
	status_counter_fields(&pool, &p, requests);
	if (text)
		status_text(res, app, &pool, full, now);
	else
		status_json(res, app, &pool, full, now);
}

void api_status_metrics(struct request *req, struct response *res,
    struct app *app, metrics_route_name_fn route_name)
{
	struct metrics_pool p;

	(void)req;
	metrics_collect(app->scoreboard, app->cfg->workers, &p);
	status_queue(&p, app);
	metrics_render(&p, route_name, res);
}
