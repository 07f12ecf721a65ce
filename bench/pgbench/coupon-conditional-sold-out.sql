-- bench/pgbench/coupon-conditional-sold-out.sql: what a request costs the
-- database when it reaches a sold-out policy with coupon_strategy =
-- conditional (the gate off, or bypassed): src/coupon.c's
-- coupon_take_conditional_stmt matches no row, coupon_explain_stmt reads
-- the policy without a lock to say why, and the transaction is rolled back
-- (DB_ABORT).
--
-- Variables (pgbench -D): policy (a sold-out policy's id), u_lo and u_hi
-- (the users drawn from).
\set uid random(:u_lo, :u_hi)
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
SELECT p.total_quantity, (p.issued_quantity + COALESCE((SELECT sum(s.issued)
            FROM coupon_shards s WHERE s.policy_id = p.id), 0)),
        now() >= p.starts_at AND now() < p.ends_at, p.valid_days,
        EXISTS (SELECT 1 FROM user_coupons u WHERE u.policy_id = p.id
                AND u.user_id = :uid::bigint), p.shards
    FROM coupon_policies p WHERE p.id = :policy::bigint;
ROLLBACK;
