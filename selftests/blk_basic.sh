#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# An unprivileged uvirtio-blk with a 64 MiB RAM backend gives a disk of the
# right size that returns exactly what was written to it (O_DIRECT, so every
# byte crosses the virtqueue), holds the module while it runs, and goes away
# cleanly on SIGTERM.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv dd sha256sum
uv_tmpdir

uv_log "starting 'uvirtio-blk ram:64M' as uid $UV_USER_UID"
uv_blk_start --user ram:64M || uv_fail "emulator did not start"
uv_log "disk node $UV_NODE (emulator pid $UV_PID)"

sysdev=$(readlink -f "/sys/block/$UV_DISK")
case "$sysdev" in
/sys/devices/virtual/misc/uvirtio/uvirtio-*) uv_log "sysfs path $sysdev" ;;
*) uv_fail "/sys/block/$UV_DISK is $sysdev, not below /sys/devices/virtual/misc/uvirtio/uvirtio-N" ;;
esac

size=$(cat "/sys/block/$UV_DISK/size")
[ "$size" = 131072 ] || uv_fail "/sys/block/$UV_DISK/size is $size, expected 131072"
uv_log "size is 131072 sectors"

refs=$(uv_module_refcount)
[ "${refs:-0}" -gt 0 ] || uv_fail "module refcount is '$refs' while a device exists"
rmmod uvirtio 2>/dev/null && uv_fail "rmmod uvirtio succeeded while a device exists"
uv_log "module is held (refcount $refs) and cannot be removed while the disk exists"

uv_log "writing 64 MiB of random data with O_DIRECT"
dd if=/dev/urandom of="$UV_TMP/data" bs=1M count=64 status=none ||
	uv_fail "cannot create the random data file"
dd if="$UV_TMP/data" of="$UV_NODE" bs=1M oflag=direct status=none ||
	uv_fail "dd to $UV_NODE failed"
dd if="$UV_NODE" of="$UV_TMP/back" bs=1M count=64 iflag=direct status=none ||
	uv_fail "dd from $UV_NODE failed"
want=$(uv_sha256 "$UV_TMP/data")
got=$(uv_sha256 "$UV_TMP/back")
[ "$want" = "$got" ] || uv_fail "read back sha256 $got, written $want"
uv_log "read back 64 MiB identical (sha256 $want)"

uv_blk_stop || uv_fail "emulator did not stop cleanly"
uv_log "SIGTERM: emulator exited 0"
uv_wait_gone "$UV_DISK" 5 || uv_fail "$UV_NODE still present 5 s after the emulator exited"
uv_log "$UV_NODE is gone"
for _ in $(seq 50); do
	[ "$(uv_module_refcount)" = 0 ] && break
	sleep 0.1
done
refs=$(uv_module_refcount)
[ "$refs" = 0 ] || uv_fail "module refcount is $refs after the device is gone"
uv_log "module refcount back to 0"

uv_pass
