# shellcheck shell=bash
#
# t/lib/preamble.sh: the start every integration test (t/test_*.sh) shares,
# kept once here.  A test sources it in its first line of code:
#
#     . "$(dirname "$0")/lib/preamble.sh"
#
# It sets T_DIR (the t/ directory of the source tree), defaults
# STOCKADE_SRCDIR and STOCKADE_BIN to this checkout and exports them (make
# check sets both, see Makefile.am; by hand they need not be), sources
# t/lib/stack.sh, t/lib/assert.sh and t/lib/shop.sh, and exits 99 (automake's
# hard error: the test could not even run, which a missing tool is not a
# failed check) when the daemon is not built or jq is missing.

T_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${STOCKADE_SRCDIR:=$(cd "$T_DIR/.." && pwd)}"
: "${STOCKADE_BIN:=$STOCKADE_SRCDIR/src/stockade}"
export STOCKADE_SRCDIR STOCKADE_BIN
# shellcheck source=t/lib/stack.sh
. "$T_DIR/lib/stack.sh"
# shellcheck source=t/lib/assert.sh
. "$T_DIR/lib/assert.sh"
# shellcheck source=t/lib/shop.sh
. "$T_DIR/lib/shop.sh"

[ -x "$STOCKADE_BIN" ] || { echo "not built: $STOCKADE_BIN" >&2; exit 99; }
command -v jq >/dev/null || { echo "jq is missing (scripts/install-deps)" >&2; exit 99; }
