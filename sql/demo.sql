-- demo.sql: a small catalogue for trying stockade by hand (scripts/demo
-- loads it once).  Stock enters through 'initial' movements, exactly as the
-- admin API would record it, so sql/audit.sql stays clean.

WITH p AS (
    INSERT INTO products (name, description)
    VALUES ('Linen shirt', 'Washed linen, relaxed fit.')
    RETURNING id
), o AS (
    INSERT INTO product_options (product_id, name, price, stock)
    SELECT p.id, x.name, x.price, x.stock
    FROM p, (VALUES ('S', 39000, 20), ('M', 39000, 50), ('L', 41000, 5))
        AS x(name, price, stock)
    RETURNING id, stock
)
INSERT INTO stock_movements (option_id, delta, reason)
SELECT id, stock, 'initial' FROM o WHERE stock > 0;

WITH p AS (
    INSERT INTO products (name, description)
    VALUES ('Limited sneakers', 'One hundred pairs, then gone.')
    RETURNING id
), o AS (
    INSERT INTO product_options (product_id, name, price, stock)
    SELECT p.id, x.name, x.price, x.stock
    FROM p, (VALUES ('EU 42', 129000, 100)) AS x(name, price, stock)
    RETURNING id, stock
)
INSERT INTO stock_movements (option_id, delta, reason)
SELECT id, stock, 'initial' FROM o WHERE stock > 0;

WITH p AS (
    INSERT INTO products (name, description)
    VALUES ('Coffee beans', 'Single origin, 250 g.')
    RETURNING id
), o AS (
    INSERT INTO product_options (product_id, name, price, stock)
    SELECT p.id, x.name, x.price, x.stock
    FROM p, (VALUES ('Whole bean', 12000, 300), ('Ground', 12000, 0))
        AS x(name, price, stock)
    RETURNING id, stock
)
INSERT INTO stock_movements (option_id, delta, reason)
SELECT id, stock, 'initial' FROM o WHERE stock > 0;

-- User 1 starts with 100,000 points: one 'charge' ledger row, as the API
-- would write it, so balance = sum of ledger holds from the start.
INSERT INTO point_accounts (user_id, balance, version) VALUES (1, 100000, 1);
INSERT INTO point_ledger (user_id, amount, kind, balance_after)
VALUES (1, 100000, 'charge', 100000);

-- Coupon policies (docs/coupons.md).  Nothing is issued yet, so
-- issued_quantity stays 0 and invariant 3 holds from the start; windows are
-- relative to when the demo was loaded.
--   1  a fixed 5,000 off, 1,000 coupons, open now
--   2  10 % off capped at 20,000, 500 coupons, open now
--   3  3,000 off, only 100 coupons, open now: try a rush on it
--   4  20 % off, opens in a week: issuing it now is 409 not_open
INSERT INTO coupon_policies (name, discount_kind, discount_value,
    discount_cap, total_quantity, starts_at, ends_at, valid_days)
VALUES
    ('Welcome: 5,000 off', 'amount', 5000, NULL, 1000,
        now(), now() + interval '90 days', 30),
    ('10% off, up to 20,000', 'percent', 10, 20000, 500,
        now(), now() + interval '90 days', 14),
    ('Rush: 100 coupons of 3,000 off', 'amount', 3000, NULL, 100,
        now(), now() + interval '90 days', 7),
    ('Next week: 20% off, up to 30,000', 'percent', 20, 30000, 50,
        now() + interval '7 days', now() + interval '14 days', 14);
