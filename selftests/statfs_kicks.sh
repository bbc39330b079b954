#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# --fault-ignore-kicks=0: a read stays in the avail ring; after 2 s the
# stuck file names queue 0 and the device side with the right count, the
# index files agree (avail_idx ahead of last_avail_idx), and after SIGUSR1
# lifts the fault the read completes with the right data and stuck says ok.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/statfs_lib.sh"

statfs_setup
uv_need dd sha256sum
# known data at 1 MiB, where nothing else reads
head -c 4096 /dev/urandom > "$UV_TMP/pattern"
dd if="$UV_TMP/pattern" of="$DISK" bs=4096 seek=256 conv=notrunc status=none
want=$(uv_sha256 "$UV_TMP/pattern")

st_start --fault-ignore-kicks=0 "$DISK"
st_wait_armed
uv_log "disk $UV_NODE, kicks of queue 0 ignored"

start=$EPOCHREALTIME
dd if="$UV_NODE" of="$UV_TMP/read" bs=4096 skip=256 count=1 iflag=direct status=none &
dd_pid=$!
uv_defer "kill -KILL $dd_pid"

re='^queue 0: device has not seen ([0-9]+) available buffers? \(no kick received\?\)$'
st_wait_stuck "$re" 20 || uv_fail "stuck says '$ST_STUCK' 20 s after the read, not the device side of queue 0"
n=${BASH_REMATCH[1]}
after=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
uv_log "stuck after ${after} s: $ST_STUCK"
# the verdict needs the condition to hold for 2 s
awk -v t="$after" 'BEGIN { exit !(t >= 2.0) }' || uv_fail "verdict after only $after s (must persist 2 s)"
avail=$(st_idx avail_idx) last=$(st_idx last_avail_idx)
uv_log "avail_idx $avail, last_avail_idx $last"
[ $(( (avail - last) & 0xffff )) = "$n" ] || uv_fail "stuck says $n buffers, indices differ by $(( (avail - last) & 0xffff ))"
[ "$n" -ge 1 ] || uv_fail "no buffer counted"
uv_proc_alive $dd_pid || uv_fail "the read completed although kicks are ignored"
[ "$(st_counter kicks)" -ge 1 ] || uv_fail "no kick counted"

kill -USR1 $UV_PID
uv_wait_exit $dd_pid 10
rc=$?
[ $rc = 0 ] || uv_fail "the read did not complete within 10 s of SIGUSR1 (rc $rc)"
[ "$(uv_sha256 "$UV_TMP/read")" = "$want" ] || uv_fail "the read returned wrong data"
uv_log "SIGUSR1: the read completed with the right data"
st_wait_stuck '^ok$' 5 || uv_fail "stuck still says '$ST_STUCK' 5 s after the fault was lifted"
uv_log "stuck says ok again"
avail=$(st_idx avail_idx) last=$(st_idx last_avail_idx)
[ "$avail" = "$last" ] || uv_fail "avail_idx $avail != last_avail_idx $last when idle"

uv_blk_stop || uv_fail "emulator did not stop cleanly"
errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
