# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/coupon.sh: the coupon rush, which the coupons, issue and storm
# scenarios run with their own values, and what it checks a rush against:
# the policy's rows, stockade's coupon counters, the coupon statements
# pg_stat_statements saw, pgbench of each strategy's SQL.  Sourced by
# bench/run.

# shellcheck disable=SC2206 # lists of words
COUPON_STRATEGIES=($BENCH_COUPON_STRATEGIES)
# shellcheck disable=SC2206 # lists of words
COUPON_GATES=($BENCH_COUPON_GATES)

# The coupon counters of GET /status, summed over the workers.
COUPON_COUNTERS=(coupon_gate_passed coupon_gate_refused coupon_gate_bypassed coupon_db_attempts
	coupon_gate_rebuilds coupon_gate_compensations coupon_queue_answered coupon_queue_direct
	coupon_queue_takeovers coupon_queue_batches coupon_queue_claims)

# coupon_rows ID: "ISSUED|TOTAL|ROWS|USERS|OUTSIDE" for policy ID: its
# issued quantity (with its shards') and total_quantity, its coupons, the
# distinct users among them, and the coupons of users the rush did not
# send.
coupon_rows() {
	local issued=p.issued_quantity
	# A policy split into shards (sql/005, coupon_strategy = sharded) counts
	# its issues there too, as sql/queries/coupon.sql's policy_issued does.
	if [ "$(stack_psql "SELECT to_regclass('coupon_shards') IS NOT NULL")" = t ]; then
		issued="p.issued_quantity + COALESCE((SELECT sum(s.issued) FROM coupon_shards s WHERE s.policy_id = p.id), 0)"
	fi
	stack_psql "SELECT $issued, p.total_quantity, count(u.id), count(DISTINCT u.user_id),
	        count(u.id) FILTER (WHERE u.user_id NOT BETWEEN $COUPON_FIRST_USER
	                                                AND $((COUPON_FIRST_USER + BENCH_COUPON_USERS - 1)))
	    FROM coupon_policies p LEFT JOIN user_coupons u ON u.policy_id = p.id
	    WHERE p.id = $1 GROUP BY p.id"
}

# coupon_rows_json ROWS: coupon_rows' line as {"issued", "total", "coupons",
# "users", "outside"}.
coupon_rows_json() {
	local issued total nrows nusers outside
	IFS='|' read -r issued total nrows nusers outside <<<"$1"
	json_obj issued="$issued" total="$total" coupons="$nrows" users="$nusers" outside="$outside"
}

# coupon_pgss: the calls of the role stockade's statements on the coupon
# tables since pgss_reset, by what they are (sql/queries/coupon_issue.sql), as a JSON
# object: lock (pessimistic's SELECT ... FOR UPDATE of the policy; since
# issue 17 its coupon_lock_take, which also inserts and increments, so
# take stays 0), take (the baseline's insert and increment), take_conditional (conditional's guarded
# UPDATE and insert), explain (conditional's read after a refusal), limits
# (the gate's read of a policy's total and window, cached coupon_cache_ttl
# per worker), verify (the check of a gate's sold_out against the
# database, at most once a second per worker) and other (the foreign-key
# checks of the inserts, ...).  pg_stat_statements shows constants as $N:
# the patterns avoid them.
coupon_pgss() {
	stack_psql "SELECT coalesce(json_object_agg(k, n), '{}') FROM (SELECT CASE
	        WHEN query LIKE '%FOR UPDATE OF p%' THEN 'lock'
	        WHEN query LIKE 'WITH p AS (UPDATE coupon_policies%' THEN 'take_conditional'
	        WHEN query LIKE 'WITH c AS (INSERT INTO user_coupons%' THEN 'take'
	        WHEN query LIKE 'SELECT total_quantity, (extract(%' THEN 'limits'
	        WHEN query LIKE 'SELECT p.total_quantity, %' THEN 'explain'
	        WHEN query LIKE 'SELECT issued_quantity FROM coupon_policies%'
	          OR query LIKE 'SELECT (p.issued_quantity %' THEN 'verify'
	        ELSE 'other' END AS k, sum(calls) AS n
	    FROM pg_stat_statements
	    WHERE userid = 'stockade'::regrole
	      AND dbid = (SELECT oid FROM pg_database WHERE datname = 'stockade')
	      AND query ~ '(coupon_policies|user_coupons)'
	    GROUP BY 1) s" |
		jq -c '{lock: 0, take: 0, take_conditional: 0, explain: 0, limits: 0, verify: 0, other: 0} + .'
}

# coupon_pgbench NAME STRATEGY ADMIN_TOKEN: the database's own ceilings for
# STRATEGY, pgbench at -c BENCH_WORKERS (= workers) for BENCH_SECONDS,
# recorded as points tagged {"role": "pgbench", "strategy": STRATEGY,
# "txn": ...}: the issue transaction (bench/pgbench/coupon-STRATEGY.pgb,
# txn "issue") on a fresh policy of 10,000,000 coupons, so that it never
# sells out, each transaction for a new user; then the refusal
# (coupon-STRATEGY-sold-out.sql, txn "refusal") on a sold-out policy (1
# coupon, issued through the API).  Each with "db" (coupon_rows_json after
# it) and its check.  Without the two files, a "skipped" record.
coupon_pgbench() {
	local name=$1 strategy=$2 admin=$3 id rows db processed code point
	if [ ! -r "$PGBENCH_DIR/coupon-$strategy.sql" ] ||
		[ ! -r "$PGBENCH_DIR/coupon-$strategy-sold-out.sql" ]; then
		say "$name: no bench/pgbench/coupon-$strategy*.pgb: no database ceiling for $strategy"
		record_append "$(jq -n --arg s "$name" --arg st "$strategy" \
			'{type: "skipped", scenario: $s, role: "pgbench", strategy: $st,
			  why: "no `bench/pgbench/coupon-\($st).pgb` and `-sold-out.pgb` yet"}')"
		return 0
	fi
	point=$name-pg-issue-$strategy
	id=$(create_policy "$admin" "pgbench-issue-$name-$strategy" 10000000) || die "creating the pgbench policy failed"
	POINT_TAGS=$(json_obj role=pgbench strategy="$strategy" txn=issue policy="$id") \
		pgbench_point "$point" "$PGBENCH_DIR/coupon-$strategy.sql" -D "policy=$id" -D valid_days=30 -D n=0
	rows=$(coupon_rows "$id")
	db=$(coupon_rows_json "$rows")
	point_merge "$point" "{\"db\": $db}"
	processed=$(point_get "$point" .processed)
	if [ "$(jq -r --argjson p "$processed" '.issued == $p and .coupons == .issued and .users == .issued' <<<"$db")" != true ]; then
		point_problem "$point" "**ERRORS** $processed transactions, $(jq -r '"issued_quantity \(.issued), \(.coupons) coupons of \(.users) users"' <<<"$db")"
	fi
	point=$name-pg-refusal-$strategy
	id=$(create_policy "$admin" "pgbench-sold-out-$name-$strategy" 1) || die "creating the sold-out policy failed"
	code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $(stack_token "$((COUPON_FIRST_USER - 1))")" \
		"$STACK_URL/api/v1/coupons/$id/issue") || die "issuing the sold-out policy's coupon failed"
	[ "$code" = 201 ] || die "issuing the sold-out policy's coupon: HTTP $code"
	POINT_TAGS=$(json_obj role=pgbench strategy="$strategy" txn=refusal policy="$id") \
		pgbench_point "$point" "$PGBENCH_DIR/coupon-${strategy}-sold-out.sql" \
		-D "policy=$id" -D "u_lo=$COUPON_FIRST_USER" -D "u_hi=$((COUPON_FIRST_USER + BENCH_COUPON_USERS - 1))"
	rows=$(coupon_rows "$id")
	db=$(coupon_rows_json "$rows")
	point_merge "$point" "{\"db\": $db}"
	if [ "$(jq -r '"\(.issued)|\(.coupons)"' <<<"$db")" != "1|1" ]; then
		point_problem "$point" "**ERRORS** $(jq -r '"issued_quantity \(.issued), \(.coupons) coupons after refusals"' <<<"$db")"
	fi
}

# coupon_rush NAME: the coupon rush as scenario NAME (see about_coupons):
# for every COUPON_STRATEGIES and COUPON_GATES (stockade restarted with
# each pair) and each of BENCH_COUPON_CONNS, BENCH_COUPON_USERS users send
# one request each for a fresh policy of BENCH_COUPON_TOTAL; next to the
# HTTP ceilings (lib/ceilings.sh) and pgbench of each strategy's SQL.  The
# storm and issue scenarios are this rush with other values.  Each rush is
# point NAME-STRATEGY-GATE-CONNS, tagged {"role": "rush", "strategy",
# "gate", "policy"}, with what it is checked against: "counters" (the
# growth of COUPON_COUNTERS in GET /status), "calls" (coupon_pgss), "db"
# (coupon_rows_json), "redis_issued" (the gate's {coupon:ID}:issued) and
# "access_lines" (stockade's access lines of issue requests).
coupon_rush() {
	local name=$1 admin tokens strategy gate conns label id c0 c1 db rissued mark access
	local want201 wantsold
	build_tools || die "compiling bench/rush.c or bench/fcgi_hello.c failed"
	tokens=$(coupon_tokens) || die "minting the coupon tokens failed"
	admin=$(stack_token 1000 admin) || die "minting the admin token failed"
	want201=$BENCH_COUPON_TOTAL
	[ "$BENCH_COUPON_USERS" -ge "$want201" ] || want201=$BENCH_COUPON_USERS
	wantsold=$((BENCH_COUPON_USERS - want201))
	scenario_begin "$name" users="$BENCH_COUPON_USERS" total="$BENCH_COUPON_TOTAL" \
		conns="$BENCH_COUPON_CONNS" strategies="${COUPON_STRATEGIES[*]}" gates="${COUPON_GATES[*]}" \
		first_user="$COUPON_FIRST_USER" mint_seconds="$(cat "$tokens.seconds" 2>/dev/null || echo '?')" \
		want_201="$want201" want_sold_out="$wantsold" timeout="$BENCH_TIMEOUT" \
		workers="$BENCH_WORKERS" seconds="$BENCH_SECONDS"
	http_ceilings "$name"
	for strategy in "${COUPON_STRATEGIES[@]}"; do
		for gate in "${COUPON_GATES[@]}"; do
			say "$name: coupon_strategy = $strategy, coupon_gate = $gate"
			restart_stockade "coupon_strategy = $strategy"$'\n'"coupon_gate = $gate"
			# pgbench needs no stockade: its ceilings once per strategy.
			[ "$gate" != "${COUPON_GATES[0]}" ] || coupon_pgbench "$name" "$strategy" "$admin"
			for conns in $BENCH_COUPON_CONNS; do
				label=$name-$strategy-$gate-$conns
				id=$(create_policy "$admin" "rush-$label" "$BENCH_COUPON_TOTAL") || die "creating the policy failed"
				c0=$(status_counters "${COUPON_COUNTERS[@]}") || die "GET /status failed"
				mark=$(log_mark "$STACK_DIR/stockade.log")
				POINT_TAGS=$(json_obj role=rush strategy="$strategy" gate="$gate" policy="$id") \
					rush_point "$label" "$conns" "/api/v1/coupons/$id/issue" "$tokens" "201 409"
				db=$(coupon_rows_json "$(settled coupon_rows "$id")")
				c1=$(status_counters "${COUPON_COUNTERS[@]}") || die "GET /status failed"
				rissued=$(stack_redis GET "{coupon:$id}:issued")
				access=$(tail -n "+$((mark + 1))" "$STACK_DIR/stockade.log" | grep -c ' access POST /api/v1/coupons/')
				point_merge "$label" "$(jq -n --argjson c "$(counters_delta "$c0" "$c1")" \
					--argjson calls "$(coupon_pgss)" --argjson db "$db" --arg r "$rissued" --argjson a "$access" \
					'{counters: $c, calls: $calls, db: $db, redis_issued: ($r | tonumber? // null), access_lines: $a}')"
				coupon_rush_check "$label" "$want201" "$wantsold"
			done
		done
		say "$name ($strategy): audit $(audit)"
	done
	after_scenario "$name"
}

# coupon_rush_check POINT WANT_201 WANT_SOLD_OUT: the checks of a rush's
# record against what was expected of it (WANT_201 coupons issued, the
# other WANT_SOLD_OUT requests refused as sold_out), against the database,
# Redis (with the gate on), stockade's counters and its log.
coupon_rush_check() {
	local point=$1 want201=$2 wantsold=$3 n201 sold ndone db gate
	n201=$(point_get "$point" '.rush.status_201 // 0')
	sold=$(point_get "$point" '.rush.code_409_sold_out // 0')
	ndone=$(point_get "$point" '.rush.done // 0')
	gate=$(point_get "$point" .gate)
	db=$(point_get "$point" .db)
	if [ "$n201" -gt "$BENCH_COUPON_TOTAL" ] || [ "$(jq '.issued > .total' <<<"$db")" = true ]; then
		point_problem "$point" "**OVERSOLD**: $n201 answers 201, $(jq -r '"issued_quantity \(.issued) of \(.total)"' <<<"$db")"
	elif [ "$n201" -ne "$want201" ] || [ "$sold" -ne "$wantsold" ]; then
		point_problem "$point" "**ERRORS** $n201 × 201 and $sold × sold_out, expected $want201 and $wantsold"
	fi
	if [ "$(jq --argjson n "$n201" '.issued == $n and .coupons == $n and .users == $n and .outside == 0' <<<"$db")" != true ]; then
		point_problem "$point" "**DATABASE MISMATCH**: $(jq -r '"issued_quantity \(.issued), \(.coupons) coupons of \(.users) users (\(.outside) not in the rush)"' <<<"$db") for $n201 answers 201"
	fi
	if [ "$gate" = redis ] && [ "$(point_get "$point" '.redis_issued')" != "$n201" ]; then
		point_problem "$point" "**ERRORS** Redis {coupon:$(point_get "$point" .policy)}:issued is '$(point_get "$point" '.redis_issued // ""')', not $n201"
	fi
	if [ "$(point_get "$point" '[.counters | (.coupon_db_attempts, .coupon_gate_passed, .coupon_gate_refused, .coupon_gate_bypassed) < 0] | any')" = true ]; then
		point_problem "$point" "**ERRORS** /status counters went down (a worker restarted?)"
	fi
	if [ "$(point_get "$point" .check)" = ok ] && [ "$(point_get "$point" .access_lines)" -lt "$ndone" ]; then
		point_problem "$point" "**ERRORS** stockade logged fewer issue requests than rush sent"
	fi
}
