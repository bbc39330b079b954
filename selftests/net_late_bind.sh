#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A net device created by uid 1000 inside its own user+net namespace while
# virtio_net is not loaded (as on a host where udev loads it a moment
# later) must end up in its creator's namespace once the driver binds, also
# when root unbinds and binds the driver again, and must never carry
# traffic in the initial one: a watcher acting like a host's network
# manager sets every uvirtio interface it sees in the initial namespace up
# and records any that gets a carrier there.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

uv_need uvirtio-net setpriv unshare nsenter ip insmod rmmod
uv_tmpdir

VNET_KO=/uvirtio/modules/virtio_net.ko
[ -f "$VNET_KO" ] && [ -e /sys/module/virtio_net/refcnt ] ||
	uv_skip "virtio_net is not a module loaded from $VNET_KO"
mkdir -m 1777 "$UV_TMP/sock"
sa=$UV_TMP/sock/a
sb=$UV_TMP/sock/b

# The host's network manager, in the initial namespace.
watch_init() {
	local n dev
	while [ ! -e "$UV_TMP/stop" ]; do
		for n in /sys/class/net/*; do
			dev=$(readlink -f "$n/device" 2>/dev/null)
			case $dev in */uvirtio-*) ;; *) continue ;; esac
			echo "${n##*/}" >> "$UV_TMP/seen"
			ip link set "${n##*/}" up 2>/dev/null
			[ "$(cat "$n/carrier" 2>/dev/null)" = 1 ] &&
				echo "${n##*/}" >> "$UV_TMP/carrier"
		done
		sleep 0.01
	done
}
: > "$UV_TMP/seen"
: > "$UV_TMP/carrier"
watch_init &
watcher=$!
uv_defer "touch $UV_TMP/stop; wait $watcher"

rmmod virtio_net || uv_fail "cannot unload virtio_net"
uv_defer "[ -e /sys/module/virtio_net ] || insmod $VNET_KO"

uv_log "uid $UV_USER_UID creates a net device in its namespace; virtio_net loads 2 s later"
(sleep 2; insmod "$VNET_KO") &
loader=$!
net_start userns "dgram:$sa,$sb" > "$UV_TMP/start.log" 2>&1
rc=$?
cat "$UV_TMP/start.log"
[ $rc = 0 ] || uv_fail "emulator A did not start"
wait $loader || uv_fail "insmod virtio_net failed"
grep -q "note:" "$UV_TMP/start.log" &&
	uv_fail "$NET_IF was left in the initial namespace"
pa=$NET_PID ia=$NET_IF ea=$NET_ERR
mac=$(sed -n 's/.* MAC \([0-9a-f:]*\),.*/\1/p' "$ea")
[ -n "$mac" ] || { cat "$ea"; uv_fail "A did not log its MAC"; }
net_in "$pa" ip -o link show "$ia" | grep -q "$mac" ||
	uv_fail "no $ia with MAC $mac in A's namespace"
ip -o link | grep -q "$mac" && uv_fail "an interface with MAC $mac is in the initial namespace"
uv_log "A's $ia ($mac) is in its creator's namespace, none in the initial one"

net_start userns "dgram:$sb,$sa" || uv_fail "emulator B did not start"
pb=$NET_PID ib=$NET_IF
net_in "$pa" ip link set "$ia" up
net_in "$pb" ip link set "$ib" up
net_wait_carrier "$pa" "$ia" 1 10 || uv_fail "A's link did not come up in its namespace"
uv_log "A's link is up in its namespace"

idx=$(sed -n 's/^uvirtio-net: uvirtio-\([0-9]*\): started.*/\1/p' "$ea")
vdev=$(basename /sys/devices/virtual/misc/uvirtio/uvirtio-"$idx"/virtio*)
case $vdev in virtio[0-9]*) ;; *) uv_fail "no virtio device under uvirtio-$idx" ;; esac
uv_log "root unbinds virtio_net from $vdev and binds it again"
echo "$vdev" > /sys/bus/virtio/drivers/virtio_net/unbind || uv_fail "unbind failed"
echo "$vdev" > /sys/bus/virtio/drivers/virtio_net/bind || uv_fail "bind failed"
for _ in $(seq 100); do
	net_in "$pa" ip -o link | grep -q "$mac" && break
	sleep 0.1
done
ia=$(net_in "$pa" ip -o link | grep "$mac" | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p')
[ -n "$ia" ] || uv_fail "no interface with MAC $mac in A's namespace 10 s after bind"
ip -o link | grep -q "$mac" && uv_fail "an interface with MAC $mac is in the initial namespace after bind"
net_in "$pa" ip link set "$ia" up
net_wait_carrier "$pa" "$ia" 1 10 || uv_fail "A's link did not come up after bind"
uv_log "after bind, A's $ia is in its namespace with its link up, none in the initial one"

touch "$UV_TMP/stop"
wait $watcher
uv_log "the watcher saw $(sort -u "$UV_TMP/seen" | wc -l) uvirtio interface(s) in the initial namespace"
[ -s "$UV_TMP/carrier" ] &&
	uv_fail "carrier in the initial namespace on: $(sort -u "$UV_TMP/carrier" | tr '\n' ' ')"
uv_log "no uvirtio interface had a carrier in the initial namespace"
net_stop "$pb" "$NET_ERR" || uv_fail "B did not stop"
net_stop "$pa" "$ea" || uv_fail "A did not stop"
uv_pass
