-- bench/popular-data.sql: paid orders for timing GET /products/popular
-- (docs/benchmarks.md, "Popular products"): :orders orders (default
-- 1,000,000) paid at random over the last :days days (30), one line each
-- of 1-3 units of one of 1,000 options of 200 products (the popular ones
-- more often), and the sales rollup of sql/008 filled from them as its
-- backfill does.  Orders only: no stock movements or ledger rows, so the
-- audit is not clean on this database; for timing the read alone.
--     psql -X -v orders=1000000 -v days=30 -f bench/popular-data.sql
\if :{?orders}
\else
\set orders 1000000
\endif
\if :{?days}
\else
\set days 30
\endif
INSERT INTO products (name, description)
SELECT 'popular ' || g, '' FROM generate_series(1, 200) g;
INSERT INTO product_options (product_id, name, price, stock)
SELECT p.id, 'option ' || k, 100 + (p.id * 7 + k) % 900, 1000000
  FROM products p, generate_series(1, 5) k WHERE p.name LIKE 'popular %';
CREATE TEMP TABLE opts AS
SELECT row_number() OVER (ORDER BY id) AS n, id, price FROM product_options;
CREATE TEMP TABLE gen AS
SELECT g AS n, 1 + (random() * 9999)::int AS user_id,
       1 + floor(power(random(), 2) * (SELECT count(*) FROM opts))::int AS opt,
       1 + (random() * 2)::int AS q,
       now() - random() * make_interval(days => :days) AS paid_at
  FROM generate_series(1, :orders) g;
INSERT INTO orders (id, user_id, status, total, expires_at, created_at,
                    updated_at, paid_at)
OVERRIDING SYSTEM VALUE
SELECT g.n + 1000000000, g.user_id, 'paid', g.q * o.price, g.paid_at,
       g.paid_at, g.paid_at, g.paid_at
  FROM gen g JOIN opts o ON o.n = g.opt;
INSERT INTO order_items (order_id, option_id, quantity, unit_price)
SELECT g.n + 1000000000, o.id, g.q, o.price FROM gen g JOIN opts o ON o.n = g.opt;
-- Every paid order is in orders: the buckets are what they give.
INSERT INTO product_sales_bucket AS t (span, at, product_id, quantity, revenue)
SELECT span, at, product_id, quantity, revenue FROM product_sales_of_orders
 ORDER BY 1, 2, 3
ON CONFLICT (span, at, product_id) DO UPDATE
   SET quantity = excluded.quantity, revenue = excluded.revenue;
ANALYZE orders, order_items, products, product_options, product_sales_bucket, product_sales_recent;
