-- bench/pgbench/charge-optimistic.sql: the transaction of
-- POST /api/v1/points/charge {"amount":N} with point_strategy = optimistic,
-- written out literally from src/point.c (point_read_stmt, point_set_stmt),
-- for `pgbench -M prepared`.  stockade computes the new balance itself
-- (balance + amount, after checking it against max_balance) and passes
-- the version it read; here \gset and \set do that.  The ledger row's kind
-- ('charge') and order (NULL: a charge names no order) are parameters $5
-- and $6 in stockade, literals here.
--
-- pgbench cannot retry: when another transaction moved the version in
-- between, the UPDATE matches no row, the CTE inserts no ledger row and
-- the transaction commits having changed nothing (stockade would count a
-- point_conflicts and run it again).  bench/run counts those as the
-- transactions pgbench processed minus the ledger rows the point added.
--
-- Variables (pgbench -D): u_lo and u_hi (the accounts' user ids; equal for
-- the hot account), amount (the charge).
\set u random(:u_lo, :u_hi)
BEGIN;
SELECT balance, version FROM point_accounts WHERE user_id = :u::bigint \gset a_
\set next :a_balance + :amount
WITH a AS (UPDATE point_accounts SET balance = :next::bigint,
        version = version + 1, updated_at = now() WHERE user_id = :u::bigint
        AND (:a_version::bigint IS NULL OR version = :a_version::bigint) RETURNING balance)
    INSERT INTO point_ledger (user_id, amount, kind, order_id,
        balance_after) SELECT :u::bigint, :amount::bigint, 'charge', NULL::bigint, balance
    FROM a RETURNING balance_after;
COMMIT;
