-- bench/pgbench/order-conditional.sql: the transaction of
-- POST /api/v1/orders with stock_strategy = conditional and one item of
-- quantity 1, written out literally from src/stock.c (stock_take) and
-- src/order.c (order_insert, order_by_id), for `pgbench -M prepared`.
-- stockade sends the id and quantity arrays as text parameters
-- ($1::bigint[]); here they are ARRAY[...]::bigint[].
--
-- Variables (pgbench -D): users (user ids are 1..users), opt_lo and opt_hi
-- (the option ids, contiguous), ttl_ms (reservation_ttl in milliseconds).
\set uid random(1, :users)
\set opt random(:opt_lo, :opt_hi)
BEGIN;
UPDATE product_options po SET stock = po.stock - x.q
    FROM unnest(ARRAY[:opt]::bigint[], ARRAY[1]::bigint[]) AS x(id, q)
    WHERE po.id = x.id AND po.stock >= x.q RETURNING po.id, po.price \gset p_
WITH o AS (INSERT INTO orders (user_id, status, total, expires_at)
        VALUES (:uid::bigint, 'pending', :p_price::bigint,
                now() + make_interval(secs => :ttl_ms::bigint / 1000.0))
        RETURNING id),
    x AS (SELECT * FROM unnest(ARRAY[:opt]::bigint[], ARRAY[1]::bigint[],
                               ARRAY[:p_price]::bigint[])
          AS x(option_id, quantity, unit_price)),
    i AS (INSERT INTO order_items (order_id, option_id, quantity, unit_price)
          SELECT o.id, x.option_id, x.quantity, x.unit_price FROM o, x),
    m AS (INSERT INTO stock_movements (option_id, delta, reason, order_id)
          SELECT x.option_id, -x.quantity, 'order', o.id FROM o, x)
    SELECT id FROM o \gset o_
SELECT json_build_object('id', o.id, 'user_id', o.user_id,
        'status', o.status, 'total', o.total, 'expires_at', o.expires_at,
        'created_at', o.created_at, 'paid_at', o.paid_at, 'items',
        (SELECT json_agg(json_build_object('option_id', i.option_id,
                'quantity', i.quantity, 'unit_price', i.unit_price)
                ORDER BY i.option_id)
         FROM order_items i WHERE i.order_id = o.id))::text
    FROM orders o WHERE o.id = :o_id::bigint AND o.user_id = :uid::bigint;
COMMIT;
