#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# fio --verify=crc32c against an unprivileged uvirtio-blk with a RAM
# backend, 1 and 4 queues: random writes of 512 B to 1 MiB read back and
# checked, at depth 1 and 64, then a random read/write mix with verify
# backlog. Zero fio errors, zero verify failures. (virtio_blk uses at most
# one queue per CPU: with 4 queues on 2 vCPUs, 2 of them carry I/O.)
# Then the notification settings at their extremes, one queue: the longest
# interrupt-coalescing hold with the longest poll, and neither; and a disk
# without indirect descriptors (--no-indirect), whose requests of up to
# 254 segments each take that many ring entries and two more, so that at
# depth 64 they wait for room in the ring. The RAM disk copies with the
# routine --copy names: the 8-byte loop (1 queue), memcpy() (4 queues), or
# the one measured faster at start (the rest); each says which it uses.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv fio
uv_tmpdir
. "$UV_DIR/blk_verify_lib.sh"

for q in 1 4; do
	copy=loop
	[ $q = 1 ] || copy=memcpy
	uv_blk_start --user --queues $q --copy $copy ram:64M ||
		uv_fail "emulator (--queues $q) did not start"
	if [ $copy = loop ]; then
		bv_check_copy "--copy loop" "the 8-byte loop (--copy loop)"
	else
		bv_check_copy "--copy memcpy" "memcpy() (--copy memcpy)"
	fi
	bv_check_queues $q
	uv_log "ram:64M, $q queue(s), --copy $copy: $UV_NODE has $BV_NQ blk-mq queue(s)"
	bv_verify_set "ram q$q" "$UV_NODE" 8M
	uv_blk_stop || uv_fail "emulator did not stop cleanly"
done
for opts in "--coalesce-us 1000 --poll-us 10000" "--coalesce-us 0 --no-poll" \
	"--no-indirect"; do
	# shellcheck disable=SC2086
	uv_blk_start --user $opts ram:64M || uv_fail "emulator ($opts) did not start"
	bv_check_copy "ram $opts" "$BV_COPY_MEASURED"
	grep "bulk copies by" "$UV_ERR" | sed 's/^/  /'
	# the driver's features, one character a bit: 28 is INDIRECT_DESC
	f=$(cat "/sys/block/$UV_DISK/device/features")
	want=1
	[ "$opts" != --no-indirect ] || want=0
	[ "${f:28:1}" = $want ] ||
		uv_fail "ram $opts: VIRTIO_RING_F_INDIRECT_DESC is '${f:28:1}' in the driver's features, not $want"
	bv_fio "ram $opts" "$UV_NODE" 8M --rw=randwrite --bsrange=512-1M --iodepth=1
	bv_fio "ram $opts" "$UV_NODE" 8M --rw=randrw --bsrange=512-1M --iodepth=64 \
		--verify_backlog=16
	uv_blk_stop || uv_fail "emulator ($opts) did not stop cleanly"
done
bv_check_dmesg
uv_pass
