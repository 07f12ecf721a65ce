#!/usr/bin/env bash
# t/test_popular.sh: GET /products/popular, read from the sales rollup of
# sql/008 (buckets of a minute to a week), answers exactly what the
# aggregate over every paid order of the window answered before it (the old
# statement, run here with psql), on random data: orders paid at random over
# 40 days (inserted with psql, as bench/popular-data.sql does, with their
# stock movements and the rows a payment appends), orders paid every two
# seconds and on whole minutes around where the windows of 1, 2, 3, 7, 29
# and 30 days start while the test runs (so each such window starts in a
# minute holding orders on both sides of its start, and its first buckets
# of every span begin and end among orders), orders paid through the API
# now, refunds through the API of orders paid days ago (negated rows at the
# minute of the payment, across day boundaries), and ties (options of price
# 0 give many products the same quantity and revenue).  Compared before and
# after the reaper has compacted the rows, at every window from 1 to 30
# days; the audit's rollup invariant holds throughout.
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
# The window moves with now(): the old statement runs just before and just
# after the request, and the endpoint must give one of the two answers.  An
# order paid every two seconds near a window's start crosses it at most once
# in between unless the machine stalls for seconds: when the two old answers
# differ and the endpoint's is neither, that window is asked again (up to 5
# times); when they agree, the endpoint must give exactly that.
compare() {
	local d try before after got differ="" moved=0
	for d in $(seq 1 30); do
		for try in 1 2 3 4 5; do
			before=$(old_popular "$d")
			http GET "/api/v1/products/popular?days=$d&limit=50"
			after=$(old_popular "$d")
			got=$(jq -c .items <<<"$HTTP_BODY")
			[ "$before" != "$after" ] || break
			moved=$((moved + 1))
			if [ "$got" = "$before" ] || [ "$got" = "$after" ]; then
				break
			fi
		done
		[ "$HTTP_STATUS" = 200 ] || { differ="$differ $d:$HTTP_STATUS"; continue; }
		[ "$got" = "$before" ] || [ "$got" = "$after" ] || differ="$differ $d"
	done
	diag "$1: $moved requests saw an order cross their window's start"
	is "$differ" "" "$1: the rollup answers as the orders do, 1-30 days"
}

# Twelve products: eight of one free option (ties), four of one at 1-4.
for i in $(seq 1 12); do
	price=$((i > 8 ? i - 8 : 0))
	http POST /api/v1/admin/products \
		"{\"name\":\"pop-$i\",\"options\":[{\"name\":\"o\",\"price\":$price,\"stock\":100000}]}" "$ADMIN"
	[ "$HTTP_STATUS" = 201 ] || { diag "product: $HTTP_STATUS $HTTP_BODY"; exit 99; }
done

# Orders of user 7, of 1-3 units of a free option (free: no points to
# account for): 2,000 paid at random over 40 days, and, for the windows of
# 1, 2, 3, 7, 29 and 30 days, one every two seconds from 20 seconds before
# the window's start now to 400 seconds after (the start moves on while the
# test runs) and one on each whole minute from 2 minutes before to 7 after;
# with what their payment would have written: the 'order' movements, the
# stock, the rollup's rows.
stack_psql "
CREATE TEMP TABLE gen AS
SELECT g, (SELECT id FROM product_options WHERE price = 0
            ORDER BY id OFFSET (g * 7 % 8) LIMIT 1) AS opt,
       1 + g % 3 AS q, paid_at
  FROM (SELECT row_number() OVER (ORDER BY paid_at) AS g, paid_at
          FROM (SELECT now() - random() * interval '40 days' AS paid_at
                  FROM generate_series(1, 2000)
                UNION
                SELECT now() - make_interval(days => d, secs => -k)
                  FROM unnest(ARRAY[1, 2, 3, 7, 29, 30]) d,
                       generate_series(-20, 400, 2) k
                UNION
                SELECT date_trunc('minute', now() - make_interval(days => d))
                       + make_interval(mins => k)
                  FROM unnest(ARRAY[1, 2, 3, 7, 29, 30]) d,
                       generate_series(-2, 7) k) t) u;
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
INSERT INTO product_sales_recent (at, product_id, quantity, revenue)
SELECT date_trunc('minute', i.paid_at AT TIME ZONE 'UTC'), po.product_id, i.q, 0
  FROM ins i JOIN product_options po ON po.id = i.opt" >/dev/null
generated=$(stack_psql "SELECT count(*) FROM orders WHERE user_id = 7 AND status = 'paid'")
ok "$([ "$generated" -gt 3300 ] && echo 0 || echo 1)" "$generated orders paid over 40 days"

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

# Refunds: 100 of the orders paid days ago (some near the windows' starts),
# and two paid now.
refunded=0
for id in $(stack_psql "SELECT id FROM orders WHERE user_id = 7 AND status = 'paid'
                          ORDER BY md5(id::text) LIMIT 102"); do
	http POST "/api/v1/orders/$id/cancel" "" "$USER"
	[ "$HTTP_STATUS" = 200 ] && refunded=$((refunded + 1))
done
is "$refunded" 102 "102 paid orders canceled (refunded)"
audit_clean "rollup before compaction"
compare "before compaction"

# The reaper compacts every round (reaper_interval).
for ((i = 0; i < 100; i++)); do
	[ "$(stack_psql 'SELECT count(*) FROM product_sales_recent')" = 0 ] && break
	sleep 0.1
done
is "$(stack_psql 'SELECT count(*) FROM product_sales_recent')" 0 "the reaper compacted every row"
for span in '1 minute' '10 minutes' '1 hour' '6 hours' '1 day' '7 days'; do
	n=$(stack_psql "SELECT count(DISTINCT at) FROM product_sales_bucket WHERE span = '$span'")
	ok "$([ "$n" -gt 5 ] && echo 0 || echo 1)" "buckets of $span: $n"
done
audit_clean "rollup after compaction"
compare "after compaction"

# Ties: the free products' quantities are equal in places; the window of
# 30 days lists them in the old order, which the comparison checked.
stack_cleanup
done_testing
