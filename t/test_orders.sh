#!/usr/bin/env bash
# t/test_orders.sh: stock and orders against a real stack, once per stock
# strategy (pessimistic, conditional, redis_lock): no oversell under a rush, no deadlock
# reaching a client, cancel and expiry restoring exactly once, bad input
# refused without a trace, Idempotency-Key, and the audit of invariants 1
# and 2 (docs/architecture.md) after every part.
#
# No case bets on the machine's speed: stockade runs with lock and
# statement timeouts (60 s) far beyond any wait here, so that on a loaded
# machine a crowd queued on one row, or on its Redis lock, is still
# answered 201 or 409, not 503 after a second; locks a case holds are
# held until it lets go (hold_lock), and what a case waits for it polls
# for, with a bound.  The lock timeout itself is test_lock_timeout's, on
# a stockade restarted with lock_timeout = 1s.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"

stock_of() {
	stack_psql "SELECT stock FROM product_options WHERE id = $1"
}

# rush: 200 distinct users each order 1 unit of an option with stock 50.
test_rush() {
	local opt spec out
	opt=$(create_product "$ADMIN" "rush" 50) || return
	spec=$(_assert_tmp)/rush.spec
	while IFS=$'\t' read -r user token; do
		printf 'POST\t/api/v1/orders\t%s\t%s\n' "$token" "$(order_body "$opt" 1)"
	done <"$TOKENS" >"$spec"
	out=$(_assert_tmp)/rush.out
	http_parallel 200 "$spec" >"$out"
	is "$(count_status 201 "$out")" 50 "rush: exactly 50 orders created"
	is "$(count_status 409 "$out")" 150 "rush: exactly 150 refused"
	is "$(grep '^409' "$out" | grep -vc '"code":"out_of_stock"')" 0 \
		"rush: every refusal says out_of_stock"
	is "$(stock_of "$opt")" 0 "rush: stock is 0, never negative"
	is "$(stack_psql "SELECT count(*) FROM stock_movements
	    WHERE option_id = $opt AND reason = 'order'")" 50 "rush: 50 order movements"
	is "$(stack_psql "SELECT count(DISTINCT user_id) FROM orders o
	    JOIN order_items i ON i.order_id = o.id WHERE i.option_id = $opt")" 50 \
		"rush: 50 distinct buyers"
	audit_clean "after the rush"
}

# crossing: 100 two-item orders over the same two options, half of them
# listing the options in reverse order.
test_crossing() {
	local ids a b spec out i=0 deadlocks
	ids=$(create_product "$ADMIN" "crossing" 1000 1000) || return
	a=$(sed -n 1p <<<"$ids")
	b=$(sed -n 2p <<<"$ids")
	spec=$(_assert_tmp)/cross.spec
	while IFS=$'\t' read -r user token; do
		[ "$i" -lt 100 ] || break
		if [ $((i % 2)) -eq 0 ]; then
			body=$(order_body "$a" 2 "$b" 3)
		else
			body=$(order_body "$b" 3 "$a" 2)
		fi
		printf 'POST\t/api/v1/orders\t%s\t%s\n' "$token" "$body"
		i=$((i + 1))
	done <"$TOKENS" >"$spec"
	out=$(_assert_tmp)/cross.out
	deadlocks=$(status_counter db_retries_40p01)
	http_parallel 100 "$spec" >"$out"
	is "$(count_status 201 "$out")" 100 "crossing: all 100 orders created (no deadlock reached a client)"
	is "$(($(status_counter db_retries_40p01) - deadlocks))" 0 \
		"crossing: no deadlock at all (no transaction retried after SQLSTATE 40P01)"
	is "$(stock_of "$a")" $((1000 - 200)) "crossing: first option down by 200"
	is "$(stock_of "$b")" $((1000 - 300)) "crossing: second option down by 300"
	audit_clean "after crossing orders"
}

test_cancel() {
	local opt id spec out i
	opt=$(create_product "$ADMIN" "cancel" 10) || return
	http POST /api/v1/orders "$(order_body "$opt" 4)" "$USER1"
	is "$HTTP_STATUS" 201 "cancel: order created"
	id=$(jq -r .id <<<"$HTTP_BODY")
	is "$(jq -r .status <<<"$HTTP_BODY")" pending "cancel: order is pending"
	like "$(jq -r .expires_at <<<"$HTTP_BODY")" '^20[0-9][0-9]-' "cancel: order has expires_at"
	is "$(jq -r .total <<<"$HTTP_BODY")" 400 "cancel: total = 4 x 100"
	is "$(stock_of "$opt")" 6 "cancel: 4 units reserved"
	http POST "/api/v1/orders/$id/cancel" "" "$USER2"
	is "$HTTP_STATUS" 404 "cancel: another user's order is 404"
	is "$(stock_of "$opt")" 6 "cancel: another user's cancel changed nothing"
	spec=$(_assert_tmp)/cancel.spec
	for ((i = 0; i < 50; i++)); do
		printf 'POST\t/api/v1/orders/%s/cancel\t%s\t\n' "$id" "$USER1"
	done >"$spec"
	out=$(_assert_tmp)/cancel.out
	http_parallel 50 "$spec" >"$out"
	is "$(count_status 200 "$out")" 1 "cancel: 50 concurrent cancels, exactly one 200"
	is "$(count_status 409 "$out")" 49 "cancel: the other 49 are 409"
	is "$(grep '^409' "$out" | grep -vc order_not_cancelable)" 0 \
		"cancel: refusals say order_not_cancelable"
	is "$(stock_of "$opt")" 10 "cancel: units restored once"
	is "$(stack_psql "SELECT status FROM orders WHERE id = $id")" canceled "cancel: order canceled"
	audit_clean "after cancels"
}

# orders_ended N WHERE: whether N orders (o) with an item (i) matching
# WHERE have ended canceled or expired.
orders_ended() {
	[ "$(stack_psql "SELECT count(*) FROM orders o JOIN order_items i ON i.order_id = o.id
	    WHERE $2 AND o.status IN ('canceled', 'expired')")" = "$1" ]
}

# expiry: the reaper (every 100 ms in this stack) expires an order whose
# reservation has run out; time is moved forward by editing expires_at.
test_expiry() {
	local opt id
	opt=$(create_product "$ADMIN" "expiry" 5) || return
	http POST /api/v1/orders "$(order_body "$opt" 5)" "$USER1"
	id=$(jq -r .id <<<"$HTTP_BODY")
	is "$(stock_of "$opt")" 0 "expiry: all 5 units reserved"
	stack_psql "UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $id" >/dev/null
	_stack_wait_for 30 orders_ended 1 "o.id = $id"
	is "$(stack_psql "SELECT status FROM orders WHERE id = $id")" expired "expiry: the reaper expired the order"
	is "$(stock_of "$opt")" 5 "expiry: units restored"
	http POST "/api/v1/orders/$id/cancel" "" "$USER1"
	is "$HTTP_STATUS" 409 "expiry: an expired order cannot be canceled"
	audit_clean "after expiry"
}

# cancel racing expiry: 40 orders past their reservation are canceled
# while the reaper expires them; each must end canceled or expired, with
# its units back exactly once.
test_cancel_vs_expiry() {
	local opt spec out ids i
	opt=$(create_product "$ADMIN" "race" 40) || return
	for ((i = 0; i < 40; i++)); do
		http POST /api/v1/orders "$(order_body "$opt" 1)" "$USER1"
	done
	is "$(stock_of "$opt")" 0 "race: 40 units reserved"
	ids=$(stack_psql "SELECT o.id FROM orders o JOIN order_items i ON i.order_id = o.id
	    WHERE i.option_id = $opt ORDER BY o.id")
	spec=$(_assert_tmp)/race.spec
	for i in $ids; do
		printf 'POST\t/api/v1/orders/%s/cancel\t%s\t\n' "$i" "$USER1"
	done >"$spec"
	stack_psql "UPDATE orders SET expires_at = now() WHERE id IN (SELECT order_id
	    FROM order_items WHERE option_id = $opt)" >/dev/null
	out=$(_assert_tmp)/race.out
	http_parallel 40 "$spec" >"$out"
	# The ones no cancel took, the reaper expires (every 100 ms, later on
	# a loaded machine).
	_stack_wait_for 30 orders_ended 40 "i.option_id = $opt"
	is "$(stack_psql "SELECT count(*) FROM orders o JOIN order_items i ON i.order_id = o.id
	    WHERE i.option_id = $opt AND o.status IN ('canceled', 'expired')")" 40 \
		"race: all 40 orders ended canceled or expired"
	is "$(( $(count_status 200 "$out") + $(count_status 409 "$out") ))" 40 \
		"race: every cancel got 200 or 409"
	is "$(stock_of "$opt")" 40 "race: every unit back exactly once"
	audit_clean "after cancel racing expiry"
}

test_bad_input() {
	local opt id many="" i
	opt=$(create_product "$ADMIN" "bad" 3) || return
	http POST /api/v1/orders "$(order_body "$opt" 1)" "$USER1"
	id=$(jq -r .id <<<"$HTTP_BODY")
	for ((i = 1; i <= 51; i++)); do
		many="$many${many:+,}{\"option_id\":$i,\"quantity\":1}"
	done
	bad_request "malformed JSON" 400 malformed_json POST /api/v1/orders '{"items":[{"option_id":'
	bad_request "not an object" 400 invalid_body POST /api/v1/orders '[1,2]'
	bad_request "items missing" 400 missing_field POST /api/v1/orders '{}'
	bad_request "items empty" 400 invalid_field POST /api/v1/orders '{"items":[]}'
	bad_request "items not an array" 400 invalid_field POST /api/v1/orders '{"items":{"option_id":1}}'
	bad_request "over 50 items" 400 invalid_field POST /api/v1/orders "{\"items\":[$many]}"
	bad_request "quantity 0" 400 invalid_field POST /api/v1/orders "$(order_body "$opt" 0)"
	bad_request "quantity negative" 400 invalid_field POST /api/v1/orders "$(order_body "$opt" -1)"
	bad_request "quantity 1.5" 400 invalid_field POST /api/v1/orders "$(order_body "$opt" 1.5)"
	bad_request "quantity \"1\"" 400 invalid_field POST /api/v1/orders "{\"items\":[{\"option_id\":$opt,\"quantity\":\"1\"}]}"
	bad_request "quantity 2^63" 400 invalid_field POST /api/v1/orders "$(order_body "$opt" 9223372036854775808)"
	bad_request "quantity 1001" 400 invalid_field POST /api/v1/orders "$(order_body "$opt" 1001)"
	bad_request "option twice" 400 duplicate_option POST /api/v1/orders "$(order_body "$opt" 1 "$opt" 1)"
	bad_request "unknown field" 400 unknown_field POST /api/v1/orders "{\"items\":[],\"coupon\":1}"
	bad_request "unknown option" 404 option_not_found POST /api/v1/orders "$(order_body 999999999 1)"
	bad_request "more than in stock" 409 out_of_stock POST /api/v1/orders "$(order_body "$opt" 3)"
	bad_request "unknown order" 404 order_not_found GET /api/v1/orders/999999999 ""
	bad_request "cancel unknown order" 404 order_not_found POST /api/v1/orders/999999999/cancel ""
	bad_request "another user's order" 404 order_not_found GET "/api/v1/orders/$id" "" "$USER2"
	bad_request "cancel another user's order" 404 order_not_found POST "/api/v1/orders/$id/cancel" "" "$USER2"
	bad_request "no token" 401 unauthorized POST /api/v1/orders "$(order_body "$opt" 1)" ""
	bad_request "forged token" 401 unauthorized POST /api/v1/orders "$(order_body "$opt" 1)" "${USER1%?}x"
	bad_request "admin route as user" 403 forbidden POST "/api/v1/admin/options/$opt/restock" '{"quantity":5}'
	bad_request "restock 0" 400 invalid_field POST "/api/v1/admin/options/$opt/restock" '{"quantity":0}' "$ADMIN"
	bad_request "restock unknown option" 404 option_not_found POST /api/v1/admin/options/999999999/restock '{"quantity":1}' "$ADMIN"
	bad_request "product with no options" 400 invalid_field POST /api/v1/admin/products '{"name":"x","options":[]}' "$ADMIN"
	bad_request "product price 1.5" 400 invalid_field POST /api/v1/admin/products '{"name":"x","options":[{"name":"a","price":1.5}]}' "$ADMIN"
	# Strings PostgreSQL would refuse (500) or store mangled (issue 13 item 1).
	local name
	for name in '\udc00' '\ud800' '\ud800\u0041' $'\xc0\xaf' $'\xed\xa0\x80' $'\xf4\x90\x80\x80'; do
		bad_request "product name $(printf %q "$name")" \
			400 malformed_json POST /api/v1/admin/products \
			"{\"name\":\"$name\",\"options\":[{\"name\":\"a\",\"price\":1}]}" "$ADMIN"
	done
	bad_request "option name \\udc00" 400 malformed_json POST /api/v1/admin/products \
		'{"name":"x","options":[{"name":"\udc00","price":1}]}' "$ADMIN"
	bad_request "wrong content type" 415 unsupported_media_type POST /api/v1/orders "" "$USER1" \
		-H 'Content-Type: text/plain' --data-binary "$(order_body "$opt" 1)"
	audit_clean "after bad input"
}

test_idempotency() {
	local opt body first spec out key location
	opt=$(create_product "$ADMIN" "idem" 100) || return
	body=$(order_body "$opt" 2)
	http POST /api/v1/orders "$body" "$USER1" -H 'Idempotency-Key: idem-one'
	is "$HTTP_STATUS" 201 "idempotency: first request creates"
	first=$HTTP_BODY
	location=$(http_header Location)
	is "$location" "/api/v1/orders/$(jq -r .id <<<"$first")" "idempotency: first answer's Location"
	http POST /api/v1/orders "$body" "$USER1" -H 'Idempotency-Key: idem-one'
	is "$HTTP_STATUS" 201 "idempotency: retry answers the first status"
	is "$HTTP_BODY" "$first" "idempotency: retry answers the first body"
	is "$(http_header Location)" "$location" "idempotency: retry answers the first Location"
	is "$(http_header Idempotent-Replayed)" true "idempotency: retry is marked replayed"
	is "$(stock_of "$opt")" 98 "idempotency: stock taken once"
	http POST /api/v1/orders "$(order_body "$opt" 3)" "$USER1" -H 'Idempotency-Key: idem-one'
	is "$HTTP_STATUS" 422 "idempotency: same key, other body: 422"
	is "$(jq -r .code <<<"$HTTP_BODY")" idempotency_key_reused "idempotency: code idempotency_key_reused"
	http POST /api/v1/orders "$body" "$USER2" -H 'Idempotency-Key: idem-one'
	is "$HTTP_STATUS" 201 "idempotency: keys belong to one user"
	is "$(stock_of "$opt")" 96 "idempotency: the other user's order took its own stock"
	# 30 concurrent requests with one key: one order.
	key="idem-burst-$RANDOM"
	spec=$(_assert_tmp)/idem.spec
	for ((i = 0; i < 30; i++)); do
		printf 'POST\t/api/v1/orders\t%s\t%s\t%s\n' "$USER1" "$body" "Idempotency-Key: $key"
	done >"$spec"
	out=$(_assert_tmp)/idem.out
	http_parallel 30 "$spec" >"$out"
	is "$(stack_psql "SELECT count(*) FROM idempotency_keys WHERE key = '$key'")" 1 \
		"idempotency: 30 concurrent requests, one key recorded"
	is "$(stock_of "$opt")" 94 "idempotency: 30 concurrent requests took stock once"
	is "$(( $(count_status 201 "$out") + $(count_status 409 "$out") ))" 30 \
		"idempotency: each concurrent request got 201 or 409 request_in_progress"
	is "$(grep '^409' "$out" | grep -vc request_in_progress)" 0 \
		"idempotency: 409s say request_in_progress"
	audit_clean "after idempotency"
}

test_catalogue() {
	local ids opt pid
	ids=$(create_product "$ADMIN" "catalogue" 7 8) || return
	opt=$(head -1 <<<"$ids")
	pid=$(stack_psql "SELECT product_id FROM product_options WHERE id = $opt")
	http GET "/api/v1/products/$pid"
	is "$HTTP_STATUS" 200 "catalogue: product by id"
	is "$(jq -r '[.options[].stock] | join(",")' <<<"$HTTP_BODY")" "7,8" "catalogue: options with stock"
	http GET /api/v1/products/999999999
	is "$HTTP_STATUS" 404 "catalogue: unknown product is 404"
	http GET "/api/v1/products?limit=2"
	is "$(jq '.items | length' <<<"$HTTP_BODY")" 2 "catalogue: a page of 2"
	after=$(jq -r .next_after <<<"$HTTP_BODY")
	http GET "/api/v1/products?limit=2&after=$after"
	is "$(jq -r ".items[0].id > $after" <<<"$HTTP_BODY")" true "catalogue: next page starts after the cursor"
	http GET "/api/v1/products?limit=0"
	is "$HTTP_STATUS" 400 "catalogue: limit 0 refused"
	http POST "/api/v1/admin/options/$opt/restock" '{"quantity":5}' "$ADMIN"
	is "$HTTP_STATUS" 200 "catalogue: restock"
	is "$(jq -r .stock <<<"$HTTP_BODY")" 12 "catalogue: restock adds"
	is "$(stack_psql "SELECT count(*) FROM stock_movements WHERE option_id = $opt AND reason = 'restock'")" 1 \
		"catalogue: restock recorded as a movement"
	http GET "/api/v1/orders?limit=1" "" "$USER1"
	is "$HTTP_STATUS" 200 "catalogue: list my orders"
	is "$(jq -r '.items[0].user_id' <<<"$HTTP_BODY")" 1 "catalogue: only my orders"
	audit_clean "after catalogue"
}

# popular: three products sold 5, 9 and 5 units in paid orders (paid with
# points through the API); the ranking is quantity, then revenue, then
# product id.
test_popular() {
	local a b c spec id
	a=$(create_product "$ADMIN" "pop-a" 100) || return
	b=$(create_product "$ADMIN" "pop-b" 100) || return
	c=$(create_product "$ADMIN" "pop-c" 100) || return
	http POST /api/v1/points/charge '{"amount":1900}' "$USER2"
	is "$HTTP_STATUS" 200 "popular: points charged"
	for spec in "$a 5" "$b 9" "$c 5"; do
		# shellcheck disable=SC2086
		http POST /api/v1/orders "$(order_body $spec)" "$USER2"
		id=$(jq -r .id <<<"$HTTP_BODY")
		http POST "/api/v1/orders/$id/pay" "" "$USER2"
		is "$HTTP_STATUS" 200 "popular: order $id paid"
	done
	http GET "/api/v1/products/popular?days=3&limit=3"
	is "$HTTP_STATUS" 200 "popular: 200"
	is "$(jq -r '[.items[].quantity] | join(",")' <<<"$HTTP_BODY")" "9,5,5" "popular: by quantity"
	is "$(jq -r '.items[1].id < .items[2].id' <<<"$HTTP_BODY")" true "popular: ties by product id"
	http GET "/api/v1/products/popular?days=31"
	is "$HTTP_STATUS" 400 "popular: days over 30 refused"
	http GET "/api/v1/products/popular?limit=51"
	is "$HTTP_STATUS" 400 "popular: limit over 50 refused"
	audit_clean "after popular"
}

# hold_option_lock OPTION: another session holds the option's row locked
# FOR UPDATE until release_option_lock OPTION (hold_lock, t/lib/shop.sh).
hold_option_lock() {
	hold_lock "option $1" "SELECT id FROM product_options WHERE id = $1 FOR UPDATE"
}

release_option_lock() {
	release_lock "option $1"
}

# physical_order ID...: the options ID, in the order a sequential scan
# visits them.
physical_order() {
	local IFS=,
	stack_psql "SELECT string_agg(id::text, ',' ORDER BY ctid)
	    FROM product_options WHERE id IN ($*)"
}

# lock order: an order waiting for one of its options holds none of the
# options above it (invariant 1, docs/architecture.md: options are locked
# in ascending id order), whatever plan PostgreSQL picks.  The generic plan
# of the conditional UPDATE visited the rows in their physical order, and
# an update moves a row after the others in its page: so the workers are
# restarted with generic plans forced, the lower option is moved after the
# higher one, and held locked while an order for both waits on it; the
# higher one must still be free.  Two such orders crossing would deadlock.
test_lock_order() {
	local ids a b pid i
	stack_psql "ALTER ROLE stockade SET plan_cache_mode = force_generic_plan" >/dev/null
	restart_stockade || return
	ids=$(create_product "$ADMIN" "lock order" 10 10) || return
	a=$(sed -n 1p <<<"$ids")
	b=$(sed -n 2p <<<"$ids")
	# An update writes the row's new version where there is room: usually
	# after the others in the page, not always (pruning frees slots).
	for ((i = 0; i < 50; i++)); do
		[ "$(physical_order "$a" "$b")" = "$b,$a" ] && break
		stack_psql "UPDATE product_options SET stock = stock WHERE id = $a" >/dev/null
	done
	is "$(physical_order "$a" "$b")" "$b,$a" "lock order: the lower option lies after the higher one"
	hold_option_lock "$a" || return
	curl -s -o /dev/null -m 120 -H "Authorization: Bearer $USER1" \
		-H 'Content-Type: application/json' \
		-d "$(order_body "$a" 1 "$b" 1)" "$STACK_URL/api/v1/orders" &
	pid=$!
	_stack_wait_for 30 workers_waiting_are 1
	is "$(workers_waiting)" 1 "lock order: the order waits for the lower option"
	is "$(stack_psql "SELECT id FROM product_options WHERE id = $b
	    FOR UPDATE NOWAIT" 2>&1)" "$b" "lock order: ...holding nothing of the higher one"
	release_option_lock "$a"
	wait "$pid"
	is "$(stock_of "$a") $(stock_of "$b")" "9 9" "lock order: then the order takes both"
	# The workers' sessions keep generic plans until the next restart.
	stack_psql "ALTER ROLE stockade RESET plan_cache_mode" >/dev/null
	audit_clean "after the lock order"
}

# lock_timeout: an order for an option whose row another session holds
# locked waits lock_timeout (1s here), then is answered 503
# database_timeout with Retry-After, and changes nothing (SQLSTATE 55P03).
# Run last: it leaves stockade with lock_timeout = 1s.
test_lock_timeout() {
	local opt before
	orders_conf 1s
	restart_stockade || return
	opt=$(create_product "$ADMIN" "locked" 5) || return
	hold_option_lock "$opt" || return
	before=$(db_snapshot)
	http POST /api/v1/orders "$(order_body "$opt" 1)" "$USER1"
	is "$HTTP_STATUS" 503 "lock timeout: 503"
	is "$(jq -r .code <<<"$HTTP_BODY")" database_timeout "lock timeout: code database_timeout"
	is "$(http_header Retry-After)" 1 "lock timeout: Retry-After: 1"
	is "$(db_snapshot)" "$before" "lock timeout: nothing changed"
	release_option_lock "$opt"
	http POST /api/v1/orders "$(order_body "$opt" 1)" "$USER1"
	is "$HTTP_STATUS" 201 "lock timeout: the option can be ordered once the lock is gone"
	audit_clean "after a lock timeout"
}

# workers_waiting: how many stockade workers wait on a lock in PostgreSQL;
# workers_waiting_are N: whether N do.
workers_waiting() {
	stack_psql "SELECT count(*) FROM pg_stat_activity
	    WHERE application_name LIKE 'stockade worker%'
	    AND wait_event_type = 'Lock'"
}

workers_waiting_are() {
	[ "$(workers_waiting)" = "$1" ]
}

# listen_queue_is N: whether N connections wait in stockade's backlog.
listen_queue_is() {
	[ "$(stack_listen_queue)" = "$1" ]
}

# gone_logged: the 499s stockade logged for orders whose client had left;
# gone_logged_over N: whether there are more than N.
gone_logged() {
	grep -c 'access POST /api/v1/orders 499 .*code=client_closed_request' \
		"$STACK_DIR/stockade.log"
}

gone_logged_over() {
	[ "$(gone_logged)" -gt "$1" ]
}

# client gone: a request whose client gave up while it waited in the
# listen backlog is not run (the worker sees nginx closed the connection):
# a crowd that times out must not leave orders behind holding stock.  The
# workers are kept busy by orders of user 1 waiting on a row this test
# holds locked; once every worker is seen waiting, user 2 sends an order,
# and its client leaves once the order is seen in stockade's listen
# backlog and before the row is let go.  Every step waits for what it
# needs rather than for a fixed time, so a loaded machine only makes the
# case slower (a 1 s lock_timeout, as this case once had, freed the
# workers after a second, and they ran the abandoned order).
test_client_gone() {
	local opt pids="" i workers want gone logged
	workers=$(awk -F' *= *' '$1 == "workers" { print $2 }' "$STACK_CONF")
	# Under redis_lock one worker holds the option's Redis lock and waits
	# on the row; the others poll the Redis lock: all are busy either way.
	want=$workers
	[ "$strategy" = redis_lock ] && want=1
	logged=$(gone_logged)
	opt=$(create_product "$ADMIN" "gone" 5) || return
	hold_option_lock "$opt" || return
	for ((i = 0; i < workers; i++)); do
		curl -s -o /dev/null -m 120 -H "Authorization: Bearer $USER1" \
			-H 'Content-Type: application/json' \
			-d "$(order_body "$opt" 1)" "$STACK_URL/api/v1/orders" &
		pids="$pids $!"
	done
	_stack_wait_for 30 workers_waiting_are "$want"
	is "$(workers_waiting)" "$want" "client gone: every worker waits on the locked row (or its Redis lock)"
	curl -s -o /dev/null -m 120 -H "Authorization: Bearer $USER2" \
		-H 'Content-Type: application/json' \
		-d "$(order_body "$opt" 1)" "$STACK_URL/api/v1/orders" &
	gone=$!
	_stack_wait_for 30 listen_queue_is 1
	is "$(stack_listen_queue)" 1 "client gone: the order waits in stockade's listen backlog"
	kill "$gone"
	wait "$gone"
	is "$?" 143 "client gone: the client gave up (curl ended by SIGTERM)"
	# nginx closes its connection to stockade when it sees its client go,
	# and logs a 499: only then may a worker pick the order up.
	_stack_wait_for 30 grep -q '"POST /api/v1/orders HTTP/1.1" 499 ' "$STACK_DIR/nginx-access.log"
	ok $? "client gone: nginx saw the client go (499)"
	release_option_lock "$opt"
	# shellcheck disable=SC2086 # a list of pids
	wait $pids
	_stack_wait_for 30 gone_logged_over "$logged"
	is "$(gone_logged)" "$((logged + 1))" "client gone: logged as 499, not run"
	is "$(stack_psql "SELECT count(*) FROM orders o JOIN order_items i
	    ON i.order_id = o.id WHERE o.user_id = 2 AND i.option_id = $opt")" 0 \
		"client gone: the abandoned order was not created"
	audit_clean "after a client gave up"
}

# orders_conf LOCK_TIMEOUT: the suite's stockade.conf lines, for
# $strategy, with LOCK_TIMEOUT (see the top of the file).
orders_conf() {
	STACK_EXTRA_CONF="stock_strategy = $strategy
reaper_interval = 100ms
lock_timeout = $1
statement_timeout = 60s
request_timeout = 120s"
	export STACK_EXTRA_CONF
}

# restart_stockade: stockade alone, with $STACK_EXTRA_CONF as it is now
# and new database sessions.
restart_stockade() {
	stack_stop_stockade && stack_start_stockade && stack_wait_ready
}

# status_counter NAME: the counter NAME summed over the workers (/status).
status_counter() {
	stack_get_status >/dev/null || return 1
	jq -r ".$1" <<<"$HTTP_BODY"
}

run_suite() {
	local strategy=$1
	diag "--- stock_strategy = $strategy"
	orders_conf 60s
	stack_init || exit 99
	stack_start || exit 99
	ADMIN=$(stack_token 1000 admin)
	USER1=$(stack_token 1)
	USER2=$(stack_token 2)
	TOKENS=$(_assert_tmp)/tokens
	mint_tokens 1 200 >"$TOKENS"
	test_rush
	test_crossing
	test_cancel
	test_expiry
	test_cancel_vs_expiry
	test_bad_input
	test_idempotency
	test_catalogue
	test_popular
	test_client_gone
	test_lock_order
	test_lock_timeout
	stack_cleanup
}

trap stack_cleanup EXIT
run_suite pessimistic
run_suite conditional
run_suite redis_lock
done_testing
