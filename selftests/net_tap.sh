#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The tap backend (root): uvirtio-net's interface in a namespace, the tap
# in the initial one. Ping both ways, then 32 MiB over TCP each way with
# the SHA-256 checked: with the virtio-net header and TSO/checksum
# offloads passed through the tap.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

uv_need uvirtio-net unshare nsenter ip ping busybox sha256sum
uv_tmpdir
[ -c /dev/net/tun ] || uv_skip "/dev/net/tun is missing (no tun module)"

net_start root tap:uvtap0 || uv_fail "emulator did not start"
pid=$NET_PID ifn=$NET_IF err=$NET_ERR
ip netns add uvtap || uv_fail "cannot create a namespace"
uv_defer "ip netns del uvtap"
ip link set "$ifn" netns uvtap || uv_fail "cannot move $ifn"
ip addr add 10.80.0.1/24 dev uvtap0 && ip link set uvtap0 up || uv_fail "cannot set uvtap0 up"
ip -n uvtap addr add 10.80.0.2/24 dev "$ifn" && ip -n uvtap link set "$ifn" up ||
	uv_fail "cannot set $ifn up"
for _ in $(seq 50); do
	ping -c 1 -W 1 10.80.0.2 > /dev/null 2>&1 && break
	sleep 0.1
done
ping -c 3 -W 5 10.80.0.2 > "$UV_TMP/ping" 2>&1 || { cat "$UV_TMP/ping"; uv_fail "cannot ping $ifn from the tap side"; }
ip netns exec uvtap ping -c 3 -W 5 10.80.0.1 > "$UV_TMP/ping" 2>&1 ||
	{ cat "$UV_TMP/ping"; uv_fail "cannot ping the tap from $ifn"; }
uv_log "ping both ways over tap: ok"

dd if=/dev/urandom of="$UV_TMP/send" bs=1M count=32 status=none
want=$(uv_sha256 "$UV_TMP/send")
# namespace -> tap side
busybox nc -l -p 5005 > "$UV_TMP/recv1" &
srv=$!
sleep 0.5
ip netns exec uvtap bash -c "cat '$UV_TMP/send' > /dev/tcp/10.80.0.1/5005" || uv_fail "send to the tap side failed"
uv_wait_exit $srv $((30 * NET_SLOW)) || uv_fail "receiver on the tap side did not finish"
[ "$(uv_sha256 "$UV_TMP/recv1")" = "$want" ] || uv_fail "data to the tap side differs"
# tap side -> namespace
ip netns exec uvtap busybox nc -l -p 5006 > "$UV_TMP/recv2" &
srv=$!
sleep 0.5
bash -c "cat '$UV_TMP/send' > /dev/tcp/10.80.0.2/5006" || uv_fail "send to $ifn failed"
uv_wait_exit $srv $((30 * NET_SLOW)) || uv_fail "receiver in the namespace did not finish"
[ "$(uv_sha256 "$UV_TMP/recv2")" = "$want" ] || uv_fail "data to $ifn differs"
uv_log "32 MiB each way, SHA-256 matches"

kill -USR2 "$pid"
sleep 0.3
tx=$(net_stat "$err" tx packets) txb=$(net_stat "$err" tx bytes)
uv_log "emulator: tx $tx frames, $txb bytes (average $((txb / (tx ? tx : 1)))), rx $(net_stat "$err" rx packets) frames"
net_stop "$pid" "$err" || uv_fail "emulator did not stop cleanly"
ip link show uvtap0 > /dev/null 2>&1 && uv_fail "uvtap0 outlives the emulator"
uv_pass
