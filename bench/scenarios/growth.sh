# shellcheck shell=bash disable=SC2016 # SQL in single quotes
#
# bench/scenarios/growth.sh: cost vs data size (issue 17, target 5).  The
# shop of bench/growth-data.sql grows to each size of BENCH_GROWTH_SIZES
# paid orders (with their lines, stock movements and ledger rows; the audit
# stays clean), and at each size every read endpoint is measured through
# nginx (catalogue microcache off), then `stockade audit` (the last hour,
# and everything), the reaper expiring BENCH_GROWTH_PENDING pending orders
# and purging as many expired idempotency keys.  Needs an empty shop: run
# it alone (bench/run growth).  Sourced by bench/run.

about_growth() {
	printf 'paid orders %s: load time, read endpoints (%s conns), audit --since and full, reaper expiring %s orders, idempotency purge\n' \
		"$BENCH_GROWTH_SIZES" "$BENCH_GROWTH_CONNS" "$BENCH_GROWTH_PENDING"
}

GROWTH_USER=7            # the user whose orders and history are read
GROWTH_PENDING_BASE=1000000000 # the reaper's test orders: ids above this

# growth_psql [PSQL_ARGS...]: psql as the superuser on the stack's
# database (bench/growth-data.sql turns the foreign keys' triggers off).
growth_psql() {
	"$STACK_PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$STACK_DIR/pg-run" -U postgres -d stockade "$@"
}

# now_ms: the wall clock in milliseconds.
now_ms() {
	date +%s%3N
}

# growth_load T0 TOP LO HI: orders LO+1..HI of a shop whose newest order
# is TOP, then VACUUM ANALYZE (what autovacuum would have done by the time
# such a shop is read), recorded as point growth-load-SIZE.
growth_load() {
	local t0=$1 top=$2 lo=$3 hi=$4 size=$(($2 - $3)) a b c bytes
	say "growth: loading orders $((lo + 1))..$hi ($((hi - lo)) orders, to $size)"
	a=$(now_ms)
	growth_psql -v lo="$lo" -v hi="$hi" -v top="$top" -v t0="$t0" \
		-f "$BENCH_DIR/growth-data.sql" >/dev/null || die "bench/growth-data.sql failed"
	b=$(now_ms)
	growth_psql -c 'VACUUM (ANALYZE) orders, order_items, stock_movements, point_ledger,
		point_accounts, product_options, product_sales_bucket' ||
		die "VACUUM ANALYZE failed"
	c=$(now_ms)
	bytes=$(growth_psql -c "SELECT pg_database_size('stockade')") || die "no database size"
	say "growth: loaded in $((b - a)) ms, vacuumed in $((c - b)) ms; database $((bytes >> 20)) MiB"
	POINT_TAGS=$(json_obj role=load size="$size") point_record "growth-load-$size" \
		"$(json_obj tool=timed orders="$((hi - lo))" load_ms="$((b - a))" vacuum_ms="$((c - b))" \
			db_bytes="$bytes" loadavg="$(cut -d' ' -f1 /proc/loadavg)" check=ok)"
}

# growth_reads SIZE TOKEN: every read endpoint, one wrk point each.
growth_reads() {
	local size=$1 tok=$2 pid deep_o deep_l c=$BENCH_GROWTH_CONNS
	local auth="Authorization: Bearer $tok"
	pid=$(growth_psql -c 'SELECT min(id) FROM products') || die "no product"
	# The deep pages: the user's oldest 20 orders and ledger rows, the page
	# under the 21st oldest (the whole list when the user has fewer).
	deep_o=$(growth_psql -c "SELECT COALESCE((SELECT id FROM orders WHERE user_id = $GROWTH_USER
		ORDER BY id OFFSET 20 LIMIT 1), 9223372036854775807)") || die "no deep order page"
	deep_l=$(growth_psql -c "SELECT COALESCE((SELECT id FROM point_ledger WHERE user_id = $GROWTH_USER
		ORDER BY id OFFSET 20 LIMIT 1), 9223372036854775807)") || die "no deep history page"
	# The reference of the same moment: the machine is shared, and sizes
	# are measured minutes apart.
	POINT_TAGS=$(json_obj role=read size="$size" target=healthz) \
		wrk_point "growth-$size-healthz" "$c" /healthz 200
	POINT_TAGS=$(json_obj role=read size="$size" target=page) \
		wrk_point "growth-$size-page" "$c" "/api/v1/products/$pid" 200
	POINT_TAGS=$(json_obj role=read size="$size" target=list) \
		wrk_point "growth-$size-list" "$c" /api/v1/products 200
	POINT_TAGS=$(json_obj role=read size="$size" target=popular3) \
		wrk_point "growth-$size-popular3" "$c" '/api/v1/products/popular?days=3' 200
	POINT_TAGS=$(json_obj role=read size="$size" target=popular30) \
		wrk_point "growth-$size-popular30" "$c" '/api/v1/products/popular?days=30' 200
	POINT_TAGS=$(json_obj role=read size="$size" target=orders) \
		wrk_point "growth-$size-orders" "$c" /api/v1/orders 200 -H "$auth"
	POINT_TAGS=$(json_obj role=read size="$size" target=orders_deep) \
		wrk_point "growth-$size-orders-deep" "$c" "/api/v1/orders?after=$deep_o" 200 -H "$auth"
	POINT_TAGS=$(json_obj role=read size="$size" target=history) \
		wrk_point "growth-$size-history" "$c" /api/v1/points/history 200 -H "$auth"
	POINT_TAGS=$(json_obj role=read size="$size" target=history_deep) \
		wrk_point "growth-$size-history-deep" "$c" "/api/v1/points/history?after=$deep_l" 200 -H "$auth"
}

# growth_audit SIZE NAME [--since WHEN]: `stockade audit` timed, as point
# growth-SIZE-audit-NAME; its check is "ok" when it found nothing.
growth_audit() {
	local size=$1 name=$2 a b rc out check=ok
	shift 2
	say "growth: stockade audit $*"
	a=$(now_ms)
	out=$("$STOCKADE_BIN" audit -c "$STACK_CONF" "$@" 2>&1)
	rc=$?
	b=$(now_ms)
	[ "$rc" -eq 0 ] || check="**audit exit $rc**: $(head -n 3 <<<"$out" | paste -sd' ')"
	say "growth: audit $name: $((b - a)) ms, exit $rc"
	POINT_TAGS=$(json_obj role=audit size="$size" target="audit_$name") point_record \
		"growth-$size-audit-$name" "$(json_obj tool=timed ms="$((b - a))" args="$*" \
			loadavg="$(cut -d' ' -f1 /proc/loadavg)" check="$check")"
}

# growth_reaper SIZE: BENCH_GROWTH_PENDING pending orders of one line each
# (with their 'order' movements and the stock they took), all expiring at
# one instant 20 s ahead; the time from that instant until the reaper has
# expired the last of them (polled every 0.1 s) is point
# growth-SIZE-reaper.  The orders are then deleted with their lines and
# movements (taken and given back: stock is unchanged), so that the next
# size's audit window does not hold them.
growth_reaper() {
	local size=$1 n=$BENCH_GROWTH_PENDING base=$GROWTH_PENDING_BASE exp left ms check=ok
	local expired0 expired1
	exp=$(growth_psql -c "SELECT now() + interval '20 s'") || die "no clock"
	say "growth: $n pending orders expiring at $exp"
	growth_psql -v n="$n" -v base="$base" -v exp="$exp" <<-'SQL' >/dev/null || die "inserting the pending orders failed"
		BEGIN;
		INSERT INTO orders (id, user_id, status, total, expires_at)
		    OVERRIDING SYSTEM VALUE
		SELECT :base + k, 1 + k % 1000, 'pending', 100 + (1 + k % 1000) % 900,
		       :'exp'::timestamptz
		  FROM generate_series(1, :n) k;
		INSERT INTO order_items (order_id, option_id, quantity, unit_price)
		SELECT :base + k, 1 + k % 1000, 1, 100 + (1 + k % 1000) % 900
		  FROM generate_series(1, :n) k;
		INSERT INTO stock_movements (option_id, delta, reason, order_id)
		SELECT 1 + k % 1000, -1, 'order', :base + k FROM generate_series(1, :n) k;
		UPDATE product_options o SET stock = o.stock - t.n
		  FROM (SELECT 1 + k % 1000 AS id, count(*) AS n
		          FROM generate_series(1, :n) k GROUP BY 1) t
		 WHERE t.id = o.id;
		COMMIT;
		ANALYZE orders;
	SQL
	left=$(growth_psql -c "SELECT extract(epoch FROM timestamptz '$exp' - now()) * 1000") || die "no clock"
	[ "${left%%.*}" -gt 0 ] || check="**the orders expired before they were all written** ($left ms)"
	expired0=$(status_counters orders_expired | jq -r .orders_expired) || expired0=0
	while :; do
		ms=$(growth_psql -c "SELECT CASE WHEN count(*) = 0 THEN
		        round(extract(epoch FROM clock_timestamp() - timestamptz '$exp') * 1000) END
		      FROM orders WHERE id > $base AND status = 'pending'") || die "polling failed"
		[ -z "$ms" ] || break
		sleep 0.1
	done
	expired1=$(status_counters orders_expired | jq -r .orders_expired) || expired1=0
	say "growth: the reaper expired $n orders $ms ms after their expiry"
	POINT_TAGS=$(json_obj role=reaper size="$size" target=reaper) point_record "growth-$size-reaper" \
		"$(json_obj tool=timed ms="$ms" orders="$n" counted="$((expired1 - expired0))" \
			loadavg="$(cut -d' ' -f1 /proc/loadavg)" check="$check")"
	growth_psql -v base="$base" <<-'SQL' >/dev/null || die "deleting the expired orders failed"
		BEGIN;
		DELETE FROM stock_movements WHERE order_id > :base;
		DELETE FROM order_items WHERE order_id > :base;
		DELETE FROM orders WHERE id > :base;
		COMMIT;
		VACUUM (ANALYZE) orders, order_items, stock_movements, product_options;
	SQL
}

# growth_purge SIZE: BENCH_GROWTH_PENDING idempotency keys a day and an
# hour old (past the default idempotency_ttl of 24 h), then stockade
# restarted: its reaper purges at once.  Point growth-SIZE-purge: the
# purge statement's own time (pg_stat_statements) and the wall time from
# the restart until the keys are gone.
growth_purge() {
	local size=$1 n=$BENCH_GROWTH_PENDING a ms left stmt
	growth_psql -v n="$n" <<-'SQL' >/dev/null || die "inserting the keys failed"
		INSERT INTO idempotency_keys (user_id, key, request_hash, status, body,
		                              created_at)
		SELECT 1 + k % 1000, 'growth-' || k, 'x', 201, '{}',
		       now() - interval '25 hours'
		  FROM generate_series(1, :n) k;
		ANALYZE idempotency_keys;
	SQL
	pgss_reset
	a=$(now_ms)
	restart_stockade ''
	while :; do
		left=$(growth_psql -c "SELECT count(*) FROM idempotency_keys WHERE key LIKE 'growth-%'") ||
			die "polling failed"
		[ "$left" -ne 0 ] || break
		sleep 0.1
	done
	ms=$(($(now_ms) - a))
	stmt=$(growth_psql -c "SELECT round(sum(total_exec_time)::numeric, 1) FROM pg_stat_statements
		WHERE query LIKE 'DELETE FROM idempotency_keys%'") || stmt=''
	say "growth: $n keys purged ${ms} ms after the restart (the DELETE: ${stmt:-?} ms)"
	POINT_TAGS=$(json_obj role=purge size="$size" target=purge) point_record "growth-$size-purge" \
		"$(json_obj tool=timed ms="$ms" statement_ms="${stmt:-0}" keys="$n" \
			loadavg="$(cut -d' ' -f1 /proc/loadavg)" check=ok)"
}

scenario_growth() {
	local t0 top=0 s prev=0 tok since
	local -a sizes
	read -r -a sizes <<<"$(tr ' ' '\n' <<<"$BENCH_GROWTH_SIZES" | sort -n | paste -sd' ')"
	for s in "${sizes[@]}"; do
		{ is_uint "$s" && [ "$s" -ge 1000 ]; } || die "BENCH_GROWTH_SIZES: $s is not a number of orders >= 1000"
		top=$s
	done
	[ "$(growth_psql -c 'SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM products)')" = 0 ] ||
		die "growth needs an empty shop: run it alone (bench/run growth)"
	t0=$(growth_psql -c 'SELECT now()') || die "no clock"
	since=$(growth_psql -c "SELECT timestamptz '$t0' - interval '1 hour'") || die "no clock"
	scenario_begin growth sizes="${sizes[*]}" conns="$BENCH_GROWTH_CONNS" threads="$BENCH_THREADS" \
		seconds="$BENCH_SECONDS" workers="$BENCH_WORKERS" pending="$BENCH_GROWTH_PENDING" \
		user="$GROWTH_USER" t0="$t0" since="$since"
	growth_psql -v setup=1 -v t0="$t0" -f "$BENCH_DIR/growth-data.sql" >/dev/null ||
		die "bench/growth-data.sql (setup) failed"
	tok=$(stack_token "$GROWTH_USER") || die "minting the token failed"
	# stockade's reads, not nginx's microcache.
	catalogue_nginx 0
	for s in "${sizes[@]}"; do
		growth_load "$t0" "$top" "$((top - s))" "$((top - prev))"
		prev=$s
		growth_reads "$s" "$tok"
		growth_audit "$s" since --since "$since"
		growth_reaper "$s"
		growth_purge "$s"
		growth_audit "$s" full
	done
	catalogue_nginx "${BENCH_CATALOGUE_CACHE:-1}"
	after_scenario growth
}
