#!/usr/bin/env bash
# t/test_privileges.sh: `user` (issue 15, "Process management").  A master
# started as root with user = stockade-app reads the secret, opens log_file
# and binds the socket as root, then its workers and reaper run as that
# user (every uid and gid in /proc/PID/status, no supplementary group of
# root's), while the master stays root; the socket is root's, in that
# user's group, mode 0660, and nginx's workers, as www-data in that group,
# reach it: requests succeed with nginx running no worker as root.  The
# children still die with their master (PR_SET_PDEATHSIG survives the
# drop), reopen log_file on SIGUSR1 (the master gives the new file to the
# user), and a reload's new generation drops too.  A root without
# CAP_SETUID/CAP_SETGID, whose children cannot drop, stops instead of
# serving.  Started by another user, `user` is refused; started as root
# without `user`, stockade warns.
# Needs root (exit 77, skipped, otherwise; CI runs as root).  Exit status
# follows automake: 0 pass, 1 fail, 77 skip, 99 when the stack cannot even
# start.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR (see t/lib/stack.sh).
set -uo pipefail

# shellcheck source=t/lib/preamble.sh
. "$(dirname "$0")/lib/preamble.sh"
# shellcheck source=t/lib/procs.sh
. "$T_DIR/lib/procs.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "skipped: dropping privileges needs root" >&2
	exit 77
fi
export STACK_WORKERS=3
export STACK_RUN_USER=stockade-app

# ids PID: "UID GID" of PID when its four uids and four gids each agree
# (real, effective, saved, filesystem), else what /proc says.
ids() {
	awk '/^Uid:/ { u = ($2 == $3 && $3 == $4 && $4 == $5) ? $2 : $0 }
	     /^Gid:/ { g = ($2 == $3 && $3 == $4 && $4 == $5) ? $2 : $0 }
	     END { print u, g }' "/proc/$1/status"
}

# groups_of PID: the supplementary groups of PID.
groups_of() {
	awk '/^Groups:/ { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"
}

# shellcheck disable=SC2119 # no DIR: a fresh temp dir
stack_init || exit 99
trap procs_cleanup EXIT
APP_LOG=$STACK_DIR/app.log
export STACK_EXTRA_CONF="log_file = $APP_LOG"
stack_start || exit 99
MASTER=$STACK_STOCKADE_PID
APP_UID=$(id -u stockade-app)
APP_GID=$(id -g stockade-app)
CHILDREN=$(pgrep -P "$MASTER" | tr '\n' ' ')
diag "stack in $STACK_DIR, master $MASTER, children $CHILDREN; stockade-app is $APP_UID:$APP_GID"

# ---------------------------------------------------------------------------
# Who runs as whom.

is "$(ids "$MASTER")" "0 0" "the master keeps root"
is "$(echo "$CHILDREN" | wc -w)" 4 "three workers and the reaper"
bad=
for pid in $CHILDREN; do
	[ "$(ids "$pid")" = "$APP_UID $APP_GID" ] || bad="$bad $pid:$(ids "$pid")"
	[ "$(groups_of "$pid")" = "$APP_GID" ] || bad="$bad $pid:groups=$(groups_of "$pid")"
done
is "$bad" "" "every worker and the reaper: uid and gid are stockade-app's (all four of each), groups only its own"
grep -q "\[$MASTER\] master: stockade .* with 3 workers running as stockade-app" "$APP_LOG"
ok $? "the master says whom the children run as"
is "$(stat -c '%U:%G %a' "$STACK_DIR/stockade.sock")" "root:stockade-app 660" \
	"the socket: root's, in stockade-app's group, mode 0660"
nginx_master=$(stack_pid nginx)
nginx_workers=$(pgrep -P "$nginx_master" | tr '\n' ' ')
root_nginx=
for pid in $nginx_workers; do
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" != 0 ] || root_nginx="$root_nginx $pid"
done
[ -n "$nginx_workers" ] && [ -z "$root_nginx" ]
ok $? "no nginx worker runs as root ($nginx_workers)"
http GET /api/v1/products
is "$HTTP_STATUS" 200 "requests are served through nginx"
http GET /api/v1/whoami "" "$(stack_token 7)"
is "$HTTP_STATUS" 200 "tokens verify with the secret the master read as root"
wait_db_conns 4 30
ok $? "database connections = workers + 1"
is "$(stat -c %U "$APP_LOG")" stockade-app "log_file belongs to stockade-app"

# ---------------------------------------------------------------------------
# SIGUSR1 with dropped children: the master gives the new file away first.

mv "$APP_LOG" "$APP_LOG.1"
kill -USR1 "$MASTER"
wait_for_line 10 "$APP_LOG" "SIGUSR1: reopened $APP_LOG"
ok $? "SIGUSR1: the master reopened log_file"
# shellcheck disable=SC2086 # a list of pids
wait_fd2 5 "$APP_LOG" $CHILDREN
is "$FD2" "$APP_LOG" "SIGUSR1: every dropped child opened the new file"
is "$(stat -c %U "$APP_LOG")" stockade-app "SIGUSR1: the new file belongs to stockade-app"

# ---------------------------------------------------------------------------
# A reload: the new generation drops too.

sed -i 's/^workers = .*/workers = 2/' "$STACK_CONF"
kill -HUP "$MASTER"
wait_for_line 30 "$APP_LOG" 'master: generation 1 has exited'
ok $? "SIGHUP: the old generation has exited"
NEW_CHILDREN=$(pgrep -P "$MASTER" | tr '\n' ' ')
bad=
for pid in $NEW_CHILDREN; do
	[ "$(ids "$pid")" = "$APP_UID $APP_GID" ] || bad="$bad $pid:$(ids "$pid")"
done
is "$(echo "$NEW_CHILDREN" | wc -w)" 3 "SIGHUP: two workers and the reaper"
is "$bad" "" "SIGHUP: the new generation runs as stockade-app"
http GET /api/v1/products
is "$HTTP_STATUS" 200 "SIGHUP: still serving"

# ---------------------------------------------------------------------------
# kill -9 of the master: the dropped children still die with it.

kill -KILL "$MASTER"
left=
for _ in $(seq 1 50); do
	left=$(stockade_procs | awk '{ printf "%s ", $1 }')
	[ -n "$left" ] || break
	sleep 0.1
done
is "$left" "" "kill -9 of the master: no dropped child outlives it"
wait "$MASTER" 2>/dev/null
rm -f "$STACK_DIR/stockade.pid"

# ---------------------------------------------------------------------------
# Started by another user, `user` is refused; as root without it, a warning.

cp "$STACK_CONF" "$STACK_DIR/other.conf"
sed -i -e '/^log_file/d' -e "s|^listen = .*|listen = $STACK_DIR/other.sock|" \
	"$STACK_DIR/other.conf"

# Root without CAP_SETUID and CAP_SETGID (a container that withholds them):
# the children cannot drop, so the master must stop, not serve as root.
now_ms
t0=$NOW_MS
err=$(setpriv --bounding-set -setuid,-setgid "$STOCKADE_BIN" serve -c "$STACK_DIR/other.conf" 2>&1)
rc=$?
now_ms
is "$rc" 1 "root without CAP_SETUID/CAP_SETGID: a drop fails, and serve exits 1 ($((NOW_MS - t0)) ms)"
like "$err" 'worker [0-9]: initgroups\(stockade-app, [0-9]+\): Operation not permitted; refusing to run' \
	"... the child says why it refuses to run"
like "$err" 'master: (worker [0-9]|reaper) \(pid [0-9]+\) could not drop privileges; stopping' "... and the master stops (whichever child it reaps first)"
[ ! -e "$STACK_DIR/other.sock" ]
ok $? "... removing its socket"
is "$(stockade_procs | grep -c .)" 0 "... leaving no process"

sed -i -e 's/^user = .*/user = www-data/' "$STACK_DIR/other.conf"
# The build tree may sit where stockade-app cannot reach (a clone in a
# mktemp -d directory is 0700): then run a copy from the stack's directory.
as_app_bin=$STOCKADE_BIN
if ! runuser -u stockade-app -- test -x "$as_app_bin"; then
	as_app_bin=$STACK_DIR/stockade-as-app
	install -m 0755 "$STOCKADE_BIN" "$as_app_bin"
fi
err=$(runuser -u stockade-app -- "$as_app_bin" serve -c "$STACK_DIR/other.conf" 2>&1)
is "$?" 1 "started as stockade-app with user = www-data: exits 1"
like "$err" 'user = www-data: only root can switch to it' "... saying only root can switch users"
[ ! -e "$STACK_DIR/other.sock" ]
ok $? "... before binding anything"

sed -i -e '/^user = /d' "$STACK_DIR/other.conf"
: >"$STACK_DIR/other.log"
"$STOCKADE_BIN" serve -c "$STACK_DIR/other.conf" >"$STACK_DIR/other.log" 2>&1 &
other=$!
wait_for_line 10 "$STACK_DIR/other.log" 'listening on'
grep -q "warn \[$other\] master: running as root without \`user\`" "$STACK_DIR/other.log"
ok $? "started as root without user: a warning"
is "$(ids "$(pgrep -P "$other" | head -n 1)")" "0 0" "... and the workers do run as root"
kill -TERM "$other"
wait "$other"
is "$?" 0 "... and it stops cleanly"

stack_stop
ok $? "stack_stop succeeded"
is "$(stack_leftovers)" "" "no process from $STACK_DIR is left"

done_testing
