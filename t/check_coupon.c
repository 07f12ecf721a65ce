/*
 * check_coupon: the pure part of coupons: the discount arithmetic.  (The
 * RFC 3339 check coupons rely on is valid.c's: t/check_valid.c.)
 */
#include <check.h>
#include <stdint.h>

#include "coupon.h"
#include "check_run.h"

static const struct {
	int percent;
	int64_t value, cap, total, want;
} discounts[] = {
	/* A fixed amount, never more than the total. */
	{ 0, 1000, 0, 10000, 1000 },
	{ 0, 1000, 0, 1000, 1000 },
	{ 0, 1000, 0, 999, 999 },
	{ 0, 1, 0, 1, 1 },
	{ 0, 1000000000000LL, 0, 5, 5 },
	/* A percentage, rounded down, capped. */
	{ 1, 10, 0, 10000, 1000 },
	{ 1, 10, 500, 10000, 500 },
	{ 1, 10, 5000, 10000, 1000 },
	{ 1, 10, 0, 9, 0 },
	{ 1, 10, 0, 19, 1 },
	{ 1, 33, 0, 100, 33 },
	{ 1, 33, 0, 101, 33 },
	{ 1, 100, 0, 12345, 12345 },
	{ 1, 100, 1, 12345, 1 },
	{ 1, 1, 0, 99, 0 },
	/* The largest total validation allows, without overflow. */
	{ 1, 100, 0, 50000000000000000LL, 50000000000000000LL },
	{ 1, 99, 0, 50000000000000000LL, 49500000000000000LL },
	{ 1, 7, 0, 50000000000000001LL, 3500000000000000LL },
	/* Nothing to discount. */
	{ 0, 1000, 0, 0, 0 },
	{ 1, 50, 0, 0, 0 },
};

START_TEST(test_discount)
{
	ck_assert_int_eq(coupon_discount(discounts[_i].percent,
	                     discounts[_i].value, discounts[_i].cap,
	                     discounts[_i].total),
	    discounts[_i].want);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("coupon");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_discount, 0,
	    (int)(sizeof(discounts) / sizeof(discounts[0])));
	suite_add_tcase(s, tc);
	return check_run(s);
}
