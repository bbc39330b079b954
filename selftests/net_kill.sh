#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# SIGKILL of a uvirtio-net emulator under TCP load: its interface must be
# gone within 5 s, the peer must notice (carrier 0), the module must then
# unload, and the kernel log must stay clean.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

uv_need uvirtio-net setpriv unshare nsenter ip iperf3
uv_tmpdir
uv_defer "uv_module_loaded || uv_module_load 0666"
mkdir -m 1777 "$UV_TMP/sock"
sa=$UV_TMP/sock/a
sb=$UV_TMP/sock/b

net_start userns "dgram:$sa,$sb" || uv_fail "emulator A did not start"
pa=$NET_PID ia=$NET_IF ea=$NET_ERR
net_start userns "dgram:$sb,$sa" || uv_fail "emulator B did not start"
pb=$NET_PID ib=$NET_IF eb=$NET_ERR
idx=$(sed -n 's/^uvirtio-net: uvirtio-\([0-9]*\): started.*/\1/p' "$ea")
mac=$(sed -n 's/.* MAC \([0-9a-f:]*\),.*/\1/p' "$ea")
[ -n "$idx" ] && [ -n "$mac" ] || { cat "$ea"; uv_fail "A did not log its index and MAC"; }
net_in "$pa" ip addr add 10.79.0.1/24 dev "$ia"
net_in "$pa" ip link set "$ia" up
net_in "$pb" ip addr add 10.79.0.2/24 dev "$ib"
net_in "$pb" ip link set "$ib" up
net_wait_carrier "$pa" "$ia" 1 10 || uv_fail "A's link did not come up"

net_in "$pb" iperf3 -s -1 > "$UV_TMP/iperf.s" 2>&1 &
srv=$!
uv_defer "kill $srv"
sleep 0.5
net_in "$pa" iperf3 -c 10.79.0.2 -t 60 > "$UV_TMP/iperf.c" 2>&1 &
cli=$!
uv_defer "kill $cli"
# Kill under load: wait until A has sent a few thousand frames.
for _ in $(seq 100); do
	kill -USR2 "$pa"
	sleep 0.2
	n=$(net_stat "$ea" tx packets)
	[ "${n:-0}" -lt 500 ] || break
done
[ "${n:-0}" -ge 500 ] || { cat "$UV_TMP/iperf.c"; uv_fail "no load: A sent ${n:-0} frames in 20 s"; }

kill -KILL "$pa"
t0=${EPOCHREALTIME/./}
wait "$pa" 2> /dev/null
uv_log "SIGKILL to A (uvirtio-$idx, MAC $mac) after $n frames"
gone=0
while [ $(( ${EPOCHREALTIME/./} - t0 )) -lt 5000000 ]; do
	if [ ! -e "/sys/devices/virtual/misc/uvirtio/uvirtio-$idx" ] &&
	   ! ip -o link | grep -q "$mac" &&
	   ! net_in "$pb" ip -o link 2>/dev/null | grep -q "$mac"; then
		gone=1
		break
	fi
	sleep 0.1
done
t1=${EPOCHREALTIME/./}
[ $gone = 1 ] || uv_fail "uvirtio-$idx or an interface with $mac still exists 5 s after SIGKILL"
uv_log "interface gone $(( (t1 - t0) / 1000 )) ms after SIGKILL"
kill $cli 2>/dev/null
net_in "$pb" ping -c 1 -W 1 10.79.0.1 > /dev/null 2>&1
net_wait_carrier "$pb" "$ib" 0 5 || uv_fail "B's carrier stays 1 with A dead"
net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
uv_module_unload 5 || uv_fail "uvirtio does not unload"
uv_log "module unloaded"
uv_module_load 0666 || uv_fail "cannot load uvirtio again"
uv_pass
