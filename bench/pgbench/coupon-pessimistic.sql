-- bench/pgbench/coupon-pessimistic.sql: the transaction of
-- POST /api/v1/coupons/ID/issue with coupon_strategy = pessimistic when a
-- coupon is left, written out literally from src/coupon.c (coupon_lock_stmt,
-- then coupon_take_stmt with COUPON_JSON), for `pgbench -M prepared`: the
-- policy row locked FOR UPDATE (every issue of one policy queues here),
-- then the user's coupon inserted and issued_quantity incremented in one
-- statement.  stockade passes the valid_days it read under the lock as $3;
-- here it is the variable valid_days, the policy's (30).  The policy is
-- never split into shards here (coupon_strategy = sharded does that), so
-- the read's sum over coupon_shards is 0 and the take is coupon_take_stmt.
--
-- Every transaction is for a new user: n is kept per client across
-- transactions (pgbench clients keep their variables), so user ids never
-- collide and UNIQUE (policy_id, user_id) never refuses one.
--
-- Variables (pgbench -D): policy (its id; total_quantity 10,000,000 so that
-- it never sells out during a run), valid_days, n (0).
\set uid 1 + :client_id * 1000000000 + :n
\set n :n + 1
BEGIN;
SELECT p.total_quantity, (p.issued_quantity + COALESCE((SELECT sum(s.issued)
            FROM coupon_shards s WHERE s.policy_id = p.id), 0)),
        now() >= p.starts_at AND now() < p.ends_at, p.valid_days,
        EXISTS (SELECT 1 FROM user_coupons u WHERE u.policy_id = p.id
                AND u.user_id = :uid::bigint), p.shards
    FROM coupon_policies p WHERE p.id = :policy::bigint FOR UPDATE OF p;
WITH c AS (INSERT INTO user_coupons (policy_id, user_id, expires_at)
        VALUES (:policy::bigint, :uid::bigint,
                now() + make_interval(days => :valid_days::int)) RETURNING *),
    n AS (UPDATE coupon_policies SET issued_quantity = issued_quantity + 1
          WHERE id = :policy::bigint)
    SELECT json_build_object('id', c.id, 'policy_id', c.policy_id,
        'user_id', c.user_id, 'status', CASE WHEN c.status = 'available'
        AND c.expires_at <= now() THEN 'expired' ELSE c.status END,
        'issued_at', c.issued_at, 'expires_at', c.expires_at,
        'used_at', c.used_at, 'order_id', c.order_id,
        'discount_kind', p.discount_kind, 'discount_value', p.discount_value,
        'discount_cap', p.discount_cap)::text
    FROM c JOIN coupon_policies p ON p.id = c.policy_id;
COMMIT;
