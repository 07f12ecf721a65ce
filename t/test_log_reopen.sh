#!/usr/bin/env bash
# t/test_log_reopen.sh: log_file and SIGUSR1 (issue 15, "Process
# management"), as logrotate uses them.  With log_file set, the master,
# the workers and the reaper write to that file (their stderr is it);
# after the file is renamed and the master gets SIGUSR1, every one of them
# has the new file at the path open, new lines from the master and the
# workers land there, and the renamed file gets nothing more.  A log_file
# that cannot be opened stops `stockade serve` before it starts anything.
# Exit status follows automake: 0 pass, 1 fail, 99 when the stack cannot
# even start.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/procs.sh
. "$T_DIR/lib/procs.sh"
export STACK_WORKERS=3

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap procs_cleanup EXIT
APP_LOG=$STACK_DIR/app.log
export STACK_EXTRA_CONF="log_file = $APP_LOG"
stack_start || exit 99
MASTER=$STACK_STOCKADE_PID
CHILDREN=$(pgrep -P "$MASTER" | tr '\n' ' ')
diag "stack in $STACK_DIR, master $MASTER, children $CHILDREN"

# ---------------------------------------------------------------------------
# Before: everything in log_file.

grep -q "\[$MASTER\] master: stockade .* listening on" "$APP_LOG"
ok $? "the master's start is in log_file"
wait_for_line 10 "$APP_LOG" 'reaper: connected to the database'
ok $? "the reaper's lines are in log_file"
! grep -q 'listening on' "$STACK_DIR/stockade.log"
ok $? "... and not on stderr"
# shellcheck disable=SC2086 # a list of pids
is "$(fd2_of "$MASTER" $CHILDREN)" "$APP_LOG" "every process has log_file as its stderr"
for _ in 1 2 3 4 5 6; do
	http GET /api/v1/products
done
grep -q 'worker [0-9]: access GET /api/v1/products 200' "$APP_LOG"
ok $? "workers' access lines are in log_file"

# ---------------------------------------------------------------------------
# logrotate: rename, then SIGUSR1.

mv "$APP_LOG" "$APP_LOG.1"
http GET /api/v1/products
grep -q 'access GET /api/v1/products' <(tail -n 1 "$APP_LOG.1")
ok $? "renamed: lines still go to the renamed file until SIGUSR1"
[ ! -e "$APP_LOG" ]
ok $? "renamed: nobody has made a new file yet"

kill -USR1 "$MASTER"
wait_for_line 10 "$APP_LOG" "\[$MASTER\] master: SIGUSR1: reopened $APP_LOG; so do 4 children"
ok $? "SIGUSR1: the master says so in the new file"
# shellcheck disable=SC2086 # a list of pids
wait_fd2 5 "$APP_LOG" "$MASTER" $CHILDREN
is "$FD2" "$APP_LOG" "SIGUSR1: the master, every worker and the reaper have the new file open"
old_lines=$(wc -l <"$APP_LOG.1")
# Sixty requests reach every one of three workers with near certainty.
for _ in $(seq 1 60); do
	http GET /api/v1/products
done
is "$(grep -c 'access GET' "$APP_LOG")" 60 "every access line after SIGUSR1 is in the new file"
served_by=$(grep 'access GET' "$APP_LOG" | sed 's/.*\] \(worker [0-9]*\): .*/\1/' | sort -u | tr '\n' ',')
diag "workers that logged to the new file: $served_by"
[ "$(grep 'access GET' "$APP_LOG" | sed 's/.*\[\([0-9]*\)\].*/\1/' | sort -u | grep -c .)" -ge 2 ]
ok $? "lines from more than one worker in the new file"
is "$(wc -l <"$APP_LOG.1")" "$old_lines" "the renamed file gets nothing more"
is "$(pgrep -P "$MASTER" | tr '\n' ' ')" "$CHILDREN" "no process was replaced"

# ---------------------------------------------------------------------------
# A log_file that cannot be opened: serve refuses to start.

stack_stop_stockade
export STACK_EXTRA_CONF="log_file = $STACK_DIR/no/such/dir/app.log"
_stack_write_stockade_conf
err=$("$STOCKADE_BIN" serve -c "$STACK_CONF" 2>&1)
is "$?" 1 "a log_file that cannot be opened: serve exits 1"
like "$err" "log_file $STACK_DIR/no/such/dir/app.log: No such file or directory" "... and says why"
[ ! -e "$STACK_DIR/stockade.sock" ]
ok $? "... before binding the socket"

stack_stop
ok $? "stack_stop succeeded"
is "$(stack_leftovers)" "" "no process from $STACK_DIR is left"

done_testing
