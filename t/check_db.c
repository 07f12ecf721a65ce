/*
 * check_db: the pure parts of the database layer: the SQLSTATE to status
 * mapping that decides what is retried, and the integer helpers that read
 * and write parameters and result values (on a result built client-side
 * with libpq's PQmakeEmptyPGresult, no server needed).
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "queries.h"
#include "check_run.h"

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
	/* A write on a read-only server: a standby, a fenced primary. */
	ck_assert_int_eq(db_status_from_sqlstate("25006"), DB_UNAVAILABLE);
	ck_assert_int_eq(db_status_from_sqlstate("42P01"), DB_ERROR);
	ck_assert_int_eq(db_status_from_sqlstate(""), DB_ERROR);
	ck_assert_int_eq(db_status_from_sqlstate(NULL), DB_ERROR);
	ck_assert_int_eq(db_status_from_sqlstate("400011"), DB_ERROR);
}
END_TEST

START_TEST(test_param_i64)
{
	char buf[DB_I64_LEN];

	ck_assert_str_eq(db_param_i64(buf, 42), "42");
	ck_assert_ptr_eq(db_param_i64(buf, 0), buf);
	ck_assert_str_eq(db_param_i64(buf, INT64_MIN), "-9223372036854775808");
	ck_assert_str_eq(db_param_i64(buf, INT64_MAX), "9223372036854775807");
}
END_TEST

/* One row of one text column per value (NULL: SQL NULL). */
static PGresult *result_of(const char *const *values, int n)
{
	PGresAttDesc col = { .name = "v",
		.format = 0,
		.typid = 20,
		.typlen = 8,
		.atttypmod = -1 };
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(PQsetResultAttrs(r, 1, &col), 1);
	for (int i = 0; i < n; i++) {
		const char *v = values[i];

		ck_assert_int_eq(PQsetvalue(r, i, 0, (char *)v,
		                     v != NULL ? (int)strlen(v) : -1),
		    1);
	}
	return r;
}

START_TEST(test_get_i64)
{
	static const char *const values[] = { "7", "-9223372036854775808",
		"9223372036854775807", NULL, "", "1.5", " 7",
		"9223372036854775808", "+7", "7\n" };
	PGresult *r = result_of(values, 10);
	int64_t v = 99;

	ck_assert_int_eq(db_get_i64(r, 0, 0, &v), DB_OK);
	ck_assert(v == 7);
	ck_assert_int_eq(db_get_i64(r, 1, 0, &v), DB_OK);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(db_get_i64(r, 2, 0, &v), DB_OK);
	ck_assert(v == INT64_MAX);
	/* NULL, empty, not an integer, out of range: DB_ERROR, v as was. */
	v = 99;
	for (int row = 3; row < 10; row++)
		ck_assert_msg(db_get_i64(r, row, 0, &v) == DB_ERROR,
		    "row %d read as an integer", row);
	ck_assert(v == 99);
	/* Past the last row or column. */
	ck_assert_int_eq(db_get_i64(r, 10, 0, &v), DB_ERROR);
	ck_assert_int_eq(db_get_i64(r, 0, 1, &v), DB_ERROR);
	PQclear(r);
}
END_TEST

/*
 * scripts/embed-queries marks the statements that change data: db.c
 * answers such a statement, lost after it was sent outside a transaction,
 * DB_UNKNOWN.  A row lock (FOR UPDATE) is not a write.
 */
START_TEST(test_stmt_writes)
{
	static const struct {
		const struct db_stmt *stmt;
		int writes;
	} cases[] = {
		{ &product_restock_stmt, 1 }, /* UPDATE in a CTE */
		{ &coupon_create_stmt, 1 }, /* INSERT in a CTE */
		{ &coupon_take_shard_stmt, 1 }, /* FOR UPDATE and UPDATE */
		{ &coupon_split_stmt, 1 },
		{ &idempotency_purge_stmt, 1 }, /* DELETE */
		{ &coupon_lock_stmt, 0 }, /* FOR UPDATE alone */
		{ &point_lock_stmt, 0 },
		{ &stock_lock_stmt, 0 },
		{ &idempotency_lookup_stmt, 0 }, /* an advisory lock */
		{ &order_by_id_stmt, 0 },
		{ &product_page_stmt, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(cases[i].stmt->writes == cases[i].writes,
		    "%s: writes %d, want %d", cases[i].stmt->name,
		    cases[i].stmt->writes, cases[i].writes);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, test_sqlstate_mapping);
	tcase_add_test(tc, test_param_i64);
	tcase_add_test(tc, test_get_i64);
	tcase_add_test(tc, test_stmt_writes);
	suite_add_tcase(s, tc);
	return check_run(s);
}
