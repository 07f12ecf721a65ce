/*
 * check_misc: small pure pieces: log escaping, problem+json output, and the
 * SQLSTATE to status mapping that decides what is retried.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "log.h"
#include "http.h"
#include "check_run.h"

START_TEST(test_log_escape)
{
	char out[32];

	log_escape(out, sizeof(out), "GET /a", 6);
	ck_assert_str_eq(out, "GET /a");
	log_escape(out, sizeof(out), "a\nb\"c\\", 6);
	ck_assert_str_eq(out, "a\\x0ab\\x22c\\x5c");
	log_escape(out, sizeof(out), "\x1b[31m\xff", 6);
	ck_assert_str_eq(out, "\\x1b[31m\\xff");
	log_escape(out, 8, "abcdefghijkl", 12);
	ck_assert_str_eq(out, "abcd...");
	log_escape(out, 3, "abc", 3);
	ck_assert_str_eq(out, "");
	log_escape(out, sizeof(out), "a\0b", 3);
	ck_assert_str_eq(out, "a\\x00b");
}
END_TEST

START_TEST(test_log_level_parse)
{
	enum log_level l;

	ck_assert_int_eq(log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_parse("warn", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("loud", &l), -1);
}
END_TEST

START_TEST(test_problem_shape)
{
	struct response res;
	struct json_value *v;
	const char *buf;
	size_t len;
	char err[64];

	response_init(&res);
	problem_write(&res, 409, "out_of_stock", "option 7 has 2 left");
	ck_assert_int_eq(res.status, 409);
	ck_assert_str_eq(res.content_type, "application/problem+json");
	ck_assert_int_eq(json_writer_result(res.json, &buf, &len), 0);
	v = json_parse(buf, len, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(json_get(v, "type")->u.string.ptr,
	    "urn:stockade:problem:out_of_stock");
	ck_assert_str_eq(json_get(v, "title")->u.string.ptr, "Conflict");
	ck_assert_int_eq(json_get(v, "status")->u.integer, 409);
	ck_assert_str_eq(json_get(v, "detail")->u.string.ptr,
	    "option 7 has 2 left");
	ck_assert_str_eq(json_get(v, "code")->u.string.ptr, "out_of_stock");
	ck_assert_int_eq(v->u.object.len, 5);
	json_free(v);

	/* Extra members after the standard five. */
	json_member_string(problem_begin(&res, 503, "not_ready", "x"), "redis",
	    "down");
	problem_end(&res);
	ck_assert_int_eq(json_writer_result(res.json, &buf, &len), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"redis\":\"down\"}"));
	response_free(&res);
}
END_TEST

START_TEST(test_sqlstate_mapping)
{
	ck_assert_int_eq(db_status_from_sqlstate("40001"), DB_RETRY);
	ck_assert_int_eq(db_status_from_sqlstate("40P01"), DB_RETRY);
	ck_assert_int_eq(db_status_from_sqlstate("55P03"), DB_TIMEOUT);
	ck_assert_int_eq(db_status_from_sqlstate("57014"), DB_TIMEOUT);
	ck_assert_int_eq(db_status_from_sqlstate("23505"), DB_CONFLICT);
	ck_assert_int_eq(db_status_from_sqlstate("23514"), DB_CONFLICT);
	ck_assert_int_eq(db_status_from_sqlstate("08006"), DB_UNAVAILABLE);
	ck_assert_int_eq(db_status_from_sqlstate("57P01"), DB_UNAVAILABLE);
	ck_assert_int_eq(db_status_from_sqlstate("42P01"), DB_ERROR);
	ck_assert_int_eq(db_status_from_sqlstate(""), DB_ERROR);
	ck_assert_int_eq(db_status_from_sqlstate(NULL), DB_ERROR);
	ck_assert_int_eq(db_status_from_sqlstate("400011"), DB_ERROR);
}
END_TEST

START_TEST(test_reasons)
{
	ck_assert_str_eq(http_reason(404), "Not Found");
	ck_assert_str_eq(http_reason(413), "Content Too Large");
	ck_assert_str_eq(http_reason(599), "Unknown");
	ck_assert_int_eq(http_method_parse("GET"), HTTP_GET);
	ck_assert_int_eq(http_method_parse("get"), HTTP_METHOD__MAX);
	ck_assert_int_eq(http_method_parse("BREW"), HTTP_METHOD__MAX);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("misc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_log_escape);
	tcase_add_test(tc, test_log_level_parse);
	tcase_add_test(tc, test_problem_shape);
	tcase_add_test(tc, test_sqlstate_mapping);
	tcase_add_test(tc, test_reasons);
	suite_add_tcase(s, tc);
	return check_run(s);
}
