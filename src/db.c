/*
 * db: see db.h.  Error handling follows pgbench: every PGresult is checked
 * against the status we expect and cleared on every path, SQLSTATE decides
 * what is retried, and a connection whose status is CONNECTION_BAD is dropped
 * at once rather than reused.
 */
#include "db.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "retry.h"
#include "xmalloc.h"

#define DB_PREPARED_MAX 128

const char *const db_status_names[DB_STATUS__MAX] = {
	"ok",
	"retry",
	"not found",
	"conflict",
	"timeout",
	"unavailable",
	"unknown",
	"error",
};

struct db {
	char *conninfo;
	char *application_name;
	int statement_timeout_ms;
	int lock_timeout_ms;
	int idle_in_transaction_timeout_ms;
	int retries;
	PGconn *conn;
	int64_t last_failed_ms; /* the last failed attempt to connect */
	unsigned long lost; /* connections found broken (db_lost) */
	/* Statements prepared in the current connection. */
	const struct db_stmt *prepared[DB_PREPARED_MAX];
	size_t nprepared;
	char errmsg[512];
	char sqlstate[6];
	unsigned long retried;
	int connected_before; /* so the next connection is a reconnect */
	void (*on_event)(void *arg, enum db_event ev, const char *sqlstate);
	void *on_event_arg;
	/*
	 * Set between BEGIN and its end: a connection lost inside a
	 * transaction must not be silently replaced, or the rest of the
	 * transaction would run in autocommit on the new one.
	 */
	int in_transaction;
	int rollback_only; /* db_set_rollback in the current transaction */
	int tail_commit; /* db_set_tail_commit in the current transaction */
	int committed; /* db_query_last committed the current transaction */
	int64_t deadline_ms; /* of the current request's retries; 0: none */
	/* A read handle's (db_options.primary); see db_read_query. */
	struct db *primary;
	const struct db_stmt *lag_stmt;
	int max_lag_ms;
	int64_t connected_ms; /* when the open connection was opened */
	struct db_lag_sample lag_last; /* the last look at the lag */
	int64_t lag_ms; /* -1: not measured on this connection */
	int lagging; /* the last check found the lag past max_lag_ms */
};

struct db *db_create(const struct db_options *opts)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->conninfo = xstrdup(opts->conninfo);
	db->application_name = xstrdup(opts->application_name);
	db->statement_timeout_ms = opts->statement_timeout_ms;
	db->lock_timeout_ms = opts->lock_timeout_ms;
	db->idle_in_transaction_timeout_ms =
	    opts->idle_in_transaction_timeout_ms;
	db->retries = opts->retries;
	db->on_event = opts->on_event;
	db->on_event_arg = opts->on_event_arg;
	db->last_failed_ms = INT64_MIN / 2;
	db->primary = opts->primary;
	db->lag_stmt = opts->lag_stmt;
	db->max_lag_ms = opts->max_lag_ms;
	db->lag_ms = -1;
	return db;
}

static void db_event(struct db *db, enum db_event ev)
{
	if (db->on_event != NULL)
		db->on_event(db->on_event_arg, ev, db->sqlstate);
}

static void db_disconnect(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
	db->lag_ms = -1; /* a new connection may reach another server */
}

void db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db->conninfo);
	free(db->application_name);
	free(db);
}

static void db_set_error(struct db *db, const char *sqlstate, const char *msg)
{
	size_t n;

	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s",
	    sqlstate != NULL ? sqlstate : "");
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg != NULL ? msg : "");
	n = strlen(db->errmsg);
	while (n > 0 && db->errmsg[n - 1] == '\n')
		db->errmsg[--n] = '\0';
}

enum db_status db_status_from_sqlstate(const char *sqlstate)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return DB_ERROR;
	if (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0)
		return DB_RETRY;
	if (strcmp(sqlstate, "55P03") == 0 || strcmp(sqlstate, "57014") == 0)
		return DB_TIMEOUT;
	if (strcmp(sqlstate, "23505") == 0 || strcmp(sqlstate, "23514") == 0)
		return DB_CONFLICT;
	/*
	 * Class 08 connection exceptions; 57P01-57P03 server going away;
	 * 25006, a write refused by a read-only server: connected to a
	 * standby, or to a primary fenced or demoted by a failover
	 * (docs/scaling.md).  Unavailable for now, never a bug of ours.
	 */
	if (strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 ||
	    strcmp(sqlstate, "57P02") == 0 || strcmp(sqlstate, "57P03") == 0 ||
	    strcmp(sqlstate, "25P03") == 0 || strcmp(sqlstate, "25006") == 0)
		return DB_UNAVAILABLE;
	return DB_ERROR;
}

/*
 * libpq's notice processor: by default it prints notices and warnings
 * ("WARNING:  terminating connection because of crash of another server
 * process", several lines with DETAIL and HINT) to stderr unprefixed.  Here
 * they become one log line each (log.c escapes the inner newlines).
 */
static void db_notice(void *arg, const char *message)
{
	const struct db *db = arg;

	/* "NOTICE:  relation exists, skipping" is routine; the rest warns. */
	if (strncmp(message, "NOTICE:", 7) == 0 ||
	    strncmp(message, "INFO:", 5) == 0)
		log_info("database notice (%s): %s", db->application_name,
		    message);
	else
		log_warn("database notice (%s): %s", db->application_name,
		    message);
}

/*
 * Session settings, so a stuck statement or lock cannot hold a worker (and
 * no statement waits for a JIT compiler).
 */
static int db_configure_session(struct db *db)
{
	char sql[320];
	PGresult *r;
	int ok;

	/*
	 * UTC so timestamps in JSON read the same from every server.  The
	 * connection check (PostgreSQL 14+): a backend whose client died
	 * while it waited in a statement (a worker killed by request_timeout
	 * in a lock wait) otherwise notices only when the statement ends,
	 * and holds its locks and its connection slot until then; with it,
	 * the backend ends and rolls back within a second.  No JIT: every
	 * statement here takes milliseconds, and compiling one takes 50-150
	 * ms whenever a row estimate the planner cannot know is large (GET
	 * /products/popular at 10^7 orders: 2 ms run, 70-150 ms compiled;
	 * docs/benchmarks.md, target 3).
	 */
	snprintf(sql, sizeof(sql),
	    "SET TimeZone = 'UTC'; "
	    "SET statement_timeout = %d; "
	    "SET lock_timeout = %d; "
	    "SET idle_in_transaction_session_timeout = %d; "
	    "SET client_connection_check_interval = %d; "
	    "SET jit = off",
	    db->statement_timeout_ms, db->lock_timeout_ms,
	    db->idle_in_transaction_timeout_ms, DB_CONNECTION_CHECK_MS);
	r = PQexec(db->conn, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		db_set_error(db, PQresultErrorField(r, PG_DIAG_SQLSTATE),
		    PQerrorMessage(db->conn));
	PQclear(r);
	return ok ? 0 : -1;
}

/*
 * A connect throttled by an attempt that failed less than
 * DB_RECONNECT_INTERVAL_MS ago waits out the rest of the interval, when
 * the request's deadline (db_set_deadline) leaves room for it, and then
 * tries: a request that arrives just after the server came back (a
 * restart) is served a little later instead of answered 503.  Returns 1
 * once the interval is over, 0 (at once) when the deadline comes first.
 */
static int db_throttle_wait(const struct db *db, int64_t now)
{
	int64_t until = db->last_failed_ms + DB_RECONNECT_INTERVAL_MS;
	struct timespec ts;

	/* A read handle never waits: its reads go to the primary meanwhile. */
	if (db->primary != NULL)
		return now >=
		    db->last_failed_ms + DB_READ_RECONNECT_INTERVAL_MS;
	if (now >= until)
		return 1;
	if (db->deadline_ms != 0 && until > db->deadline_ms)
		return 0;
	ts.tv_sec = (time_t)((until - now) / 1000);
	ts.tv_nsec = (long)((until - now) % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		; /* a signal (a stop) lets this request finish */
	return 1;
}

enum db_status db_connect(struct db *db)
{
	const char *keys[] = { "connect_timeout", "dbname", "application_name",
		NULL };
	const char *values[] = { "3", db->conninfo, db->application_name,
		NULL };
	int64_t now = clock_ms();

	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return DB_OK;
	db_disconnect(db);
	if (db->in_transaction) {
		db_set_error(db, "08006",
		    "connection lost inside a transaction");
		return DB_UNAVAILABLE;
	}
	/* Only a failed attempt makes the next one wait: a connection that
	 * was lost is replaced at once, the server may well be back. */
	if (!db_throttle_wait(db, now)) {
		db_set_error(db, "08006",
		    "not connected (reconnect throttled)");
		return DB_UNAVAILABLE;
	}
	now = clock_ms();
	/* expand_dbname: the conninfo may be "key=value ..." or a URI. */
	db->conn = PQconnectdbParams(keys, values, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		db_set_error(db, "08006",
		    db->conn ? PQerrorMessage(db->conn) : "out of memory");
		log_warn("database connection failed: %s", db->errmsg);
		db_disconnect(db);
		db->last_failed_ms = now;
		return DB_UNAVAILABLE;
	}
	PQsetNoticeProcessor(db->conn, db_notice, db);
	if (db_configure_session(db) < 0) {
		log_error("database session setup failed: %s", db->errmsg);
		db_disconnect(db);
		db->last_failed_ms = now;
		return DB_UNAVAILABLE;
	}
	log_info("connected to the database as %s", db->application_name);
	db->connected_ms = now;
	if (db->connected_before)
		db_event(db, DB_EVENT_RECONNECT);
	db->connected_before = 1;
	return DB_OK;
}

/* Drops a connection found broken and counts it. */
static void db_lost(struct db *db)
{
	db_disconnect(db);
	db->lost++;
}

/*
 * 1 when the failure of r leaves the connection in doubt: libpq says it is
 * bad, or the error is libpq's own, without a SQLSTATE (every error the
 * server sends has one).  "server closed the connection unexpectedly" comes
 * that way while libpq has not yet read the EOF and still says
 * CONNECTION_OK: a server stopped with -m immediate leaves exactly that.
 */
static int db_in_doubt(const struct db *db, const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return PQstatus(db->conn) == CONNECTION_BAD || state == NULL ||
	    *state == '\0';
}

/*
 * Turns a failed result into a status, recording the error and dropping a
 * connection that is no longer usable.
 */
static enum db_status db_fail(struct db *db, PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	enum db_status st;

	db_set_error(db, state, PQerrorMessage(db->conn));
	st = db_status_from_sqlstate(state);
	if (db_in_doubt(db, r)) {
		log_warn("database connection lost: %s", db->errmsg);
		db_lost(db);
		st = DB_UNAVAILABLE;
	} else if (strcmp(db->sqlstate, "25006") == 0) {
		/*
		 * A read-only server (a standby, a fenced primary): rather
		 * than write to it again, the next request connects afresh,
		 * and libpq's target_session_attrs=read-write picks the
		 * server that takes writes (docs/scaling.md).
		 */
		log_warn("database connection dropped: the server is "
		         "read-only: %s",
		    db->errmsg);
		db_lost(db);
	}
	return st;
}

/*
 * 1 when the server closed this connection while it sat idle since our
 * last statement (a restart, pg_terminate_backend).  Before it goes, the
 * server sends FATAL 57P01/57P02 (or, stopped with -m immediate, a
 * WARNING) and then EOF: the socket is readable although we asked
 * nothing.  Reading what is there lets libpq see the EOF and mark the
 * connection bad.  Nothing to read: alive as far as anyone can tell
 * without a round trip; the statement will say.
 */
static int db_closed_while_idle(struct db *db)
{
	struct pollfd pfd = { .fd = PQsocket(db->conn), .events = POLLIN };

	/* A few rounds: the FATAL message and the EOF may come apart. */
	for (int i = 0; i < 4 && poll(&pfd, 1, 0) == 1; i++) {
		if (!PQconsumeInput(db->conn))
			break;
		(void)PQisBusy(db->conn); /* parses what came (a notice) */
	}
	return PQstatus(db->conn) == CONNECTION_BAD;
}

/*
 * Connects, or makes sure the idle connection is still there before a
 * statement outside a transaction is sent: one that the server closed is
 * replaced at once, so the statement runs on the new one (nothing of it
 * was sent).  Inside a transaction a lost connection is a failure, never
 * replaced (db_connect).
 */
static enum db_status db_ready(struct db *db)
{
	if (db->conn != NULL && !db->in_transaction &&
	    db_closed_while_idle(db)) {
		db_set_error(db, "08006", PQerrorMessage(db->conn));
		log_info("the database closed the idle connection (%s); "
		         "reconnecting",
		    db->errmsg);
		db_lost(db);
	}
	return db_connect(db);
}

static int db_is_prepared(const struct db *db, const struct db_stmt *stmt)
{
	for (size_t i = 0; i < db->nprepared; i++) {
		if (db->prepared[i] == stmt)
			return 1;
	}
	return 0;
}

static enum db_status db_prepare(struct db *db, const struct db_stmt *stmt)
{
	enum db_status st = DB_OK;
	PGresult *r;

	if (db_is_prepared(db, stmt))
		return DB_OK;
	if (db->nprepared >= DB_PREPARED_MAX) {
		db_set_error(db, "", "too many prepared statements");
		return DB_ERROR;
	}
	r = PQprepare(db->conn, stmt->name, stmt->sql, stmt->nparams, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		st = db_fail(db, r);
		log_error("prepare %s failed: %s", stmt->name, db->errmsg);
	} else {
		db->prepared[db->nprepared++] = stmt;
	}
	PQclear(r);
	return st;
}

/*
 * A statement that writes was sent outside a transaction, and the
 * connection broke before its answer: it commits on its own, and may have
 * (its CommandComplete comes before its commit at Sync, the commit before
 * ReadyForQuery).  DB_UNKNOWN, as for a lost COMMIT.
 */
static enum db_status db_write_lost(struct db *db, const struct db_stmt *stmt)
{
	snprintf(db->sqlstate, sizeof(db->sqlstate), "08007");
	log_warn("connection lost with %s sent; whether it committed is "
	         "unknown: %s",
	    stmt->name, db->errmsg);
	return DB_UNKNOWN;
}

/*
 * Runs stmt once.  Sets *rerun when it failed because the connection was
 * found lost while the statement was being prepared, outside a
 * transaction: PREPARE changes nothing and the statement itself was never
 * sent, so it may run on a new connection.  Once it was sent, never: a
 * statement outside a transaction commits on its own, and the server may
 * have run it before it went (libpq's "server closed the connection
 * unexpectedly" comes after a FATAL 57P01 as well as after a crash); if it
 * writes, that is DB_UNKNOWN (db_write_lost).
 */
static PGresult *db_query_once(struct db *db, const struct db_stmt *stmt,
    const char *const *params, enum db_status *status, int *rerun)
{
	ExecStatusType est;
	unsigned long lost;
	PGresult *r;

	*rerun = 0;
	if ((*status = db_ready(db)) != DB_OK)
		return NULL;
	lost = db->lost;
	if ((*status = db_prepare(db, stmt)) != DB_OK) {
		*rerun = db->lost != lost && !db->in_transaction;
		return NULL;
	}
	r = PQexecPrepared(db->conn, stmt->name, stmt->nparams, params, NULL,
	    NULL, 0);
	est = PQresultStatus(r);
	if (est == PGRES_TUPLES_OK || est == PGRES_COMMAND_OK)
		return r;
	*status = db_fail(db, r);
	if (db->lost != lost && stmt->writes && !db->in_transaction)
		*status = db_write_lost(db, stmt);
	if (*status == DB_ERROR)
		log_error("%s failed: %s (SQLSTATE %s)", stmt->name, db->errmsg,
		    db->sqlstate);
	PQclear(r);
	return NULL;
}

/* db_query on this handle's own connection (see db.h). */
static PGresult *db_query_here(struct db *db, const struct db_stmt *stmt,
    const char *const *params, enum db_status *status)
{
	PGresult *r;
	int rerun;

	r = db_query_once(db, stmt, params, status, &rerun);
	if (r == NULL && rerun) {
		log_info("%s: the connection was lost before the statement "
		         "was sent; running it on a new one",
		    stmt->name);
		r = db_query_once(db, stmt, params, status, &rerun);
	}
	return r;
}

/* ---------------------------------------------------------------------
 * Read handles (db_options.primary): reads on a replica, everything else,
 * and every read the replica cannot serve now, on the primary.  Reads
 * only: running one again on the primary after it failed on the replica
 * changes nothing, so a replica's outage or lag costs a read one more
 * round trip at most, never an error (docs/scaling.md, "Read replicas").
 */

int64_t db_lag_estimate(const struct db_lag_sample *prev,
    const struct db_lag_sample *cur)
{
	int64_t since;

	if (cur->lag_ms <= 0 || prev == NULL || cur->replayed < prev->received)
		return cur->lag_ms;
	since = cur->at_ms - prev->at_ms;
	return since < cur->lag_ms ? since : cur->lag_ms;
}

int db_lag_acceptable(int64_t lag_ms, int max_lag_ms)
{
	/* Negative: the primary's clock is ahead of the standby's. */
	return max_lag_ms <= 0 || lag_ms <= (int64_t)max_lag_ms;
}

int64_t db_read_lag_ms(const struct db *db)
{
	return db->lag_ms;
}

/*
 * A read connection on a server that is not a standby (libpq's
 * prefer-standby found every standby down) is given up once it is
 * DB_READ_STANDBY_RETRY_MS old, so that the next read looks for a standby
 * again.  PostgreSQL 14+ reports in_hot_standby at connection and on
 * every change (a promotion), so this costs no round trip.
 */
static void db_read_seek_standby(struct db *db, int64_t now)
{
	const char *hot;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK ||
	    now - db->connected_ms < DB_READ_STANDBY_RETRY_MS)
		return;
	hot = PQparameterStatus(db->conn, "in_hot_standby");
	if (hot != NULL && strcmp(hot, "off") == 0) {
		log_info("the read connection (%s) is on a primary; "
		         "reconnecting to look for a standby",
		    db->application_name);
		db_disconnect(db);
	}
}

/* Takes one look at the lag (lag_stmt) into *s.  DB_OK or a failure. */
static enum db_status db_read_look(struct db *db, struct db_lag_sample *s)
{
	enum db_status st;
	PGresult *r;

	s->at_ms = clock_ms();
	if ((r = db_query_here(db, db->lag_stmt, NULL, &st)) == NULL)
		return st;
	if ((st = db_get_i64(r, 0, 0, &s->lag_ms)) == DB_OK &&
	    (st = db_get_i64(r, 0, 1, &s->received)) == DB_OK)
		st = db_get_i64(r, 0, 2, &s->replayed);
	PQclear(r);
	return st;
}

/*
 * Measures the replica's lag with lag_stmt when the last measure is older
 * than DB_READ_LAG_CHECK_MS (or was taken on an earlier connection).
 * Returns DB_EVENT_READ_REPLICA when the replica may serve, else the
 * reason the read goes to the primary.  A read served just before the
 * next check comes from a replica that lagged at most max_lag_ms when it
 * was measured: at most max_lag_ms + DB_READ_LAG_CHECK_MS now.
 */
static enum db_event db_read_check(struct db *db)
{
	int64_t now = clock_ms(), lag;
	struct db_lag_sample s;

	db_read_seek_standby(db, now);
	if (db->lag_stmt == NULL || db->max_lag_ms <= 0)
		return DB_EVENT_READ_REPLICA;
	if (db->conn != NULL && db->lag_ms >= 0 &&
	    now - db->lag_last.at_ms < DB_READ_LAG_CHECK_MS)
		return db->lagging ? DB_EVENT_READ_LAGGING
		                   : DB_EVENT_READ_REPLICA;
	if (db_read_look(db, &s) != DB_OK)
		return DB_EVENT_READ_FAILED;
	/* A connection replaced during the look (db_disconnect reset
	 * lag_ms) may be on another server: the earlier look says nothing. */
	lag = db_lag_estimate(db->lag_ms >= 0 ? &db->lag_last : NULL, &s);
	if (db->lagging == db_lag_acceptable(lag, db->max_lag_ms))
		log_info("the read replica lags %" PRId64 " ms: reads go to "
		         "the %s (database_read_max_lag is %d ms)",
		    lag, db->lagging ? "replica again" : "primary",
		    db->max_lag_ms);
	db->lag_ms = lag;
	db->lag_last = s;
	db->lagging = !db_lag_acceptable(lag, db->max_lag_ms);
	return db->lagging ? DB_EVENT_READ_LAGGING : DB_EVENT_READ_REPLICA;
}

/*
 * A read handle's db_query: a read outside a transaction runs on the
 * replica when db_read_check lets it, and again on the primary when it
 * fails there with anything but a timeout (which has had its
 * statement_timeout already): 40001 is a query canceled by a conflict
 * with recovery, 08xxx a standby gone, an error a schema the standby has
 * not replayed yet.
 */
static PGresult *db_read_query(struct db *db, const struct db_stmt *stmt,
    const char *const *params, enum db_status *status)
{
	enum db_event ev;
	PGresult *r;

	if (stmt->writes || db->primary->in_transaction)
		return db_query(db->primary, stmt, params, status);
	if ((ev = db_read_check(db)) == DB_EVENT_READ_REPLICA) {
		r = db_query_here(db, stmt, params, status);
		if (r != NULL || *status == DB_TIMEOUT) {
			db_event(db, DB_EVENT_READ_REPLICA);
			return r;
		}
		log_info("%s failed on the read replica (%s, SQLSTATE %s); "
		         "reading from the primary",
		    stmt->name, db->errmsg, db->sqlstate);
		ev = DB_EVENT_READ_FAILED;
	}
	db_event(db, ev);
	return db_query(db->primary, stmt, params, status);
}

PGresult *db_query(struct db *db, const struct db_stmt *stmt,
    const char *const *params, enum db_status *status)
{
	if (db->primary != NULL)
		return db_read_query(db, stmt, params, status);
	return db_query_here(db, stmt, params, status);
}

enum db_status db_command(struct db *db, const struct db_stmt *stmt,
    const char *const *params)
{
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, stmt, params, &st)) != NULL)
		PQclear(r);
	return st;
}

enum db_status db_exec(struct db *db, const char *sql)
{
	enum db_status st = DB_OK;
	ExecStatusType est;
	PGresult *r;

	if (db->primary != NULL) /* literal SQL may write */
		return db_exec(db->primary, sql);
	if ((st = db_ready(db)) != DB_OK)
		return st;
	r = PQexec(db->conn, sql);
	est = PQresultStatus(r);
	if (est != PGRES_COMMAND_OK && est != PGRES_TUPLES_OK)
		st = db_fail(db, r);
	PQclear(r);
	return st;
}

/* Ends a failed transaction; a broken connection has ended it already. */
static void db_rollback(struct db *db)
{
	PGresult *r;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return;
	if (PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	r = PQexec(db->conn, "ROLLBACK");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_error("ROLLBACK failed: %s", PQerrorMessage(db->conn));
		db_disconnect(db); /* never reuse a connection in doubt */
	}
	PQclear(r);
}

/* The connection broke with COMMIT on its way: DB_UNKNOWN. */
static enum db_status db_commit_lost(struct db *db)
{
	db_set_error(db, "08007", PQerrorMessage(db->conn));
	log_warn("connection lost during COMMIT; whether it committed is "
	         "unknown: %s",
	    db->errmsg);
	db_lost(db);
	return DB_UNKNOWN;
}

/*
 * COMMITs only a healthy transaction on the connection that began it: in an
 * aborted transaction PostgreSQL answers COMMIT with a successful ROLLBACK,
 * which must not be mistaken for success.  A connection that breaks once
 * COMMIT is on its way leaves the outcome unknown: the server may have
 * committed and lost only its answer (SQLSTATE 08007,
 * transaction_resolution_unknown).
 */
static enum db_status db_commit(struct db *db)
{
	enum db_status st = DB_OK;
	PGresult *r;

	if (db->conn == NULL ||
	    PQtransactionStatus(db->conn) != PQTRANS_INTRANS) {
		db_set_error(db, "", "transaction not committable");
		log_error("COMMIT refused: the transaction failed earlier");
		return DB_ERROR;
	}
	r = PQexec(db->conn, "COMMIT");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		st = db_in_doubt(db, r) ? db_commit_lost(db) : db_fail(db, r);
	PQclear(r);
	return st;
}

/*
 * BEGIN, sent once more on a new connection when it finds its connection
 * lost (closed after db_ready looked): BEGIN changes nothing, so nothing
 * of the transaction was sent yet.
 */
static enum db_status db_begin(struct db *db)
{
	unsigned long lost_before = db->lost;
	enum db_status st = db_exec(db, "BEGIN");

	if (st == DB_UNAVAILABLE && db->lost != lost_before) {
		log_info("BEGIN found the connection lost; beginning again");
		st = db_exec(db, "BEGIN");
	}
	return st;
}

static enum db_status db_transaction_once(struct db *db, db_tx_fn fn, void *arg)
{
	enum db_status st;

	if ((st = db_begin(db)) != DB_OK)
		return st;
	db->in_transaction = 1;
	db->rollback_only = 0;
	db->tail_commit = 0;
	db->committed = 0;
	st = fn(db, arg);
	if (!db->committed && st == DB_OK && !db->rollback_only)
		st = db_commit(db);
	if (!db->committed && (st != DB_OK || db->rollback_only))
		db_rollback(db);
	db->in_transaction = 0;
	db->rollback_only = 0;
	db->tail_commit = 0;
	db->committed = 0;
	return st;
}

enum db_status db_transaction(struct db *db, db_tx_fn fn, void *arg)
{
	struct retry retry;
	enum db_status st;

	if (db->primary != NULL) /* a read handle writes nothing */
		return db_transaction(db->primary, fn, arg);
	retry_init(&retry, db->retries, db->deadline_ms);
	while ((st = db_transaction_once(db, fn, arg)) == DB_RETRY &&
	    retry_again(&retry)) {
		db->retried++;
		db_event(db, DB_EVENT_RETRY);
		log_debug("transaction retry %d after SQLSTATE %s",
		    retry.attempt, db->sqlstate);
	}
	return st;
}

void db_set_rollback(struct db *db)
{
	db->rollback_only = 1;
}

void db_set_tail_commit(struct db *db, int allowed)
{
	db->tail_commit = allowed;
}

/* ---------------------------------------------------------------------
 * db_query_last: the last statements of a transaction and its COMMIT in
 * one round trip.  libpq's pipeline mode sends them (Bind/Execute each,
 * COMMIT through the extended protocol, which pipeline mode requires) and
 * one Sync; the server runs them in order and, after an error, skips the
 * rest up to the Sync, so a failed statement never lets COMMIT run.
 */

/* The results of a pipeline, as read back. */
struct db_pipe {
	size_t n; /* statements, COMMIT not counted */
	int commit; /* COMMIT sent after them */
	PGresult **results;
	enum db_status failed; /* the first statement error, or DB_OK */
	size_t failed_at;
	int lost; /* the connection broke before the Sync came back */
};

/* Queues the statements, COMMIT and the Sync.  0, or -1 (send failed). */
static int db_pipe_send(struct db *db, struct db_pipe *p,
    const struct db_stmt *const *stmts, const char *const *const *params)
{
	for (size_t i = 0; i < p->n; i++) {
		if (!PQsendQueryPrepared(db->conn, stmts[i]->name,
		        stmts[i]->nparams, params[i], NULL, NULL, 0))
			return -1;
	}
	if (p->commit &&
	    !PQsendQueryParams(db->conn, "COMMIT", 0, NULL, NULL, NULL, NULL,
	        0))
		return -1;
	return PQpipelineSync(db->conn) ? 0 : -1;
}

/* Keeps result r of query q (statement or COMMIT), or its error. */
static void db_pipe_take(struct db *db, struct db_pipe *p, size_t q,
    PGresult *r)
{
	ExecStatusType est = PQresultStatus(r);

	if ((est == PGRES_TUPLES_OK || est == PGRES_COMMAND_OK) && q < p->n) {
		p->results[q] = r;
		return;
	}
	if (est != PGRES_TUPLES_OK && est != PGRES_COMMAND_OK &&
	    est != PGRES_PIPELINE_ABORTED) {
		if (db_in_doubt(db, r))
			p->lost = 1;
		else if (p->failed == DB_OK) {
			db_set_error(db,
			    PQresultErrorField(r, PG_DIAG_SQLSTATE),
			    PQresultErrorMessage(r));
			p->failed = db_status_from_sqlstate(db->sqlstate);
			p->failed_at = q;
		}
	}
	PQclear(r);
}

/*
 * Reads every result up to the Sync: each query's results end with a NULL
 * from PQgetResult, the Sync with PGRES_PIPELINE_SYNC.  Stops early when
 * the connection breaks (p->lost).
 */
static void db_pipe_read(struct db *db, struct db_pipe *p)
{
	size_t q = 0, queries = p->n + (p->commit ? 1 : 0);
	PGresult *r;

	/* Bounded: a broken connection must not keep us here. */
	for (size_t guard = 0; guard < 4 * (queries + 2) && !p->lost; guard++) {
		if ((r = PQgetResult(db->conn)) == NULL) {
			if (PQstatus(db->conn) == CONNECTION_BAD)
				p->lost = 1;
			else if (q < queries)
				q++;
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return;
		}
		if (q < queries)
			db_pipe_take(db, p, q, r);
		else
			PQclear(r);
	}
	p->lost = 1;
}

/* Maps what the pipeline saw to a status; clears results on failure. */
static enum db_status db_pipe_status(struct db *db, struct db_pipe *p,
    const struct db_stmt *const *stmts)
{
	enum db_status st = DB_OK;

	if (p->lost && p->failed == DB_OK && p->commit)
		st = db_commit_lost(db);
	else if (p->lost) {
		if (p->failed == DB_OK)
			db_set_error(db, "08006", PQerrorMessage(db->conn));
		log_warn("database connection lost: %s", db->errmsg);
		db_lost(db);
		st = DB_UNAVAILABLE;
	} else if (p->failed != DB_OK) {
		st = p->failed;
		if (st == DB_ERROR)
			log_error("%s failed: %s (SQLSTATE %s)",
			    p->failed_at < p->n ? stmts[p->failed_at]->name
			                        : "COMMIT",
			    db->errmsg, db->sqlstate);
	}
	if (st != DB_OK) {
		for (size_t i = 0; i < p->n; i++) {
			PQclear(p->results[i]);
			p->results[i] = NULL;
		}
	}
	return st;
}

enum db_status db_query_last(struct db *db, size_t n,
    const struct db_stmt *const *stmts, const char *const *const *params,
    PGresult **results)
{
	struct db_pipe p = { .n = n, .results = results, .failed = DB_OK };
	enum db_status st;

	for (size_t i = 0; i < n; i++)
		results[i] = NULL;
	if (!db->in_transaction || n > DB_PIPELINE_MAX) {
		db_set_error(db, "", "db_query_last outside a transaction");
		log_error("%s", db->errmsg);
		return DB_ERROR;
	}
	if ((st = db_ready(db)) != DB_OK)
		return st;
	for (size_t i = 0; i < n; i++) {
		if ((st = db_prepare(db, stmts[i])) != DB_OK)
			return st;
	}
	p.commit = db->tail_commit && !db->rollback_only;
	if (!PQenterPipelineMode(db->conn)) {
		db_set_error(db, "", PQerrorMessage(db->conn));
		log_error("pipeline mode refused: %s", db->errmsg);
		return DB_ERROR;
	}
	if (db_pipe_send(db, &p, stmts, params) < 0)
		p.lost = 1; /* COMMIT may be out: unknown, as below */
	else
		db_pipe_read(db, &p);
	if (!p.lost && !PQexitPipelineMode(db->conn))
		p.lost = 1; /* results left unread: never reuse it */
	st = db_pipe_status(db, &p, stmts);
	if (st == DB_OK && p.commit) {
		db->committed = 1;
		db->in_transaction = 0;
	}
	return st;
}

void db_set_deadline(struct db *db, int64_t deadline_ms)
{
	db->deadline_ms = deadline_ms;
	db_set_error(db, "", "");
}

int64_t db_deadline(const struct db *db)
{
	return db->deadline_ms;
}

const char *db_param_i64(char buf[DB_I64_LEN], int64_t v)
{
	return num_format(buf, v);
}

enum db_status db_get_i64(const PGresult *r, int row, int col, int64_t *out)
{
	if (row < PQntuples(r) && col < PQnfields(r) &&
	    !PQgetisnull(r, row, col) &&
	    num_parse(PQgetvalue(r, row, col), INT64_MIN, INT64_MAX, out) == 0)
		return DB_OK;
	log_error("column %d (%s) of row %d is not an integer", col,
	    col < PQnfields(r) ? PQfname(r, col) : "missing", row);
	return DB_ERROR;
}

const char *db_errmsg(const struct db *db)
{
	return db->errmsg;
}

const char *db_sqlstate(const struct db *db)
{
	return db->sqlstate;
}

int db_backend_pid(const struct db *db)
{
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return 0;
	return PQbackendPID(db->conn);
}

unsigned long db_retry_count(const struct db *db)
{
	return db->retried;
}

enum db_status db_write_json_rows(const PGresult *r, struct json_writer *w,
    int64_t *n, int64_t *last_id)
{
	int rows = PQntuples(r);

	for (int i = 0; i < rows; i++)
		json_write_raw(w, PQgetvalue(r, i, 0),
		    (size_t)PQgetlength(r, i, 0));
	if (n == NULL)
		return DB_OK;
	*n = rows;
	return rows == 0 ? DB_OK : db_get_i64(r, rows - 1, 1, last_id);
}

enum db_status db_page(struct db *db, const struct db_stmt *stmt, int64_t owner,
    int64_t after, int64_t limit, struct json_writer *w, int64_t *n,
    int64_t *last_id)
{
	char owner_s[DB_I64_LEN], after_s[DB_I64_LEN], limit_s[DB_I64_LEN];
	const char *params[] = { db_param_i64(owner_s, owner),
		db_param_i64(after_s, after), db_param_i64(limit_s, limit) };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, stmt, params, &st)) == NULL)
		return st;
	st = db_write_json_rows(r, w, n, last_id);
	PQclear(r);
	return st;
}

int db_ping(struct db *db)
{
	return db_exec(db, "SELECT 1") == DB_OK;
}
