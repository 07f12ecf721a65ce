-- bench/pgbench/coupon-conditional.sql: the transaction of
-- POST /api/v1/coupons/ID/issue with coupon_strategy = conditional when a
-- coupon is left, written out literally from src/coupon.c
-- (coupon_take_conditional_stmt with COUPON_JSON), for
-- `pgbench -M prepared`: the guarded increment of issued_quantity and the
-- user's coupon in one statement, no read first (the UPDATE still takes
-- the policy row's lock until COMMIT).
--
-- Every transaction is for a new user: n is kept per client across
-- transactions (pgbench clients keep their variables), so user ids never
-- collide and UNIQUE (policy_id, user_id) never refuses one.
--
-- Variables (pgbench -D): policy (its id; total_quantity 10,000,000 so that
-- it never sells out during a run), valid_days (unused: the statement reads
-- the policy's own), n (0).
\set uid 1 + :client_id * 1000000000 + :n
\set n :n + 1
BEGIN;
WITH p AS (UPDATE coupon_policies SET issued_quantity =
        issued_quantity + 1 WHERE id = :policy::bigint AND shards = 0
        AND issued_quantity < total_quantity AND now() >= starts_at
        AND now() < ends_at RETURNING *),
    c AS (INSERT INTO user_coupons (policy_id, user_id, expires_at)
          SELECT p.id, :uid::bigint, now() + make_interval(days => p.valid_days)
          FROM p RETURNING *)
    SELECT json_build_object('id', c.id, 'policy_id', c.policy_id,
        'user_id', c.user_id, 'status', CASE WHEN c.status = 'available'
        AND c.expires_at <= now() THEN 'expired' ELSE c.status END,
        'issued_at', c.issued_at, 'expires_at', c.expires_at,
        'used_at', c.used_at, 'order_id', c.order_id,
        'discount_kind', p.discount_kind, 'discount_value', p.discount_value,
        'discount_cap', p.discount_cap)::text
    FROM c JOIN p ON p.id = c.policy_id;
COMMIT;
