# shellcheck shell=bash
#
# bench/lib/common.sh: the small helpers every part of bench/run uses:
# messages, number formats for the terminal, the background load and its
# PID, polling until the database settles.  Sourced by bench/run.

LOAD_PID='' # wrk, rush, shop or pgbench, while one runs

say() {
	printf 'bench: %s\n' "$*" >&2
}

die() {
	say "$*"
	exit 1
}

is_uint() {
	case "$1" in
	'' | *[!0-9]*) return 1 ;;
	esac
}

# ms MICROSECONDS: milliseconds with two decimals.
ms() {
	awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'
}

# rate X: a rate rounded to an integer.
rate() {
	awk -v x="$1" 'BEGIN { printf "%.0f", x }'
}

# start_load OUTFILE CMD...: start CMD (wrk, rush, shop, pgbench) in the
# background with its output in OUTFILE; wait_load waits for it and
# returns its status.  We wait rather than run it in the foreground so
# that Ctrl-C or SIGTERM interrupts the wait at once and the EXIT trap
# stops it (by PID) with everything else; a foreground wrk catches SIGINT
# itself, exits 0, and bash would carry on with the next point.
start_load() {
	local outf=$1
	shift
	"$@" >"$outf" 2>&1 &
	LOAD_PID=$!
}

wait_load() {
	local rc
	wait "$LOAD_PID"
	rc=$?
	LOAD_PID=''
	return "$rc"
}

# timeout_ms: BENCH_TIMEOUT (wrk's syntax: 5s, 500ms, 1m, or seconds) in
# milliseconds, for rush and shop.
timeout_ms() {
	local t=$BENCH_TIMEOUT n
	case "$t" in
	*ms) n=${t%ms} ;;
	*s) n=${t%s} ;;
	*m) n=${t%m} ;;
	*) n=$t ;;
	esac
	is_uint "$n" && [ "$n" -gt 0 ] || return 1
	case "$t" in
	*ms) printf '%s\n' "$n" ;;
	*m) printf '%s\n' "$((n * 60000))" ;;
	*) printf '%s\n' "$((n * 1000))" ;;
	esac
}

# log_mark FILE: its current line count (0 when missing).
log_mark() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# settled CMD [ARG...]: CMD's output once it stopped changing, polling
# every 0.25 s for up to 5 s: what the database holds after a load, once
# stockade has finished the requests still queued or running when the load
# generator stopped.
settled() {
	local a b i
	b=$("$@")
	for ((i = 0; i < 20; i++)); do
		sleep 0.25
		a=$("$@")
		[ "$a" != "$b" ] || break
		b=$a
	done
	printf '%s\n' "$b"
}
