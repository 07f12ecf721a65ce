-- sql/queries/point.sql: the statements of src/point.c, which moves point
-- balances and writes their ledger (scripts/embed-queries compiles them
-- in; see docs/architecture.md).  Every change of a balance inserts its
-- ledger row in the same statement.

-- name: point_read
SELECT balance, version FROM point_accounts WHERE user_id = $1::bigint;

-- name: point_lock
SELECT balance, version FROM point_accounts WHERE user_id = $1::bigint
   FOR UPDATE;

-- name: point_open
-- A missing account, created on first use; waits for a concurrent
-- creator instead of failing.
INSERT INTO point_accounts (user_id) VALUES ($1::bigint)
    ON CONFLICT DO NOTHING;

-- name: point_set
-- Sets the balance to $2; with a version ($3 not NULL) only if it still
-- matches.  Returns the ledger row's balance_after, or no row.
WITH a AS (UPDATE point_accounts SET balance = $2::bigint,
                  version = version + 1, updated_at = now()
            WHERE user_id = $1::bigint
              AND ($3::bigint IS NULL OR version = $3::bigint)
           RETURNING balance)
INSERT INTO point_ledger (user_id, amount, kind, order_id, balance_after)
SELECT $1::bigint, $4::bigint, $5, $6::bigint, balance
  FROM a RETURNING balance_after;

-- name: point_add
-- Adds $2 when the balance stays within [0, $3].  Returns the ledger
-- row's balance_after, or no row.
WITH a AS (UPDATE point_accounts SET balance = balance + $2::bigint,
                  version = version + 1, updated_at = now()
            WHERE user_id = $1::bigint
              AND balance + $2::bigint BETWEEN 0 AND $3::bigint
           RETURNING balance)
INSERT INTO point_ledger (user_id, amount, kind, order_id, balance_after)
SELECT $1::bigint, $2::bigint, $4, $5::bigint, balance
  FROM a RETURNING balance_after;

-- name: point_history
-- The user's ledger below id $2, newest first: (entry JSON, id).
SELECT json_build_object('id', id, 'amount', amount, 'kind', kind,
         'order_id', order_id, 'balance_after', balance_after,
         'created_at', created_at)::text, id
  FROM point_ledger
 WHERE user_id = $1::bigint AND id < $2::bigint
 ORDER BY id DESC LIMIT $3::int;
