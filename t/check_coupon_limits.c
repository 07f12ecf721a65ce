/*
 * check_coupon_limits: the pure parts of a worker's copy of a policy's
 * limits: the window judged by the database's clock as last read, and the
 * check of the gate's "sold out" against the database (at most once an
 * interval, a gap believed only when seen twice, sold out for good once
 * the database says so).
 */
#include <check.h>
#include <stdint.h>

#include "coupon_limits.h"
#include "check_run.h"

/*
 * A policy of 100 whose window is [1000, 2000) by the database's clock,
 * read when the database said 1500 and this process's clock said 10000.
 */
static struct coupon_limits limits(void)
{
	struct coupon_limits lim = {
		.id = 7,
		.total = 100,
		.starts_ms = 1000,
		.ends_ms = 2000,
		.db_now_ms = 1500,
		.read_ms = 10000,
		.verified_ms = 0,
		.verified_issued = -1,
		.db_sold_out = 0,
	};
	return lim;
}

static const struct {
	int64_t now_ms; /* this process's clock */
	int open;
} windows[] = {
	{ 10000, 1 }, /* database 1500 */
	{ 9500, 1 }, /* 1000: the start is in */
	{ 9499, 0 }, /* 999 */
	{ 10499, 1 }, /* 1999 */
	{ 10500, 0 }, /* 2000: the end is out */
	{ 20000, 0 },
	{ 0, 0 },
};

START_TEST(test_open)
{
	struct coupon_limits lim = limits();

	ck_assert_int_eq(coupon_limits_open(&lim, windows[_i].now_ms),
	    windows[_i].open);
}
END_TEST

START_TEST(test_verify_due_interval)
{
	struct coupon_limits lim = limits();
	int64_t t = 50000;

	ck_assert_int_eq(coupon_limits_verify_due(&lim, t), 1);
	ck_assert_int_eq(lim.verified_ms, t);
	/* Asked: not again within the interval... */
	ck_assert_int_eq(coupon_limits_verify_due(&lim, t + 1), 0);
	ck_assert_int_eq(coupon_limits_verify_due(&lim,
	                     t + COUPON_VERIFY_INTERVAL_MS - 1),
	    0);
	/* ...and again after it. */
	ck_assert_int_eq(coupon_limits_verify_due(&lim,
	                     t + COUPON_VERIFY_INTERVAL_MS),
	    1);
}
END_TEST

START_TEST(test_verify_gap_seen_twice)
{
	struct coupon_limits lim = limits();

	/* 97 of 100: maybe three admissions in flight; wait. */
	ck_assert_int_eq(coupon_limits_verify_seen(&lim, 97), 0);
	ck_assert_int_eq(lim.verified_issued, 97);
	/* The count moved: still in flight. */
	ck_assert_int_eq(coupon_limits_verify_seen(&lim, 98), 0);
	/* The same gap twice: a lost undo; the check starts over. */
	ck_assert_int_eq(coupon_limits_verify_seen(&lim, 98), 1);
	ck_assert_int_eq(lim.verified_issued, -1);
	ck_assert_int_eq(coupon_limits_verify_seen(&lim, 98), 0);
	ck_assert_int_eq(lim.db_sold_out, 0);
}
END_TEST

START_TEST(test_verify_sold_out_for_good)
{
	struct coupon_limits lim = limits();

	ck_assert_int_eq(coupon_limits_verify_seen(&lim, 100), 0);
	ck_assert_int_eq(lim.db_sold_out, 1);
	/* Issued never goes down: never asked again. */
	ck_assert_int_eq(coupon_limits_verify_due(&lim, 1000000), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("coupon_limits");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_open, 0,
	    (int)(sizeof(windows) / sizeof(windows[0])));
	tcase_add_test(tc, test_verify_due_interval);
	tcase_add_test(tc, test_verify_gap_seen_twice);
	tcase_add_test(tc, test_verify_sold_out_for_good);
	suite_add_tcase(s, tc);
	return check_run(s);
}
