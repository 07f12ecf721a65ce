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
-- the plan.  Read from the sales rollup (sql/007), exactly: t0 is where
-- the window starts and h0 the UTC hour holding it, d0 the first whole
-- day after h0.  Orders paid in [t0, h0 + 1 hour) come from orders; the
-- hours from h0 + 1 hour to d0 from product_sales_hour; the days from d0
-- on from product_sales_day; and the rows not compacted yet from
-- product_sales_recent (by hour).  Paid orders only count (a product
-- whose sales were all refunded is not listed, as before).  The first
-- hour's orders are an array of ids, so that their items are found by
-- the primary key whatever the planner guesses of the hour's size.
WITH w AS (SELECT t0, date_trunc('hour', t0 AT TIME ZONE 'UTC') AS h0,
                  date_trunc('day', t0 AT TIME ZONE 'UTC')
                      + interval '1 day' AS d0
             FROM (SELECT now() - make_interval(days => $1::int) AS t0) t),
     x AS (SELECT h.product_id, h.quantity, h.revenue
             FROM w, product_sales_hour h
            WHERE h.hour > w.h0 AND h.hour < w.d0
           UNION ALL
           SELECT d.product_id, d.quantity, d.revenue
             FROM w, product_sales_day d WHERE d.day >= w.d0
           UNION ALL
           SELECT r.product_id, r.quantity, r.revenue
             FROM w, product_sales_recent r WHERE r.hour > w.h0
           UNION ALL
           SELECT o.product_id, i.quantity, i.quantity * i.unit_price
             FROM order_items i JOIN product_options o ON o.id = i.option_id
            WHERE i.order_id = ANY (ARRAY(
                    SELECT r.id FROM w, orders r
                     WHERE r.status = 'paid' AND r.paid_at >= w.t0
                       AND r.paid_at < (w.h0 + interval '1 hour')
                                       AT TIME ZONE 'UTC'))),
     s AS (SELECT product_id, sum(quantity) AS quantity,
                  sum(revenue) AS revenue
             FROM x GROUP BY product_id HAVING sum(quantity) > 0)
SELECT json_build_object('id', p.id, 'name', p.name,
         'quantity', s.quantity, 'revenue', s.revenue)::text
  FROM s JOIN products p ON p.id = s.product_id
 ORDER BY s.quantity DESC, s.revenue DESC, p.id ASC LIMIT $2::int;

-- name: product_sales_compact
-- The reaper: at most $1 of the oldest uncompacted sales rows moved into
-- the hourly and daily rollups, in one statement (a reader sees them in
-- one place or the other, never both or neither).  A row still being
-- written is not visible here and waits for the next round.
WITH d AS (DELETE FROM product_sales_recent WHERE id IN
               (SELECT id FROM product_sales_recent ORDER BY id
                 LIMIT $1::int)
           RETURNING hour, product_id, quantity, revenue),
     h AS (INSERT INTO product_sales_hour AS t
           SELECT hour, product_id, sum(quantity), sum(revenue) FROM d
            GROUP BY 1, 2
           ON CONFLICT (hour, product_id) DO UPDATE
              SET quantity = t.quantity + excluded.quantity,
                  revenue = t.revenue + excluded.revenue),
     y AS (INSERT INTO product_sales_day AS t
           SELECT date_trunc('day', hour), product_id, sum(quantity),
                  sum(revenue) FROM d GROUP BY 1, 2
           ON CONFLICT (day, product_id) DO UPDATE
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
