# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/header.sh: the run's first record: the machine, the software,
# stockade's configuration and the BENCH_* values, which the results file
# opens with.  Sourced by bench/run.

STALE='' # sources newer than the binary, if any (preflight)

# bench_env SCENARIO...: the BENCH_* values that the scenarios use, one
# "VAR=value" a line.
bench_env() {
	local vars=(BENCH_SECONDS BENCH_WORKERS BENCH_USERS BENCH_THREADS BENCH_TIMEOUT) v
	! uses_c_clients "$@" ||
		vars+=(BENCH_COUPON_USERS BENCH_COUPON_TOTAL BENCH_COUPON_CONNS BENCH_COUPON_STRATEGIES BENCH_COUPON_GATES)
	case " $* " in *' orders '*) vars+=(BENCH_ORDERS_STRATEGIES) ;; esac
	case " $* " in *' issue '*) vars+=(BENCH_ISSUE_USERS BENCH_ISSUE_CONNS BENCH_ISSUE_STRATEGIES) ;; esac
	case " $* " in *' storm '*) vars+=(BENCH_STORM_USERS BENCH_STORM_CONNS BENCH_STORM_GATES BENCH_STORM_STRATEGIES) ;; esac
	case " $* " in
	*' shop '* | *' scale '*)
		vars+=(BENCH_SHOP_SECONDS BENCH_SHOP_CLIENTS BENCH_SHOP_MIX BENCH_SHOP_USERS BENCH_SHOP_PRODUCTS BENCH_SHOP_COUPONS)
		;;
	esac
	case " $* " in *' scale '*) vars+=(BENCH_SCALE_WORKERS BENCH_SCALE_CONNS BENCH_SCALE_SECONDS) ;; esac
	for v in "${vars[@]}"; do
		printf '%s=%s\n' "$v" "${!v}"
	done
}

# record_run SCENARIO...: the run's record (lib/record.sh): stamp, date,
# host, scenarios, env (bench_env as [[VAR, value], ...]), machine, the
# versions of nginx, PostgreSQL, Redis, wrk, pgbench, libcurl (when the C
# clients run) and stockade, its git commit and uncommitted changes, the
# data's file system, workers, threads, timeout, seconds, base_conf and
# stale (sources newer than the binary).  The machine's autogroup is the
# kernel's sched_autogroup_enabled ("" where the kernel has none): with it
# on, PostgreSQL's backends share the CPU as one group, and a runnable
# backend was seen waiting 1.6 s for it (docs/benchmarks.md).
record_run() {
	local pgbin=${STACK_PG_BIN:-/usr/lib/postgresql/15/bin} curl=''
	! uses_c_clients "$@" || curl=$(curl-config --version 2>/dev/null || echo libcurl)
	record_append "$(jq -n --arg stamp "$RUN_STAMP" --arg date "$(date '+%Y-%m-%d %H:%M %Z')" \
		--arg host "$(hostname)" \
		--argjson scenarios "$(printf '%s\n' "$@" | jq -Rsc 'split("\n")[:-1]')" \
		--argjson env "$(bench_env "$@" | jq -Rsc 'split("\n")[:-1] | map([sub("=.*"; ""), sub("^[^=]*="; "")])')" \
		--argjson cpus "$(nproc)" \
		--arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
		--arg mem "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" \
		--arg kernel "$(uname -r)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
		--arg autogroup "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" \
		--arg nginx "$(nginx -v 2>&1 | sed 's/^nginx version: //')" \
		--arg postgres "$("$pgbin/postgres" --version)" \
		--arg fs "$(df -PT "$STACK_DIR" | awk 'NR == 2 { print $2 " on " $1 }')" \
		--arg redis "$(redis-server --version | awk '{ print $1, $2, $3 }')" \
		--arg wrk "$(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')" \
		--arg pgbench "$("$pgbin/pgbench" --version)" --arg curl "$curl" \
		--arg stockade "$("$STOCKADE_BIN" --version 2>&1 | head -n 1)" \
		--arg git "$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		--argjson dirty "$(git -C "$SRCDIR" status --porcelain --untracked-files=no 2>/dev/null | wc -l)" \
		--argjson workers "$BENCH_WORKERS" --argjson threads "$BENCH_THREADS" \
		--arg timeout "$BENCH_TIMEOUT" --argjson seconds "$BENCH_SECONDS" \
		--arg base_conf "$BASE_CONF" --arg stale "$STALE" \
		'{type: "run", stamp: $stamp, date: $date, host: $host, scenarios: $scenarios, env: $env,
		  machine: {cpus: $cpus, cpu: $cpu, mem: $mem, kernel: $kernel, load: $load,
		            autogroup: (if $autogroup == "" then null else ($autogroup | tonumber) end)},
		  nginx: $nginx, postgres: $postgres, fs: $fs, redis: $redis, wrk: $wrk, pgbench: $pgbench,
		  curl: (if $curl == "" then null else $curl end), stockade: $stockade, git: $git,
		  dirty: $dirty, workers: $workers, threads: $threads, timeout: $timeout,
		  seconds: $seconds, base_conf: $base_conf, stale: $stale}')"
}
