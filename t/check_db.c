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

#include <stdio.h>

#include "app.h"
#include "config.h"
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
		{ &point_lock_stmt, 0 }, { &stock_lock_stmt, 0 },
		{ &idempotency_lookup_stmt, 0 }, /* an advisory lock */
		{ &order_by_id_stmt, 0 }, { &product_page_stmt, 0 },
		{ &replica_lag_stmt, 0 }, /* run on a standby */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(cases[i].stmt->writes == cases[i].writes,
		    "%s: writes %d, want %d", cases[i].stmt->name,
		    cases[i].stmt->writes, cases[i].writes);
}
END_TEST

/*
 * A read handle may serve when the lag is within the bound, or when there
 * is no bound; a negative lag (the primary's clock ahead) is none.
 */
START_TEST(test_lag_acceptable)
{
	ck_assert_int_eq(db_lag_acceptable(0, 1000), 1);
	ck_assert_int_eq(db_lag_acceptable(1000, 1000), 1);
	ck_assert_int_eq(db_lag_acceptable(1001, 1000), 0);
	ck_assert_int_eq(db_lag_acceptable(-5, 1000), 1);
	ck_assert_int_eq(db_lag_acceptable(2147483647, 1000), 0);
	ck_assert_int_eq(db_lag_acceptable(2147483647, 0), 1);
}
END_TEST

/*
 * The lag estimate: one look alone, or narrowed by the look before when
 * the standby has replayed all it had received then.
 */
START_TEST(test_lag_estimate)
{
	struct db_lag_sample prev = { .at_ms = 1000,
		.lag_ms = 0,
		.received = 500,
		.replayed = 500 };
	struct db_lag_sample cur = { .at_ms = 1250,
		.lag_ms = 60000,
		.received = 900,
		.replayed = 600 };

	/* Caught up: 0, whatever came before. */
	ck_assert_int_eq(db_lag_estimate(NULL,
	                     &(struct db_lag_sample){ .at_ms = 5 }),
	    0);
	/* No earlier look: the age of the last replayed transaction. */
	ck_assert_int_eq(db_lag_estimate(NULL, &cur), 60000);
	/* All received at prev is replayed: at most the time since. */
	ck_assert_int_eq(db_lag_estimate(&prev, &cur), 250);
	/* The age is smaller still: the age. */
	cur.lag_ms = 100;
	ck_assert_int_eq(db_lag_estimate(&prev, &cur), 100);
	/* Replay stuck before what prev had received: the age. */
	cur.lag_ms = 60000;
	cur.replayed = 499;
	ck_assert_int_eq(db_lag_estimate(&prev, &cur), 60000);
}
END_TEST

/* The events a read handle reports, counted by kind. */
static void count_event(void *arg, enum db_event ev, const char *sqlstate)
{
	(void)sqlstate;
	((int *)arg)[ev]++;
}

/* A handle on a socket that does not exist; a read handle with primary. */
static struct db *nowhere(const char *what, int *events, struct db *primary)
{
	char conninfo[64];

	snprintf(conninfo, sizeof(conninfo), "host=/nonexistent/%s dbname=x",
	    what);
	return db_create(&(struct db_options){
	    .conninfo = conninfo,
	    .application_name = what,
	    .statement_timeout_ms = 1000,
	    .lock_timeout_ms = 1000,
	    .idle_in_transaction_timeout_ms = 1000,
	    .on_event = count_event,
	    .on_event_arg = events,
	    .primary = primary,
	    .lag_stmt = &replica_lag_stmt,
	    .max_lag_ms = 1000,
	});
}

/*
 * A read handle whose replica cannot be reached sends its reads to the
 * primary (here unreachable too: the status is the primary's), says so
 * each time, and tries the replica again only after
 * DB_READ_RECONNECT_INTERVAL_MS: the second read does not wait.  A
 * statement that writes never touches the replica.  No server needed:
 * both servers are sockets that do not exist.
 */
START_TEST(test_read_handle_falls_back)
{
	int primary_events[DB_EVENT__MAX] = { 0 },
	    events[DB_EVENT__MAX] = { 0 };
	struct db *primary = nowhere("primary", primary_events, NULL);
	struct db *reads = nowhere("replica", events, primary);
	enum db_status st;

	ck_assert_ptr_null(db_query(reads, &product_page_stmt,
	    (const char *const[]){ "1" }, &st));
	ck_assert_int_eq(st, DB_UNAVAILABLE);
	ck_assert_int_eq(events[DB_EVENT_READ_FAILED], 1);
	ck_assert_int_eq(events[DB_EVENT_READ_REPLICA], 0);
	ck_assert_ptr_null(db_query(reads, &product_page_stmt,
	    (const char *const[]){ "1" }, &st));
	ck_assert_int_eq(events[DB_EVENT_READ_FAILED], 2);
	ck_assert_int_eq(db_read_lag_ms(reads), -1);
	ck_assert_int_eq(db_command(reads, &idempotency_purge_stmt,
	                     (const char *const[]){ "1000" }),
	    DB_UNAVAILABLE);
	ck_assert_int_eq(events[DB_EVENT_READ_FAILED], 2);
	ck_assert_int_eq(primary_events[DB_EVENT_READ_FAILED], 0);
	db_free(reads);
	db_free(primary);
}
END_TEST

/* The connection budget /status shows: workers, twice with a replica,
 * plus the reaper. */
START_TEST(test_db_connections)
{
	static struct config cfg;

	cfg.workers = 8;
	ck_assert_int_eq(app_db_connections(&cfg), 9);
	snprintf(cfg.database_read_url, sizeof(cfg.database_read_url),
	    "host=replica");
	ck_assert_int_eq(app_db_connections(&cfg), 17);
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
	tcase_add_test(tc, test_lag_acceptable);
	tcase_add_test(tc, test_lag_estimate);
	tcase_add_test(tc, test_read_handle_falls_back);
	tcase_add_test(tc, test_db_connections);
	suite_add_tcase(s, tc);
	return check_run(s);
}
