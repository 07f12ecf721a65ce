/*
 * check_redis: the one place Redis key names are made (redis_key): the
 * hash tag around kind and id that keeps an object's keys in one Redis
 * Cluster slot, the ends of int64_t, and a name too long for its buffer,
 * which is a caller's bug and dies rather than be cut short (a cut name
 * could lose its suffix and collide with another key).
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "coupon_gate.h"
#include "redis.h"
#include "check_run.h"

START_TEST(test_key_names)
{
	char buf[REDIS_KEY_MAX];

	ck_assert_str_eq(redis_key(buf, sizeof(buf), "coupon", 42, "users"),
	    "{coupon:42}:users");
	ck_assert_str_eq(redis_key(buf, sizeof(buf), "stock", 7, "lock"),
	    "{stock:7}:lock");
	ck_assert_str_eq(coupon_gate_key(buf, sizeof(buf), 9, "slots_run"),
	    "{coupon:9}:slots_run");
	ck_assert_ptr_eq(coupon_gate_key(buf, sizeof(buf), 1, "run"), buf);
}
END_TEST

/* The longest id and a 16-byte kind and suffix fit REDIS_KEY_MAX. */
START_TEST(test_key_longest)
{
	char buf[REDIS_KEY_MAX];

	ck_assert_str_eq(redis_key(buf, sizeof(buf), "abcdefghijklmnop",
	                     INT64_MIN, "ABCDEFGHIJKLMNOP"),
	    "{abcdefghijklmnop:-9223372036854775808}:ABCDEFGHIJKLMNOP");
	ck_assert_uint_eq(strlen(buf), 56);
}
END_TEST

/* Exactly full, then one byte short: fatal, exit status 1. */
START_TEST(test_key_too_long)
{
	char buf[sizeof("{coupon:42}:users")];

	ck_assert_str_eq(redis_key(buf, sizeof(buf), "coupon", 42, "users"),
	    "{coupon:42}:users");
	redis_key(buf, sizeof(buf) - 1, "coupon", 42, "users");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("redis");
	TCase *tc = tcase_create("keys");

	tcase_add_test(tc, test_key_names);
	tcase_add_test(tc, test_key_longest);
	tcase_add_exit_test(tc, test_key_too_long, 1);
	suite_add_tcase(s, tc);
	return check_run(s);
}
