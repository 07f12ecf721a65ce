# shellcheck shell=bash
#
# t/lib/scaleout.sh: the multi-host topology of docs/scaling.md, built out
# of network namespaces (t/lib/netns.sh) on the test subnet 198.18.0.0/24,
# for t/test_scaleout.sh and t/test_scaleout_faults.sh:
#
#     lb     198.18.0.10  nginx, upstream of the three app hosts; the client
#     app1-3 198.18.0.11-13  stockade (master, workers, reaper) on TCP :9000
#     pg1    198.18.0.21  PostgreSQL primary
#     pg2    198.18.0.22  its hot standby, streaming, synchronous
#     redis  198.18.0.31  Redis (the coupon gate)
#
#     . t/lib/preamble.sh; . t/lib/netns.sh; . t/lib/scaleout.sh
#     netns_init || exit 77
#     stack_init && trap cleanup EXIT && start_all
#
# Every app host's database_url lists both database hosts with
# target_session_attrs=read-write: libpq, not stockade, finds the primary.
# APP_EXTRA_CONF, when set, is appended to every app host's stockade.conf.
# t/faults/inject_hosts.sh sources it too (with STACK_DIR and NETNS_PREFIX
# exported) to act on the hosts of a running test.
NET=198.18.0
LB=$NET.10
PG1=$NET.21
PG2=$NET.22
REDIS=$NET.31
APP_PORT=9000
APP_WORKERS=3
HTTP_PORT=8080
APP2_PORT=8082 # app2 alone, for orders that must be app2's
DATABASE_URL="host=$PG1,$PG2 port=5432,5432 dbname=stockade user=stockade target_session_attrs=read-write connect_timeout=2"

app_addr() {
	printf '%s.%s\n' "$NET" $((10 + $1))
}

# curl runs on the lb host, the only one nginx listens on: http and
# http_parallel (t/lib/assert.sh) call curl through this function.
curl() {
	ip netns exec "${NETNS_PREFIX}lb" curl "$@"
}

# ---------------------------------------------------------------------------
# PostgreSQL: a primary and a streaming standby, on TCP in their own hosts;
# each also has a unix socket directory (pg1-run, pg2-run) for the test's
# own psql.  $STACK_DIR/pg-run, which stack_psql and the audit use, is a
# link to the current primary's.

pg_as() {
	local host=$1
	shift
	(cd "$STACK_DIR" && netns_exec "$host" runuser -u "$STACK_PG_OS_USER" -- "$@")
}

# pg_conf NAME ADDR [PRIMARY_ADDR]: the server's settings; with
# PRIMARY_ADDR, those of a standby streaming from it.  fsync is off as in
# every test stack: the machine does not crash here, the servers do.
# synchronous_commit stays on: with synchronous_standby_names set on the
# primary, a commit is acknowledged once the standby has it.
pg_conf() {
	{
		printf "listen_addresses = '%s'\n" "$2"
		printf "unix_socket_directories = '%s'\n" "$STACK_DIR/$1-run"
		printf "shared_preload_libraries = 'pg_stat_statements'\n"
		printf 'max_connections = 100\nlog_min_messages = warning\n'
		printf 'fsync = off\nfull_page_writes = off\nsynchronous_commit = on\n'
		if [ -n "${3:-}" ]; then
			printf "primary_conninfo = 'host=%s port=5432 user=postgres application_name=%s'\n" "$3" "$1"
		fi
	} >"$STACK_DIR/$1-data/stack.conf"
	_stack_pg_owner "$STACK_DIR/$1-data/stack.conf"
}

pg_start() {
	pg_as "$1" "$STACK_PG_BIN/pg_ctl" -D "$STACK_DIR/$1-data" -l "$STACK_DIR/$1.log" -w -t 60 start >/dev/null ||
		_stack_fail "PostgreSQL $1 did not start" "$STACK_DIR/$1.log"
}

# pg_stop NAME MODE: pg_ctl stop; signals the postmaster by its PID file.
pg_stop() {
	pg_as "$1" "$STACK_PG_BIN/pg_ctl" -D "$STACK_DIR/$1-data" status >/dev/null 2>&1 || return 0
	pg_as "$1" "$STACK_PG_BIN/pg_ctl" -D "$STACK_DIR/$1-data" -m "$2" -w -t 30 stop >/dev/null 2>&1
}

pg_psql() {
	"$STACK_PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$STACK_DIR/$1-run" -U postgres -d "${3:-stockade}" <<<"$2"
}

start_primary() {
	local d=$STACK_DIR/pg1-data
	mkdir -p "$STACK_DIR/pg1-run" "$STACK_DIR/pg2-run" && mkdir -m 0700 "$d" "$STACK_DIR/pg2-data" &&
		touch "$STACK_DIR/pg1.log" "$STACK_DIR/pg2.log" &&
		_stack_pg_owner "$STACK_DIR"/pg[12]-run "$STACK_DIR"/pg[12]-data "$STACK_DIR"/pg[12].log || return 1
	pg_as pg1 "$STACK_PG_BIN/initdb" -D "$d" --auth=trust -U postgres --encoding=UTF8 \
		--locale=C --no-sync >>"$STACK_DIR/pg1.log" 2>&1 || _stack_fail "initdb failed" "$STACK_DIR/pg1.log" || return 1
	printf "\ninclude 'stack.conf'\n" >>"$d/postgresql.conf"
	printf 'host all all %s.0/24 trust\nhost replication all %s.0/24 trust\n' "$NET" "$NET" >>"$d/pg_hba.conf"
	pg_conf pg1 "$PG1"
	pg_start pg1 || return 1
	ln -sfn pg1-run "$STACK_DIR/pg-run"
	pg_psql pg1 "CREATE ROLE stockade LOGIN; CREATE DATABASE stockade OWNER stockade" postgres &&
		pg_psql pg1 'CREATE EXTENSION pg_stat_statements'
}

# start_standby: pg_basebackup over the test network from pg2's host, then
# a hot standby streaming from pg1; once it streams, pg1 waits for it at
# every commit (synchronous_standby_names).
start_standby() {
	local i state
	pg_as pg2 "$STACK_PG_BIN/pg_basebackup" -h "$PG1" -U postgres -D "$STACK_DIR/pg2-data" \
		-X stream -c fast --no-sync >>"$STACK_DIR/pg2.log" 2>&1 ||
		_stack_fail "pg_basebackup failed" "$STACK_DIR/pg2.log" || return 1
	pg_conf pg2 "$PG2" "$PG1"
	pg_as pg2 touch "$STACK_DIR/pg2-data/standby.signal" || return 1
	pg_start pg2 || return 1
	pg_psql pg1 "ALTER SYSTEM SET synchronous_standby_names = 'pg2'; SELECT pg_reload_conf()" >/dev/null || return 1
	for ((i = 0; i < 300; i++)); do
		state=$(pg_psql pg1 "SELECT state || ' ' || sync_state FROM pg_stat_replication
		    WHERE application_name = 'pg2'" 2>/dev/null)
		[ "$state" = "streaming sync" ] && return 0
		sleep 0.1
	done
	_stack_fail "pg2 does not stream synchronously (state: '$state')" "$STACK_DIR/pg2.log"
}

# ---------------------------------------------------------------------------
# Redis, stockade and nginx.

start_redis() {
	_stack_spawn redis "$STACK_DIR/redis.log" ip netns exec "${NETNS_PREFIX}redis" \
		redis-server --bind "$REDIS" --port 6379 --protected-mode no \
		--unixsocket "$STACK_DIR/redis.sock" --unixsocketperm 700 \
		--save '' --appendonly no --daemonize no --dir "$STACK_DIR" --logfile ''
	_stack_wait_for 30 _stack_redis_ping || _stack_fail "redis did not start" "$STACK_DIR/redis.log"
}

# app_conf N GATE: app host N's stockade.conf.
app_conf() {
	cat >"$STACK_DIR/app$1.conf" <<-EOF
		# written by t/lib/scaleout.sh
		listen = $(app_addr "$1"):$APP_PORT
		workers = $APP_WORKERS
		database_url = $DATABASE_URL
		redis_url = redis://$REDIS:6379
		auth_secret_file = $STACK_DIR/secret
		log_level = info
		reaper_interval = 100ms
		coupon_gate = $2
		${APP_EXTRA_CONF:-}
	EOF
}

_app_listening() {
	[ -n "$(netns_exec "app$1" ss -tlnH "sport = :$APP_PORT")" ]
}

start_app() {
	local log=$STACK_DIR/app$1.log
	_stack_spawn "app$1" "$log" ip netns exec "${NETNS_PREFIX}app$1" \
		"$STOCKADE_BIN" serve -c "$STACK_DIR/app$1.conf"
	# Out of the job table: bash would print "Killed" when part 2 kills it.
	disown "$(stack_pid "app$1")"
	_stack_wait_for 30 _app_listening "$1" || _stack_fail "app$1 does not listen" "$log"
}

# app_pids N: the master of app host N and its children, one a line.
app_pids() {
	local pid
	pid=$(stack_pid "app$1") || return 0
	printf '%s\n' "$pid"
	pgrep -P "$pid" || true
}

# stop_app N [SIGNAL]: SIGTERM (default) or SIGKILL to the master and its
# children at once, by PID; waits until all are gone.
stop_app() {
	local pids pid
	pids=$(app_pids "$1")
	for pid in $pids; do
		kill -s "${2:-TERM}" "$pid" 2>/dev/null || true
	done
	for pid in $pids; do
		_stack_stop_pid "$pid" 10 TERM || return 1
	done
	rm -f "$STACK_DIR/app$1.pid"
}

write_nginx_conf() {
	local d=$STACK_DIR n
	{
		printf 'daemon off;\nworker_processes 2;\nuser root root;\n'
		printf 'pid %s/nginx.pid;\nerror_log %s/nginx-error.log notice;\n' "$d" "$d"
		printf 'events { worker_connections 1024; }\n'
		printf 'http {\n'
		# The request's time and, per upstream tried, the time to connect
		# ("-": never connected, so nothing was sent to it).
		# shellcheck disable=SC2016 # nginx variables
		printf '\tlog_format scale '\''$msec $status "$upstream_addr" "$upstream_status" "$request" $request_time "$upstream_connect_time"'\'';\n'
		printf '\taccess_log %s/nginx-access.log scale;\n' "$d"
		printf '\tclient_body_temp_path %s/nginx-tmp/body;\n\tfastcgi_temp_path %s/nginx-tmp/fastcgi;\n' "$d" "$d"
		printf '\tproxy_temp_path %s/nginx-tmp/proxy;\n\tscgi_temp_path %s/nginx-tmp/scgi;\n' "$d" "$d"
		printf '\tuwsgi_temp_path %s/nginx-tmp/uwsgi;\n' "$d"
		printf '\tupstream stockade_fcgi {\n'
		for n in 1 2 3; do
			printf '\t\tserver %s:%s;\n' "$(app_addr "$n")" "$APP_PORT"
		done
		printf '\t}\n'
		# nginx's default, spelled out: the next host is tried when the
		# connection fails or times out, and never for a POST once it was
		# sent (no non_idempotent): it may have committed.
		printf '\tfastcgi_next_upstream error timeout;\n'
		# The catalogue microcache's zone (nginx/stockade.conf); the
		# cache is off here, as in t/lib/stack.sh by default: the rushes
		# count what the app hosts answer.
		printf '\tfastcgi_cache_path %s/nginx-tmp/catalogue levels=1 keys_zone=stockade_catalogue:1m max_size=16m inactive=1m use_temp_path=off;\n' "$d"
		printf '\tserver {\n\t\tlisten %s:%s;\n' "$LB" "$HTTP_PORT"
		printf '\t\tinclude %s/nginx/stockade.conf;\n' "$STOCKADE_SRCDIR"
		# shellcheck disable=SC2016 # an nginx variable
		printf '\t\tset $stockade_catalogue_nocache 1;\n\t}\n'
		# app2 alone: what the test needs to know was app2's.
		printf '\tserver {\n\t\tlisten %s:%s;\n\t\tlocation / {\n' "$LB" "$APP2_PORT"
		printf '\t\t\tfastcgi_pass %s:%s;\n\t\t\tfastcgi_keep_conn off;\n' "$(app_addr 2)" "$APP_PORT"
		for n in REQUEST_METHOD:request_method REQUEST_URI:request_uri DOCUMENT_URI:document_uri \
			QUERY_STRING:query_string CONTENT_TYPE:content_type CONTENT_LENGTH:content_length \
			SERVER_PROTOCOL:server_protocol REMOTE_ADDR:remote_addr REMOTE_PORT:remote_port; do
			printf '\t\t\tfastcgi_param %s $%s;\n' "${n%%:*}" "${n#*:}"
		done
		printf '\t\t}\n\t}\n}\n'
	} >"$d/nginx.conf"
}

_lb_listening() {
	[ -n "$(netns_exec lb ss -tlnH "sport = :$HTTP_PORT")" ]
}

start_nginx() {
	mkdir -p "$STACK_DIR/nginx-tmp" || return 1
	write_nginx_conf
	_stack_spawn nginx "$STACK_DIR/nginx-error.log" ip netns exec "${NETNS_PREFIX}lb" \
		nginx -p "$STACK_DIR/" -e "$STACK_DIR/nginx-error.log" -c "$STACK_DIR/nginx.conf"
	_stack_wait_for 30 _lb_listening || _stack_fail "nginx does not listen" "$STACK_DIR/nginx-error.log"
}

start_all() {
	local n
	netns_host lb "$LB" && netns_host pg1 "$PG1" && netns_host pg2 "$PG2" &&
		netns_host redis "$REDIS" || return 1
	for n in 1 2 3; do
		netns_host "app$n" "$(app_addr "$n")" || return 1
	done
	start_primary && start_standby && start_redis || return 1
	for n in 1 2 3; do
		app_conf "$n" redis
	done
	STACK_CONF=$STACK_DIR/app1.conf
	netns_exec app1 "$STOCKADE_BIN" migrate -c "$STACK_CONF" >>"$STACK_DIR/app1.log" 2>&1 ||
		_stack_fail "migrate failed" "$STACK_DIR/app1.log" || return 1
	for n in 1 2 3; do
		start_app "$n" || return 1
	done
	start_nginx && stack_wait_ready
}

# cleanup: every process by PID (app hosts, PostgreSQL, then stack_cleanup
# for nginx and Redis and the directory), then the namespaces.
cleanup() {
	local rc=$? n
	for n in 1 2 3; do
		stop_app "$n" KILL || rc=1
	done
	pg_stop pg1 immediate || rc=1
	pg_stop pg2 immediate || rc=1
	(exit "$rc")
	stack_cleanup || rc=1
	netns_cleanup
	exit "$rc"
}
