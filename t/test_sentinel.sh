#!/usr/bin/env bash
# t/test_sentinel.sh: the coupon gate's Redis failing over under Redis
# Sentinel (docs/scaling.md, "Redis failover").  Hosts are network
# namespaces on the test subnet as in t/test_scaleout.sh, whose hosts and
# servers this test reuses (it sources that file with SCALEOUT_LIB=1):
#
#     lb       198.18.0.10     nginx, upstream of the three app hosts; the client
#     app1-3   198.18.0.11-13  stockade, redis_sentinels = the three Sentinels
#     pg1      198.18.0.21     PostgreSQL (one primary: the truth)
#     r1       198.18.0.31     Redis primary
#     r2       198.18.0.32     Redis replica of r1
#     s1-3     198.18.0.41-43  Redis Sentinels (redis-server --sentinel),
#                              quorum 2, down-after-milliseconds 1000
#
# Every app host's redis_url names 198.18.0.99, which no host has: only
# the Sentinels lead a worker to Redis.
#
# 1. Discovery: a coupon rush with the gate on r1, the primary the Sentinels
#    name: exactly N, the gate's set on r1 holds exactly the holders.
# 2. Failover mid-rush: clients claim coupons, one request at a time each,
#    and r1 is SIGKILLed; the Sentinels promote r2, the workers find it
#    through them, and the gate is rebuilt on r2 from the database (r2's
#    run_id differs from the stamp r1's gate left, replicated to r2).
#    Coupons issued: exactly N, one per user, the holders exactly the users
#    answered 201, every other answer 409 sold_out; the audit is clean.
#    Measured: the kill to r2's promotion, to the Sentinels naming r2, to
#    the gate's rebuild on r2, to the first 201; the answers in between.
# 3. Switchover with the old primary alive: r1 restarts (empty) as r2's
#    replica; in the middle of a rush, SENTINEL FAILOVER promotes it back.
#    r2 stays a primary until the Sentinels demote it (about 11 s: they
#    wait for it to report itself a primary for 8 s), then cuts its
#    clients off; workers still on it use it as a gate till then (the
#    database decides either way: exact), and then follow r1.  Measured:
#    promotion, demotion.
#
# Needs root (network namespaces); skipped (exit 77), saying so, where
# `ip netns add` is refused.  Environment: as t/test_scaleout.sh;
# SENTINEL_PARTS (default: test_discovery test_failover test_switchover;
# test_failover and test_switchover need the parts before them).

SCALEOUT_LIB=1
# shellcheck source=t/test_scaleout.sh
. "$(dirname "$0")/test_scaleout.sh"

R1=$NET.31
R2=$NET.32
REDIS=$NET.99 # redis_url: no host has this address
MASTER=gate # redis_master_name: not the default, so the key is read
APP_WORKERS=2
# The failover rush: a policy of FAILOVER_N coupons, claimed by
# CLAIM_CLIENTS clients one request at a time, each over its own users.
FAILOVER_N=${SENTINEL_N:-600}
CLAIM_CLIENTS=6
CLAIM_USERS=300 # per client: 1,800 users in all

sentinel_addr() {
	printf '%s.%s\n' "$NET" $((40 + ${1#s}))
}

now_us() {
	printf '%s\n' "${EPOCHREALTIME/./}"
}

# r_cli NAME ARGS...: redis-cli on Redis host NAME's unix socket.
r_cli() {
	local name=$1
	shift
	redis-cli -s "$STACK_DIR/$name.sock" "$@"
}

# s_cli NAME ARGS...: redis-cli to Sentinel NAME over the test network.
s_cli() {
	local name=$1
	shift
	netns_exec lb redis-cli -h "$(sentinel_addr "$name")" -p 26379 "$@"
}

_r_up() {
	[ "$(r_cli "$1" PING 2>/dev/null)" = PONG ]
}

# redis_start NAME ADDR [PRIMARY]: Redis on host NAME, a replica of PRIMARY
# when given.  Each has its own directory: a replica writes the dump it
# receives there, and a restarted primary must not load another's.
redis_start() {
	local args=(--bind "$2" --port 6379 --protected-mode no
		--unixsocket "$STACK_DIR/$1.sock" --unixsocketperm 700
		--save '' --appendonly no --daemonize no --dir "$STACK_DIR/$1-data" --logfile '')
	[ -z "${3:-}" ] || args+=(--replicaof "$3" 6379)
	mkdir -p "$STACK_DIR/$1-data" && rm -f "$STACK_DIR/$1-data/dump.rdb" || return 1
	_stack_spawn "$1" "$STACK_DIR/$1.log" ip netns exec "${NETNS_PREFIX}$1" redis-server "${args[@]}"
	# Out of the job table: bash would print "Killed" when part 2 kills it.
	disown "$(stack_pid "$1")"
	_stack_wait_for 30 _r_up "$1" || _stack_fail "$1 did not start" "$STACK_DIR/$1.log"
}

# sentinel_start NAME: a Sentinel on host NAME watching r1, quorum 2.  A
# primary that does not answer for a second is down for this Sentinel;
# failover-timeout 5 s bounds a failover that stalls.
sentinel_start() {
	local conf=$STACK_DIR/$1.conf
	cat >"$conf" <<-EOF
		port 26379
		bind $(sentinel_addr "$1")
		protected-mode no
		dir $STACK_DIR
		sentinel monitor $MASTER $R1 6379 2
		sentinel down-after-milliseconds $MASTER 1000
		sentinel failover-timeout $MASTER 5000
		sentinel parallel-syncs $MASTER 1
	EOF
	_stack_spawn "$1" "$STACK_DIR/$1.log" ip netns exec "${NETNS_PREFIX}$1" \
		redis-server "$conf" --sentinel
}

# sentinel_field NAME FIELD: a field of SENTINEL master's answer on NAME.
sentinel_field() {
	s_cli "$1" SENTINEL master "$MASTER" 2>/dev/null | awk -v f="$2" 'p { print; exit } $0 == f { p = 1 }'
}

# named_by NAME: "HOST:PORT" of the primary Sentinel NAME names.
named_by() {
	s_cli "$1" SENTINEL get-master-addr-by-name "$MASTER" 2>/dev/null | paste -sd: -
}

# _sentinels_ready ADDR: every Sentinel names ADDR, knows the two others and
# one replica that is up.
_sentinels_ready() {
	local s
	for s in s1 s2 s3; do
		[ "$(named_by "$s")" = "$1:6379" ] && [ "$(sentinel_field "$s" num-other-sentinels)" = 2 ] &&
			[ "$(sentinel_field "$s" num-slaves)" -ge 1 ] &&
			s_cli "$s" SENTINEL replicas "$MASTER" | grep -qx 'slave' || return 1
	done
}

role_of() {
	r_cli "$1" ROLE 2>/dev/null | head -n 1
}

run_id_of() {
	r_cli "$1" INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^run_id://p'
}

_replica_synced() {
	[ "$(role_of "$1")" = slave ] &&
		r_cli "$1" INFO replication 2>/dev/null | grep -q '^master_link_status:up'
}

start_all() {
	local n s
	netns_host lb "$LB" && netns_host pg1 "$PG1" && netns_host r1 "$R1" && netns_host r2 "$R2" || return 1
	for s in s1 s2 s3; do
		netns_host "$s" "$(sentinel_addr "$s")" || return 1
	done
	for n in 1 2 3; do
		netns_host "app$n" "$(app_addr "$n")" || return 1
	done
	start_primary && redis_start r1 "$R1" && redis_start r2 "$R2" "$R1" || return 1
	for s in s1 s2 s3; do
		sentinel_start "$s"
	done
	_stack_wait_for 60 _replica_synced r2 || _stack_fail "r2 does not replicate r1" "$STACK_DIR/r2.log" || return 1
	_stack_wait_for 60 _sentinels_ready "$R1" ||
		_stack_fail "the Sentinels do not see each other and r2" "$STACK_DIR"/s[123].log || return 1
	# stack_redis and gate_users (t/lib/coupons.sh) ask the primary.
	ln -sfn r1.sock "$STACK_DIR/redis.sock"
	for n in 1 2 3; do
		app_conf "$n" redis
		printf 'redis_sentinels = %s:26379, %s, %s:26379\nredis_master_name = %s\n' \
			"$(sentinel_addr s1)" "$(sentinel_addr s2)" "$(sentinel_addr s3)" "$MASTER" >>"$STACK_DIR/app$n.conf"
	done
	start_app_hosts
}

# cleanup: the app hosts, PostgreSQL, the Sentinels and Redis servers, by
# PID, then stack_cleanup (nginx, the directory) and the namespaces.
cleanup() {
	local rc=$? n
	stop_app_hosts || rc=1
	sql_close 2>/dev/null
	pg_stop pg1 immediate || rc=1
	for n in s1 s2 s3 r1 r2; do
		_stack_stop_named "$n" || rc=1
	done
	(exit "$rc")
	stack_cleanup || rc=1
	netns_cleanup
	exit "$rc"
}

# followed FROM TO: the app hosts whose workers logged that the Sentinels
# name TO as the primary, after FROM ("": at the first connection), e.g.
# "app1 app2 app3".
followed() {
	local n hosts='' line
	line="the Sentinels name $2:6379 as primary \"$MASTER\"${1:+, was $1:6379}"
	for n in 1 2 3; do
		grep -qF "$line" "$STACK_DIR/app$n.log" && hosts="$hosts${hosts:+ }app$n"
	done
	printf '%s\n' "$hosts"
}

# ---------------------------------------------------------------------------
# 1. Discovery.

test_discovery() {
	local p out
	p=$(new_policy "sentinel: discovery" 100) || return
	rush_spec "$p" 1 300 "$(_assert_tmp)/d.spec" "$(_assert_tmp)/d.users"
	out=$(_assert_tmp)/d.out
	http_parallel 30 "$(_assert_tmp)/d.spec" >"$out"
	rush_checks "discovery" "$p" 100 "$(_assert_tmp)/d.users" "$out"
	is "$(gate_users "$p")" "$(holders "$p")" \
		"discovery: the gate's set on r1, the primary the Sentinels name, holds exactly the 100 holders"
	is "$(r_cli r1 GET "$(rkey "$p" run)")" "$(run_id_of r1)" "discovery: the gate was built on r1"
	is "$(followed "" "$R1")" "app1 app2 app3" "discovery: every app host logged r1 as the primary the Sentinels name"
	check_coupons "discovery"
}

# ---------------------------------------------------------------------------
# 2 and 3: rushes during which the primary changes.

# claim_loop POLICY FIRST LAST OUT: one client claiming a coupon of POLICY
# for each user FIRST..LAST in turn, one request at a time, until
# $STACK_DIR/claim.stop exists or three answers in a row are sold_out; a
# line per request in OUT: "START_US END_US STATUS USER CODE|-".
claim_loop() {
	local p=$1 u res t0 t1 status code soldout=0
	for ((u = $2; u <= $3; u++)); do
		[ ! -e "$STACK_DIR/claim.stop" ] || break
		[ ! -e "$STACK_DIR/claim.slow" ] || sleep 0.15
		t0=$(now_us)
		res=$(curl -s -m 15 -w '\n%{http_code}' -X POST -H "Authorization: Bearer ${TOK[$u]}" \
			"$STACK_URL/api/v1/coupons/$p/issue")
		t1=$(now_us)
		status=${res##*$'\n'}
		code=-
		[[ $res =~ \"code\"\ *:\ *\"([^\"]*)\" ]] && code=${BASH_REMATCH[1]}
		printf '%s %s %s %s %s\n' "$t0" "$t1" "$status" "$u" "$code" >>"$4"
		if [ "$code" = sold_out ]; then
			soldout=$((soldout + 1))
			[ "$soldout" -lt 3 ] || break
		else
			soldout=0
		fi
	done
}

# claim_start POLICY FIRST_USER CLIENTS OUT: CLIENTS claim_loops over
# CLAIM_USERS users each from FIRST_USER on; their PIDs in CLAIM_PIDS.
claim_start() {
	local k first
	: >"$4"
	rm -f "$STACK_DIR/claim.stop" "$STACK_DIR/claim.slow"
	CLAIM_PIDS=()
	for ((k = 0; k < $3; k++)); do
		first=$(($2 + k * CLAIM_USERS))
		claim_loop "$1" "$first" $((first + CLAIM_USERS - 1)) "$4" &
		CLAIM_PIDS+=($!)
	done
}

# claim_wait: waits for the clients, 60 s at most.
claim_wait() {
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "${CLAIM_PIDS[@]}" 2>/dev/null || break
		sleep 0.1
	done
	touch "$STACK_DIR/claim.stop"
	wait "${CLAIM_PIDS[@]}"
}

# wait_issued POLICY N: until the database has issued N coupons of POLICY.
wait_issued() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(issued_of "$1")" -lt "$2" ] || return 0
		sleep 0.05
	done
	return 1
}

# claim_checks LABEL POLICY TOTAL LOG: the rush's answers and the database
# agree, exactly TOTAL issued, one per user, every other answer sold_out.
claim_checks() {
	local label=$1 p=$2 total=$3 log=$4 n
	n=$(wc -l <"$log")
	is "$(awk '{ print $3 " " $5 }' "$log" | sort | uniq -c | awk '{ printf "%s%s %s:%d", sep, $2, $3, $1; sep = "," }')" \
		"201 -:$total,409 sold_out:$((n - total))" \
		"$label: exactly $total x 201 of $n claims, the other $((n - total)) 409 sold_out"
	is "$(sql "SELECT count(*) || ' ' || count(DISTINCT user_id) || ' ' ||
	    (SELECT $ISSUED FROM coupon_policies WHERE id = $p)
	    FROM user_coupons WHERE policy_id = $p")" "$total $total $total" \
		"$label: $total coupon rows of $total users, issued_quantity $total"
	is "$(holders "$p")" "$(awk '$3 == 201 { print $4 }' "$log" | sort -n | paste -sd, -)" \
		"$label: the users answered 201 are exactly the holders"
	check_coupons "$label"
}

# answers_between LOG FROM TO: the answers to requests sent in [FROM, TO),
# "201 - x12, 409 sold_out x3".
answers_between() {
	awk -v a="$2" -v b="$3" '$1 >= a && $1 < b { print $3 " " $5 }' "$1" | sort | uniq -c |
		awk '{ printf "%s%s %s x%d", sep, $2, $3, $1; sep = ", " }'
}

# app_log_us TEXT: when the app hosts first logged a line holding TEXT, in
# microseconds since the epoch (their stamps are UTC to the millisecond);
# empty when none did.  app_log_last_us: when they last did.
app_log_us() {
	_app_log_stamps "$1" | head -n 1
}

app_log_last_us() {
	_app_log_stamps "$1" | tail -n 1
}

_app_log_stamps() {
	local ts
	grep -hF "$1" "$STACK_DIR"/app[123].log | awk '{ print $1 }' | sort | while read -r ts; do
		printf '%s\n' $(($(date -u -d "$ts" +%s%3N) * 1000))
	done
}

# redis_log_us NAME TEXT: the same for Redis or Sentinel NAME's log, whose
# lines read "PID:R 07 Dec 2026 06:18:52.078 ..." in the machine's time.
redis_log_us() {
	local ts
	ts=$(grep -F "$2" "$STACK_DIR/$1.log" | head -n 1 | awk '{ print $2, $3, $4, $5 }')
	[ -z "$ts" ] || printf '%s\n' $(($(date -d "$ts" +%s%3N) * 1000))
}

ms_since() {
	if [ -n "$2" ]; then
		printf '%d ms' $((($2 - $1) / 1000))
	else
		printf 'never'
	fi
}

test_failover() {
	local p log=$STACK_DIR/failover.log r2_run held t_kill t t_promoted t_named t_gate t_followed t_last first i s named gate_key
	p=$(new_policy "sentinel: failover" "$FAILOVER_N") || return
	gate_key=$(rkey "$p" run)
	r2_run=$(run_id_of r2)
	claim_start "$p" 1001 "$CLAIM_CLIENTS" "$log"
	wait_issued "$p" $((FAILOVER_N / 5)) || diag "failover: the rush did not get going"
	diag "failover: r1 SIGKILLed with $(issued_of "$p") of $FAILOVER_N issued"
	# From the kill until the gate is rebuilt on r2 the clients slow down
	# (about 40 claims a second, so the coupons left last 10 s or more):
	# on a fast machine the rush would otherwise be over, every claim
	# answered through the database, before the Sentinels have even
	# promoted r2 (about 2 s), and nothing would show the workers finding
	# it.  Then they go on at full speed until sold out.
	touch "$STACK_DIR/claim.slow"
	t_kill=$(now_us)
	kill -KILL "$(stack_pid r1)"
	# Until r2 is the primary, named by s1, and the gate rebuilt on it;
	# the times are then read from the servers' logs, which are exact
	# where a poll on a loaded machine is not.
	for ((i = 0; i < 600; i++)); do
		[ "$(role_of r2)" != master ] || [ "$(named_by s1)" != "$R2:6379" ] ||
			[ "$(r_cli r2 GET "$gate_key" 2>/dev/null)" != "$r2_run" ] || break
		sleep 0.05
	done
	rm -f "$STACK_DIR/claim.slow"
	t_promoted=$(redis_log_us r2 'MASTER MODE enabled')
	t_named=$(redis_log_us s1 "+switch-master $MASTER $R1 6379 $R2 6379")
	t_gate=$(app_log_us "coupon gate $p rebuilt from the database")
	t_followed=$(app_log_us "the Sentinels name $R2:6379 as primary \"$MASTER\", was $R1:6379")
	t_last=$(app_log_last_us "the Sentinels name $R2:6379 as primary \"$MASTER\", was $R1:6379")
	claim_wait
	ln -sfn r2.sock "$STACK_DIR/redis.sock"
	is "$(role_of r2)" master "failover: the Sentinels promoted r2"
	named=
	for s in s1 s2 s3; do
		named="$named${named:+ }$(named_by "$s")"
	done
	is "$named" "$R2:6379 $R2:6379 $R2:6379" "failover: every Sentinel names r2"
	claim_checks "failover" "$p" "$FAILOVER_N" "$log"
	is "$(r_cli r2 GET "$gate_key")" "$(run_id_of r2)" \
		"failover: the gate was rebuilt on r2 from the database (r2's run_id, not r1's stamp)"
	is "$(r_cli r2 GET "$(rkey "$p" requests)")" "$FAILOVER_N" "failover: the gate on r2 counts the $FAILOVER_N coupons"
	held=$(holders "$p")
	is "$(comm -23 <(gate_users "$p" | tr , '\n' | sort) <(tr , '\n' <<<"$held" | sort))" "" \
		"failover: every user in the gate's set on r2 holds a coupon"
	is "$(followed "$R1" "$R2")" "app1 app2 app3" "failover: every app host logged r2 as the primary the Sentinels name"
	t=$(awk -v k="$t_kill" -v g="${t_gate:-0}" '$1 >= g && $1 >= k && $3 == 201' "$log" | wc -l)
	[ -n "$t_gate" ] && [ "$t" -ge 1 ]
	ok $? "failover: coupons were issued through the gate on r2 after its rebuild ($t)"
	first=$(awk -v k="$t_kill" '$1 >= k && $3 == 201 { print $2 }' "$log" | sort -n | head -n 1)
	diag "failover: from the kill: r2 promoted after $(ms_since "$t_kill" "$t_promoted")," \
		"s1 switched to r2 after $(ms_since "$t_kill" "$t_named"), the first worker on r2 after" \
		"$(ms_since "$t_kill" "$t_followed"), the last after $(ms_since "$t_kill" "$t_last")," \
		"the gate rebuilt on r2 after $(ms_since "$t_kill" "$t_gate"); first 201 after" \
		"$(ms_since "$t_kill" "$first")"
	diag "failover: answers to the requests sent from the kill to the gate's rebuild on r2:" \
		"$(answers_between "$log" "$t_kill" "${t_gate:-$(now_us)}")"
	diag "failover: $(awk -v k="$t_kill" '$1 < k' "$log" | wc -l) claims before the kill," \
		"$(wc -l <"$log") in all; in the app hosts' logs:" \
		"$(cat "$STACK_DIR"/app[123].log | grep -c 'redis unavailable') 'redis unavailable'," \
		"$(cat "$STACK_DIR"/app[123].log | grep -c 'rebuilt from the database') gate rebuilds"
}

# readyz_round: 30 GET /readyz at once: each worker that answers one pings
# Redis, and so reconnects if it must (once its breaker lets it).
readyz_round() {
	local i
	for ((i = 0; i < 30; i++)); do
		printf 'GET\t/readyz\t\t\n'
	done >"$(_assert_tmp)/readyz.spec"
	http_parallel 10 "$(_assert_tmp)/readyz.spec" >/dev/null
}

test_switchover() {
	local p log=$STACK_DIR/switchover.log i t0 t_promoted t_named t_demoted res
	# r1 comes back as an operator brings a failed primary back: empty,
	# a replica of the new one.  (Started as a primary, the Sentinels
	# would turn it into one, 8 s after it first reports itself a primary;
	# meanwhile nobody names it, so no worker uses it.)
	redis_start r1 "$R1" "$R2" || return
	_stack_wait_for 60 _replica_synced r1 || diag "switchover: r1 does not replicate r2"
	_stack_wait_for 60 _sentinels_ready "$R2" || diag "switchover: the Sentinels do not see r1 as a replica"
	is "$(role_of r1)" slave "switchover: r1, back, is r2's replica"
	p=$(new_policy "sentinel: switchover" 200) || return
	claim_start "$p" 2801 3 "$log"
	wait_issued "$p" 40 || diag "switchover: the rush did not get going"
	t0=$(now_us)
	for ((i = 0; i < 50; i++)); do
		res=$(s_cli s1 SENTINEL FAILOVER "$MASTER" 2>&1)
		[ "$res" != OK ] || break
		sleep 0.2
	done
	is "$res" OK "switchover: SENTINEL FAILOVER accepted"
	# r1 is promoted at once; r2, alive and still a primary, is demoted
	# only once the Sentinels see it report itself a master for a while.
	for ((i = 0; i < 600; i++)); do
		[ "$(role_of r1)" != master ] || [ "$(named_by s1)" != "$R1:6379" ] ||
			[ "$(role_of r2)" != slave ] || break
		sleep 0.05
	done
	# r1's log says MASTER MODE only for this promotion (it started as a
	# primary, then as a replica); r2's says REPLICAOF only for its
	# demotion (it started as a replica by its command line).
	t_promoted=$(redis_log_us r1 'MASTER MODE enabled')
	t_named=$(redis_log_us s1 "+switch-master $MASTER $R2 6379 $R1 6379")
	t_demoted=$(redis_log_us r2 "REPLICAOF $R1:6379 enabled")
	claim_wait
	ln -sfn r1.sock "$STACK_DIR/redis.sock"
	is "$(role_of r1) $(role_of r2)" "master slave" "switchover: r1 is the primary again, r2 its replica"
	claim_checks "switchover" "$p" 200 "$log"
	diag "switchover: from SENTINEL FAILOVER: r1 promoted after $(ms_since "$t0" "$t_promoted")," \
		"s1 switched to r1 after $(ms_since "$t0" "$t_named"), r2 demoted after" \
		"$(ms_since "$t0" "$t_demoted"); answers from then on:" \
		"$(answers_between "$log" "$t0" "$(now_us)")"
	# Demoted, r2 cut its clients off: every worker's next connection
	# goes through the Sentinels to r1.
	for ((i = 0; i < 30; i++)); do
		readyz_round
		[ "$(followed "$R2" "$R1")" != "app1 app2 app3" ] || break
		sleep 0.5
	done
	is "$(followed "$R2" "$R1")" "app1 app2 app3" "switchover: every app host follows r1 once r2 is demoted"
	diag "switchover: from SENTINEL FAILOVER: the first worker on r1 after" \
		"$(ms_since "$t0" "$(app_log_us "the Sentinels name $R1:6379 as primary \"$MASTER\", was $R2:6379")")"
	p=$(new_policy "sentinel: after the switchover" 20) || return
	rush_spec "$p" 3701 3760 "$(_assert_tmp)/s.spec" "$(_assert_tmp)/s.users"
	http_parallel 20 "$(_assert_tmp)/s.spec" >"$(_assert_tmp)/s.out"
	rush_checks "after the switchover" "$p" 20 "$(_assert_tmp)/s.users" "$(_assert_tmp)/s.out"
	is "$(r_cli r1 GET "$(rkey "$p" run)") $(gate_users "$p")" "$(run_id_of r1) $(holders "$p")" \
		"after the switchover: the gate is on r1 and its set holds exactly the 20 holders"
	check_coupons "after the switchover"
}

main() {
	GATE=redis
	scale_main 3800 "${SENTINEL_PARTS:-test_discovery test_failover test_switchover}"
}

main
