# shellcheck shell=bash
#
# bench/scenarios/ceilings.sh: the HTTP ceilings of the coupon rush alone
# (run only when named; the coupon rushes measure them too).  Sourced by
# bench/run.

about_ceilings() {
	printf 'req/s of nginx alone, nginx -> FastCGI hello, that plus one Redis EVALSHA (wrk), and rush against them, at %s conns\n' "$BENCH_COUPON_CONNS"
}

# Points ceilings-KIND-CONNS (lib/ceilings.sh).
scenario_ceilings() {
	scenario_begin ceilings conns="$BENCH_COUPON_CONNS" users="$BENCH_COUPON_USERS" \
		workers="$BENCH_WORKERS" seconds="$BENCH_SECONDS"
	http_ceilings ceilings
	after_scenario ceilings
}
