-- bench/pgbench/coupon-sharded-sold-out.sql: what a request that reaches
-- the database costs with coupon_strategy = sharded once the policy is sold
-- out, written out literally from src/coupon.c: the take that skips locked
-- shards (it finds no shard with a unit left) and the read that explains
-- the refusal; each statement its own transaction, as stockade runs them
-- without an Idempotency-Key.
--
-- Variables (pgbench -D): policy (a sold-out, split policy), u_lo, u_hi
-- (the users asking).
\set uid random(:u_lo, :u_hi)
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
SELECT p.total_quantity, (p.issued_quantity + COALESCE((SELECT sum(s.issued)
            FROM coupon_shards s WHERE s.policy_id = p.id), 0)),
        now() >= p.starts_at AND now() < p.ends_at, p.valid_days,
        EXISTS (SELECT 1 FROM user_coupons u WHERE u.policy_id = p.id
                AND u.user_id = :uid::bigint), p.shards
    FROM coupon_policies p WHERE p.id = :policy::bigint;
