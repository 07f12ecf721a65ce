#!/usr/bin/env bash
# t/test_coupons_queue_off.sh: the coupon suite (t/lib/coupons.sh) with
# coupon_strategy = queue and coupon_gate = off, on a stack of its own.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/coupons.sh
. "$T_DIR/lib/coupons.sh"

trap stack_cleanup EXIT
run_suite queue off
done_testing
