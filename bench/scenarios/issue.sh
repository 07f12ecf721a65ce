# shellcheck shell=bash
#
# bench/scenarios/issue.sh: issuance alone, the coupon rush
# (lib/coupon.sh) with a policy as large as the crowd and the gate off.
# Sourced by bench/run.

about_issue() {
	printf 'issuance alone: %s users on a policy of as many, gate off, %s conns, coupon_strategy %s: issued/s in steady state, next to pgbench of the same SQL\n' \
		"$BENCH_ISSUE_USERS" "$BENCH_ISSUE_CONNS" "${BENCH_ISSUE_STRATEGIES// / vs }"
}

# The coupon rush with a policy as large as the crowd and the gate off:
# every request is an issue transaction, so issued/s is the strategy's
# steady rate (in the 1,000-coupon rush the issue phase lasts about a
# second, ramp-up included).
scenario_issue() {
	# shellcheck disable=SC2034 # coupon_rush reads them (dynamic scope)
	local BENCH_COUPON_USERS=$BENCH_ISSUE_USERS BENCH_COUPON_TOTAL=$BENCH_ISSUE_USERS \
		BENCH_COUPON_CONNS=$BENCH_ISSUE_CONNS
	# shellcheck disable=SC2034,SC2206 # read by coupon_rush; lists of words
	local COUPON_STRATEGIES=($BENCH_ISSUE_STRATEGIES) COUPON_GATES=(off)
	coupon_rush issue
}
