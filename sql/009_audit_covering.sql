-- 009: the per-subject totals of `stockade audit --since` (sql/audit.sql)
-- read from the index alone.
--
-- A narrowed audit still checks each option and account in view whole:
-- the stock against the sum of all of the option's movements, the balance
-- against the sum of all of the account's ledger.  Those sums were hash
-- joins over the whole of stock_movements and point_ledger, two sequential
-- scans whatever the window (bench/run growth: 2.43 of the 2.43 s of an
-- hour's `--since` on 1,000,000 orders, and the part that grows with the
-- data; docs/benchmarks.md, "Cost vs data size").  With the
-- amount in the index the audit sums each subject's rows by an index-only
-- scan of that subject alone.  The indexes replace those of 001 and 003
-- (same keys, so the same uses: a restore's and a history page's), so a
-- movement or a ledger row still costs one entry, 8 bytes wider.  On a
-- large shop the builds hold writes to both tables back while they run
-- (40 s at 10,000,000 orders on the benchmark machine).
CREATE INDEX stock_movements_option_delta ON stock_movements (option_id)
    INCLUDE (delta);
DROP INDEX stock_movements_option;
CREATE INDEX point_ledger_user_amount ON point_ledger (user_id, id)
    INCLUDE (amount);
DROP INDEX point_ledger_user;
