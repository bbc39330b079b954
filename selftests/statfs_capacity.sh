#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Writing DIR/capacity grows the disk: ext4 on a 64 MiB disk, capacity
# written as 128 MiB: the backing file grows, /sys/block/vdX/size and
# blockdev --getsize64 follow, the file's mapping grows with it (the file
# is on tmpfs), resize2fs grows the mounted filesystem, 8 MiB more go in,
# the file written before is intact, e2fsck is clean. Bad values are
# refused with EINVAL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/statfs_lib.sh"

statfs_setup
uv_need mkfs.ext4 resize2fs e2fsck blockdev
st_start "$DISK"
uv_log "disk $UV_NODE"
[ "$(st_read capacity)" = 131072 ] || uv_fail "capacity reads '$(st_read capacity)', not 131072"

mkfs.ext4 -q -F "$UV_NODE" || uv_fail "mkfs.ext4"
mkdir "$UV_TMP/mnt"
mount "$UV_NODE" "$UV_TMP/mnt" || uv_fail "mount"
uv_defer "umount '$UV_TMP/mnt'"
head -c $((8 << 20)) /dev/urandom > "$UV_TMP/mnt/data"
want=$(uv_sha256 "$UV_TMP/mnt/data")
before=$(df -k "$UV_TMP/mnt" | awk 'NR == 2 { print $2 }')

for bad in 0 abc -5 12x; do
	# bash's echo names the errno (dash's says "I/O error" for any)
	out=$(uv_as_user bash -c "echo $bad > '$ST/capacity'" 2>&1) &&
		uv_fail "capacity accepted '$bad'"
	grep -q "Invalid argument" <<< "$out" || uv_fail "capacity '$bad': '$out', not EINVAL"
done
uv_log "bad capacities refused with EINVAL"

uv_as_user bash -c "echo 262144 > '$ST/capacity'" || uv_fail "writing capacity 262144 failed"
end=$((SECONDS + 10))
while [ "$(cat /sys/block/$UV_DISK/size)" != 262144 ]; do
	[ $SECONDS -lt $end ] || uv_fail "/sys/block/$UV_DISK/size is $(cat /sys/block/$UV_DISK/size) 10 s after the write"
	sleep 0.2
done
[ "$(blockdev --getsize64 "$UV_NODE")" = 134217728 ] || uv_fail "blockdev --getsize64 says $(blockdev --getsize64 "$UV_NODE")"
[ "$(stat -c %s "$DISK")" = 134217728 ] || uv_fail "backing file is $(stat -c %s "$DISK") bytes"
[ "$(st_read capacity)" = 262144 ] || uv_fail "capacity reads '$(st_read capacity)'"
grep -q "resized to 262144 sectors, the file's mapping with it" "$UV_ERR" ||
	uv_fail "the tmpfs file's mapping did not grow with the disk: $(grep -h 'resize' "$UV_ERR")"
uv_log "disk grew: size 262144 sectors, 134217728 bytes, backing file and its mapping too"

resize2fs "$UV_NODE" > "$UV_TMP/resize.out" 2>&1 || { cat "$UV_TMP/resize.out"; uv_fail "resize2fs"; }
after=$(df -k "$UV_TMP/mnt" | awk 'NR == 2 { print $2 }')
uv_log "filesystem: $before KiB before, $after KiB after resize2fs"
[ "$after" -gt $((before * 3 / 2)) ] || uv_fail "filesystem did not grow enough ($before -> $after KiB)"
head -c $((8 << 20)) /dev/urandom > "$UV_TMP/mnt/more" || uv_fail "cannot write to the grown filesystem"
sync
[ "$(uv_sha256 "$UV_TMP/mnt/data")" = "$want" ] || uv_fail "data changed"
umount "$UV_TMP/mnt" || uv_fail "umount"
e2fsck -fn "$UV_NODE" > "$UV_TMP/fsck.out" 2>&1 || { cat "$UV_TMP/fsck.out"; uv_fail "e2fsck found errors"; }
uv_log "data intact, 8 MiB more written, e2fsck clean"

uv_blk_stop || uv_fail "emulator did not stop cleanly"
errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
