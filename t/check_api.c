/*
 * check_api: how a database failure is answered (api_db_failure): which
 * status, which problem code, and Retry-After on every 503.  A connection
 * lost during COMMIT (DB_UNKNOWN) must never be answered as "nothing
 * changed" (database_unavailable): it is outcome_unknown.  No server: the
 * database handle is never connected.
 */
#include <check.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "check_run.h"

/* Answers st into a fresh response and returns its status. */
static int answer(enum db_status st, struct response *res)
{
	struct config cfg;
	struct app app;

	memset(&cfg, 0, sizeof(cfg));
	memset(&app, 0, sizeof(app));
	cfg.retry_after_s = 3;
	app.cfg = &cfg;
	app.request_id = "check-api";
	app.db = db_create(&(
	    struct db_options){ .conninfo = "", .application_name = "check" });
	response_reset(res);
	api_db_failure(res, &app, st);
	db_free(app.db);
	return res->status;
}

static int has_retry_after(const struct response *res)
{
	return strstr(res->headers, "Retry-After: 3\r\n") != NULL;
}

START_TEST(test_unknown_is_not_unavailable)
{
	struct response res;

	response_init(&res);
	ck_assert_int_eq(answer(DB_UNKNOWN, &res), 503);
	ck_assert_str_eq(res.code, "outcome_unknown");
	ck_assert(has_retry_after(&res));
	ck_assert_int_eq(answer(DB_UNAVAILABLE, &res), 503);
	ck_assert_str_eq(res.code, "database_unavailable");
	ck_assert(has_retry_after(&res));
	response_free(&res);
}
END_TEST

START_TEST(test_other_failures)
{
	struct response res;

	response_init(&res);
	ck_assert_int_eq(answer(DB_TIMEOUT, &res), 503);
	ck_assert_str_eq(res.code, "database_timeout");
	ck_assert(has_retry_after(&res));
	ck_assert_int_eq(answer(DB_RETRY, &res), 503);
	ck_assert_str_eq(res.code, "database_busy");
	ck_assert(has_retry_after(&res));
	ck_assert_int_eq(answer(DB_ERROR, &res), 500);
	ck_assert_str_eq(res.code, "internal_error");
	ck_assert(!has_retry_after(&res));
	response_free(&res);
}
END_TEST

START_TEST(test_status_names)
{
	for (int st = 0; st < DB_STATUS__MAX; st++)
		ck_assert_ptr_nonnull(db_status_names[st]);
	ck_assert_str_eq(db_status_names[DB_UNKNOWN], "unknown");
	ck_assert_str_eq(db_status_names[DB_ERROR], "error");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("db_failure");

	tcase_add_test(tc, test_unknown_is_not_unavailable);
	tcase_add_test(tc, test_other_failures);
	tcase_add_test(tc, test_status_names);
	suite_add_tcase(s, tc);
	return check_run(s);
}
