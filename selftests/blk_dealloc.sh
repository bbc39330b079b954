#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A big discard or write-zeroes does not hold up the requests behind it on
# the same queue. uvirtio-blk (one queue) serves a file on tmpfs with
# 384 MiB of data in it; punching that out takes the kernel long enough to
# see (freeing ~100k pages). While a blkdiscard of the whole range is in
# flight, a 4 KiB O_DIRECT read of another part of the disk must complete
# with the discard still in flight (the block layer's own count says so):
# the hole is punched by an io_uring worker, and the queue's thread goes
# on serving. Served inline (as before), the read waited for the punch to
# end. Then the same for write-zeroes (blkdiscard -z), and the
# contents are checked: the ranges read back as zeros, the rest is intact.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv blkdiscard truncate cmp
uv_tmpdir
odread=$(dirname "$0")/odread
[ -x "$odread" ] || uv_fail "$odread is missing"

img=$UV_TMP/disk.img
MB=384
truncate -s 512M "$img" || uv_fail "cannot create $img"
chown $UV_USER_UID:$UV_USER_UID "$img"
uv_blk_start --user --queues 1 "$img" || uv_fail "emulator did not start"
inflight=/sys/block/${UV_NODE##*/}/inflight
[ -r "$inflight" ] || uv_fail "no $inflight"

# the marker: 1 MiB of random data at 448 MiB, outside every range below
dd if=/dev/urandom of="$UV_TMP/mark" bs=1M count=1 status=none
dd if="$UV_TMP/mark" of="$UV_NODE" bs=1M seek=448 oflag=direct status=none ||
	uv_fail "cannot write the marker"

# now_ms - milliseconds on the wall clock
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# inflight_writes - set $wr to the disk's write requests in flight, as the
# block layer counts them (discard and write-zeroes count as writes); no
# fork, so it is read within a moment of being asked
inflight_writes() {
	local rd
	read -r rd wr < "$inflight" || wr=-1
}

# race WHAT ARGS... - fill the first MB MiB, run blkdiscard ARGS over it
# and, as soon as the block layer has it in flight, read 4 KiB at 449 MiB.
# The read must complete while the discard is still in flight. Served
# inline (as before), the read is taken from the ring only after the punch
# and completes after it: the count is back to 0 when the read returns.
race() {
	local what=$1 t0 tr0 tr1 t1 pid left
	shift
	# straight into the image: through the disk it would take a minute
	dd if=/dev/zero of="$img" bs=1M count=$MB conv=notrunc status=none ||
		uv_fail "$what: cannot fill the range"
	inflight_writes
	[ "$wr" = 0 ] || uv_fail "$what: writes in flight before it started"
	t0=$(now_ms)
	blkdiscard "$@" -o 0 -l ${MB}M "$UV_NODE" &
	pid=$!
	while inflight_writes && [ "$wr" = 0 ]; do
		kill -0 $pid 2> /dev/null ||
			uv_fail "$what: over before it was seen in flight (too short to tell)"
		[ $(($(now_ms) - t0)) -lt 10000 ] ||
			uv_fail "$what: not in flight within 10 s"
	done
	tr0=$(now_ms)
	# pread(): dd's lseek() on the disk would wait for the ioctl's lock
	"$odread" "$UV_NODE" $((449 << 20)) 4096 "$UV_TMP/r" > "$UV_TMP/rres" ||
		uv_fail "$what: odread failed"
	inflight_writes
	left=$wr
	tr1=$(now_ms)
	grep -q "^ok 4096" "$UV_TMP/rres" || uv_fail "$what: the read failed: $(cat "$UV_TMP/rres")"
	wait $pid || uv_fail "$what: blkdiscard $* failed"
	t1=$(now_ms)
	uv_log "$what of $MB MiB took $((t1 - t0)) ms; a 4 KiB read issued $((tr0 - t0)) ms in took $((tr1 - tr0)) ms; $left write(s) in flight when it returned"
	[ "$left" -ge 1 ] ||
		uv_fail "$what: the read returned after the $what had completed (it waited for it)"
}

race discard
race write-zeroes -z

for at in 0 $((MB / 2)) $((MB - 8)); do
	dd if="$UV_NODE" of="$UV_TMP/z" bs=1M skip=$at count=8 iflag=direct status=none &&
		cmp -s -n $((8 << 20)) "$UV_TMP/z" /dev/zero ||
		uv_fail "the disk does not read zeros at $at MiB"
done
dd if="$UV_NODE" of="$UV_TMP/back" bs=1M skip=448 count=1 iflag=direct status=none
cmp -s "$UV_TMP/mark" "$UV_TMP/back" || uv_fail "the marker outside the ranges changed"
uv_log "the ranges read back as zeros, the marker is intact"
uv_blk_stop || uv_fail "emulator did not stop cleanly"
uv_pass
