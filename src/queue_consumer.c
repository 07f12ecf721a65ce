/*
 * queue_consumer: see queue_consumer.h.
 */
#include "queue_consumer.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "coupon_queue.h"
#include "db.h"
#include "log.h"
#include "redis.h"
#include "scoreboard.h"
#include "signals.h"

/*
 * How long one read waits for claims in Redis (XREADGROUP BLOCK): also how
 * long a stop waits for the consumer, at most, besides the batch in hand.
 */
#define QUEUE_CONSUMER_BLOCK_MS 200
/* The pause after Redis or the database failed, before the next round. */
#define QUEUE_CONSUMER_PAUSE_MS 100
/*
 * While no claims come, the database connection is checked this often, so
 * that one lost (a PostgreSQL restart) is replaced before the next claims
 * rather than by them: the connections stay workers + 1 + queue_consumers.
 */
#define QUEUE_CONSUMER_PING_MS 1000

static volatile sig_atomic_t queue_consumer_stop_requested;

static void queue_consumer_on_stop(int signo)
{
	(void)signo;
	queue_consumer_stop_requested = 1;
}

static void queue_consumer_pause(void)
{
	struct timespec ts = { 0, QUEUE_CONSUMER_PAUSE_MS * 1000000L };

	/* A stop signal interrupts the pause (no SA_RESTART here). */
	(void)nanosleep(&ts, NULL);
}

noreturn void queue_consumer_run(const struct config *cfg,
    struct scoreboard *sb, int i, int n)
{
	struct scoreboard_slot *slot = &sb->slots[i];
	struct coupon_queue_consumer *qc;
	char role[32], name[32];
	struct redis *redis;
	struct db *db;
	int64_t ping_at;
	int got;

	snprintf(role, sizeof(role), "queue consumer %d", n);
	snprintf(name, sizeof(name), "consumer-%d", n);
	log_set_role(role);
	signals_child_init(queue_consumer_on_stop, queue_consumer_on_stop, 0);
	slot->state = WORKER_STARTING;
	slot->requests = 0;
	slot->started_ms = scoreboard_now_ms();
	db = app_db_create(cfg, "stockade queue consumer", slot);
	redis = app_redis_create(cfg, slot);
	qc = coupon_queue_consumer_create(db, redis, name, cfg->queue_batch);
	(void)db_connect(db); /* now, not with the first batch */
	ping_at = clock_ms() + QUEUE_CONSUMER_PING_MS;
	slot->state = WORKER_IDLE;
	/* SIGTERM comes when the master dies too (signals_die_with_parent);
	 * the check on the parent, once a round, is a cheap backstop. */
	while (!queue_consumer_stop_requested && !signals_parent_gone()) {
		got = coupon_queue_consume(qc, QUEUE_CONSUMER_BLOCK_MS);
		if (got < 0) {
			queue_consumer_pause();
			continue;
		}
		if (got == 0 && clock_ms() >= ping_at) {
			(void)db_ping(db);
			ping_at = clock_ms() + QUEUE_CONSUMER_PING_MS;
		}
		if (got > 0) {
			slot->requests += (uint64_t)got;
			slot->counters[COUNTER_COUPON_QUEUE_BATCHES]++;
			slot->counters[COUNTER_COUPON_QUEUE_CLAIMS] +=
			    (uint64_t)got;
		}
	}
	if (signals_parent_gone())
		log_warn("the master is gone; exiting");
	slot->state = WORKER_STOPPING;
	coupon_queue_consumer_free(qc);
	redis_free(redis);
	db_free(db);
	signals_child_exit(0);
}
