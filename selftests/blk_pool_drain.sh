#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Bounce extents the module keeps for reuse never make the pool look full.
# The module keeps up to 64 freed extents of each size up to 4 KiB for the
# next mapping of that size (uv_pool_alloc()); a mapping that finds no room
# in the pool's bitmap gets them back first. As uid 1000, a null: disk with
# a 1 MiB bounce pool: fio's 4k-128k random reads scatter kept 4 KiB
# extents over the pool, then a 256 KiB read into a huge page (one 256 KiB
# segment, the largest mapping the module allows) must finish, each of 8
# rounds, within 20 s. Without the give-back such a mapping can never fit
# and the read is retried forever (checked once by removing it: the first
# round timed out). Skips if no huge page could back the read's buffer.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk fio
odread=$(dirname "$0")/odread
[ -x "$odread" ] || uv_fail "$odread is missing"
uv_tmpdir
engine=libaio
if fio --name=probe --filename="$UV_TMP/probe" --size=64k --bs=4k --rw=read \
       --ioengine=io_uring --output=/dev/null > /dev/null 2>&1; then
	engine=io_uring
fi

uv_blk_start --user --bounce-size 1M --queue-size 4 null:64M ||
	uv_fail "emulator did not start"
seg=$(cat /sys/block/$UV_DISK/queue/max_segment_size)
[ "$seg" -ge $((128 << 10)) ] || uv_fail "the largest segment is $seg bytes, not a large mapping"
uv_log "disk $UV_NODE, 1 MiB bounce pool, segments of $seg bytes; fio with $engine"
for round in 1 2 3 4 5 6 7 8; do
	fio --name=scatter --filename="$UV_NODE" --direct=1 --ioengine=$engine \
	    --rw=randread --bsrange=4k-128k --iodepth=32 --size=64M \
	    --time_based --runtime=1 --output=/dev/null ||
		uv_fail "round $round: fio failed"
	# in the background: a read the disk never completes sleeps uninterruptibly;
	# killing the emulator at exit removes the disk, which fails it
	"$odread" "$UV_NODE" $((round << 20)) $seg "$UV_TMP/r" huge \
		> "$UV_TMP/res" &
	uv_wait_exit $! 20
	rc=$?
	[ $rc != 255 ] ||
		uv_fail "round $round: a $seg-byte read did not finish in 20 s (the pool's kept extents were not given back)"
	[ $rc = 0 ] || uv_fail "round $round: odread failed: $(cat "$UV_TMP/res")"
	res=$(cat "$UV_TMP/res")
	case "$res" in
	"ok $seg huge") ;;
	"ok $seg small") uv_skip "no huge page backed the read's buffer: the read is not one mapping" ;;
	*) uv_fail "round $round: the $seg-byte read gave '$res'" ;;
	esac
done
uv_log "8 rounds: a $seg-byte mapping found room after fio each time"
uv_blk_stop || uv_fail "the emulator did not stop cleanly"
uv_pass
