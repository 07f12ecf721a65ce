#!/usr/bin/env bash
# t/test_redis_readonly.sh: the gate's Redis turned into a read-only replica
# under the workers' open connections, as a failover does to an old
# primary that is still up (docs/scaling.md, "Redis failover").  Redis
# keeps its data and answers reads, but every write, the gate's admission
# script included, gets READONLY.  src/redis.c drops a connection that got
# READONLY as if it had broken (the breaker opens; with redis_sentinels the
# next connection asks the Sentinels): the claims go to the database, which
# stays exact, and nobody gets an error.  Made a primary again, the gate
# serves again.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/coupons.sh
. "$T_DIR/lib/coupons.sh"

# claims POLICY FIRST LAST: one claim per user FIRST..LAST, 10 at a time;
# prints http_parallel's answers.
claims() {
	rush_spec "$1" "$2" "$3" "$(_assert_tmp)/ro.spec" "$(_assert_tmp)/ro.users"
	http_parallel 10 "$(_assert_tmp)/ro.spec"
}

main() {
	local p out u t tokens c
	GATE=redis
	STACK_EXTRA_CONF="coupon_gate = redis"
	export STACK_EXTRA_CONF
	# shellcheck disable=SC2119 # a new temporary directory, not the script's $1
	stack_init || exit 99
	trap stack_cleanup EXIT
	stack_start || exit 99
	sql_open
	ADMIN=$(stack_token 9000 admin)
	tokens=$(_assert_tmp)/tokens
	mint_tokens_bulk 1 200 >"$tokens" || exit 99
	while IFS=$'\t' read -r u t; do
		TOK[$u]=$t
	done <"$tokens"

	p=$(new_policy "read-only gate" 50) || exit 1
	out=$(_assert_tmp)/ro.out
	claims "$p" 1 20 >"$out"
	is "$(outcomes "$out")" "201:20" "20 claims through the gate: 20 x 201"
	is "$(gate_users "$p" | tr , '\n' | wc -l)" 20 "the gate admitted the 20"

	# A primary that is gone: Redis becomes a replica that never syncs,
	# keeping its data, refusing writes.
	is "$(stack_redis REPLICAOF 127.0.0.1 1)" OK "Redis made a replica"
	c=$(counters | cut -d' ' -f3)
	claims "$p" 21 100 >"$out"
	is "$(outcomes "$out")" "201:30,409 sold_out:50" \
		"80 claims on the read-only Redis: exactly the 30 left x 201, the other 50 409 sold_out, no error"
	like "$(cat "$STACK_DIR/stockade.log")" "redis unavailable: READONLY: the server is a replica now" \
		"a worker dropped its connection at READONLY"
	[ "$(counters | cut -d' ' -f3)" -gt "$c" ]
	ok $? "claims went to the database meanwhile (coupon_gate_bypassed grew)"
	is "$(counts "$p")" "50 50" "50 coupons of 50 issued"
	check_coupons "read-only Redis"

	# A primary again (the same server: its run_id and the gate's data are
	# the ones from before): the gate turns the crowd away again.
	is "$(stack_redis REPLICAOF NO ONE)" OK "Redis a primary again"
	sleep 1.6 # a breaker's longest cool-down, 1.5 x redis_cooldown
	c=$(counters | cut -d' ' -f2)
	claims "$p" 101 160 >"$out"
	is "$(outcomes "$out")" "409 sold_out:60" "60 claims after: all 409 sold_out"
	[ "$(counters | cut -d' ' -f2)" -gt "$c" ]
	ok $? "the gate refused again (coupon_gate_refused grew)"
	is "$(counts "$p")" "50 50" "still 50 coupons of 50"
	check_coupons "after"
	sql_close
	done_testing
}

main
