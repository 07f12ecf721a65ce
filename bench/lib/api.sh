# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/api.sh: what the scenarios ask of stockade's API around the
# points: products and coupon policies created through the admin API, and
# stockade's counters in GET /status.  Sourced by bench/run.

# create_product ADMIN_TOKEN NAME COUNT STOCK: a product with COUNT options
# of STOCK units at price 100, through the admin API; prints the option ids
# (the whole answer stays in $WORK/product.json).
create_product() {
	local token=$1 name=$2 count=$3 stock=$4 opts='' i code
	for ((i = 1; i <= count; i++)); do
		opts="$opts${opts:+,}{\"name\":\"o$i\",\"price\":100,\"stock\":$stock}"
	done
	code=$(curl -sS -o "$WORK/product.json" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		--data "{\"name\":\"$name\",\"options\":[$opts]}" \
		"$STACK_URL/api/v1/admin/products") || return 1
	if [ "$code" != 201 ]; then
		say "creating product $name: HTTP $code $(head -c 300 "$WORK/product.json")"
		return 1
	fi
	jq -r '.options[].id' "$WORK/product.json"
}

# create_policy ADMIN_TOKEN NAME TOTAL: a coupon policy of TOTAL coupons
# (an amount of 100, open from now for 30 days) through the admin API;
# prints its id.
create_policy() {
	local code
	code=$(curl -sS -o "$WORK/policy.json" -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		--data "{\"name\":\"$2\",\"discount_kind\":\"amount\",\"discount_value\":100,\"total_quantity\":$3}" \
		"$STACK_URL/api/v1/admin/coupons") || return 1
	if [ "$code" != 201 ]; then
		say "creating policy $2: HTTP $code $(head -c 300 "$WORK/policy.json")"
		return 1
	fi
	jq -er .id "$WORK/policy.json"
}

# status_counters KEY...: stockade's totals over its workers of the
# counters KEY... of GET /status, as a JSON object; fails when one is
# missing.
status_counters() {
	local tok
	tok=$(stack_status_token) || return 1 # /status needs the admin role
	curl -sS --max-time 5 -H "Authorization: Bearer $tok" "$STACK_URL/status" | jq -ec --args '. as $s | reduce $ARGS.positional[] as $k ({};
		.[$k] = ($s[$k] | if type == "number" then . else error("GET /status has no \($k)") end))' "$@"
}

# counters_delta BEFORE AFTER: AFTER - BEFORE, key by key, of two
# status_counters objects.
counters_delta() {
	jq -nc --argjson a "$1" --argjson b "$2" '$b | with_entries(.value -= $a[.key])'
}
