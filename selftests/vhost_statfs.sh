#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# uvirtio-vhost-user --statfs: the front end of a qemu-storage-daemon
# vhost-user-blk export (num-queues=2), both as uid 1000, mounts the status
# filesystem. The backend writes the shadow rings as standard used rings:
# - what only the backend knows (last_avail_idx, counters, inflight) says
#   "not known to this front end", never a number;
# - N direct writes move the used indices of the queues by exactly what the
#   driver counted (/sys/block/vdX/stat), and each queue's shadow_idx (the
#   backend's used idx) equals its used_idx once idle (read in the wrong
#   layout, shadow_idx would be the ring's flags word);
# - with the daemon stopped (SIGSTOP) under a pending read, stuck names the
#   queue and says the backend has not completed N buffers, N being that
#   queue's avail_idx - shadow_idx, after 2 s and no sooner; SIGCONT
#   completes the read with the right data and stuck says ok again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/statfs_lib.sh"
. "$(dirname "$0")/vhost_lib.sh"

uv_need uvirtio-vhost-user qemu-storage-daemon qemu-img dd sha256sum
st_mountpoint
chmod 0777 "$UV_TMP"	# uid 1000 creates the image and the socket here
img=$UV_TMP/disk.raw
sock=$UV_TMP/vu.sock

# q_idx Q NAME - queues/Q/NAME as read from the mount
q_idx() {
	st_read "queues/$1/$2"
}

# sum_idx NAME - NAME summed over every queue (mod 2^16 each)
sum_idx() {
	local q v sum=0
	for q in $(seq 0 $((nq - 1))); do
		v=$(q_idx "$q" "$1") || return 1
		sum=$((sum + v))
	done
	echo $sum
}

# drv_ios - requests the driver completed: reads, writes, discards, flushes
drv_ios() {
	awk '{ print $1 + $5 + $12 + $16 }' "/sys/block/$UV_DISK/stat"
}

# check_idle WHEN - every queue's shadow_idx equals its used_idx
check_idle() {
	local q s u
	for q in $(seq 0 $((nq - 1))); do
		s=$(q_idx "$q" shadow_idx) u=$(q_idx "$q" used_idx)
		[ "$s" = "$u" ] ||
			uv_fail "$1: queue $q: shadow_idx '$s', used_idx '$u' (idle: the driver saw every completion)"
	done
}

uv_as_user qemu-img create -q -f raw "$img" 64M || uv_fail "qemu-img create"
head -c 4096 /dev/urandom > "$UV_TMP/pattern"
dd if="$UV_TMP/pattern" of="$img" bs=4096 seek=1000 conv=notrunc status=none ||
	uv_fail "cannot write the pattern"
want=$(uv_sha256 "$UV_TMP/pattern")

vh_qsd_start "$img" raw "$sock" || uv_fail "qemu-storage-daemon"
vh_front_start "$sock" --statfs "$ST" || uv_fail "uvirtio-vhost-user did not serve the export"
st_mounted || { cat "$UV_ERR"; uv_fail "no FUSE mount at $ST"; }
nq=$(ls "/sys/block/$UV_DISK/mq" | wc -l)
uv_log "$UV_NODE through uvirtio-vhost-user (pid $UV_PID), $nq queues, status filesystem at $ST"

dev=$(st_read device) || uv_fail "cannot read $ST/device"
grep -q "^backend: vhost-user $sock\$" <<< "$dev" || { echo "$dev"; uv_fail "device does not name the backend"; }
grep -q "^kernel: $UV_DISK\$" <<< "$dev" || { echo "$dev"; uv_fail "device does not name $UV_DISK"; }
n=$(uv_as_user ls "$ST/queues" | wc -l)
[ "$n" = "$nq" ] || uv_fail "$ST/queues has $n queues, the disk $nq"
for f in last_avail_idx counters inflight; do
	v=$(q_idx 0 $f) || uv_fail "cannot read queues/0/$f"
	[ "$v" = "not known to this front end" ] || uv_fail "queues/0/$f says '$v', not that the front end cannot know it"
done
uv_log "device names the backend; last_avail_idx, counters, inflight: not known to this front end"

# N direct writes, one at a time: N requests, none merged
n=200
check_idle "before the writes"
u0=$(sum_idx used_idx) d0=$(drv_ios)
dd if=/dev/urandom of="$UV_NODE" bs=4096 count=$n seek=2000 oflag=direct status=none ||
	uv_fail "direct writes to $UV_NODE"
u1=$(sum_idx used_idx) d1=$(drv_ios)
check_idle "after the writes"
uv_log "$n writes: used idx (all queues) $u0 -> $u1, driver's requests $d0 -> $d1"
[ $((d1 - d0)) -ge $n ] || uv_fail "the driver counted $((d1 - d0)) requests for $n writes"
[ $(( (u1 - u0) & 0xffff )) = $((d1 - d0)) ] ||
	uv_fail "the used indices moved by $(( (u1 - u0) & 0xffff )), the driver completed $((d1 - d0)) requests"
s1=$(sum_idx shadow_idx)
[ "$s1" = "$u1" ] || uv_fail "shadow_idx sums to $s1, used_idx to $u1"
st_wait_stuck '^ok$' 5 || uv_fail "stuck says '$ST_STUCK' on an idle disk"

# the backend stops with a read pending
kill -STOP "$VH_QSD_PID"
uv_defer "kill -CONT $VH_QSD_PID"
st_read_held 1000
re='^queue ([0-9]+): backend has not completed ([0-9]+) available buffers? \(backend stopped or hung\?\)$'
st_wait_stuck "$re" 20 || uv_fail "stuck says '$ST_STUCK' 20 s after the read with the backend stopped"
q=${BASH_REMATCH[1]} k=${BASH_REMATCH[2]}
st_verdict_after 2.0 "must persist 2 s"
a=$(q_idx "$q" avail_idx) s=$(q_idx "$q" shadow_idx) u=$(q_idx "$q" used_idx)
uv_log "queue $q: avail_idx $a, shadow_idx $s, used_idx $u"
[ $(( (a - s) & 0xffff )) = "$k" ] || uv_fail "stuck says $k buffers, avail and shadow differ by $(( (a - s) & 0xffff ))"
[ "$s" = "$u" ] || uv_fail "shadow_idx $s != used_idx $u: the driver should have seen every completion"
uv_proc_alive "$ST_DD" || uv_fail "the read completed with the backend stopped"

kill -CONT "$VH_QSD_PID"
uv_wait_exit "$ST_DD" 10
rc=$?
[ $rc = 0 ] || uv_fail "the read did not complete within 10 s of SIGCONT (rc $rc)"
[ "$(uv_sha256 "$UV_TMP/read")" = "$want" ] || uv_fail "the read returned wrong data"
st_wait_stuck '^ok$' 5 || uv_fail "stuck still says '$ST_STUCK' 5 s after SIGCONT"
check_idle "after SIGCONT"
uv_log "SIGCONT: the read completed with the right data, stuck says ok"

uv_blk_stop || uv_fail "the front end did not exit 0 on SIGTERM"
uv_wait_gone "$UV_DISK" 5 || uv_fail "$UV_NODE still there after the front end exited"
st_mounted && uv_fail "$ST still mounted after the front end exited"
kill -TERM "$VH_QSD_PID"
uv_wait_exit "$VH_QSD_PID" 10 > /dev/null
errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
