/*
 * app: see app.h.
 */
#include "app.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "coupon_gate.h"
#include "coupon_limits.h"
#include "db.h"
#include "queries.h"
#include "redis.h"
#include "xmalloc.h"

int app_prepare(const unsigned char *secret, size_t secret_len)
{
	if (auth_crypto_preload(secret, secret_len) < 0)
		return -1;
	coupon_gate_hash_scripts();
	return 0;
}

/*
 * The database told of a reconnect or a retry (db.h): count it in the
 * slot, the retries by SQLSTATE too (only 40001 and 40P01 are retried).
 */
static void app_db_event(void *arg, enum db_event ev, const char *sqlstate)
{
	struct scoreboard_slot *slot = arg;

	switch (ev) {
	case DB_EVENT_RECONNECT:
		slot->counters[COUNTER_DB_RECONNECTS]++;
		return;
	case DB_EVENT_READ_REPLICA:
		slot->counters[COUNTER_DB_REPLICA_READS]++;
		return;
	case DB_EVENT_READ_LAGGING:
		slot->counters[COUNTER_DB_REPLICA_LAGGING]++;
		return;
	case DB_EVENT_READ_FAILED:
		slot->counters[COUNTER_DB_REPLICA_FAILED]++;
		return;
	default:
		break;
	}
	slot->counters[COUNTER_DB_RETRIES]++;
	if (strcmp(sqlstate, "40001") == 0)
		slot->counters[COUNTER_DB_RETRIES_40001]++;
	else if (strcmp(sqlstate, "40P01") == 0)
		slot->counters[COUNTER_DB_RETRIES_40P01]++;
}

/* The options every handle of cfg shares, counting events in slot. */
static struct db_options app_db_options(const struct config *cfg,
    const char *name, struct scoreboard_slot *slot)
{
	return (struct db_options){
		.conninfo = cfg->database_url,
		.application_name = name,
		.statement_timeout_ms = cfg->statement_timeout_ms,
		.lock_timeout_ms = cfg->lock_timeout_ms,
		.idle_in_transaction_timeout_ms =
		    cfg->idle_in_transaction_timeout_ms,
		.retries = cfg->db_retries,
		.on_event = slot != NULL ? app_db_event : NULL,
		.on_event_arg = slot,
	};
}

struct db *app_db_create(const struct config *cfg, const char *name,
    struct scoreboard_slot *slot)
{
	struct db_options opts = app_db_options(cfg, name, slot);

	return db_create(&opts);
}

/* The Redis circuit breaker opened, or Redis was reached again: count it. */
static void app_redis_event(void *arg, enum redis_event ev)
{
	struct scoreboard_slot *slot = arg;

	slot->counters[ev == REDIS_EVENT_RECONNECT
	        ? COUNTER_REDIS_RECONNECTS
	        : COUNTER_REDIS_BREAKER_OPENS]++;
}

_Static_assert(CONFIG_SENTINELS_MAX <= REDIS_SENTINELS_MAX,
    "redis_sentinels may list more Sentinels than a handle holds");

/* The Sentinels of cfg, for redis_create (redis_sentinel.h). */
static void app_sentinels(const struct config *cfg, struct redis_sentinels *s)
{
	memset(s, 0, sizeof(*s));
	s->n = cfg->redis_nsentinels < REDIS_SENTINELS_MAX
	    ? cfg->redis_nsentinels
	    : REDIS_SENTINELS_MAX;
	for (int i = 0; i < s->n; i++) {
		snprintf(s->host[i], sizeof(s->host[i]), "%s",
		    cfg->redis_sentinel_host[i]);
		s->port[i] = cfg->redis_sentinel_port[i];
	}
	snprintf(s->name, sizeof(s->name), "%s", cfg->redis_master_name);
}

struct redis *app_redis_create(const struct config *cfg,
    struct scoreboard_slot *slot)
{
	struct redis_sentinels sentinels;

	app_sentinels(cfg, &sentinels);
	return redis_create(&(struct redis_options){
	    .host = cfg->redis_host,
	    .port = cfg->redis_port,
	    .unix_path = cfg->redis_unix_path,
	    .sentinels = &sentinels,
	    .timeout_ms = cfg->redis_timeout_ms,
	    .cooldown_ms = cfg->redis_cooldown_ms,
	    .on_event = app_redis_event,
	    .on_event_arg = slot,
	});
}

/*
 * The read handle of the worker whose primary handle is db, named name
 * plus " (reads)" in the replica's pg_stat_activity; NULL when no
 * database_read_url is set (the reads stay on db).
 */
static struct db *app_read_db_create(const struct config *cfg, const char *name,
    struct scoreboard_slot *slot, struct db *db)
{
	struct db_options opts;
	char read_name[128];

	if (cfg->database_read_url[0] == '\0')
		return NULL;
	snprintf(read_name, sizeof(read_name), "%s (reads)", name);
	opts = app_db_options(cfg, read_name, slot);
	opts.conninfo = cfg->database_read_url;
	opts.primary = db;
	opts.lag_stmt = &replica_lag_stmt;
	opts.max_lag_ms = cfg->database_read_max_lag_ms;
	return db_create(&opts);
}

struct app *app_create(const struct config *cfg, const unsigned char *secret,
    size_t secret_len, struct scoreboard *sb, int slot, const char *name)
{
	struct app *app = xcalloc(1, sizeof(*app));

	app->cfg = cfg;
	app->secret = secret;
	app->secret_len = secret_len;
	app->scoreboard = sb;
	app->slot = slot;
	app->listen_fd = -1;
	app->db = app_db_create(cfg, name, &sb->slots[slot]);
	app->replica = app_read_db_create(cfg, name, &sb->slots[slot], app->db);
	app->db_read = app->replica != NULL ? app->replica : app->db;
	app->redis = app_redis_create(cfg, &sb->slots[slot]);
	app->coupons = coupon_cache_create();
	return app;
}

void app_free(struct app *app)
{
	if (app == NULL)
		return;
	db_free(app->replica); /* before the primary handle it falls back to */
	db_free(app->db);
	redis_free(app->redis);
	coupon_cache_free(app->coupons);
	free(app);
}

void app_connect(struct app *app)
{
	(void)db_connect(app->db);
	if (redis_ping(app->redis) && app->cfg->coupon_gate != GATE_OFF)
		coupon_gate_load(app->redis);
}

void app_begin_request(struct app *app)
{
	app->deadline_ms = clock_ms() + app->cfg->statement_timeout_ms;
	app->request_id = "-";
	db_set_deadline(app->db, app->deadline_ms);
	if (app->replica != NULL)
		db_set_deadline(app->replica, app->deadline_ms);
}

int app_db_connections(const struct config *cfg)
{
	int per_worker = cfg->database_read_url[0] != '\0' ? 2 : 1;

	return per_worker * cfg->workers + 1;
}

void app_count(struct app *app, enum slot_counter c)
{
	app->scoreboard->slots[app->slot].counters[c]++;
}
