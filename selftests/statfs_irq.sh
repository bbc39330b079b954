#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# --fault-withhold-irq=0: a read is served and its completion published in
# the shadow ring, but the call eventfd is not written, so the kernel never
# copies it to the driver. After 2 s the stuck file names queue 0 and the
# driver side with the right count, shadow_idx is ahead of used_idx, the
# suppressed-interrupt counter moved; after SIGUSR1 the read completes
# with the right data and stuck says ok.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/statfs_lib.sh"

statfs_setup
uv_need dd sha256sum
head -c 4096 /dev/urandom > "$UV_TMP/pattern"
dd if="$UV_TMP/pattern" of="$DISK" bs=4096 seek=512 conv=notrunc status=none
want=$(uv_sha256 "$UV_TMP/pattern")

st_start --fault-withhold-irq=0 "$DISK"
st_wait_armed
uv_log "disk $UV_NODE, interrupts of queue 0 withheld"
sup0=$(st_counter interrupts_suppressed)
irq0=$(st_counter interrupts)

start=$EPOCHREALTIME
dd if="$UV_NODE" of="$UV_TMP/read" bs=4096 skip=512 count=1 iflag=direct status=none &
dd_pid=$!
uv_defer "kill -KILL $dd_pid"

re='^queue 0: driver has not seen ([0-9]+) used buffers? \(interrupt suppressed or lost\?\)$'
st_wait_stuck "$re" 20 || uv_fail "stuck says '$ST_STUCK' 20 s after the read, not the driver side of queue 0"
n=${BASH_REMATCH[1]}
after=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
uv_log "stuck after ${after} s: $ST_STUCK"
awk -v t="$after" 'BEGIN { exit !(t >= 2.0) }' || uv_fail "verdict after only $after s (must persist 2 s)"
shadow=$(st_idx shadow_idx) used=$(st_idx used_idx)
avail=$(st_idx avail_idx) last=$(st_idx last_avail_idx)
uv_log "avail_idx $avail, last_avail_idx $last, shadow_idx $shadow, used_idx $used"
[ $(( (shadow - used) & 0xffff )) = "$n" ] || uv_fail "stuck says $n buffers, shadow and used differ by $(( (shadow - used) & 0xffff ))"
[ "$avail" = "$last" ] || uv_fail "the device did not take the request (avail $avail, last_avail $last)"
sup=$(st_counter interrupts_suppressed) irq=$(st_counter interrupts)
[ "$sup" -gt "$sup0" ] || uv_fail "interrupts_suppressed did not move ($sup0 -> $sup)"
[ "$irq" = "$irq0" ] || uv_fail "interrupts moved ($irq0 -> $irq) although withheld"
uv_log "interrupts_suppressed $sup0 -> $sup, interrupts $irq0 -> $irq"
uv_proc_alive $dd_pid || uv_fail "the read completed although its interrupt was withheld"

kill -USR1 $UV_PID
uv_wait_exit $dd_pid 10
rc=$?
[ $rc = 0 ] || uv_fail "the read did not complete within 10 s of SIGUSR1 (rc $rc)"
[ "$(uv_sha256 "$UV_TMP/read")" = "$want" ] || uv_fail "the read returned wrong data"
uv_log "SIGUSR1: the read completed with the right data"
st_wait_stuck '^ok$' 5 || uv_fail "stuck still says '$ST_STUCK' 5 s after the fault was lifted"
uv_log "stuck says ok again"
shadow=$(st_idx shadow_idx) used=$(st_idx used_idx)
[ "$shadow" = "$used" ] || uv_fail "shadow_idx $shadow != used_idx $used when idle"
[ "$(st_counter interrupts)" -gt "$irq" ] || uv_fail "no interrupt counted after SIGUSR1"

uv_blk_stop || uv_fail "emulator did not stop cleanly"
errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
