#!/usr/bin/env bash
# t/test_lost_commit.sh: a COMMIT whose answer is lost is never answered
# "nothing changed" (docs/architecture.md, invariant 5 and "Errors").
# stockade talks to PostgreSQL through the fault proxy t/lib/pgproxy.py,
# which, when armed, closes the connection right after the server's
# CommandComplete for COMMIT, before passing it on: the transaction has
# committed and stockade never hears so.  Then:
#   - with an Idempotency-Key, stockade looks the key up on a new
#     connection and answers the stored response (Idempotent-Replayed);
#   - without one, it answers 503 outcome_unknown with Retry-After;
# and in every case the database holds exactly one effect.  Covered: an
# order, a point charge, a payment, a cancel (with its refund), a coupon
# claim.  When the proxy loses the COMMIT itself (the server rolls back), a
# keyed request is answered 503 database_unavailable and a retry with its
# key runs it once.  And when the server goes just as a request's first
# statement is sent, BEGIN is sent again on a new connection (nothing of
# the request had run).  Traffic without faults goes through the proxy too.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
command -v python3 >/dev/null || { echo "python3 is missing (scripts/install-deps)" >&2; exit 99; }
export STACK_WORKERS=2

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap stack_cleanup EXIT
stack_start_behind_pgproxy || exit 99
diag "stack in $STACK_DIR, $STACK_URL; stockade's database through the proxy"

ADMIN=$(stack_token 1000 admin)
tok() { stack_token "$1"; }

# ---------------------------------------------------------------------------
# Helpers.

q() { stack_psql "$1"; }

# lose MODE: arm the proxy to lose the next worker COMMIT's answer (reply)
# or the COMMIT itself (request).
lose() { stack_pgproxy_arm "$1" 1; }

# lost MODE NAME: the fault armed by lose happened.
lost() {
	is "$(stack_pgproxy_armed)" "$1 0" "$2: the proxy made its fault ($1)"
	stack_pgproxy_arm none 0
}

# replayed STATUS NAME: the last answer is STATUS, replayed from the key.
replayed() {
	is "$HTTP_STATUS" "$1" "$2: $1"
	is "$(http_header Idempotent-Replayed)" true "$2: Idempotent-Replayed: true"
}

# unknown NAME: the last answer is 503 outcome_unknown with Retry-After.
unknown() {
	is "$HTTP_STATUS" 503 "$1: 503"
	is "$(jq -r .code <<<"$HTTP_BODY")" outcome_unknown "$1: code outcome_unknown"
	like "$HTTP_CONTENT_TYPE" '^application/problem\+json' "$1: problem+json"
	like "$(http_header Retry-After)" '^[0-9]+$' "$1: Retry-After"
}

key() { printf 'Idempotency-Key: %s' "$1"; }

# ---------------------------------------------------------------------------
# Set-up, through the proxy (normal traffic is unharmed).

mapfile -t OPTS < <(create_product "$ADMIN" lost-commit 100)
OPT=${OPTS[0]:-}
[ -n "$OPT" ] || { diag "no product"; exit 99; }
http POST /api/v1/admin/coupons \
	'{"name":"lost","discount_kind":"amount","discount_value":10,"total_quantity":50}' "$ADMIN"
POLICY=$(created 201 policy) || exit 99
is "$(stack_pgproxy_armed)" "none 0" "set-up through the proxy, no fault"

# ---------------------------------------------------------------------------
# Orders.

U=$(tok 2)
lose reply
http POST /api/v1/orders "$(order_body "$OPT" 2)" "$U" -H "$(key order-2)"
lost reply "keyed order"
replayed 201 "keyed order, answer lost"
ORDER=$(jq -r .id <<<"$HTTP_BODY")
is "$(q "SELECT count(*) FROM orders WHERE user_id = 2")" 1 "keyed order: one order in the database"
is "$(q "SELECT id FROM orders WHERE user_id = 2")" "$ORDER" "keyed order: the answer names it"
is "$(q "SELECT stock FROM product_options WHERE id = $OPT")" 98 "keyed order: stock taken once"
http POST /api/v1/orders "$(order_body "$OPT" 2)" "$U" -H "$(key order-2)"
replayed 201 "keyed order, retried"
is "$(jq -r .id <<<"$HTTP_BODY")" "$ORDER" "keyed order, retried: the same order"

U=$(tok 3)
lose reply
http POST /api/v1/orders "$(order_body "$OPT" 3)" "$U"
lost reply "keyless order"
unknown "keyless order, answer lost"
is "$(q "SELECT count(*) FROM orders WHERE user_id = 3")" 1 "keyless order: one order in the database (it committed)"
is "$(q "SELECT stock FROM product_options WHERE id = $OPT")" 95 "keyless order: stock taken once"

# ---------------------------------------------------------------------------
# Points: a charge, then a payment and a cancel of a keyed order.

U=$(tok 4)
lose reply
http POST /api/v1/points/charge '{"amount":500}' "$U" -H "$(key charge-4)"
lost reply "keyed charge"
replayed 200 "keyed charge, answer lost"
is "$(jq -r .balance <<<"$HTTP_BODY")" 500 "keyed charge: the stored balance"
is "$(q "SELECT count(*) FROM point_ledger WHERE user_id = 4")" 1 "keyed charge: one ledger row"
is "$(q "SELECT balance FROM point_accounts WHERE user_id = 4")" 500 "keyed charge: balance 500"

U5=$(tok 5)
lose reply
http POST /api/v1/points/charge '{"amount":300}' "$U5"
lost reply "keyless charge"
unknown "keyless charge, answer lost"
is "$(q "SELECT count(*) FROM point_ledger WHERE user_id = 5")" 1 "keyless charge: one ledger row (it committed)"
is "$(q "SELECT balance FROM point_accounts WHERE user_id = 5")" 300 "keyless charge: balance 300"

http POST /api/v1/orders "$(order_body "$OPT" 1)" "$U"
PAY=$(created 201 "order to pay")
lose reply
http POST "/api/v1/orders/$PAY/pay" "" "$U" -H "$(key pay-4)"
lost reply "keyed pay"
replayed 200 "keyed pay, answer lost"
is "$(jq -r .status <<<"$HTTP_BODY")" paid "keyed pay: the stored answer says paid"
is "$(q "SELECT status FROM orders WHERE id = $PAY")" paid "keyed pay: the order is paid"
is "$(q "SELECT count(*) FROM point_ledger WHERE order_id = $PAY AND kind = 'use'")" 1 "keyed pay: points used once"
is "$(q "SELECT balance FROM point_accounts WHERE user_id = 4")" 400 "keyed pay: balance 400"

lose reply
http POST "/api/v1/orders/$PAY/cancel" "" "$U" -H "$(key cancel-4)"
lost reply "keyed cancel"
replayed 200 "keyed cancel, answer lost"
is "$(q "SELECT status FROM orders WHERE id = $PAY")" canceled "keyed cancel: the order is canceled"
is "$(q "SELECT count(*) FROM point_ledger WHERE order_id = $PAY AND kind = 'refund'")" 1 "keyed cancel: refunded once"
is "$(q "SELECT balance FROM point_accounts WHERE user_id = 4")" 500 "keyed cancel: balance 500 again"
is "$(q "SELECT stock FROM product_options WHERE id = $OPT")" 95 "keyed cancel: stock given back once"
http POST "/api/v1/orders/$PAY/cancel" "" "$U" -H "$(key cancel-4)"
replayed 200 "keyed cancel, retried"

# ---------------------------------------------------------------------------
# Coupons (black box: the claim's path is the coupon module's business).

U=$(tok 6)
lose reply
http POST "/api/v1/coupons/$POLICY/issue" "" "$U" -H "$(key claim-6)"
lost reply "keyed claim"
replayed 201 "keyed claim, answer lost"
is "$(q "SELECT count(*) FROM user_coupons WHERE user_id = 6 AND policy_id = $POLICY")" 1 "keyed claim: one coupon"
http POST "/api/v1/coupons/$POLICY/issue" "" "$U" -H "$(key claim-6)"
replayed 201 "keyed claim, retried"

U=$(tok 7)
lose reply
http POST "/api/v1/coupons/$POLICY/issue" "" "$U"
lost reply "keyless claim"
unknown "keyless claim, answer lost"
is "$(q "SELECT count(*) FROM user_coupons WHERE user_id = 7 AND policy_id = $POLICY")" 1 "keyless claim: one coupon (it committed)"
is "$(q "SELECT issued_quantity FROM coupon_policies WHERE id = $POLICY")" 2 "claims: the policy counts 2 issued"
is "$(stack_redis GET "{coupon:$POLICY}:requests")" 2 "claims: the coupon gate counts both (coupon_issue_settle)"
is "$(stack_redis SMISMEMBER "{coupon:$POLICY}:users" 6 7 | paste -sd, -)" 1,1 "claims: both users in the gate's set"

# ---------------------------------------------------------------------------
# The COMMIT itself lost: nothing committed, and the key says so.

U=$(tok 8)
lose request
http POST /api/v1/points/charge '{"amount":70}' "$U" -H "$(key charge-8)"
lost request "keyed charge, COMMIT lost"
is "$HTTP_STATUS" 503 "keyed charge, COMMIT lost: 503"
is "$(jq -r .code <<<"$HTTP_BODY")" database_unavailable "keyed charge, COMMIT lost: database_unavailable (nothing changed)"
is "$(q "SELECT count(*) FROM point_ledger WHERE user_id = 8")" 0 "keyed charge, COMMIT lost: no ledger row"
http POST /api/v1/points/charge '{"amount":70}' "$U" -H "$(key charge-8)"
is "$HTTP_STATUS" 200 "keyed charge, retried: 200"
is "$(http_header Idempotent-Replayed)" "" "keyed charge, retried: it ran (not a replay)"
is "$(q "SELECT count(*) FROM point_ledger WHERE user_id = 8")" 1 "keyed charge, retried: one ledger row"

# ---------------------------------------------------------------------------
# The connection closed by the server just as a request's first statement
# is sent (after stockade's look at the idle connection, which found it
# alive), as -m immediate (a WARNING, then EOF) and -m fast (FATAL 57P01,
# then EOF) close it: BEGIN, and a statement being prepared, change
# nothing, so they are sent again on a new connection and the request runs.

U=$(tok 9)
before=$(q "SELECT count(*) FROM point_ledger WHERE user_id = 9")
for mode in idle idle-fatal; do
	stack_pgproxy_arm "$mode" 1
	http POST /api/v1/points/charge '{"amount":5}' "$U"
	lost "$mode" "charge, server gone at BEGIN"
	is "$HTTP_STATUS" 200 "charge, server gone at BEGIN ($mode): 200, begun again"
done
is "$(($(q "SELECT count(*) FROM point_ledger WHERE user_id = 9") - before))" 2 "charges, server gone at BEGIN: one ledger row each"
for mode in idle idle-fatal; do
	# Fresh connections (nothing prepared): the read's first statement
	# is its PREPARE.  pg_terminate_backend waits until they are gone.
	q "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
	    WHERE application_name LIKE 'stockade worker%'" >/dev/null
	stack_pgproxy_arm "$mode" 1
	http GET /api/v1/products
	lost "$mode" "read, server gone at PREPARE"
	is "$HTTP_STATUS" 200 "read, server gone at PREPARE ($mode): 200, prepared again"
done

# ---------------------------------------------------------------------------

is "$(grep -c 'dropped\|not sent on' "$STACK_DIR/pgproxy.log")" 13 "the proxy made 13 faults in all"
is "$(grep -c ' 500 ' <(grep access "$STACK_DIR/stockade.log"))" 0 "no 500 in the access log"
audit_clean "after the lost COMMITs"

done_testing
