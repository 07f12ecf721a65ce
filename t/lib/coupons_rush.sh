# shellcheck shell=bash
#
# t/lib/coupons_rush.sh: parts 1-4 of the coupon suite (t/lib/coupons.sh),
# the claims: a rush of RUSH_USERS distinct users on a policy of RUSH_TOTAL,
# one user asking 100 times at once, Redis stopped, flushed and its scripts
# flushed in the middle of a rush (mid_rush and its actions), and the gate
# compensated when the database refuses a claim it let through.
#
# Sourced by t/lib/coupons.sh, whose helpers (tokens, policies, answers,
# counts, counters, rush_checks, check_coupons) these parts use; it defines
# functions only, and run_suite calls them in their numbered order.

# ---------------------------------------------------------------------------
# 1. The rush: RUSH_USERS users at once on a policy of RUSH_TOTAL.
test_rush() {
	local p spec users out before after d t0 ms workers
	local -a c
	workers=$(awk -F' *= *' '$1 == "workers" { print $2 }' "$STACK_CONF")
	p=$(new_policy "rush" "$RUSH_TOTAL") || return
	spec=$(_assert_tmp)/rush.spec
	users=$(_assert_tmp)/rush.users
	rush_spec "$p" 1 "$RUSH_USERS" "$spec" "$users"
	out=$(_assert_tmp)/rush.out
	before=$(counters)
	t0=${EPOCHREALTIME/./}
	http_parallel "$RUSH_USERS" "$spec" >"$out"
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	diag "rush: $RUSH_USERS requests in $ms ms"
	rush_checks "rush" "$p" "$RUSH_TOTAL" "$users" "$out"
	http GET "/api/v1/coupons/$p" "" "$USER1"
	is "$(jq -r '"\(.issued_quantity) \(.remaining)"' <<<"$HTTP_BODY")" "$RUSH_TOTAL 0" \
		"rush: GET /coupons/$p shows issued $RUSH_TOTAL, remaining 0"
	after=$(counters)
	d=$(counters_delta "$before" "$after")
	show_counters "rush" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		is "$(stack_redis GET "$(rkey "$p" issued)")" "$RUSH_TOTAL" \
			"rush: Redis {coupon:$p}:issued = $RUSH_TOTAL"
		is "$(gate_users "$p")" "$(holders "$p")" \
			"rush: Redis {coupon:$p}:users holds exactly the $RUSH_TOTAL holders"
		[ "${c[3]}" -le $((RUSH_TOTAL + 2 * workers)) ]
		ok $? "rush: gate on: at most $RUSH_TOTAL + $((2 * workers)) of $RUSH_USERS reached the database (${c[3]})"
		is "$((c[1] + c[3]))" "$RUSH_USERS" \
			"rush: gate on: every request was refused by the gate or reached the database"
		is "$((c[0] + c[2]))" "${c[3]}" "rush: gate on: db attempts = passed + bypassed"
	else
		is "${c[3]}" "$RUSH_USERS" "rush: gate off: all $RUSH_USERS reached the database"
		is "${c[2]} ${c[0]} ${c[1]}" "$RUSH_USERS 0 0" "rush: gate off: all bypassed, none passed or refused"
	fi
	check_coupons "after the rush"
}

# 2. One user, 100 claims at once on a new policy.
test_one_user() {
	local p u=7 spec out i
	p=$(new_policy "one-user" 10) || return
	spec=$(_assert_tmp)/one.spec
	for ((i = 0; i < 100; i++)); do
		issue_line "$(tok "$u")" "$p"
	done >"$spec"
	out=$(_assert_tmp)/one.out
	http_parallel 100 "$spec" >"$out"
	is "$(outcomes "$out")" "201:1,409 already_issued:99" \
		"one user: 100 concurrent claims, one 201, 99 x 409 already_issued"
	is "$(counts "$p") $(holders "$p")" "1 1 $u" \
		"one user: one row, issued_quantity 1"
	is "$(grep '^201' "$out" | cut -f2 | jq -r .id 2>/dev/null)" \
		"$(sql "SELECT id FROM user_coupons WHERE policy_id = $p")" "one user: the 201 is that row"
	if gate_on; then
		is "$(stack_redis SISMEMBER "$(rkey "$p" users)" "$u")" 1 "one user: the user is in the gate's set"
	fi
	check_coupons "after one user's claims"
}

# ---------------------------------------------------------------------------
# 3. Redis misbehaving in the middle of a rush: the database alone keeps the
# count exact.

redis_bounce() {
	stack_stop_redis || diag "stack_stop_redis failed"
	sleep 0.3
	stack_start_redis || diag "stack_start_redis failed"
}

redis_flushall() {
	stack_redis FLUSHALL >/dev/null
}

redis_script_flush() {
	stack_redis SCRIPT FLUSH >/dev/null
}

# mid_rush LABEL ACTION: a rush of MID_USERS users on a new policy of
# MID_TOTAL; ACTION runs once the first coupons are issued, while the rest of
# the crowd is still coming.  Sets MID_POLICY.
mid_rush() {
	local label=$1 action=$2 p spec users out bg i at
	p=$(new_policy "$label" "$MID_TOTAL") || return 1
	MID_POLICY=$p
	spec=$(_assert_tmp)/mid.spec
	users=$(_assert_tmp)/mid.users
	rush_spec "$p" 1 "$MID_USERS" "$spec" "$users"
	out=$(_assert_tmp)/mid.out
	http_parallel 50 "$spec" >"$out" &
	bg=$!
	for ((i = 0; i < 300; i++)); do
		at=$(issued_of "$p")
		[ "$at" -lt 10 ] || break
		sleep 0.01
	done
	"$action"
	diag "$label: $action at issued_quantity $at, just after $(issued_of "$p")"
	wait "$bg"
	rush_checks "$label" "$p" "$MID_TOTAL" "$users" "$out"
}

test_redis_trouble() {
	local before after d p u stopped last start workers
	local -a c
	workers=$(awk -F' *= *' '$1 == "workers" { print $2 }' "$STACK_CONF")
	start=$(counters)
	mid_rush "redis stopped" redis_bounce || return
	stopped=$MID_POLICY
	is "$(stack_redis PING)" PONG "redis stopped: Redis is back"
	# After a failure a worker's circuit breaker keeps it from Redis for
	# redis_cooldown plus up to half of it (1 to 1.5 s by default): a rush
	# that ended while Redis was down may have left every worker's breaker
	# open that long, and the claims below would bypass a gate they
	# cannot reach yet.
	sleep 1.6
	# Once Redis is back: the exhausted policy still says sold_out, from
	# the database or from a rebuilt gate, and a new policy goes through
	# the gate again.
	last=$((MID_USERS + 1))
	http POST "/api/v1/coupons/$stopped/issue" "" "$(tok "$last")"
	is "$(answer)" "409 sold_out" \
		"redis stopped: afterwards a new user of the exhausted policy gets 409 sold_out"
	http POST "/api/v1/coupons/$stopped/issue" "" "$(tok "$last")"
	is "$(answer)" "409 sold_out" "redis stopped: ...and again"
	is "$(counts "$stopped")" "$MID_TOTAL $MID_TOTAL" \
		"redis stopped: still $MID_TOTAL issued"
	before=$(counters)
	d=$(counters_delta "$start" "$before")
	show_counters "redis stopped" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		[ "${c[4]}" -ge 1 ]
		ok $? "redis stopped: the gate was rebuilt on the new Redis server (${c[4]} rebuilds)"
	fi
	p=$(new_policy "after-restart" 20) || return
	for ((u = 1; u <= 10; u++)); do
		http POST "/api/v1/coupons/$p/issue" "" "$(tok "$u")"
		[ "$HTTP_STATUS" = 201 ] || diag "after restart: user $u: $HTTP_STATUS $HTTP_BODY"
	done
	is "$(rows_of "$p") $(holders "$p")" "10 $(seq -s, 1 10)" \
		"redis stopped: afterwards a new policy issues to 10 users in turn"
	http POST "/api/v1/coupons/$p/issue" "" "$(tok 1)"
	is "$(answer)" "409 already_issued" \
		"redis stopped: ...and a second claim is 409 already_issued"
	after=$(counters)
	d=$(counters_delta "$before" "$after")
	show_counters "after the restart" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		[ "${c[0]}" -ge 1 ]
		ok $? "redis stopped: the new policy's claims pass through the gate again (coupon_gate_passed +${c[0]})"
	else
		is "${c[2]}" 11 "redis stopped: gate off: the 11 claims bypassed the gate"
	fi
	check_coupons "after Redis stopped mid-rush"

	before=$(counters)
	mid_rush "redis flushed" redis_flushall || return
	http POST "/api/v1/coupons/$MID_POLICY/issue" "" "$(tok "$last")"
	is "$(answer)" "409 sold_out" \
		"redis flushed: afterwards a new user gets 409 sold_out"
	d=$(counters_delta "$before" "$(counters)")
	show_counters "redis flushed" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		[ "${c[4]}" -ge 1 ]
		ok $? "redis flushed: the gate was rebuilt from the database (${c[4]} rebuilds)"
	fi
	check_coupons "after FLUSHALL mid-rush"

	# SCRIPT FLUSH loses no data: EVALSHA's NOSCRIPT is answered with
	# EVAL, and the gate goes on turning the crowd away by itself.
	before=$(counters)
	mid_rush "scripts flushed" redis_script_flush || return
	http POST "/api/v1/coupons/$MID_POLICY/issue" "" "$(tok "$last")"
	is "$(answer)" "409 sold_out" \
		"scripts flushed: afterwards a new user gets 409 sold_out"
	d=$(counters_delta "$before" "$(counters)")
	show_counters "scripts flushed" "$d"
	read -r -a c <<<"$d"
	if gate_on; then
		is "$(stack_redis GET "$(rkey "$MID_POLICY" issued)")" "$MID_TOTAL" \
			"scripts flushed: Redis {coupon:$MID_POLICY}:issued = $MID_TOTAL (nothing lost)"
		is "${c[2]} ${c[4]}" "0 0" "scripts flushed: nothing bypassed the gate, nothing rebuilt"
		[ "${c[3]}" -le $((MID_TOTAL + 2 * workers)) ]
		ok $? "scripts flushed: at most $MID_TOTAL + $((2 * workers)) claims reached the database (${c[3]})"
	fi
	check_coupons "after SCRIPT FLUSH mid-rush"
}

# ---------------------------------------------------------------------------
# 4. Compensation: claims the database refuses (window closed) do not keep
# a place in the gate.
test_compensation() {
	local p u spec out before after d
	local -a c
	p=$(new_policy "compensation" 10 100 ",\"starts_at\":\"$(iso '-1 hour')\"") || return
	for u in 1 2 3 4 5; do
		issue "$(tok "$u")" "$p" >/dev/null
	done
	is "$(rows_of "$p")" 5 "compensation: 5 issued"
	# Once every worker's copy of the policy has run out, the workers read
	# it again, open, so that the claims right after the window closes pass
	# a gate that still thinks it open, and the database refuses them.
	sleep "$CACHE_WAIT"
	spec=$(_assert_tmp)/warm.spec
	for ((u = 0; u < 40; u++)); do
		issue_line "$(tok $((u % 5 + 1)))" "$p"
	done >"$spec"
	out=$(_assert_tmp)/warm.out
	http_parallel 8 "$spec" >"$out"
	is "$(outcomes "$out")" "409 already_issued:40" "compensation: the holders asking again: already_issued"
	before=$(counters)
	sql "UPDATE coupon_policies SET ends_at = now() - interval '1 second' WHERE id = $p" >/dev/null
	spec=$(_assert_tmp)/closed.spec
	for u in 6 7 8 9 10; do
		issue_line "$(tok "$u")" "$p"
	done >"$spec"
	out=$(_assert_tmp)/closed.out
	http_parallel 5 "$spec" >"$out"
	is "$(outcomes "$out")" "409 not_open:5" "compensation: window closed: 5 claims get 409 not_open"
	after=$(counters)
	d=$(counters_delta "$before" "$after")
	show_counters "window closed" "$d"
	read -r -a c <<<"$d"
	is "$(counts "$p")" "5 5" "compensation: still 5 issued"
	if gate_on; then
		is "$(for u in 6 7 8 9 10; do stack_redis SISMEMBER "$(rkey "$p" users)" "$u"; done | paste -sd, -)" \
			"0,0,0,0,0" "compensation: no not_open user is left in the gate's set"
		[ "${c[5]}" -ge 1 ] && [ "${c[5]}" -eq "${c[0]}" ]
		ok $? "compensation: every claim the gate let through was undone (passed ${c[0]}, compensated ${c[5]})"
	fi
	sql "UPDATE coupon_policies SET ends_at = now() + interval '1 day' WHERE id = $p" >/dev/null
	sleep "$CACHE_WAIT"
	http POST "/api/v1/coupons/$p/issue" "" "$(tok 1)"
	is "$(answer)" "409 already_issued" \
		"compensation: reopened: a holder gets 409 already_issued"
	# Three of the users refused not_open and two new ones: the 5 places
	# are all still there.
	for u in 6 7 8 11 12; do
		http POST "/api/v1/coupons/$p/issue" "" "$(tok "$u")"
		is "$HTTP_STATUS" 201 "compensation: reopened: user $u gets a coupon"
	done
	is "$(counts "$p")" "10 10" "compensation: 10 issued in all"
	http POST "/api/v1/coupons/$p/issue" "" "$(tok 13)"
	is "$(answer)" "409 sold_out" "compensation: the next one is 409 sold_out"
	http POST "/api/v1/coupons/$p/issue" "" "$(tok 9)"
	is "$(answer)" "409 sold_out" \
		"compensation: a user refused not_open earlier now gets 409 sold_out"
	if gate_on; then
		is "$(gate_users "$p")" "$(holders "$p")" "compensation: the gate's set holds exactly the 10 holders"
	fi
	is "$(counts "$p")" "10 10" "compensation: still 10"
	check_coupons "after compensation"
}

# ---------------------------------------------------------------------------
# 4b. (test_queue) coupon_strategy = queue: the claims really go through the stream and
# its consumers, and the count stays exact when a consumer is killed
# mid-rush (SIGKILL: its claims stay pending in the group; its successor in
# the slot reads them again) and when the consumers' database connections
# are terminated mid-batch (the outcome of a batch lost with its
# connection: redelivered, and a claim already committed answers 201 with
# its coupon).  Afterwards nothing is left in the stream or pending.

# queue_counters: coupon_queue_{answered,direct,takeovers,batches,claims}
# of GET /status, summed over the workers and the consumers.
queue_counters() {
	stack_get_status >/dev/null || return 1
	jq -r '[.coupon_queue_answered, .coupon_queue_direct, .coupon_queue_takeovers,
	    .coupon_queue_batches, .coupon_queue_claims, .coupon_db_attempts]
	    | map(tostring) | join(" ")' <<<"$HTTP_BODY"
}

# consumer_pid N: the pid of queue consumer N, from GET /status.
consumer_pid() {
	stack_get_status >/dev/null || return 1
	jq -r ".queue_consumers[$1].pid" <<<"$HTTP_BODY"
}

queue_kill_consumer() {
	KILLED_PID=$(consumer_pid 0)
	kill -KILL "$KILLED_PID" || diag "kill $KILLED_PID failed"
}

queue_terminate_connections() {
	sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	      WHERE application_name = 'stockade queue consumer'" >/dev/null
}

test_queue() {
	local before after n i pid
	local -a b a
	[ "$STRATEGY" = queue ] || return 0
	stack_get_status >/dev/null
	n=$(jq -r '.queue_consumers | length' <<<"$HTTP_BODY")
	is "$n" 4 "queue: /status shows the 4 queue consumers (queue_consumers = 4)"
	before=$(queue_counters)
	mid_rush "consumer killed" queue_kill_consumer || return
	for ((i = 0; i < 100; i++)); do
		pid=$(consumer_pid 0)
		[ "$pid" -gt 0 ] && [ "$pid" != "$KILLED_PID" ] && break
		sleep 0.05
	done
	[ "$pid" -gt 0 ] && [ "$pid" != "$KILLED_PID" ]
	ok $? "queue: the killed consumer was replaced (pid $KILLED_PID -> $pid)"
	check_coupons "after a queue consumer was killed mid-rush"
	mid_rush "consumer connections terminated" queue_terminate_connections || return
	check_coupons "after the consumers' connections were terminated mid-rush"
	after=$(queue_counters)
	read -r -a b <<<"$before"
	read -r -a a <<<"$after"
	diag "queue: answered $((a[0] - b[0])), direct $((a[1] - b[1])), taken over $((a[2] - b[2])), batches $((a[3] - b[3])) of $((a[4] - b[4])) claims"
	[ $((a[0] - b[0])) -gt 0 ] && [ $((a[3] - b[3])) -gt 0 ]
	ok $? "queue: consumers committed batches and answered claims"
	is "$((a[0] + a[1] + a[2] - b[0] - b[1] - b[2]))" "$((a[5] - b[5]))" \
		"queue: every claim that reached step 3 went to the queue (answered + direct + taken over = db attempts)"
	for ((i = 0; i < 100; i++)); do
		[ "$(stack_redis XLEN '{coupon-queue}:claims')" = 0 ] && break
		sleep 0.05
	done
	is "$(stack_redis XLEN '{coupon-queue}:claims') $(stack_redis XPENDING '{coupon-queue}:claims' consumers | head -1)" "0 0" \
		"queue: the stream is drained, nothing pending"
}
