#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# ext4 on a disk served by an unprivileged uvirtio-blk from a sparse file:
# mkfs, mount, write, fsck clean, remount and compare; then the same file
# served by a new emulator still holds the same files.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv mkfs.ext4 e2fsck sha256sum truncate
uv_tmpdir
img=$UV_TMP/disk.img
mnt=$UV_TMP/mnt
mkdir -p "$mnt"
uv_defer "umount '$mnt'"

truncate -s 256M "$img" || uv_fail "cannot create $img"
chown $UV_USER_UID:$UV_USER_UID "$img"
uv_log "sparse 256 MiB file $img owned by uid $UV_USER_UID"

uv_log "starting uvirtio-blk $img as uid $UV_USER_UID"
uv_blk_start --user "$img" || uv_fail "emulator did not start"
size=$(cat "/sys/block/$UV_DISK/size")
[ "$size" = 524288 ] || uv_fail "/sys/block/$UV_DISK/size is $size, expected 524288"
uv_log "disk $UV_NODE, 524288 sectors"

mkfs.ext4 -q -F "$UV_NODE" || uv_fail "mkfs.ext4 $UV_NODE failed"
mount -t ext4 "$UV_NODE" "$mnt" || uv_fail "mount $UV_NODE failed"
uv_log "mkfs.ext4 and mount done"

echo "hello from uvirtio" > "$mnt/hello.txt"
mkdir -p "$mnt/dir/sub"
for i in $(seq 20); do
	seq "$i" 1000 > "$mnt/dir/sub/file$i"
done
dd if=/dev/urandom of="$mnt/random.bin" bs=1M count=32 status=none ||
	uv_fail "writing 32 MiB to the filesystem failed"
(cd "$mnt" && find . -type f | sort | xargs sha256sum) > "$UV_TMP/manifest" ||
	uv_fail "sha256sum of the written files failed"
uv_log "wrote $(wc -l < "$UV_TMP/manifest") files incl. 32 MiB random.bin"

check_files() {
	(cd "$mnt" && sha256sum -c "$UV_TMP/manifest") > "$UV_TMP/check.out" 2>&1 || {
		grep -v ': OK$' "$UV_TMP/check.out"
		uv_fail "files differ $1"
	}
	uv_log "all files identical $1"
}

umount "$mnt" || uv_fail "umount failed"
e2fsck -fn "$UV_NODE" > "$UV_TMP/fsck.out" 2>&1 || {
	cat "$UV_TMP/fsck.out"
	uv_fail "e2fsck -fn $UV_NODE reports problems"
}
uv_log "e2fsck -fn clean"

mount -t ext4 "$UV_NODE" "$mnt" || uv_fail "remount failed"
echo 3 > /proc/sys/vm/drop_caches
check_files "after remount"
umount "$mnt" || uv_fail "umount failed"

disk=$UV_DISK
uv_blk_stop || uv_fail "emulator did not stop cleanly"
uv_wait_gone "$disk" 5 || uv_fail "/dev/$disk still present after the emulator exited"
uv_log "emulator stopped, /dev/$disk gone"

uv_blk_start --user "$img" || uv_fail "second emulator did not start"
uv_log "restarted on the same file: $UV_NODE"
mount -t ext4 "$UV_NODE" "$mnt" || uv_fail "mount after restart failed"
check_files "after restarting the emulator"
umount "$mnt" || uv_fail "umount failed"
uv_blk_stop || uv_fail "second emulator did not stop cleanly"
uv_wait_gone "$UV_DISK" 5 || uv_fail "$UV_NODE still present after the emulator exited"

e2fsck -fn "$img" > "$UV_TMP/fsck.out" 2>&1 || {
	cat "$UV_TMP/fsck.out"
	uv_fail "e2fsck -fn on the backing file reports problems"
}
uv_log "backing file is a clean ext4 image"

uv_pass
