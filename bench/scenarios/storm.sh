# shellcheck shell=bash
#
# bench/scenarios/storm.sh: the sold-out storm, the coupon rush
# (lib/coupon.sh) with the BENCH_STORM_* values.  Sourced by bench/run.

about_storm() {
	printf 'a sold-out storm: %s users, one request each, on a policy of 1, at %s conns, coupon_gate %s: the pure refusal rate, next to rush -> FastCGI hello + EVALSHA\n' \
		"$BENCH_STORM_USERS" "$BENCH_STORM_CONNS" "${BENCH_STORM_GATES// / vs }"
}

# The coupon rush with the storm's values: one coupon, so that all but one
# of the requests meet a sold-out policy (the first of them while the gate
# still counts admissions).
scenario_storm() {
	# shellcheck disable=SC2034 # coupon_rush reads them (dynamic scope)
	local BENCH_COUPON_USERS=$BENCH_STORM_USERS BENCH_COUPON_TOTAL=1 \
		BENCH_COUPON_CONNS=$BENCH_STORM_CONNS
	# shellcheck disable=SC2034,SC2206 # read by coupon_rush; lists of words
	local COUPON_STRATEGIES=($BENCH_STORM_STRATEGIES) COUPON_GATES=($BENCH_STORM_GATES)
	coupon_rush storm
}
