/*
 * app: see app.h.
 */
#include "app.h"

#include <string.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "coupon_gate.h"
#include "coupon_limits.h"
#include "db.h"
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

	if (ev == DB_EVENT_RECONNECT) {
		slot->counters[COUNTER_DB_RECONNECTS]++;
		return;
	}
	slot->counters[COUNTER_DB_RETRIES]++;
	if (strcmp(sqlstate, "40001") == 0)
		slot->counters[COUNTER_DB_RETRIES_40001]++;
	else if (strcmp(sqlstate, "40P01") == 0)
		slot->counters[COUNTER_DB_RETRIES_40P01]++;
}

struct db *app_db_create(const struct config *cfg, const char *name,
    struct scoreboard_slot *slot)
{
	return db_create(&(struct db_options){
	    .conninfo = cfg->database_url,
	    .application_name = name,
	    .statement_timeout_ms = cfg->statement_timeout_ms,
	    .lock_timeout_ms = cfg->lock_timeout_ms,
	    .idle_in_transaction_timeout_ms =
	        cfg->idle_in_transaction_timeout_ms,
	    .retries = cfg->db_retries,
	    .on_event = slot != NULL ? app_db_event : NULL,
	    .on_event_arg = slot,
	});
}

/* The Redis circuit breaker opened, or Redis was reached again: count it. */
static void app_redis_event(void *arg, enum redis_event ev)
{
	struct scoreboard_slot *slot = arg;

	slot->counters[ev == REDIS_EVENT_RECONNECT
	        ? COUNTER_REDIS_RECONNECTS
	        : COUNTER_REDIS_BREAKER_OPENS]++;
}

struct redis *app_redis_create(const struct config *cfg,
    struct scoreboard_slot *slot)
{
	return redis_create(&(struct redis_options){
	    .host = cfg->redis_host,
	    .port = cfg->redis_port,
	    .unix_path = cfg->redis_unix_path,
	    .timeout_ms = cfg->redis_timeout_ms,
	    .cooldown_ms = cfg->redis_cooldown_ms,
	    .on_event = app_redis_event,
	    .on_event_arg = slot,
	});
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
	app->redis = app_redis_create(cfg, &sb->slots[slot]);
	app->coupons = coupon_cache_create();
	return app;
}

void app_free(struct app *app)
{
	if (app == NULL)
		return;
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
}

void app_count(struct app *app, enum slot_counter c)
{
	app->scoreboard->slots[app->slot].counters[c]++;
}
