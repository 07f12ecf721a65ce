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
# This file holds the numbers, the helpers (tokens, policies, answers,
# counts, counters, the invariant query coupons_wrong, snapshots and the
# checks) and run_suite.  The parts themselves, numbered in the order
# run_suite runs them, are in t/lib/coupons_rush.sh (1-4: the rushes, Redis
# trouble mid-rush, compensation) and t/lib/coupons_use.sh (5-9: paying and
# canceling with coupons, bad input, response shapes, Idempotency-Key, the
# shard spread); this file sources both.
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
	stack_get_status >/dev/null || return 1
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
# The parts (functions only, on the helpers above), and run_suite.

# shellcheck source=t/lib/coupons_rush.sh
. "$T_DIR/lib/coupons_rush.sh"
# shellcheck source=t/lib/coupons_use.sh
. "$T_DIR/lib/coupons_use.sh"

# run_suite STRATEGY GATE: a new stack with coupon_strategy = STRATEGY and
# coupon_gate = GATE, every part (1-9, coupons_rush.sh then coupons_use.sh;
# COUPON_PARTS, when set, names the parts to run instead) run against it in
# order, then the stack stopped and its directory removed.  Exits 99 when
# the stack cannot start.
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
	for t in ${COUPON_PARTS:-test_rush test_one_user test_redis_trouble test_compensation test_queue test_pay \
		test_bad_input test_shapes test_idempotency test_twins test_key_in_progress \
		test_shard_spread test_slots_lower}; do
		t1=${EPOCHREALTIME/./}
		"$t"
		diag "$t: $(((${EPOCHREALTIME/./} - t1) / 1000)) ms"
	done
	diag "--- coupon_strategy = $strategy, coupon_gate = $GATE: $((SECONDS - t0)) s"
	sql_close
	stack_cleanup
}

