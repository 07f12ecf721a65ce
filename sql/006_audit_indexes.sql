-- 006: indexes for `stockade audit --since` (sql/audit.sql).
--
-- The audit narrowed to a recent window starts from the orders updated in
-- it, the ledger rows of those orders and the restocks in it.  Without
-- these indexes each of those is a scan of the whole table, a dozen times
-- per audit: on 200,000 orders the narrowed audit spent most of its time
-- in them (docs/operations.md, "Commands").  The write cost is one more
-- index entry per order insert and status change (an order's updates are
-- never HOT anyway: status is in the predicates of the partial indexes of
-- 001), one per point use or refund, and one per restock.
CREATE INDEX orders_updated_at ON orders (updated_at);
-- Uses and refunds name an order (003's CHECK); the two unique partial
-- indexes cover one kind each, which a join cannot combine.
CREATE INDEX point_ledger_order ON point_ledger (order_id)
    WHERE order_id IS NOT NULL;
-- Initial stock and restocks: the movements that name no order.
CREATE INDEX stock_movements_restock ON stock_movements (created_at)
    WHERE order_id IS NULL;
