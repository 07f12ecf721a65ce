-- sql/queries/order.sql: the statements of src/order.c, which places,
-- reads, pays, cancels and expires orders (scripts/embed-queries compiles
-- them in; see docs/architecture.md).

-- fragment: order_json
-- One order as JSON, items by option id (o is the orders row).
json_build_object('id', o.id, 'user_id', o.user_id,
  'status', o.status, 'total', o.total, 'expires_at', o.expires_at,
  'created_at', o.created_at, 'paid_at', o.paid_at,
  'coupon_id', o.coupon_id, 'discount', o.discount, 'items',
  (SELECT json_agg(json_build_object('option_id', i.option_id,
     'quantity', i.quantity, 'unit_price', i.unit_price)
     ORDER BY i.option_id) FROM order_items i WHERE i.order_id = o.id))::text

-- name: order_insert
-- The order, its items and its 'order' movements in one statement; the
-- stock itself was taken by stock_reserve just before.  $2 is the total,
-- $3 the reservation in ms, $4..$6 the items' option ids, quantities and
-- unit prices.
WITH o AS (INSERT INTO orders (user_id, status, total, expires_at)
           VALUES ($1::bigint, 'pending', $2::bigint,
                   now() + make_interval(secs => $3::bigint / 1000.0))
           RETURNING id),
     x AS (SELECT * FROM unnest($4::bigint[], $5::bigint[], $6::bigint[])
           AS x(option_id, quantity, unit_price)),
     i AS (INSERT INTO order_items (order_id, option_id, quantity,
           unit_price) SELECT o.id, x.option_id, x.quantity, x.unit_price
           FROM o, x),
     m AS (INSERT INTO stock_movements (option_id, delta, reason, order_id)
           SELECT x.option_id, -x.quantity, 'order', o.id FROM o, x)
SELECT id FROM o;

-- name: order_by_id
SELECT {{order_json}} FROM orders o
 WHERE o.id = $1::bigint AND o.user_id = $2::bigint;

-- name: order_by_last
-- The order order_insert has just inserted in this session, owned by user
-- $1, as order_by_id: sent in the same round trip as the insert
-- (src/order.c), before its id is known.  currval is the session's own;
-- the sub-select makes it one value the primary key's index can use.
SELECT {{order_json}} FROM orders o
 WHERE o.id = (SELECT currval(pg_get_serial_sequence('orders', 'id')))
   AND o.user_id = $1::bigint;

-- name: order_page
-- The user's orders below id $2, newest first: (order JSON, id).
SELECT {{order_json}}, o.id FROM orders o WHERE o.user_id = $1::bigint
   AND o.id < $2::bigint ORDER BY o.id DESC LIMIT $3::int;

-- name: order_lock
-- Every transition (pay, cancel) starts here, so transitions of one order
-- queue on its row lock.
SELECT status, total, expires_at > now() FROM orders
 WHERE id = $1::bigint AND user_id = $2::bigint FOR UPDATE;

-- name: order_set_status
-- Pays or cancels order $1 ($2 'paid' or 'canceled'), and appends what that
-- does to its products' sales (sql/008): a payment adds them at the
-- minute of paid_at; a paid order canceled takes them back at that same
-- minute (paid_at stays); a pending order canceled was never counted.
WITH o AS (UPDATE orders SET status = $2, updated_at = now(),
               paid_at = CASE WHEN $2 = 'paid' THEN now() ELSE paid_at END
            WHERE id = $1::bigint RETURNING id, paid_at,
                  CASE WHEN $2 = 'paid' THEN 1 ELSE -1 END AS sign)
INSERT INTO product_sales_recent (at, product_id, quantity, revenue)
SELECT date_trunc('minute', o.paid_at AT TIME ZONE 'UTC'), po.product_id,
       o.sign * sum(i.quantity), o.sign * sum(i.quantity * i.unit_price)
  FROM o JOIN order_items i ON i.order_id = o.id
  JOIN product_options po ON po.id = i.option_id
 WHERE o.paid_at IS NOT NULL
 GROUP BY 1, 2, o.sign;

-- name: order_points_used
SELECT amount FROM point_ledger WHERE order_id = $1::bigint
   AND kind = 'use';

-- name: order_pick_expired
-- The reaper's batch: SKIP LOCKED, so it never waits on a cancel or a
-- payment in progress.
SELECT id FROM orders WHERE status = 'pending' AND expires_at <= now()
 ORDER BY expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED;

-- name: order_mark_expired
UPDATE orders SET status = 'expired', updated_at = now()
 WHERE id = ANY($1::bigint[]) AND status = 'pending';
