-- bench/pgbench/coupon-sharded.sql: what POST /api/v1/coupons/ID/issue
-- runs with coupon_strategy = sharded when a coupon is left and no
-- Idempotency-Key is sent, written out literally from src/coupon.c
-- (COUPON_TAKE_SHARD(" SKIP LOCKED") with COUPON_JSON): one statement, its
-- own transaction (no BEGIN/COMMIT: stockade sends none either), taking a
-- unit from a shard no other transaction holds, starting at user_id % 16.
-- The policy must have been split (a policy created through the API while
-- stockade runs with coupon_strategy = sharded is).
--
-- Every transaction is for a new user: n is kept per client across
-- transactions, so user ids never collide.
--
-- Variables (pgbench -D): policy (its id; total_quantity 10,000,000 so that
-- it never sells out during a run), valid_days (unused), n (0).
\set uid 1 + :client_id * 1000000000 + :n
\set n :n + 1
\set start :uid % 16
WITH s AS (SELECT x.policy_id, x.shard FROM coupon_shards x
           JOIN coupon_policies p ON p.id = x.policy_id
          WHERE x.policy_id = :policy::bigint AND x.issued < x.total
            AND now() >= p.starts_at AND now() < p.ends_at
          ORDER BY (x.shard + :start::int) % 64 LIMIT 1 FOR UPDATE OF x SKIP LOCKED),
    u AS (UPDATE coupon_shards x SET issued = x.issued + 1 FROM s
          WHERE x.policy_id = s.policy_id AND x.shard = s.shard
          RETURNING x.shard),
    c AS (INSERT INTO user_coupons (policy_id, user_id, shard, expires_at)
          SELECT p.id, :uid::bigint, u.shard,
                 now() + make_interval(days => p.valid_days) FROM u
          JOIN coupon_policies p ON p.id = :policy::bigint RETURNING *)
    SELECT json_build_object('id', c.id, 'policy_id', c.policy_id,
        'user_id', c.user_id, 'status', CASE WHEN c.status = 'available'
        AND c.expires_at <= now() THEN 'expired' ELSE c.status END,
        'issued_at', c.issued_at, 'expires_at', c.expires_at,
        'used_at', c.used_at, 'order_id', c.order_id,
        'discount_kind', p.discount_kind, 'discount_value', p.discount_value,
        'discount_cap', p.discount_cap)::text
    FROM c JOIN coupon_policies p ON p.id = c.policy_id;
