/*
 * db: one worker's PostgreSQL connection, its prepared statements and its
 * transactions.
 *
 * The connection is opened lazily and re-opened after any failure, never
 * reused once broken.  A connection the server closed while it was idle (a
 * restart, an administrator's pg_terminate_backend) is noticed before the
 * next statement is sent, and replaced at once: nothing of that statement
 * was sent, so it simply runs on the new connection.  Only after a failed
 * attempt to connect does the next wait DB_RECONNECT_INTERVAL_MS, so a dead
 * server is not hammered; a request that meets the wait sleeps it out when
 * its deadline leaves room, so that one arriving just after a restart is
 * served rather than refused.  Statements are
 * declared once as static struct db_stmt and prepared on first use in each
 * connection, so a reconnect re-prepares them without anyone noticing.
 * Errors stick to the handle (db_errmsg, db_sqlstate) and are mapped from
 * SQLSTATE to enum db_status so callers decide by outcome, not by text.
 * A read handle (db_options.primary) is a second connection, to a replica,
 * that serves only reads outside a transaction and hands everything else,
 * and every read the replica cannot serve now, to its primary handle.
 */
#ifndef STOCKADE_DB_H
#define STOCKADE_DB_H

#include <stdint.h>

#include <libpq-fe.h>

#include "json.h"
#include "num.h"

#define DB_RECONNECT_INTERVAL_MS 250
/* The session's client_connection_check_interval (see db_connect). */
#define DB_CONNECTION_CHECK_MS 1000
#define DB_PARAMS_MAX 16

enum db_status {
	DB_OK,
	DB_RETRY, /* 40001 serialization, 40P01 deadlock: safe to retry */
	DB_NOTFOUND, /* no row where one was required */
	DB_CONFLICT, /* 23505 unique or 23514 check violation */
	DB_TIMEOUT, /* 55P03 lock timeout, 57014 statement timeout */
	DB_UNAVAILABLE, /* no connection, or it broke: nothing committed */
	DB_UNKNOWN, /* it broke during COMMIT (or a write of its own): it
	             * may have committed */
	DB_ERROR, /* anything else: a bug or a schema mismatch */
	DB_STATUS__MAX
};

extern const char *const db_status_names[DB_STATUS__MAX];

struct db_stmt {
	const char *name; /* unique per process */
	const char *sql;
	int nparams;
	/*
	 * 1 when it changes data (INSERT, UPDATE, DELETE: scripts/
	 * embed-queries reads it off the SQL).  Outside a transaction such a
	 * statement commits on its own, so once sent, a connection lost
	 * before its answer leaves its outcome unknown (db_query).
	 */
	int writes;
};

/* What a handle tells its owner, who counts it (db knows no counters). */
enum db_event {
	DB_EVENT_RECONNECT, /* connected again after an earlier connection */
	DB_EVENT_RETRY, /* db_transaction starts again; sqlstate says why */
	/* A read handle's read (db_options.primary): */
	DB_EVENT_READ_REPLICA, /* served by the read connection */
	DB_EVENT_READ_LAGGING, /* sent to the primary: the replica lags */
	DB_EVENT_READ_FAILED, /* sent to the primary: the read connection
	                       * is down, or the read failed on it */
	DB_EVENT__MAX
};

/*
 * A read handle (db_options.primary set) checks its replica's lag at most
 * this often, and after a failed attempt to connect sends its reads to the
 * primary this long before it tries again (a standby that does not answer
 * costs connect_timeout per attempt).  A read connection that landed on a
 * server that is not a standby (prefer-standby with every standby down) is
 * reopened after DB_READ_STANDBY_RETRY_MS, so that reads go back to a
 * standby that returned.
 */
#define DB_READ_LAG_CHECK_MS 250
#define DB_READ_RECONNECT_INTERVAL_MS 5000
#define DB_READ_STANDBY_RETRY_MS 30000

struct db_options {
	const char *conninfo; /* libpq conninfo or URI */
	const char *application_name; /* shows in pg_stat_activity */
	int statement_timeout_ms;
	int lock_timeout_ms;
	int idle_in_transaction_timeout_ms;
	int retries; /* of DB_RETRY in db_transaction */
	/* Called on each event (may be NULL), with the SQLSTATE that caused
	 * it ("" when none). */
	void (*on_event)(void *arg, enum db_event ev, const char *sqlstate);
	void *on_event_arg;
	/*
	 * Set: this is a read handle, on a replica (docs/scaling.md, "Read
	 * replicas").  Only reads outside a transaction run on it; a
	 * statement that writes and every transaction run on primary, and so
	 * does a read when the read connection is down, fails (but for a
	 * timeout), or lags: lag_stmt (one row, one bigint: the replica's lag
	 * in milliseconds) measured more than max_lag_ms (0: never checked).
	 * The caller keeps primary alive as long as this handle.
	 */
	struct db *primary;
	const struct db_stmt *lag_stmt;
	int max_lag_ms;
};

struct db;

/* Creates an unconnected handle (strings copied).  Never NULL. */
struct db *db_create(const struct db_options *opts);
void db_free(struct db *db); /* accepts NULL; closes the connection */

/* Connects if not connected.  Returns DB_OK or DB_UNAVAILABLE. */
enum db_status db_connect(struct db *db);
/* Returns 1 if the server answers a trivial query now, else 0. */
int db_ping(struct db *db);

/*
 * Runs a prepared statement with text parameters (NULL for SQL NULL).  On
 * DB_OK returns the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), owned by
 * the caller (PQclear); otherwise returns NULL and sets *status.  Outside
 * a transaction, a statement whose PREPARE found the connection lost runs
 * on a new one (it was never sent); one that was sent never runs twice.
 * A statement that writes, sent outside a transaction, whose connection
 * broke before its answer came, may have committed: DB_UNKNOWN (SQLSTATE
 * 08007), never DB_UNAVAILABLE; a read stays DB_UNAVAILABLE.
 */
PGresult *db_query(struct db *db, const struct db_stmt *stmt,
    const char *const *params, enum db_status *status);
/* Runs a statement whose result is not needed (and clears it). */
enum db_status db_command(struct db *db, const struct db_stmt *stmt,
    const char *const *params);
/* Runs literal SQL (no parameters, may hold several statements). */
enum db_status db_exec(struct db *db, const char *sql);

/*
 * Runs fn(db, arg) inside BEGIN ... COMMIT.  fn returns DB_OK to commit
 * (or to roll back, after db_set_rollback); anything else rolls back and
 * is returned.  DB_RETRY (from fn or COMMIT) restarts the whole
 * transaction, with the retry policy (retry.h): at most the configured
 * retries, none past the deadline (db_set_deadline).  The transaction is
 * always ended, on every path.  When the connection breaks after COMMIT
 * was sent and before its answer arrived, the transaction may or may not
 * have committed: that is DB_UNKNOWN, never DB_UNAVAILABLE, and it is not
 * retried (the caller finds out, e.g. by its Idempotency-Key, or says it
 * does not know).  A BEGIN that finds the connection lost is sent again on
 * a new one (BEGIN changes nothing).
 */
typedef enum db_status (*db_tx_fn)(struct db *db, void *arg);
enum db_status db_transaction(struct db *db, db_tx_fn fn, void *arg);

/*
 * Inside fn: end this transaction with ROLLBACK although fn returns DB_OK.
 * For a refusal (out of stock, insufficient points) whose statements must
 * leave nothing behind, and which is an answer, not a failure: the caller
 * learns what happened from its own typed outcome.
 */
void db_set_rollback(struct db *db);

/*
 * Inside fn, as its last database work: runs stmts[0..n-1] (params[i]
 * each; n at most DB_PIPELINE_MAX) in one round trip (libpq pipeline mode)
 * and, when the transaction allows it (db_set_tail_commit), its COMMIT in
 * the same round trip: locks fn took earlier are then held for that one
 * round trip instead of one per statement plus one for COMMIT.  On DB_OK
 * results[i] is each statement's result (the caller clears them); else
 * none is set.  An error in statement i skips the rest and the COMMIT:
 * nothing committed, the status is db_query's.  A connection that breaks
 * once COMMIT was sent leaves the outcome unknown: DB_UNKNOWN, as for
 * db_transaction's own COMMIT.  After a COMMIT the transaction is over:
 * db_transaction neither commits nor rolls back (a refusal decided from
 * these results must have written nothing), and any statement fn still
 * runs runs on its own, as outside a transaction.
 */
#define DB_PIPELINE_MAX 4
enum db_status db_query_last(struct db *db, size_t n,
    const struct db_stmt *const *stmts, const char *const *const *params,
    PGresult **results);

/*
 * Inside fn: lets db_query_last carry the COMMIT (1), or not (0, the
 * default at every BEGIN).  For the caller of db_transaction whose fn has
 * nothing left to do after the statements of db_query_last (idempotency.c
 * without a key: no answer to store after the effect).
 */
void db_set_tail_commit(struct db *db, int allowed);

/*
 * The monotonic time (clock_ms) after which db_transaction starts no retry:
 * the worker sets it at the start of each request; 0: none.  It also
 * forgets the last error, so that what db_errmsg says during a request is
 * about that request.
 */
void db_set_deadline(struct db *db, int64_t deadline_ms);
/* The deadline set by db_set_deadline (0: none). */
int64_t db_deadline(const struct db *db);

/* Formats an integer parameter into buf and returns it (num_format). */
#define DB_I64_LEN NUM_I64_LEN
const char *db_param_i64(char buf[DB_I64_LEN], int64_t v);

/*
 * Reads the integer at row, col of r.  Returns DB_OK with *out set, or
 * DB_ERROR (logged, naming the column) when the value is NULL or not an
 * integer: a schema that no longer matches the code, never input.
 */
enum db_status db_get_i64(const PGresult *r, int row, int col, int64_t *out);

/*
 * Writes column 0 of every row of r (JSON text built by PostgreSQL) into w
 * as it is.  With n, sets *n to the number of rows and *last_id to column 1
 * of the last one (an id: where a keyset page ends).  Returns DB_OK, or
 * DB_ERROR when that id is not an integer.
 */
enum db_status db_write_json_rows(const PGresult *r, struct json_writer *w,
    int64_t *n, int64_t *last_id);

/*
 * One keyset page of an owner's rows: runs stmt ($1 owner, $2 the id to
 * start past, $3 limit; returning item JSON, id) and writes the items into
 * w (db_write_json_rows).  Returns DB_OK or a database failure.
 */
enum db_status db_page(struct db *db, const struct db_stmt *stmt, int64_t owner,
    int64_t after, int64_t limit, struct json_writer *w, int64_t *n,
    int64_t *last_id);

/* The last error's message and SQLSTATE ("" when none). */
const char *db_errmsg(const struct db *db);
const char *db_sqlstate(const struct db *db);
/*
 * The process id of the server backend of the open connection (libpq's
 * PQbackendPID: pg_stat_activity.pid), or 0 when not connected.
 */
int db_backend_pid(const struct db *db);
/* Maps a SQLSTATE to a status (used by db and unit tests). */
enum db_status db_status_from_sqlstate(const char *sqlstate);
/* Transactions retried since start, for /metrics. */
unsigned long db_retry_count(const struct db *db);
/*
 * One look at a replica's lag (lag_stmt's row): when it was taken
 * (clock_ms), the lag that look alone can tell (0: caught up), and the WAL
 * positions the standby had received and replayed then.
 */
struct db_lag_sample {
	int64_t at_ms;
	int64_t lag_ms;
	int64_t received;
	int64_t replayed;
};

/*
 * The replica's lag in ms, from the look cur and the one before it on the
 * same connection (prev, NULL when none).  cur->lag_ms (the age of the
 * last replayed transaction) overestimates when the primary was idle
 * before the WAL not yet replayed; but when the standby has replayed all
 * it had received at prev's look, what it misses came later, so the lag
 * is at most the time since prev.  The smaller of the two bounds.  Pure.
 */
int64_t db_lag_estimate(const struct db_lag_sample *prev,
    const struct db_lag_sample *cur);
/*
 * A read handle's verdict on its replica's lag: 1 when lag_ms may serve
 * under max_lag_ms (0: no bound), else 0.  Pure, for db and unit tests.
 */
int db_lag_acceptable(int64_t lag_ms, int max_lag_ms);
/* The lag a read handle last measured (ms), or -1 when none yet. */
int64_t db_read_lag_ms(const struct db *db);

#endif
