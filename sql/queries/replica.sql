-- sql/queries/replica.sql: how far a read replica (database_read_url) is
-- behind its primary, asked by src/db.c before it lets the replica serve
-- reads (database_read_max_lag; docs/scaling.md, "Read replicas").

-- name: replica_lag_ms
-- The replica's lag in milliseconds: 0 on a server that is not in recovery
-- (a primary, or a promoted standby) and on a standby that streams and has
-- replayed all it received (nothing it knows of is missing); otherwise the
-- age of the last transaction it replayed, by the primary's commit clock,
-- which with replay behind is how old the data it shows may be (an
-- overestimate after the primary sat idle).  A standby that has replayed
-- nothing yet, or whose WAL receiver is gone, counts as far behind.
-- pg_stat_wal_receiver shows its row (the pid) to every role.
SELECT CASE
         WHEN NOT pg_is_in_recovery() THEN 0
         WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
              AND EXISTS (SELECT FROM pg_stat_wal_receiver) THEN 0
         ELSE COALESCE((extract(epoch FROM clock_timestamp()
                         - pg_last_xact_replay_timestamp()) * 1000)::bigint,
                       2147483647)
       END;
