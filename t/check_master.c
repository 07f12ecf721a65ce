/*
 * check_master: the master's pure decisions.  The respawn back-off: at
 * once after a worker that lived, served a request, or died once, then
 * 100 ms doubling up to 10 s while workers keep dying at start.  The stop
 * escalation: QUIT, TERM at the timeout, KILL a second later.
 */
#include <check.h>
#include <signal.h>
#include <stdint.h>

#include "master.h"
#include "scoreboard.h"
#include "check_run.h"

START_TEST(test_respawn_delay)
{
	static const int64_t want[] = { 0, 0, 100, 200, 400, 800, 1600, 3200,
		6400, 10000, 10000, 10000 };

	for (unsigned n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		ck_assert_msg(master_respawn_delay_ms(n, 0) == want[n],
		    "%u quick deaths: %lld ms, want %lld", n,
		    (long long)master_respawn_delay_ms(n, 0),
		    (long long)want[n]);
}
END_TEST

/* However long the crash loop, the wait stays at the cap: no overflow. */
START_TEST(test_respawn_delay_capped)
{
	int64_t prev = 0;

	for (unsigned n = 0; n < 1000; n++) {
		int64_t d = master_respawn_delay_ms(n, 0);

		ck_assert(d >= prev);
		ck_assert(d <= 10000);
		prev = d;
	}
	ck_assert(master_respawn_delay_ms(64, 0) == 10000);
	ck_assert(master_respawn_delay_ms(UINT32_MAX, 0) == 10000);
	ck_assert(master_respawn_delay_ms(~0u, 0) == 10000);
}
END_TEST

/*
 * A worker that served requests and then died (libfcgi aborting on one
 * malformed record) is replaced at once, however many died before it: a
 * repeated record must not empty the pool behind a 10 s back-off.
 */
START_TEST(test_respawn_after_requests)
{
	for (unsigned n = 0; n < 20; n++) {
		ck_assert_int_eq(master_respawn_delay_ms(n, 1), 0);
		ck_assert_int_eq(master_respawn_delay_ms(n, 12345), 0);
	}
	ck_assert_int_eq(master_respawn_delay_ms(~0u, UINT64_MAX), 0);
	/* Dying before the first request still backs off. */
	ck_assert_int_eq(master_respawn_delay_ms(3, 0), 200);
}
END_TEST

/*
 * A worker that got as far as accept has started, requests or not: libfcgi
 * aborts inside FCGX_Accept_r on a malformed record before the request
 * counts, and that must not look like a crash loop.  One that died while
 * starting (or whose slot is already empty) has not.
 */
START_TEST(test_worker_started)
{
	ck_assert_int_eq(master_worker_started(WORKER_IDLE, 0), 1);
	ck_assert_int_eq(master_worker_started(WORKER_BUSY, 0), 1);
	ck_assert_int_eq(master_worker_started(WORKER_STOPPING, 0), 1);
	ck_assert_int_eq(master_worker_started(WORKER_STARTING, 0), 0);
	ck_assert_int_eq(master_worker_started(WORKER_EMPTY, 0), 0);
	ck_assert_int_eq(master_worker_started(WORKER_STARTING, 1), 1);
	ck_assert_int_eq(master_worker_started(-1, 0), 0);
	ck_assert_int_eq(master_worker_started(WORKER_STATE__MAX, 0), 0);
}
END_TEST

/* Graceful stop: QUIT until the timeout, TERM for a second, then KILL. */
START_TEST(test_stop_graceful)
{
	ck_assert_int_eq(master_stop_signal(0, 10000), SIGQUIT);
	ck_assert_int_eq(master_stop_signal(9999, 10000), SIGQUIT);
	ck_assert_int_eq(master_stop_signal(10000, 10000), SIGTERM);
	ck_assert_int_eq(master_stop_signal(10999, 10000), SIGTERM);
	ck_assert_int_eq(master_stop_signal(11000, 10000), SIGKILL);
	ck_assert_int_eq(master_stop_signal(INT64_MAX, 10000), SIGKILL);
	ck_assert_int_eq(master_stop_signal(150, 100), SIGTERM);
}
END_TEST

/* Fast stop (no drain): TERM at once, KILL a second later. */
START_TEST(test_stop_fast)
{
	ck_assert_int_eq(master_stop_signal(0, 0), SIGTERM);
	ck_assert_int_eq(master_stop_signal(999, 0), SIGTERM);
	ck_assert_int_eq(master_stop_signal(1000, 0), SIGKILL);
}
END_TEST

/* Whatever the times, the signal never weakens as time passes. */
START_TEST(test_stop_monotonic)
{
	static const int64_t timeouts[] = { 0, 100, 1000, 10000, 600000 };

	for (size_t t = 0; t < sizeof(timeouts) / sizeof(timeouts[0]); t++) {
		int prev = 0, rank;

		for (int64_t e = 0; e < timeouts[t] + 3000; e += 7) {
			int sig = master_stop_signal(e, timeouts[t]);

			rank = sig == SIGQUIT ? 1 : sig == SIGTERM ? 2 : 3;
			ck_assert(
			    sig == SIGQUIT || sig == SIGTERM || sig == SIGKILL);
			ck_assert_int_ge(rank, prev);
			prev = rank;
		}
		ck_assert_int_eq(prev, 3);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("master");
	TCase *tc = tcase_create("respawn");

	tcase_add_test(tc, test_respawn_delay);
	tcase_add_test(tc, test_respawn_delay_capped);
	tcase_add_test(tc, test_worker_started);
	tcase_add_test(tc, test_respawn_after_requests);
	suite_add_tcase(s, tc);
	tc = tcase_create("stop");
	tcase_add_test(tc, test_stop_graceful);
	tcase_add_test(tc, test_stop_fast);
	tcase_add_test(tc, test_stop_monotonic);
	suite_add_tcase(s, tc);
	return check_run(s);
}
