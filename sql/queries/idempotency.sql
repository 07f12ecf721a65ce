-- sql/queries/idempotency.sql: the statements of src/idempotency.c
-- (scripts/embed-queries compiles them in; see docs/architecture.md).

-- name: idempotency_lookup
-- The key's transaction-scoped advisory lock, taken without waiting, and
-- the answer stored under the key, if any.
SELECT l.locked, k.request_hash, k.status, k.body
  FROM (SELECT pg_try_advisory_xact_lock(
               hashtextextended($1::text || ':' || $2, 0)) AS locked) l
  LEFT JOIN idempotency_keys k ON k.user_id = $1::bigint AND k.key = $2;

-- name: idempotency_get
-- The answer stored under the key, read again once its lock is ours, in a
-- statement (and so, at READ COMMITTED, a snapshot) of its own: a twin that
-- committed after idempotency_lookup's snapshot was taken and before its
-- lock was is seen here (src/idempotency.c).
SELECT request_hash, status, body FROM idempotency_keys
 WHERE user_id = $1::bigint AND key = $2;

-- name: idempotency_store
INSERT INTO idempotency_keys (user_id, key, request_hash, status, body)
VALUES ($1::bigint, $2, $3, $4::int, $5);

-- name: idempotency_purge
DELETE FROM idempotency_keys
 WHERE created_at < now() - make_interval(secs => $1::bigint / 1000.0);
