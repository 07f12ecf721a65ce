-- sql/queries/replica.sql: how far a read replica (database_read_url) is
-- behind its primary, asked by src/db.c before it lets the replica serve
-- reads (database_read_max_lag; docs/scaling.md, "Read replicas").

-- name: replica_lag
-- Three bigints.  First the replica's lag in milliseconds as far as this
-- one look can tell: 0 on a server that is not in recovery (a primary, or
-- a promoted standby) and on a standby that streams and has replayed all
-- it received (nothing it knows of is missing); otherwise the age of the
-- last transaction it replayed, by the primary's commit clock: the data it
-- shows is at most that old, an overestimate when the primary had been
-- idle before the WAL not yet replayed (db.c's db_lag_estimate narrows it
-- with the previous look).  A standby that has replayed nothing yet, or
-- whose WAL receiver is gone, counts as far behind.  Then the WAL
-- positions received and replayed, in bytes (0 on a primary).
-- pg_stat_wal_receiver shows its row (the pid) to every role.
SELECT CASE
         WHEN NOT pg_is_in_recovery() THEN 0
         WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
              AND EXISTS (SELECT FROM pg_stat_wal_receiver) THEN 0
         ELSE COALESCE((extract(epoch FROM clock_timestamp()
                         - pg_last_xact_replay_timestamp()) * 1000)::bigint,
                       2147483647)
       END,
       COALESCE(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0'), 0)::bigint,
       COALESCE(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0)::bigint;
