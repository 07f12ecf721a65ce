-- sql/queries/product.sql: the statements of src/product.c, the catalogue
-- (scripts/embed-queries compiles them in; see docs/architecture.md).
-- Answers are assembled by PostgreSQL and passed through.

-- fragment: product_json
-- One product as JSON, options ordered by id (p is the products row).
json_build_object('id', p.id, 'name', p.name,
  'description', p.description, 'created_at', p.created_at,
  'options', COALESCE((SELECT json_agg(json_build_object(
     'id', o.id, 'name', o.name, 'price', o.price, 'stock', o.stock)
     ORDER BY o.id) FROM product_options o WHERE o.product_id = p.id),
   '[]'))::text

-- name: product_page
-- Products above id $1, ascending: (product JSON, id).
SELECT {{product_json}}, p.id FROM products p WHERE p.id > $1::bigint
 ORDER BY p.id LIMIT $2::int;

-- name: product_by_id
SELECT {{product_json}} FROM products p WHERE p.id = $1::bigint;

-- name: product_popular
-- Best sellers: quantity in orders paid within the last $1 days; ties
-- broken by revenue, then by product id, so the order never depends on
-- the plan.  Read from the sales rollup (sql/008), exactly: t0 is where
-- the window starts (t its UTC time).  For each span of
-- product_sales_span, the buckets from the end of t's bucket of that span
-- (lo) to the end of t's bucket of the next span (hi; the longest span has
-- no end); the rows not compacted yet from the end of t's minute on; and,
-- from orders, those paid in [t0, the end of t's minute).  Paid orders
-- only count (a product whose sales were all refunded is not listed, as
-- before).  The buckets are a LATERAL subquery kept apart by OFFSET 0, so
-- that each span's are one range of the primary key whatever the planner
-- guesses (joined, the bounds computed from the span made it hash-join
-- every bucket: 1 s at 10^6 orders); the first minute's orders are an
-- array of ids, so that their items are found by the primary key.
WITH w AS (SELECT t0, t0 AT TIME ZONE 'UTC' AS t
             FROM (SELECT now() - make_interval(days => $1::int) AS t0) x),
     l AS (SELECT s.span,
                  date_bin(s.span, w.t, product_sales_origin()) + s.span
                      AS lo,
                  coalesce(date_bin(s.next, w.t, product_sales_origin())
                           + s.next, 'infinity') AS hi
             FROM w, product_sales_span s),
     m AS (SELECT date_trunc('minute', w.t) + interval '1 minute' AS lo
             FROM w),
     x AS (SELECT b.product_id, b.quantity, b.revenue
             FROM l CROSS JOIN LATERAL (
                    SELECT b.product_id, b.quantity, b.revenue
                      FROM product_sales_bucket b
                     WHERE b.span = l.span AND b.at >= l.lo
                       AND b.at < l.hi OFFSET 0) b
           UNION ALL
           SELECT r.product_id, r.quantity, r.revenue
             FROM m, product_sales_recent r WHERE r.at >= m.lo
           UNION ALL
           SELECT o.product_id, i.quantity, i.quantity * i.unit_price
             FROM order_items i JOIN product_options o ON o.id = i.option_id
            WHERE i.order_id = ANY (ARRAY(
                    SELECT r.id FROM w, m, orders r
                     WHERE r.status = 'paid' AND r.paid_at >= w.t0
                       AND r.paid_at < m.lo AT TIME ZONE 'UTC'))),
     s AS (SELECT product_id, sum(quantity) AS quantity,
                  sum(revenue) AS revenue
             FROM x GROUP BY product_id HAVING sum(quantity) > 0)
SELECT json_build_object('id', p.id, 'name', p.name,
         'quantity', s.quantity, 'revenue', s.revenue)::text
  FROM s JOIN products p ON p.id = s.product_id
 ORDER BY s.quantity DESC, s.revenue DESC, p.id ASC LIMIT $2::int;

-- name: product_sales_compact
-- The reaper: at most $1 of the oldest uncompacted sales rows added to
-- their bucket of every span (sql/008), in one statement (a reader sees
-- them in one place or the other, never both or neither).  A row still
-- being written is not visible here and waits for the next round.
WITH d AS (DELETE FROM product_sales_recent WHERE id IN
               (SELECT id FROM product_sales_recent ORDER BY id
                 LIMIT $1::int)
           RETURNING at, product_id, quantity, revenue),
     b AS (INSERT INTO product_sales_bucket AS t
           SELECT s.span, date_bin(s.span, d.at, product_sales_origin()),
                  d.product_id, sum(d.quantity), sum(d.revenue)
             FROM d CROSS JOIN product_sales_span s
            GROUP BY 1, 2, 3
           ON CONFLICT (span, at, product_id) DO UPDATE
              SET quantity = t.quantity + excluded.quantity,
                  revenue = t.revenue + excluded.revenue)
SELECT count(*) FROM d;

-- name: product_insert
-- A product, its options in the order given, and one 'initial' movement
-- per option with stock, in one statement (options arrive as JSON).
WITH p AS (INSERT INTO products (name, description)
           VALUES ($1, $2) RETURNING id),
     o AS (INSERT INTO product_options (product_id, name, price, stock)
           SELECT p.id, x.name, x.price, x.stock FROM p,
                  ROWS FROM (jsonb_to_recordset($3::jsonb)
                    AS (name text, price bigint, stock bigint))
                  WITH ORDINALITY AS x(name, price, stock, n)
            ORDER BY x.n
           RETURNING id, stock),
     m AS (INSERT INTO stock_movements (option_id, delta, reason)
           SELECT id, stock, 'initial' FROM o WHERE stock > 0)
SELECT id FROM p;

-- name: product_restock
-- Adds $2 to option $1 unless that takes it past $3, with its movement,
-- in one statement.  No row: no such option, or past the cap.
WITH o AS (UPDATE product_options SET stock = stock + $2::bigint
            WHERE id = $1::bigint AND stock + $2::bigint <= $3::bigint
           RETURNING id, product_id, name, price, stock),
     m AS (INSERT INTO stock_movements (option_id, delta, reason)
           SELECT id, $2::bigint, 'restock' FROM o)
SELECT json_build_object('id', id, 'product_id', product_id,
         'name', name, 'price', price, 'stock', stock)::text FROM o;

-- name: product_option_exists
SELECT 1 FROM product_options WHERE id = $1::bigint;
