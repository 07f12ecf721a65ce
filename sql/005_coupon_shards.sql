-- 005: sharded coupon policies (coupon_strategy = sharded).
--
-- One policy row that every issue updates is a hot row: each commit waits
-- for the previous one's lock and WAL flush.  A sharded policy splits what
-- remains of its total into `shards` rows of coupon_shards, each with its
-- own total and issued count; an issue takes one unit from any shard that
-- has one, so concurrent issues update different rows and their commits
-- share WAL flushes.  Exactness still rests on CHECKs alone:
--   issued_quantity + sum(shard.issued) <= issued_quantity + sum(shard.total)
--                                        = total_quantity,
-- and every coupon taken from a shard names it (sql/audit.sql).
-- Once split, a policy stays split: every strategy then issues from shards.
ALTER TABLE coupon_policies
    ADD COLUMN shards integer NOT NULL DEFAULT 0
        CHECK (shards BETWEEN 0 AND 64);

CREATE TABLE coupon_shards (
    policy_id bigint NOT NULL REFERENCES coupon_policies (id),
    shard     integer NOT NULL CHECK (shard >= 0),
    total     bigint NOT NULL CHECK (total >= 0),
    issued    bigint NOT NULL DEFAULT 0 CHECK (issued BETWEEN 0 AND total),
    PRIMARY KEY (policy_id, shard)
);

-- The shard a coupon came from; NULL when taken from the policy row.
ALTER TABLE user_coupons ADD COLUMN shard integer;
