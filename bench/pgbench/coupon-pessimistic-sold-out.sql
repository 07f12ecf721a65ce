-- bench/pgbench/coupon-pessimistic-sold-out.sql: what a request costs the
-- database when it reaches a sold-out policy with coupon_strategy =
-- pessimistic (the gate off, or bypassed): src/coupon.c's coupon_lock_stmt
-- finds issued_quantity = total_quantity and the transaction is rolled
-- back (DB_ABORT).  Refusals queue on the policy row's lock like issues,
-- but end without a commit, so no WAL flush.
--
-- Variables (pgbench -D): policy (a sold-out policy's id), u_lo and u_hi
-- (the users drawn from).
\set uid random(:u_lo, :u_hi)
BEGIN;
SELECT p.total_quantity, (p.issued_quantity + COALESCE((SELECT sum(s.issued)
            FROM coupon_shards s WHERE s.policy_id = p.id), 0)),
        now() >= p.starts_at AND now() < p.ends_at, p.valid_days,
        EXISTS (SELECT 1 FROM user_coupons u WHERE u.policy_id = p.id
                AND u.user_id = :uid::bigint), p.shards
    FROM coupon_policies p WHERE p.id = :policy::bigint FOR UPDATE OF p;
ROLLBACK;
