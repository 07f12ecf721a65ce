-- audit.sql: the invariants of docs/architecture.md as one query.  Every
-- row it returns is a broken invariant: `problem` names it, `subject` the
-- row ("order 17", "option 3"), `detail` what was expected and what was
-- found.  An empty result is a healthy database.  `stockade audit` runs it
-- (compiled in, with --since bound to :'since'); so can psql, with the
-- same effect:
--
--     psql -X -f sql/audit.sql                        every row
--     psql -X -v since='2026-12-01' -f sql/audit.sql  recent rows only
--
-- The integration tests run it after every test, bench/run after every
-- scenario.
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
-- 5. Sales rollup (sql/008): for every span of product_sales_span (a
--    minute to a week), product and bucket of that span, the bucket in
--    product_sales_bucket plus the rows not compacted yet that fall in it
--    = the items of its paid orders, by paid_at (UTC).
--
-- :'since' (default -infinity: everything) narrows the audit to what
-- changed since then, so that it stays fast on a large database: orders
-- updated since (with their lines, movements, ledger rows and coupons),
-- options that such an order or a newer restock touched or that are newer,
-- accounts updated since, and policies still open since (a policy issues
-- only inside its window).  A narrowed check still reads each subject whole:
-- an option's stock is compared with all of its movements.  Every order
-- check is written as a join grouped by order, not as a subquery grouped
-- over a whole table, so that the planner can take the few recent orders
-- through their indexes, or all of them with hash joins.
\if :{?since}
\else
\set since -infinity
\endif

-- The per-subject totals (stock, balance) are summed per subject in a
-- LATERAL, not joined and grouped over the whole table: each is then an
-- index-only scan of the subject's own rows (sql/009), so a narrowed audit
-- reads the history of the subjects in view and nothing else.
SELECT 'stock_differs_from_movements' AS problem, 'option ' || po.id AS subject,
       'stock ' || po.stock || ', movements sum to ' || m.total AS detail
FROM product_options po
CROSS JOIN LATERAL (SELECT COALESCE(sum(delta), 0) AS total
                    FROM stock_movements WHERE option_id = po.id) m
WHERE (:'since'::timestamptz = '-infinity'
   OR po.created_at >= :'since'::timestamptz
   OR po.id IN (SELECT i.option_id
                FROM orders o JOIN order_items i ON i.order_id = o.id
                WHERE o.updated_at >= :'since'::timestamptz)
   OR po.id IN (SELECT r.option_id FROM stock_movements r
                WHERE r.order_id IS NULL
                  AND r.created_at >= :'since'::timestamptz))
  AND (po.stock <> m.total OR po.stock < 0)

UNION ALL
SELECT 'order_line_movements_wrong', 'order ' || o.id,
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
WHERE o.updated_at >= :'since'::timestamptz
  AND (mv.taken IS DISTINCT FROM i.quantity
       OR (o.status IN ('canceled', 'expired')
           AND (mv.given IS DISTINCT FROM i.quantity OR mv.restores <> 1))
       OR (o.status IN ('pending', 'paid') AND mv.restores <> 0))

UNION ALL
SELECT 'restore_reason_mismatch', 'movement ' || m.id,
       m.reason || ' movement for a ' || o.status || ' order ' || o.id
FROM stock_movements m
JOIN orders o ON o.id = m.order_id
WHERE o.updated_at >= :'since'::timestamptz
  AND ((m.reason = 'cancel' AND o.status <> 'canceled')
       OR (m.reason = 'expire' AND o.status <> 'expired'))

UNION ALL
SELECT 'movement_for_option_not_in_order', 'movement ' || m.id,
       'order ' || m.order_id || ' has no line of option ' || m.option_id
FROM stock_movements m
JOIN orders o ON o.id = m.order_id
WHERE o.updated_at >= :'since'::timestamptz
  AND NOT EXISTS (SELECT 1 FROM order_items i
                  WHERE i.order_id = m.order_id AND i.option_id = m.option_id)

UNION ALL
SELECT 'order_total_differs', 'order ' || o.id,
       'total ' || o.total || ', ' || count(i.order_id) || ' lines sum to '
           || COALESCE(sum(i.quantity * i.unit_price), 0)
FROM orders o
LEFT JOIN order_items i ON i.order_id = o.id
WHERE o.updated_at >= :'since'::timestamptz
GROUP BY o.id
HAVING o.total <> COALESCE(sum(i.quantity * i.unit_price), 0)
    OR count(i.order_id) = 0

UNION ALL
SELECT 'balance_differs_from_ledger', 'account ' || a.user_id,
       'balance ' || a.balance || ', ledger sums to ' || l.total
FROM point_accounts a
CROSS JOIN LATERAL (SELECT COALESCE(sum(amount), 0) AS total
                    FROM point_ledger WHERE user_id = a.user_id) l
WHERE a.updated_at >= :'since'::timestamptz
  AND (a.balance <> l.total OR a.balance < 0)

UNION ALL
SELECT 'order_points_wrong', 'order ' || o.id,
       o.status || ' order of ' || o.total || ' less ' || o.discount
           || ': used ' || COALESCE(p.used, 0) || ' in ' || p.uses
           || ' rows, refunded ' || COALESCE(p.refunded, 0) || ' in '
           || p.refunds || ' rows'
FROM orders o
-- The ledger rows of the orders in view grouped once and joined, not a
-- subquery per order: a per-order scan kept this audit running for over
-- ten minutes on 230,000 orders.  Only uses and refunds name an order (a
-- CHECK); point_ledger_order finds those of a few recent orders.
LEFT JOIN (
    SELECT l.order_id,
           -sum(l.amount) FILTER (WHERE l.kind = 'use') AS used,
           count(*) FILTER (WHERE l.kind = 'use') AS uses,
           sum(l.amount) FILTER (WHERE l.kind = 'refund') AS refunded,
           count(*) FILTER (WHERE l.kind = 'refund') AS refunds
    FROM point_ledger l
    WHERE l.order_id IN (SELECT id FROM orders
                         WHERE updated_at >= :'since'::timestamptz)
    GROUP BY l.order_id) g ON g.order_id = o.id
CROSS JOIN LATERAL (
    SELECT g.used, COALESCE(g.uses, 0) AS uses, g.refunded,
           COALESCE(g.refunds, 0) AS refunds) p
WHERE o.updated_at >= :'since'::timestamptz
  AND ((o.status = 'paid' AND o.total - o.discount > 0
        AND (p.uses <> 1 OR p.used <> o.total - o.discount
             OR p.refunds <> 0))
       OR (o.status = 'paid' AND o.total - o.discount = 0 AND p.uses <> 0)
       OR (o.status IN ('pending', 'expired') AND (p.uses + p.refunds) <> 0)
       OR (o.status = 'canceled'
           AND (p.uses <> p.refunds OR p.used IS DISTINCT FROM p.refunded))
       OR (p.uses > 0 AND p.used <> o.total - o.discount))

UNION ALL
SELECT 'ledger_row_of_another_user', 'ledger row ' || l.id,
       'user ' || l.user_id || ', but order ' || l.order_id
           || ' belongs to user ' || o.user_id
FROM orders o
JOIN point_ledger l ON l.order_id = o.id
WHERE o.updated_at >= :'since'::timestamptz AND o.user_id <> l.user_id

UNION ALL
SELECT 'coupon_count_differs', 'policy ' || p.id,
       p.issued_quantity || ' issued from the row and '
           || COALESCE(sh.issued, 0) || ' from shards, of '
           || p.total_quantity || '; ' || c.n || ' coupons ('
           || c.from_row || ' from the row)'
FROM coupon_policies p
CROSS JOIN LATERAL (SELECT count(*) AS n,
                           count(*) FILTER (WHERE shard IS NULL) AS from_row
                    FROM user_coupons WHERE policy_id = p.id) c
LEFT JOIN (SELECT policy_id, sum(issued) AS issued, sum(total) AS total,
                  count(*) AS shards
           FROM coupon_shards GROUP BY policy_id) sh ON sh.policy_id = p.id
WHERE p.ends_at >= :'since'::timestamptz
  AND (p.issued_quantity + COALESCE(sh.issued, 0) <> c.n
       OR p.issued_quantity <> c.from_row
       OR p.issued_quantity + COALESCE(sh.issued, 0) > p.total_quantity
       OR p.shards <> COALESCE(sh.shards, 0)
       OR (p.shards > 0 AND p.issued_quantity + sh.total <> p.total_quantity))

UNION ALL
SELECT 'coupon_shard_count_differs', 'policy ' || s.policy_id,
       'shard ' || s.shard || ': ' || s.issued || ' issued of ' || s.total
           || ', ' || count(c.id) || ' coupons'
FROM coupon_shards s
JOIN coupon_policies p ON p.id = s.policy_id
LEFT JOIN user_coupons c ON c.policy_id = s.policy_id AND c.shard = s.shard
WHERE p.ends_at >= :'since'::timestamptz
GROUP BY s.policy_id, s.shard, s.issued, s.total
HAVING count(c.id) <> s.issued

UNION ALL
SELECT 'coupon_twice_for_user', 'coupon ' || min(c.id),
       'policy ' || c.policy_id || ' user ' || c.user_id || ': '
           || count(*) || ' coupons, not 1'
FROM user_coupons c
JOIN coupon_policies p ON p.id = c.policy_id
WHERE p.ends_at >= :'since'::timestamptz
GROUP BY c.policy_id, c.user_id
HAVING count(*) > 1

UNION ALL
SELECT 'coupon_use_mismatch', 'coupon ' || c.id,
       c.status || ' coupon of user ' || c.user_id || ', order '
           || COALESCE(c.order_id::text, 'none') || ' is '
           || COALESCE(o.status, 'missing') || ' naming coupon '
           || COALESCE(o.coupon_id::text, 'none')
FROM user_coupons c
LEFT JOIN orders o ON o.id = c.order_id
WHERE c.status = 'used'
  AND (o.id IS NULL OR o.status <> 'paid' OR o.coupon_id IS DISTINCT FROM c.id
       OR o.user_id <> c.user_id)
  AND (:'since'::timestamptz = '-infinity'
       OR o.updated_at >= :'since'::timestamptz)

UNION ALL
SELECT 'paid_order_coupon_not_used', 'order ' || o.id,
       'paid with coupon ' || o.coupon_id || ', which is ' || c.status
           || ' by order ' || COALESCE(c.order_id::text, 'none')
FROM orders o
JOIN user_coupons c ON c.id = o.coupon_id
WHERE o.updated_at >= :'since'::timestamptz AND o.status = 'paid'
  AND (c.status <> 'used' OR c.order_id IS DISTINCT FROM o.id)

UNION ALL
SELECT 'order_discount_wrong', 'order ' || o.id,
       'discount ' || o.discount || ' on a total of ' || o.total
           || ', coupon ' || COALESCE(o.coupon_id::text, 'none')
FROM orders o
WHERE o.updated_at >= :'since'::timestamptz
  AND (o.discount < 0 OR o.discount > o.total
       OR (o.discount > 0 AND o.coupon_id IS NULL))

UNION ALL
SELECT 'sales_rollup_differs', 'product ' || COALESCE(a.product_id, b.product_id)
           || ' ' || n.name || ' ' || COALESCE(a.at, b.at),
       'paid orders ' || COALESCE(b.quantity, 0) || ' units, '
           || COALESCE(b.revenue, 0) || ' revenue; rollup '
           || COALESCE(a.quantity, 0) || ' units, '
           || COALESCE(a.revenue, 0) || ' revenue'
FROM (SELECT span, at, product_id, sum(quantity) AS quantity,
             sum(revenue) AS revenue
        FROM (SELECT span, at, product_id, quantity, revenue
                FROM product_sales_bucket
              UNION ALL
              SELECT s.span, date_bin(s.span, r.at, product_sales_origin()),
                     r.product_id, r.quantity, r.revenue
                FROM product_sales_recent r CROSS JOIN product_sales_span s) x
       GROUP BY span, at, product_id) a
-- The orders summed by minute once, then the minutes by every span (008).
FULL JOIN product_sales_of_orders b
  ON b.span = a.span AND b.at = a.at AND b.product_id = a.product_id
JOIN product_sales_span n ON n.span = COALESCE(a.span, b.span)
WHERE :'since'::timestamptz = '-infinity'
  AND (a.quantity IS DISTINCT FROM b.quantity
       OR a.revenue IS DISTINCT FROM b.revenue)
  AND (b.quantity IS NOT NULL OR a.quantity <> 0 OR a.revenue <> 0);
