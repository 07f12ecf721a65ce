# shellcheck shell=bash
#
# bench/scenarios/shop.sh: the mixed shop (lib/shop.sh) next to nginx ->
# FastCGI hello, then the memory of every stockade process.  Sourced by
# bench/run.

about_shop() {
	printf 'a mixed shop for %s s at %s clients: browse/order/pay/coupon %s %%, by class, next to nginx -> FastCGI hello; then the memory of the master and each worker\n' \
		"$BENCH_SHOP_SECONDS" "$BENCH_SHOP_CLIENTS" "$BENCH_SHOP_MIX"
}

# Points shop-hello (wrk, tagged {"role": "ceiling"}), shop (tagged
# {"role": "shop"}) and shop-memory (tagged {"role": "memory"}).
scenario_shop() {
	local admin policy
	admin=$(stack_token 1000 admin) || die "minting the admin token failed"
	shop_setup "$admin"
	policy=$(create_policy "$admin" shop-main "$BENCH_SHOP_COUPONS") || die "creating the shop's policy failed"
	scenario_begin shop seconds="$BENCH_SHOP_SECONDS" clients="$BENCH_SHOP_CLIENTS" mix="$BENCH_SHOP_MIX" \
		products="$BENCH_SHOP_PRODUCTS" users="$BENCH_SHOP_USERS" first_user="$SHOP_FIRST_USER" \
		coupons="$BENCH_SHOP_COUPONS" coupon_users="$BENCH_COUPON_USERS" timeout="$BENCH_TIMEOUT" \
		workers="$BENCH_WORKERS"
	build_tools || die "compiling the bench clients failed"
	hello_start hello || die "fcgi_hello did not start"
	POINT_TAGS=$(json_obj role=ceiling kind=hello) wrk_point shop-hello "$BENCH_SHOP_CLIENTS" /bench/hello 200
	hello_stop
	restart_stockade ''
	POINT_TAGS=$(json_obj role=shop) shop_point shop "$BENCH_SHOP_CLIENTS" "$BENCH_SHOP_SECONDS" "$policy"
	POINT_TAGS=$(json_obj role=memory) memory_point shop-memory mappings
	after_scenario shop
}
