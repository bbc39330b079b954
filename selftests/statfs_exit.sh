#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The status filesystem goes away however the emulator ends: SIGTERM and
# SIGINT unmount on the way out; after SIGKILL the emulator's watchdog
# process unmounts (time measured). If the watchdog is killed too, what
# remains is a dead mount (ENOTCONN): a new emulator on that directory says
# so and names the fix, "fusermount3 -u DIR" removes it, and then the
# directory can be used again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/statfs_lib.sh"

statfs_setup

# st_wait_unmounted SECS - wait for $ST to stop being a mount; prints ms
st_wait_unmounted() {
	local start=$EPOCHREALTIME end=$((SECONDS + $1))
	while st_mounted; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
	awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }'
}

for sig in TERM INT; do
	st_start "$DISK"
	disk=$UV_DISK
	kill -$sig $UV_PID
	uv_wait_exit $UV_PID 30
	rc=$?
	[ $rc = 0 ] || { cat "$UV_ERR"; uv_fail "emulator exited $rc after SIG$sig"; }
	st_mounted && uv_fail "$ST still mounted after the emulator exited on SIG$sig"
	uv_wait_gone "$disk" 5 || uv_fail "/dev/$disk still there after SIG$sig"
	uv_log "SIG$sig: emulator exited 0, mount gone with it"
done

st_start "$DISK"
disk=$UV_DISK
wd=$(sed -n 's/.*unmount watchdog pid \([0-9]*\).*/\1/p' "$UV_ERR")
[ -n "$wd" ] && uv_proc_alive "$wd" || { cat "$UV_ERR"; uv_fail "no watchdog process"; }
kill -KILL $UV_PID
ms=$(st_wait_unmounted 5) || uv_fail "$ST still mounted 5 s after SIGKILL"
uv_log "SIGKILL: mount gone after $ms ms (watchdog pid $wd)"
uv_wait_exit $UV_PID 5 > /dev/null
uv_wait_gone "$disk" 5 || uv_fail "/dev/$disk still there after SIGKILL"
for _ in $(seq 50); do uv_proc_alive "$wd" || break; sleep 0.1; done
uv_proc_alive "$wd" && uv_fail "watchdog $wd still runs"

# without the watchdog: the dead mount stays
st_start "$DISK"
disk=$UV_DISK
wd=$(sed -n 's/.*unmount watchdog pid \([0-9]*\).*/\1/p' "$UV_ERR")
kill -KILL "$wd" $UV_PID
uv_wait_exit $UV_PID 5 > /dev/null
uv_wait_gone "$disk" 5 || uv_fail "/dev/$disk still there after SIGKILL"
sleep 1
if ! st_mounted; then
	# libfuse's auto_unmount helper wins its race now and then
	uv_log "emulator and watchdog killed: fusermount3's auto_unmount removed the mount this time"
else
	err=$(uv_as_user stat "$ST" 2>&1) && uv_fail "stat of the dead mount succeeded"
	grep -q "Transport endpoint is not connected" <<< "$err" || uv_fail "stat of the dead mount: '$err'"
	uv_log "emulator and watchdog killed: a dead mount remains ($err)"
	uv_as_user uvirtio-blk --statfs "$ST" "$DISK" > /dev/null 2> "$UV_TMP/err2" &&
		uv_fail "a new emulator started on the dead mount"
	grep -q "fusermount3 -u $ST" "$UV_TMP/err2" || { cat "$UV_TMP/err2"; uv_fail "the new emulator does not name the fix"; }
	uv_log "a new emulator refuses it: $(cat "$UV_TMP/err2")"
	uv_as_user fusermount3 -u "$ST" || uv_fail "fusermount3 -u $ST failed"
	st_mounted && uv_fail "still mounted after fusermount3 -u"
	uv_log "fusermount3 -u removed the dead mount"
fi
st_start "$DISK"
[ "$(st_read stuck)" = ok ] || uv_fail "stuck of the new emulator says '$(st_read stuck)'"
uv_blk_stop || uv_fail "emulator did not stop cleanly"
st_mounted && uv_fail "still mounted after the last emulator stopped"
uv_log "the directory serves a new emulator again"

errors=$(uv_dmesg_errors)
[ -z "$errors" ] || { echo "$errors"; uv_fail "kernel log shows errors"; }
uv_pass
