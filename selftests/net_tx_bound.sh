#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The transmit loop yields to its main thread under sustained traffic. Two
# uvirtio-net devices (uid 1000, own user+net namespaces, dgram-cabled);
# A's driver transmits without pause (an unlimited UDP stream, iperf3 -u
# -b 0, 1400-byte datagrams, to B), so A's transmit queue is never empty.
# While it runs: a link change asked of A (SIGHUP) shows in its carrier
# within BOUND seconds, in both directions, and SIGTERM removes A's
# interface and ends A with exit status 0 within BOUND seconds. An
# emulator whose transmit loop kept its queue until it ran dry would serve
# neither while the flood lasts (60 s). BOUND scales with a slow (debug)
# kernel.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

BOUND=2
uv_need uvirtio-net setpriv unshare nsenter ip ping awk iperf3
uv_tmpdir
net_pair

net_in "$pb" iperf3 -s -1 > "$UV_TMP/iperf.s" 2>&1 &
srv=$!
uv_defer "kill $srv 2>/dev/null"
sleep 1
net_in "$pa" iperf3 -c 10.78.0.2 -u -b 0 -l 1400 -t 60 > "$UV_TMP/iperf.c" 2>&1 &
flood=$!
uv_defer "kill $flood 2>/dev/null"
sleep 2
kill -USR2 "$pa"
sleep 0.5
tx0=$(net_stat "$ea" tx packets)
sleep 2
kill -USR2 "$pa"
sleep 0.5
tx1=$(net_stat "$ea" tx packets)
[ -n "$tx0" ] && [ -n "$tx1" ] && [ "$tx1" -gt "$tx0" ] ||
	uv_fail "A transmits nothing under the flood ($tx0, then $tx1 packets)"
uv_log "flood running: A transmitted $((tx1 - tx0)) frames in 2.5 s"

# since T0 - seconds since $EPOCHREALTIME was T0
since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

# wait_carrier WANT - time until A's carrier reads WANT, at most BOUND s
wait_carrier() {
	local t0=$EPOCHREALTIME
	net_wait_carrier "$pa" "$ia" "$1" "$BOUND" || return 1
	uv_log "carrier $1 after $(since "$t0") s"
}
kill -HUP "$pa"
wait_carrier 0 || uv_fail "link down asked under the flood: not served within $((BOUND * NET_SLOW)) s"
kill -HUP "$pa"
wait_carrier 1 || uv_fail "link up asked under the flood: not served within $((BOUND * NET_SLOW)) s"

t0=$EPOCHREALTIME
kill -TERM "$pa"
uv_wait_exit "$pa" $((BOUND * NET_SLOW))
rc=$?
[ $rc = 0 ] || { kill -KILL "$pa"; tail -n 5 "$ea"; uv_fail "SIGTERM under the flood: A's exit status $rc after $((BOUND * NET_SLOW)) s (255: still runs)"; }
uv_log "SIGTERM under the flood: A exited 0 after $(since "$t0") s"
ip link show "$ia" > /dev/null 2>&1 && uv_fail "A's interface $ia is in the initial namespace after A exited"
kill "$flood" "$srv" 2>/dev/null
wait "$flood" "$srv" 2>/dev/null
net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
uv_pass
