#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# --fault-delay-ms=7000: two reads are taken by the device and held; the
# inflight file lists both (head, type read, sector, length, age), stuck
# stays ok while they are young and then says "2 requests inside the
# emulator for more than 5 s"; after SIGUSR1 both complete with the right
# data, inflight is empty and stuck says ok.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/statfs_lib.sh"

statfs_setup
uv_need dd sha256sum
st_pattern 8192 768
want1=$(head -c 4096 "$UV_TMP/pattern" | sha256sum | cut -d' ' -f1)
want2=$(tail -c 4096 "$UV_TMP/pattern" | sha256sum | cut -d' ' -f1)

st_start --fault-delay-ms=7000 "$DISK"
st_wait_armed
uv_log "disk $UV_NODE, completions held 7 s"

ST_T0=$EPOCHREALTIME
dd if="$UV_NODE" of="$UV_TMP/read1" bs=4096 skip=768 count=1 iflag=direct status=none &
dd1=$!
dd if="$UV_NODE" of="$UV_TMP/read2" bs=4096 skip=769 count=1 iflag=direct status=none &
dd2=$!
uv_defer "kill -KILL $dd1 $dd2"

# both requests show up in the inflight file
end=$((SECONDS + 10))
while :; do
	inflight=$(st_read queues/0/inflight)
	[ "$(grep -c . <<< "$inflight")" = 2 ] && break
	[ $SECONDS -lt $end ] || uv_fail "inflight lists $(grep -c . <<< "$inflight") requests, not 2: $inflight"
	sleep 0.2
done
echo "$inflight" | sed 's/^/  inflight: /'
for sector in 6144 6152; do
	grep -Eq "^head [0-9]+ type read sector $sector len 4096 age_ms [0-9]+$" <<< "$inflight" ||
		uv_fail "no read of sector $sector, 4096 bytes in inflight"
done
st_read stuck | grep -qx ok || uv_fail "stuck is not ok while the requests are young: $(st_read stuck)"

re='^queue 0: 2 requests inside the emulator for more than 5 s$'
st_wait_stuck "$re" 15 || uv_fail "stuck says '$ST_STUCK', not 2 old requests of queue 0"
st_verdict_after 5.0 "requests must be 5 s old"
if uv_proc_alive $dd1 && uv_proc_alive $dd2; then
	age=$(st_read queues/0/inflight | awk '{ print $10 }' | sort -n | head -n 1)
	[ "${age:-0}" -gt 5000 ] || uv_fail "youngest request is $age ms old at the verdict"
	kill -USR1 $UV_PID
	uv_log "SIGUSR1 sent"
else
	uv_log "the 7 s delay ran out first on this slow machine"
fi
uv_wait_exit $dd1 15 || uv_fail "first read did not complete"
uv_wait_exit $dd2 15 || uv_fail "second read did not complete"
[ "$(uv_sha256 "$UV_TMP/read1")" = "$want1" ] || uv_fail "first read returned wrong data"
[ "$(uv_sha256 "$UV_TMP/read2")" = "$want2" ] || uv_fail "second read returned wrong data"
uv_log "both reads completed with the right data"
[ -z "$(st_read queues/0/inflight)" ] || uv_fail "inflight not empty: $(st_read queues/0/inflight)"
st_wait_stuck '^ok$' 5 || uv_fail "stuck still says '$ST_STUCK' 5 s after the requests completed"
uv_log "inflight empty, stuck says ok again"

uv_blk_stop || uv_fail "emulator did not stop cleanly"
errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
