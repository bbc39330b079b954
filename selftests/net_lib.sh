# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Helpers of the uvirtio-net selftests (sourced after lib.sh).

# Waits scale with the kernel: a KASAN/lockdep kernel (the debug lane) is
# about 5x slower. The requirements themselves (an interface gone within
# 5 s of SIGKILL) do not scale.
NET_SLOW=1
grep -qw kasan_report /proc/kallsyms 2>/dev/null && NET_SLOW=5

# net_start MODE ARG... - start uvirtio-net ARG... in the background and
# wait for its interface name (NET_PROG, if set, runs instead of
# uvirtio-net: another program that prints an interface name last). MODE is "root" (as root, in the initial
# namespaces), "userns" (as uid 1000 inside a new user+net namespace, made
# by unshare -U -r -n) or "user" (as uid 1000, no new namespace: the
# emulator's own --unshare may make one). Sets NET_PID, NET_IF, NET_OUT,
# NET_ERR. The interface is made to live in the emulator's network
# namespace (see net_claim). Returns 1 with the emulator's stderr shown if
# no name comes within UV_START_TIMEOUT seconds.
net_start() {
	local mode=$1 end last prog=${NET_PROG:-uvirtio-net}
	shift
	[ -n "${UV_TMP:-}" ] || uv_tmpdir
	NET_OUT=$(mktemp "$UV_TMP/net.out.XXXXXX")
	NET_ERR=$(mktemp "$UV_TMP/net.err.XXXXXX")
	chmod 0666 "$NET_OUT" "$NET_ERR"
	NET_IF=
	# exec all the way down, so that $! is the emulator itself
	(
		case $mode in
		root) exec "$prog" "$@" ;;
		userns) exec env HOME=/tmp USER=user LOGNAME=user \
			setpriv --reuid=$UV_USER_UID --regid=$UV_USER_UID \
			--clear-groups -- unshare -U -r -n -- "$prog" "$@" ;;
		user) exec env HOME=/tmp USER=user LOGNAME=user \
			setpriv --reuid=$UV_USER_UID --regid=$UV_USER_UID \
			--clear-groups -- "$prog" "$@" ;;
		esac
	) > "$NET_OUT" 2> "$NET_ERR" < /dev/null &
	NET_PID=$!
	UV_EMULATORS+=("$NET_PID")
	end=$((SECONDS + UV_START_TIMEOUT))
	while [ $SECONDS -lt $end ]; do
		last=$(tail -n 1 "$NET_OUT")
		if [ -n "$last" ]; then
			NET_IF=$last
			[ "$mode" = root ] && return 0
			net_claim "$NET_PID" "$NET_IF"
			return
		fi
		if ! uv_proc_alive "$NET_PID"; then
			wait "$NET_PID"
			echo "$prog $* exited with $? before naming its interface; stderr:"
			sed 's/^/  /' "$NET_ERR"
			return 1
		fi
		sleep 0.1
	done
	echo "$prog $* named no interface within $UV_START_TIMEOUT s; stderr:"
	sed 's/^/  /' "$NET_OUT" "$NET_ERR"
	return 1
}

# net_claim PID IF - make sure IF is in PID's network namespace. The module
# puts a net device in its creator's namespace; a module without that
# leaves it in the initial one, and then root moves it there (logged).
net_claim() {
	local pid=$1 ifn=$2
	nsenter -t "$pid" -n ip link show "$ifn" > /dev/null 2>&1 && return 0
	uv_log "note: $ifn is in the initial namespace (module without netns placement): moving it"
	ip link set "$ifn" netns "$pid" || { echo "cannot move $ifn into pid $pid's namespace"; return 1; }
	nsenter -t "$pid" -n ip link show "$ifn" > /dev/null 2>&1
}

# net_in PID CMD... - run CMD in PID's network namespace (as root)
net_in() {
	local pid=$1
	shift
	nsenter -t "$pid" -n "$@"
}

# channels PID IF WHICH - "max" or "cur" combined channels of IF, in
# PID's network namespace, from ethtool -l
channels() {
	net_in "$1" ethtool -l "$2" 2>&1 | awk -v w="$3" '
		/^Pre-set/ { s = "max" } /^Current/ { s = "cur" }
		/^Combined:/ && s == w { print $2 }'
}

# net_all_channels PID IF N - IF (in PID's network namespace) must offer N
# combined channels and use all N after ethtool -L; fails the test otherwise
net_all_channels() {
	local got
	got=$(channels "$1" "$2" max)
	[ "$got" = "$3" ] || { net_in "$1" ethtool -l "$2"; uv_fail "$2 offers '$got' combined channels, not $3"; }
	net_in "$1" ethtool -L "$2" combined "$3" || uv_fail "ethtool -L $2 combined $3 failed"
	got=$(channels "$1" "$2" cur)
	[ "$got" = "$3" ] || uv_fail "$2 uses '$got' combined channels after ethtool -L $3"
}

# net_sysfs PID SCRIPT [ARG...] - run the sh SCRIPT (ARGs as its $1...)
# where /sys shows PID's network namespace: sysfs shows the namespace of
# whoever mounted it, so it is mounted afresh in a private mount namespace
# (in our own namespace that mount is refused, and /sys already shows it)
net_sysfs() {
	local pid=$1 script=$2
	shift 2
	if [ "$(readlink "/proc/$pid/ns/net")" = "$(readlink /proc/self/ns/net)" ]; then
		sh -c "$script" sh "$@"
		return
	fi
	net_in "$pid" unshare -m sh -c "mount -t sysfs sysfs /sys || exit 1
$script" sh "$@"
}

# net_xps PID IF [MASK...] - without MASK, print the XPS CPU mask of each
# of IF's transmit queues (in PID's network namespace), in queue order; with
# one MASK, set every queue's to it; with one per queue (as printed), set
# each. virtio_net maps each CPU to its own transmit queues, so parallel
# flows from one CPU share few queues; 0 clears the map, and the driver
# then picks each flow's queue by its random flow hash alone.
net_xps() {
	local pid=$1
	shift
	net_sysfs "$pid" '
		ifc=$1; shift
		n=$(ls -d /sys/class/net/$ifc/queues/tx-* | wc -l)
		[ $# = 0 ] || [ $# = 1 ] || [ $# = "$n" ] ||
			{ echo "net_xps: $# masks for $n queues" >&2; exit 1; }
		q=0
		while [ $q -lt "$n" ]; do
			f=/sys/class/net/$ifc/queues/tx-$q/xps_cpus
			if [ $# = 0 ]; then
				cat "$f" || exit 1
			else
				echo "$1" > "$f" || exit 1
				[ $# = 1 ] || shift
			fi
			q=$((q + 1))
		done' "$@"
}

# net_stop PID ERRFILE - SIGTERM an emulator, check it exits 0 in time
net_stop() {
	local pid=$1 err=$2 rc
	kill -TERM "$pid" 2>/dev/null
	uv_wait_exit "$pid" "$UV_STOP_TIMEOUT"
	rc=$?
	if [ $rc != 0 ]; then
		echo "${NET_PROG:-uvirtio-net} (pid $pid) exit status $rc after SIGTERM (255: still runs); stderr:"
		sed 's/^/  /' "$err"
		kill -KILL "$pid" 2>/dev/null
		return 1
	fi
	return 0
}

# net_stat ERRFILE QUEUE FIELD - a counter from the emulator's last "stats"
# line for QUEUE (rx, tx) in ERRFILE (printed on SIGUSR2 and at exit)
net_stat() {
	grep "stats $2 " "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$3=//p"
}

# net_carrier PID IF - IF's /sys/class/net/IF/carrier as PID's network
# namespace sees it
net_carrier() {
	net_sysfs "$1" 'cat "/sys/class/net/$1/carrier"' "$2" 2>/dev/null
}

# net_wait_carrier PID IF VALUE SECS - wait until IF's carrier reads VALUE
net_wait_carrier() {
	local pid=$1 ifn=$2 want=$3 end=$((SECONDS + $4 * NET_SLOW)) v
	while :; do
		v=$(net_carrier "$pid" "$ifn")
		[ "$v" = "$want" ] && return 0
		[ $SECONDS -lt $end ] || { echo "carrier of $ifn is '$v', not $want, after $(($4 * NET_SLOW)) s"; return 1; }
		sleep 0.1
	done
}

# net_pair [OPTION]... - two emulators, A and B, each as uid 1000 in its own
# user+net namespace with OPTION..., cabled by dgram sockets in
# $UV_TMP/sock; A is 10.78.0.1/24, B 10.78.0.2/24, both up, A's carrier
# up and B answers a ping from A. Sets pa ia ea and pb ib eb (pid,
# interface, stderr file of A and B). Fails the test otherwise.
# NET_PAIR_MODE=user: the emulators make their namespaces themselves (pass
# --unshare), see net_start.
net_pair() {
	local sa=$UV_TMP/sock/a sb=$UV_TMP/sock/b
	mkdir -p -m 1777 "$UV_TMP/sock"
	net_start "${NET_PAIR_MODE:-userns}" "$@" "dgram:$sa,$sb" || uv_fail "emulator A did not start"
	pa=$NET_PID ia=$NET_IF ea=$NET_ERR
	net_start "${NET_PAIR_MODE:-userns}" "$@" "dgram:$sb,$sa" || uv_fail "emulator B did not start"
	pb=$NET_PID ib=$NET_IF eb=$NET_ERR
	net_in "$pa" ip addr add 10.78.0.1/24 dev "$ia" && net_in "$pa" ip link set "$ia" up ||
		uv_fail "cannot set $ia up"
	net_in "$pb" ip addr add 10.78.0.2/24 dev "$ib" && net_in "$pb" ip link set "$ib" up ||
		uv_fail "cannot set $ib up"
	net_wait_carrier "$pa" "$ia" 1 10 || uv_fail "A's carrier did not come up"
	net_in "$pa" ping -c 3 -W 5 10.78.0.2 > "$UV_TMP/ping" 2>&1 ||
		{ cat "$UV_TMP/ping"; uv_fail "A cannot ping B"; }
}

# net_mac_batch PID IF N FILE - write to FILE an `ip -batch` of N MAC
# address changes of IF (each one MAC_ADDR_SET command of its driver), the
# last back to IF's own address, so that neighbours' entries stay right
net_mac_batch() {
	local mac i
	mac=$(net_in "$1" ip -o link show "$2" | sed -n "s/.*link\/ether \([0-9a-f:]*\).*/\1/p")
	[ -n "$mac" ] || uv_fail "cannot read $2's MAC address"
	for i in $(seq $(($3 - 1))); do
		printf 'link set dev %s address 02:00:00:00:%02x:%02x\n' "$2" $((i / 256)) $((i % 256))
	done > "$4"
	echo "link set dev $2 address $mac" >> "$4"
}
