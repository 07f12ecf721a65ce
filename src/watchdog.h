/*
 * watchdog: php-fpm's request_terminate_timeout and request_slowlog_timeout
 * for stockade's workers, read from the scoreboard (scoreboard_request_get).
 *
 *  - request_timeout: the master kills (SIGKILL) a worker whose request has
 *    run longer, logs what it was serving, and the slot is refilled at once
 *    (a worker killed while serving is never backed off).  PostgreSQL rolls
 *    back the killed worker's open transaction when its connection dies;
 *    nginx answers the client 502.
 *  - slow_request: the reaper, which has its own PostgreSQL connection
 *    (the master opens none), logs a request that has run longer, once per
 *    request, with what its backend is doing (activity.h): the statement,
 *    and the lock or other event it waits on.
 *
 * Both scans return how long their caller may sleep before another request
 * can cross its limit: a request that starts after a scan crosses it no
 * sooner than a whole limit later, so the callers sleep exactly until the
 * next one is due, and no longer than one limit.
 */
#ifndef STOCKADE_WATCHDOG_H
#define STOCKADE_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct db;
struct scoreboard;

/*
 * How long until a request that started at start_ms (clock_ms) has run
 * limit_ms, at now_ms: 0 when it has already.  Pure, for the tests.
 */
int64_t watchdog_due_in(int64_t start_ms, int64_t limit_ms, int64_t now_ms);

/*
 * In the master: SIGKILLs each of the first nworkers slots of sb whose
 * request has run timeout_ms or more (once per request), logs it and counts
 * it in sb->request_timeouts.  Returns the milliseconds until the next
 * request can be due (1 to timeout_ms).  timeout_ms > 0.
 */
int64_t watchdog_kill_stuck(struct scoreboard *sb, int nworkers,
    int64_t timeout_ms);

/*
 * In the reaper: logs each request of the first nworkers slots of sb that
 * has run threshold_ms or more (once per request), with its backend's
 * activity read through db, and counts it in sb->slow_requests.  Returns
 * the milliseconds until the next one can be due (1 to threshold_ms).
 * threshold_ms > 0.
 */
int64_t watchdog_log_slow(struct scoreboard *sb, int nworkers,
    int64_t threshold_ms, struct db *db);

/*
 * Writes into buf what is odd about cfg's watchdog keys together with
 * others (a request_timeout within statement_timeout kills requests that
 * PostgreSQL would have ended itself; a slow_request at or past
 * request_timeout never logs) and returns buf, or returns NULL when
 * nothing is.  The master logs it as a warning: each key is valid alone.
 */
const char *watchdog_config_check(const struct config *cfg, char *buf,
    size_t len);

#endif
