# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/scenarios/points.sh: POST /api/v1/points/charge on one hot
# account or BENCH_USERS cold ones, per point_strategy, with conflicts and
# retries, next to pgbench of the same transaction.  Sourced by bench/run.

POINTS_STRATEGIES=(optimistic pessimistic conditional)
# stockade's defaults, which the benchmark keeps (bench/README.md says so).
POINTS_RETRIES=5
POINTS_MAX_BALANCE=1000000000

about_points() {
	printf 'charges/s, one hot account vs %s, 16 and 64 conns, optimistic vs pessimistic vs conditional, conflicts and retries, next to pgbench running the same SQL\n' "$BENCH_USERS"
}

# ledger_now: the number of rows in point_ledger.
ledger_now() {
	stack_psql 'SELECT count(*) FROM point_ledger'
}

# points_open_accounts HOT_USER: one charge of 1 through the API for each
# user of $WORK/tokens (1..BENCH_USERS) and for HOT_USER
# ($WORK/tokens-hot), so that every account exists before anything is
# measured (the first charge creates it).  One curl, 8 transfers at a time.
points_open_accounts() {
	local hot=$1 cfg=$WORK/points-open.curl token sep='' codes n
	while IFS= read -r token; do
		printf '%surl = "%s/api/v1/points/charge"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "{\\"amount\\":1}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
			"$sep" "$STACK_URL" "$token"
		sep=$'next\n'
	done < <(cat "$WORK/tokens" "$WORK/tokens-hot") >"$cfg"
	# (-s does not quiet the progress meter of --parallel.)
	codes=$(curl --no-progress-meter --parallel --parallel-max 8 -K "$cfg") || {
		say "opening the point accounts: curl failed"
		return 1
	}
	n=$(grep -c '^200$' <<<"$codes")
	if [ "$n" -ne $((BENCH_USERS + 1)) ]; then
		say "opening the point accounts: $n of $((BENCH_USERS + 1)) charges answered 200: $(sort <<<"$codes" | uniq -c | paste -sd' ')"
		return 1
	fi
	n=$(stack_psql "SELECT count(*) FROM point_accounts WHERE user_id BETWEEN 1 AND $BENCH_USERS OR user_id = $hot")
	if [ "$n" -ne $((BENCH_USERS + 1)) ]; then
		say "opening the point accounts: $n of $((BENCH_USERS + 1)) accounts exist"
		return 1
	fi
}

# points_strategy_seen POINT: the strategy whose statements point POINT's
# pg_stat_statements show: optimistic, pessimistic, conditional or "?".
points_strategy_seen() {
	point_get "$1" '[.pgss[].query] as $q
		| def seen(re): any($q[]; test(re));
		(seen("^SELECT balance, version FROM point_accounts .*FOR UPDATE")) as $lock
		| (any($q[]; test("^SELECT balance, version FROM point_accounts") and (test("FOR UPDATE") | not))) as $read
		| (seen("UPDATE point_accounts SET balance = balance \\+")) as $add
		| (seen("UPDATE point_accounts SET balance = \\$")) as $set
		| if $lock and $set and ($add | not) then "pessimistic"
		  elif $read and $set and ($add | not) and ($lock | not) then "optimistic"
		  elif $add and ($set | not) and ($lock | not) then "conditional"
		  else "?" end'
}

# points_point STRATEGY PATTERN CONNS TOKENS: the stockade point
# points-STRATEGY-PATTERN-CONNS with what it is checked against:
# "committed" (the ledger rows it added), "counters" (the growth of
# point_conflicts and db_retries in GET /status, read before it and once
# the ledger stopped moving after it), "log_409" (stockade's access lines
# of 409 answers: with the code conflict, and others) and
# "strategy_seen" (points_strategy_seen).
points_point() {
	local strategy=$1 pattern=$2 conns=$3 tokf=$4 label=points-$1-$2-$3 tol='' c0 c1 before committed
	local mark conflict409 other409 ok200 seen
	# Only the optimistic strategy answers 409 conflict (after its
	# retries); from the others a 409 is an error.
	[ "$strategy" != optimistic ] || tol=409
	need_stack
	c0=$(status_counters point_conflicts db_retries) || die "GET /status failed"
	before=$(ledger_now)
	mark=$(log_mark "$STACK_DIR/stockade.log")
	POINT_TAGS=$(json_obj role=stockade strategy="$strategy" pattern="$pattern") \
		BENCH_TOLERATE=$tol BENCH_WRK_MODE=points BENCH_WRK_TOKENS=$tokf \
		wrk_point "$label" "$conns" /api/v1/points/charge 200
	committed=$(($(settled ledger_now) - before))
	c1=$(status_counters point_conflicts db_retries) || die "GET /status failed"
	# stockade's own access lines say which 409 it was.
	conflict409=$(tail -n "+$((mark + 1))" "$STACK_DIR/stockade.log" |
		grep -c ' access POST /api/v1/points/charge 409 .* code=conflict$')
	other409=$(tail -n "+$((mark + 1))" "$STACK_DIR/stockade.log" |
		grep ' access POST /api/v1/points/charge 409 ' | grep -vc ' code=conflict$')
	seen=$(points_strategy_seen "$label")
	point_merge "$label" "$(jq -n --argjson c "$(counters_delta "$c0" "$c1")" \
		--argjson committed "$committed" --argjson conflict "$conflict409" --argjson other "$other409" \
		--arg seen "$seen" \
		'{committed: $committed, counters: $c, log_409: {conflict: $conflict, other: $other},
		  strategy_seen: $seen}')"
	point_update "$label" 'if .check == "ok" and .tolerated > 0 then .check = "expected: optimistic conflicts" else . end'
	[ "$other409" -eq 0 ] ||
		point_problem "$label" "**ERRORS** $other409 answers 409 with a code other than conflict"
	[ "$(point_get "$label" '[.counters[] < 0] | any')" = false ] ||
		point_problem "$label" "**ERRORS** /status counters went down (a worker restarted?)"
	[ "$seen" = "$strategy" ] ||
		point_problem "$label" "**ERRORS** the statements are not those of $strategy (pg_stat_statements: $seen)"
	# Every 200 is a committed ledger row (docs/architecture.md, invariant 5).
	ok200=$(point_get "$label" '.statuses["200"] // 0')
	[ "$committed" -ge "$ok200" ] ||
		point_problem "$label" "**LOST CHARGES**: $((ok200 - committed)) answered 200 but not in the ledger"
}

# points_pgbench STRATEGY PATTERN CONNS LO HI: pgbench of the charge
# transaction next to point points-STRATEGY-PATTERN-CONNS, on the accounts
# of users LO..HI, as point points-STRATEGY-PATTERN-CONNS-pgbench with
# "gained" (the ledger rows it added) and "zero_row" (the transactions
# that added none: pgbench cannot retry an optimistic charge whose version
# moved).
points_pgbench() {
	local strategy=$1 pattern=$2 conns=$3 lo=$4 hi=$5 label=points-$1-$2-$3-pgbench before gained zero
	before=$(ledger_now)
	POINT_TAGS=$(json_obj role=pgbench strategy="$strategy" pattern="$pattern" conns="$conns") \
		pgbench_point "$label" "$PGBENCH_DIR/charge-$strategy.sql" -D "u_lo=$lo" -D "u_hi=$hi" \
		-D amount=1 -D "max_balance=$POINTS_MAX_BALANCE"
	gained=$(($(ledger_now) - before))
	zero=$(($(point_get "$label" .processed) - gained))
	point_merge "$label" "$(json_obj gained="$gained" zero_row="$zero")"
	# Only an optimistic transaction may change nothing.
	if [ "$strategy" != optimistic ] && [ "$zero" -ne 0 ]; then
		point_problem "$label" "**ERRORS** $zero transactions added no ledger row"
	fi
}

# Points points-STRATEGY-PATTERN-CONNS (wrk; points_point) and
# points-STRATEGY-PATTERN-CONNS-pgbench (points_pgbench), tagged {"role":
# "stockade" or "pgbench", "strategy", "pattern"}.
scenario_points() {
	local hot strategy pattern conns lo hi tokf
	hot=$((BENCH_USERS + 1))
	mint_tokens || die "minting tokens failed"
	stack_token "$hot" >"$WORK/tokens-hot" || die "minting the hot user's token failed"
	say "points: opening $((BENCH_USERS + 1)) accounts through the API"
	points_open_accounts "$hot" || die "opening the point accounts failed"
	scenario_begin points users="$BENCH_USERS" hot_user="$hot" workers="$BENCH_WORKERS" \
		seconds="$BENCH_SECONDS" retries="$POINTS_RETRIES" max_balance="$POINTS_MAX_BALANCE" \
		strategies="${POINTS_STRATEGIES[*]}"
	for strategy in "${POINTS_STRATEGIES[@]}"; do
		say "points: point_strategy = $strategy"
		restart_stockade "point_strategy = $strategy"
		for pattern in hot cold; do
			if [ "$pattern" = hot ]; then
				tokf=$WORK/tokens-hot lo=$hot hi=$hot
			else
				tokf=$WORK/tokens lo=1 hi=$BENCH_USERS
			fi
			for conns in 16 64; do
				points_point "$strategy" "$pattern" "$conns" "$tokf"
				points_pgbench "$strategy" "$pattern" "$conns" "$lo" "$hi"
			done
		done
		say "points ($strategy): audit $(audit)"
	done
	after_scenario points
}
