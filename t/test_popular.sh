#!/usr/bin/env bash
# t/test_popular.sh: GET /products/popular, read from the sales rollup of
# sql/007, answers exactly what the aggregate over every paid order of the
# window answered before it (the old statement, run here with psql), on
# random data: orders paid at random over 40 days (inserted with psql, as
# bench/popular-data.sql does, with their stock movements and the rows a
# payment appends), orders paid through the API now, refunds through the
# API of orders paid days ago (negated rows at the hour of the payment,
# across day boundaries), and ties (options of price 0 give many products
# the same quantity and revenue).  Compared before and after the reaper has
# compacted the rows, at every window from 1 to 30 days; the audit's rollup
# invariant holds throughout.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/shop.sh
. "$(dirname "$0")/lib/shop.sh"

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap stack_cleanup EXIT
stack_start || exit 99

ADMIN=$(stack_token 1000 admin)
USER=$(stack_token 7)

# The statement the endpoint ran before the rollup, for D days, limit 50.
old_popular() {
	stack_psql "SELECT coalesce(json_agg(x ORDER BY n), '[]') FROM (
	  SELECT json_build_object('id', p.id, 'name', p.name,
	         'quantity', s.quantity, 'revenue', s.revenue) AS x,
	         row_number() OVER (ORDER BY s.quantity DESC, s.revenue DESC,
	                            p.id ASC) AS n
	    FROM (SELECT o.product_id, sum(i.quantity) AS quantity,
	                 sum(i.quantity * i.unit_price) AS revenue
	            FROM orders r JOIN order_items i ON i.order_id = r.id
	            JOIN product_options o ON o.id = i.option_id
	           WHERE r.status = 'paid'
	             AND r.paid_at >= now() - make_interval(days => $1)
	           GROUP BY o.product_id) s
	    JOIN products p ON p.id = s.product_id
	   ORDER BY n LIMIT 50) t" | jq -c .
}

# compare LABEL: the endpoint and the old statement agree at every window.
compare() {
	local d differ=""
	for d in $(seq 1 30); do
		http GET "/api/v1/products/popular?days=$d&limit=50"
		[ "$HTTP_STATUS" = 200 ] || { differ="$differ $d:$HTTP_STATUS"; continue; }
		[ "$(jq -c .items <<<"$HTTP_BODY")" = "$(old_popular "$d")" ] ||
			differ="$differ $d"
	done
	is "$differ" "" "$1: the rollup answers as the orders do, 1-30 days"
}

# Twelve products: eight of one free option (ties), four of one at 1-4.
for i in $(seq 1 12); do
	price=$((i > 8 ? i - 8 : 0))
	http POST /api/v1/admin/products \
		"{\"name\":\"pop-$i\",\"options\":[{\"name\":\"o\",\"price\":$price,\"stock\":100000}]}" "$ADMIN"
	[ "$HTTP_STATUS" = 201 ] || { diag "product: $HTTP_STATUS $HTTP_BODY"; exit 99; }
done

# 600 orders of user 7, of 1-3 units of a free option, paid at random over
# 40 days (free: no points to account for), with what their payment would
# have written: the 'order' movements, the stock, the rollup's rows.
stack_psql "
CREATE TEMP TABLE gen AS
SELECT g, (SELECT id FROM product_options WHERE price = 0
            ORDER BY id OFFSET (g * 7 % 8) LIMIT 1) AS opt,
       1 + g % 3 AS q,
       now() - random() * interval '40 days' AS paid_at
  FROM generate_series(1, 600) g;
CREATE TEMP TABLE ins AS
WITH o AS (INSERT INTO orders (user_id, status, total, expires_at, paid_at)
           SELECT 7, 'paid', 0, paid_at, paid_at FROM gen ORDER BY g
           RETURNING id, paid_at)
SELECT o.id, gen.opt, gen.q, o.paid_at FROM o JOIN gen USING (paid_at);
INSERT INTO order_items (order_id, option_id, quantity, unit_price)
SELECT id, opt, q, 0 FROM ins;
INSERT INTO stock_movements (option_id, delta, reason, order_id)
SELECT opt, -q, 'order', id FROM ins;
UPDATE product_options po SET stock = po.stock - s.q
  FROM (SELECT opt, sum(q) AS q FROM ins GROUP BY opt) s WHERE po.id = s.opt;
INSERT INTO product_sales_recent (hour, product_id, quantity, revenue)
SELECT date_trunc('hour', i.paid_at AT TIME ZONE 'UTC'), po.product_id, i.q, 0
  FROM ins i JOIN product_options po ON po.id = i.opt" >/dev/null
is "$(stack_psql "SELECT count(*) FROM orders WHERE user_id = 7 AND status = 'paid'")" 600 \
	"600 orders paid over 40 days"

# Orders of priced options, paid through the API now.
http POST /api/v1/points/charge '{"amount":100000}' "$USER"
is "$HTTP_STATUS" 200 "points charged"
paid=0
for opt in $(stack_psql "SELECT id FROM product_options WHERE price > 0 ORDER BY id"); do
	for q in 1 2 3; do
		http POST /api/v1/orders "{\"items\":[{\"option_id\":$opt,\"quantity\":$q}]}" "$USER"
		id=$(jq -r .id <<<"$HTTP_BODY")
		http POST "/api/v1/orders/$id/pay" "" "$USER"
		[ "$HTTP_STATUS" = 200 ] && paid=$((paid + 1))
	done
done
is "$paid" 12 "12 orders paid through the API"

# Refunds: 60 of the orders paid days ago, and two paid now.
refunded=0
for id in $(stack_psql "SELECT id FROM orders WHERE user_id = 7 AND status = 'paid'
                          ORDER BY md5(id::text) LIMIT 62"); do
	http POST "/api/v1/orders/$id/cancel" "" "$USER"
	[ "$HTTP_STATUS" = 200 ] && refunded=$((refunded + 1))
done
is "$refunded" 62 "62 paid orders canceled (refunded)"
audit_clean "rollup before compaction"
compare "before compaction"

# The reaper compacts every round (reaper_interval).
for ((i = 0; i < 100; i++)); do
	[ "$(stack_psql 'SELECT count(*) FROM product_sales_recent')" = 0 ] && break
	sleep 0.1
done
is "$(stack_psql 'SELECT count(*) FROM product_sales_recent')" 0 "the reaper compacted every row"
ok "$([ "$(stack_psql 'SELECT count(*) FROM product_sales_day')" -gt 12 ] && echo 0 || echo 1)" \
	"the daily rollup holds many days"
audit_clean "rollup after compaction"
compare "after compaction"

# Ties: the free products' quantities are equal in places; the window of
# 30 days lists them in the old order, which the comparison checked.
stack_cleanup
done_testing
