#!/usr/bin/env bash
# t/test_scaleout.sh: stockade on several hosts (docs/scaling.md).  The test
# builds its own network of hosts out of network namespaces (t/lib/netns.sh)
# on the test subnet 198.18.0.0/24, reachable only from inside them:
#
#     lb     198.18.0.10  nginx, upstream of the three app hosts; the client
#     app1-3 198.18.0.11-13  stockade (master, workers, reaper) on TCP :9000
#     pg1    198.18.0.21  PostgreSQL primary
#     pg2    198.18.0.22  its hot standby, streaming, synchronous
#     redis  198.18.0.31  Redis (the coupon gate)
#
# Every app host's database_url lists both database hosts with
# target_session_attrs=read-write: libpq, not stockade, finds the primary.
#
# 1. Spread: the order, points and coupon rushes over the three app hosts
#    give the exact results one host gives (with the coupon gate on, then
#    off), and every host served part of them.
# 2. An app host SIGKILLed (master, workers, reaper) in the middle of an
#    order rush: nginx sends new requests to the other two (connection
#    errors only; a request already sent is never retried: POST is not
#    idempotent), nothing is oversold, and the dead host's pending orders
#    expire through the other hosts' reapers.
# 3. The primary stopped (-m immediate) under load and the standby promoted
#    with pg_ctl promote: the workers find the new primary by themselves;
#    the time from the promotion to the first 201 is measured, and every
#    order acknowledged with a 201 is on the new primary (synchronous
#    replication: acknowledged means on both).
#
# Needs root: network namespaces.  When `ip netns add` is refused (a
# container without CAP_SYS_ADMIN), the test is skipped (exit 77), saying so.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh); SCALE_PARTS,
# the parts to run (default: test_spread test_host_killed test_failover
# test_read_only; each part also runs alone, e.g. SCALE_PARTS=test_failover).
# APP_EXTRA_CONF, lines added to every app host's stockade.conf.
#
# t/test_scaleout_faults.sh and t/faults/inject_hosts.sh source this file
# with SCALEOUT_LIB=1 for its hosts and servers (main is not run).

# shellcheck source=t/lib/preamble.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/preamble.sh"
# shellcheck source=t/lib/netns.sh
. "$T_DIR/lib/netns.sh"
# shellcheck source=t/lib/coupons.sh
. "$T_DIR/lib/coupons.sh"

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
		# written by t/test_scaleout.sh
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
	start_app_hosts
}

# start_app_hosts: the migrations (through app1), then the three app
# hosts, their stockade.conf written, and nginx in front of them.
start_app_hosts() {
	local n
	STACK_CONF=$STACK_DIR/app1.conf
	netns_exec app1 "$STOCKADE_BIN" migrate -c "$STACK_CONF" >>"$STACK_DIR/app1.log" 2>&1 ||
		_stack_fail "migrate failed" "$STACK_DIR/app1.log" || return 1
	for n in 1 2 3; do
		start_app "$n" || return 1
	done
	start_nginx && stack_wait_ready
}

# stop_app_hosts: SIGKILL to the three app hosts; 1 if one lingers.
stop_app_hosts() {
	local n rc=0
	for n in 1 2 3; do
		stop_app "$n" KILL || rc=1
	done
	return "$rc"
}

# cleanup: every process by PID (app hosts, PostgreSQL, then stack_cleanup
# for nginx and Redis and the directory), then the namespaces.
cleanup() {
	local rc=$?
	stop_app_hosts || rc=1
	pg_stop pg1 immediate || rc=1
	pg_stop pg2 immediate || rc=1
	(exit "$rc")
	stack_cleanup || rc=1
	netns_cleanup
	exit "$rc"
}

# ---------------------------------------------------------------------------
# 1. The rushes, spread over the three hosts.

stock_of() {
	stack_psql "SELECT stock FROM product_options WHERE id = $1"
}

# order_spec OPTION FIRST LAST: one order of 1 unit of OPTION per user.
order_spec() {
	local u
	for ((u = $2; u <= $3; u++)); do
		printf 'POST\t/api/v1/orders\t%s\t%s\n' "${TOK[$u]}" "$(order_body "$1" 1)"
	done
}

test_order_rush() {
	local opt out
	opt=$(create_product "$ADMIN" "spread rush" 50) || return
	order_spec "$opt" 1 200 >"$(_assert_tmp)/orders.spec"
	out=$(_assert_tmp)/orders.out
	http_parallel 60 "$(_assert_tmp)/orders.spec" >"$out"
	is "$(outcomes "$out")" "201:50,409 out_of_stock:150" \
		"spread: order rush: exactly 50 x 201 of 200, the rest 409 out_of_stock"
	is "$(stock_of "$opt")" 0 "spread: order rush: stock 0, never negative"
	is "$(stack_psql "SELECT count(*) || ' ' || count(DISTINCT o.user_id) FROM orders o
	    JOIN order_items i ON i.order_id = o.id WHERE i.option_id = $opt")" "50 50" \
		"spread: order rush: 50 orders of 50 distinct users"
	audit_clean "spread: after the order rush"
}

test_points_rush() {
	local u=1001 spec out i ids opt
	spec=$(_assert_tmp)/charge.spec
	for ((i = 0; i < 100; i++)); do
		printf 'POST\t/api/v1/points/charge\t%s\t{"amount":100}\n' "${TOK[$u]}"
	done >"$spec"
	out=$(_assert_tmp)/charge.out
	http_parallel 60 "$spec" >"$out"
	is "$(outcomes "$out")" "200:100" "spread: 100 charges of one account at once: all 200"
	is "$(cut -f2 "$out" | jq -r .balance 2>/dev/null | sort -n | paste -sd, -)" \
		"$(seq -s, 100 100 10000)" "spread: the answers carry the balances 100..10000, each once"
	# 30 orders of 100 paid at once with 1,000 points: exactly 10 paid.
	u=1002
	charge "${TOK[$u]}" 1000 || return
	opt=$(create_product "$ADMIN" "pay rush" 100) || return
	spec=$(_assert_tmp)/pay-orders.spec
	for ((i = 0; i < 30; i++)); do
		printf 'POST\t/api/v1/orders\t%s\t%s\n' "${TOK[$u]}" "$(order_body "$opt" 1)"
	done >"$spec"
	http_parallel 30 "$spec" >"$out"
	is "$(count_status 201 "$out")" 30 "spread: 30 orders of 100 placed"
	ids=$(cut -f2 "$out" | jq -r .id 2>/dev/null)
	for i in $ids; do
		printf 'POST\t/api/v1/orders/%s/pay\t%s\t\n' "$i" "${TOK[$u]}"
	done >"$spec"
	http_parallel 30 "$spec" >"$out"
	is "$(outcomes "$out")" "200:10,409 insufficient_points:20" \
		"spread: 30 payments at once with points for 10: 10 paid, 20 insufficient_points"
	is "$(stack_psql "SELECT (SELECT balance FROM point_accounts WHERE user_id = $u) || ' ' ||
	    (SELECT sum(amount) FROM point_ledger WHERE user_id = $u) || ' ' ||
	    (SELECT count(*) FROM orders WHERE user_id = $u AND status = 'paid')")" "0 0 10" \
		"spread: balance 0 = ledger sum 0, 10 orders paid"
	audit_clean "spread: after the points rushes"
}

# test_coupon_rush LABEL: 600 users at once on a policy of 100.
test_coupon_rush() {
	local p out
	p=$(new_policy "$1" 100) || return
	rush_spec "$p" 1 600 "$(_assert_tmp)/coupons.spec" "$(_assert_tmp)/coupons.users"
	out=$(_assert_tmp)/coupons.out
	http_parallel 60 "$(_assert_tmp)/coupons.spec" >"$out"
	rush_checks "spread: $1" "$p" 100 "$(_assert_tmp)/coupons.users" "$out"
	if gate_on; then
		is "$(gate_users "$p")" "$(holders "$p")" "spread: $1: the gate's set holds exactly the 100 holders"
	fi
	check_coupons "spread: after $1"
}

# served_by: how many requests each app host answered, from nginx's log
# ("198.18.0.11:9000=123 ..."), counting the last upstream of each.
served_by() {
	awk -F'"' '$2 != "" { n = split($2, a, ", "); c[a[n]]++ }
	    END { for (h in c) printf "%s=%d\n", h, c[h] }' "$STACK_DIR/nginx-access.log" | sort | paste -sd' ' -
}

test_spread() {
	local by n
	GATE=redis
	test_order_rush
	test_points_rush
	test_coupon_rush "coupon rush, gate redis"
	# The gate off: the same rush, every claim in PostgreSQL.
	for n in 1 2 3; do
		if ! { stop_app "$n" && app_conf "$n" off && start_app "$n"; }; then
			diag "app$n did not restart"
		fi
	done
	GATE=off
	stack_wait_ready
	test_coupon_rush "coupon rush, gate off"
	by=$(served_by)
	diag "requests per app host: $by"
	for n in 1 2 3; do
		like "$by" "$(app_addr "$n"):$APP_PORT=[0-9]*[1-9]" "spread: app$n served part of the rushes"
	done
}

# ---------------------------------------------------------------------------
# 2. An app host killed in the middle of a rush.

test_host_killed() {
	local q opt out bg i ids n502 at pid pids left
	# Five pending orders that app2 placed: nothing else but its reaper
	# would ever expire them, were reapers tied to hosts.
	q=$(create_product "$ADMIN" "app2's orders" 5) || return
	ids=
	for ((i = 1; i <= 5; i++)); do
		STACK_URL="http://$LB:$APP2_PORT" http POST /api/v1/orders "$(order_body "$q" 1)" \
			"${TOK[$((1100 + i))]}"
		ids="$ids${ids:+,}$(created 201 "app2 order")"
	done
	is "$(stack_psql "SELECT count(*) FROM orders WHERE id IN ($ids) AND status = 'pending'")" 5 \
		"host killed: app2 placed 5 pending orders"

	opt=$(create_product "$ADMIN" "kill rush" 150) || return
	order_spec "$opt" 1 400 >"$(_assert_tmp)/kill.spec"
	out=$(_assert_tmp)/kill.out
	http_parallel 30 "$(_assert_tmp)/kill.spec" >"$out" &
	bg=$!
	for ((i = 0; i < 300; i++)); do
		at=$(stack_psql "SELECT count(*) FROM order_items WHERE option_id = $opt")
		[ "$at" -lt 40 ] || break
		sleep 0.02
	done
	pids=$(app_pids 2)
	stop_app 2 KILL || diag "app2 did not die"
	diag "host killed: app2 SIGKILLed at $at orders of the rush"
	wait "$bg"
	left=
	for pid in $pids; do
		! stack_alive "$pid" || left="$left $pid"
	done
	is "$left" "" "host killed: no process of app2 is left"
	n502=$(count_status 502 "$out")
	diag "host killed: rush outcomes $(outcomes "$out")"
	is "$(outcomes "$out" | tr ',' '\n' | grep -v '^201:\|^409 out_of_stock:\|^502 bad_gateway:')" "" \
		"host killed: every answer is 201, 409 out_of_stock or nginx's 502 for a request app2 had taken"
	[ "$n502" -le 30 ]
	ok $? "host killed: at most the 30 requests in flight were lost to the kill ($n502)"
	is "$(stock_of "$opt")" 0 "host killed: the stock sold out, never negative"
	is "$(stack_psql "SELECT count(*) FROM order_items WHERE option_id = $opt")" 150 \
		"host killed: exactly 150 orders of the 150 units"
	n=$(count_status 201 "$out")
	[ "$n" -le 150 ] && [ "$n" -ge $((150 - n502)) ]
	ok $? "host killed: 201s ($n) are the orders but those whose answer the kill lost"
	audit_clean "host killed: after the rush"

	# After the kill: nothing is lost any more, app2 is skipped.
	opt=$(create_product "$ADMIN" "after the kill" 50) || return
	order_spec "$opt" 401 600 >"$(_assert_tmp)/after.spec"
	http_parallel 30 "$(_assert_tmp)/after.spec" >"$out"
	is "$(outcomes "$out")" "201:50,409 out_of_stock:150" \
		"host killed: a rush after the kill: exactly 50 x 201, 150 out_of_stock, no 502"

	# app2's orders run out: app1's and app3's reapers expire them.
	stack_psql "UPDATE orders SET expires_at = now() WHERE id IN ($ids)" >/dev/null
	for ((i = 0; i < 100; i++)); do
		[ "$(stack_psql "SELECT count(*) FROM orders WHERE id IN ($ids) AND status = 'expired'")" = 5 ] && break
		sleep 0.1
	done
	is "$(stack_psql "SELECT count(*) FROM orders WHERE id IN ($ids) AND status = 'expired'") $(stock_of "$q")" \
		"5 5" "host killed: app2's 5 pending orders expired by the other hosts' reapers, stock back to 5"
	audit_clean "host killed: after the expiry"
	start_app 2 || diag "app2 did not restart"
}

# ---------------------------------------------------------------------------
# 3. PostgreSQL failover.

# sync_cost: one-row commits on pg1 with the synchronous standby, and
# with synchronous_commit = local (not waiting for it): what zero loss
# costs per commit, on this machine, over the veth link.
sync_cost() {
	local mode script=$STACK_DIR/commit.sql
	pg_psql pg1 'CREATE TABLE IF NOT EXISTS sync_probe (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())'
	printf 'INSERT INTO sync_probe DEFAULT VALUES;\n' >"$script"
	for mode in on local; do
		PGOPTIONS="-c synchronous_commit=$mode" "$STACK_PG_BIN/pgbench" -n -h "$STACK_DIR/pg1-run" \
			-U postgres -f "$script" -c 1 -t 500 stockade 2>/dev/null |
			awk -v m="$mode" '/latency average/ { printf "synchronous_commit=%s: %s ms per commit\n", m, $4 }'
	done
}

# load_loop N OUT: one client placing orders of 1 unit, one at a time,
# until $STACK_DIR/load.stop exists; a line per request in OUT:
# "START_US END_US STATUS ORDER_ID|- CODE|-".
load_loop() {
	local n=$1 out=$2 res t0 t1 body status id code
	body=$(order_body "$FAILOVER_OPT" 1)
	while [ ! -e "$STACK_DIR/load.stop" ]; do
		t0=${EPOCHREALTIME/./}
		res=$(curl -s -m 15 -w '\n%{http_code}' -H "Authorization: Bearer ${TOK[$((1200 + n))]}" \
			-H 'Content-Type: application/json' -d "$body" "$STACK_URL/api/v1/orders")
		t1=${EPOCHREALTIME/./}
		status=${res##*$'\n'}
		id=-
		code=-
		# The JSON writer puts blanks around the colon.
		[[ $res =~ \"id\"\ *:\ *([0-9]+) ]] && id=${BASH_REMATCH[1]}
		[[ $res =~ \"code\"\ *:\ *\"([^\"]*)\" ]] && code=${BASH_REMATCH[1]}
		printf '%s %s %s %s %s\n' "$t0" "$t1" "$status" "$id" "$code" >>"$out"
	done
}

# load_acked N LOG: whether load_loop's LOG holds at least N 201s.
load_acked() {
	[ "$(awk '$3 == 201' "$2" | wc -l)" -ge "$1" ]
}

test_failover() {
	local n pids=() log=$STACK_DIR/load.log t_stop t_promote first acked missing i errors
	FAILOVER_OPT=$(create_product "$ADMIN" "failover" 100000) || return
	# The test's own session is on pg1, which is about to go.
	sql_close
	diag "failover: $(sync_cost | paste -sd';' -)"
	: >"$log"
	rm -f "$STACK_DIR/load.stop"
	for n in 1 2 3 4; do
		load_loop "$n" "$log" &
		pids+=($!)
	done
	# Stop the primary once orders are being acknowledged (four 201s, 30
	# s at most), not after a fixed time: on a loaded machine the clients
	# may not have had an answer yet.
	_stack_wait_for 30 load_acked 4 "$log"
	t_stop=${EPOCHREALTIME/./}
	pg_stop pg1 immediate || diag "pg1 did not stop"
	# A failover manager (Patroni) needs a moment to decide; so does this.
	sleep 1
	pg_as pg2 "$STACK_PG_BIN/pg_ctl" -D "$STACK_DIR/pg2-data" -w -t 30 promote >/dev/null ||
		diag "pg_ctl promote failed"
	t_promote=${EPOCHREALTIME/./}
	ln -sfn pg2-run "$STACK_DIR/pg-run"
	# Load until every client has had three 201s after the promotion, 20 s
	# at most.
	for ((i = 0; i < 200; i++)); do
		[ "$(awk -v t="$t_promote" '$1 >= t && $3 == 201' "$log" | wc -l)" -ge 12 ] && break
		sleep 0.1
	done
	touch "$STACK_DIR/load.stop"
	wait "${pids[@]}"
	is "$(pg_psql pg2 'SELECT pg_is_in_recovery()')" f "failover: pg2 is the primary"
	first=$(awk -v t="$t_promote" '$1 >= t && $3 == 201 { print $2 }' "$log" | sort -n | head -n 1)
	[ -n "$first" ]
	ok $? "failover: orders succeed again after the promotion"
	[ -n "$first" ] || first=$t_promote
	diag "failover: $(awk -v s="$t_stop" '$1 < s' "$log" | wc -l) requests before the stop;" \
		"first 201 $(((first - t_promote) / 1000)) ms after pg_ctl promote returned," \
		"$(((first - t_stop) / 1000)) ms after the primary stopped"
	errors=$(awk -v s="$t_stop" '$1 >= s && $3 != 201 { print $3 " " $5 }' "$log" | sort | uniq -c |
		awk '{ printf "%s%s %s x%d", sep, $2, $3, $1; sep = ", " }')
	diag "failover: answers other than 201 from the stop on: ${errors:-none}"
	is "$(awk '$3 != 201 && $3 != 503' "$log")" "" \
		"failover: every answer was 201 or 503 (never 500: nothing of ours mistakes a failover for a bug)"
	# Every order acknowledged is on the new primary.
	is "$(awk '$3 == 201 && $4 !~ /^[0-9]+$/' "$log")" "" "failover: every 201 carries its order's id"
	acked=$(awk '$3 == 201 && $4 ~ /^[0-9]+$/ { print $4 }' "$log" | paste -sd, -)
	n=$(awk '$3 == 201' "$log" | wc -l)
	missing=$(stack_psql "SELECT count(*) FROM unnest('{$acked}'::bigint[]) a(id)
	    WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = a.id)")
	is "$missing" 0 "failover: all $n orders acknowledged with 201 are on the new primary"
	n=$(awk -v s="$t_stop" '$2 < s && $3 == 201' "$log" | wc -l)
	[ "$n" -ge 1 ]
	ok $? "failover: $n of them were acknowledged before the primary stopped"
	like "$(pg_psql pg2 "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'stockade%'")" \
		'^([4-9]|[1-9][0-9]+)$' "failover: the app hosts' workers are connected to pg2"
	audit_clean "failover: after the failover, on pg2"
	# Every host writes on the new primary.
	test_order_rush
}

# read_only_on PG: whether a new session of PG starts read-only.
read_only_on() {
	[ "$(pg_psql "$1" 'SHOW default_transaction_read_only')" = on ]
}

# 4. The primary turned read-only under the workers (an old primary fenced
# by its manager; a standby reached without target_session_attrs): a
# write fails with SQLSTATE 25006.  That is the database being unavailable
# for writes, a 503 like a lost connection, never a 500; the connection is
# dropped, so that the next one looks for a primary again (libpq refuses a
# read-only server with target_session_attrs=read-write), and the service
# comes back by itself once the server takes writes.
test_read_only() {
	local opt spec out before i t0 t1
	opt=$(create_product "$ADMIN" "read-only" 1000) || return
	pg_psql pg2 "ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()" >/dev/null
	# pg_reload_conf only signals the postmaster: wait until it has
	# reloaded (a new session starts read-only), by when it has passed the
	# reload on to every session (each applies it before its next
	# statement), rather than for a fixed time.
	_stack_wait_for 30 read_only_on pg2
	before=$(stack_psql "SELECT count(*) FROM orders")
	order_spec "$opt" 1 60 >"$(_assert_tmp)/ro.spec"
	out=$(_assert_tmp)/ro.out
	http_parallel 10 "$(_assert_tmp)/ro.spec" >"$out"
	diag "read-only: outcomes $(outcomes "$out")"
	is "$(outcomes "$out")" "503 database_unavailable:60" \
		"read-only: 60 orders on a read-only primary: all 503 database_unavailable, none 500"
	is "$(stack_psql "SELECT count(*) FROM orders")" "$before" "read-only: nothing was written"
	t0=${EPOCHREALTIME/./}
	pg_psql pg2 "ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()" >/dev/null
	for ((i = 0; i < 100; i++)); do
		http POST /api/v1/orders "$(order_body "$opt" 1)" "${TOK[1]}"
		[ "$HTTP_STATUS" = 201 ] && break
		sleep 0.1
	done
	t1=${EPOCHREALTIME/./}
	is "$HTTP_STATUS" 201 "read-only: writable again: orders succeed"
	diag "read-only: first 201 $(((t1 - t0) / 1000)) ms after the server took writes again"
	http_parallel 10 "$(_assert_tmp)/ro.spec" >"$out"
	is "$(outcomes "$out")" "201:60" "read-only: then 60 orders at once: all 201"
	audit_clean "read-only: after"
}

# scale_begin: the namespaces (or exit 77 to skip where they cannot be
# made), the stack's directory and the EXIT trap, and STACK_URL through the
# load balancer; t/test_scaleout_faults.sh begins the same way.
scale_begin() {
	if ! netns_init; then
		echo "SKIP: network namespaces cannot be created here ('ip netns add' failed; needs root)" >&2
		netns_cleanup
		exit 77
	fi
	# shellcheck disable=SC2119 # a new temporary directory, not the script's $1
	stack_init || exit 99
	trap cleanup EXIT
	STACK_URL="http://$LB:$HTTP_PORT"
}

# scale_main USERS PARTS: scale_begin, the hosts (start_all and cleanup,
# which t/test_sentinel.sh defines anew), a token for each user 1..USERS,
# then each part of PARTS in turn.
scale_main() {
	local users=$1 parts=$2 u t tokens
	scale_begin
	start_all || exit 99
	sql_open
	ADMIN=$(stack_token 9000 admin)
	tokens=$(_assert_tmp)/tokens
	mint_tokens_bulk 1 "$users" >"$tokens" || exit 99
	while IFS=$'\t' read -r u t; do
		TOK[$u]=$t
	done <"$tokens"
	for t in $parts; do
		u=$SECONDS
		"$t"
		diag "$t: $((SECONDS - u)) s"
	done
	done_testing
}

main() {
	scale_main 1300 "${SCALE_PARTS:-test_spread test_host_killed test_failover test_read_only}"
}

# Sourced with SCALEOUT_LIB=1 for the hosts alone (t/test_scaleout_faults.sh,
# t/faults/inject_hosts.sh) or for scale_main too (t/test_sentinel.sh,
# which defines start_all and cleanup anew and runs its own parts).
[ -n "${SCALEOUT_LIB:-}" ] || main
