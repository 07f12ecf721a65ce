#!/usr/bin/env bash
# t/test_faults.sh: the fault-injection run with its history checker
# (docs/testing.md, "The fault-injection run").  A mixed load of keyed
# orders, payments, cancels, point charges and coupon claims
# (t/faults/run.py) runs through nginx while a seeded schedule kills
# workers, the reaper and the master, restarts stockade gracefully,
# restarts PostgreSQL (-m immediate, -m fast), loses COMMITs and their
# answers in the PostgreSQL proxy (t/lib/pgproxy.py, which stockade talks
# through), restarts, flushes, script-flushes and freezes Redis
# (t/faults/inject.sh).  Afterwards every ambiguous request is retried with
# its key until definite, the stack must be whole again (workers + 1
# database connections), stopping it must leave no process behind, and the
# checker (t/faults/check.py) compares every answer with the database and
# runs sql/audit.sql: zero violations.  Then the checker is tested: copies
# of the database with extra stock, a hidden double charge and a phantom
# coupon, and a history with a fake 201, must each be caught by name.
#
#   t/test_faults.sh [--seed N] [--duration SECONDS] [--clients N]
#                    [--kinds KIND,...] [--gap SECONDS] [--keep]
#
# Defaults: a random seed (logged: --seed replays the schedule), 45 s of
# load with 16 clients, every fault kind, one every 1.5 s on average
# (--gap; the whole test takes 60-90 s).
# FAULTS_SEED, FAULTS_DURATION, FAULTS_CLIENTS set the same from the
# environment; STACK_PG_FAST=0 runs PostgreSQL with fsync on;
# FAULTS_EXTRA_CONF='coupon_strategy = sharded' (say) adds lines to
# stockade.conf (every coupon_strategy runs under it, queue included:
# FAULTS_EXTRA_CONF='coupon_strategy = queue').  --keep (or
# STACK_KEEP=1) keeps the directory with the history, the fault log and
# every server's log.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/procs.sh
. "$T_DIR/lib/procs.sh"
command -v python3 >/dev/null || { echo "python3 is missing (scripts/install-deps)" >&2; exit 99; }
command -v openssl >/dev/null || { echo "openssl is missing" >&2; exit 99; }

SEED=${FAULTS_SEED:-$((RANDOM * 32768 + RANDOM))}
DURATION=${FAULTS_DURATION:-45}
CLIENTS=${FAULTS_CLIENTS:-16}
KINDS=
GAP=${FAULTS_GAP:-}
USERS=40
while [ "$#" -gt 0 ]; do
	case $1 in
	--seed) SEED=$2 && shift 2 ;;
	--duration) DURATION=$2 && shift 2 ;;
	--clients) CLIENTS=$2 && shift 2 ;;
	--kinds) KINDS=$2 && shift 2 ;;
	--gap) GAP=$2 && shift 2 ;;
	--keep) export STACK_KEEP=1 && shift ;;
	*)
		echo "usage: $0 [--seed N] [--duration S] [--clients N] [--kinds K,...] [--gap S] [--keep]" >&2
		exit 99
		;;
	esac
done

export STACK_WORKERS=4
# fsync may be off (a test), but an answered COMMIT must survive -m
# immediate: synchronous_commit stays on.
export STACK_PG_SYNC_COMMIT=1
# Pending orders expire while the run lasts, so the reaper gives stock back
# beside the cancels.
# FAULTS_EXTRA_CONF adds configuration lines (other strategies, say).
export STACK_EXTRA_CONF="reservation_ttl = 20s
${FAULTS_EXTRA_CONF:-}"
WANT_CONNS=$((STACK_WORKERS + 1))
# coupon_strategy = queue adds its consumers' connections (queue_consumers,
# 4 unless set; docs/configuration.md); worker_kill may then kill one.
if grep -Eq '^coupon_strategy *= *queue' <<<"$STACK_EXTRA_CONF"; then
	consumers=$(sed -n 's/^queue_consumers *= *//p' <<<"$STACK_EXTRA_CONF")
	WANT_CONNS=$((WANT_CONNS + ${consumers:-4}))
fi

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
# A Redis left frozen by an interrupted fault would outlive the test.
trap 'kill -CONT "$(stack_pid redis 2>/dev/null || echo 0)" 2>/dev/null; procs_cleanup' EXIT
stack_start_postgres && stack_start_redis && stack_start_pgproxy || exit 99
STACK_DATABASE_URL=$(stack_pgproxy_url)
export STACK_DATABASE_URL STACK_DIR STACK_CONF
stack_start_stockade && stack_start_nginx && stack_wait_ready || exit 99
# The servers are killed and replaced by t/faults/inject.sh: this shell
# need not report their deaths as jobs ("Killed").
disown -a
OUT=$STACK_DIR/faults
mkdir -p "$OUT"
diag "stack in $STACK_DIR, $STACK_URL; stockade's database through the proxy"
diag "seed $SEED, ${DURATION} s of load, $CLIENTS clients (replay: $0 --seed $SEED --duration $DURATION)"

mint_tokens_bulk 1 "$USERS" >"$OUT/tokens" || exit 99
ADMIN=$(stack_token 1000 admin --ttl 86400) || exit 99

# ---------------------------------------------------------------------------
# The run.

run_args=(--url "$STACK_URL" --tokens "$OUT/tokens" --admin-token "$ADMIN"
	--out "$OUT" --seed "$SEED" --duration "$DURATION" --clients "$CLIENTS")
[ -z "$KINDS" ] || run_args+=(--kinds "$KINDS")
[ -z "$GAP" ] || run_args+=(--gap "$GAP")
# The queue takes only claims without a key: half of them go unkeyed.
! grep -Eq '^coupon_strategy *= *queue' <<<"$STACK_EXTRA_CONF" || run_args+=(--unkeyed-claims 0.5)
python3 "$T_DIR/faults/run.py" "${run_args[@]}" 2>"$OUT/run.log"
ok $? "the run finished (load, faults, retries)"
sed 's/^/# /' "$OUT/run.log" | grep -v '^# faults: ' || true

# The stack is whole again: one generation, workers + 1 connections.
stack_wait_ready
ok $? "after the run: stockade answers /healthz"
wait_db_conns "$WANT_CONNS" 20
ok $? "after the run: database connections = workers + 1 (+ queue consumers) = $WANT_CONNS ($(db_conns))"
is "$(stockade_masters | grep -c .)" 1 "after the run: one master"

# Stopping leaves no process: stop stockade first (its workers, reaper and
# any child of an earlier generation must be gone with it).
stack_stop_nginx && stack_stop_stockade
ok $? "stockade stopped"
is "$(stockade_procs)" "" "no stockade process is left after the stop"
stack_stop_pgproxy

PSQL="$STACK_PG_BIN/psql -h $STACK_DIR/pg-run -U postgres"
check() { # check DB [CHECK_ARGS...]: the checker on database DB
	local db=$1
	shift
	python3 "$T_DIR/faults/check.py" --dir "$OUT" --psql "$PSQL -d $db" \
		--audit "$STOCKADE_SRCDIR/sql/audit.sql" "$@"
}

check stockade --proxy-log "$STACK_DIR/pgproxy.log" >"$OUT/check.out" 2>&1
rc=$?
sed 's/^/# /' "$OUT/check.out"
is "$rc" 0 "the checker found no violation (seed $SEED)"
fault_rc=$(python3 -c 'import json, sys
print(sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l)["rc"] != 0))' "$OUT/faults.jsonl")
is "$fault_rc" 0 "every fault was made and the stack came back after it"
[ "$fault_rc" = 0 ] || grep -v '"rc": 0' "$OUT/faults.jsonl" | sed 's/^/# /'
if [ -z "$KINDS" ]; then
	# run.py makes its first cycle whole: every kind, however slow the
	# machine.
	missing=$(python3 -c 'import json, sys
sys.path.insert(0, sys.argv[2])
from run import FAULT_KINDS
made = {json.loads(l)["kind"] for l in open(sys.argv[1]) if l.strip()}
print(" ".join(k for k in FAULT_KINDS if k not in made))' "$OUT/faults.jsonl" "$T_DIR/faults")
	is "$missing" "" "every fault kind was made"
fi

# ---------------------------------------------------------------------------
# The checker tests itself: each tampering must be caught, by name.

# tampered NAME VIOLATION SQL [CHECK_ARGS...]: a copy of the database with
# SQL applied; the checker must fail on it and name VIOLATION.
tampered() {
	local name=$1 want=$2 sql=$3 db=tamper_$1 out rc
	shift 3
	stack_psql "SET client_min_messages = warning; DROP DATABASE IF EXISTS $db" >/dev/null &&
		stack_psql "CREATE DATABASE $db TEMPLATE stockade" >/dev/null &&
		$PSQL -d "$db" -XAtq -v ON_ERROR_STOP=1 -c "$sql" >/dev/null
	ok $? "self-test: $name: the tampered copy is made"
	out=$(check "$db" --quiet "$@" 2>&1)
	rc=$?
	is "$rc" 1 "self-test: $name: the checker fails"
	like "$out" "VIOLATION $want:" "self-test: $name: it says $want"
	[ "$rc" = 1 ] || diag "$out"
	stack_psql "DROP DATABASE $db" >/dev/null
}

# The tampering keeps sql/audit.sql clean (stock = movements, balance =
# ledger, issued = coupons): only the history shows it.
OPT=$(stack_psql "SELECT min(id) FROM product_options")
tampered extra_stock stock_differs "
	UPDATE product_options SET stock = stock + 3 WHERE id = $OPT;
	INSERT INTO stock_movements (option_id, delta, reason) VALUES ($OPT, 3, 'restock')"
tampered double_charge charge_rows_wrong "
	WITH c AS (SELECT user_id, amount FROM point_ledger WHERE kind = 'charge'
	           ORDER BY id LIMIT 1),
	     a AS (UPDATE point_accounts p SET balance = p.balance + c.amount,
	               version = p.version + 1
	           FROM c WHERE p.user_id = c.user_id RETURNING p.balance)
	INSERT INTO point_ledger (user_id, amount, kind, balance_after)
	SELECT c.user_id, c.amount, 'charge', a.balance FROM c, a"
# The policy of 1000 is never sold out: a phantom coupon fits under N.
tampered phantom_coupon coupon_untold "
	WITH p AS (SELECT id FROM coupon_policies WHERE total_quantity = 1000),
	     u AS (UPDATE coupon_policies SET issued_quantity = issued_quantity + 1
	           WHERE id = (SELECT id FROM p) RETURNING id)
	INSERT INTO user_coupons (policy_id, user_id, expires_at)
	SELECT id, 999999, now() + interval '1 day' FROM u"
# A fake 201 in the history: an order no database row backs.
cp "$OUT/history.jsonl" "$OUT/history.fake"
printf '%s\n' '{"i": 999999999, "client": 0, "user": 1, "op": "order", "key": "fake-201", "method": "POST", "path": "/api/v1/orders", "body": "{\"items\": [{\"option_id\": 1, \"quantity\": 1}]}", "phase": "load", "attempt": 1, "t0": 1.0, "t1": 1.1, "status": 201, "code": null, "replayed": false, "resp": {"id": 999999999, "status": "pending"}, "error": null}' >>"$OUT/history.fake"
tampered fake_201 order_missing "SELECT 1" --history "$OUT/history.fake"

done_testing
