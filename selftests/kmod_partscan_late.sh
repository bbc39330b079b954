#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# No partition scan of an unprivileged user's disk, whatever the order in
# which virtio_blk binds: the driver is loaded only after the device was
# started (as udev's modprobe does on a host without virtio disks), and
# later root unbinds and rebinds it, and finally reloads it with
# asynchronous probing. Each time the disk must get its full
# size, no partition, and BLKRRPART must be refused.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv blockdev dd insmod rmmod
uv_tmpdir

VBLK_KO=/uvirtio/modules/virtio_blk.ko
VBLK_DRV=/sys/bus/virtio/drivers/virtio_blk
[ -f "$VBLK_KO" ] && [ -e /sys/module/virtio_blk/refcnt ] ||
	uv_skip "virtio_blk is not a module loaded from $VBLK_KO"

img=$UV_TMP/disk.img
uv_mbr_image "$img" || uv_fail "cannot create $img"

# check_disk DISK WHEN - full size, no partition, BLKRRPART refused
check_disk() {
	local disk=$1 when=$2 size
	[ -e "/sys/block/$disk/${disk}1" ] || [ -e "/dev/${disk}1" ] &&
		uv_fail "$when: ${disk}1 exists: the unprivileged disk was scanned for partitions"
	size=$(cat "/sys/block/$disk/size")
	[ "$size" = 32768 ] || uv_fail "$when: /sys/block/$disk/size is $size, expected 32768"
	blockdev --rereadpt "/dev/$disk" 2>/dev/null &&
		uv_fail "$when: BLKRRPART succeeded on the unprivileged disk"
	[ -e "/sys/block/$disk/${disk}1" ] &&
		uv_fail "$when: ${disk}1 appeared after BLKRRPART"
	uv_log "$when: $disk has $size sectors, no partition, BLKRRPART refused"
}

# wait_disk VDEV WHAT - set disk to VDEV's disk once its size is not 0
wait_disk() {
	local d
	disk=
	for _ in $(seq 100); do
		for d in /sys/bus/virtio/devices/"$1"/block/*; do
			[ -e "$d/size" ] && [ "$(cat "$d/size")" != 0 ] && disk=${d##*/}
		done
		[ -n "$disk" ] && break
		sleep 0.1
	done
	[ -n "$disk" ] || uv_fail "no disk with a size under $1 10 s after $2"
	sleep 0.5
}

rmmod virtio_blk || uv_fail "cannot unload virtio_blk"
uv_defer "[ -e /sys/module/virtio_blk ] || insmod $VBLK_KO"

uv_log "uid $UV_USER_UID starts a disk with a partition table; virtio_blk loads 2 s later"
(sleep 2; insmod "$VBLK_KO") &
loader=$!
uv_blk_start --user "$img" || uv_fail "emulator did not start"
wait $loader || uv_fail "insmod virtio_blk failed"
check_disk "$UV_DISK" "late load"

vdev=$(basename "$(readlink -f "/sys/block/$UV_DISK/device")")
case $vdev in virtio*) ;; *) uv_fail "no virtio device behind $UV_DISK ($vdev)" ;; esac
uv_log "root unbinds virtio_blk from $vdev and binds it again"
echo "$vdev" > "$VBLK_DRV/unbind" || uv_fail "unbind failed"
uv_wait_gone "$UV_DISK" 10 || uv_fail "$UV_DISK still there 10 s after unbind"
echo "$vdev" > "$VBLK_DRV/bind" || uv_fail "bind failed"
wait_disk "$vdev" "bind"
check_disk "$disk" "rebind"

uv_log "virtio_blk unloaded and loaded again with async_probe=1"
rmmod virtio_blk || uv_fail "cannot unload virtio_blk with the disk bound"
uv_wait_gone "$disk" 10 || uv_fail "$disk still there 10 s after rmmod virtio_blk"
insmod "$VBLK_KO" async_probe=1 || uv_fail "insmod virtio_blk async_probe=1 failed"
wait_disk "$vdev" "async load"
check_disk "$disk" "async probe"

uv_blk_stop || uv_fail "emulator did not stop"
uv_pass
