# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/rush.sh: the rush point runner (bench/rush.c: one request per
# token, each from a different user).  Sourced by bench/run.

# rush_point NAME CONNS PATH TOKENS EXPECT [RUSH_ARGS...]: one run of
# bench/rush.c after a CHECKPOINT: a POST to PATH per line of TOKENS, at
# most CONNS at once, each with BENCH_TIMEOUT, recorded as point NAME
# (lib/record.sh, with the tags of POINT_TAGS).  EXPECT lists the statuses
# expected ("201 409").
#
# The record: tool "rush", conns, path, expect, requests (TOKENS' lines);
# "rush" (every key=value of rush's RUSH line: requests done seconds rps
# p50_us ... first_2xx_us last_2xx_us after_last_2xx errors timeouts
# status_N code_N_NAME; see bench/rush.c; null when rush printed none) and
# its exit status "rc"; "statuses" (nginx's log), "logged" (stockade's
# error and warning lines), "db_conns" (stockade's database connections
# half a second in), cpu, pgss and check.  The raw output stays in
# $WORK/rush-NAME.txt.
rush_point() {
	local name=$1 conns=$2 path=$3 tokens=$4 expect=$5 rawf=$WORK/rush-$1.txt
	local line kv mark_a mark_d cpu0 cpu1 cpu pgss seen='' rc statuses logged unexpected check rush=null
	local -A R=()
	shift 5
	need_stack
	stack_psql CHECKPOINT >/dev/null || die "CHECKPOINT failed"
	mark_a=$(log_mark "$STACK_DIR/nginx-access.log")
	mark_d=$(log_mark "$STACK_DIR/stockade.log")
	say "$name: rush -c $conns, $(wc -l <"$tokens") requests, POST $path"
	pgss_reset
	cpu0=$(cpu_sample)
	start_load "$rawf" "$WORK/rush" -c "$conns" -t "$(timeout_ms)" "$@" "$tokens" "$STACK_URL$path"
	sleep 0.5
	! stack_alive "$LOAD_PID" || seen=$(db_conns 2>/dev/null)
	wait_load
	rc=$?
	cpu1=$(cpu_sample)
	need_stack
	cpu=$(cpu_json "$cpu0" "$cpu1")
	pgss=$(pgss_json)
	sleep 0.5 # let nginx write its last log lines
	statuses=$(statuses_since "$mark_a")
	logged=$(daemon_problems "$mark_d")
	line=$(grep '^RUSH ' "$rawf" | tail -n 1)
	if [ -z "$line" ]; then
		check="**rush failed (status $rc)**: $(grep -v '^RUSH ' "$rawf" | tail -n 1)"
		say "$name: rush failed, see above"
		cat "$rawf" >&2
	else
		rush=$(kv_json "${line#RUSH }")
		for kv in ${line#RUSH }; do
			R[${kv%%=*}]=${kv#*=}
		done
		unexpected=$(tr ' ' '\n' <<<"$statuses" | awk -F: -v ok=" $expect " \
			'$1 != "" && index(ok, " " $1 " ") == 0 { printf "%s ", $0 }')
		check=ok
		if [ "${R[errors]}" -gt 0 ] || [ "$rc" -ne 0 ] || [ "${R[done]}" != "${R[requests]}" ] ||
			[ -n "$unexpected" ] || [ "$logged" -gt 0 ]; then
			check="**ERRORS**"
			[ "${R[errors]}" -eq 0 ] ||
				check="$check ${R[errors]} transfers got no answer (${R[timeouts]} timeouts): $(grep -m 1 -E '^(rush|bench): ' "$rawf")"
			[ "${R[done]}" = "${R[requests]}" ] || check="$check ran ${R[done]} of ${R[requests]}"
			[ -z "$unexpected" ] || check="$check unexpected ${unexpected% }"
			[ "$logged" -eq 0 ] || check="$check stockade logged $logged error/warn lines"
			[ "$rc" -eq 0 ] || check="$check rush exit $rc"
		fi
		say "$name: $(rate "${R[rps]}") req/s in ${R[seconds]} s, p50 $(ms "${R[p50_us]}") ms p99 $(ms "${R[p99_us]}") ms; statuses $statuses; no answer: ${R[errors]}; CPU $(cpu_text "$cpu"); $check"
	fi
	point_record "$name" "$(jq -n --argjson conns "$conns" --arg path "$path" --arg expect "$expect" \
		--argjson requests "$(wc -l <"$tokens")" --argjson rush "$rush" --argjson rc "$rc" \
		--argjson statuses "$(statuses_json "$statuses")" --argjson logged "$logged" --arg seen "$seen" \
		--argjson cpu "$cpu" --argjson pgss "$pgss" --arg check "$check" \
		'{tool: "rush", conns: $conns, path: $path, expect: $expect, requests: $requests,
		  rush: $rush, rc: $rc, statuses: $statuses, logged: $logged,
		  db_conns: ($seen | tonumber? // null), cpu: $cpu, pgss: $pgss, check: $check}')"
}
