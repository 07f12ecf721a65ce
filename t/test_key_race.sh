#!/usr/bin/env bash
# t/test_key_race.sh: a keyed retry after a success always replays, never
# refuses (docs/architecture.md, invariant 5), even when its twin commits
# in the instant between the retry's look at the key and its taking of the
# key's lock.  idempotency_lookup (sql/queries/idempotency.sql) takes the
# key's advisory lock and reads the key in one statement, whose snapshot
# is taken before the lock: a twin that committed (and so let the lock go)
# in between is invisible to it.  To make that instant long, the test
# shadows pg_try_advisory_xact_lock for the daemon's role with a function of
# the same name in a schema searched before pg_catalog, which, once armed,
# waits until the test releases it and then takes the real lock.  The armed
# request (B) reads its snapshot, waits; its twin (A, the same request with
# the same key) runs and commits meanwhile; the test releases B, which then
# gets the lock.  B must answer A's stored
# response (Idempotent-Replayed), not run its effect again and answer what
# the effect says now: out_of_stock, already_issued, order_not_pending or
# over_limit.  Then, without the hook's wait, many twins at once: every
# answer is the effect's, a replay, or 409 request_in_progress, and every
# retry afterwards replays.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
export STACK_WORKERS=4
# Two charges of 600 cannot both fit under max_balance.
export STACK_EXTRA_CONF='max_balance = 1000'

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap stack_cleanup EXIT
stack_start || exit 99
diag "stack in $STACK_DIR, $STACK_URL"

ADMIN=$(stack_token 1000 admin)
q() { stack_psql "$1"; }
key() { printf 'Idempotency-Key: %s' "$1"; }

# ---------------------------------------------------------------------------
# The hook: testhook.pg_try_advisory_xact_lock waits when the sequence
# testhook.tick reaches testhook.arm's tick (a sequence, so that a rolled
# back transaction does not re-arm it) until testhook.arm says released (30
# s at most), then takes the real lock.  It waits for the test, not for a
# fixed time: a fixed 0.6 s bet that A would commit within it, and on a
# loaded machine A can take longer (B then took the lock first).  Each
# statement of a volatile function takes a new snapshot, so the release is
# seen.

q "CREATE SCHEMA testhook;
   CREATE SEQUENCE testhook.tick;
   SELECT nextval('testhook.tick');
   CREATE TABLE testhook.arm (tick bigint NOT NULL, released boolean NOT NULL);
   INSERT INTO testhook.arm VALUES (0, true);
   CREATE FUNCTION testhook.pg_try_advisory_xact_lock(k bigint)
   RETURNS boolean LANGUAGE plpgsql VOLATILE AS \$\$
   BEGIN
       IF nextval('testhook.tick') = (SELECT tick FROM testhook.arm) THEN
           FOR i IN 1..3000 LOOP
               EXIT WHEN (SELECT released FROM testhook.arm);
               PERFORM pg_sleep(0.01);
           END LOOP;
       END IF;
       RETURN pg_catalog.pg_try_advisory_xact_lock(k);
   END \$\$;
   GRANT USAGE ON SCHEMA testhook TO stockade;
   GRANT SELECT ON testhook.arm TO stockade;
   GRANT USAGE ON SEQUENCE testhook.tick TO stockade;
   ALTER ROLE stockade IN DATABASE stockade
       SET search_path = testhook, public, pg_catalog" >/dev/null
ok $? "the lock hook is installed"
# The workers' connections take the new search_path when they reconnect
# (at once, db.c: a connection closed while idle is replaced).
q "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
    WHERE application_name LIKE 'stockade worker%'" >/dev/null

# arm: the next key lookup waits between its snapshot and its lock, until
# release.
arm() {
	q "UPDATE testhook.arm SET tick = (SELECT last_value + 1 FROM testhook.tick),
	    released = false" >/dev/null
}

release() {
	q "UPDATE testhook.arm SET released = true" >/dev/null
}
# armed: 0 when the armed lookup has happened.
armed() {
	[ "$(q "SELECT (SELECT last_value FROM testhook.tick) >= tick FROM testhook.arm")" = t ]
}

# twins NAME PATH BODY TOKEN KEY: B (armed, sent by curl in the
# background: http's files are the foreground's) and, once B waits, A, the
# same request with the same key.  Sets A_STATUS A_BODY B_STATUS B_BODY
# B_REPLAYED.
twins() {
	local name=$1 path=$2 body=$3 token=$4 k=$5 b=$STACK_DIR/b bpid
	local -a data=()
	[ -z "$body" ] || data=(-H 'Content-Type: application/json' --data-binary "$body")
	arm
	curl -sS -X POST -m 30 -H "Authorization: Bearer $token" -H "$(key "$k")" "${data[@]}" \
		-D "$b.headers" -o "$b.body" -w '%{http_code}' "$STACK_URL$path" >"$b.status" &
	bpid=$!
	_stack_wait_for 30 armed
	armed
	ok $? "$name: B's lookup took the armed wait"
	http POST "$path" "$body" "$token" -H "$(key "$k")"
	A_STATUS=$HTTP_STATUS A_BODY=$HTTP_BODY
	release
	wait "$bpid"
	B_STATUS=$(cat "$b.status")
	B_BODY=$(cat "$b.body")
	B_REPLAYED=$(tr -d '\r' <"$b.headers" | awk -F': *' 'tolower($1) == "idempotent-replayed" { print $2 }')
	diag "$name: A $A_STATUS, B $B_STATUS $(jq -r '.code // empty' <<<"$B_BODY" 2>/dev/null)"
}

# replays NAME STATUS: A answered STATUS, and B replayed A's answer.
replays() {
	is "$A_STATUS" "$2" "$1: A (the twin) answered $2"
	is "$B_STATUS" "$2" "$1: B answered $2 too (not a refusal)"
	is "$B_REPLAYED" true "$1: B's answer is the replay (Idempotent-Replayed)"
	is "$(jq -c . <<<"$B_BODY")" "$(jq -c . <<<"$A_BODY")" "$1: B's body is A's"
}

# ---------------------------------------------------------------------------
# One of each: the twin's effect leaves B's effect nothing but a refusal.

mapfile -t OPTS < <(create_product "$ADMIN" key-race 1 1)
[ "${#OPTS[@]}" = 2 ] || { diag "no product"; exit 99; }

U2=$(stack_token 2)
twins "order of the last unit" /api/v1/orders "$(order_body "${OPTS[0]}" 1)" "$U2" order-2
replays "order of the last unit" 201
is "$(q "SELECT count(*) FROM orders WHERE user_id = 2")" 1 "order of the last unit: one order"
is "$(q "SELECT stock FROM product_options WHERE id = ${OPTS[0]}")" 0 "order of the last unit: stock taken once"

http POST /api/v1/admin/coupons \
	'{"name":"race","discount_kind":"amount","discount_value":10,"total_quantity":10}' "$ADMIN"
POLICY=$(created 201 policy) || exit 99
U3=$(stack_token 3)
twins "coupon claim" "/api/v1/coupons/$POLICY/issue" "" "$U3" claim-3
replays "coupon claim" 201
is "$(q "SELECT count(*) FROM user_coupons WHERE user_id = 3")" 1 "coupon claim: one coupon"

U4=$(stack_token 4)
charge "$U4" 100 || exit 99
ORDER=$(new_order "$U4" "${OPTS[1]}" 1) || exit 99
twins "payment" "/api/v1/orders/$ORDER/pay" "" "$U4" pay-4
replays "payment" 200
is "$(q "SELECT count(*) FROM point_ledger WHERE order_id = $ORDER AND kind = 'use'")" 1 "payment: points used once"

U5=$(stack_token 5)
twins "charge near max_balance" /api/v1/points/charge '{"amount":600}' "$U5" charge-5
replays "charge near max_balance" 200
is "$(q "SELECT balance FROM point_accounts WHERE user_id = 5")" 600 "charge near max_balance: charged once"

# ---------------------------------------------------------------------------
# Many twins at once, the hook idle: orders and charges, each sent twice at
# once with one key.  Each answer is the effect's, its replay, or 409
# request_in_progress; afterwards a retry of each replays.

N=40
mapfile -t OPTS < <(create_product "$ADMIN" key-race-many "$N")
spec=$STACK_DIR/many.spec
: >"$spec"
for ((u = 100; u < 100 + N; u++)); do
	t=$(stack_token "$u")
	for twin in 1 2; do
		printf 'POST\t/api/v1/orders\t%s\t%s\t%s\n' "$t" "$(order_body "${OPTS[0]}" 1)" "$(key "many-order-$u")"
		printf 'POST\t/api/v1/points/charge\t%s\t{"amount":600}\t%s\n' "$t" "$(key "many-charge-$u")"
	done
done >"$spec"
http_parallel 16 "$spec" >"$STACK_DIR/many.out"
diag "many twins: $(cut -f1 "$STACK_DIR/many.out" | sort | uniq -c | tr -s ' \n' ' ')"
bad=$(grep -Ev '^(200|201)'$'\t''|"code":"request_in_progress"' "$STACK_DIR/many.out" | head -n 3)
is "$bad" "" "many twins: every answer a success, a replay or request_in_progress"
is "$(q "SELECT count(*) FROM orders WHERE user_id BETWEEN 100 AND $((100 + N - 1))")" "$N" "many twins: one order per user"
is "$(q "SELECT count(*) FROM point_ledger WHERE user_id BETWEEN 100 AND $((100 + N - 1))")" "$N" "many twins: one charge per user"
awk 'NR % 4 == 1 || NR % 4 == 2' "$spec" >"$spec.retry"
http_parallel 16 "$spec.retry" >"$STACK_DIR/retry.out"
is "$(grep -vc '^20[01]' "$STACK_DIR/retry.out")" 0 "many twins, retried: every retry a success"
is "$(q "SELECT count(*) FROM orders WHERE user_id BETWEEN 100 AND $((100 + N - 1))")" "$N" "many twins, retried: still one order per user (replayed)"

audit_clean "after the twins"

done_testing
