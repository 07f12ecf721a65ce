/*
 * metrics: see metrics.h.  The format is Prometheus's text exposition
 * format 0.0.4: for each family a "# HELP" and a "# TYPE" line, then one
 * line per series, `name{label="value",...} number`.  Every series that
 * can exist is written, zero or not, so that a rate() never starts from a
 * missing series.  Label values are the route table's names and fixed
 * words, never request data, so nothing needs escaping and the number of
 * series is bounded by the table.
 */
#include "metrics.h"

#include <inttypes.h>
#include <string.h>

/* A counter family: one series per slot counter, under one label. */
struct metrics_family {
	const char *name;
	const char *help;
	const char *label; /* NULL: a single series without labels */
	struct {
		const char *value;
		enum slot_counter counter;
	} series[5];
	int nseries;
};

static const struct metrics_family metrics_families[] = {
	{ "stockade_db_transaction_retries_total",
	    "Transactions run again after a serialization failure or a "
	    "deadlock, by SQLSTATE.",
	    "sqlstate",
	    { { "40001", COUNTER_DB_RETRIES_40001 },
	        { "40P01", COUNTER_DB_RETRIES_40P01 } },
	    2 },
	{ "stockade_db_reconnects_total",
	    "PostgreSQL connections opened to replace an earlier one.", NULL,
	    { { NULL, COUNTER_DB_RECONNECTS } }, 1 },
	{ "stockade_db_replica_reads_total",
	    "Reads meant for the read replica, by where they ran: on the "
	    "replica, or on the primary because the replica lagged past "
	    "database_read_max_lag or was down.",
	    "served_by",
	    { { "replica", COUNTER_DB_REPLICA_READS },
	        { "primary_lagging", COUNTER_DB_REPLICA_LAGGING },
	        { "primary_failed", COUNTER_DB_REPLICA_FAILED } },
	    3 },
	{ "stockade_redis_reconnects_total",
	    "Redis connections opened to replace an earlier one.", NULL,
	    { { NULL, COUNTER_REDIS_RECONNECTS } }, 1 },
	{ "stockade_redis_breaker_opens_total",
	    "Times a worker's Redis circuit breaker opened.", NULL,
	    { { NULL, COUNTER_REDIS_BREAKER_OPENS } }, 1 },
	{ "stockade_idempotent_replays_total",
	    "Stored answers to an Idempotency-Key sent again.", NULL,
	    { { NULL, COUNTER_IDEMPOTENT_REPLAYS } }, 1 },
	{ "stockade_coupon_gate_requests_total",
	    "Coupon claims by what the gate did: admitted to the database, "
	    "refused alone (sold_out, already_issued, not_open), or bypassed "
	    "(gate off, cold, or Redis down).",
	    "outcome",
	    { { "admitted", COUNTER_COUPON_GATE_PASSED },
	        { "sold_out", COUNTER_COUPON_GATE_SOLD_OUT },
	        { "already_issued", COUNTER_COUPON_GATE_ALREADY_ISSUED },
	        { "not_open", COUNTER_COUPON_GATE_NOT_OPEN },
	        { "bypassed", COUNTER_COUPON_GATE_BYPASSED } },
	    5 },
	{ "stockade_coupon_gate_rebuilds_total",
	    "Coupon gates rebuilt from the database.", NULL,
	    { { NULL, COUNTER_COUPON_GATE_REBUILDS } }, 1 },
	{ "stockade_coupon_gate_compensations_total",
	    "Gate admissions undone after the database refused or failed.",
	    NULL, { { NULL, COUNTER_COUPON_GATE_COMPENSATIONS } }, 1 },
	{ "stockade_coupon_db_attempts_total",
	    "Coupon issue transactions run in PostgreSQL.", NULL,
	    { { NULL, COUNTER_COUPON_DB_ATTEMPTS } }, 1 },
	{ "stockade_coupon_keyed_reads_total",
	    "Keyed claims of a user the gate knows, answered from the key's "
	    "row.",
	    NULL, { { NULL, COUNTER_COUPON_KEYED_READS } }, 1 },
	{ "stockade_coupon_queue_claims_total",
	    "coupon_strategy = queue: claims by how they were answered: by a "
	    "queue consumer, directly (Redis did not take them, or a consumer "
	    "left them undecided), or taken over after the wait.",
	    "outcome",
	    { { "answered", COUNTER_COUPON_QUEUE_ANSWERED },
	        { "direct", COUNTER_COUPON_QUEUE_DIRECT },
	        { "taken_over", COUNTER_COUPON_QUEUE_TAKEOVERS } },
	    3 },
	{ "stockade_coupon_queue_committed_total",
	    "coupon_strategy = queue: what the consumers committed: batches, "
	    "and the claims in them.",
	    "kind",
	    { { "batches", COUNTER_COUPON_QUEUE_BATCHES },
	        { "claims", COUNTER_COUPON_QUEUE_CLAIMS } },
	    2 },
	{ "stockade_point_conflicts_total",
	    "Optimistic point moves that found the version changed.", NULL,
	    { { NULL, COUNTER_POINT_CONFLICTS } }, 1 },
	{ "stockade_point_lock_fallbacks_total",
	    "Optimistic point moves run once more under the row lock after "
	    "their retries.",
	    NULL, { { NULL, COUNTER_POINT_LOCK_FALLBACKS } }, 1 },
	{ "stockade_reaper_expired_total",
	    "What the reaper expired: pending orders (their stock given "
	    "back) and coupons past their validity.",
	    "kind",
	    { { "order", COUNTER_ORDERS_EXPIRED },
	        { "coupon", COUNTER_COUPONS_EXPIRED } },
	    2 },
};

static const char *const metrics_class_names[SCOREBOARD_CLASSES] = {
	"1xx",
	"2xx",
	"3xx",
	"4xx",
	"5xx",
};

void metrics_collect(const struct scoreboard *sb, int nworkers,
    struct metrics_pool *p)
{
	memset(p, 0, sizeof(*p));
	p->started_ms = sb->started_ms;
	p->workers = nworkers;
	scoreboard_total(sb, &p->t);
	for (int i = 0; i < nworkers && i < sb->nslots; i++) {
		int state = sb->slots[i].state;

		if (state < 0 || state >= WORKER_STATE__MAX)
			state = WORKER_EMPTY;
		p->by_state[state]++;
	}
	for (int r = 0; r < SCOREBOARD_ROUTES_MAX; r++) {
		for (int c = 0; c < SCOREBOARD_CLASSES; c++)
			p->accepted += p->t.routes[r].requests[c];
	}
	p->active_max = __atomic_load_n(&sb->active_max, __ATOMIC_RELAXED);
	if (p->active_max < (uint32_t)p->by_state[WORKER_BUSY])
		p->active_max = (uint32_t)p->by_state[WORKER_BUSY];
}

void metrics_set_queue(struct metrics_pool *p, const struct scoreboard *sb,
    uint32_t queued, uint32_t backlog)
{
	p->has_queue = 1;
	p->queued = queued;
	p->backlog = backlog;
	p->queue_max =
	    sb->listen_queue_max > queued ? sb->listen_queue_max : queued;
}

static void metrics_head(struct response *res, const char *name,
    const char *type, const char *help)
{
	response_printf(res, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void metrics_family(struct response *res, const struct metrics_family *f,
    const uint64_t *counters)
{
	metrics_head(res, f->name, "counter", f->help);
	for (int i = 0; i < f->nseries; i++) {
		uint64_t v = counters[f->series[i].counter];

		if (f->label == NULL)
			response_printf(res, "%s %" PRIu64 "\n", f->name, v);
		else
			response_printf(res, "%s{%s=\"%s\"} %" PRIu64 "\n",
			    f->name, f->label, f->series[i].value, v);
	}
}

/* The routes to write: the table's, then "none" (SCOREBOARD_ROUTE_NONE). */
static const char *metrics_route_name(metrics_route_name_fn route_name, int i)
{
	return i == SCOREBOARD_ROUTE_NONE ? "none" : route_name(i);
}

static void metrics_requests(struct response *res, const struct metrics_pool *p,
    metrics_route_name_fn route_name)
{
	metrics_head(res, "stockade_http_requests_total", "counter",
	    "Requests answered, by route and status class (route \"none\": "
	    "answered before any route matched).");
	for (int i = 0; i < SCOREBOARD_ROUTES_MAX; i++) {
		const char *name = metrics_route_name(route_name, i);

		for (int c = 0; name != NULL && c < SCOREBOARD_CLASSES; c++) {
			/* stockade answers no 1xx or 3xx: written only
			 * should one ever be counted. */
			if ((c == 0 || c == 2) &&
			    p->t.routes[i].requests[c] == 0)
				continue;
			response_printf(res,
			    "stockade_http_requests_total{route=\"%s\","
			    "code=\"%s\"} %" PRIu64 "\n",
			    name, metrics_class_names[c],
			    p->t.routes[i].requests[c]);
		}
	}
}

static void metrics_histogram(struct response *res, const char *route,
    const struct scoreboard_route *r)
{
	static const char name[] = "stockade_http_request_duration_seconds";
	uint64_t cumulative = 0;

	for (int b = 0; b < SCOREBOARD_BUCKETS; b++) {
		cumulative += r->buckets[b];
		if (b < SCOREBOARD_BUCKETS - 1)
			response_printf(res,
			    "%s_bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
			    name, route, (double)scoreboard_bucket_us[b] / 1e6,
			    cumulative);
		else
			response_printf(res,
			    "%s_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
			    name, route, cumulative);
	}
	/* The count is the +Inf bucket, so the two always agree, even when
	 * a worker was halfway through counting a request. */
	response_printf(res, "%s_sum{route=\"%s\"} %.6f\n", name, route,
	    (double)r->duration_us / 1e6);
	response_printf(res, "%s_count{route=\"%s\"} %" PRIu64 "\n", name,
	    route, cumulative);
}

static void metrics_durations(struct response *res,
    const struct metrics_pool *p, metrics_route_name_fn route_name)
{
	metrics_head(res, "stockade_http_request_duration_seconds", "histogram",
	    "Time from reading the request to writing its answer, by "
	    "route.");
	for (int i = 0; i < SCOREBOARD_ROUTES_MAX; i++) {
		const char *name = metrics_route_name(route_name, i);

		if (name != NULL)
			metrics_histogram(res, name, &p->t.routes[i]);
	}
}

static void metrics_workers(struct response *res, const struct metrics_pool *p)
{
	metrics_head(res, "stockade_workers", "gauge",
	    "Worker processes by state.");
	for (int s = 0; s < WORKER_STATE__MAX; s++)
		response_printf(res, "stockade_workers{state=\"%s\"} %d\n",
		    worker_state_names[s], p->by_state[s]);
	metrics_head(res, "stockade_workers_active_max", "gauge",
	    "The most workers busy at once since the pool started.");
	response_printf(res, "stockade_workers_active_max %" PRIu32 "\n",
	    p->active_max);
	metrics_head(res, "stockade_respawns_total", "counter",
	    "Child processes started again after one exited, by kind.");
	response_printf(res,
	    "stockade_respawns_total{process=\"worker\"} %" PRIu64 "\n"
	    "stockade_respawns_total{process=\"reaper\"} %" PRIu64 "\n",
	    p->t.worker_restarts, p->t.reaper_restarts);
	metrics_head(res, "stockade_slow_requests_total", "counter",
	    "Requests that ran past slow_request (each logged once).");
	response_printf(res, "stockade_slow_requests_total %" PRIu64 "\n",
	    p->t.slow_requests);
	metrics_head(res, "stockade_request_timeouts_total", "counter",
	    "Workers killed past request_timeout and replaced.");
	response_printf(res, "stockade_request_timeouts_total %" PRIu64 "\n",
	    p->t.request_timeouts);
}

static void metrics_queue(struct response *res, const struct metrics_pool *p)
{
	if (!p->has_queue)
		return; /* the kernel did not say: no value rather than 0 */
	metrics_head(res, "stockade_listen_queue", "gauge",
	    "Connections waiting in the listen queue for a worker.");
	response_printf(res, "stockade_listen_queue %" PRIu32 "\n", p->queued);
	metrics_head(res, "stockade_listen_queue_max", "gauge",
	    "The most connections seen waiting at once since the pool "
	    "started (sampled each second, and now).");
	response_printf(res, "stockade_listen_queue_max %" PRIu32 "\n",
	    p->queue_max);
	metrics_head(res, "stockade_listen_queue_length", "gauge",
	    "The listen queue's capacity (the backlog).");
	response_printf(res, "stockade_listen_queue_length %" PRIu32 "\n",
	    p->backlog);
}

void metrics_render(const struct metrics_pool *p,
    metrics_route_name_fn route_name, struct response *res)
{
	response_text(res, 200, METRICS_CONTENT_TYPE);
	metrics_head(res, "stockade_start_time_seconds", "gauge",
	    "When the pool (its master) started, in seconds since the epoch.");
	response_printf(res, "stockade_start_time_seconds %.3f\n",
	    (double)p->started_ms / 1000.0);
	metrics_requests(res, p, route_name);
	metrics_durations(res, p, route_name);
	metrics_workers(res, p);
	metrics_queue(res, p);
	for (size_t i = 0;
	     i < sizeof(metrics_families) / sizeof(metrics_families[0]); i++)
		metrics_family(res, &metrics_families[i], p->t.counters);
}
