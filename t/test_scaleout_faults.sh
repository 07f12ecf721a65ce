#!/usr/bin/env bash
# t/test_scaleout_faults.sh: the fault-injection run (t/faults/run.py, its
# mixed keyed load of orders, payments, cancels, charges and claims) over
# the hosts of docs/scaling.md (t/test_scaleout.sh's: nginx, three stockade
# hosts, a PostgreSQL primary with a synchronous standby, Redis), through
# two faults of a fixed schedule (t/faults/inject_hosts.sh), and then the
# history checker (t/faults/check.py) against the promoted primary: no
# oversell, every 201 durable, nothing phantom, coupons exactly N, balance
# = ledger.
#
# 1. link_down: app2's only interface down for 33 s (past nginx's
#    fastcgi_read_timeout, 30 s, and stockade's request_timeout, 20 s),
#    then up.  nginx passes a new request on to another host only when it
#    could not connect to app2 (never a POST it had sent), answers the
#    requests app2 held 504 once fastcgi_read_timeout is over; a session
#    from app2's address holding a row lock in an idle transaction (a
#    stand-in for a worker cut off mid-transaction) is ended by PostgreSQL
#    after idle_in_transaction_timeout, its lock with it; once the link is
#    back app2 serves again by itself.  The figures are printed.
# 2. pg_failover: pg1 stopped (-m immediate), pg2 promoted a second later;
#    the workers of all three hosts find it by themselves.
#
# Afterwards every pending order is made due and the reapers expire them;
# then the checker must find no violation over the whole history.  Last,
# split brain is shown: the old primary started again, unfenced, takes the
# new connections of a restarted app host, and commits there.
#
# Needs root (network namespaces): skipped (exit 77), saying so, where
# `ip netns add` is refused.  Takes 70 to 130 s.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh);
# FAULTS_SEED (the load's seed, random by default, logged); STACK_KEEP=1
# keeps the directory (faults/history.jsonl, faults/check.out, the
# link-down trace, every server's log).

# The hosts and servers of t/test_scaleout.sh (which sources preamble.sh
# and netns.sh); its own main is not run.
SCALEOUT_LIB=1
# shellcheck source=t/test_scaleout.sh
. "$(dirname "$0")/test_scaleout.sh"
command -v python3 >/dev/null || { echo "python3 is missing (scripts/install-deps)" >&2; exit 99; }

SEED=${FAULTS_SEED:-$((RANDOM * 32768 + RANDOM))}
LINK_DOWN_S=33
USERS=40

# fig KIND NAME: a figure inject_hosts.sh wrote for its fault KIND.
fig() {
	awk -v n="$2" '$1 == n { print $2 }' "$OUT/$1.txt" 2>/dev/null
}

# access FILTER: nginx's log lines of the run, for awk, with the fields
# split: at (end, s), status, ups (upstreams tried, ", "), ust (their
# statuses), req, rt (request time, s), conn (connect times, "-": never
# connected).  FILTER is an awk condition on them; prints what it prints.
access() {
	awk -F'"' "{
	    split(\$1, a, \" \"); at = a[1]; status = a[2]; ups = \$2; ust = \$4
	    req = \$6; rt = \$7 + 0; conn = \$8
	    nu = split(ups, u, \", \"); split(conn, c, \", \")
	} $1" "$STACK_DIR/nginx-access.log"
}

APP2_UP="$(app_addr 2):$APP_PORT"

check_link_down() {
	local cut up ready idle idle_ms trace=$OUT/link_down.trace held passed resent lock after gone since
	cut=$(fig link_down cut_us)
	up=$(fig link_down up_us)
	ready=$(fig link_down ready_us)
	[ -n "$cut" ] && [ -n "$up" ]
	ok $? "link down: app2's link went down and came up" || return
	cut=$((cut / 1000))
	up=$((up / 1000))
	# Requests nginx had sent to app2 (it connected) and app2 never
	# answered: nginx gives up on each after fastcgi_read_timeout (30 s).
	held=$(access "u[1] == \"$APP2_UP\" && c[1] != \"-\" && status >= 502 &&
	    (at - rt) * 1000 < $up && at * 1000 > $cut { print status, rt }")
	diag "link down: requests app2 held, answered by nginx (status, seconds): $(sort <<<"$held" | uniq -c | paste -sd, -)"
	[ -n "$held" ] || ! grep -q "^$(head -n 1 "$trace" | cut -d' ' -f1) .* active .* stockade_worker" "$trace"
	ok $? "link down: app2 was serving a request at the cut (a worker of it active in PostgreSQL), and nginx saw it held"
	awk '$1 != 504 || $2 < 29.5 || $2 > 31.5 { exit 1 }' <<<"$held"
	ok $? "link down: nginx answered each request app2 held 504 after fastcgi_read_timeout (30 s)"
	# New requests nginx chose app2 for while it was down: never connected,
	# passed to the next host.
	passed=$(access "u[1] == \"$APP2_UP\" && c[1] == \"-\" && nu > 1 && at * 1000 > $cut { print rt }")
	diag "link down: requests passed on from app2 (never connected) to the next host: $(grep -c . <<<"$passed"), seconds taken: $(sort -n <<<"$passed" | sed -n '1p;$p' | paste -sd' ' -)"
	resent=$(access "req ~ /^POST / && nu > 1 { for (i = 1; i < nu; i++) if (c[i] != \"-\") print }")
	is "$resent" "" "link down: nginx passed a POST to another host only when it had never connected to the first"
	# Answered by app2 itself (a 503 of the failover too), not by nginx.
	after=$(access "u[nu] == \"$APP2_UP\" && at * 1000 > $up && status != 502 && status != 504 &&
	    req !~ /readyz/ { n++ } END { print n + 0 }")
	[ -n "$ready" ] && [ "$after" -gt 0 ]
	ok $? "link down: app2 serves again once its link is up: /readyz 200 x6 $((ready / 1000 - up)) ms after, then $after requests of the load"
	# The stand-in's lock: PostgreSQL ends an idle transaction after
	# idle_in_transaction_session_timeout, though its client is gone and
	# no keepalive has noticed.
	idle=$(fig link_down idle_in_transaction_timeout)
	idle_ms=$((${idle%s} * 1000))
	lock=$(awk -v p="$(fig link_down stand_in_pid)" '{ t[$1] = 1 } $2 == p { last = $1 }
	    END { for (x in t) if (x + 0 > last + 0 && (gone == "" || x + 0 < gone + 0)) gone = x; print last, gone }' "$trace")
	gone=$(cut -d' ' -f2 <<<"$lock")
	# From its last statement (idle since), in ms.
	since=$(((cut * 1000 - $(fig link_down stand_in_idle_us)) / 1000))
	diag "link down: the stand-in's transaction (row lock on option $(fig link_down stand_in_option), idle from $since ms before the cut): last seen $(cut -d' ' -f1 <<<"$lock") ms after the cut, gone at ${gone:-never} ms (idle_in_transaction_timeout $idle)"
	[ -n "$gone" ] && [ $((since + gone)) -ge $((idle_ms - 500)) ] && [ $((since + gone)) -le $((idle_ms + 2500)) ]
	ok $? "link down: PostgreSQL ended the cut-off transaction, and its lock, idle_in_transaction_timeout ($idle) after its last statement ($((since + ${gone:-0})) ms)"
	diag "link down: app2's own backends at the cut, and when each ended: $(awk '
	    NR == 1 { t0 = $1 } $5 != "stand-in" && $1 == t0 { s[$2] = $5 " " $3 ($4 == "t" ? "+xid" : "") ($6 != "-" ? " waiting " $6 : "") }
	    $5 != "stand-in" { last[$2] = $1 }
	    END {
	        for (p in s) {
	            printf "%s%s (%s) ended %s", sep, p, s[p], (last[p] == $1 ? "never (still there at link up)" : "after " last[p] " ms")
	            sep = "; "
	        }
	    }' "$trace")"
	diag "link down: app2's workers killed by request_timeout: $(grep -c 'request_timeout: killed' "$STACK_DIR/app2.log")"
}

check_failover() {
	local stop promote first
	stop=$(fig pg_failover stop_us)
	promote=$(fig pg_failover promote_us)
	[ -n "$promote" ]
	ok $? "failover: pg1 stopped and pg2 promoted" || return
	is "$(pg_psql pg2 'SELECT pg_is_in_recovery()')" f "failover: pg2 is the primary"
	first=$(access "req ~ /^POST / && status ~ /^2/ && at * 1000000 > $promote { print at }" | sort -n | head -n 1)
	[ -n "$first" ]
	ok $? "failover: writes succeed after the promotion" || return
	first=$(awk -v f="$first" 'BEGIN { printf "%.0f", f * 1000000 }')
	diag "failover: first 2xx POST $(((first - promote) / 1000)) ms after pg_ctl promote returned, $(((first - stop) / 1000)) ms after the stop;" \
		"5xx answers from the stop on until then: $(access "at * 1000000 > $stop && at * 1000000 < $first && status >= 500 { print status }" | sort | uniq -c | awk '{ printf "%s%s x%d", sep, $2, $1; sep = ", " }')"
}

# Split brain, shown after the checker: pg1 started again as it was, not
# fenced (no manager demoted it or made it a standby of pg2), is a writable
# primary as much as pg2; libpq takes the first writable host listed, so
# the new connections of a restarted app host go to pg1.  A commit there
# waits for its synchronous standby, pg2, which streams from nobody now,
# past statement_timeout (PostgreSQL stops that timer before it commits):
# the commit is never acknowledged, yet once the wait is canceled it
# stands, on pg1 alone.
# sessions PG: stockade's sessions on server PG by host ("ADDR xN, ...").
sessions() {
	pg_psql "$1" "SELECT string_agg(h || ' x' || n, ', ' ORDER BY h) FROM (SELECT host(client_addr) h, count(*) n
	    FROM pg_stat_activity WHERE application_name LIKE 'stockade%' GROUP BY 1) s"
}

test_split_brain() {
	local i pid
	pg_start pg1 || return
	is "$(pg_psql pg1 'SELECT pg_is_in_recovery()')" f "split brain: pg1, started again unfenced, takes writes too"
	stop_app 3 && start_app 3 || return
	for ((i = 0; i < 50; i++)); do
		[ "$(pg_psql pg1 "SELECT count(*) FROM pg_stat_activity WHERE client_addr = '$(app_addr 3)'")" -ge $((APP_WORKERS + 1)) ] && break
		sleep 0.1
	done
	diag "split brain: stockade's sessions on pg1: $(sessions pg1) ($(pg_psql pg1 "SELECT string_agg(host(client_addr) || ' ' ||
	    application_name || ' since ' || to_char(backend_start, 'HH24:MI:SS.MS'), ', ') FROM pg_stat_activity
	    WHERE application_name LIKE 'stockade%' AND client_addr <> '$(app_addr 3)'")); on pg2: $(sessions pg2)"
	is "$(sessions pg1 | grep -o "$(app_addr 3)[^,]*") $(sessions pg2 | grep -c "$(app_addr 3)")" \
		"$(app_addr 3) x$((APP_WORKERS + 1)) 0" \
		"split brain: app3, restarted, connects to pg1 (the first writable host in its database_url), all its sessions"
	like "$(sessions pg2)" "$(app_addr 1) x[1-9]" "split brain: app1 keeps its sessions on pg2: two primaries take writes"
	pg_psql pg1 "SET statement_timeout = '1s'; SET application_name = 'split-probe'; CREATE TABLE split_probe ()" \
		>"$STACK_DIR/split-probe.log" 2>&1 &
	pid=$!
	sleep 2.5
	is "$(pg_psql pg1 "SELECT state || ' ' || wait_event FROM pg_stat_activity WHERE application_name = 'split-probe'")" \
		"active SyncRep" "split brain: a commit on pg1 still waits for the synchronous standby 2.5 s later, past statement_timeout (1 s)"
	pg_psql pg1 "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'split-probe'" >/dev/null
	wait "$pid"
	diag "split brain: the commit's wait canceled: $(grep -o 'WARNING: .*' "$STACK_DIR/split-probe.log" | head -n 1)"
	is "$(pg_psql pg1 "SELECT to_regclass('split_probe') IS NOT NULL") $(pg_psql pg2 "SELECT to_regclass('split_probe') IS NOT NULL")" "t f" \
		"split brain: once its wait is canceled, that commit stands on pg1, never on pg2"
}

main() {
	local u rc
	scale_begin
	# Pending orders expire while the run lasts (as in t/test_faults.sh).
	APP_EXTRA_CONF='reservation_ttl = 20s'
	start_all || exit 99
	OUT=$STACK_DIR/faults
	mkdir -p "$OUT"
	mint_tokens_bulk 1 "$USERS" >"$OUT/tokens" || exit 99
	diag "seed $SEED (replay the load's mix: FAULTS_SEED=$SEED $0)"
	export STACK_DIR NETNS_PREFIX FAULTS_OUT=$OUT LINK_DOWN_S
	u=$SECONDS
	netns_exec lb python3 "$T_DIR/faults/run.py" --url "$STACK_URL" --tokens "$OUT/tokens" \
		--admin-token "$(stack_token 1000 admin --ttl 86400)" --out "$OUT" --seed "$SEED" \
		--clients 12 --schedule link_down,pg_failover --gap 3 --calm 5 \
		--inject "$T_DIR/faults/inject_hosts.sh" 2>"$OUT/run.log"
	ok $? "the run finished (load, link down, failover, retries) in $((SECONDS - u)) s"
	sed 's/^/# /' "$OUT/run.log"
	is "$(jq -s -c 'map([.kind, .rc])' "$OUT/faults.jsonl")" '[["link_down",0],["pg_failover",0]]' \
		"both faults were made and the hosts came back after each"
	check_link_down
	check_failover
	# Every host's workers write on the new primary (a /readyz reconnects).
	for u in 1 2 3 4 5 6; do
		curl -s -o /dev/null -m 5 "http://$LB:$APP2_PORT/readyz"
	done
	is "$(pg_psql pg2 "SELECT string_agg(DISTINCT host(client_addr), ' ' ORDER BY host(client_addr))
	    FROM pg_stat_activity WHERE application_name LIKE 'stockade%'")" \
		"$(app_addr 1) $(app_addr 2) $(app_addr 3)" "failover: all three app hosts are connected to pg2"
	# The pending orders run out: the reapers (every host runs one)
	# expire them on the new primary.
	stack_psql "UPDATE orders SET expires_at = now() WHERE status = 'pending'" >/dev/null
	for ((u = 0; u < 100; u++)); do
		[ "$(stack_psql "SELECT count(*) FROM orders WHERE status = 'pending'")" = 0 ] && break
		sleep 0.1
	done
	is "$(stack_psql "SELECT count(*) FROM orders WHERE status = 'pending'")" 0 \
		"after the run: every pending order expired through the reapers, on pg2"
	python3 "$T_DIR/faults/check.py" --dir "$OUT" --audit "$STOCKADE_SRCDIR/sql/audit.sql" \
		--psql "$STACK_PG_BIN/psql -h $STACK_DIR/pg2-run -U postgres -d stockade" >"$OUT/check.out" 2>&1
	rc=$?
	sed 's/^/# /' "$OUT/check.out"
	is "$rc" 0 "the checker found no violation over the history, on the promoted primary (seed $SEED)"
	test_split_brain
	done_testing
}

main
