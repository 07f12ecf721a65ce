#!/usr/bin/env bash
# t/test_foundation.sh: integration tests of the daemon's foundation, run
# against a real stack (PostgreSQL, Redis, stockade, nginx) in a temp dir:
# health and readiness, tokens, problem+json errors (stockade's and nginx's),
# request ids, the scoreboard, worker respawn, reconnection after Redis and
# PostgreSQL restarts, the bound on database connections under load, and a
# graceful stop.  Exit status follows automake: 0 pass, 1 fail, 99 when the
# stack cannot even start.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh); both
# default to this checkout.  STACK_KEEP=1 keeps the temp dir for a look.
#
# No `set -e`: a failed check is counted and the script carries on.
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
export STACK_WORKERS=4

# ---------------------------------------------------------------------------
# Helpers.

# json_field JSON KEY: the value of the first "KEY": in JSON, a string
# without its quotes or a number/true/false/null as written.  Enough for
# the flat objects these tests read; not a JSON parser.
json_field() {
	printf '%s' "$1" | grep -o "\"$2\"[[:space:]]*:[[:space:]]*\\(\"[^\"]*\"\\|[^,}\"[:space:]]*\\)" |
		head -n 1 | sed -e 's/^"[^"]*"[[:space:]]*:[[:space:]]*//' -e 's/^"\(.*\)"$/\1/'
}

# is_problem STATUS CODE NAME: the last response is an
# application/problem+json error with HTTP status STATUS, "status": STATUS,
# "code": CODE and every member stockade promises (type, title, detail).
is_problem() {
	local key missing=
	is "$HTTP_STATUS" "$1" "$3: HTTP $1"
	like "$HTTP_CONTENT_TYPE" '^application/problem\+json' "$3: problem+json content type"
	is "$(json_field "$HTTP_BODY" code)" "$2" "$3: code $2"
	for key in type title status detail code; do
		[[ $HTTP_BODY =~ \"$key\"[[:space:]]*: ]] || missing="$missing $key"
	done
	is "$missing" "" "$3: has type, title, status, detail, code"
	is "$(json_field "$HTTP_BODY" status)" "$1" "$3: \"status\": $1"
}

# status_workers: print "SLOT PID STATE REQUESTS" per worker of GET /status
# (one awk, few forks: the respawn test polls this against a clock).
status_workers() {
	stack_get_status >/dev/null || return 1
	# Only the "workers" array: the "reaper" slot that follows is no worker.
	printf '%s' "${HTTP_BODY%%\"reaper\"*}" | tr '\n' ' ' | awk '
		function field(o, k, v) {
			if (!match(o, "\"" k "\"[ \t]*:[ \t]*(\"[^\"]*\"|[^,}\" \t]*)"))
				return ""
			v = substr(o, RSTART, RLENGTH)
			sub(/^"[^"]*"[ \t]*:[ \t]*/, "", v)
			gsub(/"/, "", v)
			return v
		}
		{
			s = $0
			while (match(s, /[{][^{}]*"slot"[^{}]*[}]/)) {
				o = substr(s, RSTART, RLENGTH)
				s = substr(s, RSTART + RLENGTH)
				print field(o, "slot"), field(o, "pid"), field(o, "state"), field(o, "requests")
			}
		}'
}

# slot_pid SLOT: the pid /status shows for SLOT ("" when none).
slot_pid() {
	status_workers | awk -v s="$1" '$1 == s { print $2; exit }'
}

# now_ms: set NOW_MS to milliseconds since the epoch, without forking, so
# that timing loops measure the daemon and not themselves.
now_ms() {
	local us=${EPOCHREALTIME//[.,]/}
	NOW_MS=$((us / 1000))
}

# readyz_until STATUS SECONDS: poll GET /readyz until it answers STATUS;
# returns 1 after SECONDS.
readyz_until() {
	local deadline=$((SECONDS + $2))
	while :; do
		http GET /readyz
		[ "$HTTP_STATUS" = "$1" ] && return 0
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# readyz_consecutive N SECONDS: poll GET /readyz until it answered 200 N
# times in a row (requests land on whichever worker accepts first, so a run
# of successes means every worker has reconnected); returns 1 after SECONDS.
readyz_consecutive() {
	local want=$1 deadline=$((SECONDS + $2)) run=0
	while [ "$run" -lt "$want" ]; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		http GET /readyz
		if [ "$HTTP_STATUS" = 200 ]; then
			run=$((run + 1))
		else
			run=0
			sleep 0.2
		fi
	done
}

# ---------------------------------------------------------------------------
# The stack.

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap stack_cleanup EXIT
stack_start || exit 99
MASTER=$STACK_STOCKADE_PID
diag "stack in $STACK_DIR, $STACK_URL, master pid $MASTER"

USER_TOKEN=$(stack_token 1 user)
ADMIN_TOKEN=$(stack_token 1000 admin)

# ---------------------------------------------------------------------------
# Health and identity.

http GET /healthz
is "$HTTP_STATUS" 200 "healthz: 200"
like "$HTTP_CONTENT_TYPE" '^application/json' "healthz: JSON"
is "$(json_field "$HTTP_BODY" status)" ok 'healthz: "status":"ok"'

http GET /readyz
is "$HTTP_STATUS" 200 "readyz: 200"
is "$(json_field "$HTTP_BODY" status)" ready 'readyz: "status":"ready"'
is "$(json_field "$HTTP_BODY" postgres)" ok 'readyz: "postgres":"ok"'
is "$(json_field "$HTTP_BODY" redis)" ok 'readyz: "redis":"ok"'

http GET /api/v1/whoami "" "$USER_TOKEN"
is "$HTTP_STATUS" 200 "whoami user: 200"
like "$HTTP_CONTENT_TYPE" '^application/json' "whoami user: JSON"
is "$(json_field "$HTTP_BODY" user_id)" 1 "whoami user: user_id 1"
is "$(json_field "$HTTP_BODY" role)" user "whoami user: role user"

http GET /api/v1/whoami "" "$ADMIN_TOKEN"
is "$HTTP_STATUS" 200 "whoami admin: 200"
is "$(json_field "$HTTP_BODY" user_id)" 1000 "whoami admin: user_id 1000"
is "$(json_field "$HTTP_BODY" role)" admin "whoami admin: role admin"

# ---------------------------------------------------------------------------
# Tokens that must be refused: 401 with WWW-Authenticate: Bearer.

# expect_401 NAME TOKEN [CURL_ARGS...]
expect_401() {
	local name=$1 token=$2
	shift 2
	http GET /api/v1/whoami "" "$token" "$@"
	is_problem 401 unauthorized "$name"
	like "$(http_header WWW-Authenticate)" '^Bearer' "$name: WWW-Authenticate: Bearer"
}

expect_401 "no token" ""
expect_401 "not a JWT" "not-a-token"
expect_401 "Basic scheme" "" -H 'Authorization: Basic dXNlcjpwdw=='

# A character in the middle of the signature: the last one may carry only
# padding bits that a lenient base64url decoder ignores.
sig=${USER_TOKEN##*.}
c=${sig:5:1}
[ "$c" = A ] && n=B || n=A
expect_401 "signature with one character changed" "${USER_TOKEN%.*}.${sig:0:5}$n${sig:6}"

# The admin token's payload under the user token's signature.
payload=$(printf '%s' "$ADMIN_TOKEN" | cut -d. -f2)
expect_401 "payload swapped under a valid signature" \
	"$(printf '%s' "$USER_TOKEN" | cut -d. -f1).$payload.$sig"

# Signed with another secret.
other_conf="$STACK_DIR/other.conf"
(umask 077 && od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' >"$STACK_DIR/other-secret")
sed "s|^auth_secret_file = .*|auth_secret_file = $STACK_DIR/other-secret|" "$STACK_CONF" >"$other_conf"
forged=$("$STOCKADE_BIN" token -c "$other_conf" --user 1 --role admin)
like "$forged" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "token from another secret is a JWT"
expect_401 "signed with another secret" "$forged"

# "alg":"none" with the user's claims and an empty signature.
none_header=$(printf '{"alg":"none","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
expect_401 'alg none' "$none_header.$(printf '%s' "$USER_TOKEN" | cut -d. -f2)."

# A --ttl 1 token may already be expired when it arrives (exp is in whole
# seconds), so --ttl itself is checked with a longer one.
http GET /api/v1/whoami "" "$(stack_token 1 user --ttl 60)"
is "$HTTP_STATUS" 200 "token with --ttl 60 accepted"
expired=$(stack_token 1 user --ttl 1)
sleep 2
expect_401 "expired token" "$expired"

# ---------------------------------------------------------------------------
# Routing errors, body limit, request ids.

http GET /no/such/path
is_problem 404 not_found "unknown path"
http GET /api/v1/no-such-thing "" "$USER_TOKEN"
is_problem 404 not_found "unknown API path"

http POST /api/v1/whoami '{}' "$USER_TOKEN"
is_problem 405 method_not_allowed "POST whoami"
like "$(http_header Allow)" '^GET' "POST whoami: Allow: GET"

# HEAD is GET without a body (RFC 9110 9.3.2): same status and headers.
# (That stockade itself sends no body bytes is check_http's
# test_render_head_has_no_body: nginx would drop them anyway.)
for path in /healthz /api/v1/products; do
	http GET "$path"
	get_len=$(wc -c <"$ASSERT_TMP/last.body")
	http HEAD "$path"
	is "$HTTP_STATUS" 200 "HEAD $path: 200"
	like "$HTTP_CONTENT_TYPE" '^application/json' "HEAD $path: the GET's Content-Type"
	is "$(http_header Content-Length)" "$get_len" "HEAD $path: the GET body's Content-Length"
done
# The whole answer, raw: nothing after the header block.
raw=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
	printf "HEAD /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 &&
	cat <&3 | od -An -c | tr -d " \n"' _ "$STACK_HTTP_PORT")
like "$raw" '^HTTP/1\.[01]200' "HEAD /healthz raw: 200"
like "$raw" '\\r\\n\\r\\n$' "HEAD /healthz raw: no byte after the headers"
http HEAD /api/v1/whoami
is "$HTTP_STATUS" 401 "HEAD whoami without a token: 401, as GET"
http HEAD /api/v1/whoami "" "$USER_TOKEN"
is "$HTTP_STATUS" 200 "HEAD whoami with a token: 200"
is "$HTTP_BODY" "" "HEAD whoami: no body"
http HEAD /api/v1/admin/products "" "$ADMIN_TOKEN"
is "$HTTP_STATUS" 405 "HEAD on a POST-only route: 405"
is "$(http_header Allow)" POST "HEAD on a POST-only route: Allow: POST"
http POST /healthz '{}'
is "$(http_header Allow)" "GET, HEAD" "POST healthz: Allow: GET, HEAD"

# /status shows every worker's request (other users' ids): admin only.
http GET /status
is_problem 401 unauthorized "/status without a token"
http GET /status "" "$USER_TOKEN"
is_problem 403 forbidden "/status with a user token"
http GET /status "" "$ADMIN_TOKEN"
is "$HTTP_STATUS" 200 "/status with an admin token: 200"
like "$HTTP_BODY" '"workers":\[' "/status with an admin token: the scoreboard"

head -c 1048576 /dev/zero | tr '\0' x >"$STACK_DIR/1mib.body"
http POST /api/v1/whoami "@$STACK_DIR/1mib.body" "$USER_TOKEN"
is_problem 413 payload_too_large "1 MiB body (nginx's page)"

http GET /healthz "" "" -H 'X-Request-Id: test-foundation-0001'
is "$(http_header X-Request-Id)" test-foundation-0001 "X-Request-Id echoed"
http GET /no/such/path "" "" -H 'X-Request-Id: test-foundation-0002'
is "$(http_header X-Request-Id)" test-foundation-0002 "X-Request-Id echoed on an error"
http GET /healthz
rid=$(http_header X-Request-Id)
like "$rid" '^[A-Za-z0-9._-]{8,}$' "X-Request-Id generated when none sent"
http GET /healthz
isnt_rid=$(http_header X-Request-Id)
[ -n "$isnt_rid" ] && [ "$isnt_rid" != "$rid" ]
ok $? "generated X-Request-Ids differ"
http GET /healthz "" "" -H 'X-Request-Id: bad id <script>'
rid=$(http_header X-Request-Id)
[ -n "$rid" ] && [ "$rid" != 'bad id <script>' ]
ok $? "invalid X-Request-Id replaced (got '$rid')"

# ---------------------------------------------------------------------------
# Scoreboard and respawn.

workers=$(status_workers)
is "$(printf '%s\n' "$workers" | grep -c .)" "$STACK_WORKERS" "/status lists $STACK_WORKERS workers"
is "$(printf '%s\n' "$workers" | awk '{ print $1 }' | sort -n | tr '\n' ' ')" \
	"$(seq 0 $((STACK_WORKERS - 1)) | tr '\n' ' ')" "/status slots 0..$((STACK_WORKERS - 1))"
bad=$(printf '%s\n' "$workers" | awk '$2 !~ /^[1-9][0-9]*$/ || $4 !~ /^[0-9]+$/')
is "$bad" "" "/status: every worker has a pid and a request count"
bad=$(printf '%s\n' "$workers" | awk '$3 !~ /^[a-z_]+$/')
is "$bad" "" "/status: every worker has a state"
like "$(printf '%s\n' "$workers" | awk '{ print $3 }' | tr '\n' ' ')" '(idle|busy)' "/status: states are idle/busy"
for pid in $(printf '%s\n' "$workers" | awk '{ print $2 }'); do
	is "$(ps -o ppid= -p "$pid" | tr -d ' ')" "$MASTER" "worker $pid is a child of the master"
done

old=$(slot_pid 0)
kill -9 "$old"
now_ms
t0=$NOW_MS
new=
while now_ms && [ "$((NOW_MS - t0))" -lt 5000 ]; do
	new=$(slot_pid 0)
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	sleep 0.02
done
now_ms
elapsed=$((NOW_MS - t0))
diag "slot 0: pid $old killed, pid $new after ${elapsed} ms"
[ -n "$new" ] && [ "$new" != "$old" ] && [ "$elapsed" -le 1000 ]
ok $? "kill -9 of a worker: a new pid in its slot within 1 s"
[ ! -e "/proc/$old" ]
ok $? "the killed worker was reaped (no zombie)"
stack_alive "$MASTER" && [ "$(stack_pid stockade)" = "$MASTER" ]
ok $? "master pid unchanged after a worker died"
http GET /api/v1/whoami "" "$USER_TOKEN"
is "$HTTP_STATUS" 200 "requests served after the respawn"

# ---------------------------------------------------------------------------
# Redis and PostgreSQL outages: /readyz names the dependency, and the workers
# reconnect by themselves, without a restart of stockade.

# outage NAME OTHER STOP START
outage() {
	local name=$1 other=$2 stop=$3 start=$4 detail
	"$stop"
	readyz_until 503 10
	is_problem 503 not_ready "$name down: readyz"
	detail=$(json_field "$HTTP_BODY" detail)
	like "${detail,,}" "$name" "$name down: detail names $name"
	is "$(json_field "$HTTP_BODY" "$name")" down "$name down: \"$name\":\"down\""
	is "$(json_field "$HTTP_BODY" "$other")" ok "$name down: \"$other\":\"ok\""
	http GET /healthz
	is "$HTTP_STATUS" 200 "$name down: healthz still 200"

	"$start" || diag "restarting $name failed"
	readyz_consecutive 20 30
	ok $? "$name back: 20 consecutive readyz 200 without restarting stockade"
	is "$(stack_pid stockade)" "$MASTER" "$name back: same master pid"
	stack_alive "$MASTER"
	ok $? "$name back: master alive"
}

outage redis postgres stack_stop_redis stack_start_redis
outage postgres redis stack_stop_postgres stack_start_postgres

# Every worker reconnected to a new PostgreSQL server process, whose session
# knows none of the statements prepared before the restart: a request that
# runs a prepared statement must prepare it again, on every worker.
bad=0
for i in $(seq 1 20); do
	http GET /api/v1/products
	[ "$HTTP_STATUS" = 200 ] || bad=$((bad + 1))
done
is "$bad" 0 "postgres back: 20 requests running prepared statements answered 200 (re-prepared after reconnect)"

# ---------------------------------------------------------------------------
# Load: 2000 requests from 64 concurrent clients all answered 200, and the
# number of database connections stays one per worker.

spec="$STACK_DIR/load.spec"
tokens=()
for u in 1 2 3 4 5 6 7 8; do
	tokens+=("$(stack_token "$u")")
done
for i in $(seq 0 1999); do
	printf 'GET\t/api/v1/whoami\t%s\t\n' "${tokens[$((i % 8))]}"
done >"$spec"
now_ms
t0=$NOW_MS
http_parallel 64 "$spec" >"$STACK_DIR/load.out"
now_ms
elapsed=$((NOW_MS - t0))
total=$(grep -c . "$STACK_DIR/load.out")
good=$(grep -c '^200	' "$STACK_DIR/load.out")
diag "2000 requests, 64 concurrent: ${elapsed} ms; statuses: $(cut -f1 "$STACK_DIR/load.out" | sort | uniq -c | tr -s ' \n' ' ')"
is "$total" 2000 "load: 2000 answers"
is "$good" 2000 "load: every request answered 200"
bad=$(awk -F'\t' -v toks="${#tokens[@]}" '{ want = (NR - 1) % toks + 1 } $2 !~ ("\"user_id\"[ ]*:[ ]*" want "[,} ]") { n++ } END { print n + 0 }' "$STACK_DIR/load.out")
is "$bad" 0 "load: every answer names the caller's user_id"

conns=$(stack_psql "select count(*) from pg_stat_activity where application_name like 'stockade worker%'")
is "$conns" "$STACK_WORKERS" "database connections named 'stockade worker N' = workers"
names=$(stack_psql "select application_name from pg_stat_activity where application_name like 'stockade worker%' order by 1" | tr '\n' ',')
diag "worker connections: $names"
# docs/architecture.md: database connections = workers + 1, the reaper's.
conns=$(stack_psql "select count(*) from pg_stat_activity where application_name like 'stockade %' and application_name <> 'stockade migrate'")
is "$conns" "$((STACK_WORKERS + 1))" "database connections from stockade = workers + 1 (the reaper)"
stack_get_status
like "$HTTP_BODY" '"reaper":[{]"slot":'"$STACK_WORKERS"',"pid":[1-9]' "/status shows the reaper with a pid"

# ---------------------------------------------------------------------------
# Graceful stop: SIGQUIT while requests are flowing.  Requests a worker has
# accepted must complete; once the master is gone nginx answers 502 itself,
# which is expected.  A request cut off half-way shows in nginx's error log
# as "prematurely closed" or "reset by peer".

children=$(pgrep -P "$MASTER" | tr '\n' ' ')
errlog_before=$(wc -l <"$STACK_DIR/nginx-error.log")
access_before=$(wc -l <"$STACK_DIR/nginx-access.log")
for i in $(seq 0 4999); do
	printf 'GET\t/api/v1/whoami\t%s\t\n' "$USER_TOKEN"
done >"$spec"
http_parallel 4 "$spec" >"$STACK_DIR/quit.out" &
load_pid=$!
# Send the signal only once requests are really flowing (writing the curl
# config for 5000 requests takes a moment).
now_ms
t0=$NOW_MS
while [ "$(($(wc -l <"$STACK_DIR/nginx-access.log") - access_before))" -lt 100 ] &&
	now_ms && [ "$((NOW_MS - t0))" -lt 20000 ]; do
	sleep 0.05
done
kill -QUIT "$MASTER"
now_ms
t0=$NOW_MS
while stack_alive "$MASTER" && now_ms && [ "$((NOW_MS - t0))" -lt 15000 ]; do
	sleep 0.05
done
stack_alive "$MASTER"
is "$?" 1 "SIGQUIT: master exited within 15 s"
wait "$MASTER"
is "$?" 0 "SIGQUIT: master exit status 0"
left=
for pid in $children; do
	! stack_alive "$pid" || left="$left $pid"
done
is "$left" "" "SIGQUIT: no child of the master left (had: $children)"
wait "$load_pid"
statuses=$(cut -f1 "$STACK_DIR/quit.out" | sort | uniq -c | tr -s ' \n' ' ')
diag "requests around SIGQUIT: $statuses"
served=$(grep -c '^200	' "$STACK_DIR/quit.out")
[ "$served" -ge 100 ]
ok $? "SIGQUIT: sent while requests were being served ($served answered 200)"
other=$(cut -f1 "$STACK_DIR/quit.out" | grep -cv '^\(200\|502\)$')
is "$other" 0 "SIGQUIT: every request answered 200 (or 502 once stockade was gone)"
# Connections stockade had accepted or still held in its listen backlog
# when it went away are reset; nginx logs each and answers it 502.
cut=$(tail -n +"$((errlog_before + 1))" "$STACK_DIR/nginx-error.log" |
	grep 'prematurely closed\|reset by peer\|upstream timed out')
is "$(printf '%s' "$cut" | grep -c .)" 0 "SIGQUIT: no request that reached stockade was dropped"
[ -z "$cut" ] || diag "$cut"

# ---------------------------------------------------------------------------
# status_public = on: /status without a token (the operator's opt-in).

STACK_EXTRA_CONF="${STACK_EXTRA_CONF:+$STACK_EXTRA_CONF
}status_public = on"
stack_start_stockade && stack_wait_ready
ok $? "stockade restarted with status_public = on"
http GET /status
is "$HTTP_STATUS" 200 "status_public = on: /status without a token: 200"
like "$HTTP_BODY" '"workers":\[' "status_public = on: the scoreboard"
http GET /api/v1/whoami
is "$HTTP_STATUS" 401 "status_public = on: other routes still need a token"

# ---------------------------------------------------------------------------
# Nothing may outlive the stack.

stack_stop
ok $? "stack_stop succeeded"
is "$(stack_leftovers)" "" "no process from $STACK_DIR is left"

done_testing
