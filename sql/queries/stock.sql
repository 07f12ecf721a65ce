-- sql/queries/stock.sql: the statements of src/stock.c, which takes the
-- units of an order's options and gives them back (scripts/embed-queries
-- compiles them in; see docs/architecture.md).  $1 is always an array of
-- option ids (or of order ids), ascending.

-- name: stock_lock
-- Pessimistic: lock the options in ascending id order, then look.
SELECT id, price, stock FROM product_options
 WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE;

-- name: stock_deduct
-- Pessimistic, after stock_lock found enough of every option.
UPDATE product_options po SET stock = po.stock - x.q
  FROM unnest($1::bigint[], $2::bigint[]) AS x(id, q)
 WHERE po.id = x.id;

-- name: stock_take
-- Conditional: one statement that only touches options with enough stock;
-- fewer rows than options means some option was short or unknown.  The
-- rows are locked in ascending id order first (l: ORDER BY is applied
-- before FOR UPDATE, and a locking CTE is run on its own): an UPDATE
-- locks rows in whatever order its plan visits them, and the generic
-- plan of this statement (a hash join over a sequential scan) visits them
-- in their physical order, so two orders crossing the same options could
-- deadlock.  The lock's recheck keeps the condition: an option whose
-- stock fell below q meanwhile is not in l, so it is not taken.
WITH x AS (SELECT id, q FROM unnest($1::bigint[], $2::bigint[]) AS x(id, q)),
     l AS (SELECT po.id FROM product_options po JOIN x ON po.id = x.id
            WHERE po.stock >= x.q ORDER BY po.id FOR UPDATE OF po)
UPDATE product_options po SET stock = po.stock - x.q
  FROM x JOIN l ON l.id = x.id
 WHERE po.id = x.id AND po.stock >= x.q RETURNING po.id, po.price;

-- name: stock_peek
-- Conditional, after a short stock_take: which option, and how many left.
SELECT id, price, stock FROM product_options
 WHERE id = ANY($1::bigint[]) ORDER BY id;

-- name: stock_lock_orders
-- The options of the orders $1, locked in ascending id order (a restore).
SELECT id FROM product_options WHERE id IN (SELECT option_id
  FROM order_items WHERE order_id = ANY($1::bigint[]))
 ORDER BY id FOR UPDATE;

-- name: stock_give_back
-- Every unit of the orders $1 back to stock, with a movement per item
-- whose reason is $2 ('cancel' or 'expire').
WITH s AS (SELECT option_id, sum(quantity) AS q FROM order_items
            WHERE order_id = ANY($1::bigint[]) GROUP BY option_id),
     u AS (UPDATE product_options po SET stock = po.stock + s.q FROM s
            WHERE po.id = s.option_id)
INSERT INTO stock_movements (option_id, delta, reason, order_id)
SELECT option_id, quantity, $2, order_id FROM order_items
 WHERE order_id = ANY($1::bigint[]);
