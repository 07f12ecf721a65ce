#!/usr/bin/env bash
# t/faults/inject.sh KIND [RANDOM]: makes one fault of KIND to the stack in
# $STACK_DIR (t/lib/stack.sh) and prints one line saying what it did.  The
# fault-injection run (t/faults/run.py) calls it from its fault schedule;
# RANDOM (a number the schedule draws from its seeded generator) picks the
# victim, so that a seed replays the same choices.  Exits 0 when the fault
# was made and the stack is back (or, for a fault armed in the PostgreSQL
# proxy, armed), 1 when the fault could not be made or the stack did not
# come back, and 3 when it found a broken promise: children of a master
# killed with SIGKILL still alive 2 s later (docs/architecture.md,
# "Processes": no child outlives its master).
#
# Kinds (docs/testing.md lists them with what each exercises):
#   worker_kill  reaper_kill  master_kill  graceful_restart
#   pg_immediate  pg_fast  commit_reply  commit_request  pg_idle
#   redis_restart  redis_flushall  redis_script_flush  redis_stop
#
# Environment: what t/lib/stack.sh reads (STACK_DIR, STACK_CONF,
# STOCKADE_BIN, STACK_DATABASE_URL, STACK_WORKERS, STACK_EXTRA_CONF,
# STACK_PG_FAST), exported by t/test_faults.sh.
set -uo pipefail

T_DIR=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=t/lib/stack.sh
. "$T_DIR/lib/stack.sh"
# shellcheck source=t/lib/procs.sh
. "$T_DIR/lib/procs.sh"

KIND=${1:?usage: inject.sh KIND [RANDOM]}
RND=${2:-0}
LOG=$STACK_DIR/stockade.log

# master: the recorded master's pid; fails when it is not running.
master() {
	local pid
	pid=$(stack_pid stockade) && stack_alive "$pid" && printf '%s\n' "$pid"
}

# reaper_of MASTER: the pid of MASTER's reaper: the child that logs as
# "reaper" (every log line names its pid and role).
reaper_of() {
	local pid
	for pid in $(pgrep -P "$1"); do
		if grep -q "\[$pid\] reaper: " "$LOG"; then
			printf '%s\n' "$pid"
			return 0
		fi
	done
	return 1
}

# workers_of MASTER: MASTER's children but its reaper, one a line.
workers_of() {
	local reaper
	reaper=$(reaper_of "$1") || reaper=
	pgrep -P "$1" | grep -vx "${reaper:-none}"
}

# pick LIST...: the (RND mod count)th word of LIST.
pick() {
	local -a words=("$@")
	[ "${#words[@]}" -gt 0 ] || return 1
	printf '%s\n' "${words[RND % ${#words[@]}]}"
}

# ms_since T0: milliseconds since T0 (an EPOCHREALTIME value).
ms_since() {
	local now=${EPOCHREALTIME//[.,]/} then=${1//[.,]/}
	printf '%s\n' "$(((now - then) / 1000))"
}

fault_worker_kill() {
	local m victim
	m=$(master) || { echo "no master"; return 1; }
	# shellcheck disable=SC2046 # a list of pids
	victim=$(pick $(workers_of "$m")) || { echo "no worker"; return 1; }
	kill -KILL "$victim" && echo "SIGKILL worker $victim of master $m"
}

fault_reaper_kill() {
	local m victim
	m=$(master) || { echo "no master"; return 1; }
	victim=$(reaper_of "$m") || { echo "no reaper"; return 1; }
	kill -KILL "$victim" && echo "SIGKILL reaper $victim of master $m"
}

# fault_master_kill: SIGKILL the master; its children must be gone within a
# second (2 s allowed here, on a loaded machine); then a new master.
fault_master_kill() {
	local m t0 left gone rc=0
	m=$(master) || { echo "no master"; return 1; }
	kill -KILL "$m" || return 1
	t0=$EPOCHREALTIME
	while :; do
		left=$(stockade_procs | awk '{ printf "%s ", $1 }')
		gone=$(ms_since "$t0")
		if [ -z "$left" ] || [ "$gone" -ge 2000 ]; then
			break
		fi
		sleep 0.02
	done
	if [ -n "$left" ]; then
		echo "ORPHAN: children of killed master $m alive after ${gone} ms: $left"
		for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
		rc=3
	fi
	rm -f "$STACK_DIR/stockade.pid"
	stack_start_stockade >/dev/null 2>&1 || { echo "restart after SIGKILL failed"; return 1; }
	echo "SIGKILL master $m (children gone in ${gone} ms), new master $(stack_pid stockade)"
	return "$rc"
}

# fault_graceful_restart: SIGUSR2 (a new master on the inherited socket),
# then SIGQUIT to the old one once the new workers are connected, as README
# "Signals" tells operators to.
fault_graceful_restart() {
	local m new='' before pattern='SIGUSR2: new master started as pid' want
	m=$(master) || { echo "no master"; return 1; }
	want=$((2 * (${STACK_WORKERS:-4} + 1)))
	before=$(grep -c "$pattern" "$LOG")
	kill -USR2 "$m" || return 1
	for _ in $(seq 1 100); do
		if [ "$(grep -c "$pattern" "$LOG")" -gt "$before" ]; then
			new=$(sed -n "s/.*\[$m\] master: $pattern \([0-9]*\);.*/\1/p" "$LOG" | tail -n 1)
			break
		fi
		sleep 0.1
	done
	[ -n "$new" ] || { echo "SIGUSR2: no new master logged"; return 1; }
	# Both generations connected (or 10 s: a worker of the new one may be
	# waiting for PostgreSQL; the old one's queue goes to the new anyway).
	wait_db_conns "$want" 10 || true
	kill -QUIT "$m"
	_stack_wait_gone "$m" 20 || { echo "old master $m did not exit"; return 1; }
	printf '%s\n' "$new" >"$STACK_DIR/stockade.pid"
	echo "SIGUSR2 to $m, new master $new; SIGQUIT to $m"
}

fault_pg_restart() {
	stack_restart_postgres "$1" >/dev/null 2>&1 || { echo "pg_ctl restart -m $1 failed"; return 1; }
	echo "pg_ctl restart -m $1"
}

fault_pgproxy() {
	local n=$((1 + RND % 3))
	stack_pgproxy_arm "$1" "$n" && echo "proxy armed: $1 $n"
}

fault_redis_restart() {
	if ! stack_stop_redis || ! stack_start_redis >/dev/null 2>&1; then
		echo "redis restart failed"
		return 1
	fi
	echo "redis restarted (pid $(stack_pid redis))"
}

# fault_redis_stop: SIGSTOP Redis for 3 to 5 s, then SIGCONT (also when
# this script is interrupted: a frozen Redis would outlive the run).
fault_redis_stop() {
	local secs=$((3 + RND % 3))
	REDIS_PID=$(stack_pid redis) || { echo "no redis"; return 1; }
	trap 'kill -CONT "$REDIS_PID" 2>/dev/null' EXIT
	kill -STOP "$REDIS_PID" && sleep "$secs" && kill -CONT "$REDIS_PID" || return 1
	echo "redis SIGSTOP for ${secs} s"
}

case $KIND in
worker_kill) fault_worker_kill ;;
reaper_kill) fault_reaper_kill ;;
master_kill) fault_master_kill ;;
graceful_restart) fault_graceful_restart ;;
pg_immediate) fault_pg_restart immediate ;;
pg_fast) fault_pg_restart fast ;;
commit_reply) fault_pgproxy reply ;;
commit_request) fault_pgproxy request ;;
pg_idle) fault_pgproxy "$(pick idle idle-fatal)" ;;
redis_restart) fault_redis_restart ;;
redis_flushall) stack_redis FLUSHALL >/dev/null && echo "redis FLUSHALL" ;;
redis_script_flush) stack_redis SCRIPT FLUSH >/dev/null && echo "redis SCRIPT FLUSH" ;;
redis_stop) fault_redis_stop ;;
*)
	echo "unknown fault kind: $KIND"
	exit 1
	;;
esac
