# shellcheck shell=bash
#
# bench/scenarios/coupons.sh: the first-come-first-served coupon rush
# (lib/coupon.sh) with the BENCH_COUPON_* values.  Sourced by bench/run.

about_coupons() {
	printf 'a coupon rush: %s users, one request each, on a policy of %s at %s conns; coupon_gate %s; coupon_strategy %s; requests that reached PostgreSQL; next to the HTTP ceilings and pgbench of the same SQL\n' \
		"$BENCH_COUPON_USERS" "$BENCH_COUPON_TOTAL" "$BENCH_COUPON_CONNS" \
		"${BENCH_COUPON_GATES// / vs }" "${BENCH_COUPON_STRATEGIES// / vs }"
}

scenario_coupons() {
	coupon_rush coupons
}
