-- bench/audit-data.sql: a large, consistent shop for timing `stockade audit`
-- (docs/operations.md, "Commands").  Every invariant of sql/audit.sql holds
-- in what it writes, so the audit finds nothing and has to read everything.
--
--     psql -X -v ON_ERROR_STOP=1 -v orders=200000 -f bench/audit-data.sql
--
-- into an empty, migrated database: 1,000 options, `orders` orders spread
-- over the last 30 days (60 % paid, 20 % canceled, 10 % expired, 10 %
-- pending; every other one with two lines), `users` users (default
-- 50,000) with a point account each (paid orders pay with points, canceled
-- ones were paid and refunded), and one coupon policy whose coupons the
-- first paid order of each user used.  Order i belongs to user 1 + i %
-- users.  t/test_audit.sh breaks a small one on purpose.
\if :{?orders}
\else
\set orders 200000
\endif
\if :{?users}
\else
\set users 50000
\endif

BEGIN;
INSERT INTO products (id, name) OVERRIDING SYSTEM VALUE
SELECT p, 'product ' || p FROM generate_series(1, 100) p;
INSERT INTO product_options (id, product_id, name, price, stock, created_at)
    OVERRIDING SYSTEM VALUE
SELECT o, (o - 1) / 10 + 1, 'option ' || o, 100 + o % 900, 0,
       now() - interval '31 days'
FROM generate_series(1, 1000) o;

CREATE TEMP TABLE g AS
SELECT i AS id, 1 + i % :users AS user_id,
       CASE WHEN i % 10 < 6 THEN 'paid' WHEN i % 10 < 8 THEN 'canceled'
            WHEN i % 10 = 8 THEN 'expired' ELSE 'pending' END AS status,
       now() - interval '30 days' * (:orders - i) / :orders AS at
FROM generate_series(1, :orders) i;

CREATE TEMP TABLE gi AS
SELECT g.id AS order_id, l.option_id, 1 + g.id % 3 AS quantity,
       100 + l.option_id % 900 AS unit_price
FROM g CROSS JOIN LATERAL (
    SELECT g.id % 500 + 1 AS option_id
    UNION ALL
    SELECT 501 + g.id % 500 WHERE g.id % 2 = 0) l;

-- The first paid order of each user uses that user's coupon.
INSERT INTO coupon_policies (id, name, discount_kind, discount_value,
    total_quantity, issued_quantity, starts_at, ends_at, valid_days)
    OVERRIDING SYSTEM VALUE
VALUES (1, 'welcome', 'amount', 50, 10000000, :users, now() - interval '31 days',
        now() + interval '1 day', 60);
INSERT INTO user_coupons (id, policy_id, user_id, issued_at, expires_at)
    OVERRIDING SYSTEM VALUE
SELECT u, 1, u, now() - interval '31 days', now() + interval '29 days'
FROM generate_series(1, :users) u;

INSERT INTO orders (id, user_id, status, total, expires_at, created_at,
    updated_at, paid_at, coupon_id, discount) OVERRIDING SYSTEM VALUE
SELECT g.id, g.user_id, g.status, t.total, g.at + interval '15 minutes',
       g.at, g.at + interval '1 minute',
       CASE WHEN g.status IN ('paid', 'canceled') THEN g.at + interval '1 minute' END,
       CASE WHEN c.used THEN g.user_id END,
       CASE WHEN c.used THEN 50 ELSE 0 END
FROM g
JOIN (SELECT order_id, sum(quantity * unit_price) AS total
      FROM gi GROUP BY order_id) t ON t.order_id = g.id
CROSS JOIN LATERAL (SELECT g.status = 'paid' AND g.id <= :users AS used) c;
INSERT INTO order_items SELECT * FROM gi;

UPDATE user_coupons c SET status = 'used', order_id = o.id, used_at = o.paid_at
FROM orders o WHERE o.coupon_id = c.id;

INSERT INTO stock_movements (option_id, delta, reason, order_id, created_at)
SELECT i.option_id, -i.quantity, 'order', i.order_id, g.at
FROM order_items i JOIN g ON g.id = i.order_id
UNION ALL
SELECT i.option_id, i.quantity,
       CASE g.status WHEN 'canceled' THEN 'cancel' ELSE 'expire' END,
       i.order_id, g.at + interval '1 minute'
FROM order_items i JOIN g ON g.id = i.order_id
WHERE g.status IN ('canceled', 'expired');
-- Each option starts with what was taken and never given back, plus 1000.
INSERT INTO stock_movements (option_id, delta, reason, created_at)
SELECT po.id, 1000 + COALESCE(-sum(m.delta), 0), 'initial',
       now() - interval '31 days'
FROM product_options po LEFT JOIN stock_movements m ON m.option_id = po.id
GROUP BY po.id;
UPDATE product_options SET stock = 1000;

INSERT INTO point_accounts (user_id, balance)
SELECT u, 0 FROM generate_series(1, :users) u;
INSERT INTO point_ledger (user_id, amount, kind, balance_after, created_at)
SELECT u, 100000000, 'charge', 100000000, now() - interval '31 days'
FROM generate_series(1, :users) u;
INSERT INTO point_ledger (user_id, amount, kind, order_id, balance_after,
    created_at)
SELECT o.user_id, -(o.total - o.discount), 'use', o.id, 0, o.paid_at
FROM orders o
WHERE o.status IN ('paid', 'canceled') AND o.total - o.discount > 0
UNION ALL
SELECT o.user_id, o.total - o.discount, 'refund', o.id, 0, o.updated_at
FROM orders o
WHERE o.status = 'canceled' AND o.total - o.discount > 0;
UPDATE point_accounts a SET balance = l.sum, updated_at = l.at
FROM (SELECT user_id, sum(amount) AS sum, max(created_at) AS at
      FROM point_ledger GROUP BY user_id) l
WHERE l.user_id = a.user_id;
-- The sales rollup of the paid orders (sql/008), as its backfill does.
INSERT INTO product_sales_bucket (span, at, product_id, quantity, revenue)
SELECT span, at, product_id, quantity, revenue FROM product_sales_of_orders
 ORDER BY 1, 2, 3;

SELECT setval(pg_get_serial_sequence('orders', 'id'), :orders),
       setval(pg_get_serial_sequence('products', 'id'), 100),
       setval(pg_get_serial_sequence('product_options', 'id'), 1000),
       setval(pg_get_serial_sequence('coupon_policies', 'id'), 1),
       setval(pg_get_serial_sequence('user_coupons', 'id'), :users);
COMMIT;
ANALYZE products, product_options, orders, order_items, stock_movements,
    point_accounts, point_ledger, coupon_policies, user_coupons, coupon_shards,
    product_sales_bucket;
