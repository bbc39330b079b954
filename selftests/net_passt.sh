#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The passt backend, no root anywhere: uid 1000 runs uvirtio-net --unshare
# passt, which starts passt in the VM's namespaces and creates the device
# in a new user+net namespace. Static configuration (what passt's DHCP
# would hand out): 10.0.2.15/24, gateway 10.0.2.2, copied by passt from a
# template interface dummy0. A TCP client in the namespace reaches a server
# in the VM's initial namespace through the gateway address; the data's
# SHA-256 must match.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

size_mb=16
uv_need uvirtio-net passt setpriv nsenter ip busybox sha256sum
uv_tmpdir

# passt takes its addresses and gateway from the interface with the
# default route.
ip link show dummy0 > /dev/null 2>&1 || ip link add dummy0 type dummy ||
	uv_fail "cannot create the template interface dummy0"
ip addr add 10.0.2.15/24 dev dummy0 || uv_fail "cannot address dummy0"
uv_defer "ip addr del 10.0.2.15/24 dev dummy0"
ip link set dummy0 up
ip link set lo up
ip route add default via 10.0.2.2 dev dummy0 || uv_fail "cannot add the default route"
uv_defer "ip route del default via 10.0.2.2 dev dummy0"

net_start user --unshare passt || uv_fail "emulator did not start"
pid=$NET_PID ifn=$NET_IF err=$NET_ERR
net_in "$pid" ip link set lo up
net_in "$pid" ip addr add 10.0.2.15/24 dev "$ifn" || uv_fail "cannot address $ifn"
net_in "$pid" ip link set "$ifn" up || uv_fail "cannot set $ifn up"
net_in "$pid" ip route add default via 10.0.2.2 || uv_fail "cannot add a default route in the namespace"
net_wait_carrier "$pid" "$ifn" 1 10 || uv_fail "link did not come up"
uv_log "$ifn up in pid $pid's namespace, 10.0.2.15/24 via 10.0.2.2"

dd if=/dev/urandom of="$UV_TMP/send" bs=1M count=$size_mb status=none ||
	uv_fail "cannot make test data"
want=$(uv_sha256 "$UV_TMP/send")
busybox nc -l -p 5002 > "$UV_TMP/recv" &
srv=$!
uv_defer "kill $srv"
sleep 0.5
t0=${EPOCHREALTIME/./}
net_in "$pid" bash -c "cat '$UV_TMP/send' > /dev/tcp/10.0.2.2/5002" ||
	{ sed 's/^/  /' "$err"; uv_fail "cannot send to 10.0.2.2:5002 through passt"; }
uv_wait_exit $srv $((30 * NET_SLOW)) || uv_fail "server did not finish within 30 s of the client"
t1=${EPOCHREALTIME/./}
got=$(uv_sha256 "$UV_TMP/recv")
uv_log "$size_mb MiB namespace -> initial namespace in $(( (t1 - t0) / 1000 )) ms, $(stat -c %s "$UV_TMP/recv") bytes"
[ "$got" = "$want" ] || uv_fail "SHA-256 differs: sent $want, received $got"
uv_log "sha256 matches: $got"

kill -USR2 "$pid"
sleep 0.3
uv_log "emulator: tx packets $(net_stat "$err" tx packets), rx packets $(net_stat "$err" rx packets), drops $(net_stat "$err" rx drops)/$(net_stat "$err" tx drops)"
net_stop "$pid" "$err" || uv_fail "emulator did not stop cleanly"
uv_pass
