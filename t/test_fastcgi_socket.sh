#!/usr/bin/env bash
# t/test_fastcgi_socket.sh: the FastCGI socket (issue 13, items 3 and 4).
#
# 1. Every read from a FastCGI connection has a deadline (fastcgi_timeout).
#    With 2 workers, 6 connections opened straight on the socket stall:
#    4 send a POST's parameters with CONTENT_LENGTH 100 and 10 bytes of
#    body, 1 stops inside a PARAMS record, 1 sends nothing.  Before the
#    deadline existed, each held a worker for ever and every request behind
#    them waited for nginx's fastcgi_read_timeout (30 s) to get a 504.  Now
#    each is closed after fastcgi_timeout (1 s here), the 4 bodies answered
#    400 incomplete_body first, a log line says which timed out, and
#    requests through nginx get 200 within the time the 6 cost the 2
#    workers (3 x 1 s) plus a margin for a loaded machine.
# 2. socket_owner, socket_group and socket_mode: the socket ends up with
#    the configured owner, group and mode, a user outside them cannot
#    connect, and an unknown user is a config error naming file and line.
#    Needs root (chown, runuser); as another user that part is skipped.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 99; }

TIMEOUT_MS=1000
WORKERS=2
MODES=(body body body body params silent)
# The stalls cost the workers ceil(6 / 2) timeouts back to back.
ROUNDS=$(((${#MODES[@]} + WORKERS - 1) / WORKERS))
STALL_COST_MS=$((ROUNDS * TIMEOUT_MS))
MARGIN_MS=3000

trap stack_cleanup EXIT
stack_init || exit 99
ROOT=0
[ "$(id -u)" -ne 0 ] || ROOT=1
export STACK_WORKERS=$WORKERS
STACK_EXTRA_CONF="fastcgi_timeout = ${TIMEOUT_MS}ms"
if [ "$ROOT" = 1 ]; then
	# stack.sh made the system user "stockade" for PostgreSQL; the group
	# is a number without a name, which chown takes as it is.
	STACK_EXTRA_CONF+=$'\nsocket_owner = stockade\nsocket_group = 4242\nsocket_mode = 0660'
fi
export STACK_EXTRA_CONF
stack_start || exit 99
SOCK=$STACK_DIR/stockade.sock
LOG=$STACK_DIR/stockade.log

now_ms() {
	local us=${EPOCHREALTIME//[.,]/}
	NOW_MS=$((us / 1000))
}

# ---------------------------------------------------------------------------
# 1. Stalled peers are dropped after fastcgi_timeout.

http GET /healthz
is "$HTTP_STATUS" 200 "a request before the stalls"

OUT=$STACK_DIR/stall.out
READY=$STACK_DIR/stall.ready
python3 "$T_DIR/lib/fcgi_stall.py" "$SOCK" 20 "$READY" "${MODES[@]}" >"$OUT" 2>&1 &
STALL_PID=$!
# The stalled connections are queued first, so they take both workers.
for _ in $(seq 100); do [ -e "$READY" ] && break; sleep 0.1; done
ok "$([ -e "$READY" ]; echo $?)" "the stalled connections are open"

# Requests through nginx meanwhile: each waits behind the stalls at worst.
statuses='' slowest=0
for i in 1 2 3 4; do
	now_ms
	t0=$NOW_MS
	HTTP_TIMEOUT=40 http GET /healthz
	now_ms
	statuses+="$HTTP_STATUS "
	[ $((NOW_MS - t0)) -le "$slowest" ] || slowest=$((NOW_MS - t0))
done
is "$statuses" "200 200 200 200 " "requests through nginx during the stalls get 200"
limit=$((STALL_COST_MS + MARGIN_MS))
ok "$([ "$slowest" -le "$limit" ]; echo $?)" \
	"the slowest took ${slowest} ms, within ${limit} ms (${#MODES[@]} stalls / $WORKERS workers x ${TIMEOUT_MS} ms + margin)"

wait "$STALL_PID"
diag "stalled connections (mode, how it ended, seconds, status):" "$(cat "$OUT")"
closed=$(awk '$2 == "closed" && $3 <= LIMIT / 1000 { n++ } END { print n + 0 }' \
	LIMIT="$limit" "$OUT")
is "$closed" "${#MODES[@]}" "stockade closed all ${#MODES[@]} stalled connections within ${limit} ms"
is "$(awk '$1 == "body" { printf "%s ", $4 }' "$OUT")" "400 400 400 400 " \
	"each short body was answered 400 before the close"
n=$(grep -c "body read timed out after ${TIMEOUT_MS} ms, 10 of 100 bytes read; closing (rid=[0-9a-f-]*, FastCGI peer pid [0-9]* uid [0-9]*)" "$LOG")
is "$n" 4 "one log line per timed-out body, with the peer"
n=$(grep -c "params read timed out after ${TIMEOUT_MS} ms" "$LOG")
is "$n" 2 "one log line per connection that never sent whole parameters"
grep -q 'access POST /v1/orders 400 .* code=incomplete_body' "$LOG"
ok $? "the access log shows the 400 incomplete_body"

http GET /healthz
is "$HTTP_STATUS" 200 "a request after the stalls"
stack_get_status >/dev/null
is "$(jq '[.workers[] | select(.restarts > 0)] | length' <<<"$HTTP_BODY")" 0 \
	"no worker died or was replaced"

# ---------------------------------------------------------------------------
# 2. Owner, group and mode of the unix socket.

if [ "$ROOT" = 1 ]; then
	is "$(stat -c '%U %g %a' "$SOCK")" "stockade 4242 660" \
		"the socket has socket_owner, socket_group and socket_mode"
	connect='import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print(e.strerror)'
	is "$(runuser -u nobody -- python3 -c "$connect" "$SOCK")" "Permission denied" \
		"a user outside socket_owner and socket_group cannot connect"
	is "$(runuser -u stockade -- python3 -c "$connect" "$SOCK")" "connected" \
		"socket_owner can connect"
else
	diag "not root: socket_owner and socket_group are not checked"
fi

bad=$STACK_DIR/bad-owner.conf
printf 'workers = 1\nsocket_owner = no-such-user-x\n' >"$bad"
rc=0
out=$("$STOCKADE_BIN" config-check -c "$bad" 2>&1) || rc=$?
is "$rc" 1 "config-check refuses an unknown socket_owner"
like "$out" "$bad:2: socket_owner: no user \"no-such-user-x\" in the passwd database" \
	"the error names the file, the line and the user"

done_testing
