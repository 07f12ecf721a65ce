-- 008: the sales rollup of 007 by minute up to week, so that
-- GET /products/popular reads a few rows per product whatever its window
-- and no order at all but those of the window's first minute
-- (docs/architecture.md, "Popular products from a rollup").
--
-- 007 kept hours and days and read the orders of the window's first
-- partial hour from `orders`: ~14,000 orders at 10,000,000 orders in 30
-- days, and up to 23 hours and 30 days per product (docs/benchmarks.md,
-- target 3).  Here the sales of paid orders per product are kept in
-- buckets of every span of product_sales_span, each a multiple of the one
-- before and all aligned on the same Monday, so a window [t0, now) is
-- exactly: the orders of [t0, the end of t0's minute), then for each span
-- the whole buckets from the end of t0's bucket of that span to the end of
-- t0's bucket of the next span, then the weeks from there on.  That is at
-- most 9 minutes, 5 ten-minutes, 5 hours, 3 quarter-days, 6 days and 5
-- weeks per product at 30 days, and the orders of less than a minute.
--
-- A payment appends to product_sales_recent at the minute of paid_at (a
-- refund the same, negated), inserts only as in 007; the reaper moves those
-- rows into every span's buckets in one statement (product_sales_compact),
-- so that at any snapshot, for every span,
--     product_sales_bucket + product_sales_recent (binned to the span)
--       = the paid orders' items summed by product and bucket of paid_at
-- (sql/audit.sql checks it).  The spans are data: the reader, the reaper
-- and the audit join this table, so they cannot disagree on them; the
-- shortest must stay a minute, the unit of product_sales_recent and of the
-- orders the reader reads (sql/queries/order.sql, product.sql).
CREATE TABLE product_sales_span (
    span        interval PRIMARY KEY,
    -- the next longer span (a multiple of this one); NULL for the longest
    next        interval UNIQUE REFERENCES product_sales_span (span),
    name        text NOT NULL UNIQUE -- for the audit's lines
);
INSERT INTO product_sales_span (span, next, name) VALUES
    ('7 days', NULL, 'week'), ('1 day', '7 days', 'day'),
    ('6 hours', '1 day', '6 hours'), ('1 hour', '6 hours', 'hour'),
    ('10 minutes', '1 hour', '10 minutes'),
    ('1 minute', '10 minutes', 'minute');

-- One bucket: the sales of a product in [at, at + span), UTC.  at is
-- date_bin(span, paid_at UTC, product_sales_origin()).
CREATE TABLE product_sales_bucket (
    span        interval NOT NULL REFERENCES product_sales_span (span),
    at          timestamp NOT NULL,
    product_id  bigint NOT NULL REFERENCES products (id),
    quantity    numeric NOT NULL,
    revenue     numeric NOT NULL,
    PRIMARY KEY (span, at, product_id)
);

-- Where every span's buckets start (a Monday, so weeks are ISO weeks and
-- days and hours are the calendar's).
CREATE FUNCTION product_sales_origin() RETURNS timestamp
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN timestamp '2000-01-03 00:00';

-- The rows not moved yet, at the minute of paid_at (UTC).
DROP TABLE product_sales_recent, product_sales_hour, product_sales_day;
CREATE TABLE product_sales_recent (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamp NOT NULL, -- date_trunc('minute', paid_at UTC)
    product_id  bigint NOT NULL REFERENCES products (id),
    quantity    numeric NOT NULL,
    revenue     numeric NOT NULL
);

-- What the buckets must hold, from the paid orders themselves: their items
-- summed by minute of paid_at (UTC) and product, then by every span's
-- bucket.  The backfill below fills the buckets from it, and the audit
-- (sql/audit.sql) compares the buckets with it.
CREATE VIEW product_sales_of_orders AS
SELECT s.span, date_bin(s.span, m.at, product_sales_origin()) AS at,
       m.product_id, sum(m.quantity) AS quantity, sum(m.revenue) AS revenue
  FROM (SELECT date_trunc('minute', r.paid_at AT TIME ZONE 'UTC') AS at,
               o.product_id, sum(i.quantity) AS quantity,
               sum(i.quantity * i.unit_price) AS revenue
          FROM orders r JOIN order_items i ON i.order_id = r.id
          JOIN product_options o ON o.id = i.option_id
         WHERE r.status = 'paid'
         GROUP BY 1, 2) m
 CROSS JOIN product_sales_span s
 GROUP BY 1, 2, 3;

-- The orders paid before this migration (007's hours and days cannot give
-- minutes), in key order, so that a range of buckets a reader sums lies in
-- few pages.
INSERT INTO product_sales_bucket (span, at, product_id, quantity, revenue)
SELECT span, at, product_id, quantity, revenue FROM product_sales_of_orders
 ORDER BY 1, 2, 3;
