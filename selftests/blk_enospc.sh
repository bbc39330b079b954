#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A backing file on a small tmpfs that fills up: writes beyond its space
# fail with I/O errors (ENOSPC from the file becomes VIRTIO_BLK_S_IOERR),
# the emulator keeps serving (reads and writes to allocated blocks still
# work), nothing crashes, it stops cleanly, and the kernel log has no
# warning.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv dd cmp truncate mount
uv_tmpdir
small=$UV_TMP/small
mkdir -p "$small"
mount -t tmpfs -o size=4M,mode=0777 tmpfs "$small" || uv_fail "cannot mount a 4 MiB tmpfs"
uv_defer "umount '$small'"
img=$small/disk.img
truncate -s 32M "$img" && chown $UV_USER_UID:$UV_USER_UID "$img" || uv_fail "cannot create $img"

for mode in buffered direct; do
	args=()
	[ $mode = buffered ] || args=(--direct --io uring)
	if [ $mode = direct ] && ! dd if=/dev/zero of="$small/probe" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
		uv_log "direct: tmpfs has no O_DIRECT on $(uname -r); buffered only"
		continue
	fi
	rm -f "$small/probe"
	uv_blk_start --user "${args[@]}" "$img" || uv_fail "$mode: emulator did not start"
	dd if=/dev/urandom of="$UV_TMP/one" bs=1M count=1 status=none
	dd if="$UV_TMP/one" of="$UV_NODE" bs=1M count=1 oflag=direct status=none ||
		uv_fail "$mode: writing the first MiB failed"
	if dd if=/dev/zero of="$UV_NODE" bs=1M seek=2 count=16 oflag=direct status=none 2> "$UV_TMP/dd.err"; then
		uv_fail "$mode: writing 16 MiB into a 4 MiB filesystem succeeded"
	fi
	grep -qi 'error' "$UV_TMP/dd.err" || { cat "$UV_TMP/dd.err"; uv_fail "$mode: dd failed without an I/O error"; }
	uv_log "$mode: writes past the full filesystem fail: $(head -n 1 "$UV_TMP/dd.err")"
	uv_proc_alive "$UV_PID" || uv_fail "$mode: emulator died on ENOSPC"
	dd if="$UV_NODE" of="$UV_TMP/r" bs=1M count=1 iflag=direct status=none ||
		uv_fail "$mode: reading after ENOSPC failed"
	cmp -s "$UV_TMP/one" "$UV_TMP/r" || uv_fail "$mode: first MiB changed after ENOSPC"
	dd if="$UV_TMP/one" of="$UV_NODE" bs=1M count=1 oflag=direct status=none ||
		uv_fail "$mode: rewriting an allocated MiB after ENOSPC failed"
	uv_log "$mode: emulator still serves reads and writes to allocated blocks"
	uv_blk_stop || uv_fail "$mode: emulator did not stop cleanly"
	truncate -s 0 "$img" && truncate -s 32M "$img"
done

errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_log "kernel log has no warnings"
uv_pass
