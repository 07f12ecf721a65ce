# shellcheck shell=bash
#
# t/lib/stack.sh: start and stop a real stockade stack in one directory:
# PostgreSQL and Redis on unix sockets only, stockade itself, and nginx on a
# loopback port in front of it.  The integration tests and scripts/demo
# source this file; nothing here listens outside loopback or the directory.
#
# Every process started is recorded in $STACK_DIR/<name>.pid and stopped by
# PID (never by name) in stack_stop, which is safe to call from an EXIT trap
# at any point, including after a half-finished start.  All state lives in
# files under $STACK_DIR, so a later shell (scripts/demo stop) can stop what
# an earlier one started.
#
# Typical use:
#
#     . t/lib/stack.sh
#     stack_init                    # temp dir, free port
#     trap stack_cleanup EXIT
#     stack_start                   # postgres, redis, stockade, nginx
#     curl "$STACK_URL/healthz"
#
# Reads from the environment:
#   STOCKADE_BIN      the stockade binary (required to start stockade)
#   STOCKADE_SRCDIR   the source tree, holding sql/ and nginx/ (required for
#                     nginx; defaults to two levels above this file)
#   STACK_HTTP_PORT   nginx's loopback port (default: a free random port,
#                     another one if a concurrent test takes it first)
#   STACK_WORKERS     stockade workers (default 4)
#   STACK_EXTRA_CONF  extra lines appended to stockade.conf, e.g. strategies
#   STACK_DATABASE_URL  stockade's database_url (default: the stack's
#                     PostgreSQL socket; stack_pgproxy_url: through the
#                     fault proxy)
#   STACK_CATALOGUE_CACHE  1: nginx's catalogue microcache of
#                     nginx/stockade.conf on, as shipped (scripts/demo,
#                     bench/); otherwise (default) off, so that every
#                     request reaches stockade
#   STACK_NGINX_EXTRA nginx directives inserted verbatim inside the generated
#                     server {} block, before the include of stockade.conf
#                     (bench/run adds a `location = /bench/ceiling` there)
#   STACK_PG_FAST     1 (default): fsync=off and friends, for tests only;
#                     0 keeps PostgreSQL crash-safe (scripts/demo)
#   STACK_PG_SYNC_COMMIT  1: with STACK_PG_FAST=1, keep synchronous_commit
#                     on: a COMMIT is answered once its WAL is written (to
#                     the kernel, not fsynced), so an answered commit
#                     survives a crash of PostgreSQL (-m immediate), not of
#                     the machine (t/test_faults.sh)
#   STACK_PG_BIN      PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   STACK_RUN_USER    when the caller is root: the system user stockade's
#                     workers run as (`user` in stockade.conf; created on
#                     first use, like the PostgreSQL user), with nginx's
#                     workers as www-data in that user's group (so they
#                     reach the socket, mode 0660, group that user's) and
#                     Redis's socket in that group too.  Unset (the
#                     default): as before, nginx's workers run as root.
#                     scripts/demo sets it.
#   STACK_READY_TIMEOUT  seconds to wait for a server to come up (default 30)
#   STACK_KEEP        1: stack_cleanup leaves the directory for inspection
#
# Exports: STACK_DIR, STACK_HTTP_PORT, STACK_URL, STACK_CONF,
# STACK_STOCKADE_PID.
#
# Functions: stack_init, stack_start, stack_stop, stack_cleanup,
# stack_start_{postgres,redis,stockade,nginx}, stack_stop_{...},
# stack_wait_ready, stack_status, stack_get_status, stack_leftovers,
# stack_pid, stack_alive, stack_psql, stack_psql_file, stack_redis, stack_token,
# stack_listen_queue,
# stack_restart_postgres, stack_{start,stop}_pgproxy, stack_pgproxy_url,
# stack_pgproxy_arm, stack_pgproxy_armed, stack_start_behind_pgproxy.
#
# PostgreSQL refuses to run as root.  When the caller is root, initdb,
# pg_ctl and postgres run as the unprivileged system user "stockade"
# (created on first use); otherwise they run as the caller.  The bootstrap
# superuser is the role "postgres"; the role "stockade" (not a superuser)
# owns the database "stockade", which is what the daemon connects as.

STACK_PG_BIN=${STACK_PG_BIN:-/usr/lib/postgresql/15/bin}
STACK_PG_OS_USER=stockade
STOCKADE_SRCDIR=${STOCKADE_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

# ---------------------------------------------------------------------------
# Helpers.  Each returns 0 on success and 1 on failure, printing why on
# stderr, so that callers can use them under `set -e` or test them.  Those
# starting with an underscore are internal; stack_pid and stack_alive are
# also meant for tests (e.g. "is the master still the same process?").

_stack_log() {
	printf 'stack: %s\n' "$*" >&2
}

# _stack_fail MSG [LOGFILE...]: report a failure with the last lines of the
# logs that explain it; returns 1.
_stack_fail() {
	local f
	_stack_log "$1"
	shift
	for f in "$@"; do
		[ -s "$f" ] || continue
		printf -- '--- last lines of %s ---\n' "$f" >&2
		tail -n 30 "$f" >&2
		printf -- '---\n' >&2
	done
	return 1
}

# _stack_need_dir: stop early, with a clear message, when stack_init has not
# run; every other function relies on $STACK_DIR.
_stack_need_dir() {
	if [ -z "${STACK_DIR:-}" ] || [ ! -d "$STACK_DIR" ]; then
		_stack_log "STACK_DIR is not set up: call stack_init first"
		return 1
	fi
}

# _stack_as_pg CMD...: run CMD as the user PostgreSQL runs as, from inside
# $STACK_DIR (postgres cannot chdir back into root's home directory).
_stack_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$STACK_DIR" && runuser -u "$STACK_PG_OS_USER" -- "$@")
	else
		(cd "$STACK_DIR" && "$@")
	fi
}

# _stack_system_user NAME: when run as root, create the system user NAME
# (with a group of the same name), unless it exists.  Tests started at once
# (make -j check) would all see it missing, all run useradd and all but one
# fail ("already exists"), or find it in /etc/passwd before useradd has
# finished; so the check and the creation hold one lock.  Its file is
# machine-wide on purpose: the tests of every checkout share the users.  A
# failed useradd is still fine when the user exists afterwards (a stack.sh
# without the lock made it meanwhile).
_stack_system_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	local lock=/run/lock name=$1
	[ -d "$lock" ] && [ -w "$lock" ] || lock=${TMPDIR:-/tmp}
	(
		flock 9 || exit 1
		id -u "$name" >/dev/null 2>&1 && exit 0
		useradd --system --user-group --no-create-home \
			--shell /usr/sbin/nologin "$name" ||
			id -u "$name" >/dev/null 2>&1
	) 9>>"$lock/stockade-stack-useradd.lock"
}

# _stack_pg_user: the system user PostgreSQL runs as, when run as root.
_stack_pg_user() {
	_stack_system_user "$STACK_PG_OS_USER"
}

# _stack_run_user: print STACK_RUN_USER when it applies (set, and the
# caller is root: only root can switch users); nothing otherwise.
_stack_run_user() {
	[ -n "${STACK_RUN_USER:-}" ] && [ "$(id -u)" -eq 0 ] || return 0
	printf '%s\n' "$STACK_RUN_USER"
}

# _stack_pg_owner PATH...: give PATH to the PostgreSQL user (root only).
_stack_pg_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		chown "$STACK_PG_OS_USER:$STACK_PG_OS_USER" "$@"
	fi
}

# stack_alive PID: 0 when PID is a live process.  A zombie (exited, not
# yet reaped by its parent, possibly this shell) counts as dead.
stack_alive() {
	local stat
	[ -n "${1:-}" ] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	IFS= read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	# The state follows the command name in parentheses, which may itself
	# contain spaces and parentheses: cut at the last ") ".
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# stack_pid NAME: print the PID recorded in $STACK_DIR/NAME.pid; returns 1
# when there is none.  For postgres, postmaster.pid is the fallback, so that
# a server whose start was interrupted is still found and stopped.  A file
# written before the last boot (a persistent scripts/demo directory) is
# stale: its PID may now belong to an unrelated process, never signal it.
stack_pid() {
	local file=$STACK_DIR/$1.pid pid='' btime
	if [ ! -s "$file" ] && [ "$1" = postgres ]; then
		file=$STACK_DIR/pg-data/postmaster.pid
	fi
	[ -s "$file" ] || return 1
	btime=$(awk '$1 == "btime" { print $2 }' /proc/stat)
	[ "$(stat -c %Y "$file")" -ge "${btime:-0}" ] || return 1
	read -r pid <"$file" || true
	case "$pid" in
	'' | *[!0-9]*) return 1 ;;
	esac
	printf '%s\n' "$pid"
}

# _stack_running NAME: 0 when the process recorded for NAME is alive.
_stack_running() {
	local pid
	pid=$(stack_pid "$1") || return 1
	stack_alive "$pid"
}

# _stack_reap PID: collect PID's exit status when it is a child of this
# shell, so it does not linger as a zombie; harmless otherwise.
_stack_reap() {
	wait "$1" 2>/dev/null || true
}

# _stack_wait_gone PID SECONDS: poll until PID has exited; returns 1 on
# timeout.  Works whether or not PID is a child of this shell.
_stack_wait_gone() {
	local pid=$1 deadline=$((SECONDS + $2))
	while stack_alive "$pid"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
	_stack_reap "$pid"
}

# _stack_wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds;
# returns 1 on timeout.
_stack_wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# _stack_stop_pid PID SECONDS SIGNAL: send SIGNAL, wait up to SECONDS, then
# SIGKILL and wait again.  Returns 0 once PID is gone.
_stack_stop_pid() {
	local pid=$1 secs=$2 sig=$3
	stack_alive "$pid" || {
		_stack_reap "$pid"
		return 0
	}
	kill -s "$sig" "$pid" 2>/dev/null || true
	_stack_wait_gone "$pid" "$secs" && return 0
	_stack_log "pid $pid ignored SIG$sig for ${secs}s: sending SIGKILL"
	kill -s KILL "$pid" 2>/dev/null || true
	_stack_wait_gone "$pid" 5
}

# _stack_port_free PORT: 0 when nothing listens on TCP PORT.
_stack_port_free() {
	[ -z "$(ss -tanH "sport = :$1" 2>/dev/null)" ]
}

# _stack_pick_port: print a free TCP port in 20000-32000: below the
# kernel's ephemeral range (32768-60999 here), so that no outgoing
# connection can hold the port, and unused in any state (TIME-WAIT too).
# Random tries rather than a scan, so parallel test runs rarely race.
_stack_pick_port() {
	local i port
	for i in $(seq 1 100); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 12001))
		if _stack_port_free "$port"; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	_stack_log "no free port found in 20000-32000 after $i tries"
	return 1
}

# _stack_spawn NAME LOGFILE CMD...: start CMD in the background with its
# output appended to LOGFILE and record its PID in $STACK_DIR/NAME.pid.
# Background jobs of a non-interactive shell start with SIGINT and SIGQUIT
# ignored (POSIX); env --default-signal gives the daemon its ordinary
# dispositions back (SIGQUIT is stockade's graceful stop).  env execs CMD,
# so $! is the daemon's own PID.
_stack_spawn() {
	local name=$1 log=$2
	shift 2
	env --default-signal=INT,QUIT "$@" </dev/null >>"$log" 2>&1 &
	printf '%s\n' "$!" >"$STACK_DIR/$name.pid"
}

# ---------------------------------------------------------------------------
# Set-up.

# stack_init [DIR]: prepare DIR (default: a new mktemp -d
# /tmp/stockade-test.XXXXXX), pick the nginx port, create the token secret
# (kept when it already exists) and export STACK_DIR, STACK_HTTP_PORT,
# STACK_URL, STACK_CONF and STACK_STOCKADE_PID.  Reusing an existing DIR
# reuses its PostgreSQL data and secret (scripts/demo relies on this).
stack_init() {
	if [ -n "${1:-}" ]; then
		mkdir -p "$1" || return 1
		STACK_DIR=$(cd "$1" && pwd) || return 1
	else
		STACK_DIR=$(mktemp -d /tmp/stockade-test.XXXXXX) || return 1
	fi
	# unix socket paths are limited to 107 bytes; keep room for
	# pg-run/.s.PGSQL.5432
	if [ "${#STACK_DIR}" -gt 80 ]; then
		_stack_log "STACK_DIR path is too long for unix sockets: $STACK_DIR"
		return 1
	fi
	# The PostgreSQL user must reach pg-data and pg-run inside it.
	chmod 0755 "$STACK_DIR" || return 1

	_stack_pg_user || return 1
	if [ -n "$(_stack_run_user)" ]; then
		_stack_system_user "$STACK_RUN_USER" || return 1
	fi
	if ! _stack_as_pg test -x "$STACK_DIR"; then
		_stack_log "user $STACK_PG_OS_USER cannot reach $STACK_DIR: every parent directory needs o+x"
		return 1
	fi

	if [ -z "${STACK_HTTP_PORT:-}" ]; then
		STACK_HTTP_PORT=$(_stack_pick_port) || return 1
		# stack_start_nginx may move a port picked here, not a given one.
		_STACK_PORT_PICKED=1
	fi
	STACK_URL="http://127.0.0.1:$STACK_HTTP_PORT"
	STACK_CONF="$STACK_DIR/stockade.conf"
	STACK_STOCKADE_PID=$(stack_pid stockade || true)
	export STACK_DIR STACK_HTTP_PORT STACK_URL STACK_CONF STACK_STOCKADE_PID

	if [ ! -s "$STACK_DIR/secret" ]; then
		# 32 random bytes as 64 hex digits; umask so it is never readable
		# by others, not even for an instant.
		(umask 077 && od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' >"$STACK_DIR/secret") || return 1
	fi
	chmod 0600 "$STACK_DIR/secret"
	_stack_write_stockade_conf
}

# _stack_write_stockade_conf: (re)write $STACK_CONF from the current
# environment; stack_start_stockade calls it again so that a test can change
# STACK_EXTRA_CONF or STACK_WORKERS and restart stockade.
_stack_write_stockade_conf() {
	{
		printf '# written by t/lib/stack.sh; rewritten at every start\n'
		printf 'listen = %s\n' "$STACK_DIR/stockade.sock"
		printf 'workers = %s\n' "${STACK_WORKERS:-4}"
		printf 'database_url = %s\n' "${STACK_DATABASE_URL:-host=$STACK_DIR/pg-run dbname=stockade user=stockade}"
		printf 'redis_url = unix:%s\n' "$STACK_DIR/redis.sock"
		printf 'auth_secret_file = %s\n' "$STACK_DIR/secret"
		printf 'log_level = info\n'
		if [ -n "$(_stack_run_user)" ]; then
			printf 'user = %s\n' "$STACK_RUN_USER"
		fi
		if [ -n "${STACK_EXTRA_CONF:-}" ]; then
			printf '%s\n' "$STACK_EXTRA_CONF"
		fi
	} >"$STACK_CONF"
}

# ---------------------------------------------------------------------------
# PostgreSQL.

# stack_start_postgres: initdb $STACK_DIR/pg-data on first use, then start
# PostgreSQL listening only on a unix socket in $STACK_DIR/pg-run, and make
# sure the role and database "stockade" and pg_stat_statements exist.  With
# STACK_PG_FAST=1 (the default) durability is traded for speed.  Does
# nothing when it is already running.
stack_start_postgres() {
	local data="$STACK_DIR/pg-data" log="$STACK_DIR/postgres.log" pid
	_stack_need_dir || return 1
	_stack_running postgres && return 0

	mkdir -p "$STACK_DIR/pg-run" && touch "$log" || return 1
	_stack_pg_owner "$STACK_DIR/pg-run" "$log" || return 1
	if [ ! -s "$data/PG_VERSION" ]; then
		rm -rf "$data"
		mkdir -m 0700 "$data" && _stack_pg_owner "$data" || return 1
		# -U postgres: the bootstrap superuser gets a fixed name whoever
		# runs initdb; --no-sync: a test cluster need not survive a crash.
		local -a initdb=("$STACK_PG_BIN/initdb" -D "$data" --auth=trust
			-U postgres --encoding=UTF8 --locale=C)
		[ "${STACK_PG_FAST:-1}" != 1 ] || initdb+=(--no-sync)
		_stack_as_pg "${initdb[@]}" >>"$log" 2>&1 ||
			_stack_fail "initdb failed" "$log" || return 1
		printf "\ninclude 'stack.conf'\n" >>"$data/postgresql.conf"
	fi
	# Rewritten at every start, so the fast/safe choice follows STACK_PG_FAST.
	{
		printf '# written by t/lib/stack.sh at every start\n'
		printf "listen_addresses = ''\n"
		printf "unix_socket_directories = '%s'\n" "$STACK_DIR/pg-run"
		printf "shared_preload_libraries = 'pg_stat_statements'\n"
		printf 'pg_stat_statements.track = all\n'
		printf 'max_connections = 100\n'
		printf 'log_min_messages = warning\n'
		if [ "${STACK_PG_FAST:-1}" = 1 ]; then
			printf 'fsync = off\nfull_page_writes = off\n'
			[ "${STACK_PG_SYNC_COMMIT:-0}" = 1 ] ||
				printf 'synchronous_commit = off\n'
		fi
	} >"$data/stack.conf"
	_stack_pg_owner "$data/stack.conf"

	_stack_as_pg "$STACK_PG_BIN/pg_ctl" -D "$data" -l "$log" -w \
		-t "${STACK_READY_TIMEOUT:-30}" start >/dev/null ||
		_stack_fail "PostgreSQL did not start" "$log" || return 1
	pid=$(head -n 1 "$data/postmaster.pid") || return 1
	printf '%s\n' "$pid" >"$STACK_DIR/postgres.pid"

	_stack_psql_as postgres postgres "
		SELECT 'CREATE ROLE stockade LOGIN'
		WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stockade') \\gexec
		SELECT 'CREATE DATABASE stockade OWNER stockade'
		WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'stockade') \\gexec" ||
		_stack_fail "creating role and database stockade failed" "$log" || return 1
	# pg_stat_statements is not a trusted extension: the superuser creates
	# it, so that migrations need no superuser rights.
	_stack_psql_as postgres stockade \
		'SET client_min_messages = warning;
		CREATE EXTENSION IF NOT EXISTS pg_stat_statements' ||
		_stack_fail "creating extension pg_stat_statements failed" "$log"
}

# stack_stop_postgres: fast shutdown (roll back open transactions,
# disconnect clients) as the PostgreSQL user; SIGTERM/SIGKILL to the
# postmaster if pg_ctl cannot do it.  Safe when not running.
stack_stop_postgres() {
	local pid
	_stack_need_dir || return 1
	if pid=$(stack_pid postgres) && stack_alive "$pid"; then
		_stack_as_pg "$STACK_PG_BIN/pg_ctl" -D "$STACK_DIR/pg-data" -m fast \
			-w -t 30 stop >/dev/null 2>&1 ||
			_stack_stop_pid "$pid" 10 TERM || return 1
	fi
	rm -f "$STACK_DIR/postgres.pid"
}

# stack_restart_postgres MODE: pg_ctl restart with shutdown mode MODE
# (fast, immediate or smart), waiting until the server accepts connections
# again; records the new postmaster's PID.  Clients' connections are lost.
stack_restart_postgres() {
	local data="$STACK_DIR/pg-data" log="$STACK_DIR/postgres.log"
	_stack_need_dir || return 1
	_stack_as_pg "$STACK_PG_BIN/pg_ctl" -D "$data" -l "$log" -m "$1" -w \
		-t "${STACK_READY_TIMEOUT:-30}" restart >/dev/null ||
		_stack_fail "PostgreSQL did not restart (-m $1)" "$log" || return 1
	head -n 1 "$data/postmaster.pid" >"$STACK_DIR/postgres.pid"
}

# _stack_psql_as ROLE DB SQL: run SQL with psql on the stack's socket; rows
# (unaligned, tuples only) go to stdout.
_stack_psql_as() {
	"$STACK_PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$STACK_DIR/pg-run" -U "$1" -d "$2" <<<"$3"
}

# stack_psql SQL: run SQL in the database "stockade" as the superuser
# "postgres" (tests read anything and may reset statistics) and print the
# rows, one per line, columns separated by '|'.  Fails on the first error.
stack_psql() {
	_stack_psql_as postgres stockade "$1"
}

# stack_psql_file FILE [ROLE]: run an SQL file in the database "stockade"
# as ROLE (default "stockade", so that created objects belong to the daemon's
# role), in one transaction.
stack_psql_file() {
	"$STACK_PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 --single-transaction -h "$STACK_DIR/pg-run" \
		-U "${2:-stockade}" -d stockade -f "$1"
}

# ---------------------------------------------------------------------------
# The PostgreSQL fault proxy (t/lib/pgproxy.py): between stockade and
# PostgreSQL, it forwards the protocol and, when armed, loses a COMMIT or
# its answer.  Start it after PostgreSQL and point stockade at it:
#
#     stack_start_pgproxy && STACK_DATABASE_URL=$(stack_pgproxy_url)
#     stack_pgproxy_arm reply 1       # lose the next COMMIT's answer
#     ...request...
#     [ "$(stack_pgproxy_armed)" = "reply 0" ]    # it was lost

# stack_start_pgproxy: start the proxy on $STACK_DIR/pgproxy-run (a socket
# directory, as libpq's host= wants), disarmed, and wait for its socket.
stack_start_pgproxy() {
	local dir="$STACK_DIR/pgproxy-run" log="$STACK_DIR/pgproxy.log"
	_stack_need_dir || return 1
	_stack_running pgproxy && return 0
	mkdir -p "$dir" && rm -f "$dir/.s.PGSQL.5432" || return 1
	stack_pgproxy_arm none 0 || return 1
	_stack_spawn pgproxy "$log" python3 "$STOCKADE_SRCDIR/t/lib/pgproxy.py" \
		--listen "$dir/.s.PGSQL.5432" \
		--upstream "$STACK_DIR/pg-run/.s.PGSQL.5432" \
		--control "$STACK_DIR/pgproxy.control"
	_stack_wait_for "${STACK_READY_TIMEOUT:-30}" test -S "$dir/.s.PGSQL.5432" ||
		_stack_fail "the PostgreSQL proxy did not start" "$log"
}

# _stack_stop_named NAME: SIGTERM the process of $STACK_DIR/NAME.pid, wait
# for it (SIGKILL after 10 s), and forget its pid file.
_stack_stop_named() {
	local pid
	_stack_need_dir || return 1
	if pid=$(stack_pid "$1"); then
		_stack_stop_pid "$pid" 10 TERM || return 1
	fi
	rm -f "$STACK_DIR/$1.pid"
}

# stack_stop_pgproxy: SIGTERM the proxy (its connections die with it).
stack_stop_pgproxy() {
	_stack_stop_named pgproxy
}

# stack_pgproxy_url: the database_url that goes through the proxy.
stack_pgproxy_url() {
	printf 'host=%s dbname=stockade user=stockade sslmode=disable\n' "$STACK_DIR/pgproxy-run"
}

# stack_pgproxy_arm MODE COUNT: make the next COUNT faults of MODE (reply:
# lose COMMIT's answer; request: lose the COMMIT itself); written whole
# (rename), never seen half-written by the proxy.
stack_pgproxy_arm() {
	printf '%s %s\n' "$1" "$2" >"$STACK_DIR/pgproxy.control.new" &&
		mv -f "$STACK_DIR/pgproxy.control.new" "$STACK_DIR/pgproxy.control"
}

# stack_pgproxy_armed: print "MODE COUNT", the faults still to make.
stack_pgproxy_armed() {
	cat "$STACK_DIR/pgproxy.control"
}

# stack_start_behind_pgproxy: stack_start with stockade's database through
# the fault proxy (STACK_DATABASE_URL exported); psql and the tests' own
# queries go to PostgreSQL directly.
stack_start_behind_pgproxy() {
	stack_start_postgres && stack_start_redis && stack_start_pgproxy || return 1
	STACK_DATABASE_URL=$(stack_pgproxy_url)
	export STACK_DATABASE_URL
	stack_start_stockade && stack_start_nginx && stack_wait_ready
}

# ---------------------------------------------------------------------------
# Redis.

# stack_start_redis: start redis-server in the foreground (so $! is its PID)
# on the unix socket $STACK_DIR/redis.sock only, with persistence off, and
# wait until it answers PING.  Does nothing when it is already running.
#
# With STACK_REDIS_CLUSTER=1 the server is a Redis Cluster of one node that
# owns every slot: stockade talks to it as to any Redis, but the server
# holds every command and script to the cluster's rule that the keys it
# names (or, for a script, touches) share one slot, and refuses the others
# (CROSSSLOT): a stack on which the gate's key names are checked.  A
# cluster node needs a TCP port and a cluster bus port: two free ones on
# loopback, kept in $STACK_DIR/redis-cluster.ports across restarts.
stack_start_redis() {
	local sock="$STACK_DIR/redis.sock" log="$STACK_DIR/redis.log" cluster=()
	_stack_need_dir || return 1
	_stack_running redis && return 0
	rm -f "$sock"
	if [ "${STACK_REDIS_CLUSTER:-0}" = 1 ]; then
		_stack_redis_cluster_args || return 1
		cluster=("${STACK_REDIS_CLUSTER_ARGS[@]}")
	else
		cluster=(--port 0)
	fi
	_stack_spawn redis "$log" redis-server "${cluster[@]}" --unixsocket "$sock" \
		--unixsocketperm 770 --save '' --appendonly no --daemonize no \
		--dir "$STACK_DIR" --logfile ''
	_stack_wait_for "${STACK_READY_TIMEOUT:-30}" _stack_redis_ping ||
		_stack_fail "redis-server did not answer PING" "$log" || return 1
	# Mode 0770: stockade's workers, running as STACK_RUN_USER, reach it
	# through its group.
	if [ -n "$(_stack_run_user)" ]; then
		chgrp "$STACK_RUN_USER" "$sock"
	fi
	if [ "${STACK_REDIS_CLUSTER:-0}" = 1 ]; then
		_stack_redis_cluster_up || _stack_fail "the one-node Redis Cluster is not ok" "$log"
	fi
}

# _stack_redis_cluster_args: sets STACK_REDIS_CLUSTER_ARGS, the options of
# a one-node cluster: its ports (picked once), its nodes file.
_stack_redis_cluster_args() {
	local f="$STACK_DIR/redis-cluster.ports" port bus
	if [ ! -s "$f" ]; then
		port=$(_stack_pick_port) && bus=$(_stack_pick_port) || return 1
		printf '%s %s\n' "$port" "$bus" >"$f"
	fi
	read -r port bus <"$f" || return 1
	STACK_REDIS_CLUSTER_ARGS=(--bind 127.0.0.1 --port "$port" --cluster-enabled yes
		--cluster-port "$bus" --cluster-config-file "$STACK_DIR/redis-nodes.conf")
}

# _stack_redis_cluster_up: gives the node every slot (the first time; the
# nodes file keeps them across a restart), waits for cluster_state:ok, and
# checks that the node refuses a command whose keys span two slots, as the
# stacks that use it count on.
_stack_redis_cluster_up() {
	if stack_redis CLUSTER INFO | grep -q '^cluster_slots_assigned:0'; then
		[ "$(stack_redis CLUSTER ADDSLOTSRANGE 0 16383)" = OK ] || return 1
	fi
	_stack_wait_for "${STACK_READY_TIMEOUT:-30}" _stack_redis_cluster_ok || return 1
	stack_redis DEL '{stack:1}:a' '{stack:2}:a' | grep -q '^CROSSSLOT'
}

_stack_redis_cluster_ok() {
	stack_redis CLUSTER INFO | grep -q '^cluster_state:ok'
}

_stack_redis_ping() {
	_stack_running redis && [ "$(stack_redis PING 2>/dev/null)" = PONG ]
}

# stack_stop_redis: SIGTERM redis-server and wait for it (SIGKILL after 10 s).
stack_stop_redis() {
	_stack_stop_named redis
}

# stack_redis ARGS...: run one redis-cli command against the stack's Redis.
stack_redis() {
	redis-cli -s "$STACK_DIR/redis.sock" "$@"
}

# ---------------------------------------------------------------------------
# stockade.

# stack_start_stockade: rewrite $STACK_CONF, apply migrations, start
# `stockade serve` and wait until its FastCGI socket exists.  Sets
# STACK_STOCKADE_PID (the master).  Does nothing when it is already running.
stack_start_stockade() {
	local log="$STACK_DIR/stockade.log" sock="$STACK_DIR/stockade.sock"
	_stack_need_dir || return 1
	if _stack_running stockade; then
		STACK_STOCKADE_PID=$(stack_pid stockade)
		return 0
	fi
	if [ -z "${STOCKADE_BIN:-}" ] || [ ! -x "$STOCKADE_BIN" ]; then
		_stack_log "STOCKADE_BIN is not an executable: '${STOCKADE_BIN:-}'"
		return 1
	fi
	_stack_write_stockade_conf || return 1
	"$STOCKADE_BIN" migrate -c "$STACK_CONF" >>"$log" 2>&1 ||
		_stack_fail "stockade migrate failed" "$log" || return 1
	# A socket left by a killed daemon would pass the readiness check below.
	rm -f "$sock"
	_stack_spawn stockade "$log" "$STOCKADE_BIN" serve -c "$STACK_CONF"
	STACK_STOCKADE_PID=$(stack_pid stockade)
	export STACK_STOCKADE_PID
	_stack_wait_for "${STACK_READY_TIMEOUT:-30}" _stack_stockade_listening ||
		_stack_fail "stockade did not create $sock" "$log"
}

_stack_stockade_listening() {
	_stack_running stockade && [ -S "$STACK_DIR/stockade.sock" ]
}

# stack_stop_stockade: SIGTERM the master, wait up to 10 s, then SIGKILL.
# Children that survive their master (only possible after SIGKILL) are
# killed too, so no worker is ever left behind.
stack_stop_stockade() {
	local pid children child
	_stack_need_dir || return 1
	if pid=$(stack_pid stockade); then
		children=$(pgrep -P "$pid" || true)
		_stack_stop_pid "$pid" 10 TERM || return 1
		for child in $children; do
			_stack_stop_pid "$child" 2 KILL || true
		done
	fi
	rm -f "$STACK_DIR/stockade.pid"
	STACK_STOCKADE_PID=
}

# stack_listen_queue: the connections waiting in stockade's listen backlog,
# not accepted by any worker yet (ss's Recv-Q of a listening socket); empty
# when the socket is not listening.
stack_listen_queue() {
	ss -xlH "src $STACK_DIR/stockade.sock" 2>/dev/null | awk '{ print $3; exit }'
}

# stack_token USER [ROLE] [ARGS...]: print a bearer token for USER with ROLE
# ("user" by default) minted by `stockade token`; extra ARGS (e.g. --ttl 1)
# are passed on.
stack_token() {
	local user=$1 role=${2:-user}
	shift
	[ "$#" -eq 0 ] || shift
	"$STOCKADE_BIN" token -c "$STACK_CONF" --user "$user" --role "$role" "$@"
}

# stack_status_token: print an admin token for GET /status (which needs the
# admin role unless status_public = on), minted once per stack and kept in
# $STACK_DIR/status.token, so that loops polling /status do not fork
# `stockade token` every time.
stack_status_token() {
	local f="$STACK_DIR/status.token" tok=
	if [ ! -s "$f" ]; then
		stack_token 9999 admin --ttl 86400 >"$f.tmp" && mv "$f.tmp" "$f" || return 1
	fi
	IFS= read -r tok <"$f" || return 1
	printf '%s\n' "$tok"
}

# stack_get_status [CURL_ARGS...]: GET /status with an admin token, through
# http (t/lib/assert.sh), which sets HTTP_STATUS, HTTP_BODY, ...
stack_get_status() {
	local tok
	tok=$(stack_status_token) || return 1
	http GET /status "" "$tok" "$@"
}

# ---------------------------------------------------------------------------
# nginx.

# stack_start_nginx: write $STACK_DIR/nginx.conf, which includes
# $STOCKADE_SRCDIR/nginx/stockade.conf, start nginx in the foreground (so $!
# is the master's PID) and wait until it listens on 127.0.0.1:PORT.
# Readiness of stockade behind it is stack_wait_ready's job.  A port that
# stack_init picked may turn out to be taken when nginx starts (by a test
# started at the same moment that picked the same one, say): then another
# is picked, STACK_HTTP_PORT and STACK_URL follow, up to 5 ports in all.  A
# port given in STACK_HTTP_PORT is tried alone.  Does nothing when nginx is
# already running.
stack_start_nginx() {
	local log="$STACK_DIR/nginx-error.log" try rc
	_stack_need_dir || return 1
	_stack_running nginx && return 0
	if [ ! -r "$STOCKADE_SRCDIR/nginx/stockade.conf" ]; then
		_stack_log "no nginx/stockade.conf in STOCKADE_SRCDIR=$STOCKADE_SRCDIR"
		return 1
	fi
	mkdir -p "$STACK_DIR/nginx-tmp" || return 1
	for try in 1 2 3 4 5; do
		rc=0
		_stack_nginx_try || rc=$?
		[ "$rc" -ne 0 ] || return 0
		if [ "$rc" -ne 1 ] || [ "${_STACK_PORT_PICKED:-0}" != 1 ] || [ "$try" -eq 5 ]; then
			break
		fi
		STACK_HTTP_PORT=$(_stack_pick_port) || return 1
		STACK_URL="http://127.0.0.1:$STACK_HTTP_PORT"
		_stack_log "trying port $STACK_HTTP_PORT instead"
	done
	_stack_fail "nginx did not listen on 127.0.0.1:$STACK_HTTP_PORT" "$log"
}

# _stack_nginx_try: start nginx on $STACK_HTTP_PORT and wait until it
# listens there.  Returns 0 once it does, 1 when the port is taken (before
# the start, or nginx gave up bind(), which it retries for 2.5 s), 2 when
# nginx neither listened nor exited within STACK_READY_TIMEOUT.
_stack_nginx_try() {
	local log="$STACK_DIR/nginx-error.log" pid
	if ! _stack_port_free "$STACK_HTTP_PORT"; then
		_stack_log "port $STACK_HTTP_PORT is already in use"
		return 1
	fi
	_stack_write_nginx_conf || return 2
	# -e: messages from before the config is read go to our log too, not
	# to the compiled-in default.
	_stack_spawn nginx "$log" nginx -p "$STACK_DIR/" -e "$log" \
		-c "$STACK_DIR/nginx.conf"
	_stack_wait_for "${STACK_READY_TIMEOUT:-30}" _stack_nginx_settled || return 2
	_stack_nginx_listening && return 0
	_stack_log "nginx exited without listening on 127.0.0.1:$STACK_HTTP_PORT"
	if pid=$(stack_pid nginx); then
		_stack_reap "$pid"
	fi
	rm -f "$STACK_DIR/nginx.pid"
	return 1
}

# _stack_nginx_settled: 0 once nginx listens on the port or has exited.
_stack_nginx_settled() {
	_stack_nginx_listening || ! _stack_running nginx
}

# _stack_nginx_listening: 0 when the stack's own nginx listens on the port.
# Another process listening there does not count: nginx keeps running while
# it retries a bind() that fails, and the requests would reach that other
# process (another test's stack).  ss names a socket's processes only when
# it may read their /proc entries; without names, the port's having been
# free just before nginx started has to do.
_stack_nginx_listening() {
	local pid out
	pid=$(stack_pid nginx) && stack_alive "$pid" || return 1
	out=$(ss -tlnpH "sport = :$STACK_HTTP_PORT" 2>/dev/null)
	[ -n "$out" ] || return 1
	[[ $out != *users:* || $out == *"pid=$pid,"* ]]
}

_stack_write_nginx_conf() {
	local d=$STACK_DIR
	{
		printf '# written by t/lib/stack.sh at every start\n'
		printf 'daemon off;\n'
		printf 'worker_processes 2;\n'
		if [ -n "$(_stack_run_user)" ]; then
			# stockade gives its socket (mode 0660) to the group of
			# its `user`: nginx's workers run with that group.
			printf 'user www-data %s;\n' "$STACK_RUN_USER"
		elif [ "$(id -u)" -eq 0 ]; then
			# stockade's socket is mode 0660 and owned by the user
			# running stockade (root here); nginx workers would
			# otherwise drop to "nobody" and get EACCES on connect.
			printf 'user root root;\n'
		fi
		printf 'pid %s/nginx.pid;\n' "$d"
		printf 'error_log %s/nginx-error.log notice;\n' "$d"
		printf 'worker_rlimit_nofile 10000;\n'
		printf 'events { worker_connections 4096; }\n'
		printf 'http {\n'
		printf '\tdefault_type application/octet-stream;\n'
		# shellcheck disable=SC2016 # nginx variables, not shell ones
		printf '\tlog_format stockade '\''$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time $upstream_response_time $request_id'\'';\n'
		printf '\taccess_log %s/nginx-access.log stockade;\n' "$d"
		printf '\tclient_body_temp_path %s/nginx-tmp/body;\n' "$d"
		printf '\tfastcgi_temp_path %s/nginx-tmp/fastcgi;\n' "$d"
		printf '\tproxy_temp_path %s/nginx-tmp/proxy;\n' "$d"
		printf '\tscgi_temp_path %s/nginx-tmp/scgi;\n' "$d"
		printf '\tuwsgi_temp_path %s/nginx-tmp/uwsgi;\n' "$d"
		printf '\tupstream stockade_fcgi { server unix:%s/stockade.sock; }\n' "$d"
		# The catalogue microcache's zone (nginx/stockade.conf).
		printf '\tfastcgi_cache_path %s/nginx-tmp/catalogue levels=1 keys_zone=stockade_catalogue:1m max_size=16m inactive=1m use_temp_path=off;\n' "$d"
		printf '\tserver {\n'
		printf '\t\tlisten 127.0.0.1:%s;\n' "$STACK_HTTP_PORT"
		if [ -n "${STACK_NGINX_EXTRA:-}" ]; then
			printf '%s\n' "$STACK_NGINX_EXTRA"
		fi
		printf '\t\tinclude %s/nginx/stockade.conf;\n' "$STOCKADE_SRCDIR"
		if [ "${STACK_CATALOGUE_CACHE:-0}" != 1 ]; then
			# Off unless asked for: most tests count what reaches
			# stockade (log lines, metrics, faults).
			# shellcheck disable=SC2016 # an nginx variable
			printf '\t\tset $stockade_catalogue_nocache 1;\n'
		fi
		printf '\t}\n'
		printf '}\n'
	} >"$d/nginx.conf"
}

# stack_stop_nginx: SIGQUIT (graceful: finish open requests) to the nginx
# master, SIGTERM after 10 s, SIGKILL 5 s later.
stack_stop_nginx() {
	local pid
	_stack_need_dir || return 1
	if pid=$(stack_pid nginx); then
		if ! _stack_stop_pid "$pid" 10 QUIT; then
			return 1
		fi
	fi
	rm -f "$STACK_DIR/nginx.pid"
}

# ---------------------------------------------------------------------------
# The whole stack.

# stack_wait_ready: wait until GET /healthz through nginx answers 200;
# returns 1 with the logs' tails after STACK_READY_TIMEOUT seconds.
stack_wait_ready() {
	_stack_wait_for "${STACK_READY_TIMEOUT:-30}" _stack_healthy ||
		_stack_fail "GET $STACK_URL/healthz did not answer 200" \
			"$STACK_DIR/stockade.log" "$STACK_DIR/nginx-error.log"
}

_stack_healthy() {
	[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$STACK_URL/healthz")" = 200 ]
}

# stack_start: start PostgreSQL, Redis, stockade and nginx, in that order,
# and wait until the stack answers /healthz.  Returns 1 at the first failure
# (call stack_stop, or rely on the EXIT trap, to stop what did start).
stack_start() {
	stack_start_postgres &&
		stack_start_redis &&
		stack_start_stockade &&
		stack_start_nginx &&
		stack_wait_ready
}

# stack_stop: stop nginx, stockade, Redis and PostgreSQL, in that order.
# Idempotent, and safe from an EXIT trap after a partial start: each part
# is stopped if its PID file names a live process.  Returns 1 if some
# process could not be stopped or something from $STACK_DIR still runs.
stack_stop() {
	local rc=0 left
	[ -n "${STACK_DIR:-}" ] && [ -d "$STACK_DIR" ] || return 0
	stack_stop_nginx || rc=1
	stack_stop_stockade || rc=1
	stack_stop_pgproxy || rc=1
	stack_stop_redis || rc=1
	stack_stop_postgres || rc=1
	left=$(stack_leftovers)
	if [ -n "$left" ]; then
		_stack_log "still running after stack_stop:"
		printf '%s\n' "$left" >&2
		rc=1
	fi
	return "$rc"
}

# stack_status: print one line per server, "NAME running (pid N)" or
# "NAME stopped"; returns 0 when all four run.
stack_status() {
	local name pid rc=0
	_stack_need_dir || return 1
	for name in postgres redis stockade nginx; do
		if pid=$(stack_pid "$name") && stack_alive "$pid"; then
			printf '%-9s running (pid %s)\n' "$name" "$pid"
		else
			printf '%-9s stopped\n' "$name"
			rc=1
		fi
	done
	return "$rc"
}

# stack_leftovers: print "PID COMMAND" for every process whose command line
# mentions $STACK_DIR (the servers' own processes all do; stockade workers
# are found through the master in stack_stop_stockade).  Empty when the
# stack is fully stopped.
stack_leftovers() {
	# awk takes the directory from the environment so that its own
	# command line does not match.
	ps -eo pid=,args= | STACK_MATCH="$STACK_DIR/" awk 'index($0, ENVIRON["STACK_MATCH"]) { print }'
}

# stack_cleanup: stack_stop, then remove $STACK_DIR unless STACK_KEEP=1.
# Meant for `trap stack_cleanup EXIT`; keeps the exit status of the script.
stack_cleanup() {
	local rc=$?
	[ -n "${STACK_DIR:-}" ] && [ -d "$STACK_DIR" ] || return "$rc"
	stack_stop || rc=1
	if [ "${STACK_KEEP:-0}" = 1 ]; then
		_stack_log "kept $STACK_DIR"
	elif [ "$STACK_DIR" != / ]; then
		rm -rf "$STACK_DIR"
	fi
	return "$rc"
}
