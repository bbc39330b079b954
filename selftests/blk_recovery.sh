#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-blk in recovery mode loses no I/O when it is killed: while fio
# writes random blocks to a file-backed disk and then verifies them
# (crc32c), the emulator (uid 1000, io_uring) is killed with SIGKILL and a
# new one takes the disk over with --attach, 20 times. fio must end with no
# I/O error and no verify error, and the disk keeps its name throughout.
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv fio
uv_tmpdir
KILLS=20

img=$UV_TMP/img
truncate -s 64M "$img" && chown $UV_USER_UID:$UV_USER_UID "$img" ||
	uv_fail "cannot create $img"
[ -w /sys/module/uvirtio/parameters/recovery_timeout ] ||
	uv_skip "uvirtio.ko has no recovery mode"
echo 30 > /sys/module/uvirtio/parameters/recovery_timeout

uv_blk_start --user --recovery --io uring "$img" || uv_fail "emulator did not start"
node=$UV_NODE
index=$(readlink -f "/sys/block/$UV_DISK" | sed -n 's|.*/uvirtio-\([0-9]*\)/virtio.*|\1|p')
[ -n "$index" ] || uv_fail "cannot find the device index of $UV_DISK"
uv_log "disk $node (uvirtio-$index), recovery mode, emulator pid $UV_PID"

fio --name=recovery --filename="$node" --rw=randwrite --bs=4k --size=16M \
	--direct=1 --ioengine=libaio --iodepth=16 --verify=crc32c \
	--do_verify=1 --verify_fatal=1 --randseed=11 \
	--output="$UV_TMP/fio.log" &
fio_pid=$!
uv_defer "kill -KILL $fio_pid"

for i in $(seq $KILLS); do
	sleep 0.2
	kill -KILL "$UV_PID"
	wait "$UV_PID" 2>/dev/null
	# The fd's release may follow the exit by up to a second: a pending
	# io_uring WAIT holds the file until it ends (at once where the kernel
	# cancels commands, 6.7 on; by its one-second bound before).
	for _ in $(seq 30); do
		state=$(cat "/sys/class/misc/uvirtio/uvirtio-$index/state" 2>/dev/null)
		[ "$state" != recovering ] || break
		sleep 0.1
	done
	[ "$state" = recovering ] || uv_fail "kill $i: state is '$state', not recovering"
	uv_blk_start --user --attach "$index" --io uring "$img" ||
		uv_fail "take-over $i failed"
	[ "$UV_NODE" = "$node" ] || uv_fail "take-over $i: the disk is $UV_NODE, not $node"
done
uv_log "$KILLS times: SIGKILL, state 'recovering', taken over by a new uvirtio-blk --attach"

end=$((SECONDS + 120))
while uv_proc_alive "$fio_pid"; do
	[ $SECONDS -lt $end ] || uv_fail "fio still runs 120 s after the last take-over"
	sleep 0.2
done
wait "$fio_pid"
rc=$?
grep -E '(WRITE|READ):|err=' "$UV_TMP/fio.log" | sed 's/^ */fio: /'
[ $rc = 0 ] || uv_fail "fio exited $rc: I/O or verify errors across the take-overs"
grep -q 'err= 0' "$UV_TMP/fio.log" || uv_fail "fio reports errors"
uv_log "fio: randwrite + crc32c verify of 16 MiB, no error"
uv_blk_stop || uv_fail "the last emulator did not stop cleanly"
uv_pass
