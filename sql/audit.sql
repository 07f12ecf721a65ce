-- audit.sql: the invariants of docs/architecture.md as one query.  Every
-- row it returns is a broken invariant, named by `problem`; an empty result
-- is a healthy database.  The integration tests run it after every test;
-- operators can run it any time:  psql -X -f sql/audit.sql
--
-- 1. Stock: for every option, stock >= 0 and stock = the sum of its
--    movements (initial + restocks - reserved/sold + restored).
-- 2. Orders: every order's 'order' movements take exactly its items; a
--    canceled or expired order gave back exactly what it took, once, with
--    the matching reason; a pending or paid order gave nothing back; an
--    order's total is the sum of its lines.
-- 3. Coupons: for every policy, its coupons = issued_quantity (plus what
--    its shards issued, once split) <= total_quantity, one per user; each
--    shard issued exactly its coupons, and the shards hold what the row
--    did not issue before the split; a used coupon is used by a paid order
--    that names it, and a paid order that names a coupon has it used; a
--    discount never exceeds its order's total and needs a coupon.
-- 4. Points: for every account, balance >= 0 and balance = the sum of its
--    ledger; a paid order used its total less its discount exactly once;
--    an order that used points and was canceled got exactly that back;
--    nothing else did.

SELECT 'stock_differs_from_movements' AS problem, po.id AS subject,
       po.stock || ' in stock, movements sum to ' || COALESCE(sum(m.delta), 0)
           AS detail
FROM product_options po
LEFT JOIN stock_movements m ON m.option_id = po.id
GROUP BY po.id
HAVING po.stock <> COALESCE(sum(m.delta), 0) OR po.stock < 0

UNION ALL
SELECT 'order_line_movements_wrong', o.id,
       'option ' || i.option_id || ' (' || o.status || '): took '
           || COALESCE(mv.taken, 0) || ' of ' || i.quantity || ', gave back '
           || COALESCE(mv.given, 0) || ' in ' || mv.restores || ' movements'
FROM orders o
JOIN order_items i ON i.order_id = o.id
CROSS JOIN LATERAL (
    SELECT -sum(m.delta) FILTER (WHERE m.reason = 'order') AS taken,
           sum(m.delta) FILTER (WHERE m.reason IN ('cancel', 'expire')) AS given,
           count(*) FILTER (WHERE m.reason IN ('cancel', 'expire')) AS restores
    FROM stock_movements m
    WHERE m.order_id = o.id AND m.option_id = i.option_id) mv
WHERE mv.taken IS DISTINCT FROM i.quantity
   OR (o.status IN ('canceled', 'expired')
       AND (mv.given IS DISTINCT FROM i.quantity OR mv.restores <> 1))
   OR (o.status IN ('pending', 'paid') AND mv.restores <> 0)

UNION ALL
SELECT 'restore_reason_mismatch', m.id,
       m.reason || ' movement for a ' || o.status || ' order ' || o.id
FROM stock_movements m
JOIN orders o ON o.id = m.order_id
WHERE (m.reason = 'cancel' AND o.status <> 'canceled')
   OR (m.reason = 'expire' AND o.status <> 'expired')

UNION ALL
SELECT 'movement_for_option_not_in_order', m.id,
       'order ' || m.order_id || ' option ' || m.option_id
FROM stock_movements m
WHERE m.order_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM order_items i
                  WHERE i.order_id = m.order_id AND i.option_id = m.option_id)

UNION ALL
SELECT 'order_total_differs', o.id,
       o.total || ' <> ' || COALESCE(s.total, 0)
FROM orders o
LEFT JOIN (SELECT order_id, sum(quantity * unit_price) AS total
           FROM order_items GROUP BY order_id) s ON s.order_id = o.id
WHERE o.total <> COALESCE(s.total, 0) OR s.order_id IS NULL

UNION ALL
SELECT 'balance_differs_from_ledger', a.user_id,
       a.balance || ' balance, ledger sums to ' || COALESCE(sum(l.amount), 0)
FROM point_accounts a
LEFT JOIN point_ledger l ON l.user_id = a.user_id
GROUP BY a.user_id
HAVING a.balance <> COALESCE(sum(l.amount), 0) OR a.balance < 0

UNION ALL
SELECT 'order_points_wrong', o.id,
       o.status || ' order of ' || o.total || ': used ' || COALESCE(p.used, 0)
           || ' in ' || p.uses || ' rows, refunded ' || COALESCE(p.refunded, 0)
           || ' in ' || p.refunds || ' rows'
FROM orders o
-- The ledger grouped once and joined, not a subquery per order: no index
-- covers point_ledger.order_id for every kind, and a per-order scan kept
-- this audit running for over ten minutes (then cancelled) on a
-- benchmark's 230,000 orders and 120,000 ledger rows.
LEFT JOIN (
    SELECT l.order_id,
           -sum(l.amount) FILTER (WHERE l.kind = 'use') AS used,
           count(*) FILTER (WHERE l.kind = 'use') AS uses,
           sum(l.amount) FILTER (WHERE l.kind = 'refund') AS refunded,
           count(*) FILTER (WHERE l.kind = 'refund') AS refunds
    FROM point_ledger l WHERE l.order_id IS NOT NULL
    GROUP BY l.order_id) g ON g.order_id = o.id
CROSS JOIN LATERAL (
    SELECT g.used, COALESCE(g.uses, 0) AS uses, g.refunded,
           COALESCE(g.refunds, 0) AS refunds) p
WHERE (o.status = 'paid' AND o.total - o.discount > 0
       AND (p.uses <> 1 OR p.used <> o.total - o.discount
            OR p.refunds <> 0))
   OR (o.status = 'paid' AND o.total - o.discount = 0 AND p.uses <> 0)
   OR (o.status IN ('pending', 'expired') AND (p.uses + p.refunds) <> 0)
   OR (o.status = 'canceled'
       AND (p.uses <> p.refunds OR p.used IS DISTINCT FROM p.refunded))
   OR (p.uses > 0 AND p.used <> o.total - o.discount)

UNION ALL
SELECT 'ledger_row_of_another_user', l.id,
       'order ' || l.order_id || ' belongs to user ' || o.user_id
FROM point_ledger l
JOIN orders o ON o.id = l.order_id
WHERE o.user_id <> l.user_id

UNION ALL
SELECT 'coupon_count_differs', p.id,
       p.issued_quantity || ' issued from the row and '
           || COALESCE(sh.issued, 0) || ' from shards, of '
           || p.total_quantity || '; ' || COALESCE(c.n, 0) || ' coupons ('
           || COALESCE(c.from_row, 0) || ' from the row)'
FROM coupon_policies p
LEFT JOIN (SELECT policy_id, count(*) AS n,
                  count(*) FILTER (WHERE shard IS NULL) AS from_row
           FROM user_coupons GROUP BY policy_id) c ON c.policy_id = p.id
LEFT JOIN (SELECT policy_id, sum(issued) AS issued, sum(total) AS total,
                  count(*) AS shards
           FROM coupon_shards GROUP BY policy_id) sh ON sh.policy_id = p.id
WHERE p.issued_quantity + COALESCE(sh.issued, 0) <> COALESCE(c.n, 0)
   OR p.issued_quantity <> COALESCE(c.from_row, 0)
   OR p.issued_quantity + COALESCE(sh.issued, 0) > p.total_quantity
   OR p.shards <> COALESCE(sh.shards, 0)
   OR (p.shards > 0 AND p.issued_quantity + sh.total <> p.total_quantity)

UNION ALL
SELECT 'coupon_shard_count_differs', s.policy_id,
       'shard ' || s.shard || ': ' || s.issued || ' issued of ' || s.total
           || ', ' || count(c.id) || ' coupons'
FROM coupon_shards s
LEFT JOIN user_coupons c ON c.policy_id = s.policy_id AND c.shard = s.shard
GROUP BY s.policy_id, s.shard, s.issued, s.total
HAVING count(c.id) <> s.issued

UNION ALL
SELECT 'coupon_twice_for_user', min(c.id),
       'policy ' || c.policy_id || ' user ' || c.user_id || ': '
           || count(*) || ' coupons'
FROM user_coupons c
GROUP BY c.policy_id, c.user_id
HAVING count(*) > 1

UNION ALL
SELECT 'coupon_use_mismatch', c.id,
       c.status || ' coupon, order ' || COALESCE(c.order_id::text, 'none')
           || ' is ' || COALESCE(o.status, 'missing') || ' naming coupon '
           || COALESCE(o.coupon_id::text, 'none')
FROM user_coupons c
LEFT JOIN orders o ON o.id = c.order_id
WHERE c.status = 'used'
  AND (o.id IS NULL OR o.status <> 'paid' OR o.coupon_id IS DISTINCT FROM c.id
       OR o.user_id <> c.user_id)

UNION ALL
SELECT 'paid_order_coupon_not_used', o.id,
       'paid with coupon ' || o.coupon_id || ', which is ' || c.status
           || ' by order ' || COALESCE(c.order_id::text, 'none')
FROM orders o
JOIN user_coupons c ON c.id = o.coupon_id
WHERE o.status = 'paid'
  AND (c.status <> 'used' OR c.order_id IS DISTINCT FROM o.id)

UNION ALL
SELECT 'order_discount_wrong', o.id,
       'discount ' || o.discount || ' on ' || o.total || ', coupon '
           || COALESCE(o.coupon_id::text, 'none')
FROM orders o
WHERE o.discount < 0 OR o.discount > o.total
   OR (o.discount > 0 AND o.coupon_id IS NULL);
