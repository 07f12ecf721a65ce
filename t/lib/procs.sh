# shellcheck shell=bash
#
# t/lib/procs.sh: helpers for the process-model tests (t/test_master_death.sh,
# t/test_restart.sh, t/test_reload.sh, t/test_log_reopen.sh,
# t/test_privileges.sh): find this stack's stockade processes in /proc,
# count its database connections, run an HTTP load for a bounded time, wait
# for log lines, and see which file each process logs to.
# Source after t/lib/preamble.sh (needs STACK_DIR, STACK_CONF, STACK_URL).

# stockade_procs: print "PID PPID" for every live process of this stack's
# `stockade serve` (masters, workers, reapers: forks share the command line),
# from one ps call.  Zombies are dead and left out.
stockade_procs() {
	ps -eo pid=,ppid=,stat=,args= |
		STACK_MATCH="serve -c $STACK_CONF" awk '
			$3 !~ /^Z/ && index($0, ENVIRON["STACK_MATCH"]) { print $1, $2 }'
}

# procs_cleanup: stack_cleanup, then SIGKILL (by PID) any stockade process
# of this stack still running: children that outlived a killed master are
# out of stack_stop's reach, and a failing test must not leave them behind.
# Meant for `trap procs_cleanup EXIT`.
procs_cleanup() {
	local rc=$? pid
	(exit "$rc")
	stack_cleanup
	rc=$?
	for pid in $(stockade_procs | awk '{ print $1 }'); do
		kill -KILL "$pid" 2>/dev/null
	done
	return "$rc"
}

# stockade_masters: the PIDs among stockade_procs whose parent is not one of
# them.  A new master started by SIGUSR2 counts once its parent has exited.
stockade_masters() {
	stockade_procs | awk '{ pid[$1] = 1; parent[$1] = $2 }
		END { for (p in pid) if (!(parent[p] in pid)) print p }'
}

# db_conns [PATTERN]: the number of PostgreSQL sessions whose
# application_name is LIKE PATTERN (default: every stockade process but
# migrate, i.e. workers and reapers).
# shellcheck disable=SC2120 # the tests pass PATTERN, this file does not
db_conns() {
	stack_psql "SELECT count(*) FROM pg_stat_activity
	    WHERE application_name LIKE '${1:-stockade %}'
	      AND application_name <> 'stockade migrate'"
}

# wait_db_conns N SECONDS: poll db_conns until it is N; returns 1 after
# SECONDS (a backend leaves pg_stat_activity a moment after its client).
wait_db_conns() {
	local deadline=$((SECONDS + $2))
	until [ "$(db_conns 'stockade %')" = "$1" ]; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# load_start CLIENTS SECONDS PATH: start CLIENTS background loops, each
# sending GET PATH through nginx one request after another for SECONDS.
# Loop i appends one line per request to $STACK_DIR/load.i: the HTTP status
# and curl's exit status ("200 0"; "000 7" when the connection failed).
# load_stop ends them early.  Sets LOAD_PIDS.
load_start() {
	local clients=$1 secs=$2 path=$3 i
	LOAD_PIDS=
	rm -f "$STACK_DIR/load.stop"
	for i in $(seq 1 "$clients"); do
		: >"$STACK_DIR/load.$i"
		(
			end=$((SECONDS + secs))
			while [ "$SECONDS" -lt "$end" ] && [ ! -e "$STACK_DIR/load.stop" ]; do
				code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' "$STACK_URL$path")
				printf '%s %s\n' "$code" "$?"
			done >>"$STACK_DIR/load.$i"
		) &
		LOAD_PIDS="$LOAD_PIDS $!"
	done
}

# load_count: the number of requests answered so far, by all loops.
load_count() {
	cat "$STACK_DIR"/load.* 2>/dev/null | wc -l
}

# load_wait_count N SECONDS: wait until the loops have N answers.
load_wait_count() {
	local deadline=$((SECONDS + $2))
	until [ "$(load_count)" -ge "$1" ]; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# load_stop: ask the loops to stop after their current request, and wait.
load_stop() {
	: >"$STACK_DIR/load.stop"
	load_wait
}

# load_wait: wait for the loops to finish.
load_wait() {
	# shellcheck disable=SC2086 # a list of pids
	wait $LOAD_PIDS 2>/dev/null || true
}

# load_summary: "N requests: COUNT STATUS/CURL_RC ..." over all loops.
load_summary() {
	printf '%s requests:' "$(load_count)"
	cat "$STACK_DIR"/load.* | sort | uniq -c | awk '{ printf " %s x %s/%s", $1, $2, $3 }'
	printf '\n'
}

# now_ms: set NOW_MS to milliseconds since the epoch, without forking.
# shellcheck disable=SC2034 # NOW_MS is this function's output
now_ms() {
	local us=${EPOCHREALTIME//[.,]/}
	NOW_MS=$((us / 1000))
}

# burst_start CLIENTS SECONDS SPECFILE: keep CLIENTS requests in flight
# for SECONDS, from one curl at a time (--parallel: no fork per request),
# in the background.  SPECFILE holds one request a line,
# METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY (TOKEN and BODY may be empty), sent in
# rounds of the whole file until the time is up; a round in flight at the
# deadline is finished.  Each answer appends "STATUS CURL_RC" to
# $STACK_DIR/burst.out ("000 7": the connection failed).  Sets BURST_PID;
# burst_wait waits for it.
burst_start() {
	local clients=$1 secs=$2 spec=$3 cfg=$STACK_DIR/burst.curl
	local method path token body
	while IFS=$'\037' read -r method path token body || [ -n "$method" ]; do
		[ -n "$method" ] || continue
		printf 'next\nurl = "%s%s"\nrequest = "%s"\n' "$STACK_URL" "$path" "$method"
		printf 'silent\nmax-time = 30\noutput = "/dev/null"\n'
		printf 'write-out = "%%{http_code} %%{exitcode}\\n"\n'
		[ -z "$token" ] || printf 'header = "Authorization: Bearer %s"\n' "$token"
		if [ -n "$body" ]; then
			printf 'header = "Content-Type: application/json"\n'
			# Bodies are JSON without backslashes: only quotes need escaping.
			printf 'data-binary = "%s"\n' "${body//\"/\\\"}"
		fi
	done < <(tr '\t' '\037' <"$spec") | tail -n +2 >"$cfg"
	: >"$STACK_DIR/burst.out"
	(
		end=$((SECONDS + secs))
		while [ "$SECONDS" -lt "$end" ]; do
			curl --no-progress-meter --parallel --parallel-max "$clients" \
				-K "$cfg" >>"$STACK_DIR/burst.out" || true
		done
	) &
	BURST_PID=$!
}

# burst_wait: wait for the load of burst_start to finish.
burst_wait() {
	wait "$BURST_PID" 2>/dev/null || true
}

# burst_count: the answers so far.
burst_count() {
	wc -l <"$STACK_DIR/burst.out"
}

# burst_summary: "N requests: COUNT x STATUS/CURL_RC ...".
burst_summary() {
	printf '%s requests:' "$(burst_count)"
	sort "$STACK_DIR/burst.out" | uniq -c | awk '{ printf " %s x %s/%s", $1, $2, $3 }'
	printf '\n'
}

# wait_for_line SECONDS FILE REGEX [N]: poll until at least N (default 1)
# lines of FILE match the basic REGEX; returns 1 after SECONDS.
wait_for_line() {
	local deadline=$((SECONDS + $1))
	until [ "$(grep -c -- "$3" "$2" 2>/dev/null)" -ge "${4:-1}" ]; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# fd2_of PID...: the distinct files the PIDs' descriptor 2 (stderr, the
# log) point to, one a line, sorted.
fd2_of() {
	local pid
	for pid in "$@"; do
		readlink "/proc/$pid/fd/2"
	done | sort -u
}

# wait_fd2 SECONDS FILE PID...: poll until every PID has FILE as its
# descriptor 2 (a child reopens its log on SIGUSR1 a moment after the
# master); sets FD2 to what they have, and returns 1 after SECONDS.
wait_fd2() {
	local deadline=$((SECONDS + $1)) file=$2
	shift 2
	until FD2=$(fd2_of "$@") && [ "$FD2" = "$file" ]; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
