#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The stream backend against passt listening on a UNIX socket (QEMU's
# framing): data reaches a server in the VM's initial namespace (SHA-256
# checked); when passt dies the link goes down (carrier 0), and when a new
# passt listens on the same path uvirtio-net reconnects by itself: carrier
# 1 and data flow again. uvirtio-net runs as uid 1000 in a user+net
# namespace, passt as uid 1000 in the initial one.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

uv_need uvirtio-net passt setpriv unshare nsenter ip busybox sha256sum
uv_tmpdir
mkdir -m 1777 "$UV_TMP/sock"
sock=$UV_TMP/sock/passt

ip link show dummy0 > /dev/null 2>&1 || ip link add dummy0 type dummy ||
	uv_fail "cannot create the template interface dummy0"
ip addr add 10.0.2.15/24 dev dummy0 || uv_fail "cannot address dummy0"
uv_defer "ip addr del 10.0.2.15/24 dev dummy0"
ip link set dummy0 up
ip link set lo up
ip route add default via 10.0.2.2 dev dummy0 || uv_fail "cannot add the default route"
uv_defer "ip route del default via 10.0.2.2 dev dummy0"

passt_pid=
uv_defer '[ -z "$passt_pid" ] || kill $passt_pid'
# passt_start - passt as uid 1000, listening on $sock
passt_start() {
	rm -f "$sock"
	# exec down to passt, so that $! is passt itself
	( exec env HOME=/tmp USER=user LOGNAME=user setpriv --reuid=$UV_USER_UID \
		--regid=$UV_USER_UID --clear-groups -- passt -f -q -1 -s "$sock" ) \
		> "$UV_TMP/passt.log" 2>&1 &
	passt_pid=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && return 0
		sleep 0.1
	done
	cat "$UV_TMP/passt.log"
	uv_fail "passt did not listen on $sock"
}

# send_check PORT - 4 MiB from the namespace to a server on PORT, checked
send_check() {
	dd if=/dev/urandom of="$UV_TMP/send" bs=1M count=4 status=none
	busybox nc -l -p "$1" > "$UV_TMP/recv" &
	local srv=$!
	sleep 0.5
	net_in "$pid" bash -c "cat '$UV_TMP/send' > /dev/tcp/10.0.2.2/$1" ||
		{ kill $srv; uv_fail "cannot send to 10.0.2.2:$1 over the stream backend"; }
	uv_wait_exit $srv $((30 * NET_SLOW)) || { kill $srv; uv_fail "server on port $1 did not finish"; }
	[ "$(uv_sha256 "$UV_TMP/send")" = "$(uv_sha256 "$UV_TMP/recv")" ] ||
		uv_fail "data through port $1 differs (SHA-256)"
}

passt_start
net_start userns "stream:$sock" || uv_fail "emulator did not start"
pid=$NET_PID ifn=$NET_IF err=$NET_ERR
net_in "$pid" ip link set lo up
net_in "$pid" ip addr add 10.0.2.15/24 dev "$ifn" || uv_fail "cannot address $ifn"
net_in "$pid" ip link set "$ifn" up || uv_fail "cannot set $ifn up"
net_in "$pid" ip route add default via 10.0.2.2 || uv_fail "cannot add a default route"
net_wait_carrier "$pid" "$ifn" 1 10 || uv_fail "link did not come up"
send_check 5003
uv_log "stream: 4 MiB to the initial namespace, SHA-256 matches"

kill -KILL "$passt_pid"
wait "$passt_pid" 2> /dev/null
passt_pid=
net_wait_carrier "$pid" "$ifn" 0 5 || uv_fail "passt killed: carrier stays 1"
uv_log "passt killed: carrier 0"

passt_start
net_wait_carrier "$pid" "$ifn" 1 10 || uv_fail "passt back: no reconnection (carrier 0)"
send_check 5004
uv_log "passt back: reconnected, carrier 1, data flows again"
grep -q "connected" "$err" || uv_fail "the emulator did not log the reconnection"
net_stop "$pid" "$err" || uv_fail "emulator did not stop cleanly"
uv_pass
