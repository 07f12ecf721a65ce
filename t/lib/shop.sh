# shellcheck shell=bash
#
# t/lib/shop.sh: helpers the domain integration tests share, on top of
# t/lib/stack.sh and t/lib/assert.sh: the invariant audit, tokens for many
# users at once, a snapshot of the tables a refused request must not touch,
# locks held by another session until released, and creating products
# through the admin API.

# audit_clean NAME: runs sql/audit.sql; passes when it returns no row.
audit_clean() {
	local rows
	rows=$(stack_psql_file "$STOCKADE_SRCDIR/sql/audit.sql" 2>&1)
	is "$rows" "" "audit: $1"
}

# mint_tokens FIRST LAST: prints "USER<TAB>TOKEN" for users FIRST..LAST.
mint_tokens() {
	local u
	for ((u = $1; u <= $2; u++)); do
		printf '%s\t%s\n' "$u" "$(stack_token "$u")"
	done
}

# mint_tokens_bulk FIRST LAST [ROLE]: the same lines as mint_tokens, for
# thousands of users: rather than one `stockade token` per user (about 17 ms
# each), the tokens are signed here with the stack's secret exactly as
# `stockade token` signs them (auth.c: HS256 over "HEADER.PAYLOAD", base64url
# without padding): one awk writes every signing input to a file, one
# openssl dgst signs them all, one awk appends the signatures.  ROLE is
# "user" by default; the tokens are valid for an hour.
mint_tokens_bulk() {
	local first=$1 last=$2 role=${3:-user} dir secret
	dir=$(_assert_tmp)/mint.$$
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	# The secret file has no final newline: read fails, yet sets secret.
	IFS= read -r secret <"$STACK_DIR/secret" || [ -n "$secret" ] || return 1
	awk -v first="$first" -v last="$last" -v role="$role" \
		-v now="$(date +%s)" -v dir="$dir" '
	function b64url(s, out, i, n, v) {
		n = length(s)
		for (i = 1; i <= n; i += 3) {
			v = ord[substr(s, i, 1)] * 65536 + ord[substr(s, i + 1, 1)] * 256
			v += ord[substr(s, i + 2, 1)]
			out = out substr(B, int(v / 262144) + 1, 1) substr(B, int(v / 4096) % 64 + 1, 1)
			if (i + 1 <= n) out = out substr(B, int(v / 64) % 64 + 1, 1)
			if (i + 2 <= n) out = out substr(B, v % 64 + 1, 1)
		}
		return out
	}
	BEGIN {
		B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i
		ord[""] = 0
		head = b64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}")
		for (u = first; u <= last; u++) {
			f = dir "/" u
			printf "%s.%s", head, b64url(sprintf("{\"sub\":\"%d\",\"role\":\"%s\",\"iat\":%d,\"exp\":%d}",
			    u, role, now, now + 3600)) >f
			close(f)
			print f
		}
	}' >"$dir/list" || return 1
	# -r: one "HEX *FILE" line per file.  The 64 hex digits are ten groups
	# of 6 (24 bits, 4 characters) and one of 4 (16 bits, padded to 18: 3).
	xargs openssl dgst -sha256 -r -hmac "$secret" <"$dir/list" | awk '
	BEGIN {
		B = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for (i = 0; i < 16; i++) hex[sprintf("%x", i)] = i
	}
	{
		f = substr($2, 2)
		u = f
		sub(/.*\//, "", u)
		getline input <f
		close(f)
		sig = ""
		for (i = 1; i <= 64; i += 6) {
			v = 0
			for (j = i; j < i + 6 && j <= 64; j++)
				v = v * 16 + hex[substr($1, j, 1)]
			if (i <= 59)
				sig = sig substr(B, int(v / 262144) + 1, 1)
			else
				v *= 4
			sig = sig substr(B, int(v / 4096) % 64 + 1, 1) substr(B, int(v / 64) % 64 + 1, 1) substr(B, v % 64 + 1, 1)
		}
		printf "%s\t%s.%s\n", u, input, sig
	}' | sort -n
	rm -rf "$dir"
}

# sql_open: starts one psql session on the stack's database, as stack_psql's
# role, for tests that query hundreds of times: each stack_psql is a process
# and a connection (50 ms on a small VM), a query through the open session a
# round trip.  sql SQL then prints the rows as stack_psql does (errors
# included, as text, so that a check on them fails visibly); sql_close ends
# the session (call it before the stack stops).  One session at a time.
sql_open() {
	SQL_END="__end_of_query_$$__"
	coproc SQL_SESSION {
		"$STACK_PG_BIN/psql" -XAtq -h "$STACK_DIR/pg-run" -U postgres -d stockade 2>&1
	}
}

sql() {
	local line out=
	printf '%s\n;\n\\echo %s\n' "$1" "$SQL_END" >&"${SQL_SESSION[1]}" || return 1
	while IFS= read -r -t 60 line <&"${SQL_SESSION[0]}"; do
		[ "$line" != "$SQL_END" ] || break
		out+=$line$'\n'
	done
	printf '%s' "${out%$'\n'}"
	[ "$line" = "$SQL_END" ]
}

sql_close() {
	local pid=${SQL_SESSION_PID:-} fd=${SQL_SESSION[1]:-}
	[ -n "$pid" ] || return 0
	[ -z "$fd" ] || exec {fd}>&-
	wait "$pid" 2>/dev/null || true
}

# hold_lock NAME SQL: a psql session (application_name "hold NAME") runs
# SQL in a transaction left open until release_lock NAME ends the session
# (60 s at most); returns once SQL has run, so that what it locks is held
# before anything else is sent, however loaded the machine.  Held until
# released, not for a fixed time: a fixed time bets on how fast the steps
# run while it is held, and loses that bet on a loaded machine.
declare -gA HOLD_PIDS=()
hold_lock() {
	PGAPPNAME="hold $1" stack_psql "BEGIN; $2; SELECT pg_sleep(60); COMMIT" >/dev/null 2>&1 &
	HOLD_PIDS[$1]=$!
	_stack_wait_for 20 lock_held "$1" && return 0
	diag "hold_lock $1: the lock was not taken"
	return 1
}

lock_held() {
	[ "$(stack_psql "SELECT count(*) FROM pg_stat_activity
	    WHERE application_name = 'hold $1' AND state = 'active'
	    AND query LIKE '%pg_sleep%'")" = 1 ]
}

# release_lock NAME: ends hold_lock's session and waits until it is gone
# (its transaction rolled back, its locks free), then reaps its psql.
release_lock() {
	stack_psql "SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity
	    WHERE application_name = 'hold $1'" >/dev/null
	wait "${HOLD_PIDS[$1]}" 2>/dev/null
	unset "HOLD_PIDS[$1]"
	return 0
}

# db_snapshot: one line summing up every table a request can change;
# two equal snapshots mean nothing moved.  One query: psql costs a
# connection per call.
db_snapshot() {
	stack_psql "SELECT (SELECT count(*) FROM orders) || '/' ||
	    (SELECT count(*) FROM order_items) || '/' ||
	    (SELECT count(*) FROM stock_movements) || '/' ||
	    (SELECT COALESCE(sum(stock), 0) FROM product_options) || '/' ||
	    (SELECT count(*) FROM idempotency_keys) || '/' ||
	    (SELECT count(*) FROM products) || '/' ||
	    (SELECT COALESCE(string_agg(id || status || COALESCE(':' || paid_at, ''), ','
	        ORDER BY id), '') FROM orders) || '/' ||
	    (SELECT count(*) || ':' || COALESCE(sum(version), 0) || ':' ||
	        COALESCE(string_agg(user_id || '=' || balance, ',' ORDER BY user_id), '')
	        FROM point_accounts) || '/' ||
	    (SELECT count(*) || ':' || COALESCE(max(id), 0) || ':' ||
	        COALESCE(sum(amount), 0) FROM point_ledger)"
}

# create_product ADMIN_TOKEN NAME STOCK...: creates a product with one
# option per STOCK (price 100 each) and prints the option ids, one a line.
create_product() {
	local token=$1 name=$2 opts="" s
	shift 2
	for s in "$@"; do
		opts="$opts${opts:+,}{\"name\":\"o$s\",\"price\":100,\"stock\":$s}"
	done
	http POST /api/v1/admin/products "{\"name\":\"$name\",\"options\":[$opts]}" "$token"
	if [ "$HTTP_STATUS" != 201 ]; then
		diag "create_product: $HTTP_STATUS $HTTP_BODY"
		return 1
	fi
	jq -r '.options[].id' <<<"$HTTP_BODY"
}

# count_status STATUS FILE: lines of http_parallel output with STATUS.
count_status() {
	grep -c "^$1	" "$2" || true
}

# bad_request NAME STATUS CODE METHOD PATH BODY [TOKEN [CURL_ARGS...]]: the
# request is refused with STATUS and a problem+json CODE, and leaves the
# database as it was (db_snapshot).  TOKEN defaults to $USER1.
bad_request() {
	local name=$1 status=$2 code=$3 before
	before=$(db_snapshot)
	http "$4" "$5" "$6" "${7-$USER1}" "${@:8}"
	is "$HTTP_STATUS" "$status" "bad input: $name: $status"
	is "$(jq -r .code <<<"$HTTP_BODY" 2>/dev/null)" "$code" "bad input: $name: code $code"
	like "$HTTP_CONTENT_TYPE" '^application/problem\+json' "bad input: $name: problem+json"
	is "$(db_snapshot)" "$before" "bad input: $name: nothing changed"
}

# created STATUS LABEL: after an http call that must answer STATUS, prints
# the answer's id; otherwise says what came back, under LABEL, and fails.
created() {
	if [ "$HTTP_STATUS" != "$1" ]; then
		diag "$2: $HTTP_STATUS $HTTP_BODY"
		return 1
	fi
	jq -r .id <<<"$HTTP_BODY"
}

# order_body OPTION QTY [OPTION QTY]...: an order's JSON body.
order_body() {
	local items=""
	while [ "$#" -ge 2 ]; do
		items="$items${items:+,}{\"option_id\":$1,\"quantity\":$2}"
		shift 2
	done
	printf '{"items":[%s]}' "$items"
}

# new_order TOKEN OPTION QTY: places an order, prints its id.
new_order() {
	http POST /api/v1/orders "$(order_body "$2" "$3")" "$1"
	created 201 new_order
}

# charge TOKEN AMOUNT: one charge of points that must succeed (set-up).
charge() {
	http POST /api/v1/points/charge "{\"amount\":$2}" "$1"
	if [ "$HTTP_STATUS" != 200 ]; then
		diag "charge $2: $HTTP_STATUS $HTTP_BODY"
		return 1
	fi
}
