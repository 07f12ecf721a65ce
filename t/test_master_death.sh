#!/usr/bin/env bash
# t/test_master_death.sh: a master killed with SIGKILL takes its children
# with it (issue 12, item 4).  Under a light load, kill -9 of the master
# must leave no worker or reaper of it running one second later (they would
# go on serving the old socket and holding a database connection each), and
# a stockade started afterwards must again hold exactly workers + 1
# database connections, with one reaper.  Exit status follows automake: 0
# pass, 1 fail, 99 when the stack cannot even start.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/procs.sh
. "$T_DIR/lib/procs.sh"
export STACK_WORKERS=4
WANT_CONNS=$((STACK_WORKERS + 1))

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap procs_cleanup EXIT
stack_start || exit 99
MASTER=$STACK_STOCKADE_PID
diag "stack in $STACK_DIR, master pid $MASTER"

wait_db_conns "$WANT_CONNS" 30
ok $? "before: database connections = workers + 1 ($WANT_CONNS)"

# ---------------------------------------------------------------------------
# kill -9 of the master while four clients keep requests flowing.

load_start 4 30 /api/v1/products
load_wait_count 40 30
ok $? "load: requests are flowing before the kill"
stack_get_status
listed=$(printf '%s' "$HTTP_BODY" | grep -o '"pid":[0-9]*' | cut -d: -f2 | tr '\n' ' ')
children=$(pgrep -P "$MASTER" | tr '\n' ' ')
is "$(pgrep -P "$MASTER" | grep -c .)" "$WANT_CONNS" \
	"the master has workers + 1 children ($children)"
diag "/status lists pids $listed; /proc: children $children"

kill -KILL "$MASTER"
now_ms
t0=$NOW_MS
# The time is taken after each look, so it is an upper bound.
while :; do
	left=$(stockade_procs | awk '{ printf "%s ", $1 }')
	now_ms
	elapsed=$((NOW_MS - t0))
	if [ -z "$left" ] || [ "$elapsed" -ge 10000 ]; then
		break
	fi
	sleep 0.02
done
diag "after kill -9 of the master: its children gone in ${elapsed} ms"
is "$left" "" "kill -9 of the master: no stockade process of the stack is left"
# The kernel's SIGTERM (PR_SET_PDEATHSIG) ends them at once; 3 s leaves
# room for a CI machine at load 20, where a ps scan alone takes 100 ms.
[ "$elapsed" -le 3000 ]
ok $? "kill -9 of the master: every child gone within 3 s (${elapsed} ms)"
still=
for pid in $listed $children; do
	! stack_alive "$pid" || still="$still $pid"
done
is "$still" "" "no pid /status or /proc listed is alive"
wait "$MASTER" 2>/dev/null
load_stop
diag "load around the kill: $(load_summary)"

# ---------------------------------------------------------------------------
# A new stockade: exactly its own connections, one reaper.

stack_start_stockade && stack_wait_ready
ok $? "stockade starts again on the same socket path"
NEW=$STACK_STOCKADE_PID
wait_db_conns "$WANT_CONNS" 10
conns=$(db_conns)
is "$conns" "$WANT_CONNS" "after a restart: database connections = workers + 1"
is "$(db_conns 'stockade reaper')" 1 "after a restart: one reaper connection"
is "$(stockade_masters | tr '\n' ' ' | sed 's/ $//')" "$NEW" "after a restart: one master, the new one"
http GET /api/v1/products
is "$HTTP_STATUS" 200 "the new stockade serves"
grep -q 'the master is gone; exiting' "$STACK_DIR/stockade.log"
ok $? "the orphans logged why they exited"

stack_stop
ok $? "stack_stop succeeded"
is "$(stack_leftovers)" "" "no process from $STACK_DIR is left"

done_testing
