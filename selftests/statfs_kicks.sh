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
st_pattern 4096 256

st_start --fault-ignore-kicks=0 "$DISK"
st_wait_armed
uv_log "disk $UV_NODE, kicks of queue 0 ignored"

st_read_held 256

re='^queue 0: device has not seen ([0-9]+) available buffers? \(no kick received\?\)$'
st_wait_stuck "$re" 20 || uv_fail "stuck says '$ST_STUCK' 20 s after the read, not the device side of queue 0"
n=${BASH_REMATCH[1]}
st_verdict_after 2.0 "must persist 2 s"
avail=$(st_idx avail_idx) last=$(st_idx last_avail_idx)
uv_log "avail_idx $avail, last_avail_idx $last"
[ $(( (avail - last) & 0xffff )) = "$n" ] || uv_fail "stuck says $n buffers, indices differ by $(( (avail - last) & 0xffff ))"
[ "$n" -ge 1 ] || uv_fail "no buffer counted"
uv_proc_alive $ST_DD || uv_fail "the read completed although kicks are ignored"
[ "$(st_counter kicks)" -ge 1 ] || uv_fail "no kick counted"

st_lift "$ST_WANT"
avail=$(st_idx avail_idx) last=$(st_idx last_avail_idx)
[ "$avail" = "$last" ] || uv_fail "avail_idx $avail != last_avail_idx $last when idle"

uv_blk_stop || uv_fail "emulator did not stop cleanly"
errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
