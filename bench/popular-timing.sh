#!/usr/bin/env bash
# bench/popular-timing.sh: GET /products/popular's statement timed on
# ORDERS paid orders over DAYS days (bench/popular-data.sql), read from the
# rollup (sql/queries/product.sql, product_popular) and the old way, from
# every paid order of the window, on the same data in the same run.  Its
# own PostgreSQL (t/lib/stack.sh), migrations applied with psql.  JIT off,
# as in the daemon's sessions (src/db.c; JIT=on to see what it costs).
#     bench/popular-timing.sh [ORDERS [DAYS [RUNS]]]    (1000000 30 7)
set -uo pipefail
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export STOCKADE_SRCDIR=$SRCDIR
ORDERS=${1:-1000000} DAYS=${2:-30} RUNS=${3:-7}
# shellcheck source=t/lib/stack.sh
. "$SRCDIR/t/lib/stack.sh"
# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 1
trap stack_cleanup EXIT
stack_start_postgres || exit 1
for f in "$SRCDIR"/sql/0*.sql; do
	stack_psql_file "$f" >/dev/null || exit 1
done
psql_() { PGOPTIONS="-c jit=${JIT:-off}" "$STACK_PG_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$STACK_DIR/pg-run" -U stockade -d stockade "$@"; }
echo "generating $ORDERS orders over $DAYS days"
psql_ -v orders="$ORDERS" -v days="$DAYS" -f "$SRCDIR/bench/popular-data.sql" >/dev/null || exit 1
# The statement as the daemon prepares it, from sql/queries/product.sql.
new=$(awk '/^-- name: product_popular$/ {on = 1; next} on && /^-- name:/ {exit} on && !/^--/' \
	"$SRCDIR/sql/queries/product.sql")
old="SELECT json_build_object('id', p.id, 'name', p.name,
         'quantity', s.quantity, 'revenue', s.revenue)::text
  FROM (SELECT o.product_id, sum(i.quantity) AS quantity,
               sum(i.quantity * i.unit_price) AS revenue
          FROM orders r JOIN order_items i ON i.order_id = r.id
          JOIN product_options o ON o.id = i.option_id
         WHERE r.status = 'paid'
           AND r.paid_at >= now() - make_interval(days => \$1::int)
         GROUP BY o.product_id) s
  JOIN products p ON p.id = s.product_id
 ORDER BY s.quantity DESC, s.revenue DESC, p.id ASC LIMIT \$2::int;"
# time NAME SQL DAYS: the median of RUNS executions of a prepared SQL, ms.
time_it() {
	{
		printf 'SET TimeZone = UTC;\nPREPARE q(int, int) AS %s\n' "$2"
		printf 'EXECUTE q(%s, 10);\n' "$3" # warm-up, plan cache
		printf '\\timing on\n'
		for ((i = 0; i < RUNS; i++)); do printf 'EXECUTE q(%s, 10);\n' "$3"; done
	} | psql_ 2>&1 | awk '/^Time:/ {print $2}' | sort -n | awk '{a[NR] = $1} END {printf "%s: median %.2f ms (min %.2f, max %.2f, %d runs; load %s)\n", "'"$1 $3"' days", a[int((NR + 1) / 2)], a[1], a[NR], NR, "'"$(cut -d' ' -f1 /proc/loadavg)"'"}'
}
same() {
	printf 'SET TimeZone = UTC;\nBEGIN ISOLATION LEVEL REPEATABLE READ;\nPREPARE a(int, int) AS %s\nPREPARE b(int, int) AS %s\nEXECUTE a(%s, 50);\nEXECUTE b(%s, 50);\nCOMMIT;\n' \
		"$new" "$old" "$1" "$1" | psql_ >"$STACK_DIR/same.out" || return 1
	local n; n=$(wc -l <"$STACK_DIR/same.out")
	if [ "$(head -n $((n / 2)) "$STACK_DIR/same.out")" = "$(tail -n $((n / 2)) "$STACK_DIR/same.out")" ]; then
		echo "$1 days: rollup and orders give the same top 50 ($((n / 2)) rows)"
	else
		echo "$1 days: ANSWERS DIFFER"
	fi
}
if [ -n "${EXPLAIN:-}" ]; then # EXPLAIN=1: the plans, for a look
	printf 'SET TimeZone = UTC;\nPREPARE q(int, int) AS %s\nEXPLAIN (ANALYZE, BUFFERS) EXECUTE q(3, 10);\n' "$new" | psql_
fi
for d in 3 "$DAYS"; do
	same "$d"
	time_it "orders (before)" "$old" "$d"
	time_it "rollup (after)" "$new" "$d"
done
