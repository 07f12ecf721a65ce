# shellcheck shell=bash
#
# bench/lib/ceilings.sh: the HTTP ceilings of the coupon rush, measured by
# the ceilings scenario and by every coupon rush (coupons, issue, storm).
# Sourced by bench/run.

# http_ceilings NAME: the HTTP ceilings at each of BENCH_COUPON_CONNS, as
# points NAME-KIND-CONNS tagged {"role": "ceiling", "kind": KIND}: wrk for
# BENCH_SECONDS against nginx's /bench/ceiling (KIND nginx), /bench/hello
# (fcgi_hello: hello) and /bench/hello-redis (fcgi_hello -r, one EVALSHA
# per request: redis), then rush (one POST per coupon token) against the
# first and the last (rush-nginx, rush-redis).
http_ceilings() {
	local name=$1 conns kind tokens
	local -A where=([nginx]=/bench/ceiling [hello]=/bench/hello [redis]=/bench/hello-redis)
	build_tools || die "compiling bench/rush.c or bench/fcgi_hello.c failed"
	tokens=$(coupon_tokens) || die "minting the coupon tokens failed"
	hello_start hello || die "fcgi_hello did not start"
	hello_start hello-redis -r "$STACK_DIR/redis.sock" || die "fcgi_hello -r did not start"
	for conns in $BENCH_COUPON_CONNS; do
		for kind in nginx hello redis; do
			POINT_TAGS=$(json_obj role=ceiling kind="$kind") \
				wrk_point "$name-$kind-$conns" "$conns" "${where[$kind]}" 200
		done
		for kind in nginx redis; do
			POINT_TAGS=$(json_obj role=ceiling kind="rush-$kind") \
				rush_point "$name-rush-$kind-$conns" "$conns" "${where[$kind]}" "$tokens" 200
		done
	done
	hello_stop
}
