# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/wrk.sh: the wrk point runner.  Sourced by bench/run.

# wrk_point NAME CONNS PATH EXPECT [WRK_ARGS...]: one wrk run of
# BENCH_SECONDS against PATH after a CHECKPOINT (so that no checkpoint
# started by the previous point lands in this one), recorded as point NAME
# (lib/record.sh, with the tags of POINT_TAGS).  EXPECT is the only status
# expected; BENCH_TOLERATE=STATUS (set by the caller for this call) names
# one more that is counted in "tolerated" instead of making the point an
# error (the points scenario: 409 conflict under optimistic locking), even
# though wrk counts it among its error answers.
#
# The record: tool "wrk", conns, path, expect, tolerate, seconds, threads;
# "wrk" (every figure of bench/wrk.lua's BENCH line: requests, duration_us,
# rps, p50_us, p90_us, p99_us, max_us, non2xx, connect, read, write,
# timeout; null when wrk printed none) and its exit status "rc";
# "statuses" (every answer as nginx logged it, {"201": N, ...}),
# "tolerated", "db_conns" (stockade's database connections mid-run),
# "logged" (stockade's error and warning lines), "cpu" (lib/cpu.sh),
# "pgss" (lib/pgss.sh) and "check" ("ok" or why not).  The raw output
# stays in $WORK/wrk-NAME.txt.
wrk_point() {
	local name=$1 conns=$2 path=$3 expect=$4 tolerate=${BENCH_TOLERATE:-}
	local rawf=$WORK/wrk-$name.txt rc line kv mark_a mark_d cpu0 cpu1 cpu seen statuses logged
	local tolerated sock unexpected check pgss wrk=null
	local -A W=()
	shift 4
	need_stack
	stack_psql CHECKPOINT >/dev/null || die "CHECKPOINT failed"
	mark_a=$(log_mark "$STACK_DIR/nginx-access.log")
	mark_d=$(log_mark "$STACK_DIR/stockade.log")
	say "$name: wrk -c $conns ${BENCH_SECONDS}s $path"
	pgss_reset
	cpu0=$(cpu_sample)
	start_load "$rawf" wrk -t "$BENCH_THREADS" -c "$conns" -d "${BENCH_SECONDS}s" \
		--timeout "$BENCH_TIMEOUT" -s "$BENCH_DIR/wrk.lua" "$@" "$STACK_URL$path"
	# stockade's database connections, in the middle of the load.
	sleep "$((BENCH_SECONDS / 2)).5"
	seen=$(db_conns 2>/dev/null)
	wait_load
	rc=$?
	cpu1=$(cpu_sample)
	need_stack
	cpu=$(cpu_json "$cpu0" "$cpu1")
	pgss=$(pgss_json)
	sleep 0.5 # let nginx log the requests wrk abandoned when it stopped
	line=$(grep '^BENCH ' "$rawf" | tail -n 1)
	statuses=$(statuses_since "$mark_a")
	logged=$(daemon_problems "$mark_d")
	tolerated=0
	if [ -n "$tolerate" ]; then
		tolerated=$(tr ' ' '\n' <<<"$statuses" | awk -F: -v t="$tolerate" '$1 == t { n += $2 } END { print n + 0 }')
	fi
	if [ -z "$line" ]; then
		check="**wrk failed (status $rc)**: $(tail -n 1 "$rawf")"
		say "$name: wrk failed, see above"
		cat "$rawf" >&2
	else
		wrk=$(kv_json "${line#BENCH }")
		for kv in ${line#BENCH }; do
			W[${kv%%=*}]=${kv#*=}
		done
		sock=$((W[connect] + W[read] + W[write] + W[timeout]))
		# Any status but the expected one is suspect, except the 499s
		# nginx logs for the requests in flight when wrk stopped (at most
		# one per connection) and the tolerated one.  wrk counts the
		# tolerated answers among its errors (it read at most as many as
		# nginx logged).
		unexpected=$(tr ' ' '\n' <<<"$statuses" | awk -F: -v ok="$expect" -v c="$conns" -v t="$tolerate" \
			'$1 != "" && $1 != ok && $1 != t && !($1 == 499 && $2 <= c) { printf "%s ", $0 }')
		check=ok
		if [ "${W[non2xx]}" -gt "$tolerated" ] || [ "$sock" -gt 0 ] || [ -n "$unexpected" ] ||
			[ "$logged" -gt 0 ] || [ "$rc" -ne 0 ] ||
			[ "${W[duration_us]}" -lt $((BENCH_SECONDS * 900000)) ]; then
			check="**ERRORS**"
			[ "${W[duration_us]}" -ge $((BENCH_SECONDS * 900000)) ] ||
				check="$check cut short: ran $(ms "${W[duration_us]}") ms"
			[ -z "$unexpected" ] || check="$check unexpected ${unexpected% }"
			[ "$logged" -eq 0 ] || check="$check stockade logged $logged error/warn lines"
			[ "$rc" -eq 0 ] || check="$check wrk exit $rc"
		fi
		say "$name: $(rate "${W[rps]}") req/s p50 $(ms "${W[p50_us]}") ms p99 $(ms "${W[p99_us]}") ms; >=400: ${W[non2xx]}; socket errors: $sock; statuses $statuses; CPU $(cpu_text "$cpu"); $check"
	fi
	point_record "$name" "$(jq -n --argjson conns "$conns" --arg path "$path" --arg expect "$expect" \
		--arg tolerate "$tolerate" --argjson seconds "$BENCH_SECONDS" --argjson threads "$BENCH_THREADS" \
		--argjson wrk "$wrk" --argjson rc "$rc" --argjson statuses "$(statuses_json "$statuses")" \
		--argjson tolerated "$tolerated" --arg seen "$seen" --argjson logged "$logged" \
		--argjson cpu "$cpu" --argjson pgss "$pgss" --arg check "$check" \
		'{tool: "wrk", conns: $conns, path: $path, expect: $expect, tolerate: $tolerate,
		  seconds: $seconds, threads: $threads, wrk: $wrk, rc: $rc, statuses: $statuses,
		  tolerated: $tolerated, db_conns: ($seen | tonumber? // null), logged: $logged,
		  cpu: $cpu, pgss: $pgss, check: $check}')"
}
