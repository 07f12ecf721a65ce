# shellcheck shell=bash disable=SC2016 # jq programs in single quotes
#
# bench/lib/stack.sh: the benchmark's stack, on top of t/lib/stack.sh:
# its start (fsync on, nginx's ceiling and fcgi_hello locations), restarting
# stockade alone with another configuration, and what is asked of the
# running stack between points (is it alive, stockade's database
# connections, the audit, the logs since a mark).  Sourced by bench/run.

# Lines every stockade configuration of the run gets (the scenarios add
# theirs).  Orders stay pending for a day, so that the reaper never starts
# expiring thousands of them in the middle of a measurement.
BENCH_TTL_MS=86400000
BASE_CONF="reservation_ttl = ${BENCH_TTL_MS}ms"
# BENCH_EXTRA_CONF: more lines for every stockade start (queue_consumers =
# 2, say); the results' header shows them with the rest of BASE_CONF.
[ -z "${BENCH_EXTRA_CONF:-}" ] || BASE_CONF+=$'\n'"$BENCH_EXTRA_CONF"

WORK=''      # scratch files, inside the stack's directory
PGBENCH_DIR='' # the run's pgbench scripts, generated into $WORK
AUDIT_SQL='' # the run's copy of BENCH_AUDIT_SQL

# nginx's own answer, without stockade: the ceiling of every HTTP figure.
# shellcheck disable=SC2016,SC2089 # nginx syntax, not shell
NGINX_CEILING='		location = /bench/ceiling {
			default_type application/json;
			return 200 '\''{"status":"ok"}'\'';
		}'

# nginx_hello URI SOCKET: a location passing URI to bench/fcgi_hello on
# SOCKET, with the FastCGI settings and parameters of nginx/stockade.conf
# (so the hello ceilings pay for exactly what stockade's requests do).
nginx_hello() {
	local p
	printf '\t\tlocation = %s {\n\t\t\tfastcgi_pass unix:%s;\n' "$1" "$2"
	printf '\t\t\tfastcgi_keep_conn off;\n\t\t\tfastcgi_intercept_errors off;\n'
	for p in REQUEST_METHOD:request_method REQUEST_URI:request_uri \
		DOCUMENT_URI:document_uri QUERY_STRING:query_string \
		CONTENT_TYPE:content_type CONTENT_LENGTH:content_length \
		SERVER_PROTOCOL:server_protocol REMOTE_ADDR:remote_addr \
		REMOTE_PORT:remote_port SERVER_NAME:server_name \
		SERVER_PORT:server_port REQUEST_ID:request_id; do
		printf '\t\t\tfastcgi_param %s $%s;\n' "${p%%:*}" "${p#*:}"
	done
	printf '\t\t}'
}

# start_stack: the stack in a new /tmp/stockade-bench.* directory, with
# WORK ($STACK_DIR/bench) holding the run's copies of the daemon and the
# audit and every scratch file.
start_stack() {
	local dir
	export STACK_PG_FAST=0 # fsync, full_page_writes, synchronous_commit on
	# The catalogue microcache of nginx/stockade.conf, on as shipped;
	# BENCH_CATALOGUE_CACHE=0 measures stockade alone.
	export STACK_CATALOGUE_CACHE=${BENCH_CATALOGUE_CACHE:-1}
	export STACK_WORKERS=$BENCH_WORKERS
	export STACK_EXTRA_CONF=$BASE_CONF
	dir=$(mktemp -d /tmp/stockade-bench.XXXXXX) || die "mktemp failed"
	# bench/fcgi_hello's sockets live in $WORK ($dir/bench), made below.
	STACK_NGINX_EXTRA=$NGINX_CEILING$'\n'$(nginx_hello /bench/hello "$dir/bench/hello.sock")
	STACK_NGINX_EXTRA=$STACK_NGINX_EXTRA$'\n'$(nginx_hello /bench/hello-redis "$dir/bench/hello-redis.sock")
	# shellcheck disable=SC2090 # nginx's quotes, for nginx
	export STACK_NGINX_EXTRA
	stack_init "$dir" || die "stack_init failed"
	WORK=$STACK_DIR/bench
	mkdir -p "$WORK" || die "mkdir $WORK failed"
	# A private copy: a rebuild of src/stockade during the run cannot swap
	# the binary between two points.
	cp "$STOCKADE_BIN" "$WORK/stockade" || die "copying $STOCKADE_BIN failed"
	AUDIT_SQL=$WORK/audit.sql
	cp "$BENCH_AUDIT_SQL" "$AUDIT_SQL" || die "copying $BENCH_AUDIT_SQL failed"
	# pgbench runs the statements the daemon runs: its scripts are made
	# from bench/pgbench/*.pgb and sql/queries/ now, once per run.
	PGBENCH_DIR=$WORK/pgbench
	"$BENCH_DIR/pgbench/generate" "$PGBENCH_DIR" ||
		die "bench/pgbench/generate failed"
	STOCKADE_BIN=$WORK/stockade
	export STOCKADE_BIN
	say "starting the stack in $STACK_DIR (workers=$BENCH_WORKERS, fsync on)"
	stack_start || die "the stack did not start"
}

# restart_stockade EXTRA_CONF: restart the daemon alone (PostgreSQL, Redis
# and nginx keep running) with BASE_CONF plus EXTRA_CONF.
restart_stockade() {
	export STACK_EXTRA_CONF="$BASE_CONF"$'\n'"$1"
	stack_stop_stockade || die "stockade did not stop"
	stack_start_stockade || die "stockade did not restart"
	stack_wait_ready || die "stockade did not answer /healthz after a restart"
}

# need_stack: die unless all four servers still run.  Ctrl-C reaches them
# too (one process group), and bash drops a SIGINT when the foreground
# child (psql, say) handled it and exited normally, so this check is what
# makes sure a run never carries on against a dead stack.
need_stack() {
	local st
	st=$(stack_status) || die "the stack is not running any more (interrupted?): $(grep stopped <<<"$st" | paste -sd, -)"
}

# db_conns: stockade's connections to PostgreSQL right now.
db_conns() {
	stack_psql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'stockade %'"
}

# audit: "clean", or the audit's complaints (the first three) on one line.
audit() {
	local rows
	if ! rows=$(stack_psql_file "$AUDIT_SQL" 2>&1); then
		printf 'FAILED to run: %s\n' "$(head -n 3 <<<"$rows" | paste -sd' ')"
	elif [ -z "$rows" ]; then
		printf 'clean\n'
	else
		printf '%s problem rows: %s\n' "$(wc -l <<<"$rows")" "$(head -n 3 <<<"$rows" | paste -sd';')"
	fi
}

# daemon_problems FROM: error and warning lines stockade logged since line
# FROM of its log.
daemon_problems() {
	tail -n "+$(($1 + 1))" "$STACK_DIR/stockade.log" | grep -cE '^[^ ]+ (error|warn) \[' || true
}

# statuses_since FROM: "STATUS:COUNT ..." for nginx access-log lines after
# line FROM (the status follows the quoted request line).
statuses_since() {
	tail -n "+$(($1 + 1))" "$STACK_DIR/nginx-access.log" |
		awk -F'"' '{ split($3, a, " "); n[a[1]]++ }
			END { for (s in n) printf "%s:%d\n", s, n[s] }' |
		sort | paste -sd' ' -
}

# after_scenario NAME: the audit and stockade's database connections,
# recorded as the scenario's closing record.
after_scenario() {
	local a c
	a=$(audit)
	c=$(db_conns)
	record_append "$(jq -n --arg s "$1" --arg a "$a" --arg c "$c" --arg f "${BENCH_AUDIT_SQL#"$SRCDIR"/}" \
		--argjson w "$((BENCH_WORKERS + 1))" \
		'{type: "audit", scenario: $s, audit: $a, audit_sql: $f, db_conns: $c, want_conns: $w}')"
	say "$1: audit $a; stockade db connections $c"
}
