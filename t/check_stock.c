/*
 * check_stock: the PostgreSQL array literal of option ids (and quantities)
 * a reservation sends, written into a fixed buffer: what fits, what fits
 * exactly (the NUL included), and what does not, which must fail rather
 * than send a truncated array.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "stock.h"
#include "check_run.h"

START_TEST(test_fits)
{
	static const int64_t ids[] = { 3, 17, 42 };
	char buf[64];

	ck_assert_int_eq(stock_format_ids(buf, sizeof(buf), ids, 3), 0);
	ck_assert_str_eq(buf, "{3,17,42}");
	ck_assert_int_eq(stock_format_ids(buf, sizeof(buf), ids, 1), 0);
	ck_assert_str_eq(buf, "{3}");
	ck_assert_int_eq(stock_format_ids(buf, sizeof(buf), ids, 0), 0);
	ck_assert_str_eq(buf, "{}");
}
END_TEST

START_TEST(test_extremes)
{
	static const int64_t ids[] = { INT64_MAX, INT64_MIN, 0, -1 };
	char buf[128];

	ck_assert_int_eq(stock_format_ids(buf, sizeof(buf), ids, 4), 0);
	ck_assert_str_eq(buf,
	    "{9223372036854775807,-9223372036854775808,0,-1}");
}
END_TEST

/* "{1,22}" is 6 bytes: a buffer of 7 holds it, one of 6 does not. */
START_TEST(test_exact_fit)
{
	static const int64_t ids[] = { 1, 22 };
	char buf[16];

	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(stock_format_ids(buf, 7, ids, 2), 0);
	ck_assert_str_eq(buf, "{1,22}");
	ck_assert_int_eq(buf[7], 'x'); /* nothing written past len */
	ck_assert_int_eq(stock_format_ids(buf, 6, ids, 2), -1);
	/* The same for the empty array: "{}" needs 3 bytes. */
	ck_assert_int_eq(stock_format_ids(buf, 3, ids, 0), 0);
	ck_assert_str_eq(buf, "{}");
	ck_assert_int_eq(stock_format_ids(buf, 2, ids, 0), -1);
}
END_TEST

START_TEST(test_overflow)
{
	int64_t ids[64];
	char buf[2048];

	for (size_t i = 0; i < 64; i++)
		ids[i] = INT64_MAX - (int64_t)i;
	/* 64 ids of 19 digits, 63 commas and the braces: 1,282 bytes. */
	ck_assert_int_eq(stock_format_ids(buf, sizeof(buf), ids, 64), 0);
	ck_assert_uint_eq(strlen(buf), 64 * 19 + 63 + 2);
	/* Every cut short of that fails, wherever it falls. */
	for (size_t len = 1; len <= 64 * 19 + 63 + 2; len++)
		ck_assert_msg(stock_format_ids(buf, len, ids, 64) == -1,
		    "a buffer of %zu bytes was enough", len);
	ck_assert_int_eq(stock_format_ids(buf, 0, ids, 64), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stock");
	TCase *tc = tcase_create("format_ids");

	tcase_add_test(tc, test_fits);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_exact_fit);
	tcase_add_test(tc, test_overflow);
	suite_add_tcase(s, tc);
	return check_run(s);
}
