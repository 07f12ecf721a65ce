/*
 * check_num: the one strict integer parser: signs, bounds, the ends of
 * int64_t and one past them, and everything strtoll would have let through
 * (white space, '+', a base prefix, trailing bytes).
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "num.h"
#include "check_run.h"

/* A text, the bounds it is parsed in, and the value (ok) or a refusal. */
static const struct {
	const char *text;
	int64_t min, max;
	int ok;
	int64_t want;
} cases[] = {
	/* Plain values and signs. */
	{ "0", 0, 10, 1, 0 }, { "7", 0, 10, 1, 7 }, { "10", 0, 10, 1, 10 },
	{ "-5", -10, 10, 1, -5 }, { "-0", -10, 10, 1, 0 },
	{ "-1", 0, 10, 0, 0 }, /* a '-' only where min is negative */
	{ "-0", 0, 10, 0, 0 },
	/* Bounds, inclusive at both ends. */
	{ "11", 0, 10, 0, 0 }, { "-11", -10, 10, 0, 0 },
	{ "-10", -10, 10, 1, -10 }, { "0", 1, 10, 0, 0 },
	/* The ends of int64_t, and one past each. */
	{ "9223372036854775807", INT64_MIN, INT64_MAX, 1, INT64_MAX },
	{ "-9223372036854775808", INT64_MIN, INT64_MAX, 1, INT64_MIN },
	{ "9223372036854775808", INT64_MIN, INT64_MAX, 0, 0 },
	{ "-9223372036854775809", INT64_MIN, INT64_MAX, 0, 0 },
	{ "18446744073709551616", INT64_MIN, INT64_MAX, 0, 0 },
	{ "99999999999999999999999", INT64_MIN, INT64_MAX, 0, 0 },
	{ "9223372036854775807", 0, INT64_MAX - 1, 0, 0 },
	/* Leading zeros are digits: accepted, the value unchanged. */
	{ "007", 0, 10, 1, 7 }, { "-007", -10, 10, 1, -7 },
	{ "00000000000000000000000009", 0, 10, 1, 9 }, { "000", 0, 10, 1, 0 },
	/* Empty and sign alone. */
	{ "", 0, 10, 0, 0 }, { "-", -10, 10, 0, 0 }, { "--1", -10, 10, 0, 0 },
	/* No '+', no white space anywhere, no base prefix, no fraction. */
	{ "+1", 0, 10, 0, 0 }, { "+0", 0, 10, 0, 0 }, { " 1", 0, 10, 0, 0 },
	{ "\t5", 0, 10, 0, 0 }, { "\n5", 0, 10, 0, 0 }, { "\v5", 0, 10, 0, 0 },
	{ "\f5", 0, 10, 0, 0 }, { "\r5", 0, 10, 0, 0 }, { "5 ", 0, 10, 0, 0 },
	{ "5\n", 0, 10, 0, 0 }, { "- 5", -10, 10, 0, 0 },
	{ "1 0", 0, 100, 0, 0 }, { "0x1", 0, 100, 0, 0 },
	{ "1e2", 0, 1000, 0, 0 }, { "1.0", 0, 10, 0, 0 },
	{ "1,0", 0, 100, 0, 0 }, { "1_000", 0, 10000, 0, 0 },
	{ "five", 0, 10, 0, 0 },
	{ "\xd9\xa5", 0, 10, 0, 0 }, /* ARABIC-INDIC DIGIT FIVE */
};

START_TEST(test_parse)
{
	int64_t v = 12345;
	int r = num_parse(cases[_i].text, cases[_i].min, cases[_i].max, &v);

	if (cases[_i].ok) {
		ck_assert_msg(r == 0, "\"%s\" refused", cases[_i].text);
		ck_assert_msg(v == cases[_i].want, "\"%s\" read as %lld",
		    cases[_i].text, (long long)v);
	} else {
		ck_assert_msg(r == -1, "\"%s\" accepted", cases[_i].text);
		ck_assert_msg(v == 12345, "\"%s\": *out changed on a refusal",
		    cases[_i].text);
	}
}
END_TEST

/* num_parse_n reads exactly len bytes: no NUL needed, none looked past. */
START_TEST(test_parse_n)
{
	int64_t v = 0;

	ck_assert_int_eq(num_parse_n("12/cancel", 2, 0, 100, &v), 0);
	ck_assert(v == 12);
	ck_assert_int_eq(num_parse_n("123", 1, 0, 100, &v), 0);
	ck_assert(v == 1);
	ck_assert_int_eq(num_parse_n("12/cancel", 3, 0, 100, &v), -1);
	ck_assert_int_eq(num_parse_n("5", 0, 0, 100, &v), -1);
	ck_assert_int_eq(num_parse_n("-5", 1, -10, 10, &v), -1);
	/* An embedded NUL is a byte like any other non-digit. */
	ck_assert_int_eq(num_parse_n("1\0002", 3, 0, 1000, &v), -1);
	/* Twenty digits that fit, thanks to leading zeros. */
	ck_assert_int_eq(num_parse_n("00000000000000000042", 20, 0, 100, &v),
	    0);
	ck_assert(v == 42);
}
END_TEST

START_TEST(test_format)
{
	char buf[NUM_I64_LEN];
	int64_t v;

	ck_assert_str_eq(num_format(buf, 0), "0");
	ck_assert_str_eq(num_format(buf, -42), "-42");
	ck_assert_str_eq(num_format(buf, INT64_MAX), "9223372036854775807");
	ck_assert_str_eq(num_format(buf, INT64_MIN), "-9223372036854775808");
	ck_assert_uint_eq(strlen(buf) + 1, NUM_I64_LEN);
	ck_assert_ptr_eq(num_format(buf, 1), buf);
	/* What num_format writes, num_parse reads back. */
	ck_assert_int_eq(num_parse(num_format(buf, INT64_MIN), INT64_MIN,
	                     INT64_MAX, &v),
	    0);
	ck_assert(v == INT64_MIN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("num");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse, 0,
	    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_parse_n);
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);
	return check_run(s);
}
