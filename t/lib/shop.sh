# shellcheck shell=bash
#
# t/lib/shop.sh: helpers the domain integration tests share, on top of
# t/lib/stack.sh and t/lib/assert.sh: the invariant audit, tokens for many
# users at once, a snapshot of the tables a refused request must not touch,
# and creating products through the admin API.

# audit_clean NAME: runs sql/audit.sql; passes when it returns no row.
audit_clean() {
	local rows
	rows=$(stack_psql_file "$STOCKADE_SRCDIR/sql/audit.sql" 2>&1)
	is "$rows" "" "audit: $1"
}

# mint_tokens FIRST LAST: prints "USER<TAB>TOKEN" for users FIRST..LAST.
mint_tokens() {
	local u
	for ((u = $1; u <= $2; u++)); do
		printf '%s\t%s\n' "$u" "$(stack_token "$u")"
	done
}

# db_snapshot: one line summing up every table a request can change;
# two equal snapshots mean nothing moved.  One query: psql costs a
# connection per call.
db_snapshot() {
	stack_psql "SELECT (SELECT count(*) FROM orders) || '/' ||
	    (SELECT count(*) FROM order_items) || '/' ||
	    (SELECT count(*) FROM stock_movements) || '/' ||
	    (SELECT COALESCE(sum(stock), 0) FROM product_options) || '/' ||
	    (SELECT count(*) FROM idempotency_keys) || '/' ||
	    (SELECT count(*) FROM products) || '/' ||
	    (SELECT COALESCE(string_agg(id || status || COALESCE(':' || paid_at, ''), ','
	        ORDER BY id), '') FROM orders) || '/' ||
	    (SELECT count(*) || ':' || COALESCE(sum(version), 0) || ':' ||
	        COALESCE(string_agg(user_id || '=' || balance, ',' ORDER BY user_id), '')
	        FROM point_accounts) || '/' ||
	    (SELECT count(*) || ':' || COALESCE(max(id), 0) || ':' ||
	        COALESCE(sum(amount), 0) FROM point_ledger)"
}

# create_product ADMIN_TOKEN NAME STOCK...: creates a product with one
# option per STOCK (price 100 each) and prints the option ids, one a line.
create_product() {
	local token=$1 name=$2 opts="" s
	shift 2
	for s in "$@"; do
		opts="$opts${opts:+,}{\"name\":\"o$s\",\"price\":100,\"stock\":$s}"
	done
	http POST /api/v1/admin/products "{\"name\":\"$name\",\"options\":[$opts]}" "$token"
	if [ "$HTTP_STATUS" != 201 ]; then
		diag "create_product: $HTTP_STATUS $HTTP_BODY"
		return 1
	fi
	jq -r '.options[].id' <<<"$HTTP_BODY"
}

# count_status STATUS FILE: lines of http_parallel output with STATUS.
count_status() {
	grep -c "^$1	" "$2" || true
}

# bad_request NAME STATUS CODE METHOD PATH BODY [TOKEN [CURL_ARGS...]]: the
# request is refused with STATUS and a problem+json CODE, and leaves the
# database as it was (db_snapshot).  TOKEN defaults to $USER1.
bad_request() {
	local name=$1 status=$2 code=$3 before
	before=$(db_snapshot)
	http "$4" "$5" "$6" "${7-$USER1}" "${@:8}"
	is "$HTTP_STATUS" "$status" "bad input: $name: $status"
	is "$(jq -r .code <<<"$HTTP_BODY" 2>/dev/null)" "$code" "bad input: $name: code $code"
	like "$HTTP_CONTENT_TYPE" '^application/problem\+json' "bad input: $name: problem+json"
	is "$(db_snapshot)" "$before" "bad input: $name: nothing changed"
}
