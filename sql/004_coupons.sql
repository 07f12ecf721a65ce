-- 004: first-come-first-served coupons.
--
-- A policy hands out at most total_quantity coupons, one per user.  The
-- database is the final defense whatever the Redis gate in front of it does:
-- issued_quantity is moved in the same transaction as the user's coupon row,
-- its CHECK refuses more than total_quantity, and UNIQUE (policy_id, user_id)
-- refuses a second coupon for one user (DESIGN.md, invariant 3; sql/audit.sql
-- checks that issued_quantity equals the rows).
CREATE TABLE coupon_policies (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    discount_kind   text NOT NULL CHECK (discount_kind IN ('amount', 'percent')),
    discount_value  bigint NOT NULL CHECK (discount_value > 0),
    discount_cap    bigint CHECK (discount_cap > 0),
    total_quantity  bigint NOT NULL
                    CHECK (total_quantity BETWEEN 1 AND 10000000),
    issued_quantity bigint NOT NULL DEFAULT 0
                    CHECK (issued_quantity BETWEEN 0 AND total_quantity),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    valid_days      integer NOT NULL CHECK (valid_days BETWEEN 1 AND 3650),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    -- A percentage is 1..100 and may be capped; a fixed amount has no cap.
    CHECK (discount_kind = 'amount' OR discount_value <= 100),
    CHECK (discount_kind = 'percent' OR discount_cap IS NULL)
);

CREATE TABLE user_coupons (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy_id   bigint NOT NULL REFERENCES coupon_policies (id),
    user_id     bigint NOT NULL CHECK (user_id > 0),
    status      text NOT NULL DEFAULT 'available'
                CHECK (status IN ('available', 'used', 'expired')),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    order_id    bigint REFERENCES orders (id),
    UNIQUE (policy_id, user_id),
    -- A used coupon names the order that used it, and only a used one does.
    CHECK ((status = 'used') = (order_id IS NOT NULL)),
    CHECK ((status = 'used') = (used_at IS NOT NULL))
);
-- The caller's coupons, newest first, with keyset pagination.
CREATE INDEX user_coupons_user ON user_coupons (user_id, id);
-- One coupon per order.
CREATE UNIQUE INDEX user_coupons_one_order ON user_coupons (order_id)
    WHERE order_id IS NOT NULL;
-- The reaper's scan for coupons past their validity.
CREATE INDEX user_coupons_expiry ON user_coupons (expires_at)
    WHERE status = 'available';

-- The coupon a paid order used and the discount it gave.  Both stay after a
-- cancel gives the coupon back, as the order's history.
ALTER TABLE orders
    ADD COLUMN coupon_id bigint REFERENCES user_coupons (id),
    ADD COLUMN discount bigint NOT NULL DEFAULT 0 CHECK (discount >= 0),
    ADD CHECK (discount <= total),
    ADD CHECK (discount = 0 OR coupon_id IS NOT NULL);
