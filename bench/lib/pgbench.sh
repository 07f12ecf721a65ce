# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/pgbench.sh: the pgbench point runner: the database's own
# ceiling for a transaction of stockade's.  Sourced by bench/run.

# pgbench_point NAME SCRIPT -D VAR=VALUE...: pgbench for BENCH_SECONDS at
# BENCH_WORKERS clients (stockade never has more database connections than
# workers), as the role stockade on the stack's socket, after a CHECKPOINT,
# recorded as point NAME (lib/record.sh, with the tags of POINT_TAGS):
# tool "pgbench", script (its name in bench/pgbench/), args (the -D
# definitions), clients, jobs, seconds; tps, lat_ms (average latency),
# failed, processed (transactions), rc (pgbench's exit status), cpu, pgss
# and check.  The raw output stays in $WORK/pgbench-NAME.txt.
pgbench_point() {
	local name=$1 script=$2 rawf=$WORK/pgbench-$1.txt rc jobs=2 cpu0 cpu1 cpu pgss
	local tps lat failed processed check
	shift 2
	[ "$BENCH_WORKERS" -ge 2 ] || jobs=1
	need_stack
	stack_psql CHECKPOINT >/dev/null || die "CHECKPOINT failed"
	say "$name: pgbench -c $BENCH_WORKERS ${BENCH_SECONDS}s $(basename "$script")"
	pgss_reset
	cpu0=$(cpu_sample)
	start_load "$rawf" env PGAPPNAME=bench-pgbench \
		"${STACK_PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench" \
		-h "$STACK_DIR/pg-run" -U stockade -d stockade -M prepared -n \
		-T "$BENCH_SECONDS" -c "$BENCH_WORKERS" -j "$jobs" -f "$script" "$@"
	wait_load
	rc=$?
	cpu1=$(cpu_sample)
	need_stack
	cpu=$(cpu_json "$cpu0" "$cpu1")
	pgss=$(pgss_json)
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$rawf" | tail -n 1)
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$rawf")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$rawf")
	processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$rawf")
	check=ok
	if [ "$rc" -ne 0 ] || [ "${failed:-n/a}" != 0 ]; then
		check="**ERRORS** (pgbench exit $rc: $(grep -m 1 -iE 'error|abort' "$rawf"))"
		cat "$rawf" >&2
	fi
	say "$name: pgbench $(rate "${tps:-0}") tps, latency avg ${lat:-n/a} ms, failed ${failed:-n/a}; CPU $(cpu_text "$cpu" | sed 's/ (.*//'); $check"
	point_record "$name" "$(jq -n --arg script "$(basename "$script")" \
		--argjson args "$(printf '%s\n' "$@" | jq -Rsc 'split("\n")[:-1]')" \
		--argjson clients "$BENCH_WORKERS" --argjson jobs "$jobs" --argjson seconds "$BENCH_SECONDS" \
		--arg tps "$tps" --arg lat "$lat" --arg failed "$failed" --arg processed "$processed" \
		--argjson rc "$rc" --argjson cpu "$cpu" --argjson pgss "$pgss" --arg check "$check" \
		'{tool: "pgbench", script: $script, args: $args, clients: $clients, jobs: $jobs,
		  seconds: $seconds, tps: ($tps | tonumber? // 0), lat_ms: ($lat | tonumber? // null),
		  failed: ($failed | tonumber? // null), processed: ($processed | tonumber? // 0),
		  rc: $rc, cpu: $cpu, pgss: $pgss, check: $check}')"
}
