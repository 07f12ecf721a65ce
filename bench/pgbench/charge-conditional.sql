-- bench/pgbench/charge-conditional.sql: the transaction of
-- POST /api/v1/points/charge {"amount":N} with point_strategy = conditional,
-- written out literally from src/point.c (point_add_stmt), for
-- `pgbench -M prepared`: one guarded UPDATE and its ledger row in one
-- statement, no read first.  The ledger row's kind ('charge') and order
-- (NULL: a charge names no order) are parameters $4 and $5 in stockade,
-- literals here.  (stockade reads the account only when the UPDATE matched
-- nothing, to explain a refusal; a charge far below max_balance never
-- does.)
--
-- Variables (pgbench -D): u_lo and u_hi (the accounts' user ids; equal for
-- the hot account), amount (the charge), max_balance (stockade's
-- max_balance).
\set u random(:u_lo, :u_hi)
BEGIN;
WITH a AS (UPDATE point_accounts SET balance = balance + :amount::bigint,
        version = version + 1, updated_at = now() WHERE user_id = :u::bigint
        AND balance + :amount::bigint BETWEEN 0 AND :max_balance::bigint RETURNING balance)
    INSERT INTO point_ledger (user_id, amount, kind, order_id,
        balance_after) SELECT :u::bigint, :amount::bigint, 'charge', NULL::bigint, balance
    FROM a RETURNING balance_after;
COMMIT;
