/*
 * check_watchdog: request_timeout's decisions, on a real scoreboard and
 * real processes.  When a request is due; a copy of a slot's request only
 * while it is busy; a worker past the limit is SIGKILLed once per request,
 * counted, and one within it is left alone while the master's sleep is cut
 * to when it becomes due; the reaper's slot is never touched; and the
 * warnings about request_timeout beside statement_timeout and
 * slow_request.  (slow_request's log needs PostgreSQL: t/test_watchdog.sh.)
 */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/config.h"
#include "check_run.h"
#include "clock.h"
#include "config_keys.h"
#include "scoreboard.h"
#include "watchdog.h"

START_TEST(test_due_in)
{
	ck_assert_int_eq(watchdog_due_in(1000, 500, 1000), 500);
	ck_assert_int_eq(watchdog_due_in(1000, 500, 1200), 300);
	ck_assert_int_eq(watchdog_due_in(1000, 500, 1499), 1);
	ck_assert_int_eq(watchdog_due_in(1000, 500, 1500), 0);
	ck_assert_int_eq(watchdog_due_in(1000, 500, 90000), 0);
}
END_TEST

/* A child that waits to be killed; the test reaps it. */
static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* Shows a request in slot i as the worker does (worker_slot_busy). */
static void make_busy(struct scoreboard *sb, int i, pid_t pid, int64_t ran_ms)
{
	struct scoreboard_slot *slot = &sb->slots[i];

	slot->pid = pid;
	slot->request_seq++;
	snprintf(slot->request, sizeof(slot->request), "POST /api/v1/orders");
	snprintf(slot->request_id, sizeof(slot->request_id), "rid-%d", i);
	slot->db_backend_pid = 4242;
	slot->request_clock_ms = clock_ms() - ran_ms;
	slot->state = WORKER_BUSY;
}

START_TEST(test_request_get)
{
	struct scoreboard *sb = scoreboard_create(2);
	struct scoreboard_request req;

	ck_assert_ptr_nonnull(sb);
	sb->slots[0].state = WORKER_IDLE;
	ck_assert_int_eq(scoreboard_request_get(&sb->slots[0], &req), 0);
	make_busy(sb, 0, 77, 10);
	ck_assert_int_eq(scoreboard_request_get(&sb->slots[0], &req), 1);
	ck_assert_uint_eq(req.seq, 1);
	ck_assert_int_eq(req.pid, 77);
	ck_assert_int_eq(req.db_backend_pid, 4242);
	ck_assert_str_eq(req.request, "POST /api/v1/orders");
	ck_assert_str_eq(req.request_id, "rid-0");
	scoreboard_free(sb);
}
END_TEST

START_TEST(test_kill_stuck)
{
	struct scoreboard *sb = scoreboard_create(3);
	pid_t stuck = spawn_sleeper(), fine = spawn_sleeper();
	pid_t reaper = spawn_sleeper();
	int status = 0;
	int64_t wait;

	ck_assert_ptr_nonnull(sb);
	make_busy(sb, 0, stuck, 3000); /* past 1 s */
	make_busy(sb, 1, fine, 300); /* due in 700 ms */
	make_busy(sb, 2, reaper, 9000); /* the reaper's slot: never killed */
	wait = watchdog_kill_stuck(sb, 2, 1000);
	ck_assert_int_le(wait, 700);
	ck_assert_int_ge(wait, 600); /* a slow machine may take 100 ms */
	ck_assert_int_eq(waitpid(stuck, &status, 0), stuck);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_uint_eq(sb->request_timeouts, 1);
	ck_assert_uint_eq(sb->slots[0].killed_seq, sb->slots[0].request_seq);

	/* Once per request: the dead one's slot still says busy until the
	 * master reaps it, and is not killed (nor counted) again. */
	(void)watchdog_kill_stuck(sb, 2, 1000);
	ck_assert_uint_eq(sb->request_timeouts, 1);
	ck_assert_int_eq(waitpid(fine, &status, WNOHANG), 0);
	ck_assert_int_eq(waitpid(reaper, &status, WNOHANG), 0);

	/* Nothing busy: the next can be due no sooner than a whole limit. */
	sb->slots[1].state = WORKER_IDLE;
	sb->slots[0].state = WORKER_EMPTY;
	ck_assert_int_eq(watchdog_kill_stuck(sb, 2, 1000), 1000);
	kill(fine, SIGKILL);
	kill(reaper, SIGKILL);
	waitpid(fine, NULL, 0);
	waitpid(reaper, NULL, 0);
	scoreboard_free(sb);
}
END_TEST

/* A new request in the same slot is a new request: killed again. */
START_TEST(test_kill_next_request)
{
	struct scoreboard *sb = scoreboard_create(2);
	pid_t first = spawn_sleeper(), second = spawn_sleeper();
	int status;

	ck_assert_ptr_nonnull(sb);
	make_busy(sb, 0, first, 5000);
	(void)watchdog_kill_stuck(sb, 1, 1000);
	ck_assert_int_eq(waitpid(first, &status, 0), first);
	make_busy(sb, 0, second, 5000);
	(void)watchdog_kill_stuck(sb, 1, 1000);
	ck_assert_int_eq(waitpid(second, &status, 0), second);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_uint_eq(sb->request_timeouts, 2);
	scoreboard_free(sb);
}
END_TEST

START_TEST(test_config_check)
{
	struct config *cfg = config_create();
	char buf[256], err[256];

	/* The defaults: 20s above 5s, 1s below 20s. */
	ck_assert_ptr_null(watchdog_config_check(cfg, buf, sizeof(buf)));
	ck_assert_int_eq(config_set(cfg, "request_timeout", "5s", err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(watchdog_config_check(cfg, buf, sizeof(buf)),
	    "request_timeout (5s) is not above statement_timeout (5s): "
	    "requests that PostgreSQL would end itself are killed");
	ck_assert_int_eq(config_set(cfg, "request_timeout", "6s", err,
	                     sizeof(err)),
	    0);
	ck_assert_ptr_null(watchdog_config_check(cfg, buf, sizeof(buf)));
	ck_assert_int_eq(config_set(cfg, "slow_request", "6s", err,
	                     sizeof(err)),
	    0);
	ck_assert_str_eq(watchdog_config_check(cfg, buf, sizeof(buf)),
	    "slow_request (6s) is not below request_timeout (6s): no request "
	    "is logged slow before it is killed");
	/* Off is never odd. */
	ck_assert_int_eq(config_set(cfg, "request_timeout", "0", err,
	                     sizeof(err)),
	    0);
	ck_assert_ptr_null(watchdog_config_check(cfg, buf, sizeof(buf)));
	config_free(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("watchdog");
	TCase *tc = tcase_create("request_timeout");

	tcase_add_test(tc, test_due_in);
	tcase_add_test(tc, test_request_get);
	tcase_add_test(tc, test_kill_stuck);
	tcase_add_test(tc, test_kill_next_request);
	tcase_add_test(tc, test_config_check);
	suite_add_tcase(s, tc);
	return check_run(s);
}
