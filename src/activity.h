/*
 * activity: what a PostgreSQL backend is doing now, from pg_stat_activity
 * (sql/queries/activity.sql), for the slow request log (watchdog.h): its
 * state, the event it waits on (a lock, I/O, a client read) and the
 * statement it runs.
 */
#ifndef STOCKADE_ACTIVITY_H
#define STOCKADE_ACTIVITY_H

#include <stdint.h>

#include "db.h"

/*
 * pg_stat_activity's query text is cut at track_activity_query_size
 * (1024 bytes by default): so is ours.
 */
#define ACTIVITY_QUERY_MAX 1024

struct activity {
	char state[32]; /* "active", "idle in transaction", ... */
	char wait_event_type[32]; /* "Lock", "IO", "Client", ... or "" */
	char wait_event[64]; /* "transactionid", "relation", ... or "" */
	char query[ACTIVITY_QUERY_MAX]; /* as PostgreSQL has it, unescaped */
	int64_t query_ms; /* since the statement started */
};

/*
 * Reads what backend pid is doing into out, with db's connection.  Returns
 * DB_OK, DB_NOTFOUND when no backend has that pid (it is gone, or pid is
 * 0), or the failure of the query.
 */
enum db_status activity_of_backend(struct db *db, int pid,
    struct activity *out);

#endif
