#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-net's status filesystem: the device file names the interface, an
# idle device reads "ok" in stuck (receive buffers waiting for frames are
# not a stuck queue), and writing DIR/link toggles the carrier the kernel
# shows. Root runs the emulators: a FUSE mount needs fusermount3, which a
# process inside a user namespace cannot use.
. "$(dirname "$0")/lib.sh"
. "$UV_DIR/net_lib.sh"

uv_need uvirtio-net ip fusermount3
[ -c /dev/fuse ] || uv_skip "/dev/fuse is missing: kernel without FUSE"
uv_tmpdir
sa=$UV_TMP/a
sb=$UV_TMP/b
st=$UV_TMP/st
mkdir "$st"
uv_defer "fusermount3 -u -z '$st'"

net_start root --statfs "$st" "dgram:$sa,$sb" || uv_fail "emulator A did not start"
pa=$NET_PID ia=$NET_IF ea=$NET_ERR
net_start root "dgram:$sb,$sa" || uv_fail "emulator B did not start"
pb=$NET_PID ib=$NET_IF eb=$NET_ERR
ip link set "$ia" up && ip link set "$ib" up || uv_fail "cannot set the interfaces up"
net_wait_carrier "$pa" "$ia" 1 5 || uv_fail "A's carrier did not come up"

grep -q '^type: net$' "$st/device" && grep -q "^kernel: $ia\$" "$st/device" ||
	{ cat "$st/device"; uv_fail "$st/device does not name a net device $ia"; }
uv_log "device file: type net, kernel $ia"

sleep $((3 * NET_SLOW))
stuck=$(cat "$st/stuck")
[ "$stuck" = ok ] || uv_fail "idle device: stuck says '$stuck'"
uv_log "idle for 3 s with receive buffers posted: stuck says ok"

echo down > "$st/link" || uv_fail "cannot write down to $st/link"
net_wait_carrier "$pa" "$ia" 0 5 || uv_fail "link down written: carrier stays 1"
[ "$(cat "$st/link")" = down ] || uv_fail "$st/link does not read down"
echo up > "$st/link" || uv_fail "cannot write up to $st/link"
net_wait_carrier "$pa" "$ia" 1 5 || uv_fail "link up written: carrier stays 0"
uv_log "writing link down, then up: carrier 0, then 1"
echo sideways > "$st/link" 2>/dev/null && uv_fail "writing 'sideways' to link succeeded"
uv_log "an unknown link value is refused"

net_stop "$pa" "$ea" || uv_fail "A did not stop cleanly"
awk -v d="$st" '$2 == d { f = 1 } END { exit !f }' /proc/mounts &&
	uv_fail "the status filesystem is still mounted after A exited"
uv_log "A stopped: the mount is gone"
net_stop "$pb" "$eb" || uv_fail "B did not stop cleanly"
uv_pass
