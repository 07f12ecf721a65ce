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
-- the plan.
SELECT json_build_object('id', p.id, 'name', p.name,
         'quantity', s.quantity, 'revenue', s.revenue)::text
  FROM (SELECT o.product_id, sum(i.quantity) AS quantity,
               sum(i.quantity * i.unit_price) AS revenue
          FROM orders r JOIN order_items i ON i.order_id = r.id
          JOIN product_options o ON o.id = i.option_id
         WHERE r.status = 'paid'
           AND r.paid_at >= now() - make_interval(days => $1::int)
         GROUP BY o.product_id) s
  JOIN products p ON p.id = s.product_id
 ORDER BY s.quantity DESC, s.revenue DESC, p.id ASC LIMIT $2::int;

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
