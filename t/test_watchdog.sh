#!/usr/bin/env bash
# t/test_watchdog.sh: the watchdog (issue 15): slow_request and
# request_timeout, through nginx, on a request made to hang.  psql holds
# the row lock of a product option (SELECT ... FOR UPDATE in an open
# transaction), so an order of that option waits in PostgreSQL (lock_timeout
# and statement_timeout far beyond the test).
#  A. The lock is released after the slow line: the order completes (201),
#     the log has exactly one slow line for it, naming the statement it
#     waited on (the query text from pg_stat_activity) and the lock, and no
#     worker is killed.
#  B. The lock is kept: the worker is killed at request_timeout (2s, plus
#     the master's reaction), the log names method, path and request id (the
#     one nginx sent the client), the client gets nginx's 502, a new worker
#     takes the slot at once (no back-off), the pool is full again with
#     workers + 1 connections, and once the lock is released the database
#     shows nothing of the killed order: stock, orders and movements as
#     they were.
# Exit status follows automake: 0 pass, 1 fail, 99 when the stack cannot
# start.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/procs.sh
. "$T_DIR/lib/procs.sh"
# shellcheck source=t/lib/shop.sh
. "$T_DIR/lib/shop.sh"
export STACK_WORKERS=2
export STACK_EXTRA_CONF=$'request_timeout = 2s\nslow_request = 1s\nlock_timeout = 60s\nstatement_timeout = 60s'
CLIENT=

cleanup() {
	[ -z "$CLIENT" ] || kill "$CLIENT" 2>/dev/null
	sql_close
	procs_cleanup
}

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap cleanup EXIT
stack_start || exit 99
LOG="$STACK_DIR/stockade.log"
OUT="$STACK_DIR/order"
diag "stack in $STACK_DIR, master pid $STACK_STOCKADE_PID"

ADMIN=$(stack_token 1 admin)
USER2=$(stack_token 2)
OPT=$(create_product "$ADMIN" watched 10) || exit 99
like "$(grep 'master:' "$LOG")" 'request_timeout \(2s\) is not above statement_timeout \(1min\)' \
	"the master warns that request_timeout is within statement_timeout"

# workers_line: "pid:state pid:state" of the two workers, from /status.
workers_line() {
	http GET /status "" "$ADMIN" &&
		jq -r '[.workers[] | select(.slot < 2) | "\(.pid):\(.state)"] | join(" ")' <<<"$HTTP_BODY"
}

POOL_FULL='^[1-9][0-9]*:(idle|busy) [1-9][0-9]*:(idle|busy)$'

# hold_lock: psql locks the option's row in a transaction left open.
hold_lock() {
	sql "BEGIN" >/dev/null &&
		sql "SELECT stock FROM product_options WHERE id = $OPT FOR UPDATE" >/dev/null
}

# order_start: POST an order of the option through nginx, in the
# background; its status goes to $OUT.status, its headers to $OUT.headers.
order_start() {
	now_ms
	T0=$NOW_MS
	curl -s -o "$OUT.body" -D "$OUT.headers" -w '%{http_code}' -m 30 \
		-X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $USER2" \
		--data-binary "$(order_body "$OPT" 1)" "$STACK_URL/api/v1/orders" >"$OUT.status" &
	CLIENT=$!
}

# order_end: waits for the order; sets STATUS, RID (nginx's X-Request-Id)
# and ELAPSED (ms since order_start).
order_end() {
	wait "$CLIENT"
	CLIENT=
	now_ms
	ELAPSED=$((NOW_MS - T0))
	STATUS=$(cat "$OUT.status")
	RID=$(tr -d '\r' <"$OUT.headers" | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
}

# waiting_workers: workers waiting on a lock now.
waiting_workers() {
	stack_psql "SELECT count(*) FROM pg_stat_activity
	    WHERE application_name LIKE 'stockade worker%' AND wait_event_type = 'Lock'"
}

# order_behind_lock LABEL: psql takes the row lock, then an order starts
# and waits for it in PostgreSQL.
order_behind_lock() {
	hold_lock
	ok $? "$1: psql holds the option's row lock"
	order_start
	for _ in $(seq 1 100); do
		[ "$(waiting_workers)" = 1 ] && break
		sleep 0.05
	done
	is "$(waiting_workers)" 1 "$1: the order waits for the lock"
}

# wait_for_lines PATTERN N SECONDS: until the log has N lines matching.
wait_for_lines() {
	local deadline=$((SECONDS + $3))
	until [ "$(grep -c -- "$1" "$LOG")" -ge "$2" ]; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

sql_open
before=$(db_snapshot)

# --- A: slow, then released: logged once, served, not killed ------------
order_behind_lock A
wait_for_lines 'slow request:' 1 5
ok $? "A: a slow line within 5 s"
sql "ROLLBACK" >/dev/null
order_end
is "$STATUS" 201 "A: the order completes once the lock is released (${ELAPSED} ms)"
slow=$(grep 'slow request:' "$LOG")
diag "$slow"
is "$(grep -c "slow request:.* rid=$RID " "$LOG")" 1 "A: exactly one slow line for the request ($RID)"
like "$slow" 'serving POST /api/v1/orders rid=' "A: the slow line names method and path"
like "$slow" 'for 1[0-9]{3} ms \(slow_request = 1s\)' "A: ... and a duration past slow_request"
like "$slow" 'waiting on Lock:(transactionid|tuple)' "A: ... and the lock it waits on"
like "$slow" 'statement of [0-9]+ ms: SELECT id, price, stock FROM product_options.*FOR UPDATE' \
	"A: ... and the statement, from pg_stat_activity"
is "$(grep -c 'request_timeout: killed' "$LOG")" 0 "A: nobody killed"
stock=$(stack_psql "SELECT stock FROM product_options WHERE id = $OPT")
is "$stock" 9 "A: the order took its unit"

# --- B: held past request_timeout: killed, 502, replaced, rolled back ---
workers_before=$(workers_line)
diag "workers before: $workers_before"
before=$(db_snapshot)
order_behind_lock B
order_end
diag "B: $STATUS after $ELAPSED ms; body: $(cat "$OUT.body")"
is "$STATUS" 502 "B: the client gets nginx's 502"
is "$(jq -r .code "$OUT.body" 2>/dev/null)" bad_gateway "B: ... as problem+json bad_gateway"
[ "$ELAPSED" -ge 2000 ] && [ "$ELAPSED" -lt 4000 ]
ok $? "B: answered at request_timeout: $ELAPSED ms (2000 to 4000)"
killed=$(grep 'request_timeout: killed' "$LOG")
diag "$killed"
is "$(grep -c 'request_timeout: killed' "$LOG")" 1 "B: one worker killed"
like "$killed" "serving POST /api/v1/orders rid=$RID " \
	"B: the kill line names method, path and the client's request id"
kill_ms=$(grep -o 'killed worker [0-9]* (pid [0-9]*) after [0-9]* ms' <<<"$killed" | grep -o '[0-9]* ms' | grep -o '[0-9]*')
[ "${kill_ms:-0}" -ge 2000 ] && [ "${kill_ms:-0}" -lt 2500 ]
ok $? "B: killed ${kill_ms:-?} ms into the request (2000 to 2500)"
is "$(grep -c "slow request:.* rid=$RID " "$LOG")" 1 "B: the request was logged slow once before"
pid=$(grep -o 'killed worker [0-9]* (pid [0-9]*)' <<<"$killed" | grep -o 'pid [0-9]*' | grep -o '[0-9]*')
like "$(grep "(pid $pid) was killed by signal 9" "$LOG")" 'replacing it' "B: the master replaces the killed worker"

# The slot is refilled at once: both workers serve, neither is the killed
# one.  (The worker answering /status shows itself busy.)
now_ms
t_replaced=$NOW_MS
for _ in $(seq 1 100); do
	line=$(workers_line)
	[[ $line =~ $POOL_FULL ]] && [[ " $line" != *" $pid:"* ]] && break
	sleep 0.02
done
now_ms
diag "workers after: $line ($((NOW_MS - t_replaced)) ms after the 502)"
like "$line" "$POOL_FULL" "B: the pool is full: two workers, one idle, one answering /status"
unlike_killed=1
[[ " $line" != *" $pid:"* ]] && unlike_killed=0
ok "$unlike_killed" "B: the killed pid $pid is gone from the scoreboard"
[ "$((NOW_MS - t_replaced))" -lt 1000 ]
ok $? "B: replaced within a second of the 502, no back-off"
is "$(grep -c 'keeps dying' "$LOG")" 0 "B: no crash-loop back-off"
# The killed worker's backend was blocked in the lock wait: it sees its
# client gone within client_connection_check_interval (1 s, db.c), rolls
# back and leaves, while psql still holds the lock.
wait_db_conns 3 10
ok $? "B: database connections = workers + 1 while the lock is still held"
now_ms
diag "the orphaned backend left $((NOW_MS - t_replaced)) ms after the 502"
is "$(waiting_workers)" 0 "B: the killed worker's backend waits no more"

# Released: the killed request left nothing behind.
sql "ROLLBACK" >/dev/null
is "$(db_snapshot)" "$before" "B: the database shows nothing of the killed order"
is "$(stack_psql "SELECT stock FROM product_options WHERE id = $OPT")" 9 "B: stock unchanged"
http POST /api/v1/orders "$(order_body "$OPT" 1)" "$USER2"
is "$HTTP_STATUS" 201 "B: the next order is served"
is "$(stack_psql "SELECT stock FROM product_options WHERE id = $OPT")" 8 "B: ... and takes its unit"
audit_clean "after the watchdog"
sql_close

# /status and /metrics count what the log shows: every slow line, the kill.
slow_lines=$(grep -c 'slow request:' "$LOG")
stack_get_status
is "$(jq -r .slow_requests <<<"$HTTP_BODY")" "$slow_lines" "/status: slow_requests = the $slow_lines slow lines"
is "$(jq -r .request_timeouts <<<"$HTTP_BODY")" 1 "/status: request_timeouts = 1"
http GET /metrics "" "$ADMIN"
like "$HTTP_BODY" "stockade_slow_requests_total $slow_lines" "/metrics: stockade_slow_requests_total"
like "$HTTP_BODY" "stockade_request_timeouts_total 1" "/metrics: stockade_request_timeouts_total"

bad=$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z [a-z]+ \[[0-9]+\] ' "$LOG")
is "$bad" 0 "every line of stockade.log has the prefix"

done_testing
