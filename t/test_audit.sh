#!/usr/bin/env bash
# t/test_audit.sh: `stockade audit` against a real PostgreSQL.  A freshly
# migrated database and a consistent shop of 2,000 orders over 30 days
# (bench/audit-data.sql) are clean: exit 0, nothing on stdout.  Then the
# shop is broken on purpose, once in an old order and once in a recent one
# each time: stock changed behind its movements, a point use deleted, an
# order line changed behind its movements and total, and (its UNIQUE
# dropped) a second coupon for a user.  The full audit names every broken
# row and exits 1; `--since 1h` names the recent ones and none of the old
# ones.  A bad --since and an unreachable database exit 2.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap stack_cleanup EXIT
stack_start_postgres || exit 99
"$STOCKADE_BIN" migrate -c "$STACK_CONF" 2>"$STACK_DIR/migrate.log" || exit 99

# audit ARGS...: runs stockade audit; sets RC, OUT (stdout) and ERR.
audit() {
	"$STOCKADE_BIN" audit -c "$STACK_CONF" "$@" >"$STACK_DIR/audit.out" 2>"$STACK_DIR/audit.err"
	RC=$?
	OUT=$(cat "$STACK_DIR/audit.out")
	ERR=$(cat "$STACK_DIR/audit.err")
}

# has LINE_REGEX NAME / lacks LINE_REGEX NAME: OUT has (lacks) a line
# matching the extended regex.
has() {
	grep -Eq "^$1\$" <<<"$OUT"
	ok $? "$2"
}
lacks() {
	! grep -Eq "^$1\$" <<<"$OUT"
	ok $? "$2"
}

audit
is "$RC" 0 "an empty database: exit 0"
is "$OUT" "" "an empty database: nothing on stdout"
like "$ERR" 'audit: 0 broken invariants' "an empty database: says so on stderr"

"$STACK_PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$STACK_DIR/pg-run" -U stockade -d stockade \
	-v orders=2000 -v users=5000 -f "$STOCKADE_SRCDIR/bench/audit-data.sql" \
	>/dev/null 2>"$STACK_DIR/data.log" || { cat "$STACK_DIR/data.log"; exit 99; }
is "$(stack_psql "SELECT count(*) FROM orders")" 2000 "the shop has 2000 orders"
audit
is "$RC" 0 "a consistent shop: exit 0"
is "$OUT" "" "a consistent shop: nothing on stdout"
audit --since 1h
is "$RC" 0 "a consistent shop, --since 1h: exit 0"
is "$OUT" "" "a consistent shop, --since 1h: nothing on stdout"

# Order i was made 30 days x (2000 - i) / 2000 ago (one every 21.6 min)
# and updated a minute later by user 1 + i, took 1 + i % 3 of option
# 1 + i % 500 and (i even) of 501 + i % 500; i % 10 = 0 is paid (with
# the user's coupon, 50 off), 8 expired.  Old: orders 10 and 20, option 11
# (orders 10, 510, 1010, 1510: a week ago at the latest).  Recent: order
# 2000 (now), option 1 (order 2000), order 1998 (42 min ago).
old_recent=$(stack_psql "SELECT count(*) FILTER (WHERE updated_at < now() - interval '1 hour'
        AND id IN (10, 20, 510, 1010, 1510)),
    count(*) FILTER (WHERE updated_at >= now() - interval '1 hour' AND id IN (1998, 2000))
    FROM orders")
is "$old_recent" "5|2" "orders 10, 20 (and option 11's) are old, 1998 and 2000 recent"

stack_psql "
UPDATE product_options SET stock = stock + 5 WHERE id IN (1, 11);
DELETE FROM point_ledger WHERE kind = 'use' AND order_id IN (10, 2000);
UPDATE order_items SET quantity = quantity + 1
 WHERE (order_id, option_id) IN ((20, 21), (1998, 499));
ALTER TABLE user_coupons DROP CONSTRAINT user_coupons_policy_id_user_id_key;
INSERT INTO user_coupons (policy_id, user_id, expires_at)
VALUES (1, 77, now() + interval '1 day');" >/dev/null || exit 99

audit
is "$RC" 1 "a broken shop: exit 1"
diag "$OUT"
has 'stock_differs_from_movements option 11: stock 1005, movements sum to 1000' \
	"stock changed behind its movements (old option)"
has 'stock_differs_from_movements option 1: stock 1005, movements sum to 1000' \
	"stock changed behind its movements (recent option)"
has 'order_points_wrong order 10: paid order of [0-9]+ less 50: used 0 in 0 rows, .*' \
	"a deleted point use (old order)"
has 'order_points_wrong order 2000: paid order of [0-9]+ less 50: used 0 in 0 rows, .*' \
	"a deleted point use (recent order)"
has 'balance_differs_from_ledger account 11: balance [0-9]+, ledger sums to [0-9]+' \
	"... and its account's balance (old)"
has 'balance_differs_from_ledger account 2001: balance [0-9]+, ledger sums to [0-9]+' \
	"... and its account's balance (recent)"
has 'order_line_movements_wrong order 20: option 21 \(paid\): took 3 of 4, gave back 0 in 0 movements' \
	"an order line changed behind its movements (old)"
has 'order_total_differs order 20: total [0-9]+, 2 lines sum to [0-9]+' \
	"... and behind its total (old)"
has 'order_line_movements_wrong order 1998: option 499 \(expired\): took 1 of 2, gave back 1 in 1 movements' \
	"an order line changed behind its movements (recent)"
has 'order_total_differs order 1998: total [0-9]+, 2 lines sum to [0-9]+' \
	"... and behind its total (recent)"
has 'coupon_twice_for_user coupon 77: policy 1 user 77: 2 coupons, not 1' \
	"a second coupon for a user"
has 'coupon_count_differs policy 1: 5000 issued from the row and 0 from shards, of 10000000; 5001 coupons \(5001 from the row\)' \
	"... and the policy's count"
for span in minute '10 minutes' hour '6 hours' day week; do
	has "sales_rollup_differs product 3 $span [-0-9: ]+: paid orders [0-9]+ units, [0-9]+ revenue; rollup [0-9]+ units, [0-9]+ revenue" \
		"... and behind the sales rollup, by $span (paid order 20, full audit only)"
done
is "$(grep -c . <<<"$OUT")" 18 "nothing else: 18 lines"
like "$ERR" 'audit: 18 broken invariants' "the count on stderr"

audit --since 1h
is "$RC" 1 "--since 1h: exit 1"
diag "$OUT"
has 'stock_differs_from_movements option 1: .*' "--since 1h: the recent option"
has 'order_points_wrong order 2000: .*' "--since 1h: the recent deleted use"
has 'balance_differs_from_ledger account 2001: .*' "--since 1h: its account"
has 'order_line_movements_wrong order 1998: .*' "--since 1h: the recent line"
has 'order_total_differs order 1998: .*' "--since 1h: its total"
has 'coupon_twice_for_user coupon 77: .*' "--since 1h: the coupon (its policy is open)"
has 'coupon_count_differs policy 1: .*' "--since 1h: the policy's count"
lacks 'stock_differs_from_movements option 11: .*' "--since 1h: not the old option"
lacks '[a-z_]+ order (10|20): .*' "--since 1h: not the old orders"
lacks 'balance_differs_from_ledger account 11: .*' "--since 1h: not the old account"
is "$(grep -c . <<<"$OUT")" 7 "--since 1h: 7 lines"

# A timestamp works as well as a duration; 40 days back is everything.
audit --since "$(date -u -d '40 days ago' +%Y-%m-%dT%H:%M:%SZ)"
is "$RC" 1 "--since a timestamp 40 days back: exit 1"
is "$(grep -c . <<<"$OUT")" 12 "--since 40 days back: all 12 lines (the rollup is checked by the full audit only)"
audit --since 30min
is "$RC" 1 "--since 30min: exit 1"
lacks '[a-z_]+ order 1998: .*' "--since 30min: not order 1998 (42 min ago)"
has '[a-z_]+ order 2000: .*' "--since 30min: order 2000"

audit --since yesterday-ish
is "$RC" 2 "--since that is no time: exit 2"
is "$OUT" "" "--since that is no time: nothing on stdout"
like "$ERR" "--since yesterday-ish: neither a duration" "--since that is no time: says why"
audit --since 5x
is "$RC" 2 "--since 5x: exit 2"

# psql runs the same file with the same results.
rows=$(stack_psql_file "$STOCKADE_SRCDIR/sql/audit.sql" | wc -l)
is "$rows" 18 "psql -f sql/audit.sql: the same 18 rows"
rows=$("$STACK_PG_BIN/psql" -XAtq -h "$STACK_DIR/pg-run" -U stockade -d stockade \
	-v since="$(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%SZ)" -f "$STOCKADE_SRCDIR/sql/audit.sql" | wc -l)
is "$rows" 7 "psql -v since=... -f sql/audit.sql: the same 7 rows"

# No database: exit 2, not 1 (nothing was found broken).
stack_stop_postgres
audit
is "$RC" 2 "no database: exit 2"
is "$OUT" "" "no database: nothing on stdout"
like "$ERR" 'cannot audit the database' "no database: says so"

done_testing
