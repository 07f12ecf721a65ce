-- 007: what GET /products/popular reads instead of every paid order of
-- its window (docs/architecture.md, "Popular products").
--
-- The sales of paid orders per product, by the UTC hour and the UTC day of
-- paid_at.  A payment appends its products' quantities and revenue to
-- product_sales_recent in the transaction that pays, and a refund (a paid
-- order canceled) appends the same negated, at the hour of the payment:
-- inserts only, so payments of one product never wait for each other.
-- The reaper moves those rows into product_sales_hour and
-- product_sales_day in one statement (product_sales_compact), so that at
-- any snapshot
--     product_sales_hour + product_sales_recent
--       = the paid orders' items summed by product and hour
-- and the same by day (sql/audit.sql checks both).  A reader sums whole
-- days, the whole hours around them and the few uncompacted rows, and
-- reads orders only for the part of its window's first hour that the
-- window covers: rows of the order of products x days, not of orders.
CREATE TABLE product_sales_hour (
    hour        timestamp NOT NULL, -- UTC, date_trunc('hour')
    product_id  bigint NOT NULL REFERENCES products (id),
    quantity    numeric NOT NULL,
    revenue     numeric NOT NULL,
    PRIMARY KEY (hour, product_id)
);
CREATE TABLE product_sales_day (
    day         timestamp NOT NULL, -- UTC, date_trunc('day')
    product_id  bigint NOT NULL REFERENCES products (id),
    quantity    numeric NOT NULL,
    revenue     numeric NOT NULL,
    PRIMARY KEY (day, product_id)
);
CREATE TABLE product_sales_recent (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hour        timestamp NOT NULL,
    product_id  bigint NOT NULL REFERENCES products (id),
    quantity    numeric NOT NULL,
    revenue     numeric NOT NULL
);

-- The orders paid before this migration.
INSERT INTO product_sales_hour (hour, product_id, quantity, revenue)
SELECT date_trunc('hour', r.paid_at AT TIME ZONE 'UTC'), o.product_id,
       sum(i.quantity), sum(i.quantity * i.unit_price)
  FROM orders r JOIN order_items i ON i.order_id = r.id
  JOIN product_options o ON o.id = i.option_id
 WHERE r.status = 'paid'
 GROUP BY 1, 2;
INSERT INTO product_sales_day (day, product_id, quantity, revenue)
SELECT date_trunc('day', hour), product_id, sum(quantity), sum(revenue)
  FROM product_sales_hour GROUP BY 1, 2;
