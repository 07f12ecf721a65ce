#!/usr/bin/env bash
# bench/pay-rollup-cost.sh: what the sales rollup of sql/007 costs a
# payment when every payment is of ONE product (docs/benchmarks.md, issue
# 17).  pgbench, 8 clients, fsync on, its own PostgreSQL (t/lib/stack.sh):
# BEGIN; the order locked; the status update; COMMIT, as
#   old  the update alone (before 007),
#   new  order_set_status of sql/queries/order.sql (the update and the
#        append-only rollup rows),
#   hot  the update and one row per (product, hour) upserted in the paying
#        transaction (the design 007 and 008 do not use; its own table),
# alternating, ROUNDS times (5).  Not part of bench/run.
#     bench/pay-rollup-cost.sh [ROUNDS]
set -uo pipefail
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-5}
export STOCKADE_SRCDIR=$SRCDIR STACK_PG_FAST=0
# shellcheck source=t/lib/stack.sh
. "$SRCDIR/t/lib/stack.sh"
# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 1
trap stack_cleanup EXIT
stack_start_postgres || exit 1
for f in "$SRCDIR"/sql/0*.sql; do stack_psql_file "$f" >/dev/null || exit 1; done
psql_() { "$STACK_PG_BIN/psql" -XAtq -h "$STACK_DIR/pg-run" -U stockade -d stockade "$@"; }
psql_ -c "INSERT INTO products (name, description) VALUES ('hot', '');
INSERT INTO product_options (product_id, name, price, stock) SELECT id, 'o', 100, 1000000 FROM products;
INSERT INTO orders (user_id, status, total, expires_at) SELECT 1 + g % 1000, 'pending', 100, now() + interval '1 day' FROM generate_series(1, 100000) g;
INSERT INTO order_items SELECT o.id, (SELECT id FROM product_options), 1, 100 FROM orders o;
ANALYZE orders, order_items, product_options;
CREATE TABLE hot_hour (hour timestamp, product_id bigint, quantity numeric, revenue numeric, PRIMARY KEY (hour, product_id));" >/dev/null
cat >"$STACK_DIR/old.pgb" <<'Q'
\set id random(1, 100000)
BEGIN;
SELECT status FROM orders WHERE id = :id FOR UPDATE;
UPDATE orders SET status = 'paid', updated_at = now(), paid_at = now() WHERE id = :id;
COMMIT;
Q
new=$(awk '/^-- name: order_set_status$/ {on = 1; next} on && /^-- name:/ {exit} on && !/^--/' "$SRCDIR/sql/queries/order.sql" | sed "s/\$1::bigint/:id/g; s/\$2/'paid'/g" | tr '\n' ' ')
printf '\\set id random(1, 100000)\nBEGIN;\nSELECT status FROM orders WHERE id = :id FOR UPDATE;\n%s\nCOMMIT;\n' "$new" >"$STACK_DIR/new.pgb"
cat >"$STACK_DIR/hot.pgb" <<'Q'
\set id random(1, 100000)
BEGIN;
SELECT status FROM orders WHERE id = :id FOR UPDATE;
WITH o AS (UPDATE orders SET status = 'paid', updated_at = now(), paid_at = now() WHERE id = :id RETURNING id, paid_at) INSERT INTO hot_hour AS t (hour, product_id, quantity, revenue) SELECT date_trunc('hour', o.paid_at AT TIME ZONE 'UTC'), po.product_id, sum(i.quantity), sum(i.quantity * i.unit_price) FROM o JOIN order_items i ON i.order_id = o.id JOIN product_options po ON po.id = i.option_id GROUP BY 1, 2 ON CONFLICT (hour, product_id) DO UPDATE SET quantity = t.quantity + excluded.quantity, revenue = t.revenue + excluded.revenue;
COMMIT;
Q
for ((round = 1; round <= ROUNDS; round++)); do
	for v in old new hot; do
		printf '%s round %s: ' "$v" "$round"
		"$STACK_PG_BIN/pgbench" -n -M prepared -T 10 -c 8 -j 2 -h "$STACK_DIR/pg-run" -U stockade -f "$STACK_DIR/$v.pgb" stockade 2>&1 | grep -E "^tps|failed" | tr '\n' ' '
		echo
	done
done
