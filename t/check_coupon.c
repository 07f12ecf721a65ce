/*
 * check_coupon: the pure parts of coupons: the discount arithmetic and the
 * RFC 3339 check that keeps a bad timestamp from reaching PostgreSQL.
 */
#include <check.h>
#include <stdint.h>

#include "coupon.h"
#include "valid.h"
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

static const struct {
	const char *text;
	int ok;
} stamps[] = {
	{ "2026-12-01T09:00:00Z", 1 },
	{ "2026-12-01 09:00:00Z", 1 },
	{ "2026-12-01T09:00:00.5Z", 1 },
	{ "2026-12-01T09:00:00.123456789Z", 1 },
	{ "2026-12-01T09:00:00+09:00", 1 },
	{ "2026-12-01T09:00:00-14:00", 1 },
	{ "2028-02-29T00:00:00Z", 1 },
	{ "2000-02-29T00:00:00Z", 1 },
	{ "1970-01-01T00:00:00Z", 1 },
	{ "9999-12-31T23:59:59Z", 1 },
	{ "2026-12-01T09:00:00", 0 }, /* no offset: whose 9 o'clock? */
	{ "2026-12-01", 0 },
	{ "2026-12-01T09:00Z", 0 },
	{ "2026-13-01T09:00:00Z", 0 },
	{ "2026-00-01T09:00:00Z", 0 },
	{ "2026-11-31T09:00:00Z", 0 },
	{ "2027-02-29T00:00:00Z", 0 },
	{ "1900-02-29T00:00:00Z", 0 },
	{ "2026-12-01T24:00:00Z", 0 },
	{ "2026-12-01T23:60:00Z", 0 },
	{ "2026-12-01T23:59:60Z", 0 }, /* leap seconds: PostgreSQL rolls */
	{ "2026-12-01T09:00:00.Z", 0 },
	{ "2026-12-01T09:00:00.1234567890Z", 0 },
	{ "2026-12-01T09:00:00+15:00", 0 },
	{ "2026-12-01T09:00:00+09:60", 0 },
	{ "2026-12-01T09:00:00+0900", 0 },
	{ "2026-12-01T09:00:00Zjunk", 0 },
	{ "2026-12-01T09:00:00+09:00 ", 0 },
	{ "1969-12-31T23:59:59Z", 0 },
	{ "0000-01-01T00:00:00Z", 0 },
	{ "20261201T090000Z", 0 },
	{ "2026-12-01t09:00:00z", 0 },
	{ "now", 0 },
	{ "infinity", 0 },
	{ "", 0 },
	{ "2026-1-01T09:00:00Z", 0 },
	{ "+2026-12-01T09:00:00Z", 0 },
};

START_TEST(test_rfc3339)
{
	ck_assert_msg(valid_rfc3339(stamps[_i].text) == stamps[_i].ok,
	    "\"%s\" should be %s", stamps[_i].text,
	    stamps[_i].ok ? "accepted" : "refused");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("coupon");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_discount, 0,
	    (int)(sizeof(discounts) / sizeof(discounts[0])));
	tcase_add_loop_test(tc, test_rfc3339, 0,
	    (int)(sizeof(stamps) / sizeof(stamps[0])));
	suite_add_tcase(s, tc);
	return check_run(s);
}
