# shellcheck shell=bash
#
# bench/scenarios/catalogue.sh: a product page and the product list through
# stockade, without and with nginx's catalogue microcache
# (nginx/stockade.conf), next to nginx -> FastCGI hello with as many workers
# as stockade (issue 17, target 4).  Sourced by bench/run.

about_catalogue() {
	printf 'req/s of a product page and the product list, microcache off and on, next to nginx -> FastCGI hello, %s conns\n' 32
}

# catalogue_nginx CACHE: restart nginx with the microcache on (1) or off.
catalogue_nginx() {
	export STACK_CATALOGUE_CACHE=$1
	stack_stop_nginx || die "nginx did not stop"
	stack_start_nginx || die "nginx did not restart"
	stack_wait_ready || die "stockade did not answer through nginx"
}

# Points catalogue-hello (tagged {"target": "hello"}) and
# catalogue-{page,list}-cache{0,1} (tagged target, cache).  Leaves nginx
# as the run started it (BENCH_CATALOGUE_CACHE).
scenario_catalogue() {
	local conns=32 admin pid c
	admin=$(stack_token 1000 admin) || die "minting the admin token failed"
	create_product "$admin" catalogue 5 100000000 >/dev/null || die "creating the product failed"
	pid=$(jq -er .id "$WORK/product.json") || die "no product id"
	scenario_begin catalogue conns="$conns" threads="$BENCH_THREADS" seconds="$BENCH_SECONDS" \
		workers="$BENCH_WORKERS"
	build_tools || die "compiling the bench clients failed"
	hello_start hello || die "fcgi_hello did not start"
	POINT_TAGS=$(json_obj target=hello) wrk_point catalogue-hello "$conns" /bench/hello 200
	hello_stop
	for c in 0 1; do
		catalogue_nginx "$c"
		POINT_TAGS=$(json_obj target=page cache="$c") \
			wrk_point "catalogue-page-cache$c" "$conns" "/api/v1/products/$pid" 200
		POINT_TAGS=$(json_obj target=list cache="$c") \
			wrk_point "catalogue-list-cache$c" "$conns" /api/v1/products 200
	done
	catalogue_nginx "${BENCH_CATALOGUE_CACHE:-1}"
	after_scenario catalogue
}
