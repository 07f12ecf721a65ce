#!/usr/bin/env bash
# t/test_cli.sh: the stockade command line, run as an operator runs it, with
# no server started: every command's --help, `stockade config-check` on a
# good file, a bad one, a missing one and bad secret files (exit status,
# stdout, stderr), and the strict integers of `stockade token --user/--ttl`.  Exit status follows
# automake: 0 pass, 1 fail.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (default to this checkout).
#
# No `set -e`: a failed check is counted and the script carries on.
set -uo pipefail

T_DIR=$(cd "$(dirname "$0")" && pwd)
STOCKADE_SRCDIR="${STOCKADE_SRCDIR:-$(cd "$T_DIR/.." && pwd)}"
STOCKADE_BIN="${STOCKADE_BIN:-$STOCKADE_SRCDIR/src/stockade}"

# shellcheck source=t/lib/assert.sh
. "$T_DIR/lib/assert.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/stockade-cli.XXXXXX") || exit 99
trap 'rm -rf "$WORK"' EXIT

# run ARGS...: runs stockade with ARGS; sets RC, OUT and ERR.
run() {
	"$STOCKADE_BIN" "$@" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}

# conf NAME TEXT: writes TEXT (printf format) to $WORK/NAME.
conf() {
	local name=$1
	shift
	# shellcheck disable=SC2059 # the text is the format, on purpose
	printf "$@" >"$WORK/$name"
}

head -c 48 /dev/urandom | base64 >"$WORK/secret"
chmod 600 "$WORK/secret"

# ---------------------------------------------------------------------------
# config-check on a good file: every key with its effective value.

run --help
is "$RC" 0 "--help exits 0"
like "$OUT" 'stockade config-check \[-c FILE\]' "--help shows config-check's usage"
like "$OUT" '  config-check  check a config file' "--help says what config-check does"

# Every command's --help: its usage line and options, on stdout, exit 0,
# whatever the order of the command and --help, and without reading a
# config file.
for cmd in serve migrate token config-check audit; do
	run "$cmd" --help
	is "$RC" 0 "$cmd --help exits 0"
	like "$OUT" "^usage: stockade $cmd \\[-c FILE\\]" "$cmd --help: its usage line"
	like "$OUT" $'\n  -c, --config FILE  configuration file' "$cmd --help: -c"
	is "$ERR" "" "$cmd --help: nothing on stderr"
	run --help "$cmd" -c /nonexistent
	is "$RC" 0 "--help $cmd exits 0 too"
	like "$OUT" "^usage: stockade $cmd " "--help $cmd: the same help"
done
run token --help
like "$OUT" $'\n  -u, --user ID ' "token --help: --user"
like "$OUT" $'\n  -t, --ttl SECONDS ' "token --help: --ttl"
run audit --help
like "$OUT" $'\n  -s, --since WHEN ' "audit --help: --since"
like "$OUT" 'Exit status: 0 when every invariant holds' "audit --help: its exit status"
run --help
for cmd in serve migrate token config-check audit; do
	like "$OUT" $'\n  '"$cmd"' +[a-z]' "--help lists $cmd"
done
run no-such-command --help
is "$RC" 2 "--help of an unknown command is a usage error (2)"
run serve --since 1h -c "$WORK/none.conf"
is "$RC" 2 "an option of another command is a usage error (2)"
like "$ERR" 'serve takes no such option' "... saying so"
run audit -c "$WORK/none.conf"
is "$RC" 2 "audit with a config that does not load: 2, not 1 (nothing found broken)"
run
is "$RC" 2 "no command is a usage error (2)"
like "$ERR" '^usage: stockade serve' "... with the usage on stderr"

conf good.conf '%s\n' \
	'# a good file' \
	'workers = 3' \
	'reservation_ttl = 7200000' \
	'max_body = 1024K' \
	'database_url = "postgresql://app:s3cret@db:5432/shop?sslmode=require"' \
	"auth_secret_file = $WORK/secret" \
	'point_strategy = conditional'
run config-check -c "$WORK/good.conf"
is "$RC" 0 "config-check: a good file exits 0"
is "$ERR" "" "config-check: a good file writes nothing to stderr"
like "$OUT" $'(^|\n)workers = 3\n' "config-check: prints workers = 3"
like "$OUT" $'\nreservation_ttl = 2h\n' "config-check: a duration in its largest unit"
like "$OUT" $'\nmax_body = 1M\n' "config-check: a size in its largest unit"
like "$OUT" $'\npoint_strategy = conditional\n' "config-check: an enum by name"
like "$OUT" $'\nmax_requests = 0\n' "config-check: a key the file leaves alone, at its default"
like "$OUT" 'database_url = "postgresql://app:\*\*\*\*@db:5432/shop\?sslmode=require"' \
	"config-check: the password in database_url is masked"
[[ $OUT != *s3cret* ]]
ok $? "config-check: the password appears nowhere"
is "$(printf '%s\n' "$OUT" | grep -c ' = ')" \
	"$(grep -c '^#[a-z_]* = ' "$STOCKADE_SRCDIR/etc/stockade.conf.sample")" \
	"config-check: one line per key of the sample"

# What it prints, it reads back: the same values, once more.
printf '%s\n' "$OUT" | sed 's/app:\*\*\*\*@/app:s3cret@/' >"$WORK/back.conf"
first=$OUT
run config-check -c "$WORK/back.conf"
is "$RC" 0 "config-check: its own output is a good file"
is "$OUT" "$first" "config-check: its own output reads back to the same values"

# An unset secret file is allowed here, with a word on stderr: serve and
# token are the ones that need it.
conf nosecret.conf 'workers = 2\n'
run config-check -c "$WORK/nosecret.conf"
is "$RC" 0 "config-check: no auth_secret_file still exits 0"
like "$ERR" 'nosecret\.conf: auth_secret_file is not set' "config-check: ... and says it is not set"
like "$OUT" $'\nauth_secret_file = ""\n' "config-check: ... and prints it empty"

# ---------------------------------------------------------------------------
# config-check on bad files: "path:line: key: why" on stderr, exit 1.

conf bad.conf '%s\n' '# line 1' 'workers = 3' '' 'wrokers = 4'
run config-check -c "$WORK/bad.conf"
is "$RC" 1 "config-check: an unknown key exits 1"
is "$ERR" "$WORK/bad.conf:4: wrokers: unknown key" "config-check: ... naming file:line: key"
is "$OUT" "" "config-check: ... and prints no values"

conf value.conf '%s\n' 'log_level = debug' 'workers = 0'
run config-check -c "$WORK/value.conf"
is "$RC" 1 "config-check: a value out of bounds exits 1"
is "$ERR" "$WORK/value.conf:2: workers: must be an integer from 1 to 256, got \"0\"" \
	"config-check: ... saying what the value must be"

conf tab.conf 'workers = 3\nmax_charge = "\t5"\n'
run config-check -c "$WORK/tab.conf"
is "$RC" 1 "config-check: a number after a tab exits 1"
like "$ERR" 'tab\.conf:2: max_charge: must be an integer from 1 to 1000000000, got "\\x095"$' \
	"config-check: ... quoting the tab escaped"

conf twice.conf 'workers = 3\nworkers = 4\n'
run config-check -c "$WORK/twice.conf"
is "$RC" 1 "config-check: a key given twice exits 1"
is "$ERR" "$WORK/twice.conf:2: workers: given twice (first on line 1)" "config-check: ... naming both lines"

run config-check -c "$WORK/missing.conf"
is "$RC" 1 "config-check: a missing file exits 1"
is "$ERR" "$WORK/missing.conf: No such file or directory" "config-check: ... naming the file"
is "$OUT" "" "config-check: ... and prints no values"

run config-check -c "$WORK"
is "$RC" 1 "config-check: a directory exits 1"

conf badsecret.conf 'auth_secret_file = %s\n' "$WORK/nosuchsecret"
run config-check -c "$WORK/badsecret.conf"
is "$RC" 1 "config-check: a missing secret file exits 1"
is "$ERR" "$WORK/badsecret.conf: auth_secret_file: $WORK/nosuchsecret: No such file or directory" \
	"config-check: ... naming the config and the secret file"
is "$OUT" "" "config-check: ... and prints no values"

printf 'short\n' >"$WORK/short"
conf shortsecret.conf 'auth_secret_file = %s\n' "$WORK/short"
run config-check -c "$WORK/shortsecret.conf"
is "$RC" 1 "config-check: a short secret exits 1"
like "$ERR" 'the secret must be 32 to 4096 bytes, got 5$' "config-check: ... saying how long it must be"

run config-check -c "$WORK/good.conf" extra
is "$RC" 2 "config-check: an extra argument is a usage error (2)"
run no-such-command -c "$WORK/good.conf"
is "$RC" 2 "an unknown command is a usage error (2)"
like "$ERR" "unknown command 'no-such-command'" "... naming it"

# ---------------------------------------------------------------------------
# token: --user and --ttl are strict integers (no white space, no '+').

conf token.conf 'auth_secret_file = %s\n' "$WORK/secret"
run token -c "$WORK/token.conf" --user 5
is "$RC" 0 "token --user 5 exits 0"
like "$OUT" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "token --user 5 prints a JWT"
for user in $'\t5' $'\n5' ' 5' '5 ' '+5' '0' '-5' '5x' '0x5' '' '9223372036854775808'; do
	run token -c "$WORK/token.conf" --user "$user"
	is "$RC" 2 "token --user '$user' is a usage error"
	like "$ERR" '--user must be a positive integer' "token --user '$user' says why"
done
run token -c "$WORK/token.conf" --user 9223372036854775807 --ttl 60
is "$RC" 0 "token --user INT64_MAX exits 0"
for ttl in $'\t60' ' 60' '+60' '0' '60s'; do
	run token -c "$WORK/token.conf" --user 5 --ttl "$ttl"
	is "$RC" 2 "token --ttl '$ttl' is a usage error"
done

done_testing
