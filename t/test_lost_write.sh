#!/usr/bin/env bash
# t/test_lost_write.sh: a statement that writes outside a transaction
# commits on its own, so when its connection is lost after it was sent its
# outcome is unknown, as a lost COMMIT's is: 503 outcome_unknown, never
# database_unavailable ("nothing changed"; docs/architecture.md, invariant
# 5 and "Errors").  Such writes: restock, coupon policy creation, and the
# claim under coupon_strategy = sharded without an Idempotency-Key (one
# statement, no transaction).  The fault proxy (t/lib/pgproxy.py) drops the
# server's whole answer to the statement (reply:NAME: it has committed), or
# does not pass the statement on (gone:NAME: the server says it is going
# and closes, as if stopped just then); the client cannot tell the two
# apart.  A read lost the same way changed nothing: database_unavailable.
# The coupon gate in Redis ends up counting what the database issued: a
# claim whose outcome was lost is looked up (coupon_issue_settle).
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
command -v python3 >/dev/null || { echo "python3 is missing (scripts/install-deps)" >&2; exit 99; }
export STACK_WORKERS=2
export STACK_EXTRA_CONF='coupon_strategy = sharded'

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap stack_cleanup EXIT
stack_start_behind_pgproxy || exit 99
diag "stack in $STACK_DIR, $STACK_URL; stockade's database through the proxy"

ADMIN=$(stack_token 1000 admin)
q() { stack_psql "$1"; }

# lose MODE NAME...: arm the proxy's fault MODE once, send the request
# (http's arguments), and check that the fault happened.
lose() {
	local mode=$1
	shift
	stack_pgproxy_arm "$mode" 1
	http "$@"
	is "$(stack_pgproxy_armed)" "$mode 0" "$mode: the proxy made its fault"
	stack_pgproxy_arm none 0
}

# answered NAME STATUS CODE: the last answer.
answered() {
	is "$HTTP_STATUS" "$2" "$1: $2"
	is "$(jq -r .code <<<"$HTTP_BODY")" "$3" "$1: code $3"
	like "$(http_header Retry-After)" '^[0-9]+$' "$1: Retry-After"
}

# ---------------------------------------------------------------------------
# Set-up, through the proxy (normal traffic is unharmed).

mapfile -t OPTS < <(create_product "$ADMIN" lost-write 10)
OPT=${OPTS[0]:-}
[ -n "$OPT" ] || { diag "no product"; exit 99; }
PRODUCT=$(q "SELECT product_id FROM product_options WHERE id = $OPT")

# ---------------------------------------------------------------------------
# Restock: one UPDATE ... with its movement, in one statement.

lose reply:product_restock POST "/api/v1/admin/options/$OPT/restock" '{"quantity":5}' "$ADMIN"
answered "restock, answer lost" 503 outcome_unknown
is "$(q "SELECT stock FROM product_options WHERE id = $OPT")" 15 "restock, answer lost: it committed, once"
is "$(q "SELECT count(*) FROM stock_movements WHERE option_id = $OPT AND delta = 5")" 1 "restock, answer lost: one movement"

lose gone:product_restock POST "/api/v1/admin/options/$OPT/restock" '{"quantity":7}' "$ADMIN"
answered "restock, never arrived" 503 outcome_unknown
is "$(q "SELECT stock FROM product_options WHERE id = $OPT")" 15 "restock, never arrived: nothing changed (the client cannot know)"

# ---------------------------------------------------------------------------
# A coupon policy.

lose reply:coupon_create POST /api/v1/admin/coupons \
	'{"name":"lost-policy","discount_kind":"amount","discount_value":10,"total_quantity":5}' "$ADMIN"
answered "policy, answer lost" 503 outcome_unknown
is "$(q "SELECT count(*) FROM coupon_policies WHERE name = 'lost-policy'")" 1 "policy, answer lost: it committed, once"

http POST /api/v1/admin/coupons \
	'{"name":"claims","discount_kind":"amount","discount_value":10,"total_quantity":5}' "$ADMIN"
POLICY=$(created 201 policy) || exit 99

# ---------------------------------------------------------------------------
# The sharded claim without a key: one statement takes a unit from a shard
# and inserts the coupon.

# gate NAME USER IN_SET: the Redis gate (a filter, the database the truth)
# counts as many admissions as the policy has issued, and USER is in its
# set of users (IN_SET 1) or not (0).
gate() {
	is "$(stack_redis GET "{coupon:$POLICY}:requests")" \
		"$(q "SELECT count(*) FROM user_coupons WHERE policy_id = $POLICY")" \
		"$1: the gate counts what the database issued"
	is "$(stack_redis SISMEMBER "{coupon:$POLICY}:users" "$2")" "$3" "$1: user $2 in the gate's set: $3"
}

U=$(stack_token 2)
lose reply:coupon_take_shard POST "/api/v1/coupons/$POLICY/issue" "" "$U"
answered "claim, answer lost" 503 outcome_unknown
is "$(q "SELECT count(*) FROM user_coupons WHERE policy_id = $POLICY AND user_id = 2")" 1 "claim, answer lost: it committed, one coupon"
gate "claim, answer lost" 2 1
http POST "/api/v1/coupons/$POLICY/issue" "" "$U"
is "$HTTP_STATUS $(jq -r .code <<<"$HTTP_BODY")" "409 already_issued" "claim, retried: 409 already_issued"

U=$(stack_token 3)
lose gone:coupon_take_shard POST "/api/v1/coupons/$POLICY/issue" "" "$U"
answered "claim, never arrived" 503 outcome_unknown
is "$(q "SELECT count(*) FROM user_coupons WHERE policy_id = $POLICY AND user_id = 3")" 0 "claim, never arrived: no coupon"
gate "claim, never arrived" 3 0
http POST "/api/v1/coupons/$POLICY/issue" "" "$U"
is "$HTTP_STATUS" 201 "claim, never arrived, retried: 201"
gate "claim, never arrived, retried" 3 1

# With a key the claim is a transaction; its COMMIT's answer lost, the key
# settles it: a replay, and the gate counts the coupon.
U=$(stack_token 4)
lose reply POST "/api/v1/coupons/$POLICY/issue" "" "$U" -H 'Idempotency-Key: claim-4'
is "$HTTP_STATUS $(http_header Idempotent-Replayed)" "201 true" "keyed claim, COMMIT's answer lost: 201 replayed"
gate "keyed claim, COMMIT's answer lost" 4 1

# ---------------------------------------------------------------------------
# A read lost the same way changed nothing.

http GET "/api/v1/products/$PRODUCT"
is "$HTTP_STATUS" 200 "read: 200 (the statement is prepared on the connection)"
lose gone:product_by_id GET "/api/v1/products/$PRODUCT"
answered "read, lost" 503 database_unavailable

# ---------------------------------------------------------------------------

is "$(grep -c ' 500 ' <(grep access "$STACK_DIR/stockade.log"))" 0 "no 500 in the access log"
audit_clean "after the lost writes"

done_testing
