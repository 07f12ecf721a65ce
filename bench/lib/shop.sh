# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/shop.sh: the mixed shop (bench/shop.c): what it needs once per
# run, and its point runner, with its checks against the database.  Used
# by the shop and scale scenarios.  Sourced by bench/run.

# Users of the shop (orders and payments): SHOP_FIRST_USER onwards.
SHOP_FIRST_USER=2000001

# shop_setup ADMIN_TOKEN: once per run, what every shop point needs: the
# shoppers' tokens ($WORK/shop-tokens, BENCH_SHOP_USERS users), each with
# a balance of 1,000,000 points (one charge each, through the API, by
# rush), the coupon rush's tokens (the coupon crowd), and a catalogue of
# BENCH_SHOP_PRODUCTS products of 5 options with 100,000,000 units each
# ($WORK/shop-products, $WORK/shop-options).
shop_setup() {
	local admin=$1 i ids
	[ ! -e "$WORK/shop-ready" ] || return 0
	build_tools || die "compiling the bench clients failed"
	coupon_tokens >/dev/null || die "minting the coupon tokens failed"
	mint_users "$WORK/shop-tokens" "$SHOP_FIRST_USER" "$BENCH_SHOP_USERS" || die "minting the shop tokens failed"
	say "shop: charging $BENCH_SHOP_USERS shoppers 1,000,000 points each"
	"$WORK/rush" -c 32 -d '{"amount":1000000}' "$WORK/shop-tokens" \
		"$STACK_URL/api/v1/points/charge" >"$WORK/shop-charge.txt" 2>&1 ||
		die "charging the shoppers failed: $(tail -n 2 "$WORK/shop-charge.txt")"
	grep -q "^RUSH .* status_200=$BENCH_SHOP_USERS\( \|$\)" "$WORK/shop-charge.txt" ||
		die "charging the shoppers: not every charge answered 200: $(cat "$WORK/shop-charge.txt")"
	: >"$WORK/shop-products"
	: >"$WORK/shop-options"
	for ((i = 1; i <= BENCH_SHOP_PRODUCTS; i++)); do
		ids=$(create_product "$admin" "shop-$i" 5 100000000) || die "creating the shop's products failed"
		printf '%s\n' "$ids" >>"$WORK/shop-options"
		jq -er .id "$WORK/product.json" >>"$WORK/shop-products" || die "no product id"
	done
	: >"$WORK/shop-ready"
}

# shop_db: "ORDERS PAID LEDGER_ROWS", the database's orders, paid orders
# and ledger rows of the shoppers.
shop_db() {
	stack_psql "SELECT (SELECT count(*) FROM orders WHERE user_id >= $SHOP_FIRST_USER AND user_id < $((SHOP_FIRST_USER + BENCH_SHOP_USERS))),
	        (SELECT count(*) FROM orders WHERE status = 'paid' AND user_id >= $SHOP_FIRST_USER AND user_id < $((SHOP_FIRST_USER + BENCH_SHOP_USERS))),
	        (SELECT count(*) FROM point_ledger WHERE user_id >= $SHOP_FIRST_USER AND user_id < $((SHOP_FIRST_USER + BENCH_SHOP_USERS)))" | tr '|' ' '
}

# shop_point NAME CLIENTS SECONDS POLICY: one run of bench/shop.c after a
# CHECKPOINT, then its checks against the database, recorded as point NAME
# (lib/record.sh, with the tags of POINT_TAGS): tool "shop", clients,
# seconds, mix, policy; "shop" (every key=value of its SHOP line: seconds
# requests rps errors timeouts pay_as_order unpaid ids_unread; null when
# shop printed none) and "classes" ({"browse": {every key=value of its
# SHOP_CLASS line}, ...}; see bench/shop.c), rc, "statuses" (nginx's log),
# "db_conns" (stockade's database connections mid-run), cpu, "logged",
# "db" (what the database gained: orders, paid, ledger, and the policy's
# coupons), pgss and check.  The raw output stays in $WORK/shop-NAME.txt.
shop_point() {
	local name=$1 clients=$2 seconds=$3 policy=$4 rawf line kv cls k
	local mark_a mark_d cpu0 cpu1 cpu pgss seen rc statuses logged db0 db1 o0 p0 l0 o1 p1 l1 coupons
	local unexpected want got check tokens shop=null classes='{}'
	local -A H=()
	rawf=$WORK/shop-$name.txt
	tokens=$(coupon_tokens) || die "minting the coupon tokens failed"
	need_stack
	stack_psql CHECKPOINT >/dev/null || die "CHECKPOINT failed"
	mark_a=$(log_mark "$STACK_DIR/nginx-access.log")
	mark_d=$(log_mark "$STACK_DIR/stockade.log")
	db0=$(shop_db)
	say "$name: shop -c $clients -T $seconds -m $BENCH_SHOP_MIX"
	pgss_reset
	cpu0=$(cpu_sample)
	start_load "$rawf" "$WORK/shop" -c "$clients" -T "$seconds" -t "$(timeout_ms)" -m "$BENCH_SHOP_MIX" \
		"$STACK_URL" "$WORK/shop-tokens" "$tokens" "$WORK/shop-products" "$WORK/shop-options" "$policy"
	sleep "$((seconds / 2)).5"
	seen=$(db_conns 2>/dev/null)
	wait_load
	rc=$?
	cpu1=$(cpu_sample)
	need_stack
	cpu=$(cpu_json "$cpu0" "$cpu1")
	pgss=$(pgss_json)
	sleep 0.5
	statuses=$(statuses_since "$mark_a")
	logged=$(daemon_problems "$mark_d")
	db1=$(settled shop_db)
	read -r o0 p0 l0 <<<"$db0"
	read -r o1 p1 l1 <<<"$db1"
	coupons=$(stack_psql "SELECT count(*) FROM user_coupons WHERE policy_id = $policy")
	line=$(grep '^SHOP ' "$rawf" | tail -n 1)
	if [ -z "$line" ]; then
		check="**shop failed (status $rc)**: $(grep -v '^SHOP' "$rawf" | tail -n 1)"
		say "$name: shop failed"
		cat "$rawf" >&2
	else
		shop=$(kv_json "${line#SHOP }")
		for kv in ${line#SHOP }; do H[${kv%%=*}]=${kv#*=}; done
		while read -r line; do
			line=${line#SHOP_CLASS class=}
			cls=${line%% *}
			for kv in ${line#* }; do H[$cls.${kv%%=*}]=${kv#*=}; done
			classes=$(jq -c --arg c "$cls" --argjson v "$(kv_json "${line#* }")" '.[$c] = $v' <<<"$classes")
		done < <(grep '^SHOP_CLASS ' "$rawf")
		check=ok
		# Every class has its expected answers; anything else is a defect
		# of the run (or of stockade).
		unexpected=''
		for k in "${!H[@]}"; do
			case "$k" in
			browse.status_200 | order.status_201 | pay.status_200 | coupon.status_201 | coupon.status_409) ;;
			coupon.code_409_sold_out | coupon.code_409_already_issued) ;;
			*.status_* | *.code_*) unexpected="$unexpected $k=${H[$k]}" ;;
			esac
		done
		want="${H[order.status_201]:-0} ${H[pay.status_200]:-0} ${H[coupon.status_201]:-0}"
		got="$((o1 - o0)) $((p1 - p0)) $coupons"
		if [ "$rc" -ne 0 ] || [ "${H[errors]}" != 0 ] || [ -n "$unexpected" ] || [ "$logged" -gt 0 ] ||
			[ "${H[ids_unread]}" != 0 ] || [ "$got" != "$want" ]; then
			check="**ERRORS**"
			[ "${H[errors]}" = 0 ] || check="$check ${H[errors]} transfers got no answer (${H[timeouts]} timeouts)"
			[ -z "$unexpected" ] || check="$check unexpected answers:$unexpected"
			[ "$logged" -eq 0 ] || check="$check stockade logged $logged error/warn lines"
			[ "${H[ids_unread]}" = 0 ] || check="$check ${H[ids_unread]} order ids unread"
			[ "$got" = "$want" ] ||
				check="$check database gained $((o1 - o0)) orders, $((p1 - p0)) paid, $coupons coupons for answers $want"
			[ "$rc" -eq 0 ] || check="$check shop exit $rc"
		fi
		say "$name: $(rate "${H[rps]}") req/s (browse $(rate "${H[browse.rps]:-0}"), order $(rate "${H[order.rps]:-0}"), pay $(rate "${H[pay.rps]:-0}"), coupon $(rate "${H[coupon.rps]:-0}")); statuses $statuses; CPU $(cpu_text "$cpu"); $check"
	fi
	point_record "$name" "$(jq -n --argjson clients "$clients" --argjson seconds "$seconds" \
		--arg mix "$BENCH_SHOP_MIX" --argjson policy "$policy" --argjson shop "$shop" \
		--argjson classes "$classes" --argjson rc "$rc" --argjson statuses "$(statuses_json "$statuses")" \
		--arg seen "$seen" --argjson cpu "$cpu" --argjson logged "$logged" \
		--argjson db "$(json_obj orders=$((o1 - o0)) paid=$((p1 - p0)) ledger=$((l1 - l0)) coupons="$coupons")" \
		--argjson pgss "$pgss" --arg check "$check" \
		'{tool: "shop", clients: $clients, seconds: $seconds, mix: $mix, policy: $policy,
		  shop: $shop, classes: $classes, rc: $rc, statuses: $statuses,
		  db_conns: ($seen | tonumber? // null), cpu: $cpu, logged: $logged, db: $db,
		  pgss: $pgss, check: $check}')"
}
