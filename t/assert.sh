# shellcheck shell=bash
#
# t/lib/assert.sh: a tiny TAP-style test library for the integration tests,
# plus curl wrappers that talk to the stack started by t/lib/stack.sh.
#
#     . t/lib/assert.sh
#     http GET /healthz
#     is "$HTTP_STATUS" 200 "healthz answers 200"
#     like "$HTTP_BODY" '"status":"ok"' "healthz says ok"
#     done_testing            # prints "N passed, M failed"; 1 if M > 0
#
# Test scripts should not use `set -e`: a failed check is counted and
# reported, and the script carries on to the next one.
#
# Reads from the environment: STACK_URL (base URL for http), HTTP_TIMEOUT
# (seconds per request, default 30), and STACK_DIR (where response files
# go; a private temp dir when unset, removed by done_testing).

ASSERT_PASSED=0
ASSERT_FAILED=0
ASSERT_COUNT=0
ASSERT_TMP=

# _assert_report PASS NAME [DIAG...]: print "ok N - NAME" or "not ok N -
# NAME" followed by the diagnostics as "# " lines, and count the result.
_assert_report() {
	local pass=$1 name=$2 line
	shift 2
	ASSERT_COUNT=$((ASSERT_COUNT + 1))
	if [ "$pass" = 1 ]; then
		ASSERT_PASSED=$((ASSERT_PASSED + 1))
		printf 'ok %d - %s\n' "$ASSERT_COUNT" "$name"
		return 0
	fi
	ASSERT_FAILED=$((ASSERT_FAILED + 1))
	printf 'not ok %d - %s\n' "$ASSERT_COUNT" "$name"
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
	return 1
}

# _assert_short TEXT: TEXT cut to 500 characters, for diagnostics.
_assert_short() {
	if [ "${#1}" -gt 500 ]; then
		printf '%s...(%d bytes)' "${1:0:500}" "${#1}"
	else
		printf '%s' "$1"
	fi
}

# ok STATUS NAME: passes when STATUS (an exit status) is 0.
#     [ -s "$file" ]; ok $? "file is not empty"
ok() {
	if [ "$1" = 0 ]; then
		_assert_report 1 "$2"
	else
		_assert_report 0 "$2" "exit status: $1"
	fi
}

# is GOT WANT NAME: passes when GOT and WANT are the same string.
is() {
	if [ "$1" = "$2" ]; then
		_assert_report 1 "$3"
	else
		_assert_report 0 "$3" "got:  '$(_assert_short "$1")'" "want: '$2'"
	fi
}

# like GOT REGEX NAME: passes when GOT matches the extended REGEX (bash
# [[ =~ ]], unanchored).
like() {
	if [[ $1 =~ $2 ]]; then
		_assert_report 1 "$3"
	else
		_assert_report 0 "$3" "got:  '$(_assert_short "$1")'" "want match: /$2/"
	fi
}

# diag MSG...: print MSG as diagnostic "# " lines, not a test result.
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# done_testing: print the plan and the final line "N passed, M failed";
# returns 1 when a check failed or none ran.
done_testing() {
	printf '1..%d\n' "$ASSERT_COUNT"
	printf '%d passed, %d failed\n' "$ASSERT_PASSED" "$ASSERT_FAILED"
	if [ -n "$ASSERT_TMP" ] && [ -z "${STACK_DIR:-}" ]; then
		rm -rf "$ASSERT_TMP"
	fi
	[ "$ASSERT_FAILED" -eq 0 ] && [ "$ASSERT_COUNT" -gt 0 ]
}

# _assert_tmp_init: set ASSERT_TMP, the directory for response files:
# $STACK_DIR/http (removed with the stack), or a private temp dir when no
# stack is set.  Follows STACK_DIR when a test starts a second stack.
# Called directly, never in $(...), so that the choice sticks in this shell.
_assert_tmp_init() {
	local want=
	[ -z "${STACK_DIR:-}" ] || want="$STACK_DIR/http"
	if [ -n "$ASSERT_TMP" ] && [ -d "$ASSERT_TMP" ] &&
		{ [ -z "$want" ] || [ "$ASSERT_TMP" = "$want" ]; }; then
		return 0
	fi
	if [ -n "$want" ]; then
		ASSERT_TMP=$want
		mkdir -p "$ASSERT_TMP"
	else
		ASSERT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/stockade-http.XXXXXX")
	fi
}

# _assert_tmp: print that directory (for tests that keep files beside the
# responses, e.g. TOKENS=$(_assert_tmp)/tokens).
_assert_tmp() {
	_assert_tmp_init && printf '%s\n' "$ASSERT_TMP"
}

# http METHOD PATH [BODY] [TOKEN] [CURL_ARGS...]: one request to
# $STACK_URL$PATH.  A non-empty BODY is sent as application/json; "@FILE"
# sends the contents of FILE (curl's syntax, for bodies too large for an
# argument).  A non-empty TOKEN is sent as "Authorization: Bearer TOKEN".
# CURL_ARGS go to curl as they are (e.g. -H 'X-Request-Id: abc').
# Sets:
#   HTTP_STATUS        "200", ...; "000" when no response arrived
#   HTTP_BODY          the body (trailing newlines stripped)
#   HTTP_HEADERS       the response headers, one per line, no CR
#   HTTP_HEADERS_FILE  the same, as a file (raw, as curl wrote it)
#   HTTP_CONTENT_TYPE  the Content-Type ("" when none)
# Returns 0 when a response arrived, whatever its status.
# shellcheck disable=SC2034 # the HTTP_* variables are this function's output
http() {
	local method=$1 path=$2 body=${3:-} token=${4:-} dir out rc=0
	local -a args=(-sS -X "$method" -m "${HTTP_TIMEOUT:-30}")
	local bodyout
	shift 2
	[ "$#" -eq 0 ] || shift
	[ "$#" -eq 0 ] || shift
	_assert_tmp_init || return 1
	dir=$ASSERT_TMP
	HTTP_HEADERS_FILE="$dir/last.headers"
	if [ -n "$body" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$body")
	fi
	if [ -n "$token" ]; then
		args+=(-H "Authorization: Bearer $token")
	fi
	: >"$dir/last.body"
	: >"$HTTP_HEADERS_FILE"
	bodyout=$dir/last.body
	if [ "$method" = HEAD ]; then
		# -X HEAD would make curl wait for the Content-Length bytes of a
		# body that never comes; --head does not, but prints the headers
		# where the body would go (they are in HTTP_HEADERS anyway).
		args=(-sS --head -m "${HTTP_TIMEOUT:-30}" "${args[@]:5}")
		bodyout=/dev/null
	fi
	# Files and read rather than $(...): tests poll with this in timed
	# loops, and every fork costs milliseconds.
	curl "${args[@]}" -o "$bodyout" -D "$HTTP_HEADERS_FILE" \
		-w '%{http_code}\t%{content_type}' "$@" "${STACK_URL:?}$path" >"$dir/last.out" || rc=$?
	IFS= read -r out <"$dir/last.out" || true
	HTTP_STATUS=${out%%$'\t'*}
	HTTP_CONTENT_TYPE=${out#*$'\t'}
	[ -n "$HTTP_STATUS" ] || HTTP_STATUS=000
	HTTP_BODY=
	IFS= read -r -d '' HTTP_BODY <"$dir/last.body" || true
	while [[ $HTTP_BODY == *$'\n' ]]; do HTTP_BODY=${HTTP_BODY%$'\n'}; done
	HTTP_HEADERS=
	IFS= read -r -d '' HTTP_HEADERS <"$HTTP_HEADERS_FILE" || true
	HTTP_HEADERS=${HTTP_HEADERS//$'\r'/}
	while [[ $HTTP_HEADERS == *$'\n' ]]; do HTTP_HEADERS=${HTTP_HEADERS%$'\n'}; done
	return "$rc"
}

# http_header NAME: print the value of header NAME (any case) of the last
# response from http; empty when absent.
http_header() {
	printf '%s\n' "$HTTP_HEADERS" |
		awk -v name="$1" 'BEGIN { name = tolower(name) ":" }
			tolower(substr($0, 1, length(name))) == name {
				sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}

# _assert_curl_quote VAR STRING: set VAR to STRING as a double-quoted curl
# config value (backslash and double quote escaped).  It assigns instead of
# printing because a $(...) per field would fork thousands of times for a
# large http_parallel run.
_assert_curl_quote() {
	local s=${2//\\/\\\\}
	s=${s//\"/\\\"}
	printf -v "$1" '"%s"' "$s"
}

# http_parallel CONCURRENCY SPECFILE: run every request of SPECFILE, at most
# CONCURRENCY at a time, in one curl process (--parallel).  SPECFILE has one
# request per line: METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY[<TAB>HEADER] (TOKEN,
# BODY and HEADER may be empty; HEADER is one extra "Name: value" header,
# e.g. an Idempotency-Key; no field may contain a tab).  Prints one line per request, in
# SPECFILE order: STATUS<TAB>BODY, the body on one line (newlines become
# spaces); STATUS is 000 for a request that got no response.
#
# curl's per-transfer --write-out lines come out in completion order in
# parallel mode, so each transfer's write-out carries its index, and its
# body goes to a file named by that index; the results are put back in
# order afterwards.  Per-transfer options (output, write-out, timeouts)
# must be repeated after every `next`.  The loops avoid forking per
# request, which costs milliseconds each.
http_parallel() {
	local conc=$1 spec=$2 dir cfg i=0 method path token body header n status q
	_assert_tmp_init || return 1
	dir=$ASSERT_TMP/parallel.$$
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	cfg="$dir/curl.cfg"
	# Tabs become \037 first: with a whitespace IFS, read would merge the
	# two tabs around an empty TOKEN.
	while IFS=$'\037' read -r method path token body header || [ -n "$method" ]; do
		[ -n "$method" ] || continue
		[ "$i" -eq 0 ] || printf 'next\n'
		_assert_curl_quote q "${STACK_URL:?}$path"
		printf 'url = %s\n' "$q"
		_assert_curl_quote q "$method"
		printf 'request = %s\n' "$q"
		printf 'silent\nmax-time = %s\n' "${HTTP_TIMEOUT:-30}"
		_assert_curl_quote q "$dir/$i.body"
		printf 'output = %s\n' "$q"
		printf 'write-out = "%d\\t%%{http_code}\\n"\n' "$i"
		if [ -n "$token" ]; then
			_assert_curl_quote q "Authorization: Bearer $token"
			printf 'header = %s\n' "$q"
		fi
		if [ -n "$header" ]; then
			_assert_curl_quote q "$header"
			printf 'header = %s\n' "$q"
		fi
		if [ -n "$body" ]; then
			_assert_curl_quote q "$body"
			printf 'header = "Content-Type: application/json"\n'
			printf 'data-binary = %s\n' "$q"
		fi
		i=$((i + 1))
	done < <(tr '\t' '\037' <"$spec") >"$cfg"
	n=$i
	[ "$n" -gt 0 ] || return 0
	# curl exits non-zero when any transfer failed; those show as 000.
	# --no-progress-meter: in parallel mode curl 7.88 draws its progress
	# meter even with `silent` in every block.
	curl --no-progress-meter --parallel --parallel-max "$conc" -K "$cfg" >"$dir/status" || true
	declare -A status_of=()
	while IFS=$'\t' read -r i status; do
		status_of[$i]=$status
	done <"$dir/status"
	for ((i = 0; i < n; i++)); do
		body=
		if [ -f "$dir/$i.body" ]; then
			IFS= read -r -d '' body <"$dir/$i.body" || true
		fi
		body=${body//$'\n'/ }
		printf '%s\t%s\n' "${status_of[$i]:-000}" "${body% }"
	done
	rm -rf "$dir"
}
