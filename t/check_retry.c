/*
 * check_retry: the one retry policy.  The back-off stays in [cap/2, cap]
 * for every attempt, cap doubling from RETRY_BACKOFF_BASE_MS to the
 * policy's cap; retry_again stops at the count, and before the deadline
 * without sleeping past it.  Caps and deadlines are a few milliseconds,
 * so the sleeps are short.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "clock.h"
#include "retry.h"
#include "check_run.h"

/* The cap of attempt: RETRY_BACKOFF_BASE_MS doubled attempt times, capped. */
static int64_t cap_of(int attempt, int cap_ms)
{
	int64_t cap = RETRY_BACKOFF_BASE_MS;

	for (int i = 0; i < attempt && cap < cap_ms; i++)
		cap *= 2;
	if (cap > cap_ms)
		cap = cap_ms;
	return cap < 1 ? 1 : cap;
}

START_TEST(test_backoff_bounds)
{
	static const int caps[] = { 1, 2, 3, 7, 10, 64, 100, 1000 };
	static const long rnds[] = { 0, 1, 2, 3, 7, 1000, 123456789,
		2147483647L };

	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		for (int attempt = 0; attempt < 40; attempt++) {
			int64_t cap = cap_of(attempt, caps[c]);

			for (size_t r = 0; r < sizeof(rnds) / sizeof(rnds[0]);
			     r++) {
				int64_t ms =
				    retry_backoff_ms(attempt, caps[c], rnds[r]);

				ck_assert_msg(ms >= cap / 2 && ms <= cap,
				    "attempt %d cap %d rnd %ld: %lld not in "
				    "[%lld, %lld]",
				    attempt, caps[c], rnds[r], (long long)ms,
				    (long long)(cap / 2), (long long)cap);
			}
		}
	}
}
END_TEST

START_TEST(test_backoff_doubles)
{
	/* rnd 0 picks the low end: half the cap, which doubles. */
	ck_assert(retry_backoff_ms(0, 100, 0) == 1);
	ck_assert(retry_backoff_ms(1, 100, 0) == 2);
	ck_assert(retry_backoff_ms(2, 100, 0) == 4);
	ck_assert(retry_backoff_ms(5, 100, 0) == 32);
	ck_assert(retry_backoff_ms(6, 100, 0) == 50); /* capped at 100 */
	ck_assert(retry_backoff_ms(1000, 100, 0) == 50);
	/* The high end is the cap itself. */
	ck_assert(retry_backoff_ms(0, 100, 1) == 2);
	ck_assert(retry_backoff_ms(5, 100, 32) == 64);
	ck_assert(retry_backoff_ms(6, 100, 50) == 100);
	/* Odd inputs: a negative attempt or rnd, a cap below one. */
	ck_assert(retry_backoff_ms(-5, 100, 0) == 1);
	ck_assert(retry_backoff_ms(0, 100, -1) == 1);
	ck_assert(retry_backoff_ms(3, 0, 99) >= 0);
	ck_assert(retry_backoff_ms(3, 0, 99) <= 1);
	ck_assert(retry_backoff_ms(3, -10, 99) <= 1);
	/* Past 2^16 doublings the shift stops: no overflow. */
	ck_assert(retry_backoff_ms(2147483647, 1000000000, 0) ==
	    (RETRY_BACKOFF_BASE_MS << 16) / 2);
}
END_TEST

START_TEST(test_again_stops_at_count)
{
	struct retry r;
	int n = 0;

	retry_init(&r, 3, 0);
	ck_assert_int_eq(r.cap_ms, RETRY_BACKOFF_MAX_MS);
	r.cap_ms = 1;
	while (retry_again(&r))
		n++;
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(r.attempt, 3);
	ck_assert_int_eq(retry_again(&r), 0);
	ck_assert_int_eq(r.attempt, 3);

	retry_init(&r, 0, 0);
	ck_assert_int_eq(retry_again(&r), 0);
	ck_assert_int_eq(r.attempt, 0);
}
END_TEST

START_TEST(test_again_stops_before_deadline)
{
	struct retry r;
	/* 200 ms: enough for 5 back-offs of 2..4 ms even when a loaded test
	 * machine stretches each sleep several times over. */
	int64_t start = clock_ms(), deadline = start + 200, end;
	int n = 0;

	/* No count: the deadline alone bounds the retries. */
	retry_init(&r, -1, deadline);
	r.cap_ms = 4;
	while (retry_again(&r))
		n++;
	end = clock_ms();
	ck_assert_int_eq(r.attempt, n);
	ck_assert_msg(n >= 5, "only %d retries in 200 ms of 2..4 ms", n);
	/*
	 * It gives up when the next back-off would end past the deadline, so
	 * it never sleeps across it: the only overrun is the scheduler's
	 * (generous slack: the test machine may be busy).  And it gives up at
	 * most one back-off (4 ms, plus clock_ms rounding) before it.
	 */
	ck_assert_msg(end <= deadline + 100, "ended %lld ms past the deadline",
	    (long long)(end - deadline));
	ck_assert_msg(end >= deadline - 5, "gave up %lld ms early",
	    (long long)(deadline - end));
}
END_TEST

START_TEST(test_again_past_deadline)
{
	struct retry r;
	int64_t start;

	/* A deadline already past: no retry, and no sleep either. */
	retry_init(&r, 5, clock_ms() - 1);
	start = clock_ms();
	ck_assert_int_eq(retry_again(&r), 0);
	ck_assert_int_eq(r.attempt, 0);
	ck_assert(clock_ms() - start < 5);

	/* A back-off longer than the time left is not started. */
	retry_init(&r, 5, clock_ms() + 20);
	r.cap_ms = 1000;
	r.attempt = 10; /* back-off 500..1000 ms */
	start = clock_ms();
	ck_assert_int_eq(retry_again(&r), 0);
	ck_assert_int_eq(r.attempt, 10);
	ck_assert(clock_ms() - start < 5);
}
END_TEST

START_TEST(test_again_both_bounds)
{
	struct retry r;

	/* The count ends it long before a far deadline. */
	retry_init(&r, 2, clock_ms() + 60000);
	r.cap_ms = 1;
	ck_assert_int_eq(retry_again(&r), 1);
	ck_assert_int_eq(retry_again(&r), 1);
	ck_assert_int_eq(retry_again(&r), 0);
	ck_assert_int_eq(r.attempt, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("retry");
	TCase *backoff = tcase_create("backoff");
	TCase *again = tcase_create("again");

	srandom(1);
	tcase_add_test(backoff, test_backoff_bounds);
	tcase_add_test(backoff, test_backoff_doubles);
	suite_add_tcase(s, backoff);
	tcase_add_test(again, test_again_stops_at_count);
	tcase_add_test(again, test_again_stops_before_deadline);
	tcase_add_test(again, test_again_past_deadline);
	tcase_add_test(again, test_again_both_bounds);
	suite_add_tcase(s, again);
	return check_run(s);
}
