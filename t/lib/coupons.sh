# shellcheck shell=bash
#
# t/lib/coupons.sh: first-come-first-served coupons against a real stack,
# the suite each t/test_coupons_<strategy>_<gate>.sh runs in one
# configuration: every coupon_strategy (pessimistic, conditional, sharded)
# with coupon_gate off and with a gate (redis, or for conditional the
# slots list).  One test per configuration, so that `make -j check` runs
# them side by side, each with its own stack.  A rush of 2,000 users on a
# policy of 100 (exactly 100 issued; with the gate on, the crowd never
# reaches PostgreSQL), one user asking 100 times at once, Redis stopped,
# flushed and its scripts flushed in the middle of a rush, the gate
# compensated when the database refuses, paying with a coupon (discounts,
# one coupon racing for 20 orders, cancel giving it back), bad input
# refused without a trace, the policy and coupon-list endpoints, and
# Idempotency-Key.  After every part the database is checked twice: with
# sql/audit.sql, and with this file's own query for invariant 3 of
# docs/architecture.md and the coupon/order links (coupons_wrong), so that
# the test does not depend on the audit file alone.
#
# A test sources t/lib/preamble.sh, then this file, and runs:
#
#     trap stack_cleanup EXIT
#     run_suite STRATEGY GATE       # e.g. run_suite sharded redis
#     done_testing                  # "N passed, M failed"

# mint_tokens_bulk (t/lib/shop.sh) signs the rush's tokens with openssl.
command -v openssl >/dev/null || { echo "openssl is missing" >&2; exit 99; }

# The issue's numbers for the main rush.
RUSH_USERS=2000
RUSH_TOTAL=100
# The rushes during which Redis misbehaves: smaller, three per stack, and
# mostly issuing, so that the trouble starts while coupons are being issued.
MID_USERS=600
MID_TOTAL=400
# coupon_cache_ttl is 3s here (run_suite), not the default 1s, so that the
# compensation part's claims reach the gate well inside the workers' copy of
# an open window even on a loaded machine; after a hand edit of a policy's
# window, wait this long for every worker to read it again.
CACHE_WAIT=3.3

# ---------------------------------------------------------------------------
# Helpers.

# TOK: every rush user's token by user id, filled by run_suite.
declare -A TOK=()

# tok USER: USER's token, minted once per stack (users 1..RUSH_USERS).
tok() {
	printf '%s\n' "${TOK[$1]}"
}

# iso OFFSET: now + OFFSET (date -d syntax, e.g. "+1 day") as RFC 3339 UTC.
iso() {
	date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ
}

# new_policy NAME TOTAL [AMOUNT [MEMBERS]]: creates a policy of TOTAL
# coupons of AMOUNT (default 100) off, claimable from now for 30 days;
# MEMBERS (e.g. ',"valid_days":7') are appended to the body.  Prints its id.
new_policy() {
	http POST /api/v1/admin/coupons \
		"{\"name\":\"$1\",\"discount_kind\":\"amount\",\"discount_value\":${3:-100},\"total_quantity\":$2${4:-}}" "$ADMIN"
	created 201 new_policy
}

# new_percent_policy NAME TOTAL PERCENT [CAP]: a percent policy.
new_percent_policy() {
	http POST /api/v1/admin/coupons \
		"{\"name\":\"$1\",\"discount_kind\":\"percent\",\"discount_value\":$3${4:+,\"discount_cap\":$4},\"total_quantity\":$2}" "$ADMIN"
	created 201 new_percent_policy
}

# answer: "STATUS CODE" of the last response, CODE from its problem+json
# body (a regex rather than jq: a process costs milliseconds here, and this
# runs a hundred times per stack).
answer() {
	local code=
	if [[ $HTTP_BODY =~ \"code\":\"([^\"]*)\" ]]; then
		code=${BASH_REMATCH[1]}
	fi
	printf '%s %s\n' "$HTTP_STATUS" "$code"
}

# issue TOKEN POLICY: claims a coupon that must be issued (set-up); prints
# the coupon's id.
issue() {
	http POST "/api/v1/coupons/$2/issue" "" "$1"
	if [ "$HTTP_STATUS" != 201 ]; then
		diag "issue $2: $HTTP_STATUS $HTTP_BODY"
		return 1
	fi
	jq -r .id <<<"$HTTP_BODY"
}

# issue_line TOKEN POLICY [HEADER]: one http_parallel line claiming a coupon.
issue_line() {
	printf 'POST\t/api/v1/coupons/%s/issue\t%s\t\t%s\n' "$2" "$1" "${3:-}"
}

# rush_spec POLICY FIRST LAST SPEC USERS: one claim of POLICY per user
# FIRST..LAST into SPEC, and the users, in the same order, into USERS.
rush_spec() {
	local u
	for ((u = $2; u <= $3; u++)); do
		issue_line "${TOK[$u]}" "$1"
	done >"$4"
	seq "$2" "$3" >"$5"
}

# ISSUED: a policy's issued count, from its row and, once coupon_strategy =
# sharded split it, its shards: what GET /coupons/{id} calls issued_quantity.
ISSUED="(issued_quantity + COALESCE((SELECT sum(s.issued) FROM coupon_shards s
    WHERE s.policy_id = coupon_policies.id), 0))"

issued_of() {
	sql "SELECT $ISSUED FROM coupon_policies WHERE id = $1"
}

rows_of() {
	sql "SELECT count(*) FROM user_coupons WHERE policy_id = $1"
}

# counts POLICY: "ROWS ISSUED_QUANTITY" in one query.
counts() {
	sql "SELECT (SELECT count(*) FROM user_coupons WHERE policy_id = $1) || ' ' ||
	    $ISSUED FROM coupon_policies WHERE id = $1"
}

# holders POLICY: the users holding a coupon of POLICY, "1,5,9".
holders() {
	sql "SELECT COALESCE(string_agg(user_id::text, ',' ORDER BY user_id), '')
	    FROM user_coupons WHERE policy_id = $1"
}

coupon_status() {
	sql "SELECT status || ' ' || COALESCE(order_id::text, 'null') || ' ' ||
	    (used_at IS NOT NULL) FROM user_coupons WHERE id = $1"
}

# answered STATUS USERS OUT: the users whose request got STATUS, "1,5,9".
answered() {
	paste "$2" "$3" | awk -F'\t' -v s="$1" '$2 == s { print $1 }' | sort -n | paste -sd, -
}

# outcomes FILE: http_parallel output summed up as "STATUS[ CODE]:COUNT,..."
# (sorted), e.g. "201:100,409 sold_out:1900".
outcomes() {
	awk -F'\t' '{
		k = $1
		if (match($2, /"code":"[^"]*"/)) k = k " " substr($2, RSTART + 8, RLENGTH - 9)
		n[k]++
	} END { for (k in n) print k ":" n[k] }' "$1" | LC_ALL=C sort | paste -sd, -
}

# counters: the summed coupon counters of GET /status, "PASSED REFUSED
# BYPASSED DB_ATTEMPTS REBUILDS COMPENSATIONS".
counters() {
	http GET /status >/dev/null || return 1
	jq -r '[.coupon_gate_passed, .coupon_gate_refused, .coupon_gate_bypassed,
	    .coupon_db_attempts, .coupon_gate_rebuilds, .coupon_gate_compensations]
	    | map(tostring) | join(" ")' <<<"$HTTP_BODY"
}

# counters_delta BEFORE AFTER: AFTER - BEFORE, field by field.
counters_delta() {
	local -a b a
	read -r -a b <<<"$1"
	read -r -a a <<<"$2"
	printf '%s %s %s %s %s %s\n' $((a[0] - b[0])) $((a[1] - b[1])) $((a[2] - b[2])) \
		$((a[3] - b[3])) $((a[4] - b[4])) $((a[5] - b[5]))
}

# show_counters LABEL DELTA: the delta as a diagnostic line.
show_counters() {
	local -a d
	read -r -a d <<<"$2"
	diag "$1: passed ${d[0]}, refused ${d[1]}, bypassed ${d[2]}, db attempts ${d[3]}, rebuilds ${d[4]}, compensations ${d[5]}"
}

gate_on() {
	[ "$GATE" != off ]
}

# rkey POLICY SUFFIX: the name of one of the policy's Redis keys.
rkey() {
	printf '{coupon:%s}:%s\n' "$1" "$2"
}

# gate_users POLICY: the users in the policy's gate set, "1,5,9".
gate_users() {
	stack_redis SMEMBERS "$(rkey "$1" users)" | sort -n | paste -sd, -
}

# coupons_wrong: one line per broken rule, named like sql/audit.sql's rows;
# empty on a healthy database.  Independent of audit.sql.  Invariant 3: for
# every policy, its coupon rows = issued_quantity (plus its shards' issued,
# once coupon_strategy = sharded split it) <= total_quantity, one per user.  And the links between coupons, orders and points: a used coupon
# names a paid order of its user that names it back, a paid order with a
# coupon has it used by that order, every order's discount is what its
# coupon gives (0 without one), a paid order used exactly total - discount
# points, and a canceled order got back all it used.
coupons_wrong() {
	sql "
	SELECT 'issued_differs_from_rows ' || p.id || ': ' || p.issued || ' issued, '
	       || count(c.id) || ' rows, total ' || p.total_quantity
	FROM (SELECT q.id, q.total_quantity, q.issued_quantity + COALESCE((SELECT
	          sum(s.issued) FROM coupon_shards s WHERE s.policy_id = q.id), 0)
	          AS issued FROM coupon_policies q) p
	LEFT JOIN user_coupons c ON c.policy_id = p.id
	GROUP BY p.id, p.issued, p.total_quantity
	HAVING p.issued <> count(c.id) OR p.issued > p.total_quantity
	UNION ALL
	SELECT 'user_twice ' || policy_id || ': user ' || user_id || ' has ' || count(*)
	FROM user_coupons GROUP BY policy_id, user_id HAVING count(*) > 1
	UNION ALL
	SELECT 'coupon_order_link_wrong ' || c.id || ': ' || c.status || ', order '
	       || COALESCE(c.order_id::text, 'none')
	FROM user_coupons c
	WHERE (c.status = 'used') <> (c.order_id IS NOT NULL)
	   OR (c.status = 'used') <> (c.used_at IS NOT NULL)
	   OR (c.status = 'used' AND NOT EXISTS (SELECT 1 FROM orders o
	       WHERE o.id = c.order_id AND o.status = 'paid' AND o.coupon_id = c.id
	         AND o.user_id = c.user_id))
	UNION ALL
	SELECT 'paid_order_coupon_not_used_by_it ' || o.id || ': coupon ' || o.coupon_id
	FROM orders o
	WHERE o.status = 'paid' AND o.coupon_id IS NOT NULL
	  AND NOT EXISTS (SELECT 1 FROM user_coupons c WHERE c.id = o.coupon_id
	                  AND c.status = 'used' AND c.order_id = o.id)
	UNION ALL
	SELECT 'order_coupon_of_another_user ' || o.id
	FROM orders o JOIN user_coupons c ON c.id = o.coupon_id
	WHERE c.user_id <> o.user_id
	UNION ALL
	SELECT 'discount_wrong ' || o.id || ': ' || o.discount || ' off ' || o.total
	FROM orders o
	LEFT JOIN user_coupons c ON c.id = o.coupon_id
	LEFT JOIN coupon_policies p ON p.id = c.policy_id
	WHERE o.discount <> CASE
	    WHEN o.coupon_id IS NULL THEN 0
	    WHEN p.discount_kind = 'amount' THEN least(p.discount_value, o.total)
	    ELSE least(o.total * p.discount_value / 100, COALESCE(p.discount_cap, o.total), o.total)
	END
	UNION ALL
	SELECT 'paid_points_wrong ' || o.id || ': used ' || COALESCE(u.used, 0) || ' of '
	       || o.total || ' - ' || o.discount
	FROM orders o
	LEFT JOIN (SELECT order_id, -sum(amount) AS used FROM point_ledger
	           WHERE kind = 'use' GROUP BY order_id) u ON u.order_id = o.id
	WHERE o.status = 'paid' AND COALESCE(u.used, 0) <> o.total - o.discount
	UNION ALL
	SELECT 'unpaid_order_points_kept ' || o.id || ': ledger sums to ' || sum(l.amount)
	FROM orders o JOIN point_ledger l ON l.order_id = o.id
	WHERE o.status IN ('canceled', 'expired', 'pending')
	GROUP BY o.id HAVING sum(l.amount) <> 0"
}

# check_coupons NAME: invariant 3 by this file's own query, then audit.sql.
check_coupons() {
	is "$(coupons_wrong 2>&1)" "" "$1: invariant 3, coupons and orders agree"
	audit_clean "$1"
}

# snapshot: what db_snapshot (t/lib/shop.sh) sums up, and the coupon
# tables, in one short line (lists as digests, so that a difference shows
# in full): orders (count, items, movements, stock, then each order's
# status, payment, coupon and discount), idempotency keys, products,
# accounts (balances and versions), ledger, policies (count, issued), coupons
# (count, last id, used, each one's status and order).  One query through
# the open session: this file refuses a hundred requests per stack.
snapshot() {
	sql "SELECT 'orders ' || (SELECT count(*) FROM orders) || ':' ||
	        (SELECT count(*) FROM order_items) || ':' ||
	        (SELECT count(*) FROM stock_movements) || ':' ||
	        (SELECT COALESCE(sum(stock), 0) FROM product_options) || ':' ||
	        (SELECT md5(COALESCE(string_agg(id || status || COALESCE(':' || paid_at, '') || ':' ||
	            COALESCE(coupon_id, 0) || ':' || discount, ',' ORDER BY id), '')) FROM orders) ||
	    ' keys ' || (SELECT count(*) FROM idempotency_keys) ||
	    ' products ' || (SELECT count(*) FROM products) ||
	    ' accounts ' || (SELECT count(*) || ':' || COALESCE(sum(version), 0) || ':' ||
	        md5(COALESCE(string_agg(user_id || '=' || balance, ',' ORDER BY user_id), ''))
	        FROM point_accounts) ||
	    ' ledger ' || (SELECT count(*) || ':' || COALESCE(max(id), 0) || ':' ||
	        COALESCE(sum(amount), 0) FROM point_ledger) ||
	    ' policies ' || (SELECT count(*) || ':' || COALESCE(sum(issued_quantity), 0)
	        FROM coupon_policies) ||
	    ' shards ' || (SELECT count(*) || ':' || COALESCE(sum(issued), 0)
	        FROM coupon_shards) ||
	    ' coupons ' || (SELECT count(*) || ':' || COALESCE(max(id), 0) || ':' ||
	        count(order_id) || ':' || md5(COALESCE(string_agg(id || status ||
	        COALESCE(':' || order_id, ''), ',' ORDER BY id), '')) FROM user_coupons)"
}

# reap_coupons: after a part that left coupons past expires_at, waits for
# the reaper (every reaper_interval, 100 ms here) to mark them expired, so
# that it cannot move a later snapshot; a check that it does.
reap_coupons() {
	local i due
	for ((i = 0; i < 60; i++)); do
		due=$(sql "SELECT count(*) FROM user_coupons
		    WHERE status = 'available' AND expires_at <= now()")
		[ "$due" = 0 ] && break
		sleep 0.05
	done
	is "$due" 0 "the reaper marked every coupon past expires_at expired"
}

# refused NAME STATUS CODE METHOD PATH BODY [TOKEN [CURL_ARGS...]]: as
# bad_request (t/lib/shop.sh), with the coupon tables in the snapshot: the
# request is refused with STATUS and a problem+json CODE and changes
# nothing.  TOKEN defaults to $USER1.  Between refusals_begin and
# refusals_end, where nothing but refused requests run, each one's "after"
# is the next one's "before".
REFUSALS_SNAPSHOT=
refused() {
	local name=$1 status=$2 code=$3 before after
	before=${REFUSALS_SNAPSHOT:-$(snapshot)}
	http "$4" "$5" "$6" "${7-$USER1}" "${@:8}"
	is "$(answer)" "$status $code" "bad input: $name: $status $code"
	like "$HTTP_CONTENT_TYPE" '^application/problem\+json' "bad input: $name: problem+json"
	after=$(snapshot)
	is "$after" "$before" "bad input: $name: nothing changed"
	[ -z "$REFUSALS_SNAPSHOT" ] || REFUSALS_SNAPSHOT=$after
}

refusals_begin() {
	REFUSALS_SNAPSHOT=$(snapshot)
}

refusals_end() {
	REFUSALS_SNAPSHOT=
}

balance_of() {
	sql "SELECT COALESCE((SELECT balance FROM point_accounts
	    WHERE user_id = $1), 0)"
}

# used_points ORDER: "USES REFUNDS": the sums of ORDER's use (as a positive
# number) and refund rows.
used_points() {
	sql "SELECT COALESCE(-sum(amount) FILTER (WHERE kind = 'use'), 0) || ' ' ||
	    COALESCE(sum(amount) FILTER (WHERE kind = 'refund'), 0)
	    FROM point_ledger WHERE order_id = $1"
}

order_row() {
	sql "SELECT status || ' ' || COALESCE(coupon_id::text, 'null') || ' ' || discount
	    FROM orders WHERE id = $1"
}

# rush_checks LABEL POLICY TOTAL USERS OUT: the outcome of a rush of distinct
# users on a policy of TOTAL, more users than coupons: exactly TOTAL 201s,
# every other answer 409 sold_out, and the database agrees with the answers.
rush_checks() {
	local label=$1 p=$2 total=$3 users=$4 out=$5 n
	n=$(wc -l <"$users")
	is "$(outcomes "$out")" "201:$total,409 sold_out:$((n - total))" \
		"$label: exactly $total x 201, the other $((n - total)) 409 sold_out"
	is "$(sql "SELECT count(*) || ' ' || count(DISTINCT user_id) || ' ' ||
	    (SELECT $ISSUED FROM coupon_policies WHERE id = $p)
	    FROM user_coupons WHERE policy_id = $p")" "$total $total $total" \
		"$label: $total coupon rows of $total users, issued_quantity $total"
	is "$(holders "$p")" "$(answered 201 "$users" "$out")" \
		"$label: the users answered 201 are exactly the holders"
	is "$(grep '^201' "$out" | cut -f2 | jq -r .user_id 2>/dev/null | sort -n | paste -sd, -)" \
		"$(answered 201 "$users" "$out")" "$label: each 201 carries its caller's user_id"
	is "$(grep '^201' "$out" | cut -f2 | jq -r '"\(.policy_id) \(.status) \(.order_id)"' 2>/dev/null |
		sort -u)" "$p available null" "$label: each 201 is an available coupon of the policy"
}

# ---------------------------------------------------------------------------
# 1. The rush: RUSH_USERS users at once on a policy of RUSH_TOTAL.
test_rush() {
	local p spec users out before after d t0 ms workers
	local -a c
	workers=$(awk -F' *= *' '$1 == "workers" { print $2 }' "$STACK_CONF")
	p=$(new_policy "rush" "$RUSH_TOTAL") || return
	spec=$(_assert_tmp)/rush.spec
	users=$(_assert_tmp)/rush.users
	rush_spec "$p" 1 "$RUSH_USERS" "$spec" "$users"
	out=$(_assert_tmp)/rush.out
	before=$(counters)
	t0=${EPOCHREALTIME/./}
	http_parallel "$RUSH_USERS" "$spec" >"$out"
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	diag "rush: $RUSH_USERS requests in $ms ms"
	rush_checks "rush" "$p" "$RUSH_TOTAL" "$users" "$out"
	http GET "/api/v1/coupons/$p" "" "$USER1"
	is "$(jq -r '"\(.issued_quantity) \(.remaining)"' <<<"$HTTP_BODY")" "$RUSH_TOTAL 0" \
		"rush: GET /coupons/$p shows issued $RUSH_TOTAL, remaining 0"
	after=$(counters)
	d=$(counters_delta "$before" "$after")
	show_counters "rush" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		is "$(stack_redis GET "$(rkey "$p" issued)")" "$RUSH_TOTAL" \
			"rush: Redis {coupon:$p}:issued = $RUSH_TOTAL"
		is "$(gate_users "$p")" "$(holders "$p")" \
			"rush: Redis {coupon:$p}:users holds exactly the $RUSH_TOTAL holders"
		[ "${c[3]}" -le $((RUSH_TOTAL + 2 * workers)) ]
		ok $? "rush: gate on: at most $RUSH_TOTAL + $((2 * workers)) of $RUSH_USERS reached the database (${c[3]})"
		is "$((c[1] + c[3]))" "$RUSH_USERS" \
			"rush: gate on: every request was refused by the gate or reached the database"
		is "$((c[0] + c[2]))" "${c[3]}" "rush: gate on: db attempts = passed + bypassed"
	else
		is "${c[3]}" "$RUSH_USERS" "rush: gate off: all $RUSH_USERS reached the database"
		is "${c[2]} ${c[0]} ${c[1]}" "$RUSH_USERS 0 0" "rush: gate off: all bypassed, none passed or refused"
	fi
	check_coupons "after the rush"
}

# 2. One user, 100 claims at once on a new policy.
test_one_user() {
	local p u=7 spec out i
	p=$(new_policy "one-user" 10) || return
	spec=$(_assert_tmp)/one.spec
	for ((i = 0; i < 100; i++)); do
		issue_line "$(tok "$u")" "$p"
	done >"$spec"
	out=$(_assert_tmp)/one.out
	http_parallel 100 "$spec" >"$out"
	is "$(outcomes "$out")" "201:1,409 already_issued:99" \
		"one user: 100 concurrent claims, one 201, 99 x 409 already_issued"
	is "$(counts "$p") $(holders "$p")" "1 1 $u" \
		"one user: one row, issued_quantity 1"
	is "$(grep '^201' "$out" | cut -f2 | jq -r .id 2>/dev/null)" \
		"$(sql "SELECT id FROM user_coupons WHERE policy_id = $p")" "one user: the 201 is that row"
	if gate_on; then
		is "$(stack_redis SISMEMBER "$(rkey "$p" users)" "$u")" 1 "one user: the user is in the gate's set"
	fi
	check_coupons "after one user's claims"
}

# ---------------------------------------------------------------------------
# 3. Redis misbehaving in the middle of a rush: the database alone keeps the
# count exact.

redis_bounce() {
	stack_stop_redis || diag "stack_stop_redis failed"
	sleep 0.3
	stack_start_redis || diag "stack_start_redis failed"
}

redis_flushall() {
	stack_redis FLUSHALL >/dev/null
}

redis_script_flush() {
	stack_redis SCRIPT FLUSH >/dev/null
}

# mid_rush LABEL ACTION: a rush of MID_USERS users on a new policy of
# MID_TOTAL; ACTION runs once the first coupons are issued, while the rest of
# the crowd is still coming.  Sets MID_POLICY.
mid_rush() {
	local label=$1 action=$2 p spec users out bg i at
	p=$(new_policy "$label" "$MID_TOTAL") || return 1
	MID_POLICY=$p
	spec=$(_assert_tmp)/mid.spec
	users=$(_assert_tmp)/mid.users
	rush_spec "$p" 1 "$MID_USERS" "$spec" "$users"
	out=$(_assert_tmp)/mid.out
	http_parallel 50 "$spec" >"$out" &
	bg=$!
	for ((i = 0; i < 300; i++)); do
		at=$(issued_of "$p")
		[ "$at" -lt 10 ] || break
		sleep 0.01
	done
	"$action"
	diag "$label: $action at issued_quantity $at, just after $(issued_of "$p")"
	wait "$bg"
	rush_checks "$label" "$p" "$MID_TOTAL" "$users" "$out"
}

test_redis_trouble() {
	local before after d p u stopped last start workers
	local -a c
	workers=$(awk -F' *= *' '$1 == "workers" { print $2 }' "$STACK_CONF")
	start=$(counters)
	mid_rush "redis stopped" redis_bounce || return
	stopped=$MID_POLICY
	is "$(stack_redis PING)" PONG "redis stopped: Redis is back"
	# After a failure a worker's circuit breaker keeps it from Redis for
	# redis_cooldown plus up to half of it (1 to 1.5 s by default): a rush
	# that ended while Redis was down may have left every worker's breaker
	# open that long, and the claims below would bypass a gate they
	# cannot reach yet.
	sleep 1.6
	# Once Redis is back: the exhausted policy still says sold_out, from
	# the database or from a rebuilt gate, and a new policy goes through
	# the gate again.
	last=$((MID_USERS + 1))
	http POST "/api/v1/coupons/$stopped/issue" "" "$(tok "$last")"
	is "$(answer)" "409 sold_out" \
		"redis stopped: afterwards a new user of the exhausted policy gets 409 sold_out"
	http POST "/api/v1/coupons/$stopped/issue" "" "$(tok "$last")"
	is "$(answer)" "409 sold_out" "redis stopped: ...and again"
	is "$(counts "$stopped")" "$MID_TOTAL $MID_TOTAL" \
		"redis stopped: still $MID_TOTAL issued"
	before=$(counters)
	d=$(counters_delta "$start" "$before")
	show_counters "redis stopped" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		[ "${c[4]}" -ge 1 ]
		ok $? "redis stopped: the gate was rebuilt on the new Redis server (${c[4]} rebuilds)"
	fi
	p=$(new_policy "after-restart" 20) || return
	for ((u = 1; u <= 10; u++)); do
		http POST "/api/v1/coupons/$p/issue" "" "$(tok "$u")"
		[ "$HTTP_STATUS" = 201 ] || diag "after restart: user $u: $HTTP_STATUS $HTTP_BODY"
	done
	is "$(rows_of "$p") $(holders "$p")" "10 $(seq -s, 1 10)" \
		"redis stopped: afterwards a new policy issues to 10 users in turn"
	http POST "/api/v1/coupons/$p/issue" "" "$(tok 1)"
	is "$(answer)" "409 already_issued" \
		"redis stopped: ...and a second claim is 409 already_issued"
	after=$(counters)
	d=$(counters_delta "$before" "$after")
	show_counters "after the restart" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		[ "${c[0]}" -ge 1 ]
		ok $? "redis stopped: the new policy's claims pass through the gate again (coupon_gate_passed +${c[0]})"
	else
		is "${c[2]}" 11 "redis stopped: gate off: the 11 claims bypassed the gate"
	fi
	check_coupons "after Redis stopped mid-rush"

	before=$(counters)
	mid_rush "redis flushed" redis_flushall || return
	http POST "/api/v1/coupons/$MID_POLICY/issue" "" "$(tok "$last")"
	is "$(answer)" "409 sold_out" \
		"redis flushed: afterwards a new user gets 409 sold_out"
	d=$(counters_delta "$before" "$(counters)")
	show_counters "redis flushed" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		[ "${c[4]}" -ge 1 ]
		ok $? "redis flushed: the gate was rebuilt from the database (${c[4]} rebuilds)"
	fi
	check_coupons "after FLUSHALL mid-rush"

	# SCRIPT FLUSH loses no data: EVALSHA's NOSCRIPT is answered with
	# EVAL, and the gate goes on turning the crowd away by itself.
	before=$(counters)
	mid_rush "scripts flushed" redis_script_flush || return
	http POST "/api/v1/coupons/$MID_POLICY/issue" "" "$(tok "$last")"
	is "$(answer)" "409 sold_out" \
		"scripts flushed: afterwards a new user gets 409 sold_out"
	d=$(counters_delta "$before" "$(counters)")
	show_counters "scripts flushed" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		is "$(stack_redis GET "$(rkey "$MID_POLICY" issued)")" "$MID_TOTAL" \
			"scripts flushed: Redis {coupon:$MID_POLICY}:issued = $MID_TOTAL (nothing lost)"
		is "${c[2]} ${c[4]}" "0 0" "scripts flushed: nothing bypassed the gate, nothing rebuilt"
		[ "${c[3]}" -le $((MID_TOTAL + 2 * workers)) ]
		ok $? "scripts flushed: at most $MID_TOTAL + $((2 * workers)) claims reached the database (${c[3]})"
	fi
	check_coupons "after SCRIPT FLUSH mid-rush"
}

# ---------------------------------------------------------------------------
# 4. Compensation: claims the database refuses (window closed) do not keep
# a place in the gate.
test_compensation() {
	local p u spec out before after d
	local -a c
	p=$(new_policy "compensation" 10 100 ",\"starts_at\":\"$(iso '-1 hour')\"") || return
	for u in 1 2 3 4 5; do
		issue "$(tok "$u")" "$p" >/dev/null
	done
	is "$(rows_of "$p")" 5 "compensation: 5 issued"
	# Once every worker's copy of the policy has run out, the workers read
	# it again, open, so that the claims right after the window closes pass
	# a gate that still thinks it open, and the database refuses them.
	sleep "$CACHE_WAIT"
	spec=$(_assert_tmp)/warm.spec
	for ((u = 0; u < 40; u++)); do
		issue_line "$(tok $((u % 5 + 1)))" "$p"
	done >"$spec"
	out=$(_assert_tmp)/warm.out
	http_parallel 8 "$spec" >"$out"
	is "$(outcomes "$out")" "409 already_issued:40" "compensation: the holders asking again: already_issued"
	before=$(counters)
	sql "UPDATE coupon_policies SET ends_at = now() - interval '1 second' WHERE id = $p" >/dev/null
	spec=$(_assert_tmp)/closed.spec
	for u in 6 7 8 9 10; do
		issue_line "$(tok "$u")" "$p"
	done >"$spec"
	out=$(_assert_tmp)/closed.out
	http_parallel 5 "$spec" >"$out"
	is "$(outcomes "$out")" "409 not_open:5" "compensation: window closed: 5 claims get 409 not_open"
	after=$(counters)
	d=$(counters_delta "$before" "$after")
	show_counters "window closed" "$d"
	read -r -a c <<<"$d"
	is "$(counts "$p")" "5 5" "compensation: still 5 issued"
	if gate_on; then
		is "$(for u in 6 7 8 9 10; do stack_redis SISMEMBER "$(rkey "$p" users)" "$u"; done | paste -sd, -)" \
			"0,0,0,0,0" "compensation: no not_open user is left in the gate's set"
		[ "${c[5]}" -ge 1 ] && [ "${c[5]}" -eq "${c[0]}" ]
		ok $? "compensation: every claim the gate let through was undone (passed ${c[0]}, compensated ${c[5]})"
	fi
	sql "UPDATE coupon_policies SET ends_at = now() + interval '1 day' WHERE id = $p" >/dev/null
	sleep "$CACHE_WAIT"
	http POST "/api/v1/coupons/$p/issue" "" "$(tok 1)"
	is "$(answer)" "409 already_issued" \
		"compensation: reopened: a holder gets 409 already_issued"
	# Three of the users refused not_open and two new ones: the 5 places
	# are all still there.
	for u in 6 7 8 11 12; do
		http POST "/api/v1/coupons/$p/issue" "" "$(tok "$u")"
		is "$HTTP_STATUS" 201 "compensation: reopened: user $u gets a coupon"
	done
	is "$(counts "$p")" "10 10" "compensation: 10 issued in all"
	http POST "/api/v1/coupons/$p/issue" "" "$(tok 13)"
	is "$(answer)" "409 sold_out" "compensation: the next one is 409 sold_out"
	http POST "/api/v1/coupons/$p/issue" "" "$(tok 9)"
	is "$(answer)" "409 sold_out" \
		"compensation: a user refused not_open earlier now gets 409 sold_out"
	if gate_on; then
		is "$(gate_users "$p")" "$(holders "$p")" "compensation: the gate's set holds exactly the 10 holders"
	fi
	is "$(counts "$p")" "10 10" "compensation: still 10"
	check_coupons "after compensation"
}

# ---------------------------------------------------------------------------
# 5. Paying with a coupon.
test_pay() {
	local u=1501 v=1502 t t2 opt odd p cid o1 o2 o3 spec out ids i paid200 bal other
	local pc cp op ofree pfree cfree pexp cexp
	t=$(tok "$u")
	t2=$(tok "$v")
	opt=$(create_product "$ADMIN" "cp-pay" 10000) || return
	charge "$t" 100000 || return
	p=$(new_policy "pay-300" 50 300) || return
	cid=$(issue "$t" "$p") || return
	o1=$(new_order "$t" "$opt" 30) || return
	o2=$(new_order "$t" "$opt" 10) || return
	http POST "/api/v1/orders/$o1/pay" "{\"coupon_id\":$cid}" "$t"
	is "$HTTP_STATUS" 200 "pay: with a coupon: 200"
	is "$(jq -r '"\(.status) \(.total) \(.coupon_id) \(.discount)"' <<<"$HTTP_BODY")" "paid 3000 $cid 300" \
		"pay: the answer shows paid, total 3000, the coupon and discount 300"
	is "$(order_row "$o1")" "paid $cid 300" "pay: the order stores the coupon and the discount"
	is "$(used_points "$o1")" "2700 0" "pay: 2700 points used (total - discount)"
	is "$(balance_of "$u")" 97300 "pay: balance down by 2700"
	is "$(coupon_status "$cid")" "used $o1 true" "pay: the coupon is used by the order, used_at set"
	# Cancel: points and coupon back, the order keeps its history.
	http POST "/api/v1/orders/$o1/cancel" "" "$t"
	is "$HTTP_STATUS" 200 "pay: cancel of the paid order: 200"
	is "$(jq -r '"\(.status) \(.coupon_id) \(.discount)"' <<<"$HTTP_BODY")" "canceled $cid 300" \
		"pay: the canceled order still shows its coupon and discount"
	is "$(order_row "$o1")" "canceled $cid 300" "pay: ...and stores them"
	is "$(used_points "$o1")" "2700 2700" "pay: 2700 refunded (total - discount)"
	is "$(balance_of "$u")" 100000 "pay: balance restored"
	is "$(coupon_status "$cid")" "available null false" "pay: the coupon is available again, no order, no used_at"
	http POST "/api/v1/orders/$o2/pay" "{\"coupon_id\":$cid}" "$t"
	is "$HTTP_STATUS $(jq -r .discount <<<"$HTTP_BODY")" "200 300" "pay: the coupon given back pays another order"
	is "$(coupon_status "$cid")" "used $o2 true" "pay: ...and is used by it"
	is "$(used_points "$o2")" "700 0" "pay: 700 points used"
	is "$(balance_of "$u")" 99300 "pay: balance 99300"
	check_coupons "after paying with a coupon and canceling"

	# 20 orders paid at once with one coupon: it is used once.
	pc=$(new_policy "pay-race" 50) || return
	cid=$(issue "$t" "$pc") || return
	spec=$(_assert_tmp)/payrace-orders.spec
	for ((i = 0; i < 20; i++)); do
		printf 'POST\t/api/v1/orders\t%s\t%s\n' "$t" "$(order_body "$opt" 5)"
	done >"$spec"
	out=$(_assert_tmp)/payrace-orders.out
	http_parallel 20 "$spec" >"$out"
	is "$(count_status 201 "$out")" 20 "pay race: 20 orders of 500 placed"
	ids=$(cut -f2 "$out" | jq -r .id 2>/dev/null)
	spec=$(_assert_tmp)/payrace.spec
	for o3 in $ids; do
		printf 'POST\t/api/v1/orders/%s/pay\t%s\t{"coupon_id":%s}\n' "$o3" "$t" "$cid"
	done >"$spec"
	bal=$(balance_of "$u")
	out=$(_assert_tmp)/payrace.out
	http_parallel 20 "$spec" >"$out"
	is "$(outcomes "$out")" "200:1,409 coupon_unavailable:19" \
		"pay race: 20 orders, one coupon: one 200, 19 x 409 coupon_unavailable"
	paid200=$(paste "$spec" "$out" | awk -F'\t' '$5 == 200 { split($2, p, "/"); print p[5] }')
	is "$(coupon_status "$cid")" "used $paid200 true" "pay race: the coupon is used by the order answered 200"
	# shellcheck disable=SC2086 # a list of ids
	is "$(sql "SELECT string_agg(status, ',' ORDER BY id) FROM orders
	    WHERE id IN ($(printf '%s\n' $ids | paste -sd, -)) AND id <> ${paid200:-0}")" \
		"$(printf 'pending%.0s,' $(seq 19) | sed 's/,$//')" "pay race: the 19 others are still pending"
	# shellcheck disable=SC2086
	is "$(sql "SELECT count(*) || ' ' || COALESCE(sum(amount), 0) FROM point_ledger
	    WHERE order_id IN ($(printf '%s\n' $ids | paste -sd, -))")" "1 -400" \
		"pay race: one use row of 400 (500 - 100) among the 20 orders"
	is "$(balance_of "$u")" $((bal - 400)) "pay race: balance down by 400 only"
	check_coupons "after 20 payments racing for one coupon"

	# Percent: 10 % capped at 500 of 10,000 is 500; 10 % of 999 is 99.
	cp=$(new_percent_policy "pct-cap" 10 10 500) || return
	cid=$(issue "$t" "$cp") || return
	o3=$(new_order "$t" "$opt" 100) || return
	http POST "/api/v1/orders/$o3/pay" "{\"coupon_id\":$cid}" "$t"
	is "$HTTP_STATUS $(jq -r '"\(.total) \(.discount)"' <<<"$HTTP_BODY")" "200 10000 500" \
		"pay: 10% capped at 500 of 10000 takes 500 off"
	is "$(used_points "$o3")" "9500 0" "pay: ...and uses 9500 points"
	http POST /api/v1/admin/products '{"name":"cp-odd","options":[{"name":"o","price":333,"stock":100}]}' "$ADMIN"
	odd=$(jq -r '.options[0].id' <<<"$HTTP_BODY")
	op=$(new_percent_policy "pct-floor" 10 10) || return
	cid=$(issue "$t" "$op") || return
	o3=$(new_order "$t" "$odd" 3) || return
	http POST "/api/v1/orders/$o3/pay" "{\"coupon_id\":$cid}" "$t"
	is "$HTTP_STATUS $(jq -r '"\(.total) \(.discount) \(.coupon_id)"' <<<"$HTTP_BODY")" "200 999 99 $cid" \
		"pay: 10% of 999 takes floor(99.9) = 99 off"
	is "$(used_points "$o3")" "900 0" "pay: ...and uses 900 points"
	# A discount larger than the total: the order is free, no points move.
	pfree=$(new_policy "pay-free" 10 5000) || return
	cfree=$(issue "$t" "$pfree") || return
	ofree=$(new_order "$t" "$odd" 3) || return
	bal=$(balance_of "$u")
	http POST "/api/v1/orders/$ofree/pay" "{\"coupon_id\":$cfree}" "$t"
	is "$HTTP_STATUS $(jq -r '"\(.status) \(.discount)"' <<<"$HTTP_BODY")" "200 paid 999" \
		"pay: 5000 off an order of 999 takes 999 off (never more than the total)"
	is "$(used_points "$ofree")" "0 0" "pay: ...and uses no points"
	is "$(balance_of "$u")" "$bal" "pay: ...the balance is unchanged"
	http POST "/api/v1/orders/$ofree/cancel" "" "$t"
	is "$HTTP_STATUS" 200 "pay: the free order canceled"
	is "$(coupon_status "$cfree") $(used_points "$ofree")" "available null false 0 0" \
		"pay: its coupon is back, no points moved either way"
	check_coupons "after percent and free orders"

	# A cancel racing 9 payments that want its coupon: the cancel wins
	# (the order was paid), at most one payment gets the coupon back, and
	# the others change nothing.
	cid=$(issue "$t" "$(new_policy "pay-cancel-race" 5)") || return
	o3=$(new_order "$t" "$opt" 3) || return
	http POST "/api/v1/orders/$o3/pay" "{\"coupon_id\":$cid}" "$t"
	is "$HTTP_STATUS" 200 "pay/cancel race: the first order paid with the coupon"
	spec=$(_assert_tmp)/paycancel-orders.spec
	for ((i = 0; i < 9; i++)); do
		printf 'POST\t/api/v1/orders\t%s\t%s\n' "$t" "$(order_body "$opt" 2)"
	done >"$spec"
	out=$(_assert_tmp)/paycancel-orders.out
	http_parallel 9 "$spec" >"$out"
	spec=$(_assert_tmp)/paycancel.spec
	{
		printf 'POST\t/api/v1/orders/%s/cancel\t%s\t\n' "$o3" "$t"
		for i in $(cut -f2 "$out" | jq -r .id 2>/dev/null); do
			printf 'POST\t/api/v1/orders/%s/pay\t%s\t{"coupon_id":%s}\n' "$i" "$t" "$cid"
		done
	} >"$spec"
	out=$(_assert_tmp)/paycancel.out
	http_parallel 10 "$spec" >"$out"
	is "$(head -1 "$out" | cut -f1)" 200 "pay/cancel race: the cancel succeeds"
	like "$(tail -n +2 "$out" | outcomes /dev/stdin)" '^(200:1,409 coupon_unavailable:8|409 coupon_unavailable:9)$' \
		"pay/cancel race: at most one payment got the coupon, the rest 409 coupon_unavailable"
	paid200=$(paste "$spec" "$out" | awk -F'\t' 'NR > 1 && $5 == 200 { split($2, p, "/"); print p[5] }')
	if [ -n "$paid200" ]; then
		is "$(coupon_status "$cid")" "used $paid200 true" "pay/cancel race: the coupon is used by the order paid"
	else
		is "$(coupon_status "$cid")" "available null false" "pay/cancel race: the coupon is available again"
	fi
	is "$(order_row "$o3") $(used_points "$o3")" "canceled $cid 100 200 200" \
		"pay/cancel race: the canceled order refunded 300 - 100"
	check_coupons "after a cancel racing payments for its coupon"

	# A coupon that expires while its order is paid: the cancel gives it
	# back, but it can no longer pay.
	cid=$(issue "$t" "$(new_policy "pay-expire-while-used" 5)") || return
	o3=$(new_order "$t" "$opt" 3) || return
	http POST "/api/v1/orders/$o3/pay" "{\"coupon_id\":$cid}" "$t"
	is "$HTTP_STATUS" 200 "pay: paid with a coupon that will expire"
	sql "UPDATE user_coupons SET expires_at = now() - interval '1 second' WHERE id = $cid" >/dev/null
	http POST "/api/v1/orders/$o3/cancel" "" "$t"
	is "$HTTP_STATUS" 200 "pay: its order canceled after the coupon expired"
	like "$(coupon_status "$cid")" '^(available|expired) null false$' "pay: ...the coupon is released from the order"
	# Not through refused: the reaper may mark it expired meanwhile.
	o3=$(new_order "$t" "$opt" 3) || return
	http POST "/api/v1/orders/$o3/pay" "{\"coupon_id\":$cid}" "$t"
	is "$(answer)" "409 coupon_unavailable" "pay: it cannot pay another order: 409 coupon_unavailable"
	is "$(order_row "$o3") $(used_points "$o3")" "pending null 0 0 0" "pay: ...which stays pending"
	http GET /api/v1/me/coupons "" "$t"
	is "$(jq -r ".items[] | select(.id == $cid) | .status" <<<"$HTTP_BODY")" expired \
		"pay: ...and it is listed as expired"
	reap_coupons
	check_coupons "after a coupon expired while used"

	# Refusals: another user's coupon, an unknown one, an expired one, a
	# used one, and too few points for what is left to pay.
	o3=$(new_order "$t" "$opt" 2) || return
	other=$(issue "$t2" "$p") || return
	refused "pay with another user's coupon" 409 coupon_unavailable POST "/api/v1/orders/$o3/pay" \
		"{\"coupon_id\":$other}" "$t"
	refused "pay with an unknown coupon" 409 coupon_unavailable POST "/api/v1/orders/$o3/pay" \
		'{"coupon_id":999999999}' "$t"
	refused "pay with a used coupon" 409 coupon_unavailable POST "/api/v1/orders/$o3/pay" \
		"{\"coupon_id\":$(sql "SELECT id FROM user_coupons WHERE policy_id = $cp AND user_id = $u")}" "$t"
	# Expired whether or not the reaper has marked it yet.  The reaper
	# may run during the first request, so only the second one, after
	# the reaper marked it, compares snapshots.
	pexp=$(new_policy "pay-expired" 10) || return
	cexp=$(issue "$t" "$pexp") || return
	sql "UPDATE user_coupons SET expires_at = now() - interval '1 second' WHERE id = $cexp" >/dev/null
	http POST "/api/v1/orders/$o3/pay" "{\"coupon_id\":$cexp}" "$t"
	is "$(answer)" "409 coupon_unavailable" \
		"pay: a coupon past expires_at, not yet marked expired: 409 coupon_unavailable"
	is "$(order_row "$o3") $(used_points "$o3")" "pending null 0 0 0" "pay: ...and the order was not paid"
	like "$(coupon_status "$cexp")" '^(available|expired) null false$' "pay: ...nor the coupon used"
	reap_coupons
	refused "pay with an expired coupon" 409 coupon_unavailable POST "/api/v1/orders/$o3/pay" \
		"{\"coupon_id\":$cexp}" "$t"
	is "$(order_row "$o3")" "pending null 0" "pay: after the refusals the order is still pending, no coupon"
	refused "pay a paid order with an unknown coupon" 409 order_not_pending POST "/api/v1/orders/$o2/pay" \
		'{"coupon_id":999999999}' "$t"
	refused "coupon_id 0" 400 invalid_field POST "/api/v1/orders/$o3/pay" '{"coupon_id":0}' "$t"
	refused "coupon_id \"1\"" 400 invalid_field POST "/api/v1/orders/$o3/pay" '{"coupon_id":"1"}' "$t"
	# Too few points: 1000 - 300 = 700 to pay with 600; with 700, paid.
	charge "$t2" 600 || return
	o3=$(new_order "$t2" "$opt" 10) || return
	refused "pay with a coupon, too few points" 409 insufficient_points POST "/api/v1/orders/$o3/pay" \
		"{\"coupon_id\":$other}" "$t2"
	is "$(coupon_status "$other")" "available null false" "pay: the coupon stays available"
	charge "$t2" 100 || return
	http POST "/api/v1/orders/$o3/pay" "{\"coupon_id\":$other}" "$t2"
	is "$HTTP_STATUS $(jq -r .discount <<<"$HTTP_BODY")" "200 300" \
		"pay: with exactly total - discount points: 200"
	is "$(balance_of "$v")" 0 "pay: balance 0"
	check_coupons "after refused payments"
}

# ---------------------------------------------------------------------------
# 6. Bad input: refused with its status and code, and nothing changed.
test_bad_input() {
	local p future long201 tomorrow admin=/api/v1/admin/coupons
	local base='"name":"bad","discount_kind":"amount","discount_value":100'
	p=$(new_policy "bad" 5) || return
	tomorrow=$(iso '+1 day')
	refusals_begin
	refused "unknown policy" 404 coupon_not_found GET /api/v1/coupons/999999999 ""
	refused "issue unknown policy" 404 coupon_not_found POST /api/v1/coupons/999999999/issue ""
	refused "non-numeric id" 404 not_found GET /api/v1/coupons/abc ""
	refused "issue non-numeric id" 404 not_found POST /api/v1/coupons/abc/issue ""
	refused "malformed JSON" 400 malformed_json POST $admin '{"name":' "$ADMIN"
	refused "not an object" 400 invalid_body POST $admin '[1]' "$ADMIN"
	refused "total_quantity missing" 400 missing_field POST $admin "{$base}" "$ADMIN"
	refused "name missing" 400 missing_field POST $admin \
		'{"discount_kind":"amount","discount_value":100,"total_quantity":5}' "$ADMIN"
	refused "discount_kind missing" 400 missing_field POST $admin \
		'{"name":"x","discount_value":100,"total_quantity":5}' "$ADMIN"
	refused "discount_value missing" 400 missing_field POST $admin \
		'{"name":"x","discount_kind":"amount","total_quantity":5}' "$ADMIN"
	refused "total 0" 400 invalid_field POST $admin "{$base,\"total_quantity\":0}" "$ADMIN"
	refused "total 10000001" 400 invalid_field POST $admin "{$base,\"total_quantity\":10000001}" "$ADMIN"
	refused "total -1" 400 invalid_field POST $admin "{$base,\"total_quantity\":-1}" "$ADMIN"
	refused "total 1.5" 400 invalid_field POST $admin "{$base,\"total_quantity\":1.5}" "$ADMIN"
	refused "total \"5\"" 400 invalid_field POST $admin "{$base,\"total_quantity\":\"5\"}" "$ADMIN"
	refused "total 2^63" 400 invalid_field POST $admin "{$base,\"total_quantity\":9223372036854775808}" "$ADMIN"
	refused "percent 101" 400 invalid_field POST $admin \
		'{"name":"x","discount_kind":"percent","discount_value":101,"total_quantity":5}' "$ADMIN"
	refused "percent 0" 400 invalid_field POST $admin \
		'{"name":"x","discount_kind":"percent","discount_value":0,"total_quantity":5}' "$ADMIN"
	refused "amount 0" 400 invalid_field POST $admin \
		'{"name":"x","discount_kind":"amount","discount_value":0,"total_quantity":5}' "$ADMIN"
	refused "amount negative" 400 invalid_field POST $admin \
		'{"name":"x","discount_kind":"amount","discount_value":-5,"total_quantity":5}' "$ADMIN"
	refused "discount_cap with amount" 400 invalid_field POST $admin \
		"{$base,\"discount_cap\":50,\"total_quantity\":5}" "$ADMIN"
	refused "discount_cap 0" 400 invalid_field POST $admin \
		'{"name":"x","discount_kind":"percent","discount_value":10,"discount_cap":0,"total_quantity":5}' "$ADMIN"
	refused "discount_kind gift" 400 invalid_field POST $admin \
		'{"name":"x","discount_kind":"gift","discount_value":10,"total_quantity":5}' "$ADMIN"
	refused "discount_kind 1" 400 invalid_field POST $admin \
		'{"name":"x","discount_kind":1,"discount_value":10,"total_quantity":5}' "$ADMIN"
	refused "name empty" 400 invalid_field POST $admin \
		'{"name":"","discount_kind":"amount","discount_value":10,"total_quantity":5}' "$ADMIN"
	refused "name 201 characters" 400 invalid_field POST $admin \
		"{\"name\":\"$(printf 'n%.0s' $(seq 201))\",\"discount_kind\":\"amount\",\"discount_value\":10,\"total_quantity\":5}" "$ADMIN"
	refused "name a number" 400 invalid_field POST $admin \
		'{"name":5,"discount_kind":"amount","discount_value":10,"total_quantity":5}' "$ADMIN"
	refused "valid_days 0" 400 invalid_field POST $admin "{$base,\"total_quantity\":5,\"valid_days\":0}" "$ADMIN"
	refused "valid_days 3651" 400 invalid_field POST $admin "{$base,\"total_quantity\":5,\"valid_days\":3651}" "$ADMIN"
	refused "ends_at before starts_at" 400 invalid_window POST $admin \
		"{$base,\"total_quantity\":5,\"starts_at\":\"$(iso '+2 days')\",\"ends_at\":\"$(iso '+1 day')\"}" "$ADMIN"
	refused "ends_at = starts_at" 400 invalid_window POST $admin \
		"{$base,\"total_quantity\":5,\"starts_at\":\"$tomorrow\",\"ends_at\":\"$tomorrow\"}" "$ADMIN"
	refused "ends_at in the past" 400 invalid_window POST $admin \
		"{$base,\"total_quantity\":5,\"starts_at\":\"$(iso '-2 days')\",\"ends_at\":\"$(iso '-1 day')\"}" "$ADMIN"
	refused "ends_at past, no starts_at" 400 invalid_window POST $admin \
		"{$base,\"total_quantity\":5,\"ends_at\":\"$(iso '-1 hour')\"}" "$ADMIN"
	refused "starts_at not a date" 400 invalid_field POST $admin \
		"{$base,\"total_quantity\":5,\"starts_at\":\"tomorrow\"}" "$ADMIN"
	refused "starts_at February 30" 400 invalid_field POST $admin \
		"{$base,\"total_quantity\":5,\"starts_at\":\"2030-02-30T00:00:00Z\"}" "$ADMIN"
	refused "ends_at without a zone" 400 invalid_field POST $admin \
		"{$base,\"total_quantity\":5,\"ends_at\":\"2030-01-01T00:00:00\"}" "$ADMIN"
	refused "starts_at a number" 400 invalid_field POST $admin \
		"{$base,\"total_quantity\":5,\"starts_at\":1900000000}" "$ADMIN"
	refused "unknown field" 400 unknown_field POST $admin "{$base,\"total_quantity\":5,\"color\":\"red\"}" "$ADMIN"
	refused "wrong content type" 415 unsupported_media_type POST $admin "" "$ADMIN" \
		-H 'Content-Type: text/plain' --data-binary "{$base,\"total_quantity\":5}"
	refused "policy as a user" 403 forbidden POST $admin "{$base,\"total_quantity\":5}"
	refused "policy without token" 401 unauthorized POST $admin "{$base,\"total_quantity\":5}" ""
	refused "policy with forged token" 401 unauthorized POST $admin "{$base,\"total_quantity\":5}" "${ADMIN%?}x"
	refused "get without token" 401 unauthorized GET "/api/v1/coupons/$p" "" ""
	refused "get with forged token" 401 unauthorized GET "/api/v1/coupons/$p" "" "${USER1%?}x"
	refused "issue without token" 401 unauthorized POST "/api/v1/coupons/$p/issue" "" ""
	refused "issue with forged token" 401 unauthorized POST "/api/v1/coupons/$p/issue" "" "${USER1%?}x"
	refused "my coupons without token" 401 unauthorized GET /api/v1/me/coupons "" ""
	refused "my coupons, limit 0" 400 invalid_parameter GET "/api/v1/me/coupons?limit=0" ""
	refused "my coupons, limit 101" 400 invalid_parameter GET "/api/v1/me/coupons?limit=101" ""
	refused "my coupons, after x" 400 invalid_parameter GET "/api/v1/me/coupons?after=x" ""
	refused "issue with a bad Idempotency-Key" 400 invalid_idempotency_key POST "/api/v1/coupons/$p/issue" "" \
		"$USER1" -H 'Idempotency-Key: has space'
	refusals_end
	# A window that has not started yet, then one that has ended.
	future=$(new_policy "future" 5 100 ",\"starts_at\":\"$(iso '+1 day')\"") || return
	refused "window not started" 409 not_open POST "/api/v1/coupons/$future/issue" ""
	is "$(sql "SELECT ends_at - starts_at FROM coupon_policies WHERE id = $future")" "30 days" \
		"bad input: ends_at defaults to starts_at + 30 days"
	if gate_on; then
		is "$(stack_redis SISMEMBER "$(rkey "$future" users)" 1)" 0 "bad input: not_open left no trace in the gate"
	fi
	# A worker still holding the open window lets the claim through the
	# gate and the database refuses it: not_open either way, no sleep.
	sql "UPDATE coupon_policies SET starts_at = now() - interval '2 days',
	    ends_at = now() - interval '1 day' WHERE id = $p" >/dev/null
	refused "window ended" 409 not_open POST "/api/v1/coupons/$p/issue" ""
	# The limits themselves are accepted.
	long201=$(printf 'n%.0s' $(seq 200))
	http POST $admin "{\"name\":\"$long201\",\"discount_kind\":\"percent\",\"discount_value\":100,\"total_quantity\":10000000,\"valid_days\":3650}" "$ADMIN"
	is "$HTTP_STATUS" 201 "bad input: name of 200, percent 100, total 10000000, valid_days 3650 accepted"
	http POST $admin "{$base,\"total_quantity\":1,\"valid_days\":1,\"starts_at\":\"$(iso '-1 day')\",\"ends_at\":\"$(iso '+1 minute' | sed 's/Z$/+00:00/')\"}" "$ADMIN"
	is "$HTTP_STATUS" 201 "bad input: starts_at in the past, ends_at with +00:00, total 1, valid_days 1 accepted"
	check_coupons "after bad input"
}

# ---------------------------------------------------------------------------
# 7. The shapes of a policy, a coupon and the caller's list.
test_shapes() {
	local u=1601 t p1 p2 p3 c1 c2 c3 first opt o got
	t=$(tok "$u")
	http POST /api/v1/admin/coupons \
		"{\"name\":\"Flash 10%\",\"discount_kind\":\"percent\",\"discount_value\":10,\"discount_cap\":50,\"total_quantity\":3,\"starts_at\":\"$(iso '-1 hour')\",\"ends_at\":\"$(iso '+1 day')\",\"valid_days\":7}" "$ADMIN"
	is "$HTTP_STATUS" 201 "shapes: policy created"
	like "$HTTP_CONTENT_TYPE" '^application/json' "shapes: the policy is JSON"
	first=$HTTP_BODY
	p1=$(jq -r .id <<<"$first")
	is "$(http_header Location)" "/api/v1/coupons/$p1" "shapes: Location names the policy"
	is "$(jq -c 'keys' <<<"$first")" \
		'["created_at","discount_cap","discount_kind","discount_value","ends_at","id","issued_quantity","name","remaining","starts_at","total_quantity","valid_days"]' \
		"shapes: policy members"
	is "$(jq -r '"\(.name)|\(.discount_kind)|\(.discount_value)|\(.discount_cap)|\(.total_quantity)|\(.issued_quantity)|\(.remaining)|\(.valid_days)"' <<<"$first")" \
		"Flash 10%|percent|10|50|3|0|3|7" "shapes: policy values"
	like "$(jq -r .starts_at <<<"$first")" '^20[0-9][0-9]-' "shapes: starts_at is a timestamp"
	http GET "/api/v1/coupons/$p1" "" "$t"
	is "$HTTP_STATUS" 200 "shapes: GET the policy"
	is "$(jq -cS . <<<"$HTTP_BODY")" "$(jq -cS . <<<"$first")" "shapes: GET shows what POST answered"
	http POST "/api/v1/coupons/$p1/issue" "" "$t"
	is "$HTTP_STATUS" 201 "shapes: coupon issued"
	c1=$(jq -r .id <<<"$HTTP_BODY")
	is "$(jq -c 'keys' <<<"$HTTP_BODY")" \
		'["discount_cap","discount_kind","discount_value","expires_at","id","issued_at","order_id","policy_id","status","used_at","user_id"]' \
		"shapes: coupon members"
	is "$(jq -r '"\(.policy_id) \(.user_id) \(.status) \(.used_at) \(.order_id) \(.discount_kind) \(.discount_value) \(.discount_cap)"' <<<"$HTTP_BODY")" \
		"$p1 $u available null null percent 10 50" "shapes: coupon values"
	like "$HTTP_CONTENT_TYPE" '^application/json' "shapes: the coupon is JSON"
	is "$(sql "SELECT expires_at - issued_at FROM user_coupons WHERE id = $c1")" "7 days" \
		"shapes: expires_at = issued_at + valid_days"
	issue "$(tok 1602)" "$p1" >/dev/null
	http GET "/api/v1/coupons/$p1" "" "$t"
	is "$(jq -r '"\(.issued_quantity) \(.remaining)"' <<<"$HTTP_BODY")" "2 1" "shapes: issued 2, remaining 1"
	p2=$(new_policy "shapes-2" 5) || return
	http GET "/api/v1/coupons/$p2" "" "$t"
	is "$(jq -r '"\(.discount_kind) \(.discount_cap) \(.valid_days)"' <<<"$HTTP_BODY")" "amount null 30" \
		"shapes: an amount policy has no cap; valid_days defaults to 30"
	is "$(sql "SELECT abs(extract(epoch FROM starts_at - now())) < 60
	    AND ends_at - starts_at = interval '30 days' FROM coupon_policies WHERE id = $p2")" t \
		"shapes: starts_at defaults to now, ends_at to 30 days later"
	p3=$(new_policy "shapes-3" 5 200) || return
	c2=$(issue "$t" "$p2") || return
	c3=$(issue "$t" "$p3") || return
	# c1 used, c2 expired (before the reaper sees it too), c3 available.
	opt=$(create_product "$ADMIN" "cp-shapes" 10) || return
	charge "$t" 1000 || return
	o=$(new_order "$t" "$opt" 2) || return
	http POST "/api/v1/orders/$o/pay" "{\"coupon_id\":$c1}" "$t"
	is "$HTTP_STATUS $(jq -r .discount <<<"$HTTP_BODY")" "200 20" "shapes: 10% of 200 paid with the first coupon"
	sql "UPDATE user_coupons SET expires_at = now() - interval '1 second' WHERE id = $c2" >/dev/null
	http GET /api/v1/me/coupons "" "$t"
	is "$HTTP_STATUS" 200 "shapes: GET /me/coupons 200"
	like "$HTTP_CONTENT_TYPE" '^application/json' "shapes: the list is JSON"
	is "$(jq -r '[.items[] | "\(.id):\(.status):\(.order_id)"] | join(",")' <<<"$HTTP_BODY")" \
		"$c3:available:null,$c2:expired:null,$c1:used:$o" \
		"shapes: newest first, with status available, expired, used (and its order)"
	is "$(jq -r .next_after <<<"$HTTP_BODY")" null "shapes: one page, next_after null"
	is "$(jq -c '[.items[] | keys] | unique' <<<"$HTTP_BODY")" \
		'[["discount_cap","discount_kind","discount_value","expires_at","id","issued_at","order_id","policy_id","status","used_at","user_id"]]' \
		"shapes: list items have the coupon's members"
	is "$(jq -r '[.items[] | "\(.policy_id):\(.discount_value)"] | join(",")' <<<"$HTTP_BODY")" \
		"$p3:200,$p2:100,$p1:10" "shapes: each with its policy's discount"
	like "$(jq -r '.items[2].used_at' <<<"$HTTP_BODY")" '^20[0-9][0-9]-' "shapes: the used coupon has used_at"
	http GET "/api/v1/me/coupons?limit=2" "" "$t"
	got=$(jq -r '[.items[].id] | map(tostring) | join(",")' <<<"$HTTP_BODY")
	is "$got $(jq -r .next_after <<<"$HTTP_BODY")" "$c3,$c2 $c2" "shapes: a page of 2, next_after its last id"
	http GET "/api/v1/me/coupons?limit=2&after=$c2" "" "$t"
	is "$(jq -r '[.items[].id] | map(tostring) | join(",")' <<<"$HTTP_BODY") $(jq -r .next_after <<<"$HTTP_BODY")" \
		"$c1 null" "shapes: the next page holds the rest"
	http GET /api/v1/me/coupons "" "$(tok 1603)"
	is "$(jq -cS . <<<"$HTTP_BODY")" '{"items":[],"next_after":null}' "shapes: a user without coupons has an empty list"
	http GET /api/v1/me/coupons "" "$(tok 1602)"
	is "$(jq -r '[.items[].user_id] | unique | map(tostring) | join(",")' <<<"$HTTP_BODY")" 1602 \
		"shapes: another user sees only their own coupons"
	reap_coupons
	http GET /api/v1/me/coupons "" "$t"
	is "$(jq -r '[.items[].status] | join(",")' <<<"$HTTP_BODY")" "available,expired,used" \
		"shapes: once marked expired in the table, listed the same"
	check_coupons "after shapes"
}

# ---------------------------------------------------------------------------
# 8. Idempotency-Key on issue.
test_idempotency() {
	local u=1701 t p first spec out key i opt id cid
	t=$(tok "$u")
	p=$(new_policy "idem" 10) || return
	http POST "/api/v1/coupons/$p/issue" "" "$t" -H 'Idempotency-Key: cp-once'
	is "$HTTP_STATUS" 201 "idempotency: first claim 201"
	first=$HTTP_BODY
	http POST "/api/v1/coupons/$p/issue" "" "$t" -H 'Idempotency-Key: cp-once'
	is "$HTTP_STATUS" 201 "idempotency: retry answers 201"
	is "$HTTP_BODY" "$first" "idempotency: retry answers the identical body"
	is "$(http_header Idempotent-Replayed)" true "idempotency: retry is marked Idempotent-Replayed: true"
	is "$(counts "$p")" "1 1" "idempotency: one coupon"
	http POST "/api/v1/coupons/$p/issue" "" "$t"
	is "$(answer)" "409 already_issued" \
		"idempotency: without the key: 409 already_issued"
	http POST "/api/v1/coupons/$p/issue" '{}' "$t" -H 'Idempotency-Key: cp-once'
	is "$(answer)" "422 idempotency_key_reused" \
		"idempotency: the key with a body: 422 idempotency_key_reused"
	is "$(counts "$p")" "1 1" "idempotency: still one coupon"
	# 20 concurrent claims of another user with one key: one coupon.
	key="cp-burst-$RANDOM"
	spec=$(_assert_tmp)/cp-idem.spec
	for ((i = 0; i < 20; i++)); do
		issue_line "$(tok 1702)" "$p" "Idempotency-Key: $key"
	done >"$spec"
	out=$(_assert_tmp)/cp-idem.out
	http_parallel 20 "$spec" >"$out"
	is "$(counts "$p")" "2 2" "idempotency: 20 concurrent claims with one key, one coupon"
	is "$(outcomes "$out" | sed 's/^201:[0-9]*//; s/^,//; s/^409 request_in_progress:[0-9]*$//')" "" \
		"idempotency: each concurrent claim got 201 or 409 request_in_progress ($(outcomes "$out"))"
	is "$(grep '^201' "$out" | cut -f2 | sort -u | wc -l)" 1 "idempotency: every 201 carries the identical body"
	is "$(grep '^201' "$out" | head -1 | cut -f2 | jq -r .id)" \
		"$(sql "SELECT id FROM user_coupons WHERE policy_id = $p AND user_id = 1702")" \
		"idempotency: ...which is the coupon issued"
	# A payment with a coupon, retried with its key: replayed, used once.
	opt=$(create_product "$ADMIN" "cp-idem" 10) || return
	charge "$t" 1000 || return
	id=$(new_order "$t" "$opt" 2) || return
	cid=$(jq -r .id <<<"$first")
	http POST "/api/v1/orders/$id/pay" "{\"coupon_id\":$cid}" "$t" -H 'Idempotency-Key: cp-pay-once'
	is "$HTTP_STATUS $(jq -r .discount <<<"$HTTP_BODY")" "200 100" "idempotency: payment with a coupon and a key"
	first=$HTTP_BODY
	http POST "/api/v1/orders/$id/pay" "{\"coupon_id\":$cid}" "$t" -H 'Idempotency-Key: cp-pay-once'
	is "$HTTP_STATUS" 200 "idempotency: the payment retried with its key answers 200"
	is "$HTTP_BODY" "$first" "idempotency: ...with the identical body"
	is "$(http_header Idempotent-Replayed)" true "idempotency: ...marked replayed"
	is "$(coupon_status "$cid") $(used_points "$id")" "used $id true 100 0" \
		"idempotency: the coupon used once, 200 - 100 points once"
	check_coupons "after idempotency"
}

# keyed_reads: the summed coupon_keyed_reads counter of GET /status.
keyed_reads() {
	http GET /status >/dev/null || return 1
	jq -r .coupon_keyed_reads <<<"$HTTP_BODY"
}

# 8b. Issue 12, item 2: 40 users each send one claim twice at once with one
# Idempotency-Key (a client retrying while its first try is in flight), on
# a policy of 60.  Whichever twin issues, the other's undo must not take
# the user out of the gate's set; afterwards every retry with the original
# key replays its 201 from one indexed read of the key, not a transaction,
# and a new key answers already_issued.
test_twins() {
	local p u spec users out before d i reads
	local -a c
	p=$(new_policy "twins" 60) || return
	spec=$(_assert_tmp)/twins.spec
	users=$(_assert_tmp)/twins.users
	: >"$users.tmp"
	for ((u = 1801; u <= 1840; u++)); do
		for i in 1 2; do
			issue_line "$(tok "$u")" "$p" "Idempotency-Key: twin-$u"
			printf '%s\n' "$u" >>"$users.tmp"
		done
	done >"$spec"
	mv "$users.tmp" "$users"
	out=$(_assert_tmp)/twins.out
	http_parallel 80 "$spec" >"$out"
	diag "twins: $(outcomes "$out")"
	is "$(counts "$p") $(holders "$p")" "40 40 $(seq -s, 1801 1840)" \
		"twins: one coupon for each of the 40 users"
	is "$(outcomes "$out" | tr , '\n' | grep -v '^201:' | grep -v '^409 request_in_progress:' |
		grep -v '^409 already_issued:')" "" \
		"twins: every claim got 201, 409 request_in_progress or 409 already_issued"
	is "$(answered 201 "$users" "$out" | tr , '\n' | sort -un | paste -sd, -)" "$(seq -s, 1801 1840)" \
		"twins: every user got a 201"
	if gate_on; then
		is "$(gate_users "$p")" "$(holders "$p")" \
			"twins: the gate's set holds exactly the 40 holders (no twin's undo took one out)"
	fi
	before=$(counters)
	reads=$(keyed_reads)
	for ((u = 1801; u <= 1840; u++)); do
		issue_line "$(tok "$u")" "$p" "Idempotency-Key: twin-$u"
	done >"$spec"
	http_parallel 40 "$spec" >"$out"
	is "$(outcomes "$out")" "201:40" "twins: every retry with the original key answers 201"
	is "$(cut -f2 "$out" | jq -r '"\(.user_id) \(.id)"' 2>/dev/null | sort -n | paste -sd, -)" \
		"$(sql "SELECT string_agg(user_id || ' ' || id, ',' ORDER BY user_id)
		    FROM user_coupons WHERE policy_id = $p")" \
		"twins: ...each replaying the user's coupon"
	http POST "/api/v1/coupons/$p/issue" "" "$(tok 1801)" -H "Idempotency-Key: twin-1801"
	is "$HTTP_STATUS $(http_header Idempotent-Replayed)" "201 true" \
		"twins: a retry is marked Idempotent-Replayed"
	for ((u = 1801; u <= 1840; u++)); do
		issue_line "$(tok "$u")" "$p" "Idempotency-Key: twin-new-$u"
	done >"$spec"
	http_parallel 40 "$spec" >"$out"
	is "$(outcomes "$out")" "409 already_issued:40" "twins: a new key answers 409 already_issued"
	d=$(counters_delta "$before" "$(counters)")
	show_counters "twins: retries" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		is "${c[3]}" 0 "twins: the 81 retries reached no issue transaction (coupon_db_attempts +${c[3]})"
		is "$(($(keyed_reads) - reads))" 81 "twins: each was answered by one read of its key (coupon_keyed_reads)"
	fi
	is "$(counts "$p")" "40 40" "twins: still 40 coupons"
	check_coupons "after the twins"
}

# 8c. A keyed claim answered 409 request_in_progress (its key's twin is
# running, and may issue) gives its count back but keeps the user in the
# gate's set: taken out, the user's retries would meet the gate's sold_out
# before the key's stored 201.  The twin is forced: a psql session holds
# the key's advisory lock (sql/queries/idempotency.sql) for a second.
test_key_in_progress() {
	local u=1850 t p key holder i first
	t=$(tok "$u")
	p=$(new_policy "in-progress" 5) || return
	key="in-progress-$RANDOM"
	stack_psql "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('$u:$key', 0));
	    SELECT pg_sleep(1.5); COMMIT" >/dev/null &
	holder=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(sql "SELECT count(*) FROM pg_stat_activity
		    WHERE query LIKE '%pg_sleep(1.5)%' AND state = 'active'
		    AND pid <> pg_backend_pid()")" = 1 ] && break
		sleep 0.05
	done
	http POST "/api/v1/coupons/$p/issue" "" "$t" -H "Idempotency-Key: $key"
	is "$(answer)" "409 request_in_progress" "in progress: the key is held: 409 request_in_progress"
	if gate_on; then
		is "$(stack_redis SISMEMBER "$(rkey "$p" users)" "$u")" 1 \
			"in progress: the gate keeps the user (the key's twin may issue)"
	fi
	wait "$holder"
	http POST "/api/v1/coupons/$p/issue" "" "$t" -H "Idempotency-Key: $key"
	is "$HTTP_STATUS" 201 "in progress: the retry with the key issues"
	first=$HTTP_BODY
	http POST "/api/v1/coupons/$p/issue" "" "$t" -H "Idempotency-Key: $key"
	is "$HTTP_STATUS $(http_header Idempotent-Replayed)" "201 true" "in progress: the next retry replays"
	is "$HTTP_BODY" "$first" "in progress: ...the identical body"
	http POST "/api/v1/coupons/$p/issue" "" "$t" -H "Idempotency-Key: $key-2"
	is "$(answer)" "409 already_issued" "in progress: a new key: 409 already_issued"
	http POST "/api/v1/coupons/$p/issue" "" "$t"
	is "$(answer)" "409 already_issued" "in progress: no key: 409 already_issued"
	is "$(counts "$p")" "1 1" "in progress: one coupon"
	check_coupons "after a key in progress"
}

# ---------------------------------------------------------------------------
# 9. coupon_strategy = sharded: issues spread over the policy's shards.  An
# issue searches the shards in the order (shard + user_id % 16) mod 16, so
# users 1..16 asking one after another, with no shard held by anyone, take
# 16 different shards; if the search ignored the user (as when it ordered
# by mod 64), all 16 would take the first shard.
test_shard_spread() {
	local p u
	[ "$STRATEGY" = sharded ] || return 0
	p=$(new_policy "spread" 1600) || return
	for ((u = 1; u <= 16; u++)); do
		issue "$(tok "$u")" "$p" >/dev/null || return
	done
	is "$(sql "SELECT count(DISTINCT shard) || ' ' || count(*) FROM user_coupons
	    WHERE policy_id = $p")" "16 16" \
		"shard spread: 16 users one after another took 16 different shards"
	is "$(sql "SELECT count(*) || ' ' || min(issued) || ' ' || max(issued)
	    FROM coupon_shards WHERE policy_id = $p")" "16 1 1" \
		"shard spread: each of the 16 shards issued one"
	check_coupons "after the shard spread"
}

# ---------------------------------------------------------------------------

# run_suite STRATEGY GATE: a new stack with coupon_strategy = STRATEGY and
# coupon_gate = GATE, every part above run against it, then the stack
# stopped and its directory removed.  Exits 99 when the stack cannot start.
run_suite() {
	local strategy=$1 t0=$SECONDS t t1 u tokens
	GATE=$2
	STRATEGY=$strategy
	diag "--- coupon_strategy = $strategy, coupon_gate = $GATE"
	STACK_EXTRA_CONF="coupon_strategy = $strategy
coupon_gate = $GATE
coupon_cache_ttl = 3s
reaper_interval = 100ms"
	export STACK_EXTRA_CONF
	# shellcheck disable=SC2119 # a new temporary directory, not the script's $1
	stack_init || exit 99
	stack_start || exit 99
	sql_open
	ADMIN=$(stack_token 9000 admin)
	tokens=$(_assert_tmp)/tokens
	mint_tokens_bulk 1 "$RUSH_USERS" >"$tokens" || exit 99
	TOK=()
	while IFS=$'\t' read -r u t; do
		TOK[$u]=$t
	done <"$tokens"
	USER1=$(tok 1)
	for t in test_rush test_one_user test_redis_trouble test_compensation test_pay \
		test_bad_input test_shapes test_idempotency test_twins test_key_in_progress \
		test_shard_spread; do
		t1=${EPOCHREALTIME/./}
		"$t"
		diag "$t: $(((${EPOCHREALTIME/./} - t1) / 1000)) ms"
	done
	diag "--- coupon_strategy = $strategy, coupon_gate = $GATE: $((SECONDS - t0)) s"
	sql_close
	stack_cleanup
}

