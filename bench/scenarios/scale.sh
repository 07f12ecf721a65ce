# shellcheck shell=bash
#
# bench/scenarios/scale.sh: stockade with each worker count of
# BENCH_SCALE_WORKERS, the coupon rush and the mixed shop at each.
# Sourced by bench/run.

about_scale() {
	printf 'workers %s: the coupon rush (pessimistic, gate redis) and the mixed shop (%s s) at %s clients each, database connections seen\n' \
		"$BENCH_SCALE_WORKERS" "$BENCH_SCALE_SECONDS" "$BENCH_SCALE_CONNS"
}

# Points scale-rush-W (rush, with "db": coupon_rows_json), scale-shop-W
# (shop) and scale-memory-W (memory after the shop), tagged {"role": "rush",
# "shop" or "memory", "workers": W}.
scale_rush() {
	local w=$1 admin=$2 id tokens n201 sold issued point=scale-rush-$1
	tokens=$(coupon_tokens) || die "minting the coupon tokens failed"
	id=$(create_policy "$admin" "scale-rush-$w" "$BENCH_COUPON_TOTAL") || die "creating the policy failed"
	POINT_TAGS=$(json_obj role=rush workers="$w" policy="$id") \
		rush_point "$point" "$BENCH_SCALE_CONNS" "/api/v1/coupons/$id/issue" "$tokens" "201 409"
	point_merge "$point" "{\"db\": $(coupon_rows_json "$(settled coupon_rows "$id")")}"
	n201=$(point_get "$point" '.rush.status_201 // 0')
	sold=$(point_get "$point" '.rush.code_409_sold_out // 0')
	issued=$(point_get "$point" .db.issued)
	if [ "$n201" -ne "$BENCH_COUPON_TOTAL" ] || [ "$issued" != "$n201" ] ||
		[ "$sold" -ne $((BENCH_COUPON_USERS - BENCH_COUPON_TOTAL)) ]; then
		point_problem "$point" "**ERRORS** $n201 × 201, $sold × sold_out, issued_quantity $issued"
	fi
}

scenario_scale() {
	local admin w policy
	admin=$(stack_token 1000 admin) || die "minting the admin token failed"
	shop_setup "$admin"
	scenario_begin scale workers="$BENCH_SCALE_WORKERS" conns="$BENCH_SCALE_CONNS" \
		seconds="$BENCH_SCALE_SECONDS" users="$BENCH_COUPON_USERS" total="$BENCH_COUPON_TOTAL" \
		mix="$BENCH_SHOP_MIX" coupons="$BENCH_SHOP_COUPONS"
	for w in $BENCH_SCALE_WORKERS; do
		export STACK_WORKERS=$w
		restart_stockade ''
		scale_rush "$w" "$admin"
		policy=$(create_policy "$admin" "scale-shop-$w" "$BENCH_SHOP_COUPONS") || die "creating the policy failed"
		POINT_TAGS=$(json_obj role=shop workers="$w") \
			shop_point "scale-shop-$w" "$BENCH_SCALE_CONNS" "$BENCH_SCALE_SECONDS" "$policy"
		POINT_TAGS=$(json_obj role=memory workers="$w") memory_point "scale-memory-$w"
	done
	export STACK_WORKERS=$BENCH_WORKERS
	restart_stockade ''
	after_scenario scale
}
