#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The 30-second tour, run inside the test VM as root:
#   selftests/vm/run --kernel 6.12 -- selftests/demo.sh
# An unprivileged uvirtio-blk (uid 1000) serves a file as a virtio disk; the
# kernel's own virtio_blk drives it; it gets an ext4 filesystem; then the
# emulator is stopped and the disk goes away.
. "$(dirname "$0")/lib.sh" 2>/dev/null || . /selftests/lib.sh
set -e

say() {
	printf '\n== %s\n' "$*"
}

uv_tmpdir
img=$UV_TMP/disk.img
mnt=$UV_TMP/mnt
mkdir -p "$mnt"
uv_defer "umount '$mnt'"

say "kernel $(uname -r); /dev/uvirtio is open to everyone:"
ls -l /dev/uvirtio

say "a 128 MiB sparse file owned by uid $UV_USER_UID"
truncate -s 128M "$img"
chown $UV_USER_UID:$UV_USER_UID "$img"
ls -ls "$img"

say "as uid $UV_USER_UID: uvirtio-blk $img"
uv_blk_start --user "$img" || exit 1
ps -o user,pid,args | grep '[u]virtio-blk' || true
echo "disk node: $UV_NODE ($(cat "/sys/block/$UV_DISK/size") sectors), driven by:"
readlink -f "/sys/block/$UV_DISK/device/driver" || true

say "mkfs.ext4 + mount"
mkfs.ext4 -q -F -L uvirtio-demo "$UV_NODE"
mount "$UV_NODE" "$mnt"
echo "written through a userspace virtio device" > "$mnt/hello.txt"
dd if=/dev/urandom of="$mnt/random.bin" bs=1M count=16 status=none
sha=$(uv_sha256 "$mnt/random.bin")
df -h "$mnt"

say "remount and read back"
umount "$mnt"
mount "$UV_NODE" "$mnt"
cat "$mnt/hello.txt"
[ "$(uv_sha256 "$mnt/random.bin")" = "$sha" ] && echo "random.bin: sha256 $sha matches"
umount "$mnt"

say "SIGTERM to the emulator"
uv_blk_stop
uv_wait_gone "$UV_DISK" 5
echo "emulator exited 0; $UV_NODE is gone"
e2fsck -fn "$img" | tail -n 1
