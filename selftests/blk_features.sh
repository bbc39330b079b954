#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# virtio-blk features of uvirtio-blk on a file, as uid 1000:
# - data written and flushed (fsync of the disk: VIRTIO_BLK_T_FLUSH) is in
#   the backing file after the emulator is killed with SIGKILL;
# - discard and write-zeroes ranges read back as zeros, on the disk and in
#   the file, and the data around them is untouched;
# - GET_ID: /sys/block/vdX/serial shows --serial;
# - resize: the file grows, SIGHUP, and /sys/block/vdX/size follows while
#   ext4 is mounted on the disk (and resize2fs can grow it online); the
#   file is on tmpfs, so mapped, and its mapping grows with it;
# - --block-size 4096: the kernel sees 4 KiB logical blocks, data round-trips.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv dd cmp truncate blkdiscard blockdev mkfs.ext4 resize2fs e2fsck
uv_tmpdir
img=$UV_TMP/disk.img
mnt=$UV_TMP/mnt
mkdir -p "$mnt"

truncate -s 32M "$img" && chown $UV_USER_UID:$UV_USER_UID "$img" || uv_fail "cannot create $img"
uv_blk_start --user --serial uvtest-features "$img" || uv_fail "emulator did not start"
disk=$UV_DISK

serial=$(cat "/sys/block/$disk/serial" 2>/dev/null)
[ "$serial" = uvtest-features ] || uv_fail "/sys/block/$disk/serial is '$serial'"
uv_log "GET_ID: serial $serial"

# durability: 8 MiB of random data, written and flushed, then SIGKILL
dd if=/dev/urandom of="$UV_TMP/data" bs=1M count=8 status=none
dd if="$UV_TMP/data" of="$UV_NODE" bs=1M seek=4 conv=fsync oflag=direct status=none ||
	uv_fail "writing 8 MiB with fsync failed"
kill -KILL "$UV_PID"
uv_wait_exit "$UV_PID" 5 > /dev/null
uv_wait_gone "$disk" 10 || uv_fail "/dev/$disk still there 10 s after SIGKILL"
dd if="$img" of="$UV_TMP/back" bs=1M skip=4 count=8 status=none
cmp -s "$UV_TMP/data" "$UV_TMP/back" || uv_fail "flushed data is not in the backing file after SIGKILL"
uv_log "flushed 8 MiB present in the backing file after SIGKILL"

# discard and write-zeroes
uv_blk_start --user "$img" || uv_fail "emulator did not restart"
disk=$UV_DISK
dmax=$(cat "/sys/block/$disk/queue/discard_max_bytes")
zmax=$(cat "/sys/block/$disk/queue/write_zeroes_max_bytes")
[ "$dmax" -gt 0 ] || uv_fail "discard_max_bytes is $dmax: DISCARD not offered"
[ "$zmax" -gt 0 ] || uv_fail "write_zeroes_max_bytes is $zmax: WRITE_ZEROES not offered"
blkdiscard -o $((5 << 20)) -l $((1 << 20)) "$UV_NODE" || uv_fail "blkdiscard failed"
blkdiscard -z -o $((8 << 20)) -l $((2 << 20)) "$UV_NODE" || uv_fail "blkdiscard -z failed"
head -c $((1 << 20)) /dev/zero > "$UV_TMP/z1"
head -c $((2 << 20)) /dev/zero > "$UV_TMP/z2"
dd if="$UV_NODE" of="$UV_TMP/r" bs=1M skip=5 count=1 iflag=direct status=none
cmp -s "$UV_TMP/r" "$UV_TMP/z1" || uv_fail "discarded range does not read back as zeros"
dd if="$UV_NODE" of="$UV_TMP/r" bs=1M skip=8 count=2 iflag=direct status=none
cmp -s "$UV_TMP/r" "$UV_TMP/z2" || uv_fail "write-zeroes range does not read back as zeros"
dd if="$img" of="$UV_TMP/r" bs=1M skip=8 count=2 status=none
cmp -s "$UV_TMP/r" "$UV_TMP/z2" || uv_fail "write-zeroes range is not zero in the backing file"
# the rest of the written data is intact
for mb in 4 6 7 10 11; do
	dd if="$UV_NODE" of="$UV_TMP/r" bs=1M skip=$mb count=1 iflag=direct status=none
	dd if="$UV_TMP/data" of="$UV_TMP/w" bs=1M skip=$((mb - 4)) count=1 status=none
	cmp -s "$UV_TMP/r" "$UV_TMP/w" || uv_fail "MiB $mb changed by a discard of other ranges"
done
uv_log "discard (1 MiB) and write-zeroes (2 MiB) read back as zeros; neighbours intact"

# resize while mounted
mkfs.ext4 -q -F "$UV_NODE" || uv_fail "mkfs.ext4 failed"
mount -t ext4 "$UV_NODE" "$mnt" || uv_fail "mount failed"
uv_defer "umount '$mnt'"
echo hello > "$mnt/hello"
truncate -s 48M "$img" || uv_fail "cannot grow $img"
kill -HUP "$UV_PID"
for _ in $(seq 50); do
	[ "$(cat "/sys/block/$disk/size")" = 98304 ] && break
	sleep 0.1
done
size=$(cat "/sys/block/$disk/size")
[ "$size" = 98304 ] || uv_fail "after growing the file to 48 MiB and SIGHUP, /sys/block/$disk/size is $size"
uv_log "resize: /sys/block/$disk/size is 98304 while mounted"
# the file is on tmpfs, so mapped: the mapping grew with it
grep -q "resized to 98304 sectors, the file's mapping with it" "$UV_ERR" ||
	uv_fail "the tmpfs file's mapping did not grow with the disk: $(grep -h 'resize' "$UV_ERR")"
resize2fs "$UV_NODE" > "$UV_TMP/resize.out" 2>&1 || { cat "$UV_TMP/resize.out"; uv_fail "online resize2fs failed"; }
blocks=$(df -k "$mnt" | awk 'NR == 2 { print $2 }')
[ "$blocks" -gt 40000 ] || uv_fail "filesystem has $blocks KiB after resize2fs"
[ "$(cat "$mnt/hello")" = hello ] || uv_fail "file changed across the resize"
umount "$mnt" || uv_fail "umount failed"
# what resize2fs wrote into the grown part reads back consistent
e2fsck -fn "$UV_NODE" > "$UV_TMP/fsck.out" 2>&1 ||
	{ cat "$UV_TMP/fsck.out"; uv_fail "e2fsck finds errors after the online resize"; }
uv_log "online resize2fs grew ext4 to $blocks KiB; e2fsck clean"
uv_blk_stop || uv_fail "emulator did not stop cleanly"

# 4 KiB logical blocks
truncate -s 16M "$UV_TMP/bs.img" && chown $UV_USER_UID:$UV_USER_UID "$UV_TMP/bs.img"
uv_blk_start --user --block-size 4096 "$UV_TMP/bs.img" || uv_fail "--block-size 4096 did not start"
lbs=$(cat "/sys/block/$UV_DISK/queue/logical_block_size")
[ "$lbs" = 4096 ] || uv_fail "logical_block_size is $lbs with --block-size 4096"
dd if=/dev/urandom of="$UV_TMP/d4" bs=1M count=4 status=none
dd if="$UV_TMP/d4" of="$UV_NODE" bs=1M oflag=direct status=none || uv_fail "write with 4K blocks failed"
ss=$(blockdev --getss "$UV_NODE")
[ "$ss" = 4096 ] || uv_fail "blockdev --getss says $ss with --block-size 4096"
dd if="$UV_NODE" of="$UV_TMP/r4" bs=1M count=4 iflag=direct status=none
cmp -s "$UV_TMP/d4" "$UV_TMP/r4" || uv_fail "data differs with 4K blocks"
uv_blk_stop || uv_fail "emulator did not stop cleanly"
uv_log "--block-size 4096: logical_block_size 4096, 4 MiB round-trip"

errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
