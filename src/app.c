/*
 * app: see app.h.
 */
#include "app.h"

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

struct db *app_db_create(const struct config *cfg, const char *name)
{
	return db_create(&(struct db_options){
	    .conninfo = cfg->database_url,
	    .application_name = name,
	    .statement_timeout_ms = cfg->statement_timeout_ms,
	    .lock_timeout_ms = cfg->lock_timeout_ms,
	    .idle_in_transaction_timeout_ms =
	        cfg->idle_in_transaction_timeout_ms,
	    .retries = cfg->db_retries,
	});
}

/* The Redis circuit breaker opened (redis.h): count it. */
static void app_redis_opened(void *arg)
{
	app_count(arg, COUNTER_REDIS_BREAKER_OPENS);
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
	app->db = app_db_create(cfg, name);
	app->redis = redis_create(&(struct redis_options){
	    .host = cfg->redis_host,
	    .port = cfg->redis_port,
	    .unix_path = cfg->redis_unix_path,
	    .timeout_ms = cfg->redis_timeout_ms,
	    .cooldown_ms = cfg->redis_cooldown_ms,
	    .on_open = app_redis_opened,
	    .on_open_arg = app,
	});
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
