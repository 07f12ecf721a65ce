/*
 * watchdog: see watchdog.h.
 *
 * The scoreboard is read from another process while the workers write it:
 * scoreboard_request_get copies one request's fields or says the slot
 * moved on.  A kill can still race the end of the request it was meant for
 * (the worker finishes between the last look and kill()); the window is a
 * few instructions, at the very limit, as in php-fpm, and the worker so
 * killed is replaced like any other.
 */
#include "watchdog.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "activity.h"
#include "clock.h"
#include "config.h"
#include "config_keys.h"
#include "db.h"
#include "log.h"
#include "scoreboard.h"

enum watchdog_kind { WATCHDOG_KILL, WATCHDOG_SLOW };

int64_t watchdog_due_in(int64_t start_ms, int64_t limit_ms, int64_t now_ms)
{
	int64_t ran = now_ms - start_ms;

	return ran >= limit_ms ? 0 : limit_ms - ran;
}

/* SIGKILLs the worker in slot i, unless it has moved on from req. */
static void watchdog_kill(struct scoreboard *sb, int i,
    const struct scoreboard_request *req, int64_t ran_ms, int64_t limit_ms)
{
	struct scoreboard_slot *slot = &sb->slots[i];
	char limit[32];

	if (req->pid <= 0 || slot->request_seq != req->seq ||
	    slot->state != WORKER_BUSY)
		return;
	if (kill(req->pid, SIGKILL) < 0) {
		if (errno != ESRCH)
			log_error("request_timeout: kill %ld: %s",
			    (long)req->pid, strerror(errno));
		return;
	}
	sb->request_timeouts++;
	config_format_ms(limit, sizeof(limit), limit_ms);
	log_set_request(req->request_id);
	log_error("request_timeout: killed worker %d (pid %ld) after %lld ms "
	          "serving %s rid=%s (request_timeout = %s); PostgreSQL rolls "
	          "back its transaction, nginx answers 502",
	    i, (long)req->pid, (long long)ran_ms, req->request, req->request_id,
	    limit);
	log_set_request(NULL);
}

/* Describes what the backend of req is doing, for the slow request log. */
static void watchdog_describe_backend(struct db *db,
    const struct scoreboard_request *req, char *buf, size_t len)
{
	struct activity act;
	enum db_status st;

	if (req->db_backend_pid <= 0) {
		snprintf(buf, len, "no database connection");
		return;
	}
	st = activity_of_backend(db, req->db_backend_pid, &act);
	if (st == DB_NOTFOUND)
		snprintf(buf, len,
		    "backend %d is gone (its connection was replaced during "
		    "the request)",
		    req->db_backend_pid);
	else if (st != DB_OK)
		snprintf(buf, len, "pg_stat_activity not read (%s): %s",
		    db_status_names[st], db_errmsg(db));
	else
		snprintf(buf, len,
		    "backend %d %s, %s%s%s%s, statement of %lld ms: %s",
		    req->db_backend_pid, act.state,
		    act.wait_event_type[0] != '\0' ? "waiting on "
		                                   : "not waiting",
		    act.wait_event_type,
		    act.wait_event_type[0] != '\0' ? ":" : "", act.wait_event,
		    (long long)act.query_ms, act.query);
}

/* Logs the slow request req of slot i, and counts it. */
static void watchdog_slow(struct scoreboard *sb, int i,
    const struct scoreboard_request *req, int64_t ran_ms, int64_t limit_ms,
    struct db *db)
{
	char limit[32], backend[ACTIVITY_QUERY_MAX + 256];

	sb->slow_requests++;
	watchdog_describe_backend(db, req, backend, sizeof(backend));
	config_format_ms(limit, sizeof(limit), limit_ms);
	log_set_request(req->request_id);
	log_warn("slow request: worker %d (pid %ld) serving %s rid=%s for "
	         "%lld ms (slow_request = %s); %s",
	    i, (long)req->pid, req->request, req->request_id, (long long)ran_ms,
	    limit, backend);
	log_set_request(NULL);
}

/*
 * Acts (kind) on each request of the first nworkers slots that has run
 * limit_ms, once: the slot's killed_seq or slow_seq keeps the number of
 * the last request acted on.  Returns how long until the next is due.
 */
static int64_t watchdog_scan(struct scoreboard *sb, int nworkers,
    int64_t limit_ms, enum watchdog_kind kind, struct db *db)
{
	struct scoreboard_request req;
	int64_t now = clock_ms(), wait = limit_ms, due;

	for (int i = 0; i < nworkers && i < sb->nslots; i++) {
		struct scoreboard_slot *slot = &sb->slots[i];
		volatile uint64_t *done =
		    kind == WATCHDOG_KILL ? &slot->killed_seq : &slot->slow_seq;

		if (!scoreboard_request_get(slot, &req) || *done == req.seq)
			continue;
		if ((due = watchdog_due_in(req.clock_ms, limit_ms, now)) > 0) {
			if (due < wait)
				wait = due;
			continue;
		}
		*done = req.seq;
		if (kind == WATCHDOG_KILL)
			watchdog_kill(sb, i, &req, now - req.clock_ms,
			    limit_ms);
		else
			watchdog_slow(sb, i, &req, now - req.clock_ms, limit_ms,
			    db);
	}
	return wait > 0 ? wait : 1;
}

int64_t watchdog_kill_stuck(struct scoreboard *sb, int nworkers,
    int64_t timeout_ms)
{
	return watchdog_scan(sb, nworkers, timeout_ms, WATCHDOG_KILL, NULL);
}

int64_t watchdog_log_slow(struct scoreboard *sb, int nworkers,
    int64_t threshold_ms, struct db *db)
{
	return watchdog_scan(sb, nworkers, threshold_ms, WATCHDOG_SLOW, db);
}

const char *watchdog_config_check(const struct config *cfg, char *buf,
    size_t len)
{
	char rt[32], other[32];

	config_format_ms(rt, sizeof(rt), cfg->request_timeout_ms);
	if (cfg->request_timeout_ms > 0 &&
	    cfg->request_timeout_ms <= cfg->statement_timeout_ms) {
		config_format_ms(other, sizeof(other),
		    cfg->statement_timeout_ms);
		snprintf(buf, len,
		    "request_timeout (%s) is not above statement_timeout (%s): "
		    "requests that PostgreSQL would end itself are killed",
		    rt, other);
		return buf;
	}
	if (cfg->request_timeout_ms > 0 && cfg->slow_request_ms > 0 &&
	    cfg->slow_request_ms >= cfg->request_timeout_ms) {
		config_format_ms(other, sizeof(other), cfg->slow_request_ms);
		snprintf(buf, len,
		    "slow_request (%s) is not below request_timeout (%s): no "
		    "request is logged slow before it is killed",
		    other, rt);
		return buf;
	}
	return NULL;
}
