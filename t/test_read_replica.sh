#!/usr/bin/env bash
# t/test_read_replica.sh: database_read_url (docs/scaling.md, "Read
# replicas").  A primary (the stack's) and a streaming hot standby made from
# it with pg_basebackup, both on unix sockets in the temp dir; stockade reads
# the catalogue, popular and the histories on the standby and everything
# else on the primary.  It shows:
#   1. those reads are served by the standby (its pg_stat_activity holds the
#      workers' "(reads)" connections, the primary's none; /status counts
#      each such read as db_replica_reads), while writes, an order by id
#      right after its POST and the balance stay on the primary;
#   2. how far behind the standby is in normal running: a restock through
#      the API, then the product page read back through the API (served by
#      the standby) until it shows it;
#   3. with the standby's replay paused (pg_wal_replay_pause), its lag grows
#      and is visible (sql/queries/replica.sql), and a read shows stale
#      data for at most database_read_max_lag + 250 ms after the write:
#      then reads go to the primary (db_replica_lagging), and back to the
#      standby once replay resumes;
#   4. the standby stopped: every read still answers 200, fresh, from the
#      primary (db_replica_failed), without waiting; restarted, reads go
#      back to it within DB_READ_RECONNECT_INTERVAL_MS (5 s);
#   5. with database_read_url listing both servers and
#      target_session_attrs=prefer-standby, the read connections go to the
#      standby, and to the primary while the standby is down;
#   6. the audit is clean.
# Figures are printed as "# " lines (docs/scaling.md quotes them).
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"

MAX_LAG_MS=500
# The bound a stale read must keep (docs/configuration.md,
# "database_read_max_lag"), plus room for the machine's load: a poll's own
# curl and a worker busy with the previous request.
STALE_BOUND_MS=$((MAX_LAG_MS + 250 + 500))

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
PG2=$STACK_DIR/pg2-data

# standby_psql SQL: psql on the standby, as the superuser.
standby_psql() {
	"$STACK_PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$STACK_DIR/pg2-run" -U postgres -d stockade <<<"$1"
}

standby_ctl() {
	_stack_as_pg "$STACK_PG_BIN/pg_ctl" -D "$PG2" -l "$STACK_DIR/pg2.log" -w -t 30 "$@" >/dev/null
}

standby_stop() {
	standby_ctl status >/dev/null 2>&1 || return 0
	standby_ctl -m immediate stop
}

cleanup() {
	local rc=$?
	standby_stop || rc=1
	(exit "$rc")
	stack_cleanup || rc=1
	exit "$rc"
}
trap cleanup EXIT

# start_standby: a base backup of the primary over its unix socket (-R
# writes primary_conninfo and standby.signal), its own socket directory,
# then a hot standby streaming from the primary.
start_standby() {
	local i
	mkdir -p "$STACK_DIR/pg2-run" && mkdir -m 0700 "$PG2" && touch "$STACK_DIR/pg2.log" &&
		_stack_pg_owner "$STACK_DIR/pg2-run" "$PG2" "$STACK_DIR/pg2.log" || return 1
	_stack_as_pg "$STACK_PG_BIN/pg_basebackup" -h "$STACK_DIR/pg-run" -U postgres -D "$PG2" \
		-X stream -c fast --no-sync -R >>"$STACK_DIR/pg2.log" 2>&1 ||
		_stack_fail "pg_basebackup failed" "$STACK_DIR/pg2.log" || return 1
	# The copied stack.conf names the primary's socket directory.
	{
		printf "listen_addresses = ''\n"
		printf "unix_socket_directories = '%s'\n" "$STACK_DIR/pg2-run"
		printf "shared_preload_libraries = 'pg_stat_statements'\n"
		printf 'max_connections = 100\nlog_min_messages = warning\n'
		printf 'fsync = off\nfull_page_writes = off\nhot_standby = on\n'
	} >"$PG2/stack.conf"
	_stack_pg_owner "$PG2/stack.conf"
	standby_ctl start || _stack_fail "the standby did not start" "$STACK_DIR/pg2.log" || return 1
	for ((i = 0; i < 300; i++)); do
		[ "$(stack_psql "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ] &&
			return 0
		sleep 0.1
	done
	_stack_fail "the standby does not stream" "$STACK_DIR/pg2.log"
}

# caught_up: the standby has replayed everything the primary wrote so far.
caught_up() {
	local lsn i
	lsn=$(stack_psql 'SELECT pg_current_wal_lsn()') || return 1
	for ((i = 0; i < 300; i++)); do
		[ "$(standby_psql "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && return 0
		sleep 0.05
	done
	return 1
}

# counter NAME: the summed /status counter NAME.
counter() {
	# shellcheck disable=SC2119 # no curl arguments
	stack_get_status >/dev/null && jq -r ".$1" <<<"$HTTP_BODY"
}

now_ms() {
	date +%s%3N
}

# The replica's lag as stockade measures it, on the standby.
LAG_SQL=$("$STOCKADE_SRCDIR/scripts/embed-queries" --sql replica_lag "$STOCKADE_SRCDIR"/sql/queries/*.sql)

export STACK_WORKERS=2
# synchronous_commit on, as in production: with it off (the stack's
# default), the primary flushes WAL, and so sends it to the standby, only
# every wal_writer_delay (200 ms), which the lag figures would measure.
export STACK_PG_SYNC_COMMIT=1
export STACK_EXTRA_CONF="database_read_url = host=$STACK_DIR/pg2-run dbname=stockade user=stockade
database_read_max_lag = ${MAX_LAG_MS}ms"
stack_start_postgres && start_standby && stack_start_redis && stack_start_stockade &&
	stack_start_nginx && stack_wait_ready || exit 99

ADMIN=$(stack_token 1000 admin)
USER1=$(stack_token 1)
OPT=$(create_product "$ADMIN" replica-p 1000 | head -n 1)
PRODUCT=$(stack_psql "SELECT product_id FROM product_options WHERE id = $OPT")
charge "$USER1" 500 || exit 99
ORDER=$(new_order "$USER1" "$OPT" 2) || exit 99
http POST "/api/v1/orders/$ORDER/pay" '{}' "$USER1"
is "$HTTP_STATUS" 200 "set-up: an order paid"
caught_up || diag "the standby did not catch up"

stock_api() { # the option's stock, read through the API
	http GET "/api/v1/products/$PRODUCT"
	jq -r --argjson o "$OPT" '.options[] | select(.id == $o) | .stock' <<<"$HTTP_BODY"
}

# reads_all: one of each read that may go to the replica; prints the
# statuses that were not 200.
READS_PER_ROUND=5
reads_all() {
	local p bad=""
	for p in /api/v1/products "/api/v1/products/$PRODUCT" /api/v1/products/popular \
		/api/v1/orders /api/v1/points/history; do
		http GET "$p" "" "$USER1"
		[ "$HTTP_STATUS" = 200 ] || bad="$bad $p:$HTTP_STATUS"
	done
	printf '%s' "$bad"
}

# ---------------------------------------------------------------------------
# 1. Reads on the standby, writes and read-your-writes on the primary.

# shellcheck disable=SC2119 # no curl arguments
stack_get_status
is "$(jq -r .db_connections <<<"$HTTP_BODY")" 5 "/status: db_connections = 2 x 2 workers + 1"
before=$(counter db_replica_reads)
for _ in 1 2 3 4; do
	is "$(reads_all)" "" "catalogue, popular and histories answer 200"
done
is "$(($(counter db_replica_reads) - before))" $((4 * READS_PER_ROUND)) \
	"each of those reads was served by the replica"
is "$(counter db_replica_failed)" 0 "no read fell back to the primary"
like "$(standby_psql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'stockade worker % (reads)'")" \
	'^[12]$' "the standby holds the workers' read connections"
is "$(stack_psql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '% (reads)'")" 0 \
	"the primary holds none"
http GET /api/v1/orders "" "$USER1"
is "$(jq -r '.items[0].id' <<<"$HTTP_BODY")" "$ORDER" "the order history (from the standby) lists the paid order"

before=$(counter db_replica_reads)
ORDER2=$(new_order "$USER1" "$OPT" 1)
http GET "/api/v1/orders/$ORDER2" "" "$USER1"
is "$HTTP_STATUS" 200 "an order read by id right after its POST is found (on the primary)"
http GET /api/v1/points "" "$USER1"
is "$HTTP_STATUS" 200 "the balance answers"
is "$(counter db_replica_reads)" "$before" "POST /orders, GET /orders/{id} and GET /points did not touch the replica"
is "$(standby_psql 'SELECT pg_is_in_recovery()')" t "the replica is a standby: it cannot have taken a write"

# ---------------------------------------------------------------------------
# 2. Lag in normal running: the time from a restock's 200 to the product
# page, read back through the API from the standby, showing it.

lags=() first_fresh=0
replica_before=$(counter db_replica_reads)
lagging_before=$(counter db_replica_lagging)
for i in $(seq 1 10); do
	http POST "/api/v1/admin/options/$OPT/restock" '{"quantity":1}' "$ADMIN"
	want=$(jq -r .stock <<<"$HTTP_BODY")
	t0=$(now_ms)
	for ((j = 0; j < 200; j++)); do
		[ "$(stock_api)" = "$want" ] && break
	done
	[ "$j" -gt 0 ] || first_fresh=$((first_fresh + 1))
	lags+=($(($(now_ms) - t0)))
done
diag "normal running: the first read after a restock's 200 showed it $first_fresh times in 10; until it did: ${lags[*]} ms (one read through nginx, curl and jq included)"
replica_n=$(($(counter db_replica_reads) - replica_before))
lagging_n=$(($(counter db_replica_lagging) - lagging_before))
diag "normal running: $replica_n reads on the replica, $lagging_n sent to the primary as lagging past ${MAX_LAG_MS} ms"
[ "$replica_n" -gt "$lagging_n" ]
ok $? "normal running: the replica served most reads"
diag "pg_stat_replication on the primary: $(stack_psql "SELECT 'write_lag=' || coalesce(write_lag::text, 'idle') || ' replay_lag=' || coalesce(replay_lag::text, 'idle') FROM pg_stat_replication")"

# ---------------------------------------------------------------------------
# 3. Replay paused: the lag grows, stale reads stop within the bound.

caught_up
standby_psql 'SELECT pg_wal_replay_pause()' >/dev/null
for ((i = 0; i < 100; i++)); do
	[ "$(standby_psql 'SELECT pg_get_wal_replay_pause_state()')" = paused ] && break
	sleep 0.05
done
old=$(stock_api)
lagging_before=$(counter db_replica_lagging)
http POST "/api/v1/admin/options/$OPT/restock" '{"quantity":5}' "$ADMIN"
t0=$(now_ms)
is "$HTTP_STATUS" 200 "paused: a restock on the primary"
new=$((old + 5))
last_stale=-1 first_fresh=-1 odd=""
while (($(now_ms) - t0 < 2000)); do
	s=$(stock_api)
	t=$(($(now_ms) - t0))
	if [ "$s" = "$old" ]; then
		last_stale=$t
	elif [ "$s" = "$new" ]; then
		[ "$first_fresh" -ge 0 ] || first_fresh=$t
	else
		odd="$odd $s"
	fi
done
diag "paused replay: stale answers until $last_stale ms after the write, fresh from $first_fresh ms (bound ${MAX_LAG_MS} ms + 250 ms)"
is "$odd" "" "paused: every answer is the old or the new stock"
[ "$last_stale" -le "$STALE_BOUND_MS" ]
ok $? "paused: no stale read later than ${STALE_BOUND_MS} ms after the write ($last_stale ms)"
[ "$first_fresh" -ge 0 ]
ok $? "paused: reads show the write (from the primary)"
is "$(stock_api)" "$new" "paused: a read 2 s after the write is fresh"
is "$(standby_psql "SELECT stock FROM product_options WHERE id = $OPT")" "$old" \
	"paused: the standby itself still shows the old stock"
lag=$(standby_psql "$LAG_SQL" | cut -d'|' -f1)
diag "paused replay: the standby's lag (sql/queries/replica.sql) is $lag ms"
[ "$lag" -gt "$MAX_LAG_MS" ]
ok $? "paused: the lag is visible on the standby ($lag ms > $MAX_LAG_MS ms)"
[ "$(counter db_replica_lagging)" -gt "$lagging_before" ]
ok $? "paused: reads were sent to the primary as lagging"

standby_psql 'SELECT pg_wal_replay_resume()' >/dev/null
caught_up || diag "the standby did not catch up after the resume"
t0=$(now_ms)
before=$(counter db_replica_reads)
for ((i = 0; i < 100; i++)); do
	stock_api >/dev/null
	[ "$(counter db_replica_reads)" -gt "$before" ] && break
	sleep 0.05
done
[ "$(counter db_replica_reads)" -gt "$before" ]
ok $? \
	"resumed: reads are served by the replica again ($(($(now_ms) - t0)) ms after it caught up)"

# ---------------------------------------------------------------------------
# 4. The standby stopped: reads answer 200 from the primary, at once.

standby_stop || diag "the standby did not stop"
http POST "/api/v1/admin/options/$OPT/restock" '{"quantity":3}' "$ADMIN"
new=$(jq -r .stock <<<"$HTTP_BODY")
failed_before=$(counter db_replica_failed)
replica_before=$(counter db_replica_reads)
t0=$(now_ms)
for _ in 1 2 3 4; do
	is "$(reads_all)" "" "standby down: catalogue, popular and histories answer 200"
done
t=$(($(now_ms) - t0))
diag "standby down: $((4 * READS_PER_ROUND)) reads in $t ms"
is "$(stock_api)" "$new" "standby down: the product page shows the latest restock"
is "$(($(counter db_replica_failed) - failed_before))" $((4 * READS_PER_ROUND + 1)) \
	"standby down: each read ran on the primary (db_replica_failed)"
is "$(counter db_replica_reads)" "$replica_before" "standby down: none on the replica"
[ "$t" -lt 5000 ]
ok $? "standby down: no read waited for the replica ($t ms for $((4 * READS_PER_ROUND)))"

standby_ctl start || diag "the standby did not start again"
t0=$(now_ms)
before=$(counter db_replica_reads)
while (($(now_ms) - t0 < 10000)); do
	stock_api >/dev/null
	[ "$(counter db_replica_reads)" -gt "$before" ] && break
	sleep 0.2
done
t=$(($(now_ms) - t0))
[ "$(counter db_replica_reads)" -gt "$before" ]
ok $? "standby back: reads return to it ($t ms after it started)"
diag "standby back: reads on it again $t ms after it started"

# ---------------------------------------------------------------------------
# 5. prefer-standby over both servers, as docs/scaling.md sets it up: reads
# on the standby while it answers; with it down, libpq opens the read
# connections on the primary, and reads answer from there.

caught_up || diag "the standby did not catch up after its restart"
stack_stop_stockade || exit 99
STACK_EXTRA_CONF="database_read_url = host=$STACK_DIR/pg2-run,$STACK_DIR/pg-run dbname=stockade user=stockade target_session_attrs=prefer-standby
database_read_max_lag = ${MAX_LAG_MS}ms"
stack_start_stockade && stack_wait_ready || exit 99
is "$(reads_all)" "" "prefer-standby: catalogue, popular and histories answer 200"
like "$(standby_psql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '% (reads)'")" \
	'^[12]$' "prefer-standby: the read connections are on the standby"
standby_stop || diag "the standby did not stop"
for _ in 1 2; do
	is "$(reads_all)" "" "prefer-standby, standby down: every read answers 200"
done
like "$(stack_psql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '% (reads)'")" \
	'^[12]$' "prefer-standby, standby down: libpq opened the read connections on the primary"

# ---------------------------------------------------------------------------
# 6. The audit.

audit_clean "after the replica's outages"
diag "load average: $(cat /proc/loadavg)"
done_testing
