#!/usr/bin/env bash
# t/test_pg_restart.sh: after PostgreSQL restarts (pg_ctl restart -m
# immediate, then -m fast), every request that arrives once the server
# accepts connections again is answered 2xx: each worker notices that the
# server closed its idle connection and reconnects before it sends the
# request's first statement (docs/architecture.md, "Errors").  Requests of
# three shapes: a read outside a transaction (a prepared statement), a
# value-moving transaction (BEGIN first), and a keyed one; first
# sequentially (4 x workers: every worker's first request after the
# restart is among them), then after another restart in parallel.  Then
# under continuous load across a restart: no request that started after the
# restart returned fails.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
export STACK_WORKERS=4
ROUNDS=$((4 * STACK_WORKERS))

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap stack_cleanup EXIT
stack_start || exit 99
diag "stack in $STACK_DIR, $STACK_URL"

USER_TOKEN=$(stack_token 7 user)

# request_line N: the Nth request of the mix, as an http_parallel line.
request_line() {
	case $(($1 % 3)) in
	0) printf 'GET\t/api/v1/products\t\t\n' ;;
	1) printf 'POST\t/api/v1/points/charge\t%s\t{"amount":1}\n' "$USER_TOKEN" ;;
	2) printf 'POST\t/api/v1/points/charge\t%s\t{"amount":1}\tIdempotency-Key: restart-%s-%s\n' \
		"$USER_TOKEN" "$RANDOM$RANDOM" "$1" ;;
	esac
}

# statuses FILE: the statuses of http_parallel output, counted.
statuses() {
	cut -f1 "$1" | sort | uniq -c | tr -s ' \n' ' '
}

# reconnected SINCE: how many distinct workers logged, in stockade.log
# lines after line SINCE, that the database had closed their connection.
reconnected() {
	tail -n +"$(($1 + 1))" "$STACK_DIR/stockade.log" |
		grep 'closed the idle connection' | grep -o 'worker [0-9]*' | sort -u | wc -l
}

# served SINCE: how many distinct workers logged an access line after line
# SINCE (nginx picks no worker: the one free to accept takes the request).
served() {
	tail -n +"$(($1 + 1))" "$STACK_DIR/stockade.log" |
		grep ': access ' | grep -o 'worker [0-9]*' | sort -u | wc -l
}

# Every worker has served requests (statements prepared, connection idle).
spec="$STACK_DIR/warm.spec"
for ((i = 0; i < 4 * ROUNDS; i++)); do request_line "$i"; done >"$spec"
http_parallel "$STACK_WORKERS" "$spec" >"$STACK_DIR/warm.out"
is "$(grep -vc '^2' "$STACK_DIR/warm.out")" 0 "before the restarts: every request 2xx"

# restart_then MODE HOW: restart PostgreSQL with -m MODE, then send ROUNDS
# requests, one at a time (HOW=sequential) or 2 x workers at once.
restart_then() {
	local mode=$1 how=$2 since spec out charged before n
	since=$(wc -l <"$STACK_DIR/stockade.log")
	stack_restart_postgres "$mode"
	ok $? "$mode/$how: PostgreSQL restarted and accepts connections"
	# Counted after the restart: the test cluster runs without fsync and
	# synchronous_commit, so -m immediate may lose the last commits before.
	before=$(stack_psql "SELECT count(*) FROM point_ledger WHERE user_id = 7")
	spec="$STACK_DIR/$mode-$how.spec"
	out="$STACK_DIR/$mode-$how.out"
	for ((i = 0; i < ROUNDS; i++)); do request_line "$i"; done >"$spec"
	if [ "$how" = sequential ]; then
		http_parallel 1 "$spec" >"$out"
	else
		http_parallel $((2 * STACK_WORKERS)) "$spec" >"$out"
	fi
	diag "$mode/$how: statuses $(statuses "$out")"
	is "$(grep -c . "$out")" "$ROUNDS" "$mode/$how: $ROUNDS answers"
	is "$(grep -vc '^2' "$out")" 0 "$mode/$how: every request 2xx (no 500, no 503)"
	# Every worker that served after the restart found its connection
	# closed and reconnected (on a loaded machine, not every worker need
	# get one of the ROUNDS requests).
	n=$(served "$since")
	ok "$((n > 0 ? 0 : 1))" "$mode/$how: $n workers served after the restart"
	is "$(reconnected "$since")" "$n" \
		"$mode/$how: every worker that served found its connection closed and reconnected"
	charged=$(stack_psql "SELECT count(*) FROM point_ledger WHERE user_id = 7")
	is "$((charged - before))" "$(grep -c $'\t/api/v1/points/charge' "$spec")" \
		"$mode/$how: one ledger row per charge"
}

restart_then immediate sequential
restart_then fast sequential
restart_then immediate parallel
restart_then fast parallel

# answered_after LOG START N: whether LOG holds N answers to requests sent
# at START or later.
answered_after() {
	[ "$(awk -v b="$2" '$1 >= b' "$1" | wc -l)" -ge "$3" ]
}

# load_across_restart MODE: LOAD_CLIENTS clients (t/lib/httploop.py; half
# read, half charge) send requests back to back while PostgreSQL restarts
# with -m MODE.  Each request is logged with the time it was sent; those
# sent once `pg_ctl restart -w` had returned (the server accepts
# connections) must all be 2xx: a worker whose connect failed while the
# server was down waits out its reconnect interval within the request's
# deadline, rather than answering 503 at once (docs/architecture.md,
# "Errors").
LOAD_CLIENTS=8
load_across_restart() {
	local mode=$1 log="$STACK_DIR/load-$1.log" stop="$STACK_DIR/load-$1.stop" pid back n after bad last
	python3 "$STOCKADE_SRCDIR/t/lib/httploop.py" --url "$STACK_URL" --clients "$LOAD_CLIENTS" \
		--stop "$stop" --token "$USER_TOKEN" --request 'GET /api/v1/products' \
		--request 'POST /api/v1/points/charge {"amount":1}' >"$log" &
	pid=$!
	# The restart comes once the load flows (as many answers as clients),
	# not after a fixed second that a loaded machine may spend starting it.
	_stack_wait_for 30 answered_after "$log" 0 "$LOAD_CLIENTS"
	stack_restart_postgres "$mode"
	ok $? "$mode under load: PostgreSQL restarted and accepts connections"
	back=$EPOCHREALTIME
	# At least 1.5 s of load after the restart, and at least as many
	# answers as clients to requests sent after it (30 s at most): on a
	# loaded machine 1.5 s may not see one.
	sleep 1.5
	_stack_wait_for 30 answered_after "$log" "$back" "$LOAD_CLIENTS"
	touch "$stop"
	wait "$pid"
	n=$(wc -l <"$log")
	after=$(awk -v b="$back" '$1 >= b' "$log" | wc -l)
	bad=$(awk -v b="$back" '$1 >= b && $2 !~ /^2/' "$log" | wc -l)
	last=$(awk -v b="$back" '$1 >= b && $2 !~ /^2/ { d = ($1 - b) * 1000; if (d > m) m = d } END { printf "%.0f", m }' "$log")
	diag "$mode under load: $n requests, $after sent after the restart returned;" \
		"non-2xx before it: $(awk -v b="$back" '$1 < b && $2 !~ /^2/ { print $2 }' "$log" | sort | uniq -c | tr -s ' \n' ' ')," \
		"after it: $bad (the last sent ${last} ms after)"
	is "$bad" 0 "$mode under load: every request sent after the restart returned is 2xx"
	[ "$after" -gt 0 ]
	ok $? "$mode under load: requests ran after the restart"
}

load_across_restart immediate
load_across_restart fast

grep -E ' (500|503) ' "$STACK_DIR/stockade.log" | grep access | head -n 5 | while IFS= read -r line; do
	diag "$line"
done
audit_clean "after the restarts"

# libpq's messages span lines ("server closed the connection
# unexpectedly\n\tThis probably means..."): each must stay one log line.
bad=$(grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z [a-z]+ \[[0-9]+\] ' "$STACK_DIR/stockade.log")
is "$bad" "" "every line of stockade.log has the prefix (one event, one line)"

done_testing
