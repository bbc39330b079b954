#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A read buffer never carries earlier data of the bounce pool: the module
# zeroes every device-writable bounce buffer when the driver maps it. As
# uid 1000, each disk with a 1 MiB bounce pool through which 4 MiB of random
# data is written first, so that every part of the pool has held it:
# - null: (which writes nothing into read buffers): reads return zeros;
# - a file disk whose backing file shrank underneath: a read past the new
#   end fails with EIO and the reader's buffer holds zeros, with --io sync
#   and --io uring.
# Without the zeroing both would show the random data (checked once by
# disabling the memset in uv_bounce_map(): the test failed).
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv dd cmp truncate od
odread=$(dirname "$0")/odread
[ -x "$odread" ] || uv_fail "$odread is missing"
uv_tmpdir
head -c $((1 << 20)) /dev/zero > "$UV_TMP/zero"
dd if=/dev/urandom of="$UV_TMP/random" bs=1M count=4 status=none

# cycle DEV - write the 4 MiB of random data to DEV in 64 KiB direct writes
cycle() {
	dd if="$UV_TMP/random" of="$1" bs=64k oflag=direct status=none ||
		uv_fail "writing 4 MiB to $1 failed"
}

uv_blk_start --user --bounce-size 1M null:64M || uv_fail "emulator did not start"
cycle "$UV_NODE"
dd if="$UV_NODE" of="$UV_TMP/r" bs=64k count=16 iflag=direct status=none ||
	uv_fail "reading 1 MiB of $UV_NODE failed"
cmp -s "$UV_TMP/r" "$UV_TMP/zero" ||
	uv_fail "null: a read returned non-zero bytes: $(od -An -tx1 -N16 "$UV_TMP/r" | tr -s ' ')"
uv_log "null: reads are zeros after the pool held random data"
uv_blk_stop || uv_fail "the emulator did not stop cleanly"

img=$UV_TMP/disk.img
for io in sync uring; do
	dd if=/dev/urandom of="$img" bs=1M count=8 status=none
	chown $UV_USER_UID:$UV_USER_UID "$img" || uv_fail "cannot chown $img"
	uv_blk_start --user --bounce-size 1M --io $io "$img" || uv_fail "emulator (--io $io) did not start"
	cycle "$UV_NODE"
	truncate -s 2M "$img" || uv_fail "cannot shrink $img"
	res=$("$odread" "$UV_NODE" $((4 << 20)) $((64 << 10)) "$UV_TMP/r") ||
		uv_fail "odread failed: $res"
	[ "$res" = "error EIO" ] || uv_fail "--io $io: a read past the shrunk file gave '$res', not EIO"
	head -c $((64 << 10)) "$UV_TMP/zero" | cmp -s - "$UV_TMP/r" ||
		uv_fail "--io $io: the failed read's buffer is not zeros: $(od -An -tx1 -N16 "$UV_TMP/r" | tr -s ' ')"
	uv_log "--io $io: a read past the end fails with EIO and leaves zeros in the buffer"
	uv_blk_stop || uv_fail "the emulator (--io $io) did not stop cleanly"
done
uv_pass
