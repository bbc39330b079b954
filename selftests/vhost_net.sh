#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A vhost-user net backend packaged in Debian becomes two host interfaces:
# dpdk-testpmd, as uid 1000, listens on two vhost-user sockets (net_vhost
# ports, io forwarding: what one port receives the other sends); two
# uvirtio-vhost-user --type net front ends, each run by uid 1000 in its own
# user+net namespace, connect to them. Their interfaces, A 10.79.0.1 and
# B 10.79.0.2, ping each other both ways and carry a TCP transfer whose
# SHA-256 must match at both ends. testpmd's own counters must show the
# frames went through it, and the front ends must have stayed idle while
# the data flowed (the backend reads and writes the rings itself).
# VHOST_NET_QUEUES=N (vhost_net_mq.sh: 2) gives both ports and both front
# ends N queue pairs, enables them all (ethtool -L) and splits the data
# into 8N parallel transfers, which must move frames on more than one queue
# pair (testpmd's per-stream counters: io forwarding hands what A sends on
# its pair N to B's pair N).
#
# testpmd starting and listening on both sockets is checked first, so a
# broken DPDK in the guest fails the test even before the front end
# exists; the test skips (4) only if uvirtio-vhost-user is not built.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

Q=${VHOST_NET_QUEUES:-1}
size_mb=${VHOST_NET_MB:-16}
uv_need dpdk-testpmd setpriv unshare nsenter ip ping busybox sha256sum ethtool
uv_tmpdir
vu=$UV_TMP/vu
mkdir -m 0755 "$vu"
chown "$UV_USER_UID:$UV_USER_UID" "$vu"

# testpmd_start - dpdk-testpmd as uid 1000 with two net_vhost ports of Q
# queue pairs on $vu/a.sock and $vu/b.sock, io forwarding between them.
# Under TCG in a 2-vCPU, 2 GiB guest: no hugepages (--no-huge, 128 MiB of
# ordinary memory, 16384 buffers: the default pool wants 330 MiB), no PCI
# scan, no shared runtime files; lcore 0 sleeps, lcore 1 forwards.
# The ports offer checksum offload (the front ends take it) but no TSO
# (the PMD's tso=0 default): frames are MTU-sized. --stats-period keeps testpmd running without a terminal (its
# forwarding otherwise stops at the first end of input). Sets TP_PID.
testpmd_start() {
	local port args=()
	for port in a b; do
		args+=(--vdev "net_vhost_$port,iface=$vu/$port.sock,queues=$Q")
	done
	(
		exec env HOME="$vu" XDG_RUNTIME_DIR="$vu" \
			setpriv --reuid=$UV_USER_UID --regid=$UV_USER_UID --clear-groups -- \
			dpdk-testpmd -l 0-1 --no-huge -m 128 --no-pci --no-shconf "${args[@]}" -- \
			--forward-mode=io --auto-start --total-num-mbufs=16384 \
			--rxq="$Q" --txq="$Q" --no-mlockall --stats-period 3600
	) > "$UV_TMP/testpmd.log" 2>&1 < /dev/null &
	TP_PID=$!
	uv_defer "kill -TERM $TP_PID; uv_wait_exit $TP_PID 10 || kill -KILL $TP_PID"
}

t0=${EPOCHREALTIME/./}
testpmd_start
for _ in $(seq $((100 * NET_SLOW))); do
	[ -S "$vu/a.sock" ] && [ -S "$vu/b.sock" ] && break
	uv_proc_alive "$TP_PID" || break
	sleep 0.1
done
[ -S "$vu/a.sock" ] && [ -S "$vu/b.sock" ] ||
	{ cat "$UV_TMP/testpmd.log"; uv_fail "dpdk-testpmd does not listen on $vu/a.sock and $vu/b.sock"; }
t1=${EPOCHREALTIME/./}
uv_log "dpdk-testpmd (uid $UV_USER_UID, $Q queue pair(s) a port) listens on both sockets after $(( (t1 - t0) / 1000 )) ms"

command -v uvirtio-vhost-user > /dev/null ||
	uv_skip "uvirtio-vhost-user is not built (the backend side works)"

NET_PROG=uvirtio-vhost-user
net_start userns --type net --queues "$Q" "$vu/a.sock" || uv_fail "front end A did not start"
pa=$NET_PID ia=$NET_IF ea=$NET_ERR
net_start userns --type net --queues "$Q" "$vu/b.sock" || uv_fail "front end B did not start"
pb=$NET_PID ib=$NET_IF eb=$NET_ERR
uv_log "A: $ia in pid $pa's namespace, B: $ib in pid $pb's namespace"
uv_log "A's $(grep -o 'features 0x[0-9a-f]*' "$ea" | tail -n 1); offloads: $(net_in "$pa" ethtool -k "$ia" |
	grep -E '^(tx-checksumming|rx-checksumming|tcp-segmentation-offload):' | tr '\n\t' '  ')"

for x in "$pa $ia 10.79.0.1" "$pb $ib 10.79.0.2"; do
	set -- $x
	[ "$Q" = 1 ] || net_all_channels "$1" "$2" "$Q"
	net_in "$1" ip link set lo up
	net_in "$1" ip addr add "$3/24" dev "$2" || uv_fail "cannot address $2"
	net_in "$1" ip link set "$2" up || uv_fail "cannot set $2 up"
done
net_wait_carrier "$pa" "$ia" 1 10 || uv_fail "A's link did not come up"
net_wait_carrier "$pb" "$ib" 1 10 || uv_fail "B's link did not come up"

net_in "$pa" ping -c 3 -W 5 10.79.0.2 > "$UV_TMP/ping" 2>&1 ||
	{ cat "$UV_TMP/ping" "$ea" "$UV_TMP/testpmd.log"; uv_fail "A cannot ping B"; }
net_in "$pb" ping -c 3 -W 5 10.79.0.1 > "$UV_TMP/ping" 2>&1 ||
	{ cat "$UV_TMP/ping"; uv_fail "B cannot ping A"; }
uv_log "ping A->B and B->A through testpmd: ok"

# cpu_ticks PID - user + system clock ticks PID has used so far
cpu_ticks() {
	local stat
	read -r stat < "/proc/$1/stat"
	set -- ${stat##*) }
	echo $(( ${12} + ${13} ))
}

# NT transfers A -> B in parallel, each of size_mb / NT MiB of random
# data, each checked; with several queue pairs 8 flows a pair. virtio_net
# maps each CPU to a transmit queue (XPS), and a bulk sender transmits
# from wherever its ACKs are processed: 8 flows of 2 MiB all left on one
# pair in 5 runs of 6, senders pinned to alternate CPUs or not. Without
# the XPS map the queue is a hash of each connection's random flow hash:
# with 16 flows, all on one of 2 pairs has a chance of 1 in 32768.
NT=1
if [ "$Q" -gt 1 ]; then
	NT=$((8 * Q))
	net_xps "$pa" "$ia" 0 || uv_fail "cannot clear $ia's XPS map"
fi
per=$((size_mb / NT))
dd if=/dev/urandom of="$UV_TMP/send" bs=1M count="$per" status=none ||
	uv_fail "cannot make test data"
want=$(uv_sha256 "$UV_TMP/send")
srv=()
for i in $(seq "$NT"); do
	net_in "$pb" busybox nc -l -p $((5000 + i)) > "$UV_TMP/recv.$i" &
	srv+=($!)
	uv_defer "kill ${srv[-1]}"
done
sleep 0.5
c0a=$(cpu_ticks "$pa") c0b=$(cpu_ticks "$pb")
t0=${EPOCHREALTIME/./}
snd=()
for i in $(seq "$NT"); do
	net_in "$pa" bash -c "cat '$UV_TMP/send' > /dev/tcp/10.79.0.2/$((5000 + i))" &
	snd+=($!)
done
for i in "${!snd[@]}"; do
	wait "${snd[$i]}" || uv_fail "sender $((i + 1)) failed"
done
for i in "${!srv[@]}"; do
	uv_wait_exit "${srv[$i]}" $((30 * NET_SLOW)) ||
		uv_fail "receiver $((i + 1)) did not finish within $((30 * NET_SLOW)) s of its sender"
done
t1=${EPOCHREALTIME/./}
ca=$(( $(cpu_ticks "$pa") - c0a )) cb=$(( $(cpu_ticks "$pb") - c0b ))
ms=$(( (t1 - t0) / 1000 ))
uv_log "A->B: $NT x $per MiB in $ms ms"
for i in $(seq "$NT"); do
	got=$(uv_sha256 "$UV_TMP/recv.$i")
	[ "$got" = "$want" ] || { cmp "$UV_TMP/send" "$UV_TMP/recv.$i" | head -3
		uv_fail "transfer $i: SHA-256 differs: sent $want, received $got ($(stat -c %s "$UV_TMP/recv.$i") bytes)"; }
done
uv_log "sha256 matches at both ends: $want"
rm -f "$UV_TMP/send" "$UV_TMP"/recv.*

# The front ends only set up and tear down: during the transfer each may
# have used a few clock ticks, not a share of the time the data took.
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
uv_log "front end CPU during the transfer: A $ca ticks, B $cb ticks (${hz} Hz) in $ms ms"
limit=$(( 2 + ms * hz / 1000 / 20 ))
[ "$ca" -le "$limit" ] && [ "$cb" -le "$limit" ] ||
	uv_fail "a front end was busy while the data flowed: A $ca, B $cb ticks (limit $limit: 5% of the transfer's time)"

net_stop "$pa" "$ea" || uv_fail "front end A did not stop cleanly"
net_stop "$pb" "$eb" || uv_fail "front end B did not stop cleanly"
# testpmd prints its forwarding counters as it exits
kill -TERM "$TP_PID"
uv_wait_exit "$TP_PID" $((10 * NET_SLOW)) ||
	{ cat "$UV_TMP/testpmd.log"; uv_fail "dpdk-testpmd did not exit 0 on SIGTERM"; }
fwd=$(awk '/Forward statistics for port/ { for (i = 1; i < NF; i++) if ($i == "port") p = $(i + 1) }
	   /RX-packets:/ && p != "" { rx[p] = $2; p = "" }
	   END { print rx[0] + 0, rx[1] + 0 }' "$UV_TMP/testpmd.log")
set -- $fwd
uv_log "testpmd forwarded $1 frames from A's port and $2 from B's"
[ "$1" -gt $((size_mb * 1024 * 1024 / 65536)) ] && [ "$2" -gt 0 ] ||
	{ tail -n 30 "$UV_TMP/testpmd.log"; uv_fail "testpmd's counters do not show the transfer"; }
if [ "$Q" -gt 1 ]; then
	# testpmd's per-stream counters: stream "RX port P queue N -> TX port
	# 1-P queue N" carries what P's front end sent on its queue pair N to
	# the other front end's queue pair N
	busy=$(awk '/Forward Stats for RX Port=/ { s = $0; gsub(/[^0-9]/, " ", s)
			split(s, n, " "); port = n[1]; next }
		    port != "" && /RX-packets:/ { if ($2 > 100) busy[port]++; port = "" }
		    END { print busy[0] + 0, busy[1] + 0 }' "$UV_TMP/testpmd.log")
	set -- $busy
	uv_log "queue pairs that carried more than 100 frames: $1 of A's, $2 of B's (of $Q)"
	[ "$1" -gt 1 ] ||
		{ grep -A1 'Forward Stats for RX' "$UV_TMP/testpmd.log"
		  uv_fail "the transfers from A used one queue pair only"; }
fi
uv_pass
