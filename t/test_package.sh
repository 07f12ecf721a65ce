#!/usr/bin/env bash
# t/test_package.sh: README's "Running it for real", run for real on this
# machine (CI runs it as root): build the Debian package with
# dpkg-buildpackage from `make distdir`, check it with lintian (no error),
# install it with dpkg, check what postinst made (the user, stockade.conf
# and its secret, 0640 root:stockade, /run/stockade, no service enabled),
# create the PostgreSQL role and database with the documented commands (in
# a throwaway cluster, as t/lib/stack.sh starts one), run `stockade migrate`
# and `stockade serve` as the unit's ExecStart runs it (systemd is not PID 1
# here: the ExecStart line of the installed unit, under setpriv with the
# unit's User, Group and SupplementaryGroups), with the installed
# stockade.conf pointed at the throwaway servers; answer through nginx with
# the installed example site: /readyz, a product and an order with tokens
# from `stockade token`, `stockade audit`; check the sd_notify notices
# (READY, RELOADING on SIGHUP, STOPPING) the unit's Type=notify waits for;
# stop with the unit's KillSignal; then remove (the configuration stays)
# and purge (nothing of the package stays).
#
# Exit status follows automake: 0 pass, 1 fail, 77 skip (not root: it
# installs a package), 99 cannot run (a tool is missing, or a package
# stockade is installed already, which this test will not touch).
# Machine-wide: one run at a time (a lock), as dpkg allows.
#
# Environment: STOCKADE_BIN, STOCKADE_SRCDIR, STOCKADE_BUILDDIR.

. "$(dirname "$0")/lib/preamble.sh"
set -uo pipefail

[ "$(id -u)" -eq 0 ] || { echo "skipped: installs a package, needs root" >&2; exit 77; }
for tool in dpkg-buildpackage dh lintian setpriv nginx python3; do
	command -v "$tool" >/dev/null || { echo "$tool is missing (scripts/install-deps)" >&2; exit 99; }
done
: "${STOCKADE_BUILDDIR:=$STOCKADE_SRCDIR}"
[ -f "$STOCKADE_BUILDDIR/Makefile" ] || { echo "not configured: $STOCKADE_BUILDDIR" >&2; exit 99; }

exec 8>>/run/lock/stockade-test-package.lock
flock 8 || exit 99
if dpkg-query -W -f='${db:Status-Abbrev}' stockade 2>/dev/null | grep -q '^[ih]'; then
	echo "a package stockade is installed already: not touching it" >&2
	exit 99
fi
if [ -e /etc/stockade ]; then
	echo "/etc/stockade exists and is no package's: not touching it" >&2
	exit 99
fi

UNIT=/lib/systemd/system/stockade.service
CONF=/etc/stockade/stockade.conf
INSTALLED=0
NOTIFY_PID=

cleanup() {
	local rc=$?
	[ -z "$NOTIFY_PID" ] || kill "$NOTIFY_PID" 2>/dev/null
	stack_cleanup || rc=1
	[ "$INSTALLED" = 0 ] || dpkg --purge stockade >/dev/null 2>&1 || rc=1
	[ -z "${BUILD:-}" ] || rm -rf "$BUILD"
	exit "$rc"
}
trap cleanup EXIT

# as_stockade CMD...: CMD as the unit runs ExecStart: User=stockade,
# Group=stockade, SupplementaryGroups=www-data, NoNewPrivileges, no
# capabilities.
as_stockade() {
	setpriv --reuid=stockade --regid=stockade --groups=www-data \
		--inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
}

# --- build and lint ------------------------------------------------------------

BUILD=$(mktemp -d /tmp/stockade-deb.XXXXXX) || exit 99
version=$(sed -n 's/^VERSION = //p' "$STOCKADE_BUILDDIR/Makefile")
make -s -C "$STOCKADE_BUILDDIR" distdir distdir="$BUILD/stockade-$version" >"$BUILD/dist.log" 2>&1
ok $? "make distdir"
# Unit tests ran in make check already: nocheck.
(cd "$BUILD/stockade-$version" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
	dpkg-buildpackage -us -uc -b >"$BUILD/build.log" 2>&1)
rc=$?
ok "$rc" "dpkg-buildpackage -us -uc -b"
[ "$rc" = 0 ] || { tail -n 40 "$BUILD/build.log" | sed 's/^/# /'; exit 1; }
deb=$(ls "$BUILD"/stockade_"$version"_*.deb)
diag "$(dpkg -c "$deb" | awk '{ print $1, $6 }')"

lint=$(lintian --fail-on error "$BUILD"/stockade_"$version"_*.changes 2>&1)
ok $? "lintian reports no error"
diag "lintian: ${lint:-(nothing)}"

# --- install -------------------------------------------------------------------

dpkg -i "$deb" >"$BUILD/install.log" 2>&1
rc=$?
ok "$rc" "dpkg -i $(basename "$deb")"
[ "$rc" = 0 ] || { sed 's/^/# /' "$BUILD/install.log"; exit 1; }
INSTALLED=1
id -u stockade >/dev/null 2>&1
ok $? "the user stockade exists"
is "$(stat -c '%a %U %G' "$CONF")" "640 root stockade" "stockade.conf is 0640 root:stockade"
is "$(stat -c '%a %U %G' /etc/stockade/secret)" "640 root stockade" "the secret is 0640 root:stockade"
is "$(base64 -d /etc/stockade/secret | wc -c)" 32 "the secret holds 32 random bytes"
is "$(grep -v '^#' "$CONF" | grep -v '^$')" "socket_group = www-data
auth_secret_file = \"/etc/stockade/secret\"" "stockade.conf is the sample with socket_group and auth_secret_file set"
is "$(stat -c '%U %G' /run/stockade)" "stockade stockade" "/run/stockade belongs to stockade (tmpfiles.d)"
[ ! -e /etc/systemd/system/multi-user.target.wants/stockade.service ]
ok $? "the service is not enabled"
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify "$UNIT" 2>&1)
	ok $? "systemd-analyze verify $UNIT"
	[ -z "$out" ] || diag "$out"
fi

# --- the database, as README says ------------------------------------------------

# PostgreSQL and Redis of our own; stack.sh's database and role are dropped
# so that README's commands create them.  STACK_RUN_USER: Redis's socket
# in group stockade.
export STACK_RUN_USER=stockade
stack_init || exit 99
stack_start_postgres && stack_start_redis || exit 99
_stack_psql_as postgres postgres 'DROP DATABASE stockade' &&
	_stack_psql_as postgres postgres 'DROP ROLE stockade' || exit 99
# README: runuser -u postgres -- createuser stockade (and createdb): here
# the cluster's superuser is the role postgres of the OS user stack.sh
# runs it as, on the socket in $STACK_DIR.
pg() { _stack_as_pg env PGHOST="$STACK_DIR/pg-run" PGUSER=postgres "$STACK_PG_BIN/$1" "${@:2}"; }
pg createuser stockade
ok $? "createuser stockade"
pg createdb --owner=stockade stockade
ok $? "createdb --owner=stockade stockade"

# README: edit database_url and redis_url when the servers are not on
# this machine's defaults.
sed -i -e "s|^#database_url = .*|database_url = \"host=$STACK_DIR/pg-run dbname=stockade\"|" \
	-e "s|^#redis_url = .*|redis_url = \"unix:$STACK_DIR/redis.sock\"|" \
	-e "s|^#workers = .*|workers = 2|" "$CONF"
out=$(runuser -u stockade -- stockade config-check 2>&1 >/dev/null)
ok $? "runuser -u stockade -- stockade config-check"
[ -z "$out" ] || diag "$out"
out=$(runuser -u stockade -- stockade migrate 2>&1)
ok $? "runuser -u stockade -- stockade migrate"
[ -z "$out" ] || diag "$out"

# --- serve as ExecStart, with sd_notify ---------------------------------------------

exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
is "$exec_start" "/usr/sbin/stockade serve -c $CONF" "the unit's ExecStart"
python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n"); f.flush()
' "$STACK_DIR/notify.sock" "$STACK_DIR/notices" &
NOTIFY_PID=$!
_stack_wait_for 10 test -S "$STACK_DIR/notify.sock"
# shellcheck disable=SC2086 # the ExecStart line, split as systemd does
NOTIFY_SOCKET=$STACK_DIR/notify.sock _stack_spawn stockade "$STACK_DIR/stockade.log" \
	setpriv --reuid=stockade --regid=stockade --groups=www-data \
	--inh-caps=-all --bounding-set=-all --no-new-privs -- $exec_start
PID=$(stack_pid stockade)
notices() { cat "$STACK_DIR/notices" 2>/dev/null; }
_stack_wait_for 30 grep -qx 'READY=1' "$STACK_DIR/notices"
ok $? "serve tells systemd READY=1"
is "$(stat -c '%a %U %G' /run/stockade/stockade.sock 2>&1)" "660 stockade www-data" \
	"the socket is /run/stockade/stockade.sock, 0660, group www-data"

# nginx with the installed example site, listening on our port instead of
# 8080 and logging into $STACK_DIR: the only lines changed.
site=/usr/share/stockade/nginx/example-site.conf
sed -e "s|^\tlisten 8080;|\tlisten 127.0.0.1:$STACK_HTTP_PORT;|" \
	-e "s|/var/log/nginx/|$STACK_DIR/|" "$site" >"$STACK_DIR/site.conf"
mkdir -p "$STACK_DIR/nginx-tmp"
cat >"$STACK_DIR/nginx.conf" <<NGINX
daemon off;
user www-data www-data;
worker_processes 1;
pid $STACK_DIR/nginx.pid;
error_log $STACK_DIR/nginx-error.log notice;
events { worker_connections 64; }
http {
	client_body_temp_path $STACK_DIR/nginx-tmp/body;
	fastcgi_temp_path $STACK_DIR/nginx-tmp/fastcgi;
	proxy_temp_path $STACK_DIR/nginx-tmp/proxy;
	scgi_temp_path $STACK_DIR/nginx-tmp/scgi;
	uwsgi_temp_path $STACK_DIR/nginx-tmp/uwsgi;
	include $STACK_DIR/site.conf;
}
NGINX
_stack_spawn nginx "$STACK_DIR/nginx-error.log" nginx -p "$STACK_DIR/" \
	-e "$STACK_DIR/nginx-error.log" -c "$STACK_DIR/nginx.conf"
_stack_wait_for 30 _stack_healthy
http GET /readyz
is "$HTTP_STATUS" 200 "GET /readyz through nginx and the example site: 200"
[ "$HTTP_STATUS" = 200 ] || diag "$HTTP_BODY" "$(tail -n 20 "$STACK_DIR/stockade.log" "$STACK_DIR/nginx-error.log")"

ADMIN=$(runuser -u stockade -- stockade token --user 1 --role admin)
ok $? "runuser -u stockade -- stockade token --user 1 --role admin"
USER2=$(runuser -u stockade -- stockade token --user 2)
option=$(create_product "$ADMIN" "Lamp" 5)
ok $? "an admin creates a product"
order=$(new_order "$USER2" "$option" 2)
ok $? "a user orders 2 of it: order $order"
http GET "/api/v1/orders/$order" "" "$USER2"
is "$HTTP_STATUS $(jq -r .status <<<"$HTTP_BODY")" "200 pending" "the order reads back pending"
out=$(runuser -u stockade -- stockade audit 2>&1)
ok $? "runuser -u stockade -- stockade audit: every invariant holds"
[ -z "$out" ] || diag "$out"

# The unit's ExecReload, then KillSignal.
kill -HUP "$PID"
_stack_wait_for 30 eval '[ "$(grep -c . "$STACK_DIR/notices")" -ge 3 ]'
is "$(notices | tail -n 2 | tr '\n' ' ')" "RELOADING=1 READY=1 " "SIGHUP: RELOADING=1, then READY=1"
kill -QUIT "$PID"
wait "$PID"
ok $? "SIGQUIT (the unit's KillSignal): the master exits 0"
rm -f "$STACK_DIR/stockade.pid"
is "$(notices | tail -n 1)" "STOPPING=1" "the stop says STOPPING=1"
[ ! -e /run/stockade/stockade.sock ]
ok $? "the graceful stop removed the socket"
stack_stop_nginx
grep -q 'readable by group' "$STACK_DIR/stockade.log"
ok $((!$?)) "no warning about the secret's mode 0640: its group is the daemon's"

# --- remove, purge ------------------------------------------------------------------

files=$(dpkg -L stockade | while read -r f; do [ -d "$f" ] || echo "$f"; done)
dpkg --remove stockade >"$BUILD/remove.log" 2>&1
ok $? "dpkg --remove stockade"
[ ! -e /usr/sbin/stockade ] && [ -f "$CONF" ] && [ -f /etc/stockade/secret ]
ok $? "remove: the binary is gone, stockade.conf and the secret stay"
dpkg --purge stockade >"$BUILD/purge.log" 2>&1
ok $? "dpkg --purge stockade"
INSTALLED=0
left=$(for f in $files /etc/stockade /run/stockade /var/log/stockade; do [ ! -e "$f" ] || echo "$f"; done)
is "$left" "" "purge: nothing of the package is left"
is "$(dpkg-query -W -f='${db:Status-Abbrev}' stockade 2>/dev/null)" "" "purge: dpkg has forgotten stockade"
id -u stockade >/dev/null 2>&1
ok $? "purge leaves the system user stockade, as Debian does"

done_testing
