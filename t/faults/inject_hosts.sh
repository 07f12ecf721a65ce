#!/usr/bin/env bash
# t/faults/inject_hosts.sh KIND [RANDOM]: makes one fault of KIND to the
# hosts of a running t/test_scaleout_faults.sh (t/test_scaleout.sh's) and
# prints one line saying what it did; the fault-injection run
# (t/faults/run.py --schedule) calls it, as it calls t/faults/inject.sh on
# one host.  RANDOM is ignored: the schedule is fixed.  Each kind also
# writes its timeline, one "NAME VALUE" a line, to $FAULTS_OUT/KIND.txt
# (times are the wall clock in microseconds, for nginx's log), which the
# test asserts on and reports.  Exits 0 when the fault was made and the
# hosts came back, 1 otherwise.
#
# Kinds (docs/scaling.md, "What holds"):
#   link_down    app2's only interface down for LINK_DOWN_S seconds (33),
#                then up again; app2 is cut off from nginx and PostgreSQL
#                alike.  Before the cut, a session from app2's address
#                opens a transaction and locks a row of the run's first
#                option, with stockade's idle_in_transaction_timeout: a
#                stand-in for a worker cut off between two statements of a
#                transaction (a real one may or may not be at that point
#                when the link goes).  The cut waits (5 s at most) until
#                one of app2's workers waits for that lock, serving an
#                order of the load.  Until the link is back, app2's
#                backends on the primary are polled (pg_stat_activity):
#                when the stand-in's ends (its lock with it), when those
#                of app2's workers end.  Then the link comes up, and the
#                fault is over when app2 answers /readyz (its PostgreSQL
#                connection checked, reconnected if it died) 6 times in
#                a row, straight through nginx's app2-only server.
#   pg_failover  pg1 stopped (-m immediate), one second, pg2 promoted
#                (pg_ctl promote), as t/test_scaleout.sh's failover part.
#
# Environment (exported by t/test_scaleout_faults.sh): STACK_DIR,
# NETNS_PREFIX, STOCKADE_BIN, STOCKADE_SRCDIR, FAULTS_OUT, LINK_DOWN_S.
set -uo pipefail

# The hosts' helpers (pg_stop, pg_as, pg_psql, netns_link...): the test's
# file, sourced without running its main.
SCALEOUT_LIB=1
# shellcheck source=t/test_scaleout.sh
. "$(dirname "$0")/../test_scaleout.sh"

KIND=${1:?usage: inject_hosts.sh KIND [RANDOM]}
OUT=${FAULTS_OUT:?}
FIG=$OUT/$KIND.txt
: >"$FIG"

now_us() {
	printf '%s\n' "${EPOCHREALTIME/./}"
}

# fig NAME VALUE: one figure of the timeline.
fig() {
	printf '%s %s\n' "$1" "$2" >>"$FIG"
}

# app2_backends: app2's sessions on pg1, "PID STATE XID APPLICATION WAIT"
# a line (blanks in a name made _); XID is t when the session holds a
# transaction id (it wrote or locked rows: its locks stay until it ends),
# WAIT what it waits for (Lock, Client, ...; - for nothing).
app2_backends() {
	pg_psql pg1 "SELECT pid, replace(state, ' ', '_'), backend_xid IS NOT NULL,
	    replace(coalesce(nullif(application_name, ''), '-'), ' ', '_'),
	    coalesce(wait_event_type, '-')
	    FROM pg_stat_activity WHERE client_addr = '$(app_addr 2)'" 2>/dev/null | tr '|' ' '
}

# stand_in OPTION IDLE: a session from app2's address, idle in a
# transaction that holds OPTION's row lock.  Its psql reads a FIFO kept
# open on fd 7 (so it waits for more) and quits when fd 7 is closed.
stand_in() {
	local fifo=$STACK_DIR/stand-in.fifo
	rm -f "$fifo" && mkfifo "$fifo" || return 1
	netns_exec app2 env PGOPTIONS="-c idle_in_transaction_session_timeout=$2" \
		"$STACK_PG_BIN/psql" -XAtq -h "$PG1" -U stockade -d stockade \
		<"$fifo" >"$STACK_DIR/stand-in.log" 2>&1 &
	exec 7>"$fifo"
	printf "SET application_name = 'stand-in'; BEGIN;
	    SELECT stock FROM product_options WHERE id = %s FOR UPDATE;\n" "$1" >&7
}

link_down() {
	local opt idle i t_cut t_up t_ready trace=$OUT/link_down.trace ok=0 t
	opt=$(jq '.options[0].id' "$OUT/setup.json") || return 1
	idle=$("$STOCKADE_BIN" config-check -c "$STACK_DIR/app2.conf" |
		awk '$1 == "idle_in_transaction_timeout" { print $3 }')
	stand_in "$opt" "$idle" || return 1
	for ((i = 0; i < 100; i++)); do
		app2_backends | grep -q ' idle_in_transaction t stand-in ' && break
		sleep 0.05
	done
	# The load's orders of that option queue behind the lock: the cut
	# comes once one of them waits in app2 (5 s at most), so that app2
	# holds a request sent to it, stuck in PostgreSQL.
	for ((i = 0; i < 50; i++)); do
		app2_backends | grep -q ' active [tf] stockade_worker_[0-9]* Lock$' && break
		sleep 0.1
	done
	fig idle_in_transaction_timeout "$idle"
	fig stand_in_option "$opt"
	# The stand-in's idle time counts from its last statement.
	fig stand_in_pid "$(app2_backends | awk '$4 == "stand-in" { print $1 }')"
	fig stand_in_idle_us "$(pg_psql pg1 "SELECT (extract(epoch FROM state_change) * 1000000)::bigint
	    FROM pg_stat_activity WHERE application_name = 'stand-in'")"
	t_cut=$(now_us)
	netns_link app2 down || return 1
	fig cut_us "$t_cut"
	# The trace: "MS_SINCE_CUT PID STATE XID APPLICATION WAIT" per backend
	# per poll, while the link is down.
	: >"$trace"
	while t=$(now_us) && [ $((t - t_cut)) -lt $((LINK_DOWN_S * 1000000)) ]; do
		app2_backends | sed "s/^/$(((t - t_cut) / 1000)) /" >>"$trace"
		sleep 0.2
	done
	t_up=$(now_us)
	netns_link app2 up || return 1
	fig up_us "$t_up"
	exec 7>&-
	wait
	for ((i = 0; i < 300 && ok < 6; i++)); do
		if [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$LB:$APP2_PORT/readyz")" = 200 ]; then
			ok=$((ok + 1))
		else
			ok=0
			sleep 0.1
		fi
	done
	t_ready=$(now_us)
	[ "$ok" -ge 6 ] && fig ready_us "$t_ready"
	echo "app2's link down $(((t_up - t_cut) / 1000)) ms; /readyz 200 x6 $(((t_ready - t_up) / 1000)) ms after it came up"
	[ "$ok" -ge 6 ]
}

pg_failover() {
	local i t_stop t_promote
	t_stop=$(now_us)
	pg_stop pg1 immediate || return 1
	fig stop_us "$t_stop"
	# A failover manager (Patroni) needs a moment to decide; so does this.
	sleep 1
	pg_as pg2 "$STACK_PG_BIN/pg_ctl" -D "$STACK_DIR/pg2-data" -w -t 30 promote >/dev/null || return 1
	t_promote=$(now_us)
	fig promote_us "$t_promote"
	ln -sfn pg2-run "$STACK_DIR/pg-run"
	for ((i = 0; i < 100; i++)); do
		[ "$(pg_psql pg2 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
		sleep 0.1
	done
	echo "pg1 stopped (-m immediate), pg2 promoted $(((t_promote - t_stop) / 1000)) ms later"
	[ "$(pg_psql pg2 'SELECT pg_is_in_recovery()')" = f ]
}

case $KIND in
link_down | pg_failover) "$KIND" ;;
*)
	echo "inject_hosts.sh: unknown kind $KIND" >&2
	exit 1
	;;
esac
