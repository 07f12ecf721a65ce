-- 003: point balances and their ledger.
--
-- Every change of a balance is a ledger row written in the same transaction,
-- so for every account  balance = sum(point_ledger.amount)  holds at every
-- commit (DESIGN.md, invariant 4; sql/audit.sql checks it).  `version`
-- serves the optimistic strategy: UPDATE ... WHERE version = $v.
CREATE TABLE point_accounts (
    user_id     bigint PRIMARY KEY CHECK (user_id > 0),
    balance     bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
    version     bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE point_ledger (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES point_accounts (user_id),
    amount        bigint NOT NULL CHECK (amount <> 0),
    kind          text NOT NULL CHECK (kind IN ('charge', 'use', 'refund')),
    order_id      bigint REFERENCES orders (id),
    balance_after bigint NOT NULL CHECK (balance_after >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Charges add and name no order; uses take from one; refunds give back.
    CHECK ((kind = 'charge') = (order_id IS NULL)),
    CHECK ((kind = 'use') = (amount < 0))
);
-- History, newest first, with keyset pagination.
CREATE INDEX point_ledger_user ON point_ledger (user_id, id);
-- An order is paid at most once and refunded at most once, whatever races.
CREATE UNIQUE INDEX point_ledger_one_use ON point_ledger (order_id)
    WHERE kind = 'use';
CREATE UNIQUE INDEX point_ledger_one_refund ON point_ledger (order_id)
    WHERE kind = 'refund';
