#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# An event-ring OVERFLOW under traffic loses no receive or transmit chain.
# Two uvirtio-net devices (uid 1000, each in its own user+net namespace,
# dgram-cabled, rings of 64) carry a UDP flood (iperf3) from B to A. A is
# stopped (SIGSTOP) while its driver sends far more control commands (MAC
# address changes, each one device event) than the module's event ring
# holds, so A sees an OVERFLOW after SIGCONT (within 10 s, 50 s under
# KASAN); its rings ran on in the same epoch all along. Chains the
# emulator had taken from them (the receive stash, a held transmit
# chain) are still owed to the driver: an emulator that forgot them at
# the OVERFLOW shrinks the receive ring by a stash each time, until
# nothing is received. After CYCLES such overflows, with the flood
# stopped: A answers 100 pings with no loss, its counters show them and
# no receive error, and SIGTERM ends it with exit status 0.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

CYCLES=4
CHANGES=100
uv_need uvirtio-net setpriv unshare nsenter ip ping iperf3
uv_tmpdir
net_pair --queue-size 64

net_in "$pa" iperf3 -s -1 > "$UV_TMP/iperf.s" 2>&1 &
srv=$!
uv_defer "kill $srv 2>/dev/null"
sleep 1
net_in "$pb" iperf3 -c 10.78.0.1 -u -b 0 -l 1400 -t $((100 * NET_SLOW)) > "$UV_TMP/iperf.c" 2>&1 &
flood=$!
uv_defer "kill $flood 2>/dev/null"
sleep 2

# CHANGES MAC address commands in one ip process
net_mac_batch "$pa" "$ia" "$CHANGES" "$UV_TMP/batch"
for c in $(seq "$CYCLES"); do
	kill -STOP "$pa"
	net_in "$pa" ip -batch "$UV_TMP/batch" || uv_fail "cycle $c: ip -batch failed"
	kill -CONT "$pa"
	# A works through the events the ring kept before it reaches the
	# overflow; under the flood (and KASAN) that takes seconds
	t0=$SECONDS
	while n=$(grep -c "device events overflowed" "$ea"); [ "$n" -lt "$c" ]; do
		uv_proc_alive "$pa" || { cat "$ea"; uv_fail "A died after overflow $c"; }
		[ $((SECONDS - t0)) -lt $((10 * NET_SLOW)) ] ||
			{ tail -n 5 "$ea"; uv_fail "cycle $c: A saw $n overflows in $((10 * NET_SLOW)) s, want $c"; }
		sleep 0.2
	done
	uv_log "cycle $c: overflow seen after $((SECONDS - t0)) s"
done
uv_proc_alive "$flood" || { cat "$UV_TMP/iperf.c"; uv_fail "the flood ended before the overflows did"; }
kill "$flood" "$srv" 2>/dev/null
wait "$flood" "$srv" 2>/dev/null
# Let A drain what the flood left in its socket. The pings then test the
# receive ring, not the machine's speed: on the debug lane round trips
# reach seconds, so they are spaced and given time (a shrunken ring loses
# them however long they wait).
sleep "$NET_SLOW"
gap=0.05
[ "$NET_SLOW" = 1 ] || gap=0.2
net_in "$pb" ping -c 100 -i $gap -W $((5 * NET_SLOW)) -q 10.78.0.1 > "$UV_TMP/ping" 2>&1 ||
	{ cat "$UV_TMP/ping"; uv_fail "after $CYCLES overflows B's pings to A are lost"; }
grep -q " 0% packet loss" "$UV_TMP/ping" ||
	{ cat "$UV_TMP/ping"; uv_fail "after $CYCLES overflows pings to A are lost"; }
uv_log "after $CYCLES overflows under a flood: 100 of 100 pings answered"

kill -USR2 "$pa"
sleep 0.5
rxp=$(net_stat "$ea" rx packets) rxe=$(net_stat "$ea" rx errors)
uv_log "A's counters: rx packets=$rxp errors=$rxe"
[ -n "$rxp" ] && [ "$rxp" -ge 100 ] || uv_fail "A's rx packets '$rxp' < 100"
[ "$rxe" = 0 ] || uv_fail "A counted $rxe receive errors"
net_stop "$pa" "$ea" || uv_fail "A did not stop cleanly"
net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
uv_pass
