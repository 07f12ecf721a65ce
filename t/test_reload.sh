#!/usr/bin/env bash
# t/test_reload.sh: SIGHUP reloads the configuration without a failed
# request (issue 15, "Process management").  Under load through nginx (64
# clients for 20 s: orders, the catalogue and whoami), the master gets a
# SIGHUP every 2 s, the file alternating workers = 6 / stock_strategy =
# conditional and workers = 4 / stock_strategy = pessimistic: every answer
# must be 2xx, nginx must log no failed upstream connection, and afterwards
# the last configuration runs: /status lists its workers, the master has
# workers + 1 children, PostgreSQL sees workers + 1 connections, and a new
# order takes its stock with the conditional UPDATE (pg_stat_statements).
# Then a refused file (a bad value) is logged with file:line: key and the
# running configuration goes on serving, untouched; and a changed `listen`
# is named in the log and kept.  Exit status follows automake: 0 pass, 1
# fail, 99 when the stack cannot even start.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh);
# RELOAD_CLIENTS (default 64) and RELOAD_SECONDS (default 20)
# shrink the load on a slow machine.
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/procs.sh
. "$T_DIR/lib/procs.sh"
export STACK_WORKERS=4
CLIENTS=${RELOAD_CLIENTS:-64}
DURATION=${RELOAD_SECONDS:-20}
LOG=

# configure WORKERS STRATEGY: rewrite the two keys in stockade.conf.
configure() {
	sed -i -e "s/^workers = .*/workers = $1/" \
		-e "s/^stock_strategy = .*/stock_strategy = $2/" "$STACK_CONF"
}

# log_count REGEX: the lines of stockade.log that match.
log_count() {
	grep -c -- "$1" "$LOG"
}

# strategy_calls: how often the conditional stock_take (sql/queries/stock.sql)
# and the pessimistic stock_lock ran since the last reset, as "TAKE LOCK".
strategy_calls() {
	stack_psql "SELECT coalesce(sum(calls) FILTER (WHERE query LIKE '%po.stock >= x.q%'), 0)
	         || ' ' || coalesce(sum(calls) FILTER (WHERE query
	                 LIKE '%WHERE id = ANY(\$1::bigint[]) ORDER BY id FOR UPDATE%'), 0)
	    FROM pg_stat_statements"
}

export STACK_EXTRA_CONF='stock_strategy = pessimistic'
# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap procs_cleanup EXIT
stack_start || exit 99
MASTER=$STACK_STOCKADE_PID
LOG=$STACK_DIR/stockade.log
diag "stack in $STACK_DIR, master pid $MASTER; load: $CLIENTS clients for $DURATION s"
wait_db_conns 5 30
ok $? "before: database connections = workers + 1 (5)"

ADMIN=$(stack_token 1 admin)
OPTION=$(create_product "$ADMIN" "reload stock" 1000000) || exit 99
spec=$STACK_DIR/reload.spec
mint_tokens_bulk 1 64 >"$STACK_DIR/tokens" || exit 99
while IFS=$'\t' read -r user token; do
	printf 'POST\t/api/v1/orders\t%s\t{"items":[{"option_id":%s,"quantity":1}]}\n' "$token" "$OPTION"
	printf 'GET\t/api/v1/products\t\t\n'
	printf 'GET\t/api/v1/whoami\t%s\t\n' "$token"
done <"$STACK_DIR/tokens" >"$spec"
[ "$(grep -c . "$spec")" -eq 192 ] || exit 99

# ---------------------------------------------------------------------------
# A reload every 2 s under load.

errlog_before=$(wc -l <"$STACK_DIR/nginx-error.log")
burst_start "$CLIENTS" "$DURATION" "$spec"
now_ms
t0=$NOW_MS
reloads=0
# One reload every 2 s while the load runs; an odd count (9 in 20 s) ends
# on 6 workers and the conditional strategy.
while [ "$(((reloads + 1) * 2))" -lt "$DURATION" ] || [ $((reloads % 2)) -eq 0 ]; do
	now_ms
	wait_ms=$((t0 + (reloads + 1) * 2000 - NOW_MS))
	[ "$wait_ms" -le 0 ] || sleep "$((wait_ms / 1000)).$(printf '%03d' $((wait_ms % 1000)))"
	if [ $((reloads % 2)) -eq 0 ]; then
		configure 6 conditional
	else
		configure 4 pessimistic
	fi
	kill -HUP "$MASTER"
	reloads=$((reloads + 1))
done
burst_wait
summary=$(burst_summary)
diag "load across $reloads reloads: $summary"
total=$(burst_count)
good=$(grep -c '^20[01] 0$' "$STACK_DIR/burst.out")
[ "$total" -ge $((CLIENTS * 2)) ]
ok $? "load: requests ran ($total)"
is "$((total - good))" 0 "zero non-2xx answers and zero connection errors across $reloads reloads"
trouble=$(tail -n +"$((errlog_before + 1))" "$STACK_DIR/nginx-error.log" |
	grep 'connect() \|prematurely closed\|reset by peer\|timed out')
is "$(printf '%s' "$trouble" | grep -c .)" 0 "nginx logged no failed upstream connection"
[ -z "$trouble" ] || diag "$trouble"

wait_for_line 30 "$LOG" 'master: SIGHUP: reloaded .*generation [0-9]* starts' "$reloads"
ok $? "the master logged $reloads reloads"
is "$(log_count 'SIGHUP: reloaded .*(workers: 4 -> 6; stock_strategy: pessimistic -> conditional)')" \
	"$(((reloads + 1) / 2))" "each reload to 6 workers named both changes"
last=$((reloads + 1))
wait_for_line 30 "$LOG" "master: generation $last serves; generation $reloads retires"
ok $? "generation $last serves, and the one before it retired"
wait_for_line 30 "$LOG" 'master: generation [0-9]* has exited' "$reloads"
ok $? "every older generation has exited"
diag "$(grep 'master: generation' "$LOG" | tail -n 3 | cut -d' ' -f5-)"

# ---------------------------------------------------------------------------
# The last configuration runs: 6 workers, the conditional strategy.

children=$(pgrep -P "$MASTER" | grep -c .)
is "$children" 7 "the master has 6 workers + the reaper"
wait_db_conns 7 30
ok $? "database connections = workers + 1 (7)"
is "$(db_conns 'stockade reaper')" 1 "one reaper"
stack_get_status
is "$(jq '.workers | length' <<<"$HTTP_BODY")" 6 "/status lists 6 workers"
is "$(jq '[.workers[] | select(.pid > 0)] | length' <<<"$HTTP_BODY")" 6 "/status: each has a pid"
stack_psql 'SELECT pg_stat_statements_reset()' >/dev/null
token=$(head -n 1 "$STACK_DIR/tokens" | cut -f2)
for _ in 1 2 3 4 5 6; do
	http POST /api/v1/orders "$(order_body "$OPTION" 1)" "$token"
	[ "$HTTP_STATUS" = 201 ] || diag "order: $HTTP_STATUS $HTTP_BODY"
done
is "$(strategy_calls)" "6 0" "orders take stock with the conditional UPDATE, none with FOR UPDATE"

# ---------------------------------------------------------------------------
# A refused file: logged with file:line: key, nothing changes.

pids_before=$(pgrep -P "$MASTER" | sort | tr '\n' ' ')
cp "$STACK_CONF" "$STACK_DIR/good.conf"
configure 4 pessimistic
printf 'max_body = 1.5M\n' >>"$STACK_CONF"
line=$(grep -c '' "$STACK_CONF")
refused_before=$(log_count 'the running configuration stays')
kill -HUP "$MASTER"
wait_for_line 10 "$LOG" 'the running configuration stays' "$((refused_before + 1))"
ok $? "a refused file: the master says the running configuration stays"
like "$(grep 'the running configuration stays' "$LOG" | tail -n 1)" \
	"SIGHUP: $STACK_CONF:$line: max_body: must be a size" "... naming file:line: key and why"
sleep 0.5
is "$(pgrep -P "$MASTER" | sort | tr '\n' ' ')" "$pids_before" "a refused file: the same processes serve"
http GET /api/v1/products
is "$HTTP_STATUS" 200 "a refused file: still serving"
stack_get_status
is "$(jq '.workers | length' <<<"$HTTP_BODY")" 6 "a refused file: still 6 workers"
stack_psql 'SELECT pg_stat_statements_reset()' >/dev/null
http POST /api/v1/orders "$(order_body "$OPTION" 1)" "$token"
is "$HTTP_STATUS" 201 "a refused file: orders still succeed"
is "$(strategy_calls)" "1 0" "a refused file: still the conditional strategy"
is "$(db_conns)" 7 "a refused file: database connections = workers + 1"

# ---------------------------------------------------------------------------
# A key that needs a restart: named, kept; the rest of the file applies.

cp "$STACK_DIR/good.conf" "$STACK_CONF"
sed -i "s|^listen = .*|listen = $STACK_DIR/other.sock|" "$STACK_CONF"
sed -i 's/^workers = .*/workers = 3/' "$STACK_CONF"
kept_before=$(log_count 'listen changed, which needs a restart')
kill -HUP "$MASTER"
wait_for_line 10 "$LOG" 'listen changed, which needs a restart' "$((kept_before + 1))"
ok $? "a changed listen: the log names it as needing a restart"
wait_for_line 30 "$LOG" 'SIGHUP: reloaded .*(workers: 6 -> 3)'
ok $? "a changed listen: the other change (workers) applies alone"
wait_db_conns 4 30
ok $? "a changed listen: database connections = 3 workers + 1"
[ -S "$STACK_DIR/stockade.sock" ] && [ ! -e "$STACK_DIR/other.sock" ]
ok $? "a changed listen: the socket stays where it was, nothing else is bound"
http GET /api/v1/products
is "$HTTP_STATUS" 200 "a changed listen: still serving"

stack_stop
ok $? "stack_stop succeeded"
is "$(stack_leftovers)" "" "no process from $STACK_DIR is left"

done_testing
