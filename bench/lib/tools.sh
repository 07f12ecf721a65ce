# shellcheck shell=bash
#
# bench/lib/tools.sh: what the load needs besides the stack: the C
# programs of bench/ (rush.c and shop.c, load clients; fcgi_hello.c, the
# smallest FastCGI server shaped like stockade) compiled into $WORK, the
# fcgi_hello servers, and the bearer tokens of the users.  Sourced by
# bench/run.

MINT_PIDS=()  # token-minting loops, while they run
HELLO_PIDS=() # bench/fcgi_hello masters, while they run

# Users of the coupon rush: COUPON_FIRST_USER, the next ones, and so on.
COUPON_FIRST_USER=1000001

# build_tools: compile rush, shop and fcgi_hello into $WORK, once per run.
build_tools() {
	local flags=(-std=c11 -O2 -Wall -Wextra -Werror)
	[ ! -x "$WORK/fcgi_hello" ] || return 0
	say "compiling bench/rush.c, bench/shop.c and bench/fcgi_hello.c"
	# shellcheck disable=SC2046 # pkg-config prints a list of flags
	cc "${flags[@]}" -o "$WORK/rush" "$BENCH_DIR/rush.c" "$BENCH_DIR/client.c" \
		$(pkg-config --cflags --libs libcurl libcrypto) >&2 || return 1
	# shellcheck disable=SC2046 # pkg-config prints a list of flags
	cc "${flags[@]}" -o "$WORK/shop" "$BENCH_DIR/shop.c" "$BENCH_DIR/client.c" \
		$(pkg-config --cflags --libs libcurl) >&2 || return 1
	# shellcheck disable=SC2046 # pkg-config prints a list of flags
	cc "${flags[@]}" -o "$WORK/fcgi_hello" "$BENCH_DIR/fcgi_hello.c" \
		$(pkg-config --cflags --libs fcgi hiredis) >&2 || return 1
}

# hello_start NAME [ARGS...]: bench/fcgi_hello with BENCH_WORKERS workers
# (as many as stockade has) on $WORK/NAME.sock, where nginx's location
# /bench/NAME points; ARGS may be -r SOCKET (one EVALSHA per request).
# Returns once /bench/NAME answers 200 through nginx.
hello_start() {
	local name=$1 pid i code=''
	shift
	"$WORK/fcgi_hello" -w "$BENCH_WORKERS" "$@" "$WORK/$name.sock" >>"$WORK/$name.log" 2>&1 &
	pid=$!
	HELLO_PIDS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$STACK_URL/bench/$name")
		[ "$code" != 200 ] || return 0
		stack_alive "$pid" || break
		sleep 0.1
	done
	say "fcgi_hello $name did not answer 200 (last: $code): $(tail -n 3 "$WORK/$name.log")"
	return 1
}

# hello_stop: stop every fcgi_hello, by PID (its master stops its workers).
hello_stop() {
	local pid
	for pid in "${HELLO_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	HELLO_PIDS=()
}

# mint_tokens: $WORK/tokens, one bearer token a line for users
# 1..BENCH_USERS, made once per run (the secret outlives restarts), by
# `nproc` parallel loops since each token is one run of `stockade token`.
mint_tokens() {
	local jobs j u rc=0 pid
	[ -s "$WORK/tokens" ] && return 0
	jobs=$(nproc)
	say "minting $BENCH_USERS tokens"
	for ((j = 0; j < jobs; j++)); do
		(
			for ((u = 1 + j; u <= BENCH_USERS; u += jobs)); do
				stack_token "$u" || exit 1
			done >"$WORK/tokens.$j"
		) &
		MINT_PIDS+=("$!")
	done
	for pid in "${MINT_PIDS[@]}"; do
		wait "$pid" || rc=1
	done
	MINT_PIDS=()
	[ "$rc" -eq 0 ] || return 1
	for ((j = 0; j < jobs; j++)); do
		cat "$WORK/tokens.$j"
	done >"$WORK/tokens"
	[ "$(wc -l <"$WORK/tokens")" -eq "$BENCH_USERS" ]
}

# mint_users FILE FIRST COUNT: FILE, COUNT bearer tokens (a day long) for
# users FIRST onwards, one a line, unless it is there already; made by
# `rush mint` (the claims and signature of `stockade token`, which is one
# process per token: minutes for 20,000); the first is checked through
# GET /api/v1/whoami.  The seconds minting took go to FILE.seconds.
mint_users() {
	local f=$1 first=$2 count=$3 t0=$EPOCHREALTIME body
	[ -s "$f" ] && return 0
	"$WORK/rush" mint "$STACK_DIR/secret" "$first" "$count" >"$f" || return 1
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }' >"$f.seconds"
	[ "$(wc -l <"$f")" -eq "$count" ] || return 1
	body=$(curl -sS -m 5 -H "Authorization: Bearer $(head -n 1 "$f")" "$STACK_URL/api/v1/whoami") || return 1
	if [ "$(jq -r .user_id <<<"$body" 2>/dev/null)" != "$first" ]; then
		say "stockade refused a token minted by rush: $body"
		return 1
	fi
}

# coupon_tokens: prints the name of the file of BENCH_COUPON_USERS tokens
# of users COUPON_FIRST_USER onwards, minted once per run and count (the
# seconds it took are in that file's .seconds), or fails.
coupon_tokens() {
	local f=$WORK/coupon-tokens-$BENCH_COUPON_USERS
	mint_users "$f" "$COUPON_FIRST_USER" "$BENCH_COUPON_USERS" || return 1
	printf '%s\n' "$f"
}
