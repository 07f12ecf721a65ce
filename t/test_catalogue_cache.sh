#!/usr/bin/env bash
# t/test_catalogue_cache.sh: nginx's catalogue microcache, as
# nginx/stockade.conf ships it (STACK_CATALOGUE_CACHE=1): a second anonymous
# GET of a product page or of the product list within the window is a HIT
# that never reached stockade; an authenticated GET, a POST, /status,
# /metrics and /readyz never come from the cache; a restock shows within the
# documented bound (2 s after the write, plus one read); and an order
# placed while the cache still shows the old stock is judged on live stock
# under its lock (docs/architecture.md, "Catalogue reads may be stale").
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/shop.sh
. "$(dirname "$0")/lib/shop.sh"

export STACK_CATALOGUE_CACHE=1
# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap stack_cleanup EXIT
APP_LOG=$STACK_DIR/app.log
export STACK_EXTRA_CONF="log_file = $APP_LOG"
stack_start || exit 99

ADMIN=$(stack_token 1000 admin)
USER1=$(stack_token 1)
USER2=$(stack_token 2)

# served PATH: how many access lines stockade logged for GET PATH.
served() {
	grep -c "access GET $1 " "$APP_LOG"
}

# stock_of PID: the stock of the product's first option, as the last
# response showed it.
stock_of() {
	jq -r '.options[0].stock' <<<"$HTTP_BODY"
}

OPT=$(create_product "$ADMIN" "cached" 3) || exit 1
PID=$(stack_psql "SELECT product_id FROM product_options WHERE id = $OPT")
PAGE=/api/v1/products/$PID

# --- a second anonymous GET within the window is a HIT ---------------------
http GET "$PAGE"
is "$HTTP_STATUS" 200 "page: first GET 200"
is "$(http_header X-Cache-Status)" MISS "page: first GET is a MISS"
before=$(served "$PAGE")
http GET "$PAGE"
is "$(http_header X-Cache-Status)" HIT "page: second GET within 1 s is a HIT"
is "$(stock_of)" 3 "page: the HIT has the stock"
is "$(served "$PAGE")" "$before" "page: the HIT did not reach stockade"
# HEAD is cached apart from GET: a HEAD's answer has no body.
http HEAD "/api/v1/products?limit=3"
is "$HTTP_STATUS" 200 "HEAD first: 200"
http HEAD "/api/v1/products?limit=3"
is "$(http_header X-Cache-Status)" HIT "HEAD first: the second HEAD is a HIT"
http GET "/api/v1/products?limit=3"
is "$(http_header X-Cache-Status)" MISS "HEAD first: a GET is not answered from it"
is "$(jq '.items | length' <<<"$HTTP_BODY")" \
	"$(stack_psql 'SELECT least(count(*), 3) FROM products')" "HEAD first: the GET has its body"

http GET "/api/v1/products?limit=5"
is "$(http_header X-Cache-Status)" MISS "list: first GET is a MISS"
http GET "/api/v1/products?limit=5"
is "$(http_header X-Cache-Status)" HIT "list: second GET is a HIT"
http GET "/api/v1/products?limit=4"
is "$(http_header X-Cache-Status)" MISS "list: another query is another entry"

# --- never from the cache ---------------------------------------------------
before=$(served "$PAGE")
http GET "$PAGE" "" "$USER1"
is "$HTTP_STATUS" 200 "authenticated: 200"
is "$(http_header X-Cache-Status)" BYPASS "authenticated: BYPASS"
is "$(served "$PAGE")" "$((before + 1))" "authenticated: reached stockade"

http POST "$PAGE" '{}' ""
is "$HTTP_STATUS" 405 "POST of a product page: 405 from stockade"
isnt_cached=$(http_header X-Cache-Status)
ok "$([ -z "$isnt_cached" ] || [ "$isnt_cached" = BYPASS ] && echo 0 || echo 1)" \
	"POST: not from the cache (X-Cache-Status '$isnt_cached')"
http GET "$PAGE"
is "$(jq -r .id <<<"$HTTP_BODY")" "$PID" "POST: did not overwrite the GET's entry"

for p in /readyz /healthz /status /metrics /api/v1/products/popular; do
	http GET "$p"
	http GET "$p"
	is "$(http_header X-Cache-Status)" "" "$p: outside the cache"
done
before=$(served /readyz)
http GET /readyz
is "$(served /readyz)" "$((before + 1))" "/readyz: every GET reaches stockade"
http GET "/api/v1/orders?limit=1" "" "$USER1"
http GET "/api/v1/orders?limit=1" "" "$USER1"
is "$(http_header X-Cache-Status)" "" "orders: outside the cache"

# --- a restock shows within the bound; an order sees live stock -----------
# Fill the cache with stock 3, then take all 3 and restock 2 while the
# cached page still says 3.
http GET "$PAGE"
http GET "$PAGE"
is "$(http_header X-Cache-Status)" HIT "restock: the page is cached"
new_order "$USER2" "$OPT" 3 >/dev/null
ok $? "order: took the 3 in stock"
http POST "/api/v1/admin/options/$OPT/restock" '{"quantity":2}' "$ADMIN"
is "$HTTP_STATUS" 200 "restock: 200"
http GET "$PAGE"
stale=$(stock_of)
diag "right after the order and restock the page says $stale ($(http_header X-Cache-Status))"
# The cache may still say 3; an order for 3 is judged on live stock (2).
http POST /api/v1/orders "$(order_body "$OPT" 3)" "$USER1"
is "$HTTP_STATUS" 409 "order after restock: 3 of 2 refused on live stock"
is "$(jq -r .code <<<"$HTTP_BODY")" out_of_stock "order after restock: out_of_stock"
is "$(jq -r .available <<<"$HTTP_BODY")" 2 "order after restock: available is live (2)"
new_order "$USER1" "$OPT" 2 >/dev/null
ok $? "order after restock: the 2 restocked are sold"
wrote=$(date +%s.%N)
http POST /api/v1/orders "$(order_body "$OPT" 1)" "$USER1"
is "$HTTP_STATUS" 409 "no oversell: nothing left"
# Within 2 s of the last write (the entry shown then was made before it)
# plus one read, the page is live.
seen=""
for _ in $(seq 1 40); do
	http GET "$PAGE"
	if [ "$(stock_of)" = 0 ]; then
		seen=$(date +%s.%N)
		break
	fi
	sleep 0.1
done
ok "$([ -n "$seen" ] && echo 0 || echo 1)" "restock and orders visible on the page"
if [ -n "$seen" ]; then
	lag=$(awk -v a="$wrote" -v b="$seen" 'BEGIN { printf "%.2f", b - a }')
	diag "visible ${lag}s after the last write"
	ok "$(awk -v l="$lag" 'BEGIN { print (l <= 3.0) ? 0 : 1 }')" \
		"visible within the bound (2 s plus a read; took ${lag}s)"
fi
is "$(stack_psql "SELECT stock FROM product_options WHERE id = $OPT")" 0 "no oversell: stock 0"
audit_clean "after the cache"

done_testing
