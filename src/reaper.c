/*
 * reaper: see reaper.h.
 */
#include "reaper.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "coupon.h"
#include "db.h"
#include "idempotency.h"
#include "log.h"
#include "order.h"
#include "product.h"
#include "scoreboard.h"
#include "signals.h"
#include "watchdog.h"

#define REAPER_PURGE_INTERVAL_MS 60000

static volatile sig_atomic_t reaper_stop_requested;

static void reaper_on_stop(int signo)
{
	(void)signo;
	reaper_stop_requested = 1;
}

/* Expires batches until one comes back short (nothing more is due). */
static void reaper_expire(struct db *db, const struct config *cfg,
    struct scoreboard_slot *slot)
{
	enum db_status st;
	int expired;

	do {
		snprintf(slot->request, sizeof(slot->request), "expire orders");
		slot->request_started_ms = scoreboard_now_ms();
		slot->state = WORKER_BUSY;
		st = order_expire_batch(db, cfg->reaper_batch, &expired);
		slot->state = WORKER_IDLE;
		if (st != DB_OK) {
			log_warn("expiring orders failed (%s): %s",
			    db_status_names[st], db_errmsg(db));
			return;
		}
		if (expired > 0) {
			slot->requests += (uint64_t)expired;
			slot->counters[COUNTER_ORDERS_EXPIRED] +=
			    (uint64_t)expired;
			log_info("expired %d pending orders; stock restored",
			    expired);
		}
	} while (expired == cfg->reaper_batch && !reaper_stop_requested);
}

/*
 * Marks coupons past their validity 'expired', every round (one indexed
 * query when none are due).  Payment checks expires_at itself and the API
 * shows such a coupon as expired already; this makes the stored status
 * agree within reaper_interval.
 */
static void reaper_expire_coupons(struct db *db, const struct config *cfg,
    struct scoreboard_slot *slot)
{
	int expired;

	do {
		if (coupon_expire_batch(db, cfg->reaper_batch, &expired) !=
		    DB_OK) {
			log_warn("expiring coupons failed: %s", db_errmsg(db));
			return;
		}
		slot->counters[COUNTER_COUPONS_EXPIRED] += (uint64_t)expired;
		if (expired > 0)
			log_info("%d coupons expired", expired);
	} while (expired == cfg->reaper_batch && !reaper_stop_requested);
}

/*
 * Moves the sales rows that payments and refunds appended into the rollups
 * GET /products/popular reads (sql/008), every round: a reader sums the
 * rows not moved yet, so their number is what this keeps small.
 */
static void reaper_compact_sales(struct db *db, const struct config *cfg)
{
	int moved;

	do {
		if (product_sales_compact(db, cfg->reaper_batch, &moved) !=
		    DB_OK) {
			log_warn("compacting product sales failed: %s",
			    db_errmsg(db));
			return;
		}
	} while (moved == cfg->reaper_batch && !reaper_stop_requested);
}

static void reaper_purge(struct db *db, const struct config *cfg)
{
	long deleted = 0;

	if (idempotency_purge(db, cfg->idempotency_ttl_ms, &deleted) != DB_OK)
		log_warn("purging idempotency keys failed: %s", db_errmsg(db));
	else if (deleted > 0)
		log_info("purged %ld idempotency keys", deleted);
}

static void reaper_sleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	/* A stop signal interrupts the sleep (no SA_RESTART here). */
	(void)nanosleep(&ts, NULL);
}

/* One round of the reaper's own work: the expiries, the purge when due. */
static void reaper_round(struct db *db, const struct config *cfg,
    struct scoreboard_slot *slot, int64_t *purged_ms)
{
	reaper_expire(db, cfg, slot);
	reaper_expire_coupons(db, cfg, slot);
	reaper_compact_sales(db, cfg);
	if (clock_ms() - *purged_ms >= REAPER_PURGE_INTERVAL_MS) {
		reaper_purge(db, cfg);
		*purged_ms = clock_ms();
	}
}

noreturn void reaper_run(const struct config *cfg, struct scoreboard *sb, int i)
{
	struct scoreboard_slot *slot = &sb->slots[i];
	int64_t next_round, purged_ms, wait;
	struct db *db;

	log_set_role("reaper");
	signals_child_init(reaper_on_stop, reaper_on_stop, 0);
	slot->state = WORKER_STARTING;
	slot->requests = 0;
	slot->started_ms = scoreboard_now_ms();
	db = app_db_create(cfg, "stockade reaper", slot);
	slot->state = WORKER_IDLE;
	next_round = clock_ms();
	purged_ms = next_round - REAPER_PURGE_INTERVAL_MS; /* purge at once */
	/* SIGTERM comes when the master dies too (signals_die_with_parent);
	 * the check on the parent, once a round, is a cheap backstop. */
	while (!reaper_stop_requested && !signals_parent_gone()) {
		if (clock_ms() >= next_round) {
			reaper_round(db, cfg, slot, &purged_ms);
			next_round = clock_ms() + cfg->reaper_interval_ms;
		}
		wait = next_round - clock_ms();
		/* Between rounds, the slow requests as they become due. */
		if (cfg->slow_request_ms > 0) {
			int64_t due = watchdog_log_slow(sb, cfg->workers,
			    cfg->slow_request_ms, db);

			wait = due < wait ? due : wait;
		}
		if (wait > 0)
			reaper_sleep((int)wait);
	}
	if (signals_parent_gone())
		log_warn("the master is gone; exiting");
	slot->state = WORKER_STOPPING;
	db_free(db);
	signals_child_exit(0);
}
