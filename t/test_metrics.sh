#!/usr/bin/env bash
# t/test_metrics.sh: GET /metrics and GET /status (issue 15, introspection).
# /metrics is Prometheus text that promtool accepts, needs the admin role
# (401 without a token, 403 with a user's) unless metrics_public = on, and
# its counters move with what the server does: N requests to a route are
# +N in its 2xx series and its histogram's count, a 409 lands in 4xx, a 404
# in route "none"; an Idempotency-Key replay, the coupon gate's outcomes,
# an expired order, PostgreSQL and Redis reconnects, a deadlock's retry
# (by SQLSTATE) each count; and neither a worker killed and respawned nor a
# reload (SIGHUP: a new generation, a new scoreboard) takes anything back.
# /status counts accepted requests exactly, adds up its processes, reads the listen queue from the
# socket (workers stopped with SIGSTOP: the requests nginx sends meanwhile
# wait there, and "max listen queue" sees them), and ?full / ?text /
# Accept: text/plain show the per-worker entries and php-fpm's plain text.
# Exit status follows automake: 0 pass, 1 fail, 99 when the stack cannot
# start or promtool is missing.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/procs.sh
. "$T_DIR/lib/procs.sh"
command -v promtool >/dev/null || { echo "promtool is missing (scripts/install-deps)" >&2; exit 99; }

export STACK_WORKERS=3
# Orders expire a second after they are placed, and the reaper looks often.
export STACK_EXTRA_CONF=$'reservation_ttl = 1s\nreaper_interval = 100ms'
STOPPED=()
CURLS=()

cleanup() {
	local pid
	# Never leave a worker stopped behind a failed assertion.
	for pid in "${STOPPED[@]}"; do kill -CONT "$pid" 2>/dev/null; done
	for pid in "${CURLS[@]}"; do kill "$pid" 2>/dev/null; done
	procs_cleanup
}

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap cleanup EXIT
stack_start || exit 99
diag "stack in $STACK_DIR"

ADMIN=$(stack_token 1 admin)
USER1=$(stack_token 2)
USER2=$(stack_token 3)

# metrics_get: GET /metrics as admin; the body in METRICS.
metrics_get() {
	http GET /metrics "" "$ADMIN"
	METRICS=$HTTP_BODY
}

# metric SERIES: the value of SERIES (name and labels, exactly as written)
# in METRICS; "absent" when there is no such line.
metric() {
	awk -v s="$1" '$1 == s { print $2; found = 1; exit }
		END { if (!found) print "absent" }' <<<"$METRICS"
}

# delta SERIES BEFORE: how much SERIES grew since BEFORE (a METRICS text).
delta() {
	local now was
	now=$(metric "$1")
	was=$(METRICS=$2 metric "$1")
	awk -v a="$now" -v b="$was" 'BEGIN { printf "%d\n", a - b }'
}

# status_get [QUERY] [CURL_ARGS...]: GET /status as admin.
status_get() {
	local q=${1:-}
	shift || true
	http GET "/status$q" "" "$ADMIN" "$@"
}

# --- auth and format -------------------------------------------------------

http GET /metrics
is "$HTTP_STATUS" 401 "/metrics without a token: 401"
like "$HTTP_CONTENT_TYPE" '^application/problem\+json' "/metrics 401: problem+json"
http GET /metrics "" "$USER1"
is "$HTTP_STATUS" 403 "/metrics with a user's token: 403"
metrics_get
is "$HTTP_STATUS" 200 "/metrics with an admin token: 200"
is "$HTTP_CONTENT_TYPE" "text/plain; version=0.0.4; charset=utf-8" "/metrics: the text format 0.0.4"
out=$(promtool check metrics <<<"$METRICS" 2>&1)
ok $? "promtool check metrics accepts it${out:+: $out}"
http HEAD /metrics "" "$ADMIN"
is "$HTTP_STATUS" 200 "HEAD /metrics: 200"

# --- counters move with requests ---------------------------------------------

option=$(create_product "$ADMIN" metrics-product 1) || exit 1
product=$(stack_psql "SELECT product_id FROM product_options WHERE id = $option")
[[ $product =~ ^[0-9]+$ ]] || { diag "no product for option $option"; exit 1; }
metrics_get
before=$METRICS
N=20
for ((i = 0; i < N; i++)); do
	http GET "/api/v1/products/$product"
	[ "$HTTP_STATUS" = 200 ] || diag "GET product: $HTTP_STATUS"
done
# More than the one unit in stock: 409 out_of_stock, twice.
for _ in 1 2; do
	http POST /api/v1/orders "$(order_body "$option" 5)" "$USER1"
	[ "$HTTP_STATUS" = 409 ] || diag "order: $HTTP_STATUS $HTTP_BODY"
done
http GET /no/such/thing
metrics_get
is "$(delta 'stockade_http_requests_total{route="product_get",code="2xx"}' "$before")" "$N" \
	"$N GETs of a product: product_get 2xx +$N"
is "$(delta 'stockade_http_request_duration_seconds_count{route="product_get"}' "$before")" "$N" \
	"... its histogram's count +$N"
is "$(delta 'stockade_http_request_duration_seconds_bucket{route="product_get",le="+Inf"}' "$before")" "$N" \
	"... its +Inf bucket +$N"
is "$(delta 'stockade_http_requests_total{route="order_create",code="4xx"}' "$before")" 2 \
	"two 409 out_of_stock: order_create 4xx +2"
is "$(delta 'stockade_http_requests_total{route="order_create",code="2xx"}' "$before")" 0 \
	"... and no 2xx"
is "$(delta 'stockade_http_requests_total{route="none",code="4xx"}' "$before")" 1 \
	"a 404 that matched no route: route=\"none\" 4xx +1"
sum=$(metric 'stockade_http_request_duration_seconds_sum{route="product_get"}')
awk -v s="$sum" 'BEGIN { exit !(s > 0) }'
ok $? "product_get's duration sum is positive ($sum s)"
# Buckets are cumulative: never smaller than the one before.
bad=$(grep '^stockade_http_request_duration_seconds_bucket{route="product_get"' <<<"$METRICS" |
	awk '{ if ($2 < last) print; last = $2 }')
is "$bad" "" "product_get's buckets are cumulative"

# --- counters of the domain ---------------------------------------------------

metrics_get
before=$METRICS
http POST /api/v1/points/charge '{"amount":100}' "$USER1" -H 'Idempotency-Key: metrics-charge'
is "$HTTP_STATUS" 200 "a keyed charge: 200"
http POST /api/v1/points/charge '{"amount":100}' "$USER1" -H 'Idempotency-Key: metrics-charge'
is "$(http_header Idempotent-Replayed)" true "the same key again: replayed"
http POST /api/v1/admin/coupons \
	'{"name":"metrics","discount_kind":"amount","discount_value":100,"total_quantity":1}' "$ADMIN"
policy=$(created 201 "create a coupon policy") || exit 1
http POST "/api/v1/coupons/$policy/issue" "" "$USER1"
is "$HTTP_STATUS" 201 "the one coupon: issued"
http POST "/api/v1/coupons/$policy/issue" "" "$USER2"
is "$(jq -r .code <<<"$HTTP_BODY")" sold_out "another user: sold_out"
http POST "/api/v1/coupons/$policy/issue" "" "$USER1"
is "$(jq -r .code <<<"$HTTP_BODY")" already_issued "the holder again: already_issued"
option2=$(create_product "$ADMIN" metrics-expiring 5) || exit 1
new_order "$USER2" "$option2" 1 >/dev/null || exit 1
for _ in $(seq 1 50); do
	metrics_get
	[ "$(delta 'stockade_reaper_expired_total{kind="order"}' "$before")" -ge 1 ] && break
	sleep 0.2
done
is "$(delta stockade_idempotent_replays_total "$before")" 1 "one replay: idempotent_replays +1"
is "$(delta 'stockade_coupon_gate_requests_total{outcome="admitted"}' "$before")" 1 "gate: admitted +1"
is "$(delta 'stockade_coupon_gate_requests_total{outcome="sold_out"}' "$before")" 1 "gate: sold_out +1"
is "$(delta 'stockade_coupon_gate_requests_total{outcome="already_issued"}' "$before")" 1 "gate: already_issued +1"
is "$(delta stockade_coupon_db_attempts_total "$before")" 1 "one issue transaction in PostgreSQL"
is "$(delta 'stockade_reaper_expired_total{kind="order"}' "$before")" 1 "the order past its reservation: expired +1"

# PostgreSQL: the server ends every worker's connection; the next request a
# worker serves finds it closed and reconnects.
metrics_get
before=$METRICS
stack_psql "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity
	WHERE application_name LIKE 'stockade worker%'" >/dev/null
for _ in $(seq 1 $((STACK_WORKERS * 4))); do http GET /readyz; done
is "$HTTP_STATUS" 200 "after pg_terminate_backend: ready again"
metrics_get
d=$(delta stockade_db_reconnects_total "$before")
[ "$d" -ge 1 ] && [ "$d" -le "$STACK_WORKERS" ]
ok $? "PostgreSQL reconnects +$d (1 to $STACK_WORKERS)"
# Redis: the server drops every client; a worker's breaker opens, and after
# its cool-down (1 s) the probe reconnects.
before=$METRICS
stack_redis CLIENT KILL TYPE normal >/dev/null
for _ in $(seq 1 40); do
	http GET /readyz
	metrics_get
	[ "$(delta stockade_redis_reconnects_total "$before")" -ge 1 ] && break
	sleep 0.1
done
d=$(delta stockade_redis_reconnects_total "$before")
[ "$d" -ge 1 ]
ok $? "Redis reconnects +$d"
d=$(delta stockade_redis_breaker_opens_total "$before")
[ "$d" -ge 1 ]
ok $? "Redis breaker opens +$d"

# A deadlock, forced: a psql session holds option B and, once the order
# holds A (options are locked in ascending id order) and waits for B, asks
# for A.  The worker's backend finds the deadlock first (deadlock_timeout
# 1 s against the session's 10 s) and is aborted with 40P01; the order is
# retried and succeeds after the session commits.
read -r optA optB < <(create_product "$ADMIN" metrics-deadlock 10 10 | tr '\n' ' ')
metrics_get
before=$METRICS
sql_open
sql "BEGIN; SET LOCAL deadlock_timeout = '10s';
	SELECT id FROM product_options WHERE id = $optB FOR UPDATE" >/dev/null
curl -s -o "$STACK_DIR/deadlock.body" -w '%{http_code}' -m 30 -H "Authorization: Bearer $USER2" \
	-H 'Content-Type: application/json' --data-binary "$(order_body "$optA" 1 "$optB" 1)" \
	"$STACK_URL/api/v1/orders" >"$STACK_DIR/deadlock.status" &
CURLS+=("$!")
waiting=0
for _ in $(seq 1 100); do
	waiting=$(stack_psql "SELECT count(*) FROM pg_stat_activity
		WHERE application_name LIKE 'stockade worker%' AND wait_event_type = 'Lock'")
	[ "$waiting" = 1 ] && break
	sleep 0.05
done
is "$waiting" 1 "the order waits for option B's lock"
sql "SELECT id FROM product_options WHERE id = $optA FOR UPDATE" >/dev/null
sql "COMMIT" >/dev/null
sql_close
wait "${CURLS[@]}"
CURLS=()
is "$(cat "$STACK_DIR/deadlock.status")" 201 "the order, aborted by the deadlock and retried: 201"
metrics_get
# Usually one retry; two when the retry takes A again before the session,
# woken by the abort, does (a second deadlock, found the same way).
d=$(delta 'stockade_db_transaction_retries_total{sqlstate="40P01"}' "$before")
[ "$d" -ge 1 ] && [ "$d" -le 3 ]
ok $? "retries after 40P01 deadlock_detected: +$d"
is "$(delta 'stockade_db_transaction_retries_total{sqlstate="40001"}' "$before")" 0 "none after 40001"
status_get
is "$(jq -r '[.db_retries, .db_retries_40p01] | join(" ")' <<<"$HTTP_BODY")" \
	"$(metric 'stockade_db_transaction_retries_total{sqlstate="40P01"}') $(metric 'stockade_db_transaction_retries_total{sqlstate="40P01"}')" \
	"/status: db_retries = db_retries_40p01 = the metric"

# --- a respawn takes nothing back ---------------------------------------------

metrics_get
before=$METRICS
status_get "?full"
victim=$(jq -r '.workers[0].pid' <<<"$HTTP_BODY")
kill -KILL "$victim"
for _ in $(seq 1 100); do
	status_get
	new=$(jq -r '.workers[0].pid' <<<"$HTTP_BODY")
	[ "$new" != "$victim" ] && [ "$new" != 0 ] && break
	sleep 0.05
done
[ "$new" != "$victim" ] && [ "$new" != 0 ]
ok $? "worker 0 killed ($victim) and respawned ($new)"
metrics_get
bad=$(awk 'NR == FNR { if ($1 !~ /^#/) was[$1] = $2; next }
	$1 !~ /^#/ && ($1 ~ /_total[{ ]/ || $1 ~ /_total$/ || $1 ~ /_(bucket|count|sum)[{ ]/) &&
	($1 in was) && $2 < was[$1] { print $1, was[$1], "->", $2 }' <(printf '%s\n' "$before") - <<<"$METRICS")
is "$bad" "" "after the respawn no counter went down"
is "$(delta 'stockade_respawns_total{process="worker"}' "$before")" 1 "respawns{worker} +1"

# --- nor does a reload ------------------------------------------------------------

# SIGHUP starts a generation with its own scoreboard; the master carries the
# old one's totals into it, and what the old one counted while it retired.
LOG=$STACK_DIR/stockade.log
metrics_get
before=$METRICS
kill -HUP "$STACK_STOCKADE_PID"
wait_for_line 30 "$LOG" 'master: generation 2 serves; generation 1 retires'
ok $? "SIGHUP: generation 2 serves, generation 1 retires"
wait_for_line 30 "$LOG" 'master: generation 1 has exited'
ok $? "generation 1 has exited"
for ((i = 0; i < N; i++)); do http GET "/api/v1/products/$product"; done
metrics_get
bad=$(awk 'NR == FNR { if ($1 !~ /^#/) was[$1] = $2; next }
	$1 !~ /^#/ && ($1 ~ /_total[{ ]/ || $1 ~ /_total$/ || $1 ~ /_(bucket|count|sum)[{ ]/) &&
	($1 in was) && $2 < was[$1] { print $1, was[$1], "->", $2 }' <(printf '%s\n' "$before") - <<<"$METRICS")
is "$bad" "" "after the reload no counter went down"
is "$(delta 'stockade_http_requests_total{route="product_get",code="2xx"}' "$before")" "$N" \
	"$N more GETs of the product: +$N on top of the old generation's"
is "$(delta stockade_start_time_seconds "$before")" 0 "the pool's start time stays"

# --- /status -------------------------------------------------------------------

status_get
a0=$(jq -r .accepted_conn <<<"$HTTP_BODY")
for ((i = 0; i < 7; i++)); do http GET /healthz; done
status_get
a1=$(jq -r .accepted_conn <<<"$HTTP_BODY")
# The first /status is counted once it has answered; this one is not yet.
is "$((a1 - a0))" 8 "accepted conn: 7 requests and the first /status"
body=$HTTP_BODY
is "$(jq '.idle_processes + .active_processes' <<<"$body")" "$STACK_WORKERS" "idle + active = the workers"
is "$(jq .total_processes <<<"$body")" "$STACK_WORKERS" "total processes = the workers"
jq -e '.active_processes >= 1 and .max_active_processes >= .active_processes' <<<"$body" >/dev/null
ok $? "this request's worker is active; max active covers it"
somaxconn=$(cat /proc/sys/net/core/somaxconn)
is "$(jq .listen_queue_len <<<"$body")" "$((somaxconn < 1024 ? somaxconn : 1024))" \
	"listen queue len: listen_backlog (1024) capped by somaxconn ($somaxconn)"
is "$(jq -r '[.pool, .process_manager, (.started_at_ms > 0), (.uptime_s >= 0), .listen_queue] | join(" ")' <<<"$body")" \
	"stockade static true true 0" "pool, process manager, start time, start since, listen queue"
is "$(jq '.workers | length' <<<"$body")" "$STACK_WORKERS" "one entry per worker"
is "$(jq '[.workers[] | select(has("pss_kb"))] | length' <<<"$body")" 0 "no Pss without ?full"

status_get "?full"
is "$(jq '[.workers[] | select(.pss_kb > 0)] | length' <<<"$HTTP_BODY")" "$STACK_WORKERS" "?full: every worker's Pss"
is "$(jq '.reaper.pss_kb > 0' <<<"$HTTP_BODY")" true "?full: the reaper's Pss"
is "$(jq '[.workers[] | select(.state == "idle" and .last_request_at_ms > 0 and .last_request_us >= 0
	and (.last_request | test("^[A-Z]+ /")))] | length >= 1' <<<"$HTTP_BODY")" true \
	"?full: an idle worker shows its last request, its duration and when"
is "$(jq '[.workers[] | select(.state == "busy" and .request == "GET /status" and .request_ms >= 0)] | length' <<<"$HTTP_BODY")" 1 \
	"?full: the busy worker shows the current request and its duration"

status_get "?text"
is "$HTTP_CONTENT_TYPE" "text/plain; charset=utf-8" "?text: text/plain"
missing=
for label in "pool" "start time" "start since" "accepted conn" "listen queue" "max listen queue" \
	"listen queue len" "idle processes" "active processes" "total processes" "max active processes"; do
	grep -q "^$label: *[^ ]" <<<"$HTTP_BODY" || missing="$missing [$label]"
done
is "$missing" "" "?text: php-fpm's pool lines"
is "$(grep -c '^pid:' <<<"$HTTP_BODY")" 0 "?text without full: no process entries"
status_get "?full&text"
is "$(grep -c '^\*\{24\}$' <<<"$HTTP_BODY")" $((STACK_WORKERS + 1)) "?full&text: one entry per worker and the reaper"
is "$(grep -c '^pss: *[1-9][0-9]* kB$' <<<"$HTTP_BODY")" $((STACK_WORKERS + 1)) "?full&text: a Pss line each"
text_full=$HTTP_BODY
status_get "" -H 'Accept: text/plain'
like "$HTTP_CONTENT_TYPE" '^text/plain' "Accept: text/plain: text"
like "$HTTP_BODY" 'accepted conn:' "Accept: text/plain: the pool lines"
status_get "" -H 'Accept: application/json, text/plain'
like "$HTTP_CONTENT_TYPE" '^application/json' "Accept naming JSON first: JSON"

# --- the listen queue, from the socket -------------------------------------------

# Every worker stopped: what nginx sends now waits in the listen queue,
# where the master's sampling (once a second) sees it.
status_get
mapfile -t STOPPED < <(jq -r '.workers[].pid' <<<"$HTTP_BODY")
kill -STOP "${STOPPED[@]}"
# kill returns once the signal is queued, not once the workers have
# stopped: a worker the scheduler has not run yet is still inside
# accept(), which looks at the queue again before it looks at the signal
# and would take a request sent now.  Wait until each one is stopped (T).
all_stopped() {
	local pid state
	for pid in "$@"; do
		# The state follows the command name, which may hold spaces.
		state=$(sed 's/.*) //; s/ .*//' "/proc/$pid/stat" 2>/dev/null)
		[ "$state" = T ] || return 1
	done
}
for _ in $(seq 1 100); do
	all_stopped "${STOPPED[@]}" && break
	sleep 0.1
done
all_stopped "${STOPPED[@]}"
ok $? "every worker is stopped (state T) before the requests are sent"
Q=6
for ((i = 0; i < Q; i++)); do
	curl -s -o /dev/null -m 30 "$STACK_URL/healthz" &
	CURLS+=("$!")
done
queued=
for _ in $(seq 1 100); do
	queued=$(ss -xlH "src $STACK_DIR/stockade.sock" 2>/dev/null | awk '{ print $3; exit }')
	[ "$queued" = "$Q" ] && break
	sleep 0.1
done
diag "ss -xl says $queued waiting"
sleep 2.2 # two of the master's samples
kill -CONT "${STOPPED[@]}"
STOPPED=()
wait "${CURLS[@]}"
CURLS=()
status_get
q=$(jq .max_listen_queue <<<"$HTTP_BODY")
[ "$q" -ge "$Q" ] && [ "$q" -le $((Q + 2)) ]
ok $? "max listen queue $q: the $Q requests that waited for stopped workers"
is "$(jq .listen_queue <<<"$HTTP_BODY")" 0 "listen queue 0 once they are served"
metrics_get
is "$(metric stockade_listen_queue_max)" "$q" "/metrics says the same max"

# --- metrics_public ------------------------------------------------------------

stack_stop_stockade
STACK_EXTRA_CONF="$STACK_EXTRA_CONF"$'\nmetrics_public = on'
stack_start_stockade && stack_wait_ready
ok $? "stockade restarted with metrics_public = on"
http GET /metrics
is "$HTTP_STATUS" 200 "metrics_public = on: /metrics without a token: 200"
out=$(promtool check metrics <<<"$HTTP_BODY" 2>&1)
ok $? "promtool check metrics accepts it${out:+: $out}"
http GET /status
is "$HTTP_STATUS" 401 "metrics_public = on: /status still needs a token"

audit_clean "after the metrics test"
diag "an excerpt of /status?full&text:"
diag "$(head -n 20 <<<"$text_full")"
done_testing
