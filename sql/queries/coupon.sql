-- sql/queries/coupon.sql: the statements of src/coupon.c (policies, using,
-- giving back and expiring a coupon), the page of the caller's coupons
-- (which src/api_coupon.c hands to page_serve_own), and the JSON shapes of
-- a policy and of a coupon, which sql/queries/coupon_issue.sql shares
-- (scripts/embed-queries compiles them in; see docs/coupons.md).

-- fragment: coupon_json
-- A user's coupon as JSON; c is user_coupons, p its policy.  An available
-- coupon past expires_at shows as expired before the reaper marks it.
json_build_object('id', c.id, 'policy_id', c.policy_id,
    'user_id', c.user_id, 'status', CASE WHEN c.status = 'available'
    AND c.expires_at <= now() THEN 'expired' ELSE c.status END,
    'issued_at', c.issued_at, 'expires_at', c.expires_at,
    'used_at', c.used_at, 'order_id', c.order_id,
    'discount_kind', p.discount_kind, 'discount_value', p.discount_value,
    'discount_cap', p.discount_cap)::text

-- fragment: policy_issued
-- What a policy p has issued: from its row, and from its shards if split
-- (coupon_strategy = sharded, sql/005_coupon_shards.sql).
(p.issued_quantity + COALESCE((SELECT sum(s.issued)
    FROM coupon_shards s WHERE s.policy_id = p.id), 0))

-- fragment: policy_json
-- A policy p as JSON.
json_build_object('id', p.id, 'name', p.name,
    'discount_kind', p.discount_kind, 'discount_value', p.discount_value,
    'discount_cap', p.discount_cap, 'total_quantity', p.total_quantity,
    'issued_quantity', {{policy_issued}},
    'remaining', p.total_quantity - {{policy_issued}},
    'starts_at', p.starts_at, 'ends_at', p.ends_at,
    'valid_days', p.valid_days, 'created_at', p.created_at)::text

-- name: coupon_create
-- $1 name, $2 discount_kind, $3 value, $4 cap (NULL: none), $5 total,
-- $6 starts_at, $7 ends_at (NULL: the defaults), $8 valid_days.  The
-- window defaults to [now, starts_at + 30 days); a window that is empty or
-- already over inserts nothing, which the caller answers 400.
WITH w AS (SELECT COALESCE($6::timestamptz, now()) AS s,
                  COALESCE($7::timestamptz, COALESCE($6::timestamptz, now()) +
                  interval '30 days') AS e),
     p AS (INSERT INTO coupon_policies (name, discount_kind,
               discount_value, discount_cap, total_quantity, starts_at, ends_at,
               valid_days)
           SELECT $1, $2, $3::bigint, $4::bigint, $5::bigint, w.s,
                  w.e, $8::int FROM w WHERE w.e > w.s AND w.e > now() RETURNING *)
SELECT {{policy_json}}, p.id FROM p;

-- name: coupon_get
SELECT {{policy_json}} FROM coupon_policies p WHERE p.id = $1::bigint;

-- name: coupon_page
-- One page of user $1's coupons, newest first, ids below $2, at most $3
-- (page_serve_own).
SELECT {{coupon_json}}, c.id FROM user_coupons c
  JOIN coupon_policies p ON p.id = c.policy_id
 WHERE c.user_id = $1::bigint AND c.id < $2::bigint
 ORDER BY c.id DESC LIMIT $3::int;

-- name: coupon_lock_for_use
-- Coupon $1 of user $2, locked: usable now?, percent?, value, cap (0: none).
SELECT c.status = 'available' AND c.expires_at > now(),
       p.discount_kind = 'percent', p.discount_value,
       COALESCE(p.discount_cap, 0) FROM user_coupons c
  JOIN coupon_policies p ON p.id = c.policy_id
 WHERE c.id = $1::bigint AND c.user_id = $2::bigint FOR UPDATE OF c;

-- name: coupon_apply
-- Coupon $1 used by order $2, which records it and its discount $3.
WITH c AS (UPDATE user_coupons SET status = 'used', used_at = now(),
               order_id = $2::bigint WHERE id = $1::bigint)
UPDATE orders SET coupon_id = $1::bigint, discount = $3::bigint
 WHERE id = $2::bigint;

-- name: coupon_give_back
UPDATE user_coupons SET status = 'available', used_at = NULL,
       order_id = NULL WHERE order_id = $1::bigint;

-- name: coupon_expire
-- Up to $1 available coupons past expires_at marked expired; one being used
-- right now (locked) is left for the next round.
WITH e AS (SELECT id FROM user_coupons WHERE status = 'available'
              AND expires_at <= now() ORDER BY expires_at LIMIT $1::int
              FOR UPDATE SKIP LOCKED)
UPDATE user_coupons u SET status = 'expired' FROM e WHERE u.id = e.id;
