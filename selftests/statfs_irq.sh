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
st_pattern 4096 512

st_start --fault-withhold-irq=0 "$DISK"
st_wait_armed
uv_log "disk $UV_NODE, interrupts of queue 0 withheld"
sup0=$(st_counter interrupts_suppressed)
irq0=$(st_counter interrupts)

st_read_held 512

re='^queue 0: driver has not seen ([0-9]+) used buffers? \(interrupt suppressed or lost\?\)$'
st_wait_stuck "$re" 20 || uv_fail "stuck says '$ST_STUCK' 20 s after the read, not the driver side of queue 0"
n=${BASH_REMATCH[1]}
st_verdict_after 2.0 "must persist 2 s"
shadow=$(st_idx shadow_idx) used=$(st_idx used_idx)
avail=$(st_idx avail_idx) last=$(st_idx last_avail_idx)
uv_log "avail_idx $avail, last_avail_idx $last, shadow_idx $shadow, used_idx $used"
[ $(( (shadow - used) & 0xffff )) = "$n" ] || uv_fail "stuck says $n buffers, shadow and used differ by $(( (shadow - used) & 0xffff ))"
[ "$avail" = "$last" ] || uv_fail "the device did not take the request (avail $avail, last_avail $last)"
sup=$(st_counter interrupts_suppressed) irq=$(st_counter interrupts)
[ "$sup" -gt "$sup0" ] || uv_fail "interrupts_suppressed did not move ($sup0 -> $sup)"
[ "$irq" = "$irq0" ] || uv_fail "interrupts moved ($irq0 -> $irq) although withheld"
uv_log "interrupts_suppressed $sup0 -> $sup, interrupts $irq0 -> $irq"
uv_proc_alive $ST_DD || uv_fail "the read completed although its interrupt was withheld"

st_lift "$ST_WANT"
shadow=$(st_idx shadow_idx) used=$(st_idx used_idx)
[ "$shadow" = "$used" ] || uv_fail "shadow_idx $shadow != used_idx $used when idle"
[ "$(st_counter interrupts)" -gt "$irq" ] || uv_fail "no interrupt counted after SIGUSR1"

uv_blk_stop || uv_fail "emulator did not stop cleanly"
errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
