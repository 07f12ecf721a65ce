-- sql/queries/activity.sql: what a PostgreSQL backend is doing, read from
-- pg_stat_activity by src/activity.c for the slow request log
-- (slow_request, src/watchdog.c).

-- name: activity_of_backend
-- Backend $1's state, the event it waits on, its statement (the last one
-- when it is idle) and how long that statement has run, in milliseconds;
-- no row when the backend is gone.  The query text shows only to the same
-- role as the backend's (or to pg_read_all_stats): the reaper connects as
-- the workers do.
SELECT COALESCE(state, ''), COALESCE(wait_event_type, ''),
       COALESCE(wait_event, ''), COALESCE(query, ''),
       COALESCE((extract(epoch FROM clock_timestamp() - query_start)
                 * 1000)::bigint, 0)
  FROM pg_stat_activity WHERE pid = $1::int;
