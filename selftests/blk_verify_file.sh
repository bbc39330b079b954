#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# fio --verify=crc32c against an unprivileged uvirtio-blk on a file, served
# through io_uring (--io uring: tmpfs alone would get the synchronous path):
# buffered (page cache) with 1 queue, O_DIRECT (--direct)
# with 4 queues; afterwards the backing file holds what the disk showed.
# O_DIRECT needs a filesystem that has it: tmpfs has it from 6.6 on, so on
# older kernels the file lives on ext4 on a loop device (itself on tmpfs).
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv fio losetup mkfs.ext4 truncate cmp
uv_tmpdir
. "$UV_DIR/blk_verify_lib.sh"

img=$UV_TMP/disk.img
truncate -s 64M "$img" || uv_fail "cannot create $img"
chown $UV_USER_UID:$UV_USER_UID "$img"

uv_blk_start --user --io uring "$img" || uv_fail "buffered emulator did not start"
bv_check_queues 1
uv_log "buffered file, 1 queue: $UV_NODE"
bv_verify_set "file buffered q1" "$UV_NODE" 8M
dd if="$UV_NODE" of="$UV_TMP/seen" bs=1M count=64 iflag=direct status=none ||
	uv_fail "reading $UV_NODE back failed"
uv_blk_stop || uv_fail "emulator did not stop cleanly"
cmp -s "$UV_TMP/seen" "$img" || uv_fail "the backing file differs from what the disk returned"
uv_log "backing file identical to the disk's contents"

# a directory where O_DIRECT works
ddir=$UV_TMP
if ! dd if=/dev/zero of="$UV_TMP/probe" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
	truncate -s 160M "$UV_TMP/ext4.img"
	mkfs.ext4 -q -F "$UV_TMP/ext4.img" || uv_fail "mkfs.ext4 on a file failed"
	mkdir -p "$UV_TMP/ext4"
	loopdev=$(losetup -f --show "$UV_TMP/ext4.img") || uv_fail "losetup failed"
	uv_defer "losetup -d $loopdev"
	mount -t ext4 "$loopdev" "$UV_TMP/ext4" || uv_fail "mount of the loop ext4 failed"
	uv_defer "umount '$UV_TMP/ext4'"
	ddir=$UV_TMP/ext4
	chmod 0777 "$ddir"
	uv_log "tmpfs has no O_DIRECT on $(uname -r): file on ext4 on $loopdev"
fi
dimg=$ddir/direct.img
truncate -s 64M "$dimg" && chown $UV_USER_UID:$UV_USER_UID "$dimg" || uv_fail "cannot create $dimg"
uv_blk_start --user --direct --io uring --queues 4 "$dimg" || uv_fail "--direct emulator did not start"
bv_check_queues 4
uv_log "O_DIRECT file, 4 queues: $UV_NODE ($BV_NQ used)"
bv_verify_set "file direct q4" "$UV_NODE" 8M
uv_blk_stop || uv_fail "emulator did not stop cleanly"

bv_check_dmesg
uv_pass
