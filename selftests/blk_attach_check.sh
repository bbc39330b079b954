#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-blk --attach takes over only the disk its command line describes:
# a disk in recovery mode (writable, block size 512, 64 MiB) is refused,
# with one line naming the difference, by --readonly, by --block-size 4096
# and by a backing file smaller than the disk; it stays in recovery mode
# through the refusals, and the right command line then takes it over.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv
uv_tmpdir
[ -w /sys/module/uvirtio/parameters/recovery_timeout ] ||
	uv_skip "uvirtio.ko has no recovery mode"
img=$UV_TMP/img
small=$UV_TMP/small
truncate -s 64M "$img" && truncate -s 32M "$small" &&
	chown $UV_USER_UID:$UV_USER_UID "$img" "$small" || uv_fail "cannot create the images"
echo 30 > /sys/module/uvirtio/parameters/recovery_timeout

uv_blk_start --user --recovery "$img" || uv_fail "emulator did not start"
node=$UV_NODE
index=$(readlink -f "/sys/block/$UV_DISK" | sed -n 's|.*/uvirtio-\([0-9]*\)/virtio.*|\1|p')
[ -n "$index" ] || uv_fail "cannot find the device index of $UV_DISK"
kill -KILL "$UV_PID"
wait "$UV_PID" 2>/dev/null
state=/sys/class/misc/uvirtio/uvirtio-$index/state

# refused ARGS... WANT - uvirtio-blk --attach ARGS... must exit 1 with a
# line containing WANT, and leave the disk in recovery mode
refused() {
	local want=${*: -1} rc
	set -- "${@:1:$#-1}"
	uv_as_user uvirtio-blk --attach "$index" "$@" > "$UV_TMP/out" 2> "$UV_TMP/err" < /dev/null &
	uv_wait_exit $! 20
	rc=$?
	[ $rc = 1 ] || { cat "$UV_TMP/err"; uv_fail "--attach $index $*: exit $rc, expected 1"; }
	grep -q -- "$want" "$UV_TMP/err" || { cat "$UV_TMP/err"; uv_fail "--attach $index $*: no line saying '$want'"; }
	[ "$(cat "$state")" = recovering ] || uv_fail "after --attach $*: state '$(cat "$state")'"
	uv_log "--attach $index $*: refused: $(grep -- "$want" "$UV_TMP/err")"
}

refused --readonly "$img" "the disk is writable, the command line says --readonly"
refused --block-size 4096 "$img" "block size is 512, not 4096"
refused "$small" "the disk has 131072 sectors"

uv_blk_start --user --attach "$index" "$img" || uv_fail "the right --attach failed"
[ "$UV_NODE" = "$node" ] || uv_fail "the disk is $UV_NODE, not $node"
dd if=/dev/zero of="$node" bs=4k count=16 oflag=direct status=none || uv_fail "write after the take-over failed"
uv_blk_stop || uv_fail "the emulator did not stop cleanly"
uv_log "the matching command line took $node over and writes work"
errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
