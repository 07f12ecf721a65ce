-- 001: the catalogue, its stock, and orders.
--
-- Stock lives on product_options and may never go negative (the CHECK is the
-- last line of defence behind the row locks).  Every change of stock is also
-- a row in stock_movements with its reason, so that for every option
--   stock = sum(stock_movements.delta)
-- holds at all times (DESIGN.md, invariant 1; sql/audit.sql checks it).
-- Money and quantities are bigint, never floating point.

CREATE TABLE products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE product_options (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  bigint NOT NULL REFERENCES products (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price       bigint NOT NULL CHECK (price >= 0),
    stock       bigint NOT NULL CHECK (stock >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_options_product ON product_options (product_id, id);

CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL CHECK (user_id > 0),
    status      text NOT NULL
                CHECK (status IN ('pending', 'paid', 'canceled', 'expired')),
    total       bigint NOT NULL CHECK (total >= 0),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    paid_at     timestamptz
);
-- The caller's orders, newest first, with keyset pagination.
CREATE INDEX orders_user ON orders (user_id, id);
-- The reaper's scan for pending orders past their reservation.
CREATE INDEX orders_pending_expiry ON orders (expires_at)
    WHERE status = 'pending';
-- Best sellers over the last days.
CREATE INDEX orders_paid_at ON orders (paid_at) WHERE status = 'paid';

CREATE TABLE order_items (
    order_id    bigint NOT NULL REFERENCES orders (id),
    option_id   bigint NOT NULL REFERENCES product_options (id),
    quantity    bigint NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    unit_price  bigint NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, option_id)
);
CREATE INDEX order_items_option ON order_items (option_id);

CREATE TABLE stock_movements (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    option_id   bigint NOT NULL REFERENCES product_options (id),
    delta       bigint NOT NULL CHECK (delta <> 0),
    reason      text NOT NULL
                CHECK (reason IN ('initial', 'restock', 'order', 'cancel', 'expire')),
    order_id    bigint REFERENCES orders (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Movements caused by an order name it; the others never do.
    CHECK ((reason IN ('order', 'cancel', 'expire')) = (order_id IS NOT NULL))
);
CREATE INDEX stock_movements_option ON stock_movements (option_id);
CREATE INDEX stock_movements_order ON stock_movements (order_id)
    WHERE order_id IS NOT NULL;
