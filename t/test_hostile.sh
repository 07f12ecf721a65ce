#!/usr/bin/env bash
# t/test_hostile.sh: hostile input, through real nginx and straight on the
# FastCGI socket (issue 13).  About 500 cases, kept as data in
# t/lib/hostile_cases.py and run by t/lib/hostile.py: ill-formed UTF-8 and
# lone surrogates, HEAD on every GET route, a non-UTF-8 method on /status,
# the PARAMS record that makes libfcgi abort, short bodies; bad methods,
# long paths and queries, percent-encoding garbage, odd ids and query
# parameters, sizes, lengths, media types and chunked bodies; malformed,
# deep, huge and ill-typed JSON; missing, forged, expired and misused
# tokens; and FastCGI records of every wrong kind (version, type, lengths,
# roles, request ids, connections cut mid-record).  Each must get a clear
# 4xx (application/problem+json with its documented `code`), or for protocol
# garbage on the socket a closed connection: never a 5xx, never a hang; and
# a digest of every table's rows must be the same before and after it.
# After each group the pool must be full, and every worker that was
# replaced must have its line in the master's log, with no back-off.
# Then the daemon must still serve and change things as usual, and
# neither stockade's nor nginx's access log may hold a 5xx.
#
# Cases that hold a connection open wait HOSTILE_HOLD seconds (default 3)
# for the server to drop them, which its read deadline (fastcgi_timeout,
# 1 s here) does.
#
# Exit status follows automake: 0 pass, 1 fail, 99 when the stack cannot
# start.  Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh);
# HOSTILE_ONLY=group,... runs only those groups (issue13, http, json,
# token, fcgi).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
command -v python3 >/dev/null || {
	echo "python3 is missing (scripts/install-deps)" >&2
	exit 99
}
export STACK_WORKERS=4
# A read deadline shorter than HOSTILE_HOLD, so that a peer holding a
# connection open is dropped by stockade before the case gives up.
export STACK_EXTRA_CONF="fastcgi_timeout = 1s"

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap stack_cleanup EXIT
stack_start || exit 99
diag "stack in $STACK_DIR, $STACK_URL, master pid $STACK_STOCKADE_PID"

out="$(_assert_tmp)/hostile.out"
python3 "$T_DIR/lib/hostile.py" --port "$STACK_HTTP_PORT" \
	--socket "$STACK_DIR/stockade.sock" --secret-file "$STACK_DIR/secret" \
	--psql "$STACK_PG_BIN/psql" --pg-host "$STACK_DIR/pg-run" \
	--redis-socket "$STACK_DIR/redis.sock" \
	--log "$STACK_DIR/stockade.log" --workers "$STACK_WORKERS" \
	--first "$((ASSERT_COUNT + 1))" --hold "${HOSTILE_HOLD:-3}" \
	--only "${HOSTILE_ONLY:-}" | tee "$out"
rc=${PIPESTATUS[0]}
summary=$(tail -n 1 "$out")
if [[ $summary =~ ^hostile:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	ASSERT_PASSED=$((ASSERT_PASSED + BASH_REMATCH[1]))
	ASSERT_FAILED=$((ASSERT_FAILED + BASH_REMATCH[2]))
	ASSERT_COUNT=$((ASSERT_COUNT + BASH_REMATCH[1] + BASH_REMATCH[2]))
	[ "$rc" = 0 ] || [ "${BASH_REMATCH[2]}" != 0 ]
	ok $? "hostile.py's exit status ($rc) agrees with its count"
else
	ok 1 "hostile.py ran to its summary (exit status $rc)"
fi

# Neither log may hold a 5xx: the cases answered by a reset or a close
# (nothing to read on our side) are seen there.
is "$(grep -cE ' access .* 5[0-9]{2} [0-9.]+ms ' "$STACK_DIR/stockade.log")" 0 \
	"stockade's access log has no 5xx"
# nginx's 501 and 505 (an unknown transfer coding, HTTP/2.0 in the request
# line) are RFC 9112's answers to two cases, in problem+json.
is "$(grep -E '" 5[0-9]{2} ' "$STACK_DIR/nginx-access.log" | grep -cvE '" 50[15] ')" 0 \
	"nginx's access log has no 5xx but the 501 and 505 of two cases"
is "$(grep -c 'keeps dying' "$STACK_DIR/stockade.log")" 0 "no worker slot was throttled"
stack_alive "$STACK_STOCKADE_PID"
ok $? "the master is the one that started"

done_testing
