# shellcheck shell=bash
#
# t/lib/netns.sh: hosts for the multi-host tests (t/test_scaleout.sh), made
# of Linux network namespaces: each host is a namespace with one interface,
# eth0, on a private test-range subnet (198.18.0.0/24, RFC 2544's
# benchmarking range), wired to a bridge that lives in a namespace of its
# own.  Nothing is added to the caller's namespace: the bridge, the
# addresses and the routes exist only inside the namespaces, so tests run
# at once (make -j check) each have their own network, and the machine's
# network is never touched.
#
#     . t/lib/netns.sh
#     netns_init || exit 77              # needs root and a kernel that lets us
#     trap 'stop_everything; netns_cleanup' EXIT
#     netns_host app1 198.18.0.11
#     netns_exec app1 stockade serve -c app1.conf &
#     netns_link app1 down               # the host's cable pulled
#
# Unix sockets are files, not network objects: a test in the caller's
# namespace can still reach a server's unix socket in a host namespace
# (psql on PostgreSQL's socket directory, redis-cli on Redis's), while the
# servers reach one another only over TCP on the test subnet.
#
# Namespace names are NETNS_PREFIX (stk<pid of the test>-) plus the host's
# name, and each one created is recorded in NETNS_LIST, so that
# netns_cleanup deletes exactly those.  Deleting a namespace deletes its
# interfaces; processes still inside would keep it alive, so stop them (by
# PID) first.

NETNS_SUBNET_BITS=24

# netns_init: creates the switch namespace and its bridge.  Returns 1, with
# why on stderr, when namespaces cannot be made here (not root, no
# CAP_SYS_ADMIN, no bridge support): the caller skips.
netns_init() {
	NETNS_PREFIX="stk$$-"
	NETNS_LIST=()
	if ! command -v ip >/dev/null; then
		echo "netns: ip (iproute2) is missing" >&2
		return 1
	fi
	ip netns add "${NETNS_PREFIX}sw" || return 1
	NETNS_LIST+=("${NETNS_PREFIX}sw")
	ip -n "${NETNS_PREFIX}sw" link add br0 type bridge &&
		ip -n "${NETNS_PREFIX}sw" link set br0 up &&
		ip -n "${NETNS_PREFIX}sw" link set lo up
}

# netns_host NAME ADDR: a new host NAME whose eth0 has ADDR/24 and is
# plugged into the bridge (the switch's port is named NAME too).  Its
# loopback is up as well.
netns_host() {
	local ns="$NETNS_PREFIX$1" sw="${NETNS_PREFIX}sw"
	ip netns add "$ns" || return 1
	NETNS_LIST+=("$ns")
	# Both ends are created straight inside their namespaces: no name
	# ever appears in the caller's namespace, where it could clash.
	ip link add eth0 netns "$ns" type veth peer name "$1" netns "$sw" &&
		ip -n "$sw" link set "$1" master br0 &&
		ip -n "$sw" link set "$1" up &&
		ip -n "$ns" addr add "$2/$NETNS_SUBNET_BITS" dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" link set lo up
}

# netns_exec NAME CMD...: runs CMD on host NAME.  `ip netns exec` execs CMD
# in place, so `netns_exec NAME CMD &` leaves CMD's own PID in $!.
netns_exec() {
	local ns="$NETNS_PREFIX$1"
	shift
	ip netns exec "$ns" "$@"
}

# netns_link NAME up|down: plugs host NAME's cable in or pulls it out.
netns_link() {
	ip -n "$NETNS_PREFIX$1" link set eth0 "$2"
}

# netns_cleanup: deletes every namespace netns_init and netns_host made.
# Safe to call twice, and after a partial set-up.
netns_cleanup() {
	local ns
	for ns in "${NETNS_LIST[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	NETNS_LIST=()
}
