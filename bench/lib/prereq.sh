# shellcheck shell=bash
#
# bench/lib/prereq.sh: what a run needs before it starts: the daemon, the
# audit, sane BENCH_* values, the stack's packages, wrk, gnuplot (optional),
# python3 (the report) and, for the scenarios that run them, what compiling
# the C clients of bench/ takes.  Sourced by bench/run.

# need_packages PKG...: install the Debian packages with apt-get (root only).
need_packages() {
	if [ "$(id -u)" -ne 0 ]; then
		say "missing packages: $*; install them as root: apt-get install $*"
		return 1
	fi
	say "installing $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 ||
		{ apt-get update -q >&2 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; }
}

# preflight SCENARIO...: everything the scenarios to run need, or die.
preflight() {
	STOCKADE_BIN=${STOCKADE_BIN:-$SRCDIR/src/stockade}
	if [ ! -x "$STOCKADE_BIN" ]; then
		die "no stockade binary at $STOCKADE_BIN: build it first
  (cd $SRCDIR && autoreconf -fi && ./configure && make -j\"\$(nproc)\"), or run scripts/test"
	fi
	[ -r "$BENCH_AUDIT_SQL" ] || die "no audit at $BENCH_AUDIT_SQL"
	# A binary older than its sources measures code that is not in the
	# tree any more (and may not match sql/audit.sql): say so loudly.
	STALE=$(find "$SRCDIR/src" "$SRCDIR/sql" -maxdepth 1 \( -name '*.[ch]' -o -name '*.sql' \) \
		-newer "$STOCKADE_BIN" ! -name migrations.c -printf '%P ' 2>/dev/null)
	[ -z "$STALE" ] || say "warning: $STOCKADE_BIN is older than $STALE- run make?"
	for v in BENCH_SECONDS BENCH_WORKERS BENCH_USERS BENCH_THREADS \
		BENCH_COUPON_USERS BENCH_COUPON_TOTAL BENCH_GROWTH_CONNS BENCH_GROWTH_PENDING; do
		if ! is_uint "${!v}" || [ "${!v}" -eq 0 ]; then
			die "$v must be a positive integer, not '${!v}'"
		fi
	done
	[ "$BENCH_COUPON_TOTAL" -le 10000000 ] || die "BENCH_COUPON_TOTAL must be at most 10000000 (a policy's limit)"
	[ -n "${BENCH_COUPON_CONNS// /}" ] || die "BENCH_COUPON_CONNS is empty"
	for v in $BENCH_COUPON_CONNS; do
		{ is_uint "$v" && [ "$v" -gt 0 ] && [ "$v" -le 8192 ]; } ||
			die "BENCH_COUPON_CONNS must list integers in 1..8192, not '$BENCH_COUPON_CONNS'"
	done
	for v in $BENCH_COUPON_STRATEGIES $BENCH_COUPON_GATES; do
		case "$v" in
		*[!a-z_]*) die "BENCH_COUPON_STRATEGIES and BENCH_COUPON_GATES list config values, not '$v'" ;;
		esac
	done
	if [ -z "${BENCH_COUPON_STRATEGIES// /}" ] || [ -z "${BENCH_COUPON_GATES// /}" ]; then
		die "BENCH_COUPON_STRATEGIES and BENCH_COUPON_GATES must not be empty"
	fi
	for v in BENCH_ISSUE_USERS BENCH_STORM_USERS BENCH_SHOP_SECONDS BENCH_SHOP_CLIENTS BENCH_SHOP_USERS \
		BENCH_SHOP_PRODUCTS BENCH_SHOP_COUPONS BENCH_SCALE_CONNS BENCH_SCALE_SECONDS; do
		if ! is_uint "${!v}" || [ "${!v}" -eq 0 ]; then
			die "$v must be a positive integer, not '${!v}'"
		fi
	done
	if [ "$BENCH_SHOP_CLIENTS" -gt 8192 ] || [ "$BENCH_SCALE_CONNS" -gt 8192 ]; then
		die "BENCH_SHOP_CLIENTS and BENCH_SCALE_CONNS must be at most 8192"
	fi
	[ "$BENCH_ISSUE_USERS" -le 10000000 ] || die "BENCH_ISSUE_USERS must be at most 10000000 (a policy's limit)"
	for v in $BENCH_ISSUE_CONNS $BENCH_STORM_CONNS $BENCH_SCALE_WORKERS; do
		{ is_uint "$v" && [ "$v" -gt 0 ] && [ "$v" -le 8192 ]; } ||
			die "BENCH_ISSUE_CONNS, BENCH_STORM_CONNS and BENCH_SCALE_WORKERS must list integers in 1..8192, not '$v'"
	done
	for v in $BENCH_SCALE_WORKERS; do
		# stockade takes up to 256, but each holds a connection and the
		# stack's PostgreSQL has max_connections = 100.
		[ "$v" -le 64 ] || die "BENCH_SCALE_WORKERS: at most 64 workers, not $v"
	done
	for v in $BENCH_STORM_GATES $BENCH_STORM_STRATEGIES $BENCH_ISSUE_STRATEGIES; do
		case "$v" in
		*[!a-z_]*) die "BENCH_STORM_GATES, BENCH_STORM_STRATEGIES and BENCH_ISSUE_STRATEGIES list config values, not '$v'" ;;
		esac
	done
	case "$BENCH_SHOP_MIX" in
	*[!0-9,]* | '') die "BENCH_SHOP_MIX must look like 80,10,5,5, not '$BENCH_SHOP_MIX'" ;;
	esac
	[ "$(awk -F, '{ for (i = 1; i <= NF; i++) s += $i; print NF, s }' <<<"$BENCH_SHOP_MIX")" = "4 100" ] ||
		die "BENCH_SHOP_MIX: four percentages (browse,order,pay,coupon) summing to 100, not '$BENCH_SHOP_MIX'"
	timeout_ms >/dev/null || die "BENCH_TIMEOUT must look like 5s, 500ms or 1m, not '$BENCH_TIMEOUT'"
	# The stack's own servers and tools: scripts/install-deps knows how to
	# install them without starting system-wide services.
	local missing='' c
	for c in nginx redis-server redis-cli psql curl jq ss runuser; do
		command -v "$c" >/dev/null || missing="$missing $c"
	done
	[ -x "${STACK_PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench" ] || missing="$missing pgbench"
	if [ -n "$missing" ]; then
		say "missing:$missing (the stack's packages)"
		if [ "$(id -u)" -eq 0 ]; then
			"$SRCDIR/scripts/install-deps" >&2 || die "scripts/install-deps failed"
		else
			die "run scripts/install-deps as root first"
		fi
	fi
	command -v wrk >/dev/null || need_packages wrk || die "wrk is required"
	command -v gnuplot >/dev/null || need_packages gnuplot-nox ||
		say "gnuplot is missing: no plots this time"
	command -v python3 >/dev/null || need_packages python3 ||
		die "python3 is required (bench/report.py writes the results)"
	! uses_c_clients "$@" || need_c_tools
}

# The scenarios that run bench/rush.c, bench/shop.c or bench/fcgi_hello.c
# (and mint tokens with rush).
C_CLIENT_SCENARIOS=(coupons ceilings issue storm shop scale)

# uses_c_clients SCENARIO...: true when one of them is in C_CLIENT_SCENARIOS.
uses_c_clients() {
	local s c
	for s in "$@"; do
		for c in "${C_CLIENT_SCENARIOS[@]}"; do
			[ "$s" != "$c" ] || return 0
		done
	done
	return 1
}

# need_c_tools: what compiling bench/rush.c and bench/fcgi_hello.c takes
# (a C compiler, pkg-config, and the headers of libcurl, libcrypto,
# libfcgi and hiredis; the last three come with the daemon's build too).
need_c_tools() {
	local missing='' m
	command -v cc >/dev/null || missing="$missing build-essential"
	command -v pkg-config >/dev/null || missing="$missing pkg-config"
	for m in libcurl:libcurl4-openssl-dev libcrypto:libssl-dev fcgi:libfcgi-dev hiredis:libhiredis-dev; do
		pkg-config --exists "${m%%:*}" 2>/dev/null || missing="$missing ${m#*:}"
	done
	# shellcheck disable=SC2086 # a list of package names
	[ -z "$missing" ] || need_packages $missing ||
		die "compiling bench/rush.c and bench/fcgi_hello.c needs:$missing"
}
