#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The tap backend (root): uvirtio-net's interface in a namespace, the tap
# in the initial one. Ping both ways, then 32 MiB over TCP each way with
# the SHA-256 checked: with the virtio-net header and TSO/checksum
# offloads passed through the tap. Then --queues 2: an IFF_MULTI_QUEUE tap
# with one queue per pair, 2 parallel transfers each way, checked.
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

net_start root --queues 2 tap:uvtap1 || uv_fail "emulator with --queues 2 did not start"
pid=$NET_PID ifn=$NET_IF err=$NET_ERR
ip -d link show uvtap1 | grep -q multi_queue || { ip -d link show uvtap1; uv_fail "uvtap1 is not a multiqueue tap"; }
ip link set "$ifn" netns uvtap || uv_fail "cannot move $ifn"
ip netns exec uvtap ethtool -L "$ifn" combined 2 || uv_fail "ethtool -L $ifn combined 2 failed"
ip addr add 10.81.0.1/24 dev uvtap1 && ip link set uvtap1 up || uv_fail "cannot set uvtap1 up"
ip -n uvtap addr add 10.81.0.2/24 dev "$ifn" && ip -n uvtap link set "$ifn" up ||
	uv_fail "cannot set $ifn up"
for _ in $(seq 50); do
	ping -c 1 -W 1 10.81.0.2 > /dev/null 2>&1 && break
	sleep 0.1
done
srvs=()
for i in 0 1; do
	busybox nc -l -p $((5010 + i)) > "$UV_TMP/mq1.$i" &
	srvs+=($!)
	ip netns exec uvtap busybox nc -l -p $((5020 + i)) > "$UV_TMP/mq2.$i" &
	srvs+=($!)
done
sleep 0.5
for i in 0 1; do
	ip netns exec uvtap bash -c "cat '$UV_TMP/send' > /dev/tcp/10.81.0.1/$((5010 + i))" &
	bash -c "cat '$UV_TMP/send' > /dev/tcp/10.81.0.2/$((5020 + i))" &
done
for s in "${srvs[@]}"; do
	uv_wait_exit "$s" $((30 * NET_SLOW)) || uv_fail "--queues 2: a receiver did not finish within 30 s"
done
for f in "$UV_TMP"/mq1.0 "$UV_TMP"/mq1.1 "$UV_TMP"/mq2.0 "$UV_TMP"/mq2.1; do
	[ "$(uv_sha256 "$f")" = "$want" ] || uv_fail "--queues 2: $(basename "$f") differs"
done
kill -USR2 "$pid"
sleep 0.3
uv_log "--queues 2: 2 x 32 MiB each way, SHA-256 matches; frames tx0 $(net_stat "$err" tx0 packets) tx1 $(net_stat "$err" tx1 packets) rx0 $(net_stat "$err" rx0 packets) rx1 $(net_stat "$err" rx1 packets)"
net_stop "$pid" "$err" || uv_fail "emulator with --queues 2 did not stop cleanly"
ip link show uvtap1 > /dev/null 2>&1 && uv_fail "uvtap1 outlives the emulator"
uv_pass
