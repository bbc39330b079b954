#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# An unprivileged user's disk gets no partition scan (DESIGN.md 6: the
# kernel's partition parsers are not fed by an untrusted emulator), and its
# partition table cannot be re-read; root's disk with the same image gets
# its partition.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv blockdev dd
uv_tmpdir

img=$UV_TMP/disk.img
uv_mbr_image "$img" || uv_fail "cannot create $img"

uv_log "uvirtio-blk on an image with a partition table, as uid $UV_USER_UID"
uv_blk_start --user "$img" || uv_fail "emulator did not start"
sleep 1
[ -e "/sys/block/$UV_DISK/${UV_DISK}1" ] &&
	uv_fail "${UV_DISK}1 exists: the unprivileged disk was scanned for partitions"
size=$(cat "/sys/block/$UV_DISK/size")
[ "$size" = 32768 ] || uv_fail "/sys/block/$UV_DISK/size is $size, expected 32768"
uv_log "no ${UV_DISK}1, and the disk has its full size ($size sectors)"
blockdev --rereadpt "$UV_NODE" 2>/dev/null &&
	uv_fail "BLKRRPART succeeded on the unprivileged disk"
[ -e "/sys/block/$UV_DISK/${UV_DISK}1" ] &&
	uv_fail "${UV_DISK}1 appeared after BLKRRPART"
uv_log "BLKRRPART is refused and finds nothing"
uv_blk_stop || uv_fail "emulator did not stop"

uv_log "the same image served by root"
uv_blk_start "$img" || uv_fail "emulator did not start"
for _ in $(seq 50); do
	[ -e "/sys/block/$UV_DISK/${UV_DISK}1" ] && break
	sleep 0.1
done
[ -e "/sys/block/$UV_DISK/${UV_DISK}1" ] ||
	uv_fail "root's disk has no ${UV_DISK}1: the image's partition table is not valid"
uv_log "root's disk has ${UV_DISK}1"
uv_blk_stop || uv_fail "emulator did not stop"
uv_pass
