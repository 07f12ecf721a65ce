-- bench/growth-data.sql: a shop that grows, for the growth scenario of
-- bench/run (bench/scenarios/growth.sh; issue 17, target 5).  Every
-- invariant of sql/audit.sql holds in what it writes, so `stockade audit`
-- is clean and has to read everything.
--
--     psql -X -v ON_ERROR_STOP=1 -v setup=1 -v t0=T -f bench/growth-data.sql
--     psql -X -v ON_ERROR_STOP=1 -v lo=LO -v hi=HI -v top=TOP -v t0=T \
--          -f bench/growth-data.sql
--
-- as a superuser, into an empty, migrated database.  The first writes the
-- catalogue (100 products of 10 options, ids 1-100 and 1-1,000, 1,000,000
-- units each, one 'initial' movement each) and 1,000 point accounts (users
-- 1-1,000); the second writes paid orders LO+1..HI of a shop whose newest
-- order is TOP, paid at T: one order every 26 s (about 3,300 a day, 138 an
-- hour), order i created at T - (TOP - i) * 26 s and paid a minute later.
-- Loading the newest orders first (HI = TOP), then older ones below them,
-- grows the shop backwards in time: at every size the last hour and the
-- last 30 days hold the same orders, and ids still follow time, as they
-- would in a shop that has run for longer.  10,000,000 orders span 8 years.
--
-- Order i belongs to user 1 + i % 1000 and has one line of option
-- 1 + floor(((i * 7919) % 1000)^2 / 1000) (the low ids sell more), and a second of
-- the option 500 further when i is even, of 1 + i % 3 units each, at the
-- option's price.  Each order takes its units with an 'order' movement and
-- pays its total with a 'use' ledger row (id 2i); each batch first
-- restocks every option by what the batch takes and charges every user
-- what the batch uses (ledger id 2(LO + u) - 1, just below the user's first
-- order of the batch), so stock and balances stay as the setup left them.
-- The sales rollup of sql/008 gets the batch's sales, as its backfill
-- would.
--
-- session_replication_role = replica skips the foreign keys' triggers
-- while loading (every reference is made to exist by construction, and the
-- audit checks the rest); the indexes are the migrations' own, maintained
-- as rows arrive.  Nothing is read back from the orders table: every row of
-- a batch is computed from generate_series.
\if :{?setup}
\else
\set setup 0
\endif
\if :{?t0}
\else
\set t0 now
\endif

SET session_replication_role = replica;
SET work_mem = '256MB';
SET maintenance_work_mem = '512MB';

\if :setup
BEGIN;
INSERT INTO products (id, name, created_at) OVERRIDING SYSTEM VALUE
SELECT p, 'growth ' || p, :'t0'::timestamptz - interval '10 years'
  FROM generate_series(1, 100) p;
INSERT INTO product_options (id, product_id, name, price, stock, created_at)
    OVERRIDING SYSTEM VALUE
SELECT o, (o - 1) / 10 + 1, 'option ' || o, 100 + o % 900, 1000000,
       :'t0'::timestamptz - interval '10 years'
  FROM generate_series(1, 1000) o;
INSERT INTO stock_movements (option_id, delta, reason, created_at)
SELECT o, 1000000, 'initial', :'t0'::timestamptz - interval '10 years'
  FROM generate_series(1, 1000) o;
INSERT INTO point_accounts (user_id, balance, created_at, updated_at)
SELECT u, 0, :'t0'::timestamptz - interval '10 years',
       :'t0'::timestamptz - interval '10 years'
  FROM generate_series(1, 1000) u;
SELECT setval(pg_get_serial_sequence('products', 'id'), 100),
       setval(pg_get_serial_sequence('product_options', 'id'), 1000);
COMMIT;
\else

BEGIN;
-- The batch's orders (i, its user, its options a and b (NULL: one line),
-- the units of each line, when it was created) and their lines.  Views,
-- so that each statement below computes them again from generate_series
-- instead of writing them to disk once more.
CREATE TEMP VIEW growth_orders AS
SELECT i, 1 + i % 1000 AS user_id, f.a,
       CASE WHEN i % 2 = 0 THEN 1 + (f.a + 499) % 1000 END AS b,
       1 + i % 3 AS quantity,
       :'t0'::timestamptz - (:top - i) * interval '26 s' AS at
  FROM generate_series(:lo + 1, :hi) i
 CROSS JOIN LATERAL (SELECT 1 + ((i::bigint * 7919) % 1000) ^ 2 / 1000 AS x) r
 CROSS JOIN LATERAL (SELECT floor(r.x)::bigint AS a) f;
CREATE TEMP VIEW growth_lines AS
SELECT o.i, o.user_id, l.option_id, o.quantity,
       100 + l.option_id % 900 AS unit_price, o.at
  FROM growth_orders o
 CROSS JOIN LATERAL (SELECT o.a AS option_id
                     UNION ALL
                     SELECT o.b WHERE o.b IS NOT NULL) l;

-- Restocks and charges come first: a minute before the batch's first
-- order.
INSERT INTO stock_movements (option_id, delta, reason, created_at)
SELECT option_id, sum(quantity), 'restock',
       :'t0'::timestamptz - (:top - :lo) * interval '26 s'
  FROM growth_lines GROUP BY option_id;
INSERT INTO point_ledger (id, user_id, amount, kind, balance_after,
                          created_at) OVERRIDING SYSTEM VALUE
SELECT 2 * (:lo + 1 + ((user_id - 2 - :lo) % 1000 + 1000) % 1000) - 1,
       user_id, sum(quantity * unit_price), 'charge',
       sum(quantity * unit_price),
       :'t0'::timestamptz - (:top - :lo) * interval '26 s'
  FROM growth_lines GROUP BY user_id;

INSERT INTO orders (id, user_id, status, total, expires_at, created_at,
                    updated_at, paid_at) OVERRIDING SYSTEM VALUE
SELECT i, user_id, 'paid', (quantity * (100 + a % 900
                   + COALESCE(100 + b % 900, 0))), at + interval '10 min', at,
       at + interval '1 min', at + interval '1 min'
  FROM growth_orders;
INSERT INTO order_items (order_id, option_id, quantity, unit_price)
SELECT i, option_id, quantity, unit_price FROM growth_lines;
INSERT INTO stock_movements (option_id, delta, reason, order_id, created_at)
SELECT option_id, -quantity, 'order', i, at FROM growth_lines;
INSERT INTO point_ledger (id, user_id, amount, kind, order_id,
                          balance_after, created_at) OVERRIDING SYSTEM VALUE
SELECT 2 * i, user_id, -(quantity * (100 + a % 900
                   + COALESCE(100 + b % 900, 0))), 'use', i, 0, at + interval '1 min'
  FROM growth_orders;
UPDATE point_accounts a SET updated_at = greatest(a.updated_at, b.at)
  FROM (SELECT user_id, max(at) + interval '1 min' AS at
          FROM growth_orders GROUP BY user_id) b
 WHERE b.user_id = a.user_id;

-- The sales rollup of sql/008: the batch's lines summed by the UTC minute
-- of paid_at and product, then into every span's bucket, as the view
-- product_sales_of_orders does for all paid orders (the view itself would
-- read every order again at each batch); a batch's first buckets may
-- already hold sales of the batch above, hence the sums.
INSERT INTO product_sales_bucket AS t (span, at, product_id, quantity, revenue)
SELECT s.span, date_bin(s.span, m.at, product_sales_origin()), m.product_id,
       sum(m.quantity), sum(m.revenue)
  FROM (SELECT date_trunc('minute', (l.at + interval '1 min') AT TIME ZONE 'UTC') AS at,
               o.product_id, sum(l.quantity) AS quantity,
               sum(l.quantity * l.unit_price) AS revenue
          FROM growth_lines l JOIN product_options o ON o.id = l.option_id
         GROUP BY 1, 2) m
 CROSS JOIN product_sales_span s
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3
ON CONFLICT (span, at, product_id) DO UPDATE
   SET quantity = t.quantity + excluded.quantity,
       revenue = t.revenue + excluded.revenue;

SELECT setval(pg_get_serial_sequence('orders', 'id'),
              greatest(:top, (SELECT last_value FROM orders_id_seq))),
       setval(pg_get_serial_sequence('point_ledger', 'id'),
              greatest(2 * :top, (SELECT last_value FROM point_ledger_id_seq)));
COMMIT;
\endif
