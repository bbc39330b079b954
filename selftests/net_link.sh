#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Link state reaches the kernel (/sys/class/net/IF/carrier): down while the
# dgram peer is missing, up once it appears, down and up again on request
# (SIGHUP toggles the wanted state), down when the peer dies and up when a
# new one takes its place; then traffic flows again.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

uv_need uvirtio-net setpriv unshare nsenter ip ping
uv_tmpdir
mkdir -m 1777 "$UV_TMP/sock"
sa=$UV_TMP/sock/a
sb=$UV_TMP/sock/b

# net_up PID IF ADDR - address IF and set it up
net_up() {
	net_in "$1" ip addr add "$3/24" dev "$2" || uv_fail "cannot address $2"
	net_in "$1" ip link set "$2" up || uv_fail "cannot set $2 up"
}

net_start userns "dgram:$sa,$sb" || uv_fail "emulator A did not start"
pa=$NET_PID ia=$NET_IF ea=$NET_ERR
net_up "$pa" "$ia" 10.78.0.1
net_wait_carrier "$pa" "$ia" 0 5 || uv_fail "A's carrier is not 0 without a peer"
uv_log "no peer: carrier 0"

net_start userns "dgram:$sb,$sa" || uv_fail "emulator B did not start"
pb=$NET_PID ib=$NET_IF eb=$NET_ERR
net_up "$pb" "$ib" 10.78.0.2
net_wait_carrier "$pa" "$ia" 1 5 || uv_fail "A's carrier did not come up with the peer"
net_wait_carrier "$pb" "$ib" 1 5 || uv_fail "B's carrier is not 1"
uv_log "peer there: carrier 1 on both"

kill -HUP "$pa"
net_wait_carrier "$pa" "$ia" 0 5 || uv_fail "link down asked: carrier stays 1"
kill -HUP "$pa"
net_wait_carrier "$pa" "$ia" 1 5 || uv_fail "link up asked: carrier stays 0"
uv_log "link down and up on request: carrier 0, then 1"

kill -KILL "$pb"
wait "$pb" 2> /dev/null
# A learns that B is gone when it next sends.
net_in "$pa" ping -c 2 -W 1 10.78.0.2 > /dev/null 2>&1
net_wait_carrier "$pa" "$ia" 0 5 || uv_fail "peer killed: A's carrier stays 1"
uv_log "peer killed: carrier 0"

net_start userns "dgram:$sb,$sa" || uv_fail "emulator B did not restart"
pb=$NET_PID ib=$NET_IF eb=$NET_ERR
net_up "$pb" "$ib" 10.78.0.2
net_wait_carrier "$pa" "$ia" 1 5 || uv_fail "peer back: A's carrier stays 0"
net_in "$pa" ping -c 3 -W 5 10.78.0.2 > "$UV_TMP/ping" 2>&1 ||
	{ cat "$UV_TMP/ping"; uv_fail "A cannot ping the new B"; }
uv_log "peer back: carrier 1, ping works"
grep -q "link down" "$ea" && grep -q "disconnected" "$ea" ||
	uv_fail "A's log does not tell the disconnection"
net_stop "$pa" "$ea" || uv_fail "A did not stop cleanly"
net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
uv_pass
