#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-blk's test fault switches hold I/O back while set and SIGUSR1
# lifts them at run time:
# - --fault-delay-ms=300: a 4 KiB read takes at least 0.3 s; after SIGUSR1
#   reads are fast again;
# - --fault-withhold-irq=0 and --fault-ignore-kicks=0: a read of the new
#   disk stays in flight while the fault holds (1 s), completes once
#   SIGUSR1 lifts it, and reads return the right data. (The faults are
#   armed once the disk exists; a uid 1000 disk gets no partition scan, so
#   the test issues that first read itself.)
. "$(dirname "$0")/lib.sh"

uv_need uvirtio-blk setpriv dd cmp
uv_tmpdir

dd if=/dev/urandom of="$UV_TMP/img" bs=1M count=4 status=none
chown $UV_USER_UID:$UV_USER_UID "$UV_TMP/img"

# ms_now - milliseconds since the epoch
ms_now() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

uv_blk_start --user --fault-delay-ms=300 "$UV_TMP/img" || uv_fail "emulator with --fault-delay-ms did not start"
t0=$(ms_now)
dd if="$UV_NODE" of=/dev/null bs=4k count=1 skip=100 iflag=direct status=none || uv_fail "read failed"
t1=$(ms_now)
[ $((t1 - t0)) -ge 300 ] || uv_fail "a read took $((t1 - t0)) ms with --fault-delay-ms=300"
kill -USR1 "$UV_PID"
sleep 0.5
t0=$(ms_now)
dd if="$UV_NODE" of=/dev/null bs=4k count=4 skip=200 iflag=direct status=none || uv_fail "read failed"
t1=$(ms_now)
[ $((t1 - t0)) -lt 1000 ] || uv_fail "4 reads took $((t1 - t0)) ms after SIGUSR1 lifted the delay"
uv_log "delay fault: one read >= 300 ms; after SIGUSR1, 4 reads in $((t1 - t0)) ms"
uv_blk_stop || uv_fail "emulator did not stop cleanly"

# start_held ARG... - start the emulator as uid 1000 and wait for its
# node; sets UV_PID, UV_DISK
start_held() {
	UV_OUT=$UV_TMP/held.out
	(exec setpriv --reuid=$UV_USER_UID --regid=$UV_USER_UID --clear-groups -- \
		uvirtio-blk "$@") > "$UV_OUT" 2> "$UV_TMP/held.err" < /dev/null &
	UV_PID=$!
	UV_EMULATORS+=("$UV_PID")
	for _ in $(seq 300); do
		UV_DISK=$(tail -n 1 "$UV_OUT")
		UV_DISK=${UV_DISK#/dev/}
		[ -n "$UV_DISK" ] && [ -e "/sys/block/$UV_DISK/inflight" ] && return 0
		sleep 0.1
	done
	cat "$UV_TMP/held.err"
	return 1
}

# inflight DISK - requests the block layer has in flight on DISK
inflight() {
	local r w
	read -r r w < "/sys/block/$1/inflight"
	echo $((r + w))
}

for fault in withhold-irq ignore-kicks; do
	start_held --fault-$fault=0 --no-poll "$UV_TMP/img" ||
		uv_fail "emulator with --fault-$fault=0 did not start"
	dd if="/dev/$UV_DISK" of=/dev/null bs=4k count=1 skip=7 iflag=direct \
		status=none 2>/dev/null &
	reader=$!
	for _ in $(seq 30); do
		[ "$(inflight "$UV_DISK")" -gt 0 ] && break
		sleep 0.1
	done
	sleep 1
	n=$(inflight "$UV_DISK")
	[ "$n" -gt 0 ] || uv_fail "--fault-$fault=0: nothing in flight: the kernel's first read completed while the fault held"
	kill -USR1 "$UV_PID"
	for _ in $(seq 100); do
		[ "$(inflight "$UV_DISK")" = 0 ] && break
		sleep 0.1
	done
	[ "$(inflight "$UV_DISK")" = 0 ] || uv_fail "--fault-$fault=0: requests still in flight 10 s after SIGUSR1"
	wait "$reader" || uv_fail "--fault-$fault=0: the held read failed"
	dd if="/dev/$UV_DISK" of="$UV_TMP/r" bs=4k count=1 skip=500 iflag=direct status=none ||
		uv_fail "--fault-$fault=0: read after SIGUSR1 failed"
	dd if="$UV_TMP/img" of="$UV_TMP/w" bs=4k count=1 skip=500 status=none
	cmp -s "$UV_TMP/r" "$UV_TMP/w" || uv_fail "--fault-$fault=0: wrong data after the fault was lifted"
	uv_log "--fault-$fault=0: $n request(s) held for 1 s, all done after SIGUSR1, data right"
	uv_blk_stop || uv_fail "emulator did not stop cleanly"
done

errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
