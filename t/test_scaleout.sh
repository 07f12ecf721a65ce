#!/usr/bin/env bash
# t/test_scaleout.sh: stockade on several hosts (docs/scaling.md).  The test
# builds its own network of hosts out of network namespaces (t/lib/netns.sh,
# t/lib/scaleout.sh): nginx on lb, three stockade hosts app1-3, a
# PostgreSQL primary pg1 with a synchronous hot standby pg2, and Redis.
#
# 1. Spread: the order, points and coupon rushes over the three app hosts
#    give the exact results one host gives (with the coupon gate on, then
#    off), and every host served part of them.
# 2. An app host SIGKILLed (master, workers, reaper) in the middle of an
#    order rush: nginx sends new requests to the other two (connection
#    errors only; a request already sent is never retried: POST is not
#    idempotent), nothing is oversold, and the dead host's pending orders
#    expire through the other hosts' reapers.
# 3. The primary stopped (-m immediate) under load and the standby promoted
#    with pg_ctl promote: the workers find the new primary by themselves;
#    the time from the promotion to the first 201 is measured, and every
#    order acknowledged with a 201 is on the new primary (synchronous
#    replication: acknowledged means on both).
#
# Needs root: network namespaces.  When `ip netns add` is refused (a
# container without CAP_SYS_ADMIN), the test is skipped (exit 77), saying so.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh); SCALE_PARTS,
# the parts to run (default: test_spread test_host_killed test_failover
# test_read_only; each part also runs alone, e.g. SCALE_PARTS=test_failover).

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/netns.sh
. "$T_DIR/lib/netns.sh"
# shellcheck source=t/lib/coupons.sh
. "$T_DIR/lib/coupons.sh"
# shellcheck source=t/lib/scaleout.sh
. "$T_DIR/lib/scaleout.sh"

# ---------------------------------------------------------------------------
# 1. The rushes, spread over the three hosts.

stock_of() {
	stack_psql "SELECT stock FROM product_options WHERE id = $1"
}

# order_spec OPTION FIRST LAST: one order of 1 unit of OPTION per user.
order_spec() {
	local u
	for ((u = $2; u <= $3; u++)); do
		printf 'POST\t/api/v1/orders\t%s\t%s\n' "${TOK[$u]}" "$(order_body "$1" 1)"
	done
}

test_order_rush() {
	local opt out
	opt=$(create_product "$ADMIN" "spread rush" 50) || return
	order_spec "$opt" 1 200 >"$(_assert_tmp)/orders.spec"
	out=$(_assert_tmp)/orders.out
	http_parallel 60 "$(_assert_tmp)/orders.spec" >"$out"
	is "$(outcomes "$out")" "201:50,409 out_of_stock:150" \
		"spread: order rush: exactly 50 x 201 of 200, the rest 409 out_of_stock"
	is "$(stock_of "$opt")" 0 "spread: order rush: stock 0, never negative"
	is "$(stack_psql "SELECT count(*) || ' ' || count(DISTINCT o.user_id) FROM orders o
	    JOIN order_items i ON i.order_id = o.id WHERE i.option_id = $opt")" "50 50" \
		"spread: order rush: 50 orders of 50 distinct users"
	audit_clean "spread: after the order rush"
}

test_points_rush() {
	local u=1001 spec out i ids opt
	spec=$(_assert_tmp)/charge.spec
	for ((i = 0; i < 100; i++)); do
		printf 'POST\t/api/v1/points/charge\t%s\t{"amount":100}\n' "${TOK[$u]}"
	done >"$spec"
	out=$(_assert_tmp)/charge.out
	http_parallel 60 "$spec" >"$out"
	is "$(outcomes "$out")" "200:100" "spread: 100 charges of one account at once: all 200"
	is "$(cut -f2 "$out" | jq -r .balance 2>/dev/null | sort -n | paste -sd, -)" \
		"$(seq -s, 100 100 10000)" "spread: the answers carry the balances 100..10000, each once"
	# 30 orders of 100 paid at once with 1,000 points: exactly 10 paid.
	u=1002
	charge "${TOK[$u]}" 1000 || return
	opt=$(create_product "$ADMIN" "pay rush" 100) || return
	spec=$(_assert_tmp)/pay-orders.spec
	for ((i = 0; i < 30; i++)); do
		printf 'POST\t/api/v1/orders\t%s\t%s\n' "${TOK[$u]}" "$(order_body "$opt" 1)"
	done >"$spec"
	http_parallel 30 "$spec" >"$out"
	is "$(count_status 201 "$out")" 30 "spread: 30 orders of 100 placed"
	ids=$(cut -f2 "$out" | jq -r .id 2>/dev/null)
	for i in $ids; do
		printf 'POST\t/api/v1/orders/%s/pay\t%s\t\n' "$i" "${TOK[$u]}"
	done >"$spec"
	http_parallel 30 "$spec" >"$out"
	is "$(outcomes "$out")" "200:10,409 insufficient_points:20" \
		"spread: 30 payments at once with points for 10: 10 paid, 20 insufficient_points"
	is "$(stack_psql "SELECT (SELECT balance FROM point_accounts WHERE user_id = $u) || ' ' ||
	    (SELECT sum(amount) FROM point_ledger WHERE user_id = $u) || ' ' ||
	    (SELECT count(*) FROM orders WHERE user_id = $u AND status = 'paid')")" "0 0 10" \
		"spread: balance 0 = ledger sum 0, 10 orders paid"
	audit_clean "spread: after the points rushes"
}

# test_coupon_rush LABEL: 600 users at once on a policy of 100.
test_coupon_rush() {
	local p out
	p=$(new_policy "$1" 100) || return
	rush_spec "$p" 1 600 "$(_assert_tmp)/coupons.spec" "$(_assert_tmp)/coupons.users"
	out=$(_assert_tmp)/coupons.out
	http_parallel 60 "$(_assert_tmp)/coupons.spec" >"$out"
	rush_checks "spread: $1" "$p" 100 "$(_assert_tmp)/coupons.users" "$out"
	if gate_on; then
		is "$(gate_users "$p")" "$(holders "$p")" "spread: $1: the gate's set holds exactly the 100 holders"
	fi
	check_coupons "spread: after $1"
}

# served_by: how many requests each app host answered, from nginx's log
# ("198.18.0.11:9000=123 ..."), counting the last upstream of each.
served_by() {
	awk -F'"' '$2 != "" { n = split($2, a, ", "); c[a[n]]++ }
	    END { for (h in c) printf "%s=%d\n", h, c[h] }' "$STACK_DIR/nginx-access.log" | sort | paste -sd' ' -
}

test_spread() {
	local by n
	GATE=redis
	test_order_rush
	test_points_rush
	test_coupon_rush "coupon rush, gate redis"
	# The gate off: the same rush, every claim in PostgreSQL.
	for n in 1 2 3; do
		if ! { stop_app "$n" && app_conf "$n" off && start_app "$n"; }; then
			diag "app$n did not restart"
		fi
	done
	GATE=off
	stack_wait_ready
	test_coupon_rush "coupon rush, gate off"
	by=$(served_by)
	diag "requests per app host: $by"
	for n in 1 2 3; do
		like "$by" "$(app_addr "$n"):$APP_PORT=[0-9]*[1-9]" "spread: app$n served part of the rushes"
	done
}

# ---------------------------------------------------------------------------
# 2. An app host killed in the middle of a rush.

test_host_killed() {
	local q opt out bg i ids n502 at pid pids left
	# Five pending orders that app2 placed: nothing else but its reaper
	# would ever expire them, were reapers tied to hosts.
	q=$(create_product "$ADMIN" "app2's orders" 5) || return
	ids=
	for ((i = 1; i <= 5; i++)); do
		STACK_URL="http://$LB:$APP2_PORT" http POST /api/v1/orders "$(order_body "$q" 1)" \
			"${TOK[$((1100 + i))]}"
		ids="$ids${ids:+,}$(created 201 "app2 order")"
	done
	is "$(stack_psql "SELECT count(*) FROM orders WHERE id IN ($ids) AND status = 'pending'")" 5 \
		"host killed: app2 placed 5 pending orders"

	opt=$(create_product "$ADMIN" "kill rush" 150) || return
	order_spec "$opt" 1 400 >"$(_assert_tmp)/kill.spec"
	out=$(_assert_tmp)/kill.out
	http_parallel 30 "$(_assert_tmp)/kill.spec" >"$out" &
	bg=$!
	for ((i = 0; i < 300; i++)); do
		at=$(stack_psql "SELECT count(*) FROM order_items WHERE option_id = $opt")
		[ "$at" -lt 40 ] || break
		sleep 0.02
	done
	pids=$(app_pids 2)
	stop_app 2 KILL || diag "app2 did not die"
	diag "host killed: app2 SIGKILLed at $at orders of the rush"
	wait "$bg"
	left=
	for pid in $pids; do
		! stack_alive "$pid" || left="$left $pid"
	done
	is "$left" "" "host killed: no process of app2 is left"
	n502=$(count_status 502 "$out")
	diag "host killed: rush outcomes $(outcomes "$out")"
	is "$(outcomes "$out" | tr ',' '\n' | grep -v '^201:\|^409 out_of_stock:\|^502 bad_gateway:')" "" \
		"host killed: every answer is 201, 409 out_of_stock or nginx's 502 for a request app2 had taken"
	[ "$n502" -le 30 ]
	ok $? "host killed: at most the 30 requests in flight were lost to the kill ($n502)"
	is "$(stock_of "$opt")" 0 "host killed: the stock sold out, never negative"
	is "$(stack_psql "SELECT count(*) FROM order_items WHERE option_id = $opt")" 150 \
		"host killed: exactly 150 orders of the 150 units"
	n=$(count_status 201 "$out")
	[ "$n" -le 150 ] && [ "$n" -ge $((150 - n502)) ]
	ok $? "host killed: 201s ($n) are the orders but those whose answer the kill lost"
	audit_clean "host killed: after the rush"

	# After the kill: nothing is lost any more, app2 is skipped.
	opt=$(create_product "$ADMIN" "after the kill" 50) || return
	order_spec "$opt" 401 600 >"$(_assert_tmp)/after.spec"
	http_parallel 30 "$(_assert_tmp)/after.spec" >"$out"
	is "$(outcomes "$out")" "201:50,409 out_of_stock:150" \
		"host killed: a rush after the kill: exactly 50 x 201, 150 out_of_stock, no 502"

	# app2's orders run out: app1's and app3's reapers expire them.
	stack_psql "UPDATE orders SET expires_at = now() WHERE id IN ($ids)" >/dev/null
	for ((i = 0; i < 100; i++)); do
		[ "$(stack_psql "SELECT count(*) FROM orders WHERE id IN ($ids) AND status = 'expired'")" = 5 ] && break
		sleep 0.1
	done
	is "$(stack_psql "SELECT count(*) FROM orders WHERE id IN ($ids) AND status = 'expired'") $(stock_of "$q")" \
		"5 5" "host killed: app2's 5 pending orders expired by the other hosts' reapers, stock back to 5"
	audit_clean "host killed: after the expiry"
	start_app 2 || diag "app2 did not restart"
}

# ---------------------------------------------------------------------------
# 3. PostgreSQL failover.

# sync_cost: one-row commits on pg1 with the synchronous standby, and
# with synchronous_commit = local (not waiting for it): what zero loss
# costs per commit, on this machine, over the veth link.
sync_cost() {
	local mode script=$STACK_DIR/commit.sql
	pg_psql pg1 'CREATE TABLE IF NOT EXISTS sync_probe (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())'
	printf 'INSERT INTO sync_probe DEFAULT VALUES;\n' >"$script"
	for mode in on local; do
		PGOPTIONS="-c synchronous_commit=$mode" "$STACK_PG_BIN/pgbench" -n -h "$STACK_DIR/pg1-run" \
			-U postgres -f "$script" -c 1 -t 500 stockade 2>/dev/null |
			awk -v m="$mode" '/latency average/ { printf "synchronous_commit=%s: %s ms per commit\n", m, $4 }'
	done
}

# load_loop N OUT: one client placing orders of 1 unit, one at a time,
# until $STACK_DIR/load.stop exists; a line per request in OUT:
# "START_US END_US STATUS ORDER_ID|- CODE|-".
load_loop() {
	local n=$1 out=$2 res t0 t1 body status id code
	body=$(order_body "$FAILOVER_OPT" 1)
	while [ ! -e "$STACK_DIR/load.stop" ]; do
		t0=${EPOCHREALTIME/./}
		res=$(curl -s -m 15 -w '\n%{http_code}' -H "Authorization: Bearer ${TOK[$((1200 + n))]}" \
			-H 'Content-Type: application/json' -d "$body" "$STACK_URL/api/v1/orders")
		t1=${EPOCHREALTIME/./}
		status=${res##*$'\n'}
		id=-
		code=-
		# The JSON writer puts blanks around the colon.
		[[ $res =~ \"id\"\ *:\ *([0-9]+) ]] && id=${BASH_REMATCH[1]}
		[[ $res =~ \"code\"\ *:\ *\"([^\"]*)\" ]] && code=${BASH_REMATCH[1]}
		printf '%s %s %s %s %s\n' "$t0" "$t1" "$status" "$id" "$code" >>"$out"
	done
}

test_failover() {
	local n pids=() log=$STACK_DIR/load.log t_stop t_promote first acked missing i errors
	FAILOVER_OPT=$(create_product "$ADMIN" "failover" 100000) || return
	# The test's own session is on pg1, which is about to go.
	sql_close
	diag "failover: $(sync_cost | paste -sd';' -)"
	: >"$log"
	rm -f "$STACK_DIR/load.stop"
	for n in 1 2 3 4; do
		load_loop "$n" "$log" &
		pids+=($!)
	done
	sleep 2
	t_stop=${EPOCHREALTIME/./}
	pg_stop pg1 immediate || diag "pg1 did not stop"
	# A failover manager (Patroni) needs a moment to decide; so does this.
	sleep 1
	pg_as pg2 "$STACK_PG_BIN/pg_ctl" -D "$STACK_DIR/pg2-data" -w -t 30 promote >/dev/null ||
		diag "pg_ctl promote failed"
	t_promote=${EPOCHREALTIME/./}
	ln -sfn pg2-run "$STACK_DIR/pg-run"
	# Load until every client has had three 201s after the promotion, 20 s
	# at most.
	for ((i = 0; i < 200; i++)); do
		[ "$(awk -v t="$t_promote" '$1 >= t && $3 == 201' "$log" | wc -l)" -ge 12 ] && break
		sleep 0.1
	done
	touch "$STACK_DIR/load.stop"
	wait "${pids[@]}"
	is "$(pg_psql pg2 'SELECT pg_is_in_recovery()')" f "failover: pg2 is the primary"
	first=$(awk -v t="$t_promote" '$1 >= t && $3 == 201 { print $2 }' "$log" | sort -n | head -n 1)
	[ -n "$first" ]
	ok $? "failover: orders succeed again after the promotion"
	[ -n "$first" ] || first=$t_promote
	diag "failover: $(awk -v s="$t_stop" '$1 < s' "$log" | wc -l) requests before the stop;" \
		"first 201 $(((first - t_promote) / 1000)) ms after pg_ctl promote returned," \
		"$(((first - t_stop) / 1000)) ms after the primary stopped"
	errors=$(awk -v s="$t_stop" '$1 >= s && $3 != 201 { print $3 " " $5 }' "$log" | sort | uniq -c |
		awk '{ printf "%s%s %s x%d", sep, $2, $3, $1; sep = ", " }')
	diag "failover: answers other than 201 from the stop on: ${errors:-none}"
	is "$(awk '$3 != 201 && $3 != 503' "$log")" "" \
		"failover: every answer was 201 or 503 (never 500: nothing of ours mistakes a failover for a bug)"
	# Every order acknowledged is on the new primary.
	is "$(awk '$3 == 201 && $4 !~ /^[0-9]+$/' "$log")" "" "failover: every 201 carries its order's id"
	acked=$(awk '$3 == 201 && $4 ~ /^[0-9]+$/ { print $4 }' "$log" | paste -sd, -)
	n=$(awk '$3 == 201' "$log" | wc -l)
	missing=$(stack_psql "SELECT count(*) FROM unnest('{$acked}'::bigint[]) a(id)
	    WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = a.id)")
	is "$missing" 0 "failover: all $n orders acknowledged with 201 are on the new primary"
	n=$(awk -v s="$t_stop" '$2 < s && $3 == 201' "$log" | wc -l)
	[ "$n" -ge 1 ]
	ok $? "failover: $n of them were acknowledged before the primary stopped"
	like "$(pg_psql pg2 "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'stockade%'")" \
		'^([4-9]|[1-9][0-9]+)$' "failover: the app hosts' workers are connected to pg2"
	audit_clean "failover: after the failover, on pg2"
	# Every host writes on the new primary.
	test_order_rush
}

# 4. The primary turned read-only under the workers (an old primary fenced
# by its manager; a standby reached without target_session_attrs): a
# write fails with SQLSTATE 25006.  That is the database being unavailable
# for writes, a 503 like a lost connection, never a 500; the connection is
# dropped, so that the next one looks for a primary again (libpq refuses a
# read-only server with target_session_attrs=read-write), and the service
# comes back by itself once the server takes writes.
test_read_only() {
	local opt spec out before i t0 t1
	opt=$(create_product "$ADMIN" "read-only" 1000) || return
	pg_psql pg2 "ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
	before=$(stack_psql "SELECT count(*) FROM orders")
	order_spec "$opt" 1 60 >"$(_assert_tmp)/ro.spec"
	out=$(_assert_tmp)/ro.out
	http_parallel 10 "$(_assert_tmp)/ro.spec" >"$out"
	diag "read-only: outcomes $(outcomes "$out")"
	is "$(outcomes "$out")" "503 database_unavailable:60" \
		"read-only: 60 orders on a read-only primary: all 503 database_unavailable, none 500"
	is "$(stack_psql "SELECT count(*) FROM orders")" "$before" "read-only: nothing was written"
	t0=${EPOCHREALTIME/./}
	pg_psql pg2 "ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()" >/dev/null
	for ((i = 0; i < 100; i++)); do
		http POST /api/v1/orders "$(order_body "$opt" 1)" "${TOK[1]}"
		[ "$HTTP_STATUS" = 201 ] && break
		sleep 0.1
	done
	t1=${EPOCHREALTIME/./}
	is "$HTTP_STATUS" 201 "read-only: writable again: orders succeed"
	diag "read-only: first 201 $(((t1 - t0) / 1000)) ms after the server took writes again"
	http_parallel 10 "$(_assert_tmp)/ro.spec" >"$out"
	is "$(outcomes "$out")" "201:60" "read-only: then 60 orders at once: all 201"
	audit_clean "read-only: after"
}

main() {
	local u t tokens
	if ! netns_init; then
		echo "SKIP: network namespaces cannot be created here ('ip netns add' failed; needs root)" >&2
		netns_cleanup
		exit 77
	fi
	# shellcheck disable=SC2119 # a new temporary directory, not the script's $1
	stack_init || exit 99
	trap cleanup EXIT
	STACK_URL="http://$LB:$HTTP_PORT"
	start_all || exit 99
	sql_open
	ADMIN=$(stack_token 9000 admin)
	tokens=$(_assert_tmp)/tokens
	mint_tokens_bulk 1 1300 >"$tokens" || exit 99
	while IFS=$'\t' read -r u t; do
		TOK[$u]=$t
	done <"$tokens"
	for t in ${SCALE_PARTS:-test_spread test_host_killed test_failover test_read_only}; do
		u=$SECONDS
		"$t"
		diag "$t: $((SECONDS - u)) s"
	done
	done_testing
}

main
