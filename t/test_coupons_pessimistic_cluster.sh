#!/usr/bin/env bash
# t/test_coupons_pessimistic_cluster.sh: the coupon suite (t/lib/coupons.sh)
# with coupon_strategy = pessimistic and coupon_gate = redis, on a stack
# whose Redis is a Redis Cluster of one node owning every slot
# (STACK_REDIS_CLUSTER=1, t/lib/stack.sh).  stockade talks to it as to one
# Redis, but the server refuses any command or script whose keys span
# slots (CROSSSLOT): the suite passing here shows that every command and
# script of the gate keeps to one policy's hash tag, {coupon:ID}, as a
# Cluster deployment needs (docs/scaling.md, "Redis Cluster").  A refused
# command would show as a gate that never warms or never undoes, which the
# suite's checks of the gate's counters and set catch.  The parts that
# use Redis run; paying, bad input and response shapes do not touch it.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/coupons.sh
. "$T_DIR/lib/coupons.sh"

STACK_REDIS_CLUSTER=1
COUPON_PARTS="test_rush test_one_user test_redis_trouble test_compensation test_idempotency
	test_twins test_key_in_progress"
trap stack_cleanup EXIT
run_suite pessimistic redis
done_testing
