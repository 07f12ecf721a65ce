/*
 * check_coupon_queue: the pure parts of coupon_strategy = queue: a claim
 * read from a stream entry's fields (every field required, numbers
 * bounded, the reply list's name bounded), and the answer a consumer sends
 * to its worker, formatted and parsed back (an issue carries its coupon
 * and only an issue does; a reply that does not fit is refused rather than
 * cut).
 */
#include <check.h>
#include <string.h>

#include "coupon_queue.h"
#include "check_run.h"

START_TEST(test_claim_parse)
{
	const char *fields[] = { "p", "7", "u", "42", "r",
		"{coupon-queue}:reply:123", "s", "9" };
	struct coupon_queue_claim c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(coupon_queue_claim_parse(&c, fields, 8), 0);
	ck_assert_int_eq(c.policy_id, 7);
	ck_assert_int_eq(c.user_id, 42);
	ck_assert_int_eq(c.seq, 9);
	ck_assert_str_eq(c.reply, "{coupon-queue}:reply:123");
}
END_TEST

/* Each of these misses a field or holds a bad one. */
static const char *const bad_claims[][8] = {
	{ "p", "7", "u", "42", "r", "list", "x", "9" }, /* no s */
	{ "p", "0", "u", "42", "r", "list", "s", "9" }, /* policy 0 */
	{ "p", "7", "u", "-1", "r", "list", "s", "9" }, /* user -1 */
	{ "p", "7", "u", "4x", "r", "list", "s", "9" }, /* not a number */
	{ "p", "7", "u", "42", "r", "", "s", "9" }, /* no list */
	{ "p", "7", "u", "42", "r", "list", "s",
	    "9223372036854775808" }, /* 2^63 */
};

START_TEST(test_claim_parse_bad)
{
	struct coupon_queue_claim c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(coupon_queue_claim_parse(&c, bad_claims[_i], 8), -1);
}
END_TEST

START_TEST(test_claim_parse_odd_and_long)
{
	char longname[200];
	const char *fields[] = { "p", "7", "u", "42", "r", longname, "s", "9" };
	struct coupon_queue_claim c;

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(coupon_queue_claim_parse(&c, fields, 7), -1);
	ck_assert_int_eq(coupon_queue_claim_parse(&c, fields, 8), -1);
	fields[5] = NULL;
	ck_assert_int_eq(coupon_queue_claim_parse(&c, fields, 8), -1);
}
END_TEST

START_TEST(test_reply_round_trip)
{
	const char *json = "{\"id\" : 5, \"user_id\" : 42}";
	enum coupon_queue_answer a;
	const char *got;
	char buf[256];
	size_t len;
	int64_t seq;

	ck_assert_int_eq(coupon_queue_reply_format(buf, sizeof(buf), 12,
	                     QUEUE_ISSUED, json),
	    0);
	ck_assert_str_eq(buf, "12 issued {\"id\" : 5, \"user_id\" : 42}");
	ck_assert_int_eq(coupon_queue_reply_parse(buf, strlen(buf), &seq, &a,
	                     &got, &len),
	    0);
	ck_assert_int_eq(seq, 12);
	ck_assert_int_eq(a, QUEUE_ISSUED);
	ck_assert_uint_eq(len, strlen(json));
	ck_assert_int_eq(memcmp(got, json, len), 0);
	for (int i = QUEUE_ALREADY_ISSUED; i < QUEUE_ANSWER__MAX; i++) {
		ck_assert_int_eq(coupon_queue_reply_format(buf, sizeof(buf), 3,
		                     (enum coupon_queue_answer)i, NULL),
		    0);
		ck_assert_int_eq(coupon_queue_reply_parse(buf, strlen(buf),
		                     &seq, &a, &got, &len),
		    0);
		ck_assert_int_eq(a, i);
		ck_assert_int_eq(seq, 3);
		ck_assert_uint_eq(len, 0);
	}
}
END_TEST

START_TEST(test_reply_refused)
{
	enum coupon_queue_answer a;
	const char *got;
	char buf[16];
	size_t len;
	int64_t seq;

	/* An issue without its coupon, a refusal with one, too long. */
	ck_assert_int_eq(coupon_queue_reply_format(buf, sizeof(buf), 1,
	                     QUEUE_ISSUED, NULL),
	    -1);
	ck_assert_int_eq(coupon_queue_reply_format(buf, sizeof(buf), 1,
	                     QUEUE_SOLD_OUT, "{}"),
	    -1);
	ck_assert_int_eq(coupon_queue_reply_format(buf, sizeof(buf), 1,
	                     QUEUE_ISSUED, "{\"id\" : 123456789}"),
	    -1);
	/* Not replies. */
	static const char *const bad[] = { "", "12", "12 ", "x issued {}",
		"0 sold_out", "12 issued", "12 sold_out {}", "12 sold",
		"12 "
		"sold_outs" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(coupon_queue_reply_parse(bad[i], strlen(bad[i]),
		                  &seq, &a, &got, &len) == -1,
		    "accepted \"%s\"", bad[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("coupon_queue");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_claim_parse);
	tcase_add_loop_test(tc, test_claim_parse_bad, 0,
	    (int)(sizeof(bad_claims) / sizeof(bad_claims[0])));
	tcase_add_test(tc, test_claim_parse_odd_and_long);
	tcase_add_test(tc, test_reply_round_trip);
	tcase_add_test(tc, test_reply_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
