/*
 * check_valid: the request-field validators: integers, strings, arrays,
 * unknown members, query parameters and RFC 3339 timestamps, each checked
 * for what it accepts, what it refuses, and the 400 problem it writes.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "valid.h"
#include "check_run.h"

/* Parses text as a JSON body; the caller frees it. */
static struct json_value *body(const char *text)
{
	char err[128];
	struct json_value *v;

	v = json_parse(text, strlen(text), &json_default_limits, err,
	    sizeof(err));
	ck_assert_msg(v != NULL, "%s: %s", text, err);
	return v;
}

/* The detail member of the problem in res. */
static const char *detail_of(struct response *res, char *buf, size_t len)
{
	struct json_value *v;
	const char *doc;
	size_t doclen;
	char err[64];

	ck_assert_int_eq(json_writer_result(res->json, &doc, &doclen), 0);
	v = json_parse(doc, doclen, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	snprintf(buf, len, "%s", json_get(v, "detail")->u.string.ptr);
	json_free(v);
	return buf;
}

/* Asserts that res holds a 400 problem with code and detail. */
static void assert_problem(struct response *res, const char *code,
    const char *detail)
{
	char buf[256];

	ck_assert_int_eq(res->status, 400);
	ck_assert_str_eq(res->code, code);
	ck_assert_str_eq(detail_of(res, buf, sizeof(buf)), detail);
	response_reset(res);
}

START_TEST(test_int)
{
	struct json_value *v = body("{\"q\":5,\"lo\":1,\"hi\":1000,\"neg\":-3,"
	                            "\"f\":1.5,\"s\":\"1\",\"big\":"
	                            "9223372036854775808,\"n\":null}");
	struct response res;
	int64_t out = 0;

	response_init(&res);
	ck_assert_int_eq(valid_int(&res, v, "q", VALID_REQUIRED, 1, 1000, 0,
	                     &out),
	    0);
	ck_assert(out == 5);
	ck_assert_int_eq(valid_int(&res, v, "lo", VALID_REQUIRED, 1, 1000, 0,
	                     &out),
	    0);
	ck_assert(out == 1);
	ck_assert_int_eq(valid_int(&res, v, "hi", VALID_REQUIRED, 1, 1000, 0,
	                     &out),
	    0);
	ck_assert(out == 1000);
	ck_assert_int_eq(valid_int(&res, v, "neg", VALID_REQUIRED, -5, 5, 0,
	                     &out),
	    0);
	ck_assert(out == -3);
	/* Absent: the default when optional, a problem when required. */
	ck_assert_int_eq(valid_int(&res, v, "x", VALID_OPTIONAL, 1, 1000, 42,
	                     &out),
	    0);
	ck_assert(out == 42);
	ck_assert_int_eq(valid_int(&res, v, "x", VALID_REQUIRED, 1, 1000, 0,
	                     &out),
	    -1);
	assert_problem(&res, "missing_field", "x is required");
	/* Out of bounds, or not a JSON integer: 1.5, "1", 2^63, null. */
	ck_assert_int_eq(valid_int(&res, v, "hi", VALID_REQUIRED, 1, 999, 0,
	                     &out),
	    -1);
	assert_problem(&res, "invalid_field",
	    "hi must be an integer from 1 to 999");
	ck_assert_int_eq(valid_int(&res, v, "neg", VALID_REQUIRED, 0, 5, 0,
	                     &out),
	    -1);
	response_reset(&res);
	for (size_t i = 0; i < 4; i++) {
		static const char *const bad[] = { "f", "s", "big", "n" };
		char want[64];

		out = 77;
		snprintf(want, sizeof(want),
		    "%s must be an integer from 1 to 1000", bad[i]);
		ck_assert_int_eq(valid_int(&res, v, bad[i], VALID_OPTIONAL, 1,
		                     1000, 0, &out),
		    -1);
		assert_problem(&res, "invalid_field", want);
		ck_assert(out == 77);
	}
	response_free(&res);
	json_free(v);
}
END_TEST

START_TEST(test_string)
{
	struct json_value *v = body("{\"name\":\"Mug\",\"empty\":\"\","
	                            "\"tab\":\"a\\tb\",\"del\":\"a\\u007fb\","
	                            "\"num\":5,\"long\":\"abcdef\","
	                            "\"utf8\":\"caf\\u00e9\"}");
	const char *out = "x";
	struct response res;

	response_init(&res);
	ck_assert_int_eq(valid_string(&res, v, "name", VALID_REQUIRED, 1, 200,
	                     &out),
	    0);
	ck_assert_str_eq(out, "Mug");
	/* Bounds are bytes, not characters: "café" is 5. */
	ck_assert_int_eq(valid_string(&res, v, "utf8", VALID_REQUIRED, 5, 5,
	                     &out),
	    0);
	ck_assert_int_eq(valid_string(&res, v, "absent", VALID_OPTIONAL, 1, 200,
	                     &out),
	    0);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(valid_string(&res, v, "absent", VALID_REQUIRED, 1, 200,
	                     &out),
	    -1);
	assert_problem(&res, "missing_field", "absent is required");
	ck_assert_int_eq(valid_string(&res, v, "empty", VALID_REQUIRED, 0, 200,
	                     &out),
	    0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(valid_string(&res, v, "empty", VALID_REQUIRED, 1, 200,
	                     &out),
	    -1);
	assert_problem(&res, "invalid_field",
	    "empty must be a string of 1 to 200 bytes without control "
	    "characters");
	ck_assert_int_eq(valid_string(&res, v, "long", VALID_REQUIRED, 1, 5,
	                     &out),
	    -1);
	response_reset(&res);
	ck_assert_int_eq(valid_string(&res, v, "long", VALID_REQUIRED, 1, 6,
	                     &out),
	    0);
	/* Control characters (DEL included) and other types are refused. */
	ck_assert_int_eq(valid_string(&res, v, "tab", VALID_REQUIRED, 1, 200,
	                     &out),
	    -1);
	assert_problem(&res, "invalid_field",
	    "tab must be a string of 1 to 200 bytes without control "
	    "characters");
	ck_assert_int_eq(valid_string(&res, v, "del", VALID_REQUIRED, 1, 200,
	                     &out),
	    -1);
	response_reset(&res);
	ck_assert_int_eq(valid_string(&res, v, "num", VALID_REQUIRED, 1, 200,
	                     &out),
	    -1);
	response_free(&res);
	json_free(v);
}
END_TEST

START_TEST(test_timestamp)
{
	struct json_value *v = body("{\"at\":\"2026-12-01T09:00:00Z\","
	                            "\"bad\":\"2026-02-30T09:00:00Z\","
	                            "\"num\":1700000000}");
	const char *out;
	struct response res;

	response_init(&res);
	ck_assert_int_eq(valid_timestamp(&res, v, "at", VALID_REQUIRED, &out),
	    0);
	ck_assert_str_eq(out, "2026-12-01T09:00:00Z");
	ck_assert_int_eq(valid_timestamp(&res, v, "x", VALID_OPTIONAL, &out),
	    0);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(valid_timestamp(&res, v, "bad", VALID_REQUIRED, &out),
	    -1);
	assert_problem(&res, "invalid_field",
	    "bad must be an RFC 3339 date-time such as 2026-12-01T09:00:00Z");
	ck_assert_int_eq(valid_timestamp(&res, v, "num", VALID_REQUIRED, &out),
	    -1);
	response_free(&res);
	json_free(v);
}
END_TEST

START_TEST(test_array)
{
	struct json_value *v = body("{\"items\":[1,2,3],\"none\":[],"
	                            "\"obj\":{}}");
	const struct json_value *out = NULL;
	struct response res;

	response_init(&res);
	ck_assert_int_eq(valid_array(&res, v, "items", 1, 3, &out), 0);
	ck_assert_uint_eq(out->u.array.len, 3);
	ck_assert_int_eq(valid_array(&res, v, "items", 1, 2, &out), -1);
	assert_problem(&res, "invalid_field",
	    "items must be an array of 1 to 2 items");
	ck_assert_int_eq(valid_array(&res, v, "items", 4, 50, &out), -1);
	response_reset(&res);
	ck_assert_int_eq(valid_array(&res, v, "none", 0, 5, &out), 0);
	ck_assert_int_eq(valid_array(&res, v, "none", 1, 5, &out), -1);
	response_reset(&res);
	ck_assert_int_eq(valid_array(&res, v, "obj", 0, 5, &out), -1);
	response_reset(&res);
	ck_assert_int_eq(valid_array(&res, v, "absent", 0, 5, &out), -1);
	assert_problem(&res, "missing_field", "absent is required");
	response_free(&res);
	json_free(v);
}
END_TEST

START_TEST(test_known_fields)
{
	static const char *const allowed[] = { "a", "b", NULL };
	static const char *const none[] = { NULL };
	struct json_value *ok = body("{\"a\":1,\"b\":2}");
	struct json_value *extra = body("{\"a\":1,\"c\\n\":2}");
	struct json_value *empty = body("{}");
	struct response res;

	response_init(&res);
	ck_assert_int_eq(valid_known_fields(&res, ok, allowed), 0);
	ck_assert_int_eq(valid_known_fields(&res, empty, none), 0);
	ck_assert_int_eq(valid_known_fields(&res, ok, none), -1);
	assert_problem(&res, "unknown_field", "unknown field \"a\"");
	/* The name is escaped before it is quoted back. */
	ck_assert_int_eq(valid_known_fields(&res, extra, allowed), -1);
	assert_problem(&res, "unknown_field", "unknown field \"c\\x0a\"");
	response_free(&res);
	json_free(ok);
	json_free(extra);
	json_free(empty);
}
END_TEST

/* A query string, and what valid_query_int reads from it for "limit". */
static const struct {
	const char *query;
	int ok;
	int64_t want;
} queries[] = {
	{ "", 1, 20 }, /* absent: the default */
	{ "days=3", 1, 20 },
	{ "limit=5", 1, 5 },
	{ "limit=1", 1, 1 },
	{ "limit=100", 1, 100 },
	{ "limit=%35", 1, 5 },
	{ "limit=005", 1, 5 }, /* leading zeros are digits */
	{ "limit=0", 0, 0 },
	{ "limit=101", 0, 0 },
	{ "limit=-1", 0, 0 },
	{ "limit=", 0, 0 },
	{ "limit", 0, 0 },
	{ "limit=abc", 0, 0 },
	{ "limit=5x", 0, 0 },
	{ "limit=1.0", 0, 0 },
	{ "limit=0x10", 0, 0 },
	{ "limit=99999999999999999999", 0, 0 },
	{ "limit=9223372036854775808", 0, 0 },
	/* No sign, no white space: '+' decodes to a space in a query. */
	{ "limit=+5", 0, 0 },
	{ "limit=%2B5", 0, 0 },
	{ "limit=%205", 0, 0 },
	{ "limit=%095", 0, 0 }, /* a tab: strtoll read it as 5 */
	{ "limit=%0A5", 0, 0 },
	{ "limit=%0D5", 0, 0 },
	{ "limit=%0B5", 0, 0 },
	{ "limit=%0C5", 0, 0 },
	{ "limit=5%20", 0, 0 },
	{ "limit=5%09", 0, 0 },
	/* Malformed or ambiguous. */
	{ "limit=%zz", 0, 0 },
	{ "limit=%00", 0, 0 },
	{ "limit=5&limit=6", 0, 0 },
	{ "limit=123456789012345678901234567890123456789", 0, 0 },
};

START_TEST(test_query_int)
{
	char query[128];
	struct request req;
	struct response res;
	int64_t out = 77;
	int r;

	request_init(&req);
	response_init(&res);
	snprintf(query, sizeof(query), "%s", queries[_i].query);
	req.query = query;
	r = valid_query_int(&res, &req, "limit", 1, 100, 20, &out);
	if (queries[_i].ok) {
		ck_assert_msg(r == 0, "\"%s\" refused", queries[_i].query);
		ck_assert_msg(out == queries[_i].want, "\"%s\" read as %lld",
		    queries[_i].query, (long long)out);
	} else {
		ck_assert_msg(r == -1, "\"%s\" accepted as %lld",
		    queries[_i].query, (long long)out);
		ck_assert(out == 77);
		assert_problem(&res, "invalid_parameter",
		    "query parameter limit must be an integer from 1 to 100");
	}
	response_free(&res);
}
END_TEST

/*
 * A sign only where negatives are allowed: "-0" was 0 for strtoll, and is
 * refused where min is 0 (?after=-0 on /api/v1/products), as "+0" is.
 */
START_TEST(test_query_int_sign)
{
	char query[] = "after=-0", plus[] = "after=%2B0", zero[] = "after=0";
	struct request req;
	struct response res;
	int64_t out = 77;

	request_init(&req);
	response_init(&res);
	req.query = query;
	ck_assert_int_eq(valid_query_int(&res, &req, "after", 0, INT64_MAX, 0,
	                     &out),
	    -1);
	assert_problem(&res, "invalid_parameter",
	    "query parameter after must be an integer from 0 to "
	    "9223372036854775807");
	req.query = plus;
	ck_assert_int_eq(valid_query_int(&res, &req, "after", 0, INT64_MAX, 0,
	                     &out),
	    -1);
	response_reset(&res);
	ck_assert(out == 77);
	req.query = zero;
	ck_assert_int_eq(valid_query_int(&res, &req, "after", 0, INT64_MAX, 5,
	                     &out),
	    0);
	ck_assert(out == 0);
	/* Where negatives are allowed, "-0" is zero. */
	req.query = query;
	ck_assert_int_eq(valid_query_int(&res, &req, "after", -10, 10, 5, &out),
	    0);
	ck_assert(out == 0);
	response_free(&res);
}
END_TEST

/* An RFC 3339 text, and whether valid_rfc3339 takes it. */
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
	{ " 2026-12-01T09:00:00Z", 0 },
	{ "2026-12-01T09:00:00.+09:00", 0 },
};

START_TEST(test_rfc3339)
{
	ck_assert_msg(valid_rfc3339(stamps[_i].text) == stamps[_i].ok,
	    "\"%s\" should be %s", stamps[_i].text,
	    stamps[_i].ok ? "accepted" : "refused");
}
END_TEST

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
	Suite *s = suite_create("valid");
	TCase *fields = tcase_create("fields");
	TCase *query = tcase_create("query");
	TCase *time = tcase_create("rfc3339");

	tcase_add_test(fields, test_int);
	tcase_add_test(fields, test_string);
	tcase_add_test(fields, test_timestamp);
	tcase_add_test(fields, test_array);
	tcase_add_test(fields, test_known_fields);
	suite_add_tcase(s, fields);
	tcase_add_loop_test(query, test_query_int, 0, NCASES(queries));
	tcase_add_test(query, test_query_int_sign);
	suite_add_tcase(s, query);
	tcase_add_loop_test(time, test_rfc3339, 0, NCASES(stamps));
	suite_add_tcase(s, time);
	return check_run(s);
}
