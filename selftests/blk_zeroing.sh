#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A read buffer never carries earlier data of the bounce pool, in both of
# the module's ways: by default uvirtio-blk creates its disk with
# UVIRTIO_CREATE_F_USED_LEN, and the module hands the driver only the bytes
# a completion's used length covers, zeros for the rest; with
# --zero-buffers the module zeroes every device-writable bounce buffer when
# the driver maps it. As uid 1000, each disk with a 1 MiB bounce pool
# through which 4 MiB of random data is written first, so that every part
# of the pool has held it:
# - null: (which writes nothing into read buffers and says so): reads
#   return zeros, and a read still waiting when its emulator is killed
#   fails with EIO and leaves zeros in the reader's buffer;
# - a file disk whose backing file shrank underneath: a read past the new
#   end fails with EIO and the reader's buffer holds zeros, with --io sync,
#   --io uring and --io map (the file on tmpfs is mapped: the copy from a
#   page that is gone ends in SIGBUS, which uvirtio-blk turns into EIO).
# Without the zeroing both would show the random data (checked once for
# each way: disabling the memset in uv_bounce_map() failed the
# --zero-buffers runs; copying every byte in uv_chain_deliver(), and the
# bounce bytes at unmap in uv_bounce_back(), each failed the default ones).
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

for zero in "" --zero-buffers; do
	way=${zero:-used length}
	uv_blk_start --user --bounce-size 1M $zero null:64M ||
		uv_fail "emulator ($way) did not start"
	cycle "$UV_NODE"
	dd if="$UV_NODE" of="$UV_TMP/r" bs=64k count=16 iflag=direct status=none ||
		uv_fail "reading 1 MiB of $UV_NODE failed"
	cmp -s "$UV_TMP/r" "$UV_TMP/zero" ||
		uv_fail "null: ($way): a read returned non-zero bytes: $(od -An -tx1 -N16 "$UV_TMP/r" | tr -s ' ')"
	uv_log "null: ($way): reads are zeros after the pool held random data"
	uv_blk_stop || uv_fail "the emulator ($way) did not stop cleanly"

	# A read the kernel fails itself: its emulator is killed while the
	# read waits (every request waits 1 s), so no completion says what
	# was written. 1 MiB of random data first, through the 1 MiB pool.
	uv_blk_start --user --bounce-size 1M --fault-delay-ms 1000 $zero null:64M ||
		uv_fail "emulator (delayed, $way) did not start"
	dd if="$UV_TMP/random" of="$UV_NODE" bs=256k count=4 oflag=direct status=none ||
		uv_fail "writing 1 MiB to $UV_NODE failed"
	"$odread" "$UV_NODE" 0 $((64 << 10)) "$UV_TMP/r" > "$UV_TMP/res" &
	rd=$!
	for i in $(seq 200); do
		[ "$(awk '{ print $1 }' /sys/block/$UV_DISK/inflight)" = 0 ] || break
		sleep 0.05
	done
	kill -KILL $UV_PID
	wait $rd || uv_fail "odread failed: $(cat "$UV_TMP/res")"
	res=$(cat "$UV_TMP/res")
	[ "$res" = "error EIO" ] || uv_fail "($way): a read whose emulator died gave '$res', not EIO"
	head -c $((64 << 10)) "$UV_TMP/zero" | cmp -s - "$UV_TMP/r" ||
		uv_fail "($way): the buffer of a read failed by the kernel is not zeros: $(od -An -tx1 -N16 "$UV_TMP/r" | tr -s ' ')"
	uv_wait_exit $UV_PID 5 > /dev/null
	uv_log "null: ($way): a read failed when its emulator died leaves zeros in the buffer"

	img=$UV_TMP/disk.img
	for io in sync uring map; do
		dd if=/dev/urandom of="$img" bs=1M count=8 status=none
		chown $UV_USER_UID:$UV_USER_UID "$img" || uv_fail "cannot chown $img"
		uv_blk_start --user --bounce-size 1M --io $io $zero "$img" ||
			uv_fail "emulator (--io $io, $way) did not start"
		cycle "$UV_NODE"
		truncate -s 2M "$img" || uv_fail "cannot shrink $img"
		res=$("$odread" "$UV_NODE" $((4 << 20)) $((64 << 10)) "$UV_TMP/r") ||
			uv_fail "odread failed: $res"
		[ "$res" = "error EIO" ] ||
			uv_fail "--io $io ($way): a read past the shrunk file gave '$res', not EIO"
		head -c $((64 << 10)) "$UV_TMP/zero" | cmp -s - "$UV_TMP/r" ||
			uv_fail "--io $io ($way): the failed read's buffer is not zeros: $(od -An -tx1 -N16 "$UV_TMP/r" | tr -s ' ')"
		uv_log "--io $io ($way): a read past the end fails with EIO and leaves zeros in the buffer"
		uv_blk_stop || uv_fail "the emulator (--io $io, $way) did not stop cleanly"
	done
done
uv_pass
