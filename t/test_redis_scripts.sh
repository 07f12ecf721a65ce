#!/usr/bin/env bash
# t/test_redis_scripts.sh: the Lua scripts of redis/, run as they are with
# `redis-cli --eval FILE KEYS , ARGV` against a real redis-server started in
# a temp dir (t/lib/stack.sh; no PostgreSQL, no stockade): the coupon gate's
# admission, undo and repair, for the counter and for the slots list, and
# the Redis lock's release.  The daemon runs the same files, compiled in by
# scripts/embed-lua; each file's header says what its KEYS and ARGV are.
#
# Environment: STOCKADE_SRCDIR (see t/lib/stack.sh).
#
# No `set -e`: a failed check is counted and the script carries on.
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"

command -v redis-server >/dev/null || { echo "redis-server is missing (scripts/install-deps)" >&2; exit 99; }
command -v redis-cli >/dev/null || { echo "redis-cli is missing (scripts/install-deps)" >&2; exit 99; }

# shellcheck disable=SC2119 # a new temporary directory, not the script's $1
stack_init || exit 99
trap stack_cleanup EXIT
stack_start_redis || exit 99

# The server's run_id, which every gate script compares with the gate's
# stamp.
RUN=$(stack_redis INFO server | tr -d '\r' | awk -F: '$1 == "run_id" { print $2 }')
[ -n "$RUN" ] || { echo "no run_id in INFO server" >&2; exit 99; }

# lua FILE KEY... , ARG...: runs redis/FILE in the stack's Redis.
lua() {
	local file=$1
	shift
	stack_redis --eval "$STOCKADE_SRCDIR/redis/$file" "$@"
}

# Policy 7's keys (src/coupon_gate.c).
USERS='{coupon:7}:users'
REQUESTS='{coupon:7}:requests'
RUNKEY='{coupon:7}:run'
SLOTS='{coupon:7}:slots'
SLOTS_RUN='{coupon:7}:slots_run'

# gate: "COUNTER USERS" of the counter gate, e.g. "2 1,5".
gate() {
	printf '%s %s\n' "$(stack_redis GET "$REQUESTS")" \
		"$(stack_redis SMEMBERS "$USERS" | sort -n | paste -sd, -)"
}

# slots: "ENTRIES USERS" of the slots gate.
slots() {
	printf '%s %s\n' "$(stack_redis LLEN "$SLOTS")" \
		"$(stack_redis SMEMBERS "$USERS" | sort -n | paste -sd, -)"
}

# admit USER TOTAL [RUN_ID]; undo USER HOW TOTAL [RUN_ID];
# lower ISSUED TOTAL [RUN_ID]: the counter gate's scripts.
admit() {
	lua coupon_gate_admit.lua "$USERS" "$REQUESTS" "$RUNKEY" , "$1" "$2" "${3:-$RUN}"
}
undo() {
	lua coupon_gate_undo.lua "$USERS" "$REQUESTS" "$RUNKEY" , "$1" "$2" "$3" "${4:-$RUN}"
}
lower() {
	lua coupon_gate_lower.lua "$REQUESTS" "$RUNKEY" , "$1" "$2" "${3:-$RUN}"
}
# The same for the slots gate.
slots_admit() {
	lua coupon_gate_slots_admit.lua "$USERS" "$SLOTS" "$SLOTS_RUN" , "$1" "$2" "${3:-$RUN}"
}
slots_undo() {
	lua coupon_gate_slots_undo.lua "$USERS" "$SLOTS" "$SLOTS_RUN" , "$1" "$2" "$3" "${4:-$RUN}"
}
# slots_lower ISSUED TOTAL [RUN_ID [BATCH]] (a batch of 1000 by default)
slots_lower() {
	lua coupon_gate_slots_lower.lua "$SLOTS" "$SLOTS_RUN" , "$1" "$2" "${4:-1000}" "${3:-$RUN}"
}

# ---------------------------------------------------------------------------
# The counter gate, on a policy of 2.

test_admit() {
	is "$(admit 1 2)" cold "admit: a gate never built is cold"
	stack_redis SET "$REQUESTS" 0 >/dev/null
	is "$(admit 1 2)" cold "admit: a counter without the run stamp is cold"
	stack_redis SET "$RUNKEY" "$RUN" >/dev/null
	is "$(admit 1 2)" pass "admit: user 1 passes"
	is "$(admit 1 2)" already "admit: user 1 again: already"
	is "$(admit 2 2)" pass "admit: user 2 passes"
	is "$(admit 3 2)" sold_out "admit: user 3, the counter at the total: sold_out"
	is "$(admit 1 2)" already "admit: user 1, sold out or not: already"
	is "$(gate)" "2 1,2" "admit: counted 2, users 1 and 2"
	is "$(admit 3 2 another-run)" cold "admit: a gate stamped by another run of the server is cold"
	is "$(gate)" "2 1,2" "admit: a refusal changes nothing"
}

test_undo() {
	is "$(undo 2 refused 2)" 1 "undo: refused: undone"
	is "$(gate)" "1 1" "undo: refused: the user removed, the count given back"
	is "$(undo 2 refused 2)" 0 "undo: refused again: nothing left to undo"
	is "$(gate)" "1 1" "undo: ...and nothing changed"
	is "$(admit 3 2)" pass "undo: the place given back goes to user 3"
	is "$(undo 3 keep_user 2)" 1 "undo: keep_user: undone"
	is "$(gate)" "1 1,3" "undo: keep_user: the count given back, the user kept"
	is "$(admit 3 2)" already "undo: keep_user: the user is still already"
	is "$(undo 3 sold_out_keep_user 2)" 1 "undo: sold_out_keep_user: undone"
	is "$(gate)" "2 1,3" "undo: sold_out_keep_user: the counter raised to the total, the user kept"
	is "$(undo 4 sold_out 2)" 1 "undo: sold_out: undone"
	is "$(gate)" "2 1,3" "undo: sold_out: the counter raised to the total"
	is "$(admit 5 2)" sold_out "undo: sold_out: the gate turns the next user away"
	is "$(undo 1 refused 2 another-run)" 0 "undo: a gate of another run is left alone"
	is "$(gate)" "2 1,3" "undo: ...untouched"
}

test_lower() {
	is "$(lower 1 2)" 1 "lower: the counter at the total, 1 issued: lowered"
	is "$(gate)" "1 1,3" "lower: the counter is now 1"
	is "$(lower 0 2)" 0 "lower: a counter below the total is left alone"
	is "$(lower 0 1 another-run)" 0 "lower: a gate of another run is left alone"
	is "$(admit 6 2)" pass "lower: the place found again goes to user 6"
	stack_redis DEL "$REQUESTS" >/dev/null
	is "$(lower 0 2)" 0 "lower: a cold gate is left alone"
	is "$(stack_redis EXISTS "$REQUESTS")" 0 "lower: ...and stays cold"
	is "$(undo 6 refused 2)" 0 "undo: a cold gate is left alone"
	is "$(stack_redis EXISTS "$REQUESTS")" 0 "undo: ...and stays cold (no counter created)"
	is "$(admit 7 2)" cold "admit: a gate without its counter is cold"
	stack_redis DEL "$USERS" "$RUNKEY" >/dev/null
}

# ---------------------------------------------------------------------------
# The slots gate, on a policy of 2.

test_slots() {
	is "$(slots_admit 1 2)" cold "slots: a list never built is cold"
	stack_redis RPUSH "$SLOTS" 1 1 >/dev/null
	stack_redis SET "$SLOTS_RUN" "$RUN" >/dev/null
	is "$(slots_admit 1 2)" pass "slots: user 1 passes"
	is "$(slots_admit 1 2)" already "slots: user 1 again: already"
	is "$(slots_admit 2 2)" pass "slots: user 2 passes"
	is "$(slots_admit 3 2)" sold_out "slots: user 3, the list empty: sold_out"
	is "$(slots)" "0 1,2" "slots: no entry left, users 1 and 2"
	is "$(slots_admit 3 2 another-run)" cold "slots: a list stamped by another run is cold"
	is "$(slots_undo 2 refused 2)" 1 "slots: undo refused: undone"
	is "$(slots)" "1 1" "slots: undo refused: the user removed, the entry back"
	is "$(slots_undo 2 refused 2)" 0 "slots: undo refused again: nothing to undo"
	is "$(slots_admit 3 2)" pass "slots: the entry given back goes to user 3"
	is "$(slots_undo 3 keep_user 2)" 1 "slots: undo keep_user: undone"
	is "$(slots)" "1 1,3" "slots: undo keep_user: the entry back, the user kept"
	is "$(slots_undo 3 sold_out_keep_user 2)" 1 "slots: undo sold_out_keep_user: undone"
	is "$(slots)" "0 1,3" "slots: undo sold_out_keep_user: the list emptied, the user kept"
	is "$(slots_undo 4 sold_out 2)" 1 "slots: undo sold_out: undone"
	is "$(slots)" "0 1,3" "slots: undo sold_out: the list emptied"
	is "$(slots_admit 5 2)" sold_out "slots: ...and the next user turned away"
	is "$(slots_lower 1 3)" 1 "slots: lower: an empty list refilled with total - issued"
	is "$(slots)" "2 1,3" "slots: lower: 2 entries"
	is "$(slots_lower 1 3)" 0 "slots: lower: a list not empty is left alone"
	is "$(slots_undo 1 refused 2 another-run)" 0 "slots: undo: a list of another run is left alone"
	is "$(slots_lower 0 2 another-run)" 0 "slots: lower: a list of another run is left alone"
	is "$(slots)" "2 1,3" "slots: ...untouched"
	# One call pushes one batch, never the whole of total - issued.
	stack_redis DEL "$SLOTS" >/dev/null
	is "$(slots_lower 0 2500 "$RUN" 1000)" 1 "slots: lower: 2500 missing, a batch of 1000: refilled"
	is "$(stack_redis LLEN "$SLOTS")" 1000 "slots: lower: ...with the first 1000 entries only"
	stack_redis DEL "$SLOTS" >/dev/null
	is "$(slots_lower 1 3 "$RUN" 1000)" 1 "slots: lower: fewer missing than a batch: refilled"
	is "$(stack_redis LLEN "$SLOTS")" 2 "slots: lower: ...with all 2 of them"
}

# ---------------------------------------------------------------------------
# The lock's release.

test_lock_release() {
	local key='{stock:5}:lock'
	stack_redis SET "$key" token-a >/dev/null
	is "$(lua redis_lock_release.lua "$key" , token-b)" 0 "release: another owner's lock is not released"
	is "$(stack_redis GET "$key")" token-a "release: ...it is still held"
	is "$(lua redis_lock_release.lua "$key" , token-a)" 1 "release: the owner releases it"
	is "$(stack_redis EXISTS "$key")" 0 "release: ...it is gone"
	is "$(lua redis_lock_release.lua "$key" , token-a)" 0 "release: a lock gone is nothing to release"
}

test_admit
test_undo
test_lower
test_slots
test_lock_release
done_testing
