#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The largest request the driver can build fits the bounce pool. A request
# is mapped whole or not at all, and one that can never fit is retried by
# the block layer forever: its writer hangs in D state and cannot be
# killed (found with a 1 MiB pool and 1 MiB direct writes: 254 page-sized
# segments need more than the pool). The module refuses a config whose
# largest request cannot fit even in page-sized segments and reports, as
# the DMA layer's max_mapping_size, the segment size that lets it fit
# (uv_blk_segment()); uvirtio-blk asks for at most half the pool in pages.
# As uid 1000, for pools of 1, 2 and 4 MiB, the default, and a 2-segment
# disk: the queue limits in sysfs fit the pool; with max_sectors_kb raised
# as far as it goes, 8 MiB of random data written with one direct 8 MiB
# write and read back in 1 MiB reads (page-sized segments), and 2 MiB read into a huge
# page (the largest segments), each within 60 s and with the right bytes;
# and after a take-over by a process whose own options would allow fewer
# segments than the driver uses, 8 MiB written and read back.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv dd cmp od
odread=$(dirname "$0")/odread
[ -x "$odread" ] || uv_fail "$odread is missing"
uv_tmpdir
dd if=/dev/urandom of="$UV_TMP/random" bs=1M count=8 status=none

# bounded CMD... - run CMD in the background; fail the test if it has not
# ended within 60 s (a request that never fits never ends), else return its
# status
bounded() {
	local rc
	"$@" &
	uv_wait_exit $! 60
	rc=$?
	[ $rc != 255 ] ||
		uv_fail "$pool: '$*' did not end in 60 s ($(tr -s " " < /sys/block/$UV_DISK/inflight) in flight): a request that never fits the pool?"
	return $rc
}

# big_io - the random data to UV_NODE in one direct 8 MiB write (its
# buffer may be huge pages: large segments), read back in 1 MiB direct
# reads (a 1 MiB buffer is small pages: as many segments as allowed),
# compared
big_io() {
	bounded dd if="$UV_TMP/random" of="$UV_NODE" bs=8M oflag=direct status=none ||
		uv_fail "$pool: the 8 MiB direct write failed"
	bounded dd if="$UV_NODE" of="$UV_TMP/back" bs=1M count=8 iflag=direct status=none ||
		uv_fail "$pool: the 1 MiB direct reads failed"
	cmp -s "$UV_TMP/random" "$UV_TMP/back" ||
		uv_fail "$pool: 8 MiB read back differ from what was written"
}

# one LABEL POOL_BYTES ARGS... - start a disk with ARGS and drive it
one() {
	local pool=$1 bytes=$2 q segs seg hw want
	shift 2
	uv_blk_start --user "$@" ram:64M || uv_fail "$pool: emulator did not start"
	q=/sys/block/$UV_DISK/queue
	segs=$(cat $q/max_segments)
	seg=$(cat $q/max_segment_size)
	[ $((seg % 4096)) = 0 ] && [ "$seg" -ge 4096 ] && [ "$seg" -le $((256 << 10)) ] ||
		uv_fail "$pool: max_segment_size $seg is not pages of at most 256 KiB"
	[ $((segs * seg)) -le "$bytes" ] ||
		uv_fail "$pool: $segs segments of $seg bytes exceed the $bytes-byte pool"
	hw=$(cat $q/max_hw_sectors_kb)
	want=$(( hw < 65536 ? hw : 65536 ))
	echo $want > $q/max_sectors_kb || uv_fail "$pool: cannot set max_sectors_kb to $want"
	uv_log "$pool: $segs segments of $seg bytes, max_sectors_kb $(cat $q/max_sectors_kb)"

	big_io
	bounded "$odread" "$UV_NODE" $((2 << 20)) $((2 << 20)) "$UV_TMP/r" huge \
		> "$UV_TMP/res" || uv_fail "$pool: odread failed: $(cat "$UV_TMP/res")"
	case "$(cat "$UV_TMP/res")" in
	"ok 2097152 huge") ;;
	"ok 2097152 small") uv_log "$pool: no huge page backed the 2 MiB read (page-sized segments only)" ;;
	*) uv_fail "$pool: the 2 MiB read gave '$(cat "$UV_TMP/res")'" ;;
	esac
	tail -c +$(((2 << 20) + 1)) "$UV_TMP/random" | head -c $((2 << 20)) |
		cmp -s - "$UV_TMP/r" || uv_fail "$pool: the 2 MiB read returned other bytes"
	uv_log "$pool: 8 MiB written and read back, 2 MiB read in large segments"
	uv_blk_stop || uv_fail "$pool: the emulator did not stop cleanly"
}

one "1 MiB pool" $((1 << 20)) --bounce-size 1M
one "2 MiB pool" $((2 << 20)) --bounce-size 2M
one "4 MiB pool" $((4 << 20)) --bounce-size 4M
one "default pool" $((32 << 20))
# two segments per request leave room for the largest segments
one "1 MiB pool, queue size 4" $((1 << 20)) --bounce-size 1M --queue-size 4

# A take-over serves the requests the driver sized at probe time: a disk
# created with the default pool (254 segments) taken over by a process
# whose own options (--bounce-size 1M) would give 128.
[ -w /sys/module/uvirtio/parameters/recovery_timeout ] ||
	uv_skip "uvirtio.ko has no recovery mode (the take-over case)"
echo 30 > /sys/module/uvirtio/parameters/recovery_timeout
img=$UV_TMP/img
truncate -s 64M "$img" && chown $UV_USER_UID:$UV_USER_UID "$img" ||
	uv_fail "cannot create $img"
pool="take-over"
uv_blk_start --user --recovery "$img" || uv_fail "$pool: emulator did not start"
index=$(readlink -f "/sys/block/$UV_DISK" | sed -n 's|.*/uvirtio-\([0-9]*\)/virtio.*|\1|p')
[ -n "$index" ] || uv_fail "cannot find the device index of $UV_DISK"
kill -KILL "$UV_PID"
wait "$UV_PID" 2> /dev/null
for _ in $(seq 30); do
	[ "$(cat /sys/class/misc/uvirtio/uvirtio-$index/state 2> /dev/null)" != recovering ] || break
	sleep 0.1
done
uv_blk_start --user --attach "$index" --bounce-size 1M "$img" ||
	uv_fail "$pool: the take-over failed"
q=/sys/block/$UV_DISK/queue
echo 65536 > $q/max_sectors_kb || uv_fail "$pool: cannot raise max_sectors_kb"
big_io
uv_log "$pool: $(cat $q/max_segments) segments per request served after --attach --bounce-size 1M"
uv_blk_stop || uv_fail "$pool: the emulator did not stop cleanly"
uv_pass
