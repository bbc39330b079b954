#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A queue-pair change lost to an event OVERFLOW still reaches the emulator.
# Two uvirtio-net devices with --queues 2 (uid 1000, own user+net
# namespaces, dgram-cabled), both pairs enabled. A is stopped (SIGSTOP);
# its driver then sends more control commands than the module's event ring
# holds (MAC address changes, the last back to A's own) and after them
# VQ_PAIRS_SET 1 (ethtool -L combined 1), whose event is therefore dropped.
# After SIGCONT, A must take the pair count from UVIRTIO_GET_STATUS
# (net_pairs) and steer every received frame to pair 0: with TCP streams
# from B over both of B's pairs, A's receive queue 1 (disabled by the
# driver) gets no frame and queue 0 gets them all. An emulator that kept
# serving two pairs delivered B's pair-1 frames to A's queue 1.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

CHANGES=100
uv_need uvirtio-net setpriv unshare nsenter ip ping ethtool iperf3
uv_tmpdir
net_pair --queues 2
net_in "$pa" ethtool -L "$ia" combined 2 && net_in "$pb" ethtool -L "$ib" combined 2 ||
	uv_fail "ethtool -L combined 2 failed"
for _ in $(seq 50); do
	grep -q "2 of 2 queue pairs enabled" "$ea" && break
	sleep 0.1
done
grep -q "2 of 2 queue pairs enabled" "$ea" || { cat "$ea"; uv_fail "A did not log VQ_PAIRS_SET 2"; }
net_mac_batch "$pa" "$ia" "$CHANGES" "$UV_TMP/batch"
kill -STOP "$pa"
net_in "$pa" ip -batch "$UV_TMP/batch" || { kill -CONT "$pa"; uv_fail "ip -batch failed"; }
net_in "$pa" ethtool -L "$ia" combined 1 || { kill -CONT "$pa"; uv_fail "ethtool -L $ia combined 1 failed"; }
kill -CONT "$pa"
sleep 1
grep -q "device events overflowed" "$ea" || { tail -n 5 "$ea"; uv_fail "A saw no overflow"; }
grep -q "1 of 2 queue pairs enabled (re-read)" "$ea" ||
	{ tail -n 5 "$ea"; uv_fail "after the overflow A does not serve 1 pair as its driver asked"; }
uv_log "VQ_PAIRS_SET 1 lost to an overflow: A re-read it: $(grep "1 of 2 queue pairs enabled" "$ea" | tail -n 1)"

# cnt PID ERR QUEUE - QUEUE's (rx0, tx1, ...) packet counter, on SIGUSR2
cnt() {
	kill -USR2 "$1"
	sleep 0.5
	net_stat "$2" "$3" packets
}
for try in 1 2 3; do
	a0=$(cnt "$pa" "$ea" rx0) a1=$(cnt "$pa" "$ea" rx1) b1=$(cnt "$pb" "$eb" tx1)
	net_in "$pa" iperf3 -s -1 > "$UV_TMP/iperf.s" 2>&1 &
	srv=$!
	sleep 1
	net_in "$pb" iperf3 -c 10.78.0.1 -P 8 -t 3 > "$UV_TMP/iperf.c" 2>&1 ||
		{ cat "$UV_TMP/iperf.c"; uv_fail "iperf3 from B to A failed"; }
	wait "$srv" 2>/dev/null
	da0=$(($(cnt "$pa" "$ea" rx0) - a0)) da1=$(($(cnt "$pa" "$ea" rx1) - a1))
	db1=$(($(cnt "$pb" "$eb" tx1) - b1))
	uv_log "try $try: B's tx1 sent $db1 frames; A's rx0 got $da0, rx1 got $da1"
	[ "$db1" -gt 0 ] && break
done
[ "$db1" -gt 0 ] || uv_skip "B's 8 streams never used its pair 1: nothing to steer"
[ "$da1" = 0 ] || uv_fail "A delivered $da1 frames to receive queue 1, which its driver disabled"
[ "$da0" -ge 100 ] || uv_fail "A's receive queue 0 got only $da0 frames"
net_stop "$pa" "$ea" || uv_fail "A did not stop cleanly"
net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
uv_pass
