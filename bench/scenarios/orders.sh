# shellcheck shell=bash
#
# bench/scenarios/orders.sh: POST /api/v1/orders, one hot option or 100
# cold ones, per stock_strategy, next to pgbench of the same transaction.
# Sourced by bench/run.

# The stock_strategy values measured (BENCH_ORDERS_STRATEGIES).
read -r -a ORDERS_STRATEGIES <<<"${BENCH_ORDERS_STRATEGIES:-pessimistic conditional redis_lock}"

about_orders() {
	printf 'orders/s, hot option vs 100 cold ones, 16 and 64 conns, pessimistic vs conditional, next to pgbench running the same SQL\n'
}

# orders_now: the number of rows in orders.
orders_now() {
	stack_psql 'SELECT count(*) FROM orders'
}

# Points orders-STRATEGY-PATTERN-CONNS (wrk, with "committed": the orders
# the database gained) and orders-STRATEGY-PATTERN-CONNS-pgbench, tagged
# {"role": "stockade" or "pgbench", "strategy", "pattern"} (and pgbench's
# with the conns of its stockade point).
scenario_orders() {
	local admin strategy pattern conns ids lo hi n sql label tags before committed ok201
	mint_tokens || die "minting tokens failed"
	admin=$(stack_token 1000 admin) || die "minting the admin token failed"
	scenario_begin orders users="$BENCH_USERS" workers="$BENCH_WORKERS" seconds="$BENCH_SECONDS" \
		strategies="${ORDERS_STRATEGIES[*]}"
	for strategy in "${ORDERS_STRATEGIES[@]}"; do
		say "orders: stock_strategy = $strategy"
		restart_stockade "stock_strategy = $strategy"
		ids=$(create_product "$admin" "bench-hot-$strategy" 1 1000000000) || die "creating the hot product failed"
		printf '%s\n' "$ids" >"$WORK/options-hot-$strategy"
		ids=$(create_product "$admin" "bench-cold-$strategy" 100 1000000000) || die "creating the cold product failed"
		printf '%s\n' "$ids" >"$WORK/options-cold-$strategy"
		# redis_lock's transaction is the conditional one; its Redis
		# locks are outside the database, so pgbench cannot run them.
		sql=$PGBENCH_DIR/order-${strategy/redis_lock/conditional}.sql
		for pattern in hot cold; do
			ids=$(sort -n "$WORK/options-$pattern-$strategy")
			lo=$(head -n 1 <<<"$ids")
			hi=$(tail -n 1 <<<"$ids")
			n=$(wc -l <<<"$ids")
			# pgbench draws random(lo, hi): the ids must be contiguous.
			[ $((hi - lo + 1)) -eq "$n" ] || die "option ids of $pattern are not contiguous: $lo..$hi for $n"
			for conns in 16 64; do
				label=orders-$strategy-$pattern-$conns
				before=$(orders_now)
				POINT_TAGS=$(json_obj role=stockade strategy="$strategy" pattern="$pattern" options="$n") \
					BENCH_WRK_MODE=orders BENCH_WRK_TOKENS=$WORK/tokens \
					BENCH_WRK_OPTIONS=$WORK/options-$pattern-$strategy \
					wrk_point "$label" "$conns" /api/v1/orders 201
				committed=$(($(settled orders_now) - before))
				point_merge "$label" "$(json_obj committed="$committed")"
				ok201=$(point_get "$label" '.statuses["201"] // 0')
				# Invariant 5 (docs/architecture.md): every 201 is a committed order.
				if [ "$committed" -lt "$ok201" ]; then
					point_problem "$label" "**LOST ORDERS**: $((ok201 - committed)) answered 201 but not in the database"
				fi
				tags=$(json_obj role=pgbench strategy="$strategy" pattern="$pattern" options="$n" conns="$conns")
				POINT_TAGS=$tags pgbench_point "$label-pgbench" "$sql" -D "users=$BENCH_USERS" \
					-D "opt_lo=$lo" -D "opt_hi=$hi" -D "ttl_ms=$BENCH_TTL_MS"
			done
		done
		say "orders ($strategy): audit $(audit)"
	done
	after_scenario orders
}
