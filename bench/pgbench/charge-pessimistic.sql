-- bench/pgbench/charge-pessimistic.sql: the transaction of
-- POST /api/v1/points/charge {"amount":N} with point_strategy = pessimistic,
-- written out literally from src/point.c (point_lock_stmt, point_set_stmt
-- with no version: $3 is NULL), for `pgbench -M prepared`.  stockade
-- computes the new balance itself (balance + amount, after checking it
-- against max_balance); here \gset and \set do that.  The ledger row's
-- kind ('charge') and order (NULL: a charge names no order) are
-- parameters $5 and $6 in stockade, literals here.  Writers of one account
-- queue on the row lock; nothing is ever retried.
--
-- Variables (pgbench -D): u_lo and u_hi (the accounts' user ids; equal for
-- the hot account), amount (the charge).
\set u random(:u_lo, :u_hi)
BEGIN;
SELECT balance, version FROM point_accounts WHERE user_id = :u::bigint FOR UPDATE \gset a_
\set next :a_balance + :amount
WITH a AS (UPDATE point_accounts SET balance = :next::bigint,
        version = version + 1, updated_at = now() WHERE user_id = :u::bigint
        AND (NULL::bigint IS NULL OR version = NULL::bigint) RETURNING balance)
    INSERT INTO point_ledger (user_id, amount, kind, order_id,
        balance_after) SELECT :u::bigint, :amount::bigint, 'charge', NULL::bigint, balance
    FROM a RETURNING balance_after;
COMMIT;
